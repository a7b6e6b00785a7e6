//! One call's context (root, options, services mode) and a unit loaded with everything the
//! queries report about it: its files, its recorded state (refreshed from its processes in
//! supervised mode), its sub-state and its enablement.

use std::cell::OnceCell;
use std::io::Write;

use crate::cli::Options;
use crate::install::{self, FileState, Preset};
use crate::root::Root;
use crate::state::{self, Active, MainRecord, Recorded};
use crate::supervisor;
use crate::unit::{self, Kind, Resolved, UnitFile};

/// Which services mode the target is in (/etc/sandbox/services, written by the run).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// State only: no process is ever started.
    Mock,
    /// Services really run (see `supervisor`).
    Supervised,
}

pub const MODE_FILE: &str = "/etc/sandbox/services";

pub struct Ctx {
    pub root: Root,
    pub opts: Options,
    pub mode: Mode,
    presets: OnceCell<Vec<Preset>>,
}

impl Ctx {
    pub fn new(root: Root, opts: Options) -> Ctx {
        let mode = match root.first_line(MODE_FILE) {
            Some(line) if line == "supervised" => Mode::Supervised,
            _ => Mode::Mock,
        };
        Ctx { root, opts, mode, presets: OnceCell::new() }
    }

    pub fn say(&self, line: &str) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
    }

    pub fn err(&self, line: &str) {
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    }

    /// A progress message on stderr that `-q` silences.
    pub fn note(&self, line: &str) {
        if !self.opts.quiet {
            self.err(line);
        }
    }

    pub fn preset_of(&self, id: &str) -> &'static str {
        install::preset_for(self.presets.get_or_init(|| install::load_presets(&self.root)), id)
    }

    /// Whether unit R really runs: a service with a file or init script, in supervised mode.
    /// PID 1 runs the target's own sshd and Ansible talks through it: a second sshd could not
    /// bind port 22, so ssh.service keeps state-only answers.
    pub fn supervises(&self, r: &Resolved) -> bool {
        self.mode == Mode::Supervised
            && r.is_service()
            && matches!(r.kind, Kind::File | Kind::Sysv)
            && r.id != "ssh.service"
    }

    /// Files and state of unit NAME (looked up), without enablement.
    pub fn load(&self, name: &str) -> Loaded {
        let r = unit::resolve(&self.root, name);
        self.load_resolved(r)
    }

    pub fn load_resolved(&self, r: Resolved) -> Loaded {
        let file = unit::parse(&self.root, &r);
        let recorded = state::load(&self.root, &r);
        let mut loaded = Loaded {
            r,
            file,
            recorded,
            main: MainRecord::default(),
            sup_sub: None,
            install: FileState::default(),
            preset: String::new(),
        };
        if self.supervises(&loaded.r) {
            supervisor::refresh(self, &mut loaded);
        }
        loaded
    }

    /// Everything `show` and `status` report, enablement and preset included.
    pub fn load_all(&self, name: &str) -> Loaded {
        let mut l = self.load(name);
        l.install = install::file_state(&self.root, &l.r, &l.file);
        if matches!(l.r.kind, Kind::File | Kind::Masked | Kind::Sysv) {
            l.preset = self.preset_of(&l.r.id).to_string();
        }
        l
    }
}

/// A unit as one call sees it.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub r: Resolved,
    pub file: UnitFile,
    pub recorded: Recorded,
    /// Supervised mode: the last main process.
    pub main: MainRecord,
    /// Supervised mode: what the processes say the sub-state is (`running`, `exited`).
    pub sup_sub: Option<&'static str>,
    pub install: FileState,
    pub preset: String,
}

impl Loaded {
    pub fn active(&self) -> &Active {
        &self.recorded.active
    }

    pub fn id(&self) -> &str {
        &self.r.id
    }

    /// SubState, as systemd names it for each unit type.
    pub fn sub_state(&self) -> &str {
        match self.active() {
            Active::Active => match unit::suffix(&self.r.id) {
                "service" => match self.sup_sub {
                    Some(sub) => sub,
                    None if self.file.is_oneshot() => "exited",
                    None => "running",
                },
                "timer" | "path" | "automount" => "waiting",
                "socket" => "listening",
                "mount" => "mounted",
                "device" => "plugged",
                _ => "active",
            },
            Active::Failed => "failed",
            Active::Activating => "start",
            Active::Deactivating => "stop",
            Active::Reloading => "reload",
            _ => "dead",
        }
    }

    /// "nginx.service - A high performance web server", or just the name.
    pub fn desc_full(&self) -> String {
        if self.file.description == self.r.id {
            self.r.id.clone()
        } else {
            format!("{} - {}", self.r.id, self.file.description)
        }
    }
}

/// An I/O error as systemctl words it ("Permission denied"), without Rust's "(os error 13)".
pub fn errno_text(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}
