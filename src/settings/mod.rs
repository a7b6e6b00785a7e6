//! The tool's own settings, as opposed to a challenge's: which runtime, the ceilings no
//! challenge may exceed, the fork-bomb guard, distros added to the catalog, where the pool
//! keeps its state. Resolved once, at the top (`Settings::from_environment`), from the
//! environment and the config file; nothing below the commands reads the environment.
//!
//! The config file is `$SANDBOX_CONFIG`, else `/etc/sandbox/config.toml`; absent means
//! defaults. It is the operator's file: a challenge cannot touch it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use miette::{Diagnostic, NamedSource, SourceSpan};
use serde::Deserialize;

use crate::challenge::{Allowed, Ceilings, MAX_BUILD_WRITES};
use crate::distro::{Catalog, Distro, Family};
use crate::docker::{Endpoint, EngineError};
use crate::isolation::guard::GuardSettings;
use crate::isolation::DEFAULT_RUNTIME;
use crate::learner::library::{Library, BUILT_IN};
use crate::learner::progress::ProgressFile;
use crate::pool::{self, Location};
use crate::units::{parse_duration, parse_memory};

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
    /// The challenge library (default: the clone's `challenges/`).
    library: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCeilings {
    memory: Option<String>,
    cpus: Option<f64>,
    pids: Option<i64>,
    timeout: Option<String>,
    build_writes: Option<String>,
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

#[derive(Debug, Clone, Default)]
pub struct Config {
    pub runtime: Option<String>,
    pub ceilings: Ceilings,
    pub guard: GuardSettings,
    pub extra_distros: Vec<Distro>,
    /// `[pool]`: distro name → warm targets; None: the built-in defaults.
    pub pool_sizes: Option<Vec<(String, usize)>>,
    pub library: Option<PathBuf>,
}

/// Everything the commands take from outside their flags, resolved once.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The distros and limits a challenge may use.
    pub allowed: Allowed,
    /// The runtime a command uses when its `--runtime` says nothing.
    pub runtime: String,
    pub guard: GuardSettings,
    /// The CLI's warm pool.
    pub pool: Location,
    /// `[pool]`: distro name → warm targets; None: the built-in defaults.
    pub pool_sizes: Option<Vec<(String, usize)>>,
    /// The Docker track's builder: the Unix socket of sandbox's own dockerd.
    pub builder: String,
    /// Docker's own variables as read (`DOCKER_HOST`, `DOCKER_TLS_VERIFY`, `DOCKER_CERT_PATH`,
    /// `HOME`), parsed by `engine()` only when a command needs Docker: a bad DOCKER_HOST
    /// does not stop `lint`.
    pub docker_variables: Vec<(&'static str, String)>,
    /// The challenge library learners pick from.
    pub library: Library,
    /// The learner's progress (`$XDG_DATA_HOME/sandbox/progress.json`).
    pub progress: ProgressFile,
}

impl Settings {
    /// From the process's environment and the config file it names.
    pub fn from_environment() -> Result<Settings, ConfigError> {
        let env = |name: &str| std::env::var(name).ok();
        Ok(Settings::resolve(Config::load(env("SANDBOX_CONFIG"))?, env))
    }

    /// `config` with the environment's overrides on top:
    /// - `SANDBOX_STATE_DIR` (default /var/lib/sandbox) and `SANDBOX_POOL_NAMESPACE` (default
    ///   `default`: separate pools on one daemon, e.g. in tests) place the pool;
    /// - `SANDBOX_GUARD_INTERVAL_MS` and `SANDBOX_GUARD_THRESHOLD` (a fraction, e.g. 0.9) tune the guard;
    /// - `SANDBOX_BUILDER_SOCKET` (default /run/sandbox/builder.sock) is where the builder listens;
    /// - `SANDBOX_LIBRARY` (else the config's `library`, else the clone's `challenges/`) is the
    ///   challenge library, `XDG_DATA_HOME` (else `~/.local/share`) holds `sandbox/progress.json`.
    pub fn resolve(config: Config, env: impl Fn(&str) -> Option<String>) -> Settings {
        let mut guard = config.guard;
        if let Some(ms) = env("SANDBOX_GUARD_INTERVAL_MS").and_then(|v| v.parse().ok()) {
            guard.interval = Duration::from_millis(ms);
        }
        if let Some(fraction) = env("SANDBOX_GUARD_THRESHOLD").and_then(|v| v.parse::<f64>().ok()) {
            if fraction > 0.0 && fraction <= 1.0 {
                guard.threshold = fraction;
            }
        }
        let pool = Location {
            namespace: env("SANDBOX_POOL_NAMESPACE").unwrap_or_else(|| pool::DEFAULT_NAMESPACE.into()),
            state_dir: env("SANDBOX_STATE_DIR").map_or_else(|| PathBuf::from("/var/lib/sandbox"), PathBuf::from),
        };
        Settings {
            allowed: Allowed { catalog: Catalog::with_extra(config.extra_distros), ceilings: config.ceilings },
            runtime: config.runtime.unwrap_or_else(|| DEFAULT_RUNTIME.to_string()),
            guard,
            pool,
            pool_sizes: config.pool_sizes,
            builder: env("SANDBOX_BUILDER_SOCKET").unwrap_or_else(|| crate::dockerfile::DEFAULT_SOCKET.into()),
            docker_variables: Endpoint::VARIABLES.iter().filter_map(|&name| Some((name, env(name)?))).collect(),
            library: Library {
                root: env("SANDBOX_LIBRARY").map(PathBuf::from).or(config.library).unwrap_or_else(|| BUILT_IN.into()),
            },
            progress: ProgressFile::in_dir(&data_dir(&env)),
        }
    }

    /// The Docker engine every command talks to, as Docker's own clients find it.
    pub fn engine(&self) -> Result<Endpoint, EngineError> {
        Endpoint::from_docker_variables(|name| {
            self.docker_variables.iter().find(|(known, _)| *known == name).map(|(_, value)| value.clone())
        })
    }

    /// The runtime of a command: its `--runtime`, else the configured one.
    pub fn runtime(&self, flag: Option<String>) -> String {
        flag.unwrap_or_else(|| self.runtime.clone())
    }
}

/// Where a learner's data lives: `$XDG_DATA_HOME/sandbox`, else `~/.local/share/sandbox`.
fn data_dir(env: &impl Fn(&str) -> Option<String>) -> PathBuf {
    let base = env("XDG_DATA_HOME")
        .filter(|dir| Path::new(dir).is_absolute())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env("HOME").unwrap_or_else(|| "/root".into())).join(".local/share"));
    base.join("sandbox")
}

