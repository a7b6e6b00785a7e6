//! JUnit XML for `sandbox test --junit`: one testsuite per challenge, two testcases per
//! platform ("solution passes", "starter fails"), in the Ant/Jenkins shape that GitLab's and
//! GitHub's test reporters read.

use std::fmt::Write;

use crate::suite::{CaseOutcome, CaseResult, ChallengeOutcome, SuiteReport};

#[derive(Default)]
struct Counts {
    tests: usize,
    failures: usize,
    errors: usize,
    skipped: usize,
    seconds: f64,
}

impl Counts {
    fn add(&mut self, case: &CaseResult) {
        self.tests += 1;
        self.seconds += case.seconds;
        match case.outcome {
            CaseOutcome::Passed => {}
            CaseOutcome::Failed => self.failures += 1,
            CaseOutcome::Error => self.errors += 1,
            CaseOutcome::Skipped => self.skipped += 1,
        }
    }

    fn attributes(&self) -> String {
        format!(
            "tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\"",
            self.tests, self.failures, self.errors, self.skipped, self.seconds
        )
    }
}

pub fn render(report: &SuiteReport) -> String {
    let mut total = Counts::default();
    let mut suites = String::new();
    for (id, challenge) in report.challenges.iter().enumerate() {
        let mut counts = Counts::default();
        let mut cases = String::new();
        for (name, case) in cases_of(challenge) {
            counts.add(case);
            total.add(case);
            cases.push_str(&testcase(&challenge.challenge, &name, case));
        }
        let _ = write!(
            suites,
            "  <testsuite name=\"{}\" id=\"{id}\" package=\"challenges\" {}>\n{cases}  </testsuite>\n",
            escape(&challenge.challenge),
            counts.attributes()
        );
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"sandbox test\" {}>\n{suites}</testsuites>\n",
        total.attributes()
    )
}

fn cases_of(challenge: &ChallengeOutcome) -> Vec<(String, &CaseResult)> {
    challenge
        .platforms
        .iter()
        .flat_map(|p| {
            [
                (format!("{}: solution passes", p.distro), &p.solution),
                (format!("{}: starter fails", p.distro), &p.starter),
            ]
        })
        .collect()
}

fn testcase(classname: &str, name: &str, case: &CaseResult) -> String {
    let open = format!(
        "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
        escape(classname),
        escape(name),
        case.seconds
    );
    let message = escape(case.message.as_deref().unwrap_or(""));
    match case.outcome {
        CaseOutcome::Passed => format!("{open}/>\n"),
        CaseOutcome::Failed => {
            format!(
                "{open}>\n      <failure message=\"{message}\" type=\"failed\">{message}</failure>\n    </testcase>\n"
            )
        }
        CaseOutcome::Error => {
            format!("{open}>\n      <error message=\"{message}\" type=\"error\">{message}</error>\n    </testcase>\n")
        }
        CaseOutcome::Skipped => format!("{open}>\n      <skipped message=\"{message}\"/>\n    </testcase>\n"),
    }
}

/// Text and attribute values; control characters other than tab and newline are not allowed
/// in XML 1.0 at all (Ansible output can carry ANSI escapes), so they are dropped.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\t' => out.push('\t'),
            c if (c as u32) < 0x20 => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_quotes_and_control_characters() {
        assert_eq!(escape("a<b>&\"c\" 'd'\x1b[0m\n"), "a&lt;b&gt;&amp;&quot;c&quot; &apos;d&apos;[0m&#10;");
    }
}
