//! A run's passes: each applies the playbook through the controller's Ansible server, records
//! what it did, runs the checks, and cleans up before the next; then the verdicts.

use super::recap::PlaybookLog;
use super::verdict::{Decision, Place, PlaybookEnd};
use crate::ansible;
use crate::challenge::Limits;
use crate::distro::Distro;
use crate::docker::{EngineError, ExecError, FileError};
use crate::report::timeline::Phase;
use crate::report::Verdict;
use std::time::{Duration, Instant};

use super::{goss, scripts, verdict, Run, RunError, CONTROLLER_CHALLENGE_DIR, CONTROLLER_INVENTORY};

impl Run<'_> {
    pub(super) async fn connect_and_apply(
        &self,
        controller: &str,
        distros: &[&'static Distro],
        targets: &[String],
        starting: Instant,
        connected: bool,
    ) -> Result<(), RunError> {
        self.set_phase(Phase::SshReady);
        let connect = async {
            if !connected {
                self.connect(controller, distros, targets).await?;
            }
            self.reporter.step_done(&format!(
                "{} target(s) ready for Ansible in {:.1} s (run {}, runtime {})",
                targets.len(),
                starting.elapsed().as_secs_f64(),
                self.scope.id(),
                self.options.runtime
            ));
            Ok(())
        };
        let mut applied = self.pass_after(controller, 1, connect).await?;
        for pass in 1..=self.options.passes {
            let Some((hosts, log)) = applied.take() else { break };
            self.record_apply(controller, pass, &hosts, &log).await?;
            let next = pass + 1;
            let check_and_clean = async {
                self.set_phase(Phase::Check(pass));
                self.verify(pass).await?;
                let in_play = self.hosts_still_in_play(next);
                if next <= self.options.passes && !in_play.is_empty() {
                    self.set_phase(Phase::BetweenPasses);
                    self.between_passes(&in_play).await?;
                }
                Ok(())
            };
            // No next pass, or no host left that could take part in it: nothing to start early.
            if next > self.options.passes || self.hosts_still_in_play(pass).is_empty() {
                check_and_clean.await?;
            } else {
                applied = self.pass_after(controller, next, check_and_clean).await?;
            }
        }
        self.decide();
        Ok(())
    }

    /// Runs `prepare` while pass `pass`'s `ansible-playbook` starts (see `ansible::launcher`),
    /// then lets the pass go on the hosts still in play, or stops it when there are none.
    /// Returns those hosts and what Ansible printed, or None when the pass did not run.
    pub(super) async fn pass_after(
        &self,
        controller: &str,
        pass: u8,
        prepare: impl std::future::Future<Output = Result<(), RunError>>,
    ) -> Result<Option<(Vec<&'static Distro>, (PlaybookLog, PlaybookEnd))>, RunError> {
        let ready = async {
            let prepared = prepare.await;
            let hosts = if prepared.is_ok() { self.hosts_still_in_play(pass) } else { Vec::new() };
            if !hosts.is_empty() {
                self.set_phase(Phase::AnsibleStart(pass));
            }
            // Told even when `prepare` failed: the launcher must not wait for ever.
            let told = self.tell(controller, pass, &hosts).await;
            prepared.and(told).map(|()| hosts)
        };
        let (applied, hosts) = tokio::join!(self.apply(controller, pass), ready);
        let hosts = hosts?;
        if hosts.is_empty() {
            return Ok(None);
        }
        Ok(Some((hosts, applied?)))
    }

    /// Gives pass `pass`'s launcher its go: the arguments for `hosts`, or stop when empty.
    pub(super) async fn tell(&self, controller: &str, pass: u8, hosts: &[&'static Distro]) -> Result<(), RunError> {
        let playbook = self.playbook_in_controller();
        let limit = hosts.iter().map(|d| d.name).collect::<Vec<_>>().join(",");
        let mut args = vec!["-i", CONTROLLER_INVENTORY, "--limit", &limit];
        let verbosity = format!("-{}", "v".repeat(self.options.verbosity.into()));
        if self.options.verbosity > 0 {
            args.push(&verbosity);
        }
        if self.options.diff || pass == 2 {
            args.push("--diff");
        }
        args.push(&playbook);
        let go = ansible::go_command(pass, if hosts.is_empty() { &[] } else { &args });
        let go: Vec<&str> = go.iter().map(String::as_str).collect();
        let told = self.engine.exec_quiet(controller, "controller", &go, &[]).await;
        match told {
            Ok(result) if result.exit_code != 0 => Err(EngineError::File(FileError::WriteFile {
                what: "controller".into(),
                path: ansible::go_file(pass),
                output: result.output,
            })
            .into()),
            // A controller that died is the pass's verdict (record_apply says why), not an error here.
            Ok(_) | Err(EngineError::Exec(ExecError::StoppedDuringExec { .. })) => Ok(()),
            Err(err) => Err(err.into()),
        }
    }

    pub(super) async fn between_passes(&self, distros: &[&'static Distro]) -> Result<(), RunError> {
        for (distro, id) in self.containers_of(distros) {
            let what = format!("target {}", distro.name);
            let script = scripts::between_passes_script(distro.family);
            let result = self.engine.exec_quiet(&id, &what, &["/bin/sh", "-c", &script], &[]).await?;
            let notes: Vec<String> =
                result.output.lines().filter(|l| !l.trim().is_empty()).map(str::to_string).collect();
            for note in &notes {
                self.reporter.notice(&format!("{}: {note}", distro.name));
            }
            self.platform_mut(distro, |p| notes.into_iter().for_each(|note| p.note(note)));
        }
        Ok(())
    }

    /// Pass `pass`'s `ansible-playbook`, from the launcher's start to Ansible's exit.
    pub(super) async fn apply(&self, controller: &str, pass: u8) -> Result<(PlaybookLog, PlaybookEnd), RunError> {
        let launcher = ansible::launcher(pass, self.strategy());
        let cmd: Vec<&str> = launcher.iter().map(String::as_str).collect();
        // The run's Ansible process takes pass 1's environment and sets SANDBOX_PASS itself.
        let env = ansible::controller_env(self.options.color, self.strategy());
        let mut log = PlaybookLog::default();
        let reporter = self.reporter;
        let shared = &self.shared;
        let result = self
            .engine
            .exec(controller, "controller", &cmd, &env, Some(CONTROLLER_CHALLENGE_DIR), &mut |line| {
                reporter.ansible_line(pass, line);
                log.push(line);
                let mut shared = shared.lock().unwrap();
                if let Some(next) = shared.timeline.current().after_ansible_line(line) {
                    shared.timeline.enter(next);
                }
            })
            .await;
        let end = match result {
            Ok(result) => PlaybookEnd::Exited(result.exit_code),
            Err(EngineError::Exec(ExecError::StoppedDuringExec { .. })) => PlaybookEnd::ControllerStopped,
            Err(err) => return Err(err.into()),
        };
        Ok((log, end))
    }

    /// Why the controller died during a pass, or None when it is alive (a playbook that
    /// failed on its own). Asked only when Ansible did not exit 0.
    pub(super) async fn controller_death(
        &self,
        controller: &str,
        end: PlaybookEnd,
    ) -> Result<Option<String>, RunError> {
        if end == PlaybookEnd::Exited(0) {
            return Ok(None);
        }
        // Ansible's own exit codes are below 128; 128 and above (or no exit at all) is how
        // an exec ends when its sandbox dies, and Docker may take a moment to see the death.
        let settle = match end {
            PlaybookEnd::Exited(code) if code < 128 => 1,
            _ => 20,
        };
        let limits = self.challenge.limits.for_controller();
        self.settled_death(controller, Place::Controller, &limits, settle).await
    }

    pub(super) async fn record_apply(
        &self,
        controller: &str,
        pass: u8,
        hosts: &[&'static Distro],
        (log, end): &(PlaybookLog, PlaybookEnd),
    ) -> Result<(), RunError> {
        let controller_death = self.controller_death(controller, *end).await?;
        for (distro, id) in self.containers_of(hosts) {
            let state = self.engine.container_state(&id, &format!("target {}", distro.name)).await?;
            let killed = if state.running {
                controller_death.clone()
            } else {
                let log = self.engine.log_tail(&id, 5).await;
                let place = Place::Target(distro.name);
                let mut reason = verdict::death_reason(&state, &self.challenge.limits, place, self.write_bound());
                if !state.oom_killed && !log.trim().is_empty() {
                    reason = format!("{reason}; its last output: {}", log.trim());
                }
                Some(reason)
            };
            let applied = verdict::judge_apply(pass, distro.name, log, *end, killed);
            self.platform_mut(distro, |p| p.applied(applied));
        }
        Ok(())
    }

    /// Runs check.sh on every platform that took part in this pass, concurrently.
    pub(super) async fn verify(&self, pass: u8) -> Result<(), RunError> {
        let targets = self.shared.lock().unwrap().platforms.awaiting_check(pass);
        if targets.is_empty() {
            return Ok(());
        }
        self.reporter.step(&format!("verifying pass {pass}"));
        let read = |relative: &std::path::Path| {
            let path = self.challenge.file(relative);
            std::fs::read_to_string(&path).map_err(|source| RunError::ReadCheck { path, source })
        };
        let script = self.challenge.check.as_deref().map(read).transpose()?;
        let goss_texts = match &self.challenge.goss {
            None => Vec::new(),
            Some(goss) => {
                goss.files().map(|file| read(file).map(|text| (file.clone(), text))).collect::<Result<_, _>>()?
            }
        };
        let files = goss::CheckFiles {
            script: script.as_deref(),
            goss: self.challenge.goss.as_ref().map(|goss| (goss, goss_texts.as_slice())),
            services: self.services(),
        };
        let runs = targets.iter().map(|(distro, id)| async move {
            let what = format!("target {}", distro.name);
            let result = goss::verify_target(&self.engine, id, &what, distro, pass, files).await;
            Ok::<_, RunError>((*distro, id, result))
        });
        let results = futures_util::future::try_join_all(runs).await?;
        self.reporter.step_done(&format!("verified pass {pass}"));
        for (distro, id, result) in results {
            let result = match result {
                Ok(result) => result,
                Err(err) => {
                    // A target that died after its apply (a guard, the OOM killer) cannot be
                    // checked; that is its verdict, not an infrastructure failure.
                    let Some(reason) = self.death_of(id, distro).await? else { return Err(err.into()) };
                    self.platform_mut(distro, |p| {
                        p.decide(Decision::new(Verdict::Killed, format!("verify {pass}: {reason}")));
                    });
                    continue;
                }
            };
            self.reporter.verified(pass, distro.name, result.exit_code, &result.output);
            self.platform_mut(distro, |p| p.checked(result.exit_code, &result.output, result.checks));
        }
        Ok(())
    }

    /// Why a target that failed an exec is dead, or None when it is alive. A container being
    /// killed can refuse execs while Docker still reports it running: wait (bounded) for
    /// the state to settle.
    pub(super) async fn death_of(&self, id: &str, distro: &Distro) -> Result<Option<String>, RunError> {
        self.settled_death(id, Place::Target(distro.name), &self.challenge.limits, 20).await
    }

    /// Why the container at `place` is dead, asking Docker up to `tries` times 250 ms apart
    /// (it may still report a dying container running), or None when it stays alive.
    pub(super) async fn settled_death(
        &self,
        id: &str,
        place: Place<'_>,
        limits: &Limits,
        tries: u32,
    ) -> Result<Option<String>, RunError> {
        let what = place.to_string();
        for attempt in 1..=tries {
            let state = self.engine.container_state(id, &what).await?;
            if !state.running {
                return Ok(Some(verdict::death_reason(&state, limits, place, self.write_bound())));
            }
            if attempt < tries {
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
        Ok(None)
    }

    /// Verdicts for every platform still undecided after both passes.
    pub(super) fn decide(&self) {
        let planned = self.options.passes;
        self.shared.lock().unwrap().platforms.conclude(self.challenge.run.idempotent, planned);
    }
}
