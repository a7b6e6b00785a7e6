//! `challenge.toml` as a whole: `RawChallenge` mirrors the file, `Challenge` is what it
//! validates into, and `Parsed::validate` ties the sections (each validated in its own file)
//! together with the rules that span them: the track, its files and distros.

use std::path::{Path, PathBuf};

use miette::SourceSpan;
use serde::Deserialize;
use toml::Spanned;

use super::allowed::Allowed;
use super::error::ChallengeError;
use super::goss::GossChecks;
use super::image::{RawChecks, RawImage, Track};
use super::limits::{Limits, RawLimits};
use super::parsed::{reject_outward_symlinks, Parsed};
use super::prepare::{Prepare, RawPrepare};
use super::run_settings::{RawRun, RunSettings};
use super::MANIFEST;
use crate::distro::Distro;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChallenge {
    track: Option<Spanned<String>>,
    id: Option<Spanned<String>>,
    title: Spanned<String>,
    topic: Option<String>,
    difficulty: Option<Spanned<String>>,
    /// Graduated hints, shown one at a time by `sandbox hint` (the last close to the answer).
    #[serde(default)]
    hints: Vec<String>,
    distros: Option<Spanned<Vec<Spanned<String>>>>,
    playbook: Option<Spanned<String>>,
    dockerfile: Option<Spanned<String>>,
    image: Option<RawImage>,
    checks: Option<RawChecks>,
    solution: Option<Spanned<String>>,
    check: Option<Spanned<String>>,
    #[serde(default)]
    run: RawRun,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    prepare: RawPrepare,
}

/// How hard a challenge is, for listings and the README table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Difficulty {
    Easy,
    Medium,
    Hard,
}

impl Difficulty {
    pub fn as_str(self) -> &'static str {
        match self {
            Difficulty::Easy => "easy",
            Difficulty::Medium => "medium",
            Difficulty::Hard => "hard",
        }
    }
}

/// A validated challenge. Paths are relative to `dir` and known to stay inside it.
#[derive(Debug, Clone)]
pub struct Challenge {
    pub id: String,
    pub title: String,
    /// What the challenge practises (shown in listings).
    pub topic: Option<String>,
    pub difficulty: Option<Difficulty>,
    /// `sandbox hint` shows them in order, one at a time.
    pub hints: Vec<String>,
    pub dir: PathBuf,
    /// Ansible: the platforms a run covers. Docker: the base images `FROM` may name.
    pub distros: Vec<&'static Distro>,
    /// The file the learner edits: a playbook, or a Dockerfile in the Docker track.
    pub starter: PathBuf,
    pub solution: PathBuf,
    /// check.sh; an Ansible challenge with a goss file may go without.
    pub check: Option<PathBuf>,
    /// `[checks] goss` (Ansible track): validated in each target after each pass.
    pub goss: Option<GossChecks>,
    pub run: RunSettings,
    pub limits: Limits,
    pub prepare: Prepare,
    pub track: Track,
}

/// Which of the learner's files an attempt runs: a playbook, or a Dockerfile in the Docker track.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlaybookChoice {
    Starter,
    Solution,
    File(PathBuf),
}

impl Challenge {
    /// Reads and validates `dir/challenge.toml`; distros outside the catalog and limits
    /// above the ceilings are refused (a challenge is untrusted input too).
    pub fn load(dir: &Path, allowed: &Allowed) -> Result<Challenge, ChallengeError> {
        Challenge::load_with_solution_in(dir, allowed, None)
    }

    /// A learner's workspace (`sandbox start`): its own files, with the solution of the
    /// library's challenge it came from (`source`), which the workspace does not hold.
    pub fn load_workspace(dir: &Path, allowed: &Allowed, source: &Path) -> Result<Challenge, ChallengeError> {
        Challenge::load_with_solution_in(dir, allowed, Some(source))
    }

