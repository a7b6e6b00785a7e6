//! The Docker client, through bollard: every call sandbox makes to Docker lives here, and
//! nothing of the product does (no challenge, no run, no policy: `isolation` decides how a
//! container is confined, this module carries it out).
//!
//! bollard's errors say what went wrong on the wire, not what was being done; each
//! operation therefore has its own error variant naming the object it was acting on.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, EndpointSettings, ExecConfig, HostConfig, HostConfigLogConfig,
    NetworkCreateRequest, NetworkingConfig, ResourcesUlimits,
};
use bollard::query_parameters::{
    BuildImageOptionsBuilder, CreateContainerOptionsBuilder, ListContainersOptionsBuilder, ListNetworksOptionsBuilder,
    LogsOptionsBuilder, RemoveContainerOptionsBuilder, StatsOptionsBuilder, UploadToContainerOptionsBuilder,
    WaitContainerOptionsBuilder,
};
use bollard::Docker;
use futures_util::{StreamExt, TryStreamExt};
use miette::Diagnostic;

type BollardError = bollard::errors::Error;

#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum EngineError {
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

    #[error("failed to build image {tag}: {message}")]
    #[diagnostic(code(sandbox::engine::build), help("the build log above shows the failing step"))]
    Build { tag: String, message: String },

    #[error("failed to inspect image {image}")]
    #[diagnostic(code(sandbox::engine::image))]
    InspectImage {
        image: String,
        #[source]
        source: BollardError,
    },

    #[error("failed to create network {name}")]
    #[diagnostic(code(sandbox::engine::network))]
    CreateNetwork {
        name: String,
        #[source]
        source: BollardError,
    },

    #[error("failed to create {what}")]
    #[diagnostic(code(sandbox::engine::create))]
    CreateContainer {
        what: String,
        #[source]
        source: BollardError,
    },

    #[error("failed to copy files into {what}")]
    #[diagnostic(code(sandbox::engine::upload))]
    Upload {
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

    #[error("failed to connect container {id} to network {network}")]
    #[diagnostic(code(sandbox::engine::connect_network))]
    ConnectNetwork {
        id: String,
        network: String,
        #[source]
        source: BollardError,
    },

    #[error("failed to disconnect container {id} from network {network}")]
    #[diagnostic(code(sandbox::engine::disconnect_network))]
    DisconnectNetwork {
        id: String,
        network: String,
        #[source]
        source: BollardError,
    },

    #[error("failed to inspect network {name}")]
    #[diagnostic(code(sandbox::engine::inspect_network))]
    InspectNetwork {
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

    #[error("failed to save image {image}")]
    #[diagnostic(code(sandbox::engine::save_image))]
    SaveImage {
        image: String,
        #[source]
        source: BollardError,
    },

    #[error("failed to write the saved image {image} to {}", path.display())]
    #[diagnostic(code(sandbox::engine::save_image_file))]
    SaveImageFile {
        image: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("failed to stop {what}")]
    #[diagnostic(code(sandbox::engine::stop))]
    Stop {
        what: String,
        #[source]
        source: BollardError,
    },

    #[error("failed to remove image {image}")]
    #[diagnostic(code(sandbox::engine::remove_image))]
    RemoveImage {
        image: String,
        #[source]
        source: BollardError,
    },

    #[error("failed to remove network {name}")]
    #[diagnostic(code(sandbox::engine::remove_network))]
    RemoveNetwork {
        name: String,
        #[source]
        source: BollardError,
    },

    #[error("failed to run `{command}` in {what}")]
    #[diagnostic(code(sandbox::engine::exec))]
    Exec {
        what: String,
        command: String,
        #[source]
        source: BollardError,
    },

    /// The container stopped (killed, out of memory) while an exec ran in it. Said apart
    /// from `Exec`: under gVisor the exec's output stream stays open after the sandbox dies.
    #[error("{what} stopped while `{command}` ran in it")]
    #[diagnostic(code(sandbox::engine::stopped))]
    StoppedDuringExec { what: String, command: String },

    #[error("failed to write {path} in {what}: {output}")]
    #[diagnostic(code(sandbox::engine::write_file))]
    WriteFile { what: String, path: String, output: String },

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

    #[error("failed to read {path} from {what}")]
    #[diagnostic(code(sandbox::engine::read_path))]
    ReadPath {
        what: String,
        path: String,
        #[source]
        source: BollardError,
    },

    #[error("the archive of {path} from {what} ended before its first entry")]
    #[diagnostic(code(sandbox::engine::read_path))]
    TruncatedArchive { what: String, path: String },

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

    #[error("failed to commit {what} to an image")]
    #[diagnostic(code(sandbox::engine::commit))]
    Commit {
        what: String,
        #[source]
        source: BollardError,
    },

    #[error("failed to remove what is labelled {label}")]
    #[diagnostic(
        code(sandbox::engine::cleanup),
        help("remove leftovers with `docker rm -f $(docker ps -aq --filter label={label})`")
    )]
    Cleanup {
        label: String,
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

/// What a build may use; None: the daemon's defaults.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BuildLimits {
    /// The network RUN steps join (`none`: no route out).
    pub network: Option<String>,
    pub memory_bytes: Option<u64>,
    pub cpus: Option<f64>,
    /// The most each step may write (at most `i32::MAX`: the API's field is 32 bits). It
    /// travels as the steps' shm size, the one field of the build API that reaches every
    /// step's container and the runtime that starts it (the builder's `runsc-build` turns it
    /// into a quota on the step's layer).
    pub write_bytes: Option<u64>,
    /// The Dockerfile's path inside the context (default `Dockerfile`).
    pub dockerfile: Option<String>,
}

