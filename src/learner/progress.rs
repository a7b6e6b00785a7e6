//! What a learner has done, per challenge: attempts, solved, hints shown. One JSON file under
//! the XDG data directory; a file that does not parse is reported and left as it is.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::LearnerError;

/// The file's name in the data directory.
pub const FILE: &str = "progress.json";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    #[serde(default)]
    pub challenges: BTreeMap<String, ChallengeProgress>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChallengeProgress {
    /// Attempts of the learner's own files (`--solution` runs and `sandbox test` never count).
    #[serde(default)]
    pub attempts: u32,
    /// An attempt passed on every platform that could run.
    #[serde(default)]
    pub solved: bool,
    #[serde(default)]
    pub hints_shown: usize,
}

/// Where a learner stands on a challenge (its `name` in JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    New,
    Attempted(u32),
    Solved,
}

impl serde::Serialize for Status {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::Attempted(_) => "attempted",
            Status::Solved => "solved",
        }
    }
}

impl Progress {
    pub fn of(&self, name: &str) -> ChallengeProgress {
        self.challenges.get(name).cloned().unwrap_or_default()
    }

    pub fn status(&self, name: &str) -> Status {
        match self.of(name) {
            ChallengeProgress { solved: true, .. } => Status::Solved,
            ChallengeProgress { attempts: 0, .. } => Status::New,
            ChallengeProgress { attempts, .. } => Status::Attempted(attempts),
        }
    }
}

/// The progress file of one learner.
#[derive(Debug, Clone)]
pub struct ProgressFile {
    pub path: PathBuf,
}

impl ProgressFile {
    pub fn in_dir(data_dir: &Path) -> ProgressFile {
        ProgressFile { path: data_dir.join(FILE) }
    }

    /// The progress so far (none yet when the file does not exist).
    pub fn load(&self) -> Result<Progress, LearnerError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Progress::default()),
            Err(source) => return Err(LearnerError::Io { path: self.path.clone(), source }),
        };
        serde_json::from_str(&text).map_err(|err| {
            let offset = offset_of(&text, err.line(), err.column());
            LearnerError::CorruptProgress {
                path: self.path.clone(),
                message: err.to_string(),
                src: miette::NamedSource::new(self.path.display().to_string(), text),
                span: (offset, 0).into(),
            }
        })
    }

    /// Loads, changes and writes the progress back (a whole new file renamed over the old:
    /// an interrupted write never leaves half a file).
    pub fn update(&self, change: impl FnOnce(&mut Progress)) -> Result<Progress, LearnerError> {
        let mut progress = self.load()?;
        change(&mut progress);
        let dir = self.path.parent().unwrap_or(Path::new("."));
        let io = |source| LearnerError::Io { path: self.path.clone(), source };
        std::fs::create_dir_all(dir).map_err(io)?;
        let mut file = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
        serde_json::to_writer_pretty(&mut file, &progress).map_err(|err| io(err.into()))?;
        file.persist(&self.path).map_err(|err| io(err.error))?;
        Ok(progress)
    }

    /// Counts an attempt of the learner's own files, and whether it solved the challenge.
    pub fn record_attempt(&self, name: &str, passed: bool) -> Result<Progress, LearnerError> {
        self.update(|progress| {
            let entry = progress.challenges.entry(name.to_string()).or_default();
            entry.attempts += 1;
            entry.solved |= passed;
        })
    }
}

/// The byte offset of serde_json's 1-based line and column.
fn offset_of(text: &str, line: usize, column: usize) -> usize {
    let start: usize = text.split_inclusive('\n').take(line.saturating_sub(1)).map(str::len).sum();
    (start + column.saturating_sub(1)).min(text.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_count_and_a_pass_solves_for_good() {
        let dir = tempfile::tempdir().unwrap();
        let file = ProgressFile::in_dir(&dir.path().join("sandbox"));
        assert_eq!(file.load().unwrap().status("x"), Status::New);
        file.record_attempt("x", false).unwrap();
        assert_eq!(file.load().unwrap().status("x"), Status::Attempted(1));
        file.record_attempt("x", true).unwrap();
        file.record_attempt("x", false).unwrap();
        let progress = file.load().unwrap();
        assert_eq!((progress.status("x"), progress.of("x").attempts), (Status::Solved, 3));
    }

    #[test]
    fn a_corrupt_file_is_an_error_at_its_place_and_stays_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let file = ProgressFile::in_dir(dir.path());
        let text = "{\"challenges\": {\"x\": {\"attempts\": \"two\"}}}";
        std::fs::write(&file.path, text).unwrap();
        let err = file.record_attempt("x", true).unwrap_err();
        assert!(matches!(err, LearnerError::CorruptProgress { .. }), "{err:?}");
        assert_eq!(std::fs::read_to_string(&file.path).unwrap(), text);
    }
}
