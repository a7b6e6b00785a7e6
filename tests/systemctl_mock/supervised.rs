//! Supervised mode: with /etc/sandbox/services saying `supervised`, the mock runs the
//! services; here they are real processes on this host (under the scratch root's name), and
//! journalctl reads what they wrote. Every target kills what is left of its services when
//! dropped, so a failing test leaves nothing running.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use super::harness::{
    alive, cmdline, eventually, lines, on_a_fresh_supervised_target, on_a_fresh_target, processes_of, service,
};

#[test]
fn supervised_simple_unit_runs_restarts_and_stops() {
    on_a_fresh_supervised_target(|s| {
        s.unit("sleeper.service", &service("ExecStart=/bin/sleep 300"));
        assert_eq!(s.ok(&["start", "sleeper"]), "");
        assert_eq!(s.ok(&["is-active", "sleeper"]), "active\n");
        let pid = s.main_pid("sleeper");
        assert!(alive(pid), "main PID {pid} runs");
        assert_eq!(cmdline(pid), "/bin/sleep 300");
        let p = s.show("sleeper");
        assert_eq!((p["SubState"].as_str(), p["ExecMainPID"].as_str()), ("running", pid.to_string().as_str()));
        let status = s.ok(&["status", "sleeper"]);
        assert!(status.contains(&format!("   Main PID: {pid} (sleep)")), "{status}");
        assert!(status.contains("Active: active (running) since"), "{status}");
        // start of a running unit changes nothing
        s.ok(&["start", "sleeper"]);
        assert_eq!(s.main_pid("sleeper"), pid);
        // restart: a new process, the old one gone
        s.ok(&["restart", "sleeper"]);
        let new = s.main_pid("sleeper");
        assert_ne!(new, pid);
        assert!(alive(new) && !alive(pid));
        assert_eq!(
            s.ok(&["list-units", "--no-legend", "--plain", "sleeper.service"]).split_whitespace().nth(3),
            Some("running")
        );
        s.ok(&["stop", "sleeper"]);
        assert_eq!(s.expect(&["is-active", "sleeper"], 3).stdout, "inactive\n");
        assert!(!alive(new), "stop ended {new}");
        let p = s.show("sleeper");
        assert_eq!((p["MainPID"].as_str(), p["SubState"].as_str(), p["Result"].as_str()), ("0", "dead", "success"));
        // the log tells the story, as the journal would
        let log = s.journal(&["-u", "sleeper", "--no-pager"]).stdout;
        for line in [
            "Starting sleeper.service - Test service...",
            "Started sleeper.service - Test service.",
            "Stopped sleeper.service - Test service.",
        ] {
            assert!(log.contains(line), "{line} in\n{log}");
        }
    });
}

#[test]
fn supervised_forking_unit_follows_its_pid_file() {
    on_a_fresh_supervised_target(|s| {
        let root = s.root_str();
        s.unit(
            "forker.service",
            &service(&format!(
                "Type=forking\nPIDFile=/run/forker.pid\n\
                 ExecStart=/bin/sh -c '/bin/sleep 300 & echo $! > {root}/run/forker.pid'"
            )),
        );
        fs::create_dir_all(s.p("/run")).unwrap();
        s.ok(&["start", "forker"]);
        let pid = s.main_pid("forker");
        assert_eq!(s.read("/run/forker.pid").trim(), pid.to_string());
        // The forked child is the shell until it execs: its command line changes then.
        eventually("the daemon to exec", || cmdline(pid) == "/bin/sleep 300");
        assert_eq!(s.show("forker")["SubState"], "running");
        s.ok(&["stop", "forker"]);
        assert!(!alive(pid));
        s.expect(&["is-active", "forker"], 3);
        // the daemon dies behind the manager's back: its unit is failed
        s.ok(&["start", "forker"]);
        let pid = s.main_pid("forker");
        Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap();
        eventually("the daemon to die", || !alive(pid));
        assert_eq!(s.expect(&["is-active", "forker"], 3).stdout, "failed\n");
        assert_eq!(s.show("forker")["Result"], "exit-code");
        // a forking unit without PIDFile=: its main process is the one it left running
        s.unit("guess.service", &service("Type=forking\nExecStart=/bin/sh -c '/bin/sleep 299 >/dev/null 2>&1 &'"));
        s.ok(&["start", "guess"]);
        let pid = s.main_pid("guess");
        eventually("the guessed daemon to exec", || cmdline(pid) == "/bin/sleep 299");
        s.ok(&["stop", "guess"]);
        assert!(!alive(pid));
    });
}

