//! Where a run's time goes: the phase it is in (which a timeout names) and how long each
//! phase took (`--timings`, JSON `timings`). Phases follow each other, so they add up to the
//! run's duration.

use std::time::{Duration, Instant};

use serde::ser::{Serialize, SerializeMap, Serializer};

/// One phase of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Prepared images found or built.
    Images,
    /// Network made, containers started or claimed from the pool.
    Start,
    /// Keys, inventory, and the wait until every target answers over SSH.
    SshReady,
    /// `ansible-playbook` started until its first task.
    AnsibleStart(u8),
    /// The Gathering Facts tasks of a pass.
    Facts(u8),
    /// The play's own tasks and handlers, to Ansible's exit.
    Tasks(u8),
    /// check.sh on every platform of a pass.
    Check(u8),
    /// Leftover package managers killed, the mock restored.
    BetweenPasses,
    /// Docker track: one build of the Dockerfile.
    Build(u8),
    /// Docker track: the image's checks, its run and check.sh after one build.
    ImageChecks(u8),
    /// Everything the run created removed.
    Teardown,
}

impl Phase {
    /// The JSON key: `pass_1_facts`.
    pub fn key(self) -> String {
        match self {
            Phase::Images => "images".into(),
            Phase::Start => "start".into(),
            Phase::SshReady => "ssh_ready".into(),
            Phase::AnsibleStart(pass) => format!("pass_{pass}_ansible_start"),
            Phase::Facts(pass) => format!("pass_{pass}_facts"),
            Phase::Tasks(pass) => format!("pass_{pass}_tasks"),
            Phase::Check(pass) => format!("check_{pass}"),
            Phase::BetweenPasses => "between_passes".into(),
            Phase::Build(build) => format!("build_{build}"),
            Phase::ImageChecks(build) => format!("checks_{build}"),
            Phase::Teardown => "teardown".into(),
        }
    }

    /// How `--timings` names it: `pass 1: facts`.
    pub fn label(self) -> String {
        match self {
            Phase::AnsibleStart(pass) => format!("pass {pass}: ansible start"),
            Phase::Facts(pass) => format!("pass {pass}: facts"),
            Phase::Tasks(pass) => format!("pass {pass}: tasks"),
            Phase::Check(pass) => format!("check {pass}"),
            Phase::SshReady => "SSH ready".into(),
            other => other.during(),
        }
    }

    /// What a timeout says the run was doing: `pass 1`, `verify 1`.
    pub fn during(self) -> String {
        match self {
            Phase::Images => "image preparation".into(),
            Phase::Start | Phase::SshReady => "start".into(),
            Phase::AnsibleStart(pass) | Phase::Facts(pass) | Phase::Tasks(pass) => format!("pass {pass}"),
            Phase::Check(pass) => format!("verify {pass}"),
            Phase::BetweenPasses => "cleanup between passes".into(),
            Phase::Build(build) => format!("build {build}"),
            Phase::ImageChecks(build) => format!("the checks of build {build}"),
            Phase::Teardown => "teardown".into(),
        }
    }

    /// The phase a line of `ansible-playbook` output moves a pass into, if any.
    pub fn after_ansible_line(self, line: &str) -> Option<Phase> {
        let pass = match self {
            Phase::AnsibleStart(pass) | Phase::Facts(pass) | Phase::Tasks(pass) => pass,
            _ => return None,
        };
        let line = console::strip_ansi_codes(line);
        let next = if line.starts_with("TASK [Gathering Facts]") {
            Phase::Facts(pass)
        } else if line.starts_with("TASK [") || line.starts_with("RUNNING HANDLER [") {
            Phase::Tasks(pass)
        } else {
            return None;
        };
        (next != self).then_some(next)
    }
}

/// The phases a run went through, each with the time it took; a phase entered twice (two
/// plays gathering facts) adds up.
#[derive(Debug, Clone)]
pub struct Timeline {
    current: (Phase, Instant),
    done: Vec<(Phase, Duration)>,
}

impl Timeline {
    pub fn start(phase: Phase) -> Timeline {
        Timeline { current: (phase, Instant::now()), done: Vec::new() }
    }

    pub fn current(&self) -> Phase {
        self.current.0
    }

    pub fn enter(&mut self, phase: Phase) {
        let (previous, since) = std::mem::replace(&mut self.current, (phase, Instant::now()));
        self.add(previous, since.elapsed());
    }

    /// Every phase so far, the current one up to now.
    pub fn timings(&self) -> Timings {
        let mut all = self.clone();
        all.add(self.current.0, self.current.1.elapsed());
        Timings(all.done.into_iter().map(|(phase, took)| (phase, took.as_secs_f64())).collect())
    }

    fn add(&mut self, phase: Phase, took: Duration) {
        match self.done.iter_mut().find(|(seen, _)| *seen == phase) {
            Some((_, total)) => *total += took,
            None => self.done.push((phase, took)),
        }
    }
}

/// Seconds per phase, in the order the phases began. JSON: an object keyed by `Phase::key`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timings(pub Vec<(Phase, f64)>);

impl Timings {
    pub fn total(&self) -> f64 {
        self.0.iter().map(|(_, seconds)| seconds).sum()
    }

    pub fn add(&mut self, phase: Phase, seconds: f64) {
        self.0.push((phase, seconds));
    }
}

impl Serialize for Timings {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (phase, seconds) in &self.0 {
            map.serialize_entry(&phase.key(), &((seconds * 1000.0).round() / 1000.0))?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ansible_lines_move_a_pass_through_its_phases() {
        let start = Phase::AnsibleStart(1);
        assert_eq!(start.after_ansible_line("PLAY [all] ****"), None);
        assert_eq!(start.after_ansible_line("\x1b[0;32mTASK [Gathering Facts] ***\x1b[0m"), Some(Phase::Facts(1)));
        assert_eq!(Phase::Facts(1).after_ansible_line("TASK [copy a file] ***"), Some(Phase::Tasks(1)));
        assert_eq!(Phase::Tasks(1).after_ansible_line("TASK [another] ***"), None);
        assert_eq!(Phase::Tasks(2).after_ansible_line("TASK [Gathering Facts] ***"), Some(Phase::Facts(2)));
        assert_eq!(start.after_ansible_line("RUNNING HANDLER [restart nginx] ***"), Some(Phase::Tasks(1)));
        assert_eq!(Phase::Check(1).after_ansible_line("TASK [x] ***"), None);
    }

    #[test]
    fn a_timeout_names_the_pass_not_its_step() {
        assert_eq!(Phase::Facts(1).during(), "pass 1");
        assert_eq!(Phase::Check(2).during(), "verify 2");
        assert_eq!(Phase::Facts(1).label(), "pass 1: facts");
        assert_eq!(Phase::Facts(1).key(), "pass_1_facts");
    }

    #[test]
    fn phases_add_up_and_a_repeated_phase_accumulates() {
        let mut timeline = Timeline::start(Phase::Images);
        timeline.enter(Phase::Facts(1));
        timeline.enter(Phase::Tasks(1));
        timeline.enter(Phase::Facts(1));
        let timings = timeline.timings();
        let phases: Vec<Phase> = timings.0.iter().map(|(phase, _)| *phase).collect();
        assert_eq!(phases, [Phase::Images, Phase::Facts(1), Phase::Tasks(1)]);
        let json = serde_json::to_string(&timings).unwrap();
        assert!(json.starts_with("{\"images\":"), "{json}");
    }
}
