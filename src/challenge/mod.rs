//! A challenge directory: `challenge.toml` read in two phases.
//!
//! `RawChallenge` mirrors the file (unknown keys rejected, values kept with their spans);
//! `Challenge` is the validated form with resolved paths and parsed limits. Every semantic
//! error points at the span of the value that caused it, so an author sees the line to fix.

pub mod dockerfile;
pub mod goss;
pub mod image;
pub mod lint;
pub mod scaffold;
pub mod structure;
pub mod touched;

use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use miette::{Diagnostic, NamedSource, SourceSpan};
use serde::Deserialize;
use toml::Spanned;

use self::image::{RawChecks, RawImage};
use crate::distro::{Catalog, Distro, Family};
use crate::units::{parse_duration, parse_memory};

pub use self::image::Track;

pub const MANIFEST: &str = "challenge.toml";

#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum ChallengeError {
    #[error("no {MANIFEST} in {}", dir.display())]
    #[diagnostic(
        code(sandbox::challenge::not_found),
        help("a challenge is a directory with challenge.toml, check.sh, playbook.yml and solution/; `sandbox new NAME` scaffolds one")
    )]
    NotFound { dir: PathBuf },

    #[error("cannot read {}", path.display())]
    #[diagnostic(code(sandbox::challenge::io))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{message}")]
    #[diagnostic(code(sandbox::challenge::syntax))]
    Syntax {
        message: String,
        #[source_code]
        src: NamedSource<String>,
        #[label("here")]
        span: Option<SourceSpan>,
    },

    #[error("unknown distro `{name}`")]
    #[diagnostic(code(sandbox::challenge::unknown_distro), help("supported distros: {supported}"))]
    UnknownDistro {
        name: String,
        supported: String,
        #[source_code]
        src: NamedSource<String>,
        #[label("not in the distro catalog")]
        span: SourceSpan,
    },

    #[error("{what} `{value}` leaves the challenge directory")]
    #[diagnostic(
        code(sandbox::challenge::path_outside),
        help("every file a challenge uses must live inside its directory")
    )]
    PathOutside {
        what: &'static str,
        value: String,
        #[source_code]
        src: NamedSource<String>,
        #[label("resolves outside {}", dir.display())]
        span: SourceSpan,
        dir: PathBuf,
    },

    #[error("{what} `{value}` does not exist")]
    #[diagnostic(code(sandbox::challenge::missing_file))]
    MissingFile {
        what: &'static str,
        value: String,
        #[source_code]
        src: NamedSource<String>,
        #[label("no such file in {}", dir.display())]
        span: SourceSpan,
        dir: PathBuf,
    },

    #[error("{what} file {} does not exist", path.display())]
    #[diagnostic(
        code(sandbox::challenge::missing_file),
        help("the default is used when {MANIFEST} does not set `{key}`")
    )]
    MissingDefaultFile { what: &'static str, key: &'static str, path: PathBuf },

    #[error("invalid {key}: {message}")]
    #[diagnostic(code(sandbox::challenge::invalid_value))]
    InvalidValue {
        key: &'static str,
        message: String,
        #[source_code]
        src: NamedSource<String>,
        #[label("{message}")]
        span: SourceSpan,
    },

    #[error("{}: {message}", path.display())]
    #[diagnostic(
        code(sandbox::challenge::structure_tests),
        help("the file is container-structure-test's YAML (schemaVersion 2.0.0): commandTests, fileExistenceTests, fileContentTests, metadataTest")
    )]
    StructureTests {
        path: PathBuf,
        message: String,
        #[source_code]
        src: NamedSource<String>,
        #[label("{message}")]
        span: SourceSpan,
    },

    #[error("goss file {} is not valid: {message}", path.display())]
    #[diagnostic(
        code(sandbox::challenge::goss_file),
        help("the file is goss's YAML: resource types (package, service, file, port, user, group, process, command, http, addr, dns, mount, kernel-param, interface, gossfile) mapping resources to attributes and matchers")
    )]
    GossFile {
        path: PathBuf,
        message: String,
        #[source_code]
        src: NamedSource<String>,
        #[label("{message}")]
        span: SourceSpan,
    },

    #[error("symlink {} points outside the challenge", link.display())]
    #[diagnostic(
        code(sandbox::challenge::symlink_outside),
        help("the whole challenge directory is copied into the sandbox; a link to the host's files is refused")
    )]
    SymlinkOutside { link: PathBuf },
}

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

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPrepare {
    /// A list for every family, or a table of lists per family (`apt`, `dnf`, `apk`); kept as
    /// a raw value so both shapes keep their spans for diagnostics.
    packages: Option<Spanned<toml::Value>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRun {
    idempotent: Option<bool>,
    timeout: Option<Spanned<String>>,
    network: Option<Spanned<String>>,
    services: Option<Spanned<String>>,
    strategy: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    memory: Option<Spanned<String>>,
    cpus: Option<Spanned<f64>>,
    pids: Option<Spanned<i64>>,
    build_writes: Option<Spanned<String>>,
}

/// Whether targets can reach package mirrors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network {
    Egress,
    None,
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

/// What `systemctl` in the targets does (README, "Services").
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ServicesMode {
    /// Records state, runs nothing: fast, and enough for most challenges.
    Mock,
    /// A small service manager: unit files are read and their commands really run.
    Supervised,
    /// Real systemd as PID 1, where the runtime can do it.
    Systemd,
}

impl ServicesMode {
    pub fn parse(text: &str) -> Option<ServicesMode> {
        match text {
            "mock" => Some(ServicesMode::Mock),
            "supervised" => Some(ServicesMode::Supervised),
            "systemd" => Some(ServicesMode::Systemd),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ServicesMode::Mock => "mock",
            ServicesMode::Supervised => "supervised",
            ServicesMode::Systemd => "systemd",
        }
    }
}

/// How Ansible runs a play's tasks on the targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// Mitogen's `mitogen_linear`: one Python interpreter per host for the whole play instead
    /// of a process per task, which is what gVisor makes expensive.
    Mitogen,
    /// Ansible's own `linear`, for a challenge that needs a behaviour Mitogen changes.
    Linear,
}

