//! Images: what one is (`ImageFacts`), saving, tagging, committing a container, removing.

use std::collections::HashMap;
use std::path::PathBuf;

use futures_util::StreamExt;
use miette::Diagnostic;

use super::{BollardError, DaemonError, Engine, EngineError};

#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum ImageError {
    #[error("failed to inspect image {image}")]
    #[diagnostic(code(sandbox::engine::image))]
    InspectImage {
        image: String,
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

    #[error("failed to remove image {image}")]
    #[diagnostic(code(sandbox::engine::remove_image))]
    RemoveImage {
        image: String,
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

impl Engine {
    /// Each layer of `image`, newest first: the instruction that made it and its size.
    pub async fn image_layers(&self, image: &str) -> Result<Vec<(String, i64)>, EngineError> {
        let history = self
            .docker
            .image_history(image)
            .await
            .map_err(|source| ImageError::InspectImage { image: image.to_string(), source })?;
        Ok(history.into_iter().map(|layer| (layer.created_by, layer.size)).collect())
    }

    /// The image's configuration and history.
    pub async fn image_facts(&self, image: &str) -> Result<ImageFacts, EngineError> {
        let failed = |source| EngineError::from(ImageError::InspectImage { image: image.to_string(), source });
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
        let file_error = |source| {
            EngineError::from(ImageError::SaveImageFile { image: image.to_string(), path: path.into(), source })
        };
        let mut file = tokio::fs::File::create(path).await.map_err(file_error)?;
        let mut stream = self.docker.export_image(image);
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|source| ImageError::SaveImage { image: image.to_string(), source })?;
            file.write_all(&chunk).await.map_err(file_error)?;
        }
        file.flush().await.map_err(file_error)
    }

    /// Removes a tag, keeping its untagged parents: they are the builder's layer cache.
    pub async fn untag_image(&self, image: &str) -> Result<(), EngineError> {
        let options = bollard::query_parameters::RemoveImageOptionsBuilder::default().force(true).noprune(true).build();
        match self.docker.remove_image(image, Some(options), None).await {
            Ok(_) | Err(BollardError::DockerResponseServerError { status_code: 404, .. }) => Ok(()),
            Err(source) => Err(ImageError::RemoveImage { image: image.to_string(), source }.into()),
        }
    }

    /// Every image (intermediate ones included) matching one `docker images --filter`.
    pub(super) async fn images_where(
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
        self.docker.prune_images(Some(options)).await.map_err(DaemonError::Info)?;
        Ok(())
    }

    /// Removes an image (and its untagged parents); gone already is fine.
    pub async fn remove_image(&self, image: &str) -> Result<(), EngineError> {
        let options = bollard::query_parameters::RemoveImageOptionsBuilder::default().force(true).build();
        match self.docker.remove_image(image, Some(options), None).await {
            Ok(_) | Err(BollardError::DockerResponseServerError { status_code: 404, .. }) => Ok(()),
            Err(source) => Err(ImageError::RemoveImage { image: image.to_string(), source }.into()),
        }
    }

    /// The image's id, or None when it does not exist.
    pub async fn image_id(&self, image: &str) -> Result<Option<String>, EngineError> {
        match self.docker.inspect_image(image).await {
            Ok(inspect) => Ok(inspect.id),
            Err(BollardError::DockerResponseServerError { status_code: 404, .. }) => Ok(None),
            Err(source) => Err(ImageError::InspectImage { image: image.to_string(), source }.into()),
        }
    }

    /// `docker commit`: the container's filesystem as a new untagged image; its id.
    pub async fn commit(&self, id: &str, what: &str) -> Result<String, EngineError> {
        let options = bollard::query_parameters::CommitContainerOptionsBuilder::default().container(id).build();
        let committed = self
            .docker
            .commit_container(options, bollard::models::ContainerConfig::default())
            .await
            .map_err(|source| ImageError::Commit { what: what.to_string(), source })?;
        Ok(committed.id)
    }
}
