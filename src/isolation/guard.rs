//! The fork-bomb guard: one task per run that counts every container's processes through
//! the engine (the guest cannot hide them) and kills a container at or above a threshold,
//! before the pids cgroup is exhausted and the sandbox dies without saying why.

use std::time::Duration;

use crate::docker::Engine;

/// How often and how close to the pids limit the guard acts.
#[derive(Debug, Clone, Copy)]
pub struct GuardSettings {
    pub interval: Duration,
    /// Fraction of the pids limit at which a container is killed.
    pub threshold: f64,
}

impl Default for GuardSettings {
    fn default() -> Self {
        GuardSettings { interval: Duration::from_secs(2), threshold: 0.9 }
    }
}

impl GuardSettings {
    /// Process count at which a container with `pids_limit` is killed.
    pub fn kill_at(&self, pids_limit: i64) -> usize {
        ((pids_limit as f64) * self.threshold).floor().max(1.0) as usize
    }

    /// Host task count at which a container is killed: a quarter of its pids cgroup, five
    /// times what real work needs (220 for a large apt install) and far below where a bomb
    /// crashes gVisor (a bomb passes 2,000 within 2 s: one tick must be enough).
    pub fn kill_at_host(&self, host_limit: i64) -> u64 {
        (host_limit / 4).max(1) as u64
    }
}

/// A container the guard killed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kill {
    /// Container id.
    pub container: String,
    pub reason: String,
}

/// The containers a guard watches: a list that grows while the attempt makes containers
/// (build steps, apps, probes), each with what a verdict calls it.
#[derive(Debug, Clone, Default)]
pub struct Watched(std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>);

impl Watched {
    pub fn of(containers: Vec<(String, String)>) -> Watched {
        Watched(std::sync::Arc::new(std::sync::Mutex::new(containers)))
    }

    pub fn add(&self, id: &str, what: &str) {
        self.0.lock().unwrap().push((id.to_string(), what.to_string()));
    }

    /// Every container ever watched (what an attempt removes at its end).
    pub fn ids(&self) -> Vec<String> {
        self.0.lock().unwrap().iter().map(|(id, _)| id.clone()).collect()
    }

    pub fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn snapshot(&self) -> Vec<(String, String)> {
        self.0.lock().unwrap().clone()
    }
}

/// Watches `containers` until the returned handle is aborted. `on_kill` hears of each kill
/// before the container dies, so the guard's reason is recorded before anything else can
/// notice the death and call it something vaguer.
/// A container is killed when its guest runs `threshold` of `pids_limit` processes, or its
/// sandbox holds a quarter of `host_limit` host tasks (under gVisor a bomb shows there first).
pub fn spawn(
    engine: Engine,
    containers: Watched,
    pids_limit: i64,
    host_limit: i64,
    settings: GuardSettings,
    on_kill: impl Fn(Kill) + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    let kill_at = settings.kill_at(pids_limit);
    let kill_at_host = settings.kill_at_host(host_limit);
    tokio::spawn(async move {
        let mut ended = std::collections::HashSet::new();
        let mut ticker = tokio::time::interval(settings.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let watching: Vec<_> = containers.snapshot().into_iter().filter(|(id, _)| !ended.contains(id)).collect();
            for (id, what) in watching {
                let (guest, host) = tokio::join!(engine.process_count(&id, &what), engine.host_task_count(&id, &what));
                // Neither count answers: the container is gone or stopped, nothing to guard.
                // One failing alone (runsc's `ps` under a bomb) is no reason to stop watching.
                if guest.is_err() && host.is_err() {
                    ended.insert(id);
                    continue;
                }
                let (count, host_tasks) = (guest.unwrap_or(0), host.unwrap_or(0));
                if count >= kill_at || host_tasks >= kill_at_host {
                    let reason = if count >= kill_at {
                        format!("fork bomb guard: {count} processes in {what} (limit {pids_limit})")
                    } else {
                        format!("fork bomb guard: {count} processes, {host_tasks} host tasks in {what} (limit {pids_limit})")
                    };
                    on_kill(Kill { container: id.clone(), reason });
                    engine.kill_container(&id).await;
                    ended.insert(id);
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_is_ninety_percent_of_the_limit_by_default() {
        assert_eq!(GuardSettings::default().kill_at(256), 230);
        assert_eq!(GuardSettings { interval: Duration::from_secs(1), threshold: 0.5 }.kill_at(100), 50);
        assert_eq!(GuardSettings::default().kill_at_host(4608), 1152);
    }
}