    fn load_with_solution_in(
        dir: &Path,
        allowed: &Allowed,
        solution_in: Option<&Path>,
    ) -> Result<Challenge, ChallengeError> {
        let manifest = dir.join(MANIFEST);
        if !manifest.is_file() {
            return Err(ChallengeError::NotFound { dir: dir.to_path_buf() });
        }
        let text = std::fs::read_to_string(&manifest)
            .map_err(|source| ChallengeError::Io { path: manifest.clone(), source })?;
        let dir = dir.canonicalize().map_err(|source| ChallengeError::Io { path: dir.to_path_buf(), source })?;
        let solution_in = solution_in.map(Path::to_path_buf);
        let parsed = Parsed { text, name: manifest.display().to_string(), dir, allowed: allowed.clone(), solution_in };
        parsed.validate()
    }

    /// Whether `distro`'s target can come from the warm pool: a package layer is this
    /// challenge's own image, which the pool does not keep.
    pub fn poolable_target(&self, distro: &Distro) -> bool {
        self.prepare.packages_for(distro.family).is_empty()
    }

    pub fn file(&self, relative: &Path) -> PathBuf {
        self.dir.join(relative)
    }

    /// The learner's file an attempt runs, as the user named it (relative to the challenge for
    /// the starter and the solution).
    pub fn chosen(&self, choice: &PlaybookChoice) -> PathBuf {
        match choice {
            PlaybookChoice::Starter => self.starter.clone(),
            PlaybookChoice::Solution => self.solution.clone(),
            PlaybookChoice::File(path) => path.clone(),
        }
    }
}

impl Parsed {
    fn validate(&self) -> Result<Challenge, ChallengeError> {
        let raw: RawChallenge = toml::from_str(&self.text).map_err(|err| ChallengeError::Syntax {
            message: err.message().to_string(),
            src: self.src(),
            span: err.span().map(SourceSpan::from),
        })?;
        let track = self.track(&raw)?;
        let distros = match (&raw.distros, &track) {
            (Some(names), _) => self.distros(names)?,
            (None, Track::Docker(_)) => self.allowed.catalog.all().collect(),
            (None, Track::Ansible) => return Err(self.missing("distros", "list the distros the playbook runs on")),
        };
        let (starter, solution) = self.starter_and_solution(&raw, &track)?;
        let goss = match (&track, &raw.checks) {
            (Track::Ansible, Some(checks)) => self.goss_checks(checks)?,
            _ => None,
        };
        // Either or both: a goss file stands in for check.sh only when there is none.
        let check = if goss.is_some() && raw.check.is_none() && !self.dir.join("check.sh").is_file() {
            None
        } else {
            Some(self.file_in_challenge("check script", "check", raw.check.as_ref(), "check.sh")?)
        };
        reject_outward_symlinks(&self.dir)?;
        let run = self.run_settings(&raw.run, &track)?;
        let prepare = match &raw.prepare.packages {
            None => Prepare::default(),
            Some(value) => self.prepare_packages(value)?,
        };
        let limits = self.limits(&raw.limits)?;
        let difficulty = self.difficulty(raw.difficulty.as_ref())?;
        let id = match raw.id {
            Some(id) => id.into_inner(),
            None => self.dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        };
        Ok(Challenge {
            id,
            title: raw.title.into_inner(),
            topic: raw.topic,
            difficulty,
            hints: raw.hints,
            dir: self.dir.clone(),
            distros,
            starter,
            solution,
            check,
            goss,
            run,
            limits,
            prepare,
            track,
        })
    }

    /// `track = "ansible"` (the default) or `"docker"` with its `[image]` and `[checks]`.
    fn track(&self, raw: &RawChallenge) -> Result<Track, ChallengeError> {
        let docker = match &raw.track {
            None => false,
            Some(value) => match value.get_ref().as_str() {
                "ansible" => false,
                "docker" => true,
                _ => return Err(self.invalid("track", "expected \"ansible\" or \"docker\"", value.span())),
            },
        };
        if !docker {
            if let Some(key) = [("dockerfile", raw.dockerfile.is_some()), ("image", raw.image.is_some())]
                .into_iter()
                .find_map(|(key, set)| set.then_some(key))
            {
                return Err(self.missing(key, "only a `track = \"docker\"` challenge has this"));
            }
            return Ok(Track::Ansible);
        }
        if let Some(playbook) = &raw.playbook {
            return Err(self.invalid(
                "playbook",
                "a Docker challenge has a `dockerfile`, not a playbook",
                playbook.span(),
            ));
        }
        if let Some(goss) = raw.checks.as_ref().and_then(|checks| checks.goss.as_ref()) {
            return Err(self.invalid(
                "goss",
                "goss files check Ansible targets; a Docker challenge has `structure`",
                goss.span(),
            ));
        }
        let image = raw.image.clone().unwrap_or_default();
        Ok(Track::Docker(self.image_spec(&image, raw.checks.as_ref())?))
    }

