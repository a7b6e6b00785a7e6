//! Units: their names, where their files are (fragment, aliases, masks, templates, SysV
//! scripts), and what the files say (the fragment plus its drop-ins, parsed into `UnitFile`).
//!
//! Answers come from the unit files really present on disk, read afresh at every call: a
//! typo is "not found", as with systemd, and nothing needs a daemon-reload.

use std::fs;

use crate::root::{self, EntryKind, Root, UNIT_DIRS};

const SUFFIXES: [&str; 11] =
    ["service", "socket", "target", "timer", "path", "mount", "automount", "swap", "slice", "scope", "device"];

/// `?*.service` and the other unit types.
pub fn valid_suffix(name: &str) -> bool {
    name.rsplit_once('.').is_some_and(|(stem, suffix)| !stem.is_empty() && SUFFIXES.contains(&suffix))
}

/// The unit name systemctl would use: no directory, and no suffix means `.service`.
pub fn normalize(name: &str) -> String {
    let name = root::base(name);
    if valid_suffix(name) {
        name.to_string()
    } else {
        format!("{name}.service")
    }
}

/// The part after the last dot.
pub fn suffix(name: &str) -> &str {
    name.rsplit_once('.').map(|(_, s)| s).unwrap_or("")
}

/// The name without its last `.suffix`.
pub fn stem(name: &str) -> &str {
    name.rsplit_once('.').map(|(s, _)| s).unwrap_or(name)
}

pub fn is_template(name: &str) -> bool {
    name.contains("@.")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadState {
    Loaded,
    NotFound,
    Masked,
}

impl LoadState {
    pub fn as_str(self) -> &'static str {
        match self {
            LoadState::Loaded => "loaded",
            LoadState::NotFound => "not-found",
            LoadState::Masked => "masked",
        }
    }
}

/// Where a unit's definition comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Sysv,
    Masked,
    None,
}

/// A unit name looked up on disk.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// Canonical name (aliases followed).
    pub id: String,
    pub names: String,
    pub load: LoadState,
    pub kind: Kind,
    /// The fragment, as the target sees the path (`/dev/null` for a masking link).
    pub frag: String,
    /// The SysV script of an init.d service.
    pub src: String,
    pub instance: Option<String>,
    pub template: Option<String>,
}

impl Resolved {
    fn named(name: &str) -> Resolved {
        let id = normalize(name);
        let (instance, template) = if is_template(&id) {
            (None, Some(id.clone()))
        } else if let Some((prefix, rest)) = id.split_once('@') {
            let inst = stem(rest).to_string();
            (Some(inst), Some(format!("{prefix}@.{}", suffix(&id))))
        } else {
            (None, None)
        };
        Resolved {
            names: id.clone(),
            id,
            load: LoadState::NotFound,
            kind: Kind::None,
            frag: String::new(),
            src: String::new(),
            instance,
            template,
        }
    }

    pub fn found(&self) -> bool {
        self.kind != Kind::None
    }

    pub fn is_service(&self) -> bool {
        self.id.ends_with(".service")
    }
}

enum Fragment {
    Found,
    Absent,
    DanglingAlias,
}

/// Looks NAME up in the unit directories; `found()` is false when no such unit exists.
pub fn resolve(root: &Root, name: &str) -> Resolved {
    let mut depth = 0;
    resolve_name(root, name, &mut depth)
}

/// Only the name (for `mask` and friends, which need no file).
pub fn name_only(name: &str) -> Resolved {
    Resolved::named(name)
}

fn resolve_name(root: &Root, name: &str, depth: &mut u32) -> Resolved {
    let mut r = Resolved::named(name);
    let id = r.id.clone();
    match find_fragment(root, &mut r, &id, true, depth) {
        Fragment::Found => return r,
        Fragment::DanglingAlias => return Resolved::named(name),
        Fragment::Absent => {}
    }
    if r.instance.is_some() {
        let template = r.template.clone().unwrap_or_default();
        if let Fragment::Found = find_fragment(root, &mut r, &template, false, depth) {
            return r;
        }
    }
    if let Some(script) = r.id.strip_suffix(".service") {
        let path = format!("/etc/init.d/{script}");
        let host = root.p(&path);
        if root::is_file(&host) && root::executable(&host) {
            r.kind = Kind::Sysv;
            r.load = LoadState::Loaded;
            r.src = path;
        }
    }
    r
}

