//! `sandbox lint`: one snapshot per class of error, rendered as a user sees it (no colour).
//! Update after an intended change with `INSTA_UPDATE=always cargo test --test main lint::`.

use std::path::Path;

use miette::{GraphicalReportHandler, GraphicalTheme};
use sandbox::challenge::lint::{lint, Finding};
use sandbox::challenge::Allowed;

use crate::harness::Sandbox;

/// A scaffolded challenge (lint-clean), changed by `edit`.
fn challenge(edit: impl FnOnce(&Path)) -> tempfile::TempDir {
    scaffolded(false, edit)
}

/// A scaffolded challenge of either track (a Docker one when `docker`), with hints, changed by
/// `edit`.
fn scaffolded(docker: bool, edit: impl FnOnce(&Path)) -> tempfile::TempDir {
    let root = tempfile::Builder::new().prefix("sandbox-lint-").tempdir().unwrap();
    let dir = root.path().join("c");
    sandbox::challenge::scaffold::create(&dir, &[], &sandbox::distro::Catalog::builtin(), docker, false).unwrap();
    let manifest = std::fs::read_to_string(dir.join("challenge.toml")).unwrap();
    if !manifest.lines().any(|line| line.starts_with("hints")) {
        write(&dir, "challenge.toml", &format!("{HINTS}{manifest}"));
    }
    edit(&dir);
    root
}

const HINTS: &str = "hints = [\"look at the README\"]\n";

fn write(dir: &Path, relative: &str, contents: &str) {
    std::fs::write(dir.join(relative), contents).unwrap();
}

fn render(finding: &Finding) -> String {
    let mut out = String::new();
    GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor())
        .with_width(100)
        .with_links(false)
        .render_report(&mut out, finding)
        .unwrap();
    out
}

/// The first error's rendering, with the temporary path replaced by `[DIR]`.
fn first_error(edit: impl FnOnce(&Path)) -> String {
    let root = challenge(edit);
    let findings = lint(&root.path().join("c"), &Allowed::default());
    let error = findings.iter().find(|f| f.is_error()).unwrap_or_else(|| panic!("no error in {findings:?}"));
    render(error).replace(&root.path().display().to_string(), "[DIR]")
}

const MANIFEST: &str = "title = \"c\"\ntopic = \"t\"\ndifficulty = \"easy\"\n";

#[test]
fn toml_syntax() {
    insta::assert_snapshot!(first_error(|d| write(d, "challenge.toml", "title = \"c\"\ndistros = [\"debian-12\"\n")));
}

#[test]
fn unknown_key() {
    insta::assert_snapshot!(first_error(|d| write(
        d,
        "challenge.toml",
        &format!("{MANIFEST}distros = [\"debian-12\"]\nflavour = \"x\"\n")
    )));
}

#[test]
fn unknown_distro() {
    insta::assert_snapshot!(first_error(|d| write(
        d,
        "challenge.toml",
        &format!("{MANIFEST}distros = [\"debian-12\", \"fedora-40\"]\n")
    )));
}

#[test]
fn invalid_value() {
    insta::assert_snapshot!(first_error(|d| write(
        d,
        "challenge.toml",
        "title = \"c\"\ndifficulty = \"brutal\"\ndistros = [\"debian-12\"]\n"
    )));
}

#[test]
fn file_outside_the_challenge() {
    insta::assert_snapshot!(first_error(|d| write(
        d,
        "challenge.toml",
        &format!("{MANIFEST}distros = [\"debian-12\"]\ncheck = \"../../etc/passwd\"\n")
    )));
}

#[test]
fn referenced_file_missing() {
    insta::assert_snapshot!(first_error(|d| write(
        d,
        "challenge.toml",
        &format!("{MANIFEST}distros = [\"debian-12\"]\nplaybook = \"site.yml\"\n")
    )));
}

#[test]
fn solution_missing() {
    insta::assert_snapshot!(first_error(|d| std::fs::remove_file(d.join("solution/playbook.yml")).unwrap()));
}

#[test]
fn check_not_executable() {
    insta::assert_snapshot!(first_error(|d| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(d.join("check.sh"), std::fs::Permissions::from_mode(0o644)).unwrap();
    }));
}

#[test]
fn check_without_shebang() {
    insta::assert_snapshot!(first_error(|d| write(d, "check.sh", "test -f /etc/motd\n")));
}

#[test]
fn playbook_not_yaml() {
    insta::assert_snapshot!(first_error(|d| write(
        d,
        "playbook.yml",
        "- hosts: all\n  tasks:\n    - debug: {msg: [\n"
    )));
}

#[test]
fn playbook_without_a_play() {
    insta::assert_snapshot!(first_error(|d| write(
        d,
        "solution/playbook.yml",
        "---\n# tasks only\n- name: Write motd\n  copy: {dest: /etc/motd, content: hi}\n"
    )));
}