impl Strategy {
    pub fn parse(text: &str) -> Option<Strategy> {
        match text {
            "mitogen" => Some(Strategy::Mitogen),
            "linear" => Some(Strategy::Linear),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Mitogen => "mitogen",
            Strategy::Linear => "linear",
        }
    }

    /// The strategy plugin's name, as `ANSIBLE_STRATEGY` takes it.
    pub fn plugin(self) -> &'static str {
        match self {
            Strategy::Mitogen => "mitogen_linear",
            Strategy::Linear => "linear",
        }
    }
}

/// Packages baked into a per-challenge image layer, downloaded but not installed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Prepare {
    /// Packages for every family, unless the family has its own list.
    pub common: Vec<String>,
    /// Per package manager (`apt`, `dnf`, `apk`).
    pub per_family: Vec<(Family, Vec<String>)>,
}

impl Prepare {
    /// The packages to prepare for `family` (empty: no layer).
    pub fn packages_for(&self, family: Family) -> &[String] {
        self.per_family.iter().find(|(f, _)| *f == family).map_or(&self.common, |(_, list)| list)
    }
}

/// A target's memory unless `[limits] memory` says otherwise (within the ceiling). Under
/// gVisor's memory overlay every file written outside /tmp counts against it: apt's lists and
/// .deb cache, the installed files, the running services. Measured peaks (debian-12, runsc,
/// `apt-get update && apt-get install`): apache2 438 MiB, php-fpm with 14 extensions 570 MiB,
/// mariadb-server 685 MiB, postgresql 863 MiB, a LAMP stack in one target 1003 MiB;
/// 512 MiB no longer fitted a PHP stack, and 1 GiB leaves a LAMP role no room.
pub const DEFAULT_MEMORY: u64 = 1536 * 1024 * 1024;

/// Per-container resource limits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    pub memory_bytes: u64,
    pub cpus: f64,
    pub pids: i64,
    /// The most one build step may write (the Docker track's `RUN`, `COPY`…).
    pub build_write_bytes: u64,
    /// The operator's memory ceiling, which an out-of-memory reason names as the most a
    /// challenge may ask for.
    pub memory_ceiling_bytes: u64,
}

