//! Bad input gets its own diagnostic, pointing at the problem, and exit 2 before any
//! container starts. Docker trouble gets exit 3.

// The diagnostics carry their source text (see lib.rs).
#![allow(clippy::result_large_err)]

use crate::harness::{Fixture, Sandbox, PASSING_CHECK};

const PLAY: &str = "- hosts: all\n  gather_facts: false\n  tasks: []\n";

fn assert_usage_error(fixture: &Fixture, code: &str, needles: &[&str]) {
    let out = needles
        .iter()
        .fold(Sandbox::new(["run", &fixture.path_str()]).status(2).stderr_has(code), |test, needle| {
            test.stderr_has(needle)
        })
        .run();
    assert!(!out.stderr.contains("starting"), "a container was started:\n{}", out.stderr);
}

#[test]
fn malformed_toml_points_at_the_line() {
    let fixture = Fixture::new("title = \"t\ndistros = [\"debian-12\"]\n", PLAY, PASSING_CHECK);
    assert_usage_error(&fixture, "sandbox::challenge::syntax", &["challenge.toml:1"]);
}

#[test]
fn unknown_keys_are_named() {
    let fixture = Fixture::new("title = \"t\"\ndistros = [\"debian-12\"]\nflavour = \"x\"\n", PLAY, PASSING_CHECK);
    assert_usage_error(&fixture, "sandbox::challenge::syntax", &["unknown field `flavour`"]);
}

#[test]
fn distro_outside_the_catalog_is_refused_with_the_list() {
    let fixture = Fixture::new("title = \"t\"\ndistros = [\"debian-12\", \"kali-2024\"]\n", PLAY, PASSING_CHECK);
    assert_usage_error(
        &fixture,
        "sandbox::challenge::unknown_distro",
        &["kali-2024", "not in the distro catalog", "debian-13"],
    );
}

#[test]
fn check_path_leaving_the_challenge_is_refused() {
    let fixture =
        Fixture::new("title = \"t\"\ndistros = [\"debian-12\"]\ncheck = \"../../etc/passwd\"\n", PLAY, PASSING_CHECK);
    assert_usage_error(&fixture, "sandbox::challenge::path_outside", &["../../etc/passwd"]);
}

#[test]
fn missing_playbook_is_named() {
    let fixture =
        Fixture::new("title = \"t\"\ndistros = [\"debian-12\"]\nplaybook = \"site.yml\"\n", PLAY, PASSING_CHECK);
    assert_usage_error(&fixture, "sandbox::challenge::missing_file", &["site.yml"]);
}

#[test]
fn symlink_out_of_the_challenge_is_refused() {
    let fixture = Fixture::new("title = \"t\"\ndistros = [\"debian-12\"]\n", PLAY, PASSING_CHECK);
    std::os::unix::fs::symlink("/etc/shadow", fixture.path().join("files")).unwrap();
    assert_usage_error(&fixture, "sandbox::challenge::symlink_outside", &["files"]);
}

#[test]
fn missing_challenge_directory_is_a_usage_error() {
    let out = Sandbox::new(["run", "/nonexistent/challenge"]).status(2).run();
    assert!(out.stderr.contains("no challenge.toml in /nonexistent/challenge"), "{}", out.stderr);
}

#[test]
fn dead_docker_daemon_is_exit_3_with_the_fix() {
    let fixture = Fixture::new("title = \"t\"\ndistros = [\"debian-12\"]\n", PLAY, PASSING_CHECK);
    let out = Sandbox::new(["run", &fixture.path_str()])
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .status(3)
        .run();
    assert!(out.stderr.contains("cannot reach the Docker daemon"), "{}", out.stderr);
    assert!(out.stderr.contains("scripts/setup.sh"), "{}", out.stderr);

    let doctor = Sandbox::new(["doctor"]).env("DOCKER_HOST", "unix:///nonexistent/docker.sock").output();
    assert_eq!(doctor.code, 3, "{}", doctor.stdout);
    assert!(doctor.stdout.contains("FAIL docker daemon"), "{}", doctor.stdout);
    assert!(doctor.stdout.contains("fix: sudo scripts/setup.sh"), "{}", doctor.stdout);
}

#[test]
fn doctor_is_ready_after_setup() {
    let out = Sandbox::new(["doctor"]).status(0).run();
    assert!(out.stdout.contains("runtime runsc"), "{}", out.stdout);
    let bound = out.stdout.lines().find(|l| l.contains("write bound")).unwrap_or_default();
    assert!(bound.starts_with("ok") && bound.contains("overlay in memory"), "{}", out.stdout);
    for distro in ["debian-11", "debian-12", "debian-13"] {
        let line = out.stdout.lines().find(|l| l.contains(distro)).unwrap_or_default();
        assert!(line.starts_with("ok"), "{distro} not ready: {line}");
    }
}

