//! Warm sets: whole attempts kept ready for one challenge. A set is a controller and the
//! targets of the challenge's platforms on a network of their own, connected, the controller's
//! Ansible imported and Mitogen's interpreters on the targets bootstrapped by a pass 0 (the
//! run module makes them: `run::warm`). This module keeps their books: which recipes the pool
//! keeps sets of and how many, how a set's state reads from its controller's name, and the
//! claim, which hands a run a whole set or nothing.
//!
//! A set is made by a run of its own (its containers and network carry that run's label, with
//! a deadline a day away, so nothing made for a pool outlives a day); its controller's name
//! says its state (`sandbox-pool-NS-warming-set-ID`, `…-ready-set-ID`) and a claim renames it
//! to the claiming run's `sandbox-RUN-controller-until-DEADLINE`, atomically, under the pool's
//! lock. After a claim, everything of the set goes with the set's run label.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{Pool, PoolError};
use crate::challenge::{ServicesMode, Strategy};
use crate::docker::ListedContainer;
use crate::labels;

/// What a set is made from: a challenge directory and the options of the runs that will
/// claim it (the ones that change what a run starts or how Ansible connects).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetRecipe {
    pub dir: PathBuf,
    pub runtime: String,
    /// Narrowed to these distros (empty: every platform of the challenge).
    #[serde(default)]
    pub distros: Vec<String>,
    pub services: Option<ServicesMode>,
    pub strategy: Option<Strategy>,
    #[serde(default)]
    pub offline: bool,
    #[serde(default)]
    pub color: bool,
}

impl SetRecipe {
    /// A short, stable name for the recipe: what the registry and the labels say.
    pub fn id(&self) -> String {
        use sha2::{Digest, Sha256};
        let text = toml::to_string(self).expect("a recipe is TOML");
        let digest = Sha256::digest(text.as_bytes());
        digest.iter().take(6).map(|byte| format!("{byte:02x}")).collect()
    }
}

/// A recipe the pool keeps sets of, and how many.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetEntry {
    pub size: usize,
    pub recipe: SetRecipe,
}

/// A set a run claimed: its controller (now named for the run), and the run label that every
/// container and the network of the set carry.
#[derive(Debug, Clone)]
pub struct ClaimedSet {
    pub controller: String,
    pub set_run: String,
    /// The set's targets: (distro name, container id).
    pub targets: Vec<(String, String)>,
    pub network: String,
}

impl ClaimedSet {
    /// The set's target of `distro`.
    pub fn target_of(&self, distro: &str) -> Option<String> {
        self.targets.iter().find(|(name, _)| name == distro).map(|(_, id)| id.clone())
    }
}

/// One set of `pool status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetStatus {
    pub dir: PathBuf,
    pub ready: usize,
    pub warming: usize,
    pub target: usize,
}

impl Pool {
    pub(super) fn sets_file(&self) -> PathBuf {
        self.state_dir.join(format!("pool-{}.sets", self.namespace))
    }

    /// The recipes the pool keeps sets of, by recipe id.
    pub fn set_entries(&self) -> BTreeMap<String, SetEntry> {
        std::fs::read_to_string(self.sets_file()).ok().and_then(|text| toml::from_str(&text).ok()).unwrap_or_default()
    }

    /// Keeps `size` sets of `recipe` (0: none); returns its id.
    pub async fn keep_sets(&self, recipe: SetRecipe, size: usize) -> Result<String, PoolError> {
        let _lock = self.lock().await?;
        let id = recipe.id();
        let mut entries = self.set_entries();
        if size == 0 {
            entries.remove(&id);
        } else {
            entries.insert(id.clone(), SetEntry { size, recipe });
        }
        let text = toml::to_string(&entries).expect("the registry is TOML");
        std::fs::create_dir_all(&self.state_dir)
            .and_then(|()| std::fs::write(self.sets_file(), text))
            .map_err(|source| PoolError::State { path: self.sets_file(), source })?;
        if size == 0 {
            for controller in self.set_controllers().await? {
                if controller.labels.get(labels::SET_RECIPE) == Some(&id) {
                    self.remove_with_set(&controller).await?;
                }
            }
        }
        Ok(id)
    }

    /// The name a set's controller has while the set warms.
    pub fn warming_set_name(&self, set_run: &str) -> String {
        format!("sandbox-pool-{}-warming-set-{set_run}", self.namespace)
    }

    fn ready_set_prefix(&self) -> String {
        format!("sandbox-pool-{}-ready-set-", self.namespace)
    }

    /// The labels every container and the network of a set carry, beside its run's.
    pub fn set_labels(&self, recipe: &str, key: &str) -> [(String, String); 3] {
        [
            (labels::POOL.to_string(), self.namespace.clone()),
            (labels::SET_RECIPE.to_string(), recipe.to_string()),
            (labels::SET_KEY.to_string(), key.to_string()),
        ]
    }

