//! A challenge's goss file (`[checks] goss`), validated inside each target after each pass:
//! goss (baked into the target images, see `images::GOSS_WRAPPER`) sees the target's own
//! packages, services, processes, ports and files. Its JSON output becomes one named check
//! per assertion, the Docker track's `CheckReport`, with the author's hint on a failed one.

use std::path::PathBuf;

use serde::Deserialize;

use crate::challenge::goss::GossChecks;
use crate::challenge::ServicesMode;
use crate::distro::Distro;
use crate::docker::{Engine, EngineError};
use crate::images::GOSS_WRAPPER;
use crate::report::CheckReport;

/// Where the goss file and its includes are placed in a target, at their paths relative to
/// the challenge, before it runs.
const GOSS_FILES_DIR: &str = "/usr/local/lib/sandbox/checks";

/// What goss found on one target after one pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GossOutcome {
    /// 0 when every assertion passed; goss's exit code otherwise (1: an assertion failed).
    pub exit_code: i64,
    pub checks: Vec<CheckReport>,
    /// Why goss gave no results (a template or YAML error), in its own words.
    pub error: Option<String>,
}

impl GossOutcome {
    /// One `FAIL: name: detail (hint: …)` line per failed assertion, as check.sh prints its
    /// failures, so the reason, the live output and "what changed" read goss as they read it
    /// (the hint as the Docker track's reason gives it).
    pub fn fail_lines(&self) -> String {
        let mut lines = String::new();
        if let Some(error) = &self.error {
            lines.push_str(&format!("FAIL: goss could not validate the file: {error}\n"));
        }
        for check in self.checks.iter().filter(|c| !c.passed) {
            let hint = check.hint.as_ref().map(|h| format!(" (hint: {h})")).unwrap_or_default();
            lines.push_str(&format!("FAIL: {}: {}{hint}\n", check.name, check.detail));
        }
        lines
    }
}

/// What a pass's checks found on one target: check.sh and the goss file, either or both.
#[derive(Debug, Clone)]
pub struct Verification {
    /// check.sh's exit code when it failed, else goss's (0: everything passed).
    pub exit_code: i64,
    /// check.sh's output, then a `FAIL:` line per failed goss assertion.
    pub output: String,
    pub checks: Vec<CheckReport>,
}

/// The files a pass's checks read, read once per pass.
#[derive(Debug, Clone, Copy)]
pub struct CheckFiles<'a> {
    pub script: Option<&'a str>,
    /// The goss checks, and the text of each of their files (the goss file first).
    pub goss: Option<(&'a GossChecks, &'a [(PathBuf, String)])>,
    pub services: ServicesMode,
}

/// Runs check.sh and validates the goss file on one target; both must pass.
pub async fn verify_target(
    engine: &Engine,
    id: &str,
    what: &str,
    distro: &Distro,
    pass: u8,
    files: CheckFiles<'_>,
) -> Result<Verification, EngineError> {
    let mut verification = Verification { exit_code: 0, output: String::new(), checks: Vec::new() };
    if let Some(script) = files.script {
        let result = super::scripts::run_check(engine, id, what, distro, pass, script).await?;
        verification.exit_code = result.exit_code;
        verification.output = result.output;
    }
    if let Some(goss) = files.goss {
        let outcome = validate(engine, id, what, distro, pass, goss, files.services).await?;
        if verification.exit_code == 0 {
            verification.exit_code = outcome.exit_code;
        }
        if !verification.output.is_empty() && !verification.output.ends_with('\n') {
            verification.output.push('\n');
        }
        verification.output.push_str(&outcome.fail_lines());
        verification.checks = outcome.checks;
    }
    Ok(verification)
}

/// Copies the goss file into the target and validates it, with `SANDBOX_DISTRO` and
/// `SANDBOX_PASS` in goss's environment (`{{ .Env.SANDBOX_DISTRO }}`) and its variables
/// (`{{ .Vars.distro }}`, `{{ .Vars.pass }}`).
pub async fn validate(
    engine: &Engine,
    id: &str,
    what: &str,
    distro: &Distro,
    pass: u8,
    (goss, texts): (&GossChecks, &[(PathBuf, String)]),
    services: ServicesMode,
) -> Result<GossOutcome, EngineError> {
    let paths: Vec<String> =
        texts.iter().map(|(relative, _)| format!("{GOSS_FILES_DIR}/{}", relative.display())).collect();
    let files: Vec<(&str, &str, u32)> =
        paths.iter().zip(texts).map(|(path, (_, text))| (path.as_str(), text.as_str(), 0o644)).collect();
    engine.write_files(id, what, &files).await?;
    let main = format!("{GOSS_FILES_DIR}/{}", goss.file.display());
    let env = [format!("SANDBOX_DISTRO={}", distro.name), format!("SANDBOX_PASS={pass}")];
    let vars = serde_json::json!({ "distro": distro.name, "pass": pass }).to_string();
    let cmd = [GOSS_WRAPPER, "-g", &main, "--vars-inline", &vars, "validate", "--format", "json", "--no-color"];
    let result = engine.exec(id, what, &cmd, &env, Some("/root"), &mut |_| {}).await?;
    Ok(outcome(result.exit_code, &result.output, goss, services))
}

