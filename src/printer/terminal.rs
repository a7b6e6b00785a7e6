//! The only place that prints. Live lines go above the spinner (through indicatif's
//! `suspend`), colour follows the stream (NO_COLOR, CLICOLOR, not a TTY), and when stdout
//! carries JSON, everything else goes to stderr.

use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

use console::{style, Style, Term};
use indicatif::{ProgressBar, ProgressStyle};

use crate::report::changes::PlatformChange;
use crate::report::timeline::Timings;
use crate::report::{
    image_table, table, Cell, Check, ImageReport, PlatformReport, Reporter, RunReport, TaskDiff, Tone, Verdict,
};

pub struct Terminal {
    /// Live output (Ansible, checks) goes here: stdout, or stderr when stdout holds JSON.
    live: Term,
    color: bool,
    spinner: Mutex<Option<ProgressBar>>,
}

impl Terminal {
    pub fn new(json_on_stdout: bool) -> Terminal {
        let live = if json_on_stdout { Term::stderr() } else { Term::stdout() };
        let color = if json_on_stdout { console::colors_enabled_stderr() } else { console::colors_enabled() };
        Terminal { live, color, spinner: Mutex::new(None) }
    }

    /// Whether Ansible should colour its output for this stream.
    pub fn wants_color(&self) -> bool {
        self.color
    }

    fn styled(&self, style: Style) -> Style {
        style.force_styling(self.color)
    }

    fn line(&self, text: &str) {
        self.emit(&self.live, text);
    }

    /// Writes a line above the spinner, if one is spinning.
    fn emit(&self, term: &Term, text: &str) {
        let spinner = self.spinner.lock().unwrap();
        let write = || {
            let _ = term.write_line(text);
        };
        match spinner.as_ref() {
            Some(bar) => bar.suspend(write),
            None => write(),
        }
    }

    /// Prints the final table and verdict.
    pub fn summary(&self, report: &RunReport) {
        if let Some(image) = &report.image {
            self.image_summary(report, image);
            return;
        }
        let rows = table(report);
        self.line("");
        for line in aligned(&rows, self.color) {
            self.line(&line);
        }
        self.line("");
        for platform in &report.platforms {
            if let Some(reason) = &platform.reason {
                let name = self.styled(Style::new().bold()).apply_to(&platform.distro);
                self.line(&format!("{name}: {reason}"));
                self.pass_two_diffs(platform);
            }
        }
        let verdict = if report.passed {
            self.styled(Style::new().green().bold()).apply_to("PASSED")
        } else {
            self.styled(Style::new().red().bold()).apply_to("FAILED")
        };
        self.line(&format!("{verdict} {} in {:.1}s", report.challenge, report.duration_seconds));
    }

    /// What pass 2 changed, under the reason that it did: the changed tasks' diffs.
    fn pass_two_diffs(&self, platform: &PlatformReport) {
        let Some(second) = platform.passes.get(1).filter(|p| p.changed.unwrap_or(0) > 0) else { return };
        for TaskDiff { task, diff } in &second.diffs {
            self.line(&format!("  pass 2 changed `{task}`:"));
            for line in diff.lines() {
                let style = match line.chars().next() {
                    Some('+') if !line.starts_with("+++") => Style::new().green(),
                    Some('-') if !line.starts_with("---") => Style::new().red(),
                    _ => Style::new(),
                };
                self.line(&format!("    {}", self.styled(style).apply_to(line)));
            }
        }
    }

    /// The Docker track's ending: steps each build rebuilt, the checks, hints, the verdict.
    fn image_summary(&self, report: &RunReport, image: &ImageReport) {
        self.line("");
        for build in &image.builds {
            let cached = build.steps.iter().filter(|s| s.cached).count();
            self.line(&format!(
                "build {}: {} steps, {cached} from cache, {:.1}s",
                build.build,
                build.steps.len(),
                build.seconds
            ));
        }
        let rows = image_table(image);
        self.line("");
        for line in aligned(&rows, self.color) {
            self.line(&line);
        }
        self.line("");
        // The reason names the first failed check and its hint.
        for platform in report.platforms.iter().filter(|p| p.verdict != Verdict::Passed) {
            if let Some(reason) = &platform.reason {
                self.line(&format!("{}: {reason}", platform.verdict.as_str()));
            }
        }
        let verdict = if report.passed {
            self.styled(Style::new().green().bold()).apply_to("PASSED")
        } else {
            self.styled(Style::new().red().bold()).apply_to("FAILED")
        };
        self.line(&format!("{verdict} {} in {:.1}s", report.challenge, report.duration_seconds));
    }

    /// `sandbox watch`: what changed since attempt `previous`, platform by platform.
    pub fn changes(&self, previous: usize, changes: &[PlatformChange]) {
        if changes.is_empty() {
            self.line(&format!("since attempt {previous}: no change in verdicts, checks or pass 2"));
            return;
        }
        self.line(&format!("since attempt {previous}:"));
        for change in changes {
            let name = self.styled(Style::new().bold()).apply_to(&change.distro);
            if let Some((before, now)) = change.verdict {
                let now = self.styled(tone_style(now.tone())).apply_to(now.as_str());
                self.line(&format!("  {name}: {} -> {now}", before.as_str()));
            }
            for line in &change.now_passing {
                self.line(&format!("  {name}: {} {line}", self.styled(Style::new().green()).apply_to("fixed:")));
            }
            for line in &change.now_failing {
                self.line(&format!("  {name}: {} {line}", self.styled(Style::new().red()).apply_to("new:")));
            }
            if let Some((before, now)) = change.pass_two_changed {
                let count = |c: Option<u32>| c.map_or("-".to_string(), |c| c.to_string());
                self.line(&format!("  {name}: changed on pass 2: {} -> {}", count(before), count(now)));
            }
        }
    }

