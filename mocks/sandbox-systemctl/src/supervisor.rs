//! Supervised mode: services really run, so a broken config fails at the restart as on a
//! real server. There is no resident manager: each call does its part and leaves on disk what
//! the next one needs.
//!
//! - A simple/exec/notify service's main process is the grandchild of the call: a forked
//!   supervisor in a session of its own waits for it and records how it ended (that is how a
//!   crash shows up as `failed` with its exit status); it outlives the SSH connection that
//!   started it.
//! - ExecStartPre=, a forking ExecStart=, ExecStop= and ExecReload= run in the foreground,
//!   bounded by the unit's timeouts.
//! - Every process of a service carries `SANDBOX_UNIT=<unit>` in its environment:
//!   /proc/*/environ then stands in for the cgroup systemd would use (stop kills what is
//!   left, a forking service without PIDFile= is found).
//! - Output goes to /var/log/sandbox-journal/<unit>.log, which `journalctl -u` prints.

use std::fs;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::time::Duration;

use crate::cmdline::{self, Env};
use crate::ctx::{Ctx, Loaded};
use crate::notify;
use crate::process::{self, Credentials, CredentialsError, Spawn, SERVICE_PATH};
use crate::root::{self, Root, STATE_DIR};
use crate::state::{self, Active, MainRecord};
use crate::syslog;
use crate::time;
use crate::unit::{self, Kind};
use crate::unitlog;

fn sup_dir(ctx: &Ctx) -> PathBuf {
    ctx.root.p(&format!("{STATE_DIR}/supervised"))
}

fn record_path(ctx: &Ctx, id: &str) -> PathBuf {
    sup_dir(ctx).join(id)
}

/// Where the supervisor writes "PID STATUS" when the main process has ended.
fn exit_path(ctx: &Ctx, id: &str) -> PathBuf {
    sup_dir(ctx).join(format!("{id}.exit"))
}

/// The mark in the environment of the unit's processes; the root is part of it so that tests
/// on one host keep their targets apart.
fn mark(ctx: &Ctx, id: &str) -> String {
    if ctx.root.prefix().is_empty() {
        id.to_string()
    } else {
        format!("{}:{id}", ctx.root.prefix())
    }
}

pub fn save_record(ctx: &Ctx, l: &Loaded) {
    let _ = fs::create_dir_all(sup_dir(ctx));
    let _ = fs::write(record_path(ctx, l.id()), l.main.line());
}

fn set_state(ctx: &Ctx, l: &mut Loaded, active: Active) {
    if let Ok(recorded) = state::save(&ctx.root, l.id(), &active) {
        l.recorded = recorded;
    }
}

/// A line in the unit's log, as systemd would write it to the journal.
pub fn journal(ctx: &Ctx, id: &str, message: &str) {
    unitlog::manager_line(&ctx.root, id, message);
}

// ---------------------------------------------------------------------------- what a unit is now

/// The unit's last main process, and what an active unit really is now (its main process
/// may have died since the last call).
pub fn refresh(ctx: &Ctx, l: &mut Loaded) {
    // A supervisor restarting a quick-failing service replaces the main process while we look;
    // each replacement means reading again (bounded: the start limit ends restarts anyway).
    for _ in 0..START_LIMIT_BURST * 2 {
        if !refresh_once(ctx, l) {
            return;
        }
        l.recorded = state::load(&ctx.root, &l.r);
    }
}

/// One look at the unit; true when the main process was replaced meanwhile.
fn refresh_once(ctx: &Ctx, l: &mut Loaded) -> bool {
    l.main = fs::read_to_string(record_path(ctx, l.id())).map(|t| MainRecord::parse(&t)).unwrap_or_default();
    if !matches!(l.active(), Active::Active | Active::Reloading) {
        return false;
    }
    if process::alive(l.main.pid) {
        l.sup_sub = Some("running");
    } else if l.file.is_oneshot() {
        l.sup_sub = Some("exited");
    } else if l.main.pid == 0 {
        // No main PID known (forking without PIDFile=): alive while any process of it is.
        if unit_processes(ctx, l.id()).is_empty() {
            main_ended(ctx, l, Some(0));
        } else {
            l.sup_sub = Some("running");
        }
    } else {
        match main_status(ctx, l) {
            Ended::Status(status) => main_ended(ctx, l, Some(status)),
            Ended::Unknown => main_ended(ctx, l, None),
            // "activating (auto-restart)": the state file says so by now.
            Ended::Restarting => l.recorded = state::load(&ctx.root, &l.r),
            Ended::Replaced => return true,
        }
    }
    false
}

