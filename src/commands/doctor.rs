//! `sandbox doctor`: can a run work on this host, and if not, what to do about it.

use crate::challenge::DEFAULT_BUILD_WRITES;
use crate::docker::{Engine, RegisteredRuntime};
use crate::images::{self, ImageKind};
use crate::isolation::{GvisorNetwork, RuntimePolicy, WriteBound};
use crate::printer::terminal::Terminal;
use crate::report::Check;
use crate::settings::Settings;
use crate::units::format_size;
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
pub async fn diagnose(runtime: &str, settings: &Settings) -> (Vec<Check>, bool) {
    let mut checks = Vec::new();
    let connected = async { Engine::connect(&settings.engine()?).await };
    let engine = match connected.await {
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
    checks.extend(runtime_checks(&engine, runtime).await);
    let mut any_distro = false;
    for kind in ImageKind::all(&settings.allowed.catalog) {
        let check = image_check(&engine, kind).await;
        any_distro |= check.ok && matches!(kind, ImageKind::Target(_));
        checks.push(check);
    }
    let ready = any_distro && checks.iter().all(|c| c.ok || !c.required);
    (checks, ready)
}

/// The runtime's registration, what it bounds, and which services modes it can run.
async fn runtime_checks(engine: &Engine, runtime: &str) -> Vec<Check> {
    let runtimes = match engine.runtimes().await {
        Ok(runtimes) => runtimes,
        Err(err) => return vec![Check::fail("runtimes", err.to_string(), SETUP_FIX, true)],
    };
    let Some(registered) = runtimes.get(runtime) else {
        return vec![Check::fail(
            format!("runtime {runtime}"),
            "not registered with dockerd",
            format!("{SETUP_FIX} (installs gVisor and registers runsc)"),
            true,
        )];
    };
    let detail = if registered.args.is_empty() {
        format!("registered ({})", registered.path)
    } else {
        format!("registered ({}), args: {}", registered.path, registered.args.join(" "))
    };
    let mut checks = vec![Check::pass(format!("runtime {runtime}"), detail)];
    if registered.is_gvisor() {
        checks.push(Check::pass("gvisor platform", registered.platform().unwrap_or("systrap (default)")));
        checks.push(Check::pass("gvisor network", network_mode(registered)));
    }
    checks.push(write_bound_check(registered));
    checks.push(Check::pass("services mock, supervised", "available"));
    checks.push(match crate::isolation::systemd_support(runtime, registered) {
        Ok(()) => Check::pass("services systemd", "available"),
        Err(reason) => Check::fail(
            "services systemd",
            reason,
            "use services = \"supervised\" for real processes without systemd",
            false,
        ),
    });
    checks
}

/// Whether `kind`'s base image is here (a target's missing base only rules that distro out;
/// the controller's rules every run out) and whether its prepared image is built yet.
async fn image_check(engine: &Engine, kind: ImageKind) -> Check {
    let name = match kind {
        ImageKind::Target(distro) => distro.name.to_string(),
        ImageKind::Controller => "controller".to_string(),
    };
    match images::status(engine, kind).await {
        Ok(status) if !status.base_present => {
            let fix = if kind.base_image().starts_with("debian:") {
                SETUP_FIX.to_string()
            } else {
                format!("docker pull {} (needs a registry)", kind.base_image())
            };
            let detail = format!("base image {} missing", kind.base_image());
            Check::fail(name, detail, fix, kind == ImageKind::Controller)
        }
        Ok(status) => {
            let prepared =
                if status.prepared_present { "prepared image ready" } else { "prepared image built on first use" };
            Check::pass(name, format!("base {} present, {prepared}", kind.base_image()))
        }
        Err(err) => Check::fail(name, err.to_string(), SETUP_FIX, true),
    }
}

/// Whether a learner's writes can reach the host's disk: they are bounded only when gVisor
/// keeps the root filesystem's upper layer in the sandbox's memory.
fn write_bound_check(registered: &RegisteredRuntime) -> Check {
    match registered.write_bound() {
        WriteBound::Memory => {
            Check::pass("write bound", "gVisor overlay in memory: writes count against the memory limit")
        }
        WriteBound::LayerQuota => Check::pass("write bound", "a quota on each container's own layer"),
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

/// Which network stack serves the guest's sockets.
fn network_mode(registered: &RegisteredRuntime) -> &'static str {
    match registered.network() {
        GvisorNetwork::Sandbox => "sandbox: gVisor's own network stack",
        GvisorNetwork::Host => {
            "host: the host kernel serves the sandbox's sockets, in the container's own network namespace"
        }
        GvisorNetwork::None => "none: loopback only",
    }
}

/// `sandbox doctor`: what a run needs, each with its state and a fix.
pub(crate) async fn doctor(runtime: &str, settings: &Settings, terminal: &Terminal) -> Result<ExitStatus, Error> {
    let (mut checks, ready) = diagnose(runtime, settings).await;
    checks.extend(builder_checks(settings).await);
    terminal.checks(&checks);
    terminal.print(if ready { "ready: a run can start" } else { "not ready: see the fixes above" });
    Ok(if ready { ExitStatus::Success } else { ExitStatus::Infrastructure })
}

/// The Docker track's builder: up, running `RUN` steps under gVisor, and what bounds their
/// writes. Not required: the Ansible track does not use it.
async fn builder_checks(settings: &Settings) -> Vec<Check> {
    let socket = &settings.builder;
    let builder = match crate::dockerfile::Builder::connect(socket).await {
        Ok(builder) => builder,
        Err(err) => return vec![Check::fail("docker track builder", err.to_string(), SETUP_FIX, false)],
    };
    let mut checks =
        vec![Check::pass("docker track builder", format!("{socket}: RUN steps under gVisor, no route out"))];
    if let Some(registered) = builder.runtime().await {
        checks.push(Check::pass("builder network", network_mode(&registered)));
    }
    let ceiling = settings.allowed.ceilings.build_write_bytes;
    let bound = format!(
        "each build step writes at most {} (a challenge's [limits] build_writes: up to {})",
        format_size(DEFAULT_BUILD_WRITES),
        format_size(ceiling)
    );
    checks.push(Check::pass("build write bound", bound));
    checks.push(match builder.store().await {
        Ok(store) => Check::pass(
            "builder store",
            format!(
                "bound {}: {} used, {} free (the layer cache is pruned before a build that lacks room)",
                format_size(store.size),
                format_size(store.used),
                format_size(store.free)
            ),
        ),
        Err(err) => Check::fail("builder store", err.to_string(), SETUP_FIX, false),
    });
    checks
}
