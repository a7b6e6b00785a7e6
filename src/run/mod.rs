//! One run of a challenge: targets and a controller on a network made for the run, the
//! playbook applied twice over SSH, check.sh after each pass, a verdict per platform.
//!
//! Everything the run creates carries its run label and is removed when the run ends,
//! however it ends: success, failure, deadline, Ctrl-C or SIGTERM.

pub mod goss;
pub mod inventory;
pub mod platform;
mod pooled;
pub mod recap;
pub mod scripts;
pub mod teardown;
pub mod verdict;
pub mod warm;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use miette::Diagnostic;

use self::inventory::InventoryHost;
use self::platform::Platforms;
use self::recap::PlaybookLog;
use self::verdict::{Decision, Place, PlaybookEnd};
use self::warm::Purpose;
use crate::ansible;
use crate::challenge::{Challenge, Limits, Network, ServicesMode, Strategy};
use crate::distro::Distro;
use crate::docker::{ContainerSpec, Engine, EngineError, ExecError, FileError, RegisteredRuntime};
use crate::images::packages;
use crate::images::{self, ImageError, ImageKind};
use crate::isolation::guard::{self, GuardSettings};
use crate::isolation::{self, RuntimePolicy, WriteBound};
use crate::labels;
use crate::lifecycle::{self, Ended, Scope};
use crate::pool::{Claimed, Location, Pool, PoolError};
use crate::report::timeline::{Phase, Timeline};
use crate::report::{Reporter, RunReport, Verdict};

/// Where the challenge directory (`challenge/` in the archive) is unpacked in the controller.
const CONTROLLER_WORK_DIR: &str = "/work";
/// Where the challenge directory lives inside the controller.
const CONTROLLER_CHALLENGE_DIR: &str = "/work/challenge";
const CONTROLLER_INVENTORY: &str = "/work/inventory.ini";
/// Where a `--playbook` from outside the challenge is placed, so its relative paths
/// (roles/, templates/) resolve against the challenge.
const OUTSIDE_PLAYBOOK_NAME: &str = ".sandbox-playbook.yml";

/// How long a run waits for the key pair of a controller it claimed while warming (the pool
/// gives a whole warm-up as long).
const WARM_UP_BOUND: Duration = Duration::from_secs(30);

pub use crate::challenge::PlaybookChoice;

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub playbook: PlaybookChoice,
    /// Narrow the run to these catalog names (empty: every distro of the challenge).
    pub distros: Vec<String>,
    pub runtime: String,
    /// Overrides the challenge's timeout.
    pub timeout: Option<Duration>,
    /// Forwarded to Ansible: colour its output.
    pub color: bool,
    /// Print the inventory once the targets are up.
    pub show_inventory: bool,
    pub guard: GuardSettings,
    /// 2 (the default run: apply, check, apply again, check) or 1 (`shell`: apply once).
    pub passes: u8,
    /// Overrides the challenge's `[run] services`.
    pub services: Option<ServicesMode>,
    /// Overrides the challenge's `[run] strategy`.
    pub strategy: Option<Strategy>,
    /// No route out, whatever the challenge says (`--offline`).
    pub offline: bool,
    /// The pool to take warm targets from when it is up (`sandbox pool up`); None: never.
    pub pool: Option<Location>,
    /// `-v`… passed to ansible-playbook.
    pub verbosity: u8,
    /// `--diff` in pass 1 too (pass 2 always has it: a change there must show what changed).
    pub diff: bool,
    /// Leave the teardown to a process of its own once the verdict is known, so the learner
    /// does not wait for it (`sandbox run`, `watch`); else the run removes everything before
    /// it returns.
    pub detach_teardown: bool,
}

#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum RunError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Engine(#[from] EngineError),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Image(#[from] ImageError),

    #[error("runtime `{runtime}` is not registered with the Docker daemon")]
    #[diagnostic(
        code(sandbox::run::runtime_missing),
        help("run `sudo scripts/setup.sh` to install gVisor and register it as `runsc`; registered runtimes: {registered}")
    )]
    RuntimeMissing { runtime: String, registered: String },

    #[error("--distro {name} is not one of this challenge's distros ({available})")]
    #[diagnostic(code(sandbox::run::distro_not_in_challenge))]
    DistroNotInChallenge { name: String, available: String },

    #[error("playbook {} does not exist", path.display())]
    #[diagnostic(code(sandbox::run::missing_playbook))]
    MissingPlaybook { path: PathBuf },

    #[error("cannot package the challenge directory {}", dir.display())]
    #[diagnostic(code(sandbox::run::package))]
    Package {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot read the check script {}", path.display())]
    #[diagnostic(code(sandbox::run::read_check))]
    ReadCheck {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("services = \"systemd\" cannot run under runtime `{runtime}`: {reason}")]
    #[diagnostic(
        code(sandbox::run::systemd_unsupported),
        help("use services = \"supervised\" (real processes, no systemd) or a runtime that can run systemd; `sandbox doctor` says which can")
    )]
    SystemdUnsupported { runtime: String, reason: String },

    #[error(transparent)]
    #[diagnostic(transparent)]
    Pool(#[from] PoolError),

    #[error("could not make a warm set: {0}")]
    #[diagnostic(code(sandbox::run::warm_set))]
    WarmSet(String),

    #[error("interrupted; everything the run created was removed")]
    #[diagnostic(code(sandbox::run::interrupted))]
    Interrupted,
}

