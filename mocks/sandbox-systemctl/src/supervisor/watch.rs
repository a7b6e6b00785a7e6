//! The forked supervisor of a main process: a session of its own, stdio to the unit's log; it
//! waits for the process, starts it again as Restart= says (within the start limit), and
//! records how it ended where `observe` reads it.

use std::fs;
use std::os::fd::RawFd;
use std::path::PathBuf;
use std::time::Duration;

use crate::observe::{RESTARTING, START_LIMIT_BURST, START_LIMIT_INTERVAL};
use crate::process::{self, Spawn};
use crate::root::{self, Root};
use crate::state::{self, Active, MainRecord};
use crate::time;
use crate::unitlog;

/// Restart=: when the supervisor starts the main process again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restart {
    No,
    Always,
    OnSuccess,
    OnFailure,
    OnAbnormal,
    OnAbort,
}

impl Restart {
    pub fn parse(value: &str) -> Restart {
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
pub fn restart_delay(value: &str) -> Duration {
    match value {
        "" => Duration::from_millis(100),
        "0" => Duration::ZERO,
        v => Duration::from_millis(time::span_ms(v, 0)),
    }
}

/// How long a supervisor waits for the `start` that spawned its main process to end
/// (systemd's default TimeoutStartSec=).
const START_SETTLES_WITHIN: Duration = Duration::from_secs(90);

/// What the forked supervisor needs to watch one main process (and start it again).
pub struct Watch {
    pub root: Root,
    pub id: String,
    pub exit_file: PathBuf,
    pub record_file: PathBuf,
    pub restart: Restart,
    pub restart_delay: Duration,
}

impl Watch {
    /// The forked supervisor: a session of its own, stdio to the unit's log, then the main
    /// process as its child; it sends the child's PID, waits for it, starts it again as
    /// Restart= says, and records how it ended.
    pub fn supervise(&self, spawn: &Spawn, pid_pipe: RawFd, log: RawFd) -> ! {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_policies_follow_systemd_service_5() {
        assert!(Restart::OnFailure.applies(1) && Restart::OnFailure.applies(128 + 9));
        assert!(!Restart::OnFailure.applies(0) && !Restart::OnFailure.applies(128 + 15));
        assert!(Restart::Always.applies(0) && Restart::OnSuccess.applies(0) && !Restart::OnSuccess.applies(3));
        assert!(Restart::OnAbnormal.applies(128 + 6) && !Restart::OnAbnormal.applies(3));
        assert!(!Restart::No.applies(1));
    }
}