fn find_fragment(root: &Root, r: &mut Resolved, file: &str, follow_alias: bool, depth: &mut u32) -> Fragment {
    for dir in UNIT_DIRS {
        let kind = root.entry(dir, file);
        if kind.is_none() {
            continue;
        }
        let abs = format!("{dir}/{file}");
        let host = root.p(&abs);
        if kind == Some(EntryKind::Link) {
            let target = root::readlink(&host).unwrap_or_default();
            if target == "/dev/null" {
                r.load = LoadState::Masked;
                r.kind = Kind::Masked;
                r.frag = target;
                return Fragment::Found;
            }
            let target = if target.starts_with('/') { target } else { format!("{dir}/{target}") };
            if root::base(&target) != file && follow_alias && *depth < 4 {
                // An alias (sshd.service -> ssh.service): answer for the unit it names.
                *depth += 1;
                let original = r.id.clone();
                let aliased = resolve_name(root, root::base(&target), depth);
                if aliased.found() {
                    *r = Resolved { names: format!("{} {original}", aliased.id), ..aliased };
                    return Fragment::Found;
                }
                return Fragment::DanglingAlias;
            }
            if root::is_file(&root.p(&target)) {
                set_fragment(root, r, target);
                return Fragment::Found;
            }
        } else if kind == Some(EntryKind::File) {
            set_fragment(root, r, abs);
            return Fragment::Found;
        }
    }
    Fragment::Absent
}

/// An empty unit file masks the unit, as systemd treats it.
fn set_fragment(root: &Root, r: &mut Resolved, path: String) {
    let empty = !root::non_empty(&root.p(&path));
    r.load = if empty { LoadState::Masked } else { LoadState::Loaded };
    r.kind = if empty { Kind::Masked } else { Kind::File };
    r.frag = path;
}

// ---------------------------------------------------------------------------- unit files

/// What a unit's files say, for the keys this program acts on.
#[derive(Debug, Clone, Default)]
pub struct UnitFile {
    pub description: String,
    pub documentation: Vec<String>,
    pub allow_isolate: String,
    pub service_type: String,
    pub restart: String,
    pub restart_sec: String,
    pub remain_after_exit: String,
    pub has_reload: bool,
    pub exec: Exec,
    pub environment: Vec<String>,
    pub environment_files: Vec<String>,
    pub user: String,
    pub group: String,
    pub working_directory: String,
    pub pid_file: String,
    /// GuessMainPID= (yes unless set to no).
    pub guess_main_pid: bool,
    pub runtime_directory: Vec<String>,
    pub timeout_start: String,
    pub timeout_stop: String,
    pub timer_unit: String,
    pub wants: Vec<String>,
    pub requires: Vec<String>,
    pub part_of: Vec<String>,
    pub after: Vec<String>,
    pub binds_to: Vec<String>,
    /// ReloadPropagatedFrom=: a reload of these units reloads this one (postfix@ from postfix).
    pub reload_propagated_from: Vec<String>,
    /// PropagatesReloadTo=: the other side of the same tie.
    pub propagates_reload_to: Vec<String>,
    pub has_install: bool,
    pub wanted_by: Vec<String>,
    pub required_by: Vec<String>,
    pub aliases: Vec<String>,
    pub also: Vec<String>,
    pub default_instance: String,
    /// Drop-ins applied, in the order they were applied.
    pub dropins: Vec<String>,
    /// An extra environment entry for the unit's processes (SysV scripts).
    pub extra_env: Option<String>,
}

/// The command lines of a service, as written (prefixes and specifiers still in them).
#[derive(Debug, Clone, Default)]
pub struct Exec {
    pub pre: Vec<String>,
    pub start: Vec<String>,
    pub post: Vec<String>,
    pub reload: Vec<String>,
    pub stop: Vec<String>,
}

