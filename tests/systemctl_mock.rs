//! Black-box tests of the systemctl stand-in installed in sandbox targets (gVisor
//! containers without systemd): the static binary built from `mocks/sandbox-systemctl`
//! (by build.rs, the very bytes the target images embed).
//!
//! Every test runs it against a scratch `SYSTEMCTL_ROOT`, called as `systemctl` and
//! `journalctl` through links in a directory that is the whole PATH: the binary may rely on
//! no external tool (a target may lack any of them), so one it tried to run would fail the
//! tests.

use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::PathBuf;
use std::process::Command;

use tempfile::TempDir;

const NGINX: &str = "\
[Unit]
Description=A high performance web server and a reverse proxy server
Documentation=man:nginx(8)
After=network.target

[Service]
Type=forking
PIDFile=/run/nginx.pid
ExecStart=/usr/sbin/nginx -g 'daemon on; master_process on;'
ExecReload=/usr/sbin/nginx -g 'daemon on; master_process on;' -s reload
ExecStop=-/sbin/start-stop-daemon --quiet --stop --retry QUIT/5 --pidfile /run/nginx.pid

[Install]
WantedBy=multi-user.target
";

const CRON: &str = "\
[Unit]
Description=Regular background program processing daemon
Documentation=man:cron(8)

[Service]
ExecStart=/usr/sbin/cron -f
Restart=on-failure

[Install]
WantedBy=multi-user.target
";

const STATIC: &str = "\
[Unit]
Description=Helper without install section

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/true
";

const GETTY_TEMPLATE: &str = "\
[Unit]
Description=Getty on %I

[Service]
ExecStart=-/sbin/agetty -o '-p -- \\\\u' --noclear - $TERM
Type=idle

[Install]
WantedBy=getty.target
";

const INIT_SCRIPT: &str = "\
#!/bin/sh
### BEGIN INIT INFO
# Provides:          legacyd
# Required-Start:    $remote_fs
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: Legacy daemon
### END INIT INFO
case \"$1\" in
  start|stop|restart|force-reload|status) ;;
esac
";

fn repo() -> PathBuf {
    PathBuf::from(std::env::var("SANDBOX_REPO").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string()))
}

/// The binary build.rs built (and src/images/mod.rs embeds).
fn mock_binary() -> PathBuf {
    PathBuf::from(env!("SANDBOX_SYSTEMCTL_BIN"))
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl fmt::Display for Out {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "exit {}\n--- stdout\n{}--- stderr\n{}---", self.code, self.stdout, self.stderr)
    }
}

/// One scratch target: a SYSTEMCTL_ROOT plus a PATH holding only `systemctl` and
/// `journalctl`, both links to the binary (it answers by the name it is called with).
struct Sys {
    root: TempDir,
    bin: TempDir,
}

impl Sys {
    fn new() -> Sys {
        let bin = tempfile::tempdir().unwrap();
        for name in ["systemctl", "journalctl"] {
            symlink(mock_binary(), bin.path().join(name)).unwrap();
        }
        Sys { root: tempfile::tempdir().unwrap(), bin }
    }

    /// A target whose /etc/sandbox/services says `supervised`: services really run, on this host.
    fn supervised() -> Sys {
        let sys = Sys::new();
        sys.write("/etc/sandbox/services", "supervised\n");
        // A service running as `nobody` must reach its files under the root.
        fs::set_permissions(sys.root.path(), fs::Permissions::from_mode(0o755)).unwrap();
        sys
    }

    /// Host path of an absolute path inside the target.
    fn p(&self, abs: &str) -> PathBuf {
        self.root.path().join(abs.trim_start_matches('/'))
    }

    fn write(&self, abs: &str, content: &str) {
        let path = self.p(abs);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
    }

    fn unit(&self, name: &str, content: &str) {
        self.write(&format!("/lib/systemd/system/{name}"), content);
    }

    fn nginx(&self) {
        self.unit("nginx.service", NGINX);
    }

