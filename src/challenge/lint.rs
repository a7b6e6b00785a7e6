//! `sandbox lint`: what can be proven about a challenge without Docker.
//!
//! The manifest goes through `Challenge::load` (schema, distros, files inside the directory);
//! on top of that the check script must be runnable and both playbooks must be YAML holding
//! at least one play. Every finding is a miette diagnostic; warnings do not fail.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use miette::{Diagnostic, NamedSource, SourceSpan};
use yaml_rust2::{Yaml, YamlLoader};

use crate::challenge::{Allowed, Challenge, ChallengeError, Track};

#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum Finding {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Manifest(#[from] ChallengeError),

    #[error("check script {} is not executable", path.display())]
    #[diagnostic(code(sandbox::lint::check_not_executable), help("chmod +x {}", path.display()))]
    CheckNotExecutable { path: PathBuf },

    #[error("check script {} has no shebang", path.display())]
    #[diagnostic(
        code(sandbox::lint::check_no_shebang),
        help("start it with `#!/bin/sh`: it runs inside minimal targets where sh is the one shell sure to exist")
    )]
    CheckNoShebang {
        path: PathBuf,
        #[source_code]
        src: NamedSource<String>,
        #[label("expected `#!` and an interpreter here")]
        span: SourceSpan,
    },

    #[error("{} is not valid YAML: {message}", path.display())]
    #[diagnostic(code(sandbox::lint::playbook_syntax))]
    PlaybookSyntax {
        path: PathBuf,
        message: String,
        #[source_code]
        src: NamedSource<String>,
        #[label("{message}")]
        span: SourceSpan,
    },

    #[error("{} holds no play", path.display())]
    #[diagnostic(
        code(sandbox::lint::playbook_no_play),
        help("a playbook is a list of plays, each with `hosts:` (e.g. `- hosts: all` followed by `tasks:`)")
    )]
    PlaybookNoPlay {
        path: PathBuf,
        #[source_code]
        src: NamedSource<String>,
        #[label("{reason}")]
        span: SourceSpan,
        reason: String,
    },

    #[error("no README.md in {}", dir.display())]
    #[diagnostic(
        code(sandbox::lint::no_readme),
        severity(Warning),
        help("learners read the task there: goal, requirements, hints")
    )]
    NoReadme { dir: PathBuf },

    #[error(transparent)]
    #[diagnostic(transparent)]
    Dockerfile(Box<super::dockerfile::DockerfileError>),

    #[error("challenge.toml in {} sets no `{key}`", dir.display())]
    #[diagnostic(code(sandbox::lint::no_metadata), severity(Warning), help("listings and the README table show it"))]
    NoMetadata { dir: PathBuf, key: &'static str },
}

impl Finding {
    pub fn is_error(&self) -> bool {
        !matches!(self.severity(), Some(miette::Severity::Warning | miette::Severity::Advice))
    }
}

/// Every finding for one challenge directory, errors first.
pub fn lint(dir: &Path, allowed: &Allowed) -> Vec<Finding> {
    let challenge = match Challenge::load(dir, allowed) {
        Ok(challenge) => challenge,
        Err(err) => return vec![err.into()],
    };
    let mut findings = Vec::new();
    // Diagnostics name files as the user named the challenge, not canonicalized.
    findings.extend(lint_check_script(&challenge.file(&challenge.check), &dir.join(&challenge.check)));
    for learner_file in [&challenge.starter, &challenge.solution] {
        let (path, shown) = (challenge.file(learner_file), dir.join(learner_file));
        findings.extend(match &challenge.track {
            Track::Ansible => lint_playbook(&path, &shown),
            Track::Docker(_) => lint_dockerfile(&path, &shown, &challenge),
        });
    }
    if !challenge.dir.join("README.md").is_file() {
        findings.push(Finding::NoReadme { dir: dir.to_path_buf() });
    }
    if challenge.topic.is_none() {
        findings.push(Finding::NoMetadata { dir: dir.to_path_buf(), key: "topic" });
    }
    if challenge.difficulty.is_none() {
        findings.push(Finding::NoMetadata { dir: dir.to_path_buf(), key: "difficulty" });
    }
    findings.sort_by_key(|finding| !finding.is_error());
    findings
}

