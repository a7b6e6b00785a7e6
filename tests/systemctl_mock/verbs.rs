//! The verbs around the units (`version`, `cat`, the system-wide ones), options anywhere on
//! the line, and what is refused.

use super::harness::{lines, on_a_fresh_target, CRON, NGINX};

#[test]
fn version() {
    on_a_fresh_target(|s| {
        let out = s.ok(&["--version"]);
        let l = lines(&out);
        assert_eq!(l[0], "systemd 252 (252.30-1~deb12u2)");
        assert!(l[1].starts_with("+PAM +AUDIT +SELINUX +APPARMOR +IMA +SMACK +SECCOMP "), "{out}");
        assert_eq!(l.len(), 2);
    });
}

#[test]
fn unknown_verbs_and_options() {
    on_a_fresh_target(|s| {
        let out = s.expect(&["frobnicate", "nginx"], 1);
        assert_eq!(out.stderr, "Unknown command verb 'frobnicate'.\n");
        assert_eq!(out.stdout, "");
        let out = s.expect(&["start", "--frobnicate", "nginx"], 1);
        assert_eq!(out.stderr, "systemctl: unrecognized option '--frobnicate'\n");
        let out = s.expect(&["start"], 1);
        assert_eq!(out.stderr, "Too few arguments.\n");
    });
}

#[test]
fn options_anywhere_on_the_line() {
    on_a_fresh_target(|s| {
        s.nginx();
        s.ok(&["--no-pager", "--system", "--no-block", "start", "--no-ask-password", "nginx", "-q"]);
        s.ok(&["--quiet", "--system", "is-active", "--", "nginx"]);
        assert_eq!(s.ok(&["-p", "LoadState", "show", "nginx"]), "LoadState=loaded\n");
        assert_eq!(s.ok(&["show", "--value", "nginx", "--property", "ActiveState"]), "active\n");
        s.ok(&["--force", "--job-mode=ignore-dependencies", "restart", "nginx", "--no-block"]);
        s.ok(&["-l", "--full", "--plain", "--no-legend", "-a", "--all", "list-units", "--no-pager"]);
        s.ok(&["enable", "nginx", "--now", "--no-reload", "--force"]);
        assert_eq!(s.ok(&["-ql", "is-enabled", "nginx"]), "");
        s.ok(&["daemon-reload", "--no-pager"]);
        s.ok(&["--state=active", "--type=service", "--failed", "list-units"]);
    });
}

#[test]
fn system_wide_verbs() {
    on_a_fresh_target(|s| {
        assert_eq!(s.ok(&["daemon-reload"]), "");
        assert_eq!(s.ok(&["daemon-reexec"]), "");
        assert_eq!(s.ok(&["is-system-running"]), "running\n");
        assert_eq!(s.ok(&["is-system-running", "--quiet"]), "");
        assert_eq!(s.ok(&["get-default"]), "multi-user.target\n");
        s.unit("graphical.target", "[Unit]\nDescription=Graphical Interface\n");
        s.ok(&["set-default", "graphical.target"]);
        assert_eq!(s.ok(&["get-default"]), "graphical.target\n");
        assert_eq!(s.ok(&["list-jobs"]), "No jobs running.\n");
        assert!(s.ok(&["show-environment"]).contains("PATH="));
        assert!(s.ok(&["--help"]).starts_with("systemctl [OPTIONS...] COMMAND ..."));
    });
}

#[test]
fn cat_prints_the_unit_file() {
    on_a_fresh_target(|s| {
        s.nginx();
        s.unit("cron.service", CRON);
        assert_eq!(s.ok(&["cat", "nginx"]), format!("# /lib/systemd/system/nginx.service\n{NGINX}"));
        assert_eq!(
            s.ok(&["cat", "nginx", "cron"]),
            format!("# /lib/systemd/system/nginx.service\n{NGINX}\n# /lib/systemd/system/cron.service\n{CRON}")
        );
        s.ok(&["mask", "cron"]);
        s.expect(&["cat", "cron"], 1);
    });
}
