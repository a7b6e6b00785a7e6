//! The Docker track's part of `challenge.toml`: the build context, the file a second build
//! changes, the app's port and the checks the image must pass (docs/docker-track.md).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use miette::NamedSource;

use super::error::ChallengeError;
use super::parsed::Parsed;
use super::structure::StructureTests;
use crate::units::{parse_duration, parse_size};

/// Which kind of challenge a directory holds.
// One per loaded challenge: the size of the Docker variant costs nothing worth a Box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Track {
    /// A playbook applied twice to one container per distro.
    Ansible,
    /// A Dockerfile built twice under gVisor, its image run and checked.
    Docker(ImageSpec),
}

impl Track {
    pub fn kind(&self) -> TrackKind {
        match self {
            Track::Ansible => TrackKind::Ansible,
            Track::Docker(_) => TrackKind::Docker,
        }
    }

    pub fn name(&self) -> &'static str {
        self.kind().name()
    }
}

/// Which track, without what it runs: what a report says and `sandbox new --track` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum TrackKind {
    Ansible,
    Docker,
}

impl TrackKind {
    pub fn name(self) -> &'static str {
        match self {
            TrackKind::Ansible => "ansible",
            TrackKind::Docker => "docker",
        }
    }
}

/// What a Docker challenge builds and how its image is judged.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageSpec {
    /// The build context, a directory of the challenge.
    pub context: PathBuf,
    /// Changed before the second build (the cache lesson); None: built again unchanged.
    pub touch: Option<PathBuf>,
    /// The port the app listens on.
    pub port: Option<u16>,
    pub checks: ImageChecks,
}

/// The built-in checks a challenge declares; unset ones are not run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImageChecks {
    pub http: Option<HttpCheck>,
    pub non_root: bool,
    pub healthy_within: Option<Duration>,
    pub max_size: Option<u64>,
    pub max_layers: Option<usize>,
    /// Strings no layer, history entry, environment variable or label may contain.
    pub secrets: Vec<String>,
    pub stops_within: Option<Duration>,
    /// The second build must take each step whose instruction contains one of these from cache.
    pub cached: Vec<String>,
    pub exposed: Vec<u16>,
    pub labels: BTreeMap<String, String>,
    pub env: BTreeMap<String, String>,
    /// A container-structure-test file's tests (`[checks] structure`).
    pub structure: Option<StructureTests>,
    /// The author's hint per check name.
    pub hints: BTreeMap<ImageCheck, String>,
}

/// An HTTP request the app must answer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpCheck {
    #[serde(default = "root_path")]
    pub path: String,
    #[serde(default = "ok_status")]
    pub status: u16,
    /// A substring of the response body.
    pub body: Option<String>,
}

fn root_path() -> String {
    "/".into()
}

fn ok_status() -> u16 {
    200
}

/// The Docker track's checks, by the names they are reported and hinted under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ImageCheck {
    Build,
    Run,
    Http,
    NonRoot,
    Healthy,
    Size,
    Layers,
    Secrets,
    Stop,
    Cache,
    Exposed,
    Labels,
    Env,
    Structure,
    CheckSh,
}

