//! The system calls of a service manager: accounts read from /etc/passwd and /etc/group (no
//! NSS: a static binary has no libc modules to load, and a target's accounts are in those
//! files), a child set up and exec'd (session, stdio, credentials, working directory,
//! environment), waits bounded by deadlines, signals, and the processes of a unit found by
//! the mark in their environment.

use std::ffi::CString;
use std::fs;
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

use crate::root::Root;

/// PATH of every service process, as systemd sets it.
pub const SERVICE_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// ---------------------------------------------------------------------------- accounts

/// Who a unit's processes run as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// None: stay root (only Group= was given).
    pub uid: Option<u32>,
    pub gid: u32,
    /// Supplementary groups: the user's from /etc/group (initgroups), none for Group= alone.
    pub groups: Vec<u32>,
    pub name: String,
    pub home: String,
    pub shell: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialsError {
    NoUser,
    NoGroup,
}

/// User=/Group= of a unit; Ok(None) when it has neither.
pub fn credentials(root: &Root, user: &str, group: &str) -> Result<Option<Credentials>, CredentialsError> {
    if user.is_empty() && group.is_empty() {
        return Ok(None);
    }
    let passwd = fs::read_to_string(root.p("/etc/passwd")).unwrap_or_default();
    let groups = fs::read_to_string(root.p("/etc/group")).unwrap_or_default();
    let mut creds = Credentials {
        uid: None,
        gid: 0,
        groups: Vec::new(),
        name: user.into(),
        home: "/".into(),
        shell: "/bin/sh".into(),
    };
    if !user.is_empty() {
        let entry = passwd
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .find(|f| f.len() >= 4 && (f[0] == user || f[2] == user))
            .ok_or(CredentialsError::NoUser)?;
        creds.uid = Some(entry[2].parse().map_err(|_| CredentialsError::NoUser)?);
        creds.gid = entry[3].parse().map_err(|_| CredentialsError::NoUser)?;
        creds.name = entry[0].to_string();
        creds.home = entry.get(5).copied().unwrap_or("/").to_string();
        creds.shell = entry.get(6).copied().unwrap_or("/bin/sh").to_string();
        creds.groups = member_of(&groups, &creds.name, creds.gid);
    }
    if !group.is_empty() {
        let named = groups
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .find(|f| f.len() >= 3 && f[0] == group)
            .and_then(|f| f[2].parse().ok());
        creds.gid = named.or_else(|| group.parse().ok()).ok_or(CredentialsError::NoGroup)?;
        if creds.uid.is_none() {
            creds.groups.clear();
        }
    }
    Ok(Some(creds))
}

/// The primary group and every group listing NAME as a member: what initgroups(3) gives.
fn member_of(group_file: &str, name: &str, primary: u32) -> Vec<u32> {
    let mut gids = vec![primary];
    for fields in group_file.lines().map(|l| l.split(':').collect::<Vec<_>>()) {
        if fields.len() < 4 || !fields[3].split(',').any(|m| m == name) {
            continue;
        }
        if let Ok(gid) = fields[2].parse() {
            if !gids.contains(&gid) {
                gids.push(gid);
            }
        }
    }
    gids
}

// ---------------------------------------------------------------------------- processes

pub fn own_pid() -> i32 {
    std::process::id() as i32
}

/// The process exists and is not a zombie waiting to be reaped.
pub fn alive(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat.rsplit_once(") ").and_then(|(_, rest)| rest.chars().next()).unwrap_or('?');
            !matches!(state, 'Z' | 'X')
        }
        Err(_) if !std::path::Path::new("/proc/self").exists() => {
            // SAFETY: signal 0 only checks that the process exists.
            unsafe { libc::kill(pid, 0) == 0 }
        }
        Err(_) => false,
    }
}

/// Live processes whose environment holds exactly `SANDBOX_UNIT=MARK`: the environment stands
/// in for the cgroup systemd would use (every process of a unit inherits it).
pub fn marked(mark: &str) -> Vec<i32> {
    let needle = format!("SANDBOX_UNIT={mark}");
    let me = own_pid();
    let Ok(entries) = fs::read_dir("/proc") else { return Vec::new() };
    let mut pids: Vec<i32> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()))
        .filter(|pid| *pid != me)
        .filter(|pid| {
            fs::read(format!("/proc/{pid}/environ"))
                .map(|env| env.split(|b| *b == 0).any(|entry| entry == needle.as_bytes()))
                .unwrap_or(false)
        })
        .filter(|pid| alive(*pid))
        .collect();
    pids.sort_unstable();
    pids
}

