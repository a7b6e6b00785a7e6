//! The scratch target every test of the mock runs against: `Sys` (a root and a PATH holding
//! only the binary's links) and `Out` (what one call printed and returned), the unit files the
//! tests install, and for supervised mode the processes a target started, which it kills when
//! dropped.

use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::PathBuf;
use std::process::Command;

use tempfile::TempDir;

pub(super) const NGINX: &str = "\
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

pub(super) const CRON: &str = "\
[Unit]
Description=Regular background program processing daemon
Documentation=man:cron(8)

[Service]
ExecStart=/usr/sbin/cron -f
Restart=on-failure

[Install]
WantedBy=multi-user.target
";

pub(super) const STATIC: &str = "\
[Unit]
Description=Helper without install section

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/true
";

pub(super) const GETTY_TEMPLATE: &str = "\
[Unit]
Description=Getty on %I

[Service]
ExecStart=-/sbin/agetty -o '-p -- \\\\u' --noclear - $TERM
Type=idle

[Install]
WantedBy=getty.target
";

pub(super) const INIT_SCRIPT: &str = "\
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

pub(super) fn repo() -> PathBuf {
    PathBuf::from(std::env::var("SANDBOX_REPO").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string()))
}

/// The binary build.rs built (and src/images/mod.rs embeds).
pub(super) fn mock_binary() -> PathBuf {
    PathBuf::from(env!("SANDBOX_SYSTEMCTL_BIN"))
}

pub(super) struct Out {
    pub(super) code: i32,
    pub(super) stdout: String,
    pub(super) stderr: String,
}

impl fmt::Display for Out {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "exit {}\n--- stdout\n{}--- stderr\n{}---", self.code, self.stdout, self.stderr)
    }
}

/// One scratch target: a SYSTEMCTL_ROOT plus a PATH holding only `systemctl` and
/// `journalctl`, both links to the binary (it answers by the name it is called with).
pub(super) struct Sys {
    pub(super) root: TempDir,
    pub(super) bin: TempDir,
}

impl Sys {
    pub(super) fn new() -> Sys {
        let bin = tempfile::tempdir().unwrap();
        for name in ["systemctl", "journalctl"] {
            symlink(mock_binary(), bin.path().join(name)).unwrap();
        }
        Sys { root: tempfile::tempdir().unwrap(), bin }
    }

    /// A target whose /etc/sandbox/services says `supervised`: services really run, on this host.
    pub(super) fn supervised() -> Sys {
        let sys = Sys::new();
        sys.write("/etc/sandbox/services", "supervised\n");
        // A service running as `nobody` must reach its files under the root.
        fs::set_permissions(sys.root.path(), fs::Permissions::from_mode(0o755)).unwrap();
        sys
    }

    /// Host path of an absolute path inside the target.
    pub(super) fn p(&self, abs: &str) -> PathBuf {
        self.root.path().join(abs.trim_start_matches('/'))
    }

    pub(super) fn write(&self, abs: &str, content: &str) {
        let path = self.p(abs);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
    }

    pub(super) fn unit(&self, name: &str, content: &str) {
        self.write(&format!("/lib/systemd/system/{name}"), content);
    }

    pub(super) fn nginx(&self) {
        self.unit("nginx.service", NGINX);
    }

    pub(super) fn initd(&self, name: &str, content: &str) {
        let abs = format!("/etc/init.d/{name}");
        self.write(&abs, content);
        fs::set_permissions(self.p(&abs), fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// Symlink inside the target (target path is kept verbatim, as on the real system).
    pub(super) fn link(&self, abs: &str, target: &str) {
        let path = self.p(abs);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        symlink(target, path).unwrap();
    }

    pub(super) fn readlink(&self, abs: &str) -> Option<String> {
        fs::read_link(self.p(abs)).ok().map(|t| t.to_string_lossy().into_owned())
    }

    pub(super) fn exists(&self, abs: &str) -> bool {
        fs::symlink_metadata(self.p(abs)).is_ok()
    }

    /// Pretend the unit got into STATE (e.g. a crashed service) behind the mock's back.
    pub(super) fn set_state(&self, unit: &str, state: &str) {
        self.write(
            &format!("/var/lib/sandbox-systemctl/{unit}"),
            &format!("{state}\n1700000000\nTue 2023-11-14 22:13:20 UTC\n"),
        );
    }

    pub(super) fn run(&self, args: &[&str]) -> Out {
        self.run_as("systemctl", args)
    }

    /// `journalctl ARGS` on this target.
    pub(super) fn journal(&self, args: &[&str]) -> Out {
        let out = self.run_as("journalctl", args);
        assert_eq!(out.code, 0, "journalctl {}\n{out}", args.join(" "));
        out
    }

    /// The binary called as NAME (`systemctl`, `journalctl`) through its link in PATH.
    pub(super) fn run_as(&self, name: &str, args: &[&str]) -> Out {
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

    pub(super) fn expect(&self, args: &[&str], code: i32) -> Out {
        let out = self.run(args);
        assert_eq!(out.code, code, "systemctl {}: expected exit {code}\n{out}", args.join(" "));
        out
    }

    pub(super) fn ok(&self, args: &[&str]) -> String {
        self.expect(args, 0).stdout
    }

    /// `systemctl show UNIT` parsed into a map.
    pub(super) fn show(&self, unit: &str) -> HashMap<String, String> {
        props(&self.ok(&["show", unit]))
    }
}

pub(super) fn props(text: &str) -> HashMap<String, String> {
    text.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// Runs TEST on a fresh target.
pub(super) fn on_a_fresh_target(test: impl Fn(&Sys)) {
    test(&Sys::new());
}

pub(super) fn lines(s: &str) -> Vec<&str> {
    s.lines().collect()
}

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
pub(super) fn processes_of(root: &str) -> Vec<u32> {
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
pub(super) fn alive(pid: u32) -> bool {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else { return false };
    let state = stat.rsplit_once(") ").map(|(_, rest)| rest.chars().next().unwrap_or('?')).unwrap_or('?');
    !matches!(state, 'Z' | 'X')
}

pub(super) fn cmdline(pid: u32) -> String {
    fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " ").trim().to_string())
        .unwrap_or_default()
}

/// Polls COND for up to 10 s (a service's own process takes a moment to get going).
pub(super) fn eventually(what: &str, cond: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !cond() {
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Runs TEST on a fresh supervised target, then waits for every process it started to end.
pub(super) fn on_a_fresh_supervised_target(test: impl Fn(&Sys)) {
    let sys = Sys::supervised();
    test(&sys);
    // A wrapper may take a moment to record how its service ended, then it goes too.
    eventually("no process of the target left", || processes_of(&sys.root_str()).is_empty());
}

impl Sys {
    pub(super) fn root_str(&self) -> String {
        self.root.path().display().to_string()
    }

    pub(super) fn main_pid(&self, unit: &str) -> u32 {
        self.show(unit)["MainPID"].parse().unwrap()
    }

    pub(super) fn read(&self, abs: &str) -> String {
        fs::read_to_string(self.p(abs)).unwrap_or_default()
    }
}

pub(super) fn service(body: &str) -> String {
    format!("[Unit]\nDescription=Test service\n[Service]\n{body}\n[Install]\nWantedBy=multi-user.target\n")
}
