//! Warm targets and controllers: containers started ahead from the prepared images, handed
//! out to runs so a learner re-running a playbook does not wait for a target to boot or for
//! the controller's Ansible to load.
//!
//! The pool lives in Docker itself, so every process sees the same one: a pooled container's
//! name says its state (`…-warming-…` while it boots, `…-ready-…` once of use), a claim
//! is a rename to the run's name (Docker renames atomically: two claimers cannot both win),
//! and counting and claiming happen under a file lock, so ready + warming never exceeds the
//! target and a run that needs several distros (and a controller) takes them all at once.
//! Idle pooled containers wait on an internal "parking" network; a claimed one joins the
//! run's network and leaves the parking one before any playbook runs. A container is never
//! handed out twice: after its run it is removed like any other.

mod names;
mod sets;

pub use self::sets::{ClaimedSet, SetEntry, SetRecipe, SetStatus};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use miette::Diagnostic;

use crate::challenge::Limits;
use crate::distro::Catalog;
use crate::docker::{ContainerSpec, Engine, EngineError};
use crate::images::{self, ImageError, ImageKind};
use crate::isolation;
use crate::labels;
use crate::report::Reporter;

use self::names::{Key, Names, Slot};

/// Warm targets per distro when neither `--size` nor the config's `[pool]` says otherwise:
/// the popular ones; the rare ones start on demand.
pub const DEFAULT_SIZES: &[(&str, usize)] = &[("debian-12", 2), ("ubuntu-22.04", 2), ("rocky-9", 2)];

/// Warm controllers unless the config's `[pool]` names `controller`: one serves a learner's
/// next run; a replacement warms while that run works.
pub const DEFAULT_CONTROLLERS: usize = 1;

/// The pool the CLI uses; tests use their own.
pub const DEFAULT_NAMESPACE: &str = "default";

/// How long a warming container may take to accept SSH before it is given up.
const WARM_BOUND: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum PoolError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Engine(#[from] EngineError),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Image(#[from] ImageError),

    #[error("cannot use the pool's state in {}", path.display())]
    #[diagnostic(
        code(sandbox::pool::state),
        help("the pool keeps its sizes and lock there; run as root or set SANDBOX_STATE_DIR")
    )]
    State {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// One line of `pool status`: a distro's targets, or the controllers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotStatus {
    /// `debian-12`, …, `controller`
    pub name: &'static str,
    pub ready: usize,
    pub warming: usize,
    pub target: usize,
}

/// A claimed container, now the run's.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: String,
    pub name: String,
    /// Taken while it still booted: a target's SSH wait covers the rest of its boot; a
    /// controller's warm-up is ended once its key exists (`images::end_controller_warm_up`).
    pub warming: bool,
}

/// Where a pool is: its namespace on the daemon and the directory holding its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub namespace: String,
    pub state_dir: PathBuf,
}

pub struct Pool {
    engine: Engine,
    namespace: String,
    names: Names,
    runtime: String,
    state_dir: PathBuf,
}

impl Pool {
    pub fn new(engine: Engine, namespace: &str, runtime: &str, state_dir: &Path) -> Pool {
        Pool {
            engine,
            namespace: namespace.into(),
            names: Names::new(namespace),
            runtime: runtime.into(),
            state_dir: state_dir.into(),
        }
    }

    /// The pool at `location`.
    pub fn at(engine: Engine, runtime: &str, location: &Location) -> Pool {
        Pool::new(engine, &location.namespace, runtime, &location.state_dir)
    }

    fn sizes_file(&self) -> PathBuf {
        self.state_dir.join(format!("pool-{}.sizes", self.namespace))
    }

    fn parking_network(&self) -> String {
        self.names.parking_network()
    }

    /// The label filter for everything this pool holds.
    fn label(&self) -> String {
        format!("{}={}", labels::POOL, self.namespace)
    }

