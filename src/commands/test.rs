//! `sandbox test`: every challenge's solution must pass and its starter must fail.

use std::path::{Path, PathBuf};

use crate::challenge::{self, Challenge};
use crate::cli::TestArgs;
use crate::docker::Engine;
use crate::printer::progress::SuiteProgress;
use crate::printer::terminal::Terminal;
use crate::report::Reporter;
use crate::settings::Settings;
use crate::suite::select::{self, Durations, Repository, Scheme, Selected, Selection};
use crate::suite::{self, junit, SuiteOptions, SuiteReport, SuiteReporter};
use crate::{Error, ExitStatus};

/// Every challenge under `dirs`, each invalid one's diagnostic printed: an error when any is.
fn load_all(dirs: &[PathBuf], settings: &Settings, terminal: &Terminal) -> Result<Vec<Challenge>, Error> {
    let mut challenges = Vec::new();
    let mut invalid = 0;
    for dir in challenge::discover(dirs) {
        match Challenge::load(&dir, &settings.allowed) {
            Ok(challenge) => challenges.push(challenge),
            Err(err) => {
                invalid += 1;
                terminal.error(&format!("{:?}", miette::Report::new(err)));
            }
        }
    }
    if invalid > 0 {
        return Err(Error::InvalidChallenges { challenges: invalid });
    }
    Ok(challenges)
}

/// `sandbox test`: validates every challenge first (nothing runs when one is invalid), then
/// selects (`--changed-since`, then `--partition`) and runs solutions and starters in parallel.
pub(crate) async fn test(args: TestArgs, settings: &Settings, terminal: &Terminal) -> Result<ExitStatus, Error> {
    let progress = SuiteProgress::new(args.json);
    let runtime = settings.runtime(args.runtime.clone());
    let challenges = load_all(&args.dirs, settings, terminal)?;
    let jobs = match args.jobs {
        Some(0) => return Err(Error::Usage("--jobs must be at least 1".into())),
        Some(jobs) => jobs,
        None => suite::default_jobs(),
    };

    let (challenges, selection) = choose(&args, challenges, progress.general())?;
    if args.list {
        match &selection {
            Some(selection) if args.json => Terminal::json(selection),
            None if args.json => Terminal::json(&everything(&challenges)),
            _ => challenges.iter().for_each(|c| terminal.print(&c.dir.display().to_string())),
        }
        return Ok(ExitStatus::Success);
    }
    if challenges.is_empty() {
        // A shard with nothing to do still leaves its reports, so CI's publishing step finds them.
        progress.general().notice("nothing selected: no challenge to run");
        let report =
            SuiteReport { passed: true, duration_seconds: 0.0, challenges: Vec::new(), selection: selection.clone() };
        return write_reports(&args, &report).map(|()| ExitStatus::Success);
    }

    let options = SuiteOptions {
        jobs,
        runtime,
        guard: settings.guard,
        color: progress.wants_color(),
        pool: settings.pool.clone(),
        builder: settings.builder.clone(),
    };
    let engine = Engine::connect(&settings.engine()?).await?;
    progress.general().notice(&format!(
        "testing {} challenge(s), {jobs} run(s) at a time under {}",
        challenges.len(),
        options.runtime
    ));
    let mut report = suite::run(&engine, &challenges, &options, &progress).await?;
    report.selection = selection;
    progress.summary(&report);
    write_reports(&args, &report)?;
    let infrastructure = report.challenges.iter().any(|c| c.status == suite::Status::Error);
    Ok(match (report.passed, infrastructure) {
        (true, _) => ExitStatus::Success,
        (false, true) => ExitStatus::Infrastructure,
        (false, false) => ExitStatus::Failure,
    })
}

/// `--junit`, `--save-durations` and `--json`.
fn write_reports(args: &TestArgs, report: &SuiteReport) -> Result<(), Error> {
    if let Some(path) = &args.junit {
        std::fs::write(path, junit::render(report))
            .map_err(|err| Error::Usage(format!("cannot write --junit {}: {err}", path.display())))?;
    }
    if let Some(path) = &args.save_durations {
        // Merged into what the file holds: shards writing one file each keep the others'.
        let mut durations =
            std::fs::read_to_string(path).ok().and_then(|text| Durations::parse(&text).ok()).unwrap_or_default();
        durations.merge(Durations::of_report(report));
        std::fs::write(path, durations.to_json())
            .map_err(|err| Error::Usage(format!("cannot write --save-durations {}: {err}", path.display())))?;
    }
    if args.json {
        Terminal::json(report);
    }
    Ok(())
}

/// `--list --json` when no flag narrowed the challenges: the selection's shape, every one selected.
fn everything(challenges: &[Challenge]) -> Selection {
    Selection {
        share: None,
        balance: None,
        estimated_seconds: None,
        changed_since: None,
        discovered: challenges.len(),
        selected: challenges
            .iter()
            .map(|c| Selected { challenge: c.id.clone(), dir: c.dir.display().to_string(), reasons: Vec::new() })
            .collect(),
    }
}