#[test]
fn unregistered_runtime_is_exit_3() {
    let fixture = Fixture::new("title = \"t\"\ndistros = [\"debian-12\"]\n", PLAY, PASSING_CHECK);
    let out = Sandbox::new(["run", &fixture.path_str(), "--runtime", "kata"]).status(3).run();
    assert!(out.stderr.contains("runtime `kata` is not registered"), "{}", out.stderr);
}

/// gVisor is known by its binary: setup's `runsc-systrap` registration is gVisor (no notice,
/// gVisor's platform in doctor), runc is not and the run says so.
#[test]
fn gvisor_is_recognised_under_any_registered_name() {
    let doctor = Sandbox::new(["doctor", "--runtime", "runsc-systrap"]).output();
    assert_eq!(doctor.code, 0, "{}", doctor.stdout);
    let platform = doctor.stdout.lines().find(|l| l.contains("gvisor platform")).unwrap_or_default();
    assert!(platform.contains("systrap"), "{}", doctor.stdout);

    let fixture = Fixture::new("title = \"t\"\ndistros = [\"debian-12\"]\n", PLAY, PASSING_CHECK);
    for (runtime, weaker) in [("runsc-systrap", false), ("runc", true)] {
        let out = Sandbox::new(["run", &fixture.path_str(), "--runtime", runtime, "--no-pool"]).status(0).run();
        assert_eq!(out.stderr.contains("isolation is weaker"), weaker, "{runtime}: {}", out.stderr);
        let unbounded = out.stderr.contains("writes to the host's disk without a bound");
        assert_eq!(unbounded, weaker, "{runtime}: {}", out.stderr);
    }
}

/// The operator's config: its ceilings bind challenges, its runtime is the default, its
/// distros join the catalog.
#[test]
fn operator_config_sets_ceilings_runtime_and_extra_distros() {
    let config = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        config.path(),
        "runtime = \"kata\"\n[ceilings]\npids = 128\n\
         [[distro]]\nname = \"debian-12-lab\"\nbase_image = \"debian:12\"\nfamily = \"apt\"\ninstall = \"apt-get update\"\n",
    )
    .unwrap();
    let config_path = config.path().display().to_string();

    let too_many =
        Fixture::new("title = \"t\"\ndistros = [\"debian-12\"]\n[limits]\npids = 256\n", PLAY, PASSING_CHECK);
    let out = Sandbox::new(["run", &too_many.path_str()]).env("SANDBOX_CONFIG", &config_path).status(2).run();
    assert!(out.stderr.contains("must be between 32 and 128"), "{}", out.stderr);

    let custom = Fixture::new("title = \"t\"\ndistros = [\"debian-12-lab\"]\n", PLAY, PASSING_CHECK);
    let out = Sandbox::new(["run", &custom.path_str()]).env("SANDBOX_CONFIG", &config_path).status(3).run();
    assert!(out.stderr.contains("runtime `kata` is not registered"), "{}", out.stderr);

    let doctor = Sandbox::new(["doctor"]).env("SANDBOX_CONFIG", &config_path).output();
    assert!(doctor.stdout.contains("debian-12-lab"), "{}", doctor.stdout);

    std::fs::write(config.path(), "runtme = \"runc\"\n").unwrap();
    let out = Sandbox::new(["doctor"]).env("SANDBOX_CONFIG", &config_path).status(2).run();
    assert!(out.stderr.contains("unknown field `runtme`"), "{}", out.stderr);
}

/// Bad input needs no Docker, so `sandbox::run` refuses it in-process, with the binary's exit
/// codes (the tests above read the diagnostics' text from the binary's stderr); `new` and
/// `lint` work in-process too, and the scaffold they make is valid.
#[test]
fn bad_input_new_and_lint_work_in_process() {
    use clap::Parser;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let run = |args: &[&str]| runtime.block_on(sandbox::run(sandbox::cli::Cli::parse_from(args)));
    let malformed = Fixture::new("title = \"t\ndistros = [\"debian-12\"]\n", PLAY, PASSING_CHECK);
    let unknown = Fixture::new("title = \"t\"\ndistros = [\"kali-2024\"]\n", PLAY, PASSING_CHECK);
    for dir in [malformed.path_str(), unknown.path_str(), "/nonexistent/challenge".to_string()] {
        let err = run(&["sandbox", "run", &dir]).unwrap_err();
        assert!(matches!(err, sandbox::Error::Challenge(_)), "{dir}: {err:?}");
        assert_eq!(err.exit_status(), sandbox::ExitStatus::Usage, "{dir}");
    }
    let root = tempfile::tempdir().unwrap();
    let scaffold = root.path().join("fresh").display().to_string();
    assert_eq!(run(&["sandbox", "new", &scaffold]).unwrap(), sandbox::ExitStatus::Success);
    assert_eq!(run(&["sandbox", "lint", &scaffold]).unwrap(), sandbox::ExitStatus::Success);
    let again = run(&["sandbox", "new", &scaffold]).unwrap_err();
    assert_eq!(again.exit_status(), sandbox::ExitStatus::Usage, "{again:?}");
}
