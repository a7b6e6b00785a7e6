//! What a supervised unit is now, read from what the calls before left on disk: the record
//! of its main process (written by the start, and by the watching supervisor at a restart),
//! the exit file that supervisor writes when the process ends, and its processes (marked with `SANDBOX_UNIT=` or born
//! during a forking start). Loading a unit refreshes it from here, so this knows nothing of
//! the call context nor of the commands: it works on the target's root.

use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use crate::loaded::Loaded;
use crate::process;
use crate::root::{Root, STATE_DIR};
use crate::state::{self, Active, MainRecord};
use crate::unitlog;

pub fn sup_dir(root: &Root) -> PathBuf {
    root.p(&format!("{STATE_DIR}/supervised"))
}

pub fn record_path(root: &Root, id: &str) -> PathBuf {
    sup_dir(root).join(id)
}

/// Where the supervisor writes "PID STATUS" when the main process has ended.
pub fn exit_path(root: &Root, id: &str) -> PathBuf {
    sup_dir(root).join(format!("{id}.exit"))
}

/// The mark in the environment of the unit's processes; the root is part of it so that tests
/// on one host keep their targets apart.
pub fn mark(root: &Root, id: &str) -> String {
    if root.prefix().is_empty() {
        id.to_string()
    } else {
        format!("{}:{id}", root.prefix())
    }
}

pub fn save_record(root: &Root, l: &Loaded) {
    let _ = fs::create_dir_all(sup_dir(root));
    let _ = fs::write(record_path(root, l.id()), l.main.line());
}

pub fn set_state(root: &Root, l: &mut Loaded, active: Active) {
    if let Ok(recorded) = state::save(root, l.id(), &active) {
        l.recorded = recorded;
    }
}

/// A line in the unit's log, as systemd would write it to the journal.
pub fn journal(root: &Root, id: &str, message: &str) {
    unitlog::manager_line(root, id, message);
}

// ---------------------------------------------------------------------------- what a unit is now

/// The unit's last main process, and what an active unit really is now (its main process
/// may have died since the last call).
pub fn refresh(root: &Root, l: &mut Loaded) {
    // A supervisor restarting a quick-failing service replaces the main process while we look;
    // each replacement means reading again (bounded: the start limit ends restarts anyway).
    for _ in 0..START_LIMIT_BURST * 2 {
        if !refresh_once(root, l) {
            return;
        }
        l.recorded = state::load(root, &l.r);
    }
}

/// One look at the unit; true when the main process was replaced meanwhile.
fn refresh_once(root: &Root, l: &mut Loaded) -> bool {
    l.main = fs::read_to_string(record_path(root, l.id())).map(|t| MainRecord::parse(&t)).unwrap_or_default();
    if !matches!(l.active(), Active::Active | Active::Reloading) {
        return false;
    }
    if process::alive(l.main.pid) {
        l.sup_sub = Some("running");
    } else if l.file.is_oneshot() {
        l.sup_sub = Some("exited");
    } else if l.main.pid == 0 {
        // No main PID known (forking without PIDFile=): alive while any process of it is.
        if unit_processes(root, l.id()).is_empty() {
            main_ended(root, l, Some(0));
        } else {
            l.sup_sub = Some("running");
        }
    } else {
        match main_status(root, l) {
            Ended::Status(status) => main_ended(root, l, Some(status)),
            Ended::Unknown => main_ended(root, l, None),
            // "activating (auto-restart)": the state file says so by now.
            Ended::Restarting => l.recorded = state::load(root, &l.r),
            Ended::Replaced => return true,
        }
    }
    false
}

/// The main process's exit status as its supervisor recorded it; None when nobody watched
/// it. The supervisor may need a moment to write it after reaping: on a loaded 2-core host
/// more than 2 s were seen, and a caller that gave up then marked a unit `failed` that its
/// supervisor was restarting. The bound only matters when the supervisor itself is gone.
pub fn main_status(root: &Root, l: &Loaded) -> Ended {
    if !l.main.watched {
        return Ended::Unknown;
    }
    let path = exit_path(root, l.id());
    let mut ended = Ended::Unknown;
    let record = record_path(root, l.id());
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
pub enum Ended {
    Status(i32),
    /// Restart= applies: the supervisor is starting it again.
    Restarting,
    /// The supervisor started another main process while we looked.
    Replaced,
    Unknown,
}

/// What the supervisor writes instead of a status when Restart= starts the service again.
pub const RESTARTING: &str = "restart";

/// systemd's default start limit: 5 starts within 10 s, then the unit stays failed.
pub const START_LIMIT_BURST: usize = 5;
pub const START_LIMIT_INTERVAL: Duration = Duration::from_secs(10);

/// The main process is gone; STATUS None when nobody saw it end.
pub fn main_ended(root: &Root, l: &mut Loaded, status: Option<i32>) {
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
            journal(root, &id, &format!("{id}: Main process {} is gone; its exit status is unknown.", l.main.pid));
        }
        Some(s) if s > 128 => {
            l.main.code = 2;
            l.main.status = s - 128;
            if !matches!(s - 128, 1 | 2 | 13 | 15) {
                clean = false;
                l.main.result = "signal".into();
            }
            journal(root, &id, &format!("{id}: Main process exited, code=killed, status={}", s - 128));
        }
        Some(0) => {}
        Some(s) => {
            clean = false;
            l.main.result = "exit-code".into();
            journal(root, &id, &format!("{id}: Main process exited, code=exited, status={s}/FAILURE"));
        }
    }
    if clean && l.file.remains() {
        l.sup_sub = Some("exited");
        save_record(root, l);
        return;
    }
    if clean {
        journal(root, &id, &format!("{id}: Deactivated successfully."));
        set_state(root, l, Active::Inactive);
    } else {
        journal(root, &id, &format!("{id}: Failed with result '{}'.", l.main.result));
        set_state(root, l, Active::Failed);
    }
    // As systemd does when the main process ends: the rest of the unit goes too.
    kill_unit(root, l, libc::SIGTERM);
    save_record(root, l);
}

/// Where the processes born during a forking start are listed ("PID STARTTIME" lines).
pub fn born_path(root: &Root, id: &str) -> PathBuf {
    sup_dir(root).join(format!("{id}.pids"))
}

/// The daemons that appeared while a forking ExecStart= ran: a daemon that clears its
/// environment (postfix's master does) loses the mark, but not its PID and start time. Only
/// orphans (adopted by PID 1) and their children count: a process some other program started
/// meanwhile still has its parent.
pub fn record_born(root: &Root, id: &str, before: &[i32]) -> Vec<i32> {
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
    let _ = fs::create_dir_all(sup_dir(root));
    let _ = fs::write(born_path(root, id), lines);
    born
}

/// Every live process of the unit: the marked ones and those born during its start.
pub fn unit_processes(root: &Root, id: &str) -> Vec<i32> {
    let mut pids = process::marked(&mark(root, id));
    let text = fs::read_to_string(born_path(root, id)).unwrap_or_default();
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
pub fn kill_unit(root: &Root, l: &Loaded, sig: i32) {
    if process::alive(l.main.pid) {
        process::signal(l.main.pid, sig);
    }
    for pid in unit_processes(root, l.id()) {
        process::signal(pid, sig);
    }
}

/// Until the unit has no process left, at most DEADLINE.
pub fn wait_gone(root: &Root, l: &Loaded, deadline: Duration) -> bool {
    process::poll_until(deadline, || !process::alive(l.main.pid) && unit_processes(root, l.id()).is_empty())
}