/// goss's exit code and output (its JSON, after any warning it printed first) read into checks.
pub fn outcome(exit_code: i64, output: &str, goss: &GossChecks, services: ServicesMode) -> GossOutcome {
    let parsed =
        output.find("{\"results\"").and_then(|at| serde_json::from_str::<Validation>(output[at..].trim()).ok());
    let Some(validation) = parsed else {
        let error = output.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ");
        let error = if error.is_empty() { format!("goss exited {exit_code} without output") } else { error };
        return GossOutcome {
            exit_code: if exit_code == 0 { 1 } else { exit_code },
            checks: Vec::new(),
            error: Some(error),
        };
    };
    // goss checks concurrently: its results come in any order. The file's order is stable
    // and the author's, and the first failure in it is the one the reason quotes.
    let mut results = validation.results;
    results.sort_by_key(|r| goss.parsed.position(&r.resource_type, &r.resource_id, &r.property));
    let checks: Vec<CheckReport> = results.iter().map(|r| check_of(r, goss, services)).collect();
    let failed = checks.iter().any(|c| !c.passed);
    GossOutcome { exit_code: if failed { exit_code.max(1) } else { 0 }, checks, error: None }
}

/// goss's `validate -f json`, as far as it is read.
#[derive(Debug, Deserialize)]
struct Validation {
    results: Vec<Assertion>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Assertion {
    resource_type: String,
    resource_id: String,
    property: String,
    #[serde(default)]
    title: String,
    successful: bool,
    #[serde(default)]
    skipped: bool,
    err: Option<serde_json::Value>,
    matcher_result: Option<MatcherResult>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct MatcherResult {
    actual: Option<serde_json::Value>,
    expected: Option<serde_json::Value>,
    #[serde(default)]
    message: String,
    missing_elements: Option<serde_json::Value>,
}

/// One assertion: named as goss's documentation format names it (`Package: nginx: installed`).
fn check_of(assertion: &Assertion, goss: &GossChecks, services: ServicesMode) -> CheckReport {
    let name = format!("{}: {}: {}", assertion.resource_type, assertion.resource_id, assertion.property);
    let passed = assertion.successful || assertion.skipped;
    let mut detail = detail_of(assertion);
    if let Some(note) = services_note(&assertion.resource_type, &assertion.property, services, passed) {
        detail.push_str(note);
    }
    if !assertion.title.is_empty() {
        detail = format!("{} ({detail})", assertion.title);
    }
    let hint = if passed { None } else { goss.hint_for(&assertion.resource_type, &assertion.resource_id).cloned() };
    CheckReport { build: None, name, passed, detail, hint }
}

/// Expected and found, in goss's JSON notation: `expected true, found false`, `expected to
/// contain substring "ok", found "…"`; for patterns over a file or an output, what is missing.
fn detail_of(assertion: &Assertion) -> String {
    if assertion.skipped {
        return "skipped (the resource's first assertion failed)".to_string();
    }
    if let Some(err) = assertion.err.as_ref().filter(|e| !e.is_null()) {
        return format!("error: {}", err.as_str().map_or_else(|| err.to_string(), str::to_string));
    }
    let matcher: &MatcherResult = match &assertion.matcher_result {
        Some(matcher) => matcher,
        None => MatcherResult::default_ref(),
    };
    let json = |value: &Option<serde_json::Value>| value.as_ref().map_or("null".to_string(), |v| v.to_string());
    let how = match matcher.message.trim_start_matches("to ").trim_start_matches("be numerically ") {
        "equal" | "eq" | "matches expectation" | "" => String::new(),
        other => format!("{other} "),
    };
    if let Some(missing) = matcher.missing_elements.as_ref().filter(|m| !m.is_null()) {
        // Patterns over a file or an output: only the unmet ones (the file holds the rest).
        if how == "have patterns " {
            return format!("patterns not matched: {missing}");
        }
        return format!("expected {how}{}; missing {missing}", json(&matcher.expected));
    }
    let expected = format!("expected {how}{}", json(&matcher.expected));
    // A file's contents or a command's output arrive as a stream: goss shows no value for it.
    match &matcher.actual {
        Some(serde_json::Value::String(text)) if text.starts_with("object: ") => expected,
        Some(serde_json::Value::Object(map)) if map.is_empty() => expected,
        actual => format!("{expected}, found {}", json(actual)),
    }
}

impl MatcherResult {
    fn default_ref() -> &'static MatcherResult {
        static EMPTY: MatcherResult =
            MatcherResult { actual: None, expected: None, message: String::new(), missing_elements: None };
        &EMPTY
    }
}

/// What a services mode means for an assertion: goss asks `systemctl` whether a service runs,
/// and in mock mode that is the mock, which runs nothing; a missing process or port is then
/// no surprise (`services = "supervised"` really starts them). A process that runs anyway
/// (Ansible's python3) needs no note.
fn services_note(resource_type: &str, property: &str, services: ServicesMode, passed: bool) -> Option<&'static str> {
    if services != ServicesMode::Mock {
        return None;
    }
    match (resource_type, property) {
        ("Process" | "Port", _) if passed => None,
        ("Service", "running" | "enabled") => Some(" (the systemctl mock's answer: services = \"mock\" runs nothing)"),
        ("Process" | "Port", _) => {
            Some(" (services = \"mock\" starts no daemon: use services = \"supervised\" for processes and ports)")
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    const JSON: &str = r#"DEPRECATION WARNING: file.contains has been renamed to file.contents
{"results":[
{"resource-type":"Package","resource-id":"nginx","property":"installed","successful":false,"skipped":false,"err":null,"title":"",
 "matcher-result":{"actual":false,"expected":true,"message":"to equal","missing-elements":null}},
{"resource-type":"File","resource-id":"/etc/passwd","property":"contents","successful":false,"skipped":false,"err":null,"title":"",
 "matcher-result":{"actual":"object: *os.File","expected":["root","/nosuch/"],"message":"to have patterns","missing-elements":["/nosuch/"]}},
{"resource-type":"Command","resource-id":"echo hi","property":"stdout","successful":false,"skipped":false,"err":null,"title":"",
 "matcher-result":{"actual":"hi\n","expected":"bye","message":"to contain substring","missing-elements":null}},
{"resource-type":"File","resource-id":"/nope","property":"owner","successful":true,"skipped":true,"err":null,"title":"",
 "matcher-result":{"actual":null,"expected":null,"message":"","missing-elements":null}},
{"resource-type":"Service","resource-id":"nginx","property":"running","successful":true,"skipped":false,"err":null,"title":"",
 "matcher-result":{"actual":true,"expected":true,"message":"matches expectation","missing-elements":null}}
],"summary":{"failed-count":3}}"#;

    fn goss() -> GossChecks {
        GossChecks {
            file: "goss.yaml".into(),
            includes: Vec::new(),
            parsed: Default::default(),
            hints: BTreeMap::from([("package:nginx".to_string(), "install it with apt".to_string())]),
        }
    }

    #[test]
    fn each_assertion_is_a_named_check_with_expected_and_found() {
        let outcome = outcome(1, JSON, &goss(), ServicesMode::Supervised);
        assert_eq!(outcome.exit_code, 1);
        let names: Vec<&str> = outcome.checks.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "Package: nginx: installed",
                "File: /etc/passwd: contents",
                "Command: echo hi: stdout",
                "File: /nope: owner",
                "Service: nginx: running"
            ]
        );
        let details: Vec<&str> = outcome.checks.iter().map(|c| c.detail.as_str()).collect();
        assert_eq!(details[0], "expected true, found false");
        assert_eq!(details[1], "patterns not matched: [\"/nosuch/\"]");
        assert_eq!(details[2], "expected contain substring \"bye\", found \"hi\\n\"");
        assert!(outcome.checks[3].passed && details[3].starts_with("skipped"));
        assert_eq!(outcome.checks[0].hint.as_deref(), Some("install it with apt"));
        assert_eq!(outcome.checks[1].hint, None);
        assert!(outcome
            .fail_lines()
            .starts_with("FAIL: Package: nginx: installed: expected true, found false (hint: install it with apt)\n"));
        assert_eq!(outcome.fail_lines().lines().count(), 3);
    }

