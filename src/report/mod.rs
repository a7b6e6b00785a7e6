//! What a run found (reports, verdicts, timings, what changed since last time) and the
//! `Reporter` trait through which the domain says what is happening.
//!
//! Domain code builds a `RunReport` and tells a `Reporter`; only `printer` prints. The JSON form of `RunReport` is a documented contract
//! (README, "JSON report"): fields may be added, never renamed.

pub mod changes;
pub mod table;
pub mod timeline;

pub use table::{image_table, table, Cell, Tone};

use serde::Serialize;

use crate::challenge::{Strategy, TrackKind};
use crate::report::timeline::Timings;

/// One line of `sandbox doctor`'s table.
#[derive(Debug, Clone)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    pub detail: String,
    /// What to do when not ok.
    pub fix: Option<String>,
    /// A failure that stops every run (as opposed to one distro being unavailable).
    pub required: bool,
}

/// How one platform ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Passed,
    Failed,
    /// The sandbox itself could not run this platform (image, engine).
    Error,
    /// A guard killed it (fork bomb, out of memory).
    Killed,
    Timeout,
    /// Not run: its image cannot exist on this host (e.g. no registry for the base image).
    Skipped,
}

impl Verdict {
    /// The name used in tables and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Passed => "passed",
            Verdict::Failed => "failed",
            Verdict::Error => "error",
            Verdict::Killed => "killed",
            Verdict::Timeout => "timeout",
            Verdict::Skipped => "skipped",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Apply {
    Ok,
    Failed,
    Skipped,
}

#[derive(Debug, Clone, Serialize)]
pub struct PassReport {
    pub pass: u8,
    pub apply: Apply,
    /// Why the apply failed on this host (Ansible's message), when it did.
    pub apply_error: Option<String>,
    /// `changed=` from PLAY RECAP; None when the host never reached the recap.
    pub changed: Option<u32>,
    /// Tasks and handlers that reported changed on this host.
    pub changed_tasks: Vec<String>,
    /// What those tasks changed, as Ansible's `--diff` shows it (pass 2 always runs with
    /// it: a change there is what the learner must see).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub diffs: Vec<TaskDiff>,
    /// How the checks ended: check.sh's exit code, or when it passed (or there is none) the
    /// goss file's (0: every assertion passed); None when they did not run.
    pub verify_exit: Option<i64>,
    /// check.sh's output, then a `FAIL: name: detail` line per failed goss assertion.
    pub verify_output: String,
    /// Each assertion of the challenge's goss file (Ansible track), in goss's order.
    pub checks: Vec<CheckReport>,
}

impl PassReport {
    pub fn skipped(pass: u8) -> PassReport {
        PassReport {
            pass,
            apply: Apply::Skipped,
            apply_error: None,
            changed: None,
            changed_tasks: Vec::new(),
            diffs: Vec::new(),
            verify_exit: None,
            verify_output: String::new(),
            checks: Vec::new(),
        }
    }
}

/// One changed task's diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskDiff {
    pub task: String,
    pub diff: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlatformReport {
    pub distro: String,
    pub verdict: Verdict,
    pub reason: Option<String>,
    pub passes: Vec<PassReport>,
    /// Things the sandbox did or saw that the user should know (mock restored, …).
    pub notes: Vec<String>,
}

/// Whether an attempt passed, whichever its track: every platform passed or was skipped (a
/// platform skipped for want of its image proves nothing either way), and one at least ran
/// and passed (an attempt where nothing ran did not pass).
pub fn passed(platforms: &[PlatformReport]) -> bool {
    platforms.iter().all(|p| matches!(p.verdict, Verdict::Passed | Verdict::Skipped))
        && platforms.iter().any(|p| p.verdict == Verdict::Passed)
}

#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub challenge: String,
    pub track: TrackKind,
    /// The learner's file that ran: a playbook, or a Dockerfile in the Docker track.
    pub playbook: String,
    pub runtime: String,
    /// The Ansible strategy the passes ran with (Ansible track only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strategy: Option<Strategy>,
    pub passed: bool,
    pub duration_seconds: f64,
    /// Seconds per phase of the run, in order; they add up to `duration_seconds`.
    pub timings: Timings,
    /// Ansible: one per distro. Docker: one, `image`, its passes the two builds.
    pub platforms: Vec<PlatformReport>,
    /// The Docker track's builds and checks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageReport>,
    /// Ansible track, when the pool keeps warm sets of the challenge: whether the attempt
    /// claimed one, or why it started cold.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warm_set: Option<String>,
}

