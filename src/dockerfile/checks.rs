//! The built-in checks a Docker challenge declares, as rules over what was seen (the image's
//! configuration, the build's steps, the probe's answers): no Docker here, so every rule is
//! tested on its own. `run` gathers what they read.

use crate::challenge::image::{HttpCheck, ImageCheck, ImageChecks};
use crate::docker::ImageFacts;
use crate::dockerfile::layers::Finding;
use crate::dockerfile::Step;

/// One check's outcome, before the author's hint is added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub name: ImageCheck,
    pub passed: bool,
    pub detail: String,
}

fn outcome(name: ImageCheck, passed: bool, detail: impl Into<String>) -> Outcome {
    Outcome { name, passed, detail: detail.into() }
}

/// The checks the image's configuration answers: size, layers, ports, labels, environment,
/// and that a HEALTHCHECK exists (whether it turns healthy is a run-time check).
pub fn configuration(checks: &ImageChecks, facts: &ImageFacts) -> Vec<Outcome> {
    let mut found = Vec::new();
    if let Some(limit) = checks.max_size {
        // SI units, as `docker images` prints sizes and as authors write the limit.
        let (size, max) =
            (bytesize::ByteSize::b(facts.size).display().si(), bytesize::ByteSize::b(limit).display().si());
        found.push(outcome(ImageCheck::Size, facts.size <= limit, format!("{size} (limit {max})")));
    }
    if let Some(limit) = checks.max_layers {
        let layers = facts.layers.len();
        found.push(outcome(ImageCheck::Layers, layers <= limit, format!("{layers} layers (limit {limit})")));
    }
    if !checks.exposed.is_empty() {
        let missing: Vec<String> = checks
            .exposed
            .iter()
            .filter(|port| !facts.exposed.iter().any(|e| e.split('/').next() == Some(&port.to_string())))
            .map(u16::to_string)
            .collect();
        let detail =
            if missing.is_empty() { "all exposed".to_string() } else { format!("not exposed: {}", missing.join(", ")) };
        found.push(outcome(ImageCheck::Exposed, missing.is_empty(), detail));
    }
    if !checks.labels.is_empty() {
        let wrong: Vec<String> = checks
            .labels
            .iter()
            .filter(|(key, value)| facts.labels.get(*key) != Some(value))
            .map(|(key, value)| format!("{key}={value}"))
            .collect();
        let detail = if wrong.is_empty() {
            "all set".to_string()
        } else {
            format!("missing or different: {}", wrong.join(", "))
        };
        found.push(outcome(ImageCheck::Labels, wrong.is_empty(), detail));
    }
    if !checks.env.is_empty() {
        let wrong: Vec<String> = checks
            .env
            .iter()
            .map(|(key, value)| format!("{key}={value}"))
            .filter(|pair| !facts.env.contains(pair))
            .collect();
        let detail = if wrong.is_empty() {
            "all set".to_string()
        } else {
            format!("missing or different: {}", wrong.join(", "))
        };
        found.push(outcome(ImageCheck::Env, wrong.is_empty(), detail));
    }
    if checks.healthy_within.is_some() && !facts.healthcheck {
        found.push(outcome(ImageCheck::Healthy, false, "the image has no HEALTHCHECK"));
    }
    found
}

/// No secret in any layer's files, the history's command lines, the environment or labels.
pub fn secrets(secrets: &[String], facts: &ImageFacts, in_layers: &[Finding]) -> Outcome {
    let mut places: Vec<String> = Vec::new();
    for finding in in_layers {
        let deleted = if finding.deleted_later { ", deleted by a later layer but still in this one" } else { "" };
        let place = format!("{} in layer {}{deleted}", finding.path, finding.layer);
        // Two secrets in one file are one place to fix.
        if !places.contains(&place) {
            places.push(place);
        }
    }
    let holds = |text: &str| secrets.iter().any(|secret| text.contains(secret.as_str()));
    let in_configuration = [
        ("the image history (a build step's command line)", facts.history.iter().any(|line| holds(line))),
        ("the image's environment", facts.env.iter().any(|pair| holds(pair))),
        ("the image's labels", facts.labels.iter().any(|(key, value)| holds(key) || holds(value))),
    ];
    places.extend(in_configuration.iter().filter(|(_, found)| *found).map(|(place, _)| place.to_string()));
    if places.is_empty() {
        outcome(ImageCheck::Secrets, true, "no secret in any layer, the history, env or labels")
    } else {
        outcome(ImageCheck::Secrets, false, format!("a secret is in {}", places.join("; ")))
    }
}

/// The second build took every step matching `patterns` from the cache.
pub fn cache(patterns: &[String], second: &[Step]) -> Outcome {
    let rebuilt: Vec<&Step> = second
        .iter()
        .filter(|step| !step.cached && patterns.iter().any(|p| step.instruction.contains(p.as_str())))
        .collect();
    let matched = second.iter().any(|step| patterns.iter().any(|p| step.instruction.contains(p.as_str())));
    if !matched {
        return outcome(ImageCheck::Cache, false, format!("no step matches {}", patterns.join(", ")));
    }
    match rebuilt.first() {
        None => outcome(ImageCheck::Cache, true, "the dependency steps came from the cache"),
        Some(step) => outcome(
            ImageCheck::Cache,
            false,
            format!("step {} `{}` ran again after a source change", step.number, step.instruction),
        ),
    }
}

