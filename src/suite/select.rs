//! Which challenges one `sandbox test` runs, for CI beyond one machine: a shard's share of
//! the discovered set (`--partition K/N`, the way a GitHub Actions matrix or GitLab's
//! `parallel:` hands out work) and only what a change touched (`--changed-since REF`).
//!
//! Selection is data: it returns what was chosen and why; the command prints it. The same
//! tree gives the same shares on every machine: challenges are ordered by id (never by an
//! absolute path, which differs between runners), and `hash:` shares hash the id alone.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::process::Command;
use std::str::FromStr;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::suite::SuiteReport;

/// `K/N` or `hash:K/N`: share K (1-based) of N.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    pub scheme: Scheme,
    pub index: usize,
    pub count: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Balanced: by recorded durations when there are some, else by count.
    Balanced,
    /// By a hash of each challenge's id: a challenge keeps its share when others come and go.
    Hash,
}

impl FromStr for Partition {
    type Err = String;

    fn from_str(text: &str) -> Result<Partition, String> {
        let (scheme, rest) = match text.strip_prefix("hash:") {
            Some(rest) => (Scheme::Hash, rest),
            None => (Scheme::Balanced, text),
        };
        let usage = || format!("`{text}` is not a share: write K/N or hash:K/N with 1 <= K <= N (e.g. 2/4)");
        let (index, count) = rest.split_once('/').ok_or_else(usage)?;
        let index: usize = index.trim().parse().map_err(|_| usage())?;
        let count: usize = count.trim().parse().map_err(|_| usage())?;
        if count == 0 || index == 0 || index > count {
            return Err(usage());
        }
        Ok(Partition { scheme, index, count })
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefix = if self.scheme == Scheme::Hash { "hash:" } else { "" };
        write!(f, "{prefix}{}/{}", self.index, self.count)
    }
}

/// How a share was balanced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Balance {
    Count,
    Durations,
    Hash,
}

impl Balance {
    pub fn describe(self) -> &'static str {
        match self {
            Balance::Count => "balanced by count",
            Balance::Durations => "balanced by recorded durations",
            Balance::Hash => "placed by a hash of each challenge's id",
        }
    }
}

/// Seconds per challenge id (its solution's and its starter's runs together), recorded by an
/// earlier run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Durations(pub BTreeMap<String, f64>);

impl Durations {
    /// Reads any of the files a run writes: `--save-durations` (`{"durations": {id: s}}`),
    /// a `--json` report, or a `--junit` file (each testsuite is a challenge, its `time` the
    /// sum of its cases).
    pub fn parse(text: &str) -> Result<Durations, String> {
        if text.trim_start().starts_with('<') {
            return Ok(Durations::from_junit(text));
        }
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|err| format!("neither JSON nor JUnit XML: {err}"))?;
        if let Some(map) = value.get("durations").and_then(|d| d.as_object()) {
            let durations = map.iter().filter_map(|(id, s)| Some((id.clone(), s.as_f64()?))).collect();
            return Ok(Durations(durations));
        }
        let Some(challenges) = value.get("challenges").and_then(|c| c.as_array()) else {
            return Err("no `durations` object and no `challenges` array (a `sandbox test --json` report)".into());
        };
        let mut durations = BTreeMap::new();
        for challenge in challenges {
            let Some(id) = challenge.get("challenge").and_then(|c| c.as_str()) else { continue };
            let seconds: f64 = ["solution", "starter"]
                .iter()
                .filter_map(|run| challenge.get(run)?.get("duration_seconds")?.as_f64())
                .sum();
            durations.insert(id.to_string(), seconds);
        }
        Ok(Durations(durations))
    }

    /// A testsuite's `time`, or its testcases' added up where the writer leaves it out.
    fn from_junit(text: &str) -> Durations {
        let mut durations = BTreeMap::new();
        for suite in text.split("<testsuite ").skip(1) {
            let tag = suite.split('>').next().unwrap_or_default();
            let Some(name) = xml_attribute(tag, "name") else { continue };
            let time = |tag: &str| xml_attribute(tag, "time").and_then(|t| t.parse::<f64>().ok());
            let seconds = time(tag).unwrap_or_else(|| {
                let body = suite.split("</testsuite>").next().unwrap_or_default();
                body.split("<testcase ").skip(1).filter_map(|case| time(case.split('>').next()?)).sum()
            });
            durations.insert(unescape(&name), seconds);
        }
        Durations(durations)
    }

    /// What a finished suite took, per challenge.
    pub fn of_report(report: &SuiteReport) -> Durations {
        let durations = report
            .challenges
            .iter()
            .map(|c| {
                let seconds: f64 =
                    [&c.solution, &c.starter].iter().filter_map(|r| r.as_ref()).map(|r| r.duration_seconds).sum();
                (c.challenge.clone(), (seconds * 10.0).round() / 10.0)
            })
            .collect();
        Durations(durations)
    }

    /// Adds `newer` over these (a shard records only its share: merging keeps the rest).
    pub fn merge(&mut self, newer: Durations) {
        self.0.extend(newer.0);
    }

    /// The `--save-durations` file.
    pub fn to_json(&self) -> String {
        let value = serde_json::json!({ "durations": self.0 });
        serde_json::to_string_pretty(&value).expect("durations always serialize") + "\n"
    }
}