/// Every process's PID.
pub fn all_pids() -> Vec<i32> {
    let Ok(entries) = fs::read_dir("/proc") else { return Vec::new() };
    entries.flatten().filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok())).collect()
}

/// When PID started (field 22 of its stat, in clock ticks since boot): with the PID, it names
/// one process even after the number is reused.
pub fn start_time(pid: i32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(") ")?;
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// PID's parent.
pub fn parent(pid: i32) -> Option<i32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(") ")?.1.split_whitespace().nth(1)?.parse().ok()
}

pub fn comm(pid: i32) -> Option<String> {
    fs::read_to_string(format!("/proc/{pid}/comm")).ok().map(|c| c.trim_end().to_string())
}

const SIGNALS: [(&str, i32); 20] = [
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("ILL", libc::SIGILL),
    ("TRAP", libc::SIGTRAP),
    ("ABRT", libc::SIGABRT),
    ("BUS", libc::SIGBUS),
    ("FPE", libc::SIGFPE),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("SEGV", libc::SIGSEGV),
    ("USR2", libc::SIGUSR2),
    ("PIPE", libc::SIGPIPE),
    ("ALRM", libc::SIGALRM),
    ("TERM", libc::SIGTERM),
    ("CHLD", libc::SIGCHLD),
    ("CONT", libc::SIGCONT),
    ("STOP", libc::SIGSTOP),
    ("TSTP", libc::SIGTSTP),
    ("WINCH", libc::SIGWINCH),
];

/// `TERM`, `SIGTERM` or `15`.
pub fn signal_number(name: &str) -> Option<i32> {
    if let Ok(n) = name.parse() {
        return Some(n);
    }
    let bare = name.strip_prefix("SIG").unwrap_or(name);
    SIGNALS.iter().find(|(n, _)| n.eq_ignore_ascii_case(bare)).map(|(_, s)| *s)
}

pub fn signal(pid: i32, sig: i32) {
    if pid > 0 {
        // SAFETY: kill has no memory effects; a vanished process is fine.
        unsafe {
            libc::kill(pid, sig);
        }
    }
}

/// The longest pause between two looks at something polled for.
const NAP: Duration = Duration::from_millis(10);

/// Polls COND until it holds or DEADLINE passes (the state of processes that are not our
/// children can only be polled).
pub fn poll_until(deadline: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + deadline;
    // Short naps first: what is polled for (a daemon's PID file, a supervisor's record) is
    // usually a millisecond or two away, and each call of a start pays the wait.
    let mut pause = Duration::from_millis(1);
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(NAP);
    }
}

// ---------------------------------------------------------------------------- spawning

/// Everything a child needs before exec, prepared before fork (the child only makes system
/// calls).
pub struct Spawn {
    argv: Vec<CString>,
    envp: Vec<CString>,
    program: Option<CString>,
    /// Working directory (host path) and whether failing to enter it is fine.
    cwd: Option<(CString, bool)>,
    creds: Option<Credentials>,
    /// Where stdout and stderr go (stdin is /dev/null); None keeps the inherited ones.
    log: Option<RawFd>,
    display: String,
}

impl Spawn {
    pub fn new(
        argv: &[String],
        env: &[String],
        cwd: Option<(String, bool)>,
        creds: Option<Credentials>,
        log: Option<RawFd>,
    ) -> Spawn {
        let c = |s: &str| CString::new(s.replace('\0', "")).unwrap_or_default();
        let program = argv.first().and_then(|p| find_program(p)).map(|p| c(&p));
        Spawn {
            argv: argv.iter().map(|a| c(a)).collect(),
            envp: env.iter().map(|e| c(e)).collect(),
            program,
            cwd: cwd.map(|(d, optional)| (c(&d), optional)),
            creds,
            log,
            display: argv.first().cloned().unwrap_or_default(),
        }
    }

    pub fn inherit_stdio(&mut self) {
        self.log = None;
    }

