//! The learner's commands: `list`, `start`, `show`, `hint`, `reset`, and the progress an
//! attempt of `run` or `watch` records.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::Path;

use crate::challenge::{Challenge, Track};
use crate::cli::{ListArgs, ResetArgs, StartArgs, TargetArgs};
use crate::docker::Engine;
use crate::learner::library::Loaded;
use crate::learner::progress::Status;
use crate::learner::workspace::Workspace;
use crate::learner::{default_workspace, HintShown, LearnerError, ListEntry, Opened};
use crate::printer::terminal::Terminal;
use crate::report::{Reporter, RunReport};
use crate::settings::Settings;
use crate::{Error, ExitStatus};

/// `sandbox list`: every library challenge with the learner's status.
pub(crate) async fn list(args: &ListArgs, settings: &Settings, terminal: &Terminal) -> Result<ExitStatus, Error> {
    let progress = settings.progress.load()?;
    let challenges = settings.library.challenges(&settings.allowed)?;
    let present = present_images(settings, &challenges).await;
    let entries: Vec<ListEntry> = challenges
        .iter()
        .map(|(name, loaded)| {
            let status = progress.status(name);
            let Ok(challenge) = loaded else { return ListEntry::broken(name, status, progress.of(name).attempts) };
            ListEntry {
                name: name.clone(),
                title: challenge.title.clone(),
                track: challenge.track.name(),
                topic: challenge.topic.clone().unwrap_or_default(),
                difficulty: challenge.difficulty.map_or("", |d| d.as_str()),
                platforms: platforms_here(challenge, present.as_ref()),
                status,
                attempts: progress.of(name).attempts,
            }
        })
        .collect();
    if args.json {
        Terminal::json(&entries);
    } else {
        terminal.challenge_list(&entries);
    }
    Ok(ExitStatus::Success)
}

/// Which base images this host has, when Docker answers (None: it does not, and every
/// platform a challenge names is listed).
async fn present_images(settings: &Settings, challenges: &[(String, Loaded)]) -> Option<HashMap<&'static str, bool>> {
    let engine = Engine::connect(&settings.engine().ok()?).await.ok()?;
    let mut present = HashMap::new();
    for challenge in challenges.iter().filter_map(|(_, loaded)| loaded.as_ref().ok()) {
        for distro in &challenge.distros {
            if !present.contains_key(distro.base_image) {
                present.insert(distro.base_image, engine.image_id(distro.base_image).await.ok()?.is_some());
            }
        }
    }
    Some(present)
}

/// The platforms a run of `challenge` covers on this host: its distros whose base image is
/// here (an Ansible challenge), or `image` (a Docker challenge: one image, built by the builder).
fn platforms_here(challenge: &Challenge, present: Option<&HashMap<&'static str, bool>>) -> Vec<String> {
    if matches!(challenge.track, Track::Docker(_)) {
        return vec!["image".into()];
    }
    let here = |image: &str| present.is_none_or(|present| present.get(image).copied().unwrap_or(false));
    challenge.distros.iter().filter(|d| here(d.base_image)).map(|d| d.name.to_string()).collect()
}

/// `sandbox start NAME`: a workspace of the learner's own, and what to do next.
pub(crate) fn start(args: &StartArgs, settings: &Settings, terminal: &Terminal) -> Result<ExitStatus, Error> {
    let source = settings.library.find(&args.name)?;
    let challenge = Challenge::load(&source, &settings.allowed)?;
    let dir = args.dir.clone().unwrap_or_else(|| default_workspace(&args.name));
    Workspace::start(&args.name, &source, &challenge.solution, &dir)?;
    // The name finds ./NAME from here; elsewhere the directory does.
    let target = if args.dir.is_none() { args.name.clone() } else { dir.display().to_string() };
    terminal.started(&challenge.title, &dir, &target);
    Ok(ExitStatus::Success)
}

/// `sandbox show`: the task, as the challenge's README tells it.
pub(crate) fn show(args: &TargetArgs, settings: &Settings, terminal: &Terminal) -> Result<ExitStatus, Error> {
    let opened = Opened::open(&args.target, &settings.library)?;
    let challenge = opened.load(&settings.allowed)?;
    let readme = opened.dir.join("README.md");
    match std::fs::read_to_string(&readme) {
        Ok(text) => terminal.markdown(&text),
        Err(_) => terminal.print(&format!("{}\n\n(no README.md in {})", challenge.title, opened.dir.display())),
    }
    Ok(ExitStatus::Success)
}

/// `sandbox hint`: the next hint; the count is kept with the learner's progress.
pub(crate) fn hint(args: &TargetArgs, settings: &Settings, terminal: &Terminal) -> Result<ExitStatus, Error> {
    let opened = Opened::open(&args.target, &settings.library)?;
    let challenge = opened.load(&settings.allowed)?;
    let name = opened.name.clone().unwrap_or_else(|| challenge.id.clone());
    let hints = &challenge.hints;
    let shown = settings.progress.load()?.of(&name).hints_shown;
    if shown >= hints.len() {
        terminal.hint(HintShown::NoMore { hints });
        return Ok(ExitStatus::Success);
    }
    settings
        .progress
        .update(|progress| progress.challenges.entry(name.clone()).or_default().hints_shown = shown + 1)?;
    terminal.hint(HintShown::Next { number: shown + 1, of: hints.len(), text: &hints[shown] });
    Ok(ExitStatus::Success)
}

/// `sandbox reset`: the starter files back in a workspace, once the learner agrees.
pub(crate) fn reset(args: &ResetArgs, settings: &Settings, terminal: &Terminal) -> Result<ExitStatus, Error> {
    let opened = Opened::open(&args.target, &settings.library)?;
    let Some(workspace) = opened.workspace else { return Err(LearnerError::NotAWorkspace { dir: opened.dir }.into()) };
    if !args.yes && !confirmed(&workspace.dir, terminal) {
        return Err(LearnerError::ResetUnconfirmed { dir: workspace.dir }.into());
    }
    let source = Challenge::load(&workspace.source, &settings.allowed)?;
    workspace.reset(&source.solution)?;
    terminal.print(&format!("{} holds the starter files of {} again", workspace.dir.display(), workspace.challenge));
    Ok(ExitStatus::Success)
}

/// Asks on the terminal; no terminal (a script) means no.
fn confirmed(dir: &Path, terminal: &Terminal) -> bool {
    if !std::io::stdin().is_terminal() {
        return false;
    }
    terminal.ask(&format!("reset {} to its starter files? your edits there are discarded [y/N] ", dir.display()));
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer).is_ok() && matches!(answer.trim(), "y" | "Y" | "yes")
}

/// Counts an attempt of the learner's own files (a `--solution` run opens no name); a
/// progress file that cannot be written is said, and the attempt's verdict stands.
pub(crate) fn record_attempt(opened: &Opened, report: &RunReport, settings: &Settings, terminal: &Terminal) {
    let Some(name) = opened.name.as_deref() else { return };
    match settings.progress.record_attempt(name, report.passed) {
        Ok(progress) if progress.status(name) == Status::Solved && report.passed => {
            terminal.notice(&format!("{name}: solved (`sandbox list` shows your progress)"))
        }
        Ok(_) => {}
        Err(err) => terminal.error(&format!("{:?}", miette::Report::new(err))),
    }
}
