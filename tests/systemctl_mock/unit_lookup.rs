//! How a name becomes a unit: the unit directories and aliases, templates, SysV init scripts,
//! odd unit files, and names that are no unit at all.

use super::harness::{on_a_fresh_target, GETTY_TEMPLATE, INIT_SCRIPT};

// ------------------------------------------------------------------ unknown units

#[test]
fn unknown_units_fail_like_systemd() {
    on_a_fresh_target(|s| {
        s.nginx();
        for (verb, msg) in [
            ("start", "Failed to start nginxx.service: Unit nginxx.service not found.\n"),
            ("restart", "Failed to restart nginxx.service: Unit nginxx.service not found.\n"),
            ("reload", "Failed to reload nginxx.service: Unit nginxx.service not found.\n"),
            ("try-restart", "Failed to try-restart nginxx.service: Unit nginxx.service not found.\n"),
            ("reload-or-restart", "Failed to reload-or-restart nginxx.service: Unit nginxx.service not found.\n"),
            ("stop", "Failed to stop nginxx.service: Unit nginxx.service not loaded.\n"),
        ] {
            let out = s.expect(&[verb, "nginxx"], 5);
            assert_eq!(out.stderr, msg, "{verb}");
            assert_eq!(out.stdout, "", "{verb}");
        }
        let out = s.expect(&["enable", "nginxx"], 1);
        assert_eq!(out.stderr, "Failed to enable unit: Unit file nginxx.service does not exist.\n");
        let out = s.expect(&["disable", "nginxx.service"], 1);
        assert_eq!(out.stderr, "Failed to disable unit: Unit file nginxx.service does not exist.\n");
        let out = s.expect(&["is-active", "nginxx"], 3);
        assert_eq!(out.stdout, "inactive\n");
        let out = s.expect(&["is-enabled", "nginxx"], 1);
        assert_eq!(out.stdout, "");
        assert_eq!(out.stderr, "Failed to get unit file state for nginxx.service: No such file or directory\n");
        let out = s.expect(&["status", "nginxx"], 4);
        assert_eq!(out.stderr, "Unit nginxx.service could not be found.\n");
        assert_eq!(out.stdout, "");
        let p = s.show("nginxx");
        assert_eq!(p["Id"], "nginxx.service");
        assert_eq!(p["Description"], "nginxx.service");
        assert_eq!(p["LoadState"], "not-found");
        assert_eq!(p["ActiveState"], "inactive");
        assert_eq!(p["SubState"], "dead");
        assert_eq!(p["UnitFileState"], "");
        assert_eq!(p["FragmentPath"], "");
        assert_eq!(p["LoadError"], "org.freedesktop.systemd1.NoSuchUnit \"Unit nginxx.service not found.\"");
        assert!(!s.exists("/var/lib/sandbox-systemctl/nginxx.service"));
        // other suffixes are kept: nginx.socket is not nginx.service
        s.expect(&["start", "nginx.socket"], 5);
        let out = s.expect(&["cat", "nginxx"], 1);
        assert_eq!(out.stderr, "No files found for nginxx.service.\n");
    });
}

// ------------------------------------------------------------------ templates

#[test]
fn template_units() {
    on_a_fresh_target(|s| {
        s.unit("getty@.service", GETTY_TEMPLATE);
        let p = s.show("getty@tty1.service");
        assert_eq!(p["Id"], "getty@tty1.service");
        assert_eq!(p["LoadState"], "loaded");
        assert_eq!(p["Description"], "Getty on tty1");
        assert_eq!(p["FragmentPath"], "/lib/systemd/system/getty@.service");
        assert_eq!(p["Type"], "idle");
        s.ok(&["start", "getty@tty1"]);
        assert_eq!(s.ok(&["is-active", "getty@tty1.service"]), "active\n");
        s.expect(&["is-active", "getty@tty2.service"], 3);
        assert_eq!(s.expect(&["is-enabled", "getty@tty1"], 1).stdout, "disabled\n");
        s.ok(&["enable", "getty@tty1.service"]);
        assert_eq!(
            s.readlink("/etc/systemd/system/getty.target.wants/getty@tty1.service").as_deref(),
            Some("/lib/systemd/system/getty@.service")
        );
        assert_eq!(s.ok(&["is-enabled", "getty@tty1"]), "enabled\n");
        assert_eq!(s.ok(&["is-enabled", "getty@.service"]), "indirect\n");
        let out = s.ok(&["list-units", "--all", "--plain", "--no-legend", "getty*"]);
        assert_eq!(out, "getty@tty1.service loaded active running Getty on tty1\n");
        let out = s.ok(&["status", "getty@tty1"]);
        assert!(out.starts_with("● getty@tty1.service - Getty on tty1\n     Loaded: loaded (/lib/systemd/system/getty@.service; enabled; preset: enabled)\n"), "{out}");
        s.ok(&["disable", "getty@tty1"]);
        assert!(!s.exists("/etc/systemd/system/getty.target.wants/getty@tty1.service"));
        // a template without an instance cannot be started; a missing template is not found
        let out = s.expect(&["start", "getty@.service"], 1);
        assert!(
            out.stderr.starts_with(
                "Failed to start getty@.service: Unit name getty@.service is missing the instance name.\n"
            ),
            "{out}"
        );
        let out = s.expect(&["start", "nosuch@x.service"], 5);
        assert_eq!(out.stderr, "Failed to start nosuch@x.service: Unit nosuch@x.service not found.\n");
    });
}

