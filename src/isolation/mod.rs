//! Isolation policy: how every container sandbox starts is confined (runtime, hardening,
//! limits) and the guard that kills a container about to exhaust them.

pub mod guard;