    /// The learner's file and the reference solution, each track with its own defaults.
    fn starter_and_solution(&self, raw: &RawChallenge, track: &Track) -> Result<(PathBuf, PathBuf), ChallengeError> {
        let (starter, solution) = match track {
            Track::Ansible => (
                self.file_in_challenge("playbook", "playbook", raw.playbook.as_ref(), "playbook.yml")?,
                ("solution/playbook.yml", raw.solution.as_ref()),
            ),
            Track::Docker(_) => (
                self.file_in_challenge("Dockerfile", "dockerfile", raw.dockerfile.as_ref(), "Dockerfile")?,
                ("solution/Dockerfile", raw.solution.as_ref()),
            ),
        };
        let (default, value) = solution;
        let solution = match &self.solution_in {
            // The library's challenge was validated as a whole when the workspace was made;
            // its solution, which the workspace lacks, is looked up there.
            Some(source) => {
                let path = source.join(value.map_or(default, |v| v.get_ref().as_str()));
                if !path.is_file() {
                    return Err(ChallengeError::MissingDefaultFile { what: "solution", key: "solution", path });
                }
                path
            }
            None => self.file_in_challenge("solution", "solution", value, default)?,
        };
        Ok((starter, solution))
    }

    /// Catalog distros, each once, at least one.
    fn distros(&self, names: &Spanned<Vec<Spanned<String>>>) -> Result<Vec<&'static Distro>, ChallengeError> {
        let mut distros = Vec::new();
        for name in names.get_ref() {
            let found = self.allowed.catalog.find(name.get_ref()).ok_or_else(|| ChallengeError::UnknownDistro {
                name: name.get_ref().clone(),
                supported: self.allowed.catalog.names().join(", "),
                src: self.src(),
                span: name.span().into(),
            })?;
            if !distros.contains(&found) {
                distros.push(found);
            }
        }
        if distros.is_empty() {
            return Err(self.invalid("distros", "list at least one distro", names.span()));
        }
        Ok(distros)
    }

    fn difficulty(&self, raw: Option<&Spanned<String>>) -> Result<Option<Difficulty>, ChallengeError> {
        let Some(value) = raw else { return Ok(None) };
        Ok(Some(match value.get_ref().as_str() {
            "easy" => Difficulty::Easy,
            "medium" => Difficulty::Medium,
            "hard" => Difficulty::Hard,
            _ => return Err(self.invalid("difficulty", "expected \"easy\", \"medium\" or \"hard\"", value.span())),
        }))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::challenge::fixture::challenge_dir;
    use crate::distro::Catalog;

    #[test]
    fn an_ansible_challenge_names_a_goss_file_with_hints_by_resource_and_check_sh_becomes_optional() {
        let base = "title = \"t\"\ndistros = [\"debian-12\"]\n[checks]\ngoss = \"goss.yaml\"\n";
        let load = |extra: &str, check_sh: bool| {
            let dir = challenge_dir(&format!("{base}{extra}"));
            std::fs::write(dir.path().join("goss.yaml"), "package:\n  nginx:\n    installed: true\n").unwrap();
            if !check_sh {
                std::fs::remove_file(dir.path().join("check.sh")).unwrap();
            }
            (Challenge::load(dir.path(), &Allowed::default()), dir)
        };
        let (loaded, _dir) = load("[checks.hints]\n\"package:nginx\" = \"apt\"\n", false);
        let challenge = loaded.unwrap();
        assert_eq!(challenge.check, None);
        let goss = challenge.goss.unwrap();
        assert_eq!(goss.file, PathBuf::from("goss.yaml"));
        assert_eq!(goss.hint_for("Package", "nginx").map(String::as_str), Some("apt"));
        // Both, when check.sh is there.
        assert_eq!(load("", true).0.unwrap().check, Some(PathBuf::from("check.sh")));
        let error = |extra: &str| load(extra, true).0.unwrap_err().to_string();
        assert!(error("[checks.hints]\n\"package:curl\" = \"x\"\n").contains("hints"));
        assert!(error("[checks.hints]\n\"nginx\" = \"x\"\n").contains("hints"));
        assert!(error("non_root = true\n").contains("non_root"));
        // Includes: read and linted, their resources hintable; only files in the challenge.
        let include = |gossfile: &str, more: &str| {
            let dir = challenge_dir(&format!("{base}[checks.hints]\n\"package:curl\" = \"x\"\n"));
            std::fs::write(dir.path().join("goss.yaml"), format!("gossfile:\n  {gossfile}: {{}}\n")).unwrap();
            std::fs::create_dir(dir.path().join("more")).unwrap();
            std::fs::write(dir.path().join("more/more.yaml"), more).unwrap();
            Challenge::load(dir.path(), &Allowed::default())
        };
        let loaded = include("more/more.yaml", "package:\n  curl:\n    installed: true\n").unwrap();
        assert_eq!(
            loaded.goss.unwrap().files().collect::<Vec<_>>(),
            [Path::new("goss.yaml"), Path::new("more/more.yaml")]
        );
        assert!(include("/etc/more.yaml", "").unwrap_err().to_string().contains("includes `/etc/more.yaml`"));
        assert!(include("more/*.yaml", "").is_err());
        let bad = include("more/more.yaml", "packages: {}\n").unwrap_err();
        assert!(matches!(bad, ChallengeError::GossFile { .. }), "{bad:?}");
        let docker = challenge_dir("track = \"docker\"\ntitle = \"t\"\n[checks]\ngoss = \"goss.yaml\"\n");
        std::fs::write(docker.path().join("Dockerfile"), "FROM debian:12\n").unwrap();
        std::fs::write(docker.path().join("solution/Dockerfile"), "FROM debian:12\n").unwrap();
        std::fs::write(docker.path().join("goss.yaml"), "").unwrap();
        assert!(Challenge::load(docker.path(), &Allowed::default()).unwrap_err().to_string().contains("goss"));
    }

    #[test]
    fn minimal_manifest_gets_defaults() {
        let dir = challenge_dir("title = \"t\"\ndistros = [\"debian-12\"]\n");
        let challenge = Challenge::load(dir.path(), &Allowed::default()).unwrap();
        assert_eq!(challenge.distros[0].name, "debian-12");
        assert_eq!(challenge.starter, PathBuf::from("playbook.yml"));
        assert_eq!(challenge.run.timeout, Duration::from_secs(600));
        assert!(challenge.run.idempotent);
        assert_eq!(challenge.limits, Limits::default());
        assert_eq!(challenge.id, dir.path().canonicalize().unwrap().file_name().unwrap().to_str().unwrap());
    }

    #[test]
    fn unknown_distro_points_at_its_span() {
        let text = "title = \"t\"\ndistros = [\"debian-12\", \"fedora-40\"]\n";
        let dir = challenge_dir(text);
        match Challenge::load(dir.path(), &Allowed::default()).unwrap_err() {
            ChallengeError::UnknownDistro { name, span, .. } => {
                assert_eq!(name, "fedora-40");
                assert_eq!(&text[span.offset()..span.offset() + span.len()], "\"fedora-40\"");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn the_catalog_is_the_callers_value_so_two_can_live_in_one_process() {
        let dir = challenge_dir("title = \"t\"\ndistros = [\"debian-12-slim\"]\n");
        let mut slim = crate::distro::builtin("debian-12").unwrap().clone();
        slim.name = "debian-12-slim";
        let extended = Allowed { catalog: Catalog::with_extra(vec![slim]), ..Allowed::default() };
        assert_eq!(Challenge::load(dir.path(), &extended).unwrap().distros[0].name, "debian-12-slim");
        match Challenge::load(dir.path(), &Allowed::default()).unwrap_err() {
            ChallengeError::UnknownDistro { supported, .. } => assert!(!supported.contains("slim"), "{supported}"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let dir = challenge_dir("title = \"t\"\ndistros = [\"debian-12\"]\nflavour = 1\n");
        assert!(matches!(Challenge::load(dir.path(), &Allowed::default()).unwrap_err(), ChallengeError::Syntax { .. }));
    }
}
