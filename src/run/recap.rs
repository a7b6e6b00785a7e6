//! Reads what `ansible-playbook` printed: per-host PLAY RECAP counts and the tasks that
//! reported `changed`, so idempotency can be judged and explained.
//!
//! The runner forces Ansible's default stdout callback, whose format this parser knows; a
//! challenge's `ansible.cfg` cannot swap in a callback that would fool it.

use std::collections::BTreeMap;

/// One host's line of PLAY RECAP.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HostRecap {
    pub ok: u32,
    pub changed: u32,
    pub unreachable: u32,
    pub failed: u32,
    pub skipped: u32,
    pub rescued: u32,
    pub ignored: u32,
}

impl HostRecap {
    pub fn succeeded(&self) -> bool {
        self.failed == 0 && self.unreachable == 0
    }
}

/// Accumulates a playbook's output line by line, as it streams.
#[derive(Debug, Default)]
pub struct PlaybookLog {
    current_task: Option<String>,
    in_recap: bool,
    /// host → counts, from PLAY RECAP.
    pub recap: BTreeMap<String, HostRecap>,
    /// host → names of tasks/handlers that reported changed, in order, without repeats.
    pub changed_tasks: BTreeMap<String, Vec<String>>,
    /// host → the first failure message Ansible printed for it.
    pub failures: BTreeMap<String, String>,
    /// Lines starting with `ERROR!`: playbook-level errors (syntax, missing role…).
    pub errors: Vec<String>,
    /// host → what each changed task changed, as `--diff` printed it (task, diff).
    pub diffs: BTreeMap<String, Vec<(String, String)>>,
    /// The diff printed since the last result line: Ansible prints a host's diff right
    /// before that host's `changed:` line.
    pending_diff: Option<Vec<String>>,
}

/// The most of one task's diff a report keeps.
const DIFF_LINES: usize = 200;

impl PlaybookLog {
    /// Feeds one line of output (ANSI colour codes allowed).
    pub fn push(&mut self, raw: &str) {
        let line = console::strip_ansi_codes(raw);
        let line = line.trim_end();
        if line.starts_with("--- before") {
            self.pending_diff = Some(vec![line.to_string()]);
            return;
        }
        let is_result =
            ["changed: [", "ok: [", "skipping: [", "fatal: [", "failed: ["].iter().any(|p| line.starts_with(p));
        if let Some(diff) = self.pending_diff.as_mut().filter(|_| !is_result && !line.starts_with("TASK [")) {
            if diff.len() < DIFF_LINES {
                diff.push(line.to_string());
            }
            return;
        }
        let diff = self.pending_diff.take();
        if let Some(name) = header(line, "TASK [").or_else(|| header(line, "RUNNING HANDLER [")) {
            self.current_task = Some(name);
            self.in_recap = false;
        } else if line.starts_with("PLAY RECAP") {
            self.in_recap = true;
        } else if line.starts_with("PLAY [") {
            self.in_recap = false;
        } else if self.in_recap {
            if let Some((host, recap)) = parse_recap_line(line) {
                self.recap.insert(host, recap);
            }
        } else if let Some(rest) = line.strip_prefix("changed: [") {
            if let (Some(host), Some(task)) = (host_of(rest), &self.current_task) {
                if let Some(diff) = diff {
                    let text = diff.join("\n").trim_end().to_string();
                    self.diffs.entry(host.clone()).or_default().push((task.clone(), text));
                }
                let tasks = self.changed_tasks.entry(host).or_default();
                if !tasks.contains(task) {
                    tasks.push(task.clone());
                }
            }
        } else if let Some(rest) = line.strip_prefix("fatal: [").or_else(|| line.strip_prefix("failed: [")) {
            if let Some(host) = host_of(rest) {
                let task = self.current_task.clone().unwrap_or_default();
                let message = failure_message(rest).unwrap_or_else(|| "task failed".into());
                self.failures.entry(host).or_insert_with(|| format!("task `{task}` failed: {message}"));
            }
        } else if line.starts_with("ERROR!") || line.starts_with("[ERROR]") {
            self.errors.push(line.to_string());
        }
    }
}

fn header(line: &str, prefix: &str) -> Option<String> {
    let rest = line.strip_prefix(prefix)?;
    let end = rest.rfind(']')?;
    Some(rest[..end].to_string())
}

/// `debian-12] => …` or `debian-12 -> localhost] …` → `debian-12`.
fn host_of(rest: &str) -> Option<String> {
    let end = rest.find(']')?;
    let host = rest[..end].split(" -> ").next()?.trim();
    (!host.is_empty()).then(|| host.to_string())
}

