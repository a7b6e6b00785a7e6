//! `enable`, `disable`, `mask` and their kin: the links they make and remove, and what
//! `is-enabled` answers (static units included).

use std::fs;

use super::harness::{on_a_fresh_target, CRON, STATIC};

// ------------------------------------------------------------------ is-enabled

#[test]
fn is_enabled_states_and_quiet() {
    on_a_fresh_target(|s| {
        s.nginx();
        s.unit("helper.service", STATIC);
        let out = s.expect(&["is-enabled", "nginx"], 1);
        assert_eq!(out.stdout, "disabled\n");
        assert_eq!(s.expect(&["is-enabled", "-q", "nginx"], 1).stdout, "");
        assert_eq!(s.ok(&["is-enabled", "helper"]), "static\n");
        s.ok(&["enable", "nginx"]);
        assert_eq!(s.ok(&["is-enabled", "nginx"]), "enabled\n");
        assert_eq!(s.ok(&["is-enabled", "--quiet", "nginx"]), "");
        assert_eq!(s.ok(&["-q", "is-enabled", "nginx.service"]), "");
        // Ansible's call: is-enabled '<unit>' -l (--full also lists the links)
        assert_eq!(
            s.ok(&["is-enabled", "nginx", "-l"]),
            "enabled\n  /etc/systemd/system/multi-user.target.wants/nginx.service\n"
        );
        s.ok(&["mask", "nginx"]);
        assert_eq!(s.expect(&["is-enabled", "nginx"], 1).stdout, "masked\n");
    });
}

// ------------------------------------------------------------------ enable / disable

#[test]
fn enable_creates_the_wants_symlink() {
    on_a_fresh_target(|s| {
        s.nginx();
        let out = s.ok(&["enable", "nginx"]);
        assert_eq!(out, "");
        let link = "/etc/systemd/system/multi-user.target.wants/nginx.service";
        assert_eq!(s.readlink(link).as_deref(), Some("/lib/systemd/system/nginx.service"));
        let err = s.expect(&["enable", "nginx"], 0).stderr;
        assert_eq!(err, "", "enabling twice changes nothing");
        assert_eq!(s.show("nginx")["UnitFileState"], "enabled");
        assert_eq!(s.show("nginx")["WantedBy"], "multi-user.target");
        // and the message systemd prints
        s.ok(&["disable", "nginx"]);
        let out = s.expect(&["enable", "nginx"], 0);
        assert_eq!(
            out.stderr,
            "Created symlink /etc/systemd/system/multi-user.target.wants/nginx.service → \
             /lib/systemd/system/nginx.service.\n"
        );
        // -q silences it
        s.ok(&["disable", "nginx"]);
        assert_eq!(s.expect(&["enable", "-q", "nginx"], 0).stderr, "");
    });
}

#[test]
fn enable_follows_the_install_section() {
    on_a_fresh_target(|s| {
        s.unit(
            "multi.service",
            "[Unit]\nDescription=Multi\n[Service]\nExecStart=/bin/true\n\
             [Install]\nWantedBy=graphical.target multi-user.target\nRequiredBy=foo.target\nAlias=multi-alias.service\n",
        );
        s.ok(&["enable", "multi"]);
        for link in [
            "/etc/systemd/system/graphical.target.wants/multi.service",
            "/etc/systemd/system/multi-user.target.wants/multi.service",
            "/etc/systemd/system/foo.target.requires/multi.service",
            "/etc/systemd/system/multi-alias.service",
        ] {
            assert_eq!(s.readlink(link).as_deref(), Some("/lib/systemd/system/multi.service"), "{link}");
        }
        // the alias name now answers for the unit
        assert_eq!(s.show("multi-alias")["Id"], "multi.service");
        s.ok(&["disable", "multi"]);
        assert!(!s.exists("/etc/systemd/system/multi-alias.service"));
        assert!(!s.exists("/etc/systemd/system/foo.target.requires/multi.service"));
        // an [Install] section without WantedBy= defaults to multi-user.target
        s.unit("bare.service", "[Service]\nExecStart=/bin/true\n[Install]\n");
        s.ok(&["enable", "bare"]);
        assert!(s.exists("/etc/systemd/system/multi-user.target.wants/bare.service"));
        // Also= enables the other unit too
        s.unit("sock.socket", "[Socket]\nListenStream=1234\n[Install]\nWantedBy=sockets.target\n");
        s.unit(
            "sock.service",
            "[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\nAlso=sock.socket\n",
        );
        s.ok(&["enable", "sock.service"]);
        assert!(s.exists("/etc/systemd/system/sockets.target.wants/sock.socket"));
        assert_eq!(s.ok(&["is-enabled", "sock.socket"]), "enabled\n");
    });
}

