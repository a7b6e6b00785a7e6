//! One function per command: arguments in, domain calls, reporter out, exit status back.

pub mod doctor;
pub mod shell;
pub mod watch_changes;

use crate::images::{self, ImageKind};
use crate::challenge::{self, Challenge, ServicesMode};
use std::path::PathBuf;
use std::time::Duration;

use crate::cli::{ImagesCommand, LintArgs, NewArgs, PoolCommand, RunArgs, RunSetup, ShellArgs, TestArgs, WatchArgs};
use crate::settings::Config;
use crate::distro;
use crate::docker::Engine;
use crate::suite::junit;
use crate::challenge::lint;
use crate::pool::{self, Pool};
use crate::report::progress::SuiteProgress;
use crate::report::terminal::Terminal;
use crate::report::Reporter;
use crate::report::RunReport;
use crate::run::{PlaybookChoice, Run, RunError, RunOptions};
use crate::challenge::scaffold;
use crate::suite::{self, SuiteOptions, SuiteReporter};
use crate::{Error, ExitStatus};

pub(crate) async fn run(args: RunArgs, config: &Config, runtime: String) -> Result<ExitStatus, Error> {
    let challenge = Challenge::load(&args.dir, &config.ceilings)?;
    let timeout = parse_timeout(args.scope.timeout.as_deref())?;
    let terminal = Terminal::new(args.json);
    let options = RunOptions {
        distros: args.scope.distros.clone(),
        timeout,
        show_inventory: args.show_inventory,
        ..run_options(&args.setup, config, runtime, &terminal, 2)?
    };
    let engine = Engine::connect().await?;
    let run = Run::new(engine, &challenge, options, &terminal)?;
    terminal.step(&format!("run {} of {}: {}", run.id(), challenge.id, challenge.title));
    let result = run.execute().await;
    terminal.finish();
    let report = result?;
    terminal.summary(&report);
    if args.timings {
        terminal.timings(&report.timings);
    }
    if args.json {
        Terminal::json(&report);
    }
    Ok(if report.passed { ExitStatus::Success } else { ExitStatus::Failure })
}

fn parse_timeout(text: Option<&str>) -> Result<Option<Duration>, Error> {
    text.map(|text| challenge::parse_duration(text).map_err(|message| Error::Usage(format!("--timeout: {message}"))))
        .transpose()
}

/// `sandbox watch`: a pool of its own for the challenge's platforms, an attempt now and one
/// after each change (never two at once), and everything removed however it ends.
pub(crate) async fn watch(args: WatchArgs, config: &Config, runtime: String) -> Result<ExitStatus, Error> {
    let terminal = Terminal::new(false);
    let challenge = Challenge::load(&args.dir, &config.ceilings)?;
    let engine = Engine::connect().await?;
    let namespace = format!("watch-{}", std::process::id());
    let pool = Pool::in_namespace(engine.clone(), &runtime, &namespace);
    let options = RunOptions {
        distros: args.scope.distros.clone(),
        timeout: parse_timeout(args.scope.timeout.as_deref())?,
        pool_namespace: Some(namespace),
        ..run_options(&args.setup, config, runtime, &terminal, 2)?
    };
    let result = tokio::select! {
        result = watch_attempts(&engine, &pool, &challenge, &args, config, &options, &terminal) => result,
        _ = tokio::signal::ctrl_c() => Err(RunError::Interrupted.into()),
    };
    terminal.finish();
    if let Err(err) = pool.down().await {
        terminal.notice(&format!("{err}"));
    }
    result
}

