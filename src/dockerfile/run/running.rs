//! An attempt's image running: the hardened app, the probe beside it that shares only its
//! loopback, and the checks that need them running (the port, health, stop, check.sh).

use crate::challenge::image::ImageCheck;
use crate::docker::ContainerSpec;
use crate::dockerfile::checks::{self, Outcome};
use crate::dockerfile::BuildError;
use crate::isolation;
use crate::labels::Role;
use std::time::{Duration, Instant};

use super::ImageRun;

/// The probe's image: a plain base image the builder holds (bash, no curl).
const PROBE_IMAGE: &str = "debian:12";

/// Where the probe keeps check.sh and its `http` helper.
const PROBE_DIR: &str = "/sandbox";

/// How long an app may take to listen on its port.
const STARTUP_BOUND: Duration = Duration::from_secs(20);

/// `http PATH`: GET over bash's /dev/tcp, printing the raw answer (the probe has no curl).
const HTTP_HELPER: &str = r#"#!/bin/bash
# usage: http PATH  (GET http://$APP_HOST:$APP_PORT/PATH; prints the status line, headers and body)
exec 3<>"/dev/tcp/${APP_HOST:-127.0.0.1}/${APP_PORT:?}" || exit 7
# One write, its errors silenced: a server may answer and close after the request line.
request=$(printf 'GET %s HTTP/1.0\r\nHost: %s\r\nConnection: close' "${1:-/}" "${APP_HOST:-127.0.0.1}")
printf '%s\r\n\r\n' "$request" >&3 2>/dev/null
# A server that closes without reading the headers resets the connection after its answer:
# what was read is the answer, cat's complaint is not part of it.
timeout 10 cat <&3 2>/dev/null
"#;

