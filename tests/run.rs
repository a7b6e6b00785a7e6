//! `sandbox run` end to end: real runsc targets, a real controller, real Ansible.

use std::time::Duration;

use crate::harness::{leftovers, lines_of, wait_for_line, wait_with_bound, Fixture, Sandbox};

/// `sandbox run DIR --json EXTRA…`, which must exit with `status`.
fn run_json(dir: &str, extra: &[&str], status: i32) -> crate::harness::Output {
    let mut args = vec!["run", dir, "--json"];
    args.extend_from_slice(extra);
    Sandbox::new(args).status(status).run()
}

/// The bundled solution's full run is in tests/offline.rs (offline, both Debians). The starter
/// runs on the image with nginx prepared: downloaded, not installed, so the check still fails.
#[test]
fn bundled_starter_fails_with_the_check_s_reason() {
    let starter = run_json("challenges/nginx-static", &["--distro", "debian-12"], 1);
    let platform = starter.platform("debian-12");
    assert_eq!(platform["verdict"], "failed");
    // nginx-static is checked by a goss file: the first failed assertion, with its hint.
    let reason = "check after pass 1: FAIL: Package: nginx: installed: expected true, found false \
                  (hint: ansible.builtin.apt with `name: nginx` and `state: present` installs it.)";
    assert_eq!(platform["reason"], reason);
    let check = &platform["passes"][0]["checks"][0];
    assert_eq!((check["name"].as_str(), check["passed"].as_bool()), (Some("Package: nginx: installed"), Some(false)));
    assert_eq!(starter.json()["platforms"].as_array().unwrap().len(), 1, "--distro narrows the run");
    assert!(starter.stderr.contains(&format!("debian-12: {reason}")), "{}", starter.stderr);
}

#[test]
fn non_idempotent_playbook_fails_with_count_and_task_name() {
    let fixture = Fixture::debian12(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: append a line\n      shell: echo x >> /etc/f\n",
    );
    let out = run_json(&fixture.path_str(), &[], 1);
    let platform = out.platform("debian-12");
    assert_eq!(platform["verdict"], "failed");
    assert_eq!(platform["passes"][1]["changed"], 1);
    assert_eq!(platform["reason"], "not idempotent: pass 2 changed 1 task(s): `append a line`");
    let row = out.stderr.lines().find(|l| l.starts_with("debian-12")).unwrap();
    assert_eq!(row.split_whitespace().collect::<Vec<_>>(), ["debian-12", "ok", "ok", "1", "ok", "failed"]);
}

#[test]
fn failing_check_fails_only_its_platform() {
    let fixture = Fixture::new(
        "title = \"t\"\ndistros = [\"debian-12\", \"debian-13\"]\n[run]\nidempotent = false\n",
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - ping:\n",
        "#!/bin/sh\nif [ \"$SANDBOX_DISTRO\" = debian-13 ]; then echo \"trixie says no on pass $SANDBOX_PASS\"; exit 7; fi\necho fine\n",
    );
    let out = run_json(&fixture.path_str(), &[], 1);
    assert_eq!(out.platform("debian-12")["verdict"], "passed");
    let trixie = out.platform("debian-13");
    assert_eq!(trixie["verdict"], "failed");
    assert_eq!(trixie["passes"][0]["verify_exit"], 7);
    assert_eq!(trixie["passes"][0]["verify_output"], "trixie says no on pass 1\n");
    assert_eq!(trixie["reason"], "check.sh failed after pass 1 (exit 7)");
}

/// A play whose `hosts` matches nothing: Ansible warns and exits 0, the host is in no recap.
/// As on a real server nothing happened; the check says what is missing, a note says why.
#[test]
fn a_host_no_play_touches_is_judged_by_its_check() {
    let fixture = Fixture::new(
        "title = \"t\"\ndistros = [\"debian-12\"]\n",
        "- hosts: webservers\n  tasks:\n    - ping:\n",
        "#!/bin/sh\n[ -f /etc/configured ] || { echo 'FAIL: /etc/configured is missing'; exit 1; }\n",
    );
    let out = run_json(&fixture.path_str(), &[], 1);
    let platform = out.platform("debian-12");
    assert_eq!(platform["passes"][0]["apply"], "ok", "{platform}");
    assert_eq!(platform["passes"][0]["changed"], 0, "{platform}");
    assert_eq!(platform["reason"], "check after pass 1: FAIL: /etc/configured is missing", "{platform}");
    assert!(platform["notes"][0].as_str().unwrap().contains("no task ran on this host"), "{platform}");
}

