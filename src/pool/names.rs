//! The pool's name protocol. A pooled container's state lives in its Docker name, because a
//! rename is the one change Docker makes atomically: `sandbox-pool-NS-warming-KIND-NONCE`
//! while it boots, `sandbox-pool-NS-ready-KIND-NONCE` once of use, and
//! `sandbox-RUN-KIND-until-DEADLINE` once a run claimed it. Built and read only here.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::challenge::Limits;
use crate::images::ImageKind;

/// Where an unclaimed pooled container is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    Warming,
    Ready,
}

impl Slot {
    fn as_str(self) -> &'static str {
        match self {
            Slot::Warming => "warming",
            Slot::Ready => "ready",
        }
    }
}

/// The names of one pool (its namespace).
#[derive(Debug, Clone)]
pub struct Names {
    namespace: String,
}

impl Names {
    pub fn new(namespace: &str) -> Names {
        Names { namespace: namespace.to_string() }
    }

    /// The internal network idle pooled containers wait on.
    pub fn parking_network(&self) -> String {
        format!("sandbox-pool-{}", self.namespace)
    }

    /// Whether `name` is an unclaimed container of this pool (claimed ones are their run's).
    pub fn is_unclaimed(&self, name: &str) -> bool {
        name.starts_with(&format!("sandbox-pool-{}-", self.namespace))
    }

    /// Whether `name` is a container of `kind` in `slot`.
    pub fn is_in(&self, name: &str, slot: Slot, kind: ImageKind) -> bool {
        name.starts_with(&self.prefix(slot, kind))
    }

    /// A new warming container's name.
    pub fn warming(&self, kind: ImageKind) -> String {
        format!("{}{}", self.prefix(Slot::Warming, kind), nonce())
    }

    /// The name a warming container takes once it is ready.
    pub fn ready(&self, warming: &str, kind: ImageKind) -> String {
        warming.replacen(&self.prefix(Slot::Warming, kind), &self.prefix(Slot::Ready, kind), 1)
    }

    fn prefix(&self, slot: Slot, kind: ImageKind) -> String {
        format!("sandbox-pool-{}-{}-{}-", self.namespace, slot.as_str(), kind.hostname())
    }
}

/// The name of a container `run` claimed; its deadline lets a later run sweep it when the
/// claiming process died.
pub fn claimed(run: &str, kind: ImageKind, deadline: u64) -> String {
    format!("sandbox-{run}-{}-until-{deadline}", kind.hostname())
}

/// The deadline a claimed container's name carries, if it is one.
pub fn claim_deadline(name: &str) -> Option<u64> {
    name.rsplit_once("-until-").and_then(|(_, deadline)| deadline.parse().ok())
}

/// What a pooled container was made with; only a run wanting exactly this may take it.
#[derive(Debug, Clone, PartialEq)]
pub struct Key<'a> {
    pub runtime: &'a str,
    pub limits: Limits,
}

impl std::fmt::Display for Key<'_> {
    /// The label value: `runtime/memory/cpus/pids`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The build write bound is the Docker track's: pooled targets never build.
        let Limits { memory_bytes, cpus, pids, .. } = self.limits;
        write!(f, "{}/{memory_bytes}/{cpus}/{pids}", self.runtime)
    }
}

fn nonce() -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().subsec_nanos();
    format!("{:08x}{:04x}", nanos ^ std::process::id().rotate_left(16), counter())
}

/// Distinguishes containers created in the same nanosecond by one process.
fn counter() -> u16 {
    static COUNTER: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);
    COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distro::builtin;

    #[test]
    fn nonces_differ_within_a_process() {
        assert_ne!(nonce(), nonce());
    }

    #[test]
    fn a_container_goes_from_warming_to_ready_to_claimed() {
        let names = Names::new("tests");
        let kind = ImageKind::Target(builtin("debian-12").unwrap());
        let warming = names.warming(kind);
        assert!(names.is_in(&warming, Slot::Warming, kind) && !names.is_in(&warming, Slot::Ready, kind));
        let ready = names.ready(&warming, kind);
        assert!(names.is_in(&ready, Slot::Ready, kind) && names.is_unclaimed(&ready));
        assert!(!names.is_in(&ready, Slot::Ready, ImageKind::Controller));
        let claimed = claimed("0123456789", kind, 1_700_000_000);
        assert!(!names.is_unclaimed(&claimed));
        assert_eq!(claim_deadline(&claimed), Some(1_700_000_000));
        assert_eq!(claim_deadline(&ready), None);
        assert!(!Names::new("other").is_unclaimed(&ready));
    }

    #[test]
    fn the_key_names_runtime_and_limits() {
        let key = Key { runtime: "runsc", limits: Limits::default() };
        assert_eq!(key.to_string(), format!("runsc/{}/2/256", crate::challenge::DEFAULT_MEMORY));
    }
}