impl UnitFile {
    pub fn is_oneshot(&self) -> bool {
        self.service_type == "oneshot"
    }

    pub fn remains(&self) -> bool {
        is_yes(&self.remain_after_exit)
    }
}

pub fn is_yes(v: &str) -> bool {
    matches!(v, "yes" | "true" | "on" | "1")
}

/// A space-separated list setting: an empty assignment resets it, others add words.
fn add_words(list: &mut Vec<String>, value: &str) {
    if value.is_empty() {
        list.clear();
    } else {
        list.extend(value.split_whitespace().map(String::from));
    }
}

/// A list of lines (command lines keep their blanks): an empty assignment resets it.
fn add_line(list: &mut Vec<String>, value: &str) {
    if value.is_empty() {
        list.clear();
    } else {
        list.push(value.to_string());
    }
}

/// systemd's blanks: spaces and tabs.
pub fn trim(s: &str) -> &str {
    s.trim_matches([' ', '\t'])
}

/// The logical lines of a unit file: comments dropped, CRs stripped, backslash
/// continuations joined (the backslash becomes a space, the next line follows verbatim).
pub fn logical_lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cont: Option<String> = None;
    for raw in text.split('\n') {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let joined = match cont.take() {
            Some(c) => format!("{c} {raw}"),
            None => raw.to_string(),
        };
        let line = trim(&joined);
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(head) = line.strip_suffix('\\') {
            cont = Some(head.to_string());
            continue;
        }
        out.push(line.to_string());
    }
    // A file ending in a continuation: the sh mock's `read` dropped it as well.
    out
}

impl UnitFile {
    /// Applies one file (fragment or drop-in): the last assignment of a key wins.
    pub fn apply(&mut self, text: &str) {
        let mut section = String::new();
        for line in logical_lines(text) {
            if line.starts_with('[') && line.ends_with(']') && line.len() >= 2 {
                section = line[1..line.len() - 1].to_string();
                if section == "Install" {
                    self.has_install = true;
                }
                continue;
            }
            let Some((key, value)) = line.split_once('=') else { continue };
            self.set(&section, trim(key), trim(value));
        }
    }

    fn set(&mut self, section: &str, key: &str, v: &str) {
        let s = v.to_string();
        match (section, key) {
            ("Unit", "Description") => self.description = s,
            ("Unit", "Documentation") => add_words(&mut self.documentation, v),
            ("Unit", "AllowIsolate") => self.allow_isolate = s,
            ("Unit", "Wants") => add_words(&mut self.wants, v),
            ("Unit", "Requires") => add_words(&mut self.requires, v),
            ("Unit", "PartOf") => add_words(&mut self.part_of, v),
            ("Unit", "After") => add_words(&mut self.after, v),
            ("Unit", "BindsTo") => add_words(&mut self.binds_to, v),
            ("Unit", "ReloadPropagatedFrom") => add_words(&mut self.reload_propagated_from, v),
            ("Unit", "PropagatesReloadTo") => add_words(&mut self.propagates_reload_to, v),
            ("Service", "Type") => self.service_type = s,
            ("Service", "Restart") => self.restart = s,
            ("Service", "RestartSec") => self.restart_sec = s,
            ("Service", "RemainAfterExit") => self.remain_after_exit = s,
            ("Service", "ExecReload") => {
                self.has_reload = !v.is_empty();
                add_line(&mut self.exec.reload, v);
            }
            ("Service", "ExecStartPre") => add_line(&mut self.exec.pre, v),
            ("Service", "ExecStart") => add_line(&mut self.exec.start, v),
            ("Service", "ExecStartPost") => add_line(&mut self.exec.post, v),
            ("Service", "ExecStop") => add_line(&mut self.exec.stop, v),
            ("Service", "Environment") => add_line(&mut self.environment, v),
            ("Service", "EnvironmentFile") => add_line(&mut self.environment_files, v),
            ("Service", "User") => self.user = s,
            ("Service", "Group") => self.group = s,
            ("Service", "WorkingDirectory") => self.working_directory = s,
            ("Service", "PIDFile") => self.pid_file = s,
            ("Service", "GuessMainPID") => self.guess_main_pid = is_yes(v),
            ("Service", "RuntimeDirectory") => add_words(&mut self.runtime_directory, v),
            ("Service", "TimeoutSec") => {
                self.timeout_start = s.clone();
                self.timeout_stop = s;
            }
            ("Service", "TimeoutStartSec") => self.timeout_start = s,
            ("Service", "TimeoutStopSec") => self.timeout_stop = s,
            ("Timer", "Unit") => self.timer_unit = s,
            ("Install", "WantedBy") => add_words(&mut self.wanted_by, v),
            ("Install", "RequiredBy") => add_words(&mut self.required_by, v),
            ("Install", "Alias") => add_words(&mut self.aliases, v),
            ("Install", "Also") => add_words(&mut self.also, v),
            ("Install", "DefaultInstance") => self.default_instance = s,
            _ => {}
        }
    }

