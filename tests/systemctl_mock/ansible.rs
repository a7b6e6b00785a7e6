//! What ansible.builtin.systemd_service decides from the mock's answers, pass after pass.

use std::fs;

use super::harness::{lines, on_a_fresh_target, props, Sys, INIT_SCRIPT, STATIC};

/// The decisions ansible.builtin.systemd_service takes from systemctl's answers;
/// returns whether the task would report "changed".
fn ansible_systemd(s: &Sys, unit: &str, state: Option<&str>, enabled: Option<bool>, masked: Option<bool>) -> bool {
    let mut changed = false;
    let show = s.run(&["show", unit]);
    assert_eq!(show.code, 0, "{show}");
    let status = props(&show.stdout);
    let is_systemd = status.get("LoadState").is_some_and(|l| l != "not-found");
    let is_masked = status.get("LoadState").is_some_and(|l| l == "masked");
    assert!(
        !(is_systemd && !is_masked && status.contains_key("LoadError")),
        "Ansible would fail: Error loading unit file"
    );
    assert!(is_systemd, "Ansible would fail: Could not find the requested service {unit}");
    if let Some(want) = masked {
        let now = s.run(&["is-enabled", unit]).stdout.trim() == "masked";
        if now != want {
            changed = true;
            s.ok(&[if want { "mask" } else { "unmask" }, unit]);
        }
    }
    if let Some(want) = enabled {
        let out = s.run(&["is-enabled", unit, "-l"]);
        let mut is_enabled = out.code == 0;
        if is_enabled && (lines(&out.stdout) == ["indirect"] || lines(&out.stdout) == ["alias"]) {
            is_enabled = false;
        }
        if is_enabled != want {
            changed = true;
            s.ok(&[if want { "enable" } else { "disable" }, unit]);
        }
    }
    if let Some(want) = state {
        let running = ["active", "activating"].contains(&status["ActiveState"].as_str());
        let action = match want {
            "started" if !running => Some("start"),
            "stopped" if running => Some("stop"),
            "restarted" | "reloaded" if !running => Some("start"),
            "restarted" => Some("restart"),
            "reloaded" => Some("reload"),
            _ => None,
        };
        if let Some(action) = action {
            changed = true;
            s.ok(&[action, unit]);
        }
    }
    changed
}

/// The shape of tests/services.rs: units copied into /etc/systemd/system, one of
/// them masked, and a second pass that must change nothing.
#[test]
fn ansible_masks_units_written_to_etc() {
    on_a_fresh_target(|s| {
        let unit = |name: &str| {
            format!(
                "[Unit]\nDescription={name} service\n[Service]\nExecStart=/bin/sleep infinity\n\
                 ExecReload=/bin/true\n[Install]\nWantedBy=multi-user.target\n"
            )
        };
        for pass in 0..2 {
            for name in ["demo", "idle", "blocked"] {
                // what ansible.builtin.copy compares: the file's content, through links
                let path = format!("/etc/systemd/system/{name}.service");
                let current = fs::read_to_string(s.p(&path)).ok();
                assert_eq!(current.is_some(), pass == 1, "{path}");
                if current.as_deref() != Some(unit(name).as_str()) {
                    s.write(&path, &unit(name));
                }
            }
            s.ok(&["daemon-reload"]);
            let changed = [
                ansible_systemd(s, "demo", Some("started"), Some(true), None),
                ansible_systemd(s, "idle", Some("stopped"), Some(false), None),
                ansible_systemd(s, "blocked", None, None, Some(true)),
            ];
            let expected = if pass == 0 { [true, false, true] } else { [false; 3] };
            assert_eq!(changed, expected, "pass {pass}");
        }
        assert_eq!(s.ok(&["is-active", "-q", "demo"]), "");
        assert_eq!(s.ok(&["is-enabled", "-q", "demo"]), "");
        s.expect(&["is-active", "-q", "idle"], 3);
        assert_eq!(s.expect(&["is-enabled", "blocked"], 1).stdout, "masked\n");
        let out = s.ok(&["list-unit-files", "--no-legend"]);
        assert_eq!(
            lines(&out),
            [
                "blocked.service masked   enabled",
                "demo.service    enabled  enabled",
                "idle.service    disabled enabled",
            ]
        );
    });
}

#[test]
fn ansible_systemd_module_is_idempotent() {
    on_a_fresh_target(|s| {
        s.nginx();
        assert!(ansible_systemd(s, "nginx", Some("started"), Some(true), None));
        assert!(!ansible_systemd(s, "nginx", Some("started"), Some(true), None));
        assert!(!ansible_systemd(s, "nginx.service", Some("started"), Some(true), None));
        assert!(ansible_systemd(s, "nginx", Some("reloaded"), None, None));
        assert!(ansible_systemd(s, "nginx", Some("stopped"), Some(false), None));
        assert!(!ansible_systemd(s, "nginx", Some("stopped"), Some(false), None));
        assert!(ansible_systemd(s, "nginx", None, None, Some(true)));
        assert!(!ansible_systemd(s, "nginx", None, None, Some(true)));
        assert!(ansible_systemd(s, "nginx", None, None, Some(false)));
        assert!(!ansible_systemd(s, "nginx", None, None, Some(false)));
        // static units count as enabled, so enabled=true never changes them
        s.unit("helper.service", STATIC);
        assert!(!ansible_systemd(s, "helper", None, Some(true), None));
        // a SysV service
        s.initd("legacyd", INIT_SCRIPT);
        assert!(ansible_systemd(s, "legacyd", Some("started"), Some(true), None));
        assert!(!ansible_systemd(s, "legacyd", Some("started"), Some(true), None));
        // the "not found" path: LoadState=not-found and list-unit-files fails too
        let show = props(&s.ok(&["show", "nginxx"]));
        assert_eq!(show["LoadState"], "not-found");
        s.expect(&["list-unit-files", "nginxx"], 1);
    });
}
