//! The Docker track's build: a learner's Dockerfile, checked (`parse`), then built by the
//! builder, a private dockerd of sandbox's own whose default runtime is gVisor, so every
//! `RUN` executes in a sandbox, under limits and without a route out. The host's Docker is
//! never asked to build untrusted Dockerfiles (its BuildKit would run `RUN` on the host
//! kernel). `scripts/setup.sh` starts the builder; see ARCHITECTURE.md for what is to come
//! (running and checking the image).

pub mod checks;
pub mod layers;
pub mod log;
pub mod run;
pub mod structure;
pub mod verdict;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use miette::Diagnostic;

use crate::docker::{BuildFailed, BuildLimits, Endpoint, Engine, EngineError, RegisteredRuntime};
use crate::isolation::{RuntimePolicy, WriteBound};
pub use log::{BuildLog, Step};

// Reading a Dockerfile is part of reading a challenge (lint does it too); building is here.
pub use crate::challenge::dockerfile::{self as parse, DockerfileError};

/// Where `scripts/setup.sh` starts the builder.
pub const DEFAULT_SOCKET: &str = "/run/sandbox/builder.sock";

#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum BuildError {
    #[error("the builder (sandbox's own dockerd for Dockerfiles) does not answer at {socket}")]
    #[diagnostic(
        code(sandbox::build::builder_down),
        help("start it with `sudo scripts/setup.sh`; its log is /var/log/sandbox-builder.log")
    )]
    BuilderDown {
        socket: String,
        #[source]
        source: EngineError,
    },

    #[error("the builder at {socket} would run RUN steps under `{runtime}`, not gVisor")]
    #[diagnostic(
        code(sandbox::build::not_gvisor),
        help("`sudo scripts/setup.sh` configures it (/etc/sandbox/builder.json)")
    )]
    NotGvisor { socket: String, runtime: String },

    #[error("the builder at {socket} runs RUN steps under `{runtime}`, which does not bound what a step writes")]
    #[diagnostic(
        code(sandbox::build::unbounded),
        help("`sudo scripts/setup.sh` gives the builder its bounded store and runtime (scripts/runsc-build)")
    )]
    Unbounded { socket: String, runtime: String },

    #[error(transparent)]
    #[diagnostic(transparent)]
    Dockerfile(#[from] DockerfileError),

    #[error("cannot read {}", path.display())]
    #[diagnostic(code(sandbox::build::io))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(transparent)]
    #[diagnostic(transparent)]
    Engine(#[from] EngineError),

    #[error("the build context {} holds {size} bytes, more than the {limit} a build may send", dir.display())]
    #[diagnostic(
        code(sandbox::build::context_too_large),
        help("a challenge's app directory is its source, not its artifacts: leave build outputs out of it")
    )]
    ContextTooLarge { dir: PathBuf, size: usize, limit: usize },

    #[error("the build failed: {message}")]
    #[diagnostic(code(sandbox::build::failed))]
    Failed {
        /// The builder's own words (`The command '/bin/sh -c …' returned a non-zero code: 1`).
        message: String,
        /// The steps it ran, the failed one last.
        steps: Vec<Step>,
    },

    #[error("interrupted; everything the attempt created was removed")]
    #[diagnostic(code(sandbox::build::interrupted))]
    Interrupted,
}

/// The builder: sandbox's own dockerd for learner Dockerfiles.
pub struct Builder {
    engine: Engine,
    socket: String,
}

impl Builder {
    /// Connects to the builder and makes sure its `RUN` steps run under gVisor.
    pub async fn connect(socket: &str) -> Result<Builder, BuildError> {
        let down = |source| BuildError::BuilderDown { socket: socket.to_string(), source };
        let engine = Engine::connect(&Endpoint::Unix(format!("unix://{socket}"))).await.map_err(down)?;
        let runtime = engine.defaults().await.map_err(down)?.default_runtime;
        let registered: Option<&RegisteredRuntime> = engine.runtimes().await.map_err(down)?.get(&runtime);
        if !registered.is_some_and(|r| r.is_gvisor()) {
            return Err(BuildError::NotGvisor { socket: socket.to_string(), runtime });
        }
        if registered.is_some_and(|r| r.write_bound() != WriteBound::LayerQuota) {
            return Err(BuildError::Unbounded { socket: socket.to_string(), runtime });
        }
        Ok(Builder { engine, socket: socket.to_string() })
    }

    /// The registration of the runtime that runs the builder's steps.
    pub async fn runtime(&self) -> Option<RegisteredRuntime> {
        let runtime = self.engine.defaults().await.ok()?.default_runtime;
        self.engine.runtimes().await.ok()?.get(&runtime).cloned()
    }

