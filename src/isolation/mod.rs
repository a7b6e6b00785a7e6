//! Isolation policy: how every container sandbox starts is confined (runtime, hardening,
//! limits), what a runtime's registration means for that confinement, and the guard that
//! kills a container about to exhaust its limits. The Docker client only carries it out.

pub mod guard;

use std::collections::HashMap;

use crate::challenge::Limits;
use crate::docker::{Confinement, Engine, EngineError, RegisteredRuntime};

/// The runtime every container uses unless the user explicitly asks for another.
pub const DEFAULT_RUNTIME: &str = "runsc";

/// What a runtime's registration (binary and arguments) means for isolation.
pub trait RuntimePolicy {
    /// gVisor is known by its binary, not by the name it is registered under: a second
    /// registration such as `runsc-systrap` is gVisor too and needs gVisor's pids arithmetic.
    fn is_gvisor(&self) -> bool;
    /// gVisor's `--platform=` argument; None when it is not given (gVisor then uses systrap).
    fn platform(&self) -> Option<&str>;
    /// Where the root filesystem's writes of a container under this runtime end up.
    fn write_bound(&self) -> WriteBound;
    /// gVisor's `--network=`: which network stack serves the guest's sockets.
    fn network(&self) -> GvisorNetwork;
}

/// gVisor's network modes (runsc `--network=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GvisorNetwork {
    /// gVisor's own network stack (netstack), runsc's default.
    Sandbox,
    /// The host kernel's stack, in the container's own network namespace.
    Host,
    /// Loopback only.
    None,
}

impl RuntimePolicy for RegisteredRuntime {
    fn is_gvisor(&self) -> bool {
        let is_runsc = |path: &str| std::path::Path::new(path).file_name().is_some_and(|name| name == "runsc");
        // The builder's runsc-build execs the runsc it is given.
        is_runsc(&self.path) || self.args.iter().filter_map(|arg| arg.strip_prefix(WRAPPED_RUNSC)).any(is_runsc)
    }

    fn platform(&self) -> Option<&str> {
        self.args.iter().find_map(|arg| arg.strip_prefix("--platform="))
    }

    fn network(&self) -> GvisorNetwork {
        match self.args.iter().rev().find_map(|arg| arg.strip_prefix("--network=")) {
            Some("host") => GvisorNetwork::Host,
            Some("none") => GvisorNetwork::None,
            _ => GvisorNetwork::Sandbox,
        }
    }

    fn write_bound(&self) -> WriteBound {
        if self.is_gvisor() && self.args.iter().any(|arg| arg.starts_with(QUOTA_STORE)) {
            return WriteBound::LayerQuota;
        }
        let overlay = self.args.iter().find_map(|arg| arg.strip_prefix("--overlay2="));
        // `root:memory` (or `all:memory`): gVisor keeps the overlay's upper layer in the
        // sandbox's memory, which the container's cgroup charges; `root:self` and `none`
        // write through to the host's disk.
        match overlay.and_then(|value| value.split_once(':')) {
            Some(("root" | "all", "memory")) if self.is_gvisor() => WriteBound::Memory,
            _ => WriteBound::HostDisk,
        }
    }
}

/// `scripts/runsc-build`'s own arguments: the runsc it execs, and the store whose layers it
/// bounds.
const WRAPPED_RUNSC: &str = "--sandbox-runsc=";
const QUOTA_STORE: &str = "--sandbox-store=";

/// Whether what a container writes outside its tmpfs mounts is bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteBound {
    /// Held in the sandbox's memory and counted against the container's memory limit.
    Memory,
    /// Written to the container's own layer, whose quota the runtime sets before it starts
    /// (the builder's `scripts/runsc-build`: a btrfs qgroup limit, the container's shm size).
    LayerQuota,
    /// Written to the Docker data root on the host's disk, without a bound.
    HostDisk,
}

/// Whether containers of `runtime` run under gVisor (false when it is not registered).
pub async fn is_gvisor(engine: &Engine, runtime: &str) -> Result<bool, EngineError> {
    Ok(engine.runtimes().await?.get(runtime).is_some_and(RegisteredRuntime::is_gvisor))
}

/// The confinement of every container sandbox creates under `runtime`: its limits, no
/// privileges, no host mounts, no published ports, a capped log.
pub async fn confinement(engine: &Engine, runtime: &str, limits: &Limits) -> Result<Confinement, EngineError> {
    Ok(confine(limits, is_gvisor(engine, runtime).await?))
}

fn confine(limits: &Limits, gvisor: bool) -> Confinement {
    Confinement {
        memory_bytes: limits.memory_bytes as i64,
        nano_cpus: (limits.cpus * 1e9) as i64,
        pids_limit: host_pids_limit(gvisor, limits.pids),
        // The guest's own process limit: gVisor enforces RLIMIT_NPROC inside the sandbox,
        // so a fork bomb plateaus there (and the guard kills it) instead of exhausting the
        // host cgroup and crashing the Sentry. Root is bound by it: no CAP_SYS_RESOURCE.
        nproc: limits.pids,
        no_new_privileges: true,
        cap_drop: ["NET_RAW", "MKNOD", "SYS_PTRACE"].map(String::from).to_vec(),
        tmpfs: HashMap::from([
            ("/tmp".to_string(), "rw,nosuid,nodev,size=256m".to_string()),
            ("/run".to_string(), "rw,nosuid,nodev,size=64m".to_string()),
        ]),
        // What a container prints to its own stdout lands in a log file on the host's
        // disk: capped, so a learner's `yes > /proc/1/fd/1` cannot fill it.
        log_max_size: "10m".into(),
        read_only_root: false,
    }
}