fn xml_attribute(tag: &str, name: &str) -> Option<String> {
    let start = tag
        .find(&format!(" {name}=\""))
        .map(|i| i + name.len() + 3)
        .or_else(|| tag.starts_with(&format!("{name}=\"")).then_some(name.len() + 2))?;
    let end = tag[start..].find('"')?;
    Some(tag[start..start + end].to_string())
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&apos;", "'").replace("&amp;", "&")
}

/// One share: the positions (into the ids given) it holds, in id order.
#[derive(Debug, Clone, PartialEq)]
pub struct Share {
    pub members: Vec<usize>,
    pub balance: Balance,
    /// The share's expected seconds, when balanced by durations.
    pub estimated_seconds: Option<f64>,
}

/// The share `partition` names of challenges `ids`. Every share is computed the same way on
/// every machine, so the N shares are disjoint and cover all ids.
pub fn partition(ids: &[&str], partition: Partition, durations: Option<&Durations>) -> Share {
    let mut order: Vec<usize> = (0..ids.len()).collect();
    order.sort_by(|&a, &b| ids[a].cmp(ids[b]).then(a.cmp(&b)));
    let wanted = partition.index - 1;
    let mut estimated_seconds = None;
    let (mut members, balance): (Vec<usize>, Balance) = match (partition.scheme, durations) {
        (Scheme::Hash, _) => {
            (order.into_iter().filter(|&i| hash_share(ids[i], partition.count) == wanted).collect(), Balance::Hash)
        }
        (Scheme::Balanced, None) => (
            order.into_iter().enumerate().filter(|(n, _)| n % partition.count == wanted).map(|(_, i)| i).collect(),
            Balance::Count,
        ),
        (Scheme::Balanced, Some(durations)) => {
            // Longest first onto the least loaded share (LPT): within 4/3 of the best split.
            // A challenge without a record (new since) counts as the median of those with
            // one: a single long challenge must not make every new one look long.
            let mut known: Vec<f64> = order.iter().filter_map(|&i| durations.0.get(ids[i]).copied()).collect();
            known.sort_by(f64::total_cmp);
            let median = match known.len() {
                0 => 1.0,
                n if n % 2 == 1 => known[n / 2],
                n => (known[n / 2 - 1] + known[n / 2]) / 2.0,
            };
            let cost = |i: usize| durations.0.get(ids[i]).copied().unwrap_or(median).max(0.0);
            let mut by_cost = order.clone();
            by_cost.sort_by(|&a, &b| cost(b).total_cmp(&cost(a)).then(ids[a].cmp(ids[b])).then(a.cmp(&b)));
            let mut loads = vec![0.0_f64; partition.count];
            let mut members = Vec::new();
            for i in by_cost {
                let least =
                    (0..partition.count).min_by(|&a, &b| loads[a].total_cmp(&loads[b]).then(a.cmp(&b))).unwrap();
                loads[least] += cost(i);
                if least == wanted {
                    members.push(i);
                }
            }
            estimated_seconds = Some((loads[wanted] * 10.0).round() / 10.0);
            (members, Balance::Durations)
        }
    };
    members.sort_by(|&a, &b| ids[a].cmp(ids[b]).then(a.cmp(&b)));
    Share { members, balance, estimated_seconds }
}

