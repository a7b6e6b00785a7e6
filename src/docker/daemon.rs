//! The daemon itself: where it is (`Endpoint`, read from Docker's own variables), the connection,
//! and what it does unless told otherwise (its defaults, its registered runtimes).

use std::collections::HashMap;
use std::path::PathBuf;

use bollard::Docker;
use miette::Diagnostic;

use super::{BollardError, Engine, EngineError};

#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum DaemonError {
    #[error("cannot reach the Docker daemon at {host}")]
    #[diagnostic(
        code(sandbox::engine::unreachable),
        help(
            "start it with `sudo scripts/setup.sh` (it starts dockerd when it is not running), or set DOCKER_HOST \
             (with DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH for a remote engine over TLS)"
        )
    )]
    Unreachable {
        host: String,
        #[source]
        source: BollardError,
    },

    #[error("DOCKER_HOST={host}: {message}")]
    #[diagnostic(
        code(sandbox::engine::endpoint),
        help(
            "DOCKER_HOST is unix:///path or tcp://host:port; with DOCKER_TLS_VERIFY set, DOCKER_CERT_PATH \
             (default ~/.docker) holds ca.pem, cert.pem and key.pem, as for the docker CLI"
        )
    )]
    Endpoint { host: String, message: String },

    #[error("failed to read the Docker daemon's configuration")]
    #[diagnostic(code(sandbox::engine::info))]
    Info(#[source] BollardError),
}

/// What a daemon does unless told otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonDefaults {
    pub default_runtime: String,
    /// Where it keeps images and layers (`--data-root`).
    pub root_dir: String,
    /// `overlay2`, `btrfs`, …
    pub storage_driver: String,
}

/// A runtime registered with the daemon: its binary and the arguments it is started with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredRuntime {
    pub path: String,
    pub args: Vec<String>,
}

/// Where the Docker engine is: the local socket, or another machine over TCP (with TLS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Unix(String),
    /// Plain HTTP, as `docker` speaks to `tcp://` without DOCKER_TLS_VERIFY.
    Tcp(String),
    /// Mutual TLS: the server verified against `ca.pem`, the client shows `cert.pem`/`key.pem`.
    Tls {
        host: String,
        certs: PathBuf,
    },
}

/// The socket Docker listens on by default.
const LOCAL_SOCKET: &str = "unix:///var/run/docker.sock";

/// Seconds a request may take (bollard's default, as before).
const REQUEST_TIMEOUT: u64 = 120;

impl Endpoint {
    /// What `from_docker_variables` reads.
    pub const VARIABLES: [&'static str; 4] = ["DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "HOME"];

    /// Reads Docker's own variables the way the docker CLI does: `DOCKER_HOST` (default the
    /// local socket); `DOCKER_TLS_VERIFY` set to anything but the empty string means TLS with
    /// verification; `DOCKER_CERT_PATH` (default `~/.docker`) holds `ca.pem`, `cert.pem`,
    /// `key.pem`. `var` is the environment (a closure, so tests pass their own).
    pub fn from_docker_variables(var: impl Fn(&str) -> Option<String>) -> Result<Endpoint, EngineError> {
        let host = var("DOCKER_HOST").filter(|h| !h.is_empty()).unwrap_or_else(|| LOCAL_SOCKET.to_string());
        let tls = var("DOCKER_TLS_VERIFY").is_some_and(|v| !v.is_empty());
        let unsupported = |message: &str| {
            EngineError::from(DaemonError::Endpoint { host: host.clone(), message: message.to_string() })
        };
        if host.starts_with("unix://") {
            return Ok(Endpoint::Unix(host));
        }
        if !host.starts_with("tcp://") {
            return Err(unsupported("only unix:// and tcp:// engines are supported (not ssh:// or npipe://)"));
        }
        if !tls {
            return Ok(Endpoint::Tcp(host));
        }
        let certs = match var("DOCKER_CERT_PATH").filter(|p| !p.is_empty()) {
            Some(path) => PathBuf::from(path),
            None => var("HOME").map(|home| PathBuf::from(home).join(".docker")).ok_or_else(|| {
                unsupported(
                    "DOCKER_TLS_VERIFY is set, but neither DOCKER_CERT_PATH nor HOME says where the certificates are",
                )
            })?,
        };
        Ok(Endpoint::Tls { host, certs })
    }

    pub fn host(&self) -> &str {
        match self {
            Endpoint::Unix(host) | Endpoint::Tcp(host) | Endpoint::Tls { host, .. } => host,
        }
    }
}

impl Engine {
    /// Connects to `endpoint` (see `Endpoint::from_docker_variables`) and agrees on an API
    /// version, so a 20.10 daemon (API 1.41) works with a client that knows newer APIs.
    pub async fn connect(endpoint: &Endpoint) -> Result<Engine, EngineError> {
        let host = endpoint.host().to_string();
        let unreachable = |source| DaemonError::Unreachable { host: host.clone(), source };
        let docker = match endpoint {
            Endpoint::Unix(socket) => Docker::connect_with_unix(socket, REQUEST_TIMEOUT, bollard::API_DEFAULT_VERSION),
            Endpoint::Tcp(host) => Docker::connect_with_http(host, REQUEST_TIMEOUT, bollard::API_DEFAULT_VERSION),
            Endpoint::Tls { host, certs } => {
                for file in ["ca.pem", "cert.pem", "key.pem"] {
                    if !certs.join(file).is_file() {
                        let message =
                            format!("DOCKER_TLS_VERIFY is set, but {} is missing", certs.join(file).display());
                        return Err(DaemonError::Endpoint { host: host.clone(), message }.into());
                    }
                }
                Docker::connect_with_ssl(
                    host,
                    &certs.join("key.pem"),
                    &certs.join("cert.pem"),
                    &certs.join("ca.pem"),
                    REQUEST_TIMEOUT,
                    bollard::API_DEFAULT_VERSION,
                )
            }
        }
        .map_err(unreachable)?;
        let docker = docker.negotiate_version().await.map_err(unreachable)?;
        docker.ping().await.map_err(unreachable)?;
        Ok(Engine { docker, runtimes: std::sync::Arc::default() })
    }

