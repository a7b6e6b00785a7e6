//! Starting, stopping, reloading and killing units, the state that follows, and `is-active`.

use std::fs;

use super::harness::{on_a_fresh_target, CRON, STATIC};

#[test]
fn start_makes_unit_active() {
    on_a_fresh_target(|s| {
        s.nginx();
        assert_eq!(s.expect(&["is-active", "nginx"], 3).stdout, "inactive\n");
        let out = s.ok(&["start", "nginx"]);
        assert_eq!(out, "");
        assert_eq!(s.ok(&["is-active", "nginx"]), "active\n");
        assert_eq!(s.ok(&["is-active", "nginx.service"]), "active\n");
        let state = fs::read_to_string(s.p("/var/lib/sandbox-systemctl/nginx.service")).unwrap();
        assert!(state.starts_with("active\n"), "state file: {state:?}");
        // idempotent
        s.ok(&["start", "nginx.service"]);
        assert_eq!(s.ok(&["is-active", "nginx"]), "active\n");
    });
}

#[test]
fn stop_makes_unit_inactive() {
    on_a_fresh_target(|s| {
        s.nginx();
        s.ok(&["start", "nginx"]);
        s.ok(&["stop", "nginx"]);
        assert_eq!(s.expect(&["is-active", "nginx"], 3).stdout, "inactive\n");
        let p = s.show("nginx");
        assert_eq!(p["ActiveState"], "inactive");
        assert_eq!(p["SubState"], "dead");
        // stopping a stopped unit is fine
        s.ok(&["stop", "nginx"]);
    });
}

#[test]
fn restart_and_friends() {
    on_a_fresh_target(|s| {
        s.nginx();
        s.unit("cron.service", CRON);
        // try-restart only acts on running units
        s.ok(&["try-restart", "nginx"]);
        s.expect(&["is-active", "nginx"], 3);
        s.ok(&["try-reload-or-restart", "nginx"]);
        s.expect(&["is-active", "nginx"], 3);
        s.ok(&["condrestart", "nginx"]);
        s.expect(&["is-active", "nginx"], 3);
        // restart and reload-or-restart start a stopped unit
        s.ok(&["restart", "nginx"]);
        s.ok(&["is-active", "nginx"]);
        s.ok(&["reload-or-restart", "cron"]);
        s.ok(&["is-active", "cron"]);
        s.ok(&["try-restart", "nginx"]);
        s.ok(&["is-active", "nginx"]);
        s.ok(&["force-reload", "nginx"]);
        s.ok(&["is-active", "nginx"]);
    });
}

#[test]
fn several_units_in_one_call() {
    on_a_fresh_target(|s| {
        s.nginx();
        s.unit("cron.service", CRON);
        s.ok(&["start", "nginx", "cron.service"]);
        assert_eq!(s.ok(&["is-active", "nginx", "cron"]), "active\nactive\n");
        s.ok(&["stop", "nginx", "cron"]);
        assert_eq!(s.expect(&["is-active", "nginx", "cron"], 3).stdout, "inactive\ninactive\n");
        // one unknown unit fails the call, the others are still handled
        let out = s.expect(&["start", "nginx", "nosuch"], 5);
        assert_eq!(out.stderr, "Failed to start nosuch.service: Unit nosuch.service not found.\n");
        s.ok(&["is-active", "nginx"]);
    });
}

#[test]
fn reload_needs_an_active_unit_with_exec_reload() {
    on_a_fresh_target(|s| {
        s.nginx();
        s.unit("cron.service", CRON);
        let out = s.expect(&["reload", "nginx"], 1);
        assert_eq!(out.stderr, "nginx.service is not active, cannot reload.\n");
        s.ok(&["start", "nginx"]);
        s.ok(&["reload", "nginx"]);
        s.ok(&["is-active", "nginx"]);
        // cron has no ExecReload=
        s.ok(&["start", "cron"]);
        let out = s.expect(&["reload", "cron"], 3);
        assert_eq!(
            out.stderr,
            "Failed to reload cron.service: Job type reload is not applicable for unit cron.service.\n"
        );
        assert_eq!(s.show("cron")["CanReload"], "no");
        assert_eq!(s.show("nginx")["CanReload"], "yes");
    });
}