#[test]
fn playbook_syntax_error_is_reported_not_a_crash() {
    let fixture = Fixture::debian12("- hosts: all\n  tasks:\n    - name: broken\n      copy: [unclosed\n");
    let out = run_json(&fixture.path_str(), &[], 1);
    let platform = out.platform("debian-12");
    assert_eq!(platform["verdict"], "failed");
    assert_eq!(platform["passes"][0]["apply"], "failed");
    let reason = platform["reason"].as_str().unwrap();
    assert!(reason.contains("ERROR!"), "reason should carry Ansible's error: {reason}");
    assert!(!out.stderr.contains("panicked"));
}

#[test]
fn delegate_to_localhost_stays_in_the_controller_sandbox() {
    let marker = format!("/tmp/escape-{}", std::process::id());
    let playbook = format!(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: write on the controller\n      copy:\n        dest: {marker}\n        content: escaped\n      delegate_to: localhost\n    - name: pipe lookup\n      debug:\n        msg: \"{{{{ lookup('pipe', 'touch {marker}-pipe && hostname') }}}}\"\n"
    );
    let fixture = Fixture::debian12(&playbook);
    let out = run_json(&fixture.path_str(), &["--timeout", "5m"], 0);
    assert_eq!(out.platform("debian-12")["passes"][0]["apply"], "ok", "{}", out.stderr);
    assert!(out.stderr.contains("\"msg\": \"controller\""), "the pipe ran in the controller:\n{}", out.stderr);
    assert!(!std::path::Path::new(&marker).exists(), "{marker} appeared on the host");
    assert!(!std::path::Path::new(&format!("{marker}-pipe")).exists());
}

#[test]
fn output_streams_while_the_playbook_runs() {
    let fixture = Fixture::debian12(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: first\n      debug:\n        msg: streaming-marker\n    - name: wait\n      pause:\n        seconds: 6\n",
    );
    let mut child = Sandbox::new(["run", &fixture.path_str()]).spawn();
    let stdout = lines_of(child.stdout.take().unwrap());
    let found = wait_for_line(&stdout, "streaming-marker", Duration::from_secs(240));
    assert!(found.is_some(), "the first task's output never arrived");
    assert!(child.try_wait().unwrap().is_none(), "the marker arrived only after the run ended");
    let pause_end = wait_for_line(&stdout, "PLAY RECAP", Duration::from_secs(60));
    let (marker_at, recap_at) = (found.unwrap().0, pause_end.expect("the play finished").0);
    assert!(recap_at.duration_since(marker_at) >= Duration::from_secs(5), "output was buffered until the end");
    wait_with_bound(&mut child, Duration::from_secs(120)).expect("the run ends");
}

#[test]
fn sigint_during_pass_one_removes_everything_and_exits_130() {
    let fixture = Fixture::debian12(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: long task\n      shell: sleep 300\n",
    );
    let mut child = Sandbox::new(["run", &fixture.path_str()]).spawn();
    let stdout = lines_of(child.stdout.take().unwrap());
    let stderr = lines_of(child.stderr.take().unwrap());
    let (_, announced) = wait_for_line(&stderr, "run ", Duration::from_secs(60)).expect("run announced");
    let run = crate::harness::run_id_in(&announced.join("\n")).expect("run id");
    wait_for_line(&stdout, "TASK [long task]", Duration::from_secs(240)).expect("pass 1 started");
    assert_eq!(crate::harness::present(&run).0, 2, "target and controller exist mid-run");

    let status = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let exit = wait_with_bound(&mut child, Duration::from_secs(90)).expect("exits soon after SIGINT");
    assert_eq!(exit.code(), Some(130));
    assert_eq!(leftovers(&run), (0, 0), "containers or networks of run {run} remain");
}