#[test]
fn supervised_oneshot_runs_and_remains_only_when_asked() {
    on_a_fresh_supervised_target(|s| {
        let root = s.root_str();
        s.unit(
            "setup.service",
            &service(&format!(
                "Type=oneshot\nRemainAfterExit=yes\nExecStart=/bin/sh -c 'echo one >> {root}/ran'\n\
                 ExecStart=/bin/sh -c 'echo two >> {root}/ran'"
            )),
        );
        s.ok(&["start", "setup"]);
        assert_eq!(s.read("/ran"), "one\ntwo\n");
        assert_eq!(s.ok(&["is-active", "setup"]), "active\n");
        let p = s.show("setup");
        assert_eq!((p["SubState"].as_str(), p["Result"].as_str()), ("exited", "success"));
        s.ok(&["start", "setup"]);
        assert_eq!(s.read("/ran"), "one\ntwo\n", "an active oneshot is not run again");
        s.unit("once.service", &service(&format!("Type=oneshot\nExecStart=/bin/sh -c 'echo once >> {root}/once'")));
        s.ok(&["start", "once"]);
        s.ok(&["start", "once"]);
        assert_eq!(s.read("/once"), "once\nonce\n", "without RemainAfterExit it runs at every start");
        assert_eq!(s.expect(&["is-active", "once"], 3).stdout, "inactive\n");
        assert_eq!(s.show("once")["SubState"], "dead");
        // a failing oneshot fails its start, as its ExecStart is the job
        s.unit("broken.service", &service("Type=oneshot\nExecStart=/bin/sh -c 'echo cannot set up >&2; exit 4'"));
        let out = s.expect(&["start", "broken"], 1);
        assert!(out.stderr.contains("cannot set up"), "{out}");
        let p = s.show("broken");
        assert_eq!((p["ActiveState"].as_str(), p["ExecMainStatus"].as_str()), ("failed", "4"));
    });
}

#[test]
fn supervised_main_process_exiting_1_is_failed_with_its_status() {
    on_a_fresh_supervised_target(|s| {
        s.unit("crash.service", &service("ExecStart=/bin/sh -c 'echo about to crash >&2; exit 1'"));
        // Type=simple: the start itself succeeds, as with systemd; the unit fails right after.
        s.ok(&["start", "crash"]);
        eventually("the unit to fail", || s.run(&["is-active", "crash"]).stdout == "failed\n");
        assert_eq!(s.expect(&["is-active", "crash"], 3).stdout, "failed\n");
        assert_eq!(s.ok(&["is-failed", "crash"]), "failed\n");
        let p = s.show("crash");
        assert_eq!(
            (
                p["ActiveState"].as_str(),
                p["SubState"].as_str(),
                p["Result"].as_str(),
                p["ExecMainStatus"].as_str(),
                p["ExecMainCode"].as_str(),
                p["MainPID"].as_str()
            ),
            ("failed", "failed", "exit-code", "1", "1", "0")
        );
        let status = s.expect(&["status", "crash"], 3).stdout;
        assert!(status.contains("Active: failed (Result: exit-code)"), "{status}");
        assert!(status.contains("(code=exited, status=1/FAILURE)"), "{status}");
        assert!(status.contains("about to crash"), "{status}");
        let listed = s.ok(&["list-units", "--all", "--plain", "--no-legend", "crash.service"]);
        assert_eq!(
            listed.split_whitespace().take(4).collect::<Vec<_>>(),
            ["crash.service", "loaded", "failed", "failed"]
        );
        assert_eq!(s.ok(&["show", "-p", "NFailedUnits", "--value"]), "1\n");
        s.ok(&["reset-failed", "crash"]);
        assert_eq!(s.expect(&["is-active", "crash"], 3).stdout, "inactive\n");
        // killed by a signal other than TERM: Result=signal
        s.unit("victim.service", &service("ExecStart=/bin/sleep 300"));
        s.ok(&["start", "victim"]);
        s.ok(&["kill", "--signal=KILL", "victim"]);
        eventually("the unit to fail", || s.run(&["is-active", "victim"]).stdout == "failed\n");
        let p = s.show("victim");
        assert_eq!(
            (p["Result"].as_str(), p["ExecMainCode"].as_str(), p["ExecMainStatus"].as_str()),
            ("signal", "2", "9")
        );
        // a clean exit is inactive, not failed
        s.unit("brief.service", &service("ExecStart=/bin/true"));
        s.ok(&["start", "brief"]);
        eventually("the unit to end", || s.run(&["is-active", "brief"]).stdout == "inactive\n");
        assert_eq!(s.show("brief")["Result"], "success");
    });
}

