//! `sandbox doctor`: can a run work on this host, and if not, what to do about it.

use crate::distro::Catalog;
use crate::docker::{Engine, RegisteredRuntime};
use crate::images::{self, ImageKind};
use crate::isolation::{RuntimePolicy, WriteBound};
use crate::printer::terminal::Terminal;
use crate::report::Check;
use crate::settings::Settings;
use crate::{Error, ExitStatus};

impl Check {
    fn pass(name: impl Into<String>, detail: impl Into<String>) -> Check {
        Check { name: name.into(), ok: true, detail: detail.into(), fix: None, required: true }
    }

    fn fail(name: impl Into<String>, detail: impl Into<String>, fix: impl Into<String>, required: bool) -> Check {
        Check { name: name.into(), ok: false, detail: detail.into(), fix: Some(fix.into()), required }
    }
}

const SETUP_FIX: &str = "sudo scripts/setup.sh";

/// Runs every check. A run can work when every required check passed and at least one
/// distro has its base image.
pub async fn diagnose(runtime: &str, catalog: &Catalog) -> (Vec<Check>, bool) {
    let mut checks = Vec::new();
    let engine = match Engine::connect().await {
        Ok(engine) => {
            checks.push(Check::pass("docker daemon", "answers"));
            engine
        }
        Err(err) => {
            let cause = std::error::Error::source(&err).map(|cause| format!(": {cause}")).unwrap_or_default();
            let detail = format!("{err}{cause}");
            checks.push(Check::fail("docker daemon", detail, format!("{SETUP_FIX} (starts dockerd)"), true));
            return (checks, false);
        }
    };
    match engine.runtimes().await {
        Ok(runtimes) => match runtimes.get(runtime) {
            Some(registered) => {
                let detail = if registered.args.is_empty() {
                    format!("registered ({})", registered.path)
                } else {
                    format!("registered ({}), args: {}", registered.path, registered.args.join(" "))
                };
                checks.push(Check::pass(format!("runtime {runtime}"), detail));
                if registered.is_gvisor() {
                    checks.push(Check::pass("gvisor platform", registered.platform().unwrap_or("systrap (default)")));
                }
                checks.push(write_bound_check(registered));
                checks.push(Check::pass("services mock, supervised", "available"));
                match crate::isolation::systemd_support(runtime, registered) {
                    Ok(()) => checks.push(Check::pass("services systemd", "available")),
                    Err(reason) => checks.push(Check::fail(
                        "services systemd",
                        reason,
                        "use services = \"supervised\" for real processes without systemd",
                        false,
                    )),
                }
            }
            None => checks.push(Check::fail(
                format!("runtime {runtime}"),
                "not registered with dockerd",
                format!("{SETUP_FIX} (installs gVisor and registers runsc)"),
                true,
            )),
        },
        Err(err) => checks.push(Check::fail("runtimes", err.to_string(), SETUP_FIX, true)),
    }
    let mut any_distro = false;
    for kind in ImageKind::all(catalog) {
        let name = match kind {
            ImageKind::Target(distro) => distro.name.to_string(),
            ImageKind::Controller => "controller".to_string(),
        };
        let check = match images::status(&engine, kind).await {
            Ok(status) if !status.base_present => {
                let fix = if kind.base_image().starts_with("debian:") {
                    SETUP_FIX.to_string()
                } else {
                    format!("docker pull {} (needs a registry)", kind.base_image())
                };
                Check::fail(
                    name,
                    format!("base image {} missing", kind.base_image()),
                    fix,
                    kind == ImageKind::Controller,
                )
            }
            Ok(status) => {
                if matches!(kind, ImageKind::Target(_)) {
                    any_distro = true;
                }
                let prepared =
                    if status.prepared_present { "prepared image ready" } else { "prepared image built on first use" };
                Check::pass(name, format!("base {} present, {prepared}", kind.base_image()))
            }
            Err(err) => Check::fail(name, err.to_string(), SETUP_FIX, true),
        };
        checks.push(check);
    }
    let ready = any_distro && checks.iter().all(|c| c.ok || !c.required);
    (checks, ready)
}

/// Whether a learner's writes can reach the host's disk: they are bounded only when gVisor
/// keeps the root filesystem's upper layer in the sandbox's memory.
fn write_bound_check(registered: &RegisteredRuntime) -> Check {
    match registered.write_bound() {
        WriteBound::Memory => {
            Check::pass("write bound", "gVisor overlay in memory: writes count against the memory limit")
        }
        WriteBound::HostDisk => {
            let fix = if registered.is_gvisor() {
                format!("{SETUP_FIX} (registers runsc with --overlay2=root:memory)")
            } else {
                "run learners' code under gVisor (`--runtime runsc`)".to_string()
            };
            Check::fail("write bound", "none: a container's writes go to the host's disk", fix, false)
        }
    }
}

/// `sandbox doctor`: what a run needs, each with its state and a fix.
pub(crate) async fn doctor(runtime: &str, settings: &Settings, terminal: &Terminal) -> Result<ExitStatus, Error> {
    let (checks, ready) = diagnose(runtime, &settings.allowed.catalog).await;
    terminal.checks(&checks);
    terminal.print(if ready { "ready: a run can start" } else { "not ready: see the fixes above" });
    Ok(if ready { ExitStatus::Success } else { ExitStatus::Infrastructure })
}
