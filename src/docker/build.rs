//! Builds with the classic builder (every `RUN` in a container of the daemon's default runtime),
//! within the limits a build may use.

use std::collections::HashMap;

use bollard::query_parameters::BuildImageOptionsBuilder;
use futures_util::StreamExt;
use miette::Diagnostic;

use super::{BollardError, Engine, EngineError};

#[derive(Debug, thiserror::Error, Diagnostic)]
#[error("failed to build image {tag}: {message}")]
#[diagnostic(code(sandbox::engine::build), help("the build log above shows the failing step"))]
pub struct BuildFailed {
    pub tag: String,
    pub message: String,
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

impl Engine {
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
                BuildFailed { tag: tag.to_string(), message }
            })?;
            if let Some(detail) = info.error_detail {
                let message = detail.message.unwrap_or_else(|| "unknown error".into());
                return Err(BuildFailed { tag: tag.to_string(), message }.into());
            }
            if let Some(text) = info.stream {
                for line in text.lines().filter(|l| !l.trim().is_empty()) {
                    on_line(line);
                }
            }
        }
        Ok(())
    }
}