/// What the run's concurrent parts (passes, checks, the guard) record.
struct Shared {
    timeline: Timeline,
    platforms: Platforms,
}

/// A run in progress.
pub struct Run<'a> {
    engine: Engine,
    challenge: &'a Challenge,
    options: RunOptions,
    reporter: &'a dyn Reporter,
    /// Its id, labels, deadline and race (`lifecycle`).
    scope: Scope,
    network: String,
    guard: GuardSettings,
    shared: Arc<Mutex<Shared>>,
    /// Tasks that live as long as the run (the guard); aborted when it ends.
    background: Mutex<Vec<tokio::task::AbortHandle>>,
    /// The warm pool, when the run may use it.
    pool: Option<Pool>,
    /// Containers taken from the pool: not labelled with this run, removed by id.
    claimed: Mutex<Vec<String>>,
    /// What the pool lost to this run once its passes ran: refilled after the teardown.
    taken: Mutex<Vec<(ImageKind, String)>>,
    /// Whether the runtime bounds what containers write; known once the runtime is checked.
    write_bound: std::sync::OnceLock<WriteBound>,
    /// An attempt, or a warm set for the pool (`warm`).
    purpose: Purpose,
    /// A warm set's pool labels, on everything it creates (known once its key is).
    set_labels: Mutex<Vec<(String, String)>>,
    /// What the pool's warm sets gave this attempt (`RunReport::warm_set`).
    warm_set: Mutex<Option<String>>,
    /// The recipe of a set this attempt looked for: refilled after the teardown.
    taken_set: Mutex<Option<String>>,
    /// Run labels of the sets this attempt took: everything of theirs goes with it.
    adopted: Mutex<Vec<String>>,
}