#[test]
fn timeout_kills_the_run_and_reports_it() {
    let fixture = Fixture::new(
        "title = \"t\"\ndistros = [\"debian-12\"]\n[run]\ntimeout = \"30s\"\n",
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - shell: sleep 100000\n",
        crate::harness::PASSING_CHECK,
    );
    let started = std::time::Instant::now();
    let out = run_json(&fixture.path_str(), &[], 1);
    assert!(started.elapsed() < Duration::from_secs(90), "took {:?}", started.elapsed());
    let platform = out.platform("debian-12");
    assert_eq!(platform["verdict"], "timeout");
    assert_eq!(platform["reason"], "run exceeded its 30s timeout during pass 1");
    assert_eq!(leftovers(&out.run_id()), (0, 0));
}

/// Playbooks run under Mitogen by default (its interpreter is what runs a task on the
/// target); `strategy = "linear"` opts out and still passes; both runs' timings cover every
/// phase and add up to the run's duration.
#[test]
fn mitogen_by_default_linear_on_request_and_timings_add_up() {
    let playbook = "- hosts: all\n  tasks:\n    - name: count Mitogen's interpreters on the target\n      shell: ps -eo args | grep -c '[m]itogen:' > /root/mitogen-count || true\n      changed_when: false\n    - copy: { dest: /etc/motd, content: \"hi\\n\" }\n";
    let check = "#!/bin/sh\ngrep -qx hi /etc/motd && echo \"mitogen interpreters: $(cat /root/mitogen-count)\"\n";
    for (manifest_extra, strategy) in [("", "mitogen"), ("[run]\nstrategy = \"linear\"\n", "linear")] {
        let manifest = format!("title = \"t\"\ndistros = [\"debian-12\"]\n{manifest_extra}");
        let fixture = Fixture::new(&manifest, playbook, check);
        let out = run_json(&fixture.path_str(), &["--timings"], 0);
        let json = out.json();
        assert_eq!(json["strategy"], strategy);
        let verified = out.platform("debian-12")["passes"][0]["verify_output"].as_str().unwrap().to_string();
        let linear = verified.trim() == "mitogen interpreters: 0";
        assert_eq!(linear, strategy == "linear", "{strategy}: {verified}");

        let timings = json["timings"].as_object().expect("timings is an object");
        for phase in [
            "images",
            "start",
            "ssh_ready",
            "pass_1_ansible_start",
            "pass_1_facts",
            "pass_1_tasks",
            "check_1",
            "between_passes",
            "pass_2_ansible_start",
            "pass_2_facts",
            "pass_2_tasks",
            "check_2",
            "teardown",
        ] {
            assert!(timings.contains_key(phase), "{strategy}: no {phase} in {timings:?}");
        }
        let sum: f64 = timings.values().map(|v| v.as_f64().unwrap()).sum();
        let duration = json["duration_seconds"].as_f64().unwrap();
        assert!((sum - duration).abs() < 1.0, "{strategy}: phases add up to {sum}, the run took {duration}");
        assert!(out.stderr.contains("pass 1: facts") && out.stderr.contains("teardown"), "{}", out.stderr);
        assert_eq!(leftovers(&out.run_id()), (0, 0));
    }
}

