//! `sandbox watch` with real containers: an attempt per edit, what changed since the last
//! one, one queued attempt for edits during a run, and nothing left after Ctrl-C.

use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use crate::harness::{labelled, leftovers, lines_of, run_id_in, wait_for_line, wait_with_bound, Fixture, Sandbox};

const STARTER: &str = "- hosts: all\n  gather_facts: false\n  tasks:\n    - debug: { msg: not yet }\n";
const SOLUTION: &str =
    "- hosts: all\n  gather_facts: false\n  tasks:\n    - copy: { dest: /etc/motd, content: \"hi\\n\" }\n";
const CHECK: &str = "#!/bin/sh\ngrep -qx hi /etc/motd || { echo 'FAIL: /etc/motd does not say hi'; exit 1; }\n";

fn verdict_of(lines: &[String]) -> &str {
    lines.iter().rev().find(|l| l.starts_with("PASSED ") || l.starts_with("FAILED ")).map_or("", |l| &l[..6])
}

#[test]
fn each_edit_is_an_attempt_edits_during_a_run_queue_one_and_ctrl_c_leaves_nothing() {
    let fixture = Fixture::new("title = \"w\"\ndistros = [\"debian-12\"]\n", STARTER, CHECK);
    let (mut child, pool) = spawn_watch(&fixture);
    let stdout = lines_of(child.stdout.take().unwrap());
    let stderr = lines_of(child.stderr.take().unwrap());

    let first = collect_attempt(&stdout);
    assert_eq!(verdict_of(&first), "FAILED", "{first:?}");

    fixture.write("playbook.yml", SOLUTION);
    let second = collect_attempt(&stdout);
    assert_eq!(verdict_of(&second), "PASSED", "{second:?}");
    let (_, changes) = wait_for_line(&stdout, "changed on pass 2: - -> 0", Duration::from_secs(10))
        .expect("the watch says what changed since attempt 1");
    let text = changes.join("\n");
    assert!(text.contains("since attempt 1:"), "{text}");
    assert!(text.contains("debian-12: failed -> passed"), "{text}");
    assert!(text.contains("fixed: FAIL: /etc/motd does not say hi"), "{text}");

    // A slower attempt 3; two saves while it runs queue exactly one attempt 4.
    let slow = format!("{SOLUTION}    - command: sleep 4\n      changed_when: false\n");
    fixture.write("playbook.yml", &slow);
    wait_for_line(&stdout, "TASK [command]", Duration::from_secs(240)).expect("attempt 3 runs the slow task");
    fixture.write("playbook.yml", &format!("{slow}    - debug: {{ msg: one }}\n"));
    fixture.write("playbook.yml", &format!("{slow}    - debug: {{ msg: two }}\n"));
    let third = collect_attempt(&stdout);
    assert_eq!(verdict_of(&third), "PASSED", "{third:?}");
    let fourth = collect_attempt(&stdout);
    assert_eq!(verdict_of(&fourth), "PASSED", "{fourth:?}");
    assert!(fourth.iter().any(|l| l.contains("msg\": \"two\"")), "attempt 4 ran the last save: {fourth:?}");
    // Nothing else was queued: no fifth attempt starts (bounded look).
    assert!(wait_for_line(&stdout, "[pass 1]", Duration::from_secs(8)).is_none(), "a fifth attempt started");

    let pid = child.id().to_string();
    std::process::Command::new("kill").args(["-INT", &pid]).status().unwrap();
    let status = wait_with_bound(&mut child, Duration::from_secs(90)).expect("watch ends on Ctrl-C");
    assert_eq!(status.code(), Some(130));

    let mut runs = Vec::new();
    while let Ok((_, line)) = stderr.try_recv() {
        if let Some(id) = run_id_in(&line).filter(|_| line.contains("(run ")) {
            runs.push(id);
        }
    }
    assert!(runs.len() >= 4, "stderr named {} runs", runs.len());
    // The last attempt's teardown (and a set it may have begun to warm) ends in a process of
    // its own, a moment after the watch.
    let label = format!("{}={pool}", sandbox::labels::POOL);
    let deadline = Instant::now() + Duration::from_secs(120);
    while labelled(&label) != (0, 0) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(250));
    }
    assert_eq!(labelled(&label), (0, 0), "the watch's pool is gone");
    for run in runs {
        assert_eq!(leftovers(&run), (0, 0), "run {run} left containers or networks");
    }
}

