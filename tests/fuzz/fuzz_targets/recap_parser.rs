//! Fuzzes the `ansible-playbook` output parser, `PlaybookLog::push`.
//!
//! The input is a stream of output (invalid UTF-8 replaced, as the runner receives it), fed one
//! line at a time with its `\r` kept; then every public field is read and the documented
//! invariants are checked (the `--diff` output kept for changed tasks included).

#![no_main]

use libfuzzer_sys::fuzz_target;
use sandbox::run::recap::{HostRecap, PlaybookLog};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut log = PlaybookLog::default();
    for line in text.split('\n') {
        log.push(line);
    }

    for (host, recap) in &log.recap {
        let HostRecap { ok, changed, unreachable, failed, skipped, rescued, ignored } = *recap;
        let total =
            [ok, changed, unreachable, failed, skipped, rescued, ignored].iter().map(|&n| u64::from(n)).sum::<u64>();
        assert_eq!(recap.succeeded(), failed == 0 && unreachable == 0, "{host}: {total}");
        assert_eq!(host.trim(), host, "recap host {host:?} is not trimmed");
    }
    for (host, tasks) in &log.changed_tasks {
        assert!(!host.is_empty());
        // "in order, without repeats"
        for (i, task) in tasks.iter().enumerate() {
            assert!(!tasks[..i].contains(task), "{host}: {task:?} repeated");
        }
    }
    for (host, message) in &log.failures {
        assert!(!host.is_empty());
        assert!(message.starts_with("task `"), "{message:?}");
    }
    for (host, diffs) in &log.diffs {
        // A diff is kept only for a task that reported changed on that host.
        let changed = log.changed_tasks.get(host).map(Vec::as_slice).unwrap_or_default();
        for (task, diff) in diffs {
            assert!(changed.contains(task), "{host}: diff of {task:?}, which did not change");
            assert!(diff.starts_with("--- before"), "{host}: {diff:?}");
        }
    }
    for error in &log.errors {
        assert!(error.starts_with("ERROR!") || error.starts_with("[ERROR]"), "{error:?}");
    }
});
