//! container-structure-test's tests judged the way that tool judges them, over what `run`
//! saw (a file's tar header and bytes, a command's output, the image's configuration): no
//! Docker here, so each rule is tested on its own. Every test is one `structure` check.

use crate::challenge::image::ImageCheck;
use crate::challenge::structure::{CommandTest, EnvVar, FileContentTest, FileExistenceTest, MetadataTest, Pattern};
use crate::docker::{ImageFacts, PathEntry, PathKind};
use crate::dockerfile::checks::Outcome;

/// What a command test's container did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandRun {
    pub stdout: String,
    pub stderr: String,
    pub exit_code: i64,
}

fn judged(test: String, problems: Vec<String>) -> Outcome {
    let passed = problems.is_empty();
    let detail = if passed { test } else { format!("{test}: {}", problems.join("; ")) };
    Outcome { name: ImageCheck::Structure, passed, detail }
}

pub fn command(test: &CommandTest, run: &CommandRun) -> Outcome {
    let mut problems = Vec::new();
    let streams = [
        ("output", &run.stdout, &test.expected_output, &test.excluded_output),
        ("error", &run.stderr, &test.expected_error, &test.excluded_error),
    ];
    for (stream, text, expected, excluded) in streams {
        for pattern in expected.iter().filter(|p| !p.is_match(text)) {
            problems.push(format!("expected `{}` not found in {stream} {}", pattern.as_str(), quoted(text)));
        }
        for pattern in excluded.iter().filter(|p| p.is_match(text)) {
            problems.push(format!("excluded `{}` found in {stream} {}", pattern.as_str(), quoted(text)));
        }
    }
    if run.exit_code != test.exit_code {
        problems.push(format!("exit code {}, expected {}", run.exit_code, test.exit_code));
    }
    judged(format!("command test `{}`", test.name), problems)
}

/// `path`: the test's, its variables expanded; `entry`: what is there.
pub fn file_existence(test: &FileExistenceTest, path: &str, entry: Option<&PathEntry>) -> Outcome {
    let name = format!("file existence test `{}`", test.name);
    let entry = match (entry, test.should_exist) {
        (None, true) => return judged(name, vec![format!("{path} does not exist")]),
        (None, false) => return judged(name, vec![]),
        (Some(_), false) => return judged(name, vec![format!("{path} should not exist but does")]),
        (Some(entry), true) => entry,
    };
    let mut problems = Vec::new();
    let permissions = mode_string(entry.kind, entry.mode);
    if let Some(expected) = test.permissions.as_ref().filter(|p| **p != permissions) {
        problems.push(format!("{path} has permissions {permissions}, expected {expected}"));
    }
    if let Some(party) = test.executable_by.filter(|party| entry.mode & party.bits() == 0) {
        problems.push(format!("{path} is not executable by {} ({permissions})", party.name()));
    }
    if let Some(uid) = test.uid.filter(|uid| *uid != entry.uid) {
        problems.push(format!("{path} is owned by uid {}, expected {uid}", entry.uid));
    }
    if let Some(gid) = test.gid.filter(|gid| *gid != entry.gid) {
        problems.push(format!("{path} has gid {}, expected {gid}", entry.gid));
    }
    judged(name, problems)
}

