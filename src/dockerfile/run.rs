//! One attempt at a Docker challenge: the Dockerfile built twice in the builder (the second
//! time after a source change), each image checked, run hardened beside a probe that shares
//! only its loopback, and judged; everything the attempt made is removed at the end.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::challenge::image::ImageSpec;
use crate::challenge::structure::{CommandTest, EnvVar, StructureTests};
use crate::challenge::{Challenge, Network, PlaybookChoice};
use crate::docker::{BuildLimits, ContainerError, ContainerSpec, EngineError, ImageFacts, PathEntry, PathKind};
use crate::dockerfile::checks::{self, Outcome};
use crate::dockerfile::log;
use crate::dockerfile::structure::{self, CommandRun};
use crate::dockerfile::{layers, BuildError, BuildRequest, Builder, Step};
use crate::isolation::guard::{self, GuardSettings};
use crate::isolation::{self, host_pids_limit};
use crate::labels::Role;
use crate::lifecycle::{self, Ended, Scope};
use crate::report::timeline::{Phase, Timeline};
use crate::report::{
    Apply, BuildReport, CheckReport, ImageReport, PassReport, PlatformReport, Reporter, RunReport, StepReport, Verdict,
};

/// The probe's image: a plain base image the builder holds (bash, no curl).
const PROBE_IMAGE: &str = "debian:12";
/// Where the probe keeps check.sh and its `http` helper.
const PROBE_DIR: &str = "/sandbox";
/// How long an app may take to listen on its port.
const STARTUP_BOUND: Duration = Duration::from_secs(20);
/// The most of a file a structure test's `fileContentTests` reads.
const CONTENT_LIMIT: usize = 8 * 1024 * 1024;
/// How long one of a structure test's commands may run.
const COMMAND_BOUND: Duration = Duration::from_secs(60);

/// `http PATH`: GET over bash's /dev/tcp, printing the raw answer (the probe has no curl).
const HTTP_HELPER: &str = r#"#!/bin/bash
# usage: http PATH  (GET http://$APP_HOST:$APP_PORT/PATH; prints the status line, headers and body)
exec 3<>"/dev/tcp/${APP_HOST:-127.0.0.1}/${APP_PORT:?}" || exit 7
# One write, its errors silenced: a server may answer and close after the request line.
request=$(printf 'GET %s HTTP/1.0\r\nHost: %s\r\nConnection: close' "${1:-/}" "${APP_HOST:-127.0.0.1}")
printf '%s\r\n\r\n' "$request" >&3 2>/dev/null
# A server that closes without reading the headers resets the connection after its answer:
# what was read is the answer, cat's complaint is not part of it.
timeout 10 cat <&3 2>/dev/null
"#;

#[derive(Debug, Clone)]
pub struct ImageRunOptions {
    pub dockerfile: PlaybookChoice,
    /// Overrides the challenge's timeout.
    pub timeout: Option<Duration>,
    pub guard: GuardSettings,
    pub builder_socket: String,
}

