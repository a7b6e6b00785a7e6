//! A unit as one call sees it: its files, its recorded state, what its processes say (in
//! supervised mode) and its enablement. Loading one is the call context's (`Ctx::load`); this
//! is only the value, so the layers below the context (the supervised units' observer) can
//! take it too.

use crate::enablement::FileState;
use crate::state::{Active, MainRecord, Recorded};
use crate::unit::{self, Resolved, UnitFile};

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
