//! journalctl, for targets without a journal: prints the per-unit logs supervised services
//! write to /var/log/sandbox-journal/<unit>.log, the way `journalctl -u UNIT` is used to read
//! them, so systemd's "See ... journalctl -xeu" hint leads somewhere.
//!
//! Supported: -u/--unit UNIT (repeatable, globs allowed), -n/--lines N, -e (the last 1000
//! lines), and accepted but ignored: --no-pager, -x, -q, -b, -o, -p, --since/--until (lines
//! carry no reliable timestamps). -f prints what there is and returns: following would hang
//! the task that ran it.

use std::io::Write;

use crate::root::{self, Root, LOG_DIR};
use crate::show::{SD_VERSION, SD_VERSION_FULL};

const USAGE: &str = "journalctl [OPTIONS...]

Query the journal (sandbox stand-in: the per-unit logs of supervised services).

  -u --unit=UNIT     Show logs from the specified unit
  -n --lines[=INTEGER] Number of journal entries to show
  -e --pager-end     Jump to the end (the last 1000 lines)
     --no-pager      Do not pipe output into a pager";

#[derive(Debug, Default, PartialEq, Eq)]
struct Query {
    units: Vec<String>,
    lines: Option<usize>,
}

#[derive(Debug, PartialEq, Eq)]
enum Parsed {
    Query(Query),
    Help,
    Version,
    Error(String),
}

/// The unit name journalctl would use (no suffix means .service; globs kept).
fn unit_name(name: &str) -> String {
    let known = [".service", ".socket", ".timer", ".target", ".mount", ".path"];
    if known.iter().any(|s| name.ends_with(s)) || name.contains(['*', '?']) {
        name.to_string()
    } else {
        format!("{name}.service")
    }
}

fn lines_value(v: &str) -> Result<usize, String> {
    v.parse().map_err(|_| format!("Failed to parse lines '{v}'"))
}

fn parse(args: &[String]) -> Parsed {
    let mut q = Query::default();
    let mut queue: std::collections::VecDeque<String> = args.iter().cloned().collect();
    let ignored = [
        "--no-pager",
        "-x",
        "--catalog",
        "-q",
        "--quiet",
        "--no-hostname",
        "--merge",
        "-m",
        "-a",
        "--all",
        "--utc",
        "-l",
        "--full",
        "-r",
        "--reverse",
        "-f",
        "--follow",
    ];
    let with_value = ["--since", "--until", "--output", "--priority", "--identifier", "-o", "-p", "-t"];
    while let Some(a) = queue.pop_front() {
        let a = a.as_str();
        if let Some(v) = a.strip_prefix("--unit=") {
            q.units.push(unit_name(v));
        } else if a == "--unit" || a == "-u" {
            match queue.pop_front() {
                Some(v) => q.units.push(unit_name(&v)),
                None => return Parsed::Error(format!("journalctl: option '{a}' requires an argument")),
            }
        } else if let Some(v) = a.strip_prefix("--lines=") {
            match lines_value(v) {
                Ok(n) => q.lines = Some(n),
                Err(e) => return Parsed::Error(e),
            }
        } else if a == "--lines" || a == "-n" {
            // The count is optional: take the next word only when it is one.
            match queue.front().and_then(|v| v.parse().ok()) {
                Some(n) => {
                    queue.pop_front();
                    q.lines = Some(n);
                }
                None => q.lines = Some(10),
            }
        } else if let Some(v) = a.strip_prefix("-n") {
            match lines_value(v) {
                Ok(n) => q.lines = Some(n),
                Err(e) => return Parsed::Error(e),
            }
        } else if a == "-e" || a == "--pager-end" {
            q.lines.get_or_insert(1000);
        } else if a == "-b" || a == "--boot" {
            let takes = queue.front().is_some_and(|v| {
                v == "all"
                    || v.starts_with(|c: char| c.is_ascii_digit())
                    || (v.starts_with('-') && v[1..].starts_with(|c: char| c.is_ascii_digit()))
            });
            if takes {
                queue.pop_front();
            }
        } else if ignored.contains(&a)
            || a.starts_with("-b")
            || a.starts_with("--boot=")
            || with_value.iter().any(|o| a.starts_with(&format!("{o}=")))
            || ["-o", "-p", "-t"].iter().any(|o| a.len() > 2 && a.starts_with(o))
        {
            // Accepted, ignored.
        } else if with_value.contains(&a) {
            queue.pop_front();
        } else if a == "-h" || a == "--help" {
            return Parsed::Help;
        } else if a == "--version" {
            return Parsed::Version;
        } else if a.len() > 2 && a.starts_with('-') && !a.starts_with("--") {
            // Grouped short options (-xeu UNIT): split them and parse again.
            let (first, rest) = a.split_at(2);
            if ["-u", "-n", "-b", "-o", "-p", "-t"].contains(&first) {
                queue.push_front(rest.to_string());
            } else {
                queue.push_front(format!("-{rest}"));
            }
            queue.push_front(first.to_string());
        } else {
            return Parsed::Error(format!("journalctl: unrecognized argument '{a}'"));
        }
    }
    Parsed::Query(q)
}

