//! The final tables as cells that carry their tone, decided here from the report's typed
//! state: the printer colours a tone, never a column number or a cell's wording.

use super::{Apply, ImageReport, RunReport, Verdict};

/// What a cell says about the attempt, for the printer to colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Plain,
    Heading,
    /// Went as it should.
    Good,
    /// Went wrong, in a detail (a failed check, a count that should be 0).
    Wrong,
    /// A verdict or outcome that fails the whole row.
    Bad,
    /// A verdict that passes the whole row.
    Success,
    /// Neither: skipped, or not yet done.
    Unsure,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    pub text: String,
    pub tone: Tone,
}

impl Cell {
    pub fn new(text: impl Into<String>, tone: Tone) -> Cell {
        Cell { text: text.into(), tone }
    }

    pub fn plain(text: impl Into<String>) -> Cell {
        Cell::new(text, Tone::Plain)
    }

    /// A table's first row.
    pub fn headings<const N: usize>(names: [&str; N]) -> [Cell; N] {
        names.map(|name| Cell::new(name, Tone::Heading))
    }
}

impl Verdict {
    pub fn tone(self) -> Tone {
        match self {
            Verdict::Passed => Tone::Success,
            Verdict::Skipped => Tone::Unsure,
            _ => Tone::Bad,
        }
    }
}

/// The Docker track's table: each check after each build.
pub fn image_table(image: &ImageReport) -> Vec<[Cell; 4]> {
    let mut rows = vec![Cell::headings(["build", "check", "result", "detail"])];
    for check in &image.checks {
        let result = if check.passed { Cell::new("ok", Tone::Good) } else { Cell::new("failed", Tone::Bad) };
        rows.push([
            Cell::plain(check.build.map_or_else(String::new, |b| b.to_string())),
            Cell::plain(check.name.clone()),
            result,
            Cell::plain(check.detail.clone()),
        ]);
    }
    rows
}

/// The Ansible track's table: each platform's passes and verdict.
pub fn table(report: &RunReport) -> Vec<[Cell; 6]> {
    let mut rows = vec![Cell::headings(["platform", "pass 1", "verify 1", "changed on pass 2", "verify 2", "verdict"])];
    for platform in &report.platforms {
        let pass = |n: usize| platform.passes.get(n);
        let apply = |n: usize| match pass(n).map(|p| p.apply) {
            Some(Apply::Ok) => Cell::plain("ok"),
            Some(Apply::Failed) => Cell::new("failed", Tone::Wrong),
            _ => Cell::plain("-"),
        };
        let verify = |n: usize| match pass(n).and_then(|p| p.verify_exit) {
            Some(0) => Cell::plain("ok"),
            Some(code) => Cell::new(format!("failed ({code})"), Tone::Wrong),
            None => Cell::plain("-"),
        };
        let changed = match pass(1).and_then(|p| p.changed) {
            Some(0) => Cell::plain("0"),
            Some(n) => Cell::new(n.to_string(), Tone::Wrong),
            None => Cell::plain("-"),
        };
        let verdict = Cell::new(platform.verdict.as_str(), platform.verdict.tone());
        rows.push([Cell::plain(platform.distro.clone()), apply(0), verify(0), changed, verify(1), verdict]);
    }
    rows
}
