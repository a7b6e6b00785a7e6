//! Warm sets from the run's side: a run made only to be claimed (containers started, SSH
//! connected, the controller's Ansible imported, Mitogen bootstrapped on every target by a
//! pass 0), and a run that claims one and goes straight to its pass 1. `pool::sets` keeps
//! the books.
//!
//! Never wrong, only slower: a set is claimed only by a run with the same key, which covers
//! everything a set fixes before the attempt: the recipe (challenge directory, runtime,
//! distros, services, strategy, offline, colour), challenge.toml and ansible.cfg as they are
//! now (Ansible reads its configuration when it is imported), and the images. A learner's
//! playbook that connects otherwise (its own `remote_user`, interpreter, `become`) makes
//! Mitogen open the connections it needs, as a cold run would: Mitogen reuses a connection
//! only for the same settings. Pass 0 prints nowhere and counts nowhere.

use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::{Run, RunError, CONTROLLER_CHALLENGE_DIR, CONTROLLER_WORK_DIR};
use crate::ansible;
use crate::distro::Distro;
use crate::docker::{EngineError, FileError};
use crate::images::ImageKind;
use crate::lifecycle::{self, Ended};
use crate::pool::{ClaimedSet, Pool, SetRecipe};
use crate::report::Verdict;

/// How long a set may wait to be claimed: its containers' deadline, so that a set nobody
/// claims is removed by a later run's sweep.
pub const SET_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// How long making a set may take before it is given up.
const MAKE_BOUND: Duration = Duration::from_secs(300);

/// What a run is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Purpose {
    /// A learner's attempt.
    Attempt,
    /// A warm set of the recipe with this id, for a later attempt to claim.
    WarmSet { recipe: String },
}

/// The recipe a run of `challenge` with `options` would claim a set of. `--distro` naming
/// every distro of the challenge is the same recipe as no `--distro`.
pub fn recipe_of(challenge: &crate::challenge::Challenge, options: &super::RunOptions) -> SetRecipe {
    let dir = &challenge.dir;
    let every = challenge.distros.iter().all(|d| options.distros.iter().any(|name| name == d.name));
    SetRecipe {
        dir: std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf()),
        runtime: options.runtime.clone(),
        distros: if every { Vec::new() } else { options.distros.clone() },
        services: options.services,
        strategy: options.strategy,
        offline: options.offline,
        color: options.color,
    }
}

/// The options of the runs that make sets of `recipe` (and that claim them).
pub fn options_of(
    recipe: &SetRecipe,
    guard: crate::isolation::guard::GuardSettings,
    pool: crate::pool::Location,
) -> super::RunOptions {
    super::RunOptions {
        playbook: super::PlaybookChoice::Starter,
        distros: recipe.distros.clone(),
        runtime: recipe.runtime.clone(),
        timeout: None,
        color: recipe.color,
        show_inventory: false,
        guard,
        passes: 2,
        services: recipe.services,
        strategy: recipe.strategy,
        offline: recipe.offline,
        pool: Some(pool),
        verbosity: 0,
        diff: false,
        detach_teardown: false,
    }
}

