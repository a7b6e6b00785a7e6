//! sandbox: run hands-on Ansible challenges in hardened gVisor containers.
//!
//! `run` takes parsed arguments and returns an exit status, so tests call it directly and
//! `main` stays a thin shell around it.

// Diagnostics carry their source text so miette can label the span; they are built once, on
// the way out, so their size on the error path does not matter.
#![allow(clippy::result_large_err)]

pub mod ansible;
pub mod challenge;
pub mod cli;
mod commands;
pub mod distro;
pub mod docker;
pub mod dockerfile;
pub mod images;
pub mod isolation;
pub mod labels;
pub mod learner;
pub mod pool;
pub mod printer;
pub mod report;
pub mod run;
pub mod settings;
pub mod shutdown;
pub mod suite;
pub mod units;

use miette::Diagnostic;

use crate::challenge::scaffold::ScaffoldError;
use crate::challenge::ChallengeError;
use crate::cli::Cli;
use crate::docker::EngineError;
use crate::dockerfile::BuildError;
use crate::images::ImageError;
use crate::learner::LearnerError;
use crate::printer::terminal::Terminal;
use crate::run::RunError;
use crate::settings::{ConfigError, Settings};

/// Documented exit codes (README, "Exit codes").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Every platform passed; or the command succeeded.
    Success = 0,
    /// A platform failed (playbook, check, idempotency, guard, timeout).
    Failure = 1,
    /// Bad challenge or usage.
    Usage = 2,
    /// Infrastructure: Docker, the runtime, an image.
    Infrastructure = 3,
    /// Ctrl-C or SIGTERM; everything created was removed.
    Interrupted = 130,
}

/// Every error a command can end with; each kind maps to one exit status.
#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum Error {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Challenge(#[from] ChallengeError),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Run(#[from] RunError),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Engine(#[from] EngineError),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Image(#[from] ImageError),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Config(#[from] ConfigError),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Scaffold(#[from] ScaffoldError),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Pool(#[from] crate::pool::PoolError),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Learner(#[from] crate::learner::LearnerError),

    #[error("{0}")]
    #[diagnostic(code(sandbox::usage))]
    Usage(String),

    /// Diagnostics were already printed (lint, test's validation); only the status remains.
    #[error("{challenges} challenge(s) have errors")]
    #[diagnostic(code(sandbox::invalid_challenges))]
    InvalidChallenges { challenges: usize },
}

impl Error {
    pub fn exit_status(&self) -> ExitStatus {
        match self {
            Error::Challenge(_)
            | Error::Config(_)
            | Error::Usage(_)
            | Error::Scaffold(_)
            | Error::InvalidChallenges { .. } => ExitStatus::Usage,
            // The learner's disk, not their input.
            Error::Learner(LearnerError::Io { .. }) => ExitStatus::Infrastructure,
            Error::Learner(_) => ExitStatus::Usage,
            Error::Run(RunError::Interrupted | RunError::Build(BuildError::Interrupted)) => ExitStatus::Interrupted,
            // A Dockerfile refused before it builds is the learner's input, like a bad manifest.
            Error::Run(RunError::Build(
                BuildError::Dockerfile(_) | BuildError::Io { .. } | BuildError::ContextTooLarge { .. },
            )) => ExitStatus::Usage,
            Error::Run(RunError::DistroNotInChallenge { .. } | RunError::MissingPlaybook { .. }) => ExitStatus::Usage,
            Error::Run(_) | Error::Engine(_) | Error::Image(_) | Error::Pool(_) => ExitStatus::Infrastructure,
        }
    }
}

/// Resolves the settings and builds the terminal once, then runs the command.
pub async fn run(cli: Cli) -> Result<ExitStatus, Error> {
    let settings = Settings::from_environment()?;
    let terminal = Terminal::new(cli.command.json_on_stdout());
    commands::dispatch(cli.command, &settings, &terminal).await
}
