//! One attempt at a Docker challenge: the Dockerfile built twice in the builder (the second
//! time after a source change), each image checked, run hardened beside a probe that shares
//! only its loopback, and judged; everything the attempt made is removed at the end.

mod running;
mod structure_tests;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::challenge::image::{ImageCheck, ImageSpec};
use crate::challenge::{Challenge, Network, PlaybookChoice};
use crate::docker::BuildLimits;
use crate::dockerfile::checks::{self, Outcome};
use crate::dockerfile::log;
use crate::dockerfile::verdict::{build_report, judge, pass_report, Stop};
use crate::dockerfile::{layers, BuildError, BuildRequest, Builder, Step};
use crate::isolation::guard::{self, GuardSettings};
use crate::isolation::host_pids_limit;
use crate::lifecycle::{self, Ended, Scope};
use crate::report::timeline::{Phase, Timeline};
use crate::report::{self, CheckReport, ImageReport, PlatformReport, Reporter, RunReport};

#[derive(Debug, Clone)]
pub struct ImageRunOptions {
    pub dockerfile: PlaybookChoice,
    /// Overrides the challenge's timeout.
    pub timeout: Option<Duration>,
    pub guard: GuardSettings,
    pub builder_socket: String,
}

/// One attempt in progress.
pub struct ImageRun<'a> {
    builder: Builder,
    challenge: &'a Challenge,
    spec: &'a ImageSpec,
    options: ImageRunOptions,
    reporter: &'a dyn Reporter,
    /// Its id, labels, deadline and race (`lifecycle`).
    scope: Scope,
    runtime: String,
    report: std::sync::Mutex<ImageReport>,
    /// check.sh's exit code and output per build.
    check_outputs: std::sync::Mutex<Vec<(u8, i64, String)>>,
    kills: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    /// This attempt's containers (build steps, app, probe): what the guard watches (the
    /// builder is shared, and another attempt's bomb is not this one's verdict) and what a
    /// timeout or Ctrl-C may leave running.
    containers: guard::Watched,
    timeline: std::sync::Mutex<Timeline>,
}