/// The 0-based share of `id` among `count`, from the first 8 bytes of its SHA-256.
fn hash_share(id: &str, count: usize) -> usize {
    let digest = Sha256::digest(id.as_bytes());
    let head = u64::from_be_bytes(digest[..8].try_into().expect("a SHA-256 has 32 bytes"));
    (head % count as u64) as usize
}

/// Changed files every challenge depends on, besides `--shared` paths: the mocks every
/// target image is built with (`mocks/`), the inputs of sandbox's own images when the
/// repository is sandbox itself (`src/images/`, `scripts/setup.sh`, which makes the base
/// images). A `roles/` directory outside every challenge is shared too (see `attribute`).
pub const SHARED: &[&str] = &["mocks", "src/images", "scripts/setup.sh"];

/// Changed files sorted by what they select.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Attribution {
    /// Per challenge (in the order given), the changed files inside it.
    pub per_challenge: Vec<Vec<PathBuf>>,
    /// Changed files every challenge depends on: any selects them all.
    pub shared: Vec<PathBuf>,
    /// Changed files no challenge depends on (README.md, docs/, CI files).
    pub ignored: Vec<PathBuf>,
}

/// Sorts `changed` (paths relative to the repository's top) by the challenge directories
/// (relative to the same top) they fall in; outside them, `shared` prefixes and any `roles/`
/// directory make a file shared, anything else is ignored.
pub fn attribute(changed: &[PathBuf], challenges: &[PathBuf], shared: &[PathBuf]) -> Attribution {
    let mut attribution = Attribution { per_challenge: vec![Vec::new(); challenges.len()], ..Default::default() };
    for path in changed {
        let owners: Vec<usize> = (0..challenges.len()).filter(|&i| path.starts_with(&challenges[i])).collect();
        if !owners.is_empty() {
            for i in owners {
                attribution.per_challenge[i].push(path.clone());
            }
            continue;
        }
        let in_roles = path.parent().is_some_and(|dir| dir.components().any(|c| c.as_os_str() == "roles"));
        if in_roles || shared.iter().any(|prefix| path.starts_with(prefix)) {
            attribution.shared.push(path.clone());
        } else {
            attribution.ignored.push(path.clone());
        }
    }
    attribution
}

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("cannot run git (needed by --changed-since): {0}")]
    Missing(std::io::Error),
    #[error("{} is not in a git work tree: {message}", dir.display())]
    NotARepository { dir: PathBuf, message: String },
    #[error("--changed-since {reference}: no such commit here ({message}); in CI, fetch it (e.g. actions/checkout with fetch-depth: 0)")]
    UnknownReference { reference: String, message: String },
    #[error("`git {command}` failed: {message}")]
    Failed { command: String, message: String },
}

/// A git work tree. git is the user's tool here, as ansible is the learner's: sandbox runs
/// the `git` on PATH rather than reading repositories itself, so whatever the user's git
/// understands (worktrees, sparse checkouts, shallow clones deepened by CI) works.
#[derive(Debug, Clone)]
pub struct Repository {
    pub top: PathBuf,
}