/// How the attempt ended early, if it did.
enum Stop {
    Killed(String),
    Timeout,
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
        for run in lifecycle::sweep_dead(engine).await.unwrap_or_default() {
            // Its images carry no label (the builder would add a step for it): their tags say.
            for build in 1..=2 {
                let _ = engine.untag_image(&image_tag(&run, build)).await;
            }
            self.reporter.notice(&format!("removed leftovers of dead run {run}"));
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
                self.record(build, Outcome { name: "build", passed: false, detail });
                Ok(None)
            }
            Err(err) => Err(err),
        }
    }

    fn dockerfile_display(&self) -> String {
        self.challenge.chosen(&self.options.dockerfile).display().to_string()
    }

    fn record(&self, build: u8, outcome: Outcome) {
        let hint = (!outcome.passed).then(|| self.spec.checks.hints.get(outcome.name).cloned()).flatten();
        let check = CheckReport {
            build: Some(build),
            name: outcome.name.to_string(),
            passed: outcome.passed,
            detail: outcome.detail,
            hint,
        };
        // check.sh's own output is already shown as it verified.
        if check.name != "check.sh" {
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

    /// A container-structure-test file's tests, run as that tool runs them.
    async fn structure_tests(
        &self,
        build: u8,
        tag: &str,
        tests: &StructureTests,
        facts: &ImageFacts,
    ) -> Result<(), BuildError> {
        if let Some(metadata) = &tests.metadata {
            self.record(build, structure::metadata(metadata, facts));
        }
        if !tests.files.is_empty() || !tests.contents.is_empty() {
            self.file_tests(build, tag, tests, &facts.env).await?;
        }
        for test in &tests.commands {
            let outcome = self.command_test(build, tag, test, &tests.global_env, &facts.env).await?;
            self.record(build, outcome);
        }
        Ok(())
    }

    async fn file_tests(&self, build: u8, tag: &str, tests: &StructureTests, env: &[String]) -> Result<(), BuildError> {
        let engine = self.builder.engine();
        let mut spec = self.container(build, Role::Files, tag, "none".into());
        // Never started: the command only has to exist for the container to be created.
        (spec.entrypoint, spec.cmd) = (Some(Vec::new()), vec!["true".into()]);
        let id = engine.create_container(&spec).await?;
        self.containers.add(&id, "the image's files");
        for test in &tests.files {
            let path = structure::expand(&test.path, env);
            let entry = engine.read_path(&id, "the image", &path, None).await?;
            self.record(build, structure::file_existence(test, &path, entry.as_ref()));
        }
        for test in &tests.contents {
            let contents = self.file_contents(&id, structure::expand(&test.path, env)).await?;
            self.record(build, structure::file_content(test, contents.as_deref().map_err(String::clone)));
        }
        engine.remove_container(&id).await?;
        Ok(())
    }

    /// A file's bytes through up to 8 symlinks, or why there are none.
    async fn file_contents(&self, id: &str, mut path: String) -> Result<Result<Vec<u8>, String>, BuildError> {
        let engine = self.builder.engine();
        for _ in 0..8 {
            match engine.read_path(id, "the image", &path, Some(CONTENT_LIMIT)).await? {
                None => return Ok(Err(format!("{path} does not exist"))),
                Some(PathEntry { contents: Some(bytes), .. }) => return Ok(Ok(bytes)),
                Some(PathEntry { kind: PathKind::Symlink, link: Some(link), .. }) => path = link_target(&path, &link),
                Some(PathEntry { kind: PathKind::Directory, .. }) => return Ok(Err(format!("{path} is a directory"))),
                Some(_) => return Ok(Err(format!("{path} is not a regular file of at most {CONTENT_LIMIT} bytes"))),
            }
        }
        Ok(Err(format!("{path}: too many levels of symbolic links")))
    }

    /// Setup commands each committed to an image, then the test's command run in the last one.
    async fn command_test(
        &self,
        build: u8,
        tag: &str,
        test: &CommandTest,
        global_env: &[EnvVar],
        image_env: &[String],
    ) -> Result<Outcome, BuildError> {
        let engine = self.builder.engine();
        let env: Vec<String> = global_env
            .iter()
            .chain(&test.env)
            .map(|v| format!("{}={}", v.key, structure::expand(&v.value, image_env)))
            .collect();
        let mut image = tag.to_string();
        for setup in &test.setup {
            let (_, id) = self.run_command(build, &image, setup.clone(), &env).await?;
            // The image carries the run's label (from its container): cleanup removes it.
            image = engine.commit(&id, "a setup command's container").await?;
            engine.remove_container(&id).await?;
        }
        let command =
            std::iter::once(&test.command).chain(&test.args).map(|word| structure::expand(word, image_env)).collect();
        let (run, id) = self.run_command(build, &image, command, &env).await?;
        engine.remove_container(&id).await?;
        Ok(structure::command(test, &run))
    }

    /// Runs `command` in a fresh container of `image` until it exits (or COMMAND_BOUND ends
    /// it); what it printed and its exit code, and the container, still there.
    async fn run_command(
        &self,
        build: u8,
        image: &str,
        command: Vec<String>,
        env: &[String],
    ) -> Result<(CommandRun, String), BuildError> {
        let engine = self.builder.engine();
        let mut spec = self.container(build, Role::Command, image, "none".into());
        spec.name = format!("{}-{}", spec.name, self.containers.len());
        (spec.entrypoint, spec.cmd, spec.env) = (Some(Vec::new()), command, env.to_vec());
        let what = "a structure test's command";
        let id = engine.create_container(&spec).await?;
        self.containers.add(&id, what);
        if let Err(EngineError::Container(ContainerError::StartContainer { source, .. })) =
            engine.start_container(&id, what).await
        {
            // The runtime could not exec it (no such file, not executable): a shell says 127.
            let run = CommandRun { stdout: String::new(), stderr: source.to_string(), exit_code: 127 };
            return Ok((run, id));
        }
        let exit_code = match tokio::time::timeout(COMMAND_BOUND, engine.wait_exit(&id, what)).await {
            Ok(code) => code?,
            Err(_) => {
                engine.kill_container(&id).await;
                let stderr = format!("still running after {}s; killed", COMMAND_BOUND.as_secs());
                return Ok((CommandRun { stdout: String::new(), stderr, exit_code: 137 }, id));
            }
        };
        let (stdout, stderr) = engine.output(&id, what).await?;
        Ok((CommandRun { stdout, stderr, exit_code }, id))
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

    /// Runs the image and its probe, checks what is declared, runs check.sh, stops it.
    async fn check_running(&self, build: u8, tag: &str, healthcheck: bool) -> Result<(), BuildError> {
        let engine = self.builder.engine();
        let app = self.start_app(build, tag).await?;
        let probe = match self.start_probe(build, &app).await {
            Ok(probe) => probe,
            // The probe joins the app's network namespace, which ends with the app.
            Err(err) => match self.exited(&app).await {
                Some(detail) => {
                    self.record(build, Outcome { name: "run", passed: false, detail });
                    return Ok(());
                }
                None => return Err(err),
            },
        };
        let port = self.spec.port;
        if let Some(port) = port {
            if let Err(detail) = self.wait_for_port(&app, &probe, port).await {
                self.record(build, Outcome { name: "http", passed: false, detail });
                return Ok(());
            }
        }
        if let Some(http) = &self.spec.checks.http {
            let answer =
                engine.exec(&probe, "probe", &["http", &http.path], &self.probe_env(build), None, &mut |_| {}).await?;
            self.record(build, checks::http(http, Some(&answer.output)));
        }
        if self.spec.checks.non_root {
            let status = engine.exec(&app, "app", &["cat", "/proc/1/status"], &[], None, &mut |_| {}).await;
            let status = status.ok().filter(|s| s.exit_code == 0).map(|s| s.output);
            self.record(build, checks::non_root(status.as_deref()));
        }
        if let (Some(within), true) = (self.spec.checks.healthy_within, healthcheck) {
            self.record(build, self.wait_healthy(&app, within).await?);
        }
        self.run_check_script(build, &probe).await?;
        if let Some(within) = self.spec.checks.stops_within {
            let started = Instant::now();
            engine.stop_container(&app, "app", within + Duration::from_secs(5)).await?;
            let took = started.elapsed();
            let detail = format!("stopped in {:.1}s (limit {}s)", took.as_secs_f64(), within.as_secs());
            self.record(build, Outcome { name: "stop", passed: took < within, detail });
        }
        for id in [&probe, &app] {
            engine.remove_container(id).await?;
        }
        Ok(())
    }

    fn container(&self, build: u8, role: Role, image: &str, network: String) -> ContainerSpec {
        // Builder::connect refused a builder whose default runtime is not gVisor.
        let gvisor = true;
        let limits = &self.challenge.limits;
        let (confinement, cmd) = match role {
            // The image's own CMD, hardened.
            Role::App => (isolation::app_confinement(limits, gvisor), Vec::new()),
            Role::Probe => (isolation::probe_confinement(limits, gvisor), vec!["sleep".into(), "infinity".into()]),
            // The caller sets the command.
            Role::Files | Role::Command => (isolation::structure_test_confinement(limits, gvisor), Vec::new()),
            Role::Target | Role::Controller | Role::Network => unreachable!("the Ansible track's roles"),
        };
        let name = role.as_str();
        ContainerSpec {
            name: self.container_name(build, role),
            what: name.to_string(),
            image: image.to_string(),
            hostname: name.to_string(),
            cmd,
            entrypoint: None,
            env: Vec::new(),
            labels: self.scope.labels(role),
            network,
            runtime: self.runtime.clone(),
            confinement,
        }
    }

    fn container_name(&self, build: u8, role: Role) -> String {
        format!("sandbox-{}-{}-{build}", self.scope.id(), role.as_str())
    }

    async fn start_app(&self, build: u8, tag: &str) -> Result<String, BuildError> {
        let engine = self.builder.engine();
        let id = engine.create_container(&self.container(build, Role::App, tag, "none".into())).await?;
        self.containers.add(&id, "the app");
        engine.start_container(&id, "app").await?;
        Ok(id)
    }

    async fn start_probe(&self, build: u8, app: &str) -> Result<String, BuildError> {
        let engine = self.builder.engine();
        let spec = self.container(build, Role::Probe, PROBE_IMAGE, format!("container:{app}"));
        let id = engine.create_container(&spec).await?;
        self.containers.add(&id, "the probe");
        // A Docker challenge always has check.sh (only an Ansible one may have goss instead).
        let path = self.challenge.file(self.challenge.check.as_deref().unwrap_or(std::path::Path::new("check.sh")));
        let check = std::fs::read(&path).map_err(|source| BuildError::Io { path, source })?;
        let files: [(&str, &[u8], u32); 2] =
            [("sandbox/check.sh", check.as_slice(), 0o755), ("usr/local/bin/http", HTTP_HELPER.as_bytes(), 0o755)];
        engine.upload_before_start(&id, "probe", "/", crate::docker::tar_of(&files)).await?;
        engine.start_container(&id, "probe").await?;
        Ok(id)
    }

    /// How the app ended, if it is no longer running (or gone): its exit code and last lines.
    async fn exited(&self, app: &str) -> Option<String> {
        let engine = self.builder.engine();
        let state = engine.container_state(app, "app").await.ok()?;
        if state.running {
            return None;
        }
        let log = engine.log_tail(app, 5).await;
        let log = log.trim();
        let said = if log.is_empty() { String::new() } else { format!(" (it printed: {log})") };
        Some(format!("the container exited with code {}{said}", state.exit_code))
    }

    /// What check.sh and the http helper are told: where the app listens (its loopback, which
    /// the probe shares) and which container it is.
    fn probe_env(&self, build: u8) -> Vec<String> {
        let mut env =
            vec!["APP_HOST=127.0.0.1".to_string(), format!("APP_CONTAINER={}", self.container_name(build, Role::App))];
        if let Some(port) = self.spec.port {
            env.push(format!("APP_PORT={port}"));
        }
        env
    }

    /// Polls until the app accepts a connection on `port`; Err says why it never did.
    async fn wait_for_port(&self, app: &str, probe: &str, port: u16) -> Result<(), String> {
        let engine = self.builder.engine();
        let deadline = Instant::now() + STARTUP_BOUND;
        let connect = format!("exec 3<>/dev/tcp/127.0.0.1/{port}");
        loop {
            if let Some(ended) = self.exited(app).await {
                return Err(format!("{ended}, before listening on {port}"));
            }
            let tried = engine.exec_quiet(probe, "probe", &["bash", "-c", &connect], &[]).await;
            if tried.is_ok_and(|out| out.exit_code == 0) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!("nothing listens on port {port} after {}s", STARTUP_BOUND.as_secs()));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    async fn wait_healthy(&self, app: &str, within: Duration) -> Result<Outcome, BuildError> {
        let engine = self.builder.engine();
        let started = Instant::now();
        loop {
            let health = engine.health(app, "app").await?;
            let seconds = started.elapsed().as_secs_f64();
            match health.as_deref() {
                Some("healthy") => {
                    return Ok(Outcome {
                        name: "healthy",
                        passed: true,
                        detail: format!("healthy after {seconds:.1}s"),
                    })
                }
                Some("unhealthy") => {
                    return Ok(Outcome {
                        name: "healthy",
                        passed: false,
                        detail: format!("unhealthy after {seconds:.1}s"),
                    })
                }
                _ if started.elapsed() >= within => {
                    let state = health.unwrap_or_else(|| "no health status".into());
                    return Ok(Outcome {
                        name: "healthy",
                        passed: false,
                        detail: format!("still {state} after {}s", within.as_secs()),
                    });
                }
                _ => tokio::time::sleep(Duration::from_millis(250)).await,
            }
        }
    }

    async fn run_check_script(&self, build: u8, probe: &str) -> Result<(), BuildError> {
        let engine = self.builder.engine();
        let script = format!("{PROBE_DIR}/check.sh");
        let out = engine.exec(probe, "probe", &["bash", &script], &self.probe_env(build), None, &mut |_| {}).await?;
        self.reporter.verified(build, "image", out.exit_code, &out.output);
        let detail = match out.output.lines().rev().find(|l| !l.trim().is_empty()) {
            Some(line) => format!("exit {}: {}", out.exit_code, line.trim()),
            None => format!("exit {}", out.exit_code),
        };
        self.record(build, Outcome { name: "check.sh", passed: out.exit_code == 0, detail });
        self.check_outputs.lock().unwrap().push((build, out.exit_code, out.output));
        Ok(())
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
        RunReport {
            challenge: self.challenge.id.clone(),
            track: self.challenge.track.name(),
            playbook: self.dockerfile_display(),
            runtime: self.runtime.clone(),
            strategy: None,
            passed: verdict == Verdict::Passed,
            duration_seconds: (elapsed.as_secs_f64() * 10.0).round() / 10.0,
            timings,
            platforms: vec![PlatformReport { distro: "image".into(), verdict, reason, passes, notes: Vec::new() }],
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

/// Where a symlink at `path` pointing to `link` leads.
fn link_target(path: &str, link: &str) -> String {
    if link.starts_with('/') {
        return link.to_string();
    }
    let parent = path.rsplit_once('/').map_or("", |(parent, _)| parent);
    format!("{parent}/{link}")
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

fn build_report(build: u8, seconds: f64, steps: &[Step], size: Option<u64>) -> BuildReport {
    let steps = steps
        .iter()
        .map(|s| StepReport { number: s.number, instruction: s.instruction.clone(), cached: s.cached })
        .collect();
    BuildReport { build, seconds: (seconds * 10.0).round() / 10.0, steps, size }
}

/// The verdict: the guard's or the clock's word first, then the first failed check.
fn judge(image: &ImageReport, stop: Option<Stop>, timeout: Duration, during: &str) -> (Verdict, Option<String>) {
    match stop {
        Some(Stop::Killed(reason)) => return (Verdict::Killed, Some(reason)),
        Some(Stop::Timeout) => {
            let reason = format!("the attempt exceeded its {}s timeout during {during}", timeout.as_secs());
            return (Verdict::Timeout, Some(reason));
        }
        None => {}
    }
    match image.checks.iter().find(|c| !c.passed) {
        // `build 1 step 2 (RUN …) wrote past its 1 GiB write bound`
        Some(check) if check.name == "build" => {
            (Verdict::Failed, Some(format!("build {} {}", check.build.unwrap_or_default(), check.detail)))
        }
        Some(check) => {
            let hint = check.hint.as_ref().map(|h| format!(" (hint: {h})")).unwrap_or_default();
            (
                Verdict::Failed,
                Some(format!("build {}: {}: {}{hint}", check.build.unwrap_or_default(), check.name, check.detail)),
            )
        }
        None if image.builds.len() == 2 => (Verdict::Passed, None),
        None => (Verdict::Error, Some("the attempt ended before its second build".into())),
    }
}

/// A build as a pass of the shared report: the build, what it rebuilt, check.sh's answer.
fn pass_report(build: u8, image: &ImageReport, outputs: &[(u8, i64, String)]) -> PassReport {
    let Some(built) = image.builds.iter().find(|b| b.build == build) else { return PassReport::skipped(build) };
    let failed_build = image.checks.iter().find(|c| c.build == Some(build) && c.name == "build");
    let rebuilt: Vec<String> = built
        .steps
        .iter()
        .filter(|s| !s.cached && !s.instruction.starts_with("FROM"))
        .map(|s| s.instruction.clone())
        .collect();
    let output = outputs.iter().find(|(b, _, _)| *b == build);
    PassReport {
        pass: build,
        apply: if failed_build.is_some() { Apply::Failed } else { Apply::Ok },
        apply_error: failed_build.map(|c| c.detail.clone()),
        changed: (build == 2 && failed_build.is_none()).then_some(rebuilt.len() as u32),
        changed_tasks: rebuilt,
        diffs: Vec::new(),
        verify_exit: output.map(|(_, code, _)| *code),
        verify_output: output.map(|(_, _, text)| text.clone()).unwrap_or_default(),
        // The image's checks are the report's `image.checks`, by build.
        checks: Vec::new(),
    }
}
