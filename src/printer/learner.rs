//! What the learner's commands print: the challenge list, a task, a hint, the next steps.

use std::io::IsTerminal;
use std::path::Path;

use crate::learner::progress::Status;
use crate::learner::{HintShown, ListEntry};
use crate::report::{Cell, Tone};

use super::terminal::{aligned, Terminal};

impl Terminal {
    /// `sandbox list`: a row per challenge, the learner's status coloured.
    pub fn challenge_list(&self, entries: &[ListEntry]) {
        let header = Cell::headings(["name", "track", "topic", "difficulty", "platforms", "status", "title"]);
        let rows: Vec<[Cell; 7]> = std::iter::once(header)
            .chain(entries.iter().map(|entry| {
                let status = match entry.status {
                    Status::New => Cell::plain(entry.status.name()),
                    Status::Attempted(attempts) => {
                        Cell::new(format!("{} ({attempts})", entry.status.name()), Tone::Unsure)
                    }
                    Status::Solved => Cell::new(entry.status.name(), Tone::Good),
                };
                let platforms = if entry.platforms.is_empty() { "none here".into() } else { entry.platforms.join(",") };
                [
                    Cell::plain(entry.name.clone()),
                    Cell::plain(entry.track),
                    Cell::plain(entry.topic.clone()),
                    Cell::plain(entry.difficulty),
                    Cell::plain(platforms),
                    status,
                    Cell::plain(entry.title.clone()),
                ]
            }))
            .collect();
        for line in aligned(&rows, self.wants_color()) {
            self.print(&line);
        }
    }

    /// `sandbox start`: where the workspace is and what to type next.
    pub fn started(&self, title: &str, dir: &Path, target: &str) {
        self.print(&format!("{title}: your workspace is {} (the reference solution is not in it)", dir.display()));
        self.print("next:");
        for (command, what) in [
            ("show", "the task"),
            ("watch", "runs your files on every save (Ctrl-C stops)"),
            ("run", "runs them once"),
            ("hint", "a hint when you are stuck, one more each time"),
        ] {
            let line = format!("sandbox {command} {target}");
            self.print(&format!("  {line:<40} {what}"));
        }
    }

    /// A task in Markdown: rendered on a terminal, as written when piped.
    pub fn markdown(&self, text: &str) {
        if self.wants_color() && std::io::stdout().is_terminal() {
            self.print(&termimad::MadSkin::default().term_text(text).to_string());
        } else {
            self.print(text.trim_end());
        }
    }

    pub fn hint(&self, shown: HintShown) {
        match shown {
            HintShown::Next { number, of, text } => self.print(&format!("hint {number} of {of}: {text}")),
            HintShown::NoMore { hints: [] } => self.print("this challenge has no hints"),
            HintShown::NoMore { hints } => {
                self.print(&format!("no more hints: all {} were shown", hints.len()));
                for (number, text) in hints.iter().enumerate() {
                    self.print(&format!("  {}. {text}", number + 1));
                }
            }
        }
    }

    /// A question on stderr, the answer to be read from stdin (no newline: it is a prompt).
    #[allow(clippy::print_stderr)]
    pub fn ask(&self, question: &str) {
        eprint!("{question}");
    }
}