impl Repository {
    /// The work tree that holds `dir`.
    pub fn containing(dir: &Path) -> Result<Repository, GitError> {
        let top = git(dir, &["rev-parse", "--show-toplevel"]).map_err(|err| match err {
            GitError::Failed { message, .. } => GitError::NotARepository { dir: dir.to_path_buf(), message },
            other => other,
        })?;
        let top = PathBuf::from(top.trim_end_matches(['\n', '\r']));
        Ok(Repository { top: top.canonicalize().unwrap_or(top) })
    }

    /// Files that differ between `reference` and the work tree (committed since, staged,
    /// unstaged, deleted, and untracked files git does not ignore), relative to the top.
    /// A rename counts as its old and its new path.
    pub fn changed_since(&self, reference: &str) -> Result<Vec<PathBuf>, GitError> {
        let commit = format!("{reference}^{{commit}}");
        git(&self.top, &["rev-parse", "--verify", "--quiet", &commit]).map_err(|err| match err {
            GitError::Failed { message, .. } => GitError::UnknownReference { reference: reference.into(), message },
            other => other,
        })?;
        let diff = git(&self.top, &["diff", "--name-only", "--no-renames", "-z", reference, "--"])?;
        let untracked = git(&self.top, &["ls-files", "--others", "--exclude-standard", "-z"])?;
        let mut files: Vec<PathBuf> =
            diff.split('\0').chain(untracked.split('\0')).filter(|p| !p.is_empty()).map(PathBuf::from).collect();
        files.sort();
        files.dedup();
        Ok(files)
    }

    /// `path` (absolute, or relative to the current directory) relative to the top; None
    /// when it lies outside.
    pub fn relative(&self, path: &Path) -> Option<PathBuf> {
        let absolute = if path.is_absolute() { path.to_path_buf() } else { std::env::current_dir().ok()?.join(path) };
        let absolute = absolute.canonicalize().unwrap_or_else(|_| normalize(&absolute));
        absolute.strip_prefix(&self.top).ok().map(Path::to_path_buf)
    }
}

/// `a/./b/../c` as `a/c`, for paths that do not exist (a deleted shared directory).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