    pub fn socket(&self) -> &str {
        &self.socket
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Checks the request's Dockerfile against its allowed base images, then builds its
    /// context with it; `on_line` hears the build log as it comes.
    pub async fn build(
        &self,
        request: &BuildRequest<'_>,
        on_line: &mut (dyn FnMut(&str) + Send),
    ) -> Result<Vec<Step>, BuildError> {
        let dockerfile = request.dockerfile;
        let text = std::fs::read_to_string(dockerfile)
            .map_err(|source| BuildError::Io { path: dockerfile.to_path_buf(), source })?;
        parse::check(&text, &dockerfile.display().to_string(), request.allowed)?;
        let archive = context_archive(request.context, &text, request.touched.as_ref())
            .map_err(|source| BuildError::Io { path: request.context.to_path_buf(), source })?;
        if archive.len() > CONTEXT_LIMIT {
            let dir = request.context.to_path_buf();
            return Err(BuildError::ContextTooLarge { dir, size: archive.len(), limit: CONTEXT_LIMIT });
        }
        let limits = BuildLimits { dockerfile: Some(DOCKERFILE_IN_CONTEXT.into()), ..request.limits.clone() };
        let mut log = BuildLog::default();
        let built = self
            .engine
            .build_image_with(request.tag, archive, &request.labels, &limits, &mut |line| {
                on_line(line);
                log.push(line);
            })
            .await;
        match built {
            Ok(()) => Ok(log.into_steps()),
            Err(EngineError::Build(BuildFailed { message, .. })) => {
                Err(BuildError::Failed { message, steps: log.into_steps() })
            }
            Err(err) => Err(err.into()),
        }
    }
}

/// The builder's store (its data root): a filesystem of its own whose size is the most the
/// host's disk can lose to builds (`scripts/setup.sh` makes it a btrfs file of fixed size).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreUsage {
    pub size: u64,
    pub used: u64,
    pub free: u64,
}

impl StoreUsage {
    fn of(path: &Path) -> std::io::Result<StoreUsage> {
        let stats = rustix::fs::statvfs(path)?;
        let block = stats.f_frsize;
        let size = stats.f_blocks * block;
        Ok(StoreUsage { size, used: size - stats.f_bfree * block, free: stats.f_bavail * block })
    }

    /// Whether a build may start: room for one step at its bound twice (its layer, then the
    /// image layer committed from it), and a quarter of the store kept free for the
    /// attempts beside it; below that the layer cache goes first.
    pub fn has_room_for(&self, step_bound: u64) -> bool {
        self.free >= (2 * step_bound).max(self.size / 4)
    }
}

impl Builder {
    /// How big and how full the builder's store is.
    pub async fn store(&self) -> Result<StoreUsage, BuildError> {
        let root = PathBuf::from(self.engine.defaults().await?.root_dir);
        StoreUsage::of(&root).map_err(|source| BuildError::Io { path: root, source })
    }

    /// Prunes the layer cache before a build whose steps may write `step_bound` each when
    /// the store lacks room for it, so that the cache never crowds out a build.
    pub async fn make_room(&self, step_bound: u64) -> Result<StoreUsage, BuildError> {
        let store = self.store().await?;
        if store.has_room_for(step_bound) {
            return Ok(store);
        }
        self.engine.prune_dangling_images().await?;
        self.store().await
    }
}

/// One build: what, from where, as what, within what.
pub struct BuildRequest<'a> {
    /// The build context, a directory.
    pub context: &'a Path,
    pub dockerfile: &'a Path,
    pub tag: &'a str,
    /// The base images `FROM` may name.
    pub allowed: &'a [&'a str],
    pub limits: BuildLimits,
    pub labels: HashMap<String, String>,
    /// A file of the context (relative to it) sent with these bytes appended: the source
    /// change a second build sees.
    pub touched: Option<(&'a Path, Vec<u8>)>,
}

/// The most a build context may hold (it is sent in memory, and it is source, not artifacts).
const CONTEXT_LIMIT: usize = 64 * 1024 * 1024;

/// Where the learner's Dockerfile is put in the context (so a file named `Dockerfile` in the
/// app's own directory cannot stand in for it).
const DOCKERFILE_IN_CONTEXT: &str = ".sandbox.Dockerfile";

/// The context directory as a tar, the Dockerfile beside it, the touched file changed.
fn context_archive(context: &Path, dockerfile: &str, touched: Option<&(&Path, Vec<u8>)>) -> std::io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(false);
    // Docker's tar reader refuses GNU sparse entries ("unhandled tar header type 83").
    builder.sparse(false);
    let mut extra = vec![(PathBuf::from(DOCKERFILE_IN_CONTEXT), dockerfile.as_bytes().to_vec())];
    if let Some((relative, appended)) = touched {
        let mut changed = std::fs::read(context.join(relative))?;
        changed.extend_from_slice(appended);
        extra.push((relative.to_path_buf(), changed));
    }
    for entry in walkdir::WalkDir::new(context).min_depth(1).sort_by_file_name() {
        let entry = entry.map_err(std::io::Error::other)?;
        let relative = entry.path().strip_prefix(context).map_err(std::io::Error::other)?;
        if extra.iter().any(|(path, _)| path == relative) {
            continue;
        }
        builder.append_path_with_name(entry.path(), relative)?;
    }
    for (path, contents) in extra {
        let mut header = tar::Header::new_gnu();
        header.set_size(contents.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, path, contents.as_slice())?;
    }
    builder.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_build_needs_room_for_one_step_twice_and_a_quarter_of_the_store_free() {
        const GIB: u64 = 1 << 30;
        let store = |free| StoreUsage { size: 20 * GIB, used: 20 * GIB - free, free };
        assert!(store(6 * GIB).has_room_for(GIB));
        assert!(!store(4 * GIB).has_room_for(GIB), "under a quarter free: the cache goes first");
        assert!(!store(6 * GIB).has_room_for(4 * GIB), "one step could write past what is free");
    }
}
