//! What the operator allows a challenge (the settings' `[ceilings]` and distro catalog): a
//! challenge is untrusted input, and every limit it asks for is checked against these.

use std::time::Duration;

use crate::distro::Catalog;

/// The most any ceiling allows: the build API carries the bound in 32 bits (see `BuildLimits`).
pub const MAX_BUILD_WRITES: u64 = 2047 * 1024 * 1024;

/// Limits no challenge can raise (the operator's `[ceilings]`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ceilings {
    pub memory_bytes: u64,
    pub cpus: f64,
    pub pids: i64,
    pub timeout: Duration,
    pub build_write_bytes: u64,
}

impl Default for Ceilings {
    fn default() -> Self {
        Ceilings {
            memory_bytes: 4 * 1024 * 1024 * 1024,
            cpus: 2.0,
            pids: 4096,
            timeout: Duration::from_secs(2 * 3600),
            build_write_bytes: MAX_BUILD_WRITES,
        }
    }
}

/// What the operator allows a challenge: the distros it may name, the limits it may not exceed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Allowed {
    pub catalog: Catalog,
    pub ceilings: Ceilings,
}
