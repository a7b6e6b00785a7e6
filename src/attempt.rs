//! One attempt at a challenge, whichever its track: the track is chosen here, once, from the
//! challenge, and `run`, `watch` and `test` go through it. Both kinds share their lifecycle
//! (`lifecycle::Scope`: id, labels with a deadline, the race against the deadline and
//! Ctrl-C, the sweep of dead attempts) and the guard (`isolation::guard`); each says only what
//! runs and how its verdict is decided: `run` applies a playbook twice, `dockerfile::run`
//! builds an image twice and checks it. Neither depends on the other.

use miette::Diagnostic;

use crate::challenge::{Challenge, Track};
use crate::docker::Engine;
use crate::dockerfile::run::{ImageRun, ImageRunOptions};
use crate::dockerfile::BuildError;
use crate::report::{Reporter, RunReport};
use crate::run::{Run, RunError, RunOptions};
use crate::settings::Settings;

/// What went wrong with an attempt, in its track's terms.
#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum AttemptError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Run(#[from] RunError),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Build(#[from] BuildError),
}

impl AttemptError {
    /// Ctrl-C or SIGTERM ended it (everything it made was removed).
    pub fn interrupted(&self) -> bool {
        matches!(self, AttemptError::Run(RunError::Interrupted) | AttemptError::Build(BuildError::Interrupted))
    }
}

/// An attempt of either kind, ready to execute.
#[allow(clippy::large_enum_variant)] // one per command, moved once into `execute`
pub enum Attempt<'a> {
    /// The Ansible track: a playbook applied twice on every platform.
    Playbook(Run<'a>),
    /// The Docker track: a Dockerfile built twice, each image checked.
    Image(ImageRun<'a>),
}

impl<'a> Attempt<'a> {
    /// The attempt `challenge`'s track makes of `options`; the Docker daemon (`settings`'s) is
    /// connected only for the Ansible track.
    pub async fn new(
        challenge: &'a Challenge,
        options: RunOptions,
        settings: &Settings,
        reporter: &'a dyn Reporter,
    ) -> Result<Attempt<'a>, AttemptError> {
        let engine = match challenge.track {
            Track::Ansible => {
                let endpoint = settings.engine().map_err(RunError::from)?;
                Some(Engine::connect(&endpoint).await.map_err(RunError::from)?)
            }
            Track::Docker(_) => None,
        };
        Attempt::with_engine(challenge, options, engine, &settings.builder, reporter).await
    }

    /// `new` with the Docker daemon already connected (a suite's runs share it).
    pub async fn with_engine(
        challenge: &'a Challenge,
        options: RunOptions,
        engine: Option<Engine>,
        builder_socket: &str,
        reporter: &'a dyn Reporter,
    ) -> Result<Attempt<'a>, AttemptError> {
        Ok(match (&challenge.track, engine) {
            (Track::Docker(spec), _) => {
                let options = ImageRunOptions {
                    dockerfile: options.playbook,
                    timeout: options.timeout,
                    guard: options.guard,
                    builder_socket: builder_socket.to_string(),
                };
                Attempt::Image(ImageRun::new(challenge, spec, options, reporter).await?)
            }
            (Track::Ansible, Some(engine)) => Attempt::Playbook(Run::new(engine, challenge, options, reporter)?),
            (Track::Ansible, None) => unreachable!("an Ansible attempt is made with the Docker daemon"),
        })
    }

    pub fn id(&self) -> &str {
        match self {
            Attempt::Playbook(run) => run.id(),
            Attempt::Image(run) => run.id(),
        }
    }

    /// Runs it to its verdict; everything it made is removed (or handed to a process that
    /// removes it, `RunOptions::detach_teardown`).
    pub async fn execute(self) -> Result<RunReport, AttemptError> {
        match self {
            Attempt::Playbook(run) => Ok(run.execute().await?),
            Attempt::Image(run) => Ok(run.execute().await?),
        }
    }
}
