//! `sandbox test`: every challenge's solution must pass and its starter must fail.

use crate::challenge::{self, Challenge};
use crate::cli::TestArgs;
use crate::docker::Engine;
use crate::printer::progress::SuiteProgress;
use crate::printer::terminal::Terminal;
use crate::settings::Settings;
use crate::suite::{self, junit, SuiteOptions, SuiteReporter};
use crate::{Error, ExitStatus};

/// `sandbox test`: validates every challenge first (nothing runs when one is invalid), then
/// runs solutions and starters in parallel.
pub(crate) async fn test(args: TestArgs, settings: &Settings, terminal: &Terminal) -> Result<ExitStatus, Error> {
    let progress = SuiteProgress::new(args.json);
    let runtime = settings.runtime(args.runtime.clone());
    let mut challenges = Vec::new();
    let mut invalid = 0;
    for dir in challenge::discover(&args.dirs) {
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
    let jobs = match args.jobs {
        Some(0) => return Err(Error::Usage("--jobs must be at least 1".into())),
        Some(jobs) => jobs,
        None => suite::default_jobs(),
    };
    let options = SuiteOptions {
        jobs,
        runtime,
        guard: settings.guard,
        color: progress.wants_color(),
        pool: settings.pool.clone(),
    };
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
