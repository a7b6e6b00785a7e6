//! The learner's side of the tool: the challenge library, workspaces made from it, and the
//! progress kept between attempts. Commands name a challenge by its library name or by a
//! directory (a workspace or a challenge); `open` decides which.

pub mod library;
pub mod progress;
pub mod workspace;

use std::path::{Component, Path, PathBuf};

use miette::{Diagnostic, NamedSource, SourceSpan};

use crate::challenge::{Allowed, Challenge, ChallengeError, MANIFEST};
use library::Library;
use workspace::Workspace;

#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum LearnerError {
    #[error("no challenge called `{name}` in the library ({})", root.display())]
    #[diagnostic(code(sandbox::learner::unknown_challenge), help("{}", match suggestion {
        Some(name) => format!("did you mean `{name}`? `sandbox list` shows them all"),
        None => "`sandbox list` shows the challenges".to_string(),
    }))]
    UnknownChallenge { name: String, suggestion: Option<String>, root: PathBuf },

    #[error("the challenge library {} cannot be read", root.display())]
    #[diagnostic(
        code(sandbox::learner::no_library),
        help("set SANDBOX_LIBRARY (or `library = \"PATH\"` in the config file) to a directory of challenges")
    )]
    NoLibrary { root: PathBuf },

    #[error("{} already exists", dir.display())]
    #[diagnostic(
        code(sandbox::learner::workspace_exists),
        help("nothing was changed; pick another place with --dir, or `sandbox reset` that workspace")
    )]
    WorkspaceExists { dir: PathBuf },

    #[error("{} is not a workspace made by `sandbox start`", dir.display())]
    #[diagnostic(
        code(sandbox::learner::not_a_workspace),
        help("`sandbox start NAME` makes one; a library challenge itself is restored with git")
    )]
    NotAWorkspace { dir: PathBuf },

    #[error("{} is not a workspace marker: {message}", path.display())]
    #[diagnostic(code(sandbox::learner::bad_marker), help("`sandbox start` writes it; restore or remove it"))]
    BadMarker { path: PathBuf, message: String },

    #[error("the progress file {} cannot be read: {message}", path.display())]
    #[diagnostic(
        code(sandbox::learner::corrupt_progress),
        help("it was left as it is: fix it by hand, or move it away to start counting afresh")
    )]
    CorruptProgress {
        path: PathBuf,
        message: String,
        #[source_code]
        src: NamedSource<String>,
        #[label("here")]
        span: SourceSpan,
    },

    #[error("resetting {} discards your edits: run it again with --yes", dir.display())]
    #[diagnostic(code(sandbox::learner::reset_unconfirmed))]
    ResetUnconfirmed { dir: PathBuf },

    #[error("cannot write {}", path.display())]
    #[diagnostic(code(sandbox::learner::io))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What a command's NAME|DIR argument names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    /// The challenge's directory.
    pub dir: PathBuf,
    /// Its name in the library, when it is a library challenge or a workspace made from one.
    pub name: Option<String>,
    pub workspace: Option<Workspace>,
}

impl Opened {
    /// A directory that exists is taken as it is (a workspace, a library challenge or any
    /// challenge); otherwise a bare name is looked up in the library.
    pub fn open(target: &Path, library: &Library) -> Result<Opened, LearnerError> {
        if target.is_dir() {
            let workspace = Workspace::open(target)?;
            let name = workspace.as_ref().map(|w| w.challenge.clone()).or_else(|| library.name_of(target));
            return Ok(Opened { dir: target.to_path_buf(), name, workspace });
        }
        let mut components = target.components();
        match (components.next(), components.next()) {
            (Some(Component::Normal(name)), None) if !target.join(MANIFEST).exists() => {
                let name = name.to_string_lossy().into_owned();
                Ok(Opened { dir: library.find(&name)?, name: Some(name), workspace: None })
            }
            // A path: the loader says what is wrong with it.
            _ => Ok(Opened { dir: target.to_path_buf(), name: None, workspace: None }),
        }
    }

    /// The challenge as an attempt sees it: a workspace's own files with its library solution.
    pub fn load(&self, allowed: &Allowed) -> Result<Challenge, ChallengeError> {
        match &self.workspace {
            Some(workspace) => Challenge::load_workspace(&self.dir, allowed, &workspace.source),
            None => Challenge::load(&self.dir, allowed),
        }
    }

    /// What `--solution` runs: in a workspace, the library's challenge it came from. It has
    /// no name: the reference solution's runs never count as the learner's attempts.
    pub fn for_solution(self) -> Opened {
        let dir = self.workspace.map_or(self.dir, |workspace| workspace.source);
        Opened { dir, name: None, workspace: None }
    }
}

/// A row of `sandbox list` (and an object of `--json`: the field names are a contract).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ListEntry {
    pub name: String,
    pub title: String,
    pub track: &'static str,
    pub topic: String,
    pub difficulty: &'static str,
    /// The platforms a run covers on this host.
    pub platforms: Vec<String>,
    /// `new`, `attempted` or `solved`.
    pub status: progress::Status,
    pub attempts: u32,
}

impl ListEntry {
    /// A challenge whose manifest does not load: listed, so the learner sees it exists.
    pub fn broken(name: &str, status: progress::Status, attempts: u32) -> ListEntry {
        ListEntry {
            name: name.to_string(),
            title: "(does not load: `sandbox lint` says why)".into(),
            track: "",
            topic: String::new(),
            difficulty: "",
            platforms: Vec::new(),
            status,
            attempts,
        }
    }
}

/// What `sandbox hint` has to say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HintShown<'a> {
    Next {
        number: usize,
        of: usize,
        text: &'a str,
    },
    /// Every hint was shown already (or the challenge has none).
    NoMore {
        hints: &'a [String],
    },
}

/// Where `sandbox start` puts a workspace unless told: `./NAME`.
pub fn default_workspace(name: &str) -> PathBuf {
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_looked_up_in_the_library_and_a_directory_is_taken_as_it_is() {
        let library = Library { root: PathBuf::from(library::BUILT_IN) };
        let opened = Opened::open(Path::new("nginx-static"), &library).unwrap();
        assert_eq!(opened.name.as_deref(), Some("nginx-static"));
        assert!(opened.dir.ends_with("challenges/nginx-static"));
        let by_path = Opened::open(&opened.dir, &library).unwrap();
        assert_eq!(by_path.name.as_deref(), Some("nginx-static"), "a library challenge's directory keeps its name");
        assert!(matches!(
            Opened::open(Path::new("ngnix-static"), &library),
            Err(LearnerError::UnknownChallenge { suggestion: Some(_), .. })
        ));
    }
}
