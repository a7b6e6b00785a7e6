//! `sandbox images`: the prepared target and controller images, listed or built.

use crate::cli::ImagesCommand;
use crate::docker::Engine;
use crate::images::{self, ImageKind};
use crate::printer::terminal::Terminal;
use crate::settings::Settings;
use crate::{Error, ExitStatus};

use super::unknown_distro;

/// `sandbox images list|build`.
pub(crate) async fn images(
    command: ImagesCommand,
    settings: &Settings,
    terminal: &Terminal,
) -> Result<ExitStatus, Error> {
    let catalog = &settings.allowed.catalog;
    let engine = Engine::connect(&settings.engine()?).await?;
    match command {
        ImagesCommand::List => {
            for kind in ImageKind::all(catalog) {
                let status = images::status(&engine, kind).await?;
                let state = match (&status.tag, status.prepared_present) {
                    (None, _) => format!("missing base image {}", kind.base_image()),
                    (Some(tag), true) => format!("ready    {tag}"),
                    (Some(tag), false) => format!("not built {tag}"),
                };
                terminal.print(&format!("{:<32} {state}", kind.describe()));
            }
        }
        ImagesCommand::Build { distros } => {
            let kinds: Vec<ImageKind> = if distros.is_empty() {
                let mut kinds = Vec::new();
                for distro in catalog.all() {
                    if engine.image_id(distro.base_image).await?.is_some() {
                        kinds.push(ImageKind::Target(distro));
                    }
                }
                kinds
            } else {
                distros
                    .iter()
                    .map(|name| catalog.find(name).map(ImageKind::Target).ok_or_else(|| unknown_distro(name, catalog)))
                    .collect::<Result<_, _>>()?
            };
            for kind in kinds.into_iter().chain(std::iter::once(ImageKind::Controller)) {
                let tag = images::ensure(&engine, kind, terminal).await?;
                terminal.print(&format!("{:<32} {tag}", kind.describe()));
            }
            terminal.finish();
        }
    }
    Ok(ExitStatus::Success)
}
