//! `sandbox draft-goss`: the reference solution applied once to one target, then goss asked
//! (inside it) to describe what the solution's tasks name; the draft is written beside the
//! challenge for the author to edit, never over an existing file.

use std::path::Path;

use crate::challenge::scaffold::ScaffoldError;
use crate::challenge::touched::{goss_add_script, touched_by};
use crate::challenge::{Challenge, PlaybookChoice, Track};
use crate::cli::DraftGossArgs;
use crate::docker::Engine;
use crate::images::GOSS_WRAPPER;
use crate::printer::terminal::Terminal;
use crate::report::Reporter;
use crate::run::{Run, RunOptions};
use crate::settings::Settings;
use crate::{Error, ExitStatus};

use super::run::run_options;

/// Where the draft is made inside the target.
const DRAFT_IN_TARGET: &str = "/root/sandbox-goss-draft.yaml";

pub(crate) async fn draft_goss(
    args: DraftGossArgs,
    settings: &Settings,
    terminal: &Terminal,
) -> Result<ExitStatus, Error> {
    let challenge = Challenge::load(&args.dir, &settings.allowed)?;
    if challenge.track != Track::Ansible {
        return Err(Error::Usage(format!("{} is a Docker challenge: goss files check Ansible targets", challenge.id)));
    }
    let output = args.output.clone().unwrap_or_else(|| args.dir.join("goss.yaml"));
    if output.exists() {
        return Err(Error::Usage(format!(
            "{} exists: it is never overwritten; pass `--output FILE` for the draft",
            output.display()
        )));
    }
    let runtime = settings.runtime(args.setup.runtime.clone());
    let mut options: RunOptions = run_options(&args.setup, settings, runtime, terminal, 1);
    if args.setup.playbook.is_none() {
        options.playbook = PlaybookChoice::Solution;
    }
    let playbook = match &options.playbook {
        PlaybookChoice::File(path) => challenge.dir.join(path),
        _ => challenge.file(&challenge.solution),
    };
    let touched = touched_by(&playbook);
    if touched.is_empty() {
        return Err(Error::Usage(format!(
            "{} names no package, service, user, group or file that goss could describe (names in {{{{ }}}} are known only when Ansible runs)",
            playbook.display()
        )));
    }
    let distro = args.distro.clone().unwrap_or_else(|| challenge.distros[0].name.to_string());
    options.distros = vec![distro.clone()];
    let engine = Engine::connect(&settings.engine()?).await?;
    let run = Run::new(engine, &challenge, options, terminal)?;
    terminal.step(&format!(
        "run {}: {} once on {distro}, then goss describes {} resource(s)",
        run.id(),
        playbook.display(),
        touched.len()
    ));
    let script = goss_add_script(GOSS_WRAPPER, DRAFT_IN_TARGET, &touched);
    let (report, draft) = run
        .execute_then(async |engine, targets| {
            let (_, container) = targets.into_iter().next()?;
            let what = format!("target {distro}");
            Some(engine.exec(&container, &what, &["sh", "-c", &script], &[], Some("/root"), &mut |_| {}).await)
        })
        .await?;
    terminal.finish();
    terminal.summary(&report);
    let Some(draft) = draft.flatten() else {
        terminal.notice("no draft: the run did not get that far (see above)");
        return Ok(ExitStatus::Failure);
    };
    let draft = draft.map_err(crate::run::RunError::from)?;
    write_draft(&output, &playbook, &draft.output)?;
    terminal.print(&format!(
        "wrote {}: edit it (keep what the task requires, drop the rest), then set `[checks] goss` in challenge.toml",
        output.display()
    ));
    Ok(ExitStatus::Success)
}

fn write_draft(output: &Path, playbook: &std::path::Path, yaml: &str) -> Result<(), Error> {
    let header = format!(
        "# Drafted by `sandbox draft-goss` from what {} set up on one target: every value is what\n\
         # goss found there. Keep what the task requires, loosen or drop the rest.\n",
        playbook.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
    );
    std::fs::write(output, format!("{header}{yaml}"))
        .map_err(|source| ScaffoldError::Io { path: output.to_path_buf(), source }.into())
}
