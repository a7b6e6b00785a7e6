//! The target's file system as this program sees it: every absolute path is prefixed with
//! `SYSTEMCTL_ROOT` (empty in production), so the black-box tests can point the program at a
//! scratch directory. Paths the program prints or stores in links are always the unprefixed
//! ones, as on the real system.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// Search order of unit files. The `*.control` directories (read first by systemd as well)
/// only ever hold masks that could not go into /etc/systemd/system (see `install::mask`).
pub const UNIT_DIRS: [&str; 7] = [
    "/etc/systemd/system.control",
    "/run/systemd/system.control",
    "/etc/systemd/system",
    "/run/systemd/system",
    "/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/usr/local/lib/systemd/system",
];

pub const ETC_UNITS: &str = "/etc/systemd/system";
pub const RUN_UNITS: &str = "/run/systemd/system";
pub const STATE_DIR: &str = "/var/lib/sandbox-systemctl";
pub const LOG_DIR: &str = "/var/log/sandbox-journal";

/// What a directory entry is, from the directory listing itself (no stat).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    Link,
    File,
    Dir,
    Other,
}

/// A directory's entries, sorted by name.
pub type Listing = Rc<Vec<(String, EntryKind)>>;

#[derive(Debug, Clone)]
pub struct Root {
    prefix: String,
    /// Directory listings read during this call. Every system call costs under gVisor, and
    /// one `list-unit-files` looks into the same few directories for every unit; anything that
    /// changes them calls `forget`.
    listings: RefCell<HashMap<String, Listing>>,
}

impl Root {
    /// From `SYSTEMCTL_ROOT`, trailing slashes removed (as the sh mock did).
    pub fn from_env() -> Root {
        let raw = std::env::var("SYSTEMCTL_ROOT").unwrap_or_default();
        Root::new(raw.trim_end_matches('/'))
    }

    pub fn new(prefix: &str) -> Root {
        Root { prefix: prefix.to_string(), listings: RefCell::new(HashMap::new()) }
    }

    /// The entries of directory ABS inside the target (empty when it cannot be read), read
    /// once per call.
    pub fn listing(&self, abs: &str) -> Listing {
        if let Some(l) = self.listings.borrow().get(abs) {
            return l.clone();
        }
        let mut entries: Vec<(String, EntryKind)> = fs::read_dir(self.p(abs))
            .map(|dir| {
                dir.flatten()
                    .filter_map(|e| {
                        let name = e.file_name().to_string_lossy().into_owned();
                        let t = e.file_type().ok()?;
                        let kind = if t.is_symlink() {
                            EntryKind::Link
                        } else if t.is_file() {
                            EntryKind::File
                        } else if t.is_dir() {
                            EntryKind::Dir
                        } else {
                            EntryKind::Other
                        };
                        (!name.starts_with('.')).then_some((name, kind))
                    })
                    .collect()
            })
            .unwrap_or_default();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let listing = Rc::new(entries);
        self.listings.borrow_mut().insert(abs.to_string(), listing.clone());
        listing
    }

    /// What NAME in directory DIR is, from the directory's listing.
    pub fn entry(&self, dir: &str, name: &str) -> Option<EntryKind> {
        let listing = self.listing(dir);
        listing.binary_search_by(|(n, _)| n.as_str().cmp(name)).ok().map(|i| listing[i].1)
    }

    /// Forgets the listings read so far: the caller changed a directory.
    pub fn forget(&self) {
        self.listings.borrow_mut().clear();
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The host path of ABS inside the target.
    pub fn p(&self, abs: &str) -> PathBuf {
        PathBuf::from(format!("{}{abs}", self.prefix))
    }

    /// The first line of a file inside the target, if it can be read.
    pub fn first_line(&self, abs: &str) -> Option<String> {
        first_line(&self.p(abs))
    }
}

pub fn first_line(path: &Path) -> Option<String> {
    let text = fs::read(path).ok()?;
    let text = String::from_utf8_lossy(&text);
    Some(text.lines().next().unwrap_or("").to_string())
}

/// `[ -L p ] || [ -e p ]`: something is there, even a dangling link.
pub fn present(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok()
}

pub fn is_link(path: &Path) -> bool {
    fs::symlink_metadata(path).map(|m| m.file_type().is_symlink()).unwrap_or(false)
}

/// `[ -f p ]` (follows links).
pub fn is_file(path: &Path) -> bool {
    fs::metadata(path).map(|m| m.is_file()).unwrap_or(false)
}

/// `[ -s p ]`: a file that is not empty.
pub fn non_empty(path: &Path) -> bool {
    fs::metadata(path).map(|m| m.len() > 0).unwrap_or(false)
}

/// `[ -x p ]` as root sees it: any execute bit.
pub fn executable(path: &Path) -> bool {
    fs::metadata(path).map(|m| m.permissions().mode() & 0o111 != 0).unwrap_or(false)
}

pub fn readlink(path: &Path) -> Option<String> {
    fs::read_link(path).ok().map(|t| t.to_string_lossy().into_owned())
}

pub fn is_null_link(path: &Path) -> bool {
    is_link(path) && readlink(path).as_deref() == Some("/dev/null")
}

/// The names in DIR, sorted bytewise, without dot files: what the shell's `DIR/*` gives
/// under LC_ALL=C.
pub fn names(dir: &Path) -> Vec<String> {
    let Ok(entries) = fs::read_dir(dir) else { return Vec::new() };
    let mut names: Vec<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    names
}

/// Shell glob matching (`case` patterns), by the C library's fnmatch.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let (Ok(p), Ok(n)) = (std::ffi::CString::new(pattern), std::ffi::CString::new(name)) else { return false };
    // SAFETY: both are valid NUL-terminated strings for the duration of the call.
    unsafe { libc::fnmatch(p.as_ptr(), n.as_ptr(), 0) == 0 }
}

pub fn has_glob(pattern: &str) -> bool {
    pattern.contains(['*', '?', '['])
}

/// The last path component.
pub fn base(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Everything before the last `/`.
pub fn dir(path: &str) -> &str {
    path.rsplit_once('/').map(|(d, _)| d).unwrap_or("")
}

/// An I/O error as systemctl words it ("Permission denied"), without Rust's "(os error 13)".
pub fn errno_text(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}