/// What an image is, as its configuration says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImageFacts {
    pub id: String,
    pub size: u64,
    /// Layers of its root filesystem (diff ids, oldest first).
    pub layers: Vec<String>,
    /// `USER` (empty: root).
    pub user: String,
    /// `EXPOSE`d ports as Docker writes them (`8080/tcp`).
    pub exposed: Vec<String>,
    pub labels: HashMap<String, String>,
    /// `KEY=value`
    pub env: Vec<String>,
    /// A `HEALTHCHECK` other than `NONE`.
    pub healthcheck: bool,
    /// What made each history entry, newest first (`RUN …` command lines included).
    pub history: Vec<String>,
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    /// `WORKDIR` (empty: none).
    pub workdir: String,
    /// `VOLUME`s declared.
    pub volumes: Vec<String>,
}

/// What kind of file a path is, as its tar header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathKind {
    /// A regular file (or a hard link to one).
    Regular,
    Directory,
    Symlink,
    CharDevice,
    BlockDevice,
    Fifo,
}

/// A path of a container's filesystem, as the first entry of its archive describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathEntry {
    pub kind: PathKind,
    /// Permission and special bits (`0o4755`).
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    /// A symlink's target.
    pub link: Option<String>,
    /// A regular file's bytes, when they were asked for and within the limit.
    pub contents: Option<Vec<u8>>,
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