#[test]
fn supervised_failing_exec_start_pre_fails_the_start_before_exec_start() {
    on_a_fresh_supervised_target(|s| {
        let root = s.root_str();
        s.unit(
            "web.service",
            &service(&format!(
                "ExecStartPre=/bin/sh -c 'echo \"web: [emerg] unexpected end of file\" >&2; exit 1'\n\
                 ExecStart=/bin/sh -c 'touch {root}/started; exec /bin/sleep 300'"
            )),
        );
        let out = s.expect(&["restart", "web"], 1);
        assert_eq!(
            lines(&out.stderr),
            [
                "Job for web.service failed because the control process exited with error code.",
                "See \"systemctl status web.service\" and \"journalctl -xeu web.service\" for details.",
                "web: [emerg] unexpected end of file",
            ],
            "{out}"
        );
        assert!(!s.exists("/started"), "ExecStart never ran");
        assert_eq!(s.expect(&["is-active", "web"], 3).stdout, "failed\n");
        assert_eq!(s.show("web")["Result"], "exit-code");
        let log = s.journal(&["-xeu", "web.service"]).stdout;
        assert!(log.contains("web: [emerg] unexpected end of file"), "{log}");
        assert!(log.contains("web.service: Control process exited, code=exited, status=1/FAILURE"), "{log}");
        // a leading `-` makes its failure harmless, as with systemd
        s.unit(
            "lenient.service",
            &service(&format!(
                "ExecStartPre=-/bin/false\nExecStart=/bin/sh -c 'touch {root}/lenient; exec /bin/sleep 300'"
            )),
        );
        s.ok(&["start", "lenient"]);
        eventually("ExecStart to run", || s.exists("/lenient"));
        s.ok(&["stop", "lenient"]);
        // a control process that never ends is bounded by TimeoutStartSec=
        s.unit("stuck.service", &service("TimeoutStartSec=1\nExecStartPre=/bin/sleep 30\nExecStart=/bin/sleep 300"));
        let out = s.expect(&["start", "stuck"], 1);
        assert!(out.stderr.starts_with("Job for stuck.service failed because a timeout was exceeded."), "{out}");
        assert_eq!(s.show("stuck")["Result"], "timeout");
    });
}

#[test]
fn supervised_environment_working_directory_and_drop_ins() {
    on_a_fresh_supervised_target(|s| {
        let root = s.root_str();
        fs::create_dir_all(s.p("/srv/app")).unwrap();
        s.write("/etc/default/app", "# settings\nC=\"three four\"\nexport D=4\n\nB=from-file\n");
        s.unit(
            "app.service",
            &service(&format!(
                "Environment=\"A=one two\" B=x\nEnvironmentFile=/etc/default/app\n\
                 EnvironmentFile=-/etc/default/absent\nWorkingDirectory=/srv/app\n\
                 ExecStart=/bin/sh -c 'echo \"$A|$B|$C|$D|$E|$(pwd)\" > {root}/env; exec /bin/sleep 300'"
            )),
        );
        s.ok(&["start", "app"]);
        eventually("the service to write", || s.read("/env").ends_with('\n'));
        assert_eq!(s.read("/env"), format!("one two|from-file|three four|4||{root}/srv/app\n"));
        s.ok(&["stop", "app"]);
        // a drop-in replaces ExecStart= (the empty line resets it) and adds to the environment
        s.write(
            "/etc/systemd/system/app.service.d/override.conf",
            &format!(
                "[Service]\nEnvironment=E=dropped-in\nExecStart=\n\
                 ExecStart=/bin/sh -c 'echo \"override $E\" > {root}/env; exec /bin/sleep 300'\n"
            ),
        );
        fs::remove_file(s.p("/env")).unwrap();
        s.ok(&["daemon-reload"]);
        s.ok(&["start", "app"]);
        eventually("the service to write", || s.read("/env").ends_with('\n'));
        assert_eq!(s.read("/env"), "override dropped-in\n");
        s.ok(&["stop", "app"]);
        // a required EnvironmentFile= that is missing fails the start
        s.unit("needy.service", &service("EnvironmentFile=/etc/default/needy\nExecStart=/bin/sleep 300"));
        let out = s.expect(&["start", "needy"], 1);
        assert!(
            out.stderr
                .starts_with("Job for needy.service failed because of unavailable resources or another system error."),
            "{out}"
        );
        assert!(out.stderr.contains("Failed to load environment files"), "{out}");
        assert_eq!(s.expect(&["is-active", "needy"], 3).stdout, "failed\n");
    });
}

