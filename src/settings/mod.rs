//! The tool's own configuration, as opposed to a challenge's: which runtime, the ceilings no
//! challenge may exceed, the fork-bomb guard, and distros added to the catalog.
//!
//! Read from `$SANDBOX_CONFIG`, else `/etc/sandbox/config.toml`; absent means defaults.
//! It is the operator's file: a challenge cannot touch it.

use std::path::PathBuf;
use std::time::Duration;

use miette::{Diagnostic, NamedSource, SourceSpan};
use serde::Deserialize;

use crate::challenge::{parse_duration, parse_memory};
use crate::distro::{self, Distro, Family};
use crate::isolation::guard::GuardSettings;

pub const DEFAULT_PATH: &str = "/etc/sandbox/config.toml";

#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum ConfigError {
    #[error("cannot read the sandbox config {}", path.display())]
    #[diagnostic(code(sandbox::config::io))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{message}")]
    #[diagnostic(code(sandbox::config::invalid), help("see the README, section \"Configuration\""))]
    Invalid {
        message: String,
        #[source_code]
        src: NamedSource<String>,
        #[label("here")]
        span: Option<SourceSpan>,
    },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    runtime: Option<String>,
    #[serde(default)]
    ceilings: RawCeilings,
    #[serde(default)]
    guard: RawGuard,
    #[serde(default)]
    distro: Vec<RawDistro>,
    /// Warm targets per distro for `sandbox pool up` (`debian-12 = 2`).
    pool: Option<std::collections::BTreeMap<String, usize>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCeilings {
    memory: Option<String>,
    cpus: Option<f64>,
    pids: Option<i64>,
    timeout: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGuard {
    interval: Option<String>,
    threshold: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDistro {
    name: String,
    base_image: String,
    family: String,
    /// Shell commands that install python3, sshd and ps on the base image.
    install: String,
}

/// Limits no challenge can raise.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ceilings {
    pub memory_bytes: u64,
    pub cpus: f64,
    pub pids: i64,
    pub timeout: Duration,
}

impl Default for Ceilings {
    fn default() -> Self {
        Ceilings { memory_bytes: 4 * 1024 * 1024 * 1024, cpus: 2.0, pids: 4096, timeout: Duration::from_secs(2 * 3600) }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Config {
    pub runtime: Option<String>,
    pub ceilings: Ceilings,
    pub guard: GuardSettings,
    pub extra_distros: Vec<Distro>,
    /// `[pool]`: distro name → warm targets; None: the built-in defaults.
    pub pool_sizes: Option<Vec<(String, usize)>>,
}

impl Config {
    /// Loads the config file named by `$SANDBOX_CONFIG` or the default path.
    pub fn load() -> Result<Config, ConfigError> {
        let path = std::env::var_os("SANDBOX_CONFIG").map(PathBuf::from).unwrap_or_else(|| DEFAULT_PATH.into());
        match std::fs::read_to_string(&path) {
            Ok(text) => Config::parse(&text, &path.display().to_string()),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
            Err(source) => Err(ConfigError::Io { path, source }),
        }
    }

    pub fn parse(text: &str, name: &str) -> Result<Config, ConfigError> {
        let invalid = |message: String, span: Option<std::ops::Range<usize>>| ConfigError::Invalid {
            message,
            src: NamedSource::new(name, text.to_string()),
            span: span.map(SourceSpan::from),
        };
        let raw: RawConfig = toml::from_str(text).map_err(|err| invalid(err.message().to_string(), err.span()))?;
        let mut config = Config { runtime: raw.runtime, ..Config::default() };
        let ceilings = &mut config.ceilings;
        if let Some(memory) = raw.ceilings.memory {
            ceilings.memory_bytes =
                parse_memory(&memory).map_err(|m| invalid(format!("ceilings.memory: {m}"), None))?;
        }
        if let Some(timeout) = raw.ceilings.timeout {
            ceilings.timeout = parse_duration(&timeout).map_err(|m| invalid(format!("ceilings.timeout: {m}"), None))?;
        }
        ceilings.cpus = raw.ceilings.cpus.unwrap_or(ceilings.cpus);
        ceilings.pids = raw.ceilings.pids.unwrap_or(ceilings.pids);
        if let Some(interval) = raw.guard.interval {
            config.guard.interval =
                parse_duration(&interval).map_err(|m| invalid(format!("guard.interval: {m}"), None))?;
        }
        if let Some(threshold) = raw.guard.threshold {
            if !(threshold > 0.0 && threshold <= 1.0) {
                return Err(invalid("guard.threshold must be a fraction in (0, 1]".into(), None));
            }
            config.guard.threshold = threshold;
        }
        for raw in raw.distro {
            let Some(family) = Family::from_package_manager(&raw.family) else {
                let message = format!("distro {}: unknown family `{}` (apt, dnf, apk)", raw.name, raw.family);
                return Err(invalid(message, None));
            };
            if distro::find(&raw.name).is_some() {
                return Err(invalid(format!("distro {} is already in the catalog", raw.name), None));
            }
            // The catalog hands out `&'static Distro`; a config is read once per process.
            let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
            config.extra_distros.push(Distro {
                name: leak(raw.name),
                base_image: leak(raw.base_image),
                family,
                install_bootstrap_packages: leak(raw.install),
            });
        }
        // Distro names are checked when the pool starts: extra distros join the catalog later.
        config.pool_sizes = raw.pool.map(|sizes| sizes.into_iter().collect());
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_config_is_the_defaults() {
        let config = Config::parse("", "c.toml").unwrap();
        assert_eq!(config.ceilings, Ceilings::default());
        assert!(config.runtime.is_none());
        assert_eq!(config.guard.interval, Duration::from_secs(2));
    }

    #[test]
    fn every_section_is_read() {
        let config = Config::parse(
            "runtime = \"runc\"\n[ceilings]\nmemory = \"1g\"\ncpus = 1.0\npids = 512\ntimeout = \"30m\"\n\
             [guard]\ninterval = \"1s\"\nthreshold = 0.8\n\
             [[distro]]\nname = \"debian-12-slim\"\nbase_image = \"local/debian:12-slim\"\nfamily = \"apt\"\ninstall = \"apt-get update\"\n",
            "c.toml",
        )
        .unwrap();
        assert_eq!(config.runtime.as_deref(), Some("runc"));
        assert_eq!(config.ceilings.memory_bytes, 1024 * 1024 * 1024);
        assert_eq!(config.ceilings.pids, 512);
        assert_eq!(config.ceilings.timeout, Duration::from_secs(1800));
        assert_eq!(config.guard.threshold, 0.8);
        assert_eq!(config.extra_distros[0].name, "debian-12-slim");
        assert_eq!(config.extra_distros[0].family, Family::Debian);
    }

    #[test]
    fn unknown_keys_and_duplicate_distros_are_refused() {
        assert!(Config::parse("runtim = \"runc\"\n", "c.toml").is_err());
        let dup = "[[distro]]\nname = \"debian-12\"\nbase_image = \"x\"\nfamily = \"apt\"\ninstall = \"true\"\n";
        assert!(Config::parse(dup, "c.toml").is_err());
    }
}