/// Output of a finished exec.
#[derive(Debug, Clone, Default)]
pub struct ExecOutput {
    pub exit_code: i64,
    pub output: String,
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

#[derive(Clone)]
pub struct Engine {
    docker: Docker,
    /// The daemon's registered runtimes, read once: every container creation needs to know
    /// whether its runtime is gVisor.
    runtimes: Arc<tokio::sync::OnceCell<HashMap<String, RegisteredRuntime>>>,
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
        let unsupported = |message: &str| EngineError::Endpoint { host: host.clone(), message: message.to_string() };
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
        let unreachable = |source| EngineError::Unreachable { host: host.clone(), source };
        let docker = match endpoint {
            Endpoint::Unix(socket) => Docker::connect_with_unix(socket, REQUEST_TIMEOUT, bollard::API_DEFAULT_VERSION),
            Endpoint::Tcp(host) => Docker::connect_with_http(host, REQUEST_TIMEOUT, bollard::API_DEFAULT_VERSION),
            Endpoint::Tls { host, certs } => {
                for file in ["ca.pem", "cert.pem", "key.pem"] {
                    if !certs.join(file).is_file() {
                        let message =
                            format!("DOCKER_TLS_VERIFY is set, but {} is missing", certs.join(file).display());
                        return Err(EngineError::Endpoint { host: host.clone(), message });
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
        Ok(Engine { docker, runtimes: Arc::default() })
    }

    /// What the daemon does unless told otherwise (its default runtime).
    pub async fn defaults(&self) -> Result<DaemonDefaults, EngineError> {
        let info = self.docker.info().await.map_err(EngineError::Info)?;
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
                let info = self.docker.info().await.map_err(EngineError::Info)?;
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

    /// Each layer of `image`, newest first: the instruction that made it and its size.
    pub async fn image_layers(&self, image: &str) -> Result<Vec<(String, i64)>, EngineError> {
        let history = self
            .docker
            .image_history(image)
            .await
            .map_err(|source| EngineError::InspectImage { image: image.to_string(), source })?;
        Ok(history.into_iter().map(|layer| (layer.created_by, layer.size)).collect())
    }

    /// The image's configuration and history.
    pub async fn image_facts(&self, image: &str) -> Result<ImageFacts, EngineError> {
        let failed = |source| EngineError::InspectImage { image: image.to_string(), source };
        let inspect = self.docker.inspect_image(image).await.map_err(failed)?;
        let history = self.image_layers(image).await?;
        let config = inspect.config.unwrap_or_default();
        let healthcheck =
            config.healthcheck.and_then(|h| h.test).is_some_and(|test| test.first().is_some_and(|kind| kind != "NONE"));
        Ok(ImageFacts {
            id: inspect.id.unwrap_or_default(),
            size: inspect.size.unwrap_or(0).max(0) as u64,
            layers: inspect.root_fs.and_then(|r| r.layers).unwrap_or_default(),
            user: config.user.unwrap_or_default(),
            exposed: config.exposed_ports.unwrap_or_default().into_iter().collect(),
            labels: config.labels.unwrap_or_default(),
            env: config.env.unwrap_or_default(),
            healthcheck,
            history: history.into_iter().map(|(created_by, _)| created_by).collect(),
            entrypoint: config.entrypoint.unwrap_or_default(),
            cmd: config.cmd.unwrap_or_default(),
            workdir: config.working_dir.unwrap_or_default(),
            volumes: config.volumes.unwrap_or_default(),
        })
    }

    /// Writes `image` as `docker save` would (its layers as tars) to `path`.
    pub async fn save_image(&self, image: &str, path: &std::path::Path) -> Result<(), EngineError> {
        use tokio::io::AsyncWriteExt;
        let file_error = |source| EngineError::SaveImageFile { image: image.to_string(), path: path.into(), source };
        let mut file = tokio::fs::File::create(path).await.map_err(file_error)?;
        let mut stream = self.docker.export_image(image);
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|source| EngineError::SaveImage { image: image.to_string(), source })?;
            file.write_all(&chunk).await.map_err(file_error)?;
        }
        file.flush().await.map_err(file_error)
    }

    /// Removes a tag, keeping its untagged parents: they are the builder's layer cache.
    pub async fn untag_image(&self, image: &str) -> Result<(), EngineError> {
        let options = bollard::query_parameters::RemoveImageOptionsBuilder::default().force(true).noprune(true).build();
        match self.docker.remove_image(image, Some(options), None).await {
            Ok(_) | Err(BollardError::DockerResponseServerError { status_code: 404, .. }) => Ok(()),
            Err(source) => Err(EngineError::RemoveImage { image: image.to_string(), source }),
        }
    }

    /// Every image (intermediate ones included) matching one `docker images --filter`.
    async fn images_where(
        &self,
        filter: &str,
        value: &str,
    ) -> Result<Vec<bollard::models::ImageSummary>, BollardError> {
        let filters = HashMap::from([(filter.to_string(), vec![value.to_string()])]);
        let options =
            bollard::query_parameters::ListImagesOptionsBuilder::default().all(true).filters(&filters).build();
        self.docker.list_images(Some(options)).await
    }

    /// Removes images no tag and no container uses (the builder's older cache layers).
    pub async fn prune_dangling_images(&self) -> Result<(), EngineError> {
        let filters = HashMap::from([("dangling".to_string(), vec!["true".to_string()])]);
        let options = bollard::query_parameters::PruneImagesOptionsBuilder::default().filters(&filters).build();
        self.docker.prune_images(Some(options)).await.map_err(EngineError::Info)?;
        Ok(())
    }

    /// Removes an image (and its untagged parents); gone already is fine.
    pub async fn remove_image(&self, image: &str) -> Result<(), EngineError> {
        let options = bollard::query_parameters::RemoveImageOptionsBuilder::default().force(true).build();
        match self.docker.remove_image(image, Some(options), None).await {
            Ok(_) | Err(BollardError::DockerResponseServerError { status_code: 404, .. }) => Ok(()),
            Err(source) => Err(EngineError::RemoveImage { image: image.to_string(), source }),
        }
    }

    /// The image's id, or None when it does not exist.
    pub async fn image_id(&self, image: &str) -> Result<Option<String>, EngineError> {
        match self.docker.inspect_image(image).await {
            Ok(inspect) => Ok(inspect.id),
            Err(BollardError::DockerResponseServerError { status_code: 404, .. }) => Ok(None),
            Err(source) => Err(EngineError::InspectImage { image: image.to_string(), source }),
        }
    }

    /// Builds `tag` from an in-memory tar context; `on_line` receives the build log.
    pub async fn build_image(
        &self,
        tag: &str,
        context: Vec<u8>,
        labels: &HashMap<String, String>,
        on_line: &mut (dyn FnMut(&str) + Send),
    ) -> Result<(), EngineError> {
        self.build_image_with(tag, context, labels, &BuildLimits::default(), on_line).await
    }

    /// `build_image` with the classic builder (API build version 1: every RUN in a container
    /// of the daemon's default runtime), never pulling, within `limits`.
    pub async fn build_image_with(
        &self,
        tag: &str,
        context: Vec<u8>,
        labels: &HashMap<String, String>,
        limits: &BuildLimits,
        on_line: &mut (dyn FnMut(&str) + Send),
    ) -> Result<(), EngineError> {
        let mut options = BuildImageOptionsBuilder::default()
            .t(tag)
            .rm(true)
            .forcerm(true)
            .labels(labels)
            .pull("false")
            .version(bollard::query_parameters::BuilderVersion::BuilderV1);
        if let Some(network) = &limits.network {
            options = options.networkmode(network);
        }
        if let Some(memory) = limits.memory_bytes {
            let memory = i32::try_from(memory).unwrap_or(i32::MAX);
            options = options.memory(memory).memswap(memory);
        }
        if let Some(cpus) = limits.cpus {
            options = options.cpuperiod(100_000).cpuquota((cpus * 100_000.0) as i32);
        }
        if let Some(bytes) = limits.write_bytes {
            options = options.shmsize(i32::try_from(bytes).unwrap_or(i32::MAX));
        }
        if let Some(dockerfile) = &limits.dockerfile {
            options = options.dockerfile(dockerfile);
        }
        let options = options.build();
        let mut stream = self.docker.build_image(options, None, Some(bollard::body_full(context.into())));
        while let Some(item) = stream.next().await {
            let info = item.map_err(|err| {
                // The daemon's own words, without bollard's "Docker stream error:" in front.
                let message = match err {
                    BollardError::DockerStreamError { error } => error,
                    other => other.to_string(),
                };
                EngineError::Build { tag: tag.to_string(), message }
            })?;
            if let Some(detail) = info.error_detail {
                let message = detail.message.unwrap_or_else(|| "unknown error".into());
                return Err(EngineError::Build { tag: tag.to_string(), message });
            }
            if let Some(text) = info.stream {
                for line in text.lines().filter(|l| !l.trim().is_empty()) {
                    on_line(line);
                }
            }
        }
        Ok(())
    }

    pub async fn create_network(
        &self,
        name: &str,
        internal: bool,
        labels: HashMap<String, String>,
    ) -> Result<(), EngineError> {
        let request = NetworkCreateRequest {
            name: name.to_string(),
            driver: Some("bridge".into()),
            internal: Some(internal),
            labels: Some(labels),
            ..Default::default()
        };
        self.docker
            .create_network(request)
            .await
            .map_err(|source| EngineError::CreateNetwork { name: name.to_string(), source })?;
        Ok(())
    }

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
            .map_err(|source| EngineError::CreateContainer { what: spec.what.clone(), source })?;
        Ok(created.id)
    }

    /// Copies a tar archive into a container that has not started yet. (Into a running runsc
    /// container, files copied this way may stay invisible: gVisor caches the root
    /// filesystem. Running containers get files through `exec` instead.)
    pub async fn upload_before_start(
        &self,
        id: &str,
        what: &str,
        dest: &str,
        archive: Vec<u8>,
    ) -> Result<(), EngineError> {
        let options = UploadToContainerOptionsBuilder::default().path(dest).build();
        self.docker
            .upload_to_container(id, Some(options), bollard::body_full(archive.into()))
            .await
            .map_err(|source| EngineError::Upload { what: what.to_string(), source })
    }

    pub async fn start_container(&self, id: &str, what: &str) -> Result<(), EngineError> {
        self.docker
            .start_container(id, None)
            .await
            .map_err(|source| EngineError::StartContainer { what: what.to_string(), source })
    }

    /// Runs a command and hands each output line (stdout and stderr interleaved as they
    /// arrive) to `on_line`; returns the exit code and the whole output. When the runtime
    /// fails to start the exec at all (the command never ran), it is tried again, up to
    /// `EXEC_ATTEMPTS` times.
    pub async fn exec(
        &self,
        id: &str,
        what: &str,
        cmd: &[&str],
        env: &[String],
        workdir: Option<&str>,
        on_line: &mut (dyn FnMut(&str) + Send),
    ) -> Result<ExecOutput, EngineError> {
        let mut attempt = 1;
        loop {
            let result = self.exec_once(id, what, cmd, env, workdir, on_line).await?;
            if attempt == EXEC_ATTEMPTS || !runtime_refused_exec(&result) {
                return Ok(result);
            }
            tokio::time::sleep(Duration::from_millis(250 * attempt as u64)).await;
            attempt += 1;
        }
    }

    /// One exec to its end. Long because its three endings belong together: the output
    /// drained, the stream broken (a dead sandbox or a dead daemon), the container stopped.
    async fn exec_once(
        &self,
        id: &str,
        what: &str,
        cmd: &[&str],
        env: &[String],
        workdir: Option<&str>,
        on_line: &mut (dyn FnMut(&str) + Send),
    ) -> Result<ExecOutput, EngineError> {
        let error = |source| EngineError::Exec { what: what.to_string(), command: cmd.join(" "), source };
        let config = ExecConfig {
            cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
            env: Some(env.to_vec()),
            working_dir: workdir.map(str::to_string),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            ..Default::default()
        };
        let stopped = || EngineError::StoppedDuringExec { what: what.to_string(), command: cmd.join(" ") };
        let exec_id = match self.docker.create_exec(id, config).await {
            Ok(created) => created.id,
            // 409: the container is not running (it died before this exec could start).
            Err(BollardError::DockerResponseServerError { status_code: 409, .. }) => return Err(stopped()),
            Err(source) => return Err(error(source)),
        };
        let mut collected = String::new();
        if let bollard::exec::StartExecResults::Attached { mut output, .. } =
            self.docker.start_exec(&exec_id, None).await.map_err(error)?
        {
            let mut pending = String::new();
            let drain = async {
                // A stream error is a real failure (daemon gone); never treat it as end of output.
                while let Some(chunk) = output.try_next().await.map_err(error)? {
                    pending.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
                    while let Some(newline) = pending.find('\n') {
                        let line: String = pending.drain(..=newline).collect();
                        let line = line.trim_end_matches(['\n', '\r']);
                        on_line(line);
                        collected.push_str(line);
                        collected.push('\n');
                    }
                }
                Ok::<(), EngineError>(())
            };
            tokio::select! {
                drained = drain => {
                    // The stream may also break when the sandbox dies under it.
                    if let Err(err) = drained {
                        let state = self.docker.inspect_container(id, None).await;
                        let dead = state.is_ok_and(|c| c.state.and_then(|s| s.running) == Some(false));
                        return Err(if dead { stopped() } else { err });
                    }
                }
                () = self.stopped(id) => return Err(stopped()),
            }
            if !pending.is_empty() {
                on_line(&pending);
                collected.push_str(&pending);
            }
        }
        let inspect = self.docker.inspect_exec(&exec_id).await.map_err(error)?;
        Ok(ExecOutput { exit_code: inspect.exit_code.unwrap_or(-1), output: collected })
    }

    /// Resolves once the container is no longer running or no longer exists; never while the
    /// daemon fails to answer (the exec's own stream reports that). Output still in flight
    /// when it stopped is not waited for: under gVisor it never ends.
    async fn stopped(&self, id: &str) {
        let options = WaitContainerOptionsBuilder::default().condition("not-running").build();
        let mut wait = self.docker.wait_container(id, Some(options));
        match wait.next().await {
            // bollard reports a non-zero exit status as an error: stopped all the same.
            // A container removed meanwhile (404) has stopped too.
            Some(Ok(_) | Err(BollardError::DockerContainerWaitError { .. })) | None => {}
            Some(Err(BollardError::DockerResponseServerError { status_code: 404, .. })) => {}
            // The daemon itself failed (gone, unreachable): the exec's own stream says so.
            Some(Err(_)) => std::future::pending().await,
        }
    }

    /// Starts an exec with stdin attached (and a TTY when `tty`), for an interactive shell.
    /// The caller pumps the streams and asks `exec_exit_code` once the output ends.
    pub async fn exec_interactive(
        &self,
        id: &str,
        what: &str,
        cmd: &[&str],
        env: &[String],
        tty: bool,
    ) -> Result<InteractiveExec, EngineError> {
        let error = |source| EngineError::Exec { what: what.to_string(), command: cmd.join(" "), source };
        let config = ExecConfig {
            cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
            env: Some(env.to_vec()),
            attach_stdin: Some(true),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            tty: Some(tty),
            ..Default::default()
        };
        let exec_id = self.docker.create_exec(id, config).await.map_err(error)?.id;
        match self.docker.start_exec(&exec_id, None).await.map_err(error)? {
            bollard::exec::StartExecResults::Attached { output, input } => {
                Ok(InteractiveExec { exec_id, output, input })
            }
            bollard::exec::StartExecResults::Detached => unreachable!("start_exec attaches unless asked to detach"),
        }
    }

    /// Tells an exec's TTY the size of the user's terminal.
    pub async fn resize_exec(&self, exec_id: &str, rows: u16, columns: u16) {
        let options = bollard::query_parameters::ResizeExecOptions { h: rows.into(), w: columns.into() };
        let _ = self.docker.resize_exec(exec_id, options).await;
    }

    /// The exit code of an exec whose output has ended. The process may outlive its stream
    /// (a proxy that closes the connection once stdin is shut, as socat does): it is waited
    /// for, bounded, rather than read as "no exit code".
    pub async fn exec_exit_code(&self, exec_id: &str, what: &str) -> Result<i64, EngineError> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let inspect = self.docker.inspect_exec(exec_id).await.map_err(|source| EngineError::Exec {
                what: what.to_string(),
                command: "inspect exec".into(),
                source,
            })?;
            if inspect.running != Some(true) || tokio::time::Instant::now() > deadline {
                return Ok(inspect.exit_code.unwrap_or(-1));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// `exec` without a line sink.
    pub async fn exec_quiet(
        &self,
        id: &str,
        what: &str,
        cmd: &[&str],
        env: &[String],
    ) -> Result<ExecOutput, EngineError> {
        self.exec(id, what, cmd, env, None, &mut |_| {}).await
    }

    /// Writes a file into a running container: a one-file tar on an exec's stdin (see
    /// `upload_before_start` for why not the archive API), so its size is not bounded by
    /// what an environment variable or an argument may hold.
    pub async fn write_file(
        &self,
        id: &str,
        what: &str,
        path: &str,
        contents: &str,
        mode: u32,
    ) -> Result<(), EngineError> {
        self.write_files(id, what, &[(path, contents, mode)]).await
    }

    /// Writes several files (absolute path, contents, mode) in one exec.
    pub async fn write_files(&self, id: &str, what: &str, files: &[(&str, &str, u32)]) -> Result<(), EngineError> {
        let entries: Vec<(&str, &[u8], u32)> = files
            .iter()
            .map(|(path, contents, mode)| (path.trim_start_matches('/'), contents.as_bytes(), *mode))
            .collect();
        self.extract_into_running(id, what, "/", &tar_of(&entries)).await
    }

    /// Unpacks a tar archive into `dest` of a running container through an exec reading the
    /// archive on stdin (see `upload_before_start` for why not the archive API).
    pub async fn extract_into_running(
        &self,
        id: &str,
        what: &str,
        dest: &str,
        archive: &[u8],
    ) -> Result<(), EngineError> {
        use tokio::io::AsyncWriteExt;
        let failed = |output: String| EngineError::WriteFile { what: what.to_string(), path: dest.to_string(), output };
        let script = "mkdir -p \"$1\" && tar -x -C \"$1\"";
        let mut exec = self.exec_interactive(id, what, &["sh", "-c", script, "sh", dest], &[], false).await?;
        // tar says nothing until it fails, so writing all of stdin first cannot block on output.
        let written = async {
            exec.input.write_all(archive).await?;
            exec.input.shutdown().await
        };
        written.await.map_err(|err| failed(err.to_string()))?;
        let mut output = String::new();
        while let Some(chunk) = exec.output.next().await {
            let chunk = chunk.map_err(|source| EngineError::Exec {
                what: what.to_string(),
                command: format!("tar -x -C {dest}"),
                source,
            })?;
            output.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
        }
        if self.exec_exit_code(&exec.exec_id, what).await? != 0 {
            return Err(failed(output));
        }
        Ok(())
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
            .map_err(|source| EngineError::Inspect { what: what.to_string(), source })
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
            .map_err(|source| EngineError::Top { what: what.to_string(), source })?;
        Ok(top.processes.map(|p| p.len()).unwrap_or(0))
    }

    /// Waits until the container has exited; its exit code.
    pub async fn wait_exit(&self, id: &str, what: &str) -> Result<i64, EngineError> {
        let options = WaitContainerOptionsBuilder::default().condition("not-running").build();
        match self.docker.wait_container(id, Some(options)).next().await {
            Some(Ok(response)) => Ok(response.status_code),
            // bollard reports a non-zero exit status as an error.
            Some(Err(BollardError::DockerContainerWaitError { code, .. })) => Ok(code),
            Some(Err(source)) => Err(EngineError::Wait { what: what.to_string(), source }),
            None => Ok(self.container_state(id, what).await?.exit_code),
        }
    }

    /// Everything a container's PID 1 printed, as (stdout, stderr).
    pub async fn output(&self, id: &str, what: &str) -> Result<(String, String), EngineError> {
        let options = LogsOptionsBuilder::default().stdout(true).stderr(true).build();
        let mut logs = self.docker.logs(id, Some(options));
        let (mut stdout, mut stderr) = (String::new(), String::new());
        while let Some(chunk) = logs.next().await {
            match chunk.map_err(|source| EngineError::Logs { what: what.to_string(), source })? {
                bollard::container::LogOutput::StdErr { message } => {
                    stderr.push_str(&String::from_utf8_lossy(&message))
                }
                other => stdout.push_str(&String::from_utf8_lossy(&other.into_bytes())),
            }
        }
        Ok((stdout, stderr))
    }

    /// `docker commit`: the container's filesystem as a new untagged image; its id.
    pub async fn commit(&self, id: &str, what: &str) -> Result<String, EngineError> {
        let options = bollard::query_parameters::CommitContainerOptionsBuilder::default().container(id).build();
        let committed = self
            .docker
            .commit_container(options, bollard::models::ContainerConfig::default())
            .await
            .map_err(|source| EngineError::Commit { what: what.to_string(), source })?;
        Ok(committed.id)
    }

    /// The path's entry in the container's filesystem (a created container will do: nothing
    /// has to run), None when it does not exist. With `read_up_to`, a regular file's bytes
    /// come too, up to that many. Only as much of the archive is read as that takes: a
    /// directory's whole tree is never fetched.
    pub async fn read_path(
        &self,
        id: &str,
        what: &str,
        path: &str,
        read_up_to: Option<usize>,
    ) -> Result<Option<PathEntry>, EngineError> {
        let options = bollard::query_parameters::DownloadFromContainerOptionsBuilder::default().path(path).build();
        let mut archive = self.docker.download_from_container(id, Some(options));
        let mut received = Vec::new();
        loop {
            match first_entry(&received, read_up_to) {
                Parsed::Entry(entry) => return Ok(Some(entry)),
                Parsed::Empty => return Ok(None),
                Parsed::NeedMore => {}
            }
            match archive.next().await {
                Some(Ok(chunk)) => received.extend_from_slice(&chunk),
                Some(Err(BollardError::DockerResponseServerError { status_code: 404, .. })) => return Ok(None),
                Some(Err(source)) => {
                    return Err(EngineError::ReadPath { what: what.to_string(), path: path.to_string(), source })
                }
                None => return Err(EngineError::TruncatedArchive { what: what.to_string(), path: path.to_string() }),
            }
        }
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
        let stats = stats.map_err(|source| EngineError::Top { what: what.to_string(), source })?;
        Ok(stats.and_then(|s| s.pids_stats).and_then(|p| p.current).unwrap_or(0))
    }

    /// `docker stop`: SIGTERM (or the image's STOPSIGNAL), SIGKILL after `grace`.
    pub async fn stop_container(&self, id: &str, what: &str, grace: Duration) -> Result<(), EngineError> {
        let seconds = i32::try_from(grace.as_secs()).unwrap_or(i32::MAX);
        let options = bollard::query_parameters::StopContainerOptionsBuilder::default().t(seconds).build();
        match self.docker.stop_container(id, Some(options)).await {
            Ok(()) | Err(BollardError::DockerResponseServerError { status_code: 304, .. }) => Ok(()),
            Err(source) => Err(EngineError::Stop { what: what.to_string(), source }),
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
            .map_err(|source| EngineError::ListContainers { label: label.to_string(), source })?;
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
            Err(source) => Err(EngineError::RenameContainer { id: id.to_string(), name: name.to_string(), source }),
        }
    }

    pub async fn connect_network(&self, network: &str, id: &str, alias: &str) -> Result<(), EngineError> {
        let request = bollard::models::NetworkConnectRequest {
            container: id.to_string(),
            endpoint_config: Some(EndpointSettings { aliases: Some(vec![alias.to_string()]), ..Default::default() }),
        };
        self.docker.connect_network(network, request).await.map_err(|source| EngineError::ConnectNetwork {
            id: id.to_string(),
            network: network.to_string(),
            source,
        })
    }

    pub async fn disconnect_network(&self, network: &str, id: &str) -> Result<(), EngineError> {
        let request = bollard::models::NetworkDisconnectRequest { container: id.to_string(), force: Some(true) };
        self.docker.disconnect_network(network, request).await.map_err(|source| EngineError::DisconnectNetwork {
            id: id.to_string(),
            network: network.to_string(),
            source,
        })
    }

    pub async fn network_exists(&self, name: &str) -> Result<bool, EngineError> {
        match self.docker.inspect_network(name, None::<bollard::query_parameters::InspectNetworkOptions>).await {
            Ok(_) => Ok(true),
            Err(BollardError::DockerResponseServerError { status_code: 404, .. }) => Ok(false),
            Err(source) => Err(EngineError::InspectNetwork { name: name.to_string(), source }),
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
                Err(source) => return Err(EngineError::RemoveContainer { id: id.to_string(), source }),
            }
        }
    }

    pub async fn remove_network(&self, name: &str) -> Result<(), EngineError> {
        match self.docker.remove_network(name).await {
            Ok(()) | Err(BollardError::DockerResponseServerError { status_code: 404, .. }) => Ok(()),
            Err(source) => Err(EngineError::RemoveNetwork { name: name.to_string(), source }),
        }
    }

    /// Removes every container and network carrying `label` (`key` or `key=value`).
    pub async fn remove_labelled(&self, label: &str) -> Result<(), EngineError> {
        let containers = self.list_labelled(label).await?;
        let removals = containers.iter().map(|container| self.remove_container(&container.id));
        for result in futures_util::future::join_all(removals).await {
            result?;
        }
        let filters = HashMap::from([("label".to_string(), vec![label.to_string()])]);
        let networks = self
            .docker
            .list_networks(Some(ListNetworksOptionsBuilder::default().filters(&filters).build()))
            .await
            .map_err(|source| EngineError::Cleanup { label: label.to_string(), source })?;
        for network in networks.into_iter().filter_map(|n| n.name) {
            self.remove_network(&network).await?;
        }
        self.remove_labelled_images(label).await
    }

    /// Images carrying `label` (committed from a run's containers, which hand theirs on).
    /// An image with a child cannot go before the child: each pass removes what it can, and
    /// a chain of images needs as many passes as it is long.
    async fn remove_labelled_images(&self, label: &str) -> Result<(), EngineError> {
        for _ in 0..LABELLED_IMAGE_PASSES {
            let images = self
                .images_where("label", label)
                .await
                .map_err(|source| EngineError::Cleanup { label: label.to_string(), source })?;
            if images.is_empty() {
                return Ok(());
            }
            for image in images {
                let _ = self.remove_image(&image.id).await;
            }
        }
        Ok(())
    }
}

/// How far the first entry of an archive has arrived.
enum Parsed {
    Entry(PathEntry),
    /// The archive holds no entry.
    Empty,
    NeedMore,
}

/// The first entry of a tar archive received so far, skipping the long-name and PAX records
/// that describe it.
fn first_entry(received: &[u8], read_up_to: Option<usize>) -> Parsed {
    let mut offset = 0;
    loop {
        let Some(block) = received.get(offset..offset + 512) else { return Parsed::NeedMore };
        if block.iter().all(|byte| *byte == 0) {
            return Parsed::Empty;
        }
        let header = tar::Header::from_byte_slice(block);
        let size = header.entry_size().unwrap_or(0) as usize;
        let entry_type = header.entry_type();
        if entry_type.is_pax_local_extensions()
            || entry_type.is_pax_global_extensions()
            || entry_type.is_gnu_longname()
            || entry_type.is_gnu_longlink()
        {
            offset += 512 + size.div_ceil(512) * 512;
            continue;
        }
        let kind = match entry_type {
            tar::EntryType::Directory => PathKind::Directory,
            tar::EntryType::Symlink => PathKind::Symlink,
            tar::EntryType::Char => PathKind::CharDevice,
            tar::EntryType::Block => PathKind::BlockDevice,
            tar::EntryType::Fifo => PathKind::Fifo,
            _ => PathKind::Regular,
        };
        let contents = match read_up_to.filter(|limit| kind == PathKind::Regular && size <= *limit) {
            None => None,
            Some(_) => match received.get(offset + 512..offset + 512 + size) {
                Some(bytes) => Some(bytes.to_vec()),
                None => return Parsed::NeedMore,
            },
        };
        return Parsed::Entry(PathEntry {
            kind,
            mode: header.mode().unwrap_or(0) & 0o7777,
            uid: header.uid().unwrap_or(0),
            gid: header.gid().unwrap_or(0),
            link: header.link_name().ok().flatten().map(|link| link.to_string_lossy().into_owned()),
            contents,
        });
    }
}

/// The streams of an interactive exec.
pub struct InteractiveExec {
    pub exec_id: String,
    pub output:
        std::pin::Pin<Box<dyn futures_util::Stream<Item = Result<bollard::container::LogOutput, BollardError>> + Send>>,
    pub input: std::pin::Pin<Box<dyn tokio::io::AsyncWrite + Send>>,
}

/// How often an exec the runtime failed to start is tried.
const EXEC_ATTEMPTS: u32 = 3;

/// Requests for one container's removal, each up to REQUEST_TIMEOUT.
const REMOVE_ATTEMPTS: u32 = 3;

/// Passes over a run's labelled images at cleanup: no run commits a longer chain.
const LABELLED_IMAGE_PASSES: usize = 8;

/// The runtime could not start an exec, so its command never ran and trying again is safe.
/// Seen under load with runsc: "OCI runtime exec failed: … runsc did not terminate
/// successfully: exit status 128: unknown". A missing or non-executable command is the
/// caller's error, not the runtime's: those are not retried.
fn runtime_refused_exec(result: &ExecOutput) -> bool {
    result.exit_code != 0
        && result.output.contains("OCI runtime exec failed")
        && !["executable file not found", "no such file or directory", "permission denied"]
            .iter()
            .any(|cause| result.output.contains(cause))
}

/// Builds a tar archive in memory from (path in archive, contents, mode) entries.
pub fn tar_of(files: &[(&str, &[u8], u32)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, contents, mode) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(contents.len() as u64);
        header.set_mode(*mode);
        header.set_mtime(0);
        header.set_cksum();
        builder.append_data(&mut header, path, *contents).expect("writing to a Vec cannot fail");
    }
    builder.into_inner().expect("writing to a Vec cannot fail")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_execs_the_runtime_failed_to_start_are_retried() {
        let result = |exit_code, output: &str| ExecOutput { exit_code, output: output.into() };
        let refused = "OCI runtime exec failed: /var/lib/docker/runtimes/runsc did not terminate successfully: exit status 128: unknown";
        assert!(runtime_refused_exec(&result(-1, refused)));
        assert!(runtime_refused_exec(&result(126, refused)));
        assert!(!runtime_refused_exec(&result(0, "OCI runtime exec failed (printed by the command)")));
        assert!(!runtime_refused_exec(&result(
            127,
            "OCI runtime exec failed: exec: \"nope\": executable file not found in $PATH: unknown"
        )));
        assert!(!runtime_refused_exec(&result(1, "check failed")));
    }

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
        assert!(matches!(endpoint(&[("DOCKER_HOST", "ssh://u@h")]), Err(EngineError::Endpoint { .. })));
    }
}