    /// `sandbox doctor`'s table: a mark, the check, its state and the fix when it failed.
    pub fn checks(&self, checks: &[Check]) {
        let width = checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
        for check in checks {
            let mark = match (check.ok, check.required) {
                (true, _) => self.styled(Style::new().green()).apply_to("ok  "),
                (false, true) => self.styled(Style::new().red()).apply_to("FAIL"),
                // A distro whose image cannot exist here does not stop a run of the others.
                (false, false) => self.styled(Style::new().yellow()).apply_to("n/a "),
            };
            let fix = check.fix.as_ref().map(|fix| format!("  → fix: {fix}")).unwrap_or_default();
            self.print(&format!("{mark} {:<width$}  {}{fix}", check.name, check.detail));
        }
    }

    /// `--timings`: each phase with its seconds and share of the run, then the total.
    /// `--timings`: each phase, and what a warm set did for the run when the pool keeps them.
    pub fn timings(&self, timings: &Timings, warm_set: Option<&str>) {
        let total = timings.total();
        self.line("");
        self.line(&self.styled(Style::new().bold()).apply_to("timings").to_string());
        if let Some(warm_set) = warm_set {
            self.line(&format!("  warm set: {warm_set}"));
        }
        for (phase, seconds) in &timings.0 {
            let share = if total > 0.0 { seconds / total * 100.0 } else { 0.0 };
            self.line(&format!("  {:<24} {seconds:>6.2} s {share:>4.0}%", phase.label()));
        }
        self.line(&format!("  {:<24} {total:>6.2} s", "total"));
    }

    #[allow(clippy::print_stdout)]
    /// A report as JSON on stdout (the documented contract).
    pub fn json(report: &impl serde::Serialize) {
        let text = serde_json::to_string_pretty(report).expect("a report always serializes");
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{text}");
    }

    /// A plain line of command output (doctor, images list).
    pub fn print(&self, text: &str) {
        self.line(text);
    }

    /// A rendered diagnostic, on stderr.
    pub fn error(&self, text: &str) {
        self.emit(&Term::stderr(), text);
    }

    pub fn finish(&self) {
        if let Some(bar) = self.spinner.lock().unwrap().take() {
            bar.finish_and_clear();
        }
    }
}

/// Rows padded into columns two spaces apart, each cell coloured by its tone.
pub(crate) fn aligned<const N: usize>(rows: &[[Cell; N]], color: bool) -> Vec<String> {
    let widths: Vec<usize> =
        (0..N).map(|col| rows.iter().map(|row| row[col].text.chars().count()).max().unwrap_or(0)).collect();
    rows.iter()
        .map(|row| {
            let cells: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(cell, width)| {
                    let padded = format!("{:<width$}", cell.text);
                    tone_style(cell.tone).force_styling(color).apply_to(padded).to_string()
                })
                .collect();
            cells.join("  ").trim_end().to_string()
        })
        .collect()
}

fn tone_style(tone: Tone) -> Style {
    match tone {
        Tone::Plain => Style::new(),
        Tone::Heading => Style::new().bold(),
        Tone::Good => Style::new().green(),
        Tone::Wrong => Style::new().red(),
        Tone::Bad => Style::new().red().bold(),
        Tone::Success => Style::new().green().bold(),
        Tone::Unsure => Style::new().yellow(),
    }
}

impl Reporter for Terminal {
    fn step(&self, message: &str) {
        let mut spinner = self.spinner.lock().unwrap();
        if let Some(bar) = spinner.take() {
            bar.finish_and_clear();
        }
        if Term::stderr().is_term() {
            let bar = ProgressBar::new_spinner();
            bar.set_style(ProgressStyle::with_template("{spinner:.cyan} {msg} {elapsed:.dim}").unwrap());
            bar.set_message(message.to_string());
            bar.enable_steady_tick(Duration::from_millis(100));
            *spinner = Some(bar);
        } else {
            let _ = Term::stderr().write_line(&format!("==> {message}"));
        }
    }

    fn step_done(&self, message: &str) {
        let bar = self.spinner.lock().unwrap().take();
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        let _ = Term::stderr().write_line(&format!("{} {message}", self.styled(Style::new().green()).apply_to("✓")));
    }

    fn ansible_line(&self, pass: u8, line: &str) {
        let tag = self.styled(Style::new().dim()).apply_to(format!("[pass {pass}]"));
        self.line(&format!("{tag} {line}"));
    }

    fn verified(&self, pass: u8, distro: &str, exit_code: i64, output: &str) {
        let status = if exit_code == 0 {
            self.styled(Style::new().green()).apply_to("verified".to_string())
        } else {
            self.styled(Style::new().red()).apply_to(format!("check failed (exit {exit_code})"))
        };
        let tag = self.styled(Style::new().dim()).apply_to(format!("[verify {pass}]"));
        self.line(&format!("{tag} {} {status}", style(distro).bold().force_styling(self.color)));
        for line in output.lines() {
            self.line(&format!("{tag}   {line}"));
        }
    }

    fn notice(&self, message: &str) {
        let note = self.styled(Style::new().yellow().bold()).apply_to("note:");
        self.emit(&Term::stderr(), &format!("{note} {message}"));
    }

    fn build_line(&self, line: &str) {
        let text = self.styled(Style::new().dim()).apply_to(format!("  | {line}")).to_string();
        self.emit(&Term::stderr(), &text);
    }

    fn output(&self, text: &str) {
        for line in text.lines() {
            self.line(line);
        }
    }
}
