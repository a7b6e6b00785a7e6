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
//!
//! Here the jobs (start, stop, reload) and systemd's words when they fail; `job` runs their
//! commands, `watch` is the forked supervisor of a main process. What a unit is between calls
//! is read back by `observe`, below the call context, since loading any unit refreshes it.

mod job;
mod watch;

use std::fs;
use std::time::Duration;

use crate::ctx::Ctx;
use crate::loaded::Loaded;
use crate::notify;
use crate::observe::{
    born_path, journal, kill_unit, main_status, mark, record_born, save_record, set_state, unit_processes, wait_gone,
    Ended,
};
use crate::process::{self, Credentials, CredentialsError};
use crate::root;
use crate::state::{Active, MainRecord};
use crate::syslog;
use crate::time;
use crate::unit::Kind;
use crate::unitlog;

use job::{Failure, Job};

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
        StartResult::Timeout => journal(&ctx.root, &id, &format!("{id}: start operation timed out. Terminating.")),
        StartResult::ExitCode => {
            journal(&ctx.root, &id, &format!("{id}: Control process exited, code=exited, status={status}/FAILURE"))
        }
        StartResult::Resources | StartResult::Protocol => {}
    }
    kill_unit(&ctx.root, l, libc::SIGTERM);
    if !wait_gone(&ctx.root, l, Duration::from_secs(5)) {
        kill_unit(&ctx.root, l, libc::SIGKILL);
    }
    journal(&ctx.root, &id, &format!("{id}: Failed with result '{}'.", result.name()));
    journal(&ctx.root, &id, &format!("Failed to start {}.", l.desc_full()));
    set_state(&ctx.root, l, Active::Failed);
    save_record(&ctx.root, l);
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
    let _ = fs::remove_file(born_path(&ctx.root, &id));
    let since = unitlog::end(&ctx.root, &id);
    let _syslog = syslog::listen(&ctx.root, &id);
    journal(&ctx.root, &id, &format!("Starting {}...", l.desc_full()));
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
    set_state(&ctx.root, l, Active::Activating);
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
    save_record(&ctx.root, l);
    if l.file.is_oneshot() && !l.file.remains() {
        journal(&ctx.root, &id, &format!("{id}: Deactivated successfully."));
        set_state(&ctx.root, l, Active::Inactive);
    } else {
        set_state(&ctx.root, l, Active::Active);
    }
    journal(&ctx.root, &id, &format!("Started {}.", l.desc_full()));
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
            let born = record_born(&ctx.root, l.id(), &before);
            if !l.file.pid_file.is_empty() {
                if let Some(pid) = await_pid_file(ctx, l) {
                    l.main.pid = pid;
                    return Ok(());
                }
                // As systemd: no PID file and nothing of the unit left means the daemon died
                // on its way up; while something of it runs, it is followed without a PID.
                if unit_processes(&ctx.root, l.id()).is_empty() {
                    no_pid_file(ctx, l);
                    return Err(start_failed(ctx, l, StartResult::Protocol, 0, false, since));
                }
            }
            // No PID file: systemd guesses the main process (not for SysV scripts); so do we,
            // from the unit's processes.
            if l.r.kind != Kind::Sysv && l.file.guess_main_pid {
                let marked = process::marked(&mark(&ctx.root, l.id()));
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
            set_state(&ctx.root, l, Active::Failed);
            let status = match main_status(&ctx.root, l) {
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
    journal(&ctx.root, l.id(), &message);
}

/// After a forking start: the main PID from PIDFile=, waiting (at most 5 s) while anything
/// of the unit still runs to write it.
fn await_pid_file(ctx: &Ctx, l: &Loaded) -> Option<i32> {
    let path = ctx.root.p(&l.file.pid_file);
    let mut found = None;
    process::poll_until(Duration::from_secs(5), || {
        found = root::first_line(&path).and_then(|p| p.trim().parse().ok()).filter(|p| process::alive(*p));
        found.is_some() || unit_processes(&ctx.root, l.id()).is_empty()
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
    journal(&ctx.root, &id, &format!("Stopping {}...", l.desc_full()));
    let _syslog = syslog::listen(&ctx.root, &id);
    // The supervisor reads this: a main process that ends now is not restarted.
    set_state(&ctx.root, l, Active::Deactivating);
    let creds = process::credentials(&ctx.root, &l.file.user, &l.file.group).ok().flatten();
    let job = Job::new(ctx, l, creds.clone());
    let deadline = timeout_stop(l);
    let _ = job.run_all(l, &l.file.exec.stop.clone(), deadline);
    // What ExecStop= left running gets SIGTERM, then SIGKILL after TimeoutStopSec=.
    if !wait_gone(&ctx.root, l, Duration::ZERO) {
        kill_unit(&ctx.root, l, libc::SIGTERM);
        if !wait_gone(&ctx.root, l, deadline) {
            kill_unit(&ctx.root, l, libc::SIGKILL);
            wait_gone(&ctx.root, l, Duration::from_secs(2));
        }
    }
    runtime_dirs(ctx, l, &creds, false);
    l.main.result = "success".into();
    journal(&ctx.root, &id, &format!("{id}: Deactivated successfully."));
    journal(&ctx.root, &id, &format!("Stopped {}.", l.desc_full()));
    set_state(&ctx.root, l, Active::Inactive);
    save_record(&ctx.root, l);
    0
}

fn reload(ctx: &Ctx, l: &mut Loaded) -> i32 {
    let id = l.id().to_string();
    let since = unitlog::end(&ctx.root, &id);
    journal(&ctx.root, &id, &format!("Reloading {}...", l.desc_full()));
    let _syslog = syslog::listen(&ctx.root, &id);
    let creds = process::credentials(&ctx.root, &l.file.user, &l.file.group).ok().flatten();
    let job = Job::new(ctx, l, creds);
    if let Err(f) = job.run_all(l, &l.file.exec.reload.clone(), timeout_start(l)) {
        journal(&ctx.root, &id, &format!("{id}: Control process exited, code=exited, status={}/FAILURE", f.status));
        journal(&ctx.root, &id, &format!("Reload failed for {}.", l.desc_full()));
        job_failed(ctx, &id, "because the control process exited with error code.", since);
        return 1;
    }
    if l.file.service_type == "forking" && !l.file.pid_file.is_empty() {
        if let Some(pid) = read_pid_file(ctx, l, Duration::from_secs(2)) {
            l.main.pid = pid;
            save_record(&ctx.root, l);
        }
    }
    journal(&ctx.root, &id, &format!("Reloaded {}.", l.desc_full()));
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
            kill_unit(&ctx.root, l, sig);
            0
        }
        _ => 0,
    }
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
