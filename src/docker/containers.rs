//! Containers: created confined as their spec says, started, watched, stopped and removed.

use std::collections::HashMap;
use std::time::Duration;

use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, EndpointSettings, HostConfig, HostConfigLogConfig, NetworkingConfig,
    ResourcesUlimits,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListContainersOptionsBuilder, LogsOptionsBuilder, RemoveContainerOptionsBuilder,
    StatsOptionsBuilder, WaitContainerOptionsBuilder,
};
use futures_util::{StreamExt, TryStreamExt};
use miette::Diagnostic;

use super::{BollardError, Engine, EngineError};

#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum ContainerError {
    #[error("failed to create {what}")]
    #[diagnostic(code(sandbox::engine::create))]
    CreateContainer {
        what: String,
        #[source]
        source: BollardError,
    },

    #[error("failed to start {what}")]
    #[diagnostic(code(sandbox::engine::start))]
    StartContainer {
        what: String,
        #[source]
        source: BollardError,
    },

    #[error("failed to list containers labelled {label}")]
    #[diagnostic(code(sandbox::engine::list))]
    ListContainers {
        label: String,
        #[source]
        source: BollardError,
    },

    #[error("failed to rename container {id} to {name}")]
    #[diagnostic(code(sandbox::engine::rename))]
    RenameContainer {
        id: String,
        name: String,
        #[source]
        source: BollardError,
    },

    #[error("failed to remove container {id}")]
    #[diagnostic(code(sandbox::engine::remove_container))]
    RemoveContainer {
        id: String,
        #[source]
        source: BollardError,
    },

    #[error("failed to stop {what}")]
    #[diagnostic(code(sandbox::engine::stop))]
    Stop {
        what: String,
        #[source]
        source: BollardError,
    },

    #[error("failed to inspect {what}")]
    #[diagnostic(code(sandbox::engine::inspect))]
    Inspect {
        what: String,
        #[source]
        source: BollardError,
    },

    #[error("failed to list processes of {what}")]
    #[diagnostic(code(sandbox::engine::top))]
    Top {
        what: String,
        #[source]
        source: BollardError,
    },

    #[error("failed to wait for {what} to exit")]
    #[diagnostic(code(sandbox::engine::wait))]
    Wait {
        what: String,
        #[source]
        source: BollardError,
    },

    #[error("failed to read what {what} printed")]
    #[diagnostic(code(sandbox::engine::logs))]
    Logs {
        what: String,
        #[source]
        source: BollardError,
    },
}

/// What a container should be.
#[derive(Debug, Clone)]
pub struct ContainerSpec {
    pub name: String,
    /// Shown in errors: "target debian-12", "controller".
    pub what: String,
    pub image: String,
    pub hostname: String,
    /// Empty: the image's CMD.
    pub cmd: Vec<String>,
    /// None: the image's ENTRYPOINT; an empty list clears it.
    pub entrypoint: Option<Vec<String>>,
    pub env: Vec<String>,
    pub labels: HashMap<String, String>,
    pub network: String,
    pub runtime: String,
    pub confinement: Confinement,
}

/// How a container is confined; `isolation` decides it.
#[derive(Debug, Clone, PartialEq)]
pub struct Confinement {
    pub memory_bytes: i64,
    pub nano_cpus: i64,
    /// The host's pids cgroup limit.
    pub pids_limit: i64,
    /// RLIMIT_NPROC inside the container.
    pub nproc: i64,
    pub no_new_privileges: bool,
    pub cap_drop: Vec<String>,
    /// Mount point → mount options.
    pub tmpfs: HashMap<String, String>,
    /// Nothing but the tmpfs mounts is writable.
    pub read_only_root: bool,
    /// The json-file log's cap (one file), e.g. `10m`.
    pub log_max_size: String,
}

/// How a container ended, read from its state.
#[derive(Debug, Clone, Default)]
pub struct ContainerState {
    pub running: bool,
    pub oom_killed: bool,
    pub exit_code: i64,
    /// The image it was created from (`sha256:…`).
    pub image_id: String,
    /// Its name now, without the leading `/`.
    pub name: String,
}

/// A container as the engine lists it.
#[derive(Debug, Clone)]
pub struct ListedContainer {
    pub id: String,
    /// Without the leading `/`.
    pub name: String,
    pub labels: HashMap<String, String>,
}

/// Requests for one container's removal, each up to REQUEST_TIMEOUT.
const REMOVE_ATTEMPTS: u32 = 3;

