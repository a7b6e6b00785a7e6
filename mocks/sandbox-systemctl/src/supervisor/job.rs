//! One job's processes: the control commands a start, stop or reload runs in the foreground
//! (bounded by the unit's timeouts), and the main process of a simple/notify service, handed
//! to a forked supervisor (`watch`) that outlives the call.

use std::fs;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use crate::cmdline::{self, Env};
use crate::ctx::Ctx;
use crate::loaded::Loaded;
use crate::observe::{exit_path, mark, record_path, sup_dir};
use crate::process::{self, Credentials, Spawn, SERVICE_PATH};
use crate::unit;
use crate::unitlog;

use super::watch::{restart_delay, Restart, Watch};

/// What every process of one job shares: credentials, environment, log.
pub struct Job {
    creds: Option<Credentials>,
    env: Env,
    cwd: Option<(String, bool)>,
    log: Option<std::fs::File>,
    /// Type=notify: $NOTIFY_SOCKET for the main process.
    pub notify: Option<String>,
}

#[derive(Debug, Clone, Copy)]
pub struct Failure {
    pub status: i32,
    pub timed_out: bool,
}

impl Job {
    pub fn new(ctx: &Ctx, l: &Loaded, creds: Option<Credentials>) -> Job {
        let u = &l.file;
        let mut env = Env::default();
        env.set("PATH", SERVICE_PATH);
        env.set("SANDBOX_UNIT", &mark(&ctx.root, l.id()));
        // systemd gives every process of a unit's invocation its id; scripts test it to know
        // they run under systemd (Debian 13's `postfix debian-systemd-start` refuses without).
        env.set("INVOCATION_ID", &invocation_id());
        if let (Some(c), false) = (&creds, u.user.is_empty()) {
            for (k, v) in [("HOME", &c.home), ("USER", &c.name), ("LOGNAME", &c.name), ("SHELL", &c.shell)] {
                env.set(k, v);
            }
        }
        if let Some(extra) = &u.extra_env {
            env.assign(extra);
        }
        for line in &u.environment {
            for word in cmdline::environment_words(line) {
                env.assign(&word);
            }
        }
        for file in &u.environment_files {
            let path = file.strip_prefix('-').unwrap_or(file);
            let text = fs::read(ctx.root.p(path)).map(|b| String::from_utf8_lossy(&b).into_owned());
            for (k, v) in text.as_deref().map(cmdline::environment_file).unwrap_or_default() {
                env.set(&k, &v);
            }
        }
        Job { creds, env, cwd: working_directory(ctx, l, u), log: unitlog::open(&ctx.root, l.id()), notify: None }
    }

    fn log_fd(&self) -> RawFd {
        self.log.as_ref().map(|f| f.as_raw_fd()).unwrap_or(-1)
    }

    /// The child of one command line; `main` adds nothing, control commands get $MAINPID.
    pub fn spawn(&self, l: &Loaded, line: &str, main_pid: Option<i32>) -> (Spawn, bool) {
        let cmd = cmdline::prefixes(&unit::expand_specifiers(line, &l.r));
        let mut env = Env::default();
        match (main_pid, &self.notify) {
            (Some(pid), _) => env.set("MAINPID", &pid.to_string()),
            (None, Some(socket)) => env.set("NOTIFY_SOCKET", socket),
            (None, None) => {}
        }
        for entry in self.env.entries() {
            env.assign(&entry);
        }
        let argv = cmdline::argv(&cmd.line, &env);
        let creds = if cmd.privileged { None } else { self.creds.clone() };
        (Spawn::new(&argv, &env.entries(), self.cwd.clone(), creds, Some(self.log_fd())), cmd.ignore_failure)
    }

    /// One control command in the foreground, in a session of its own, bounded by DEADLINE.
    pub fn run(&self, l: &Loaded, line: &str, deadline: Duration) -> Result<(), Failure> {
        let (spawn, _) = self.spawn(l, line, Some(l.main.pid));
        let pid = match process::fork(|| spawn.exec(true, false)) {
            Ok(pid) => pid,
            Err(_) => return Err(Failure { status: 1, timed_out: false }),
        };
        match process::wait_for(pid, deadline) {
            Some(0) => Ok(()),
            Some(status) => Err(Failure { status, timed_out: false }),
            None => {
                process::terminate(pid);
                Err(Failure { status: 124, timed_out: true })
            }
        }
    }

