//! The one place that prints: the terminal (a run's live lines, tables, verdicts) and the
//! suite's progress. Built once per command; the domain reports through `report::Reporter`
//! and never imports from here.

pub mod learner;
pub mod progress;
pub mod terminal;
