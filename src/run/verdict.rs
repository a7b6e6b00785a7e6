//! The rules that turn what happened into a verdict: a pass's apply on a host, the two passes
//! together, and why a container died. Pure functions, so every rule is tested without Docker.

use crate::challenge::Limits;
use crate::docker::ContainerState;
use crate::isolation::WriteBound;
use crate::report::{Apply, PassReport, TaskDiff, Verdict};

use super::recap::PlaybookLog;

/// A verdict and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub verdict: Verdict,
    pub reason: String,
}

impl Decision {
    pub fn new(verdict: Verdict, reason: impl Into<String>) -> Decision {
        Decision { verdict, reason: reason.into() }
    }
}

/// Where a resource ran out, as a reason names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place<'a> {
    Target(&'a str),
    Controller,
}

impl std::fmt::Display for Place<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Place::Target(distro) => write!(f, "target {distro}"),
            Place::Controller => f.write_str("the controller"),
        }
    }
}

/// Why a container is no longer running, naming the resource, its limit and where.
pub fn death_reason(state: &ContainerState, limits: &Limits, place: Place, writes: WriteBound) -> String {
    let limit = limits.memory_bytes / (1024 * 1024);
    let mut bound = format!("limit {limit} MiB");
    if writes == WriteBound::Memory {
        // Under gVisor's memory overlay a learner's big file is what fills this limit.
        bound.push_str("; files written outside /tmp count against it");
    }
    if place == Place::Controller {
        bound.push_str("; lookups and `delegate_to: localhost` run there");
    }
    let more = more_memory(limits);
    if state.oom_killed {
        format!("out of memory in {place} ({bound}): {more}")
    } else if state.exit_code == 137 {
        // The guard records its own reason before it kills, so a SIGKILL without one came from
        // the host's OOM killer: the runsc shim does not always report it as OOMKilled.
        format!("out of memory in {place}, most likely: killed by SIGKILL ({bound}): {more}")
    } else {
        format!("{place} stopped unexpectedly (exit code {})", state.exit_code)
    }
}

/// What to change: twice the limit (in whole GiB from 1 GiB up), within the ceiling.
fn more_memory(limits: &Limits) -> String {
    const MIB: u64 = 1024 * 1024;
    let ceiling = limits.memory_ceiling_bytes / MIB;
    let wanted = (limits.memory_bytes / MIB * 2).min(ceiling);
    if wanted <= limits.memory_bytes / MIB {
        return format!(
            "the challenge has the most this host allows ({ceiling} MiB); the operator can raise [ceilings] memory in sandbox's config"
        );
    }
    let value = if wanted >= 1024 && wanted.is_multiple_of(1024) {
        format!("{}g", wanted / 1024)
    } else {
        format!("{wanted}m")
    };
    format!("give the challenge more with [limits] memory = \"{value}\" in challenge.toml (the ceiling here is {ceiling} MiB)")
}

/// How one `ansible-playbook` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaybookEnd {
    Exited(i64),
    /// The controller stopped under it (out of memory, killed): no exit code exists.
    ControllerStopped,
}

/// What one pass's apply on one host amounts to.
#[derive(Debug, Clone)]
pub struct AppliedPass {
    pub report: PassReport,
    /// Said when no task ran on the host.
    pub note: Option<String>,
    /// Set when the apply alone decides the platform.
    pub decision: Option<Decision>,
}

