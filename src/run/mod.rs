//! One run of a challenge: targets and a controller on a network made for the run, the
//! playbook applied twice over SSH, check.sh after each pass, a verdict per platform.
//!
//! Everything the run creates carries its run label and is removed when the run ends,
//! however it ends: success, failure, deadline, Ctrl-C or SIGTERM.

pub mod goss;
pub mod inventory;
mod passes;
pub mod platform;
mod pooled;
pub mod recap;
pub mod scripts;
mod start;
pub mod teardown;
pub mod verdict;
pub mod warm;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use miette::Diagnostic;

use self::platform::Platforms;
use self::verdict::Decision;
use self::warm::Purpose;
use crate::challenge::{Challenge, Network, ServicesMode, Strategy};
use crate::distro::Distro;
use crate::docker::{Engine, EngineError};
use crate::images::{ImageError, ImageKind};
use crate::isolation::guard::GuardSettings;
use crate::isolation::{self, WriteBound};
use crate::labels;
use crate::lifecycle::{self, Ended, Scope};
use crate::pool::{Location, Pool, PoolError};
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

/// What a run took from the pool, and what it must give back or remove.
#[derive(Default)]
struct Holdings {
    /// Containers taken from the pool: not labelled with this run, removed by id.
    claimed: Vec<String>,
    /// What the pool lost to this run once its passes ran: refilled after the teardown.
    taken: Vec<(ImageKind, String)>,
    /// A warm set's pool labels, on everything it creates (known once its key is).
    set_labels: Vec<(String, String)>,
    /// What the pool's warm sets gave this attempt (`RunReport::warm_set`).
    warm_set: Option<String>,
    /// The recipe of a set this attempt looked for: refilled after the teardown.
    taken_set: Option<String>,
    /// Run labels of the sets this attempt took: everything of theirs goes with it.
    adopted: Vec<String>,
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
    /// What it took from the pool, kept where the cleanup finds it even when the race cuts a
    /// stage short.
    holdings: Mutex<Holdings>,
    /// Whether the runtime bounds what containers write; known once the runtime is checked.
    write_bound: std::sync::OnceLock<WriteBound>,
    /// An attempt, or a warm set for the pool (`warm`).
    purpose: Purpose,
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
            holdings: Mutex::default(),
            write_bound: std::sync::OnceLock::new(),
            purpose: Purpose::Attempt,
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
            track: self.challenge.track.kind(),
            strategy: Some(self.strategy()),
            image: None,
            passed: crate::report::passed(&platforms),
            duration_seconds: round_tenths(elapsed.as_secs_f64()),
            timings: shared.timeline.timings(),
            platforms,
            warm_set: self.holdings.lock().unwrap().warm_set.clone(),
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
        labels.extend(self.holdings.lock().unwrap().set_labels.iter().cloned());
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

    /// The run's network, and the internal IPv6 one its targets also join for their `::1`
    /// (`Engine::create_loopback6_network`): both carry the run's labels, so the teardown and
    /// the sweep of dead runs remove them with the rest.
    pub(super) async fn create_networks(&self) -> Result<(), RunError> {
        let labels = self.labels(labels::Role::Network);
        let loopback6 = self.loopback6_network();
        tokio::try_join!(
            self.engine.create_network(&self.network, self.offline(), labels.clone()),
            self.engine.create_loopback6_network(&loopback6, labels),
        )?;
        Ok(())
    }

    /// The network that gives the run's targets an IPv6 loopback.
    pub(super) fn loopback6_network(&self) -> String {
        format!("{}-lo6", self.network)
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
        self.create_networks().await?;
        let mut needed: Vec<(ImageKind, &str)> =
            targets.iter().map(|(distro, image)| (ImageKind::Target(distro), image.as_str())).collect();
        needed.push((ImageKind::Controller, &controller_image));
        let claimed = self.claim_from_pool(&needed).await?;
        let (controller, ids) = self.start_containers(&targets, &controller_image, &claimed, starting).await?;
        let distros: Vec<&'static Distro> = targets.iter().map(|(distro, _)| *distro).collect();
        self.start_guard(&distros, &ids, &controller).await?;
        let result = self.connect_and_apply(&controller, &distros, &ids, starting, false).await;
        // Taken containers are never reused: replacements warm up once the run is torn down.
        self.holdings.lock().unwrap().taken = needed
            .iter()
            .zip(&claimed)
            .filter(|(_, claim)| claim.is_some())
            .map(|((kind, image), _)| (*kind, image.to_string()))
            .collect();
        result
    }

    /// A crashed or killed earlier attempt may have left containers: remove those past their
    /// deadline, and pooled ones its claim left.
    async fn remove_dead_runs(&self) {
        lifecycle::sweep_dead_told(&self.engine, self.reporter).await;
        if let Ok(removed @ 1..) = crate::pool::sweep_orphans(&self.engine).await {
            self.reporter.notice(&format!("removed {removed} pooled target(s) left by dead runs"));
        }
    }

    fn hosts_still_in_play(&self, pass: u8) -> Vec<&'static Distro> {
        self.shared.lock().unwrap().platforms.in_play(pass)
    }

    fn containers_of(&self, distros: &[&'static Distro]) -> Vec<(&'static Distro, String)> {
        self.shared.lock().unwrap().platforms.containers_of(distros)
    }

    fn platform_mut(&self, distro: &Distro, change: impl FnOnce(&mut platform::Platform)) {
        change(self.shared.lock().unwrap().platforms.of(distro));
    }

    fn write_bound(&self) -> WriteBound {
        self.write_bound.get().copied().unwrap_or(WriteBound::HostDisk)
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
