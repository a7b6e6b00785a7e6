//! The fork-bomb guard: one task per run that counts every container's processes through
//! the engine (the guest cannot hide them) and kills a container at or above a threshold,
//! before the pids cgroup is exhausted and the sandbox dies without saying why.

use std::collections::HashMap;
use std::time::{Duration, Instant};

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

    /// Host task count at which a container is killed however slowly it got there: half its
    /// pids cgroup. Under ptrace the host tasks of long-running multi-threaded services grow
    /// with every restart (gVisor keeps a stub thread per Sentry thread that ever ran an
    /// address space, and pools the stubs): the fidelity stack (postfix, php-fpm, apache2,
    /// redis, memcached) restarted 24 times reached 1,889, above the quarter, with 24 guest
    /// processes. A bomb held by RLIMIT_NPROC at 256 plateaus near 3,200, above the half.
    pub fn backstop_at_host(&self, host_limit: i64) -> u64 {
        (host_limit / 2).max(1) as u64
    }

    /// Host tasks a container past `kill_at_host` may gain within `climb_window` before it
    /// is a bomb: an eighth of its pids cgroup (576 at pids 256). Measured under ptrace, in
    /// any 20 s: the fidelity stack's restarts gained at most 318 (a restart's burst, not a
    /// sustained climb); a bomb gains ~1,000 between two looks 2 s apart.
    pub fn climb_at_host(&self, host_limit: i64) -> u64 {
        (host_limit / 8).max(1) as u64
    }

    /// How far back a climb is measured: ten intervals (20 s by default), so that a bomb that
    /// a loaded host slows, or that pauses on its way up, is still seen climbing.
    pub fn climb_window(&self) -> Duration {
        self.interval * 10
    }

    /// Why `what`, as one look saw it, is a fork bomb; None when it is not. A bomb is many
    /// guest processes, or host tasks past a quarter of the cgroup and climbing by an eighth
    /// of it within the climb window, or past half of it whatever the pace.
    pub fn bomb(&self, what: &str, look: Look, pids_limit: i64, host_limit: i64) -> Option<String> {
        let Look { count, host_tasks, climb } = look;
        if count >= self.kill_at(pids_limit) {
            return Some(format!("fork bomb guard: {count} processes in {what} (limit {pids_limit})"));
        }
        let climbing = host_tasks >= self.kill_at_host(host_limit) && climb.tasks >= self.climb_at_host(host_limit);
        if !climbing && host_tasks < self.backstop_at_host(host_limit) {
            return None;
        }
        let (gained, seconds) = (climb.tasks, climb.over.as_secs());
        Some(format!(
            "fork bomb guard: {count} processes, {host_tasks} host tasks (+{gained} in {seconds} s) in {what} (limit {pids_limit})"
        ))
    }
}

/// One look at a container: its guest processes, its sandbox's host tasks, and how many host
/// tasks it gained within the climb window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Look {
    pub count: usize,
    pub host_tasks: u64,
    pub climb: Climb,
}

/// Host tasks gained, and over how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Climb {
    pub tasks: u64,
    pub over: Duration,
}

/// A container's host task counts within the climb window, oldest first.
#[derive(Debug, Clone, Default)]
struct HostHistory(Vec<(u64, Instant)>);

