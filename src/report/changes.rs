//! What changed between two attempts' reports, platform by platform (`sandbox watch`).

use super::{PlatformReport, RunReport, Verdict};

/// What one platform's result did since the previous attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformChange {
    pub distro: String,
    /// Before and now, when the verdict changed.
    pub verdict: Option<(Verdict, Verdict)>,
    /// Lines of check.sh's output (its FAIL lines) gone since last time: what now passes.
    pub now_passing: Vec<String>,
    /// Lines that are new: what now fails.
    pub now_failing: Vec<String>,
    /// Pass 2's changed count before and now, when it differs.
    pub pass_two_changed: Option<(Option<u32>, Option<u32>)>,
}

impl PlatformChange {
    pub fn is_empty(&self) -> bool {
        self.verdict.is_none()
            && self.now_passing.is_empty()
            && self.now_failing.is_empty()
            && self.pass_two_changed.is_none()
    }
}

/// Per platform present in both reports, what changed (platforms that changed nothing are left out).
pub fn changes(previous: &RunReport, current: &RunReport) -> Vec<PlatformChange> {
    current
        .platforms
        .iter()
        .filter_map(|now| {
            let before = previous.platforms.iter().find(|p| p.distro == now.distro)?;
            let before_lines = check_lines(before);
            let now_lines = check_lines(now);
            let change = PlatformChange {
                distro: now.distro.clone(),
                verdict: (before.verdict != now.verdict).then_some((before.verdict, now.verdict)),
                now_passing: before_lines.iter().filter(|l| !now_lines.contains(l)).cloned().collect(),
                now_failing: now_lines.iter().filter(|l| !before_lines.contains(l)).cloned().collect(),
                pass_two_changed: {
                    let (was, is) = (pass_two_changed(before), pass_two_changed(now));
                    (was != is).then_some((was, is))
                },
            };
            (!change.is_empty()).then_some(change)
        })
        .collect()
}

/// The check's failure lines after the last pass that ran a check: the requirements not met.
fn check_lines(platform: &PlatformReport) -> Vec<String> {
    let Some(pass) = platform.passes.iter().rev().find(|p| p.verify_exit.is_some()) else { return Vec::new() };
    if pass.verify_exit == Some(0) {
        return Vec::new();
    }
    pass.verify_output.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect()
}

fn pass_two_changed(platform: &PlatformReport) -> Option<u32> {
    platform.passes.get(1).and_then(|p| p.changed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Apply, PassReport};

    fn report(verdict: Verdict, check_output: &str, verify_exit: i64, changed_pass_two: Option<u32>) -> RunReport {
        let pass = |n: u8, changed| PassReport {
            pass: n,
            apply: Apply::Ok,
            apply_error: None,
            changed,
            changed_tasks: vec![],
            diffs: vec![],
            verify_exit: Some(verify_exit),
            verify_output: check_output.into(),
            checks: Vec::new(),
        };
        let mut passes = vec![pass(1, Some(2))];
        if let Some(changed) = changed_pass_two {
            passes.push(pass(2, Some(changed)));
        }
        RunReport {
            challenge: "c".into(),
            playbook: "playbook.yml".into(),
            runtime: "runsc".into(),
            track: crate::challenge::TrackKind::Ansible,
            strategy: Some(crate::challenge::Strategy::Mitogen),
            image: None,
            warm_set: None,
            passed: verdict == Verdict::Passed,
            duration_seconds: 1.0,
            timings: Default::default(),
            platforms: vec![PlatformReport {
                distro: "debian-12".into(),
                verdict,
                reason: None,
                passes,
                notes: vec![],
            }],
        }
    }

    #[test]
    fn a_fixed_requirement_is_now_passing_and_a_broken_one_now_failing() {
        let before = report(Verdict::Failed, "FAIL: nginx not installed\nFAIL: page missing\n", 1, None);
        let after = report(Verdict::Failed, "FAIL: page missing\nFAIL: wrong owner\n", 1, None);
        let change = &changes(&before, &after)[0];
        assert_eq!(change.verdict, None);
        assert_eq!(change.now_passing, ["FAIL: nginx not installed"]);
        assert_eq!(change.now_failing, ["FAIL: wrong owner"]);
    }

    #[test]
    fn a_pass_reports_the_verdict_and_pass_two_changes() {
        let before = report(Verdict::Failed, "", 0, Some(3));
        let after = report(Verdict::Passed, "ok\n", 0, Some(0));
        let change = &changes(&before, &after)[0];
        assert_eq!(change.verdict, Some((Verdict::Failed, Verdict::Passed)));
        assert_eq!(change.pass_two_changed, Some((Some(3), Some(0))));
        assert!(change.now_passing.is_empty() && change.now_failing.is_empty());
    }

    #[test]
    fn the_same_result_twice_changes_nothing() {
        let same = report(Verdict::Failed, "FAIL: x\n", 1, None);
        assert!(changes(&same, &same).is_empty());
    }
}