#[test]
fn exit_2_on_errors_and_warnings_do_not_fail() {
    let warned = challenge(|d| std::fs::remove_file(d.join("README.md")).unwrap());
    let out = Sandbox::new(["lint".into(), warned.path().join("c")]).status(0).run();
    assert!(out.stderr.contains("no README.md"), "{}", out.stderr);
    assert!(out.stdout.contains("0 error(s), 1 warning(s)"), "{}", out.stdout);

    let broken = challenge(|d| write(d, "check.sh", "true\n"));
    // A directory holding challenges is searched; the valid bundled one is reported ok.
    let out =
        Sandbox::new(["lint".into(), broken.path().to_path_buf(), "challenges/nginx-static".into()]).status(2).run();
    assert!(out.stderr.contains("sandbox::lint::check_no_shebang"), "{}", out.stderr);
    assert!(out.stdout.contains("ok     challenges/nginx-static"), "{}", out.stdout);
    assert!(out.stdout.contains("2 challenge(s): 1 error(s)"), "{}", out.stdout);
}

/// `sandbox::run` takes parsed arguments and holds no global state, so a CLI test that needs
/// no Docker can run in-process, twice in a row.
#[test]
fn lint_runs_in_process_and_again() {
    use clap::Parser;
    let root = challenge(|_| {});
    let dir = root.path().join("c").display().to_string();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    for _ in 0..2 {
        let cli = sandbox::cli::Cli::parse_from(["sandbox", "lint", &dir]);
        assert_eq!(runtime.block_on(sandbox::run(cli)).unwrap(), sandbox::ExitStatus::Success);
    }
    let broken = sandbox::cli::Cli::parse_from(["sandbox", "lint", "/nonexistent/challenge"]);
    let err = runtime.block_on(sandbox::run(broken)).unwrap_err();
    assert_eq!(err.exit_status(), sandbox::ExitStatus::Usage);
}

/// Every finding of a challenge is printed, not only the first: here a manifest that does not
/// load and a playbook that is not YAML.
#[test]
fn two_problems_are_both_printed() {
    let broken = challenge(|d| {
        let manifest = std::fs::read_to_string(d.join("challenge.toml")).unwrap();
        write(d, "challenge.toml", &manifest.replace("\"debian-12\"", "\"fedora-40\""));
        write(d, "playbook.yml", "- hosts: all\n  tasks: [\n");
    });
    let out = Sandbox::new(["lint".into(), broken.path().join("c")])
        .status(2)
        .stderr_has("sandbox::challenge::unknown_distro")
        .stderr_has("sandbox::lint::playbook_syntax")
        .run();
    assert!(out.stdout.contains("1 challenge(s): 2 error(s)"), "{}", out.stdout);
}

/// What Docker would refuse to build is an error at its line: an unknown instruction, no FROM
/// first, a COPY without a destination.
#[test]
fn dockerfile_problems_are_reported_at_their_line() {
    let cases = [
        ("FROM debian:12\nCOPY server.pl /app/server.pl\nRUNN true\n", "sandbox::dockerfile::unknown_instruction", 3),
        ("# comment\nRUN true\nFROM debian:12\n", "sandbox::dockerfile::missing_from", 2),
        ("FROM debian:12\nUSER app\nEXPOSE 8080\nCOPY server.pl\n", "sandbox::dockerfile::copy_without_destination", 4),
    ];
    for (dockerfile, code, line) in cases {
        let broken = scaffolded(true, |d| write(d, "Dockerfile", dockerfile));
        let at = format!("{}:{line}:1]", broken.path().join("c/Dockerfile").display());
        let out =
            Sandbox::new(["lint".into(), broken.path().join("c")]).status(2).stderr_has(code).stderr_has(&at).run();
        assert!(out.stdout.contains("1 challenge(s): 1 error(s)"), "{dockerfile:?}: {}", out.stdout);
    }
}

/// A challenge without hints lints with a warning, not an error: exit 0.
#[test]
fn a_challenge_without_hints_is_warned_and_passes() {
    let hintless = challenge(|d| {
        // The top-level `hints = [...]`, on one line or several.
        let manifest = std::fs::read_to_string(d.join("challenge.toml")).unwrap();
        let mut kept = Vec::new();
        let mut in_hints = false;
        for line in manifest.lines() {
            if line.starts_with("hints") {
                in_hints = !line.trim_end().ends_with(']');
            } else if in_hints {
                in_hints = line.trim() != "]";
            } else {
                kept.push(line);
            }
        }
        write(d, "challenge.toml", &(kept.join("\n") + "\n"));
    });
    let out = Sandbox::new(["lint".into(), hintless.path().join("c")])
        .status(0)
        .stderr_has("no hints: add hints = [...] for `sandbox hint`")
        .stderr_has("sandbox::lint::no_hints")
        .run();
    assert!(out.stdout.contains("1 challenge(s): 0 error(s), 1 warning(s)"), "{}", out.stdout);
}
