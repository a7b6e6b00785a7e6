//! CI beyond one machine: `sandbox test --partition` shares, `--changed-since` against a real
//! git repository, `--list` without Docker.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::harness::Sandbox;

/// Nothing listens here: a command that reaches for Docker fails with exit 3.
const NO_DOCKER: &str = "unix:///nonexistent/sandbox-ci-docker.sock";

/// `sandbox new` in `root`: a real challenge that passes `sandbox test` as written.
fn scaffold(root: &Path, name: &str) -> PathBuf {
    let dir = root.join(name);
    let out = Sandbox::new(["new".to_string(), dir.display().to_string()]).output();
    assert_eq!(out.code, 0, "{}", out.stderr);
    dir
}

/// The challenge ids `sandbox test ARGS --list --json` selects (no Docker reachable).
fn listed(args: &[&str]) -> Vec<String> {
    let mut all = vec!["test"];
    all.extend(args);
    all.extend(["--list", "--json"]);
    let out = Sandbox::new(all).env("DOCKER_HOST", NO_DOCKER).output();
    assert_eq!(out.code, 0, "{args:?}\nstdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
    out.json()["selected"].as_array().unwrap().iter().map(|s| s["challenge"].as_str().unwrap().to_string()).collect()
}

const IDS: [&str; 7] = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf"];

#[test]
fn partition_shares_are_disjoint_cover_everything_and_are_stable() {
    let root = tempfile::Builder::new().prefix("sandbox-ci-").tempdir().unwrap();
    // Created out of order: shares follow ids, not creation or directory order.
    for id in IDS.iter().rev() {
        scaffold(root.path(), id);
    }
    let root_arg = root.path().display().to_string();
    let everything: BTreeSet<String> = IDS.iter().map(|s| s.to_string()).collect();
    for scheme in ["", "hash:"] {
        let shares: Vec<Vec<String>> =
            (1..=3).map(|k| listed(&[&root_arg, "--partition", &format!("{scheme}{k}/3")])).collect();
        let again: Vec<Vec<String>> =
            (1..=3).map(|k| listed(&[&root_arg, "--partition", &format!("{scheme}{k}/3")])).collect();
        assert_eq!(shares, again, "{scheme}: two invocations chose differently");
        let union: BTreeSet<String> = shares.iter().flatten().cloned().collect();
        assert_eq!(shares.iter().map(Vec::len).sum::<usize>(), union.len(), "{scheme}: shares overlap: {shares:?}");
        assert_eq!(union, everything, "{scheme}: shares miss some: {shares:?}");
        if scheme.is_empty() {
            // By count: sizes 3, 2, 2.
            assert_eq!(shares.iter().map(Vec::len).collect::<Vec<_>>(), vec![3, 2, 2], "{shares:?}");
        }
    }

    // Recorded durations move the long one onto a share of its own.
    let durations = root.path().join("durations.json");
    std::fs::write(&durations, r#"{"durations": {"alpha": 600, "bravo": 60, "charlie": 60, "delta": 60}}"#).unwrap();
    let durations_arg = durations.display().to_string();
    let first = listed(&[&root_arg, "--partition", "1/2", "--durations", &durations_arg]);
    assert_eq!(first, vec!["alpha"], "by durations");
    assert_eq!(listed(&[&root_arg, "--partition", "2/2", "--durations", &durations_arg]).len(), 6);

    // The plain listing is one directory a line, for scripts.
    let out = Sandbox::new(["test", &root_arg, "--partition", "2/3", "--list"]).env("DOCKER_HOST", NO_DOCKER).output();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let dirs: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(dirs.len(), 2, "{}", out.stdout);
    assert!(dirs.iter().all(|d| Path::new(d).join("challenge.toml").is_file()), "{}", out.stdout);
    assert!(out.stderr.contains("2 of 7 challenge(s): share 2/3, balanced by count"), "{}", out.stderr);
}

#[test]
fn list_runs_nothing_and_the_same_run_without_it_needs_docker() {
    let root = tempfile::Builder::new().prefix("sandbox-ci-").tempdir().unwrap();
    scaffold(root.path(), "only");
    let root_arg = root.path().display().to_string();
    let listed =
        Sandbox::new(["test", &root_arg, "--partition", "1/1", "--list"]).env("DOCKER_HOST", NO_DOCKER).output();
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    assert_eq!(listed.stdout.trim(), root.path().join("only").canonicalize().unwrap().display().to_string());
    // Without --list the same command reaches for the (absent) engine: exit 3, nothing ran.
    let ran = Sandbox::new(["test", &root_arg, "--partition", "1/1"]).env("DOCKER_HOST", NO_DOCKER).output();
    assert_eq!(ran.code, 3, "stdout:\n{}\nstderr:\n{}", ran.stdout, ran.stderr);
    assert!(ran.stderr.contains("cannot reach the Docker daemon"), "{}", ran.stderr);
}

/// Each share of two real challenges runs for real: the JSON holds exactly the share that
/// `--list` named, it passed, and the summary says which share ran.
#[test]
fn each_share_runs_its_challenges_and_the_summary_names_the_share() {
    let root = tempfile::Builder::new().prefix("sandbox-ci-").tempdir().unwrap();
    scaffold(root.path(), "first");
    scaffold(root.path(), "second");
    let root_arg = root.path().display().to_string();
    let durations = root.path().join("durations.json");
    let durations_arg = durations.display().to_string();
    for k in 1..=2 {
        let share = format!("{k}/2");
        let expected = listed(&[&root_arg, "--partition", &share]);
        assert_eq!(expected.len(), 1);
        let junit = root.path().join(format!("junit-{k}.xml"));
        let out = Sandbox::new([
            "test",
            &root_arg,
            "--partition",
            &share,
            "--jobs",
            "2",
            "--json",
            "--junit",
            &junit.display().to_string(),
            "--save-durations",
            &durations_arg,
        ])
        .output();
        assert_eq!(out.code, 0, "stdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
        let json = out.json();
        let ran: Vec<&str> =
            json["challenges"].as_array().unwrap().iter().map(|c| c["challenge"].as_str().unwrap()).collect();
        assert_eq!(ran, expected, "{share}");
        assert_eq!(json["challenges"][0]["status"], "passed", "{json}");
        assert_eq!(json["selection"]["share"], share.as_str());
        assert!(
            out.stderr.contains(&format!("ran 1 of 2 challenge(s): share {share}, balanced by count")),
            "{}",
            out.stderr
        );
        let junit = std::fs::read_to_string(&junit).unwrap();
        assert!(junit.contains(&format!("<testsuite name=\"{}\"", expected[0])), "{junit}");
    }
    // Both shares wrote into one durations file; it balances the next split.
    let saved: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&durations).unwrap()).unwrap();
    for id in ["first", "second"] {
        assert!(saved["durations"][id].as_f64().is_some_and(|s| s > 0.0), "{saved}");
    }
    assert_eq!(listed(&[&root_arg, "--partition", "1/2", "--durations", &durations_arg]).len(), 1);
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=sandbox tests", "-c", "user.email=tests@sandbox.invalid", "-c", "commit.gpgsign=false"])
        .args(args)
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn changed_since_selects_the_changed_challenge_and_everything_after_a_mock_change() {
    let repo = tempfile::Builder::new().prefix("sandbox-ci-git-").tempdir().unwrap();
    let top = repo.path();
    git(top, &["init", "-q", "-b", "main"]);
    let challenges = top.join("challenges");
    for id in ["one", "two", "three"] {
        scaffold(&challenges, id);
    }
    std::fs::create_dir_all(top.join("mocks/sandbox-systemctl/src")).unwrap();
    std::fs::write(top.join("mocks/sandbox-systemctl/src/main.rs"), "fn main() {}\n").unwrap();
    std::fs::write(top.join("README.md"), "challenges\n").unwrap();
    git(top, &["add", "-A"]);
    git(top, &["commit", "-q", "-m", "base"]);
    let root_arg = challenges.display().to_string();

    // A commit touching one challenge; a README edit beside it selects nothing more.
    let playbook = challenges.join("two/playbook.yml");
    let text = std::fs::read_to_string(&playbook).unwrap();
    std::fs::write(&playbook, format!("{text}\n# edited\n")).unwrap();
    git(top, &["commit", "-q", "-am", "edit two"]);
    std::fs::write(top.join("README.md"), "challenges, edited\n").unwrap();
    assert_eq!(listed(&[&root_arg, "--changed-since", "HEAD~1"]), vec!["two"]);
    let out =
        Sandbox::new(["test", &root_arg, "--changed-since", "HEAD~1", "--list"]).env("DOCKER_HOST", NO_DOCKER).output();
    assert!(out.stderr.contains("selected two: changed: challenges/two/playbook.yml"), "{}", out.stderr);
    assert!(out.stderr.contains("in no challenge and shared by none: README.md"), "{}", out.stderr);

    // Nothing changed since HEAD in a challenge: nothing selected.
    assert_eq!(listed(&[&root_arg, "--changed-since", "HEAD"]), Vec::<String>::new());
    // An untracked file counts as a change to its challenge.
    std::fs::write(challenges.join("three/notes.txt"), "new\n").unwrap();
    assert_eq!(listed(&[&root_arg, "--changed-since", "HEAD"]), vec!["three"]);

    // The mock every target is built with: every challenge.
    std::fs::write(top.join("mocks/sandbox-systemctl/src/main.rs"), "fn main() { std::process::exit(0) }\n").unwrap();
    git(top, &["commit", "-q", "-am", "mock"]);
    assert_eq!(listed(&[&root_arg, "--changed-since", "HEAD~1"]), vec!["one", "three", "two"]);
    // A --shared path does the same; a share of the selection still splits it.
    std::fs::write(top.join("lib.sh"), "x\n").unwrap();
    git(top, &["add", "-A"]);
    git(top, &["commit", "-q", "-m", "lib"]);
    assert_eq!(listed(&[&root_arg, "--changed-since", "HEAD~1"]), vec!["three"], "notes.txt came with that commit");
    let lib = top.join("lib.sh").display().to_string();
    assert_eq!(listed(&[&root_arg, "--changed-since", "HEAD~1", "--shared", &lib]).len(), 3);
    assert_eq!(
        listed(&[&root_arg, "--changed-since", "HEAD~1", "--shared", &lib, "--partition", "2/2"]),
        vec!["three"]
    );

    // An unknown reference is a usage error that says what to do.
    let out = Sandbox::new(["test", &root_arg, "--changed-since", "no-such-ref", "--list"]).output();
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("fetch-depth"), "{}", out.stderr);
}