/// The `"msg": "…"` of a failure line, when Ansible printed one.
fn failure_message(rest: &str) -> Option<String> {
    let json_start = rest.find("=> ")? + 3;
    let value: serde_json::Value = serde_json::from_str(&rest[json_start..]).ok()?;
    let msg = value.get("msg")?.as_str()?.trim();
    let stderr = value.get("stderr").and_then(|s| s.as_str()).unwrap_or("").trim();
    let mut message = msg.to_string();
    if !stderr.is_empty() && !msg.contains(stderr) {
        message = format!("{msg}: {}", stderr.lines().last().unwrap_or(stderr));
    }
    Some(message.chars().take(300).collect())
}

/// `debian-12 : ok=3 changed=1 unreachable=0 failed=0 skipped=0 rescued=0 ignored=0`
fn parse_recap_line(line: &str) -> Option<(String, HostRecap)> {
    let (host, counts) = line.split_once(" : ")?;
    let mut recap = HostRecap::default();
    let mut seen = false;
    for pair in counts.split_whitespace() {
        let Some((key, value)) = pair.split_once('=') else { continue };
        let Ok(value) = value.parse() else { continue };
        seen = true;
        match key {
            "ok" => recap.ok = value,
            "changed" => recap.changed = value,
            "unreachable" => recap.unreachable = value,
            "failed" => recap.failed = value,
            "skipped" => recap.skipped = value,
            "rescued" => recap.rescued = value,
            "ignored" => recap.ignored = value,
            _ => {}
        }
    }
    seen.then(|| (host.trim().to_string(), recap))
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTPUT: &str = "\
PLAY [all] *********************************************************************

TASK [Gathering Facts] *********************************************************
ok: [debian-12]
ok: [debian-13]

TASK [append a line] ***********************************************************
\x1b[0;33mchanged: [debian-12]\x1b[0m
changed: [debian-13]

TASK [loop] ********************************************************************
changed: [debian-12] => (item=a)
changed: [debian-12] => (item=b)
fatal: [debian-13]: FAILED! => {\"changed\": false, \"msg\": \"No package matching 'ngnix' is available\"}

RUNNING HANDLER [restart nginx] ************************************************
changed: [debian-12 -> localhost]

PLAY RECAP *********************************************************************
\x1b[0;33mdebian-12\x1b[0m                  : \x1b[0;32mok=4   \x1b[0m \x1b[0;33mchanged=3   \x1b[0m unreachable=0    failed=0    skipped=0    rescued=0    ignored=0
debian-13                  : ok=2    changed=1    unreachable=0    failed=1    skipped=0    rescued=0    ignored=0
";

    fn parse(text: &str) -> PlaybookLog {
        let mut log = PlaybookLog::default();
        text.lines().for_each(|line| log.push(line));
        log
    }

    #[test]
    fn recap_counts_are_read_through_colour_codes() {
        let log = parse(OUTPUT);
        assert_eq!(log.recap["debian-12"], HostRecap { ok: 4, changed: 3, ..Default::default() });
        assert_eq!(log.recap["debian-13"].failed, 1);
        assert!(!log.recap["debian-13"].succeeded());
    }

    #[test]
    fn changed_tasks_are_named_once_per_host_handlers_included() {
        let log = parse(OUTPUT);
        assert_eq!(log.changed_tasks["debian-12"], ["append a line", "loop", "restart nginx"]);
        assert_eq!(log.changed_tasks["debian-13"], ["append a line"]);
    }

    #[test]
    fn failures_keep_task_and_message() {
        let log = parse(OUTPUT);
        assert_eq!(log.failures["debian-13"], "task `loop` failed: No package matching 'ngnix' is available");
    }

    #[test]
    fn a_changed_task_keeps_the_diff_printed_before_it() {
        let log = parse(
            "TASK [write motd] ***\n--- before: /etc/motd\n+++ after: /etc/motd\n@@ -1 +1 @@\n-old\n+new\n\n\
             changed: [debian-12]\n--- before: /etc/motd\n+++ after: /etc/motd\nok: [debian-13]\n",
        );
        let expected = "--- before: /etc/motd\n+++ after: /etc/motd\n@@ -1 +1 @@\n-old\n+new";
        assert_eq!(log.diffs["debian-12"], [("write motd".to_string(), expected.to_string())]);
        assert!(!log.diffs.contains_key("debian-13"), "a diff followed by ok is no change");
        assert_eq!(log.changed_tasks["debian-12"], ["write motd"]);
    }

    #[test]
    fn playbook_errors_are_collected() {
        let log = parse("ERROR! We were unable to read either as JSON nor YAML\n");
        assert_eq!(log.errors.len(), 1);
        assert!(log.recap.is_empty());
    }
}
