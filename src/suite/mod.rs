//! `sandbox test`: every challenge's reference solution must pass on each platform it can
//! run on, and its starter must fail there (a starter that already passes asks nothing of the
//! learner: the challenge is broken). Runs go in parallel up to `jobs`.

pub mod junit;
pub mod select;

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use futures_util::StreamExt;
use serde::Serialize;

use crate::attempt::{Attempt, AttemptError};
use crate::challenge::{Challenge, Track};
use crate::distro::Distro;
use crate::docker::Engine;
use crate::images::packages;
use crate::images::{self, ImageKind};
use crate::isolation::guard::GuardSettings;
use crate::pool::Location;
use crate::report::{PlatformReport, Reporter, RunReport, Verdict};
use crate::run::{PlaybookChoice, RunError, RunOptions};

/// Receives the suite's progress; each run gets its own `Job` reporter.
pub trait SuiteReporter: Send + Sync {
    type Job: Reporter;
    /// A run starts (`label` names the challenge and the playbook).
    fn job_started(&self, label: &str) -> Self::Job;
    /// A run ended: its report, or why it could not run; `unexpected` when a solution did
    /// not pass or a starter did.
    fn job_finished(&self, job: Self::Job, label: &str, result: &Result<RunReport, String>, unexpected: bool);
    /// Suite-level steps (image preparation) and notices go here.
    fn general(&self) -> &dyn Reporter;
}

/// Where a suite's runs happen: the boundary a second engine plugs in at. Everything above
/// it (discovery, selection, the solution/starter rules in `judge`, JUnit, JSON) is
/// engine-neutral; below it, `Engine` (Docker, through `run::Run`) is today's only
/// implementation. A cluster backend (pods under a gVisor RuntimeClass, docs/cluster.md)
/// would implement the same two calls and return the same `RunReport`.
pub trait Backend: Sync {
    /// Once, before runs start in parallel: whatever every run needs (images).
    fn prepare<'a>(
        &'a self,
        challenges: &'a [Challenge],
        reporter: &'a dyn Reporter,
    ) -> impl Future<Output = Result<(), RunError>> + 'a;

    /// One run of `playbook` (two passes, the checks) on each platform of `challenge`.
    fn run<'a>(
        &'a self,
        challenge: &'a Challenge,
        playbook: PlaybookChoice,
        options: &'a SuiteOptions,
        reporter: &'a dyn Reporter,
    ) -> impl Future<Output = Result<RunReport, AttemptError>> + 'a;
}

/// Docker: prepared images on the engine, each run a `run::Run` of its containers.
impl Backend for Engine {
    fn prepare<'a>(
        &'a self,
        challenges: &'a [Challenge],
        reporter: &'a dyn Reporter,
    ) -> impl Future<Output = Result<(), RunError>> + 'a {
        prepare_images(self, challenges, reporter)
    }

    fn run<'a>(
        &'a self,
        challenge: &'a Challenge,
        playbook: PlaybookChoice,
        options: &'a SuiteOptions,
        reporter: &'a dyn Reporter,
    ) -> impl Future<Output = Result<RunReport, AttemptError>> + 'a {
        run_one(self, challenge, playbook, options, reporter)
    }
}

#[derive(Debug, Clone)]
pub struct SuiteOptions {
    pub jobs: usize,
    pub runtime: String,
    pub guard: GuardSettings,
    pub color: bool,
    /// The warm pool runs take targets from when it is up.
    pub pool: Location,
    /// The Docker track's builder socket.
    pub builder: String,
}

/// How one challenge came out; ordered from best to worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The solution passed everywhere it ran, the starter failed there.
    Passed,
    /// The starter passed somewhere: there is nothing to solve.
    Broken,
    /// The solution failed somewhere.
    Failed,
    /// The sandbox could not run it (engine, image).
    Error,
}