/// `contents`: the file's bytes, or why they could not be read.
pub fn file_content(test: &FileContentTest, contents: Result<&[u8], String>) -> Outcome {
    let name = format!("file content test `{}`", test.name);
    let text = match contents {
        Ok(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        Err(why) => return judged(name, vec![why]),
    };
    let mut problems = Vec::new();
    for pattern in test.expected.iter().filter(|p| !p.is_match(&text)) {
        problems.push(format!("expected `{}` not found in {}", pattern.as_str(), test.path));
    }
    for pattern in test.excluded.iter().filter(|p| p.is_match(&text)) {
        problems.push(format!("excluded `{}` found in {}", pattern.as_str(), test.path));
    }
    judged(name, problems)
}

pub fn metadata(test: &MetadataTest, facts: &ImageFacts) -> Outcome {
    let mut problems = Vec::new();
    let env: Vec<(String, String)> = facts
        .env
        .iter()
        .map(|pair| pair.split_once('=').map_or((pair.clone(), String::new()), |(k, v)| (k.into(), v.into())))
        .collect();
    for wanted in &test.env {
        let value = env.iter().find(|(key, _)| *key == wanted.key).map(|(_, v)| v.as_str());
        problems.extend(pair_problem("env var", wanted, value));
    }
    for wanted in &test.labels {
        problems.extend(pair_problem("label", wanted, facts.labels.get(&wanted.key).map(String::as_str)));
    }
    let ports: Vec<&str> = facts.exposed.iter().map(|p| p.split('/').next().unwrap_or(p)).collect();
    for port in &test.exposed_ports {
        if !ports.contains(&port.as_str()) {
            problems.push(format!("port {port} is not exposed"));
        }
    }
    for port in &test.unexposed_ports {
        if ports.contains(&port.as_str()) {
            problems.push(format!("port {port} is exposed"));
        }
    }
    for volume in &test.volumes {
        if !facts.volumes.contains(volume) {
            problems.push(format!("volume {volume} is not declared"));
        }
    }
    for volume in &test.unmounted_volumes {
        if facts.volumes.contains(volume) {
            problems.push(format!("volume {volume} is declared"));
        }
    }
    let lists = [("entrypoint", &test.entrypoint, &facts.entrypoint), ("cmd", &test.cmd, &facts.cmd)];
    for (what, expected, actual) in lists {
        if let Some(expected) = expected.as_ref().filter(|e| *e != actual) {
            problems.push(format!("{what} is {actual:?}, expected {expected:?}"));
        }
    }
    if let Some(workdir) = test.workdir.as_ref().filter(|w| **w != facts.workdir) {
        problems.push(format!("workdir is `{}`, expected `{workdir}`", facts.workdir));
    }
    if let Some(user) = test.user.as_ref().filter(|u| **u != facts.user) {
        problems.push(format!("user is `{}`, expected `{user}`", facts.user));
    }
    judged("metadata test".to_string(), problems)
}

fn pair_problem(what: &str, wanted: &EnvVar, value: Option<&str>) -> Option<String> {
    let Some(value) = value else { return Some(format!("{what} {} is not set", wanted.key)) };
    let matches = if wanted.is_regex {
        Pattern::new(&wanted.value).is_ok_and(|pattern| pattern.is_match(value))
    } else {
        wanted.value == value
    };
    (!matches).then(|| format!("{what} {} is `{value}`, expected `{}`", wanted.key, wanted.value))
}

/// A mode as Go's `os.FileMode` prints it, which is what the tool's `permissions` compare
/// against: type and special-bit letters first (`d`, `L`, `u`, `g`, `t` …), `-` when none.
pub fn mode_string(kind: PathKind, mode: u32) -> String {
    let mut letters = String::new();
    let flags = [
        ('d', kind == PathKind::Directory),
        ('L', kind == PathKind::Symlink),
        ('D', matches!(kind, PathKind::BlockDevice | PathKind::CharDevice)),
        ('p', kind == PathKind::Fifo),
        ('u', mode & 0o4000 != 0),
        ('g', mode & 0o2000 != 0),
        ('c', kind == PathKind::CharDevice),
        ('t', mode & 0o1000 != 0),
    ];
    letters.extend(flags.iter().filter(|(_, set)| *set).map(|(letter, _)| letter));
    if letters.is_empty() {
        letters.push('-');
    }
    for (bit, letter) in (0..9).rev().zip("rwxrwxrwx".chars()) {
        letters.push(if mode >> bit & 1 == 1 { letter } else { '-' });
    }
    letters
}

/// `$VAR` and `${VAR}` replaced from the image's environment (`KEY=value` pairs), as the tool
/// does for commands, arguments and paths; an unset variable becomes empty.
pub fn expand(text: &str, env: &[String]) -> String {
    let lookup = |name: &str| {
        env.iter().find_map(|pair| pair.strip_prefix(name).and_then(|rest| rest.strip_prefix('='))).unwrap_or("")
    };
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let (name, consumed) = match after.strip_prefix('{').and_then(|inner| inner.split_once('}')) {
            Some((name, _)) => (name, name.len() + 2),
            None => {
                let len = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
                (&after[..len], len)
            }
        };
        if name.is_empty() {
            out.push('$');
        } else {
            out.push_str(lookup(name));
        }
        rest = &after[consumed..];
    }
    out.push_str(rest);
    out
}

