//! One platform's way through a run, as a typed state: a platform is decided once, and the
//! first decision wins (a guard's kill beats the "stopped unexpectedly" that follows it).
//! Nothing outside this module can write a verdict; `verdict` holds the rules that pick it.

use crate::distro::Distro;
use crate::report::{Apply, CheckReport, PassReport, PlatformReport, Verdict};

use super::verdict::{self, AppliedPass, Decision};

/// Where a platform is; derived from what it has recorded, so it cannot disagree with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stage<'a> {
    /// Its container is not running yet.
    Pending,
    Started,
    /// Pass N's playbook ran on it; its check has not.
    Applied(u8),
    /// check.sh ran after pass N.
    Checked(u8),
    Decided(&'a Decision),
}

#[derive(Debug, Clone)]
pub struct Platform {
    distro: &'static Distro,
    container: Option<String>,
    passes: Vec<PassReport>,
    notes: Vec<String>,
    decision: Option<Decision>,
}

impl Platform {
    pub fn new(distro: &'static Distro) -> Platform {
        Platform { distro, container: None, passes: Vec::new(), notes: Vec::new(), decision: None }
    }

    pub fn distro(&self) -> &'static Distro {
        self.distro
    }

    pub fn container(&self) -> Option<&str> {
        self.container.as_deref()
    }

    pub fn stage(&self) -> Stage<'_> {
        if let Some(decision) = &self.decision {
            return Stage::Decided(decision);
        }
        match (&self.container, self.passes.last()) {
            (None, _) => Stage::Pending,
            (Some(_), None) => Stage::Started,
            (Some(_), Some(last)) if last.verify_exit.is_some() => Stage::Checked(last.pass),
            (Some(_), Some(last)) => Stage::Applied(last.pass),
        }
    }

    pub fn is_decided(&self) -> bool {
        self.decision.is_some()
    }

    /// Decides the platform unless it already is; returns whether this decision took.
    pub fn decide(&mut self, decision: Decision) -> bool {
        if self.decision.is_some() {
            return false;
        }
        self.decision = Some(decision);
        true
    }

    pub fn started(&mut self, container: &str) {
        self.container = Some(container.to_string());
    }

    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    /// Records a pass's apply; its judgement may decide the platform (a kill, a failed pass 2).
    pub fn applied(&mut self, applied: AppliedPass) {
        self.passes.push(applied.report);
        self.notes.extend(applied.note);
        if let Some(decision) = applied.decision {
            self.decide(decision);
        }
    }

    /// Records check.sh's result for the pass last applied.
    pub fn checked(&mut self, exit_code: i64, output: &str, checks: Vec<CheckReport>) {
        if let Some(report) = self.passes.last_mut() {
            report.verify_exit = Some(exit_code);
            report.verify_output = output.to_string();
            report.checks = checks;
        }
    }

    /// Whether pass `pass` should run here: undecided, and for pass 2 a clean pass 1.
    pub fn in_play(&self, pass: u8) -> bool {
        !self.is_decided()
            && (pass == 1
                || self.passes.first().is_some_and(|first| first.apply == Apply::Ok && first.verify_exit == Some(0)))
    }

    /// Whether check.sh is due after pass `pass`.
    pub fn awaits_check(&self, pass: u8) -> bool {
        self.stage() == Stage::Applied(pass)
    }

    /// After the passes: the rules decide whatever nothing else did.
    pub fn conclude(&mut self, idempotent_required: bool, planned_passes: u8) {
        let decision = verdict::after_passes(&self.passes, idempotent_required, planned_passes);
        self.decide(decision);
    }

    pub fn report(&self) -> PlatformReport {
        let decision = self.decision.clone().unwrap_or_else(|| Decision::new(Verdict::Error, "did not finish"));
        PlatformReport {
            distro: self.distro.name.to_string(),
            verdict: decision.verdict,
            reason: (decision.verdict != Verdict::Passed).then_some(decision.reason),
            passes: self.passes.clone(),
            notes: self.notes.clone(),
        }
    }
}

/// Every platform of a run.
#[derive(Debug, Clone)]
pub struct Platforms(Vec<Platform>);

