//! `[run]`: how long an attempt may take, whether targets reach the network, what their
//! `systemctl` does and how Ansible runs its tasks.

use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::error::ChallengeError;
use super::image::Track;
use super::parsed::Parsed;
use crate::units::parse_duration;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRun {
    idempotent: Option<bool>,
    timeout: Option<Spanned<String>>,
    network: Option<Spanned<String>>,
    services: Option<Spanned<String>>,
    strategy: Option<Spanned<String>>,
}

/// Whether targets can reach package mirrors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network {
    Egress,
    None,
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

#[derive(Debug, Clone)]
pub struct RunSettings {
    pub idempotent: bool,
    pub timeout: Duration,
    pub network: Network,
    pub services: ServicesMode,
    pub strategy: Strategy,
}

impl Parsed {
    /// `[run]`: the timeout within the ceiling, the network, services and strategy.
    pub(super) fn run_settings(&self, raw: &RawRun, track: &Track) -> Result<RunSettings, ChallengeError> {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::challenge::fixture::challenge_dir;
    use crate::challenge::{Allowed, Challenge};

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
}