impl ImageRun<'_> {
    /// Runs the image and its probe, checks what is declared, runs check.sh, stops it.
    pub(super) async fn check_running(&self, build: u8, tag: &str, healthcheck: bool) -> Result<(), BuildError> {
        let engine = self.builder.engine();
        let app = self.start_app(build, tag).await?;
        let probe = match self.start_probe(build, &app).await {
            Ok(probe) => probe,
            // The probe joins the app's network namespace, which ends with the app.
            Err(err) => match self.exited(&app).await {
                Some(detail) => {
                    self.record(build, Outcome { name: ImageCheck::Run, passed: false, detail });
                    return Ok(());
                }
                None => return Err(err),
            },
        };
        let port = self.spec.port;
        if let Some(port) = port {
            if let Err(detail) = self.wait_for_port(&app, &probe, port).await {
                self.record(build, Outcome { name: ImageCheck::Http, passed: false, detail });
                return Ok(());
            }
        }
        if let Some(http) = &self.spec.checks.http {
            let answer =
                engine.exec(&probe, "probe", &["http", &http.path], &self.probe_env(build), None, &mut |_| {}).await?;
            self.record(build, checks::http(http, Some(&answer.output)));
        }
        if self.spec.checks.non_root {
            let status = engine.exec(&app, "app", &["cat", "/proc/1/status"], &[], None, &mut |_| {}).await;
            let status = status.ok().filter(|s| s.exit_code == 0).map(|s| s.output);
            self.record(build, checks::non_root(status.as_deref()));
        }
        if let (Some(within), true) = (self.spec.checks.healthy_within, healthcheck) {
            self.record(build, self.wait_healthy(&app, within).await?);
        }
        self.run_check_script(build, &probe).await?;
        if let Some(within) = self.spec.checks.stops_within {
            let started = Instant::now();
            engine.stop_container(&app, "app", within + Duration::from_secs(5)).await?;
            let took = started.elapsed();
            let detail = format!("stopped in {:.1}s (limit {}s)", took.as_secs_f64(), within.as_secs());
            self.record(build, Outcome { name: ImageCheck::Stop, passed: took < within, detail });
        }
        for id in [&probe, &app] {
            engine.remove_container(id).await?;
        }
        Ok(())
    }

    pub(super) fn container(&self, build: u8, role: Role, image: &str, network: String) -> ContainerSpec {
        // Builder::connect refused a builder whose default runtime is not gVisor.
        let gvisor = true;
        let limits = &self.challenge.limits;
        let (confinement, cmd) = match role {
            // The image's own CMD, hardened.
            Role::App => (isolation::app_confinement(limits, gvisor), Vec::new()),
            Role::Probe => (isolation::probe_confinement(limits, gvisor), vec!["sleep".into(), "infinity".into()]),
            // The caller sets the command.
            Role::Files | Role::Command => (isolation::structure_test_confinement(limits, gvisor), Vec::new()),
            Role::Target | Role::Controller | Role::Network => unreachable!("the Ansible track's roles"),
        };
        let name = role.as_str();
        ContainerSpec {
            name: self.container_name(build, role),
            what: name.to_string(),
            image: image.to_string(),
            hostname: name.to_string(),
            cmd,
            entrypoint: None,
            env: Vec::new(),
            labels: self.scope.labels(role),
            network,
            runtime: self.runtime.clone(),
            confinement,
        }
    }

    pub(super) fn container_name(&self, build: u8, role: Role) -> String {
        format!("sandbox-{}-{}-{build}", self.scope.id(), role.as_str())
    }

    pub(super) async fn start_app(&self, build: u8, tag: &str) -> Result<String, BuildError> {
        let engine = self.builder.engine();
        let id = engine.create_container(&self.container(build, Role::App, tag, "none".into())).await?;
        self.containers.add(&id, "the app");
        engine.start_container(&id, "app").await?;
        Ok(id)
    }

    pub(super) async fn start_probe(&self, build: u8, app: &str) -> Result<String, BuildError> {
        let engine = self.builder.engine();
        let spec = self.container(build, Role::Probe, PROBE_IMAGE, format!("container:{app}"));
        let id = engine.create_container(&spec).await?;
        self.containers.add(&id, "the probe");
        // A Docker challenge always has check.sh (only an Ansible one may have goss instead).
        let path = self.challenge.file(self.challenge.check.as_deref().unwrap_or(std::path::Path::new("check.sh")));
        let check = std::fs::read(&path).map_err(|source| BuildError::Io { path, source })?;
        let files: [(&str, &[u8], u32); 2] =
            [("sandbox/check.sh", check.as_slice(), 0o755), ("usr/local/bin/http", HTTP_HELPER.as_bytes(), 0o755)];
        engine.upload_before_start(&id, "probe", "/", crate::docker::tar_of(&files)).await?;
        engine.start_container(&id, "probe").await?;
        Ok(id)
    }

    /// How the app ended, if it is no longer running (or gone): its exit code and last lines.
    pub(super) async fn exited(&self, app: &str) -> Option<String> {
        let engine = self.builder.engine();
        let state = engine.container_state(app, "app").await.ok()?;
        if state.running {
            return None;
        }
        let log = engine.log_tail(app, 5).await;
        let log = log.trim();
        let said = if log.is_empty() { String::new() } else { format!(" (it printed: {log})") };
        Some(format!("the container exited with code {}{said}", state.exit_code))
    }

    /// What check.sh and the http helper are told: where the app listens (its loopback, which
    /// the probe shares) and which container it is.
    pub(super) fn probe_env(&self, build: u8) -> Vec<String> {
        let mut env =
            vec!["APP_HOST=127.0.0.1".to_string(), format!("APP_CONTAINER={}", self.container_name(build, Role::App))];
        if let Some(port) = self.spec.port {
            env.push(format!("APP_PORT={port}"));
        }
        env
    }

    /// Polls until the app accepts a connection on `port`; Err says why it never did.
    pub(super) async fn wait_for_port(&self, app: &str, probe: &str, port: u16) -> Result<(), String> {
        let engine = self.builder.engine();
        let deadline = Instant::now() + STARTUP_BOUND;
        let connect = format!("exec 3<>/dev/tcp/127.0.0.1/{port}");
        loop {
            if let Some(ended) = self.exited(app).await {
                return Err(format!("{ended}, before listening on {port}"));
            }
            let tried = engine.exec_quiet(probe, "probe", &["bash", "-c", &connect], &[]).await;
            if tried.is_ok_and(|out| out.exit_code == 0) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!("nothing listens on port {port} after {}s", STARTUP_BOUND.as_secs()));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    pub(super) async fn wait_healthy(&self, app: &str, within: Duration) -> Result<Outcome, BuildError> {
        let engine = self.builder.engine();
        let started = Instant::now();
        loop {
            let health = engine.health(app, "app").await?;
            let seconds = started.elapsed().as_secs_f64();
            match health.as_deref() {
                Some("healthy") => {
                    return Ok(Outcome {
                        name: ImageCheck::Healthy,
                        passed: true,
                        detail: format!("healthy after {seconds:.1}s"),
                    })
                }
                Some("unhealthy") => {
                    return Ok(Outcome {
                        name: ImageCheck::Healthy,
                        passed: false,
                        detail: format!("unhealthy after {seconds:.1}s"),
                    })
                }
                _ if started.elapsed() >= within => {
                    let state = health.unwrap_or_else(|| "no health status".into());
                    return Ok(Outcome {
                        name: ImageCheck::Healthy,
                        passed: false,
                        detail: format!("still {state} after {}s", within.as_secs()),
                    });
                }
                _ => tokio::time::sleep(Duration::from_millis(250)).await,
            }
        }
    }

    pub(super) async fn run_check_script(&self, build: u8, probe: &str) -> Result<(), BuildError> {
        let engine = self.builder.engine();
        let script = format!("{PROBE_DIR}/check.sh");
        let out = engine.exec(probe, "probe", &["bash", &script], &self.probe_env(build), None, &mut |_| {}).await?;
        self.reporter.verified(build, "image", out.exit_code, &out.output);
        let detail = match out.output.lines().rev().find(|l| !l.trim().is_empty()) {
            Some(line) => format!("exit {}: {}", out.exit_code, line.trim()),
            None => format!("exit {}", out.exit_code),
        };
        self.record(build, Outcome { name: ImageCheck::CheckSh, passed: out.exit_code == 0, detail });
        self.check_outputs.lock().unwrap().push((build, out.exit_code, out.output));
        Ok(())
    }
}
