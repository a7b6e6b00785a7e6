//! `sandbox run` and `sandbox shell`: one run of a challenge, reported as it goes.

use crate::attempt::Attempt;
use crate::challenge::{Challenge, Track};
use crate::cli::{RunArgs, RunSetup, ShellArgs};
use crate::docker::Engine;
use crate::learner::Opened;
use crate::printer::terminal::Terminal;
use crate::report::{Reporter, RunReport};
use crate::run::{PlaybookChoice, Run, RunOptions};
use crate::settings::Settings;
use crate::{Error, ExitStatus};

use super::{learner, session};

pub(crate) async fn run(args: RunArgs, settings: &Settings, terminal: &Terminal) -> Result<ExitStatus, Error> {
    let opened = open(&args.dir, &args.setup, settings)?;
    let challenge = opened.load(&settings.allowed)?;
    let report = attempt(&args, &challenge, settings, terminal).await?;
    terminal.summary(&report);
    if args.timings {
        terminal.timings(&report.timings, report.warm_set.as_deref());
    }
    if args.json {
        Terminal::json(&report);
    }
    learner::record_attempt(&opened, &report, settings, terminal);
    Ok(if report.passed { ExitStatus::Success } else { ExitStatus::Failure })
}

/// What a command's challenge argument names; with `--solution`, a workspace's library
/// challenge (the workspace has no solution of its own).
pub(super) fn open(target: &std::path::Path, setup: &RunSetup, settings: &Settings) -> Result<Opened, Error> {
    let opened = Opened::open(target, &settings.library)?;
    Ok(if setup.solution { opened.for_solution() } else { opened })
}

/// `sandbox run`'s attempt, of whichever track the challenge is.
async fn attempt(
    args: &RunArgs,
    challenge: &Challenge,
    settings: &Settings,
    terminal: &Terminal,
) -> Result<RunReport, Error> {
    let runtime = settings.runtime(args.setup.runtime.clone());
    let options = RunOptions {
        distros: args.scope.distros.clone(),
        timeout: args.scope.timeout,
        show_inventory: args.show_inventory,
        // The verdict is the learner's; the teardown happens after it, without them.
        detach_teardown: true,
        ..run_options(&args.setup, settings, runtime, terminal, 2)
    };
    let attempt = Attempt::new(challenge, options, settings, terminal).await?;
    terminal.step(&format!("run {} of {}: {}", attempt.id(), challenge.id, challenge.title));
    let result = attempt.execute().await;
    terminal.finish();
    Ok(result?)
}

/// `sandbox shell`: one pass of the playbook, then a login shell in the chosen target; the
/// run's containers are removed when the shell exits.
pub(crate) async fn shell(args: ShellArgs, settings: &Settings, terminal: &Terminal) -> Result<ExitStatus, Error> {
    let challenge = Challenge::load(&args.dir, &settings.allowed)?;
    if challenge.track != Track::Ansible {
        return Err(Error::Usage(format!(
            "{} is a Docker challenge: `sandbox shell` opens a shell in an Ansible target; `sandbox run` builds and checks the image",
            challenge.id
        )));
    }
    let runtime = settings.runtime(args.setup.runtime.clone());
    let distro = match &args.distro {
        Some(name) => name.clone(),
        None => challenge.distros[0].name.to_string(),
    };
    let options =
        RunOptions { distros: vec![distro.clone()], ..run_options(&args.setup, settings, runtime, terminal, 1) };
    let engine = Engine::connect(&settings.engine()?).await?;
    let run = Run::new(engine, &challenge, options, terminal)?;
    terminal.step(&format!("run {} of {}: one pass, then a shell in {distro}", run.id(), challenge.id));
    let result = run
        .execute_then(async |engine, targets| {
            let (_, container) = targets.into_iter().next()?;
            terminal.finish();
            terminal.notice(&format!("opening a shell in {distro}; `exit` ends it and removes the run"));
            Some(session::session(engine, &container, &format!("target {distro}")).await)
        })
        .await;
    terminal.finish();
    let (report, session) = result?;
    terminal.summary(&report);
    match session.flatten() {
        Some(exit) => {
            exit?;
            Ok(ExitStatus::Success)
        }
        None => {
            terminal.notice("no shell: the run did not get that far (see above)");
            Ok(ExitStatus::Failure)
        }
    }
}

/// The options `run`, `shell` and `draft-goss` share; the caller sets distros, timeout and inventory.
pub(super) fn run_options(
    setup: &RunSetup,
    settings: &Settings,
    runtime: String,
    terminal: &Terminal,
    passes: u8,
) -> RunOptions {
    RunOptions {
        playbook: match (&setup.playbook, setup.solution) {
            (Some(path), _) => PlaybookChoice::File(path.clone()),
            (None, true) => PlaybookChoice::Solution,
            (None, false) => PlaybookChoice::Starter,
        },
        distros: Vec::new(),
        runtime,
        timeout: None,
        color: terminal.wants_color(),
        show_inventory: false,
        guard: settings.guard,
        passes,
        services: setup.services,
        strategy: setup.strategy,
        offline: setup.offline,
        pool: (!setup.no_pool).then(|| settings.pool.clone()),
        verbosity: setup.verbose,
        diff: setup.diff,
        detach_teardown: false,
    }
}
