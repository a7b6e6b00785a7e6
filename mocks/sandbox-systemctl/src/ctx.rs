//! One call's context (root, options, services mode), and how it loads a unit with everything
//! the queries report about it (`Loaded`): its files, its recorded state (refreshed from its
//! processes in supervised mode), its enablement and preset.

use std::cell::OnceCell;
use std::io::Write;

use crate::cli::Options;
use crate::enablement::{self, FileState, Preset};
use crate::loaded::Loaded;
use crate::observe;
use crate::root::Root;
use crate::state::{self, MainRecord};
use crate::unit::{self, Kind, Resolved};

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
        enablement::preset_for(self.presets.get_or_init(|| enablement::load_presets(&self.root)), id)
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
            observe::refresh(&self.root, &mut loaded);
        }
        loaded
    }

    /// Everything `show` and `status` report, enablement and preset included.
    pub fn load_all(&self, name: &str) -> Loaded {
        let mut l = self.load(name);
        l.install = enablement::file_state(&self.root, &l.r, &l.file);
        if matches!(l.r.kind, Kind::File | Kind::Masked | Kind::Sysv) {
            l.preset = self.preset_of(&l.r.id).to_string();
        }
        l
    }
}