/// Judges pass `pass`'s apply on `host` from Ansible's output and how it ended; `killed` is
/// why its container (or the controller) died during the pass, if it did.
pub fn judge_apply(pass: u8, host: &str, log: &PlaybookLog, end: PlaybookEnd, killed: Option<String>) -> AppliedPass {
    let recap = log.recap.get(host);
    let untouched = recap.is_none() && end == PlaybookEnd::Exited(0);
    let apply = match recap {
        Some(recap) if recap.succeeded() => Apply::Ok,
        // Ansible succeeded without a task on this host (no play matched it, or no task
        // ran): as on a real server, nothing changed; the check decides.
        None if untouched => Apply::Ok,
        _ => Apply::Failed,
    };
    let failure = killed.clone().or_else(|| {
        (apply == Apply::Failed).then(|| {
            log.failures
                .get(host)
                .cloned()
                .or_else(|| recap.filter(|r| r.unreachable > 0).map(|_| "host unreachable".to_string()))
                .or_else(|| log.errors.first().cloned())
                .unwrap_or_else(|| match end {
                    PlaybookEnd::Exited(code) => format!("ansible-playbook exited {code}"),
                    PlaybookEnd::ControllerStopped => "the controller stopped".to_string(),
                })
        })
    });
    // A death decides at once; a failed pass 1 still gets its check run (its output says
    // what is missing), a failed pass 2 decides.
    let decision = failure.as_ref().and_then(|reason| {
        let verdict = if killed.is_some() { Verdict::Killed } else { Verdict::Failed };
        (verdict == Verdict::Killed || pass == 2).then(|| Decision::new(verdict, format!("pass {pass}: {reason}")))
    });
    AppliedPass {
        report: PassReport {
            pass,
            apply,
            apply_error: failure,
            changed: recap.map(|r| r.changed).or(untouched.then_some(0)),
            changed_tasks: log.changed_tasks.get(host).cloned().unwrap_or_default(),
            diffs: log
                .diffs
                .get(host)
                .into_iter()
                .flatten()
                .map(|(task, diff)| TaskDiff { task: task.clone(), diff: diff.clone() })
                .collect(),
            verify_exit: None,
            verify_output: String::new(),
            checks: Vec::new(),
        },
        note: untouched.then(|| format!("pass {pass}: no task ran on this host (does a play's `hosts` match it?)")),
        decision,
    }
}

/// The verdict of a platform that completed its passes without being killed.
pub fn after_passes(passes: &[PassReport], idempotent_required: bool, planned_passes: u8) -> Decision {
    let failed = |reason: String| Decision::new(Verdict::Failed, reason);
    let Some(first) = passes.first() else {
        return Decision::new(Verdict::Error, "pass 1 never ran");
    };
    let apply_failure = |pass: &PassReport| {
        let error = pass.apply_error.as_deref().unwrap_or("the playbook failed");
        failed(format!("pass {}: {error}", pass.pass))
    };
    if first.apply != Apply::Ok {
        return apply_failure(first);
    }
    match first.verify_exit {
        Some(0) => {}
        Some(code) => return failed(check_failure(first, code)),
        None => return failed("check.sh did not run after pass 1".into()),
    }
    let Some(second) = passes.get(1) else {
        if planned_passes == 1 {
            return Decision::new(Verdict::Passed, "passed (one pass)");
        }
        return failed("pass 2 did not run".into());
    };
    if second.apply != Apply::Ok {
        return apply_failure(second);
    }
    let changed = second.changed.unwrap_or(0);
    if idempotent_required && changed > 0 {
        let tasks: Vec<String> = second.changed_tasks.iter().map(|t| format!("`{t}`")).collect();
        return failed(format!("not idempotent: pass 2 changed {changed} task(s): {}", tasks.join(", ")));
    }
    match second.verify_exit {
        Some(0) => Decision::new(Verdict::Passed, "passed"),
        Some(code) => failed(check_failure(second, code)),
        None => failed("check.sh did not run after pass 2".into()),
    }
}