impl Default for Limits {
    /// Two CPUs by default, the default ceiling: gVisor does a syscall's work in its Sentry, in
    /// the container's cgroup, so the CPU quota bounds package installs more than anything.
    /// Measured here (runsc ptrace, `apt-get install php-fpm` in a fresh Debian 12): 194 s at
    /// 0.5 CPU, 102 s at 1, 83 s at 2, 85 s unlimited. A quota does not protect a host from a
    /// busy neighbour better than the scheduler's fair share does; it only idles CPUs.
    fn default() -> Self {
        Limits {
            memory_bytes: DEFAULT_MEMORY,
            cpus: 2.0,
            pids: 256,
            build_write_bytes: DEFAULT_BUILD_WRITES,
            memory_ceiling_bytes: Ceilings::default().memory_bytes,
        }
    }
}

impl Limits {
    /// The controller runs Ansible for every target at once and its Python start-up under
    /// gVisor dominates a run's time (measured here: one task took 6-8 s with 0.5 CPU); it
    /// gets at least two CPUs and 1 GiB, or the targets' limits where those are higher.
    pub fn for_controller(&self) -> Limits {
        Limits { memory_bytes: self.memory_bytes.max(1024 * 1024 * 1024), cpus: self.cpus.max(2.0), ..*self }
    }
}

#[derive(Debug, Clone)]
pub struct RunSettings {
    pub idempotent: bool,
    pub timeout: Duration,
    pub network: Network,
    pub services: ServicesMode,
    pub strategy: Strategy,
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
    pub goss: Option<goss::GossChecks>,
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

/// What one build step may write unless its challenge says otherwise: the bundled Docker
/// challenges' largest step writes ~40 MB (a Debian package install), so a real install of a
/// toolchain fits, and a runaway write stops at a size the builder's store absorbs.
pub const DEFAULT_BUILD_WRITES: u64 = 1024 * 1024 * 1024;

/// The most any ceiling allows: the build API carries the bound in 32 bits (see `BuildLimits`).
pub const MAX_BUILD_WRITES: u64 = 2047 * 1024 * 1024;

/// The least a challenge may lower a build step's write bound to.
const MIN_BUILD_WRITES: u64 = 16 * 1024 * 1024;

/// Limits no challenge can raise (the operator's `[ceilings]`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ceilings {
    pub memory_bytes: u64,
    pub cpus: f64,
    pub pids: i64,
    pub timeout: Duration,
    pub build_write_bytes: u64,
}

impl Default for Ceilings {
    fn default() -> Self {
        Ceilings {
            memory_bytes: 4 * 1024 * 1024 * 1024,
            cpus: 2.0,
            pids: 4096,
            timeout: Duration::from_secs(2 * 3600),
            build_write_bytes: MAX_BUILD_WRITES,
        }
    }
}

/// What the operator allows a challenge: the distros it may name, the limits it may not exceed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Allowed {
    pub catalog: Catalog,
    pub ceilings: Ceilings,
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

/// Where `sandbox test` and `lint` look when given no directory.
pub const DEFAULT_ROOT: &str = "challenges";

/// The challenge directories under each of `roots` (a root that is itself a challenge stands
/// for itself), sorted. A root holding none is kept, so loading it reports what is missing.
pub fn discover(roots: &[PathBuf]) -> Vec<PathBuf> {
    let default = [PathBuf::from(DEFAULT_ROOT)];
    let roots = if roots.is_empty() { &default[..] } else { roots };
    let mut found = Vec::new();
    for root in roots {
        let before = found.len();
        let mut walk = walkdir::WalkDir::new(root).max_depth(4).sort_by_file_name().into_iter();
        while let Some(Ok(entry)) = walk.next() {
            let hidden = entry.depth() > 0 && entry.file_name().to_string_lossy().starts_with('.');
            if !entry.file_type().is_dir() || hidden {
                if entry.file_type().is_dir() {
                    walk.skip_current_dir();
                }
                continue;
            }
            if entry.path().join(MANIFEST).is_file() {
                found.push(entry.path().to_path_buf());
                // A challenge's own subdirectories (solution/, roles/) are not challenges.
                walk.skip_current_dir();
            }
        }
        if found.len() == before {
            found.push(root.clone());
        }
    }
    found
}

struct Parsed {
    text: String,
    name: String,
    dir: PathBuf,
    allowed: Allowed,
    /// Where the solution is, when not in `dir` (a workspace's library challenge).
    solution_in: Option<PathBuf>,
}

impl Parsed {
    fn src(&self) -> NamedSource<String> {
        NamedSource::new(&self.name, self.text.clone())
    }

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

    /// A key the manifest lacks (or has in the wrong kind of challenge), pointed at the top.
    fn missing(&self, key: &'static str, message: &str) -> ChallengeError {
        self.invalid(key, message, 0..0)
    }

