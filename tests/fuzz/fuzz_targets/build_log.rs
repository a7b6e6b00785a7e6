//! Fuzzes the classic builder's log reader, `BuildLog`, which turns what a build printed into
//! the steps a failed build's verdict and the cache check read, and `Step::failure`, which
//! tells from a step's output why it failed.
//!
//! The input is the log (invalid UTF-8 replaced), fed one line at a time as the engine hands
//! them over; then the steps are read both ways and checked against the lines that made them.

#![no_main]

use libfuzzer_sys::fuzz_target;
use sandbox::dockerfile::log::StepFailure;
use sandbox::dockerfile::BuildLog;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let lines: Vec<&str> = text.lines().collect();
    let mut log = BuildLog::default();
    for line in &lines {
        log.push(line);
    }

    // `Step N/M : INSTRUCTION` opens a step, and nothing else does.
    let headers = lines.iter().filter(|l| l.strip_prefix("Step ").is_some_and(|rest| rest.contains(" : "))).count();
    let steps = log.steps().to_vec();
    assert_eq!(steps.len(), headers);
    let mut pushed = lines.iter();
    for step in &steps {
        assert!(!step.instruction.contains('\n'), "{step:?}");
        for line in &step.output {
            // What the builder says about a step is not what the step printed.
            let trimmed = line.trim();
            assert!(
                !trimmed.starts_with("--->") && !trimmed.starts_with("Removing intermediate container"),
                "{line:?}"
            );
            // Output lines are pushed lines, in order.
            assert!(pushed.any(|l| l == line), "{line:?} was not pushed in this order");
        }
        let failure = step.failure();
        assert!(!step.output.is_empty() || failure == StepFailure::Command, "{failure:?} from no output");
    }
    assert_eq!(log.into_steps(), steps);
});
