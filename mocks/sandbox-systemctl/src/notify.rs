//! Type=notify: systemd considers such a start done when the daemon says `READY=1` on
//! $NOTIFY_SOCKET, and failed when the daemon exits first. php-fpm, redis and mariadb are
//! notify services: a broken config makes them exit at once, and without this the start (and
//! Ansible's task) would pass with nothing running.

use std::os::fd::AsRawFd;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::process;
use crate::root::Root;

/// How a notify start ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    Ready,
    /// The main process ended before it said it was ready.
    Exited,
    TimedOut,
}

/// The socket the main process is told about; removed when dropped.
pub struct Socket {
    path: PathBuf,
    socket: UnixDatagram,
}

impl Socket {
    /// A socket for unit ID's start, under /run (host path: a test's root is not the
    /// process's root).
    pub fn bind(root: &Root, id: &str) -> Option<Socket> {
        let dir = root.p("/run/sandbox-systemctl/notify");
        std::fs::create_dir_all(&dir).ok()?;
        let path = dir.join(id);
        let _ = std::fs::remove_file(&path);
        let socket = UnixDatagram::bind(&path).ok()?;
        // The daemon may notify after dropping privileges (redis does, as `redis`).
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666));
        // SAFETY: fcntl on a descriptor we own: control processes must not inherit it.
        unsafe { libc::fcntl(socket.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) };
        Some(Socket { path, socket })
    }

    pub fn path(&self) -> String {
        self.path.to_string_lossy().into_owned()
    }

    /// Until MAIN says READY=1, ends, or DEADLINE passes.
    pub fn wait_ready(&self, main: i32, deadline: Duration) -> Start {
        let end = Instant::now() + deadline;
        let mut buf = vec![0u8; 4096];
        loop {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Start::TimedOut;
            }
            // Short slices: the main process's end can only be polled (it is not our child).
            let mut pfd = libc::pollfd { fd: self.socket.as_raw_fd(), events: libc::POLLIN, revents: 0 };
            // SAFETY: pfd is valid for the call.
            let ready = unsafe { libc::poll(&mut pfd, 1, left.as_millis().min(50) as libc::c_int) };
            if ready > 0 {
                if let Ok(n) = self.socket.recv(&mut buf) {
                    if says_ready(&String::from_utf8_lossy(&buf[..n])) {
                        return Start::Ready;
                    }
                }
                continue;
            }
            if !process::alive(main) {
                return Start::Exited;
            }
        }
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A notification (newline-separated assignments) that holds READY=1.
fn says_ready(message: &str) -> bool {
    message.lines().any(|l| l.trim() == "READY=1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_is_one_assignment_among_others() {
        assert!(says_ready("STATUS=Ready to accept connections\nREADY=1\n"));
        assert!(says_ready("READY=1"));
        assert!(!says_ready("STATUS=starting\nMAINPID=12"));
        assert!(!says_ready("READY=10"));
    }
}
