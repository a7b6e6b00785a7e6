//! `sandbox watch`: the learner's loop without typing. A warm set of its own, an attempt now and
//! one after each save (never two at once), what changed since the last attempt; which file
//! events count as a save is decided here too.

use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::event::{AccessKind, AccessMode, EventKind};

use crate::attempt::Attempt;
use crate::challenge::{Challenge, Track};
use crate::cli::WatchArgs;
use crate::docker::Engine;
use crate::learner::Opened;
use crate::pool::{Location, Pool};
use crate::printer::terminal::Terminal;
use crate::report::changes;
use crate::report::{Reporter, RunReport};
use crate::run::{warm, RunError, RunOptions};
use crate::settings::Settings;
use crate::{Error, ExitStatus};

use super::learner;
use super::run::run_options;

/// `sandbox watch`: a pool of its own for the challenge's platforms, an attempt now and one
/// after each change (never two at once), and everything removed however it ends.
pub(crate) async fn watch(args: WatchArgs, settings: &Settings, terminal: &Terminal) -> Result<ExitStatus, Error> {
    let opened = super::run::open(&args.dir, &args.setup, settings)?;
    let challenge = opened.load(&settings.allowed)?;
    let runtime = settings.runtime(args.setup.runtime.clone());
    let engine = Engine::connect(&settings.engine()?).await?;
    // A pool of its own beside the CLI's (same state directory).
    let location = Location { namespace: format!("watch-{}", std::process::id()), ..settings.pool.clone() };
    let pool = Pool::at(engine.clone(), &runtime, &location);
    let mut options = RunOptions {
        distros: args.scope.distros.clone(),
        timeout: args.scope.timeout,
        detach_teardown: true,
        ..run_options(&args.setup, settings, runtime, terminal, 2)
    };
    // A Docker challenge needs no targets: its builder keeps the layer cache warm instead.
    options.pool = options.pool.filter(|_| challenge.track == Track::Ansible).map(|_| location);
    let result = tokio::select! {
        result = watch_attempts(&engine, &pool, &challenge, &opened, settings, &options, terminal) => result,
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
    opened: &Opened,
    settings: &Settings,
    options: &RunOptions,
    terminal: &Terminal,
) -> Result<ExitStatus, Error> {
    if options.pool.is_some() {
        // One whole attempt kept warm: the next one after a save claims it, and its refill
        // warms the one after while the learner reads and edits.
        terminal.step("warming an attempt of this challenge");
        let recipe = pool.keep_sets(warm::recipe_of(challenge, options), 1).await?;
        super::pool::fill_sets(engine, pool, &recipe, settings, terminal).await?;
        terminal.finish();
    }
    let (sender, mut changes) = tokio::sync::mpsc::unbounded_channel::<PathBuf>();
    let dir = std::fs::canonicalize(&opened.dir).unwrap_or_else(|_| opened.dir.clone());
    let cannot_watch = |err: notify::Error| Error::Usage(format!("cannot watch {}: {err}", dir.display()));
    let mut watcher = notify::recommended_watcher({
        let dir = dir.clone();
        move |event: notify::Result<notify::Event>| {
            let Ok(event) = event.map_err(drop) else { return };
            if !is_write(&event.kind) {
                return;
            }
            for path in event.paths {
                let relative = path.strip_prefix(&dir).unwrap_or(&path).to_path_buf();
                if is_learner_edit(&relative) {
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
        if let Some(report) = watch_attempt(opened, settings, options, terminal).await? {
            terminal.summary(&report);
            learner::record_attempt(opened, &report, settings, terminal);
            if let Some(previous) = &previous {
                terminal.changes(attempt - 1, &changes::changes(previous, &report));
            }
            previous = Some(report);
        }
        // Saves made while the attempt ran start exactly one more, right away.
        let mut changed: Vec<PathBuf> = std::iter::from_fn(|| changes.try_recv().ok()).collect();
        if changed.is_empty() {
            terminal.notice(&format!("watching {} for changes (Ctrl-C to stop)", opened.dir.display()));
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

/// One attempt: the challenge as it is now (a broken challenge.toml is shown and waited
/// out, not the end of the watch), run to its verdict.
async fn watch_attempt(
    opened: &Opened,
    settings: &Settings,
    options: &RunOptions,
    terminal: &Terminal,
) -> Result<Option<RunReport>, Error> {
    let challenge = match opened.load(&settings.allowed) {
        Ok(challenge) => challenge,
        Err(err) => {
            terminal.error(&format!("{:?}", miette::Report::new(err)));
            return Ok(None);
        }
    };
    let attempt = Attempt::new(&challenge, options.clone(), settings, terminal).await;
    let result = match attempt {
        Ok(attempt) => attempt.execute().await,
        Err(err) => Err(err),
    };
    terminal.finish();
    match result {
        Ok(report) => Ok(Some(report)),
        Err(err) if err.interrupted() => Err(RunError::Interrupted.into()),
        Err(err) => {
            terminal.error(&format!("{:?}", miette::Report::new(err)));
            Ok(None)
        }
    }
}

/// Whether a file-system event is a write. Reads count as events too (inotify's OPEN, which
/// notify subscribes to): every run reads the challenge, and must not start the next one.
pub fn is_write(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::Create(_)
            | EventKind::Modify(_)
            | EventKind::Remove(_)
            | EventKind::Access(AccessKind::Close(AccessMode::Write))
    )
}

/// Whether a change to `path` (inside the watched challenge) is the learner's edit. Editors
/// write swap, backup and lock files beside the real one, and save atomically through a temp
/// file renamed over it: the rename's target is the real file and counts; the others do not.
pub fn is_learner_edit(path: &Path) -> bool {
    if path.components().any(|c| matches!(c.as_os_str().to_str(), Some(".git" | "__pycache__"))) {
        return false;
    }
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else { return false };
    let editor_file = name.ends_with('~')
        || name.ends_with(".swp")
        || name.ends_with(".swx")
        || name.ends_with(".swo")
        || name.ends_with(".tmp")
        || name.starts_with(".#")
        || (name.starts_with('#') && name.ends_with('#'))
        // vim probes whether it may write a directory with a file named 4913.
        || name == "4913"
        || name.starts_with(".goutputstream-");
    !editor_file
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_not_writes() {
        use notify::event::{CreateKind, DataChange, ModifyKind, RenameMode};
        assert!(!is_write(&EventKind::Access(AccessKind::Open(AccessMode::Any))));
        assert!(!is_write(&EventKind::Access(AccessKind::Close(AccessMode::Read))));
        assert!(is_write(&EventKind::Access(AccessKind::Close(AccessMode::Write))));
        assert!(is_write(&EventKind::Modify(ModifyKind::Data(DataChange::Content))));
        // An editor's atomic save: the temp file renamed over the real one.
        assert!(is_write(&EventKind::Modify(ModifyKind::Name(RenameMode::To))));
        assert!(is_write(&EventKind::Create(CreateKind::File)));
    }

    #[test]
    fn editor_side_files_are_not_edits() {
        for side in ["playbook.yml~", ".playbook.yml.swp", "4913", ".#playbook.yml", "#playbook.yml#", ".git/index"] {
            assert!(!is_learner_edit(Path::new(side)), "{side}");
        }
        for real in ["playbook.yml", "solution/playbook.yml", "templates/site.conf.j2", "check.sh"] {
            assert!(is_learner_edit(Path::new(real)), "{real}");
        }
    }
}
