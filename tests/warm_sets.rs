//! Warm sets with real containers: `pool up --challenge` keeps whole attempts ready, a run
//! claims one and reports exactly what a cold run reports, settings that would make the warm
//! state differ fall back to a cold start, two runs never share a set, and nothing is left.

use std::time::Duration;

use serde_json::Value;

use crate::harness::{
    labelled, leftovers, lines_of, run_id_in, wait_for_line, wait_with_bound, Fixture, Output, Sandbox,
};

/// A playbook with a change, a handler and an idempotent second pass, under `become`.
const PLAYBOOK: &str = "- hosts: all
  become: true
  tasks:
    - name: write the motd
      copy: { dest: /etc/motd, content: \"warm\\n\" }
      notify: note it
    - name: read it back
      command: cat /etc/motd
      changed_when: false
  handlers:
    - name: note it
      command: touch /tmp/noted
";
const CHECK: &str = "#!/bin/sh\ngrep -qx warm /etc/motd || { echo 'FAIL: /etc/motd'; exit 1; }\n\
    test -e /tmp/noted || { echo 'FAIL: handler'; exit 1; }\necho 'ok: motd and handler'\n";
/// Settings a warm set must match: Ansible reads ansible.cfg when it is imported.
const ANSIBLE_CFG: &str = "[defaults]\nremote_user = root\ninterpreter_python = /usr/bin/python3\n";

/// A pool of its own (namespace and state directory), removed when the test ends.
struct SetPool {
    state: tempfile::TempDir,
    namespace: String,
}

impl SetPool {
    fn new(name: &str) -> SetPool {
        let namespace = format!("test-set-{name}-{}", std::process::id());
        SetPool { state: tempfile::tempdir().unwrap(), namespace }
    }

    fn sandbox<I: IntoIterator<Item = S>, S: AsRef<std::ffi::OsStr>>(&self, args: I) -> Sandbox {
        Sandbox::new(args)
            .env("SANDBOX_STATE_DIR", &self.state.path().display().to_string())
            .env("SANDBOX_POOL_NAMESPACE", &self.namespace)
    }

    fn up(&self, fixture: &Fixture, size: &str) {
        let up = self.sandbox(["pool", "up", "--challenge", &fixture.path_str(), "--size", size]).output();
        assert_eq!(up.code, 0, "{}", up.stderr);
        let ready = format!("{size}       0      {size}");
        assert!(up.stdout.contains(&ready), "{size} set(s) ready: {}", up.stdout);
    }

    fn run(&self, fixture: &Fixture, extra: &[&str]) -> Output {
        let mut args = vec!["run", "--solution", "--json"];
        args.push(fixture.path().to_str().unwrap());
        args.extend(extra);
        self.sandbox(args).run()
    }
}

impl Drop for SetPool {
    fn drop(&mut self) {
        let _ = self.sandbox(["pool", "down"]).output();
    }
}

fn fixture() -> Fixture {
    let fixture = Fixture::new("title = \"warm\"\ndistros = [\"debian-12\"]\n", PLAYBOOK, CHECK);
    fixture.write("ansible.cfg", ANSIBLE_CFG);
    fixture
}

/// What a learner reads of a run: verdict, and per pass its status, changed count, tasks
/// and check output.
fn essence(out: &Output) -> Value {
    let json = out.json();
    let platform = out.platform("debian-12");
    let passes: Vec<Value> = platform["passes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|pass| {
            serde_json::json!({
                "apply": pass["apply"], "apply_error": pass["apply_error"], "changed": pass["changed"],
                "changed_tasks": pass["changed_tasks"], "verify_exit": pass["verify_exit"],
                "verify_output": pass["verify_output"],
            })
        })
        .collect();
    serde_json::json!({ "passed": json["passed"], "verdict": platform["verdict"], "passes": passes })
}

fn seconds(out: &Output, phase: &str) -> f64 {
    out.json()["timings"][phase].as_f64().unwrap_or(0.0)
}

#[test]
fn a_run_on_a_warm_set_reports_what_a_cold_run_reports_and_skips_the_connect() {
    let pool = SetPool::new("same");
    let fixture = fixture();
    pool.up(&fixture, "1");
    let warm = pool.run(&fixture, &[]);
    assert_eq!(warm.code, 0, "{}", warm.stderr);
    assert_eq!(warm.json()["warm_set"], "claimed", "{}", warm.stdout);
    assert!(warm.platform("debian-12")["notes"].to_string().contains("warm set from the pool"));
    // Pass 0 never shows: not in the output, not in the passes.
    assert!(!warm.stderr.contains("TASK [ping]"), "{}", warm.stderr);
    assert_eq!(warm.platform("debian-12")["passes"].as_array().unwrap().len(), 2);

    let cold = pool.run(&fixture, &["--no-pool"]);
    assert_eq!(cold.code, 0, "{}", cold.stderr);
    assert_eq!(cold.json()["warm_set"], Value::Null);
    assert_eq!(essence(&warm), essence(&cold));
    // The set was connected before the attempt: no SSH wait.
    assert!(seconds(&warm, "ssh_ready") < seconds(&cold, "ssh_ready"), "{} / {}", warm.stdout, cold.stdout);
    assert_eq!(leftovers(&warm.run_id()), (0, 0));
}

