//! The Docker track end to end: `sandbox run` and `sandbox test` of Dockerfile challenges,
//! built by the builder under gVisor, run hardened, checked; nothing left behind.

use std::time::Duration;

use crate::harness::{builder_has_container, lines_of, run_id_in, wait_for_line, wait_with_bound, Fixture, Sandbox};

const APP: &str = "FROM debian:12\nCOPY server.pl /app/server.pl\nCMD [\"perl\", \"/app/server.pl\"]\n";

/// Each bundled Docker starter fails for the lesson its challenge teaches. Their solutions
/// pass in the proof of every bundled challenge (`sandbox test`, scripts/test.sh), which this
/// does not repeat: a Docker attempt costs 5-10 s of builds under gVisor.
#[test]
fn every_bundled_docker_starter_fails_for_its_lesson() {
    for (challenge, lesson) in [
        ("docker-non-root", "non_root: PID 1 runs as uid 0"),
        ("docker-healthcheck", "healthy: the image has no HEALTHCHECK"),
        ("docker-multi-stage", "size:"),
        ("docker-layer-cache", "cache: step"),
        ("docker-no-secrets", "deleted by a later layer but still in this one"),
        ("docker-graceful-stop", "stop: stopped in"),
    ] {
        let out = Sandbox::new(["run", &format!("challenges/{challenge}"), "--json"]).status(1).run();
        let json = out.json();
        assert_eq!(json["track"], "docker");
        let reason = json["platforms"][0]["reason"].as_str().unwrap_or_default();
        assert!(reason.contains(lesson), "{challenge}: starter failed for another reason: {reason}");
    }
}

#[test]
fn a_passing_image_reports_both_builds_and_its_checks_in_json() {
    let fixture = Fixture::docker("[image]\nport = 8080\ntouch = \"app/server.pl\"\n[checks]\nhttp = { body = \"hello\" }\nstops_within = \"5s\"\n", APP);
    fixture.write("check.sh", "#!/bin/bash\necho \"app=$APP_CONTAINER at $APP_HOST:$APP_PORT\"\n");
    let out = Sandbox::new(["run", &fixture.path_str(), "--json"])
        .status(0)
        .stderr_has("[build 1] Step 1/3 : FROM debian:12")
        .run();
    let json = out.json();
    let told = json["platforms"][0]["passes"][0]["verify_output"].as_str().unwrap().to_string();
    assert!(told.contains(&format!("app=sandbox-{}-app-1 at 127.0.0.1:8080", out.run_id())), "{told}");
    assert_eq!(json["track"], "docker");
    for phase in ["build_1", "checks_1", "build_2", "checks_2", "teardown"] {
        assert!(json["timings"][phase].is_number(), "no {phase} in {}", json["timings"]);
    }
    let builds = json["image"]["builds"].as_array().unwrap();
    assert_eq!(builds.len(), 2);
    // The touched file changed: its COPY and what follows ran again, FROM's layer did not.
    let second: Vec<bool> =
        builds[1]["steps"].as_array().unwrap().iter().map(|s| s["cached"].as_bool().unwrap()).collect();
    assert_eq!(second, [false, false, false], "{}", builds[1]);
    let checks: Vec<(u64, String)> = json["image"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["build"].as_u64().unwrap(), c["name"].as_str().unwrap().to_string()))
        .collect();
    for build in [1, 2] {
        for name in ["http", "check.sh", "stop"] {
            assert!(checks.contains(&(build, name.to_string())), "{checks:?}");
        }
    }
    assert_eq!(json["platforms"][0]["passes"][1]["changed"], 2, "COPY and CMD rebuilt: {}", json["platforms"][0]);
}

/// What the app learns about its own container, served on 8080 for check.sh to judge.
const INTROSPECTING_APP: &str = r#"FROM debian:12
COPY server.pl /app/server.pl
CMD ["bash", "-c", "{ touch /etc/x 2>/dev/null && echo root=writable || echo root=read-only; timeout 3 bash -c 'echo > /dev/tcp/10.231.0.1/80' 2>/dev/null && echo host=reached || echo host=unreachable; grep CapEff /proc/self/status; echo uid=$(id -u); } > /tmp/facts; exec perl /app/server.pl"]
"#;

/// Serves /tmp/facts.
const FACTS_SERVER: &str = r#"use IO::Socket::INET;
$SIG{TERM} = sub { exit 0 };
my $server = IO::Socket::INET->new(LocalAddr => "0.0.0.0:8080", Listen => 5, ReuseAddr => 1) or die;
while (my $client = $server->accept) {
    <$client>;
    open(my $f, "<", "/tmp/facts"); local $/; my $facts = <$f>;
    print $client "HTTP/1.0 200 OK\r\n\r\n$facts";
    close $client;
}
"#;

