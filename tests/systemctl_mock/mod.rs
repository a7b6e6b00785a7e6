//! Black-box tests of the systemctl stand-in installed in sandbox targets (gVisor
//! containers without systemd): the static binary built from `mocks/sandbox-systemctl`
//! (by build.rs, the very bytes the target images embed).
//!
//! Every test runs it against a scratch `SYSTEMCTL_ROOT`, called as `systemctl` and
//! `journalctl` through links in a directory that is the whole PATH: the binary may rely on
//! no external tool (a target may lack any of them), so one it tried to run would fail the
//! tests.
//!
//! `harness` holds that target (`Sys`) and what a call returns (`Out`); the other files are the
//! tests, one topic each.

mod harness;

mod ansible;
mod binary;
mod dependencies;
mod enablement;
mod lifecycle;
mod listing;
mod show_status;
mod supervised;
mod unit_lookup;
mod verbs;
