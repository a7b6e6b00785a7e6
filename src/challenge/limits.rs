//! `[limits]`: what one container (and one build step) may use, by default and as a challenge
//! asks within the operator's ceilings.

use serde::Deserialize;
use toml::Spanned;

use super::allowed::Ceilings;
use super::error::ChallengeError;
use super::parsed::Parsed;
use crate::units::parse_memory;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLimits {
    memory: Option<Spanned<String>>,
    cpus: Option<Spanned<f64>>,
    pids: Option<Spanned<i64>>,
    build_writes: Option<Spanned<String>>,
}

/// A target's memory unless `[limits] memory` says otherwise (within the ceiling). Under
/// gVisor's memory overlay every file written outside /tmp counts against it: apt's lists and
/// .deb cache, the installed files, the running services. Measured peaks (debian-12, runsc,
/// `apt-get update && apt-get install`): apache2 438 MiB, php-fpm with 14 extensions 570 MiB,
/// mariadb-server 685 MiB, postgresql 863 MiB, a LAMP stack in one target 1003 MiB;
/// 512 MiB no longer fitted a PHP stack, and 1 GiB leaves a LAMP role no room.
pub const DEFAULT_MEMORY: u64 = 1536 * 1024 * 1024;

/// Per-container resource limits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    pub memory_bytes: u64,
    pub cpus: f64,
    pub pids: i64,
    /// The most one build step may write (the Docker track's `RUN`, `COPY`…).
    pub build_write_bytes: u64,
    /// The operator's memory ceiling, which an out-of-memory reason names as the most a
    /// challenge may ask for.
    pub memory_ceiling_bytes: u64,
}

impl Default for Limits {
    /// Two CPUs by default, the default ceiling: gVisor does a syscall's work in its Sentry, in
    /// the container's cgroup, so the CPU quota bounds package installs more than anything.
    /// Measured here (runsc ptrace, `apt-get install php-fpm` in a fresh Debian 12): 194 s at
    /// 0.5 CPU, 102 s at 1, 83 s at 2, 85 s unlimited. A quota does not protect a host from a
    /// busy neighbour better than the scheduler's fair share does; it only idles CPUs.
    fn default() -> Self {
        Limits {
            memory_bytes: DEFAULT_MEMORY,
            cpus: 2.0,
            pids: 256,
            build_write_bytes: DEFAULT_BUILD_WRITES,
            memory_ceiling_bytes: Ceilings::default().memory_bytes,
        }
    }
}

impl Limits {
    /// The controller runs Ansible for every target at once and its Python start-up under
    /// gVisor dominates a run's time (measured here: one task took 6-8 s with 0.5 CPU); it
    /// gets at least two CPUs and 1 GiB, or the targets' limits where those are higher.
    pub fn for_controller(&self) -> Limits {
        Limits { memory_bytes: self.memory_bytes.max(1024 * 1024 * 1024), cpus: self.cpus.max(2.0), ..*self }
    }
}

/// What one build step may write unless its challenge says otherwise: the bundled Docker
/// challenges' largest step writes ~40 MB (a Debian package install), so a real install of a
/// toolchain fits, and a runaway write stops at a size the builder's store absorbs.
pub const DEFAULT_BUILD_WRITES: u64 = 1024 * 1024 * 1024;

/// The least a challenge may lower a build step's write bound to.
const MIN_BUILD_WRITES: u64 = 16 * 1024 * 1024;

impl Parsed {
    /// `[limits]`, each within its ceiling.
    pub(super) fn limits(&self, raw: &RawLimits) -> Result<Limits, ChallengeError> {
        let ceilings = &self.allowed.ceilings;
        let mut limits = Limits {
            memory_bytes: DEFAULT_MEMORY.min(ceilings.memory_bytes),
            memory_ceiling_bytes: ceilings.memory_bytes,
            ..Limits::default()
        };
        if let Some(memory) = &raw.memory {
            limits.memory_bytes =
                parse_memory(memory.get_ref()).map_err(|message| self.invalid("memory", &message, memory.span()))?;
            if limits.memory_bytes > ceilings.memory_bytes || limits.memory_bytes < 64 * 1024 * 1024 {
                let message = format!("must be between 64m and {}m", ceilings.memory_bytes / (1024 * 1024));
                return Err(self.invalid("memory", &message, memory.span()));
            }
        }
        if let Some(cpus) = &raw.cpus {
            limits.cpus = *cpus.get_ref();
            if !(0.1..=ceilings.cpus).contains(&limits.cpus) {
                let message = format!("must be between 0.1 and {}", ceilings.cpus);
                return Err(self.invalid("cpus", &message, cpus.span()));
            }
        }
        if let Some(pids) = &raw.pids {
            limits.pids = *pids.get_ref();
            if !(32..=ceilings.pids).contains(&limits.pids) {
                let message = format!("must be between 32 and {}", ceilings.pids);
                return Err(self.invalid("pids", &message, pids.span()));
            }
        }
        if let Some(writes) = &raw.build_writes {
            let invalid = |message: &str| self.invalid("build_writes", message, writes.span());
            limits.build_write_bytes = parse_memory(writes.get_ref()).map_err(|message| invalid(&message))?;
            if !(MIN_BUILD_WRITES..=ceilings.build_write_bytes).contains(&limits.build_write_bytes) {
                let mib = |bytes: u64| bytes / (1024 * 1024);
                return Err(invalid(&format!(
                    "must be between {}m and {}m",
                    mib(MIN_BUILD_WRITES),
                    mib(ceilings.build_write_bytes)
                )));
            }
        }
        Ok(limits)
    }
}

#[cfg(test)]
mod tests {
    use crate::challenge::fixture::challenge_dir;
    use crate::challenge::{Allowed, Challenge, ChallengeError};

    #[test]
    fn limits_above_the_ceiling_are_rejected() {
        let dir = challenge_dir("title = \"t\"\ndistros = [\"debian-12\"]\n[limits]\nmemory = \"64g\"\n");
        assert!(matches!(
            Challenge::load(dir.path(), &Allowed::default()).unwrap_err(),
            ChallengeError::InvalidValue { key: "memory", .. }
        ));
    }

    #[test]
    fn a_build_write_bound_is_taken_within_its_ceiling() {
        let load = |value: &str| {
            let toml = format!("title = \"t\"\ndistros = [\"debian-12\"]\n[limits]\nbuild_writes = \"{value}\"\n");
            Challenge::load(challenge_dir(&toml).path(), &Allowed::default())
        };
        assert_eq!(load("200m").unwrap().limits.build_write_bytes, 200 * 1024 * 1024);
        for refused in ["4g", "1m", "lots"] {
            assert!(
                matches!(load(refused).unwrap_err(), ChallengeError::InvalidValue { key: "build_writes", .. }),
                "{refused}"
            );
        }
    }
}
