//! The terminal side of `sandbox test`: one live line per running job (what it is doing now),
//! a line per finished job, the output tail of a job that went wrong, and the final table.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use console::{Style, Term};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::terminal::{aligned, Terminal};
use crate::report::{Cell, Reporter, RunReport, Tone};
use crate::suite::{CaseOutcome, Status, SuiteReport, SuiteReporter};

/// Lines of output kept per job, shown when it did not do what was expected.
const TAIL_LINES: usize = 40;

pub struct SuiteProgress {
    multi: MultiProgress,
    /// Where lines go: stderr when stdout carries JSON.
    term: Term,
    color: bool,
    general: Terminal,
}

impl SuiteProgress {
    pub fn new(json_on_stdout: bool) -> SuiteProgress {
        let term = if json_on_stdout { Term::stderr() } else { Term::stdout() };
        let color = if json_on_stdout { console::colors_enabled_stderr() } else { console::colors_enabled() };
        let multi = MultiProgress::with_draw_target(if Term::stderr().is_term() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        });
        SuiteProgress { multi, term, color, general: Terminal::new(json_on_stdout) }
    }

    pub fn wants_color(&self) -> bool {
        self.color
    }

    fn styled(&self, style: Style) -> Style {
        style.force_styling(self.color)
    }

    fn line(&self, text: &str) {
        self.multi.suspend(|| {
            let _ = self.term.write_line(text);
        });
    }

    /// The final table: one row per challenge and platform, then the reasons.
    pub fn summary(&self, report: &SuiteReport) {
        let mut rows = vec![Cell::headings(["challenge", "platform", "solution passes", "starter fails", "result"])];
        for challenge in &report.challenges {
            for (index, platform) in challenge.platforms.iter().enumerate() {
                let outcome = |o: CaseOutcome| match o {
                    CaseOutcome::Passed => Cell::new("yes", Tone::Good),
                    CaseOutcome::Failed => Cell::new("NO", Tone::Bad),
                    CaseOutcome::Error => Cell::new("error", Tone::Bad),
                    CaseOutcome::Skipped => Cell::new("skipped", Tone::Unsure),
                };
                let first = |cell: Cell| if index == 0 { cell } else { Cell::plain("") };
                rows.push([
                    first(Cell::plain(challenge.challenge.clone())),
                    Cell::plain(platform.distro.clone()),
                    outcome(platform.solution.outcome),
                    outcome(platform.starter.outcome),
                    first(status_cell(challenge.status)),
                ]);
            }
        }
        self.line("");
        for line in aligned(&rows, self.color) {
            self.line(&line);
        }
        self.line("");
        for challenge in report.challenges.iter().filter(|c| !c.reasons.is_empty()) {
            let name = self.styled(Style::new().bold()).apply_to(&challenge.challenge);
            for reason in &challenge.reasons {
                self.line(&format!("{name}: {reason}"));
            }
        }
        let failed = report.challenges.iter().filter(|c| c.status != Status::Passed).count();
        let verdict = if report.passed {
            self.styled(Style::new().green().bold()).apply_to("PASSED".to_string())
        } else {
            self.styled(Style::new().red().bold()).apply_to(format!("FAILED {failed} of"))
        };
        self.line(&format!("{verdict} {} challenge(s) in {:.1}s", report.challenges.len(), report.duration_seconds));
        if let Some(selection) = &report.selection {
            self.line(&format!("ran {}", selection.describe()));
        }
    }
}

fn status_cell(status: Status) -> Cell {
    match status {
        Status::Passed => Cell::new("passed", Tone::Good),
        Status::Failed => Cell::new("failed", Tone::Bad),
        Status::Broken => Cell::new("broken", Tone::Bad),
        Status::Error => Cell::new("error", Tone::Bad),
    }
}

/// One running job's reporter: its live line and the tail of its output.
pub struct JobLine {
    bar: ProgressBar,
    label: String,
    tail: Mutex<VecDeque<String>>,
}

impl JobLine {
    fn remember(&self, line: &str) {
        let mut tail = self.tail.lock().unwrap();
        if tail.len() == TAIL_LINES {
            tail.pop_front();
        }
        tail.push_back(console::strip_ansi_codes(line).into_owned());
    }

    fn show(&self, what: &str) {
        self.bar.set_message(format!("{}: {what}", self.label));
    }
}

impl Reporter for JobLine {
    fn step(&self, message: &str) {
        self.show(message);
    }

    fn step_done(&self, message: &str) {
        self.show(message);
    }

    fn ansible_line(&self, pass: u8, line: &str) {
        let plain = console::strip_ansi_codes(line);
        if plain.starts_with("TASK [") || plain.starts_with("RUNNING HANDLER [") {
            let task = plain.trim_end_matches(['*', ' ']);
            self.show(&format!("pass {pass} {task}"));
        }
        self.remember(&format!("[pass {pass}] {line}"));
    }

    fn verified(&self, pass: u8, distro: &str, exit_code: i64, output: &str) {
        self.remember(&format!("[verify {pass}] {distro} check.sh exit {exit_code}"));
        for line in output.lines() {
            self.remember(&format!("[verify {pass}]   {line}"));
        }
    }

    fn notice(&self, message: &str) {
        self.remember(&format!("note: {message}"));
    }

    fn build_line(&self, _line: &str) {}

    fn output(&self, text: &str) {
        for line in text.lines() {
            self.remember(line);
        }
    }
}

impl SuiteReporter for SuiteProgress {
    type Job = JobLine;

    fn job_started(&self, label: &str) -> JobLine {
        let bar = self.multi.add(ProgressBar::new_spinner());
        bar.set_style(ProgressStyle::with_template("{spinner:.cyan} {wide_msg} {elapsed:.dim}").unwrap());
        bar.enable_steady_tick(Duration::from_millis(120));
        let job = JobLine { bar, label: label.to_string(), tail: Mutex::new(VecDeque::new()) };
        job.show("starting");
        if self.multi.is_hidden() {
            self.line(&format!("==> {label}: started"));
        }
        job
    }

    fn job_finished(&self, job: JobLine, label: &str, result: &Result<RunReport, String>, unexpected: bool) {
        job.bar.finish_and_clear();
        self.multi.remove(&job.bar);
        let mark = if unexpected {
            self.styled(Style::new().red().bold()).apply_to("✗")
        } else {
            self.styled(Style::new().green()).apply_to("✓")
        };
        let summary = match result {
            Ok(report) => {
                let platforms: Vec<String> =
                    report.platforms.iter().map(|p| format!("{} {}", p.distro, p.verdict.as_str())).collect();
                format!("{} ({:.1}s)", platforms.join(", "), report.duration_seconds)
            }
            Err(err) => format!("could not run: {err}"),
        };
        self.line(&format!("{mark} {label}: {summary}"));
        if unexpected {
            for line in job.tail.lock().unwrap().iter() {
                self.line(&format!("    {line}"));
            }
        }
    }

    fn general(&self) -> &dyn Reporter {
        &self.general
    }
}
