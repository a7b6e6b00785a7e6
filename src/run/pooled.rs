//! Single warm containers from the pool (`sandbox pool up --distro`): a run claims a target
//! per distro and a controller, moves them onto its own network, and gives the controller the
//! challenge's files. (Whole warm attempts are `warm`.)

use std::time::{Duration, Instant};

use super::{Run, RunError, CONTROLLER_WORK_DIR, WARM_UP_BOUND};
use crate::images::{self, ImageKind};
use crate::pool::Claimed;

impl Run<'_> {
    /// Takes warm containers from the pool when it is up: the controller, and each target
    /// whose image is the plain prepared one (a package layer is per challenge; those start
    /// cold). Returns the claimed ids in `needed`'s order; they are the run's to remove.
    pub(super) async fn claim_from_pool(&self, needed: &[(ImageKind, &str)]) -> Result<Vec<Option<Claimed>>, RunError> {
        let mut result = vec![None; needed.len()];
        let Some(pool) = &self.pool else { return Ok(result) };
        let poolable = |kind: ImageKind| match kind {
            ImageKind::Target(distro) => self.challenge.poolable_target(distro),
            ImageKind::Controller => true,
        };
        let (positions, wanted): (Vec<usize>, Vec<(ImageKind, String)>) = needed
            .iter()
            .enumerate()
            .filter(|(_, (kind, _))| poolable(*kind))
            .map(|(index, (kind, image))| (index, (*kind, image.to_string())))
            .unzip();
        let deadline = self.scope.deadline();
        let claimed = pool.claim(self.scope.id(), deadline.as_secs(), &wanted, &self.challenge.limits).await?;
        for (index, claim) in positions.into_iter().zip(claimed) {
            if let Some(claim) = claim {
                self.holdings.lock().unwrap().claimed.push(claim.id.clone());
                result[index] = Some(claim);
            }
        }
        Ok(result)
    }

    /// A claimed container leaves the pool's parking network for the run's; a target also
    /// joins the run's IPv6 loopback network (its `::1` appears as it joins).
    pub(super) async fn join_run_network(&self, id: &str, kind: ImageKind) -> Result<(), RunError> {
        if let Some(pool) = &self.pool {
            pool.move_to(id, &self.network, &kind.hostname()).await?;
            if matches!(kind, ImageKind::Target(_)) {
                self.engine.connect_network(&self.loopback6_network(), id, &kind.hostname()).await?;
            }
        }
        Ok(())
    }

    /// A warm controller joins the run and gets the challenge's files, through an exec: it is
    /// already running. One claimed while it warmed has its warm-up ended first.
    pub(super) async fn take_pooled_controller(&self, claim: &Claimed) -> Result<String, RunError> {
        let id = claim.id.as_str();
        // First: every moment its warm-up Ansible runs on is CPU the run does not get.
        if claim.warming {
            self.end_warm_up(id).await?;
        }
        self.join_run_network(id, ImageKind::Controller).await?;
        let archive = self.challenge_archive()?;
        self.engine.extract_into_running(id, "controller", CONTROLLER_WORK_DIR, &archive).await?;
        Ok(id.to_string())
    }

    /// A controller claimed while warming: once its key pair exists (polled, bounded), its
    /// warm-up Ansible is ended. Waiting for that Ansible to finish, or running beside it,
    /// made such a run slower than a cold one (bench-pool.sh (e)).
    pub(super) async fn end_warm_up(&self, id: &str) -> Result<(), RunError> {
        let deadline = Instant::now() + WARM_UP_BOUND;
        let script = images::end_controller_warm_up();
        loop {
            let ended = self.engine.exec_quiet(id, "controller", &["sh", "-c", &script], &[]).await?;
            if ended.exit_code == 0 || Instant::now() >= deadline {
                // Past the bound the run goes on: its own key generation works all the same.
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
