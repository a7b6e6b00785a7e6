//! What every target does with a diagnostic: render it the way the CLI prints it, so a span
//! that does not fit its source text is caught too. Not a target (`Cargo.toml` lists those).

use std::sync::OnceLock;

/// `{:?}` of a miette `Report`, as `sandbox lint` and the commands print an error.
pub fn render(diagnostic: impl miette::Diagnostic + Send + Sync + 'static) -> String {
    let text = format!("{:?}", miette::Report::new(diagnostic));
    if verbose() {
        eprintln!("{text}");
    }
    text
}

/// `FUZZ_VERBOSE=1 target/…/TARGET FILE…` prints what each input leads to, to check that a
/// seed reaches the code it was written for.
pub fn verbose() -> bool {
    static VERBOSE: OnceLock<bool> = OnceLock::new();
    *VERBOSE.get_or_init(|| std::env::var_os("FUZZ_VERBOSE").is_some())
}
