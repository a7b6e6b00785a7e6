//! `sandbox lint`: what can be proven about a challenge without Docker.
//!
//! The manifest goes through `Challenge::load` (schema, distros, files inside the directory);
//! on top of that the check script must be runnable, both playbooks must be YAML holding at
//! least one play, and both Dockerfiles must read as Docker reads them. Every finding is a
//! miette diagnostic, a challenge's all at once; warnings (no README, no topic or difficulty,
//! no hints for `sandbox hint`) do not fail.

use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use miette::{Diagnostic, NamedSource, SourceSpan};
use yaml_rust2::{Yaml, YamlLoader};

use crate::challenge::{Allowed, Challenge, ChallengeError, Track, MANIFEST};

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

    #[error("no hints: add hints = [...] for `sandbox hint`")]
    #[diagnostic(
        code(sandbox::lint::no_hints),
        severity(Warning),
        help("in {}, after title/topic/difficulty: two or three hints, from a nudge (where to look) to one that names the module, option or instruction; `sandbox hint` shows them one at a time", manifest.display())
    )]
    NoHints { manifest: PathBuf },

    #[error("challenge.toml in {} sets no `{key}`", dir.display())]
    #[diagnostic(code(sandbox::lint::no_metadata), severity(Warning), help("listings and the README table show it"))]
    NoMetadata { dir: PathBuf, key: &'static str },
}

impl Finding {
    pub fn is_error(&self) -> bool {
        !matches!(self.severity(), Some(miette::Severity::Warning | miette::Severity::Advice))
    }
}

/// The files lint reads besides the manifest, relative to the challenge directory.
struct Files {
    check: Option<PathBuf>,
    /// The starter and the solution.
    learner: Vec<PathBuf>,
    /// The Docker track: the learner's files are Dockerfiles building from these images.
    docker: Option<Vec<&'static str>>,
}

/// Whether the manifest sets what listings show.
struct Metadata {
    topic: bool,
    difficulty: bool,
    /// At least one hint that is not blank.
    hints: bool,
}

/// Every finding for one challenge directory, errors first. A manifest that does not load is
/// one finding; the files it names (or their defaults) are linted all the same, so an author
/// sees every problem at once.
pub fn lint(dir: &Path, allowed: &Allowed) -> Vec<Finding> {
    let mut findings = Vec::new();
    let (files, metadata) = match Challenge::load(dir, allowed) {
        Ok(challenge) => loaded(&challenge),
        Err(err) => {
            let unreadable = matches!(err, ChallengeError::NotFound { .. } | ChallengeError::Io { .. });
            findings.push(err.into());
            if unreadable {
                return findings;
            }
            guessed(dir, allowed)
        }
    };
    // Diagnostics name files as the user named the challenge, not canonicalized.
    if let Some(check) = &files.check {
        findings.extend(lint_check_script(&dir.join(check)));
    }
    for learner_file in &files.learner {
        let path = dir.join(learner_file);
        match &files.docker {
            None => findings.extend(lint_playbook(&path, &path)),
            Some(images) => findings.extend(lint_dockerfile(&path, images)),
        }
    }
    if !dir.join("README.md").is_file() {
        findings.push(Finding::NoReadme { dir: dir.to_path_buf() });
    }
    if let Some(metadata) = metadata {
        if !metadata.topic {
            findings.push(Finding::NoMetadata { dir: dir.to_path_buf(), key: "topic" });
        }
        if !metadata.difficulty {
            findings.push(Finding::NoMetadata { dir: dir.to_path_buf(), key: "difficulty" });
        }
        if !metadata.hints {
            findings.push(Finding::NoHints { manifest: dir.join(MANIFEST) });
        }
    }
    findings.sort_by_key(|finding| !finding.is_error());
    findings
}

fn loaded(challenge: &Challenge) -> (Files, Option<Metadata>) {
    let docker = match &challenge.track {
        Track::Ansible => None,
        Track::Docker(_) => Some(challenge.distros.iter().map(|d| d.base_image).collect()),
    };
    let files = Files {
        check: challenge.check.clone(),
        learner: vec![challenge.starter.clone(), challenge.solution.clone()],
        docker,
    };
    let metadata = Metadata {
        topic: challenge.topic.is_some(),
        difficulty: challenge.difficulty.is_some(),
        hints: challenge.hints.iter().any(|hint| !hint.trim().is_empty()),
    };
    (files, Some(metadata))
}