    /// Sizes per distro (and `controller`) while the pool is up (`pool up` wrote them, as
    /// TOML), else None.
    pub fn sizes(&self) -> Option<BTreeMap<String, usize>> {
        toml::from_str(&std::fs::read_to_string(self.sizes_file()).ok()?).ok()
    }

    fn target_of(&self, kind: ImageKind) -> usize {
        self.sizes().and_then(|sizes| sizes.get(kind.name()).copied()).unwrap_or(0)
    }

    /// Where the pool is.
    pub fn location(&self) -> Location {
        Location { namespace: self.namespace.clone(), state_dir: self.state_dir.clone() }
    }

    /// Exclusive access to the pool's bookkeeping, across processes (flock).
    async fn lock(&self) -> Result<std::fs::File, PoolError> {
        self.lock_named(&format!("pool-{}.lock", self.namespace)).await
    }

    /// Held while one process makes sets of `recipe`, so that two refills do not both make
    /// the one that was missing.
    pub async fn lock_recipe(&self, recipe: &str) -> Result<std::fs::File, PoolError> {
        self.lock_named(&format!("pool-{}-set-{recipe}.lock", self.namespace)).await
    }

    async fn lock_named(&self, name: &str) -> Result<std::fs::File, PoolError> {
        let path = self.state_dir.join(name);
        let state = |source| PoolError::State { path: path.clone(), source };
        std::fs::create_dir_all(&self.state_dir).map_err(state)?;
        let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path).map_err(state)?;
        tokio::task::spawn_blocking(move || file.lock().map(|()| file))
            .await
            .expect("the lock task does not panic")
            .map_err(state)
    }

    /// Records the sizes, creates the parking network and warms up to them.
    pub async fn up(&self, sizes: &[(ImageKind, usize)], reporter: &dyn Reporter) -> Result<(), PoolError> {
        let mut all = self.sizes().unwrap_or_default();
        for (kind, size) in sizes {
            all.insert(kind.name().to_string(), *size);
        }
        let text = toml::to_string(&all).expect("a map of names to numbers is TOML");
        std::fs::create_dir_all(&self.state_dir)
            .and_then(|()| std::fs::write(self.sizes_file(), text))
            .map_err(|source| PoolError::State { path: self.sizes_file(), source })?;
        {
            // Under the lock: Docker does not refuse a second network with the same name.
            let _lock = self.lock().await?;
            self.ensure_parking().await?;
        }
        let refills = sizes.iter().map(|(kind, _)| async move {
            let image = images::ensure(&self.engine, *kind, reporter).await?;
            self.refill(*kind, &image).await
        });
        for result in futures_util::future::join_all(refills).await {
            result?;
        }
        Ok(())
    }

    async fn ensure_parking(&self) -> Result<(), PoolError> {
        let network = self.parking_network();
        if !self.engine.network_exists(&network).await? {
            let labels = [(labels::POOL.to_string(), self.namespace.clone())].into();
            self.engine.create_network(&network, true, labels).await?;
        }
        Ok(())
    }

    /// Removes every idle pooled container and the parking network; forgets the sizes.
    pub async fn down(&self) -> Result<usize, PoolError> {
        let _lock = self.lock().await?;
        let _ = std::fs::remove_file(self.sizes_file());
        let _ = std::fs::remove_file(self.sets_file());
        let mut removed = 0;
        for container in self.engine.list_labelled(&self.label()).await? {
            // Claimed containers belong to their runs now; those remove them.
            if self.names.is_unclaimed(&container.name) {
                self.remove_with_set(&container).await?;
                removed += 1;
            }
        }
        // A run that claimed a target a moment ago may not have moved it off yet; the empty
        // internal network is then left for the next `pool up` to reuse.
        let _ = self.engine.remove_network(&self.parking_network()).await;
        Ok(removed)
    }

    pub async fn status(&self, catalog: &Catalog) -> Result<Vec<SlotStatus>, PoolError> {
        let sizes = self.sizes().unwrap_or_default();
        let pooled = self.engine.list_labelled(&self.label()).await?;
        let mut lines = Vec::new();
        for kind in catalog.all().map(ImageKind::Target).chain([ImageKind::Controller]) {
            let count = |slot| pooled.iter().filter(|c| self.names.is_in(&c.name, slot, kind)).count();
            let line = SlotStatus {
                name: kind.name(),
                ready: count(Slot::Ready),
                warming: count(Slot::Warming),
                target: sizes.get(kind.name()).copied().unwrap_or(0),
            };
            if line.ready + line.warming + line.target > 0 {
                lines.push(line);
            }
        }
        Ok(lines)
    }

    fn key(&self, kind: ImageKind) -> String {
        Key { runtime: &self.runtime, limits: pooled_limits(kind) }.to_string()
    }

    /// Starts warming containers of `image` (the prepared one of `kind`) until ready + warming
    /// reaches the kind's target; returns how many it started. Counting and creating happen
    /// under the lock, so concurrent refills never overshoot; the boot itself happens outside it.
    pub async fn refill(&self, kind: ImageKind, image: &str) -> Result<usize, PoolError> {
        let created = {
            let _lock = self.lock().await?;
            // Read under the lock: a `pool down` in between leaves nothing to refill.
            let target = self.target_of(kind);
            if target == 0 {
                return Ok(0);
            }
            let pooled = self.engine.list_labelled(&self.label()).await?;
            let present = pooled
                .iter()
                .filter(|c| {
                    self.names.is_in(&c.name, Slot::Ready, kind) || self.names.is_in(&c.name, Slot::Warming, kind)
                })
                .count();
            let mut created = Vec::new();
            for _ in present..target {
                created.push(self.create_warming(kind, image).await?);
            }
            created
        };
        let started = created.len();
        let boots = created.into_iter().map(|(id, name)| self.boot(kind, id, name));
        for result in futures_util::future::join_all(boots).await {
            result?;
        }
        Ok(started)
    }

    async fn create_warming(&self, kind: ImageKind, image: &str) -> Result<(String, String), PoolError> {
        let limits = pooled_limits(kind);
        let name = self.names.warming(kind);
        let role = match kind {
            ImageKind::Target(_) => labels::Role::Target,
            ImageKind::Controller => labels::Role::Controller,
        };
        let spec = ContainerSpec {
            name: name.clone(),
            what: format!("pooled {}", kind.name()),
            image: image.to_string(),
            hostname: kind.hostname(),
            cmd: Vec::new(),
            entrypoint: None,
            env: Vec::new(),
            labels: [
                (labels::POOL.to_string(), self.namespace.clone()),
                (labels::POOL_KIND.to_string(), kind.name().to_string()),
                (labels::POOL_KEY.to_string(), self.key(kind)),
                (labels::ROLE.to_string(), role.as_str().to_string()),
            ]
            .into(),
            network: self.parking_network(),
            runtime: self.runtime.clone(),
            confinement: isolation::confinement(&self.engine, &self.runtime, &limits).await?,
        };
        Ok((self.engine.create_container(&spec).await?, name))
    }

    /// Starts a warming container, waits (bounded) until it is of use (a target's sshd is up;
    /// a controller has its key and has run Ansible once), then marks it ready by name.
    async fn boot(&self, kind: ImageKind, id: String, name: String) -> Result<(), PoolError> {
        let what = format!("pooled {}", kind.name());
        let ready = async {
            self.engine.start_container(&id, &what).await?;
            if kind == ImageKind::Controller {
                let warm_up =
                    self.engine.exec_quiet(&id, &what, &["sh", "-c", &images::controller_warm_up()], &[]).await?;
                return Ok::<bool, EngineError>(warm_up.exit_code == 0);
            }
            // Until a run claims it: then every exec here would only take CPU from that run.
            while self.still_named(&id, &name).await {
                let probe = self.engine.exec_quiet(&id, &what, &["test", "-s", "/run/sshd.pid"], &[]).await?;
                if probe.exit_code == 0 {
                    return Ok(true);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Ok(false)
        };
        let warmed = matches!(tokio::time::timeout(WARM_BOUND, ready).await, Ok(Ok(true)));
        // Under the lock, and only while it still has its warming name: a run may have
        // claimed it meanwhile, and then it is that run's.
        let _lock = self.lock().await?;
        let still_warming = self.still_named(&id, &name).await;
        match (still_warming, warmed) {
            (false, _) => {}
            (true, true) => {
                self.engine.rename_container(&id, &self.names.ready(&name, kind)).await?;
            }
            // A container that does not come up is not pooled; the next refill tries again.
            (true, false) => self.engine.remove_container(&id).await?,
        }
        Ok(())
    }

    /// Whether container `id` still has `name` (a claim renames it).
    async fn still_named(&self, id: &str, name: &str) -> bool {
        self.engine.container_state(id, "pooled container").await.is_ok_and(|state| state.name == name)
    }

    /// Takes one ready container per wanted kind (distros, the controller) for `run`, or one
    /// still warming where none is ready, all under one lock. Each is inspected first:
    /// running, not OOM-killed, created from `image` with the same runtime and limits;
    /// anything else is removed, silently. A kind the pool
    /// cannot serve gets None (the run starts that one cold). Claimed containers are renamed
    /// `sandbox-<run>-<kind>-until-<deadline>`: the deadline lets a later run sweep them if
    /// this process dies.
    pub async fn claim(
        &self,
        run: &str,
        deadline: u64,
        wanted: &[(ImageKind, String)],
        limits: &Limits,
    ) -> Result<Vec<Option<Claimed>>, PoolError> {
        // Pooled containers have the default limits; a challenge asking for others starts cold.
        if self.sizes().is_none() || *limits != Limits::default() {
            return Ok(vec![None; wanted.len()]);
        }
        let _lock = self.lock().await?;
        let pooled = self.engine.list_labelled(&self.label()).await?;
        let mut taken = Vec::new();
        for (kind, image) in wanted {
            let image_id = self.engine.image_id(image).await?.unwrap_or_default();
            let mut found = None;
            // Ready ones first; then one still warming: its boot is a cold start already under
            // way, where starting another beside it would only compete with it for the CPUs.
            let in_slot = |slot| {
                let mut names: Vec<_> = pooled.iter().filter(|c| self.names.is_in(&c.name, slot, *kind)).collect();
                names.sort_by(|a, b| a.name.cmp(&b.name));
                names.into_iter().map(move |c| (c, slot == Slot::Warming))
            };
            for (candidate, warming) in in_slot(Slot::Ready).chain(in_slot(Slot::Warming)) {
                let state = match self.engine.container_state(&candidate.id, "pooled container").await {
                    Ok(state) => state,
                    Err(_) => continue,
                };
                // Made for another runtime: someone else's to take.
                if candidate.labels.get(labels::POOL_KEY) != Some(&self.key(*kind)) {
                    continue;
                }
                // Created but not started yet: its boot is about to; leave it to that.
                if warming && !state.running && !state.oom_killed && state.exit_code == 0 {
                    continue;
                }
                // Dead, killed, or from an image that has since been rebuilt: never handed out.
                if !state.running || state.oom_killed || state.image_id != image_id {
                    self.engine.remove_container(&candidate.id).await?;
                    continue;
                }
                let name = names::claimed(run, *kind, deadline);
                if self.engine.rename_container(&candidate.id, &name).await? {
                    found = Some(Claimed { id: candidate.id.clone(), name, warming });
                    break;
                }
            }
            taken.push(found);
        }
        Ok(taken)
    }

    /// `refill` in a process of its own (`sandbox pool refill`), detached from the caller's
    /// terminal and process group: a run hands its refill over once its passes are done, so
    /// replacements warm up while the learner reads the result instead of competing with the
    /// run for the CPUs, and the run does not wait for them.
    pub fn refill_detached(&self, kind: ImageKind, image: &str) -> std::io::Result<()> {
        self.spawn_detached(&["pool", "refill", "--kind", kind.name(), "--image", image])
    }

    /// `sandbox ARGS… --namespace NS --runtime RUNTIME`, detached (see `refill_detached`).
    fn spawn_detached(&self, args: &[&str]) -> std::io::Result<()> {
        let mut all: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
        all.extend(["--namespace", &self.namespace, "--runtime", &self.runtime].map(String::from));
        spawn_detached(&all, Some(&self.state_dir))
    }

    /// `sandbox pool teardown ARGS…` for this pool, detached: a run's removal and refills
    /// once its verdict is known.
    pub fn teardown_detached(&self, args: &[String]) -> std::io::Result<()> {
        let mut all = vec!["pool".to_string(), "teardown".to_string()];
        all.extend(args.iter().cloned());
        all.extend(["--namespace", &self.namespace, "--runtime", &self.runtime].map(String::from));
        spawn_detached(&all, Some(&self.state_dir))
    }

    /// Moves a claimed container from the parking network to the run's. Outside the lock:
    /// the claim is already exclusive, and network changes are the slow part of a hand-out.
    pub async fn move_to(&self, claimed: &str, network: &str, alias: &str) -> Result<(), PoolError> {
        self.engine.connect_network(network, claimed, alias).await?;
        self.engine.disconnect_network(&self.parking_network(), claimed).await?;
        Ok(())
    }

    /// Removes a pooled container; a set's controller takes its set with it (its targets and
    /// network carry the set's run label).
    pub(super) async fn remove_with_set(&self, container: &crate::docker::ListedContainer) -> Result<(), PoolError> {
        remove_with_set(&self.engine, container).await
    }
}

/// Claimed pooled containers (of any pool) whose run's deadline passed over
/// `lifecycle::SWEEP_GRACE` ago: their process died. Any run sweeps them, pooled or not.
pub async fn sweep_orphans(engine: &Engine) -> Result<usize, PoolError> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    let mut removed = 0;
    for container in engine.list_labelled(labels::POOL).await? {
        let deadline = names::claim_deadline(&container.name);
        if deadline.is_some_and(|deadline| deadline + crate::lifecycle::SWEEP_GRACE.as_secs() < now) {
            remove_with_set(engine, &container).await?;
            removed += 1;
        }
    }
    Ok(removed)
}

