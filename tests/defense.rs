//! The adversarial suite: each test attacks one defense layer with a real playbook in real
//! runsc containers, and asserts the verdict, that the host is untouched, that nothing of
//! the run remains, and that the run ended within its bound.

use std::time::{Duration, Instant};

use crate::harness::{leftovers, Fixture, Output, Sandbox, PASSING_CHECK};

/// Runs a one-task playbook on debian-12 with `--json` and checks the common promises.
/// A one-task attack on debian-12 that must end with `status` within `bound`, leaving nothing.
fn attack(task: &str, bound: Duration, status: i32) -> Output {
    let playbook = format!("- hosts: all\n  gather_facts: false\n  tasks:\n{task}");
    let fixture = Fixture::debian12(&playbook);
    let started = Instant::now();
    let out = Sandbox::new(["run", &fixture.path_str(), "--json"]).status(status).run();
    assert!(started.elapsed() < bound, "took {:?} (bound {bound:?}):\n{}", started.elapsed(), out.stderr);
    assert!(!out.run_id().is_empty());
    out
}

#[test]
fn fork_bomb_is_killed_by_the_guard() {
    let out = attack(
        "    - name: fork bomb\n      shell: 'bomb() { bomb | bomb & }; bomb; sleep 60'\n      args:\n        executable: /bin/bash\n",
        Duration::from_secs(240),
        1,
    );
    let platform = out.platform("debian-12");
    assert_eq!(platform["verdict"], "killed", "{platform}");
    let reason = platform["reason"].as_str().unwrap();
    assert!(reason.contains("fork bomb guard") && reason.contains("(limit 256)"), "{reason}");
}

#[test]
fn normal_package_work_does_not_trip_the_guard() {
    let out = attack(
        "    - apt: { name: [nginx, curl], state: present }\n    - systemd: { name: nginx, state: started }\n",
        Duration::from_secs(400),
        0,
    );
    assert_eq!(out.platform("debian-12")["verdict"], "passed");
}

#[test]
fn memory_hog_dies_and_the_platform_fails() {
    let out = attack(
        "    - name: eat memory\n      command: python3 -c 'a = [bytearray(50 * 1024 * 1024) for _ in range(200)]'\n",
        Duration::from_secs(240),
        1,
    );
    let platform = out.platform("debian-12");
    let verdict = platform["verdict"].as_str().unwrap();
    let reason = platform["reason"].as_str().unwrap();
    // gVisor may kill the process inside the sandbox (the task fails with its signal) or the
    // host's OOM killer may end the sandbox (verdict `killed`, read from the container state).
    match verdict {
        "killed" => assert!(
            reason.contains("out of memory in target debian-12") && reason.contains("(limit 1536 MiB"),
            "{reason}"
        ),
        "failed" => assert!(reason.contains("eat memory"), "{reason}"),
        other => panic!("unexpected verdict {other}: {reason}"),
    }
}

#[test]
fn filling_tmp_fails_the_task_and_spares_the_host_disk() {
    let before = free_bytes("/");
    let out = attack(
        "    - name: fill /tmp\n      shell: dd if=/dev/zero of=/tmp/fill bs=1M count=2048\n",
        Duration::from_secs(240),
        1,
    );
    let platform = out.platform("debian-12");
    assert_eq!(platform["passes"][0]["apply"], "failed", "{platform}");
    assert!(platform["reason"].as_str().unwrap().contains("fill /tmp"), "{platform}");
    let after = free_bytes("/");
    assert!(before.saturating_sub(after) < 1024 * 1024 * 1024, "host disk lost {} bytes", before - after);
}

#[test]
fn nothing_of_the_host_is_visible_from_a_target_or_the_controller() {
    // The kernel's own name for the host: always there, unlike /etc/hostname.
    let host_name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap().trim().to_string();
    assert!(!host_name.is_empty(), "the host has a name to look for");
    let probe = "test ! -e /var/run/docker.sock && test ! -e /run/docker.sock \
                 && ! ls /proc/1/root/work 2>/dev/null \
                 && ! grep -q '[d]ockerd' /proc/*/cmdline 2>/dev/null && hostname";
    let task = format!(
        "    - name: look around the target\n      shell: \"{probe}\"\n      register: target\n\
         \x20   - name: look around the controller\n      shell: \"{probe}\"\n      delegate_to: localhost\n      register: controller\n\
         \x20   - debug: {{ msg: \"seen {{{{ target.stdout }}}} and {{{{ controller.stdout }}}}\" }}\n"
    );
    // `shell` tasks change on every pass: the run fails its idempotency check, which is not the point here.
    let out = attack(&task, Duration::from_secs(240), 1);
    let platform = out.platform("debian-12");
    assert_eq!(platform["passes"][0]["apply"], "ok", "{}", out.stderr);
    assert!(out.stderr.contains("seen debian-12 and controller"), "{}", out.stderr);
    assert!(!out.stderr.contains(&format!("seen {host_name}")), "{}", out.stderr);
}

