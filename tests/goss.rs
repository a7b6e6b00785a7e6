//! Checks as data for the Ansible track: a goss file validated in each real target (under
//! runsc) after each pass, each assertion a named check in `--json` and JUnit; goss beside
//! check.sh (both must pass); the goss file linted with its line; the scaffold lint-clean.

use std::process::Command;

use crate::harness::{Fixture, Sandbox};

/// `sandbox new DIR --checks goss` in a fresh temporary directory.
fn goss_scaffold() -> (tempfile::TempDir, String) {
    let root = tempfile::Builder::new().prefix("sandbox-goss-").tempdir().unwrap();
    let dir = root.path().join("motd").display().to_string();
    Sandbox::new(["new", &dir, "--checks", "goss"]).stdout_has("goss.yaml").run();
    (root, dir)
}

/// The solution of a goss-only challenge passes and its starter fails; every assertion of the
/// starter's run is named in the JSON (the failed one with its hint, and quoted by the
/// reason), and JUnit has one testcase per assertion of the solution and names the starter's
/// failed assertions.
#[test]
fn a_goss_only_challenge_passes_with_its_solution_and_names_each_failed_assertion_of_its_starter() {
    let (root, dir) = goss_scaffold();
    assert!(!std::path::Path::new(&dir).join("check.sh").exists());
    let junit = root.path().join("junit.xml");
    let junit_arg = junit.display().to_string();
    let out = Sandbox::new(["test", &dir, "--json", "--junit", &junit_arg]).run();
    let json = out.json();
    let challenge = &json["challenges"][0];
    assert_eq!(challenge["status"], "passed", "{challenge}");

    let solution = &challenge["solution"]["platforms"][0];
    for pass in solution["passes"].as_array().unwrap() {
        let checks = pass["checks"].as_array().unwrap();
        let names: Vec<&str> = checks.iter().map(|c| c["name"].as_str().unwrap()).collect();
        assert_eq!(
            names,
            ["File: /etc/motd: exists", "File: /etc/motd: owner", "File: /etc/motd: mode", "File: /etc/motd: contents"],
            "{pass}"
        );
        assert!(checks.iter().all(|c| c["passed"] == true), "{pass}");
        assert_eq!(checks[1]["detail"], "expected \"root\", found \"root\"");
    }

    let starter = &challenge["starter"]["platforms"][0];
    assert_eq!(starter["verdict"], "failed", "{starter}");
    let checks = starter["passes"][0]["checks"].as_array().unwrap();
    let failed: Vec<&serde_json::Value> = checks.iter().filter(|c| c["passed"] == false).collect();
    assert_eq!(failed.len(), 1, "{checks:?}");
    assert_eq!(failed[0]["name"], "File: /etc/motd: contents");
    assert_eq!(failed[0]["detail"], "patterns not matched: [\"/^Welcome to the challenge$/\"]");
    assert!(failed[0]["hint"].as_str().unwrap().contains("ansible.builtin.copy"), "{}", failed[0]);
    assert_eq!(
        starter["reason"],
        format!(
            "check after pass 1: FAIL: File: /etc/motd: contents: patterns not matched: [\"/^Welcome to the challenge$/\"] (hint: {})",
            failed[0]["hint"].as_str().unwrap()
        )
    );

    let xml = std::fs::read_to_string(&junit).unwrap();
    let schema = crate::harness::repo().join("tests/fixtures/junit.xsd");
    let lint = Command::new("xmllint").arg("--noout").arg("--schema").arg(&schema).arg(&junit).output().unwrap();
    assert!(lint.status.success(), "{}\n{xml}", String::from_utf8_lossy(&lint.stderr));
    // Two cases for the platform, four for the solution's assertions.
    assert!(xml.contains("<testsuites name=\"sandbox test\" tests=\"6\" failures=\"0\" errors=\"0\""), "{xml}");
    assert!(xml.contains("name=\"debian-12: solution: File: /etc/motd: contents\""), "{xml}");
    assert!(xml.contains("FAIL: File: /etc/motd: contents: patterns not matched"), "{xml}");
}