/// A failed check in its own words: the first line it printed that starts with `FAIL`
/// (the bundled checks print one per unmet requirement), else its exit code.
fn check_failure(pass: &PassReport, code: i64) -> String {
    let first_fail = pass.verify_output.lines().map(str::trim).find(|line| line.starts_with("FAIL"));
    match first_fail {
        Some(line) => format!("check after pass {}: {line}", pass.pass),
        None => format!("check.sh failed after pass {} (exit {code})", pass.pass),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pass(n: u8, apply: Apply, changed: u32, verify: i64) -> PassReport {
        PassReport {
            pass: n,
            apply,
            apply_error: (apply == Apply::Failed).then(|| "task `x` failed: boom".to_string()),
            changed: Some(changed),
            changed_tasks: if changed > 0 { vec!["append".into()] } else { vec![] },
            diffs: vec![],
            verify_exit: Some(verify),
            verify_output: String::new(),
            checks: Vec::new(),
        }
    }

    #[test]
    fn both_passes_clean_is_a_pass() {
        let passes = [pass(1, Apply::Ok, 3, 0), pass(2, Apply::Ok, 0, 0)];
        assert_eq!(after_passes(&passes, true, 2).verdict, Verdict::Passed);
    }

    #[test]
    fn changes_on_pass_two_fail_idempotency_with_task_names() {
        let passes = [pass(1, Apply::Ok, 1, 0), pass(2, Apply::Ok, 1, 0)];
        let decision = after_passes(&passes, true, 2);
        assert_eq!(decision.verdict, Verdict::Failed);
        assert_eq!(decision.reason, "not idempotent: pass 2 changed 1 task(s): `append`");
        assert_eq!(after_passes(&passes, false, 2).verdict, Verdict::Passed);
    }

    #[test]
    fn a_failed_apply_names_ansibles_reason() {
        let passes = [pass(1, Apply::Failed, 0, 0)];
        assert_eq!(after_passes(&passes, true, 2), Decision::new(Verdict::Failed, "pass 1: task `x` failed: boom"));
    }

    #[test]
    fn a_failing_check_fails() {
        let passes = [pass(1, Apply::Ok, 1, 2)];
        assert_eq!(after_passes(&passes, true, 2).reason, "check.sh failed after pass 1 (exit 2)");
        let mut said = passes.clone();
        said[0].verify_output = "ok: package\nFAIL: nginx is not started\nFAIL: nginx is not enabled\n".into();
        assert_eq!(after_passes(&said, true, 2).reason, "check after pass 1: FAIL: nginx is not started");
    }

    fn log(lines: &[&str]) -> PlaybookLog {
        let mut log = PlaybookLog::default();
        for line in lines {
            log.push(line);
        }
        log
    }

    const RECAP: &str = "PLAY RECAP *********************************************************************";

    fn recap_line(changed: u32, failed: u32, unreachable: u32) -> String {
        format!("debian-12                  : ok=2    changed={changed}    unreachable={unreachable}    failed={failed}    skipped=0    rescued=0    ignored=0")
    }

    #[test]
    fn a_clean_apply_counts_its_changes_and_decides_nothing() {
        let lines = ["changed: [debian-12]", RECAP, &recap_line(1, 0, 0)];
        let applied = judge_apply(1, "debian-12", &log(&lines), PlaybookEnd::Exited(0), None);
        assert_eq!(applied.report.apply, Apply::Ok);
        assert_eq!(applied.report.changed, Some(1));
        assert_eq!((applied.note, applied.decision), (None, None));
    }

    #[test]
    fn no_task_on_the_host_is_a_clean_apply_with_a_note() {
        let applied = judge_apply(1, "debian-12", &log(&[]), PlaybookEnd::Exited(0), None);
        assert_eq!((applied.report.apply, applied.report.changed), (Apply::Ok, Some(0)));
        assert_eq!(applied.note.as_deref(), Some("pass 1: no task ran on this host (does a play's `hosts` match it?)"));
    }

    #[test]
    fn a_failed_pass_one_waits_for_its_check_and_a_failed_pass_two_decides() {
        let lines =
            ["fatal: [debian-12]: FAILED! => {\"changed\": false, \"msg\": \"boom\"}", RECAP, &recap_line(0, 1, 0)];
        let first = judge_apply(1, "debian-12", &log(&lines), PlaybookEnd::Exited(2), None);
        assert_eq!(first.report.apply, Apply::Failed);
        assert!(first.report.apply_error.is_some());
        assert_eq!(first.decision, None);
        let second = judge_apply(2, "debian-12", &log(&lines), PlaybookEnd::Exited(2), None);
        let decision = second.decision.expect("a failed pass 2 decides");
        assert_eq!(decision.verdict, Verdict::Failed);
        assert!(decision.reason.starts_with("pass 2: "), "{}", decision.reason);
    }

    #[test]
    fn an_unreachable_host_says_so() {
        let lines = [RECAP, &recap_line(0, 0, 1)];
        let applied = judge_apply(1, "debian-12", &log(&lines), PlaybookEnd::Exited(4), None);
        assert_eq!(applied.report.apply_error.as_deref(), Some("host unreachable"));
    }

    #[test]
    fn without_any_message_the_exit_or_the_controllers_end_is_the_reason() {
        let exited = judge_apply(2, "debian-12", &log(&[]), PlaybookEnd::Exited(250), None);
        assert_eq!(exited.decision.unwrap().reason, "pass 2: ansible-playbook exited 250");
        let stopped = judge_apply(2, "debian-12", &log(&[]), PlaybookEnd::ControllerStopped, None);
        assert_eq!(stopped.decision.unwrap().reason, "pass 2: the controller stopped");
    }

    #[test]
    fn a_death_decides_at_once_as_killed_even_on_pass_one() {
        let reason = "out of memory in target debian-12 (limit 512 MiB)".to_string();
        let applied = judge_apply(1, "debian-12", &log(&[]), PlaybookEnd::Exited(0), Some(reason.clone()));
        assert_eq!(applied.decision, Some(Decision::new(Verdict::Killed, format!("pass 1: {reason}"))));
        assert_eq!(applied.report.apply_error, Some(reason));
    }

    #[test]
    fn oom_is_named_with_the_place_and_the_limit() {
        let state = ContainerState { running: false, oom_killed: true, exit_code: 137, ..Default::default() };
        let limits = Limits::default();
        assert_eq!(
            death_reason(&state, &limits, Place::Target("debian-12"), WriteBound::HostDisk),
            "out of memory in target debian-12 (limit 1536 MiB): give the challenge more with [limits] memory = \"3g\" \
             in challenge.toml (the ceiling here is 4096 MiB)"
        );
        assert_eq!(
            death_reason(&state, &limits, Place::Target("debian-12"), WriteBound::Memory),
            "out of memory in target debian-12 (limit 1536 MiB; files written outside /tmp count against it): give the \
             challenge more with [limits] memory = \"3g\" in challenge.toml (the ceiling here is 4096 MiB)"
        );
        let odd = Limits { memory_bytes: 700 * 1024 * 1024, ..limits };
        assert!(
            death_reason(&state, &odd, Place::Target("debian-12"), WriteBound::Memory).contains("memory = \"1400m\"")
        );
        let top = Limits { memory_bytes: 3 * 1024 * 1024 * 1024, ..limits };
        assert!(death_reason(&state, &top, Place::Target("debian-12"), WriteBound::Memory).contains("memory = \"4g\""));
        let full = Limits { memory_bytes: 4 * 1024 * 1024 * 1024, ..limits };
        let reason = death_reason(&state, &full, Place::Target("debian-12"), WriteBound::Memory);
        assert!(reason.ends_with("the operator can raise [ceilings] memory in sandbox's config"), "{reason}");
        let controller = death_reason(&state, &limits.for_controller(), Place::Controller, WriteBound::Memory);
        assert!(controller.starts_with("out of memory in the controller (limit 1536 MiB;"), "{controller}");
        assert!(controller.contains("lookups and `delegate_to: localhost` run there"), "{controller}");
    }

    #[test]
    fn a_sigkill_without_oom_flag_is_still_called_memory_and_other_exits_are_not() {
        let killed = ContainerState { running: false, oom_killed: false, exit_code: 137, ..Default::default() };
        let reason = death_reason(&killed, &Limits::default(), Place::Controller, WriteBound::HostDisk);
        assert!(
            reason.starts_with("out of memory in the controller, most likely: killed by SIGKILL (limit"),
            "{reason}"
        );
        let exited = ContainerState { running: false, oom_killed: false, exit_code: 2, ..Default::default() };
        let reason = death_reason(&exited, &Limits::default(), Place::Target("debian-12"), WriteBound::Memory);
        assert_eq!(reason, "target debian-12 stopped unexpectedly (exit code 2)");
    }
}
