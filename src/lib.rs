//! sandbox: run hands-on Ansible challenges in hardened gVisor containers.
//!
//! `run` takes parsed arguments and returns an exit status, so tests call it directly and
//! `main` stays a thin shell around it.

// Diagnostics carry their source text so miette can label the span; they are built once, on
// the way out, so their size on the error path does not matter.
#![allow(clippy::result_large_err)]

pub mod challenge;
pub mod cli;
mod commands;
pub mod distro;
pub mod docker;
pub mod images;
pub mod isolation;
pub mod labels;
pub mod pool;
pub mod report;
pub mod run;
pub mod settings;
pub mod suite;

use miette::Diagnostic;

use crate::images::ImageError;
use crate::challenge::ChallengeError;
use crate::cli::{Cli, Command};
use crate::settings::{Config, ConfigError};
use crate::docker::EngineError;
use crate::report::terminal::Terminal;
use crate::run::RunError;
use crate::challenge::scaffold::ScaffoldError;

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

    #[error("{0}")]
    #[diagnostic(code(sandbox::usage))]
    Usage(String),

    /// Diagnostics were already printed (lint, test's validation); only the status remains.
    #[error("{count} challenge(s) have errors")]
    #[diagnostic(code(sandbox::invalid_challenges))]
    InvalidChallenges { count: usize },
}

impl Error {
    pub fn exit_status(&self) -> ExitStatus {
        match self {
            Error::Challenge(_)
            | Error::Config(_)
            | Error::Usage(_)
            | Error::Scaffold(_)
            | Error::InvalidChallenges { .. } => ExitStatus::Usage,
            Error::Run(RunError::Interrupted) => ExitStatus::Interrupted,
            Error::Run(RunError::DistroNotInChallenge { .. } | RunError::MissingPlaybook { .. }) => ExitStatus::Usage,
            Error::Run(_) | Error::Engine(_) | Error::Image(_) | Error::Pool(_) => ExitStatus::Infrastructure,
        }
    }
}

pub async fn run(cli: Cli) -> Result<ExitStatus, Error> {
    let config = Config::load()?;
    distro::extend(config.extra_distros.clone());
    let runtime = |flag: Option<String>| {
        flag.or_else(|| config.runtime.clone()).unwrap_or_else(|| isolation::DEFAULT_RUNTIME.to_string())
    };
    match cli.command {
        Command::Run(mut args) => {
            let runtime = runtime(args.setup.runtime.take());
            commands::run(args, &config, runtime).await
        }
        Command::Test(mut args) => {
            let runtime = runtime(args.runtime.take());
            commands::test(args, &config, runtime).await
        }
        Command::Lint(args) => commands::lint(&args, &config),
        Command::New(args) => commands::new(&args),
        Command::Shell(mut args) => {
            let runtime = runtime(args.setup.runtime.take());
            commands::shell(args, &config, runtime).await
        }
        Command::Watch(mut args) => {
            let runtime = runtime(args.setup.runtime.take());
            commands::watch(args, &config, runtime).await
        }
        Command::Pool(command) => commands::pool(command, &config, &runtime).await,
        Command::Doctor(args) => commands::doctor(&runtime(args.runtime)).await,
        Command::Images(command) => commands::images(command).await,
        Command::Completions { shell } => {
            Terminal::new(false).print(cli::completions(shell).trim_end());
            Ok(ExitStatus::Success)
        }
    }
}