const BOTH_MANIFEST: &str = "title = \"both\"\ndistros = [\"debian-11\", \"debian-12\", \"debian-13\"]\n\n\
[checks]\ngoss = \"goss.yaml\"\n\n[checks.hints]\n\"file:/only-on-13\" = \"nothing writes it\"\n";

/// check.sh refuses debian-12 only.
const BOTH_CHECK: &str = "#!/bin/sh\n[ \"$SANDBOX_DISTRO\" = debian-12 ] && { echo \"FAIL: check.sh refuses debian-12\"; exit 1; }\necho ok\n";

/// The goss file requires a missing file on debian-13 only (goss's templates see
/// SANDBOX_DISTRO and SANDBOX_PASS, as environment and as variables).
const BOTH_GOSS: &str = "file:
  /etc/hostname:
    exists: true
{{ if eq .Env.SANDBOX_DISTRO \"debian-13\" }}
  /only-on-13:
    exists: true
{{ end }}
command:
  echo {{ .Vars.distro }} pass {{ .Env.SANDBOX_PASS }}:
    exit-status: 0
gossfile:
  checks/base.yaml: {}
";

/// Included by BOTH_GOSS: a target gets it beside the main file.
const BOTH_INCLUDED: &str = "user:\n  root:\n    exists: true\n    uid: 0\n";

/// With both a goss file and check.sh, a platform passes only when both do: debian-11 (whose
/// glibc is older than goss's Debian build wants) passes, debian-12 fails on check.sh and
/// debian-13 on goss, each reason quoting its own failure.
#[test]
fn a_challenge_with_goss_and_check_sh_needs_both() {
    let playbook = "- hosts: all\n  tasks:\n    - ansible.builtin.command: \"true\"\n      changed_when: false\n";
    let fixture = Fixture::new(BOTH_MANIFEST, playbook, BOTH_CHECK);
    fixture.write("goss.yaml", BOTH_GOSS);
    fixture.write("checks/base.yaml", BOTH_INCLUDED);
    let out = Sandbox::new(["run", &fixture.path_str(), "--json"]).status(1).run();

    let eleven = out.platform("debian-11");
    assert_eq!(eleven["verdict"], "passed", "{eleven}");
    let names: Vec<&str> =
        eleven["passes"][1]["checks"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "File: /etc/hostname: exists",
            "Command: echo debian-11 pass 2: exit-status",
            "User: root: exists",
            "User: root: uid"
        ]
    );

    let twelve = out.platform("debian-12");
    assert_eq!(twelve["reason"], "check after pass 1: FAIL: check.sh refuses debian-12", "{twelve}");
    // goss ran too, and passed there.
    let checks = twelve["passes"][0]["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 4, "{twelve}");
    assert!(checks.iter().all(|c| c["passed"] == true), "{twelve}");

    let thirteen = out.platform("debian-13");
    assert_eq!(
        thirteen["reason"],
        "check after pass 1: FAIL: File: /only-on-13: exists: expected true, found false (hint: nothing writes it)",
        "{thirteen}"
    );
    let failed = thirteen["passes"][0]["checks"].as_array().unwrap().iter().find(|c| c["passed"] == false).cloned();
    assert_eq!(failed.unwrap()["hint"], "nothing writes it");
}

const SERVICE_PLAYBOOK: &str = "- hosts: all
  tasks:
    - ansible.builtin.copy:
        dest: /etc/systemd/system/web.service
        content: |
          [Service]
          ExecStart=/usr/bin/python3 -m http.server 8080 --bind 0.0.0.0
          [Install]
          WantedBy=multi-user.target
    - ansible.builtin.systemd:
        name: web
        state: started
        enabled: true
        daemon_reload: true
";

const SERVICE_GOSS: &str = "service:
  web:
    running: true
port:
  tcp:8080:
    listening: true
http:
  http://127.0.0.1:8080/:
    status: 200
";

/// `services = \"supervised\"` really starts the unit: goss finds it running, its port
/// listening and its answer. Under `--services mock` the mock says it runs (and the detail
/// says the mock said so), but no port listens, and the detail says why.
#[test]
fn supervised_services_make_service_port_and_http_assertions_real_and_mock_mode_says_so() {
    let manifest = "title = \"web\"\ndistros = [\"debian-12\"]\n\n[run]\nservices = \"supervised\"\n\n[checks]\ngoss = \"goss.yaml\"\n";
    let fixture = Fixture::new(manifest, SERVICE_PLAYBOOK, crate::harness::PASSING_CHECK);
    std::fs::remove_file(fixture.path().join("check.sh")).unwrap();
    fixture.write("goss.yaml", SERVICE_GOSS);
    let supervised = Sandbox::new(["run", &fixture.path_str(), "--json"]).run();
    let platform = supervised.platform("debian-12");
    assert_eq!(platform["verdict"], "passed", "{platform}");
    let checks = platform["passes"][1]["checks"].as_array().unwrap();
    let names: Vec<&str> = checks.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Service: web: running", "Port: tcp:8080: listening", "HTTP: http://127.0.0.1:8080/: status"]);
    assert!(checks.iter().all(|c| !c["detail"].as_str().unwrap().contains("mock")), "{platform}");

    let mock = Sandbox::new(["run", &fixture.path_str(), "--json", "--services", "mock"]).status(1).run();
    let platform = mock.platform("debian-12");
    let checks = platform["passes"][0]["checks"].as_array().unwrap();
    assert_eq!(checks[0]["passed"], true);
    assert!(checks[0]["detail"].as_str().unwrap().contains("the systemctl mock's answer"), "{platform}");
    assert_eq!(checks[1]["passed"], false);
    assert!(checks[1]["detail"].as_str().unwrap().contains("use services = \"supervised\""), "{platform}");
    assert!(platform["reason"].as_str().unwrap().starts_with("check after pass 1: FAIL: Port: tcp:8080: listening"));
}

/// An unknown resource type in the goss file: `sandbox lint` names it, with its file and line.
#[test]
fn an_unknown_resource_type_is_a_lint_error_at_its_line() {
    let (_root, dir) = goss_scaffold();
    let goss = std::path::Path::new(&dir).join("goss.yaml");
    let text = std::fs::read_to_string(&goss).unwrap();
    std::fs::write(&goss, format!("{text}packages:\n  nginx:\n    installed: true\n")).unwrap();
    let line = text.lines().count() + 1;
    let out = Sandbox::new(["lint", &dir]).status(2).run();
    assert!(out.stderr.contains("unknown resource type `packages`"), "{}", out.stderr);
    assert!(out.stderr.contains(&format!("goss.yaml:{line}:1")), "line {line}: {}", out.stderr);
}

/// The goss scaffold lints clean, as written.
#[test]
fn the_goss_scaffold_passes_lint() {
    let (_root, dir) = goss_scaffold();
    Sandbox::new(["lint", &dir]).stdout_has("1 challenge(s): 0 error(s), 0 warning(s)").run();
}

/// `sandbox draft-goss` applies the solution and writes what goss finds of the files (and
/// packages, services, users, groups) its tasks name; an existing goss file is never
/// overwritten, and the draft is itself a valid goss file.
#[test]
fn draft_goss_describes_what_the_solution_set_up_and_never_overwrites() {
    let (_root, dir) = goss_scaffold();
    Sandbox::new(["draft-goss", &dir]).status(2).stderr_has("is never overwritten").run();
    let draft = std::path::Path::new(&dir).join("draft.yaml");
    let draft_arg = draft.display().to_string();
    Sandbox::new(["draft-goss", &dir, "-o", &draft_arg]).stdout_has("wrote").run();
    let text = std::fs::read_to_string(&draft).unwrap();
    assert!(text.contains("/etc/motd:") && text.contains("owner: root") && text.contains("mode: \"0644\""), "{text}");
    sandbox::challenge::goss::parse(&text).unwrap();
}