/// The logs asked for (every unit's when none was), one file per unit.
fn files(root: &Root, units: &[String]) -> Vec<std::path::PathBuf> {
    let all = root::names(&root.p(LOG_DIR));
    let logs = all.iter().filter(|n| n.ends_with(".log"));
    let mut out = Vec::new();
    if units.is_empty() {
        out.extend(logs.map(|n| root.p(&format!("{LOG_DIR}/{n}"))));
    } else {
        for u in units {
            let pattern = format!("{u}.log");
            for n in all.iter().filter(|n| root::glob_match(&pattern, n)) {
                out.push(root.p(&format!("{LOG_DIR}/{n}")));
            }
        }
    }
    out.retain(|p| root::is_file(p));
    out
}

pub fn main(root: &Root, args: &[String]) -> i32 {
    let q = match parse(args) {
        Parsed::Query(q) => q,
        Parsed::Help => {
            println!("{USAGE}");
            return 0;
        }
        Parsed::Version => {
            println!("systemd {SD_VERSION} ({SD_VERSION_FULL})");
            return 0;
        }
        Parsed::Error(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    let files = files(root, &q.units);
    if files.is_empty() {
        println!("-- No entries --");
        return 0;
    }
    let mut text = Vec::new();
    for f in files {
        text.extend(std::fs::read(f).unwrap_or_default());
    }
    let mut out = std::io::stdout().lock();
    match q.lines {
        None => {
            let _ = out.write_all(&text);
        }
        Some(n) => {
            let lines: Vec<&[u8]> = text.split_inclusive(|b| *b == b'\n').collect();
            for line in &lines[lines.len().saturating_sub(n)..] {
                let _ = out.write_all(line);
            }
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Parsed {
        parse(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn grouped_short_options_and_line_counts() {
        assert_eq!(p(&["-xeu", "web"]), Parsed::Query(Query { units: vec!["web.service".into()], lines: Some(1000) }));
        assert_eq!(
            p(&["-n2", "-u", "talker"]),
            Parsed::Query(Query { units: vec!["talker.service".into()], lines: Some(2) })
        );
        assert_eq!(p(&["--unit=talker", "--lines=2", "-b"]), p(&["-n", "2", "-u", "talker"]));
        assert_eq!(
            p(&["-n", "-u", "x.socket"]),
            Parsed::Query(Query { units: vec!["x.socket".into()], lines: Some(10) })
        );
        assert_eq!(p(&["--bogus"]), Parsed::Error("journalctl: unrecognized argument '--bogus'".into()));
        assert_eq!(p(&["-nx"]), Parsed::Error("Failed to parse lines 'x'".into()));
    }
}
