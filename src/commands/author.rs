//! The author's commands that need no Docker: `sandbox lint` and `sandbox new`.

use crate::challenge::TrackKind;
use crate::challenge::{self, lint, scaffold};
use crate::cli::{CheckStyle, LintArgs, NewArgs};
use crate::printer::terminal::Terminal;
use crate::settings::Settings;
use crate::{Error, ExitStatus};

/// `sandbox lint`: every finding printed; exit 2 when any is an error.
pub(crate) fn lint(args: &LintArgs, settings: &Settings, terminal: &Terminal) -> Result<ExitStatus, Error> {
    let mut errors = 0;
    let mut invalid = 0;
    let mut warnings = 0;
    let dirs = challenge::discover(&args.dirs);
    for dir in &dirs {
        let findings = lint::lint(dir, &settings.allowed);
        let (bad, notes) = findings.iter().fold((0, 0), |(e, w), f| if f.is_error() { (e + 1, w) } else { (e, w + 1) });
        errors += bad;
        invalid += usize::from(bad > 0);
        warnings += notes;
        for finding in findings {
            terminal.error(&format!("{:?}", miette::Report::new(finding)));
        }
        let state = if bad > 0 { "errors" } else { "ok" };
        terminal.print(&format!("{state:<6} {}", dir.display()));
    }
    terminal.print(&format!("{} challenge(s): {errors} error(s), {warnings} warning(s)", dirs.len()));
    if errors > 0 {
        return Err(Error::InvalidChallenges { challenges: invalid });
    }
    Ok(ExitStatus::Success)
}

/// `sandbox new`: a challenge that lints clean and whose solution passes.
pub(crate) fn new(args: &NewArgs, settings: &Settings, terminal: &Terminal) -> Result<ExitStatus, Error> {
    let docker = args.track == TrackKind::Docker;
    let goss = args.checks == CheckStyle::Goss;
    scaffold::create(&args.name, &args.distros, &settings.allowed.catalog, docker, goss)?;
    let name = args.name.display();
    let learner_file = match args.track {
        TrackKind::Ansible => "playbook.yml",
        TrackKind::Docker => "Dockerfile, app/",
    };
    let checks = if goss { "goss.yaml" } else { "check.sh" };
    terminal.print(&format!("created {name}: edit README.md, {learner_file}, solution/ and {checks}"));
    terminal.print(&format!("then: sandbox lint {name} && sandbox test {name}"));
    Ok(ExitStatus::Success)
}