#[test]
fn supervised_processes_carry_an_invocation_id_new_at_each_start() {
    // Debian 13's postfix.service runs `postfix debian-systemd-start`, which refuses to start
    // unless /run/systemd/system exists and $INVOCATION_ID is set, as systemd sets it.
    on_a_fresh_supervised_target(|s| {
        let root = s.root_str();
        s.unit(
            "inv.service",
            &service(&format!(
                "ExecStartPre=/bin/sh -c 'echo \"$INVOCATION_ID\" > {root}/pre'\n\
                 ExecStart=/bin/sh -c 'echo \"$INVOCATION_ID\" > {root}/main; exec /bin/sleep 300'"
            )),
        );
        s.ok(&["start", "inv"]);
        eventually("the service to write", || s.read("/main").ends_with('\n'));
        let first = s.read("/main");
        assert_eq!(first.trim().len(), 32, "{first:?}");
        assert!(first.trim().chars().all(|c| c.is_ascii_hexdigit()), "{first:?}");
        assert_eq!(s.read("/pre"), first, "one invocation, one id");
        fs::remove_file(s.p("/main")).unwrap();
        s.ok(&["restart", "inv"]);
        eventually("the service to write again", || s.read("/main").ends_with('\n'));
        assert_ne!(s.read("/main"), first, "a restart is a new invocation");
        s.ok(&["stop", "inv"]);
    });
}

#[test]
fn supervised_user_group_reload_and_exec_stop() {
    on_a_fresh_supervised_target(|s| {
        let root = s.root_str();
        s.write(
            "/etc/passwd",
            "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
        );
        s.write("/etc/group", "root:x:0:\nnogroup:x:65534:\n");
        fs::create_dir_all(s.p("/out")).unwrap();
        fs::set_permissions(s.p("/out"), fs::Permissions::from_mode(0o777)).unwrap();
        s.unit(
            "daemon.service",
            &service(&format!(
                "User=nobody\nGroup=nogroup\nRuntimeDirectory=daemon\n\
                 ExecStart=/bin/sh -c 'echo \"$(id -u):$(id -g) $USER $HOME\" > {root}/out/who; \
                 trap \"echo reloaded >> {root}/out/events\" HUP; while :; do /bin/sleep 0.2; done'\n\
                 ExecReload=/bin/kill -HUP $MAINPID\n\
                 ExecStop=/bin/sh -c 'echo stop $MAINPID >> {root}/out/events; kill $MAINPID'"
            )),
        );
        s.ok(&["start", "daemon"]);
        eventually("the service to write", || s.read("/out/who").ends_with('\n'));
        assert_eq!(s.read("/out/who"), "65534:65534 nobody /nonexistent\n");
        let dir = fs::metadata(s.p("/run/daemon")).unwrap();
        assert_eq!(std::os::unix::fs::MetadataExt::uid(&dir), 65534, "RuntimeDirectory= belongs to User=");
        s.ok(&["reload", "daemon"]);
        eventually("the reload to reach the service", || s.read("/out/events").contains("reloaded"));
        let pid = s.main_pid("daemon");
        s.ok(&["stop", "daemon"]);
        assert!(s.read("/out/events").contains(&format!("stop {pid}")), "{}", s.read("/out/events"));
        assert!(!s.exists("/run/daemon"), "RuntimeDirectory= goes at stop");
        // an unknown user fails the start
        s.unit("ghost.service", &service("User=ghost\nExecStart=/bin/sleep 300"));
        let out = s.expect(&["start", "ghost"], 1);
        assert!(out.stderr.contains("Failed to determine user credentials"), "{out}");
    });
}