async fn remove_with_set(engine: &Engine, container: &crate::docker::ListedContainer) -> Result<(), PoolError> {
    match container.labels.get(labels::RUN) {
        Some(set_run) => engine.remove_labelled(&format!("{}={set_run}", labels::RUN)).await?,
        None => engine.remove_container(&container.id).await?,
    }
    Ok(())
}

/// `sandbox ARGS…` in a process of its own, detached from the caller's terminal and process
/// group (a Ctrl-C there does not reach it) and outliving it.
pub fn spawn_detached(args: &[String], state_dir: Option<&Path>) -> std::io::Result<()> {
    let mut command = tokio::process::Command::new(std::env::current_exe()?);
    command.args(args);
    if let Some(state_dir) = state_dir {
        command.env("SANDBOX_STATE_DIR", state_dir);
    }
    let mut child = command
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn()?;
    // Reaped while this process lives (a watch spawns many); orphaned, not killed, after.
    tokio::spawn(async move { child.wait().await });
    Ok(())
}

/// The limits pooled containers are made with: the default targets' (and the controller's
/// derived from them). A run whose challenge asks for other limits starts cold.
fn pooled_limits(kind: ImageKind) -> Limits {
    match kind {
        ImageKind::Target(_) => Limits::default(),
        ImageKind::Controller => Limits::default().for_controller(),
    }
}