impl Run<'_> {
    /// A run that makes a warm set of `recipe` instead of an attempt.
    pub fn into_warm_set(mut self, recipe: &str) -> Self {
        self.purpose = Purpose::WarmSet { recipe: recipe.to_string() };
        self.scope = self.scope.with_timeout(SET_LIFETIME);
        self
    }

    /// Makes a set and marks it ready, unless the pool already has `size` of them (then
    /// false); on any failure removes what it made and says why.
    pub async fn make_warm_set(self, size: usize) -> Result<bool, RunError> {
        // Bounded on its own: the scope's timeout is how long the set may wait to be claimed.
        let made = match lifecycle::race_within(MAKE_BOUND, self.warm_stages(size)).await {
            Ended::Finished(made) => made,
            Ended::TimedOut => Err(RunError::WarmSet(format!("not ready within {} s", MAKE_BOUND.as_secs()))),
            Ended::Interrupted => Err(RunError::Interrupted),
        };
        if made.is_err() {
            self.cleanup().await;
        }
        made
    }

    async fn warm_stages(&self, size: usize) -> Result<bool, RunError> {
        let pool = self.pool.as_ref().expect("a warm set is made for a pool");
        self.check_runtime().await?;
        let targets = self.target_images().await?;
        let controller_image = self.ensure_image(ImageKind::Controller).await?;
        let recipe = self.recipe_id();
        let key = self.set_key(&recipe, &targets, &controller_image).await?;
        if pool.sets_of(&recipe, &key).await? >= size {
            return Ok(false);
        }
        self.holdings.lock().unwrap().set_labels = pool.set_labels(&recipe, &key).to_vec();
        self.create_networks().await?;
        let cold = vec![None; targets.len() + 1];
        let (controller, ids) = self.start_containers(&targets, &controller_image, &cold, Instant::now()).await?;
        let distros: Vec<&'static Distro> = targets.iter().map(|(distro, _)| *distro).collect();
        self.connect(&controller, &distros, &ids).await?;
        if let Some(reason) = self.shared.lock().unwrap().platforms.first_decision() {
            return Err(RunError::WarmSet(reason));
        }
        self.warm_up(&controller).await?;
        if !pool.set_ready(&recipe, &controller, self.scope.id()).await? {
            return Err(RunError::WarmSet("the pool stopped keeping it while it warmed (pool down)".into()));
        }
        Ok(true)
    }

    /// Starts the controller's Ansible server and runs pass 0 through it.
    async fn warm_up(&self, controller: &str) -> Result<(), RunError> {
        let env = ansible::controller_env(self.options.color, self.strategy());
        let serve = ansible::serve_command(self.strategy());
        let serve: Vec<&str> = serve.iter().map(String::as_str).collect();
        let started = self
            .engine
            .exec(controller, "controller", &serve, &env, Some(CONTROLLER_CHALLENGE_DIR), &mut |_| {})
            .await?;
        if started.exit_code != 0 {
            return Err(RunError::WarmSet(format!("its Ansible did not start: {}", started.output)));
        }
        let play = [(ansible::WARM_UP_PLAYBOOK, ansible::WARM_UP_PLAY, 0o644)];
        self.engine.write_files(controller, "controller", &play).await?;
        let launcher = ansible::launcher(0, self.strategy());
        let launcher: Vec<&str> = launcher.iter().map(String::as_str).collect();
        let go = ansible::go_command(0, &["-i", super::CONTROLLER_INVENTORY, ansible::WARM_UP_PLAYBOOK]);
        let go: Vec<&str> = go.iter().map(String::as_str).collect();
        let mut ignore = |_: &str| {};
        let (pass, told) = tokio::join!(
            self.engine.exec(controller, "controller", &launcher, &env, Some(CONTROLLER_CHALLENGE_DIR), &mut ignore),
            self.engine.exec_quiet(controller, "controller", &go, &[]),
        );
        told?;
        let pass = pass?;
        if pass.exit_code != 0 {
            return Err(RunError::WarmSet(format!("its pass 0 failed: {}", pass.output.trim())));
        }
        Ok(())
    }

    fn recipe_id(&self) -> String {
        match &self.purpose {
            Purpose::WarmSet { recipe } => recipe.clone(),
            Purpose::Attempt => recipe_of(self.challenge, &self.options).id(),
        }
    }

    /// What a set fixes before the attempt (see the module's comment), as one digest.
    async fn set_key(
        &self,
        recipe: &str,
        targets: &[(&'static Distro, String)],
        controller_image: &str,
    ) -> Result<String, RunError> {
        let mut hasher = Sha256::new();
        hasher.update(recipe);
        for file in ["challenge.toml", "ansible.cfg"] {
            hasher.update(file);
            hasher.update(std::fs::read(self.challenge.dir.join(file)).unwrap_or_default());
        }
        let images = targets.iter().map(|(_, image)| image.as_str()).chain([controller_image]);
        for image in images {
            hasher.update(self.engine.image_id(image).await?.unwrap_or_default());
        }
        Ok(hasher.finalize().iter().take(8).map(|byte| format!("{byte:02x}")).collect())
    }

    /// A ready set for this attempt, claimed, or None (then the run starts cold; the report
    /// says why when the pool keeps sets of this challenge).
    pub(super) async fn claim_set(
        &self,
        targets: &[(&'static Distro, String)],
        controller_image: &str,
    ) -> Result<Option<ClaimedSet>, RunError> {
        let Some(pool) = &self.pool else { return Ok(None) };
        let recipe = self.recipe_id();
        if !pool.set_entries().contains_key(&recipe) {
            return Ok(None);
        }
        let key = self.set_key(&recipe, targets, controller_image).await?;
        let deadline = self.scope.deadline().as_secs();
        let claimed = pool.claim_set(self.scope.id(), deadline, &key).await?;
        let found = claimed.as_ref().is_some_and(|set| targets.iter().all(|(d, _)| set.target_of(d.name).is_some()));
        let mut holdings = self.holdings.lock().unwrap();
        holdings.warm_set = Some(match (&claimed, found) {
            (Some(_), true) => "claimed".into(),
            (Some(_), false) => "its set lacked a target: started cold".into(),
            (None, _) => "none ready for this attempt (taken, still warming, or made before challenge.toml, ansible.cfg or an image changed): started cold".into(),
        });
        holdings.taken_set = Some(recipe);
        holdings.adopted.extend(claimed.as_ref().map(|set| set.set_run.clone()));
        drop(holdings);
        Ok(claimed.filter(|_| found))
    }

    /// Takes over a claimed set: the attempt's challenge replaces the one the set warmed
    /// with, and its platforms start where a cold run's would after its SSH wait.
    pub(super) async fn adopt_set(
        &self,
        set: &ClaimedSet,
        targets: &[(&'static Distro, String)],
    ) -> Result<(String, Vec<String>), RunError> {
        self.reporter.step(&format!("taking a warm set from the pool ({} target(s) and a controller)", targets.len()));
        let ids: Vec<String> = targets.iter().map(|(d, _)| set.target_of(d.name).unwrap_or_default()).collect();
        let replace = ["rm", "-rf", CONTROLLER_CHALLENGE_DIR];
        let removed = self.engine.exec_quiet(&set.controller, "controller", &replace, &[]).await?;
        if removed.exit_code != 0 {
            let path = CONTROLLER_CHALLENGE_DIR.to_string();
            let error = FileError::WriteFile { what: "controller".into(), path, output: removed.output };
            return Err(EngineError::File(error).into());
        }
        let archive = self.challenge_archive()?;
        self.engine.extract_into_running(&set.controller, "controller", CONTROLLER_WORK_DIR, &archive).await?;
        for ((distro, _), id) in targets.iter().zip(&ids) {
            self.platform_mut(distro, |p| {
                p.started(id);
                p.note("warm set from the pool");
            });
            if self.offline() {
                let host = super::scripts::EGRESS_PROBE_HOST;
                self.platform_mut(distro, |p| p.note(format!("offline: no route to {host} (checked before pass 1)")));
            }
        }
        if self.options.show_inventory {
            self.show_inventory(targets, &ids, &set.network).await?;
        }
        Ok((set.controller.clone(), ids))
    }

    async fn show_inventory(
        &self,
        targets: &[(&'static Distro, String)],
        ids: &[String],
        network: &str,
    ) -> Result<(), RunError> {
        let mut hosts = Vec::new();
        for ((distro, _), id) in targets.iter().zip(ids) {
            let address = self.engine.container_ip(id, &format!("target {}", distro.name), network).await?;
            hosts.push(super::inventory::InventoryHost { distro, address: address.unwrap_or_default() });
        }
        let inventory = super::inventory::render(&hosts);
        self.reporter.output(&format!("# inventory of run {}\n{inventory}", self.scope.id()));
        Ok(())
    }

    /// Whether this run only makes a set.
    pub(super) fn makes_a_set(&self) -> bool {
        matches!(self.purpose, Purpose::WarmSet { .. })
    }

    /// Starts a replacement for a set this run took, in the background.
    pub(super) fn refill_set(&self, pool: &Pool) {
        if let Some(recipe) = self.holdings.lock().unwrap().taken_set.take() {
            if let Err(err) = pool.refill_set_detached(&recipe) {
                self.reporter.notice(&format!("could not warm a replacement set: {err}"));
            }
        }
    }
}

/// A platform decision while a set warmed (a target that never answered): the set is not
/// made, never handed out half-working.
impl super::platform::Platforms {
    pub(super) fn first_decision(&self) -> Option<String> {
        let decided =
            self.iter().filter(|p| p.is_decided()).map(|p| p.report()).find(|p| p.verdict != Verdict::Skipped);
        decided.map(|p| format!("{}: {}", p.distro, p.reason.unwrap_or_default()))
    }
}