/// The files of a challenge whose manifest does not load, as far as it can be read: the keys
/// of the TOML as written, else the defaults (a TOML syntax error leaves only those, the track
/// guessed from which learner file exists). A path that is not a plain file inside the
/// directory is skipped: the manifest's own finding covers it. A Dockerfile may build from the
/// distros named that are in the catalog, or from any when none is.
fn guessed(dir: &Path, allowed: &Allowed) -> (Files, Option<Metadata>) {
    let text = std::fs::read_to_string(dir.join(MANIFEST)).unwrap_or_default();
    let table = toml::from_str::<toml::Table>(&text).ok();
    let value = |key: &str| table.as_ref().and_then(|t| t.get(key));
    let string = |key: &str, default: &str| value(key).and_then(|v| v.as_str()).unwrap_or(default).to_string();
    let docker = match &table {
        Some(_) => value("track").and_then(|v| v.as_str()) == Some("docker"),
        None => dir.join("Dockerfile").is_file() && !dir.join("playbook.yml").is_file(),
    };
    let root = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let inside = |relative: String| {
        let path = PathBuf::from(relative);
        let plain = path.components().all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
        let real = dir.join(&path).canonicalize().ok()?;
        (plain && real.starts_with(&root) && real.is_file()).then_some(path)
    };
    let (key, starter, solution) = if docker {
        ("dockerfile", "Dockerfile", "solution/Dockerfile")
    } else {
        ("playbook", "playbook.yml", "solution/playbook.yml")
    };
    let images = || {
        let named: Vec<&'static str> = value("distros")
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
            .filter_map(|name| allowed.catalog.find(name.as_str()?))
            .map(|d| d.base_image)
            .collect();
        if named.is_empty() {
            allowed.catalog.all().map(|d| d.base_image).collect()
        } else {
            named
        }
    };
    let files = Files {
        check: inside(string("check", "check.sh")),
        learner: [inside(string(key, starter)), inside(string("solution", solution))].into_iter().flatten().collect(),
        docker: docker.then(images),
    };
    let metadata = table.as_ref().map(|t| Metadata {
        topic: t.contains_key("topic"),
        difficulty: t.contains_key("difficulty"),
        hints: t
            .get("hints")
            .and_then(|v| v.as_array())
            .is_some_and(|hints| hints.iter().any(|h| h.as_str().is_some_and(|h| !h.trim().is_empty()))),
    });
    (files, metadata)
}

fn lint_check_script(path: &Path) -> Vec<Finding> {
    let mut findings = Vec::new();
    let executable = std::fs::metadata(path).map(|m| m.permissions().mode() & 0o111 != 0).unwrap_or(false);
    if !executable {
        findings.push(Finding::CheckNotExecutable { path: path.to_path_buf() });
    }
    let text = std::fs::read_to_string(path).unwrap_or_default();
    if !text.starts_with("#!") {
        let first_line = text.lines().next().map_or(0, str::len);
        findings.push(Finding::CheckNoShebang {
            path: path.to_path_buf(),
            src: NamedSource::new(path.display().to_string(), text.clone()),
            span: (0, first_line).into(),
        });
    }
    findings
}

