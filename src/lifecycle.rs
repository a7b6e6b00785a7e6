//! What every attempt shares, whichever track it is: its id and the labels on everything it
//! creates (the deadline among them, so a later attempt can remove what a killed one left),
//! the race of its work against that deadline and Ctrl-C/SIGTERM, and the sweep of attempts
//! whose process died. A track says only what runs and how its verdict is decided.

use std::collections::HashMap;
use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::docker::{Engine, EngineError};
use crate::labels::{self, Role};
use crate::report::Reporter;

/// How long past its deadline an attempt's leftovers wait before another attempt removes them:
/// the owning process removes its own things at its deadline, and that may take a while.
pub const SWEEP_GRACE: Duration = Duration::from_secs(60);

/// One attempt's identity and bounds.
#[derive(Debug, Clone)]
pub struct Scope {
    id: String,
    timeout: Duration,
}

/// How an attempt's work ended.
#[derive(Debug)]
pub enum Ended<T> {
    /// It finished (with whatever it returned).
    Finished(T),
    /// The deadline came first.
    TimedOut,
    /// Ctrl-C or SIGTERM came first.
    Interrupted,
}

impl Scope {
    /// A new attempt, over at most `timeout`.
    pub fn new(timeout: Duration) -> Scope {
        Scope { id: labels::new_run_id(), timeout }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The same attempt with another bound (a warm set waits a day to be claimed).
    pub fn with_timeout(self, timeout: Duration) -> Scope {
        Scope { timeout, ..self }
    }

    /// When the attempt is certainly over (Unix time, from now).
    pub fn deadline(&self) -> Duration {
        now() + self.timeout
    }

    /// `io.sandbox.run=ID`: everything of this attempt.
    pub fn label(&self) -> String {
        format!("{}={}", labels::RUN, self.id)
    }

    /// The labels of something this attempt creates in `role`.
    pub fn labels(&self, role: Role) -> HashMap<String, String> {
        HashMap::from([
            (labels::RUN.to_string(), self.id.clone()),
            (labels::DEADLINE.to_string(), self.deadline().as_secs().to_string()),
            (labels::ROLE.to_string(), role.as_str().to_string()),
        ])
    }

    /// Runs `work` until it finishes, the timeout passes or a signal arrives.
    pub async fn race<T>(&self, work: impl Future<Output = T>) -> Ended<T> {
        race_within(self.timeout, work).await
    }
}

/// Runs `work` until it finishes, `bound` passes or a signal arrives (an attempt's race, or
/// a part of one bounded on its own).
pub async fn race_within<T>(bound: Duration, work: impl Future<Output = T>) -> Ended<T> {
    tokio::select! {
        result = work => Ended::Finished(result),
        () = tokio::time::sleep(bound) => Ended::TimedOut,
        () = crate::shutdown::signal() => Ended::Interrupted,
    }
}

fn now() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default()
}

/// Removes what attempts whose deadline passed over `SWEEP_GRACE` ago left on `engine` (their
/// process died: a SIGKILL, a crash, a machine that slept), and attempts of which only
/// networks older than `EMPTY_NETWORK_AGE` are left; returns their ids.
pub async fn sweep_dead(engine: &Engine) -> Result<Vec<String>, EngineError> {
    let remains = remains(engine).await?;
    let mut removed = Vec::new();
    for (run, remains) in remains {
        if remains.dead(now()) && engine.remove_labelled(&format!("{}={run}", labels::RUN)).await.is_ok() {
            removed.push(run);
        }
    }
    Ok(removed)
}

/// `sweep_dead`, each removal told to `reporter` (what a learner sees appear and go).
pub async fn sweep_dead_told(engine: &Engine, reporter: &dyn Reporter) -> Vec<String> {
    let removed = sweep_dead(engine).await.unwrap_or_default();
    for run in &removed {
        reporter.notice(&format!("removed leftovers of dead run {run}"));
    }
    removed
}

/// No living attempt keeps a network without containers this long: a run creates its
/// containers right after its network, a warm set within its making bound (300 s). A network
/// is left alone when its process died between removing the containers and the network
/// (a warm set's deadline is a day away).
const EMPTY_NETWORK_AGE: Duration = Duration::from_secs(600);

/// What an attempt left: its deadline, whether it still has containers, and when its
/// newest network was created.
#[derive(Debug, Default, PartialEq)]
struct Remains {
    deadline: u64,
    containers: bool,
    newest_network: Option<SystemTime>,
}

impl Remains {
    fn dead(&self, now: Duration) -> bool {
        let past_deadline = self.deadline + SWEEP_GRACE.as_secs() < now.as_secs();
        let network_only = !self.containers
            && self.newest_network.is_some_and(|created| {
                created.duration_since(UNIX_EPOCH).unwrap_or_default() + EMPTY_NETWORK_AGE < now
            });
        past_deadline || network_only
    }
}

/// Run id → what is left of every attempt that has containers or networks.
async fn remains(engine: &Engine) -> Result<HashMap<String, Remains>, EngineError> {
    let mut remains: HashMap<String, Remains> = HashMap::new();
    let deadline =
        |tags: &HashMap<String, String>| tags.get(labels::DEADLINE).and_then(|d| d.parse().ok()).unwrap_or(0);
    for container in engine.list_labelled(labels::RUN).await? {
        let Some(run) = container.labels.get(labels::RUN) else { continue };
        let entry = remains.entry(run.clone()).or_default();
        entry.deadline = deadline(&container.labels);
        entry.containers = true;
    }
    for network in engine.networks_labelled(labels::RUN).await? {
        let Some(run) = network.labels.get(labels::RUN) else { continue };
        let entry = remains.entry(run.clone()).or_default();
        entry.deadline = entry.deadline.max(deadline(&network.labels));
        // A network whose creation time did not parse counts as new: kept until its deadline.
        let created = network.created.unwrap_or_else(SystemTime::now);
        entry.newest_network = entry.newest_network.max(Some(created));
    }
    Ok(remains)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_attempt_is_dead_a_grace_after_its_deadline() {
        let alive = Remains { deadline: 1_000, containers: true, newest_network: None };
        assert!(!alive.dead(Duration::from_secs(1_030)));
        assert!(alive.dead(Duration::from_secs(1_061)));
    }

    #[test]
    fn an_attempt_of_which_only_an_old_network_is_left_is_dead_before_its_deadline() {
        let at = |secs| UNIX_EPOCH + Duration::from_secs(secs);
        let network_only = Remains { deadline: 100_000, containers: false, newest_network: Some(at(1_000)) };
        assert!(!network_only.dead(Duration::from_secs(1_000 + 599)), "a run about to create its containers");
        assert!(network_only.dead(Duration::from_secs(1_000 + 601)));
        let with_containers = Remains { containers: true, ..network_only };
        assert!(!with_containers.dead(Duration::from_secs(1_000 + 601)));
    }

    #[test]
    fn labels_carry_the_id_the_deadline_and_the_role() {
        let scope = Scope::new(Duration::from_secs(60));
        let labels = scope.labels(Role::App);
        assert_eq!(labels[labels::RUN], scope.id());
        assert_eq!(labels[labels::ROLE], "app");
        let deadline: u64 = labels[labels::DEADLINE].parse().unwrap();
        assert!(deadline >= now().as_secs() + 59);
    }

    #[tokio::test]
    async fn the_race_ends_at_the_timeout() {
        let scope = Scope::new(Duration::from_millis(10));
        assert!(matches!(scope.race(std::future::pending::<()>()).await, Ended::TimedOut));
        assert!(matches!(scope.race(async { 7 }).await, Ended::Finished(7)));
    }
}