/// The main process's exit status as its supervisor recorded it; None when nobody watched
/// it. The supervisor may need a moment to write it after reaping: on a loaded 2-core host
/// more than 2 s were seen, and a caller that gave up then marked a unit `failed` that its
/// supervisor was restarting. The bound only matters when the supervisor itself is gone.
fn main_status(ctx: &Ctx, l: &Loaded) -> Ended {
    if !l.main.watched {
        return Ended::Unknown;
    }
    let path = exit_path(ctx, l.id());
    let mut ended = Ended::Unknown;
    let record = record_path(ctx, l.id());
    process::poll_until(Duration::from_secs(10), || {
        let text = fs::read_to_string(&path).unwrap_or_default();
        // The exit file holds the last process's end only: once the supervisor has started
        // another, ours is no longer there to find.
        let now = fs::read_to_string(&record).map(|t| MainRecord::parse(&t).pid).unwrap_or(l.main.pid);
        if now != l.main.pid {
            ended = Ended::Replaced;
            return true;
        }
        let mut f = text.split_whitespace();
        if f.next().and_then(|p| p.parse::<i32>().ok()) == Some(l.main.pid) {
            ended = match f.next() {
                Some(RESTARTING) => Ended::Restarting,
                Some(s) => s.parse().map(Ended::Status).unwrap_or(Ended::Unknown),
                None => Ended::Unknown,
            };
        }
        ended != Ended::Unknown
    });
    ended
}

/// How a watched main process ended, as its supervisor wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    Status(i32),
    /// Restart= applies: the supervisor is starting it again.
    Restarting,
    /// The supervisor started another main process while we looked.
    Replaced,
    Unknown,
}

/// What the supervisor writes instead of a status when Restart= starts the service again.
const RESTARTING: &str = "restart";

/// The main process is gone; STATUS None when nobody saw it end.
fn main_ended(ctx: &Ctx, l: &mut Loaded, status: Option<i32>) {
    let id = l.id().to_string();
    let mut clean = true;
    l.main.code = 1;
    l.main.status = status.unwrap_or(0);
    l.main.result = "success".into();
    match status {
        None => {
            // A forking daemon is not our child: its exit status cannot be known.
            clean = false;
            l.main.code = 0;
            l.main.result = "exit-code".into();
            journal(ctx, &id, &format!("{id}: Main process {} is gone; its exit status is unknown.", l.main.pid));
        }
        Some(s) if s > 128 => {
            l.main.code = 2;
            l.main.status = s - 128;
            if !matches!(s - 128, 1 | 2 | 13 | 15) {
                clean = false;
                l.main.result = "signal".into();
            }
            journal(ctx, &id, &format!("{id}: Main process exited, code=killed, status={}", s - 128));
        }
        Some(0) => {}
        Some(s) => {
            clean = false;
            l.main.result = "exit-code".into();
            journal(ctx, &id, &format!("{id}: Main process exited, code=exited, status={s}/FAILURE"));
        }
    }
    if clean && l.file.remains() {
        l.sup_sub = Some("exited");
        save_record(ctx, l);
        return;
    }
    if clean {
        journal(ctx, &id, &format!("{id}: Deactivated successfully."));
        set_state(ctx, l, Active::Inactive);
    } else {
        journal(ctx, &id, &format!("{id}: Failed with result '{}'.", l.main.result));
        set_state(ctx, l, Active::Failed);
    }
    // As systemd does when the main process ends: the rest of the unit goes too.
    kill_unit(ctx, l, libc::SIGTERM);
    save_record(ctx, l);
}

/// Where the processes born during a forking start are listed ("PID STARTTIME" lines).
fn born_path(ctx: &Ctx, id: &str) -> PathBuf {
    sup_dir(ctx).join(format!("{id}.pids"))
}

/// The daemons that appeared while a forking ExecStart= ran: a daemon that clears its
/// environment (postfix's master does) loses the mark, but not its PID and start time. Only
/// orphans (adopted by PID 1) and their children count: a process some other program started
/// meanwhile still has its parent.
fn record_born(ctx: &Ctx, id: &str, before: &[i32]) -> Vec<i32> {
    let me = process::own_pid();
    let mut new: Vec<i32> = process::all_pids().into_iter().filter(|p| *p != me && !before.contains(p)).collect();
    new.sort_unstable();
    let mut born: Vec<i32> = Vec::new();
    for pid in &new {
        let adopted = matches!(process::parent(*pid), Some(pp) if pp == 1 || born.contains(&pp));
        if adopted && process::alive(*pid) {
            born.push(*pid);
        }
    }
    let lines: String = born.iter().filter_map(|p| process::start_time(*p).map(|t| format!("{p} {t}\n"))).collect();
    let _ = fs::create_dir_all(sup_dir(ctx));
    let _ = fs::write(born_path(ctx, id), lines);
    born
}

