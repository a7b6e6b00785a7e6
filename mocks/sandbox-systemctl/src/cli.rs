//! systemctl's command line: options may come anywhere, before or after the verb, in
//! systemctl's own spellings. Options the stand-in has no use for are accepted and ignored,
//! so that what Ansible, packages and learners type never fails on an option alone.

use std::fmt;

#[derive(Debug, Default, Clone)]
pub struct Options {
    pub quiet: bool,
    pub all: bool,
    pub plain: bool,
    pub legend: bool,
    pub now: bool,
    pub value: bool,
    pub runtime: bool,
    pub full: bool,
    pub version: bool,
    pub help: bool,
    /// `-p`/`--property`, in order (each may hold several, comma- or space-separated).
    pub props: Vec<String>,
    pub types: Vec<String>,
    pub states: Vec<String>,
    pub signal: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Command {
    pub opts: Options,
    /// None when no positional argument was given (then `list-units`).
    pub verb: Option<String>,
    pub args: Vec<String>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum CliError {
    Unrecognized(String),
    NeedsArgument(String),
    ShortNeedsArgument(char),
    InvalidShort(char),
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Unrecognized(a) => write!(f, "systemctl: unrecognized option '{a}'"),
            CliError::NeedsArgument(a) => write!(f, "systemctl: option '{a}' requires an argument"),
            CliError::ShortNeedsArgument(c) => write!(f, "systemctl: option requires an argument -- '{c}'"),
            CliError::InvalidShort(c) => write!(f, "systemctl: invalid option -- '{c}'"),
        }
    }
}

/// Long options that take a value and that the stand-in uses.
const USED_VALUE: [&str; 5] = ["type", "state", "property", "legend", "signal"];
/// Long options that take a value and are ignored.
const IGNORED_VALUE: [&str; 19] = [
    "kill-whom",
    "kill-value",
    "job-mode",
    "root",
    "image",
    "lines",
    "output",
    "host",
    "machine",
    "preset-mode",
    "what",
    "message",
    "timestamp",
    "drop-in",
    "check-inhibitors",
    "boot-loader-entry",
    "boot-loader-menu",
    "reboot-argument",
    "when",
];
/// Flags that change nothing here.
const IGNORED_FLAGS: [&str; 27] = [
    "no-pager",
    "no-ask-password",
    "no-block",
    "system",
    "user",
    "global",
    "no-reload",
    "no-wall",
    "no-warn",
    "show-types",
    "recursive",
    "reverse",
    "after",
    "before",
    "with-dependencies",
    "show-transaction",
    "fail",
    "ignore-inhibitors",
    "dry-run",
    "wait",
    "mkdir",
    "marked",
    "read-only",
    "firmware-setup",
    "irreversible",
    "ignore-dependencies",
    "force",
];

fn takes_value(name: &str) -> bool {
    USED_VALUE.contains(&name) || IGNORED_VALUE.contains(&name)
}

impl Options {
    fn set(&mut self, key: &str, value: &str) {
        match key {
            "t" | "type" => self.types.push(value.to_string()),
            "state" => self.states.push(value.to_string()),
            "p" | "property" => self.props.push(value.to_string()),
            "P" => {
                self.props.push(value.to_string());
                self.value = true;
            }
            "s" | "signal" => self.signal = Some(value.to_string()),
            "legend" => self.legend = !matches!(value, "no" | "false" | "0" | "off"),
            _ => {}
        }
    }

    fn flag(&mut self, name: &str) -> bool {
        match name {
            "quiet" => self.quiet = true,
            "full" => self.full = true,
            "all" => self.all = true,
            "plain" => self.plain = true,
            "no-legend" => self.legend = false,
            "now" => self.now = true,
            "value" => self.value = true,
            "runtime" => self.runtime = true,
            "failed" => self.states.push("failed".into()),
            "version" => self.version = true,
            "help" => self.help = true,
            other => return IGNORED_FLAGS.contains(&other),
        }
        true
    }

    /// The requested properties, split at commas and blanks.
    pub fn properties(&self) -> Vec<&str> {
        self.props.iter().flat_map(|p| p.split([',', ' '])).filter(|p| !p.is_empty()).collect()
    }