/// Warms the watch's pool, then runs attempts until an error the loop cannot go on from.
async fn watch_attempts(
    engine: &Engine,
    pool: &Pool,
    challenge: &Challenge,
    args: &WatchArgs,
    config: &Config,
    options: &RunOptions,
    terminal: &Terminal,
) -> Result<ExitStatus, Error> {
    if options.use_pool {
        terminal.step("warming targets and a controller for this challenge");
        pool.up(&watch_pool_sizes(engine, challenge, &options.distros).await?, terminal).await?;
        terminal.finish();
    }
    let (sender, mut changes) = tokio::sync::mpsc::unbounded_channel::<PathBuf>();
    let dir = std::fs::canonicalize(&args.dir).unwrap_or_else(|_| args.dir.clone());
    let cannot_watch = |err: notify::Error| Error::Usage(format!("cannot watch {}: {err}", dir.display()));
    let mut watcher = notify::recommended_watcher({
        let dir = dir.clone();
        move |event: notify::Result<notify::Event>| {
            let Ok(event) = event.map_err(drop) else { return };
            if !watch_changes::is_write(&event.kind) {
                return;
            }
            for path in event.paths {
                let relative = path.strip_prefix(&dir).unwrap_or(&path).to_path_buf();
                if watch_changes::is_learner_edit(&relative) {
                    let _ = sender.send(relative);
                }
            }
        }
    })
    .map_err(cannot_watch)?;
    notify::Watcher::watch(&mut watcher, &dir, notify::RecursiveMode::Recursive).map_err(cannot_watch)?;

    let mut previous: Option<RunReport> = None;
    let mut cause = "first attempt".to_string();
    for attempt in 1.. {
        terminal.step(&format!("attempt {attempt} ({cause})"));
        if let Some(report) = watch_attempt(engine, &args.dir, config, options, terminal).await? {
            terminal.summary(&report);
            if let Some(previous) = &previous {
                terminal.changes(attempt - 1, &watch_changes::changes(previous, &report));
            }
            previous = Some(report);
        }
        // Saves made while the attempt ran start exactly one more, right away.
        let mut changed: Vec<PathBuf> = std::iter::from_fn(|| changes.try_recv().ok()).collect();
        if changed.is_empty() {
            terminal.notice(&format!("watching {} for changes (Ctrl-C to stop)", args.dir.display()));
            changed.push(changes.recv().await.expect("the watcher lives as long as this loop"));
        }
        settle(&mut changes, &mut changed).await;
        cause = format!("{} changed", changed.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "));
    }
    unreachable!("the attempts only end with an error or Ctrl-C")
}

/// A save is a burst of events (an editor's temp file, rename, metadata): collect until the
/// files are quiet for 250 ms (at most 2 s), each path once.
async fn settle(changes: &mut tokio::sync::mpsc::UnboundedReceiver<PathBuf>, changed: &mut Vec<PathBuf>) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while let Ok(Some(path)) = tokio::time::timeout(Duration::from_millis(250), changes.recv()).await {
        changed.push(path);
        if tokio::time::Instant::now() > deadline {
            break;
        }
    }
    let mut seen = std::collections::HashSet::new();
    changed.retain(|path| seen.insert(path.clone()));
}

/// One of each platform the watch runs on, where its image can exist and a run could take
/// it (a challenge's package layer is its own image), and a controller.
async fn watch_pool_sizes(
    engine: &Engine,
    challenge: &Challenge,
    only: &[String],
) -> Result<Vec<(ImageKind, usize)>, Error> {
    let mut sizes = vec![(ImageKind::Controller, 1)];
    for distro in &challenge.distros {
        let wanted = only.is_empty() || only.iter().any(|name| name == distro.name);
        let poolable = challenge.poolable_target(distro);
        if wanted && poolable && engine.image_id(distro.base_image).await?.is_some() {
            sizes.push((ImageKind::Target(distro), 1));
        }
    }
    Ok(sizes)
}

/// One attempt: the challenge as it is now (a broken challenge.toml is shown and waited
/// out, not the end of the watch), run to its verdict.
async fn watch_attempt(
    engine: &Engine,
    dir: &std::path::Path,
    config: &Config,
    options: &RunOptions,
    terminal: &Terminal,
) -> Result<Option<RunReport>, Error> {
    let challenge = match Challenge::load(dir, &config.ceilings) {
        Ok(challenge) => challenge,
        Err(err) => {
            terminal.error(&format!("{:?}", miette::Report::new(err)));
            return Ok(None);
        }
    };
    let run = Run::new(engine.clone(), &challenge, options.clone(), terminal)?;
    let result = run.execute().await;
    terminal.finish();
    match result {
        Ok(report) => Ok(Some(report)),
        Err(RunError::Interrupted) => Err(RunError::Interrupted.into()),
        Err(err) => {
            terminal.error(&format!("{:?}", miette::Report::new(err)));
            Ok(None)
        }
    }
}

/// The options `run` and `shell` share; the caller sets distros, timeout and inventory.
fn run_options(
    setup: &RunSetup,
    config: &Config,
    runtime: String,
    terminal: &Terminal,
    passes: u8,
) -> Result<RunOptions, Error> {
    let services = setup
        .services
        .as_deref()
        .map(|text| {
            ServicesMode::parse(text)
                .ok_or_else(|| Error::Usage(format!("--services {text}: expected mock, supervised or systemd")))
        })
        .transpose()?;
    Ok(RunOptions {
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
        guard: config.guard,
        passes,
        services,
        strategy: setup.strategy,
        offline: setup.offline,
        use_pool: !setup.no_pool,
        pool_namespace: None,
    })
}