#[test]
fn six_concurrent_runs_all_pass_and_leave_nothing() {
    let fixture = Fixture::new(
        "title = \"t\"\ndistros = [\"debian-12\"]\n",
        "- hosts: all\n  tasks:\n    - copy: { dest: /etc/motd, content: \"hi\\n\" }\n",
        PASSING_CHECK,
    );
    let children: Vec<_> = (0..6).map(|_| Sandbox::new(["run", &fixture.path_str(), "--json"]).spawn()).collect();
    for child in children {
        let out = child.into_child().wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
        let run = crate::harness::run_id_in(&stderr).unwrap();
        assert_eq!(leftovers(&run), (0, 0));
    }
}

/// A learner's 2 GB file in a 1.5 GiB target: gVisor's memory overlay holds the write in the
/// sandbox's memory, so the target dies at its memory limit and the host's disk never pays for
/// it. Sampled while the run goes: the target's own writable layer on the host (exact, whatever
/// other tests do) and the free space of Docker's data root (coarse: other tests share it).
#[test]
fn a_big_write_is_bounded_by_the_memory_limit_and_spares_the_host_disk() {
    let playbook = "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: write 2 GB to /var\n      shell: head -c 2000000000 /dev/urandom > /var/big\n";
    let fixture = Fixture::debian12(playbook);
    let data_root = docker_data_root();
    let before = free_bytes(&data_root);
    let mut child = Sandbox::new(["run", &fixture.path_str(), "--json"]).spawn();
    let stderr = crate::harness::lines_of(child.stderr.take().unwrap());
    let (mut seen, mut upper_dir) = (Vec::new(), None);
    let (mut lowest, mut largest_layer, mut layer_samples) = (before, 0, 0);
    let deadline = Instant::now() + Duration::from_secs(240);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the run did not end within 240 s");
        seen.extend(stderr.try_iter().map(|(_, line)| line));
        if upper_dir.is_none() {
            let run = seen.iter().find_map(|line| crate::harness::run_id_in(line));
            upper_dir = run.and_then(|run| writable_layer(&format!("sandbox-{run}-debian-12")));
        }
        if let Some(dir) = &upper_dir {
            largest_layer = largest_layer.max(du_bytes(dir));
            layer_samples += 1;
        }
        lowest = lowest.min(free_bytes(&data_root));
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = crate::harness::finish(child);
    seen.extend(stderr.try_iter().map(|(_, line)| line));
    let stderr = seen.join("\n");
    assert!(layer_samples > 0, "the target's writable layer was never found: {stderr}");
    assert!(largest_layer < 100 * 1024 * 1024, "the target wrote {largest_layer} bytes to the host's disk");
    let lost = before.saturating_sub(lowest);
    assert!(lost < 1024 * 1024 * 1024, "Docker's data root lost {lost} bytes during the run");
    assert_eq!(out.code, 1, "{stderr}");
    let platform = out.platform("debian-12");
    assert_eq!(platform["verdict"], "killed", "{platform}");
    let reason = platform["reason"].as_str().unwrap();
    assert!(reason.contains("out of memory in target debian-12"), "{reason}");
    assert!(reason.contains("limit 1536 MiB; files written outside /tmp count against it"), "{reason}");
    let run = crate::harness::run_id_in(&stderr).expect("the run announces its id");
    assert_eq!(leftovers(&run), (0, 0), "the run left containers or networks");
}

/// The host directory holding a container's writable layer (overlay2's UpperDir).
fn writable_layer(container: &str) -> Option<String> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let docker = bollard::Docker::connect_with_local_defaults().ok()?.negotiate_version().await.ok()?;
        let inspect = docker.inspect_container(container, None).await.ok()?;
        inspect.graph_driver?.data.get("UpperDir").cloned()
    })
}

fn du_bytes(dir: &str) -> u64 {
    let out = std::process::Command::new("du").args(["-sb", dir]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or(0)
}

/// A lookup runs in the controller: its memory hog ends the run with the controller and its
/// limit named, not with an exit code of Ansible's, and the run does not hang on the dead sandbox.
#[test]
fn a_controller_memory_hog_names_the_controller_and_its_limit() {
    let out = attack(
        "    - name: eat the controller's memory\n      debug:\n        msg: \"{{ lookup('pipe', 'python3 -c \\\"a = bytearray(3 * 1024 ** 3)\\\"') }}\"\n",
        Duration::from_secs(240),
        1,
    );
    let platform = out.platform("debian-12");
    assert_eq!(platform["verdict"], "killed", "{platform}");
    let reason = platform["reason"].as_str().unwrap();
    // The controller has the targets' memory (1.5 GiB by default), at least 1 GiB.
    assert!(reason.contains("out of memory in the controller (limit 1536 MiB"), "{reason}");
    assert!(!reason.contains("exited 128"), "{reason}");
}

fn docker_data_root() -> String {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let docker = bollard::Docker::connect_with_local_defaults().unwrap().negotiate_version().await.unwrap();
        docker.info().await.unwrap().docker_root_dir.unwrap_or_else(|| "/var/lib/docker".into())
    })
}