    fn initd(&self, name: &str, content: &str) {
        let abs = format!("/etc/init.d/{name}");
        self.write(&abs, content);
        fs::set_permissions(self.p(&abs), fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// Symlink inside the target (target path is kept verbatim, as on the real system).
    fn link(&self, abs: &str, target: &str) {
        let path = self.p(abs);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        symlink(target, path).unwrap();
    }

    fn readlink(&self, abs: &str) -> Option<String> {
        fs::read_link(self.p(abs)).ok().map(|t| t.to_string_lossy().into_owned())
    }

    fn exists(&self, abs: &str) -> bool {
        fs::symlink_metadata(self.p(abs)).is_ok()
    }

    /// Pretend the unit got into STATE (e.g. a crashed service) behind the mock's back.
    fn set_state(&self, unit: &str, state: &str) {
        self.write(
            &format!("/var/lib/sandbox-systemctl/{unit}"),
            &format!("{state}\n1700000000\nTue 2023-11-14 22:13:20 UTC\n"),
        );
    }

    fn run(&self, args: &[&str]) -> Out {
        self.run_as("systemctl", args)
    }

    /// `journalctl ARGS` on this target.
    fn journal(&self, args: &[&str]) -> Out {
        let out = self.run_as("journalctl", args);
        assert_eq!(out.code, 0, "journalctl {}\n{out}", args.join(" "));
        out
    }

    /// The binary called as NAME (`systemctl`, `journalctl`) through its link in PATH.
    fn run_as(&self, name: &str, args: &[&str]) -> Out {
        let program = self.bin.path().join(name);
        let output = Command::new(&program)
            .args(args)
            .env_clear()
            .env("PATH", self.bin.path())
            .env("SYSTEMCTL_ROOT", self.root.path())
            .env("TZ", "UTC")
            .env("LC_ALL", "C")
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
        Out {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    fn expect(&self, args: &[&str], code: i32) -> Out {
        let out = self.run(args);
        assert_eq!(out.code, code, "systemctl {}: expected exit {code}\n{out}", args.join(" "));
        out
    }

    fn ok(&self, args: &[&str]) -> String {
        self.expect(args, 0).stdout
    }

    /// `systemctl show UNIT` parsed into a map.
    fn show(&self, unit: &str) -> HashMap<String, String> {
        props(&self.ok(&["show", unit]))
    }
}

fn props(text: &str) -> HashMap<String, String> {
    text.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// Runs TEST on a fresh target.
fn on_a_fresh_target(test: impl Fn(&Sys)) {
    test(&Sys::new());
}

fn lines(s: &str) -> Vec<&str> {
    s.lines().collect()
}

// ------------------------------------------------------------------ the binary itself

/// The ELF program headers' types of the file at PATH.
fn program_header_types(path: &std::path::Path) -> Vec<u32> {
    let elf = fs::read(path).unwrap();
    assert_eq!(&elf[..4], b"\x7fELF", "{} is not an ELF file", path.display());
    let u16_at = |o: usize| u16::from_le_bytes([elf[o], elf[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(elf[0x20..0x28].try_into().unwrap()) as usize;
    let (size, count) = (u16_at(0x36), u16_at(0x38));
    (0..count).map(|i| u32::from_le_bytes(elf[phoff + i * size..][..4].try_into().unwrap())).collect()
}

/// It runs in every catalog family (Debian, Ubuntu, Rocky, Alpine's musl): no program
/// interpreter, so no C library of the target's is involved.
#[test]
fn binary_is_static_and_says_why_it_exists() {
    const PT_INTERP: u32 = 3;
    let types = program_header_types(&mock_binary());
    assert!(!types.is_empty());
    assert!(!types.contains(&PT_INTERP), "the systemctl binary is dynamically linked: {types:?}");
    let main = fs::read_to_string(repo().join("mocks/sandbox-systemctl/src/main.rs")).unwrap();
    assert!(main.starts_with("//! "), "main.rs opens with a module comment");
    assert!(main.contains("systemd"), "which should say why the stand-in exists");
}

/// Nothing outside the binary is run, in mock or supervised mode: PATH holds no tool at all.
#[test]
fn binary_needs_no_external_tools() {
    let s = Sys::supervised();
    let root = s.root_str();
    s.nginx();
    s.unit("tool.service", &service(&format!("Type=oneshot\nExecStart=/bin/sh -c 'echo ran > {root}/ran'")));
    let out = s.run_as("systemctl", &["start", "tool"]);
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(s.read("/ran"), "ran\n", "commands are exec'd by absolute path, whatever PATH is");
    assert_eq!(
        s.ok(&["list-unit-files", "--no-legend"]),
        "nginx.service disabled enabled\ntool.service  disabled enabled\n"
    );
    assert!(s.journal(&["-u", "tool"]).stdout.contains("Started tool.service - Test service."));
    assert_eq!(fs::read_dir(s.bin.path()).unwrap().count(), 2, "PATH has only systemctl and journalctl");
}

// ------------------------------------------------------------------ start / stop / state

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

// ------------------------------------------------------------------ is-active / is-enabled

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

// ------------------------------------------------------------------ misc verbs

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

// ------------------------------------------------------------------ Ansible's systemd module

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

// ------------------------------------------------------------------ supervised mode
//
// With /etc/sandbox/services saying `supervised`, the mock runs the services: here they are
// real processes on this host (under the scratch root's name). Every target kills what is
// left of its services when dropped, so a failing test leaves nothing running.

impl Drop for Sys {
    fn drop(&mut self) {
        if self.exists("/etc/sandbox/services") {
            for pid in processes_of(&self.root.path().display().to_string()) {
                let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            }
        }
    }
}

/// Live processes that belong to the target rooted at ROOT: its services carry
/// SANDBOX_UNIT=<root>:<unit>, their wrappers name a run file under the root.
fn processes_of(root: &str) -> Vec<u32> {
    let mark = format!("SANDBOX_UNIT={root}:");
    let mut pids = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        if pid == std::process::id() || !alive(pid) {
            continue;
        }
        let environ = fs::read(entry.path().join("environ")).unwrap_or_default();
        let cmdline = fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let has = |bytes: &[u8], needle: &str| String::from_utf8_lossy(bytes).contains(needle);
        if has(&environ, &mark) || has(&cmdline, &format!("{root}/")) {
            pids.push(pid);
        }
    }
    pids
}

/// The process exists and is not a zombie.
fn alive(pid: u32) -> bool {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else { return false };
    let state = stat.rsplit_once(") ").map(|(_, rest)| rest.chars().next().unwrap_or('?')).unwrap_or('?');
    !matches!(state, 'Z' | 'X')
}

fn cmdline(pid: u32) -> String {
    fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " ").trim().to_string())
        .unwrap_or_default()
}

/// Polls COND for up to 10 s (a service's own process takes a moment to get going).
fn eventually(what: &str, cond: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !cond() {
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Runs TEST on a fresh supervised target, then waits for every process it started to end.
fn on_a_fresh_supervised_target(test: impl Fn(&Sys)) {
    let sys = Sys::supervised();
    test(&sys);
    // A wrapper may take a moment to record how its service ended, then it goes too.
    eventually("no process of the target left", || processes_of(&sys.root_str()).is_empty());
}

impl Sys {
    fn root_str(&self) -> String {
        self.root.path().display().to_string()
    }

    fn main_pid(&self, unit: &str) -> u32 {
        self.show(unit)["MainPID"].parse().unwrap()
    }

    fn read(&self, abs: &str) -> String {
        fs::read_to_string(self.p(abs)).unwrap_or_default()
    }
}

fn service(body: &str) -> String {
    format!("[Unit]\nDescription=Test service\n[Service]\n{body}\n[Install]\nWantedBy=multi-user.target\n")
}

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

// ------------------------------------------------------------------ units tied to each other

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