impl ImageCheck {
    pub const ALL: [ImageCheck; 15] = [
        ImageCheck::Build,
        ImageCheck::Run,
        ImageCheck::Http,
        ImageCheck::NonRoot,
        ImageCheck::Healthy,
        ImageCheck::Size,
        ImageCheck::Layers,
        ImageCheck::Secrets,
        ImageCheck::Stop,
        ImageCheck::Cache,
        ImageCheck::Exposed,
        ImageCheck::Labels,
        ImageCheck::Env,
        ImageCheck::Structure,
        ImageCheck::CheckSh,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ImageCheck::Build => "build",
            ImageCheck::Run => "run",
            ImageCheck::Http => "http",
            ImageCheck::NonRoot => "non_root",
            ImageCheck::Healthy => "healthy",
            ImageCheck::Size => "size",
            ImageCheck::Layers => "layers",
            ImageCheck::Secrets => "secrets",
            ImageCheck::Stop => "stop",
            ImageCheck::Cache => "cache",
            ImageCheck::Exposed => "exposed",
            ImageCheck::Labels => "labels",
            ImageCheck::Env => "env",
            ImageCheck::Structure => "structure",
            ImageCheck::CheckSh => "check.sh",
        }
    }

    pub fn parse(name: &str) -> Option<ImageCheck> {
        ImageCheck::ALL.into_iter().find(|check| check.name() == name)
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawImage {
    pub context: Option<Spanned<String>>,
    pub touch: Option<Spanned<String>>,
    pub port: Option<Spanned<i64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawChecks {
    pub http: Option<HttpCheck>,
    #[serde(default)]
    pub non_root: bool,
    pub healthy_within: Option<Spanned<String>>,
    pub max_size: Option<Spanned<String>>,
    pub max_layers: Option<Spanned<i64>>,
    #[serde(default)]
    pub secrets: Vec<String>,
    pub stops_within: Option<Spanned<String>>,
    #[serde(default)]
    pub cached: Vec<String>,
    #[serde(default)]
    pub exposed: Vec<u16>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// A container-structure-test YAML file of the challenge.
    pub structure: Option<Spanned<String>>,
    #[serde(default)]
    pub hints: BTreeMap<Spanned<String>, String>,
    /// A goss file (Ansible track only).
    pub goss: Option<Spanned<String>>,
}

impl RawChecks {
    /// The first check set that only the Docker track has, for an Ansible challenge's error.
    pub fn docker_only_key(&self) -> Option<&'static str> {
        [
            ("http", self.http.is_some()),
            ("non_root", self.non_root),
            ("healthy_within", self.healthy_within.is_some()),
            ("max_size", self.max_size.is_some()),
            ("max_layers", self.max_layers.is_some()),
            ("secrets", !self.secrets.is_empty()),
            ("stops_within", self.stops_within.is_some()),
            ("cached", !self.cached.is_empty()),
            ("exposed", !self.exposed.is_empty()),
            ("labels", !self.labels.is_empty()),
            ("env", !self.env.is_empty()),
            ("structure", self.structure.is_some()),
        ]
        .into_iter()
        .find_map(|(key, set)| set.then_some(key))
    }
}

/// The Docker track's keys, validated where the rest of the manifest is (spans kept).
impl Parsed {
    pub(super) fn image_spec(&self, raw: &RawImage, checks: Option<&RawChecks>) -> Result<ImageSpec, ChallengeError> {
        let context = self.dir_in_challenge("build context", raw.context.as_ref(), "app")?;
        let touch = match &raw.touch {
            None => None,
            Some(value) => Some(self.file_in_challenge("touched file", "touch", Some(value), "")?),
        };
        if let Some(touched) = &touch {
            if !touched.starts_with(&context) {
                let span = raw.touch.as_ref().map(Spanned::span).unwrap_or_default();
                return Err(self.invalid("touch", "must be a file of the build context", span));
            }
        }
        let port = match &raw.port {
            None => None,
            Some(value) => Some(
                u16::try_from(*value.get_ref())
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| self.invalid("port", "must be between 1 and 65535", value.span()))?,
            ),
        };
        let checks = match checks {
            None => ImageChecks::default(),
            Some(raw) => self.image_checks(raw)?,
        };
        if checks.http.is_some() && port.is_none() {
            return Err(self.missing("port", "the http check needs `[image] port`"));
        }
        Ok(ImageSpec { context, touch, port, checks })
    }

    fn image_checks(&self, raw: &RawChecks) -> Result<ImageChecks, ChallengeError> {
        let duration =
            |key: &'static str, value: &Option<Spanned<String>>| -> Result<Option<Duration>, ChallengeError> {
                value
                    .as_ref()
                    .map(|v| parse_duration(v.get_ref()).map_err(|message| self.invalid(key, &message, v.span())))
                    .transpose()
            };
        let max_size = raw
            .max_size
            .as_ref()
            .map(|v| parse_size(v.get_ref()).map_err(|message| self.invalid("max_size", &message, v.span())))
            .transpose()?;
        let max_layers = raw
            .max_layers
            .as_ref()
            .map(|v| {
                usize::try_from(*v.get_ref())
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| self.invalid("max_layers", "must be a positive number", v.span()))
            })
            .transpose()?;
        let mut hints = std::collections::BTreeMap::new();
        for (name, hint) in &raw.hints {
            let Some(check) = ImageCheck::parse(name.get_ref()) else {
                let names: Vec<&str> = ImageCheck::ALL.iter().map(|check| check.name()).collect();
                let message = format!("not a check: expected one of {}", names.join(", "));
                return Err(self.invalid("hints", &message, name.span()));
            };
            hints.insert(check, hint.clone());
        }
        let structure = raw.structure.as_ref().map(|path| self.structure_tests(path)).transpose()?;
        Ok(ImageChecks {
            structure,
            http: raw.http.clone(),
            non_root: raw.non_root,
            healthy_within: duration("healthy_within", &raw.healthy_within)?,
            max_size,
            max_layers,
            secrets: raw.secrets.clone(),
            stops_within: duration("stops_within", &raw.stops_within)?,
            cached: raw.cached.clone(),
            exposed: raw.exposed.clone(),
            labels: raw.labels.clone(),
            env: raw.env.clone(),
            hints,
        })
    }

    /// A container-structure-test file named by `[checks] structure`, read and typed.
    fn structure_tests(&self, value: &Spanned<String>) -> Result<StructureTests, ChallengeError> {
        let relative = self.file_in_challenge("structure tests", "structure", Some(value), "")?;
        let path = self.dir.join(relative);
        let text =
            std::fs::read_to_string(&path).map_err(|source| ChallengeError::Io { path: path.clone(), source })?;
        super::structure::parse(&text).map_err(|err| ChallengeError::StructureTests {
            message: err.message,
            src: NamedSource::new(path.display().to_string(), text.clone()),
            span: err.span.into(),
            path,
        })
    }
}