fn git(dir: &Path, args: &[&str]) -> Result<String, GitError> {
    let output = Command::new("git").arg("-C").arg(dir).args(args).output().map_err(GitError::Missing)?;
    if !output.status.success() {
        let message = String::from_utf8_lossy(&output.stderr).trim().to_string();
        let message = if message.is_empty() { format!("exit {}", output.status.code().unwrap_or(-1)) } else { message };
        return Err(GitError::Failed { command: args.join(" "), message });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// What `sandbox test` selected, in its JSON report (`selection`) and for `--list --json`.
#[derive(Debug, Clone, Serialize)]
pub struct Selection {
    /// `K/N` or `hash:K/N`; absent when every selected challenge ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub share: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub balance: Option<Balance>,
    /// The recorded seconds of the share's runs added up (not wall time: `--jobs` overlaps
    /// them), when balanced by recorded durations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimated_seconds: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changed_since: Option<String>,
    /// Challenges found before any selection.
    pub discovered: usize,
    pub selected: Vec<Selected>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Selected {
    pub challenge: String,
    pub dir: String,
    /// Why it was selected (changed files, a shared change, its share).
    pub reasons: Vec<String>,
}

impl Selection {
    /// How the summary names what ran: `share 1/2 (balanced by count) of 10 challenge(s) changed since main`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(share) = &self.share {
            let balance = self.balance.map(|b| format!(", {}", b.describe())).unwrap_or_default();
            let estimate =
                self.estimated_seconds.map(|s| format!(", its runs took {s:.0}s last time")).unwrap_or_default();
            parts.push(format!("share {share}{balance}{estimate}"));
        }
        if let Some(reference) = &self.changed_since {
            parts.push(format!("changed since {reference}"));
        }
        format!("{} of {} challenge(s): {}", self.selected.len(), self.discovered, parts.join("; "))
    }
}

/// At most `max` paths, then how many more.
pub fn some_paths(paths: &[PathBuf], max: usize) -> String {
    let mut shown: Vec<String> = paths.iter().take(max).map(|p| p.display().to_string()).collect();
    if paths.len() > max {
        shown.push(format!("and {} more", paths.len() - max));
    }
    shown.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn share(text: &str) -> Partition {
        text.parse().unwrap()
    }

    const IDS: &[&str] = &["g", "b", "e", "a", "f", "c", "d"];

    fn members(p: &str, durations: Option<&Durations>) -> Vec<&'static str> {
        partition(IDS, share(p), durations).members.into_iter().map(|i| IDS[i]).collect()
    }

    #[test]
    fn shares_parse_and_print_back() {
        assert_eq!(share("2/3"), Partition { scheme: Scheme::Balanced, index: 2, count: 3 });
        assert_eq!(share("hash:1/4").to_string(), "hash:1/4");
        for bad in ["0/2", "3/2", "1/0", "1", "a/b", "hash:", "1/2/3"] {
            assert!(bad.parse::<Partition>().is_err(), "{bad} parsed");
        }
    }

    fn assert_cover_disjoint(scheme: &str, count: usize, durations: Option<&Durations>) {
        let mut all: Vec<&str> =
            (1..=count).flat_map(|k| members(&format!("{scheme}{k}/{count}"), durations)).collect();
        let total = all.len();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), total, "{scheme}{count}: a challenge in two shares");
        assert_eq!(all, vec!["a", "b", "c", "d", "e", "f", "g"], "{scheme}{count}: not all covered");
    }

    #[test]
    fn shares_are_disjoint_and_cover_everything_under_every_scheme() {
        let durations =
            Durations([("a", 100.0), ("b", 5.0), ("c", 50.0), ("g", 40.0)].map(|(k, v)| (k.into(), v)).into());
        for count in 1..=8 {
            assert_cover_disjoint("", count, None);
            assert_cover_disjoint("hash:", count, None);
            assert_cover_disjoint("", count, Some(&durations));
        }
    }

    #[test]
    fn by_count_sizes_differ_by_at_most_one_and_follow_id_order_not_input_order() {
        assert_eq!(members("1/3", None), vec!["a", "d", "g"]);
        assert_eq!(members("2/3", None), vec!["b", "e"]);
        assert_eq!(members("3/3", None), vec!["c", "f"]);
    }

    #[test]
    fn by_durations_puts_the_longest_alone() {
        let durations = Durations(
            [("a", 300.0), ("b", 50.0), ("c", 50.0), ("d", 50.0), ("e", 50.0), ("f", 50.0), ("g", 50.0)]
                .map(|(k, v)| (k.into(), v))
                .into(),
        );
        let first = partition(IDS, share("1/2"), Some(&durations));
        assert_eq!(first.members.iter().map(|&i| IDS[i]).collect::<Vec<_>>(), vec!["a"]);
        assert_eq!(first.estimated_seconds, Some(300.0));
        assert_eq!(first.balance, Balance::Durations);
        assert_eq!(members("2/2", Some(&durations)).len(), 6);
    }

    #[test]
    fn a_hash_share_does_not_move_when_others_are_added() {
        let few = ["a", "b", "c"];
        let many = ["a", "b", "c", "x", "y", "z", "w"];
        for k in 1..=3 {
            let p = share(&format!("hash:{k}/3"));
            let before: Vec<&str> = partition(&few, p, None).members.into_iter().map(|i| few[i]).collect();
            let after: Vec<&str> = partition(&many, p, None).members.into_iter().map(|i| many[i]).collect();
            assert!(before.iter().all(|id| after.contains(id)), "{k}: {before:?} vs {after:?}");
        }
    }

    #[test]
    fn durations_read_from_every_file_a_run_writes() {
        let saved = Durations::parse(r#"{"durations": {"a": 12.5, "b": 3}}"#).unwrap();
        assert_eq!(saved.0.get("a"), Some(&12.5));
        assert_eq!(saved.0.get("b"), Some(&3.0));

        let json = r#"{"passed": true, "challenges": [
            {"challenge": "a", "solution": {"duration_seconds": 10.0}, "starter": {"duration_seconds": 2.5}},
            {"challenge": "b", "solution": null, "starter": {"duration_seconds": 1.0}}]}"#;
        let report = Durations::parse(json).unwrap();
        assert_eq!(report.0.get("a"), Some(&12.5));
        assert_eq!(report.0.get("b"), Some(&1.0));

        let junit = "<?xml version=\"1.0\"?>\n<testsuites name=\"sandbox test\" tests=\"4\" time=\"99.000\">\n  \
            <testsuite name=\"a&amp;b\" id=\"0\" package=\"challenges\" tests=\"2\" time=\"12.500\">\n    \
            <testcase classname=\"a&amp;b\" name=\"debian-12: solution passes\" time=\"10.000\"/>\n  </testsuite>\n</testsuites>\n";
        let junit = Durations::parse(junit).unwrap();
        assert_eq!(junit.0, BTreeMap::from([("a&b".to_string(), 12.5)]));
        // quick-junit leaves a testsuite's time out: its cases are added up.
        let cases = "<testsuites><testsuite name=\"c\" tests=\"2\" errors=\"0\">\
            <testcase name=\"s\" classname=\"c\" time=\"2.5\"/><testcase name=\"t\" classname=\"c\" time=\"1\">\
            <failure/></testcase></testsuite><testsuite name=\"d\"></testsuite></testsuites>";
        let cases = Durations::parse(cases).unwrap();
        assert_eq!(cases.0, BTreeMap::from([("c".to_string(), 3.5), ("d".to_string(), 0.0)]));

        assert!(Durations::parse("{\"nothing\": 1}").is_err());
        let round = Durations::parse(&saved.to_json()).unwrap();
        assert_eq!(round, saved);
    }

    #[test]
    fn changed_files_select_their_challenge_shared_files_everything_and_the_rest_nothing() {
        let challenges = [PathBuf::from("challenges/one"), PathBuf::from("challenges/one-more")];
        let changed: Vec<PathBuf> = [
            "challenges/one/playbook.yml",
            "challenges/one-more/check.sh",
            "README.md",
            "mocks/sandbox-systemctl/src/main.rs",
            "challenges/roles/common/tasks/main.yml",
            "lib/helper.sh",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        let shared = [PathBuf::from("mocks"), PathBuf::from("lib")];
        let attribution = attribute(&changed, &challenges, &shared);
        // Component-wise: challenges/one does not own challenges/one-more.
        assert_eq!(attribution.per_challenge[0], vec![PathBuf::from("challenges/one/playbook.yml")]);
        assert_eq!(attribution.per_challenge[1], vec![PathBuf::from("challenges/one-more/check.sh")]);
        assert_eq!(
            attribution.shared,
            ["mocks/sandbox-systemctl/src/main.rs", "challenges/roles/common/tasks/main.yml", "lib/helper.sh"]
                .map(PathBuf::from)
                .to_vec()
        );
        assert_eq!(attribution.ignored, vec![PathBuf::from("README.md")]);
    }

    #[test]
    fn a_challenges_own_roles_are_its_own() {
        let challenges = [PathBuf::from("c/roles-layout")];
        let changed = [PathBuf::from("c/roles-layout/roles/banner/tasks/main.yml")];
        let attribution = attribute(&changed, &challenges, &[]);
        assert_eq!(attribution.per_challenge[0].len(), 1);
        assert!(attribution.shared.is_empty());
    }
}
