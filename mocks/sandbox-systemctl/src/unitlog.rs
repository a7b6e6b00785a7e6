//! The per-unit logs that stand in for the journal: /var/log/sandbox-journal/<unit>.log,
//! which `journalctl -u` prints. The manager's own lines are written as systemd writes them
//! (`… systemd[1]: Starting …`); the unit's processes write their output there directly, and
//! what they send to syslog during a job arrives through `syslog`.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use crate::root::{Root, LOG_DIR};
use crate::time;

pub fn path(root: &Root, id: &str) -> PathBuf {
    root.p(&format!("{LOG_DIR}/{id}.log"))
}

/// The target's host name, as journal lines carry it (read once per call: a start writes
/// several lines).
fn host(root: &Root) -> String {
    thread_local! {
        static HOST: std::cell::OnceCell<String> = const { std::cell::OnceCell::new() };
    }
    HOST.with(|h| {
        h.get_or_init(|| {
            root.first_line("/etc/hostname").filter(|h| !h.is_empty()).unwrap_or_else(|| "localhost".into())
        })
        .clone()
    })
}

/// A line in the unit's log, as systemd would write it to the journal.
pub fn manager_line(root: &Root, id: &str, message: &str) {
    program_line(root, id, "systemd[1]", message);
}

/// A line from PROGRAM (`postmulti[3675]`), stamped now.
pub fn program_line(root: &Root, id: &str, program: &str, message: &str) {
    let stamp = time::format_local(time::now(), "%b %d %H:%M:%S");
    append(root, id, &format!("{stamp} {} {program}: {message}\n", host(root)));
}

pub fn append(root: &Root, id: &str, text: &str) {
    let _ = fs::create_dir_all(root.p(LOG_DIR));
    if let Ok(mut f) = OpenOptions::new().create(true).append(true).open(path(root, id)) {
        let _ = f.write_all(text.as_bytes());
    }
}

/// The log opened for the unit's processes to write to.
pub fn open(root: &Root, id: &str) -> Option<fs::File> {
    let _ = fs::create_dir_all(root.p(LOG_DIR));
    OpenOptions::new().create(true).append(true).custom_flags(libc::O_CLOEXEC).open(path(root, id)).ok()
}

/// Where the unit's log ends now: what a job prints after this is its own.
pub fn end(root: &Root, id: &str) -> u64 {
    fs::metadata(path(root, id)).map(|m| m.len()).unwrap_or(0)
}

/// The lines the unit's processes wrote since SINCE (the manager's own left out), the last
/// MAX of them.
pub fn programs_lines_since(root: &Root, id: &str, since: u64, max: usize) -> Vec<String> {
    let bytes = fs::read(path(root, id)).unwrap_or_default();
    let tail = bytes.get(since as usize..).unwrap_or(&[]);
    let text = String::from_utf8_lossy(tail);
    let new: Vec<&str> = text.lines().filter(|l| !l.contains(" systemd[1]: ")).collect();
    new[new.len().saturating_sub(max)..].iter().map(|s| s.to_string()).collect()
}
