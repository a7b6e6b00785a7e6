//! A challenge directory: `challenge.toml` read in two phases.
//!
//! `RawChallenge` mirrors the file (unknown keys rejected, values kept with their spans);
//! `Challenge` is the validated form with resolved paths and parsed limits. Every semantic
//! error points at the span of the value that caused it, so an author sees the line to fix.
//!
//! `manifest` reads the file whole and ties its sections together; each section is validated
//! in a file of its own (`run_settings`, `limits`, `prepare`, the Docker track's `image`, the
//! Ansible track's `goss`), as a method of `parsed::Parsed`, the manifest's text and
//! directory that every diagnostic and path check needs. `allowed` is what the operator
//! permits, `error` every way a challenge is refused, `discovery` where challenges are found.

mod allowed;
mod discovery;
pub mod dockerfile;
mod error;
pub mod goss;
pub mod image;
mod limits;
pub mod lint;
mod manifest;
mod parsed;
mod prepare;
mod run_settings;
pub mod scaffold;
pub mod structure;
pub mod touched;

pub use self::allowed::{Allowed, Ceilings, MAX_BUILD_WRITES};
pub use self::discovery::{discover, DEFAULT_ROOT};
pub use self::error::ChallengeError;
pub use self::image::{Track, TrackKind};
pub use self::limits::{Limits, DEFAULT_BUILD_WRITES, DEFAULT_MEMORY};
pub use self::manifest::{Challenge, Difficulty, PlaybookChoice};
pub use self::prepare::Prepare;
pub use self::run_settings::{Network, RunSettings, ServicesMode, Strategy};

pub const MANIFEST: &str = "challenge.toml";

/// What the loaders' unit tests start from.
#[cfg(test)]
mod fixture {
    use super::MANIFEST;

    /// A minimal Ansible challenge (a playbook, its solution, check.sh) with `toml` as its manifest.
    pub(super) fn challenge_dir(toml: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(MANIFEST), toml).unwrap();
        std::fs::write(dir.path().join("playbook.yml"), "- hosts: all\n  tasks: []\n").unwrap();
        std::fs::create_dir(dir.path().join("solution")).unwrap();
        std::fs::write(dir.path().join("solution/playbook.yml"), "- hosts: all\n  tasks: []\n").unwrap();
        std::fs::write(dir.path().join("check.sh"), "#!/bin/sh\n").unwrap();
        dir
    }
}