/// How a learner's image runs in the Docker track: as a hardened production container
/// would, read-only but for its tmpfs, with no capability at all. A target needs its
/// capabilities (Ansible installs packages and adds users there); an app does not.
pub fn app_confinement(limits: &Limits, gvisor: bool) -> Confinement {
    Confinement {
        cap_drop: vec!["ALL".to_string()],
        read_only_root: true,
        tmpfs: HashMap::from([("/tmp".to_string(), "rw,nosuid,nodev,size=64m".to_string())]),
        ..confine(limits, gvisor)
    }
}

/// A structure test's command, as container-structure-test runs one: a writable root with
/// nothing mounted over it (what a setup command writes is committed for the test after it),
/// with every other container's limits and missing privileges.
pub fn structure_test_confinement(limits: &Limits, gvisor: bool) -> Confinement {
    Confinement { tmpfs: HashMap::new(), ..confine(limits, gvisor) }
}

/// The probe that runs check.sh beside an app: the targets' confinement.
pub fn probe_confinement(limits: &Limits, gvisor: bool) -> Confinement {
    confine(limits, gvisor)
}

/// The pids cgroup limit for a container whose guest may run `guest_pids` processes.
///
/// Under gVisor the cgroup holds the sandbox's own host threads (the Sentry's Go runtime and,
/// on the ptrace platform, stubs and tracer threads), not the guest's processes. Measured
/// here under ptrace: apt-get install nginx php-fpm peaks at 220 host tasks; a fork bomb
/// held to 256 guest processes by RLIMIT_NPROC still climbs to ~3,600 host tasks within 4 s.
/// Whenever the cgroup limit is reached, the Sentry cannot make a thread and crashes ("error
/// initializing first thread"), so the limit leaves room above that plateau; the guard
/// kills the container well before it. The cgroup stays the host's hard backstop.
pub fn host_pids_limit(gvisor: bool, guest_pids: i64) -> i64 {
    if gvisor {
        guest_pids * 16 + 512
    } else {
        guest_pids
    }
}

/// Whether `services = "systemd"` can work under the runtime registered as `name`: real
/// systemd as PID 1 needs its own cgroup tree and an image with systemd in it. Err says why not.
pub fn systemd_support(name: &str, runtime: &RegisteredRuntime) -> Result<(), String> {
    if runtime.is_gvisor() {
        return Err(
            "gVisor here (runsc 2024-07, cgroup v1 host) cannot give systemd the cgroup v2 tree it needs as PID 1"
                .into(),
        );
    }
    match name {
        "runc" => Err("systemd as PID 1 under runc needs a privileged container (cgroup and /sys writes), which sandbox never creates".into()),
        other => Err(format!("no systemd target image is known to work under `{other}`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registered(path: &str, args: &[&str]) -> RegisteredRuntime {
        RegisteredRuntime { path: path.into(), args: args.iter().map(|a| a.to_string()).collect() }
    }

    #[test]
    fn gvisor_is_known_by_its_binary_whatever_the_registered_name() {
        assert!(registered("/usr/bin/runsc", &["--platform=systrap"]).is_gvisor());
        assert!(registered("runsc", &[]).is_gvisor());
        assert!(!registered("runc", &[]).is_gvisor());
        assert!(!registered("/usr/bin/runsc-wrapper", &[]).is_gvisor());
    }

    #[test]
    fn platform_comes_from_the_runtime_args() {
        assert_eq!(registered("/usr/bin/runsc", &["--network=host", "--platform=ptrace"]).platform(), Some("ptrace"));
        assert_eq!(registered("/usr/bin/runsc", &["--network=host"]).platform(), None);
    }

    #[test]
    fn only_gvisors_memory_overlay_bounds_writes() {
        let args = ["--network=host", "--platform=ptrace", "--overlay2=root:memory"];
        assert_eq!(registered("/usr/bin/runsc", &args).write_bound(), WriteBound::Memory);
        assert_eq!(registered("/usr/bin/runsc", &["--overlay2=all:memory"]).write_bound(), WriteBound::Memory);
        assert_eq!(registered("/usr/bin/runsc", &["--overlay2=root:self"]).write_bound(), WriteBound::HostDisk);
        assert_eq!(registered("/usr/bin/runsc", &["--platform=ptrace"]).write_bound(), WriteBound::HostDisk);
        assert_eq!(registered("/usr/bin/runc", &["--overlay2=root:memory"]).write_bound(), WriteBound::HostDisk);
    }

    #[test]
    fn the_pids_cgroup_leaves_room_for_gvisor_host_threads_only_under_gvisor() {
        assert_eq!(host_pids_limit(true, 256), 4608);
        assert_eq!(host_pids_limit(false, 256), 256);
    }

    #[test]
    fn every_container_is_confined_by_its_limits_and_without_privileges() {
        let limits = Limits::default();
        let confined = confine(&limits, true);
        assert_eq!(confined.memory_bytes, crate::challenge::DEFAULT_MEMORY as i64);
        assert_eq!((confined.nproc, confined.pids_limit), (limits.pids, host_pids_limit(true, limits.pids)));
        assert!(confined.no_new_privileges);
        assert!(confined.cap_drop.contains(&"SYS_PTRACE".to_string()));
        assert!(confined.tmpfs["/tmp"].contains("size=256m"));
    }

    #[test]
    fn systemd_never_runs_under_gvisor_or_unprivileged_runc() {
        assert!(systemd_support("runsc", &registered("/usr/bin/runsc", &[])).is_err());
        assert!(systemd_support("runc", &registered("runc", &[])).is_err());
    }
}
