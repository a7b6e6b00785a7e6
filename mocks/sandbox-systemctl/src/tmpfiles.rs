//! systemd-tmpfiles (called by that name): what systemd creates at boot from tmpfiles.d, and
//! what packages' maintainer scripts ask for with `systemd-tmpfiles --create foo.conf`.
//!
//! Targets start with a fresh /run (a tmpfs), and nothing applies tmpfiles.d the way systemd
//! does at boot: apache2's start script then finds no /run/lock. The target's init runs
//! `systemd-tmpfiles --create --boot`; systemd's own legacy.conf (/run/lock) is built in for
//! targets without systemd's package.
//!
//! Modelled: d D v q Q (directories), f F w (files), L (symlinks), with mode, user and group;
//! `!` lines only with --boot. Other types (cleanup ages, x/r/R/z/Z/C/p/c/b/a/h) are ignored.

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};

use crate::root::{self, Root};

const CONFIG_DIRS: [&str; 5] =
    ["/etc/tmpfiles.d", "/run/tmpfiles.d", "/usr/local/lib/tmpfiles.d", "/usr/lib/tmpfiles.d", "/lib/tmpfiles.d"];

/// systemd's legacy.conf as Debian ships it, for targets without systemd's own file.
const LEGACY: &str = "d /run/lock 1777 root root -\nL /var/lock - - - - ../run/lock\n";

#[derive(Debug, PartialEq, Eq)]
pub struct Entry {
    pub kind: char,
    pub boot_only: bool,
    pub replace: bool,
    pub path: String,
    pub mode: Option<u32>,
    pub user: String,
    pub group: String,
    pub argument: String,
}

/// The entries of one tmpfiles.d file.
pub fn parse(text: &str) -> Vec<Entry> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<Entry> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let mut fields = line.split_whitespace();
    let spec = fields.next()?;
    let path = fields.next()?.to_string();
    let field = |f: Option<&str>| f.filter(|v| *v != "-").unwrap_or("").to_string();
    let mode = field(fields.next());
    let user = field(fields.next());
    let group = field(fields.next());
    let _age = fields.next();
    let argument = fields.collect::<Vec<_>>().join(" ");
    let kind = spec.chars().next()?;
    let mode = u32::from_str_radix(mode.trim_start_matches(['~', ':']), 8).ok();
    if path.contains('%') && !path.contains("%%") {
        // Specifiers need the caller's identity: not modelled.
        return None;
    }
    Some(Entry {
        kind,
        boot_only: spec.contains('!'),
        replace: spec.contains('+'),
        path: path.replace("%%", "%"),
        mode,
        user,
        group,
        argument: if argument == "-" { String::new() } else { argument },
    })
}

/// The config files to apply: the ones named (by base name, looked up in the config dirs,
/// or by path), or every *.conf, a name in a higher-priority directory masking the others.
fn config_files(root: &Root, named: &[String]) -> Vec<(String, String)> {
    let find = |name: &str| -> Option<String> {
        if name.starts_with('/') {
            return Some(name.to_string());
        }
        CONFIG_DIRS.iter().map(|d| format!("{d}/{name}")).find(|p| root::is_file(&root.p(p)))
    };
    if !named.is_empty() {
        return named.iter().filter_map(|n| find(n).map(|p| (n.clone(), p))).collect();
    }
    let mut chosen: Vec<(String, String)> = Vec::new();
    for dir in CONFIG_DIRS {
        for name in root::names(&root.p(dir)).into_iter().filter(|n| n.ends_with(".conf")) {
            if chosen.iter().all(|(n, _)| *n != name) {
                chosen.push((name.clone(), format!("{dir}/{name}")));
            }
        }
    }
    chosen.sort();
    chosen
}

fn id_of(root: &Root, file: &str, name: &str) -> Option<u32> {
    if name.is_empty() || name == "root" {
        return Some(0);
    }
    if let Ok(n) = name.parse() {
        return Some(n);
    }
    let text = fs::read_to_string(root.p(file)).unwrap_or_default();
    text.lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() > 2 && f[0] == name)
        .and_then(|f| f[2].parse().ok())
}

fn apply(root: &Root, e: &Entry) -> Result<(), String> {
    let host = root.p(&e.path);
    let dir_mode = e.mode.unwrap_or(0o755);
    let file_mode = e.mode.unwrap_or(0o644);
    match e.kind {
        'd' | 'D' | 'v' | 'q' | 'Q' => {
            fs::create_dir_all(&host).map_err(|err| format!("Failed to create directory {}: {err}", e.path))?;
            set_owner(root, e, &host, dir_mode)
        }
        'f' | 'F' => {
            let exists = host.exists();
            if !exists || e.kind == 'F' {
                fs::write(&host, unescape(&e.argument))
                    .map_err(|err| format!("Failed to create file {}: {err}", e.path))?;
            }
            set_owner(root, e, &host, file_mode)
        }
        'w' if host.exists() => fs::write(&host, unescape(&e.argument)).map_err(|err| format!("{}: {err}", e.path)),
        'L' => {
            let target =
                if e.argument.is_empty() { format!("/usr/share/factory{}", e.path) } else { e.argument.clone() };
            if root::present(&host) {
                if !e.replace || root::readlink(&host).as_deref() == Some(target.as_str()) {
                    return Ok(());
                }
                let _ = fs::remove_file(&host).or_else(|_| fs::remove_dir_all(&host));
            }
            if let Some(parent) = host.parent() {
                let _ = fs::create_dir_all(parent);
            }
            symlink(&target, &host).map_err(|err| format!("Failed to create symlink {}: {err}", e.path))
        }
        _ => Ok(()),
    }
}

