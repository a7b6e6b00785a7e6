//! `show` and `status`: the properties and the text Ansible and people read.

use super::harness::{lines, on_a_fresh_target, props, CRON, STATIC};

// ------------------------------------------------------------------ show

#[test]
fn show_reports_unit_properties() {
    on_a_fresh_target(|s| {
        s.nginx();
        let p = s.show("nginx");
        let expect = [
            ("Id", "nginx.service"),
            ("Names", "nginx.service"),
            ("Description", "A high performance web server and a reverse proxy server"),
            ("LoadState", "loaded"),
            ("ActiveState", "inactive"),
            ("SubState", "dead"),
            ("UnitFileState", "disabled"),
            ("UnitFilePreset", "enabled"),
            ("FragmentPath", "/lib/systemd/system/nginx.service"),
            ("SourcePath", ""),
            ("StatusErrno", "0"),
            ("Result", "success"),
            ("CanStart", "yes"),
            ("CanStop", "yes"),
            ("CanReload", "yes"),
            ("MainPID", "0"),
            ("ExecMainPID", "0"),
            ("ExecMainStatus", "0"),
            ("Type", "forking"),
            ("Restart", "no"),
        ];
        for (k, v) in expect {
            assert_eq!(p.get(k).map(String::as_str), Some(v), "{k}");
        }
        // a loaded unit has no LoadError line: Ansible's systemd module fails on one
        assert!(!p.contains_key("LoadError"));
        s.ok(&["enable", "--now", "nginx"]);
        let p = s.show("nginx.service");
        assert_eq!(p["ActiveState"], "active");
        assert_eq!(p["SubState"], "running");
        assert_eq!(p["UnitFileState"], "enabled");
        assert!(!p["ActiveEnterTimestamp"].is_empty());
        // defaults: Type=simple, Restart from the file
        s.unit("cron.service", CRON);
        let p = s.show("cron");
        assert_eq!(p["Type"], "simple");
        assert_eq!(p["Restart"], "on-failure");
        assert_eq!(p["CanReload"], "no");
    });
}

#[test]
fn show_property_filters_and_value() {
    on_a_fresh_target(|s| {
        s.nginx();
        s.unit("cron.service", CRON);
        s.ok(&["start", "nginx"]);
        assert_eq!(s.ok(&["show", "nginx", "-p", "ActiveState"]), "ActiveState=active\n");
        assert_eq!(s.ok(&["show", "nginx", "--property=ActiveState"]), "ActiveState=active\n");
        assert_eq!(s.ok(&["show", "nginx", "--property", "SubState"]), "SubState=running\n");
        assert_eq!(s.ok(&["show", "-pLoadState", "nginx"]), "LoadState=loaded\n");
        assert_eq!(
            s.ok(&["show", "nginx", "-p", "LoadState,ActiveState", "-p", "UnitFileState"]),
            "LoadState=loaded\nActiveState=active\nUnitFileState=disabled\n"
        );
        assert_eq!(s.ok(&["show", "nginx", "--property=Id,SubState", "--value"]), "nginx.service\nrunning\n");
        assert_eq!(s.ok(&["show", "-P", "ActiveState", "nginx"]), "active\n");
        // several units: blocks separated by a blank line
        assert_eq!(
            s.ok(&["show", "nginx", "cron", "-p", "Id,ActiveState"]),
            "Id=nginx.service\nActiveState=active\n\nId=cron.service\nActiveState=inactive\n"
        );
        // service_facts' call for units missing from list-units
        assert_eq!(s.ok(&["show", "cron.service", "--property=ActiveState"]), "ActiveState=inactive\n");
        assert_eq!(s.ok(&["show", "ghost", "--property=ActiveState"]), "ActiveState=inactive\n");
        // asked-for properties are printed even when empty; unmodelled ones come from the file
        assert_eq!(s.ok(&["show", "nginx", "-p", "SourcePath"]), "SourcePath=\n");
        assert_eq!(s.ok(&["show", "nginx", "-p", "PIDFile", "--value"]), "/run/nginx.pid\n");
        assert_eq!(s.ok(&["show", "nginx", "-p", "User"]), "User=\n");
    });
}

#[test]
fn show_without_unit_describes_the_manager() {
    on_a_fresh_target(|s| {
        let p = props(&s.ok(&["show"]));
        assert_eq!(p["Version"], "252.30-1~deb12u2");
        assert!(p["Features"].starts_with("+PAM +AUDIT"));
        assert_eq!(p["SystemState"], "running");
        assert_eq!(s.ok(&["show", "-p", "SystemState", "--value"]), "running\n");
    });
}

