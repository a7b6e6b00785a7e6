//! The end of a run: everything it created or claimed removed (bounded), and the pool topped
//! up after it. Once the verdict is known the learner need not wait for either: a run may
//! hand both to a process of its own (`sandbox pool teardown`). Nothing can leak that way:
//! whatever that process does not remove carries the run's deadline, and the next run sweeps
//! it.

use std::time::Duration;

use super::Run;
use crate::docker::{Engine, EngineError};
use crate::labels;
use crate::report::Reporter;

/// How long a run's teardown may take before it gives up and says what to remove by hand.
/// Generous because removing a sandbox the guard killed mid fork bomb means reaping thousands
/// of host tasks (under ptrace, one per guest thread): more than 60 s was seen on a loaded
/// 2-core host.
pub const CLEANUP_BOUND: Duration = Duration::from_secs(300);

/// What a run leaves to remove: containers claimed from the pool (by id) and everything
/// carrying one of the labels (its own run's, and those of the warm sets it took).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Removal {
    pub containers: Vec<String>,
    pub labels: Vec<String>,
}

impl Removal {
    /// Removes it all, bounded; says what was left when it could not.
    pub async fn run(&self, engine: &Engine, reporter: &dyn Reporter) {
        let removal = async {
            let removals = self.containers.iter().map(|id| engine.remove_container(id));
            futures_util::future::try_join_all(removals).await?;
            let labelled = self.labels.iter().map(|label| engine.remove_labelled(label));
            futures_util::future::try_join_all(labelled).await?;
            Ok::<(), EngineError>(())
        };
        match tokio::time::timeout(CLEANUP_BOUND, removal).await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => reporter.notice(&format!("{err}")),
            Err(_) => reporter.notice(&format!(
                "cleanup timed out; remove leftovers with `docker rm -f $(docker ps -aq --filter label={})`",
                self.labels.first().map_or(labels::RUN, String::as_str)
            )),
        }
    }

    /// The arguments of `sandbox pool teardown` that remove it.
    pub fn args(&self) -> Vec<String> {
        let containers = self.containers.iter().flat_map(|id| ["--container".to_string(), id.clone()]);
        containers.chain(self.labels.iter().flat_map(|label| ["--label".to_string(), label.clone()])).collect()
    }
}

impl Run<'_> {
    fn removal(&self) -> Removal {
        let holdings = self.holdings.lock().unwrap();
        let sets = holdings.adopted.iter().map(|set| format!("{}={set}", labels::RUN));
        Removal { containers: holdings.claimed.clone(), labels: [self.scope.label()].into_iter().chain(sets).collect() }
    }

    fn stop_background(&self) {
        for task in self.background.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    /// Removes everything of the run now (Ctrl-C, a set that could not be made).
    pub(super) async fn cleanup(&self) {
        self.stop_background();
        self.removal().run(&self.engine, self.reporter).await;
    }

    /// The end of a run that got to its verdict: removal and refill, here or detached.
    pub(super) async fn tear_down(&self) {
        if self.options.detach_teardown {
            self.stop_background();
            match self.hand_over() {
                Ok(()) => return,
                Err(err) => self.reporter.notice(&format!("tearing down here: {err}")),
            }
        }
        self.cleanup().await;
        self.refill_pool();
    }

    /// `sandbox pool teardown` with the run's removal and refills, detached.
    fn hand_over(&self) -> std::io::Result<()> {
        let mut args = self.removal().args();
        if let Some(pool) = &self.pool {
            if let Some(recipe) = self.holdings.lock().unwrap().taken_set.take() {
                args.extend(["--refill-set".to_string(), recipe]);
            }
            let taken = std::mem::take(&mut self.holdings.lock().unwrap().taken);
            for (kind, image) in taken {
                args.extend(["--refill".to_string(), format!("{}={image}", kind.name())]);
            }
            return pool.teardown_detached(&args);
        }
        let mut all = vec!["pool".to_string(), "teardown".to_string()];
        all.extend(args);
        crate::pool::spawn_detached(&all, None)
    }

    /// Tops the pool up again after the run's claims (with the images the claimed containers
    /// were made from), once its containers are removed: warming replacements beside the
    /// teardown made it slower. A failure to warm is not the run's failure.
    fn refill_pool(&self) {
        let Some(pool) = &self.pool else { return };
        self.refill_set(pool);
        let taken = std::mem::take(&mut self.holdings.lock().unwrap().taken);
        for (kind, image) in taken {
            if let Err(err) = pool.refill_detached(kind, &image) {
                self.reporter.notice(&format!("could not warm a replacement {}: {err}", kind.name()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_removal_travels_as_arguments() {
        let removal = Removal { containers: vec!["abc".into()], labels: vec!["io.sandbox.run=r1".into()] };
        assert_eq!(removal.args(), ["--container", "abc", "--label", "io.sandbox.run=r1"]);
    }
}