impl Platforms {
    pub fn new(distros: &[&'static Distro]) -> Platforms {
        Platforms(distros.iter().copied().map(Platform::new).collect())
    }

    pub fn iter(&self) -> impl Iterator<Item = &Platform> {
        self.0.iter()
    }

    pub fn distros(&self) -> Vec<&'static Distro> {
        self.0.iter().map(|p| p.distro).collect()
    }

    /// The platform of `distro` (every platform of a run has its own distro).
    pub fn of(&mut self, distro: &Distro) -> &mut Platform {
        self.0.iter_mut().find(|p| p.distro.name == distro.name).expect("every distro of the run has a platform")
    }

    /// Decides every undecided platform (the timeout, the controller's death).
    pub fn decide_all(&mut self, decision: &Decision) {
        for platform in &mut self.0 {
            platform.decide(decision.clone());
        }
    }

    /// Decides the platform whose container is `container`.
    pub fn decide_container(&mut self, container: &str, decision: Decision) {
        if let Some(platform) = self.0.iter_mut().find(|p| p.container() == Some(container)) {
            platform.decide(decision);
        }
    }

    /// Only the hosts the SSH wait reported are in error; every other one goes on.
    pub fn unreachable(&mut self, hosts: &[(&'static Distro, &str)], unreachable: &[&str]) {
        for (distro, address) in hosts.iter().filter(|(_, address)| unreachable.contains(address)) {
            let reason = format!("target unreachable over SSH: {address} did not answer within 20 s");
            self.of(distro).decide(Decision::new(Verdict::Error, reason));
        }
    }

    pub fn all_skipped(&self) -> bool {
        self.0.iter().all(|p| matches!(p.stage(), Stage::Decided(d) if d.verdict == Verdict::Skipped))
    }

    pub fn in_play(&self, pass: u8) -> Vec<&'static Distro> {
        self.0.iter().filter(|p| p.in_play(pass)).map(|p| p.distro).collect()
    }

    /// (distro, container) of the platforms whose check is due after pass `pass`.
    pub fn awaiting_check(&self, pass: u8) -> Vec<(&'static Distro, String)> {
        self.0
            .iter()
            .filter(|p| p.awaits_check(pass))
            .filter_map(|p| p.container.clone().map(|id| (p.distro, id)))
            .collect()
    }

    /// (distro, container) of the given distros' started platforms.
    pub fn containers_of(&self, distros: &[&'static Distro]) -> Vec<(&'static Distro, String)> {
        self.0
            .iter()
            .filter(|p| distros.contains(&p.distro))
            .filter_map(|p| p.container.clone().map(|id| (p.distro, id)))
            .collect()
    }

    pub fn conclude(&mut self, idempotent_required: bool, planned_passes: u8) {
        for platform in &mut self.0 {
            platform.conclude(idempotent_required, planned_passes);
        }
    }

    pub fn reports(&self) -> Vec<PlatformReport> {
        self.0.iter().map(Platform::report).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distro::builtin as find;
    use crate::run::recap::PlaybookLog;
    use crate::run::verdict::{judge_apply, PlaybookEnd};

    fn two() -> (Platforms, &'static Distro, &'static Distro) {
        let (a, b) = (find("debian-12").unwrap(), find("debian-11").unwrap());
        let mut platforms = Platforms::new(&[a, b]);
        platforms.of(a).started("a");
        platforms.of(b).started("b");
        (platforms, a, b)
    }

    fn log(lines: &[&str]) -> PlaybookLog {
        let mut log = PlaybookLog::default();
        for line in lines {
            log.push(line);
        }
        log
    }

    const CLEAN: [&str; 3] = [
        "PLAY RECAP *********************************************************************",
        "debian-12                  : ok=2    changed=0    unreachable=0    failed=0    skipped=0    rescued=0    ignored=0",
        "debian-11                  : ok=2    changed=0    unreachable=0    failed=0    skipped=0    rescued=0    ignored=0",
    ];

    #[test]
    fn the_first_decision_wins() {
        let (mut platforms, a, _) = two();
        assert!(platforms.of(a).decide(Decision::new(Verdict::Killed, "fork bomb guard")));
        assert!(!platforms.of(a).decide(Decision::new(Verdict::Failed, "stopped unexpectedly")));
        platforms.conclude(true, 2);
        assert_eq!(platforms.of(a).report().reason.as_deref(), Some("fork bomb guard"));
    }

    #[test]
    fn one_unreachable_target_leaves_the_other_its_own_verdict() {
        let (mut platforms, a, b) = two();
        let hosts = [(a, "10.0.0.2"), (b, "10.0.0.3")];
        let unreachable = crate::run::scripts::unreachable_hosts("10.0.0.3 did not accept SSH within 20 s\n");
        platforms.unreachable(&hosts, &unreachable);
        assert_eq!(platforms.in_play(1), [a]);
        let decided = platforms.of(b).report();
        assert_eq!(decided.verdict, Verdict::Error);
        assert_eq!(decided.reason.as_deref(), Some("target unreachable over SSH: 10.0.0.3 did not answer within 20 s"));

        for pass in 1..=2 {
            let applied = judge_apply(pass, a.name, &log(&CLEAN), PlaybookEnd::Exited(0), None);
            platforms.of(a).applied(applied);
            assert_eq!(platforms.awaiting_check(pass), [(a, "a".to_string())]);
            platforms.of(a).checked(0, "", Vec::new());
        }
        platforms.conclude(true, 2);
        assert_eq!(platforms.of(a).report().verdict, Verdict::Passed);
        assert_eq!(platforms.of(b).report().verdict, Verdict::Error);
    }

    #[test]
    fn stages_follow_what_was_recorded() {
        let a = find("debian-12").unwrap();
        let mut platform = Platform::new(a);
        assert_eq!(platform.stage(), Stage::Pending);
        platform.started("id");
        assert_eq!(platform.stage(), Stage::Started);
        platform.applied(judge_apply(1, a.name, &log(&CLEAN), PlaybookEnd::Exited(0), None));
        assert_eq!(platform.stage(), Stage::Applied(1));
        platform.checked(0, "ok", Vec::new());
        assert_eq!(platform.stage(), Stage::Checked(1));
        assert!(platform.in_play(2));
        platform.decide(Decision::new(Verdict::Timeout, "run exceeded its 1s timeout"));
        assert!(matches!(platform.stage(), Stage::Decided(d) if d.verdict == Verdict::Timeout));
        assert!(!platform.in_play(2));
    }

    #[test]
    fn a_failed_pass_one_is_still_checked_then_not_played_again() {
        let a = find("debian-12").unwrap();
        let mut platform = Platform::new(a);
        platform.started("id");
        let failed = [
            "fatal: [debian-12]: FAILED! => {\"changed\": false, \"msg\": \"boom\"}",
            "PLAY RECAP ***",
            "debian-12                  : ok=1    changed=0    unreachable=0    failed=1    skipped=0    rescued=0    ignored=0",
        ];
        platform.applied(judge_apply(1, a.name, &log(&failed), PlaybookEnd::Exited(2), None));
        assert!(!platform.is_decided(), "pass 1's check still runs after a failed apply");
        assert!(platform.awaits_check(1));
        platform.checked(1, "missing", Vec::new());
        assert!(!platform.in_play(2));
        platform.conclude(true, 2);
        let report = platform.report();
        assert_eq!(report.verdict, Verdict::Failed);
        assert!(report.reason.unwrap().starts_with("pass 1: "));
    }

    #[test]
    fn the_timeout_decides_only_the_undecided() {
        let (mut platforms, a, b) = two();
        platforms.decide_container("a", Decision::new(Verdict::Killed, "fork bomb guard"));
        platforms.decide_all(&Decision::new(Verdict::Timeout, "run exceeded its 5s timeout during pass 1"));
        assert_eq!(platforms.of(a).report().verdict, Verdict::Killed);
        assert_eq!(platforms.of(b).report().verdict, Verdict::Timeout);
    }

    #[test]
    fn every_platform_skipped_is_said_and_one_left_is_not() {
        let (mut platforms, a, b) = two();
        platforms.of(a).decide(Decision::new(Verdict::Skipped, "skipped: no base image"));
        assert!(!platforms.all_skipped());
        platforms.of(b).decide(Decision::new(Verdict::Skipped, "skipped: no base image"));
        assert!(platforms.all_skipped());
    }
}
