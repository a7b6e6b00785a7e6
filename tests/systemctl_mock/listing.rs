//! `list-unit-files` and `list-units`, as Ansible's service_facts reads them.

use std::collections::HashMap;

use super::harness::{lines, on_a_fresh_target, CRON, GETTY_TEMPLATE, INIT_SCRIPT, STATIC};

// ------------------------------------------------------------------ list-unit-files

#[test]
fn list_unit_files_scans_the_unit_directories() {
    on_a_fresh_target(|s| {
        s.nginx();
        s.unit("helper.service", STATIC);
        s.unit("fstrim.timer", "[Timer]\nOnCalendar=weekly\n[Install]\nWantedBy=timers.target\n");
        s.write(
            "/etc/systemd/system/local.service",
            "[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n",
        );
        s.ok(&["enable", "nginx"]);
        let out = s.ok(&["list-unit-files"]);
        assert_eq!(
            out,
            "UNIT FILE      STATE    PRESET\n\
             fstrim.timer   disabled enabled\n\
             helper.service static   -\n\
             local.service  disabled enabled\n\
             nginx.service  enabled  enabled\n\
             \n\
             4 unit files listed.\n"
        );
        // a unit written afterwards shows up (nothing is cached)
        s.unit("cron.service", CRON);
        let out = s.ok(&["list-unit-files", "--type=service", "--no-pager", "--no-legend"]);
        assert_eq!(
            lines(&out),
            [
                "cron.service   disabled enabled",
                "helper.service static   -",
                "local.service  disabled enabled",
                "nginx.service  enabled  enabled",
            ]
        );
        let out = s.ok(&["list-unit-files", "-t", "timer", "--no-legend"]);
        assert_eq!(out, "fstrim.timer disabled enabled\n");
        let out = s.ok(&["list-unit-files", "--state=enabled", "--no-legend"]);
        assert_eq!(out, "nginx.service enabled enabled\n");
        // service_facts' call
        let out = s.ok(&["list-unit-files", "--no-pager", "--type", "service", "--all"]);
        assert!(out.starts_with("UNIT FILE      STATE    PRESET\n"), "{out}");
        assert!(out.ends_with("\n4 unit files listed.\n"), "{out}");
    });
}

#[test]
fn list_unit_files_patterns() {
    on_a_fresh_target(|s| {
        s.nginx();
        s.unit("nginx-debug.service", CRON);
        s.unit("cron.service", CRON);
        assert_eq!(
            s.ok(&["list-unit-files", "nginx.service"]),
            "UNIT FILE     STATE    PRESET\nnginx.service disabled enabled\n\n1 unit files listed.\n"
        );
        // Ansible's fallback passes the name as given
        assert_eq!(s.ok(&["list-unit-files", "nginx", "--no-legend"]), "nginx.service disabled enabled\n");
        assert_eq!(
            s.ok(&["list-unit-files", "nginx*", "--no-legend"]),
            "nginx-debug.service disabled enabled\nnginx.service       disabled enabled\n"
        );
        let out = s.expect(&["list-unit-files", "nginxx"], 1);
        assert_eq!(out.stdout, "0 unit files listed.\n");
        let out = s.expect(&["list-unit-files", "--no-legend", "nope*"], 1);
        assert_eq!(out.stdout, "");
    });
}

#[test]
fn list_unit_files_shows_masked_aliases_and_templates() {
    on_a_fresh_target(|s| {
        s.unit("ssh.service", "[Unit]\nDescription=OpenBSD Secure Shell server\n[Service]\nExecStart=/usr/sbin/sshd -D\n[Install]\nWantedBy=multi-user.target\nAlias=sshd.service\n");
        s.unit("getty@.service", GETTY_TEMPLATE);
        s.unit("cron.service", CRON);
        s.ok(&["enable", "ssh"]);
        s.ok(&["mask", "cron"]);
        let out = s.ok(&["list-unit-files", "--no-legend"]);
        assert_eq!(
            lines(&out),
            [
                "cron.service   masked   enabled",
                "getty@.service disabled enabled",
                "ssh.service    enabled  enabled",
                "sshd.service   alias    -",
            ]
        );
    });
}

// ------------------------------------------------------------------ list-units

#[test]
fn list_units_active_only_unless_all() {
    on_a_fresh_target(|s| {
        s.nginx();
        s.unit("cron.service", CRON);
        s.unit("helper.service", STATIC);
        s.ok(&["start", "nginx"]);
        s.set_state("helper.service", "failed");
        let out = s.ok(&["list-units", "--type=service"]);
        assert_eq!(
            lines(&out),
            [
                "  UNIT           LOAD   ACTIVE SUB     DESCRIPTION",
                "● helper.service loaded failed failed  Helper without install section",
                "  nginx.service  loaded active running A high performance web server and a reverse proxy server",
                "",
                "LOAD   = Reflects whether the unit definition was properly loaded.",
                "ACTIVE = The high-level unit activation state, i.e. generalization of SUB.",
                "SUB    = The low-level unit activation state, values depend on unit type.",
                "2 loaded units listed. Pass --all to see loaded but inactive units, too.",
                "To show all installed unit files use 'systemctl list-unit-files'.",
            ]
        );
        let out = s.ok(&["list-units", "--all", "--plain", "--no-legend", "--type", "service"]);
        assert_eq!(
            lines(&out),
            [
                "cron.service   loaded inactive dead    Regular background program processing daemon",
                "helper.service loaded failed   failed  Helper without install section",
                "nginx.service  loaded active   running A high performance web server and a reverse proxy server",
            ]
        );
        let out = s.ok(&["list-units", "--all", "--no-legend", "--state=inactive"]);
        assert_eq!(out, "  cron.service loaded inactive dead Regular background program processing daemon\n");
        let out = s.ok(&["list-units", "--failed", "--plain", "--no-legend"]);
        assert_eq!(out, "helper.service loaded failed failed Helper without install section\n");
        let out = s.ok(&["list-units", "--all", "--plain", "--no-legend", "cron*"]);
        assert_eq!(out, "cron.service loaded inactive dead Regular background program processing daemon\n");
        let out = s.ok(&["list-units", "--all"]);
        assert!(
            out.ends_with(
                "\n3 loaded units listed.\nTo show all installed unit files use 'systemctl list-unit-files'.\n"
            ),
            "{out}"
        );
        // no verb means list-units
        assert_eq!(s.ok(&[]), s.ok(&["list-units"]));
        assert_eq!(s.ok(&["--no-pager"]), s.ok(&["list-units"]));
    });
}