#[test]
fn disable_removes_every_link() {
    on_a_fresh_target(|s| {
        s.nginx();
        s.ok(&["enable", "nginx"]);
        // a link a package (deb-systemd-helper) or an admin made elsewhere
        s.link("/etc/systemd/system/graphical.target.wants/nginx.service", "/lib/systemd/system/nginx.service");
        let out = s.expect(&["disable", "nginx"], 0);
        assert!(
            out.stderr.contains("Removed \"/etc/systemd/system/multi-user.target.wants/nginx.service\".\n"),
            "{out}"
        );
        assert!(!s.exists("/etc/systemd/system/multi-user.target.wants/nginx.service"));
        assert!(!s.exists("/etc/systemd/system/graphical.target.wants/nginx.service"));
        assert_eq!(s.expect(&["is-enabled", "nginx"], 1).stdout, "disabled\n");
        // disabling again is a no-op
        assert_eq!(s.expect(&["disable", "nginx"], 0).stderr, "");
    });
}

#[test]
fn links_made_by_packages_count_as_enabled() {
    on_a_fresh_target(|s| {
        // What deb-systemd-helper leaves behind when a package is installed without systemd.
        s.nginx();
        s.link("/etc/systemd/system/multi-user.target.wants/nginx.service", "/lib/systemd/system/nginx.service");
        assert_eq!(s.ok(&["is-enabled", "nginx"]), "enabled\n");
        // a link in a .requires directory counts too
        s.unit("cron.service", CRON);
        s.link("/etc/systemd/system/basic.target.requires/cron.service", "/lib/systemd/system/cron.service");
        assert_eq!(s.ok(&["is-enabled", "cron"]), "enabled\n");
    });
}

#[test]
fn enable_now_and_disable_now() {
    on_a_fresh_target(|s| {
        s.nginx();
        s.ok(&["enable", "--now", "nginx"]);
        assert_eq!(s.ok(&["is-enabled", "nginx"]), "enabled\n");
        assert_eq!(s.ok(&["is-active", "nginx"]), "active\n");
        s.ok(&["disable", "nginx", "--now"]);
        assert_eq!(s.expect(&["is-enabled", "nginx"], 1).stdout, "disabled\n");
        assert_eq!(s.expect(&["is-active", "nginx"], 3).stdout, "inactive\n");
    });
}

#[test]
fn reenable_and_preset() {
    on_a_fresh_target(|s| {
        s.nginx();
        s.unit("cron.service", CRON);
        s.ok(&["reenable", "nginx"]);
        assert_eq!(s.ok(&["is-enabled", "nginx"]), "enabled\n");
        // no preset files: everything defaults to enabled (Debian)
        s.ok(&["preset", "cron"]);
        assert_eq!(s.ok(&["is-enabled", "cron"]), "enabled\n");
        assert_eq!(s.show("cron")["UnitFilePreset"], "enabled");
        // a Rocky-style "disable *" preset
        s.write("/usr/lib/systemd/system-preset/99-default-disable.preset", "disable *\n");
        s.write("/usr/lib/systemd/system-preset/90-default.preset", "# comment\nenable nginx.service\n");
        s.ok(&["preset", "cron", "nginx"]);
        assert_eq!(s.expect(&["is-enabled", "cron"], 1).stdout, "disabled\n");
        assert_eq!(s.ok(&["is-enabled", "nginx"]), "enabled\n");
        assert_eq!(s.show("cron")["UnitFilePreset"], "disabled");
        assert_eq!(s.show("nginx")["UnitFilePreset"], "enabled");
    });
}

#[test]
fn runtime_enable() {
    on_a_fresh_target(|s| {
        s.nginx();
        s.ok(&["enable", "--runtime", "nginx"]);
        assert!(s.exists("/run/systemd/system/multi-user.target.wants/nginx.service"));
        assert!(!s.exists("/etc/systemd/system/multi-user.target.wants/nginx.service"));
        assert_eq!(s.ok(&["is-enabled", "nginx"]), "enabled-runtime\n");
    });
}

// ------------------------------------------------------------------ mask / unmask