fn free_bytes(path: &str) -> u64 {
    let out = std::process::Command::new("df").args(["--output=avail", "-B1", path]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).lines().nth(1).unwrap().trim().parse().unwrap()
}

/// Docker vanishing mid-run, seen from the client: the binary talks to the daemon through a
/// socat proxy that the test kills once pass 1 is under way (stopping the real dockerd would
/// break every other test running beside this one).
#[test]
fn docker_daemon_gone_mid_run_is_exit_3_without_panic_or_hang() {
    use std::os::unix::process::CommandExt;

    let socket_dir = tempfile::tempdir().unwrap();
    let socket = socket_dir.path().join("docker.sock");
    let mut proxy = std::process::Command::new("socat")
        .arg(format!("UNIX-LISTEN:{},fork", socket.display()))
        .arg("UNIX-CONNECT:/var/run/docker.sock")
        .process_group(0)
        .spawn()
        .expect("socat runs (scripts/setup.sh installs it)");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !socket.exists() {
        assert!(Instant::now() < deadline, "socat never listened");
        std::thread::sleep(Duration::from_millis(20));
    }

    let fixture = Fixture::debian12(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: long task\n      shell: sleep 120\n",
    );
    let mut child =
        Sandbox::new(["run", &fixture.path_str()]).env("DOCKER_HOST", &format!("unix://{}", socket.display())).spawn();
    let stdout = crate::harness::lines_of(child.stdout.take().unwrap());
    let stderr = crate::harness::lines_of(child.stderr.take().unwrap());
    crate::harness::wait_for_line(&stdout, "TASK [long task]", Duration::from_secs(240)).expect("pass 1 started");

    // The daemon "stops": the proxy and every connection it forked die at once.
    let group = proxy.id() as i32;
    std::process::Command::new("kill").args(["-KILL", "--", &format!("-{group}")]).status().unwrap();
    let _ = proxy.wait();
    let exit = crate::harness::wait_with_bound(&mut child, Duration::from_secs(120)).expect("no hang");
    // Every line, up to the end of its stderr (the reader may still hold the last ones).
    let messages: Vec<String> = stderr.iter().map(|(_, line)| line).collect();
    let messages = messages.join("\n");
    assert_eq!(exit.code(), Some(3), "{messages}");
    assert!(messages.contains("ansible-playbook"), "the error names what was being done: {messages}");
    assert!(!messages.contains("panicked"), "{messages}");

    // What the vanished client could not remove, the real daemon still has: clean it here.
    let run = crate::harness::run_id_in(&messages).expect("run id");
    crate::harness::remove_run(&run);
    assert_eq!(leftovers(&run), (0, 0));
}

#[test]
fn network_none_has_no_egress_but_ansible_still_reaches_the_target() {
    let fixture = Fixture::new(
        "title = \"t\"\ndistros = [\"debian-12\"]\n[run]\nnetwork = \"none\"\n",
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - ping:\n",
        "#!/bin/sh\nif python3 -c \"import urllib.request; urllib.request.urlopen('http://deb.debian.org/debian/', timeout=5)\" 2>/dev/null; then echo 'reached the mirror'; exit 1; fi\necho 'no route out'\n",
    );
    let out = Sandbox::new(["run", &fixture.path_str(), "--json"]).status(0).run();
    let platform = out.platform("debian-12");
    assert_eq!(platform["passes"][0]["verify_output"], "no route out\n", "{platform}");
    assert_eq!(leftovers(&out.run_id()), (0, 0));
}

#[test]
fn leftovers_of_a_dead_run_are_removed_by_the_next_run() {
    use bollard::models::ContainerCreateBody;
    use bollard::query_parameters::CreateContainerOptionsBuilder;

    let dead_run = format!("dead{:06}", std::process::id() % 1_000_000);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let docker = bollard::Docker::connect_with_local_defaults().unwrap().negotiate_version().await.unwrap();
        let labels = std::collections::HashMap::from([
            ("io.sandbox.run".to_string(), dead_run.clone()),
            ("io.sandbox.deadline".to_string(), "1".to_string()),
        ]);
        let body = ContainerCreateBody {
            image: Some("debian:12".into()),
            cmd: Some(vec!["true".into()]),
            labels: Some(labels),
            ..Default::default()
        };
        let options = CreateContainerOptionsBuilder::default().name(&format!("sandbox-{dead_run}-left")).build();
        docker.create_container(Some(options), body).await.unwrap();
    });
    assert_eq!(crate::harness::present(&dead_run).0, 1);

    let fixture = Fixture::debian12("- hosts: all\n  gather_facts: false\n  tasks:\n    - ping:\n");
    Sandbox::new(["run", &fixture.path_str()]).status(0).run();
    // This run, or one running beside it, swept the dead run (every run sweeps).
    assert_eq!(leftovers(&dead_run), (0, 0));
}