/// What the probe's `http` helper printed: the status line, headers, a blank line, the body.
pub fn http(expected: &HttpCheck, response: Option<&str>) -> Outcome {
    let Some(response) = response.filter(|r| !r.trim().is_empty()) else {
        return outcome(ImageCheck::Http, false, format!("nothing answered GET {}", expected.path));
    };
    let status: Option<u16> = response.lines().next().and_then(|line| line.split_whitespace().nth(1)?.parse().ok());
    let body = response.split_once("\r\n\r\n").or_else(|| response.split_once("\n\n")).map_or("", |(_, b)| b);
    let get = format!("GET {}", expected.path);
    match status {
        None => outcome(ImageCheck::Http, false, format!("{get}: not an HTTP answer: {}", first_line(response))),
        Some(status) if status != expected.status => {
            outcome(ImageCheck::Http, false, format!("{get}: status {status}, expected {}", expected.status))
        }
        Some(status) => match &expected.body {
            Some(want) if !body.contains(want.as_str()) => outcome(
                ImageCheck::Http,
                false,
                format!("{get}: status {status}, body lacks `{want}`: {}", first_line(body)),
            ),
            _ => outcome(ImageCheck::Http, true, format!("{get}: status {status}")),
        },
    }
}

/// PID 1's real uid, from its `/proc/1/status`.
pub fn non_root(status: Option<&str>) -> Outcome {
    let uid = status.and_then(|text| {
        let line = text.lines().find(|l| l.starts_with("Uid:"))?;
        line.split_whitespace().nth(1)?.parse::<u32>().ok()
    });
    match uid {
        Some(0) => outcome(ImageCheck::NonRoot, false, "PID 1 runs as uid 0 (root)"),
        Some(uid) => outcome(ImageCheck::NonRoot, true, format!("PID 1 runs as uid {uid}")),
        None => outcome(ImageCheck::NonRoot, false, "PID 1's user could not be read (the container is not running)"),
    }
}

fn first_line(text: &str) -> String {
    let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
    line.chars().take(120).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(number: usize, instruction: &str, cached: bool) -> Step {
        Step { number, instruction: instruction.into(), cached, output: vec![] }
    }

    #[test]
    fn the_cache_check_fails_a_dependency_step_that_ran_again() {
        let patterns = ["install-deps".to_string()];
        let good =
            [step(1, "FROM debian:12", true), step(2, "RUN ./install-deps.sh", true), step(3, "COPY . /app", false)];
        assert!(cache(&patterns, &good).passed);
        let bad =
            [step(1, "FROM debian:12", true), step(2, "COPY . /app", false), step(3, "RUN ./install-deps.sh", false)];
        let failed = cache(&patterns, &bad);
        assert!(!failed.passed && failed.detail.contains("step 3"), "{failed:?}");
        assert!(!cache(&["pip".to_string()], &good).passed, "a pattern nothing matches is the author's error");
    }

    #[test]
    fn http_answers_are_judged_by_status_and_body() {
        let check = HttpCheck { path: "/".into(), status: 200, body: Some("hello".into()) };
        assert!(http(&check, Some("HTTP/1.0 200 OK\r\nX: y\r\n\r\nhello world\n")).passed);
        assert!(!http(&check, Some("HTTP/1.0 500 Oops\r\n\r\nhello")).passed);
        assert!(http(&check, Some("HTTP/1.0 200 OK\r\n\r\nbye")).detail.contains("lacks `hello`"));
        assert!(!http(&check, None).passed);
    }

    #[test]
    fn root_is_uid_zero_in_proc_status() {
        assert!(!non_root(Some("Name:\tperl\nUid:\t0\t0\t0\t0\n")).passed);
        assert!(non_root(Some("Name:\tperl\nUid:\t1000\t1000\t1000\t1000\n")).passed);
        assert!(!non_root(None).passed);
    }

    #[test]
    fn configuration_checks_name_what_is_wrong() {
        let checks = ImageChecks {
            max_size: Some(100),
            max_layers: Some(2),
            exposed: vec![8080],
            healthy_within: Some(std::time::Duration::from_secs(5)),
            ..ImageChecks::default()
        };
        let facts = ImageFacts {
            size: 150,
            layers: vec!["a".into(); 3],
            exposed: vec!["9090/tcp".into()],
            ..Default::default()
        };
        let found = configuration(&checks, &facts);
        assert_eq!(found.iter().filter(|o| !o.passed).count(), 4, "{found:?}");
        assert!(found.iter().any(|o| o.name == ImageCheck::Exposed && o.detail.contains("8080")));
    }

    #[test]
    fn a_secret_in_the_history_or_a_layer_fails() {
        let secret = ["tok-1".to_string()];
        let clean = ImageFacts::default();
        assert!(secrets(&secret, &clean, &[]).passed);
        let history = ImageFacts { history: vec!["RUN echo tok-1 > /x".into()], ..Default::default() };
        assert!(!secrets(&secret, &history, &[]).passed);
        let finding = Finding { layer: 3, path: "/app/t".into(), secret: "tok-1".into(), deleted_later: true };
        let failed = secrets(&secret, &clean, &[finding]);
        assert!(failed.detail.contains("layer 3, deleted by a later layer"), "{failed:?}");
    }

    #[test]
    fn each_place_a_secret_is_in_is_named_once() {
        let tokens = ["tok-1".to_string(), "tok-2".to_string()];
        let facts = ImageFacts {
            history: vec!["RUN echo tok-1".into(), "RUN echo tok-2".into()],
            env: vec!["T=tok-1".into()],
            ..Default::default()
        };
        let file =
            |secret: &str| Finding { layer: 2, path: "/app/t".into(), secret: secret.into(), deleted_later: false };
        let failed = secrets(&tokens, &facts, &[file("tok-1"), file("tok-2")]);
        assert_eq!(
            failed.detail,
            "a secret is in /app/t in layer 2; the image history (a build step's command line); the image's environment"
        );
    }
}
