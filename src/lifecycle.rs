//! What every attempt shares, whichever track it is: its id and the labels on everything it
//! creates (the deadline among them, so a later attempt can remove what a killed one left),
//! the race of its work against that deadline and Ctrl-C/SIGTERM, and the sweep of attempts
//! whose process died. A track says only what runs and how its verdict is decided.

use std::collections::HashMap;
use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::docker::{Engine, EngineError};
use crate::labels::{self, Role};

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
/// process died: a SIGKILL, a crash, a machine that slept); returns their ids.
pub async fn sweep_dead(engine: &Engine) -> Result<Vec<String>, EngineError> {
    let deadlines = run_deadlines(engine).await?;
    let mut removed = Vec::new();
    for (run, deadline) in deadlines {
        if dead(deadline, now()) && engine.remove_labelled(&format!("{}={run}", labels::RUN)).await.is_ok() {
            removed.push(run);
        }
    }
    Ok(removed)
}

fn dead(deadline: u64, now: Duration) -> bool {
    deadline + SWEEP_GRACE.as_secs() < now.as_secs()
}

/// Run id → deadline of every attempt that has containers or networks (a network can outlive
/// its containers when its removal failed or its process died between the two).
async fn run_deadlines(engine: &Engine) -> Result<HashMap<String, u64>, EngineError> {
    let containers = engine.list_labelled(labels::RUN).await?.into_iter().map(|c| c.labels);
    let networks = engine.networks_labelled(labels::RUN).await?;
    Ok(containers
        .chain(networks)
        .filter_map(|tags| {
            let deadline = tags.get(labels::DEADLINE)?.parse().unwrap_or(0);
            Some((tags.get(labels::RUN)?.clone(), deadline))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_attempt_is_dead_a_grace_after_its_deadline() {
        let deadline = 1_000;
        assert!(!dead(deadline, Duration::from_secs(1_030)));
        assert!(dead(deadline, Duration::from_secs(1_061)));
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