    /// A directory named in the manifest (or its default), inside the challenge.
    fn dir_in_challenge(
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

    /// `[run]`: the timeout within the ceiling, the network, services and strategy.
    fn run_settings(&self, raw: &RawRun, track: &Track) -> Result<RunSettings, ChallengeError> {
        let timeout = match &raw.timeout {
            None => Duration::from_secs(600),
            Some(value) => {
                let timeout = parse_duration(value.get_ref())
                    .map_err(|message| self.invalid("timeout", &message, value.span()))?;
                if timeout > self.allowed.ceilings.timeout || timeout.is_zero() {
                    let message = format!("must be between 1s and {}s", self.allowed.ceilings.timeout.as_secs());
                    return Err(self.invalid("timeout", &message, value.span()));
                }
                timeout
            }
        };
        let network = match &raw.network {
            // Targets install packages from mirrors; a Dockerfile's dependencies ship in its
            // context unless the author opens the way out.
            None if matches!(track, Track::Docker(_)) => Network::None,
            None => Network::Egress,
            Some(value) => match value.get_ref().as_str() {
                "egress" => Network::Egress,
                "none" => Network::None,
                _ => return Err(self.invalid("network", "expected \"egress\" or \"none\"", value.span())),
            },
        };
        let services = match &raw.services {
            None => ServicesMode::Mock,
            Some(value) => ServicesMode::parse(value.get_ref()).ok_or_else(|| {
                self.invalid("services", "expected \"mock\", \"supervised\" or \"systemd\"", value.span())
            })?,
        };
        let strategy = match &raw.strategy {
            None => Strategy::Mitogen,
            Some(value) => Strategy::parse(value.get_ref())
                .ok_or_else(|| self.invalid("strategy", "expected \"mitogen\" or \"linear\"", value.span()))?,
        };
        Ok(RunSettings { idempotent: raw.idempotent.unwrap_or(true), timeout, network, services, strategy })
    }

    /// `[limits]`, each within its ceiling.
    fn limits(&self, raw: &RawLimits) -> Result<Limits, ChallengeError> {
        let ceilings = &self.allowed.ceilings;
        let mut limits = Limits {
            memory_bytes: DEFAULT_MEMORY.min(ceilings.memory_bytes),
            memory_ceiling_bytes: ceilings.memory_bytes,
            ..Limits::default()
        };
        if let Some(memory) = &raw.memory {
            limits.memory_bytes =
                parse_memory(memory.get_ref()).map_err(|message| self.invalid("memory", &message, memory.span()))?;
            if limits.memory_bytes > ceilings.memory_bytes || limits.memory_bytes < 64 * 1024 * 1024 {
                let message = format!("must be between 64m and {}m", ceilings.memory_bytes / (1024 * 1024));
                return Err(self.invalid("memory", &message, memory.span()));
            }
        }
        if let Some(cpus) = &raw.cpus {
            limits.cpus = *cpus.get_ref();
            if !(0.1..=ceilings.cpus).contains(&limits.cpus) {
                let message = format!("must be between 0.1 and {}", ceilings.cpus);
                return Err(self.invalid("cpus", &message, cpus.span()));
            }
        }
        if let Some(pids) = &raw.pids {
            limits.pids = *pids.get_ref();
            if !(32..=ceilings.pids).contains(&limits.pids) {
                let message = format!("must be between 32 and {}", ceilings.pids);
                return Err(self.invalid("pids", &message, pids.span()));
            }
        }
        if let Some(writes) = &raw.build_writes {
            let invalid = |message: &str| self.invalid("build_writes", message, writes.span());
            limits.build_write_bytes = parse_memory(writes.get_ref()).map_err(|message| invalid(&message))?;
            if !(MIN_BUILD_WRITES..=ceilings.build_write_bytes).contains(&limits.build_write_bytes) {
                let mib = |bytes: u64| bytes / (1024 * 1024);
                return Err(invalid(&format!(
                    "must be between {}m and {}m",
                    mib(MIN_BUILD_WRITES),
                    mib(ceilings.build_write_bytes)
                )));
            }
        }
        Ok(limits)
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

    /// `packages = ["nginx"]` or `[prepare.packages] apt = [...] dnf = [...]`.
    fn prepare_packages(&self, value: &Spanned<toml::Value>) -> Result<Prepare, ChallengeError> {
        let invalid = |message: &str| self.invalid("packages", message, value.span());
        let names = |list: &toml::Value| -> Result<Vec<String>, ChallengeError> {
            let items = list.as_array().ok_or_else(|| invalid("expected a list of package names"))?;
            items
                .iter()
                .map(|item| match item.as_str() {
                    // Names go into a shell command at image build: only what package names use.
                    Some(name) if is_package_name(name) => Ok(name.to_string()),
                    _ => Err(invalid(&format!("`{item}` is not a package name"))),
                })
                .collect()
        };
        match value.get_ref() {
            toml::Value::Array(_) => Ok(Prepare { common: names(value.get_ref())?, per_family: Vec::new() }),
            toml::Value::Table(table) => {
                let mut per_family = Vec::new();
                for (manager, list) in table {
                    let family = Family::from_package_manager(manager).ok_or_else(|| {
                        invalid(&format!("unknown package manager `{manager}`: expected apt, dnf or apk"))
                    })?;
                    per_family.push((family, names(list)?));
                }
                Ok(Prepare { common: Vec::new(), per_family })
            }
            _ => Err(invalid("expected a list of package names, or a table of lists per package manager")),
        }
    }

    fn invalid(&self, key: &'static str, message: &str, span: std::ops::Range<usize>) -> ChallengeError {
        ChallengeError::InvalidValue { key, message: message.to_string(), src: self.src(), span: span.into() }
    }

    /// Resolves a file named in the manifest (or its default) and proves it stays inside.
    fn file_in_challenge(
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
fn reject_outward_symlinks(dir: &Path) -> Result<(), ChallengeError> {
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

/// Package names as Debian, Fedora and Alpine spell them (`libstdc++6`, `php8.2-fpm`).
fn is_package_name(name: &str) -> bool {
    !name.is_empty()
        && name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "+-._".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn challenge_dir(toml: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(MANIFEST), toml).unwrap();
        std::fs::write(dir.path().join("playbook.yml"), "- hosts: all\n  tasks: []\n").unwrap();
        std::fs::create_dir(dir.path().join("solution")).unwrap();
        std::fs::write(dir.path().join("solution/playbook.yml"), "- hosts: all\n  tasks: []\n").unwrap();
        std::fs::write(dir.path().join("check.sh"), "#!/bin/sh\n").unwrap();
        dir
    }

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
    fn a_docker_challenge_builds_without_a_route_out_unless_it_asks() {
        let docker = |extra: &str| {
            let dir = challenge_dir(&format!("track = \"docker\"\ntitle = \"t\"\n{extra}"));
            std::fs::write(dir.path().join("Dockerfile"), "FROM debian:12\n").unwrap();
            std::fs::write(dir.path().join("solution/Dockerfile"), "FROM debian:12\n").unwrap();
            std::fs::create_dir(dir.path().join("app")).unwrap();
            Challenge::load(dir.path(), &Allowed::default()).unwrap().run.network
        };
        assert_eq!(docker(""), Network::None);
        assert_eq!(docker("[run]\nnetwork = \"egress\"\n"), Network::Egress);
        let ansible = challenge_dir("title = \"t\"\ndistros = [\"debian-12\"]\n");
        assert_eq!(Challenge::load(ansible.path(), &Allowed::default()).unwrap().run.network, Network::Egress);
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

    #[test]
    fn limits_above_the_ceiling_are_rejected() {
        let dir = challenge_dir("title = \"t\"\ndistros = [\"debian-12\"]\n[limits]\nmemory = \"64g\"\n");
        assert!(matches!(
            Challenge::load(dir.path(), &Allowed::default()).unwrap_err(),
            ChallengeError::InvalidValue { key: "memory", .. }
        ));
    }

    #[test]
    fn a_build_write_bound_is_taken_within_its_ceiling() {
        let load = |value: &str| {
            let toml = format!("title = \"t\"\ndistros = [\"debian-12\"]\n[limits]\nbuild_writes = \"{value}\"\n");
            Challenge::load(challenge_dir(&toml).path(), &Allowed::default())
        };
        assert_eq!(load("200m").unwrap().limits.build_write_bytes, 200 * 1024 * 1024);
        for refused in ["4g", "1m", "lots"] {
            assert!(
                matches!(load(refused).unwrap_err(), ChallengeError::InvalidValue { key: "build_writes", .. }),
                "{refused}"
            );
        }
    }
}
