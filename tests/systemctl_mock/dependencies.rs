//! Units tied to each other: `Wants=` starts, `PartOf=` stops and restarts, and a failing
//! instance fails its parents' jobs.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use super::harness::{
    alive, cmdline, eventually, on_a_fresh_supervised_target, on_a_fresh_target, processes_of, service,
};

/// Debian's postfix in miniature: a oneshot parent, the daemon in a template instance tied to
/// it by PartOf= and linked from the parent's `.wants/` by a generator.
const MAIL: &str = "[Unit]\nDescription=Mail\n[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/true\n\
                    [Install]\nWantedBy=multi-user.target\n";

#[test]
fn wants_start_and_part_of_stops_and_restarts() {
    on_a_fresh_target(|s| {
        s.unit("mail.service", MAIL);
        s.unit(
            "mail@.service",
            "[Unit]\nDescription=Mail instance %i\nPartOf=mail.service\n[Service]\nType=forking\nExecStart=/bin/true\n",
        );
        s.link("/run/systemd/generator/mail.service.wants/mail@-.service", "/lib/systemd/system/mail@.service");
        s.unit("web.target", "[Unit]\nDescription=Web\nWants=cache.service missing.service\n");
        s.unit("cache.service", "[Service]\nExecStart=/bin/true\n");
        s.ok(&["start", "mail"]);
        assert_eq!(s.ok(&["is-active", "mail", "mail@-"]), "active\nactive\n");
        s.ok(&["stop", "mail"]);
        assert_eq!(s.expect(&["is-active", "mail", "mail@-"], 3).stdout, "inactive\ninactive\n");
        s.ok(&["start", "mail@-"]);
        s.ok(&["restart", "mail"]);
        assert_eq!(s.ok(&["is-active", "mail@-"]), "active\n");
        // a missing wanted unit is no failure, as with Wants=
        s.ok(&["start", "web.target"]);
        assert_eq!(s.ok(&["is-active", "cache"]), "active\n");
    });
}

/// Debian's postfix@.service in miniature, with a daemon that reports a failed start only to
/// syslog (as postfix's master does), the way a main.cf edit breaks it: the oneshot parent's
/// start, restart and reload fail with the instance's job message and the daemon's own words.
#[test]
fn supervised_a_failing_instance_fails_its_parents_jobs_with_the_daemons_syslog_error() {
    on_a_fresh_supervised_target(|s| {
        let root = s.root_str();
        s.unit("mail.service", &MAIL.replace("ExecStart=/bin/true\n", "ExecStart=/bin/true\nExecReload=/bin/true\n"));
        s.link("/run/systemd/generator/mail.service.wants/mail@-.service", "/lib/systemd/system/mail@.service");
        s.write("/etc/mail.cf", "inet_protocols = all\n");
        // Starts only with ipv4; otherwise says why to syslog alone and exits 1.
        s.write(
            "/mail-start.sh",
            &format!(
                "if grep -q all {root}/etc/mail.cf; then\n\
                 /usr/bin/logger -u {root}/dev/log -t postmulti --id=$$ 'fatal: parameter inet_interfaces: no local interface found for ::1'\n\
                 exit 1\nfi\n/bin/sleep 300 >/dev/null 2>&1 &\n"
            ),
        );
        s.write(
            "/mail-reload.sh",
            &format!("grep -q all {root}/etc/mail.cf && exit 1\necho reloaded >> {root}/reloads\n"),
        );
        s.unit(
            "mail@.service",
            &format!(
                "[Unit]\nDescription=Mail instance %i\nPartOf=mail.service\nReloadPropagatedFrom=mail.service\n\
                 [Service]\nType=forking\nGuessMainPID=no\nExecStart=/bin/sh {root}/mail-start.sh\n\
                 ExecReload=/bin/sh {root}/mail-reload.sh\n"
            ),
        );
        for verb in ["start", "restart"] {
            let out = s.expect(&[verb, "mail"], 1);
            for line in [
                "Job for mail@-.service failed because the control process exited with error code.",
                "See \"systemctl status mail@-.service\" and \"journalctl -xeu mail@-.service\" for details.",
                "postmulti[",
                "]: fatal: parameter inet_interfaces: no local interface found for ::1",
            ] {
                assert!(out.stderr.contains(line), "{verb}: {line} in\n{out}");
            }
            assert_eq!(s.expect(&["is-active", "mail@-"], 3).stdout, "failed\n");
        }
        let journal = s.journal(&["-u", "mail@-", "--no-pager"]).stdout;
        assert!(journal.contains("fatal: parameter inet_interfaces"), "{journal}");
        assert!(!s.exists("/dev/log"), "the job's syslog socket is gone with the job");
        // Fixed: restart brings the instance up, reload reaches it.
        s.write("/etc/mail.cf", "inet_protocols = ipv4\n");
        s.ok(&["restart", "mail"]);
        assert_eq!(s.ok(&["is-active", "mail", "mail@-"]), "active\nactive\n");
        s.ok(&["reload", "mail"]);
        assert_eq!(s.read("/reloads"), "reloaded\n", "ReloadPropagatedFrom= reloads the instance");
        // Broken again: the reload fails at the parent's job.
        s.write("/etc/mail.cf", "inet_protocols = all\n");
        let out = s.expect(&["reload", "mail"], 1);
        assert!(out.stderr.contains("Job for mail@-.service failed"), "{out}");
        s.ok(&["stop", "mail"]);
        // A unit that only wants the instance still starts when it fails (Wants= semantics).
        s.unit(
            "relay.service",
            "[Unit]\nWants=mail@-.service\n[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/true\n",
        );
        s.ok(&["start", "relay"]);
    });
}