#[test]
fn kill_stops_the_unit() {
    on_a_fresh_target(|s| {
        s.nginx();
        s.ok(&["start", "nginx"]);
        s.ok(&["kill", "nginx"]);
        s.expect(&["is-active", "nginx"], 3);
        s.ok(&["start", "nginx"]);
        s.ok(&["kill", "-s", "HUP", "nginx", "--signal=TERM", "--kill-whom=main"]);
        s.expect(&["is-active", "nginx"], 3);
        let out = s.expect(&["kill", "ghost"], 1);
        assert_eq!(out.stderr, "Failed to kill unit ghost.service: Unit ghost.service not loaded.\n");
    });
}

#[test]
fn oneshot_units() {
    on_a_fresh_target(|s| {
        // RemainAfterExit=yes: active (exited)
        s.unit("setup.service", STATIC);
        s.ok(&["start", "setup"]);
        assert_eq!(s.ok(&["is-active", "setup"]), "active\n");
        assert_eq!(s.show("setup")["SubState"], "exited");
        // without RemainAfterExit it runs and goes back to inactive, as with systemd
        s.unit("once.service", "[Unit]\nDescription=Once\n[Service]\nType=oneshot\nExecStart=/bin/true\n");
        s.ok(&["start", "once"]);
        assert_eq!(s.expect(&["is-active", "once"], 3).stdout, "inactive\n");
    });
}

#[test]
fn failed_units_is_failed_and_reset_failed() {
    on_a_fresh_target(|s| {
        s.nginx();
        s.unit("cron.service", CRON);
        s.expect(&["is-failed", "nginx"], 1);
        s.set_state("nginx.service", "failed");
        let out = s.expect(&["is-active", "nginx"], 3);
        assert_eq!(out.stdout, "failed\n");
        assert_eq!(s.ok(&["is-failed", "nginx"]), "failed\n");
        assert_eq!(s.ok(&["is-failed", "-q", "nginx"]), "");
        let p = s.show("nginx");
        assert_eq!(p["ActiveState"], "failed");
        assert_eq!(p["SubState"], "failed");
        assert_eq!(p["Result"], "exit-code");
        // stop keeps a failed unit failed; reset-failed clears it
        s.ok(&["stop", "nginx"]);
        assert_eq!(s.expect(&["is-active", "nginx"], 3).stdout, "failed\n");
        s.ok(&["reset-failed", "nginx"]);
        assert_eq!(s.expect(&["is-active", "nginx"], 3).stdout, "inactive\n");
        // without units: every failed unit
        s.set_state("nginx.service", "failed");
        s.set_state("cron.service", "failed");
        s.ok(&["reset-failed"]);
        assert_eq!(s.expect(&["is-active", "nginx", "cron"], 3).stdout, "inactive\ninactive\n");
        // a failed unit can be started again
        s.set_state("nginx.service", "failed");
        s.ok(&["start", "nginx"]);
        s.ok(&["is-active", "nginx"]);
    });
}

#[test]
fn unwritable_state_fails_like_an_unprivileged_caller() {
    on_a_fresh_target(|s| {
        s.nginx();
        // a file where the state directory should be: nothing can be recorded
        s.write("/var/lib/sandbox-systemctl", "");
        let out = s.expect(&["start", "nginx"], 1);
        assert_eq!(out.stderr, "Failed to start nginx.service: Access denied\n");
        s.expect(&["is-active", "nginx"], 3);
        // queries still work (unsorted listing fallback)
        assert_eq!(s.ok(&["list-unit-files", "--no-legend"]), "nginx.service disabled enabled\n");
    });
}

// ------------------------------------------------------------------ is-active

#[test]
fn is_active_exit_codes_and_quiet() {
    on_a_fresh_target(|s| {
        s.nginx();
        s.unit("cron.service", CRON);
        assert_eq!(s.expect(&["is-active", "-q", "nginx"], 3).stdout, "");
        assert_eq!(s.expect(&["--quiet", "is-active", "nginx"], 3).stdout, "");
        s.ok(&["start", "nginx"]);
        assert_eq!(s.ok(&["is-active", "--quiet", "nginx"]), "");
        // like systemd: 0 when at least one of the units is active
        assert_eq!(s.ok(&["is-active", "nginx", "cron"]), "active\ninactive\n");
        assert_eq!(s.expect(&["is-active", "cron"], 3).stdout, "inactive\n");
    });
}