fn quoted(text: &str) -> String {
    let text = text.trim();
    if text.is_empty() {
        return "(empty)".into();
    }
    let short: String = text.chars().take(160).collect();
    let more = if short.len() < text.len() { "…" } else { "" };
    format!("`{}{more}`", short.replace('\n', "⏎"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::challenge::structure::ExecutableBy;

    fn pattern(text: &str) -> Pattern {
        Pattern::new(text).unwrap()
    }

    #[test]
    fn modes_print_as_go_prints_them() {
        assert_eq!(mode_string(PathKind::Regular, 0o644), "-rw-r--r--");
        assert_eq!(mode_string(PathKind::Directory, 0o755), "drwxr-xr-x");
        assert_eq!(mode_string(PathKind::Symlink, 0o777), "Lrwxrwxrwx");
        assert_eq!(mode_string(PathKind::Regular, 0o4755), "urwxr-xr-x");
        assert_eq!(mode_string(PathKind::Directory, 0o1777), "dtrwxrwxrwx");
        assert_eq!(mode_string(PathKind::CharDevice, 0o666), "Dcrw-rw-rw-");
    }

    #[test]
    fn command_tests_judge_output_errors_and_exit_code() {
        let test = CommandTest {
            name: "version".into(),
            setup: vec![],
            env: vec![],
            command: "app".into(),
            args: vec![],
            expected_output: vec![pattern(r"v\d+")],
            excluded_output: vec![pattern("debug")],
            expected_error: vec![],
            excluded_error: vec![pattern("(?i)warning")],
            exit_code: 0,
        };
        let good = CommandRun { stdout: "app v2\n".into(), stderr: String::new(), exit_code: 0 };
        assert!(command(&test, &good).passed);
        let bad = CommandRun { stdout: "debug build\n".into(), stderr: "WARNING: x".into(), exit_code: 3 };
        let failed = command(&test, &bad);
        assert!(!failed.passed);
        for part in [
            "expected `v\\d+` not found",
            "excluded `debug` found",
            "excluded `(?i)warning` found in error",
            "exit code 3",
        ] {
            assert!(failed.detail.contains(part), "{part} in {}", failed.detail);
        }
    }

    #[test]
    fn file_existence_compares_permissions_owner_and_execute_bits() {
        let entry = PathEntry { kind: PathKind::Regular, mode: 0o644, uid: 0, gid: 0, link: None, contents: None };
        let test = FileExistenceTest {
            name: "app".into(),
            path: "/app/run".into(),
            should_exist: true,
            permissions: None,
            uid: None,
            gid: None,
            executable_by: None,
        };
        let path = "/app/run";
        assert!(file_existence(&test, path, Some(&entry)).passed);
        assert!(!file_existence(&test, path, None).passed);
        let absent = FileExistenceTest { should_exist: false, ..test.clone() };
        assert!(file_existence(&absent, path, None).passed && !file_existence(&absent, path, Some(&entry)).passed);
        let strict = FileExistenceTest {
            permissions: Some("-rwxr-xr-x".into()),
            uid: Some(1000),
            executable_by: Some(ExecutableBy::Owner),
            ..test
        };
        let failed = file_existence(&strict, path, Some(&entry));
        for part in ["permissions -rw-r--r--, expected -rwxr-xr-x", "not executable by owner", "uid 0, expected 1000"] {
            assert!(failed.detail.contains(part), "{part} in {}", failed.detail);
        }
    }

    #[test]
    fn file_content_needs_every_expected_and_no_excluded_pattern() {
        let test = FileContentTest {
            name: "conf".into(),
            path: "/etc/app.conf".into(),
            expected: vec![pattern("port = 80")],
            excluded: vec![pattern("password")],
        };
        assert!(file_content(&test, Ok(b"port = 8080\n")).passed);
        assert!(!file_content(&test, Ok(b"port = 8080\npassword = x\n")).passed);
        let missing = file_content(&test, Err("/etc/app.conf does not exist".into()));
        assert!(missing.detail.contains("does not exist"), "{missing:?}");
    }

    #[test]
    fn metadata_compares_what_the_test_sets() {
        let facts = ImageFacts {
            env: vec!["PORT=8080".into(), "PATH=/usr/bin".into()],
            labels: [("version".to_string(), "1.4".to_string())].into(),
            exposed: vec!["8080/tcp".into()],
            cmd: vec!["python3".into(), "app.py".into()],
            workdir: "/app".into(),
            user: "app".into(),
            ..ImageFacts::default()
        };
        let version = EnvVar { key: "version".into(), value: r"^1\.".into(), is_regex: true };
        let port = EnvVar { key: "PORT".into(), value: "8080".into(), is_regex: false };
        let good = MetadataTest {
            env: vec![port],
            labels: vec![version],
            exposed_ports: vec!["8080".into()],
            unexposed_ports: vec!["22".into()],
            cmd: Some(vec!["python3".into(), "app.py".into()]),
            entrypoint: Some(vec![]),
            workdir: Some("/app".into()),
            user: Some("app".into()),
            ..MetadataTest::default()
        };
        assert!(metadata(&good, &facts).passed, "{:?}", metadata(&good, &facts));
        let bad = MetadataTest {
            exposed_ports: vec!["9090".into()],
            user: Some("root".into()),
            volumes: vec!["/data".into()],
            ..good
        };
        let failed = metadata(&bad, &facts);
        for part in ["port 9090 is not exposed", "user is `app`, expected `root`", "volume /data"] {
            assert!(failed.detail.contains(part), "{part} in {}", failed.detail);
        }
    }

    #[test]
    fn variables_expand_from_the_image_environment() {
        let env = ["HOME=/home/app".to_string(), "APP=srv".to_string()];
        assert_eq!(expand("$HOME/bin/${APP}.py", &env), "/home/app/bin/srv.py");
        assert_eq!(expand("cost $5 and $UNSET.", &env), "cost  and .");
        assert_eq!(expand("plain", &env), "plain");
    }
}
