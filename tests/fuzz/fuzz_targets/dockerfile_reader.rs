//! Fuzzes the Docker track's Dockerfile reader: `instructions`, `check` (what every build runs
//! on the learner's Dockerfile before anything is built) and `findings` (what `sandbox lint`
//! shows).
//!
//! The input is a Dockerfile (invalid UTF-8 replaced). It is checked against the base images
//! of the built-in catalog, as a challenge naming every distro would be; every finding is
//! rendered the way `sandbox lint` prints it, so a span that does not fit the file is caught too.

#![no_main]

use libfuzzer_sys::fuzz_target;
use sandbox::challenge::dockerfile::{check, findings, instructions};
use sandbox::distro::Catalog;

mod shared;
use shared::{render, verbose};

/// A byte range of `text` that can be sliced: in bounds, on character boundaries.
fn fits(text: &str, start: usize, end: usize) -> bool {
    text.get(start..end).is_some()
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let catalog = Catalog::builtin();
    let allowed: Vec<&str> = catalog.all().map(|d| d.base_image).collect();

    let found = instructions(&text);
    for instruction in &found {
        let ((start, end), (keyword_start, keyword_end)) = (instruction.span, instruction.keyword_span);
        assert!(fits(&text, start, end), "arguments {start}..{end} of {} bytes: {instruction:?}", text.len());
        assert!(fits(&text, keyword_start, keyword_end), "keyword of {} bytes: {instruction:?}", text.len());
        let whole = instruction.whole();
        assert!(fits(&text, whole.offset(), whole.offset() + whole.len()), "whole: {instruction:?}");
        assert_eq!(instruction.keyword, instruction.keyword.to_ascii_uppercase());
        assert_eq!(instruction.arguments.trim(), instruction.arguments, "{instruction:?}");
        assert!(!instruction.keyword.contains(char::is_whitespace), "{instruction:?}");
    }

    let all = findings(&text, "Dockerfile", &allowed);
    match check(&text, "Dockerfile", &allowed) {
        Ok(checked) => {
            assert!(all.is_empty(), "check accepted what findings refuses: {all:?}");
            assert_eq!(checked, found, "check read other instructions than instructions()");
            if verbose() {
                eprintln!("accepted {} instruction(s): {checked:?}", checked.len());
            }
        }
        Err(first) => {
            // A build stops at the first problem lint shows.
            assert_eq!(Some(first.to_string()), all.first().map(ToString::to_string));
            assert_eq!(Some(first.span()), all.first().map(|e| e.span()));
        }
    }
    for err in all {
        let span = err.span();
        assert!(fits(&text, span.offset(), span.offset() + span.len()), "{err:?}");
        let _ = render(err);
    }
});