/// `sandbox test`: validates every challenge first (nothing runs when one is invalid), then
/// runs solutions and starters in parallel.
pub(crate) async fn test(args: TestArgs, config: &Config, runtime: String) -> Result<ExitStatus, Error> {
    let progress = SuiteProgress::new(args.json);
    let mut challenges = Vec::new();
    let mut invalid = 0;
    for dir in challenge::discover(&args.dirs) {
        match Challenge::load(&dir, &config.ceilings) {
            Ok(challenge) => challenges.push(challenge),
            Err(err) => {
                invalid += 1;
                Terminal::new(args.json).error(&format!("{:?}", miette::Report::new(err)));
            }
        }
    }
    if invalid > 0 {
        return Err(Error::InvalidChallenges { count: invalid });
    }
    let jobs = match args.jobs {
        Some(0) => return Err(Error::Usage("--jobs must be at least 1".into())),
        Some(jobs) => jobs,
        None => suite::default_jobs(),
    };
    let options = SuiteOptions { jobs, runtime, guard: config.guard, color: progress.wants_color() };
    let engine = Engine::connect().await?;
    progress.general().notice(&format!(
        "testing {} challenge(s), {jobs} run(s) at a time under {}",
        challenges.len(),
        options.runtime
    ));
    let report = suite::run(&engine, &challenges, &options, &progress).await?;
    progress.summary(&report);
    if let Some(path) = &args.junit {
        std::fs::write(path, junit::render(&report))
            .map_err(|err| Error::Usage(format!("cannot write --junit {}: {err}", path.display())))?;
    }
    if args.json {
        Terminal::json(&report);
    }
    let infrastructure = report.challenges.iter().any(|c| c.status == suite::Status::Error);
    Ok(match (report.passed, infrastructure) {
        (true, _) => ExitStatus::Success,
        (false, true) => ExitStatus::Infrastructure,
        (false, false) => ExitStatus::Failure,
    })
}

/// `sandbox lint`: every finding printed; exit 2 when any is an error.
pub(crate) fn lint(args: &LintArgs, config: &Config) -> Result<ExitStatus, Error> {
    let terminal = Terminal::new(false);
    let mut errors = 0;
    let mut warnings = 0;
    let dirs = challenge::discover(&args.dirs);
    for dir in &dirs {
        let findings = lint::lint(dir, &config.ceilings);
        let (bad, notes) = findings.iter().fold((0, 0), |(e, w), f| if f.is_error() { (e + 1, w) } else { (e, w + 1) });
        errors += bad;
        warnings += notes;
        for finding in findings {
            terminal.error(&format!("{:?}", miette::Report::new(finding)));
        }
        let state = if bad > 0 { "errors" } else { "ok" };
        terminal.print(&format!("{state:<6} {}", dir.display()));
    }
    terminal.print(&format!("{} challenge(s): {errors} error(s), {warnings} warning(s)", dirs.len()));
    if errors > 0 {
        return Err(Error::InvalidChallenges { count: errors });
    }
    Ok(ExitStatus::Success)
}

pub(crate) fn new(args: &NewArgs) -> Result<ExitStatus, Error> {
    scaffold::create(&args.name, &args.distros)?;
    let terminal = Terminal::new(false);
    let name = args.name.display();
    terminal.print(&format!("created {name}: edit README.md, playbook.yml, solution/ and check.sh"));
    terminal.print(&format!("then: sandbox lint {name} && sandbox test {name}"));
    Ok(ExitStatus::Success)
}

