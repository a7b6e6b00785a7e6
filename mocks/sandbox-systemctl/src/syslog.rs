//! /dev/log during a job, as journald serves it on a systemd host: daemons that report a
//! failed start only through syslog (postfix's `fatal: parameter inet_interfaces: no local
//! interface found for ::1`) are otherwise silent here, and the task that started them would
//! fail with nothing to say why.
//!
//! There is no resident journal: each supervised job binds /dev/log when nobody serves it,
//! a forked reader appends what arrives to the job's unit log, and the end of the job drains
//! the socket and removes it. A reader process rather than reading between waits: a full
//! datagram queue blocks the sender, and a daemon blocked on syslog would stall its own start.

use std::cell::RefCell;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::time::Duration;

use crate::process;
use crate::root::Root;
use crate::unitlog;

const DEV_LOG: &str = "/dev/log";

struct Listener {
    path: PathBuf,
    socket: OwnedFd,
    reader: i32,
}

thread_local! {
    /// The listener of the job running in this call (jobs of one call run one after another).
    static ACTIVE: RefCell<Option<Listener>> = const { RefCell::new(None) };
}

/// Ends the listening at the end of a job (`finish` on drop).
pub struct Job;

impl Drop for Job {
    fn drop(&mut self) {
        finish();
    }
}

/// Serves /dev/log for the job of unit ID, unless something else serves it already.
pub fn listen(root: &Root, id: &str) -> Job {
    finish();
    if let Some(listener) = bind(root).and_then(|socket| spawn_reader(root, id, socket)) {
        ACTIVE.with(|a| *a.borrow_mut() = Some(listener));
    }
    Job
}

/// Everything sent so far is in the unit's log, and /dev/log is gone. Idempotent: the
/// failure path calls it before printing the log's tail, the job's end calls it again.
pub fn finish() {
    let Some(listener) = ACTIVE.with(|a| a.borrow_mut().take()) else { return };
    // SAFETY: shutting down reading on a socket we own: the reader's recv returns what is
    // queued, then 0, and it exits.
    unsafe {
        libc::shutdown(listener.socket.as_raw_fd(), libc::SHUT_RD);
    }
    if process::wait_for(listener.reader, Duration::from_secs(2)).is_none() {
        process::terminate(listener.reader);
    }
    let _ = std::fs::remove_file(&listener.path);
}

/// A datagram socket bound at /dev/log; a socket left there by a call that was killed (nobody
/// answers on it) is replaced, anything else is left alone.
fn bind(root: &Root) -> Option<(PathBuf, OwnedFd)> {
    let path = root.p(DEV_LOG);
    if std::fs::symlink_metadata(&path).is_ok() {
        let probe = UnixDatagram::unbound().ok()?;
        let stale = matches!(probe.connect(&path), Err(e) if e.raw_os_error() == Some(libc::ECONNREFUSED));
        if !stale {
            return None;
        }
        std::fs::remove_file(&path).ok()?;
    }
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let socket = UnixDatagram::bind(&path).ok()?;
    // World-writable, as journald's: daemons log after dropping privileges.
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666));
    // SAFETY: the descriptor comes from a socket we own; it is moved, not shared.
    let fd = unsafe { OwnedFd::from_raw_fd(std::os::fd::IntoRawFd::into_raw_fd(socket)) };
    set_cloexec(&fd);
    Some((path, fd))
}

/// Control processes must not inherit the socket: a daemon holding it would keep the reader's
/// end open after the job.
fn set_cloexec(fd: &OwnedFd) {
    // SAFETY: fcntl on a descriptor we own.
    unsafe {
        libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC);
    }
}

fn spawn_reader(root: &Root, id: &str, (path, socket): (PathBuf, OwnedFd)) -> Option<Listener> {
    let fd = socket.as_raw_fd();
    let reader = process::fork(|| {
        // SAFETY: single-threaded child; the socket stays, stdio goes to /dev/null so that
        // the caller's pipes (Ansible's) do not wait for this process.
        unsafe { process::redirect_stdio(-1) };
        read_into_log(root, id, fd);
        // SAFETY: leaving without the parent's destructors (the socket's path is the parent's).
        unsafe { libc::_exit(0) }
    });
    match reader {
        Ok(reader) => Some(Listener { path, socket, reader }),
        Err(_) => {
            let _ = std::fs::remove_file(&path);
            None
        }
    }
}

fn read_into_log(root: &Root, id: &str, fd: i32) {
    let mut buf = vec![0u8; 8192];
    loop {
        // SAFETY: buf is valid for its length.
        let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n == 0 || (n < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR)) {
            return;
        }
        if n > 0 {
            let text = String::from_utf8_lossy(&buf[..n as usize]);
            let (program, message) = parse(&text);
            unitlog::program_line(root, id, &program, &message);
        }
    }
}

/// A syslog datagram (`<18>Dec  6 01:15:06 postmulti[3675]: fatal: …`) as the program
/// (`postmulti[3675]`) and its message; the journal stamps the line itself.
fn parse(datagram: &str) -> (String, String) {
    let mut rest = datagram.trim_end_matches(['\n', '\0']);
    if let Some(after) = rest.strip_prefix('<').and_then(|r| r.split_once('>')).map(|(_, r)| r) {
        rest = after;
    }
    // RFC 3164's "Mmm dd hh:mm:ss " (15 characters and a blank).
    let b = rest.as_bytes();
    if b.len() > 16 && b[3] == b' ' && b[6] == b' ' && b[9] == b':' && b[12] == b':' && b[15] == b' ' {
        rest = &rest[16..];
    }
    match rest.split_once(": ") {
        Some((program, message)) if !program.contains(' ') => (program.to_string(), message.to_string()),
        _ => ("syslog".to_string(), rest.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datagrams_become_program_and_message() {
        let (p, m) = parse(
            "<18>Dec  6 01:15:06 postmulti[3675]: fatal: parameter inet_interfaces: no local interface found for ::1",
        );
        assert_eq!(
            (p.as_str(), m.as_str()),
            ("postmulti[3675]", "fatal: parameter inet_interfaces: no local interface found for ::1")
        );
        let (p, m) = parse("<13>Jan 10 10:00:00 logger: hello\n");
        assert_eq!((p.as_str(), m.as_str()), ("logger", "hello"));
        let (p, m) = parse("no header at all");
        assert_eq!((p.as_str(), m.as_str()), ("syslog", "no header at all"));
    }
}