#[test]
fn a_set_made_with_another_ansible_cfg_is_not_claimed() {
    let pool = SetPool::new("cfg");
    let fixture = fixture();
    pool.up(&fixture, "1");
    // The learner changes what Ansible reads at import: the set's server would not know.
    fixture.write("ansible.cfg", &format!("{ANSIBLE_CFG}forks = 3\n"));
    let out = pool.run(&fixture, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let said = out.json()["warm_set"].as_str().unwrap_or_default().to_string();
    assert!(said.starts_with("none ready for this attempt"), "{said}");
    assert!(said.contains("started cold"), "{said}");
}

#[test]
fn two_runs_at_once_on_one_set_one_claims_it_the_other_starts_cold() {
    let pool = SetPool::new("two");
    let fixture = fixture();
    pool.up(&fixture, "1");
    let spawn = || pool.sandbox(["run", "--solution", "--json", "--distro", "debian-12", &fixture.path_str()]).spawn();
    let (first, second) = (spawn(), spawn());
    let outputs = [crate::harness::finish(first), crate::harness::finish(second)];
    let mut claimed = 0;
    for out in &outputs {
        assert_eq!(out.code, 0, "{}", out.stderr);
        claimed += usize::from(out.json()["warm_set"] == "claimed");
        assert_eq!(leftovers(&out.run_id()), (0, 0));
    }
    assert_eq!(claimed, 1, "exactly one run took the set");
}

#[test]
fn ctrl_c_during_a_warm_run_leaves_nothing_of_the_run_or_its_set() {
    let pool = SetPool::new("sigint");
    let fixture = Fixture::new(
        "title = \"warm\"\ndistros = [\"debian-12\"]\n",
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: long task\n      shell: sleep 300\n",
        CHECK,
    );
    pool.up(&fixture, "1");
    let before = labelled(&format!("io.sandbox.pool={}", pool.namespace));
    assert_eq!(before, (2, 2), "a set: target, controller, its network and its IPv6 loopback network");
    let mut child = pool.sandbox(["run", &fixture.path_str()]).spawn();
    let stdout = lines_of(child.stdout.take().unwrap());
    let stderr = lines_of(child.stderr.take().unwrap());
    let (_, announced) = wait_for_line(&stderr, "run ", Duration::from_secs(60)).expect("run announced");
    let run = run_id_in(&announced.join("\n")).expect("run id");
    wait_for_line(&stdout, "TASK [long task]", Duration::from_secs(120)).expect("pass 1 started");
    std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    let exit = wait_with_bound(&mut child, Duration::from_secs(90)).expect("exits soon after SIGINT");
    assert_eq!(exit.code(), Some(130));
    assert_eq!(leftovers(&run), (0, 0));
    // The claimed set went with the run; what is left of the pool is the refill's, if any.
    let claimed_name = format!("sandbox-{run}-controller-until-");
    let left = crate::harness::names_with_prefix(&claimed_name);
    assert!(left.is_empty(), "{left:?}");
}

/// A warm run killed with SIGKILL (no cleanup of its own) leaves its claimed set; the next
/// run removes all of it (targets, controller, network) once the killed run's deadline and
/// its grace have passed.
#[test]
fn a_killed_warm_run_leaves_a_set_the_next_run_removes() {
    let pool = SetPool::new("kill");
    let fixture = Fixture::new(
        "title = \"warm\"\ndistros = [\"debian-12\"]\n",
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: long task\n      shell: sleep 300\n",
        CHECK,
    );
    pool.up(&fixture, "1");
    let mut child = pool.sandbox(["run", &fixture.path_str(), "--timeout", "10s"]).spawn();
    let stdout = lines_of(child.stdout.take().unwrap());
    let stderr = lines_of(child.stderr.take().unwrap());
    let (_, announced) = wait_for_line(&stderr, "run ", Duration::from_secs(60)).expect("run announced");
    let run = run_id_in(&announced.join("\n")).expect("run id");
    wait_for_line(&stdout, "TASK [long task]", Duration::from_secs(120)).expect("pass 1 started");
    child.kill().unwrap();
    child.wait().unwrap();
    let claimed = crate::harness::names_with_prefix(&format!("sandbox-{run}-controller-until-"));
    assert_eq!(claimed.len(), 1, "the killed run's claimed controller is left: {claimed:?}");
    let deadline: u64 = claimed[0].rsplit("-until-").next().unwrap().parse().unwrap();
    crate::harness::wait_past_grace(deadline);
    let next = pool.run(&fixture_passing(), &["--no-pool"]);
    assert!(next.stderr.contains("pooled target(s) left by dead runs"), "{}", next.stderr);
    let pooled = labelled(&format!("io.sandbox.pool={}", pool.namespace));
    assert_eq!(pooled, (0, 0), "the set's targets, controller and network are gone");
}

fn fixture_passing() -> Fixture {
    Fixture::debian12("- hosts: all\n  gather_facts: false\n  tasks:\n    - ping:\n")
}