impl Engine {
    /// Creates a container confined as its spec says, with no host mounts and no published ports.
    pub async fn create_container(&self, spec: &ContainerSpec) -> Result<String, EngineError> {
        let confinement = &spec.confinement;
        let host_config = HostConfig {
            runtime: Some(spec.runtime.clone()),
            memory: Some(confinement.memory_bytes),
            // Swap equal to memory: the limit is the limit, no spilling to the host's swap.
            memory_swap: Some(confinement.memory_bytes),
            nano_cpus: Some(confinement.nano_cpus),
            pids_limit: Some(confinement.pids_limit),
            ulimits: Some(vec![ResourcesUlimits {
                name: Some("nproc".into()),
                soft: Some(confinement.nproc),
                hard: Some(confinement.nproc),
            }]),
            privileged: Some(false),
            security_opt: Some(
                confinement.no_new_privileges.then(|| "no-new-privileges".to_string()).into_iter().collect(),
            ),
            cap_drop: Some(confinement.cap_drop.clone()),
            readonly_rootfs: Some(confinement.read_only_root),
            tmpfs: Some(confinement.tmpfs.clone()),
            network_mode: Some(spec.network.clone()),
            log_config: Some(HostConfigLogConfig {
                typ: Some("json-file".into()),
                config: Some(HashMap::from([
                    ("max-size".to_string(), confinement.log_max_size.clone()),
                    ("max-file".to_string(), "1".to_string()),
                ])),
            }),
            init: Some(false),
            ..Default::default()
        };
        // `none` and `container:ID` are modes, not networks: no alias, and a container that
        // joins another's namespace takes its host name too.
        let named_network =
            !matches!(spec.network.as_str(), "none" | "host") && !spec.network.starts_with("container:");
        let endpoints = named_network.then(|| {
            HashMap::from([(
                spec.network.clone(),
                EndpointSettings { aliases: Some(vec![spec.hostname.clone()]), ..Default::default() },
            )])
        });
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            hostname: (!spec.network.starts_with("container:")).then(|| spec.hostname.clone()),
            cmd: (!spec.cmd.is_empty()).then(|| spec.cmd.clone()),
            entrypoint: spec.entrypoint.clone(),
            env: Some(spec.env.clone()),
            labels: Some(spec.labels.clone()),
            host_config: Some(host_config),
            networking_config: Some(NetworkingConfig { endpoints_config: endpoints }),
            ..Default::default()
        };
        let options = CreateContainerOptionsBuilder::default().name(&spec.name).build();
        let created = self
            .docker
            .create_container(Some(options), body)
            .await
            .map_err(|source| ContainerError::CreateContainer { what: spec.what.clone(), source })?;
        Ok(created.id)
    }

    pub async fn start_container(&self, id: &str, what: &str) -> Result<(), EngineError> {
        self.docker
            .start_container(id, None)
            .await
            .map_err(|source| ContainerError::StartContainer { what: what.to_string(), source }.into())
    }

    /// The container's address on `network`.
    pub async fn container_ip(&self, id: &str, what: &str, network: &str) -> Result<Option<String>, EngineError> {
        Ok(self
            .inspect(id, what)
            .await?
            .network_settings
            .and_then(|settings| settings.networks)
            .and_then(|networks| networks.get(network).cloned())
            .and_then(|endpoint| endpoint.ip_address)
            .filter(|ip| !ip.is_empty()))
    }

    async fn inspect(&self, id: &str, what: &str) -> Result<ContainerInspectResponse, EngineError> {
        self.docker
            .inspect_container(id, None)
            .await
            .map_err(|source| ContainerError::Inspect { what: what.to_string(), source }.into())
    }

    pub async fn container_state(&self, id: &str, what: &str) -> Result<ContainerState, EngineError> {
        let inspect = self.inspect(id, what).await?;
        let state = inspect.state.unwrap_or_default();
        Ok(ContainerState {
            running: state.running.unwrap_or(false),
            oom_killed: state.oom_killed.unwrap_or(false),
            exit_code: state.exit_code.unwrap_or(0),
            image_id: inspect.image.unwrap_or_default(),
            name: inspect.name.unwrap_or_default().trim_start_matches('/').to_string(),
        })
    }

    /// Number of processes in the container, from the engine's own listing (the container
    /// cannot lie about it).
    pub async fn process_count(&self, id: &str, what: &str) -> Result<usize, EngineError> {
        let top = self
            .docker
            .top_processes(id, None)
            .await
            .map_err(|source| ContainerError::Top { what: what.to_string(), source })?;
        Ok(top.processes.map(|p| p.len()).unwrap_or(0))
    }

    /// Waits until the container has exited; its exit code.
    pub async fn wait_exit(&self, id: &str, what: &str) -> Result<i64, EngineError> {
        let options = WaitContainerOptionsBuilder::default().condition("not-running").build();
        match self.docker.wait_container(id, Some(options)).next().await {
            Some(Ok(response)) => Ok(response.status_code),
            // bollard reports a non-zero exit status as an error.
            Some(Err(BollardError::DockerContainerWaitError { code, .. })) => Ok(code),
            Some(Err(source)) => Err(ContainerError::Wait { what: what.to_string(), source }.into()),
            None => Ok(self.container_state(id, what).await?.exit_code),
        }
    }

    /// Everything a container's PID 1 printed, as (stdout, stderr).
    pub async fn output(&self, id: &str, what: &str) -> Result<(String, String), EngineError> {
        let options = LogsOptionsBuilder::default().stdout(true).stderr(true).build();
        let mut logs = self.docker.logs(id, Some(options));
        let (mut stdout, mut stderr) = (String::new(), String::new());
        while let Some(chunk) = logs.next().await {
            match chunk.map_err(|source| ContainerError::Logs { what: what.to_string(), source })? {
                bollard::container::LogOutput::StdErr { message } => {
                    stderr.push_str(&String::from_utf8_lossy(&message))
                }
                other => stdout.push_str(&String::from_utf8_lossy(&other.into_bytes())),
            }
        }
        Ok((stdout, stderr))
    }

    /// The last lines a container printed (its PID 1's output), for explaining a death.
    pub async fn log_tail(&self, id: &str, lines: usize) -> String {
        let options = LogsOptionsBuilder::default().stdout(true).stderr(true).tail(&lines.to_string()).build();
        let chunks: Vec<_> = self.docker.logs(id, Some(options)).collect().await;
        chunks.into_iter().flatten().map(|chunk| String::from_utf8_lossy(&chunk.into_bytes()).into_owned()).collect()
    }

    /// Tasks in the container's host pids cgroup. Under gVisor these are the sandbox's own
    /// host threads, which a fork bomb multiplies long before the guest count shows it.
    pub async fn host_task_count(&self, id: &str, what: &str) -> Result<u64, EngineError> {
        let options = StatsOptionsBuilder::default().stream(false).one_shot(true).build();
        let stats = self.docker.stats(id, Some(options)).try_next().await;
        let stats = stats.map_err(|source| ContainerError::Top { what: what.to_string(), source })?;
        Ok(stats.and_then(|s| s.pids_stats).and_then(|p| p.current).unwrap_or(0))
    }

    /// `docker stop`: SIGTERM (or the image's STOPSIGNAL), SIGKILL after `grace`.
    pub async fn stop_container(&self, id: &str, what: &str, grace: Duration) -> Result<(), EngineError> {
        let seconds = i32::try_from(grace.as_secs()).unwrap_or(i32::MAX);
        let options = bollard::query_parameters::StopContainerOptionsBuilder::default().t(seconds).build();
        match self.docker.stop_container(id, Some(options)).await {
            Ok(()) | Err(BollardError::DockerResponseServerError { status_code: 304, .. }) => Ok(()),
            Err(source) => Err(ContainerError::Stop { what: what.to_string(), source }.into()),
        }
    }

    /// The container's health (`starting`, `healthy`, `unhealthy`); None without a HEALTHCHECK.
    pub async fn health(&self, id: &str, what: &str) -> Result<Option<String>, EngineError> {
        let state = self.inspect(id, what).await?.state.unwrap_or_default();
        Ok(state
            .health
            .and_then(|h| h.status)
            .map(|status| status.to_string())
            .filter(|s| s != "none" && !s.is_empty()))
    }

    pub async fn kill_container(&self, id: &str) {
        // Best effort: the container may already be gone, which is what we wanted.
        let _ = self.docker.kill_container(id, None).await;
    }

    /// Every container (running or not) carrying `label` (`key` or `key=value`).
    pub async fn list_labelled(&self, label: &str) -> Result<Vec<ListedContainer>, EngineError> {
        let filters = HashMap::from([("label".to_string(), vec![label.to_string()])]);
        let containers = self
            .docker
            .list_containers(Some(ListContainersOptionsBuilder::default().all(true).filters(&filters).build()))
            .await
            .map_err(|source| ContainerError::ListContainers { label: label.to_string(), source })?;
        Ok(containers
            .into_iter()
            .map(|c| ListedContainer {
                id: c.id.unwrap_or_default(),
                name: c.names.and_then(|n| n.into_iter().next()).unwrap_or_default().trim_start_matches('/').into(),
                labels: c.labels.unwrap_or_default(),
            })
            .collect())
    }

    /// Renames a container; false when it is gone or the name is taken. Docker does this
    /// atomically, which is what makes a rename a claim two processes cannot both win.
    pub async fn rename_container(&self, id: &str, name: &str) -> Result<bool, EngineError> {
        let options = bollard::query_parameters::RenameContainerOptionsBuilder::default().name(name).build();
        match self.docker.rename_container(id, options).await {
            Ok(()) => Ok(true),
            Err(BollardError::DockerResponseServerError { status_code: 404 | 409, .. }) => Ok(false),
            Err(source) => {
                Err(ContainerError::RenameContainer { id: id.to_string(), name: name.to_string(), source }.into())
            }
        }
    }

    /// Removes one container (and its anonymous volumes); gone already is fine.
    pub async fn remove_container(&self, id: &str) -> Result<(), EngineError> {
        let options = RemoveContainerOptionsBuilder::default().force(true).v(true).build();
        let mut attempt = 1;
        loop {
            match self.docker.remove_container(id, Some(options.clone())).await {
                Ok(()) | Err(BollardError::DockerResponseServerError { status_code: 404 | 409, .. }) => return Ok(()),
                // The daemon is still at it: a gVisor sandbox killed mid fork bomb has thousands
                // of host tasks to reap, which took longer than a request may on a loaded host.
                // Asked again, it answers once the container is gone.
                Err(BollardError::RequestTimeoutError) if attempt < REMOVE_ATTEMPTS => attempt += 1,
                Err(source) => return Err(ContainerError::RemoveContainer { id: id.to_string(), source }.into()),
            }
        }
    }
}