// ------------------------------------------------------------------ SysV init scripts

#[test]
fn init_d_scripts_are_units() {
    on_a_fresh_target(|s| {
        s.initd("legacyd", INIT_SCRIPT);
        let p = s.show("legacyd");
        assert_eq!(p["Id"], "legacyd.service");
        assert_eq!(p["LoadState"], "loaded");
        assert_eq!(p["Description"], "LSB: Legacy daemon");
        assert_eq!(p["FragmentPath"], "");
        assert_eq!(p["SourcePath"], "/etc/init.d/legacyd");
        assert_eq!(p["UnitFileState"], "generated");
        assert_eq!(s.expect(&["is-enabled", "legacyd"], 1).stdout, "disabled\n");
        s.ok(&["start", "legacyd"]);
        s.ok(&["is-active", "legacyd"]);
        let out = s.ok(&["status", "legacyd"]);
        assert!(
            out.starts_with(
                "● legacyd.service - LSB: Legacy daemon\n     Loaded: loaded (/etc/init.d/legacyd; generated)\n"
            ),
            "{out}"
        );
        // enable/disable keep the rc.d links the way update-rc.d does
        s.ok(&["enable", "legacyd"]);
        assert_eq!(s.readlink("/etc/rc2.d/S01legacyd").as_deref(), Some("../init.d/legacyd"));
        assert_eq!(s.ok(&["is-enabled", "legacyd"]), "enabled\n");
        s.ok(&["disable", "legacyd"]);
        assert!(!s.exists("/etc/rc2.d/S01legacyd"));
        assert!(s.exists("/etc/rc2.d/K01legacyd"));
        assert_eq!(s.expect(&["is-enabled", "legacyd"], 1).stdout, "disabled\n");
        // links made by update-rc.d count
        s.link("/etc/rc3.d/S20legacyd", "../init.d/legacyd");
        assert_eq!(s.ok(&["is-enabled", "legacyd"]), "enabled\n");
        // a script that is not executable is no service
        s.write("/etc/init.d/notexec", INIT_SCRIPT);
        s.expect(&["start", "notexec"], 5);
        let out = s.ok(&["list-unit-files", "--no-legend"]);
        assert_eq!(out, "legacyd.service generated -\n");
    });
}

#[test]
fn unit_file_wins_over_init_script_and_both_are_kept_in_sync() {
    on_a_fresh_target(|s| {
        s.nginx();
        s.initd("nginx", INIT_SCRIPT);
        let p = s.show("nginx");
        assert_eq!(p["FragmentPath"], "/lib/systemd/system/nginx.service");
        assert_eq!(p["Description"], "A high performance web server and a reverse proxy server");
        let out = s.expect(&["enable", "nginx"], 0);
        assert!(out.stderr.contains("Synchronizing state of nginx.service with SysV service script"), "{out}");
        assert!(s.exists("/etc/rc2.d/S01nginx"));
        assert!(s.exists("/etc/systemd/system/multi-user.target.wants/nginx.service"));
    });
}

// ------------------------------------------------------------------ unit lookup details

#[test]
fn unit_directories_and_aliases() {
    on_a_fresh_target(|s| {
        // /etc overrides /lib
        s.nginx();
        s.write(
            "/etc/systemd/system/nginx.service",
            "[Unit]\nDescription=Local nginx\n[Service]\nExecStart=/bin/true\n",
        );
        assert_eq!(s.show("nginx")["FragmentPath"], "/etc/systemd/system/nginx.service");
        assert_eq!(s.show("nginx")["Description"], "Local nginx");
        for dir in ["/run/systemd/system", "/usr/lib/systemd/system", "/usr/local/lib/systemd/system"] {
            let name = format!("in-{}.service", dir.split('/').nth(2).unwrap());
            s.write(&format!("{dir}/{name}"), "[Service]\nExecStart=/bin/true\n");
            assert_eq!(s.show(&name)["FragmentPath"], format!("{dir}/{name}"));
        }
        // an alias symlink answers for its target
        s.unit(
            "ssh.service",
            "[Unit]\nDescription=OpenBSD Secure Shell server\n[Service]\nExecStart=/usr/sbin/sshd -D\n",
        );
        s.link("/etc/systemd/system/sshd.service", "/lib/systemd/system/ssh.service");
        let p = s.show("sshd");
        assert_eq!(p["Id"], "ssh.service");
        assert_eq!(p["Names"], "ssh.service sshd.service");
        s.ok(&["start", "sshd"]);
        assert_eq!(s.ok(&["is-active", "ssh"]), "active\n");
    });
}

#[test]
fn specifiers_and_odd_unit_files() {
    on_a_fresh_target(|s| {
        s.unit(
            "odd.service",
            "# comment\r\n; other comment\r\n[Unit]\r\n  Description = Odd %n unit \\\r\n  continued\r\n[Service]\r\nExecStart=/bin/true\r\n",
        );
        // as systemd: the backslash becomes a space, the next line is appended verbatim
        assert_eq!(s.show("odd")["Description"], "Odd odd.service unit    continued");
        s.unit("pct.service", "[Unit]\nDescription=100%% sure\n");
        assert_eq!(s.show("pct")["Description"], "100% sure");
    });
}