    #[test]
    fn in_mock_mode_a_service_assertion_says_the_mock_answered() {
        let outcome = outcome(1, JSON, &goss(), ServicesMode::Mock);
        assert!(outcome.checks[4].detail.ends_with("(the systemctl mock's answer: services = \"mock\" runs nothing)"));
        assert!(!outcome.checks[0].detail.contains("mock"));
    }

    #[test]
    fn no_json_is_a_failure_in_goss_own_words() {
        let outcome = outcome(1, "Error: template: test:3: unexpected \"}\"\n", &goss(), ServicesMode::Mock);
        assert_eq!(outcome.exit_code, 1);
        assert!(outcome.checks.is_empty());
        assert_eq!(
            outcome.fail_lines(),
            "FAIL: goss could not validate the file: Error: template: test:3: unexpected \"}\"\n"
        );
        let all_passed = outcome_of_passing();
        assert_eq!(all_passed.exit_code, 0);
    }

    fn outcome_of_passing() -> GossOutcome {
        let json = r#"{"results":[{"resource-type":"User","resource-id":"root","property":"exists","successful":true,"skipped":false,"err":null,"matcher-result":{"actual":true,"expected":true,"message":"matches expectation"}}],"summary":{}}"#;
        outcome(0, json, &goss(), ServicesMode::Mock)
    }
}
