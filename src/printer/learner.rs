//! What the learner's commands print: the challenge list, a task, a hint, the next steps.

use std::io::IsTerminal;
use std::path::Path;

use console::Style;

use crate::learner::{HintShown, ListEntry};

use super::terminal::{aligned, Terminal};

impl Terminal {
    /// `sandbox list`: a row per challenge, the learner's status coloured.
    pub fn challenge_list(&self, entries: &[ListEntry]) {
        let header = ["name", "track", "topic", "difficulty", "platforms", "status", "title"].map(String::from);
        let rows: Vec<[String; 7]> = std::iter::once(header)
            .chain(entries.iter().map(|entry| {
                let status = match entry.status {
                    "attempted" => format!("attempted ({})", entry.attempts),
                    other => other.to_string(),
                };
                let platforms = if entry.platforms.is_empty() { "none here".into() } else { entry.platforms.join(",") };
                [
                    entry.name.clone(),
                    entry.track.to_string(),
                    entry.topic.clone(),
                    entry.difficulty.to_string(),
                    platforms,
                    status,
                    entry.title.clone(),
                ]
            }))
            .collect();
        let style = |row: usize, col: usize, cell: &str| match (row, col) {
            (0, _) => Style::new().bold(),
            (_, 5) if cell == "solved" => Style::new().green(),
            (_, 5) if cell.starts_with("attempted") => Style::new().yellow(),
            _ => Style::new(),
        };
        for line in aligned(&rows, style, self.wants_color()) {
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