/// `sandbox watch` of `fixture`, and its pool's namespace (named after its process), which
/// goes with it even if the test fails half-way.
fn spawn_watch(fixture: &Fixture) -> (crate::harness::Spawned, String) {
    let mut child = Sandbox::new(["watch", &fixture.path_str()]).spawn();
    let pool = format!("watch-{}", child.id());
    child.owns_pool(&pool);
    (child, pool)
}

/// Lines of one attempt, up to and including its verdict line.
fn collect_attempt(stdout: &Receiver<(Instant, String)>) -> Vec<String> {
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(240);
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        let (_, line) = stdout.recv_timeout(left).expect("the attempt ends within 240 s");
        let done = line.starts_with("PASSED ") || line.starts_with("FAILED ");
        lines.push(line);
        if done {
            return lines;
        }
    }
    panic!("no verdict within 240 s: {lines:?}");
}

/// A test that fails half-way leaves no `sandbox watch` running and no pool of its behind: the
/// harness interrupts the process it spawned and removes the pool it works in.
#[test]
fn a_watch_test_that_fails_half_way_leaves_nothing_behind() {
    let fixture = Fixture::new("title = \"w\"\ndistros = [\"debian-12\"]\n", STARTER, CHECK);
    let started = std::sync::Mutex::new(None);
    let failed = std::panic::catch_unwind(|| {
        let (mut child, pool) = spawn_watch(&fixture);
        let stdout = lines_of(child.stdout.take().unwrap());
        wait_for_line(&stdout, "[pass 1]", Duration::from_secs(240)).expect("the first attempt runs");
        let (_, networks) = labelled(&format!("{}={pool}", sandbox::labels::POOL));
        *started.lock().unwrap() = Some((child.id(), pool, networks));
        panic!("a test failing while its watch runs");
    });
    assert!(failed.is_err());
    let (pid, pool, networks) = started.into_inner().unwrap().expect("the watch's first attempt ran");
    assert!(networks >= 1, "the watch's pool had its networks when the test failed: {networks}");
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists(), "the watch {pid} still runs");
    assert_eq!(labelled(&format!("{}={pool}", sandbox::labels::POOL)), (0, 0), "the watch's pool is left");
}

/// The attempt after a save runs on the warm set the previous attempt's teardown made while
/// the learner edited: it starts at pass 1, as the first attempt did.
#[test]
fn an_attempt_after_a_save_takes_the_set_warmed_while_the_learner_edited() {
    let fixture = Fixture::new("title = \"w\"\ndistros = [\"debian-12\"]\n", STARTER, CHECK);
    let (mut child, pool) = spawn_watch(&fixture);
    let stdout = lines_of(child.stdout.take().unwrap());
    let stderr = lines_of(child.stderr.take().unwrap());
    assert_eq!(verdict_of(&collect_attempt(&stdout)), "FAILED");

    let ready = format!("sandbox-pool-{pool}-ready-set-");
    let deadline = Instant::now() + Duration::from_secs(240);
    while crate::harness::names_with_prefix(&ready).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(!crate::harness::names_with_prefix(&ready).is_empty(), "a set warmed within 240 s");
    fixture.write("playbook.yml", SOLUTION);
    assert_eq!(verdict_of(&collect_attempt(&stdout)), "PASSED");

    let said: Vec<String> = std::iter::from_fn(|| stderr.try_recv().ok()).map(|(_, line)| line).collect();
    let warm = said.iter().filter(|line| line.contains("taking a warm set from the pool")).count();
    assert_eq!(warm, 2, "both attempts took a warm set: {said:?}");
    std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    wait_with_bound(&mut child, Duration::from_secs(90)).expect("watch ends on Ctrl-C");
}