#[test]
fn mask_and_unmask() {
    on_a_fresh_target(|s| {
        s.nginx();
        s.ok(&["enable", "nginx"]);
        let out = s.expect(&["mask", "nginx"], 0);
        assert_eq!(out.stderr, "Created symlink /etc/systemd/system/nginx.service → /dev/null.\n");
        assert_eq!(s.readlink("/etc/systemd/system/nginx.service").as_deref(), Some("/dev/null"));
        assert_eq!(s.expect(&["is-enabled", "nginx"], 1).stdout, "masked\n");
        let out = s.expect(&["start", "nginx"], 1);
        assert_eq!(out.stderr, "Failed to start nginx.service: Unit nginx.service is masked.\n");
        s.expect(&["restart", "nginx"], 1);
        s.expect(&["is-active", "nginx"], 3);
        let out = s.expect(&["enable", "nginx"], 1);
        assert_eq!(out.stderr, "Failed to enable unit: Unit file /etc/systemd/system/nginx.service is masked.\n");
        let p = s.show("nginx");
        assert_eq!(p["LoadState"], "masked");
        assert_eq!(p["UnitFileState"], "masked");
        assert_eq!(p["LoadError"], "org.freedesktop.systemd1.UnitMasked \"Unit nginx.service is masked.\"");
        // masking twice is fine; stop works on a masked unit
        s.ok(&["mask", "nginx"]);
        s.ok(&["stop", "nginx"]);
        let out = s.expect(&["unmask", "nginx"], 0);
        assert_eq!(out.stderr, "Removed \"/etc/systemd/system/nginx.service\".\n");
        assert!(!s.exists("/etc/systemd/system/nginx.service"));
        // the enablement survived the mask, as with systemd
        assert_eq!(s.ok(&["is-enabled", "nginx"]), "enabled\n");
        s.ok(&["start", "nginx"]);
        assert_eq!(s.show("nginx")["LoadState"], "loaded");
        // unmasking an unmasked unit is a no-op
        assert_eq!(s.expect(&["unmask", "nginx"], 0).stderr, "");
    });
}

#[test]
fn mask_now_and_masking_units_not_installed() {
    on_a_fresh_target(|s| {
        s.nginx();
        s.ok(&["start", "nginx"]);
        s.ok(&["mask", "--now", "nginx"]);
        s.expect(&["is-active", "nginx"], 3);
        // systemd can mask a unit before its package is installed
        s.ok(&["mask", "future"]);
        assert_eq!(s.readlink("/etc/systemd/system/future.service").as_deref(), Some("/dev/null"));
        assert_eq!(s.show("future")["LoadState"], "masked");
        s.ok(&["unmask", "future"]);
        assert_eq!(s.show("future")["LoadState"], "not-found");
        // a unit file of the admin's own in /etc is kept: the mask goes to the
        // higher-priority control directory, and unmask brings the unit back
        let local = "[Unit]\nDescription=Local\n[Service]\nExecStart=/bin/true\n";
        s.write("/etc/systemd/system/local.service", local);
        let out = s.expect(&["mask", "local"], 0);
        assert_eq!(out.stderr, "Created symlink /etc/systemd/system.control/local.service → /dev/null.\n");
        assert_eq!(fs::read_to_string(s.p("/etc/systemd/system/local.service")).unwrap(), local);
        assert_eq!(s.expect(&["is-enabled", "local"], 1).stdout, "masked\n");
        assert_eq!(s.show("local")["LoadState"], "masked");
        s.expect(&["start", "local"], 1);
        assert_eq!(s.expect(&["mask", "local"], 0).stderr, "", "already masked");
        let out = s.expect(&["unmask", "local"], 0);
        assert_eq!(out.stderr, "Removed \"/etc/systemd/system.control/local.service\".\n");
        assert_eq!(s.show("local")["Description"], "Local");
        assert_eq!(s.ok(&["is-enabled", "local"]), "static\n");
    });
}

// ------------------------------------------------------------------ static units

#[test]
fn static_units() {
    on_a_fresh_target(|s| {
        s.unit("helper.service", STATIC);
        assert_eq!(s.ok(&["is-enabled", "helper"]), "static\n");
        let out = s.expect(&["enable", "helper"], 0);
        assert!(
            out.stderr.starts_with("The unit files have no installation config (WantedBy=, RequiredBy=, Also=,\n"),
            "{out}"
        );
        assert!(!s.exists("/etc/systemd/system/multi-user.target.wants/helper.service"));
        assert_eq!(s.show("helper")["UnitFileState"], "static");
        s.ok(&["disable", "helper"]);
        assert_eq!(s.ok(&["is-enabled", "helper"]), "static\n");
        s.ok(&["start", "helper"]);
        s.ok(&["is-active", "helper"]);
    });
}
