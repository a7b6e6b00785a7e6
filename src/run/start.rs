//! A run's start: its images, its containers (cold ones; warm ones come from `pooled` and
//! `warm`), the guard over them, and the connection (key, inventory, the SSH wait).

use super::inventory::InventoryHost;
use super::verdict::Decision;
use crate::distro::Distro;
use crate::docker::{ContainerSpec, EngineError, FileError, RegisteredRuntime};
use crate::images::packages;
use crate::images::{self, ImageError, ImageKind};
use crate::isolation::guard::{self};
use crate::isolation::{self, RuntimePolicy, WriteBound};
use crate::labels;
use crate::pool::Claimed;
use crate::report::Verdict;
use std::time::Instant;

use super::{
    inventory, scripts, PlaybookChoice, Run, RunError, CONTROLLER_INVENTORY, CONTROLLER_WORK_DIR, OUTSIDE_PLAYBOOK_NAME,
};

impl Run<'_> {
    /// Each platform's target image. A challenge may list distros whose images cannot exist
    /// on this host (no registry): those are skipped, said so, and never counted as passed.
    /// Asked for by name, or when nothing is left to run, it is an error.
    pub(super) async fn target_images(&self) -> Result<Vec<(&'static Distro, String)>, RunError> {
        let mut targets = Vec::new();
        for distro in self.distros() {
            match self.ensure_target_image(distro).await {
                Ok(image) => targets.push((distro, image)),
                Err(RunError::Image(err @ ImageError::BaseMissing { .. })) if self.options.distros.is_empty() => {
                    let reason = format!("skipped: {err}");
                    self.reporter.notice(&format!("{}: {reason}", distro.name));
                    let mut shared = self.shared.lock().unwrap();
                    shared.platforms.of(distro).decide(Decision::new(Verdict::Skipped, reason));
                    if shared.platforms.all_skipped() {
                        return Err(err.into());
                    }
                }
                Err(err) => return Err(err),
            }
        }
        Ok(targets)
    }

    /// Starts (or takes from the pool, where `claimed` has an id) every target and the
    /// controller, concurrently; returns the controller's id and the targets' in order.
    pub(super) async fn start_containers(
        &self,
        targets: &[(&'static Distro, String)],
        controller_image: &str,
        claimed: &[Option<Claimed>],
        starting: Instant,
    ) -> Result<(String, Vec<String>), RunError> {
        let warm = claimed.iter().flatten().count();
        let from_pool = if warm > 0 {
            format!("{warm} warm from the pool in {} ms", starting.elapsed().as_millis())
        } else {
            "0 warm from the pool".to_string()
        };
        self.reporter.step(&format!("starting {} target(s) and the controller ({from_pool})", targets.len()));
        let (pooled_controller, pooled_targets) = claimed.split_last().expect("the controller is needed");
        let started = futures_util::future::try_join_all(targets.iter().zip(pooled_targets).map(
            |((distro, image), pooled)| async move {
                match pooled {
                    Some(claim) => {
                        self.join_run_network(&claim.id, ImageKind::Target(distro)).await?;
                        let note = if claim.warming {
                            "target from the pool, still warming"
                        } else {
                            "warm target from the pool"
                        };
                        self.platform_mut(distro, |p| p.note(note));
                        Ok(claim.id.clone())
                    }
                    None => self.start_target(distro, image).await,
                }
            },
        ));
        let controller = async {
            match pooled_controller {
                Some(claim) => self.take_pooled_controller(claim).await,
                None => self.start_controller(controller_image).await,
            }
        };
        let (ids, controller) = tokio::try_join!(started, controller)?;
        for ((distro, _), id) in targets.iter().zip(&ids) {
            self.platform_mut(distro, |p| p.started(id));
        }
        Ok((controller, ids))
    }

    /// Starts the fork-bomb guard over every container of the run; its kills become verdicts.
    pub(super) async fn start_guard(
        &self,
        distros: &[&'static Distro],
        targets: &[String],
        controller: &str,
    ) -> Result<(), RunError> {
        let mut watched: Vec<(String, String)> =
            targets.iter().zip(distros).map(|(id, distro)| (id.clone(), format!("target {}", distro.name))).collect();
        watched.push((controller.to_string(), "controller".into()));
        let pids = self.challenge.limits.pids;
        let gvisor = isolation::is_gvisor(&self.engine, &self.options.runtime).await?;
        let host_limit = isolation::host_pids_limit(gvisor, pids);
        let shared = self.shared.clone();
        let controller = controller.to_string();
        let record = move |kill: guard::Kill| {
            let platforms = &mut shared.lock().unwrap().platforms;
            let decision = Decision::new(Verdict::Killed, kill.reason);
            // The controller serves every platform: its death decides them all.
            if kill.container == controller {
                platforms.decide_all(&decision);
            } else {
                platforms.decide_container(&kill.container, decision);
            }
        };
        let guard =
            guard::spawn(self.engine.clone(), guard::Watched::of(watched), pids, host_limit, self.guard, record);
        self.background.lock().unwrap().push(guard.abort_handle());
        Ok(())
    }

    /// The run's runtime as registered with the daemon; says so when it is not gVisor.
    pub(super) async fn check_runtime(&self) -> Result<RegisteredRuntime, RunError> {
        let runtimes = self.engine.runtimes().await?;
        let Some(runtime) = runtimes.get(&self.options.runtime) else {
            let mut registered: Vec<_> = runtimes.keys().cloned().collect();
            registered.sort();
            return Err(RunError::RuntimeMissing {
                runtime: self.options.runtime.clone(),
                registered: registered.join(", "),
            });
        };
        if !runtime.is_gvisor() {
            self.reporter.notice(&format!(
                "running under `{}` instead of gVisor: isolation is weaker; a playbook runs closer to the host kernel",
                self.options.runtime
            ));
        }
        let _ = self.write_bound.set(runtime.write_bound());
        if runtime.write_bound() == WriteBound::HostDisk {
            self.reporter.notice(&format!(
                "runtime `{}` writes to the host's disk without a bound (`sandbox doctor` says how to bound it)",
                self.options.runtime
            ));
        }
        Ok(runtime.clone())
    }

    pub(super) async fn ensure_image(&self, kind: ImageKind) -> Result<String, RunError> {
        Ok(images::ensure(&self.engine, kind, self.reporter).await?)
    }

    /// The distro's prepared image, plus the challenge's package layer when it has one.
    pub(super) async fn ensure_target_image(&self, distro: &'static Distro) -> Result<String, RunError> {
        let image = self.ensure_image(ImageKind::Target(distro)).await?;
        let packages = self.challenge.prepare.packages_for(distro.family);
        if packages.is_empty() {
            return Ok(image);
        }
        Ok(packages::ensure(&self.engine, distro, &image, packages, self.reporter).await?)
    }

    pub(super) async fn start_target(&self, distro: &'static Distro, image: &str) -> Result<String, RunError> {
        let mut labels = self.labels(labels::Role::Target);
        labels.insert(labels::DISTRO.into(), distro.name.into());
        let spec = ContainerSpec {
            name: format!("sandbox-{}-{}", self.scope.id(), distro.name.replace('.', "-")),
            what: format!("target {}", distro.name),
            image: image.to_string(),
            hostname: distro.name.replace('.', "-"),
            // The image's own CMD: the init that Ansible takes for systemd.
            cmd: Vec::new(),
            entrypoint: None,
            env: Vec::new(),
            labels,
            network: self.network.clone(),
            runtime: self.options.runtime.clone(),
            confinement: isolation::confinement(&self.engine, &self.options.runtime, &self.challenge.limits).await?,
        };
        let id = self.engine.create_container(&spec).await?;
        // Before the start: the target boots with `::1` on its loopback.
        self.engine.connect_network(&self.loopback6_network(), &id, &spec.hostname).await?;
        self.engine.start_container(&id, &spec.what).await?;
        Ok(id)
    }

    pub(super) async fn start_controller(&self, image: &str) -> Result<String, RunError> {
        let name = match (&self.pool, self.makes_a_set()) {
            (Some(pool), true) => pool.warming_set_name(self.scope.id()),
            _ => format!("sandbox-{}-controller", self.scope.id()),
        };
        let spec = ContainerSpec {
            name,
            what: "controller".into(),
            image: image.to_string(),
            hostname: "controller".into(),
            cmd: vec!["sleep".into(), "infinity".into()],
            entrypoint: None,
            env: Vec::new(),
            labels: self.labels(labels::Role::Controller),
            network: self.network.clone(),
            runtime: self.options.runtime.clone(),
            confinement: isolation::confinement(
                &self.engine,
                &self.options.runtime,
                &self.challenge.limits.for_controller(),
            )
            .await?,
        };
        let id = self.engine.create_container(&spec).await?;
        let archive = self.challenge_archive()?;
        self.engine.upload_before_start(&id, "controller", CONTROLLER_WORK_DIR, archive).await?;
        self.engine.start_container(&id, "controller").await?;
        Ok(id)
    }

    /// The challenge directory (and an outside `--playbook`) as a tar rooted at `challenge/`.
    pub(super) fn challenge_archive(&self) -> Result<Vec<u8>, RunError> {
        let dir = &self.challenge.dir;
        let error = |source| RunError::Package { dir: dir.clone(), source };
        let mut builder = tar::Builder::new(Vec::new());
        builder.append_dir_all("challenge", dir).map_err(error)?;
        if let PlaybookChoice::File(path) = &self.options.playbook {
            let mut file = std::fs::File::open(path).map_err(error)?;
            builder.append_file(format!("challenge/{OUTSIDE_PLAYBOOK_NAME}"), &mut file).map_err(error)?;
        }
        builder.into_inner().map_err(error)
    }

    /// Gives the controller a key for this run, authorizes it on every target, writes the
    /// inventory and waits (bounded) until each target answers over SSH.
    pub(super) async fn connect(
        &self,
        controller: &str,
        distros: &[&'static Distro],
        targets: &[String],
    ) -> Result<Vec<InventoryHost>, RunError> {
        let key = self.engine.exec_quiet(controller, "controller", &["sh", "-c", images::CONTROLLER_KEY], &[]).await?;
        let mut hosts = Vec::new();
        for (distro, id) in distros.iter().zip(targets) {
            let what = format!("target {}", distro.name);
            let mode = format!("{}\n", self.services().as_str());
            let files = [
                ("/root/.ssh/authorized_keys", key.output.as_str(), 0o600),
                (images::SERVICES_MODE_FILE, &mode, 0o644),
            ];
            self.engine.write_files(id, &what, &files).await?;
            if self.offline() {
                self.go_offline(distro, id).await?;
            }
            let address = self.engine.container_ip(id, &what, &self.network).await?.unwrap_or_default();
            hosts.push(InventoryHost { distro, address });
        }
        let inventory = inventory::render(&hosts);
        if self.options.show_inventory {
            self.reporter.output(&format!("# inventory of run {}\n{inventory}", self.scope.id()));
        }
        let addresses: Vec<&str> = hosts.iter().map(|h| h.address.as_str()).collect();
        let wait = scripts::wait_for_ssh_script(CONTROLLER_INVENTORY, &addresses);
        let result =
            self.engine.exec_quiet(controller, "controller", &["sh", "-c", &wait, "sh", &inventory], &[]).await?;
        if result.exit_code == scripts::INVENTORY_NOT_WRITTEN {
            let path = CONTROLLER_INVENTORY.to_string();
            let error = FileError::WriteFile { what: "controller".into(), path, output: result.output };
            return Err(EngineError::File(error).into());
        }
        if result.exit_code != 0 {
            let addressed: Vec<_> = hosts.iter().map(|h| (h.distro, h.address.as_str())).collect();
            let unreachable = scripts::unreachable_hosts(&result.output);
            self.shared.lock().unwrap().platforms.unreachable(&addressed, &unreachable);
        }
        Ok(hosts)
    }

    /// Leaves the local package repository as the only source, and proves the target has no
    /// route out: a connection to the distro's mirror must fail (the note says it did).
    pub(super) async fn go_offline(&self, distro: &'static Distro, id: &str) -> Result<(), RunError> {
        let what = format!("target {}", distro.name);
        let script = packages::offline_script(distro.family);
        self.engine.exec_quiet(id, &what, &["sh", "-c", &script], &[]).await?;
        let probe = ["python3", "-c", scripts::EGRESS_PROBE, scripts::EGRESS_PROBE_HOST];
        let reached = self.engine.exec_quiet(id, &what, &probe, &[]).await?.exit_code == 0;
        let host = scripts::EGRESS_PROBE_HOST;
        self.platform_mut(distro, |p| {
            if reached {
                p.decide(Decision::new(Verdict::Error, format!("offline run, but the target reached {host}")));
            } else {
                p.note(format!("offline: no route to {host} (checked before pass 1)"));
            }
        });
        Ok(())
    }
}