    /// What the daemon does unless told otherwise (its default runtime).
    pub async fn defaults(&self) -> Result<DaemonDefaults, EngineError> {
        let info = self.docker.info().await.map_err(DaemonError::Info)?;
        Ok(DaemonDefaults {
            default_runtime: info.default_runtime.unwrap_or_default(),
            root_dir: info.docker_root_dir.unwrap_or_default(),
            storage_driver: info.driver.unwrap_or_default(),
        })
    }

    /// Runtimes registered with the daemon (`runc`, `runsc`, …) by name.
    pub async fn runtimes(&self) -> Result<&HashMap<String, RegisteredRuntime>, EngineError> {
        self.runtimes
            .get_or_try_init(|| async {
                let info = self.docker.info().await.map_err(DaemonError::Info)?;
                Ok(info
                    .runtimes
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(name, runtime)| {
                        let registered = RegisteredRuntime {
                            path: runtime.path.unwrap_or_default(),
                            args: runtime.runtime_args.unwrap_or_default(),
                        };
                        (name, registered)
                    })
                    .collect())
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(vars: &[(&str, &str)]) -> Result<Endpoint, EngineError> {
        Endpoint::from_docker_variables(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string()))
    }

    #[test]
    fn docker_variables_are_read_as_the_docker_cli_reads_them() {
        assert_eq!(endpoint(&[]).unwrap(), Endpoint::Unix(LOCAL_SOCKET.into()));
        assert_eq!(endpoint(&[("DOCKER_HOST", "")]).unwrap(), Endpoint::Unix(LOCAL_SOCKET.into()));
        assert_eq!(
            endpoint(&[("DOCKER_HOST", "unix:///run/d.sock")]).unwrap(),
            Endpoint::Unix("unix:///run/d.sock".into())
        );
        let tcp = "tcp://10.0.0.5:2376";
        assert_eq!(endpoint(&[("DOCKER_HOST", tcp)]).unwrap(), Endpoint::Tcp(tcp.into()));
        // An empty DOCKER_TLS_VERIFY is off, as for docker.
        assert_eq!(endpoint(&[("DOCKER_HOST", tcp), ("DOCKER_TLS_VERIFY", "")]).unwrap(), Endpoint::Tcp(tcp.into()));
        assert_eq!(
            endpoint(&[("DOCKER_HOST", tcp), ("DOCKER_TLS_VERIFY", "1"), ("DOCKER_CERT_PATH", "/certs")]).unwrap(),
            Endpoint::Tls { host: tcp.into(), certs: "/certs".into() }
        );
        assert_eq!(
            endpoint(&[("DOCKER_HOST", tcp), ("DOCKER_TLS_VERIFY", "1"), ("HOME", "/home/u")]).unwrap(),
            Endpoint::Tls { host: tcp.into(), certs: "/home/u/.docker".into() }
        );
        assert!(matches!(
            endpoint(&[("DOCKER_HOST", "ssh://u@h")]),
            Err(EngineError::Daemon(DaemonError::Endpoint { .. }))
        ));
    }
}