impl Config {
    /// Loads the config file at `path`, or the default path when None.
    pub fn load(path: Option<String>) -> Result<Config, ConfigError> {
        let path = path.map(PathBuf::from).unwrap_or_else(|| DEFAULT_PATH.into());
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
        let mut config = Config { runtime: raw.runtime, library: raw.library, ..Config::default() };
        let ceilings = &mut config.ceilings;
        if let Some(memory) = raw.ceilings.memory {
            ceilings.memory_bytes =
                parse_memory(&memory).map_err(|m| invalid(format!("ceilings.memory: {m}"), None))?;
        }
        if let Some(timeout) = raw.ceilings.timeout {
            ceilings.timeout = parse_duration(&timeout).map_err(|m| invalid(format!("ceilings.timeout: {m}"), None))?;
        }
        if let Some(writes) = raw.ceilings.build_writes {
            ceilings.build_write_bytes =
                parse_memory(&writes).map_err(|m| invalid(format!("ceilings.build_writes: {m}"), None))?;
            if ceilings.build_write_bytes > MAX_BUILD_WRITES {
                return Err(invalid(
                    "ceilings.build_writes: at most 2047m (the build API carries it in 32 bits)".into(),
                    None,
                ));
            }
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
            if Catalog::builtin().find(&raw.name).is_some() {
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

    #[test]
    fn the_environment_overrides_the_file_and_places_the_pool() {
        let config = Config::parse("runtime = \"runc\"\n[guard]\nthreshold = 0.8\n", "c.toml").unwrap();
        let env = |name: &str| match name {
            "SANDBOX_GUARD_THRESHOLD" => Some("0.5".to_string()),
            "SANDBOX_POOL_NAMESPACE" => Some("tests".to_string()),
            _ => None,
        };
        let settings = Settings::resolve(config, env);
        assert_eq!(settings.guard.threshold, 0.5);
        assert_eq!(settings.pool.namespace, "tests");
        assert_eq!(settings.pool.state_dir, PathBuf::from("/var/lib/sandbox"));
        assert_eq!(settings.runtime(None), "runc");
        assert_eq!(settings.runtime(Some("runsc".into())), "runsc");
        assert_eq!(Settings::resolve(Config::default(), |_| None).runtime, DEFAULT_RUNTIME);
    }

    #[test]
    fn the_docker_engine_is_found_as_docker_finds_it_and_only_when_asked() {
        let local = Settings::resolve(Config::default(), |_| None);
        assert_eq!(local.engine().unwrap(), Endpoint::Unix("unix:///var/run/docker.sock".into()));
        let env = |name: &str| match name {
            "DOCKER_HOST" => Some("tcp://10.0.0.2:2376".to_string()),
            "DOCKER_TLS_VERIFY" => Some("1".to_string()),
            "HOME" => Some("/home/me".to_string()),
            _ => None,
        };
        let remote = Settings::resolve(Config::default(), env).engine().unwrap();
        assert_eq!(remote, Endpoint::Tls { host: "tcp://10.0.0.2:2376".into(), certs: "/home/me/.docker".into() });
        // Resolving settings with an engine sandbox cannot reach succeeds; asking for it fails.
        let ssh =
            Settings::resolve(Config::default(), |name| (name == "DOCKER_HOST").then(|| "ssh://me@box".to_string()));
        assert!(ssh.engine().is_err());
    }
}
