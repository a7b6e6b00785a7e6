//! What sandbox writes on everything it creates, so that it (or a later process, after a
//! crash) can find and remove it.

/// Label on everything a run creates; its value is the run id.
pub const RUN: &str = "io.sandbox.run";
/// Unix time after which the owning run is certainly over (its deadline).
pub const DEADLINE: &str = "io.sandbox.deadline";
/// `target`, `controller`, `network`.
pub const ROLE: &str = "io.sandbox.role";