    pub fn type_list(&self) -> Vec<&str> {
        self.types.iter().flat_map(|t| t.split(',')).filter(|t| !t.is_empty()).collect()
    }

    pub fn state_list(&self) -> Vec<&str> {
        self.states.iter().flat_map(|t| t.split(',')).filter(|t| !t.is_empty()).collect()
    }
}

pub fn parse(args: &[String]) -> Result<Command, CliError> {
    let mut opts = Options { legend: true, ..Options::default() };
    let mut verb = None;
    let mut rest = Vec::new();
    let mut end_of_options = false;
    let mut it = args.iter();
    let mut positional = |a: &str, verb: &mut Option<String>| {
        if verb.is_none() {
            *verb = Some(a.to_string());
        } else {
            rest.push(a.to_string());
        }
    };
    while let Some(a) = it.next() {
        if end_of_options {
            positional(a, &mut verb);
        } else if a == "--" {
            end_of_options = true;
        } else if let Some(long) = a.strip_prefix("--") {
            if let Some((key, value)) = long.split_once('=') {
                if !takes_value(key) {
                    return Err(CliError::Unrecognized(a.clone()));
                }
                opts.set(key, value);
            } else if takes_value(long) {
                let value = it.next().ok_or_else(|| CliError::NeedsArgument(a.clone()))?;
                opts.set(long, value);
            } else if !opts.flag(long) {
                return Err(CliError::Unrecognized(a.clone()));
            }
        } else if a.len() > 1 && a.starts_with('-') {
            short_options(&a[1..], &mut opts, &mut it)?;
        } else {
            positional(a, &mut verb);
        }
    }
    Ok(Command { opts, verb, args: rest })
}

fn short_options<'a>(
    cluster: &str,
    opts: &mut Options,
    it: &mut impl Iterator<Item = &'a String>,
) -> Result<(), CliError> {
    for (i, c) in cluster.char_indices() {
        match c {
            'q' => opts.quiet = true,
            'l' => opts.full = true,
            'a' => opts.all = true,
            'f' => {}
            'h' => opts.help = true,
            'r' | 'i' | 'T' => {}
            't' | 'p' | 'P' | 's' | 'n' | 'o' | 'H' | 'M' => {
                let attached = &cluster[i + c.len_utf8()..];
                let value = if !attached.is_empty() {
                    attached.to_string()
                } else {
                    it.next().ok_or(CliError::ShortNeedsArgument(c))?.clone()
                };
                opts.set(&c.to_string(), &value);
                return Ok(());
            }
            other => return Err(CliError::InvalidShort(other)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Command, CliError> {
        parse(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn options_anywhere_and_clusters() {
        let c = p(&["-ql", "is-enabled", "nginx", "--no-pager", "-pLoadState", "-t", "service"]).unwrap();
        assert!(c.opts.quiet && c.opts.full);
        assert_eq!(c.verb.as_deref(), Some("is-enabled"));
        assert_eq!(c.args, ["nginx"]);
        assert_eq!(c.opts.properties(), ["LoadState"]);
        assert_eq!(c.opts.type_list(), ["service"]);
    }

    #[test]
    fn errors_say_what_systemctl_says() {
        assert_eq!(p(&["--frobnicate"]).unwrap_err().to_string(), "systemctl: unrecognized option '--frobnicate'");
        assert_eq!(p(&["--no-pager=1"]).unwrap_err(), CliError::Unrecognized("--no-pager=1".into()));
        assert_eq!(p(&["--type"]).unwrap_err(), CliError::NeedsArgument("--type".into()));
        assert_eq!(p(&["-p"]).unwrap_err(), CliError::ShortNeedsArgument('p'));
        assert_eq!(p(&["-z"]).unwrap_err(), CliError::InvalidShort('z'));
    }

    #[test]
    fn dash_dash_ends_options_and_p_upper_means_value() {
        let c = p(&["-P", "ActiveState", "show", "--", "-weird"]).unwrap();
        assert!(c.opts.value);
        assert_eq!(c.args, ["-weird"]);
        let c = p(&["list-units", "--legend=no", "--failed", "--state=active,failed"]).unwrap();
        assert!(!c.opts.legend);
        assert_eq!(c.opts.state_list(), ["failed", "active", "failed"]);
    }
}