impl HostHistory {
    /// What was gained since the lowest count within `window`, then `now` kept in turn.
    fn climb_to(&mut self, now: (u64, Instant), window: Duration) -> Climb {
        self.0.retain(|(_, at)| now.1.saturating_duration_since(*at) <= window);
        let climb = self.0.iter().min_by_key(|(tasks, _)| *tasks).map_or(Climb::default(), |(tasks, at)| Climb {
            tasks: now.0.saturating_sub(*tasks),
            over: now.1.saturating_duration_since(*at),
        });
        self.0.push(now);
        climb
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
/// A container is killed when `GuardSettings::bomb` says so: its guest runs `threshold` of
/// `pids_limit` processes, or its sandbox's host tasks (under gVisor a bomb shows there
/// first) climb fast past a quarter of `host_limit` or reach half of it.
pub fn spawn(
    engine: Engine,
    containers: Watched,
    pids_limit: i64,
    host_limit: i64,
    settings: GuardSettings,
    on_kill: impl Fn(Kill) + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ended = std::collections::HashSet::new();
        // Each container's last host task counts.
        let mut histories: HashMap<String, HostHistory> = HashMap::new();
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
                    histories.remove(&id);
                    ended.insert(id);
                    continue;
                }
                // A host count that did not answer is not a drop to zero: it is not kept.
                let host = host.ok();
                let history = histories.entry(id.clone()).or_default();
                let climb = host.map_or(Climb::default(), |tasks| {
                    history.climb_to((tasks, Instant::now()), settings.climb_window())
                });
                let look = Look { count: guest.unwrap_or(0), host_tasks: host.unwrap_or(0), climb };
                if let Some(reason) = settings.bomb(&what, look, pids_limit, host_limit) {
                    on_kill(Kill { container: id.clone(), reason });
                    engine.kill_container(&id).await;
                    histories.remove(&id);
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

    fn look(count: usize, host_tasks: u64, gained: u64) -> Option<String> {
        let climb = Climb { tasks: gained, over: Duration::from_secs(2) };
        GuardSettings::default().bomb("target debian-12", Look { count, host_tasks, climb }, 256, 4608)
    }

    /// Figures measured under runsc ptrace at pids 256 (host limit 4,608), looked at every 2 s.
    #[test]
    fn services_that_grew_slowly_live_and_bombs_die() {
        // The fidelity stack after its restarts: 24 processes, host tasks past the quarter,
        // gained at most 318 within 20 s.
        assert_eq!(look(24, 1889, 318), None);
        assert_eq!(look(6, 1154, 0), None);
        // Bombs as the guard saw them: ~1,000 host tasks gained since the look before.
        let reason = look(48, 1190, 991).unwrap();
        assert!(reason.starts_with("fork bomb guard: 48 processes, 1190 host tasks (+991 in 2 s)"), "{reason}");
        assert!(reason.ends_with("in target debian-12 (limit 256)"), "{reason}");
        assert!(look(0, 3202, 0).is_some(), "runsc's ps may not answer under a bomb");
        assert!(look(0, 2304, 0).is_some(), "half the cgroup is enough, however slow");
        assert_eq!(look(230, 300, 0).unwrap(), "fork bomb guard: 230 processes in target debian-12 (limit 256)");
        // A fast climb below the quarter is real work starting (apt's peak is 220).
        assert_eq!(look(10, 1000, 900), None);
    }

    #[test]
    fn the_climb_spans_the_window() {
        let (start, window) = (Instant::now(), Duration::from_secs(20));
        let at = |s: u64| start + Duration::from_secs(s);
        let mut history = HostHistory::default();
        assert_eq!(history.climb_to((400, at(0)), window), Climb::default());
        assert_eq!(history.climb_to((600, at(2)), window), Climb { tasks: 200, over: Duration::from_secs(2) });
        // A bomb paused on its way up is still climbing, seen from the window's start.
        assert_eq!(history.climb_to((1200, at(4)), window).tasks, 800);
        assert_eq!(history.climb_to((1200, at(16)), window), Climb { tasks: 800, over: Duration::from_secs(16) });
        assert_eq!(history.climb_to((1300, at(22)), window), Climb { tasks: 700, over: Duration::from_secs(20) });
        assert_eq!(history.climb_to((900, at(24)), window).tasks, 0, "a drop is no climb");
        assert_eq!(history.climb_to((1100, at(26)), window), Climb { tasks: 200, over: Duration::from_secs(2) });
        assert_eq!(history.climb_to((1000, at(60)), window), Climb::default(), "nothing left in the window");
    }
}
