//! What sandbox writes on everything it creates, so that it (or a later process, after a
//! crash) can find and remove it.

/// Label on everything a run creates; its value is the run id.
pub const RUN: &str = "io.sandbox.run";
/// Unix time after which the owning run is certainly over (its deadline).
pub const DEADLINE: &str = "io.sandbox.deadline";
/// What a container or network is to its run: a `Role`.
pub const ROLE: &str = "io.sandbox.role";
/// A run's target: its distro's name (`debian-12`).
pub const DISTRO: &str = "io.sandbox.distro";
/// A prepared image: its repository (`sandbox/target-debian-12`, `sandbox/packages-debian-12`).
pub const IMAGE: &str = "io.sandbox.image";
/// On every pooled container and the parking network; the value is the pool's namespace.
pub const POOL: &str = "io.sandbox.pool";
/// A pooled container's kind: `debian-12`, …, `controller`.
pub const POOL_KIND: &str = "io.sandbox.kind";
/// Runtime and limits a pooled container was created with: only a run wanting exactly these
/// may take it.
pub const POOL_KEY: &str = "io.sandbox.pool.key";
/// On a warm set's containers and network: the set's key (what it was made for, `run::warm`).
pub const SET_KEY: &str = "io.sandbox.set.key";
/// On a warm set's containers and network: the id of the recipe it was made from.
pub const SET_RECIPE: &str = "io.sandbox.set.recipe";

/// The value of `ROLE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Target,
    Controller,
    Network,
    /// Docker track: the learner's image running.
    App,
    /// Docker track: ours, beside the app, for check.sh and the http check.
    Probe,
    /// Docker track: the image created, never started, for structure tests to read its files.
    Files,
    /// Docker track: the image running one of a structure test's commands.
    Command,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Target => "target",
            Role::Controller => "controller",
            Role::Network => "network",
            Role::App => "app",
            Role::Probe => "probe",
            Role::Files => "files",
            Role::Command => "command",
        }
    }
}

/// A new run id (the value of `RUN`): 10 hex digits from the clock and the process id.
pub fn new_run_id() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos();
    let mixed = (nanos as u64) ^ ((std::process::id() as u64) << 40) ^ ((nanos >> 64) as u64);
    let mixed = mixed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    format!("{:010x}", mixed >> 24)
}
