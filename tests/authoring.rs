//! Authoring commands against real containers: `new` + `test` (with JUnit and JSON), and
//! `shell` through a pseudo-terminal.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::harness::{leftovers, lines_of, run_id_in, wait_for_line, wait_with_bound, Sandbox};

fn new_challenge(root: &Path, name: &str, distros: &[&str]) -> std::path::PathBuf {
    let dir = root.join(name);
    let mut args = vec!["new".to_string(), dir.display().to_string()];
    for distro in distros {
        args.extend(["--distro".to_string(), distro.to_string()]);
    }
    Sandbox::new(args).status(0).run();
    dir
}

fn challenge<'a>(json: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    json["challenges"].as_array().unwrap().iter().find(|c| c["challenge"] == id).unwrap()
}

/// One suite of three: a fresh scaffold (must pass as written), one whose starter already
/// solves it (broken) and one whose solution misses the check (failed, with platform and
/// reason). The JUnit file must validate and agree with the JSON.
#[test]
fn test_passes_a_new_challenge_and_names_broken_and_failing_ones() {
    let root = tempfile::Builder::new().prefix("sandbox-suite-").tempdir().unwrap();
    new_challenge(root.path(), "fresh", &[]);
    let broken = new_challenge(root.path(), "broken", &[]);
    std::fs::copy(broken.join("solution/playbook.yml"), broken.join("playbook.yml")).unwrap();
    let failing = new_challenge(root.path(), "failing", &["debian-12", "ubuntu-22.04"]);
    let solution = std::fs::read_to_string(failing.join("solution/playbook.yml")).unwrap();
    std::fs::write(failing.join("solution/playbook.yml"), solution.replace("Welcome to the challenge", "Welcome"))
        .unwrap();

    let junit = root.path().join("junit.xml");
    let root_arg = root.path().display().to_string();
    let junit_arg = junit.display().to_string();
    let out = Sandbox::new(["test", &root_arg, "--jobs", "2", "--json", "--junit", &junit_arg]).status(1).run();
    let json = out.json();
    assert_eq!(json["passed"], false);

    let fresh = challenge(&json, "fresh");
    assert_eq!(fresh["status"], "passed", "{fresh}");
    assert_eq!(fresh["solution"]["platforms"][0]["verdict"], "passed");
    assert_eq!(fresh["starter"]["platforms"][0]["verdict"], "failed");

    let broken = challenge(&json, "broken");
    assert_eq!(broken["status"], "broken", "{broken}");
    assert_eq!(broken["reasons"][0], "debian-12: the starter already passes: there is nothing to solve");

    let failing = challenge(&json, "failing");
    assert_eq!(failing["status"], "failed", "{failing}");
    assert_eq!(
        failing["reasons"][0],
        "debian-12: solution failed: check after pass 1: FAIL: /etc/motd does not say 'Welcome to the challenge'"
    );
    // No registry here: ubuntu-22.04 is skipped and said so, never counted as passed.
    let ubuntu = &failing["platforms"][1];
    assert_eq!(ubuntu["distro"], "ubuntu-22.04");
    assert_eq!(ubuntu["solution"]["outcome"], "skipped");
    assert!(ubuntu["solution"]["message"].as_str().unwrap().contains("ubuntu:22.04"), "{ubuntu}");

    // The table (stderr with --json) names every challenge and the reasons.
    assert!(out.stderr.contains("broken: debian-12: the starter already passes"), "{}", out.stderr);
    assert!(out.stderr.contains("FAILED 2 of 3 challenge(s)"), "{}", out.stderr);

    let xml = std::fs::read_to_string(&junit).unwrap();
    let schema = crate::harness::repo().join("tests/fixtures/junit.xsd");
    let lint = Command::new("xmllint").arg("--noout").arg("--schema").arg(&schema).arg(&junit).output().unwrap();
    assert!(lint.status.success(), "{}\n{xml}", String::from_utf8_lossy(&lint.stderr));
    // 2 + 2 + 4 testcases; the broken starter and the failing solution are failures; ubuntu's
    // two cases are skipped.
    assert!(xml.contains("<testsuites name=\"sandbox test\" tests=\"8\" failures=\"2\" errors=\"0\""), "{xml}");
    assert_eq!(xml.matches("<skipped").count(), 2, "{xml}");
    assert!(xml.contains("name=\"debian-12: solution passes\""), "{xml}");
    assert!(xml.contains("check after pass 1: FAIL: /etc/motd does not say"), "{xml}");
}

/// `sandbox shell` under `script` (a real pseudo-terminal): a command typed in it runs in the
/// target, and everything is removed when the shell exits.
#[test]
fn shell_runs_typed_commands_in_the_target_and_cleans_up() {
    let root = tempfile::Builder::new().prefix("sandbox-shell-").tempdir().unwrap();
    let dir = new_challenge(root.path(), "look-around", &[]);
    let command = format!("{} shell {} --solution", env!("CARGO_BIN_EXE_sandbox"), dir.display());
    let mut child = Command::new("script")
        .args(["-qfec", &command, "/dev/null"])
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script(1) runs");
    let lines = lines_of(child.stdout.take().unwrap());
    let mut stdin = child.stdin.take().unwrap();

    let (_, before) = wait_for_line(&lines, "opening a shell in debian-12", Duration::from_secs(300))
        .unwrap_or_else(|| panic!("no shell opened"));
    let run = before.iter().find_map(|l| run_id_in(l)).expect("the run announces its id");
    // The arithmetic proves the line was executed, not echoed back.
    stdin.write_all(b"echo marker-$((6*7)) $(hostname) $(cat /etc/motd)\n").unwrap();
    let seen = wait_for_line(&lines, "marker-42 debian-12 Welcome to the challenge", Duration::from_secs(60));
    assert!(seen.is_some(), "the typed command did not run in the target");
    stdin.write_all(b"exit\n").unwrap();
    let status = wait_with_bound(&mut child, Duration::from_secs(120)).expect("the shell ends after `exit`");
    assert!(status.success(), "{status:?}");
    assert_eq!(leftovers(&run), (0, 0));
}