/// The challenges this invocation runs, and, when a flag narrowed them, what and why.
fn choose(
    args: &TestArgs,
    challenges: Vec<Challenge>,
    reporter: &dyn Reporter,
) -> Result<(Vec<Challenge>, Option<Selection>), Error> {
    if args.partition.is_none() && args.changed_since.is_none() {
        return Ok((challenges, None));
    }
    let discovered = challenges.len();
    let mut reasons: Vec<Vec<String>> = vec![Vec::new(); challenges.len()];
    let mut chosen: Vec<usize> = (0..challenges.len()).collect();

    if let Some(reference) = &args.changed_since {
        chosen = changed(args, reference, &challenges, &mut reasons, reporter)?;
    }

    let mut share = None;
    if let Some(partition) = args.partition {
        let durations = match (&args.durations, partition.scheme) {
            (Some(_), Scheme::Hash) => {
                return Err(Error::Usage(format!(
                    "--durations balances K/N shares; {partition} places each challenge by its id alone: drop one"
                )))
            }
            (Some(path), Scheme::Balanced) => read_durations(path, reporter)?,
            (None, _) => None,
        };
        let ids: Vec<&str> = chosen.iter().map(|&i| challenges[i].id.as_str()).collect();
        let picked = select::partition(&ids, partition, durations.as_ref());
        chosen = picked.members.iter().map(|&m| chosen[m]).collect();
        for &i in &chosen {
            reasons[i].push(format!("in share {partition}"));
        }
        share = Some((partition, picked));
    }

    let selection = Selection {
        share: share.as_ref().map(|(p, _)| p.to_string()),
        balance: share.as_ref().map(|(_, s)| s.balance),
        estimated_seconds: share.as_ref().and_then(|(_, s)| s.estimated_seconds),
        changed_since: args.changed_since.clone(),
        discovered,
        selected: chosen
            .iter()
            .map(|&i| Selected {
                challenge: challenges[i].id.clone(),
                dir: challenges[i].dir.display().to_string(),
                reasons: reasons[i].clone(),
            })
            .collect(),
    };
    for selected in &selection.selected {
        reporter.notice(&format!("selected {}: {}", selected.challenge, selected.reasons.join("; ")));
    }
    reporter.notice(&format!("selected {}", selection.describe()));
    let mut keep = vec![false; challenges.len()];
    chosen.iter().for_each(|&i| keep[i] = true);
    let challenges = challenges.into_iter().zip(keep).filter(|(_, k)| *k).map(|(c, _)| c).collect();
    Ok((challenges, Some(selection)))
}

/// `--changed-since`: the positions of the challenges a change since `reference` touches,
/// with why in `reasons`.
fn changed(
    args: &TestArgs,
    reference: &str,
    challenges: &[Challenge],
    reasons: &mut [Vec<String>],
    reporter: &dyn Reporter,
) -> Result<Vec<usize>, Error> {
    let git_error = |err: select::GitError| Error::Usage(err.to_string());
    let start = args.dirs.first().cloned().unwrap_or_else(|| PathBuf::from(challenge::DEFAULT_ROOT));
    let start = if start.is_dir() { start } else { PathBuf::from(".") };
    let repository = Repository::containing(&start).map_err(git_error)?;
    let files = repository.changed_since(reference).map_err(git_error)?;

    let mut shared: Vec<PathBuf> = select::SHARED.iter().map(PathBuf::from).collect();
    for path in &args.shared {
        match repository.relative(path) {
            Some(relative) => shared.push(relative),
            None => reporter.notice(&format!(
                "--shared {} is outside the git work tree {}: ignored",
                path.display(),
                repository.top.display()
            )),
        }
    }
    // A challenge outside the work tree: git cannot say what changed in it, so it runs.
    let dirs: Vec<Option<PathBuf>> = challenges.iter().map(|c| repository.relative(&c.dir)).collect();
    let inside: Vec<usize> = (0..challenges.len()).filter(|&i| dirs[i].is_some()).collect();
    let inside_dirs: Vec<PathBuf> = inside.iter().map(|&i| dirs[i].clone().unwrap_or_default()).collect();
    let attribution = select::attribute(&files, &inside_dirs, &shared);

    if !attribution.ignored.is_empty() {
        reporter.notice(&format!(
            "changed since {reference}, in no challenge and shared by none: {}",
            select::some_paths(&attribution.ignored, 5)
        ));
    }
    let mut chosen = Vec::new();
    for i in 0..challenges.len() {
        let reason = if dirs[i].is_none() {
            Some(format!("outside the git work tree {}: cannot tell what changed", repository.top.display()))
        } else if !attribution.shared.is_empty() {
            Some(format!("shared by every challenge, changed: {}", select::some_paths(&attribution.shared, 3)))
        } else {
            let own = &attribution.per_challenge[inside.iter().position(|&j| j == i).unwrap_or_default()];
            (!own.is_empty()).then(|| format!("changed: {}", select::some_paths(own, 3)))
        };
        if let Some(reason) = reason {
            reasons[i].push(reason);
            chosen.push(i);
        }
    }
    Ok(chosen)
}

/// A durations file; a missing one (a first CI run, an expired cache) balances by count.
fn read_durations(path: &Path, reporter: &dyn Reporter) -> Result<Option<Durations>, Error> {
    match std::fs::read_to_string(path) {
        Ok(text) => Durations::parse(&text)
            .map(Some)
            .map_err(|err| Error::Usage(format!("cannot read --durations {}: {err}", path.display()))),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            reporter.notice(&format!("no durations at {}: shares balanced by count", path.display()));
            Ok(None)
        }
        Err(err) => Err(Error::Usage(format!("cannot read --durations {}: {err}", path.display()))),
    }
}