#[test]
fn list_units_types_and_substates() {
    on_a_fresh_target(|s| {
        s.unit("fstrim.timer", "[Unit]\nDescription=Discard unused blocks once a week\n[Timer]\nOnCalendar=weekly\n[Install]\nWantedBy=timers.target\n");
        s.unit(
            "fstrim.service",
            "[Unit]\nDescription=Discard unused blocks\n[Service]\nType=oneshot\nExecStart=/sbin/fstrim -a\n",
        );
        s.unit("multi-user.target", "[Unit]\nDescription=Multi-User System\nAllowIsolate=yes\n");
        s.unit("web.target", "[Unit]\nDescription=Web stack\n");
        s.unit("app.socket", "[Unit]\nDescription=App socket\n[Socket]\nListenStream=8080\n");
        s.ok(&["start", "fstrim.timer", "web.target", "app.socket"]);
        let out = s.ok(&["list-units", "--plain", "--no-legend"]);
        assert_eq!(
            lines(&out),
            [
                "app.socket        loaded active listening App socket",
                "fstrim.timer      loaded active waiting   Discard unused blocks once a week",
                "multi-user.target loaded active active    Multi-User System",
                "web.target        loaded active active    Web stack",
            ]
        );
        let out = s.ok(&["list-units", "-t", "timer,socket", "--plain", "--no-legend"]);
        assert_eq!(lines(&out).len(), 2, "{out}");
        assert_eq!(s.show("fstrim.timer")["SubState"], "waiting");
        assert_eq!(s.show("multi-user.target")["CanIsolate"], "yes");
        let out = s.ok(&["status", "web.target"]);
        assert!(out.contains("     Active: active since "), "{out}");
        let out = s.ok(&["list-timers"]);
        assert_eq!(
            out,
            "NEXT LEFT LAST PASSED UNIT         ACTIVATES\n\
             n/a  n/a  n/a  n/a    fstrim.timer fstrim.service\n\
             \n1 timers listed.\nPass --all to see loaded but inactive timers, too.\n"
        );
        s.ok(&["stop", "fstrim.timer"]);
        let out = s.ok(&["list-timers", "--no-pager"]);
        assert!(out.contains("0 timers listed."), "{out}");
    });
}

/// What Ansible's service_facts does with list-units and list-unit-files.
#[test]
fn service_facts_parsing() {
    on_a_fresh_target(|s| {
        s.nginx();
        s.unit("cron.service", CRON);
        s.unit("helper.service", STATIC);
        s.initd("legacyd", INIT_SCRIPT);
        s.ok(&["enable", "--now", "nginx"]);
        s.ok(&["mask", "cron"]);
        let mut services: HashMap<String, (String, String)> = HashMap::new();
        let out = s.ok(&["list-units", "--no-pager", "--type", "service", "--all", "--plain"]);
        for line in out.lines().filter(|l| l.contains(".service")) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let bad = ["not-found", "masked", "failed"].into_iter().find(|b| fields[..fields.len() - 1].contains(b));
            let status = bad.unwrap_or(fields[2]).to_string();
            let state = if fields[3] == "running" { "running" } else { "stopped" };
            services.insert(fields[0].to_string(), (state.to_string(), status));
        }
        let out = s.ok(&["list-unit-files", "--no-pager", "--type", "service", "--all"]);
        for line in out.lines().filter(|l| l.contains(".service")) {
            let mut it = line.split_whitespace();
            let (name, status) = (it.next().unwrap(), it.next().unwrap());
            match services.get_mut(name) {
                None => {
                    let show = s.ok(&["show", name, "--property=ActiveState"]);
                    let state = show.trim_end().replace("ActiveState=", "");
                    services.insert(name.to_string(), (state, status.to_string()));
                }
                Some(entry) => {
                    if !["not-found", "masked", "failed"].contains(&entry.1.as_str()) {
                        entry.1 = status.to_string();
                    }
                }
            }
        }
        let get = |n: &str| services.get(n).map(|(a, b)| (a.as_str(), b.as_str()));
        assert_eq!(get("nginx.service"), Some(("running", "enabled")));
        assert_eq!(get("cron.service"), Some(("stopped", "masked")));
        assert_eq!(get("helper.service"), Some(("stopped", "static")));
        assert_eq!(get("legacyd.service"), Some(("stopped", "generated")));
        assert_eq!(services.len(), 4, "{services:?}");
    });
}
