//! The classic builder's log, read into steps as it streams: what a failed build's verdict
//! names (which step, what it printed) comes from here.

use crate::challenge::{Limits, Network};
use crate::units::format_size;

/// One step of a build, as the classic builder reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub number: usize,
    /// `RUN apt-get install -y curl`
    pub instruction: String,
    /// Taken from the layer cache instead of run.
    pub cached: bool,
    /// What the step printed.
    pub output: Vec<String>,
}

/// The classic builder's log read into steps: `Step N/M : INSTRUCTION` opens one,
/// ` ---> Using cache` marks it cached, the rest is what it printed.
#[derive(Debug, Default)]
pub struct BuildLog {
    steps: Vec<Step>,
}

impl BuildLog {
    /// The steps read so far.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    pub fn into_steps(self) -> Vec<Step> {
        self.steps
    }

    pub fn push(&mut self, line: &str) {
        if let Some(rest) = line.strip_prefix("Step ") {
            if let Some((counter, instruction)) = rest.split_once(" : ") {
                let number = counter.split('/').next().and_then(|n| n.parse().ok()).unwrap_or(self.steps.len() + 1);
                let instruction = instruction.to_string();
                self.steps.push(Step { number, instruction, cached: false, output: Vec::new() });
                return;
            }
        }
        let Some(step) = self.steps.last_mut() else { return };
        let trimmed = line.trim();
        if trimmed == "---> Using cache" {
            step.cached = true;
        } else if !["--->", "Removing intermediate container", "Successfully "].iter().any(|p| trimmed.starts_with(p)) {
            step.output.push(line.to_string());
        }
    }
}

/// Why a step failed, as far as what it printed tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepFailure {
    /// It wrote past its write bound (the builder's quota on its layer: EDQUOT).
    WriteBound,
    /// The builder's store is full (ENOSPC): the store's own bound, not the step's.
    StoreFull,
    /// It looked for the network and found none: a name did not resolve, a connection failed.
    NoNetwork,
    /// Anything else: the command's own failure.
    Command,
}

/// What each failure prints, in the words of libc (`strerror`), apt, curl, pip and getaddrinfo.
const SIGNS: &[(StepFailure, &[&str])] = &[
    (StepFailure::WriteBound, &["Disk quota exceeded"]),
    (StepFailure::StoreFull, &["No space left on device"]),
    (
        StepFailure::NoNetwork,
        &[
            "Temporary failure resolving",
            "Temporary failure in name resolution",
            "Could not resolve",
            "Name or service not known",
            "No address associated with hostname",
            "Network is unreachable",
            "Failed to establish a new connection",
            "Could not connect to",
            "Connection refused",
        ],
    ),
];

impl Step {
    /// The first sign in the step's output of why it failed; `Command` when there is none.
    pub fn failure(&self) -> StepFailure {
        SIGNS
            .iter()
            .find(|(_, signs)| self.output.iter().any(|line| signs.iter().any(|sign| line.contains(sign))))
            .map_or(StepFailure::Command, |(failure, _)| *failure)
    }
}

/// A failed build in the learner's terms: which step, and why when its output tells.
pub fn failure_reason(steps: &[Step], message: &str, limits: &Limits, network: Network) -> String {
    let Some(step) = steps.last() else { return format!("failed: {message}") };
    let which = format!("step {} ({})", step.number, shortened(&step.instruction));
    match step.failure() {
        StepFailure::WriteBound => {
            format!("{which} wrote past its {} write bound", format_size(limits.build_write_bytes))
        }
        StepFailure::StoreFull => format!("{which} found the builder's store full ({message})"),
        StepFailure::NoNetwork if network == Network::None => format!(
            "{which} needs the network, and this challenge's builds have none: ship what it downloads in \
             the build context, or set `[run] network = \"egress\"` in challenge.toml if the challenge \
             teaches installing from the network"
        ),
        StepFailure::NoNetwork | StepFailure::Command => format!("{which} failed: {message}"),
    }
}

/// An instruction cut to what a reason line can hold.
fn shortened(instruction: &str) -> String {
    const MOST: usize = 40;
    match instruction.char_indices().nth(MOST) {
        Some((end, _)) => format!("{} …", instruction[..end].trim_end()),
        None => instruction.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_becomes_steps_with_cache_marks_and_output() {
        let mut log = BuildLog::default();
        for line in [
            "Step 1/3 : FROM debian:12",
            " ---> 1c41325ab69e",
            "Step 2/3 : RUN uname -r",
            " ---> Running in d16c37d2a7de",
            "4.4.0",
            "Removing intermediate container d16c37d2a7de",
            " ---> 4fb843e0909a",
            "Step 3/3 : COPY app /app",
            " ---> Using cache",
            " ---> b0da0770f846",
            "Successfully built b0da0770f846",
        ] {
            log.push(line);
        }
        let steps = log.into_steps();
        assert_eq!(steps.len(), 3);
        assert_eq!((steps[1].number, steps[1].instruction.as_str()), (2, "RUN uname -r"));
        assert_eq!(steps[1].output, ["4.4.0"]);
        assert!(!steps[1].cached && steps[2].cached);
    }

    fn step_printing(lines: &[&str]) -> Step {
        let output = lines.iter().map(|l| l.to_string()).collect();
        Step { number: 2, instruction: "RUN x".into(), cached: false, output }
    }

    #[test]
    fn a_failed_step_is_told_by_what_it_printed() {
        let head = step_printing(&["head: error writing 'standard output': Disk quota exceeded"]);
        assert_eq!(head.failure(), StepFailure::WriteBound);
        let apt = step_printing(&[
            "Err:1 http://deb.debian.org/debian bookworm InRelease",
            "  Temporary failure resolving 'deb.debian.org'",
        ]);
        assert_eq!(apt.failure(), StepFailure::NoNetwork);
        let full = step_printing(&["cp: error writing '/x': No space left on device"]);
        assert_eq!(full.failure(), StepFailure::StoreFull);
        assert_eq!(step_printing(&["make: *** [all] Error 2"]).failure(), StepFailure::Command);
    }
}