#[test]
fn journalctl_prints_the_unit_logs() {
    on_a_fresh_supervised_target(|s| {
        s.unit("talker.service", &service("Type=oneshot\nExecStart=/bin/sh -c 'echo line one; echo line two >&2'"));
        s.unit("other.service", &service("Type=oneshot\nExecStart=/bin/echo other says hi"));
        assert_eq!(s.journal(&["-u", "talker"]).stdout, "-- No entries --\n");
        s.ok(&["start", "talker"]);
        s.ok(&["start", "other"]);
        let log = s.journal(&["-u", "talker.service", "--no-pager"]).stdout;
        assert!(log.contains("line one\nline two\n"), "{log}");
        assert!(!log.contains("other says hi"), "{log}");
        assert_eq!(lines(&s.journal(&["-u", "talker", "-n", "1"]).stdout).len(), 1);
        assert_eq!(s.journal(&["--unit=talker", "--lines=2", "-b"]).stdout, s.journal(&["-n2", "-u", "talker"]).stdout);
        let both = s.journal(&["-u", "talker", "-u", "other", "--no-pager"]).stdout;
        assert!(both.contains("line two") && both.contains("other says hi"), "{both}");
        let all = s.journal(&["--no-pager"]).stdout;
        assert!(all.contains("line two") && all.contains("other says hi"), "{all}");
        let out = s.run_as("journalctl", &["--bogus"]);
        assert_eq!(out.code, 1, "{out}");
    });
}

#[test]
fn supervised_boot_starts_enabled_services() {
    on_a_fresh_supervised_target(|s| {
        s.unit("wanted.service", &service("ExecStart=/bin/sleep 300"));
        s.unit("unwanted.service", &service("ExecStart=/bin/sleep 301"));
        s.ok(&["enable", "wanted"]);
        s.ok(&["sandbox-boot"]);
        assert_eq!(s.ok(&["is-active", "wanted"]), "active\n");
        assert_eq!(s.expect(&["is-active", "unwanted"], 3).stdout, "inactive\n");
        s.ok(&["stop", "wanted"]);
    });
}

#[test]
fn mock_mode_never_runs_anything() {
    on_a_fresh_target(|s| {
        let root = s.root_str();
        s.write("/etc/sandbox/services", "mock\n");
        s.unit(
            "runner.service",
            &service(&format!("ExecStartPre=/bin/false\nExecStart=/bin/sh -c 'touch {root}/ran'")),
        );
        s.ok(&["start", "runner"]);
        s.ok(&["enable", "runner"]);
        s.ok(&["sandbox-boot"]);
        assert_eq!(s.ok(&["is-active", "runner"]), "active\n");
        std::thread::sleep(std::time::Duration::from_millis(300));
        assert!(!s.exists("/ran"));
        assert_eq!(s.show("runner")["MainPID"], "0");
    });
}

#[test]
fn supervised_restart_on_failure_brings_a_killed_service_back() {
    on_a_fresh_supervised_target(|s| {
        s.unit("phoenix.service", &service("Restart=on-failure\nRestartSec=0\nExecStart=/bin/sleep 300"));
        s.ok(&["start", "phoenix"]);
        let first = s.main_pid("phoenix");
        Command::new("kill").args(["-9", &first.to_string()]).status().unwrap();
        let main_pid = || s.run(&["show", "-p", "MainPID", "--value", "phoenix"]).stdout.trim().parse().unwrap_or(0);
        eventually("a new main process", || {
            let pid: u32 = main_pid();
            pid != 0 && pid != first && alive(pid)
        });
        assert_eq!(s.ok(&["is-active", "phoenix"]), "active\n");
        assert_eq!(s.show("phoenix")["NRestarts"], "1");
        assert!(s.journal(&["-u", "phoenix"]).stdout.contains("restart counter is at 1"));
        // a stop is no failure: nothing comes back
        let second = s.main_pid("phoenix");
        s.ok(&["stop", "phoenix"]);
        assert!(!alive(second));
        assert_eq!(s.expect(&["is-active", "phoenix"], 3).stdout, "inactive\n");
        assert!(processes_of(&s.root_str()).is_empty(), "stopped for good");
        // Restart=always gives up at systemd's start limit (5 starts in 10 s)
        s.unit("flaky.service", &service("Restart=always\nRestartSec=0\nExecStart=/bin/sh -c 'exit 3'"));
        s.ok(&["start", "flaky"]);
        eventually("the start limit to end the restarts", || s.run(&["is-active", "flaky"]).stdout == "failed\n");
        let p = s.show("flaky");
        assert_eq!((p["NRestarts"].as_str(), p["ExecMainStatus"].as_str()), ("4", "3"));
    });
}