impl<'a> ImageRun<'a> {
    pub async fn new(
        challenge: &'a Challenge,
        spec: &'a ImageSpec,
        options: ImageRunOptions,
        reporter: &'a dyn Reporter,
    ) -> Result<ImageRun<'a>, BuildError> {
        if let PlaybookChoice::File(path) = &options.dockerfile {
            if !path.is_file() {
                return Err(BuildError::Io { path: path.clone(), source: std::io::ErrorKind::NotFound.into() });
            }
        }
        let builder = Builder::connect(&options.builder_socket).await?;
        let scope = Scope::new(options.timeout.unwrap_or(challenge.run.timeout));
        let runtime = builder.engine().defaults().await?.default_runtime;
        Ok(ImageRun {
            builder,
            challenge,
            spec,
            options,
            reporter,
            scope,
            runtime,
            report: std::sync::Mutex::new(ImageReport::default()),
            check_outputs: Default::default(),
            kills: Default::default(),
            containers: Default::default(),
            timeline: std::sync::Mutex::new(Timeline::start(Phase::Build(1))),
        })
    }

    pub fn id(&self) -> &str {
        self.scope.id()
    }

    /// Builds, checks, builds again, checks again; ends early on a failed build, the
    /// guard, the timeout or Ctrl-C (`Interrupted`). Removes what it made in every case.
    pub async fn execute(self) -> Result<RunReport, BuildError> {
        let started = Instant::now();
        let timeout = self.scope.timeout();
        self.remove_dead_attempts().await;
        let guard = self.spawn_guard();
        let result = match self.scope.race(self.attempt()).await {
            Ended::Finished(result) => result.map(|()| None),
            Ended::TimedOut => Ok(Some(Stop::Timeout)),
            Ended::Interrupted => Err(BuildError::Interrupted),
        };
        guard.abort();
        // What a timeout names: the phase it cut short, not the teardown after it.
        let during = self.timeline.lock().unwrap().current().during();
        self.timeline.lock().unwrap().enter(Phase::Teardown);
        self.cleanup().await;
        let stop = result?.or_else(|| self.kills.lock().unwrap().first().cloned().map(Stop::Killed));
        Ok(self.finish(stop, started.elapsed(), &during, timeout))
    }

    async fn attempt(&self) -> Result<(), BuildError> {
        for build in 1..=2u8 {
            let Some(steps) = self.build(build).await? else { return Ok(()) };
            if build == 2 && !self.spec.checks.cached.is_empty() {
                self.record(build, checks::cache(&self.spec.checks.cached, &steps));
            }
            self.check_image(build).await?;
            if self.failed() {
                return Ok(());
            }
        }
        Ok(())
    }

    fn tag(&self, build: u8) -> String {
        image_tag(self.scope.id(), build)
    }

    /// A killed earlier attempt may have left its app and probe running in the builder:
    /// removed past their deadline, as the Ansible track removes a dead run's targets.
    async fn remove_dead_attempts(&self) {
        let engine = self.builder.engine();
        for run in lifecycle::sweep_dead_told(engine, self.reporter).await {
            // Its images carry no label (the builder would add a step for it): their tags say.
            for build in 1..=2 {
                let _ = engine.untag_image(&image_tag(&run, build)).await;
            }
        }
    }

    fn dockerfile(&self) -> PathBuf {
        // A --playbook FILE given relative stays relative to where sandbox runs (join keeps an absolute one).
        match &self.options.dockerfile {
            PlaybookChoice::File(path) => path.clone(),
            choice => self.challenge.file(&self.challenge.chosen(choice)),
        }
    }

    /// One build; None when it failed (recorded as the `build` check).
    async fn build(&self, build: u8) -> Result<Option<Vec<Step>>, BuildError> {
        self.timeline.lock().unwrap().enter(Phase::Build(build));
        self.reporter.step(&format!("build {build} of {}", self.dockerfile_display()));
        let started = Instant::now();
        let allowed: Vec<&str> = self.challenge.distros.iter().map(|d| d.base_image).collect();
        let context = self.challenge.file(&self.spec.context);
        let touched = self
            .spec
            .touch
            .as_ref()
            .and_then(|t| t.strip_prefix(&self.spec.context).ok())
            .filter(|_| build == 2)
            .map(|path| (path, source_change(self.scope.id())));
        let limits = &self.challenge.limits;
        let request = BuildRequest {
            context: &context,
            dockerfile: &self.dockerfile(),
            tag: &self.tag(build),
            allowed: &allowed,
            limits: BuildLimits {
                network: Some(build_network(self.challenge.run.network).into()),
                memory_bytes: Some(limits.memory_bytes),
                cpus: Some(limits.cpus),
                write_bytes: Some(limits.build_write_bytes),
                dockerfile: None,
            },
            // No build labels: the classic builder adds them as a last LABEL step, which
            // the learner did not write and which a per-run value would never cache.
            labels: HashMap::new(),
            touched,
        };
        self.builder.make_room(limits.build_write_bytes).await?;
        let reporter = self.reporter;
        let steps_running = &self.containers;
        let result = self
            .builder
            .build(&request, &mut |line| {
                // A build step's container carries no label of ours; its id is in the log.
                if let Some(id) = line.trim().strip_prefix("---> Running in ") {
                    steps_running.add(id.trim(), "a build step");
                }
                reporter.build_line(&format!("[build {build}] {line}"));
            })
            .await;
        let seconds = started.elapsed().as_secs_f64();
        self.reporter.step_done(&format!("build {build} ({seconds:.1}s)"));
        match result {
            Ok(steps) => {
                let size = self.builder.engine().image_facts(&self.tag(build)).await.ok().map(|f| f.size);
                self.report.lock().unwrap().builds.push(build_report(build, seconds, &steps, size));
                Ok(Some(steps))
            }
            Err(BuildError::Failed { message, steps }) => {
                self.report.lock().unwrap().builds.push(build_report(build, seconds, &steps, None));
                let detail = log::failure_reason(&steps, &message, &self.challenge.limits, self.challenge.run.network);
                self.record(build, Outcome { name: ImageCheck::Build, passed: false, detail });
                Ok(None)
            }
            Err(err) => Err(err),
        }
    }

    fn dockerfile_display(&self) -> String {
        self.challenge.chosen(&self.options.dockerfile).display().to_string()
    }

    fn record(&self, build: u8, outcome: Outcome) {
        let hint = (!outcome.passed).then(|| self.spec.checks.hints.get(&outcome.name).cloned()).flatten();
        let check = CheckReport {
            build: Some(build),
            name: outcome.name.name().to_string(),
            passed: outcome.passed,
            detail: outcome.detail,
            hint,
        };
        // check.sh's own output is already shown as it verified.
        if outcome.name != ImageCheck::CheckSh {
            let result = if check.passed { "ok" } else { "FAILED" };
            self.reporter.notice(&format!("build {build}: {result} {}: {}", check.name, check.detail));
        }
        self.report.lock().unwrap().checks.push(check);
    }

    fn failed(&self) -> bool {
        self.report.lock().unwrap().checks.iter().any(|c| !c.passed)
    }

    /// The image's configuration and layers, then the image running.
    async fn check_image(&self, build: u8) -> Result<(), BuildError> {
        self.timeline.lock().unwrap().enter(Phase::ImageChecks(build));
        let engine = self.builder.engine();
        let tag = self.tag(build);
        let facts = engine.image_facts(&tag).await?;
        for outcome in checks::configuration(&self.spec.checks, &facts) {
            self.record(build, outcome);
        }
        if !self.spec.checks.secrets.is_empty() {
            let findings = self.secrets_in_layers(&tag, &facts.layers).await?;
            self.record(build, checks::secrets(&self.spec.checks.secrets, &facts, &findings));
        }
        if let Some(tests) = &self.spec.checks.structure {
            self.structure_tests(build, &tag, tests, &facts).await?;
        }
        self.check_running(build, &tag, facts.healthcheck).await
    }

    async fn secrets_in_layers(&self, tag: &str, diff_ids: &[String]) -> Result<Vec<layers::Finding>, BuildError> {
        let engine = self.builder.engine();
        let mut base_layers = HashSet::new();
        for distro in &self.challenge.distros {
            if let Ok(facts) = engine.image_facts(distro.base_image).await {
                base_layers.extend(facts.layers);
            }
        }
        let dir = tempfile::tempdir().map_err(|source| BuildError::Io { path: std::env::temp_dir(), source })?;
        let saved = dir.path().join("image.tar");
        engine.save_image(tag, &saved).await?;
        let secrets = self.spec.checks.secrets.clone();
        let ids = diff_ids.to_vec();
        let path = saved.clone();
        tokio::task::spawn_blocking(move || layers::find_secrets(&path, &ids, &base_layers, &secrets))
            .await
            .map_err(|err| BuildError::Io { path: saved.clone(), source: std::io::Error::other(err) })?
            .map_err(|source| BuildError::Io { path: saved, source })
    }

    /// Kills a container of this attempt about to exhaust its limits (the shared guard, over
    /// the containers the attempt makes as it goes).
    fn spawn_guard(&self) -> tokio::task::JoinHandle<()> {
        let pids = self.challenge.limits.pids;
        let kills = self.kills.clone();
        let record = move |kill: guard::Kill| kills.lock().unwrap().push(kill.reason);
        let engine = self.builder.engine().clone();
        guard::spawn(engine, self.containers.clone(), pids, host_pids_limit(true, pids), self.options.guard, record)
    }

    /// Removes the attempt's containers and tags (the layer cache stays: the next build
    /// prunes it when the store lacks room, `Builder::make_room`).
    async fn cleanup(&self) {
        let engine = self.builder.engine();
        let label = self.scope.label();
        for id in self.containers.ids() {
            // A step's container is gone already once it ended (the builder removes it).
            let _ = engine.remove_container(&id).await;
        }
        if let Err(err) = engine.remove_labelled(&label).await {
            self.reporter.notice(&err.to_string());
        }
        for build in 1..=2 {
            if let Err(err) = engine.untag_image(&self.tag(build)).await {
                self.reporter.notice(&err.to_string());
            }
        }
    }

    fn finish(&self, stop: Option<Stop>, elapsed: Duration, during: &str, timeout: Duration) -> RunReport {
        let image = self.report.lock().unwrap().clone();
        let outputs = self.check_outputs.lock().unwrap().clone();
        let (verdict, reason) = judge(&image, stop, timeout, during);
        let passes = (1..=2u8).map(|build| pass_report(build, &image, &outputs)).collect();
        let timings = self.timeline.lock().unwrap().timings();
        let platforms = vec![PlatformReport { distro: "image".into(), verdict, reason, passes, notes: Vec::new() }];
        RunReport {
            challenge: self.challenge.id.clone(),
            track: self.challenge.track.kind(),
            playbook: self.dockerfile_display(),
            runtime: self.runtime.clone(),
            strategy: None,
            passed: report::passed(&platforms),
            duration_seconds: (elapsed.as_secs_f64() * 10.0).round() / 10.0,
            timings,
            platforms,
            image: Some(image),
            warm_set: None,
        }
    }
}

/// The tag of an attempt's image of one build.
fn image_tag(run: &str, build: u8) -> String {
    format!("sandbox-image-{run}:{build}")
}

/// The network RUN steps join: the builder's own bridge, whose NAT setup.sh sets up, when
/// the challenge allows egress; none (loopback only) otherwise.
fn build_network(network: Network) -> &'static str {
    match network {
        Network::Egress => "bridge",
        Network::None => "none",
    }
}

/// What the second build appends to the touched file: a change no earlier attempt made (the
/// builder's cache outlives attempts, and a change it has seen would come from the cache),
/// written as trailing whitespace, which no language minds: the attempt's id in spaces and tabs.
fn source_change(id: &str) -> Vec<u8> {
    let mut change = vec![b'\n'];
    for byte in id.bytes() {
        change.extend((0..8).map(|bit| if byte >> bit & 1 == 1 { b'\t' } else { b' ' }));
    }
    change.push(b'\n');
    change
}
