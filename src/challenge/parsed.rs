//! The manifest while it is validated: its text, which every diagnostic points into, and its
//! directory, which every file it names must stay inside. Each section's validation is a
//! method of `Parsed` in the section's own file; the helpers they share are here.

use std::path::{Component, Path, PathBuf};

use miette::NamedSource;
use toml::Spanned;

use super::allowed::Allowed;
use super::error::ChallengeError;

pub(super) struct Parsed {
    pub(super) text: String,
    pub(super) name: String,
    pub(super) dir: PathBuf,
    pub(super) allowed: Allowed,
    /// Where the solution is, when not in `dir` (a workspace's library challenge).
    pub(super) solution_in: Option<PathBuf>,
}

impl Parsed {
    pub(super) fn src(&self) -> NamedSource<String> {
        NamedSource::new(&self.name, self.text.clone())
    }

    /// A key the manifest lacks (or has in the wrong kind of challenge), pointed at the top.
    pub(super) fn missing(&self, key: &'static str, message: &str) -> ChallengeError {
        self.invalid(key, message, 0..0)
    }

    pub(super) fn invalid(&self, key: &'static str, message: &str, span: std::ops::Range<usize>) -> ChallengeError {
        ChallengeError::InvalidValue { key, message: message.to_string(), src: self.src(), span: span.into() }
    }

    /// A directory named in the manifest (or its default), inside the challenge.
    pub(super) fn dir_in_challenge(
        &self,
        what: &'static str,
        value: Option<&Spanned<String>>,
        default: &str,
    ) -> Result<PathBuf, ChallengeError> {
        let text = value.map_or(default, |v| v.get_ref().as_str());
        let span = value.map(Spanned::span).unwrap_or(0..0);
        let relative = PathBuf::from(text);
        let inside = relative.components().all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
            && self.dir.join(&relative).canonicalize().is_ok_and(|real| real.starts_with(&self.dir));
        if !inside && self.dir.join(&relative).exists() {
            return Err(ChallengeError::PathOutside {
                what,
                value: text.to_string(),
                src: self.src(),
                span: span.into(),
                dir: self.dir.clone(),
            });
        }
        if !inside || !self.dir.join(&relative).is_dir() {
            return Err(ChallengeError::MissingFile {
                what,
                value: text.to_string(),
                src: self.src(),
                span: span.into(),
                dir: self.dir.clone(),
            });
        }
        Ok(relative)
    }

    /// Resolves a file named in the manifest (or its default) and proves it stays inside.
    pub(super) fn file_in_challenge(
        &self,
        what: &'static str,
        key: &'static str,
        value: Option<&Spanned<String>>,
        default: &str,
    ) -> Result<PathBuf, ChallengeError> {
        let Some(value) = value else {
            let path = PathBuf::from(default);
            if !self.dir.join(&path).is_file() {
                return Err(ChallengeError::MissingDefaultFile { what, key, path: self.dir.join(path) });
            }
            return Ok(path);
        };
        let relative = PathBuf::from(value.get_ref());
        let outside = || ChallengeError::PathOutside {
            what,
            value: value.get_ref().clone(),
            src: self.src(),
            span: value.span().into(),
            dir: self.dir.clone(),
        };
        if relative.components().any(|c| !matches!(c, Component::Normal(_) | Component::CurDir)) {
            return Err(outside());
        }
        let full = self.dir.join(&relative);
        match full.canonicalize() {
            Ok(real) if !real.starts_with(&self.dir) => Err(outside()),
            Ok(real) if real.is_file() => Ok(relative),
            _ => Err(ChallengeError::MissingFile {
                what,
                value: value.get_ref().clone(),
                src: self.src(),
                span: value.span().into(),
                dir: self.dir.clone(),
            }),
        }
    }
}

/// The whole directory is shipped into the controller: a link out of it would ship host files.
pub(super) fn reject_outward_symlinks(dir: &Path) -> Result<(), ChallengeError> {
    for entry in walkdir::WalkDir::new(dir).follow_links(false).into_iter().flatten() {
        if entry.path_is_symlink() {
            let inside = entry.path().canonicalize().map(|real| real.starts_with(dir)).unwrap_or(false);
            if !inside {
                return Err(ChallengeError::SymlinkOutside { link: entry.path().to_path_buf() });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::challenge::fixture::challenge_dir;
    use crate::challenge::{Allowed, Challenge, ChallengeError};

    #[test]
    fn paths_outside_the_challenge_are_rejected() {
        let dir = challenge_dir("title = \"t\"\ndistros = [\"debian-12\"]\ncheck = \"../../etc/passwd\"\n");
        assert!(matches!(
            Challenge::load(dir.path(), &Allowed::default()).unwrap_err(),
            ChallengeError::PathOutside { .. }
        ));
    }

    #[test]
    fn outward_symlink_is_rejected() {
        let dir = challenge_dir("title = \"t\"\ndistros = [\"debian-12\"]\n");
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("files")).unwrap();
        assert!(matches!(
            Challenge::load(dir.path(), &Allowed::default()).unwrap_err(),
            ChallengeError::SymlinkOutside { .. }
        ));
    }
}