fn lint_check_script(path: &Path, shown: &Path) -> Vec<Finding> {
    let mut findings = Vec::new();
    let executable = std::fs::metadata(path).map(|m| m.permissions().mode() & 0o111 != 0).unwrap_or(false);
    if !executable {
        findings.push(Finding::CheckNotExecutable { path: shown.to_path_buf() });
    }
    let text = std::fs::read_to_string(path).unwrap_or_default();
    if !text.starts_with("#!") {
        let first_line = text.lines().next().map_or(0, str::len);
        findings.push(Finding::CheckNoShebang {
            path: shown.to_path_buf(),
            src: NamedSource::new(shown.display().to_string(), text.clone()),
            span: (0, first_line).into(),
        });
    }
    findings
}

/// A Dockerfile must name only allowed base images and stay inside its context, as a build
/// would refuse it.
fn lint_dockerfile(path: &Path, shown: &Path, challenge: &Challenge) -> Option<Finding> {
    let text = std::fs::read_to_string(path).ok()?;
    let allowed: Vec<&str> = challenge.distros.iter().map(|d| d.base_image).collect();
    let err = super::dockerfile::check(&text, &shown.display().to_string(), &allowed).err()?;
    Some(Finding::Dockerfile(Box::new(err)))
}

/// A playbook must parse and hold at least one play (`hosts:`) or an `import_playbook`.
pub fn lint_playbook(path: &Path, shown: &Path) -> Option<Finding> {
    let text = std::fs::read_to_string(path).ok()?;
    let src = || NamedSource::new(shown.display().to_string(), text.clone());
    let documents = match YamlLoader::load_from_str(&text) {
        Ok(documents) => documents,
        Err(err) => {
            // At end of input (an unclosed bracket) point at the last character written.
            let offset = byte_offset(&text, err.marker().index()).min(text.trim_end().len().saturating_sub(1));
            return Some(Finding::PlaybookSyntax {
                path: shown.to_path_buf(),
                message: err.info().to_string(),
                src: src(),
                span: (offset, 1.min(text.len() - offset)).into(),
            });
        }
    };
    let no_play = |reason: &str| Finding::PlaybookNoPlay {
        path: shown.to_path_buf(),
        src: src(),
        span: first_content_line(&text),
        reason: reason.to_string(),
    };
    let Some(Yaml::Array(plays)) = documents.first() else {
        return Some(no_play("expected a list of plays"));
    };
    let is_play = |play: &Yaml| {
        ["hosts", "import_playbook", "ansible.builtin.import_playbook"].iter().any(|key| !play[*key].is_badvalue())
    };
    if plays.iter().any(is_play) {
        None
    } else {
        Some(no_play("no item here has `hosts:`"))
    }
}

/// yaml-rust2 counts characters; miette wants bytes.
fn byte_offset(text: &str, chars: usize) -> usize {
    text.char_indices().nth(chars).map_or(text.len(), |(byte, _)| byte)
}

/// The first line that is neither blank, a comment nor `---`: where a play should start.
fn first_content_line(text: &str) -> SourceSpan {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        if !(trimmed.is_empty() || trimmed.starts_with('#') || trimmed == "---") {
            return (offset, line.trim_end().len()).into();
        }
        offset += line.len();
    }
    (0, 0).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn playbook(text: &str) -> Option<Finding> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.yml");
        std::fs::write(&path, text).unwrap();
        lint_playbook(&path, Path::new("p.yml"))
    }

    #[test]
    fn a_play_with_hosts_passes() {
        assert!(playbook("---\n- hosts: all\n  tasks: []\n").is_none());
        assert!(playbook("- import_playbook: other.yml\n").is_none());
    }

    #[test]
    fn broken_yaml_points_at_the_error() {
        let Some(Finding::PlaybookSyntax { span, .. }) = playbook("- hosts: all\n  tasks: [\n") else {
            panic!("expected a syntax finding");
        };
        assert!(span.offset() > 10);
    }

    #[test]
    fn a_list_without_plays_is_refused() {
        assert!(matches!(playbook("- name: x\n  debug: {}\n"), Some(Finding::PlaybookNoPlay { .. })));
        assert!(matches!(playbook("hosts: all\n"), Some(Finding::PlaybookNoPlay { .. })));
    }

    #[test]
    fn the_label_skips_comments_and_the_document_marker() {
        let span = first_content_line("# c\n---\nhosts: all\n");
        assert_eq!((span.offset(), span.len()), (8, 10));
    }
}