/// A Dockerfile must read as Docker reads it, name only allowed base images and stay inside
/// its context, as a build would refuse it: every problem, not only the one a build stops at.
fn lint_dockerfile(path: &Path, images: &[&str]) -> Vec<Finding> {
    let Ok(text) = std::fs::read_to_string(path) else { return Vec::new() };
    let found = super::dockerfile::findings(&text, &path.display().to_string(), images);
    found.into_iter().map(|err| Finding::Dockerfile(Box::new(err))).collect()
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

    /// A scaffolded challenge (lint-clean), changed by `edit`.
    fn scaffold(docker: bool, edit: impl FnOnce(&Path)) -> (tempfile::TempDir, PathBuf) {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("c");
        crate::challenge::scaffold::create(&dir, &[], &crate::distro::Catalog::builtin(), docker, false).unwrap();
        let manifest = std::fs::read_to_string(dir.join(MANIFEST)).unwrap();
        if !manifest.lines().any(|line| line.starts_with("hints")) {
            std::fs::write(dir.join(MANIFEST), format!("hints = [\"look at the README\"]\n{manifest}")).unwrap();
        }
        edit(&dir);
        (root, dir)
    }

    #[test]
    fn a_challenge_without_hints_is_warned_and_blank_hints_are_none() {
        let scaffold_hints = regex::Regex::new(r"(?s)hints = \[.*?\]\n").unwrap();
        for hints in ["", "hints = []\n", "hints = [\"  \"]\n"] {
            let (_root, dir) = scaffold(false, |dir| {
                let manifest = std::fs::read_to_string(dir.join(MANIFEST)).unwrap();
                // The scaffold's own hints, whatever they say, give way to the case's.
                let without = scaffold_hints.replace(&manifest, "");
                std::fs::write(dir.join(MANIFEST), format!("{hints}{without}")).unwrap();
            });
            let findings = lint(&dir, &Allowed::default());
            assert_eq!(codes(&findings), ["sandbox::lint::no_hints"], "{hints:?}");
            assert!(!findings[0].is_error());
            assert_eq!(findings[0].to_string(), "no hints: add hints = [...] for `sandbox hint`");
        }
        let (_root, dir) = scaffold(true, |_| {});
        assert!(lint(&dir, &Allowed::default()).is_empty());
    }

    fn codes(findings: &[Finding]) -> Vec<String> {
        findings.iter().map(|f| f.code().map(|c| c.to_string()).unwrap_or_default()).collect()
    }

    #[test]
    fn every_problem_of_a_dockerfile_is_a_finding() {
        let (_root, dir) = scaffold(true, |dir| {
            std::fs::write(dir.join("Dockerfile"), "RUNN true\nFROM debian:12\nCOPY server.pl\n").unwrap();
        });
        let findings = lint(&dir, &Allowed::default());
        assert_eq!(
            codes(&findings),
            ["sandbox::dockerfile::unknown_instruction", "sandbox::dockerfile::copy_without_destination"]
        );
    }

    #[test]
    fn a_manifest_that_does_not_load_does_not_hide_the_other_findings() {
        let (_root, dir) = scaffold(false, |dir| {
            let manifest = std::fs::read_to_string(dir.join("challenge.toml")).unwrap();
            std::fs::write(dir.join("challenge.toml"), manifest.replace("\"debian-12\"", "\"fedora-40\"")).unwrap();
            std::fs::write(dir.join("check.sh"), "true\n").unwrap();
            std::fs::write(dir.join("playbook.yml"), "- hosts: all\n  tasks: [\n").unwrap();
        });
        let findings = lint(&dir, &Allowed::default());
        assert_eq!(
            codes(&findings),
            ["sandbox::challenge::unknown_distro", "sandbox::lint::check_no_shebang", "sandbox::lint::playbook_syntax"]
        );
    }

    #[test]
    fn a_manifest_that_is_not_toml_still_lints_the_default_files() {
        let (_root, dir) = scaffold(true, |dir| {
            std::fs::write(dir.join("challenge.toml"), "track = \"docker\n").unwrap();
            std::fs::write(dir.join("solution/Dockerfile"), "FROM debian:12\nRUNN true\n").unwrap();
        });
        let findings = lint(&dir, &Allowed::default());
        assert_eq!(codes(&findings), ["sandbox::challenge::syntax", "sandbox::dockerfile::unknown_instruction"]);
    }

    #[test]
    fn a_path_leaving_the_challenge_is_not_followed() {
        let (_root, dir) = scaffold(false, |dir| {
            let manifest = std::fs::read_to_string(dir.join("challenge.toml")).unwrap();
            let manifest = manifest.replace("# check = \"check.sh\"", "check = \"../../../../../../etc/passwd\"");
            std::fs::write(dir.join("challenge.toml"), manifest).unwrap();
        });
        let findings = lint(&dir, &Allowed::default());
        assert_eq!(codes(&findings), ["sandbox::challenge::path_outside"]);
    }
}