/// Type=forking with PIDFile=: a daemon that dies on its way up (no PID file, nothing of the
/// unit left) fails the start, as systemd's 'protocol' result.
#[test]
fn supervised_forking_daemon_that_dies_at_start_fails_the_start() {
    on_a_fresh_supervised_target(|s| {
        s.unit(
            "dies.service",
            &service(
                "Type=forking\nPIDFile=/run/dies.pid\nExecStart=/bin/sh -c '(echo dies: cannot bind >&2; exit 1) &'",
            ),
        );
        let out = s.expect(&["start", "dies"], 1);
        assert!(
            out.stderr.contains(
                "Job for dies.service failed because the service did not take the steps required by its unit configuration."
            ),
            "{out}"
        );
        assert!(out.stderr.contains("dies: cannot bind"), "the daemon's own output: {out}");
        assert_eq!(s.expect(&["is-active", "dies"], 3).stdout, "failed\n");
        assert_eq!(s.show("dies")["Result"], "protocol");
        let journal = s.journal(&["-u", "dies", "--no-pager"]).stdout;
        assert!(journal.contains("dies.service: Can't open PID file /run/dies.pid (yet?) after start"), "{journal}");
    });
}

/// Type=notify (php-fpm, redis, mariadb): the start waits for READY=1 on $NOTIFY_SOCKET; a
/// daemon that exits first (a broken config) or never says it fails the start.
#[test]
fn supervised_notify_start_waits_for_ready_and_fails_when_the_daemon_exits_first() {
    on_a_fresh_supervised_target(|s| {
        let notify = "/usr/bin/perl -MIO::Socket::UNIX -e '$s = IO::Socket::UNIX->new(Type => SOCK_DGRAM(), \
                      Peer => $ENV{NOTIFY_SOCKET}) or die; $s->send(\"STATUS=up\\nREADY=1\\n\"); sleep 300'";
        s.unit("ready.service", &service(&format!("Type=notify\nExecStart={notify}")));
        s.ok(&["start", "ready"]);
        let pid = s.main_pid("ready");
        assert!(alive(pid), "the daemon runs after its start");
        assert_eq!(s.show("ready")["SubState"], "running");
        s.ok(&["stop", "ready"]);
        s.unit(
            "broken.service",
            &service("Type=notify\nExecStart=/bin/sh -c 'echo \"ERROR: [pool www] pm.max_children must be a positive value\" >&2; exit 78'"),
        );
        let out = s.expect(&["start", "broken"], 1);
        assert!(
            out.stderr.contains("Job for broken.service failed because the control process exited with error code."),
            "{out}"
        );
        assert!(out.stderr.contains("ERROR: [pool www] pm.max_children must be a positive value"), "{out}");
        let p = s.show("broken");
        assert_eq!((p["ActiveState"].as_str(), p["Result"].as_str()), ("failed", "exit-code"), "{p:?}");
        assert_eq!(s.expect(&["restart", "broken"], 1).code, 1);
        s.unit("mute.service", &service("Type=notify\nTimeoutStartSec=1\nExecStart=/bin/sleep 300"));
        let out = s.expect(&["start", "mute"], 1);
        assert!(out.stderr.contains("Job for mute.service failed because a timeout was exceeded."), "{out}");
        assert_eq!(s.expect(&["is-active", "mute"], 3).stdout, "failed\n");
    });
}

#[test]
fn supervised_generators_and_daemons_that_clear_their_environment() {
    on_a_fresh_supervised_target(|s| {
        let root = s.root_str();
        s.write(
            "/lib/systemd/system-generators/mail-instance-generator",
            "#!/bin/sh\nmkdir -p \"$1/mail.service.wants\" && ln -s /lib/systemd/system/mail@.service \"$1/mail.service.wants/mail@-.service\"\n",
        );
        fs::set_permissions(
            s.p("/lib/systemd/system-generators/mail-instance-generator"),
            fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        s.unit("mail.service", MAIL);
        // The daemon drops SANDBOX_UNIT with the rest of its environment, as postfix's master does.
        s.write("/daemon.sh", "while :; do /bin/sleep 1; done\n");
        s.unit(
            "mail@.service",
            &format!(
                "[Unit]\nDescription=Mail instance %i\nPartOf=mail.service\n[Service]\nType=forking\nGuessMainPID=no\n\
                 ExecStart=/bin/sh -c 'env -i /bin/sh {root}/daemon.sh >/dev/null 2>&1 &'\n"
            ),
        );
        s.ok(&["daemon-reload"]);
        assert!(s.exists("/run/systemd/generator/mail.service.wants/mail@-.service"), "the generator ran");
        s.ok(&["start", "mail"]);
        let daemon = || processes_of(&root).into_iter().any(|p| cmdline(p).ends_with("/daemon.sh"));
        eventually("the daemon to run", daemon);
        assert_eq!(s.ok(&["is-active", "mail@-"]), "active\n", "its processes are known without the mark");
        assert_eq!(s.show("mail@-")["SubState"], "running");
        s.ok(&["stop", "mail"]);
        assert_eq!(s.expect(&["is-active", "mail@-"], 3).stdout, "inactive\n");
        assert!(!daemon(), "stopped with its parent");
    });
}
