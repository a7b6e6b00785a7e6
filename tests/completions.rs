//! `completions/` must hold exactly what the CLI generates.

use sandbox::cli::{completions, Shell};

use crate::harness::{repo, Sandbox};

#[test]
fn committed_completions_match_the_cli() {
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let path = repo().join("completions").join(shell.file_name());
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        // Compared without dumping both files: the message says how to fix it.
        assert!(
            committed.trim_end() == completions(shell).trim_end(),
            "{} is stale: regenerate with `cargo run -- completions {} > {}`",
            path.display(),
            format!("{shell:?}").to_lowercase(),
            path.display()
        );
    }
}

#[test]
fn completions_command_prints_them() {
    let out = Sandbox::new(["completions", "bash"]).status(0).run();
    assert!(out.stdout.contains("_sandbox()"), "{}", out.stdout);
    assert!(out.stdout.contains("--solution"));
}