/// What the Docker track saw of the image: each build's steps, each check's result.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImageReport {
    pub builds: Vec<BuildReport>,
    pub checks: Vec<CheckReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BuildReport {
    pub build: u8,
    pub seconds: f64,
    pub steps: Vec<StepReport>,
    /// The image's size in bytes, when it built.
    pub size: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    pub number: usize,
    pub instruction: String,
    pub cached: bool,
}

/// One named check: a Docker challenge's built-in check (or check.sh) after one build, or an
/// assertion of an Ansible challenge's goss file after one pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckReport {
    /// The Docker track's build; None for a pass's goss assertion (the pass holds it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build: Option<u8>,
    pub name: String,
    pub passed: bool,
    /// What was seen: "uid 0 (root)", "healthy after 3.1s".
    pub detail: String,
    /// The author's hint, on a failed check.
    pub hint: Option<String>,
}

/// Progress and live output of a run. Implementations decide how (and whether) to show it.
pub trait Reporter: Send + Sync {
    /// A step starts (a spinner where there is a terminal).
    fn step(&self, message: &str);
    /// The current step finished.
    fn step_done(&self, message: &str);
    /// One line of `ansible-playbook` output, as it arrives.
    fn ansible_line(&self, pass: u8, line: &str);
    /// check.sh finished on one platform.
    fn verified(&self, pass: u8, distro: &str, exit_code: i64, output: &str);
    /// Something the user should know that is not an error.
    fn notice(&self, message: &str);
    /// A line of an image build log.
    fn build_line(&self, line: &str);
    /// Plain text the user asked for (e.g. the inventory).
    fn output(&self, text: &str);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_names_are_the_documented_contract() {
        let report = RunReport {
            challenge: "c".into(),
            track: TrackKind::Ansible,
            playbook: "playbook.yml".into(),
            runtime: "runsc".into(),
            strategy: Some(Strategy::Mitogen),
            passed: false,
            duration_seconds: 1.0,
            timings: Timings::default(),
            platforms: vec![PlatformReport {
                distro: "debian-12".into(),
                verdict: Verdict::Timeout,
                reason: Some("r".into()),
                passes: vec![PassReport::skipped(1)],
                notes: vec![],
            }],
            image: None,
            warm_set: None,
        };
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["passed"], false);
        assert_eq!(json["strategy"], "mitogen");
        assert_eq!(json["platforms"][0]["distro"], "debian-12");
        assert_eq!(json["platforms"][0]["verdict"], "timeout");
        assert_eq!(json["platforms"][0]["reason"], "r");
        assert_eq!(json["platforms"][0]["passes"][0]["apply"], "skipped");
        assert!(json["platforms"][0]["passes"][0]["changed"].is_null());
        assert!(json["platforms"][0]["passes"][0]["verify_exit"].is_null());
        let rows = table(&report);
        assert_eq!(rows[1][5].text, "timeout");
        assert_eq!(rows[1][5].tone, Tone::Bad);
        for verdict in
            [Verdict::Passed, Verdict::Failed, Verdict::Error, Verdict::Killed, Verdict::Timeout, Verdict::Skipped]
        {
            assert_eq!(serde_json::to_value(verdict).unwrap(), verdict.as_str());
        }
    }
}