/// Both passes are served by one Ansible process in the controller (`ansible/launcher.py`):
/// pass 2 still starts as a fresh `ansible-playbook` would (no fact set by pass 1, its own
/// SANDBOX_PASS, its own `--limit` without the host pass 1 failed, its warnings printed again),
/// and it reuses the Mitogen interpreter pass 1 started on the target.
#[test]
fn pass_2_starts_fresh_but_reuses_pass_1_s_interpreter_on_the_target() {
    let playbook = r#"- hosts: all:nosuchgroup
  gather_facts: false
  tasks:
    - name: what the pass starts with
      debug:
        msg: "leaked={{ leaked | default('nothing') }} pass={{ lookup('env', 'SANDBOX_PASS') }}"
    - set_fact:
        leaked: "from pass {{ lookup('env', 'SANDBOX_PASS') }}"
    - name: note the interpreters this pass ran on
      shell: ps -eo pid=,args= | grep '[m]itogen:' | awk '{print $1}' | sort > /root/interpreters-{{ lookup('env', 'SANDBOX_PASS') }}
      changed_when: false
    - fail: { msg: trixie fails pass 1 }
      when: inventory_hostname == 'debian-13'
"#;
    let check = "#!/bin/sh\n[ \"$SANDBOX_PASS\" = 1 ] && exit 0\ncmp /root/interpreters-1 /root/interpreters-2 && echo \"same interpreter: $(cat /root/interpreters-2)\"\n";
    let fixture = Fixture::new("title = \"t\"\ndistros = [\"debian-12\", \"debian-13\"]\n", playbook, check);
    let out = run_json(&fixture.path_str(), &[], 1);
    assert_eq!(out.platform("debian-13")["passes"].as_array().unwrap().len(), 1, "{}", out.stderr);
    let bookworm = out.platform("debian-12");
    assert_eq!(bookworm["verdict"], "passed", "{}", out.stderr);
    let same = bookworm["passes"][1]["verify_output"].as_str().unwrap();
    assert!(same.starts_with("same interpreter: ") && same.trim().len() > "same interpreter:".len(), "{same}");

    let pass_2: Vec<&str> = out.stderr.lines().filter_map(|l| l.strip_prefix("[pass 2] ")).collect();
    let pass_2 = pass_2.join("\n");
    assert!(pass_2.contains("\"msg\": \"leaked=nothing pass=2\""), "{pass_2}");
    assert!(pass_2.contains("[WARNING]: Could not match supplied host pattern, ignoring: nosuchgroup"), "{pass_2}");
    assert!(!pass_2.contains("debian-13"), "pass 2 is limited to the host still in play: {pass_2}");
    assert_eq!(leftovers(&out.run_id()), (0, 0));
}

/// What pass 2 changed is shown, not only which task; `-v` reaches ansible-playbook.
#[test]
fn a_change_in_pass_two_shows_its_diff_and_verbosity_reaches_ansible() {
    let fixture = Fixture::debian12(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: stamp the motd\n      ansible.builtin.copy:\n        dest: /etc/motd\n        content: \"built {{ lookup('pipe', 'date +%s%N') }}\\n\"\n",
    );
    let out = run_json(&fixture.path_str(), &["-v"], 1);
    let platform = out.platform("debian-12");
    assert_eq!(platform["reason"], "not idempotent: pass 2 changed 1 task(s): `stamp the motd`");
    let diff = &platform["passes"][1]["diffs"][0];
    assert_eq!(diff["task"], "stamp the motd", "{platform}");
    assert!(diff["diff"].as_str().unwrap().starts_with("--- before: /etc/motd\n"), "{diff}");
    assert!(out.stderr.contains("  pass 2 changed `stamp the motd`:"), "{}", out.stderr);
    // At -v Ansible prints each result's JSON after its host.
    assert!(out.stderr.contains("changed: [debian-12] => {"), "{}", out.stderr);
}

/// A local action's Python must not inherit PYTHONUNBUFFERED: under pipelining it reads its
/// module from a pipe, one byte per read() when unbuffered (~6x slower under gVisor here).
#[test]
fn local_actions_run_without_pythonunbuffered() {
    let fixture = Fixture::debian12(
        "- hosts: all\n  gather_facts: false\n  strategy: linear\n  tasks:\n    - shell: 'echo \"unbuffered=${PYTHONUNBUFFERED:-unset}\"'\n      delegate_to: localhost\n      register: probe\n      changed_when: false\n    - debug: { msg: \"{{ probe.stdout }}\" }\n",
    );
    let out = Sandbox::new(["run", &fixture.path_str()]).status(0).run();
    assert!(out.stdout.contains("unbuffered=unset"), "{}", out.stdout);
}