/// One platform's two checks, as JUnit testcases show them.
#[derive(Debug, Clone, Serialize)]
pub struct PlatformCase {
    pub distro: String,
    /// `passed`, `failed` or `skipped` for "the solution passes here".
    pub solution: CaseResult,
    /// `passed`, `failed` or `skipped` for "the starter fails here".
    pub starter: CaseResult,
}

#[derive(Debug, Clone, Serialize)]
pub struct CaseResult {
    pub outcome: CaseOutcome,
    pub message: Option<String>,
    pub seconds: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CaseOutcome {
    Passed,
    Failed,
    Error,
    Skipped,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChallengeOutcome {
    pub challenge: String,
    pub title: String,
    pub dir: String,
    pub status: Status,
    /// One line per problem found, naming the platform.
    pub reasons: Vec<String>,
    pub platforms: Vec<PlatformCase>,
    pub solution: Option<RunReport>,
    pub starter: Option<RunReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SuiteReport {
    pub passed: bool,
    pub duration_seconds: f64,
    pub challenges: Vec<ChallengeOutcome>,
    /// Which challenges ran and why, when `--partition` or `--changed-since` chose them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selection: Option<select::Selection>,
}

/// Runs at a time when `--jobs` is not given: a run holds the controller (1-2 CPUs while
/// Ansible works) and its targets (~1.5 GiB together at the default limits), so one per core,
/// and no more than memory holds.
pub fn default_jobs() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let memory_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(4, |kib| kib / (1024 * 1024));
    cores.min((memory_gib / 2) as usize).clamp(1, 8)
}

/// Runs every challenge's solution and starter. Returns `Interrupted` on Ctrl-C (each run
/// has removed what it created by then). Long because scheduling, Ctrl-C and the reporter's
/// job lines are one stream of jobs.
pub async fn run<B: Backend, R: SuiteReporter>(
    backend: &B,
    challenges: &[Challenge],
    options: &SuiteOptions,
    reporter: &R,
) -> Result<SuiteReport, RunError> {
    let started = Instant::now();
    backend.prepare(challenges, reporter.general()).await?;

    // Every solution before any starter: solutions do the real work and take several times
    // longer (measured: 35-180 s against 11-63 s), so the last jobs to finish are short ones
    // and `--jobs` runs stay busy until the end.
    let jobs: Vec<(usize, PlaybookChoice)> = (0..challenges.len())
        .map(|index| (index, PlaybookChoice::Solution))
        .chain((0..challenges.len()).map(|index| (index, PlaybookChoice::Starter)))
        .collect();
    let interrupted = AtomicBool::new(false);
    let results: Vec<(usize, PlaybookChoice, Result<RunReport, String>)> = futures_util::stream::iter(jobs)
        .map(|(index, playbook)| {
            let interrupted = &interrupted;
            async move {
                let challenge = &challenges[index];
                let label = format!("{} {}", challenge.id, kind(&playbook));
                if interrupted.load(Ordering::SeqCst) {
                    return (index, playbook, Err("interrupted".to_string()));
                }
                let job = reporter.job_started(&label);
                let result = backend.run(challenge, playbook.clone(), options, &job).await;
                if result.as_ref().is_err_and(AttemptError::interrupted) {
                    interrupted.store(true, Ordering::SeqCst);
                }
                let result = result.map_err(|err| one_line(&err));
                let unexpected = match (&playbook, &result) {
                    (_, Err(_)) => true,
                    (PlaybookChoice::Solution, Ok(report)) => !report.passed,
                    (_, Ok(report)) => report.platforms.iter().any(|p| p.verdict == Verdict::Passed),
                };
                reporter.job_finished(job, &label, &result, unexpected);
                (index, playbook, result)
            }
        })
        .buffer_unordered(options.jobs.max(1))
        .collect()
        .await;
    if interrupted.load(Ordering::SeqCst) {
        return Err(RunError::Interrupted);
    }

    let mut outcomes = Vec::new();
    for (index, challenge) in challenges.iter().enumerate() {
        let find = |wanted: PlaybookChoice| {
            results.iter().find(|(i, p, _)| *i == index && *p == wanted).map(|(_, _, r)| r.clone())
        };
        let solution = find(PlaybookChoice::Solution).unwrap_or_else(|| Err("did not run".into()));
        let starter = find(PlaybookChoice::Starter).unwrap_or_else(|| Err("did not run".into()));
        outcomes.push(judge(challenge, solution, starter));
    }
    Ok(SuiteReport {
        passed: outcomes.iter().all(|o| o.status == Status::Passed),
        duration_seconds: (started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
        challenges: outcomes,
        selection: None,
    })
}

fn kind(playbook: &PlaybookChoice) -> &'static str {
    match playbook {
        PlaybookChoice::Solution => "solution",
        _ => "starter",
    }
}

/// Builds every image the suite needs once, before runs start in parallel: two runs of the
/// same distro would otherwise build the same image twice at once.
async fn prepare_images(engine: &Engine, challenges: &[Challenge], reporter: &dyn Reporter) -> Result<(), RunError> {
    let mut targets: Vec<(&'static Distro, String)> = Vec::new();
    let ansible = || challenges.iter().filter(|c| c.track == Track::Ansible);
    if ansible().next().is_none() {
        return Ok(());
    }
    for distro in ansible().flat_map(|c| c.distros.iter().copied()) {
        // A distro without a base image here is skipped by each run, which says so.
        if targets.iter().any(|(d, _)| *d == distro) || engine.image_id(distro.base_image).await?.is_none() {
            continue;
        }
        targets.push((distro, images::ensure(engine, ImageKind::Target(distro), reporter).await?));
    }
    for challenge in challenges {
        for (distro, tag) in targets.iter().filter(|(d, _)| challenge.distros.contains(d)) {
            let packages = challenge.prepare.packages_for(distro.family);
            if !packages.is_empty() {
                packages::ensure(engine, distro, tag, packages, reporter).await?;
            }
        }
    }
    images::ensure(engine, ImageKind::Controller, reporter).await?;
    Ok(())
}

/// A run's error on one line for the suite's table and JSON: what failed, why (each source
/// in turn), and the diagnostic's help, so a suite keeps what `sandbox run` would have said.
fn one_line(err: &AttemptError) -> String {
    use miette::Diagnostic;
    let mut line = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        line.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    if let Some(help) = err.help() {
        line.push_str(&format!(" (help: {help})"));
    }
    line
}

async fn run_one(
    engine: &Engine,
    challenge: &Challenge,
    playbook: PlaybookChoice,
    options: &SuiteOptions,
    reporter: &dyn Reporter,
) -> Result<RunReport, AttemptError> {
    let run_options = RunOptions {
        playbook,
        distros: Vec::new(),
        runtime: options.runtime.clone(),
        timeout: None,
        color: options.color,
        show_inventory: false,
        guard: options.guard,
        passes: 2,
        services: None,
        strategy: None,
        offline: false,
        pool: Some(options.pool.clone()),
        verbosity: 0,
        diff: false,
        // A suite's runs follow each other on a few cores: each removes its own before the next.
        detach_teardown: false,
    };
    let attempt = Attempt::with_engine(challenge, run_options, Some(engine.clone()), &options.builder, reporter);
    attempt.await?.execute().await
}

/// The rules: the solution passes on every platform that ran, the starter fails on each.
pub fn judge(
    challenge: &Challenge,
    solution: Result<RunReport, String>,
    starter: Result<RunReport, String>,
) -> ChallengeOutcome {
    let mut reasons = Vec::new();
    let mut status = Status::Passed;
    if let Err(err) = &solution {
        reasons.push(format!("solution could not run: {err}"));
        status = status.max(Status::Error);
    }
    if let Err(err) = &starter {
        reasons.push(format!("starter could not run: {err}"));
        status = status.max(Status::Error);
    }

    let mut platforms = Vec::new();
    // A Docker challenge's one platform is its image; its distros are the bases it may use.
    let names: Vec<&str> = match challenge.track {
        Track::Ansible => challenge.distros.iter().map(|d| d.name).collect(),
        Track::Docker(_) => vec!["image"],
    };
    for name in names {
        let platform_of = |report: &Result<RunReport, String>| {
            report.as_ref().ok().map(|r| {
                let seconds = r.duration_seconds / r.platforms.len().max(1) as f64;
                r.platforms.iter().find(|p| p.distro == name).map(|p| (p.clone(), seconds))
            })
        };
        let (solution_case, solution_problem) = case_of(&PlaybookChoice::Solution, name, platform_of(&solution));
        let (starter_case, starter_problem) = case_of(&PlaybookChoice::Starter, name, platform_of(&starter));
        for (raised, reason) in [solution_problem, starter_problem].into_iter().flatten() {
            reasons.push(reason);
            status = status.max(raised);
        }
        platforms.push(PlatformCase { distro: name.to_string(), solution: solution_case, starter: starter_case });
    }
    if status == Status::Passed && platforms.iter().all(|p| p.solution.outcome == CaseOutcome::Skipped) {
        reasons.push("no platform of this challenge can run here".into());
        status = status.max(Status::Error);
    }
    ChallengeOutcome {
        challenge: challenge.id.clone(),
        title: challenge.title.clone(),
        dir: challenge.dir.display().to_string(),
        status,
        reasons,
        platforms,
        solution: solution.ok(),
        starter: starter.ok(),
    }
}

/// The case of the solution's or the starter's run on one platform (`ran`: None when the
/// run itself failed, already a reason; else its report there, if any, and its share of the
/// run's time) and, when the case is a problem for the challenge, the status it raises with why.
fn case_of(
    playbook: &PlaybookChoice,
    distro: &str,
    ran: Option<Option<(PlatformReport, f64)>>,
) -> (CaseResult, Option<(Status, String)>) {
    let case = |outcome, message, seconds| CaseResult { outcome, message, seconds };
    let Some(ran) = ran else {
        return (case(CaseOutcome::Error, Some("did not run".into()), 0.0), None);
    };
    let Some((platform, seconds)) = ran else {
        // A report without this platform: the run never got to it, which proves nothing.
        let problem = (Status::Error, format!("{distro}: {} did not run here", kind(playbook)));
        return (case(CaseOutcome::Error, Some("did not run".into()), 0.0), Some(problem));
    };
    let reason = platform.reason.clone().unwrap_or_default();
    let which = kind(playbook);
    let solution = matches!(playbook, PlaybookChoice::Solution);
    match (solution, platform.verdict) {
        (_, Verdict::Skipped) => (case(CaseOutcome::Skipped, platform.reason, seconds), None),
        (_, Verdict::Error) => {
            let problem = (Status::Error, format!("{distro}: {which} could not run: {reason}"));
            (case(CaseOutcome::Error, Some(reason), seconds), Some(problem))
        }
        (true, Verdict::Passed) => (case(CaseOutcome::Passed, None, seconds), None),
        (true, verdict) => {
            let problem = (Status::Failed, format!("{distro}: solution {}: {reason}", verdict.as_str()));
            (case(CaseOutcome::Failed, Some(reason), seconds), Some(problem))
        }
        (false, Verdict::Passed) => {
            let reason = "the starter already passes: there is nothing to solve".to_string();
            let problem = (Status::Broken, format!("{distro}: {reason}"));
            (case(CaseOutcome::Failed, Some(reason), seconds), Some(problem))
        }
        // Failed, killed or timed out: the learner has work to do.
        (false, _) => (case(CaseOutcome::Passed, platform.reason, seconds), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::challenge::Allowed;

    fn challenge() -> (tempfile::TempDir, Challenge) {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("c");
        crate::challenge::scaffold::create(
            &dir,
            &["debian-12".into(), "ubuntu-22.04".into()],
            &crate::distro::Catalog::builtin(),
            false,
            false,
        )
        .unwrap();
        let challenge = Challenge::load(&dir, &Allowed::default()).unwrap();
        (root, challenge)
    }

    fn report(verdicts: &[(&str, Verdict)]) -> Result<RunReport, String> {
        Ok(RunReport {
            challenge: "c".into(),
            playbook: "p".into(),
            runtime: "runsc".into(),
            track: crate::challenge::TrackKind::Ansible,
            strategy: Some(crate::challenge::Strategy::Mitogen),
            image: None,
            warm_set: None,
            passed: false,
            duration_seconds: 10.0,
            timings: Default::default(),
            platforms: verdicts
                .iter()
                .map(|(distro, verdict)| PlatformReport {
                    distro: distro.to_string(),
                    verdict: *verdict,
                    reason: (*verdict != Verdict::Passed).then(|| format!("{distro} said no")),
                    passes: vec![],
                    notes: vec![],
                })
                .collect(),
        })
    }

    #[test]
    fn a_run_error_keeps_its_cause_and_help_on_one_line() {
        let err = RunError::RuntimeMissing { runtime: "kata".into(), registered: "runc, runsc".into() };
        let line = one_line(&AttemptError::Run(err));
        assert!(line.starts_with("runtime `kata` is not registered"), "{line}");
        assert!(line.contains("(help: run `sudo scripts/setup.sh`"), "{line}");
        assert!(line.contains("registered runtimes: runc, runsc"), "{line}");
    }

    #[test]
    fn solution_passes_and_starter_fails_is_a_pass_and_skips_stay_skips() {
        let (_root, c) = challenge();
        let solution = report(&[("debian-12", Verdict::Passed), ("ubuntu-22.04", Verdict::Skipped)]);
        let starter = report(&[("debian-12", Verdict::Failed), ("ubuntu-22.04", Verdict::Skipped)]);
        let outcome = judge(&c, solution, starter);
        assert_eq!(outcome.status, Status::Passed, "{:?}", outcome.reasons);
        assert_eq!(outcome.platforms[1].solution.outcome, CaseOutcome::Skipped);
        assert_eq!(outcome.platforms[0].starter.outcome, CaseOutcome::Passed);
    }

    #[test]
    fn a_starter_that_passes_is_broken() {
        let (_root, c) = challenge();
        let solution = report(&[("debian-12", Verdict::Passed), ("ubuntu-22.04", Verdict::Skipped)]);
        let starter = report(&[("debian-12", Verdict::Passed), ("ubuntu-22.04", Verdict::Skipped)]);
        let outcome = judge(&c, solution, starter);
        assert_eq!(outcome.status, Status::Broken);
        assert!(outcome.reasons[0].starts_with("debian-12: the starter already passes"), "{:?}", outcome.reasons);
    }

    #[test]
    fn a_failing_solution_names_platform_and_reason() {
        let (_root, c) = challenge();
        let solution = report(&[("debian-12", Verdict::Failed), ("ubuntu-22.04", Verdict::Skipped)]);
        let starter = report(&[("debian-12", Verdict::Failed), ("ubuntu-22.04", Verdict::Skipped)]);
        let outcome = judge(&c, solution, starter);
        assert_eq!(outcome.status, Status::Failed);
        assert_eq!(outcome.reasons, vec!["debian-12: solution failed: debian-12 said no".to_string()]);
    }

    #[test]
    fn nothing_runnable_is_an_error_not_a_pass() {
        let (_root, c) = challenge();
        let all_skipped = || report(&[("debian-12", Verdict::Skipped), ("ubuntu-22.04", Verdict::Skipped)]);
        assert_eq!(judge(&c, all_skipped(), all_skipped()).status, Status::Error);
    }
}