#[test]
fn the_app_runs_read_only_without_capabilities_or_a_network_and_the_probe_reaches_only_it() {
    let fixture = Fixture::docker("[image]\nport = 8080\n", INTROSPECTING_APP);
    fixture.write("app/server.pl", FACTS_SERVER);
    let check = "#!/bin/bash\nfacts=$(http /)\nfor want in root=read-only host=unreachable 'CapEff:\t0000000000000000'; do\n  grep -qF \"$want\" <<<\"$facts\" || { echo \"missing $want in: $facts\"; exit 1; }\ndone\ntimeout 3 bash -c 'echo > /dev/tcp/10.231.0.1/80' 2>/dev/null && { echo 'the probe reached the host'; exit 1; }\necho hardened\n";
    fixture.write("check.sh", check);
    let out = Sandbox::new(["run", &fixture.path_str(), "--json"]).run();
    let json = out.json();
    assert_eq!(json["passed"], true, "{}\n{}", json["platforms"][0], out.stderr);
    assert!(json["platforms"][0]["passes"][0]["verify_output"].as_str().unwrap().contains("hardened"));
}

#[test]
fn a_fork_bomb_in_a_run_step_is_killed_by_the_guard() {
    let fixture = Fixture::docker("", "FROM debian:12\nRUN bomb() { bomb | bomb & }; bomb; sleep 60\n");
    let out = Sandbox::new(["run", &fixture.path_str(), "--json"]).status(1).run();
    let platform = out.platform("image");
    assert_eq!(platform["verdict"], "killed", "{platform}");
    assert!(platform["reason"].as_str().unwrap().contains("fork bomb guard"), "{platform}");
}

#[test]
fn a_run_step_past_the_timeout_ends_in_timeout_and_its_container_goes() {
    let fixture = Fixture::docker("", "FROM debian:12\nRUN sleep 300\n");
    let out = Sandbox::new(["run", &fixture.path_str(), "--json", "--timeout", "8s"]).status(1).run();
    assert_eq!(out.platform("image")["verdict"], "timeout");
    let step = out.stderr.lines().find_map(|l| l.split("---> Running in ").nth(1)).expect("the step started");
    assert!(!builder_has_container(step.trim()), "the sleeping step's container is still in the builder");
}

#[test]
fn ctrl_c_during_a_build_removes_everything_and_exits_130() {
    let fixture = Fixture::docker("", "FROM debian:12\nRUN sleep 300\n");
    let mut child = Sandbox::new(["run", &fixture.path_str()]).spawn();
    let lines = lines_of(child.stderr.take().unwrap());
    let (_, seen) = wait_for_line(&lines, "---> Running in", Duration::from_secs(60)).expect("the step starts");
    let step = seen.iter().find_map(|l| l.split("---> Running in ").nth(1)).unwrap().trim().to_string();
    let run = seen.iter().find_map(|l| run_id_in(l)).expect("the run announced its id");
    std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    let status = wait_with_bound(&mut child, Duration::from_secs(60)).expect("it ends after Ctrl-C");
    assert_eq!(status.code(), Some(130));
    assert!(!builder_has_container(&step));
    assert_eq!(crate::harness::leftovers(&run), (0, 0));
}

/// A Docker attempt whose CLI is killed (SIGKILL: no cleanup of its own) while its app runs
/// leaves its app and probe in the builder; the next attempt removes them once their deadline
/// (and its grace) passed, as the Ansible track's runs are swept.
#[test]
fn a_killed_docker_attempts_containers_are_swept_by_the_next_attempt() {
    let fixture = Fixture::docker("[image]\nport = 8080\n", APP);
    fixture.write("check.sh", "#!/bin/bash\nsleep 300\n");
    let mut child = Sandbox::new(["run", &fixture.path_str(), "--timeout", "40s"]).spawn();
    let lines = lines_of(child.stderr.take().unwrap());
    let (_, seen) = wait_for_line(&lines, "run ", Duration::from_secs(60)).expect("the run announced its id");
    let run = seen.iter().find_map(|l| run_id_in(l)).expect("the run id");
    let started = std::time::Instant::now();
    while crate::harness::present(&run).0 < 2 && started.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(crate::harness::present(&run).0 >= 2, "the app and its probe run");
    child.kill().unwrap();
    child.wait().unwrap();
    let deadline = crate::harness::builder_deadline(&run).expect("its containers carry a deadline");
    assert!(crate::harness::present(&run).0 >= 2, "a killed CLI removes nothing itself");
    // Until the grace after its deadline has passed, its leftovers are not another's to take.
    crate::harness::wait_past_grace(deadline);
    let next = Fixture::docker("", "FROM debian:12\nRUN false\n");
    let out = Sandbox::new(["run", &next.path_str()]).status(1).run();
    assert!(out.stderr.contains(&format!("removed leftovers of dead run {run}")), "{}", out.stderr);
    assert_eq!(crate::harness::leftovers(&run), (0, 0));
}

