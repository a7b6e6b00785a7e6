//! sandbox: run hands-on Ansible challenges in hardened gVisor containers.
//!
//! `run` takes parsed arguments and returns an exit status, so tests call it directly and
//! `main` stays a thin shell around it.

pub mod bootstrap;
pub mod challenge;
pub mod cli;
pub mod config;
pub mod distro;
pub mod doctor;
pub mod engine;
pub mod inventory;
pub mod recap;
pub mod report;
pub mod runner;
pub mod verify;
pub mod watchdog;

use miette::Diagnostic;

use crate::bootstrap::{ImageError, ImageKind};
use crate::challenge::{Challenge, ChallengeError};
use crate::cli::{Cli, Command, ImagesCommand, RunArgs};
use crate::config::{Config, ConfigError};
use crate::engine::{Engine, EngineError};
use crate::report::terminal::Terminal;
use crate::report::Reporter;
use crate::runner::{PlaybookChoice, Run, RunError, RunOptions};

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

    #[error("{0}")]
    #[diagnostic(code(sandbox::usage))]
    Usage(String),
}

impl Error {
    pub fn exit_status(&self) -> ExitStatus {
        match self {
            Error::Challenge(_) | Error::Config(_) | Error::Usage(_) => ExitStatus::Usage,
            Error::Run(RunError::Interrupted) => ExitStatus::Interrupted,
            Error::Run(RunError::DistroNotInChallenge { .. } | RunError::MissingPlaybook { .. }) => ExitStatus::Usage,
            Error::Run(_) | Error::Engine(_) | Error::Image(_) => ExitStatus::Infrastructure,
        }
    }
}

pub async fn run(cli: Cli) -> Result<ExitStatus, Error> {
    let config = Config::load()?;
    distro::extend(config.extra_distros.clone());
    let runtime = |flag: Option<String>| {
        flag.or_else(|| config.runtime.clone()).unwrap_or_else(|| runner::DEFAULT_RUNTIME.to_string())
    };
    match cli.command {
        Command::Run(mut args) => {
            let runtime = runtime(args.runtime.take());
            run_challenge(args, &config, runtime).await
        }
        Command::Doctor(args) => doctor(&runtime(args.runtime)).await,
        Command::Images(command) => images(command).await,
        Command::Completions { shell } => {
            Terminal::new(false).print(cli::completions(shell).trim_end());
            Ok(ExitStatus::Success)
        }
    }
}

async fn run_challenge(args: RunArgs, config: &Config, runtime: String) -> Result<ExitStatus, Error> {
    let challenge = Challenge::load(&args.dir, &config.ceilings)?;
    let timeout = match &args.timeout {
        Some(text) => {
            Some(challenge::parse_duration(text).map_err(|message| Error::Usage(format!("--timeout: {message}")))?)
        }
        None => None,
    };
    let playbook = match (&args.playbook, args.solution) {
        (Some(path), _) => PlaybookChoice::File(path.clone()),
        (None, true) => PlaybookChoice::Solution,
        (None, false) => PlaybookChoice::Starter,
    };
    let terminal = Terminal::new(args.json);
    let options = RunOptions {
        playbook,
        distros: args.distros.clone(),
        runtime,
        timeout,
        color: terminal.wants_color(),
        show_inventory: args.show_inventory,
        guard: config.guard,
    };
    let engine = Engine::connect().await?;
    let run = Run::new(engine, &challenge, options, &terminal)?;
    terminal.step(&format!("run {} of {}: {}", run.id(), challenge.id, challenge.title));
    let result = run.execute().await;
    terminal.finish();
    let report = result?;
    terminal.summary(&report);
    if args.json {
        terminal.json(&report);
    }
    Ok(if report.passed { ExitStatus::Success } else { ExitStatus::Failure })
}

async fn doctor(runtime: &str) -> Result<ExitStatus, Error> {
    let terminal = Terminal::new(false);
    let (checks, ready) = doctor::diagnose(runtime).await;
    let width = checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
    for check in &checks {
        let mark = match (check.ok, check.required) {
            (true, _) => console::style("ok  ").green(),
            (false, true) => console::style("FAIL").red(),
            // A distro whose image cannot exist here does not stop a run of the others.
            (false, false) => console::style("n/a ").yellow(),
        };
        let fix = check.fix.as_ref().map(|fix| format!("  → fix: {fix}")).unwrap_or_default();
        terminal.print(&format!("{mark} {:<width$}  {}{fix}", check.name, check.detail));
    }
    terminal.print(if ready { "ready: a run can start" } else { "not ready: see the fixes above" });
    Ok(if ready { ExitStatus::Success } else { ExitStatus::Infrastructure })
}

async fn images(command: ImagesCommand) -> Result<ExitStatus, Error> {
    let terminal = Terminal::new(false);
    let engine = Engine::connect().await?;
    match command {
        ImagesCommand::List => {
            for kind in ImageKind::all() {
                let status = bootstrap::status(&engine, kind).await?;
                let state = match (&status.tag, status.prepared_present) {
                    (None, _) => format!("missing base image {}", kind.base_image()),
                    (Some(tag), true) => format!("ready    {tag}"),
                    (Some(tag), false) => format!("not built {tag}"),
                };
                terminal.print(&format!("{:<32} {state}", kind.describe()));
            }
        }
        ImagesCommand::Build { distros } => {
            let kinds: Vec<ImageKind> = if distros.is_empty() {
                let mut kinds = Vec::new();
                for distro in distro::all() {
                    if engine.image_id(distro.base_image).await?.is_some() {
                        kinds.push(ImageKind::Target(distro));
                    }
                }
                kinds
            } else {
                distros
                    .iter()
                    .map(|name| {
                        distro::find(name).map(ImageKind::Target).ok_or_else(|| {
                            Error::Usage(format!("unknown distro `{name}`; supported: {}", distro::names().join(", ")))
                        })
                    })
                    .collect::<Result<_, _>>()?
            };
            for kind in kinds.into_iter().chain(std::iter::once(ImageKind::Controller)) {
                let tag = bootstrap::ensure(&engine, kind, &terminal).await?;
                terminal.print(&format!("{:<32} {tag}", kind.describe()));
            }
            terminal.finish();
        }
    }
    Ok(ExitStatus::Success)
}