    /// What systemd-sysv-generator makes of an init script's LSB header.
    fn apply_lsb(&mut self, text: &str, src: &str) {
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# Short-Description:") {
                self.description = format!("LSB: {}", trim(rest));
            } else if line.contains("reload") {
                self.has_reload = true;
            }
        }
        self.service_type = "forking".into();
        self.remain_after_exit = "yes".into();
        self.has_install = true;
        self.exec.start = vec![format!("{src} start")];
        self.exec.stop = vec![format!("{src} stop")];
        if self.has_reload {
            self.exec.reload = vec![format!("{src} reload")];
        }
        // Stops lsb's init-functions from redirecting the script back to systemctl.
        self.extra_env = Some("_SYSTEMCTL_SKIP_REDIRECT=true".into());
    }
}

/// systemd's specifiers %i %I %n %N %p %P %%; unknown ones are kept.
pub fn expand_specifiers(s: &str, r: &Resolved) -> String {
    let prefix = stem(&r.id).split('@').next().unwrap_or("").to_string();
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('i' | 'I') => out.push_str(r.instance.as_deref().unwrap_or("")),
            Some('n') => out.push_str(&r.id),
            Some('N') => out.push_str(stem(&r.id)),
            Some('p' | 'P') => out.push_str(&prefix),
            Some('%') => out.push('%'),
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    out
}

/// Drop-ins of the unit: a file name is taken from the highest-priority directory that has
/// it; they are applied in file-name order (as systemd does), so a later name wins.
pub fn dropin_paths(root: &Root, r: &Resolved) -> Vec<String> {
    let mut chosen: Vec<(String, String)> = Vec::new();
    for dir in UNIT_DIRS {
        for name in r.template.iter().chain(std::iter::once(&r.id)) {
            let d_name = format!("{name}.d");
            if !matches!(root.entry(dir, &d_name), Some(EntryKind::Dir | EntryKind::Link)) {
                continue;
            }
            let d = format!("{dir}/{d_name}");
            for (file, kind) in root.listing(&d).iter() {
                let is_file = match kind {
                    EntryKind::File => true,
                    EntryKind::Link => root::is_file(&root.p(&format!("{d}/{file}"))),
                    _ => false,
                };
                if !file.ends_with(".conf") || !is_file {
                    continue;
                }
                if chosen.iter().all(|(n, _)| n != file) {
                    chosen.push((file.clone(), format!("{d}/{file}")));
                }
            }
        }
    }
    chosen.sort_by(|a, b| a.0.cmp(&b.0));
    chosen.into_iter().map(|(_, path)| path).collect()
}

