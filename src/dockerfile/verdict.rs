//! The Docker track's verdict rules, as pure functions beside their tests: how an attempt's
//! builds and checks become its verdict and its report's passes.

use std::time::Duration;

use crate::challenge::image::ImageCheck;
use crate::dockerfile::Step;
use crate::report::{Apply, BuildReport, ImageReport, PassReport, StepReport, Verdict};

/// How the attempt ended early, if it did.
pub enum Stop {
    Killed(String),
    Timeout,
}

/// A build's line in the report.
pub fn build_report(build: u8, seconds: f64, steps: &[Step], size: Option<u64>) -> BuildReport {
    let steps = steps
        .iter()
        .map(|s| StepReport { number: s.number, instruction: s.instruction.clone(), cached: s.cached })
        .collect();
    BuildReport { build, seconds: (seconds * 10.0).round() / 10.0, steps, size }
}

/// The verdict: the guard's or the clock's word first, then the first failed check.
pub fn judge(image: &ImageReport, stop: Option<Stop>, timeout: Duration, during: &str) -> (Verdict, Option<String>) {
    match stop {
        Some(Stop::Killed(reason)) => return (Verdict::Killed, Some(reason)),
        Some(Stop::Timeout) => {
            let reason = format!("the attempt exceeded its {}s timeout during {during}", timeout.as_secs());
            return (Verdict::Timeout, Some(reason));
        }
        None => {}
    }
    match image.checks.iter().find(|c| !c.passed) {
        // `build 1 step 2 (RUN …) wrote past its 1 GiB write bound`
        Some(check) if check.name == ImageCheck::Build.name() => {
            (Verdict::Failed, Some(format!("build {} {}", check.build.unwrap_or_default(), check.detail)))
        }
        Some(check) => {
            let hint = check.hint.as_ref().map(|h| format!(" (hint: {h})")).unwrap_or_default();
            (
                Verdict::Failed,
                Some(format!("build {}: {}: {}{hint}", check.build.unwrap_or_default(), check.name, check.detail)),
            )
        }
        None if image.builds.len() == 2 => (Verdict::Passed, None),
        None => (Verdict::Error, Some("the attempt ended before its second build".into())),
    }
}

/// A build as a pass of the shared report: the build, what it rebuilt, check.sh's answer.
pub fn pass_report(build: u8, image: &ImageReport, outputs: &[(u8, i64, String)]) -> PassReport {
    let Some(built) = image.builds.iter().find(|b| b.build == build) else { return PassReport::skipped(build) };
    let failed_build = image.checks.iter().find(|c| c.build == Some(build) && c.name == ImageCheck::Build.name());
    let rebuilt: Vec<String> = built
        .steps
        .iter()
        .filter(|s| !s.cached && !s.instruction.starts_with("FROM"))
        .map(|s| s.instruction.clone())
        .collect();
    let output = outputs.iter().find(|(b, _, _)| *b == build);
    PassReport {
        pass: build,
        apply: if failed_build.is_some() { Apply::Failed } else { Apply::Ok },
        apply_error: failed_build.map(|c| c.detail.clone()),
        changed: (build == 2 && failed_build.is_none()).then_some(rebuilt.len() as u32),
        changed_tasks: rebuilt,
        diffs: Vec::new(),
        verify_exit: output.map(|(_, code, _)| *code),
        verify_output: output.map(|(_, _, text)| text.clone()).unwrap_or_default(),
        // The image's checks are the report's `image.checks`, by build.
        checks: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::CheckReport;

    fn image(builds: u8, failed: Option<(&str, &str)>) -> ImageReport {
        let builds =
            (1..=builds).map(|b| BuildReport { build: b, seconds: 1.0, steps: Vec::new(), size: None }).collect();
        let checks = failed
            .map(|(name, detail)| CheckReport {
                build: Some(1),
                name: name.into(),
                passed: false,
                detail: detail.into(),
                hint: Some("look there".into()),
            })
            .into_iter()
            .collect();
        ImageReport { builds, checks }
    }

    #[test]
    fn the_guard_and_the_clock_come_before_the_checks() {
        let failed = image(1, Some(("http", "404")));
        let (verdict, reason) =
            judge(&failed, Some(Stop::Killed("fork bomb guard".into())), Duration::from_secs(9), "x");
        assert_eq!((verdict, reason.as_deref()), (Verdict::Killed, Some("fork bomb guard")));
        let (verdict, reason) = judge(&failed, Some(Stop::Timeout), Duration::from_secs(9), "build 2");
        assert_eq!(verdict, Verdict::Timeout);
        assert_eq!(reason.unwrap(), "the attempt exceeded its 9s timeout during build 2");
    }

    #[test]
    fn the_first_failed_check_is_the_reason_with_its_hint_and_two_clean_builds_pass() {
        let (verdict, reason) = judge(&image(1, Some(("http", "404"))), None, Duration::from_secs(9), "x");
        assert_eq!((verdict, reason.unwrap().as_str()), (Verdict::Failed, "build 1: http: 404 (hint: look there)"));
        assert_eq!(judge(&image(2, None), None, Duration::from_secs(9), "x"), (Verdict::Passed, None));
        assert_eq!(judge(&image(1, None), None, Duration::from_secs(9), "x").0, Verdict::Error);
    }
}