    async fn set_controllers(&self) -> Result<Vec<ListedContainer>, PoolError> {
        let pooled = self.engine.list_labelled(&self.label()).await?;
        let warming = format!("sandbox-pool-{}-warming-set-", self.namespace);
        let ready = self.ready_set_prefix();
        Ok(pooled.into_iter().filter(|c| c.name.starts_with(&warming) || c.name.starts_with(&ready)).collect())
    }

    /// How many sets of `recipe` exist with `key` (ready or warming). Sets of the recipe made
    /// with another key (the challenge's files or images changed since) are removed: no run
    /// can take them any more.
    pub async fn sets_of(&self, recipe: &str, key: &str) -> Result<usize, PoolError> {
        let _lock = self.lock().await?;
        let mut count = 0;
        for controller in self.set_controllers().await? {
            if controller.labels.get(labels::SET_RECIPE).map(String::as_str) != Some(recipe) {
                continue;
            }
            if controller.labels.get(labels::SET_KEY).map(String::as_str) == Some(key) {
                count += 1;
            } else if let Some(run) = controller.labels.get(labels::RUN) {
                self.engine.remove_labelled(&format!("{}={run}", labels::RUN)).await?;
            }
        }
        Ok(count)
    }

    /// Marks a set of `recipe` ready, unless the pool stopped keeping them meanwhile (`pool
    /// down`, a watch that ended) or removed it.
    pub async fn set_ready(&self, recipe: &str, controller: &str, set_run: &str) -> Result<bool, PoolError> {
        let _lock = self.lock().await?;
        if !self.set_entries().contains_key(recipe) {
            return Ok(false);
        }
        let name = format!("{}{set_run}", self.ready_set_prefix());
        Ok(self.engine.rename_container(controller, &name).await?)
    }

    /// Takes a ready set made with `key` for run `run`, or None. Only a set whose containers
    /// all still run is handed out; a set with a dead one is removed.
    pub async fn claim_set(&self, run: &str, deadline: u64, key: &str) -> Result<Option<ClaimedSet>, PoolError> {
        if !self.sets_file().exists() {
            return Ok(None);
        }
        let _lock = self.lock().await?;
        let ready = self.ready_set_prefix();
        for controller in self.set_controllers().await? {
            if !controller.name.starts_with(&ready)
                || controller.labels.get(labels::SET_KEY).map(String::as_str) != Some(key)
            {
                continue;
            }
            let Some(set_run) = controller.labels.get(labels::RUN).cloned() else { continue };
            let members = self.engine.list_labelled(&format!("{}={set_run}", labels::RUN)).await?;
            if !self.all_running(&members).await {
                self.engine.remove_labelled(&format!("{}={set_run}", labels::RUN)).await?;
                continue;
            }
            let name = format!("sandbox-{run}-controller-until-{deadline}");
            if !self.engine.rename_container(&controller.id, &name).await? {
                continue;
            }
            let targets = members
                .iter()
                .filter(|c| c.labels.get(labels::ROLE).map(String::as_str) == Some("target"))
                .filter_map(|c| Some((c.labels.get(labels::DISTRO)?.clone(), c.id.clone())))
                .collect();
            let network = format!("sandbox-{set_run}");
            return Ok(Some(ClaimedSet { controller: controller.id, set_run, targets, network }));
        }
        Ok(None)
    }

    async fn all_running(&self, members: &[ListedContainer]) -> bool {
        for member in members {
            match self.engine.container_state(&member.id, "pooled set").await {
                Ok(state) if state.running && !state.oom_killed => {}
                _ => return false,
            }
        }
        !members.is_empty()
    }

    /// One line per kept recipe.
    pub async fn set_status(&self) -> Result<Vec<SetStatus>, PoolError> {
        let controllers = self.set_controllers().await?;
        let ready = self.ready_set_prefix();
        Ok(self
            .set_entries()
            .into_iter()
            .map(|(id, entry)| {
                let of = controllers.iter().filter(|c| c.labels.get(labels::SET_RECIPE) == Some(&id));
                let ready = of.clone().filter(|c| c.name.starts_with(&ready)).count();
                SetStatus { dir: entry.recipe.dir, ready, warming: of.count() - ready, target: entry.size }
            })
            .collect())
    }

    /// `refill` for sets, in a process of its own (`sandbox pool refill --set ID`), as
    /// `refill_detached` does for single containers.
    pub fn refill_set_detached(&self, recipe: &str) -> std::io::Result<()> {
        self.spawn_detached(&["pool", "refill", "--set", recipe])
    }
}
