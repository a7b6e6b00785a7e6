//! A learner's workspace: a copy of a library challenge without its reference solution, so the
//! learner edits their own files (never the library's tracked starter), and a marker that says
//! which challenge it came from, for `run`, `hint`, progress and `reset`.

use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::LearnerError;

/// The marker file at a workspace's top.
pub const MARKER: &str = ".sandbox-workspace.toml";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workspace {
    /// The library's name for the challenge.
    pub challenge: String,
    /// The challenge's directory in the library it was started from.
    pub source: PathBuf,
    #[serde(skip)]
    pub dir: PathBuf,
}

impl Workspace {
    /// The workspace at `dir`, if `dir` is one.
    pub fn open(dir: &Path) -> Result<Option<Workspace>, LearnerError> {
        let path = dir.join(MARKER);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(LearnerError::Io { path, source }),
        };
        let workspace: Workspace = toml::from_str(&text)
            .map_err(|err| LearnerError::BadMarker { path, message: err.message().to_string() })?;
        Ok(Some(Workspace { dir: dir.to_path_buf(), ..workspace }))
    }

    /// Copies the challenge at `source` into `dir` (which must not exist), leaving out
    /// `solution` (relative to the challenge: its top directory, or the file itself).
    pub fn start(name: &str, source: &Path, solution: &Path, dir: &Path) -> Result<Workspace, LearnerError> {
        if dir.exists() || dir.is_symlink() {
            return Err(LearnerError::WorkspaceExists { dir: dir.to_path_buf() });
        }
        let source =
            source.canonicalize().map_err(|err| LearnerError::Io { path: source.to_path_buf(), source: err })?;
        copy_starter(&source, solution, dir)?;
        let workspace = Workspace { challenge: name.to_string(), source, dir: dir.to_path_buf() };
        let text = format!(
            "# Made by `sandbox start`: the challenge this workspace practises (`sandbox reset` restores it).\n{}",
            toml::to_string(&workspace).expect("a workspace serializes")
        );
        let marker = dir.join(MARKER);
        std::fs::write(&marker, text).map_err(|source| LearnerError::Io { path: marker, source })?;
        Ok(workspace)
    }

    /// Puts the starter files back: everything but the marker goes, the challenge is copied again.
    pub fn reset(&self, solution: &Path) -> Result<(), LearnerError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| LearnerError::Io { path, source }
        };
        for entry in std::fs::read_dir(&self.dir).map_err(io(&self.dir))? {
            let path = entry.map_err(io(&self.dir))?.path();
            if path.file_name().is_some_and(|name| name == MARKER) {
                continue;
            }
            let removed = if path.is_dir() && !path.is_symlink() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            removed.map_err(io(&path))?;
        }
        copy_starter(&self.source, solution, &self.dir)
    }
}

/// What of the challenge the learner gets: every file but the solution's.
fn copy_starter(source: &Path, solution: &Path, dir: &Path) -> Result<(), LearnerError> {
    let left_out = match solution.components().next() {
        Some(Component::Normal(top)) => PathBuf::from(top),
        _ => solution.to_path_buf(),
    };
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| LearnerError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let entries = walkdir::WalkDir::new(source).min_depth(1).into_iter().filter_entry(|entry| {
        entry.path().strip_prefix(source).map_or(true, |relative| relative != left_out && relative != Path::new(MARKER))
    });
    for entry in entries {
        let entry = entry.map_err(|err| LearnerError::Io { path: source.to_path_buf(), source: err.into() })?;
        let relative = entry.path().strip_prefix(source).expect("walkdir stays under its root");
        let target = dir.join(relative);
        let kind = entry.file_type();
        if kind.is_dir() {
            std::fs::create_dir_all(&target).map_err(io(&target))?;
        } else if kind.is_symlink() {
            // Inside the challenge: the loader refuses links that leave it.
            let link = std::fs::read_link(entry.path()).map_err(io(entry.path()))?;
            std::os::unix::fs::symlink(link, &target).map_err(io(&target))?;
        } else {
            // `copy` keeps the mode: check.sh stays executable.
            std::fs::copy(entry.path(), &target).map_err(io(&target))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn challenge() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in [
            ("challenge.toml", "title = \"t\"\n"),
            ("playbook.yml", "starter\n"),
            ("solution/playbook.yml", "answer\n"),
        ] {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        dir
    }

    #[test]
    fn a_workspace_has_the_starter_without_the_solution_and_reset_restores_it() {
        let library = challenge();
        let home = tempfile::tempdir().unwrap();
        let dir = home.path().join("t");
        let solution = Path::new("solution/playbook.yml");
        let workspace = Workspace::start("t", library.path(), solution, &dir).unwrap();
        assert!(dir.join("playbook.yml").is_file() && !dir.join("solution").exists());
        assert_eq!(Workspace::open(&dir).unwrap(), Some(workspace.clone()));
        std::fs::write(dir.join("playbook.yml"), "edited\n").unwrap();
        std::fs::write(dir.join("notes.txt"), "mine\n").unwrap();
        workspace.reset(solution).unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("playbook.yml")).unwrap(), "starter\n");
        assert!(!dir.join("notes.txt").exists() && dir.join(MARKER).is_file());
        assert!(matches!(
            Workspace::start("t", library.path(), solution, &dir),
            Err(LearnerError::WorkspaceExists { .. })
        ));
    }
}