#[test]
fn show_and_status_follow_drop_ins() {
    on_a_fresh_target(|s| {
        s.nginx();
        s.write(
            "/etc/systemd/system/nginx.service.d/override.conf",
            "[Unit]\nDescription=Overridden nginx\n[Service]\nRestart=always\n",
        );
        let p = s.show("nginx");
        assert_eq!(p["Description"], "Overridden nginx");
        assert_eq!(p["Restart"], "always");
        assert_eq!(p["DropInPaths"], "/etc/systemd/system/nginx.service.d/override.conf");
        let out = s.expect(&["status", "nginx"], 3).stdout;
        assert!(
            out.contains("    Drop-In: /etc/systemd/system/nginx.service.d\n             └─override.conf\n"),
            "{out}"
        );
        let cat = s.ok(&["cat", "nginx"]);
        assert!(cat.starts_with("# /lib/systemd/system/nginx.service\n[Unit]\n"), "{cat}");
        assert!(cat.ends_with("\n# /etc/systemd/system/nginx.service.d/override.conf\n[Unit]\nDescription=Overridden nginx\n[Service]\nRestart=always\n"), "{cat}");
    });
}

// ------------------------------------------------------------------ status

#[test]
fn status_output_and_exit_codes() {
    on_a_fresh_target(|s| {
        s.nginx();
        let out = s.expect(&["status", "nginx"], 3).stdout;
        assert_eq!(
            lines(&out),
            [
                "○ nginx.service - A high performance web server and a reverse proxy server",
                "     Loaded: loaded (/lib/systemd/system/nginx.service; disabled; preset: enabled)",
                "     Active: inactive (dead)",
                "       Docs: man:nginx(8)",
            ]
        );
        s.ok(&["enable", "--now", "nginx"]);
        let out = s.ok(&["status", "nginx", "--no-pager", "-l"]);
        let l = lines(&out);
        assert_eq!(l[0], "● nginx.service - A high performance web server and a reverse proxy server");
        assert_eq!(l[1], "     Loaded: loaded (/lib/systemd/system/nginx.service; enabled; preset: enabled)");
        assert!(l[2].starts_with("     Active: active (running) since "), "{out}");
        assert!(l[2].ends_with(" ago"), "{out}");
        s.ok(&["stop", "nginx"]);
        let out = s.expect(&["status", "nginx"], 3).stdout;
        assert!(out.contains("     Active: inactive (dead) since "), "{out}");
        s.set_state("nginx.service", "failed");
        let out = s.expect(&["status", "nginx"], 3).stdout;
        assert!(out.starts_with("× nginx.service - "), "{out}");
        assert!(out.contains("     Active: failed (Result: exit-code) since Tue 2023-11-14 22:13:20 UTC; "), "{out}");
        s.ok(&["reset-failed", "nginx"]);
        s.ok(&["mask", "nginx"]);
        let out = s.expect(&["status", "nginx"], 3).stdout;
        assert_eq!(
            lines(&out)[..2],
            ["○ nginx.service", "     Loaded: masked (Reason: Unit nginx.service is masked.)"]
        );
        s.expect(&["status", "nosuch"], 4);
    });
}

#[test]
fn status_of_several_units_and_of_the_system() {
    on_a_fresh_target(|s| {
        s.nginx();
        s.unit("helper.service", STATIC);
        s.ok(&["start", "nginx", "helper"]);
        let out = s.ok(&["status", "nginx", "helper"]);
        assert!(out.contains("\n\n● helper.service - Helper without install section\n"), "{out}");
        assert!(out.contains("     Loaded: loaded (/lib/systemd/system/helper.service; static)\n"), "{out}");
        assert!(out.contains("     Active: active (exited) since "), "{out}");
        // one unit not found: 4 wins
        let out = s.expect(&["status", "nginx", "nosuch"], 4);
        assert!(out.stdout.starts_with("● nginx.service"), "{out}");
        s.ok(&["stop", "helper"]);
        s.expect(&["status", "nginx", "helper"], 3);
        s.write("/etc/hostname", "target1\n");
        let out = s.ok(&["status"]);
        assert!(out.starts_with("● target1\n    State: running\n"), "{out}");
    });
}