/// The unit's files, parsed (fragment and drop-ins, or the init script).
pub fn parse(root: &Root, r: &Resolved) -> UnitFile {
    let mut u = UnitFile { guess_main_pid: true, ..UnitFile::default() };
    match r.kind {
        Kind::File => {
            u.apply(&read_text(root, &r.frag));
            for path in dropin_paths(root, r) {
                u.apply(&read_text(root, &path));
                u.dropins.push(path);
            }
        }
        Kind::Sysv => u.apply_lsb(&read_text(root, &r.src), &r.src),
        Kind::Masked | Kind::None => {}
    }
    if u.service_type.is_empty() {
        u.service_type = "simple".into();
    }
    if u.restart.is_empty() {
        u.restart = "no".into();
    }
    if u.remain_after_exit.is_empty() {
        u.remain_after_exit = "no".into();
    }
    u.description = if u.description.is_empty() { r.id.clone() } else { expand_specifiers(&u.description, r) };
    u
}

pub fn read_text(root: &Root, abs: &str) -> String {
    fs::read(root.p(abs)).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default()
}

/// The raw value of KEY= in the unit's files, for properties not modelled: section-blind,
/// an empty assignment resets, others add words.
pub fn raw_key(root: &Root, r: &Resolved, u: &UnitFile, key: &str) -> String {
    if r.kind != Kind::File {
        return String::new();
    }
    let mut value = String::new();
    for path in std::iter::once(&r.frag).chain(u.dropins.iter()) {
        for line in read_text(root, path).lines() {
            let line = trim(line);
            let Some(rest) = line.strip_prefix(key) else { continue };
            if !rest.starts_with(['=', ' ', '\t']) {
                continue;
            }
            let Some((_, v)) = line.split_once('=') else { continue };
            let v = trim(v);
            if v.is_empty() {
                value.clear();
            } else if value.is_empty() {
                value = v.to_string();
            } else {
                value = format!("{value} {v}");
            }
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_normalized_like_systemctl() {
        assert_eq!(normalize("nginx"), "nginx.service");
        assert_eq!(normalize("/lib/systemd/system/cron.service"), "cron.service");
        assert_eq!(normalize("fstrim.timer"), "fstrim.timer");
        assert_eq!(normalize(".service"), ".service.service");
        let r = name_only("getty@tty1");
        assert_eq!((r.instance.as_deref(), r.template.as_deref()), (Some("tty1"), Some("getty@.service")));
        let t = name_only("getty@.service");
        assert_eq!((t.instance, t.template.as_deref()), (None, Some("getty@.service")));
    }

    #[test]
    fn parsing_follows_continuations_comments_and_resets() {
        let mut u = UnitFile::default();
        u.apply("# c\r\n; c\r\n[Unit]\r\n  Description = Odd %n unit \\\r\n  continued\r\n[Service]\nExecStart=/a\nExecStart=\nExecStart=/b x\nEnvironment=A=1\nEnvironment=B=2\n[Install]\nWantedBy=a.target b.target\n");
        assert_eq!(u.description, "Odd %n unit    continued");
        assert_eq!(u.exec.start, ["/b x"]);
        assert_eq!(u.environment, ["A=1", "B=2"]);
        assert_eq!(u.wanted_by, ["a.target", "b.target"]);
        assert!(u.has_install);
        let mut plain = UnitFile::default();
        plain.apply("[Service]\nExecReload=/bin/kill -HUP $MAINPID\n");
        assert!(plain.has_reload && !plain.has_install);
    }

    #[test]
    fn specifiers() {
        let r = name_only("getty@tty1.service");
        assert_eq!(
            expand_specifiers("Getty on %I (%n, %N, %p) 100%% %x %", &r),
            "Getty on tty1 (getty@tty1.service, getty@tty1, getty) 100% %x %"
        );
    }

    #[test]
    fn lsb_headers_make_a_forking_service() {
        let mut u = UnitFile::default();
        u.apply_lsb(
            "#!/bin/sh\n# Short-Description: Legacy daemon\ncase $1 in force-reload) ;; esac\n",
            "/etc/init.d/legacyd",
        );
        assert_eq!(u.description, "LSB: Legacy daemon");
        assert!(u.has_reload && u.has_install && u.remains());
        assert_eq!(u.exec.reload, ["/etc/init.d/legacyd reload"]);
    }
}