/// Every live process of the unit: the marked ones and those born during its start.
fn unit_processes(ctx: &Ctx, id: &str) -> Vec<i32> {
    let mut pids = process::marked(&mark(ctx, id));
    let text = fs::read_to_string(born_path(ctx, id)).unwrap_or_default();
    for line in text.lines() {
        let mut f = line.split_whitespace();
        let (Some(pid), Some(started)) = (f.next().and_then(|p| p.parse().ok()), f.next().and_then(|t| t.parse().ok()))
        else {
            continue;
        };
        if process::alive(pid) && process::start_time(pid) == Some(started) && !pids.contains(&pid) {
            pids.push(pid);
        }
    }
    pids
}

/// The main process and everything else of the unit (KillMode=control-group).
pub fn kill_unit(ctx: &Ctx, l: &Loaded, sig: i32) {
    if process::alive(l.main.pid) {
        process::signal(l.main.pid, sig);
    }
    for pid in unit_processes(ctx, l.id()) {
        process::signal(pid, sig);
    }
}

/// Until the unit has no process left, at most DEADLINE.
fn wait_gone(ctx: &Ctx, l: &Loaded, deadline: Duration) -> bool {
    process::poll_until(deadline, || !process::alive(l.main.pid) && unit_processes(ctx, l.id()).is_empty())
}

// ---------------------------------------------------------------------------- running commands

/// What every process of one job shares: credentials, environment, log.
struct Job {
    creds: Option<Credentials>,
    env: Env,
    cwd: Option<(String, bool)>,
    log: Option<std::fs::File>,
    /// Type=notify: $NOTIFY_SOCKET for the main process.
    notify: Option<String>,
}

#[derive(Debug, Clone, Copy)]
struct Failure {
    status: i32,
    timed_out: bool,
}