#[test]
fn refused_dockerfiles_point_at_the_line_and_exit_2() {
    let outside = Fixture::docker("", "FROM python:3.12-slim\nCMD [\"python3\"]\n");
    Sandbox::new(["run", &outside.path_str()])
        .status(2)
        .stderr_has("not one of the images this host builds from")
        .stderr_has("python:3.12-slim")
        .run();
    let leaving = Fixture::docker("", "FROM debian:12\nCOPY ../../etc/passwd /x\n");
    Sandbox::new(["run", &leaving.path_str()]).status(2).stderr_has("leaves the build context").run();
    Sandbox::new(["lint", &leaving.path_str()]).status(2).stderr_has("leaves the build context").run();
}

#[test]
fn a_bad_docker_manifest_is_refused_at_its_span() {
    let fixture = Fixture::docker("[image]\nport = 70000\n", APP);
    Sandbox::new(["run", &fixture.path_str()]).status(2).stderr_has("must be between 1 and 65535").run();
    let fixture = Fixture::docker("[checks]\nhints = { nonroot = \"x\" }\n", APP);
    Sandbox::new(["run", &fixture.path_str()]).status(2).stderr_has("not a check").run();
}

#[test]
fn an_ansible_run_and_a_docker_run_at_the_same_time_both_pass() {
    let ansible = Fixture::debian12(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - copy: { content: hi, dest: /tmp/hi }\n",
    );
    let docker = Fixture::docker("[image]\nport = 8080\n[checks]\nhttp = { body = \"hello\" }\n", APP);
    let both = std::thread::scope(|scope| {
        let first = scope.spawn(|| Sandbox::new(["run", &ansible.path_str(), "--json"]).status(0).run());
        let second = scope.spawn(|| Sandbox::new(["run", &docker.path_str(), "--json"]).status(0).run());
        (first.join().unwrap(), second.join().unwrap())
    });
    assert!(both.0.json()["passed"].as_bool().unwrap() && both.1.json()["passed"].as_bool().unwrap());
}

#[test]
fn a_build_context_past_its_limit_is_refused_before_it_is_sent() {
    let fixture = Fixture::docker("", APP);
    let big = std::fs::File::create(fixture.path().join("app/artifact.bin")).unwrap();
    big.set_len(70 * 1024 * 1024).unwrap();
    Sandbox::new(["run", &fixture.path_str()]).status(2).stderr_has("more than the 67108864 a build may send").run();
}

#[test]
fn an_image_that_exits_at_once_fails_with_its_exit_code_not_an_engine_error() {
    let exiting = "FROM debian:12\nCMD [\"bash\", \"-c\", \"echo cannot start; exit 3\"]\n";
    let fixture = Fixture::docker("", exiting);
    let out = Sandbox::new(["run", &fixture.path_str(), "--json"]).status(1).run();
    let reason = out.platform("image")["reason"].as_str().unwrap().to_string();
    assert!(reason.contains("run: the container exited with code 3") && reason.contains("cannot start"), "{reason}");
    // With a port to wait for, the same (whether the app ended before the probe joined it or
    // while the probe waited), not a wait out to the startup bound.
    let fixture = Fixture::docker("[image]\nport = 8080\n", exiting);
    let out = Sandbox::new(["run", &fixture.path_str(), "--json"]).status(1).run();
    let reason = out.platform("image")["reason"].as_str().unwrap().to_string();
    assert!(reason.contains("exited with code 3") && reason.contains("cannot start"), "{reason}");
}

/// A container-structure-test file using each kind of test the Docker track accepts.
const STRUCTURE_TESTS: &str = r#"schemaVersion: "2.0.0"
globalEnvVars:
  - key: GREETING
    value: hello
commandTests:
  - name: global variables reach the command
    command: printenv
    args: ["GREETING"]
    expectedOutput: ["^hello\n$"]
  - name: arguments expand the image's variables
    command: ls
    args: ["$APP_HOME/server.pl", "/nowhere"]
    expectedOutput: ["^/app/server.pl\\n$"]
    expectedError: ["/nowhere.*No such file"]
    excludedError: ["server.pl"]
    exitCode: 2
  - name: setup commits its changes
    setup: [["bash", "-c", "echo prepared > /etc/marker"]]
    command: cat
    args: ["/etc/marker"]
    expectedOutput: ["prepared"]
  - name: a missing program fails as in a shell
    command: /no/such/program
    exitCode: 127
fileExistenceTests:
  - name: the server
    path: $APP_HOME/server.pl
    permissions: "-rw-r--r--"
    uid: 0
  - name: no private key
    path: /app/key.pem
    shouldExist: false
fileContentTests:
  - name: the server listens on 8080
    path: /app/server.pl
    expectedContents: ["8080"]
    excludedContents: ["password"]