    /// Each command in turn; stops at the first failure not marked `-`.
    pub fn run_all(&self, l: &Loaded, lines: &[String], deadline: Duration) -> Result<(), Failure> {
        for line in lines {
            let ignore = cmdline::prefixes(line).ignore_failure;
            match self.run(l, line, deadline) {
                Err(f) if !ignore || f.timed_out => return Err(f),
                _ => {}
            }
        }
        Ok(())
    }

    /// The main process of a simple service, under a supervisor that records how it ends.
    /// Returns its PID once it has exec'd (a pipe that closes on exec says so).
    pub fn spawn_main(&self, ctx: &Ctx, l: &Loaded) -> Option<i32> {
        let line = l.file.exec.start.first()?;
        let (mut spawn, _) = self.spawn(l, line, None);
        // The supervisor's stdio is the log already: the main process inherits it.
        spawn.inherit_stdio();
        let exit_file = exit_path(&ctx.root, l.id());
        let _ = fs::create_dir_all(sup_dir(&ctx.root));
        let _ = fs::remove_file(&exit_file);
        let (read_end, write_end) = pipe()?;
        let log = self.log_fd();
        let write_fd = write_end.as_raw_fd();
        let watch = Watch {
            root: ctx.root.clone(),
            id: l.id().to_string(),
            exit_file,
            record_file: record_path(&ctx.root, l.id()),
            restart: Restart::parse(&l.file.restart),
            restart_delay: restart_delay(&l.file.restart_sec),
        };
        let supervisor = process::fork(|| watch.supervise(&spawn, write_fd, log)).ok()?;
        drop(write_end);
        let _ = supervisor;
        read_pid(read_end)
    }
}

fn working_directory(ctx: &Ctx, l: &Loaded, u: &unit::UnitFile) -> Option<(String, bool)> {
    let (dir, optional) = match u.working_directory.strip_prefix('-') {
        Some(d) => (d, true),
        None => (u.working_directory.as_str(), false),
    };
    let home = process::credentials(&ctx.root, &u.user, "").ok().flatten().map(|c| c.home);
    let dir = match dir {
        "" => "/".to_string(),
        "~" => home.unwrap_or_else(|| "/".into()),
        d => unit::expand_specifiers(d, &l.r),
    };
    Some((ctx.root.p(&dir).to_string_lossy().into_owned(), optional))
}

fn pipe() -> Option<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: fds is a valid array of two ints; on success both are fresh descriptors we own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return None;
    }
    Some(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Reads the main PID the supervisor sends, then waits (bounded) for the end of the pipe,
/// which comes when the main process has exec'd.
fn read_pid(read_end: OwnedFd) -> Option<i32> {
    let mut file = std::fs::File::from(read_end);
    let fd = file.as_raw_fd();
    let mut text = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let mut pfd = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
        // SAFETY: pfd is valid for the call.
        let ready = unsafe { libc::poll(&mut pfd, 1, left.as_millis().min(5000) as libc::c_int) };
        if ready <= 0 {
            break;
        }
        let mut buf = [0u8; 64];
        match file.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => text.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&text).trim().parse().ok()
}

/// A new invocation's id, as systemd makes one per start: 128 random bits in 32 lowercase hex
/// digits (from the kernel's random source; the clock and the pid where it cannot be read).
pub fn invocation_id() -> String {
    let mut bytes = [0u8; 16];
    let read = fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    if read.is_err() {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        bytes[..8].copy_from_slice(&(now.as_nanos() as u64).to_le_bytes());
        bytes[8..12].copy_from_slice(&std::process::id().to_le_bytes());
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invocation_id_is_32_hex_digits_and_new_each_time() {
        let id = invocation_id();
        assert_eq!(id.len(), 32, "{id}");
        assert!(id.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()), "{id}");
        assert_ne!(id, invocation_id());
    }
}
