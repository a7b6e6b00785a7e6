//! What sandbox writes on everything it creates, so that it (or a later process, after a
//! crash) can find and remove it.

/// Label on everything a run creates; its value is the run id.
pub const RUN: &str = "io.sandbox.run";
/// Unix time after which the owning run is certainly over (its deadline).
pub const DEADLINE: &str = "io.sandbox.deadline";
/// `target`, `controller`, `network`.
pub const ROLE: &str = "io.sandbox.role";
/// On a target: its distro's catalog name.
pub const DISTRO: &str = "io.sandbox.distro";

/// A new run id (the value of `RUN`): 10 hex digits from the clock and the process id.
pub fn new_run_id() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos();
    let mixed = (nanos as u64) ^ ((std::process::id() as u64) << 40) ^ ((nanos >> 64) as u64);
    let mixed = mixed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    format!("{:010x}", mixed >> 24)
}