fn set_owner(root: &Root, e: &Entry, host: &std::path::Path, mode: u32) -> Result<(), String> {
    let uid = id_of(root, "/etc/passwd", &e.user).ok_or_else(|| format!("Failed to resolve user '{}'", e.user))?;
    let gid = id_of(root, "/etc/group", &e.group).ok_or_else(|| format!("Failed to resolve group '{}'", e.group))?;
    let _ = std::os::unix::fs::chown(host, Some(uid), Some(gid));
    fs::set_permissions(host, fs::Permissions::from_mode(mode)).map_err(|err| format!("{}: {err}", e.path))
}

/// C escapes in f/w arguments (\n is the common one).
fn unescape(s: &str) -> String {
    s.replace("\\n", "\n").replace("\\t", "\t")
}

/// Applies the entries of the named config files (all when none); 0, or 1 when any failed.
pub fn create(root: &Root, named: &[String], boot: bool) -> i32 {
    let mut files = config_files(root, named);
    if named.is_empty() && files.iter().all(|(n, _)| n != "legacy.conf") {
        files.push(("legacy.conf".into(), String::new()));
    }
    let mut rc = 0;
    for (_, path) in files {
        let text =
            if path.is_empty() { LEGACY.to_string() } else { fs::read_to_string(root.p(&path)).unwrap_or_default() };
        for e in parse(&text).iter().filter(|e| boot || !e.boot_only) {
            if let Err(msg) = apply(root, e) {
                eprintln!("{msg}");
                rc = 1;
            }
        }
    }
    rc
}

pub fn main(root: &Root, args: &[String]) -> i32 {
    let mut create_requested = false;
    let mut boot = false;
    let mut named = Vec::new();
    for a in args {
        match a.as_str() {
            "--create" => create_requested = true,
            "--boot" => boot = true,
            "--version" => {
                println!("systemd {} ({})", crate::show::SD_VERSION, crate::show::SD_VERSION_FULL);
                return 0;
            }
            s if s.starts_with("--") || s == "-" => {}
            s => named.push(s.to_string()),
        }
    }
    if !create_requested {
        // --remove and --clean need ages and state: nothing to do here.
        return 0;
    }
    create(root, &named, boot)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_read_like_systemd_tmpfiles() {
        let e = parse("# c\nd /run/apache2 0755 www-data www-data -\nL+ /var/lock - - - - ../run/lock\nd! /run/boot - - - -\nx /tmp/keep\n");
        assert_eq!(e.len(), 4);
        assert_eq!((e[0].kind, e[0].mode, e[0].user.as_str()), ('d', Some(0o755), "www-data"));
        assert!(e[1].replace && e[1].argument == "../run/lock");
        assert!(e[2].boot_only && e[2].mode.is_none());
    }

    #[test]
    fn boot_creates_the_legacy_lock_dir_and_package_dirs() {
        let dir = std::env::temp_dir().join(format!("sandbox-tmpfiles-{}", std::process::id()));
        let root = Root::new(dir.to_str().unwrap());
        fs::create_dir_all(dir.join("usr/lib/tmpfiles.d")).unwrap();
        fs::create_dir_all(dir.join("var")).unwrap();
        fs::write(
            dir.join("usr/lib/tmpfiles.d/app.conf"),
            "d /run/app 0750 - - -\nf /run/app/ready 0600 - - - yes\\n\n",
        )
        .unwrap();
        assert_eq!(create(&root, &[], true), 0);
        let lock = fs::metadata(dir.join("run/lock")).unwrap();
        assert_eq!(lock.permissions().mode() & 0o7777, 0o1777);
        assert_eq!(fs::read_link(dir.join("var/lock")).unwrap().to_str(), Some("../run/lock"));
        assert_eq!(fs::read_to_string(dir.join("run/app/ready")).unwrap(), "yes\n");
        assert_eq!(fs::metadata(dir.join("run/app")).unwrap().permissions().mode() & 0o777, 0o750);
        // one named file only
        fs::remove_dir_all(dir.join("run")).unwrap();
        assert_eq!(create(&root, &["app.conf".into()], false), 0);
        assert!(dir.join("run/app").is_dir() && !dir.join("run/lock").exists());
        fs::remove_dir_all(dir).unwrap();
    }
}