/// `sandbox shell`: one pass of the playbook, then a login shell in the chosen target; the
/// run's containers are removed when the shell exits.
pub(crate) async fn shell(args: ShellArgs, config: &Config, runtime: String) -> Result<ExitStatus, Error> {
    let challenge = Challenge::load(&args.dir, &config.ceilings)?;
    let distro = match &args.distro {
        Some(name) => name.clone(),
        None => challenge.distros[0].name.to_string(),
    };
    let terminal = Terminal::new(false);
    let options =
        RunOptions { distros: vec![distro.clone()], ..run_options(&args.setup, config, runtime, &terminal, 1)? };
    let engine = Engine::connect().await?;
    let run = Run::new(engine, &challenge, options, &terminal)?;
    terminal.step(&format!("run {} of {}: one pass, then a shell in {distro}", run.id(), challenge.id));
    let result = run
        .execute_then(async |engine, targets| {
            let (_, container) = targets.into_iter().next()?;
            terminal.finish();
            terminal.notice(&format!("opening a shell in {distro}; `exit` ends it and removes the run"));
            Some(shell::session(engine, &container, &format!("target {distro}")).await)
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

/// `sandbox pool up|status|down`.
pub(crate) async fn pool(
    command: PoolCommand,
    config: &Config,
    runtime: &dyn Fn(Option<String>) -> String,
) -> Result<ExitStatus, Error> {
    let terminal = Terminal::new(false);
    let engine = Engine::connect().await?;
    match command {
        PoolCommand::Up { size, distros, runtime: flag } => {
            let pool = Pool::default_for(engine.clone(), &runtime(flag));
            let defaults: Vec<(String, usize)> = config
                .pool_sizes
                .clone()
                .unwrap_or_else(|| pool::DEFAULT_SIZES.iter().map(|(name, size)| (name.to_string(), *size)).collect());
            let mut sizes = Vec::new();
            let names: Vec<String> = if distros.is_empty() {
                defaults
                    .iter()
                    .map(|(name, _)| name.clone())
                    .filter(|name| name != ImageKind::Controller.name())
                    .collect()
            } else {
                distros.clone()
            };
            for name in names {
                let distro = distro::find(&name).ok_or_else(|| {
                    Error::Usage(format!("unknown distro `{name}`; supported: {}", distro::names().join(", ")))
                })?;
                // Where no registry is, some default distros cannot have images: skip those
                // unless asked for by name.
                if distros.is_empty() && engine.image_id(distro.base_image).await?.is_none() {
                    terminal.notice(&format!("{name}: no base image {} here; not pooled", distro.base_image));
                    continue;
                }
                let default = defaults.iter().find(|(n, _)| *n == name).map_or(2, |(_, s)| *s);
                sizes.push((ImageKind::Target(distro), size.unwrap_or(default)));
            }
            // Every run needs a controller; a warm one has loaded Ansible already.
            let controllers = defaults
                .iter()
                .find(|(name, _)| name == ImageKind::Controller.name())
                .map_or(pool::DEFAULT_CONTROLLERS, |(_, size)| *size);
            sizes.push((ImageKind::Controller, controllers));
            terminal.step("warming targets and controllers");
            pool.up(&sizes, &terminal).await?;
            terminal.finish();
            print_pool_status(&terminal, &pool).await?;
        }
        PoolCommand::Status => print_pool_status(&terminal, &Pool::default_for(engine, &runtime(None))).await?,
        PoolCommand::Refill { kind, image, namespace, runtime: flag } => {
            let kind = ImageKind::all()
                .find(|known| known.name() == kind)
                .ok_or_else(|| Error::Usage(format!("unknown pool kind `{kind}`")))?;
            Pool::named(engine, &runtime(flag), namespace.as_deref()).refill(kind, &image).await?;
        }
        PoolCommand::Down => {
            let removed = Pool::default_for(engine, &runtime(None)).down().await?;
            terminal.print(&format!("pool down: removed {removed} warm target(s) and controller(s)"));
        }
    }
    Ok(ExitStatus::Success)
}

async fn print_pool_status(terminal: &Terminal, pool: &Pool) -> Result<(), Error> {
    let state = if pool.sizes().is_some() { "up" } else { "down" };
    terminal.print(&format!("pool {state}"));
    terminal.print(&format!("{:<14} {:>5} {:>7} {:>6}", "distro", "ready", "warming", "target"));
    for line in pool.status().await? {
        terminal.print(&format!("{:<14} {:>5} {:>7} {:>6}", line.name, line.ready, line.warming, line.target));
    }
    Ok(())
}

pub(crate) async fn doctor(runtime: &str) -> Result<ExitStatus, Error> {
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

pub(crate) async fn images(command: ImagesCommand) -> Result<ExitStatus, Error> {
    let terminal = Terminal::new(false);
    let engine = Engine::connect().await?;
    match command {
        ImagesCommand::List => {
            for kind in ImageKind::all() {
                let status = images::status(&engine, kind).await?;
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
                let tag = images::ensure(&engine, kind, &terminal).await?;
                terminal.print(&format!("{:<32} {tag}", kind.describe()));
            }
            terminal.finish();
        }
    }
    Ok(ExitStatus::Success)
}