    /// In the forked child: become what the unit says and exec. Never returns. KEEP_FD3
    /// keeps descriptor 3 (close-on-exec: the supervisor's pipe, which tells it the exec
    /// happened). Exit statuses as systemd's: 200 CHDIR, 216 GROUP/USER, 203 EXEC.
    pub fn exec(&self, new_session: bool, keep_fd3: bool) -> ! {
        // SAFETY: we are the only thread of a freshly forked child; every pointer passed
        // below points into self, which lives until exec or _exit.
        unsafe {
            reset_signals();
            if new_session {
                libc::setsid();
            }
            if let Some(log) = self.log {
                redirect_stdio(log);
            }
            close_from(if keep_fd3 { 4 } else { 3 });
            if let Some(creds) = &self.creds {
                if !drop_privileges(creds) {
                    self.fail("Failed to set up credentials", 216);
                }
            }
            if let Some((dir, optional)) = &self.cwd {
                if libc::chdir(dir.as_ptr()) != 0 {
                    if !*optional {
                        self.fail("Failed to change to the working directory", 200);
                    }
                    libc::chdir(c"/".as_ptr());
                }
            }
            let Some(program) = &self.program else { self.fail("Failed to locate executable", 203) };
            let mut argv: Vec<*const libc::c_char> = self.argv.iter().map(|a| a.as_ptr()).collect();
            argv.push(std::ptr::null());
            let mut envp: Vec<*const libc::c_char> = self.envp.iter().map(|e| e.as_ptr()).collect();
            envp.push(std::ptr::null());
            libc::execve(program.as_ptr(), argv.as_ptr(), envp.as_ptr());
            self.fail("Failed to execute", 203)
        }
    }

    fn fail(&self, what: &str, code: i32) -> ! {
        let err = std::io::Error::last_os_error();
        let msg = format!("{what} {}: {}\n", self.display, crate::root::errno_text(&err));
        // SAFETY: writing a buffer we own to fd 2, then leaving without running destructors.
        unsafe {
            libc::write(2, msg.as_ptr().cast(), msg.len());
            libc::_exit(code)
        }
    }
}

/// PROGRAM as given when it has a slash, else the first executable in SERVICE_PATH.
fn find_program(program: &str) -> Option<String> {
    if program.contains('/') {
        return Some(program.to_string());
    }
    SERVICE_PATH.split(':').map(|d| format!("{d}/{program}")).find(|p| crate::root::executable(std::path::Path::new(p)))
}

/// Default dispositions and an empty mask: Rust ignores SIGPIPE and the parent blocks
/// SIGCHLD, neither of which a service should inherit.
unsafe fn reset_signals() {
    for sig in 1..32 {
        if sig != libc::SIGKILL && sig != libc::SIGSTOP {
            libc::signal(sig, libc::SIG_DFL);
        }
    }
    let mut set: libc::sigset_t = std::mem::zeroed();
    libc::sigemptyset(&mut set);
    libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
}

/// stdin from /dev/null, stdout and stderr to LOG (/dev/null when it could not be opened).
pub unsafe fn redirect_stdio(log: RawFd) {
    let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
    if null >= 0 {
        libc::dup2(null, 0);
    }
    let out = if log >= 0 { log } else { null };
    if out >= 0 {
        libc::dup2(out, 1);
        libc::dup2(out, 2);
    }
    if null > 2 {
        libc::close(null);
    }
}

/// Closes every descriptor from FIRST on: a fork inherits the caller's (its pipes to Ansible
/// among them), and one left open would keep the caller's output open as long as the service
/// runs. The open ones are listed from /proc/self/fd: gVisor has no close_range, and closing
/// every possible number costs a system call each (half a second under ptrace).
pub unsafe fn close_from(first: RawFd) {
    let open: Vec<RawFd> = match fs::read_dir("/proc/self/fd") {
        Ok(dir) => dir.flatten().filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok())).collect(),
        Err(_) => (first..1024).collect(),
    };
    // The directory's own descriptor is closed by now (it was dropped): closing it again is harmless.
    for fd in open.into_iter().filter(|fd| *fd >= first) {
        libc::close(fd);
    }
}

unsafe fn drop_privileges(creds: &Credentials) -> bool {
    let groups: Vec<libc::gid_t> = creds.groups.clone();
    if libc::setgroups(groups.len(), groups.as_ptr()) != 0 {
        return false;
    }
    if libc::setgid(creds.gid) != 0 {
        return false;
    }
    match creds.uid {
        Some(uid) => libc::setuid(uid) == 0,
        None => true,
    }
}