impl Job {
    fn new(ctx: &Ctx, l: &Loaded, creds: Option<Credentials>) -> Job {
        let u = &l.file;
        let mut env = Env::default();
        env.set("PATH", SERVICE_PATH);
        env.set("SANDBOX_UNIT", &mark(ctx, l.id()));
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
    fn spawn(&self, l: &Loaded, line: &str, main_pid: Option<i32>) -> (Spawn, bool) {
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
    fn run(&self, l: &Loaded, line: &str, deadline: Duration) -> Result<(), Failure> {
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
    fn run_all(&self, l: &Loaded, lines: &[String], deadline: Duration) -> Result<(), Failure> {
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
    fn spawn_main(&self, ctx: &Ctx, l: &Loaded) -> Option<i32> {
        let line = l.file.exec.start.first()?;
        let (mut spawn, _) = self.spawn(l, line, None);
        // The supervisor's stdio is the log already: the main process inherits it.
        spawn.inherit_stdio();
        let exit_file = exit_path(ctx, l.id());
        let _ = fs::create_dir_all(sup_dir(ctx));
        let _ = fs::remove_file(&exit_file);
        let (read_end, write_end) = pipe()?;
        let log = self.log_fd();
        let write_fd = write_end.as_raw_fd();
        let watch = Watch {
            root: ctx.root.clone(),
            id: l.id().to_string(),
            exit_file,
            record_file: record_path(ctx, l.id()),
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

/// Restart=: when the supervisor starts the main process again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Restart {
    No,
    Always,
    OnSuccess,
    OnFailure,
    OnAbnormal,
    OnAbort,
}

impl Restart {
    fn parse(value: &str) -> Restart {
        match value {
            "always" => Restart::Always,
            "on-success" => Restart::OnSuccess,
            "on-failure" => Restart::OnFailure,
            "on-abnormal" => Restart::OnAbnormal,
            "on-abort" | "on-watchdog" => Restart::OnAbort,
            _ => Restart::No,
        }
    }

    /// For a shell-style STATUS (128 + signal when killed), as systemd.service(5) tabulates.
    fn applies(self, status: i32) -> bool {
        let signal = (status > 128).then_some(status - 128);
        let clean_signal = matches!(signal, Some(1 | 2 | 13 | 15));
        let clean = status == 0 || clean_signal;
        match self {
            Restart::No => false,
            Restart::Always => true,
            Restart::OnSuccess => clean,
            Restart::OnFailure => !clean,
            Restart::OnAbnormal | Restart::OnAbort => signal.is_some() && !clean_signal,
        }
    }
}

/// RestartSec= (100 ms unless set; 0 is no delay).
fn restart_delay(value: &str) -> Duration {
    match value {
        "" => Duration::from_millis(100),
        "0" => Duration::ZERO,
        v => Duration::from_millis(time::span_ms(v, 0)),
    }
}

/// systemd's default start limit: 5 starts within 10 s, then the unit stays failed.
const START_LIMIT_BURST: usize = 5;
const START_LIMIT_INTERVAL: Duration = Duration::from_secs(10);

/// How long a supervisor waits for the `start` that spawned its main process to end
/// (systemd's default TimeoutStartSec=).
const START_SETTLES_WITHIN: Duration = Duration::from_secs(90);

/// What the forked supervisor needs to watch one main process (and start it again).
struct Watch {
    root: Root,
    id: String,
    exit_file: PathBuf,
    record_file: PathBuf,
    restart: Restart,
    restart_delay: Duration,
}

impl Watch {
    /// The forked supervisor: a session of its own, stdio to the unit's log, then the main
    /// process as its child; it sends the child's PID, waits for it, starts it again as
    /// Restart= says, and records how it ended.
    fn supervise(&self, spawn: &Spawn, pid_pipe: RawFd, log: RawFd) -> ! {
        // SAFETY: single-threaded forked child; only system calls on descriptors we hold.
        unsafe {
            libc::setsid();
            process::redirect_stdio(log);
            libc::dup2(pid_pipe, 3);
            libc::fcntl(3, libc::F_SETFD, libc::FD_CLOEXEC);
            process::close_from(4);
        }
        let mut starts: Vec<std::time::Instant> = vec![std::time::Instant::now()];
        // The main process keeps the pipe until exec (it is close-on-exec).
        let Ok(mut child) = process::fork(|| spawn.exec(false, true)) else { unsafe { libc::_exit(1) } };
        let line = format!("{child}\n");
        // SAFETY: writing a buffer we own to the pipe, then closing our end of it.
        unsafe {
            libc::write(3, line.as_ptr().cast(), line.len());
            libc::close(3);
        }
        loop {
            let status = reap(child);
            if !self.restart_due(status, &mut starts) {
                let _ = fs::write(&self.exit_file, format!("{child} {status}\n"));
                unsafe { libc::_exit(0) }
            }
            let _ = fs::write(&self.exit_file, format!("{child} {RESTARTING}\n"));
            let _ = state::save(&self.root, &self.id, &Active::Activating);
            let counter = starts.len() - 1;
            let message = format!("{}: Scheduled restart job, restart counter is at {counter}.", self.id);
            unitlog::manager_line(&self.root, &self.id, &message);
            std::thread::sleep(self.restart_delay);
            if !self.still(&Active::Activating) {
                unsafe { libc::_exit(0) }
            }
            let Ok(next) = process::fork(|| spawn.exec(false, false)) else { unsafe { libc::_exit(1) } };
            child = next;
            self.record_restart(child, starts.len() as u32 - 1);
        }
    }

    /// Restart= applies, the unit was not stopped meanwhile, and the start limit is not hit.
    fn restart_due(&self, status: i32, starts: &mut Vec<std::time::Instant>) -> bool {
        // Still activating: the main process ended before the `start` that spawned it was
        // done (`exit 3` at once); systemd restarts it all the same, and so do we once that
        // start has recorded the unit, so that its record cannot overwrite the restart's.
        process::poll_until(START_SETTLES_WITHIN, || !self.still(&Active::Activating));
        if !self.restart.applies(status) || !self.still(&Active::Active) {
            return false;
        }
        starts.retain(|t| t.elapsed() < START_LIMIT_INTERVAL);
        if starts.len() >= START_LIMIT_BURST {
            unitlog::manager_line(&self.root, &self.id, &format!("{}: Start request repeated too quickly.", self.id));
            return false;
        }
        starts.push(std::time::Instant::now());
        true
    }

    fn still(&self, active: &Active) -> bool {
        let path = state::state_path(&self.root, &self.id);
        root::first_line(&path).map(|s| Active::parse(&s)) == Some(active.clone())
    }

    fn record_restart(&self, pid: i32, restarts: u32) {
        let rec = MainRecord { pid, watched: true, restarts, ..MainRecord::default() };
        let tmp = self.record_file.with_extension("tmp");
        if fs::write(&tmp, rec.line()).is_ok() {
            let _ = fs::rename(&tmp, &self.record_file);
        }
        let _ = state::save(&self.root, &self.id, &Active::Active);
        unitlog::manager_line(&self.root, &self.id, &format!("Started {} (restart {restarts}).", self.id));
    }
}

/// Waits for child PID (blocking) and returns its shell-style status.
fn reap(pid: i32) -> i32 {
    let mut status = 0;
    // SAFETY: status is a valid out-pointer.
    while unsafe { libc::waitpid(pid, &mut status, 0) } == -1 {
        if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return 1;
        }
    }
    process::shell_status(status)
}

// ---------------------------------------------------------------------------- lifecycle

fn timeout_start(l: &Loaded) -> Duration {
    Duration::from_millis(time::span_ms(&l.file.timeout_start, 90))
}

fn timeout_stop(l: &Loaded) -> Duration {
    Duration::from_millis(time::span_ms(&l.file.timeout_stop, 90))
}

/// systemd's message, then what the unit's processes printed since line SINCE: Ansible shows
/// stderr, so the program's own error is seen at the task.
fn job_failed(ctx: &Ctx, id: &str, why: &str, since: u64) {
    // What the daemons sent to syslog is in the log once the listener is done.
    syslog::finish();
    ctx.err(&format!("Job for {id} failed {why}"));
    ctx.err(&format!("See \"systemctl status {id}\" and \"journalctl -xeu {id}\" for details."));
    for line in unitlog::programs_lines_since(&ctx.root, id, since, 10) {
        ctx.err(&line);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StartResult {
    Timeout,
    ExitCode,
    Resources,
    /// Type=forking: the control process succeeded but no main process is there to follow.
    Protocol,
}

impl StartResult {
    fn name(self) -> &'static str {
        match self {
            StartResult::Timeout => "timeout",
            StartResult::ExitCode => "exit-code",
            StartResult::Resources => "resources",
            StartResult::Protocol => "protocol",
        }
    }
}

/// The unit is failed; everything it started is stopped. Returns the exit code (1).
fn start_failed(ctx: &Ctx, l: &mut Loaded, result: StartResult, status: i32, main: bool, since: u64) -> i32 {
    let id = l.id().to_string();
    l.main.result = result.name().into();
    if main {
        l.main.code = 1;
        l.main.status = status;
    }
    match result {
        StartResult::Timeout => journal(ctx, &id, &format!("{id}: start operation timed out. Terminating.")),
        StartResult::ExitCode => {
            journal(ctx, &id, &format!("{id}: Control process exited, code=exited, status={status}/FAILURE"))
        }
        StartResult::Resources | StartResult::Protocol => {}
    }
    kill_unit(ctx, l, libc::SIGTERM);
    if !wait_gone(ctx, l, Duration::from_secs(5)) {
        kill_unit(ctx, l, libc::SIGKILL);
    }
    journal(ctx, &id, &format!("{id}: Failed with result '{}'.", result.name()));
    journal(ctx, &id, &format!("Failed to start {}.", l.desc_full()));
    set_state(ctx, l, Active::Failed);
    save_record(ctx, l);
    let why = match result {
        StartResult::Timeout => "because a timeout was exceeded.",
        StartResult::Resources => "because of unavailable resources or another system error.",
        StartResult::ExitCode => "because the control process exited with error code.",
        StartResult::Protocol => "because the service did not take the steps required by its unit configuration.",
    };
    job_failed(ctx, &id, why, since);
    1
}

fn failed_step(ctx: &Ctx, l: &mut Loaded, f: Failure, main: bool, since: u64) -> i32 {
    let result = if f.timed_out { StartResult::Timeout } else { StartResult::ExitCode };
    start_failed(ctx, l, result, f.status, main, since)
}

/// Why the unit cannot even be tried, or its credentials.
fn preflight(ctx: &Ctx, l: &Loaded) -> Result<Option<Credentials>, String> {
    let u = &l.file;
    let creds = process::credentials(&ctx.root, &u.user, &u.group).map_err(|e| match e {
        CredentialsError::NoUser => format!("Failed to determine user credentials: No such process (User={})", u.user),
        CredentialsError::NoGroup => {
            format!("Failed to determine group credentials: No such process (Group={})", u.group)
        }
    })?;
    let missing = u.environment_files.iter().find(|f| !f.starts_with('-') && fs::File::open(ctx.root.p(f)).is_err());
    if let Some(file) = missing {
        return Err(format!("Failed to load environment files: No such file or directory ({file})"));
    }
    Ok(creds)
}

/// RuntimeDirectory= under /run, owned by the unit's user.
fn runtime_dirs(ctx: &Ctx, l: &Loaded, creds: &Option<Credentials>, create: bool) {
    for d in &l.file.runtime_directory {
        let path = ctx.root.p(&format!("/run/{d}"));
        if !create {
            let _ = fs::remove_dir_all(&path);
            continue;
        }
        let _ = fs::create_dir_all(&path);
        if let Some(c) = creds {
            let _ = std::os::unix::fs::chown(&path, Some(c.uid.unwrap_or(0)), Some(c.gid));
        }
    }
}

fn start(ctx: &Ctx, l: &mut Loaded) -> i32 {
    let id = l.id().to_string();
    if l.file.exec.start.is_empty() && !l.file.is_oneshot() {
        ctx.err(&format!("Failed to start {id}: Unit {id} has a bad unit file setting."));
        ctx.err(&format!("See system logs and 'systemctl status {id}' for details."));
        return 1;
    }
    l.main = MainRecord::default();
    let _ = fs::remove_file(born_path(ctx, &id));
    let since = unitlog::end(&ctx.root, &id);
    let _syslog = syslog::listen(&ctx.root, &id);
    journal(ctx, &id, &format!("Starting {}...", l.desc_full()));
    let creds = match preflight(ctx, l) {
        Ok(creds) => creds,
        Err(why) => {
            unitlog::append(&ctx.root, &id, &format!("{id}: {why}\n"));
            return start_failed(ctx, l, StartResult::Resources, 1, false, since);
        }
    };
    let mut job = Job::new(ctx, l, creds.clone());
    let deadline = timeout_start(l);
    // As systemd: activating until the start is done. A main process that ends meanwhile is
    // restarted only once the start has recorded it (`Watch::restart_due` waits for that).
    set_state(ctx, l, Active::Activating);
    runtime_dirs(ctx, l, &creds, true);
    if let Err(f) = job.run_all(l, &l.file.exec.pre.clone(), deadline) {
        return failed_step(ctx, l, f, false, since);
    }
    if let Err(code) = start_main(ctx, l, &mut job, deadline, since) {
        return code;
    }
    if let Err(f) = job.run_all(l, &l.file.exec.post.clone(), deadline) {
        return failed_step(ctx, l, f, false, since);
    }
    // The record before the state: a supervisor waiting for the start to end restarts (and
    // records) only after both are written.
    save_record(ctx, l);
    if l.file.is_oneshot() && !l.file.remains() {
        journal(ctx, &id, &format!("{id}: Deactivated successfully."));
        set_state(ctx, l, Active::Inactive);
    } else {
        set_state(ctx, l, Active::Active);
    }
    journal(ctx, &id, &format!("Started {}.", l.desc_full()));
    0
}

/// ExecStart= as Type= says.
fn start_main(ctx: &Ctx, l: &mut Loaded, job: &mut Job, deadline: Duration, since: u64) -> Result<(), i32> {
    match l.file.service_type.as_str() {
        "oneshot" => {
            job.run_all(l, &l.file.exec.start.clone(), deadline).map_err(|f| failed_step(ctx, l, f, true, since))
        }
        "forking" => {
            let first = l.file.exec.start.first().cloned().unwrap_or_default();
            let before = process::all_pids();
            job.run(l, &first, deadline).map_err(|f| failed_step(ctx, l, f, true, since))?;
            let born = record_born(ctx, l.id(), &before);
            if !l.file.pid_file.is_empty() {
                if let Some(pid) = await_pid_file(ctx, l) {
                    l.main.pid = pid;
                    return Ok(());
                }
                // As systemd: no PID file and nothing of the unit left means the daemon died
                // on its way up; while something of it runs, it is followed without a PID.
                if unit_processes(ctx, l.id()).is_empty() {
                    no_pid_file(ctx, l);
                    return Err(start_failed(ctx, l, StartResult::Protocol, 0, false, since));
                }
            }
            // No PID file: systemd guesses the main process (not for SysV scripts); so do we,
            // from the unit's processes.
            if l.r.kind != Kind::Sysv && l.file.guess_main_pid {
                let marked = process::marked(&mark(ctx, l.id()));
                l.main.pid = marked.first().or(born.first()).copied().unwrap_or(0);
            }
            Ok(())
        }
        "notify" => start_notify(ctx, l, job, deadline, since),
        _ => match job.spawn_main(ctx, l) {
            Some(pid) => {
                l.main.pid = pid;
                l.main.watched = true;
                Ok(())
            }
            None => Err(start_failed(ctx, l, StartResult::Resources, 1, false, since)),
        },
    }
}

/// Type=notify: started once the daemon says READY=1; failed when it ends first (a broken
/// config) or does not say it within TimeoutStartSec=.
fn start_notify(ctx: &Ctx, l: &mut Loaded, job: &mut Job, deadline: Duration, since: u64) -> Result<(), i32> {
    let socket = notify::Socket::bind(&ctx.root, l.id());
    job.notify = socket.as_ref().map(|s| s.path());
    let Some(pid) = job.spawn_main(ctx, l) else {
        return Err(start_failed(ctx, l, StartResult::Resources, 1, false, since));
    };
    l.main.pid = pid;
    l.main.watched = true;
    let Some(socket) = socket else { return Ok(()) };
    match socket.wait_ready(pid, deadline) {
        notify::Start::Ready => Ok(()),
        notify::Start::TimedOut => Err(start_failed(ctx, l, StartResult::Timeout, 0, false, since)),
        notify::Start::Exited => {
            // Failed first: the main process's supervisor writes how it ended (and restarts
            // nothing) only once the start is no longer activating.
            set_state(ctx, l, Active::Failed);
            let status = match main_status(ctx, l) {
                Ended::Status(s) => s,
                _ => 1,
            };
            Err(start_failed(ctx, l, StartResult::ExitCode, status, true, since))
        }
    }
}

/// systemd's words for a PID file that names no live process after a forking start.
fn no_pid_file(ctx: &Ctx, l: &Loaded) {
    let path = &l.file.pid_file;
    let message = match root::first_line(&ctx.root.p(path)).and_then(|p| p.trim().parse::<i32>().ok()) {
        Some(pid) => format!("{}: New main PID {pid} does not exist or is a zombie.", l.id()),
        None => format!("{}: Can't open PID file {path} (yet?) after start: No such file or directory", l.id()),
    };
    journal(ctx, l.id(), &message);
}

/// After a forking start: the main PID from PIDFile=, waiting (at most 5 s) while anything
/// of the unit still runs to write it.
fn await_pid_file(ctx: &Ctx, l: &Loaded) -> Option<i32> {
    let path = ctx.root.p(&l.file.pid_file);
    let mut found = None;
    process::poll_until(Duration::from_secs(5), || {
        found = root::first_line(&path).and_then(|p| p.trim().parse().ok()).filter(|p| process::alive(*p));
        found.is_some() || unit_processes(ctx, l.id()).is_empty()
    });
    found
}

/// The main PID from PIDFile=, waiting (bounded) for the daemon to write it.
fn read_pid_file(ctx: &Ctx, l: &Loaded, deadline: Duration) -> Option<i32> {
    let path = ctx.root.p(&l.file.pid_file);
    let mut found = None;
    process::poll_until(deadline, || {
        found = root::first_line(&path).and_then(|p| p.trim().parse().ok()).filter(|p| process::alive(*p));
        found.is_some()
    });
    found
}

fn stop(ctx: &Ctx, l: &mut Loaded) -> i32 {
    let id = l.id().to_string();
    journal(ctx, &id, &format!("Stopping {}...", l.desc_full()));
    let _syslog = syslog::listen(&ctx.root, &id);
    // The supervisor reads this: a main process that ends now is not restarted.
    set_state(ctx, l, Active::Deactivating);
    let creds = process::credentials(&ctx.root, &l.file.user, &l.file.group).ok().flatten();
    let job = Job::new(ctx, l, creds.clone());
    let deadline = timeout_stop(l);
    let _ = job.run_all(l, &l.file.exec.stop.clone(), deadline);
    // What ExecStop= left running gets SIGTERM, then SIGKILL after TimeoutStopSec=.
    if !wait_gone(ctx, l, Duration::ZERO) {
        kill_unit(ctx, l, libc::SIGTERM);
        if !wait_gone(ctx, l, deadline) {
            kill_unit(ctx, l, libc::SIGKILL);
            wait_gone(ctx, l, Duration::from_secs(2));
        }
    }
    runtime_dirs(ctx, l, &creds, false);
    l.main.result = "success".into();
    journal(ctx, &id, &format!("{id}: Deactivated successfully."));
    journal(ctx, &id, &format!("Stopped {}.", l.desc_full()));
    set_state(ctx, l, Active::Inactive);
    save_record(ctx, l);
    0
}

fn reload(ctx: &Ctx, l: &mut Loaded) -> i32 {
    let id = l.id().to_string();
    let since = unitlog::end(&ctx.root, &id);
    journal(ctx, &id, &format!("Reloading {}...", l.desc_full()));
    let _syslog = syslog::listen(&ctx.root, &id);
    let creds = process::credentials(&ctx.root, &l.file.user, &l.file.group).ok().flatten();
    let job = Job::new(ctx, l, creds);
    if let Err(f) = job.run_all(l, &l.file.exec.reload.clone(), timeout_start(l)) {
        journal(ctx, &id, &format!("{id}: Control process exited, code=exited, status={}/FAILURE", f.status));
        journal(ctx, &id, &format!("Reload failed for {}.", l.desc_full()));
        job_failed(ctx, &id, "because the control process exited with error code.", since);
        return 1;
    }
    if l.file.service_type == "forking" && !l.file.pid_file.is_empty() {
        if let Some(pid) = read_pid_file(ctx, l, Duration::from_secs(2)) {
            l.main.pid = pid;
            save_record(ctx, l);
        }
    }
    journal(ctx, &id, &format!("Reloaded {}.", l.desc_full()));
    0
}

fn restart(ctx: &Ctx, l: &mut Loaded) -> i32 {
    if matches!(l.active(), Active::Active | Active::Reloading) {
        stop(ctx, l);
    }
    start(ctx, l)
}

/// A lifecycle verb on a unit that really runs.
pub fn op(ctx: &Ctx, verb: &str, l: &mut Loaded) -> i32 {
    let active = *l.active() == Active::Active;
    match verb {
        "start" if !active => start(ctx, l),
        "restart" => restart(ctx, l),
        "reload-or-restart" if active && l.file.has_reload => reload(ctx, l),
        "reload-or-restart" => restart(ctx, l),
        "try-restart" if active => restart(ctx, l),
        "try-reload-or-restart" if active && l.file.has_reload => reload(ctx, l),
        "try-reload-or-restart" if active => restart(ctx, l),
        "reload" => reload(ctx, l),
        "stop" if matches!(l.active(), Active::Active | Active::Reloading | Active::Activating) => stop(ctx, l),
        "kill" => {
            let sig = ctx.opts.signal.as_deref().and_then(process::signal_number).unwrap_or(libc::SIGTERM);
            kill_unit(ctx, l, sig);
            0
        }
        _ => 0,
    }
}

/// What systemd does at boot, for the target's init: nothing survived the last boot, and
/// enabled services start.
pub fn boot(ctx: &Ctx) -> i32 {
    for name in root::names(&ctx.root.p(STATE_DIR)).into_iter().filter(|n| n.ends_with(".service")) {
        let path = ctx.root.p(&format!("{STATE_DIR}/{name}"));
        if !root::is_file(&path) {
            continue;
        }
        let was = Active::parse(&root::first_line(&path).unwrap_or_default());
        if matches!(was, Active::Active | Active::Reloading | Active::Activating | Active::Deactivating) {
            let _ = state::save(&ctx.root, &name, &Active::Inactive);
        }
    }
    let _ = fs::remove_dir_all(sup_dir(ctx));
    crate::deps::run_generators(ctx);
    let mut enabled: Vec<(String, Vec<String>)> = Vec::new();
    for name in crate::list::unit_names(ctx, crate::list::Scope::Files) {
        if !name.ends_with(".service") {
            continue;
        }
        let r = unit::resolve(&ctx.root, &name);
        if r.id != name || r.kind != Kind::File || !ctx.supervises(&r) {
            continue;
        }
        let u = unit::parse(&ctx.root, &r);
        if crate::install::file_state(&ctx.root, &r, &u).state == "enabled" {
            enabled.push((name, u.after.iter().map(|a| unit::normalize(a)).collect()));
        }
    }
    for name in boot_order(enabled) {
        let _ = crate::lifecycle::unit_op(ctx, "start", &name);
    }
    0
}

/// UNITS (name, After=) in an order that starts each after the ones it names; a cycle is
/// broken in name order, as systemd breaks one by dropping a job.
fn boot_order(mut units: Vec<(String, Vec<String>)>) -> Vec<String> {
    let mut order: Vec<String> = Vec::new();
    while !units.is_empty() {
        let pending: Vec<String> = units.iter().map(|(n, _)| n.clone()).collect();
        let ready = units.iter().position(|(_, after)| after.iter().all(|a| !pending.contains(a))).unwrap_or(0);
        order.push(units.remove(ready).0);
    }
    order
}

/// `systemctl status` lines about the main process and the last log lines.
pub fn status_lines(ctx: &Ctx, l: &Loaded) -> Vec<String> {
    let mut out = Vec::new();
    if l.sup_sub == Some("running") && l.main.pid != 0 {
        let comm = process::comm(l.main.pid).unwrap_or_else(|| "?".into());
        out.push(format!("   Main PID: {} ({comm})", l.main.pid));
    } else if l.main.pid != 0 && l.main.code != 0 {
        let how = if l.main.code == 2 {
            format!("code=killed, signal={}", l.main.status)
        } else if l.main.status == 0 {
            "code=exited, status=0/SUCCESS".to_string()
        } else {
            format!("code=exited, status={}/FAILURE", l.main.status)
        };
        out.push(format!("   Main PID: {} ({how})", l.main.pid));
    }
    let log = fs::read(unitlog::path(&ctx.root, l.id()))
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    if !log.is_empty() {
        out.push(String::new());
        let lines: Vec<&str> = log.lines().collect();
        out.extend(lines[lines.len().saturating_sub(10)..].iter().map(|s| s.to_string()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boot_follows_after_and_survives_cycles() {
        let u = |n: &str, after: &[&str]| (n.to_string(), after.iter().map(|a| a.to_string()).collect());
        let order = boot_order(vec![
            u("app.service", &["db.service", "network.target"]),
            u("db.service", &[]),
            u("web.service", &["app.service"]),
        ]);
        assert_eq!(order, ["db.service", "app.service", "web.service"]);
        let cycle = boot_order(vec![u("a.service", &["b.service"]), u("b.service", &["a.service"])]);
        assert_eq!(cycle, ["a.service", "b.service"]);
    }

    #[test]
    fn restart_policies_follow_systemd_service_5() {
        assert!(Restart::OnFailure.applies(1) && Restart::OnFailure.applies(128 + 9));
        assert!(!Restart::OnFailure.applies(0) && !Restart::OnFailure.applies(128 + 15));
        assert!(Restart::Always.applies(0) && Restart::OnSuccess.applies(0) && !Restart::OnSuccess.applies(3));
        assert!(Restart::OnAbnormal.applies(128 + 6) && !Restart::OnAbnormal.applies(3));
        assert!(!Restart::No.applies(1));
    }
}
