//! One integration-test binary: every test here runs the real `sandbox` binary against real
//! Docker, real runsc and real Ansible (see scripts/test.sh, which prepares the host).

mod harness;

mod architecture;
mod authoring;
mod bounded_builds;
mod build;
mod ci;
mod completions;
mod defense;
mod docker_track;
mod fidelity;
mod goss;
mod input;
mod journey;
mod lint;
mod listing;
mod loopback6;
mod offline;
mod pool;
mod remote;
mod run;
mod services;
mod supervised;
mod supervised_packages;
mod systemctl_mock;
mod warm_sets;
mod watch;
