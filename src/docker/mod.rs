//! The Docker client, through bollard: every call sandbox makes to Docker lives here, and
//! nothing of the product does (no challenge, no run, no policy: `isolation` decides how a
//! container is confined, this module carries it out).
//!
//! bollard's errors say what went wrong on the wire, not what was being done; each
//! operation therefore has its own error variant naming the object it was acting on, beside
//! the operation in its concern's file (`daemon`, `images`, `build`, `containers`, `exec`,
//! `files`, `networks`). `EngineError` gathers them, so a caller's `?` needs one conversion.

mod build;
mod containers;
mod daemon;
mod exec;
mod files;
mod images;
mod networks;

use std::collections::HashMap;
use std::sync::Arc;

use bollard::query_parameters::ListNetworksOptionsBuilder;
use bollard::Docker;
use miette::Diagnostic;

pub use build::{BuildFailed, BuildLimits};
pub use containers::{Confinement, ContainerError, ContainerSpec, ContainerState, ListedContainer};
pub use daemon::{DaemonDefaults, DaemonError, Endpoint, RegisteredRuntime};
pub use exec::{ExecError, ExecOutput, InteractiveExec};
pub use files::{tar_of, FileError, PathEntry, PathKind};
pub use images::{ImageError, ImageFacts};
pub use networks::NetworkError;

type BollardError = bollard::errors::Error;

/// Any failure of the client; each concern's error says what was being done.
#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum EngineError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Daemon(#[from] DaemonError),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Image(#[from] ImageError),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Build(#[from] BuildFailed),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Container(#[from] ContainerError),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Exec(#[from] ExecError),

    #[error(transparent)]
    #[diagnostic(transparent)]
    File(#[from] FileError),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Network(#[from] NetworkError),

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

#[derive(Clone)]
pub struct Engine {
    docker: Docker,
    /// The daemon's registered runtimes, read once: every container creation needs to know
    /// whether its runtime is gVisor.
    runtimes: Arc<tokio::sync::OnceCell<HashMap<String, RegisteredRuntime>>>,
}

impl Engine {
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

/// Passes over a run's labelled images at cleanup: no run commits a longer chain.
const LABELLED_IMAGE_PASSES: usize = 8;
