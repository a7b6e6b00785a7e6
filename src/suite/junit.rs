//! JUnit XML for `sandbox test --junit`, through quick-junit (nextest's writer): one testsuite
//! per challenge, two testcases per platform ("solution passes", "starter fails"), and for a
//! goss file one testcase per assertion of the solution's last checked pass (the starter's
//! failed assertions, which it is meant to fail, are listed in its testcase's output), in the
//! Ant/Jenkins shape that GitLab's and GitHub's test reporters read. quick-junit escapes
//! markup and drops what XML 1.0 cannot hold (Ansible's ANSI escapes).

use std::time::Duration;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::report::{CheckReport, RunReport};
use crate::suite::{CaseOutcome, CaseResult, ChallengeOutcome, SuiteReport};

pub fn render(report: &SuiteReport) -> String {
    let mut junit = Report::new("sandbox test");
    let mut total = Duration::ZERO;
    for challenge in &report.challenges {
        let mut suite = TestSuite::new(challenge.challenge.as_str());
        for (name, case) in cases_of(challenge) {
            let time = Duration::from_secs_f64(case.seconds.max(0.0));
            total += time;
            let mut testcase = TestCase::new(name.as_str(), status_of(case));
            testcase.set_classname(challenge.challenge.as_str()).set_time(time);
            if let Some(distro) = name.strip_suffix(": starter fails") {
                let failed: Vec<String> = last_checks(challenge.starter.as_ref(), distro)
                    .iter()
                    .filter(|check| !check.passed)
                    .map(|check| format!("FAIL: {}: {}", check.name, check.detail))
                    .collect();
                if !failed.is_empty() {
                    testcase.set_system_out(failed.join("\n"));
                }
            }
            suite.add_test_case(testcase);
        }
        for platform in challenge.solution.iter().flat_map(|run| &run.platforms) {
            for check in last_checks(challenge.solution.as_ref(), &platform.distro) {
                let name = format!("{}: solution: {}", platform.distro, check.name);
                let mut testcase = TestCase::new(name, assertion_status(check));
                testcase.set_classname(challenge.challenge.as_str());
                suite.add_test_case(testcase);
            }
        }
        junit.add_test_suite(suite);
    }
    junit.set_time(total);
    junit.to_string().expect("a report in memory serializes")
}

fn cases_of(challenge: &ChallengeOutcome) -> Vec<(String, &CaseResult)> {
    challenge
        .platforms
        .iter()
        .flat_map(|p| {
            [
                (format!("{}: solution passes", p.distro), &p.solution),
                (format!("{}: starter fails", p.distro), &p.starter),
            ]
        })
        .collect()
}

/// A platform's goss assertions after the last pass that checked them.
fn last_checks<'a>(run: Option<&'a RunReport>, distro: &str) -> &'a [CheckReport] {
    let platform = run.and_then(|run| run.platforms.iter().find(|p| p.distro == distro));
    platform
        .and_then(|p| p.passes.iter().rev().find(|pass| !pass.checks.is_empty()))
        .map_or(&[], |pass| pass.checks.as_slice())
}

fn assertion_status(check: &CheckReport) -> TestCaseStatus {
    if check.passed {
        return TestCaseStatus::success();
    }
    let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
    let hint = check.hint.as_ref().map(|hint| format!(" (hint: {hint})")).unwrap_or_default();
    status.set_message(format!("{}{hint}", check.detail)).set_type("failed");
    status
}

fn status_of(case: &CaseResult) -> TestCaseStatus {
    let mut status = match case.outcome {
        CaseOutcome::Passed => return TestCaseStatus::success(),
        CaseOutcome::Failed => TestCaseStatus::non_success(NonSuccessKind::Failure),
        CaseOutcome::Error => TestCaseStatus::non_success(NonSuccessKind::Error),
        CaseOutcome::Skipped => TestCaseStatus::skipped(),
    };
    if let Some(message) = &case.message {
        status.set_message(message.as_str());
        if case.outcome != CaseOutcome::Skipped {
            status.set_description(message.as_str());
        }
    }
    if matches!(case.outcome, CaseOutcome::Failed | CaseOutcome::Error) {
        status.set_type(if case.outcome == CaseOutcome::Failed { "failed" } else { "error" });
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite::{PlatformCase, Status};

    fn case(outcome: CaseOutcome, message: Option<&str>) -> CaseResult {
        CaseResult { outcome, message: message.map(str::to_string), seconds: 1.5 }
    }

    #[test]
    fn cases_are_counted_and_messages_escaped_without_control_characters() {
        let report = SuiteReport {
            passed: false,
            duration_seconds: 3.0,
            selection: None,
            challenges: vec![ChallengeOutcome {
                challenge: "web".into(),
                title: "Web".into(),
                dir: "challenges/web".into(),
                status: Status::Failed,
                reasons: Vec::new(),
                platforms: vec![PlatformCase {
                    distro: "debian-12".into(),
                    solution: case(CaseOutcome::Failed, Some("a<b> & \"c\" \x1b[0mdone")),
                    starter: case(CaseOutcome::Skipped, Some("no base image")),
                }],
                solution: None,
                starter: None,
            }],
        };
        let xml = render(&report);
        assert!(xml.contains("<testsuites name=\"sandbox test\" tests=\"2\" failures=\"1\" errors=\"0\""), "{xml}");
        assert!(xml.contains("name=\"debian-12: solution passes\""), "{xml}");
        assert!(xml.contains("a&lt;b&gt; &amp; &quot;c&quot;"), "{xml}");
        assert!(!xml.contains('\x1b'), "{xml}");
        assert_eq!(xml.matches("<skipped").count(), 1, "{xml}");
    }
}
