//! The Docker track's part of `challenge.toml`: the build context, the file a second build
//! changes, the app's port and the checks the image must pass (docs/docker-track.md).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::structure::StructureTests;

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
    pub fn name(&self) -> &'static str {
        match self {
            Track::Ansible => "ansible",
            Track::Docker(_) => "docker",
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
    pub hints: BTreeMap<String, String>,
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

/// The names checks are reported and hinted under.
pub const CHECK_NAMES: &[&str] = &[
    "build",
    "run",
    "http",
    "non_root",
    "healthy",
    "size",
    "layers",
    "secrets",
    "stop",
    "cache",
    "exposed",
    "labels",
    "env",
    "structure",
    "check.sh",
];

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
