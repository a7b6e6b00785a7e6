//! Fuzzes the container-structure-test YAML reader, `structure::parse`, which reads the file a
//! Docker challenge names as `[checks] structure`.
//!
//! The input is the YAML file (invalid UTF-8 replaced, as `read_to_string` would refuse it).
//! A refusal is turned into the diagnostic `Challenge::load` builds from it and rendered the
//! way `sandbox lint` prints it, so a span that does not fit the file is caught too; a file
//! read without error is checked against what the format promises.

#![no_main]

use std::path::PathBuf;

use libfuzzer_sys::fuzz_target;
use miette::NamedSource;
use sandbox::challenge::structure::{self, StructureTests};
use sandbox::challenge::ChallengeError;

mod shared;
use shared::{render, verbose};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match structure::parse(&text) {
        Err(err) => {
            // "What is wrong with the file, and where (a byte range of it)."
            assert!(
                text.get(err.span.clone()).is_some(),
                "span {:?} of {} bytes: {}",
                err.span,
                text.len(),
                err.message
            );
            let path = PathBuf::from("structure-tests.yaml");
            let _ = render(ChallengeError::StructureTests {
                message: err.message,
                src: NamedSource::new(path.display().to_string(), text.to_string()),
                span: err.span.into(),
                path,
            });
        }
        Ok(tests) => {
            if verbose() {
                eprintln!("read {tests:?}");
            }
            typed(&tests);
        }
    }
});

/// What a file that was read promises its runner.
fn typed(tests: &StructureTests) {
    let _ = tests.is_empty();
    for command in &tests.commands {
        assert!(command.setup.iter().all(|words| !words.is_empty()), "{command:?}");
        for pattern in command.expected_output.iter().chain(&command.excluded_output) {
            let _ = pattern.is_match(&command.command);
        }
        for pattern in command.expected_error.iter().chain(&command.excluded_error) {
            let _ = pattern.is_match(&command.name);
        }
    }
    for file in &tests.files {
        if let Some(party) = file.executable_by {
            assert_ne!(party.bits() & 0o111, 0);
            let _ = party.name();
        }
    }
    for content in &tests.contents {
        for pattern in content.expected.iter().chain(&content.excluded) {
            let _ = pattern.is_match(&content.path);
        }
    }
    let metadata = tests.metadata.iter().flat_map(|m| m.env.iter().chain(&m.labels));
    for var in tests.global_env.iter().chain(tests.commands.iter().flat_map(|c| &c.env)).chain(metadata) {
        // A value marked isRegex was checked to compile.
        if var.is_regex {
            assert!(structure::Pattern::new(&var.value).is_ok(), "{var:?}");
        }
    }
}