impl<'a> Run<'a> {
    pub fn new(
        engine: Engine,
        challenge: &'a Challenge,
        options: RunOptions,
        reporter: &'a dyn Reporter,
    ) -> Result<Run<'a>, RunError> {
        let distros = select_distros(challenge, &options.distros)?;
        if let PlaybookChoice::File(path) = &options.playbook {
            if !path.is_file() {
                return Err(RunError::MissingPlaybook { path: path.clone() });
            }
        }
        let scope = Scope::new(options.timeout.unwrap_or(challenge.run.timeout));
        let guard = options.guard;
        let platforms = Platforms::new(&distros);
        let pool = options.pool.as_ref().map(|location| Pool::at(engine.clone(), &options.runtime, location));
        Ok(Run {
            engine,
            challenge,
            network: format!("sandbox-{}", scope.id()),
            scope,
            options,
            reporter,
            guard,
            shared: Arc::new(Mutex::new(Shared { timeline: Timeline::start(Phase::Images), platforms })),
            background: Mutex::new(Vec::new()),
            pool,
            claimed: Mutex::new(Vec::new()),
            taken: Mutex::new(Vec::new()),
            write_bound: std::sync::OnceLock::new(),
            purpose: Purpose::Attempt,
            set_labels: Mutex::new(Vec::new()),
            warm_set: Mutex::new(None),
            taken_set: Mutex::new(None),
            adopted: Mutex::new(Vec::new()),
        })
    }

    pub fn id(&self) -> &str {
        self.scope.id()
    }

    /// Runs to the end, the deadline or a signal, then removes everything it created.
    pub async fn execute(self) -> Result<RunReport, RunError> {
        self.execute_then(async |_, _| ()).await.map(|(report, _)| report)
    }

    /// `execute`, and when the passes ran to the end (not on timeout or a signal) the live
    /// targets are handed to `after` before anything is removed: `sandbox shell` opens its
    /// session there.
    pub async fn execute_then<T>(
        self,
        after: impl AsyncFnOnce(&Engine, Vec<(&'static Distro, String)>) -> T,
    ) -> Result<(RunReport, Option<T>), RunError> {
        let started = Instant::now();
        let result = match self.scope.race(self.stages()).await {
            Ended::Interrupted => {
                self.cleanup().await;
                return Err(RunError::Interrupted);
            }
            Ended::Finished(Err(err)) => Err(err),
            Ended::Finished(Ok(())) => {
                let report = self.report(started.elapsed());
                let targets = self.containers_of(&self.distros());
                Ok((report, Some(after(&self.engine, targets).await)))
            }
            Ended::TimedOut => {
                let mut shared = self.shared.lock().unwrap();
                let during = shared.timeline.current().during();
                let reason = format!("run exceeded its {}s timeout during {during}", self.scope.timeout().as_secs());
                shared.platforms.decide_all(&Decision::new(Verdict::Timeout, reason));
                drop(shared);
                Ok((self.report(started.elapsed()), None))
            }
        };
        let teardown = Instant::now();
        self.tear_down().await;
        let teardown = teardown.elapsed();
        // A teardown the learner waits for is part of the run's time; a detached one is not.
        result.map(|(mut report, after)| {
            let seconds = teardown.as_secs_f64();
            report.timings.add(Phase::Teardown, seconds);
            report.duration_seconds = round_tenths(report.duration_seconds + seconds);
            (report, after)
        })
    }

    fn report(&self, elapsed: Duration) -> RunReport {
        let shared = self.shared.lock().unwrap();
        let platforms = shared.platforms.reports();
        RunReport {
            challenge: self.challenge.id.clone(),
            playbook: self.playbook_display(),
            runtime: self.options.runtime.clone(),
            track: self.challenge.track.name(),
            strategy: Some(self.strategy()),
            image: None,
            // A platform skipped for want of its image proves nothing either way; a run where
            // nothing ran did not pass.
            passed: platforms.iter().all(|p| matches!(p.verdict, Verdict::Passed | Verdict::Skipped))
                && platforms.iter().any(|p| p.verdict == Verdict::Passed),
            duration_seconds: round_tenths(elapsed.as_secs_f64()),
            timings: shared.timeline.timings(),
            platforms,
            warm_set: self.warm_set.lock().unwrap().clone(),
        }
    }

    fn playbook_display(&self) -> String {
        self.challenge.chosen(&self.options.playbook).display().to_string()
    }

    /// The playbook's path inside the controller, relative to the challenge directory.
    fn playbook_in_controller(&self) -> String {
        match &self.options.playbook {
            PlaybookChoice::File(_) => OUTSIDE_PLAYBOOK_NAME.to_string(),
            PlaybookChoice::Starter | PlaybookChoice::Solution => self.playbook_display(),
        }
    }

    fn set_phase(&self, phase: Phase) {
        self.shared.lock().unwrap().timeline.enter(phase);
    }

    fn distros(&self) -> Vec<&'static Distro> {
        self.shared.lock().unwrap().platforms.distros()
    }

    /// The run's labels, and a warm set's pool labels when it makes one.
    fn labels(&self, role: labels::Role) -> HashMap<String, String> {
        let mut labels = self.scope.labels(role);
        labels.extend(self.set_labels.lock().unwrap().iter().cloned());
        labels
    }

    fn offline(&self) -> bool {
        self.options.offline || self.challenge.run.network == Network::None
    }

    fn services(&self) -> ServicesMode {
        self.options.services.unwrap_or(self.challenge.run.services)
    }

    fn strategy(&self) -> Strategy {
        self.options.strategy.unwrap_or(self.challenge.run.strategy)
    }

    async fn stages(&self) -> Result<(), RunError> {
        let runtime = self.check_runtime().await?;
        if self.services() == ServicesMode::Systemd {
            // Never a silent downgrade to the mock: the challenge asked for the real thing.
            if let Err(reason) = isolation::systemd_support(&self.options.runtime, &runtime) {
                return Err(RunError::SystemdUnsupported { runtime: self.options.runtime.clone(), reason });
            }
        }
        self.remove_dead_runs().await;
        self.set_phase(Phase::Images);
        let targets = self.target_images().await?;
        let controller_image = self.ensure_image(ImageKind::Controller).await?;

        self.set_phase(Phase::Start);
        let starting = Instant::now();
        if let Some(set) = self.claim_set(&targets, &controller_image).await? {
            let (controller, ids) = self.adopt_set(&set, &targets).await?;
            let distros: Vec<&'static Distro> = targets.iter().map(|(distro, _)| *distro).collect();
            self.start_guard(&distros, &ids, &controller).await?;
            return self.connect_and_apply(&controller, &distros, &ids, starting, true).await;
        }
        self.engine.create_network(&self.network, self.offline(), self.labels(labels::Role::Network)).await?;
        let mut needed: Vec<(ImageKind, &str)> =
            targets.iter().map(|(distro, image)| (ImageKind::Target(distro), image.as_str())).collect();
        needed.push((ImageKind::Controller, &controller_image));
        let claimed = self.claim_from_pool(&needed).await?;
        let (controller, ids) = self.start_containers(&targets, &controller_image, &claimed, starting).await?;
        let distros: Vec<&'static Distro> = targets.iter().map(|(distro, _)| *distro).collect();
        self.start_guard(&distros, &ids, &controller).await?;
        let result = self.connect_and_apply(&controller, &distros, &ids, starting, false).await;
        // Taken containers are never reused: replacements warm up once the run is torn down.
        *self.taken.lock().unwrap() = needed
            .iter()
            .zip(&claimed)
            .filter(|(_, claim)| claim.is_some())
            .map(|((kind, image), _)| (*kind, image.to_string()))
            .collect();
        result
    }

    /// Each platform's target image. A challenge may list distros whose images cannot exist
    /// on this host (no registry): those are skipped, said so, and never counted as passed.
    /// Asked for by name, or when nothing is left to run, it is an error.
    async fn target_images(&self) -> Result<Vec<(&'static Distro, String)>, RunError> {
        let mut targets = Vec::new();
        for distro in self.distros() {
            match self.ensure_target_image(distro).await {
                Ok(image) => targets.push((distro, image)),
                Err(RunError::Image(err @ ImageError::BaseMissing { .. })) if self.options.distros.is_empty() => {
                    let reason = format!("skipped: {err}");
                    self.reporter.notice(&format!("{}: {reason}", distro.name));
                    let mut shared = self.shared.lock().unwrap();
                    shared.platforms.of(distro).decide(Decision::new(Verdict::Skipped, reason));
                    if shared.platforms.all_skipped() {
                        return Err(err.into());
                    }
                }
                Err(err) => return Err(err),
            }
        }
        Ok(targets)
    }

    /// Starts (or takes from the pool, where `claimed` has an id) every target and the
    /// controller, concurrently; returns the controller's id and the targets' in order.
    async fn start_containers(
        &self,
        targets: &[(&'static Distro, String)],
        controller_image: &str,
        claimed: &[Option<Claimed>],
        starting: Instant,
    ) -> Result<(String, Vec<String>), RunError> {
        let warm = claimed.iter().flatten().count();
        let from_pool = if warm > 0 {
            format!("{warm} warm from the pool in {} ms", starting.elapsed().as_millis())
        } else {
            "0 warm from the pool".to_string()
        };
        self.reporter.step(&format!("starting {} target(s) and the controller ({from_pool})", targets.len()));
        let (pooled_controller, pooled_targets) = claimed.split_last().expect("the controller is needed");
        let started = futures_util::future::try_join_all(targets.iter().zip(pooled_targets).map(
            |((distro, image), pooled)| async move {
                match pooled {
                    Some(claim) => {
                        self.join_run_network(&claim.id, ImageKind::Target(distro)).await?;
                        let note = if claim.warming {
                            "target from the pool, still warming"
                        } else {
                            "warm target from the pool"
                        };
                        self.platform_mut(distro, |p| p.note(note));
                        Ok(claim.id.clone())
                    }
                    None => self.start_target(distro, image).await,
                }
            },
        ));
        let controller = async {
            match pooled_controller {
                Some(claim) => self.take_pooled_controller(claim).await,
                None => self.start_controller(controller_image).await,
            }
        };
        let (ids, controller) = tokio::try_join!(started, controller)?;
        for ((distro, _), id) in targets.iter().zip(&ids) {
            self.platform_mut(distro, |p| p.started(id));
        }
        Ok((controller, ids))
    }

    async fn connect_and_apply(
        &self,
        controller: &str,
        distros: &[&'static Distro],
        targets: &[String],
        starting: Instant,
        connected: bool,
    ) -> Result<(), RunError> {
        self.set_phase(Phase::SshReady);
        let connect = async {
            if !connected {
                self.connect(controller, distros, targets).await?;
            }
            self.reporter.step_done(&format!(
                "{} target(s) ready for Ansible in {:.1} s (run {}, runtime {})",
                targets.len(),
                starting.elapsed().as_secs_f64(),
                self.scope.id(),
                self.options.runtime
            ));
            Ok(())
        };
        let mut applied = self.pass_after(controller, 1, connect).await?;
        for pass in 1..=self.options.passes {
            let Some((hosts, log)) = applied.take() else { break };
            self.record_apply(controller, pass, &hosts, &log).await?;
            let next = pass + 1;
            let check_and_clean = async {
                self.set_phase(Phase::Check(pass));
                self.verify(pass).await?;
                let in_play = self.hosts_still_in_play(next);
                if next <= self.options.passes && !in_play.is_empty() {
                    self.set_phase(Phase::BetweenPasses);
                    self.between_passes(&in_play).await?;
                }
                Ok(())
            };
            // No next pass, or no host left that could take part in it: nothing to start early.
            if next > self.options.passes || self.hosts_still_in_play(pass).is_empty() {
                check_and_clean.await?;
            } else {
                applied = self.pass_after(controller, next, check_and_clean).await?;
            }
        }
        self.decide();
        Ok(())
    }

    /// Runs `prepare` while pass `pass`'s `ansible-playbook` starts (see `ansible::launcher`),
    /// then lets the pass go on the hosts still in play, or stops it when there are none.
    /// Returns those hosts and what Ansible printed, or None when the pass did not run.
    async fn pass_after(
        &self,
        controller: &str,
        pass: u8,
        prepare: impl std::future::Future<Output = Result<(), RunError>>,
    ) -> Result<Option<(Vec<&'static Distro>, (PlaybookLog, PlaybookEnd))>, RunError> {
        let ready = async {
            let prepared = prepare.await;
            let hosts = if prepared.is_ok() { self.hosts_still_in_play(pass) } else { Vec::new() };
            if !hosts.is_empty() {
                self.set_phase(Phase::AnsibleStart(pass));
            }
            // Told even when `prepare` failed: the launcher must not wait for ever.
            let told = self.tell(controller, pass, &hosts).await;
            prepared.and(told).map(|()| hosts)
        };
        let (applied, hosts) = tokio::join!(self.apply(controller, pass), ready);
        let hosts = hosts?;
        if hosts.is_empty() {
            return Ok(None);
        }
        Ok(Some((hosts, applied?)))
    }

    /// Gives pass `pass`'s launcher its go: the arguments for `hosts`, or stop when empty.
    async fn tell(&self, controller: &str, pass: u8, hosts: &[&'static Distro]) -> Result<(), RunError> {
        let playbook = self.playbook_in_controller();
        let limit = hosts.iter().map(|d| d.name).collect::<Vec<_>>().join(",");
        let mut args = vec!["-i", CONTROLLER_INVENTORY, "--limit", &limit];
        let verbosity = format!("-{}", "v".repeat(self.options.verbosity.into()));
        if self.options.verbosity > 0 {
            args.push(&verbosity);
        }
        if self.options.diff || pass == 2 {
            args.push("--diff");
        }
        args.push(&playbook);
        let go = ansible::go_command(pass, if hosts.is_empty() { &[] } else { &args });
        let go: Vec<&str> = go.iter().map(String::as_str).collect();
        let told = self.engine.exec_quiet(controller, "controller", &go, &[]).await;
        match told {
            Ok(result) if result.exit_code != 0 => Err(EngineError::File(FileError::WriteFile {
                what: "controller".into(),
                path: ansible::go_file(pass),
                output: result.output,
            })
            .into()),
            // A controller that died is the pass's verdict (record_apply says why), not an error here.
            Ok(_) | Err(EngineError::Exec(ExecError::StoppedDuringExec { .. })) => Ok(()),
            Err(err) => Err(err.into()),
        }
    }

    /// Starts the fork-bomb guard over every container of the run; its kills become verdicts.
    async fn start_guard(
        &self,
        distros: &[&'static Distro],
        targets: &[String],
        controller: &str,
    ) -> Result<(), RunError> {
        let mut watched: Vec<(String, String)> =
            targets.iter().zip(distros).map(|(id, distro)| (id.clone(), format!("target {}", distro.name))).collect();
        watched.push((controller.to_string(), "controller".into()));
        let pids = self.challenge.limits.pids;
        let gvisor = isolation::is_gvisor(&self.engine, &self.options.runtime).await?;
        let host_limit = isolation::host_pids_limit(gvisor, pids);
        let shared = self.shared.clone();
        let controller = controller.to_string();
        let record = move |kill: guard::Kill| {
            let platforms = &mut shared.lock().unwrap().platforms;
            let decision = Decision::new(Verdict::Killed, kill.reason);
            // The controller serves every platform: its death decides them all.
            if kill.container == controller {
                platforms.decide_all(&decision);
            } else {
                platforms.decide_container(&kill.container, decision);
            }
        };
        let guard = guard::spawn(self.engine.clone(), guard::Watched::of(watched), pids, host_limit, self.guard, record);
        self.background.lock().unwrap().push(guard.abort_handle());
        Ok(())
    }

    /// The run's runtime as registered with the daemon; says so when it is not gVisor.
    async fn check_runtime(&self) -> Result<RegisteredRuntime, RunError> {
        let runtimes = self.engine.runtimes().await?;
        let Some(runtime) = runtimes.get(&self.options.runtime) else {
            let mut registered: Vec<_> = runtimes.keys().cloned().collect();
            registered.sort();
            return Err(RunError::RuntimeMissing {
                runtime: self.options.runtime.clone(),
                registered: registered.join(", "),
            });
        };
        if !runtime.is_gvisor() {
            self.reporter.notice(&format!(
                "running under `{}` instead of gVisor: isolation is weaker; a playbook runs closer to the host kernel",
                self.options.runtime
            ));
        }
        let _ = self.write_bound.set(runtime.write_bound());
        if runtime.write_bound() == WriteBound::HostDisk {
            self.reporter.notice(&format!(
                "runtime `{}` writes to the host's disk without a bound (`sandbox doctor` says how to bound it)",
                self.options.runtime
            ));
        }
        Ok(runtime.clone())
    }

    /// A crashed or killed earlier attempt may have left containers: remove those past their
    /// deadline, and pooled ones its claim left.
    async fn remove_dead_runs(&self) {
        for run in lifecycle::sweep_dead(&self.engine).await.unwrap_or_default() {
            self.reporter.notice(&format!("removed leftovers of dead run {run}"));
        }
        if let Ok(removed @ 1..) = crate::pool::sweep_orphans(&self.engine).await {
            self.reporter.notice(&format!("removed {removed} pooled target(s) left by dead runs"));
        }
    }

    async fn ensure_image(&self, kind: ImageKind) -> Result<String, RunError> {
        Ok(images::ensure(&self.engine, kind, self.reporter).await?)
    }

    /// The distro's prepared image, plus the challenge's package layer when it has one.
    async fn ensure_target_image(&self, distro: &'static Distro) -> Result<String, RunError> {
        let image = self.ensure_image(ImageKind::Target(distro)).await?;
        let packages = self.challenge.prepare.packages_for(distro.family);
        if packages.is_empty() {
            return Ok(image);
        }
        Ok(packages::ensure(&self.engine, distro, &image, packages, self.reporter).await?)
    }

    async fn start_target(&self, distro: &'static Distro, image: &str) -> Result<String, RunError> {
        let mut labels = self.labels(labels::Role::Target);
        labels.insert(labels::DISTRO.into(), distro.name.into());
        let spec = ContainerSpec {
            name: format!("sandbox-{}-{}", self.scope.id(), distro.name.replace('.', "-")),
            what: format!("target {}", distro.name),
            image: image.to_string(),
            hostname: distro.name.replace('.', "-"),
            // The image's own CMD: the init that Ansible takes for systemd.
            cmd: Vec::new(),
            entrypoint: None,
            env: Vec::new(),
            labels,
            network: self.network.clone(),
            runtime: self.options.runtime.clone(),
            confinement: isolation::confinement(&self.engine, &self.options.runtime, &self.challenge.limits).await?,
        };
        let id = self.engine.create_container(&spec).await?;
        self.engine.start_container(&id, &spec.what).await?;
        Ok(id)
    }

    async fn start_controller(&self, image: &str) -> Result<String, RunError> {
        let name = match (&self.pool, self.makes_a_set()) {
            (Some(pool), true) => pool.warming_set_name(self.scope.id()),
            _ => format!("sandbox-{}-controller", self.scope.id()),
        };
        let spec = ContainerSpec {
            name,
            what: "controller".into(),
            image: image.to_string(),
            hostname: "controller".into(),
            cmd: vec!["sleep".into(), "infinity".into()],
            entrypoint: None,
            env: Vec::new(),
            labels: self.labels(labels::Role::Controller),
            network: self.network.clone(),
            runtime: self.options.runtime.clone(),
            confinement: isolation::confinement(
                &self.engine,
                &self.options.runtime,
                &self.challenge.limits.for_controller(),
            )
            .await?,
        };
        let id = self.engine.create_container(&spec).await?;
        let archive = self.challenge_archive()?;
        self.engine.upload_before_start(&id, "controller", CONTROLLER_WORK_DIR, archive).await?;
        self.engine.start_container(&id, "controller").await?;
        Ok(id)
    }

    /// The challenge directory (and an outside `--playbook`) as a tar rooted at `challenge/`.
    fn challenge_archive(&self) -> Result<Vec<u8>, RunError> {
        let dir = &self.challenge.dir;
        let error = |source| RunError::Package { dir: dir.clone(), source };
        let mut builder = tar::Builder::new(Vec::new());
        builder.append_dir_all("challenge", dir).map_err(error)?;
        if let PlaybookChoice::File(path) = &self.options.playbook {
            let mut file = std::fs::File::open(path).map_err(error)?;
            builder.append_file(format!("challenge/{OUTSIDE_PLAYBOOK_NAME}"), &mut file).map_err(error)?;
        }
        builder.into_inner().map_err(error)
    }

    /// Gives the controller a key for this run, authorizes it on every target, writes the
    /// inventory and waits (bounded) until each target answers over SSH.
    async fn connect(
        &self,
        controller: &str,
        distros: &[&'static Distro],
        targets: &[String],
    ) -> Result<Vec<InventoryHost>, RunError> {
        let key = self.engine.exec_quiet(controller, "controller", &["sh", "-c", images::CONTROLLER_KEY], &[]).await?;
        let mut hosts = Vec::new();
        for (distro, id) in distros.iter().zip(targets) {
            let what = format!("target {}", distro.name);
            let mode = format!("{}\n", self.services().as_str());
            let files = [
                ("/root/.ssh/authorized_keys", key.output.as_str(), 0o600),
                (images::SERVICES_MODE_FILE, &mode, 0o644),
            ];
            self.engine.write_files(id, &what, &files).await?;
            if self.offline() {
                self.go_offline(distro, id).await?;
            }
            let address = self.engine.container_ip(id, &what, &self.network).await?.unwrap_or_default();
            hosts.push(InventoryHost { distro, address });
        }
        let inventory = inventory::render(&hosts);
        if self.options.show_inventory {
            self.reporter.output(&format!("# inventory of run {}\n{inventory}", self.scope.id()));
        }
        let addresses: Vec<&str> = hosts.iter().map(|h| h.address.as_str()).collect();
        let wait = scripts::wait_for_ssh_script(CONTROLLER_INVENTORY, &addresses);
        let result =
            self.engine.exec_quiet(controller, "controller", &["sh", "-c", &wait, "sh", &inventory], &[]).await?;
        if result.exit_code == scripts::INVENTORY_NOT_WRITTEN {
            let path = CONTROLLER_INVENTORY.to_string();
            let error = FileError::WriteFile { what: "controller".into(), path, output: result.output };
            return Err(EngineError::File(error).into());
        }
        if result.exit_code != 0 {
            let addressed: Vec<_> = hosts.iter().map(|h| (h.distro, h.address.as_str())).collect();
            let unreachable = scripts::unreachable_hosts(&result.output);
            self.shared.lock().unwrap().platforms.unreachable(&addressed, &unreachable);
        }
        Ok(hosts)
    }

    /// Leaves the local package repository as the only source, and proves the target has no
    /// route out: a connection to the distro's mirror must fail (the note says it did).
    async fn go_offline(&self, distro: &'static Distro, id: &str) -> Result<(), RunError> {
        let what = format!("target {}", distro.name);
        let script = packages::offline_script(distro.family);
        self.engine.exec_quiet(id, &what, &["sh", "-c", &script], &[]).await?;
        let probe = ["python3", "-c", scripts::EGRESS_PROBE, scripts::EGRESS_PROBE_HOST];
        let reached = self.engine.exec_quiet(id, &what, &probe, &[]).await?.exit_code == 0;
        let host = scripts::EGRESS_PROBE_HOST;
        self.platform_mut(distro, |p| {
            if reached {
                p.decide(Decision::new(Verdict::Error, format!("offline run, but the target reached {host}")));
            } else {
                p.note(format!("offline: no route to {host} (checked before pass 1)"));
            }
        });
        Ok(())
    }

    fn hosts_still_in_play(&self, pass: u8) -> Vec<&'static Distro> {
        self.shared.lock().unwrap().platforms.in_play(pass)
    }

    async fn between_passes(&self, distros: &[&'static Distro]) -> Result<(), RunError> {
        for (distro, id) in self.containers_of(distros) {
            let what = format!("target {}", distro.name);
            let script = scripts::between_passes_script(distro.family);
            let result = self.engine.exec_quiet(&id, &what, &["/bin/sh", "-c", &script], &[]).await?;
            let notes: Vec<String> =
                result.output.lines().filter(|l| !l.trim().is_empty()).map(str::to_string).collect();
            for note in &notes {
                self.reporter.notice(&format!("{}: {note}", distro.name));
            }
            self.platform_mut(distro, |p| notes.into_iter().for_each(|note| p.note(note)));
        }
        Ok(())
    }

    fn containers_of(&self, distros: &[&'static Distro]) -> Vec<(&'static Distro, String)> {
        self.shared.lock().unwrap().platforms.containers_of(distros)
    }

    fn platform_mut(&self, distro: &Distro, change: impl FnOnce(&mut platform::Platform)) {
        change(self.shared.lock().unwrap().platforms.of(distro));
    }

    /// Pass `pass`'s `ansible-playbook`, from the launcher's start to Ansible's exit.
    async fn apply(&self, controller: &str, pass: u8) -> Result<(PlaybookLog, PlaybookEnd), RunError> {
        let launcher = ansible::launcher(pass, self.strategy());
        let cmd: Vec<&str> = launcher.iter().map(String::as_str).collect();
        // The run's Ansible process takes pass 1's environment and sets SANDBOX_PASS itself.
        let env = ansible::controller_env(self.options.color, self.strategy());
        let mut log = PlaybookLog::default();
        let reporter = self.reporter;
        let shared = &self.shared;
        let result = self
            .engine
            .exec(controller, "controller", &cmd, &env, Some(CONTROLLER_CHALLENGE_DIR), &mut |line| {
                reporter.ansible_line(pass, line);
                log.push(line);
                let mut shared = shared.lock().unwrap();
                if let Some(next) = shared.timeline.current().after_ansible_line(line) {
                    shared.timeline.enter(next);
                }
            })
            .await;
        let end = match result {
            Ok(result) => PlaybookEnd::Exited(result.exit_code),
            Err(EngineError::Exec(ExecError::StoppedDuringExec { .. })) => PlaybookEnd::ControllerStopped,
            Err(err) => return Err(err.into()),
        };
        Ok((log, end))
    }

    fn write_bound(&self) -> WriteBound {
        self.write_bound.get().copied().unwrap_or(WriteBound::HostDisk)
    }

    /// Why the controller died during a pass, or None when it is alive (a playbook that
    /// failed on its own). Asked only when Ansible did not exit 0.
    async fn controller_death(&self, controller: &str, end: PlaybookEnd) -> Result<Option<String>, RunError> {
        if end == PlaybookEnd::Exited(0) {
            return Ok(None);
        }
        // Ansible's own exit codes are below 128; 128 and above (or no exit at all) is how
        // an exec ends when its sandbox dies, and Docker may take a moment to see the death.
        let settle = match end {
            PlaybookEnd::Exited(code) if code < 128 => 1,
            _ => 20,
        };
        let limits = self.challenge.limits.for_controller();
        self.settled_death(controller, Place::Controller, &limits, settle).await
    }

    async fn record_apply(
        &self,
        controller: &str,
        pass: u8,
        hosts: &[&'static Distro],
        (log, end): &(PlaybookLog, PlaybookEnd),
    ) -> Result<(), RunError> {
        let controller_death = self.controller_death(controller, *end).await?;
        for (distro, id) in self.containers_of(hosts) {
            let state = self.engine.container_state(&id, &format!("target {}", distro.name)).await?;
            let killed = if state.running {
                controller_death.clone()
            } else {
                let log = self.engine.log_tail(&id, 5).await;
                let place = Place::Target(distro.name);
                let mut reason = verdict::death_reason(&state, &self.challenge.limits, place, self.write_bound());
                if !state.oom_killed && !log.trim().is_empty() {
                    reason = format!("{reason}; its last output: {}", log.trim());
                }
                Some(reason)
            };
            let applied = verdict::judge_apply(pass, distro.name, log, *end, killed);
            self.platform_mut(distro, |p| p.applied(applied));
        }
        Ok(())
    }

    /// Runs check.sh on every platform that took part in this pass, concurrently.
    async fn verify(&self, pass: u8) -> Result<(), RunError> {
        let targets = self.shared.lock().unwrap().platforms.awaiting_check(pass);
        if targets.is_empty() {
            return Ok(());
        }
        self.reporter.step(&format!("verifying pass {pass}"));
        let read = |relative: &std::path::Path| {
            let path = self.challenge.file(relative);
            std::fs::read_to_string(&path).map_err(|source| RunError::ReadCheck { path, source })
        };
        let script = self.challenge.check.as_deref().map(read).transpose()?;
        let goss_texts = match &self.challenge.goss {
            None => Vec::new(),
            Some(goss) => {
                goss.files().map(|file| read(file).map(|text| (file.clone(), text))).collect::<Result<_, _>>()?
            }
        };
        let files = goss::CheckFiles {
            script: script.as_deref(),
            goss: self.challenge.goss.as_ref().map(|goss| (goss, goss_texts.as_slice())),
            services: self.services(),
        };
        let runs = targets.iter().map(|(distro, id)| async move {
            let what = format!("target {}", distro.name);
            let result = goss::verify_target(&self.engine, id, &what, distro, pass, files).await;
            Ok::<_, RunError>((*distro, id, result))
        });
        let results = futures_util::future::try_join_all(runs).await?;
        self.reporter.step_done(&format!("verified pass {pass}"));
        for (distro, id, result) in results {
            let result = match result {
                Ok(result) => result,
                Err(err) => {
                    // A target that died after its apply (a guard, the OOM killer) cannot be
                    // checked; that is its verdict, not an infrastructure failure.
                    let Some(reason) = self.death_of(id, distro).await? else { return Err(err.into()) };
                    self.platform_mut(distro, |p| {
                        p.decide(Decision::new(Verdict::Killed, format!("verify {pass}: {reason}")));
                    });
                    continue;
                }
            };
            self.reporter.verified(pass, distro.name, result.exit_code, &result.output);
            self.platform_mut(distro, |p| p.checked(result.exit_code, &result.output, result.checks));
        }
        Ok(())
    }

    /// Why a target that failed an exec is dead, or None when it is alive. A container being
    /// killed can refuse execs while Docker still reports it running: wait (bounded) for
    /// the state to settle.
    async fn death_of(&self, id: &str, distro: &Distro) -> Result<Option<String>, RunError> {
        self.settled_death(id, Place::Target(distro.name), &self.challenge.limits, 20).await
    }

    /// Why the container at `place` is dead, asking Docker up to `tries` times 250 ms apart
    /// (it may still report a dying container running), or None when it stays alive.
    async fn settled_death(
        &self,
        id: &str,
        place: Place<'_>,
        limits: &Limits,
        tries: u32,
    ) -> Result<Option<String>, RunError> {
        let what = place.to_string();
        for attempt in 1..=tries {
            let state = self.engine.container_state(id, &what).await?;
            if !state.running {
                return Ok(Some(verdict::death_reason(&state, limits, place, self.write_bound())));
            }
            if attempt < tries {
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
        Ok(None)
    }

    /// Verdicts for every platform still undecided after both passes.
    fn decide(&self) {
        let planned = self.options.passes;
        self.shared.lock().unwrap().platforms.conclude(self.challenge.run.idempotent, planned);
    }
}

/// Resolves `--distro` against the challenge's list.
fn select_distros(challenge: &Challenge, wanted: &[String]) -> Result<Vec<&'static Distro>, RunError> {
    if wanted.is_empty() {
        return Ok(challenge.distros.clone());
    }
    let available = || challenge.distros.iter().map(|d| d.name).collect::<Vec<_>>().join(", ");
    wanted
        .iter()
        .map(|name| {
            challenge
                .distros
                .iter()
                .copied()
                .find(|d| d.name == name)
                .ok_or_else(|| RunError::DistroNotInChallenge { name: name.clone(), available: available() })
        })
        .collect()
}

fn round_tenths(seconds: f64) -> f64 {
    (seconds * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_differ() {
        let a = labels::new_run_id();
        std::thread::sleep(Duration::from_millis(1));
        let b = labels::new_run_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), 10);
    }
}
