//! Whether a unit is enabled, read from where systemd keeps it: `.wants/`/`.requires/` symlinks
//! and alias links under /etc/systemd/system (or /run/systemd/system for `--runtime`), masks,
//! rc.d links for SysV scripts, and the preset files. Only reads: `install` makes and removes
//! the links. Every call context loads a unit's state from here, so this imports nothing of the
//! commands.

use crate::root::{self, Root, ETC_UNITS, RUN_UNITS};
use crate::unit::{self, Kind, Resolved, UnitFile};

/// UnitFileState and the links that make a unit enabled.
#[derive(Debug, Clone, Default)]
pub struct FileState {
    /// "" for a unit that does not exist.
    pub state: String,
    pub links: Vec<String>,
}

/// The name of the links `enable` makes: a template enables its DefaultInstance=.
pub fn link_name(r: &Resolved, u: &UnitFile) -> String {
    if unit::is_template(&r.id) && !u.default_instance.is_empty() {
        let prefix = r.id.split('@').next().unwrap_or("");
        format!("{prefix}@{}.{}", u.default_instance, unit::suffix(&r.id))
    } else {
        r.id.clone()
    }
}

/// `.wants/NAME` and `.requires/NAME` links under BASE, as the target sees their paths.
pub fn dependency_links(root: &Root, base: &str, name: &str) -> Vec<String> {
    let dirs = root.listing(base);
    let mut links = Vec::new();
    for kind in [".wants", ".requires"] {
        for (d, _) in dirs.iter().filter(|(d, _)| d.ends_with(kind)) {
            let dir = format!("{base}/{d}");
            if root.entry(&dir, name).is_some() {
                links.push(format!("{dir}/{name}"));
            }
        }
    }
    links
}

/// Instance links (`getty@tty1.service`) of template ID under BASE's `.wants/` directories.
pub fn instance_links(root: &Root, base: &str, id: &str, kinds: &[&str]) -> Vec<String> {
    let prefix = format!("{}@", id.split('@').next().unwrap_or(""));
    let suffix = format!(".{}", unit::suffix(id));
    let mut links = Vec::new();
    for kind in kinds {
        for (d, _) in root.listing(base).iter().filter(|(d, _)| d.ends_with(kind)) {
            for (n, _) in root.listing(&format!("{base}/{d}")).iter() {
                if n.starts_with(&prefix) && n.ends_with(&suffix) && n.len() > prefix.len() + suffix.len() - 1 {
                    links.push(format!("{base}/{d}/{n}"));
                }
            }
        }
    }
    links
}

pub fn file_state(root: &Root, r: &Resolved, u: &UnitFile) -> FileState {
    let state = |s: &str| FileState { state: s.into(), links: Vec::new() };
    match r.kind {
        Kind::None => return FileState::default(),
        Kind::Masked => return state("masked"),
        Kind::Sysv => return state("generated"),
        Kind::File => {}
    }
    let name = link_name(r, u);
    let mut links = dependency_links(root, ETC_UNITS, &name);
    for alias in &u.aliases {
        if root.entry(ETC_UNITS, alias) == Some(root::EntryKind::Link) {
            links.push(format!("{ETC_UNITS}/{alias}"));
        }
    }
    if !links.is_empty() {
        return FileState { state: "enabled".into(), links };
    }
    let runtime = dependency_links(root, RUN_UNITS, &name);
    if !runtime.is_empty() {
        return FileState { state: "enabled-runtime".into(), links: runtime };
    }
    if !u.has_install {
        return state("static");
    }
    if u.wanted_by.is_empty() && u.required_by.is_empty() && u.aliases.is_empty() && !u.also.is_empty() {
        return state("indirect");
    }
    if unit::is_template(&r.id)
        && u.default_instance.is_empty()
        && !instance_links(root, ETC_UNITS, &r.id, &[".wants"]).is_empty()
    {
        return state("indirect");
    }
    state("disabled")
}

// ---------------------------------------------------------------------------- SysV rc links

pub fn rc_links(root: &Root, runlevel: u8, letter: char, script: &str) -> Vec<std::path::PathBuf> {
    let dir = format!("/etc/rc{runlevel}.d");
    root::names(&root.p(&dir))
        .into_iter()
        .filter(|n| {
            let b = n.as_bytes();
            b.len() == script.len() + 3
                && b[0] == letter as u8
                && b[1].is_ascii_digit()
                && b[2].is_ascii_digit()
                && &n[3..] == script
        })
        .map(|n| root.p(&format!("{dir}/{n}")))
        .collect()
}

pub fn sysv_enabled(root: &Root, r: &Resolved) -> bool {
    let script = unit::stem(&r.id);
    (2..=5).any(|level| !rc_links(root, level, 'S', script).is_empty())
}

// ---------------------------------------------------------------------------- presets

#[derive(Debug, Clone)]
pub struct Preset {
    pub enable: bool,
    pub pattern: String,
}

const PRESET_DIRS: [&str; 5] = [
    "/etc/systemd/system-preset",
    "/run/systemd/system-preset",
    "/lib/systemd/system-preset",
    "/usr/lib/systemd/system-preset",
    "/usr/local/lib/systemd/system-preset",
];

pub fn load_presets(root: &Root) -> Vec<Preset> {
    let mut rules = Vec::new();
    for dir in PRESET_DIRS {
        for file in root::names(&root.p(dir)).into_iter().filter(|f| f.ends_with(".preset")) {
            let text = unit::read_text(root, &format!("{dir}/{file}"));
            for line in text.lines() {
                let mut words = line.split_whitespace();
                let (Some(verb), Some(pattern)) = (words.next(), words.next()) else { continue };
                if verb == "enable" || verb == "disable" {
                    rules.push(Preset { enable: verb == "enable", pattern: pattern.to_string() });
                }
            }
        }
    }
    rules
}

/// enabled/disabled for ID: the first rule that matches; no rule means enabled (Debian).
pub fn preset_for(rules: &[Preset], id: &str) -> &'static str {
    match rules.iter().find(|p| root::glob_match(&p.pattern, id)) {
        Some(p) if !p.enable => "disabled",
        _ => "enabled",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_matching_preset_wins() {
        let rules = vec![
            Preset { enable: true, pattern: "nginx.service".into() },
            Preset { enable: false, pattern: "*".into() },
        ];
        assert_eq!(preset_for(&rules, "nginx.service"), "enabled");
        assert_eq!(preset_for(&rules, "cron.service"), "disabled");
        assert_eq!(preset_for(&[], "cron.service"), "enabled");
    }

    #[test]
    fn templates_enable_their_default_instance() {
        let r = unit::name_only("getty@.service");
        let mut u = UnitFile::default();
        assert_eq!(link_name(&r, &u), "getty@.service");
        u.default_instance = "tty1".into();
        assert_eq!(link_name(&r, &u), "getty@tty1.service");
    }
}