metadataTest:
  env:
    - key: APP_HOME
      value: /app
  exposedPorts: ["8080"]
  cmd: ["perl", "/app/server.pl"]
  workdir: /app
"#;

const STRUCTURED_APP: &str = "FROM debian:12\nENV APP_HOME=/app\nWORKDIR /app\nCOPY server.pl /app/server.pl\nEXPOSE 8080\nCMD [\"perl\", \"/app/server.pl\"]\n";

#[test]
fn a_structure_test_file_runs_each_of_its_tests_on_both_builds() {
    let fixture = Fixture::docker("[checks]\nstructure = \"structure.yaml\"\n", STRUCTURED_APP);
    fixture.write("structure.yaml", STRUCTURE_TESTS);
    let out = Sandbox::new(["run", &fixture.path_str(), "--json"]).run();
    let json = out.json();
    let checks = json["image"]["checks"].as_array().unwrap();
    let structure: Vec<&serde_json::Value> = checks.iter().filter(|c| c["name"] == "structure").collect();
    // 4 command tests, 2 existence tests, 1 content test, the metadata test: per build.
    assert_eq!(structure.len(), 16, "{checks:#?}\n{}", out.stderr);
    let failed: Vec<&&serde_json::Value> = structure.iter().filter(|c| c["passed"] != true).collect();
    assert!(failed.is_empty(), "{failed:#?}");
    assert_eq!(json["passed"], true, "{}", json["platforms"][0]);
}

#[test]
fn a_structure_test_file_names_each_test_an_image_fails() {
    // Runs as root from / with the key copied in and no ENV: every kind of test has a failure.
    let wrong = "FROM debian:12\nCOPY server.pl /app/server.pl\nCOPY server.pl /app/key.pem\nCMD [\"perl\", \"/app/server.pl\"]\n";
    let fixture = Fixture::docker(
        "[checks]\nstructure = \"structure.yaml\"\n[checks.hints]\nstructure = \"read the structure tests\"\n",
        wrong,
    );
    fixture.write("structure.yaml", STRUCTURE_TESTS);
    let out = Sandbox::new(["run", &fixture.path_str(), "--json"]).status(1).run();
    let json = out.json();
    let details: Vec<String> = json["image"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["name"] == "structure" && c["passed"] == false)
        .map(|c| c["detail"].as_str().unwrap().to_string())
        .collect();
    for expected in [
        "metadata test: env var APP_HOME is not set",
        "command test `arguments expand the image's variables`: expected `^/app/server.pl\\n$` not found in output",
        "file existence test `no private key`: /app/key.pem should not exist but does",
        "file existence test `the server`: /server.pl does not exist",
    ] {
        assert!(details.iter().any(|d| d.contains(expected)), "no `{expected}` in {details:#?}");
    }
    let reason = out.platform("image")["reason"].as_str().unwrap().to_string();
    assert!(
        reason.contains("build 1: structure: metadata test") && reason.contains("hint: read the structure tests"),
        "{reason}"
    );
}

#[test]
fn a_broken_structure_test_file_is_refused_at_its_line() {
    let fixture = Fixture::docker("[checks]\nstructure = \"structure.yaml\"\n", APP);
    fixture.write("structure.yaml", "schemaVersion: \"2.0.0\"\ncommandTests:\n  - name: typo\n    comand: ls\n");
    Sandbox::new(["run", &fixture.path_str()])
        .status(2)
        .stderr_has("unknown key `comand`")
        .stderr_has("structure.yaml:4")
        .run();
    let outside = Fixture::docker("[checks]\nstructure = \"../structure.yaml\"\n", APP);
    Sandbox::new(["lint", &outside.path_str()]).status(2).stderr_has("leaves the challenge directory").run();
}

#[test]
fn run_steps_reach_out_only_when_the_challenge_allows_egress() {
    // A new step each time (the id), so the cache cannot answer for it; what it prints is
    // computed, so that the command line quoted in an error does not count.
    let reach = format!(
        "FROM debian:12\nRUN echo {} >/dev/null && timeout 10 bash -c 'echo > /dev/tcp/1.1.1.1/80' && echo reached-$((40 + 2))\n{}",
        std::process::id(),
        &APP["FROM debian:12\n".len()..]
    );
    let closed = Fixture::docker("", &reach);
    let out = Sandbox::new(["run", &closed.path_str(), "--json"]).status(1).run();
    let reason = out.platform("image")["reason"].as_str().unwrap().to_string();
    assert!(reason.starts_with("build 1 step 2 (RUN echo") && !out.stderr.contains("reached-42"), "{reason}");
    let open = Fixture::docker("[run]\nnetwork = \"egress\"\n", &reach);
    Sandbox::new(["run", &open.path_str()]).status(0).stderr_has("reached-42").run();
}
