//! What a unit is doing, kept on disk between calls (there is no resident manager): one file
//! per unit under /var/lib/sandbox-systemctl holding its active state and since when, and in
//! supervised mode a record of its main process and how that ended.
//!
//! The formats are the sh mock's, so a target prepared by either reads the other's state.

use std::fs;
use std::io;

use crate::root::{Root, STATE_DIR};
use crate::time;
use crate::unit::{LoadState, Resolved};

/// ActiveState, named as systemd names it (hence `Active::Active`).
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Active {
    Active,
    Inactive,
    Failed,
    Activating,
    Deactivating,
    Reloading,
    /// Whatever else a state file says, shown as it is.
    Other(String),
}

impl Active {
    pub fn parse(s: &str) -> Active {
        match s {
            "active" => Active::Active,
            "inactive" => Active::Inactive,
            "failed" => Active::Failed,
            "activating" => Active::Activating,
            "deactivating" => Active::Deactivating,
            "reloading" => Active::Reloading,
            other => Active::Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Active::Active => "active",
            Active::Inactive => "inactive",
            Active::Failed => "failed",
            Active::Activating => "activating",
            Active::Deactivating => "deactivating",
            Active::Reloading => "reloading",
            Active::Other(s) => s,
        }
    }

    /// active or on its way somewhere: what `stop` acts on.
    pub fn is_busy(&self) -> bool {
        matches!(self, Active::Active | Active::Activating | Active::Reloading | Active::Deactivating)
    }
}

/// Targets a booted system has reached: the container counts as booted.
const BOOT_TARGETS: [&str; 17] = [
    "sysinit.target",
    "basic.target",
    "multi-user.target",
    "local-fs.target",
    "local-fs-pre.target",
    "sockets.target",
    "timers.target",
    "paths.target",
    "slices.target",
    "swap.target",
    "network.target",
    "network-pre.target",
    "network-online.target",
    "getty.target",
    "remote-fs.target",
    "nss-user-lookup.target",
    "cryptsetup.target",
];

/// A unit's recorded state.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub active: Active,
    pub since_epoch: Option<i64>,
    /// "Tue 2023-11-14 22:13:20 UTC"; empty when never changed.
    pub since: String,
}

pub fn state_path(root: &Root, id: &str) -> std::path::PathBuf {
    root.p(&format!("{STATE_DIR}/{id}"))
}

pub fn load(root: &Root, r: &Resolved) -> Recorded {
    let text = fs::read_to_string(state_path(root, &r.id)).unwrap_or_default();
    let mut lines = text.lines();
    let first = lines.next().unwrap_or("");
    let since_epoch = lines.next().and_then(|l| l.trim().parse().ok());
    let since = lines.next().unwrap_or("").to_string();
    let active = if !first.is_empty() {
        Active::parse(first)
    } else if r.load == LoadState::Loaded && BOOT_TARGETS.contains(&r.id.as_str()) {
        Active::Active
    } else {
        Active::Inactive
    };
    Recorded { active, since_epoch, since }
}

/// Records STATE for unit ID now; fails when the state directory cannot be written (what an
/// unprivileged caller gets).
pub fn save(root: &Root, id: &str, state: &Active) -> io::Result<Recorded> {
    let dir = root.p(STATE_DIR);
    let _ = fs::create_dir_all(&dir);
    let now = time::now();
    let since = time::format_local(now, "%a %Y-%m-%d %H:%M:%S %Z");
    fs::write(state_path(root, id), format!("{}\n{now}\n{since}\n", state.as_str()))?;
    Ok(Recorded { active: state.clone(), since_epoch: Some(now), since })
}

/// Units whose recorded state is `failed` (files directly in the state directory).
pub fn failed_units(root: &Root) -> Vec<String> {
    crate::root::names(&root.p(STATE_DIR))
        .into_iter()
        .filter(|name| {
            let path = root.p(&format!("{STATE_DIR}/{name}"));
            crate::root::is_file(&path) && crate::root::first_line(&path).as_deref() == Some("failed")
        })
        .collect()
}

/// How the last main process of a supervised unit ended, as `show` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MainRecord {
    pub pid: i32,
    /// Whether the main process is our grandchild, whose end a supervisor records.
    pub watched: bool,
    pub result: String,
    /// 0 none, 1 exited, 2 killed (ExecMainCode).
    pub code: i32,
    pub status: i32,
    /// Restarts by Restart= since the last start (NRestarts).
    pub restarts: u32,
}

impl Default for MainRecord {
    fn default() -> Self {
        MainRecord { pid: 0, watched: false, result: "success".into(), code: 0, status: 0, restarts: 0 }
    }
}

impl MainRecord {
    pub fn parse(line: &str) -> MainRecord {
        let mut f = line.split_whitespace();
        let mut number = || f.next().and_then(|v| v.parse::<i64>().ok());
        let pid = number().filter(|p| *p >= 0).unwrap_or(0) as i32;
        let watched = number() == Some(1);
        let result = f.next().map(String::from).unwrap_or_else(|| "success".into());
        let mut number = || f.next().and_then(|v| v.parse::<i64>().ok());
        let code = number().unwrap_or(0) as i32;
        let status = number().unwrap_or(0) as i32;
        let restarts = number().unwrap_or(0) as u32;
        MainRecord { pid, watched, result, code, status, restarts }
    }

    pub fn line(&self) -> String {
        let watched = u8::from(self.watched);
        format!("{} {watched} {} {} {} {}\n", self.pid, self.result, self.code, self.status, self.restarts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn main_record_round_trips_and_tolerates_junk() {
        let rec = MainRecord { pid: 42, watched: true, result: "signal".into(), code: 2, status: 9, restarts: 3 };
        assert_eq!(MainRecord::parse("42 1 success 0 0").restarts, 0, "the sh mock's records have no count");
        assert_eq!(MainRecord::parse(&rec.line()), rec);
        assert_eq!(MainRecord::parse("x"), MainRecord::default());
    }

    #[test]
    fn state_transitions_are_recorded_and_boot_targets_are_reached() {
        let dir = std::env::temp_dir().join(format!("sandbox-systemctl-state-{}", std::process::id()));
        let root = Root::new(dir.to_str().unwrap());
        let mut r = crate::unit::name_only("multi-user.target");
        assert_eq!(load(&root, &r).active, Active::Inactive, "not loaded: no file");
        r.load = LoadState::Loaded;
        assert_eq!(load(&root, &r).active, Active::Active);
        let nginx = crate::unit::name_only("nginx");
        save(&root, &nginx.id, &Active::Failed).unwrap();
        assert_eq!(failed_units(&root), ["nginx.service"]);
        let got = load(&root, &nginx);
        assert_eq!(got.active, Active::Failed);
        assert!(got.since_epoch.is_some() && !got.since.is_empty());
        save(&root, &nginx.id, &Active::Inactive).unwrap();
        assert!(failed_units(&root).is_empty());
        fs::remove_dir_all(dir).unwrap();
    }
}
