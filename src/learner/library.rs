//! The challenge library: a directory of challenges, each named by its directory's name.
//! Without configuration it is the `challenges/` of the clone the binary was built from, so a
//! learner can type `sandbox start nginx-static` from any directory.

use std::path::{Path, PathBuf};

use crate::challenge::{Allowed, Challenge, ChallengeError};

use super::LearnerError;

/// The library the binary was built with.
pub const BUILT_IN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/challenges");

/// A library challenge as it loaded.
pub type Loaded = Result<Challenge, ChallengeError>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Library {
    pub root: PathBuf,
}

impl Library {
    /// The challenges' names, sorted.
    pub fn names(&self) -> Result<Vec<String>, LearnerError> {
        let entries = std::fs::read_dir(&self.root).map_err(|_| LearnerError::NoLibrary { root: self.root.clone() })?;
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .filter(|entry| entry.path().join(crate::challenge::MANIFEST).is_file())
            .filter_map(|entry| entry.file_name().to_str().map(String::from))
            .collect();
        names.sort();
        Ok(names)
    }

    /// Every challenge with how it loaded (a broken one is listed, not fatal).
    pub fn challenges(&self, allowed: &Allowed) -> Result<Vec<(String, Loaded)>, LearnerError> {
        Ok(self.names()?.into_iter().map(|name| (name.clone(), Challenge::load(&self.dir(&name), allowed))).collect())
    }

    pub fn dir(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// The challenge called `name`, or an error that suggests the closest name.
    pub fn find(&self, name: &str) -> Result<PathBuf, LearnerError> {
        let names = self.names()?;
        if names.iter().any(|known| known == name) {
            return Ok(self.dir(name));
        }
        let suggestion = closest(name, &names);
        Err(LearnerError::UnknownChallenge { name: name.to_string(), suggestion, root: self.root.clone() })
    }

    /// The library's name for `dir`, when `dir` is one of its challenges.
    pub fn name_of(&self, dir: &Path) -> Option<String> {
        let dir = dir.canonicalize().ok()?;
        let root = self.root.canonicalize().ok()?;
        (dir.parent()? == root).then(|| dir.file_name()?.to_str().map(String::from)).flatten()
    }
}

/// The known name most like `name`, when one is close enough to be a typo of it.
fn closest(name: &str, names: &[String]) -> Option<String> {
    names
        .iter()
        .map(|known| (strsim::jaro_winkler(name, known), known))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, known)| known.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typo_gets_the_closest_name_and_nonsense_gets_none() {
        let names = ["nginx-static", "nginx-config-fix", "vault-secrets"].map(String::from);
        assert_eq!(closest("ngnix-static", &names).as_deref(), Some("nginx-static"));
        assert_eq!(closest("vault", &names).as_deref(), Some("vault-secrets"));
        assert_eq!(closest("kubernetes", &names), None);
    }
}