/// Blocks SIGCHLD for this process, so that `wait_for` can sleep in sigtimedwait until a
/// child ends without a handler or a race.
pub fn block_sigchld() {
    // SAFETY: plain signal-mask manipulation of this (single-threaded) process.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGCHLD);
        libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

/// fork(2); in the child, CHILD runs (it execs or exits; should it return, the child exits).
pub fn fork(child: impl FnOnce()) -> std::io::Result<i32> {
    // SAFETY: this program is single-threaded, so the child may do anything the parent could.
    match unsafe { libc::fork() } {
        -1 => Err(std::io::Error::last_os_error()),
        0 => {
            child();
            // SAFETY: leaving the child without running the parent's destructors.
            unsafe { libc::_exit(127) }
        }
        pid => Ok(pid),
    }
}

/// A wait status as a shell reports it: the exit code, or 128 + the signal.
pub fn shell_status(status: libc::c_int) -> i32 {
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        1
    }
}

/// Reaps child PID if it has ended.
fn try_reap(pid: i32) -> Option<i32> {
    let mut status = 0;
    // SAFETY: status is a valid out-pointer.
    match unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) } {
        0 => None,
        -1 => Some(1),
        _ => Some(shell_status(status)),
    }
}

/// Waits for child PID until DEADLINE; None when it is still running then.
pub fn wait_for(pid: i32, deadline: Duration) -> Option<i32> {
    let end = Instant::now() + deadline;
    loop {
        if let Some(status) = try_reap(pid) {
            return Some(status);
        }
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        let ts =
            libc::timespec { tv_sec: left.as_secs() as libc::time_t, tv_nsec: left.subsec_nanos() as libc::c_long };
        // SAFETY: set and ts are valid for the call; SIGCHLD is blocked (block_sigchld).
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGCHLD);
            libc::sigtimedwait(&set, std::ptr::null_mut(), &ts);
        }
    }
}

/// A control process that outlived its bound: SIGTERM to its session, SIGKILL after 5 s
/// (as `timeout -k 5` did), then reaped.
pub fn terminate(pid: i32) {
    signal(-pid, libc::SIGTERM);
    signal(pid, libc::SIGTERM);
    if wait_for(pid, Duration::from_secs(5)).is_none() {
        signal(-pid, libc::SIGKILL);
        signal(pid, libc::SIGKILL);
        let _ = wait_for(pid, Duration::from_secs(5));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_come_from_the_files() {
        let dir = std::env::temp_dir().join(format!("sandbox-systemctl-acct-{}", own_pid()));
        fs::create_dir_all(dir.join("etc")).unwrap();
        fs::write(
            dir.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/bash\nwww:x:33:33:www:/var/www:/usr/sbin/nologin\n",
        )
        .unwrap();
        fs::write(dir.join("etc/group"), "root:x:0:\nwww:x:33:\nssl:x:110:www,other\nnogroup:x:65534:\n").unwrap();
        let root = Root::new(dir.to_str().unwrap());
        let c = credentials(&root, "www", "").unwrap().unwrap();
        assert_eq!((c.uid, c.gid, c.groups.clone(), c.home.as_str()), (Some(33), 33, vec![33, 110], "/var/www"));
        assert_eq!(credentials(&root, "33", "").unwrap().unwrap().name, "www");
        let g = credentials(&root, "", "nogroup").unwrap().unwrap();
        assert_eq!((g.uid, g.gid, g.groups.len()), (None, 65534, 0));
        assert_eq!(credentials(&root, "", "4242").unwrap().unwrap().gid, 4242);
        assert_eq!(credentials(&root, "ghost", ""), Err(CredentialsError::NoUser));
        assert_eq!(credentials(&root, "www", "nosuch"), Err(CredentialsError::NoGroup));
        assert_eq!(credentials(&root, "", ""), Ok(None));
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn signals_by_name_or_number() {
        assert_eq!(signal_number("HUP"), Some(libc::SIGHUP));
        assert_eq!(signal_number("SIGKILL"), Some(9));
        assert_eq!(signal_number("15"), Some(15));
        assert_eq!(signal_number("BOGUS"), None);
    }
}
