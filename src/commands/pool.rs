//! `sandbox pool up|status|down`: warm targets and controllers that runs take at once.

use crate::cli::PoolCommand;
use crate::distro::Catalog;
use crate::docker::Engine;
use crate::images::ImageKind;
use crate::pool::{self, Location, Pool};
use crate::printer::terminal::Terminal;
use crate::report::Reporter;
use crate::settings::Settings;
use crate::{Error, ExitStatus};

use super::unknown_distro;

/// `sandbox pool up|status|down`.
pub(crate) async fn pool(command: PoolCommand, settings: &Settings, terminal: &Terminal) -> Result<ExitStatus, Error> {
    let runtime = |flag: Option<String>| settings.runtime(flag);
    let catalog = &settings.allowed.catalog;
    let engine = Engine::connect(&settings.engine()?).await?;
    match command {
        PoolCommand::Up { size, distros, runtime: flag } => {
            let pool = Pool::at(engine.clone(), &runtime(flag), &settings.pool);
            let sizes = up_sizes(&engine, settings, size, &distros, terminal).await?;
            terminal.step("warming targets and controllers");
            pool.up(&sizes, terminal).await?;
            terminal.finish();
            print_pool_status(terminal, &pool, catalog).await?;
        }
        PoolCommand::Status => {
            print_pool_status(terminal, &Pool::at(engine, &runtime(None), &settings.pool), catalog).await?
        }
        PoolCommand::Refill { kind, image, namespace, runtime: flag } => {
            let kind = ImageKind::all(catalog)
                .find(|known| known.name() == kind)
                .ok_or_else(|| Error::Usage(format!("unknown pool kind `{kind}`")))?;
            let location = Location {
                namespace: namespace.unwrap_or_else(|| settings.pool.namespace.clone()),
                ..settings.pool.clone()
            };
            Pool::at(engine, &runtime(flag), &location).refill(kind, &image).await?;
        }
        PoolCommand::Down => {
            let removed = Pool::at(engine, &runtime(None), &settings.pool).down().await?;
            terminal.print(&format!("pool down: removed {removed} warm target(s) and controller(s)"));
        }
    }
    Ok(ExitStatus::Success)
}

async fn print_pool_status(terminal: &Terminal, pool: &Pool, catalog: &Catalog) -> Result<(), Error> {
    let state = if pool.sizes().is_some() { "up" } else { "down" };
    terminal.print(&format!("pool {state}"));
    terminal.print(&format!("{:<14} {:>5} {:>7} {:>6}", "distro", "ready", "warming", "target"));
    for line in pool.status(catalog).await? {
        terminal.print(&format!("{:<14} {:>5} {:>7} {:>6}", line.name, line.ready, line.warming, line.target));
    }
    Ok(())
}

/// What `pool up` warms: the named distros (else the configured or default ones whose base
/// image is here), each `size` or its configured size, and the controllers.
async fn up_sizes(
    engine: &Engine,
    settings: &Settings,
    size: Option<usize>,
    distros: &[String],
    terminal: &Terminal,
) -> Result<Vec<(ImageKind, usize)>, Error> {
    let catalog = &settings.allowed.catalog;
    let defaults: Vec<(String, usize)> = settings
        .pool_sizes
        .clone()
        .unwrap_or_else(|| pool::DEFAULT_SIZES.iter().map(|(name, size)| (name.to_string(), *size)).collect());
    let names: Vec<String> = if distros.is_empty() {
        defaults.iter().map(|(name, _)| name.clone()).filter(|name| name != ImageKind::Controller.name()).collect()
    } else {
        distros.to_vec()
    };
    let mut sizes = Vec::new();
    for name in names {
        let distro = catalog.find(&name).ok_or_else(|| unknown_distro(&name, catalog))?;
        // Where no registry is, some default distros cannot have images: skip those unless
        // asked for by name.
        if distros.is_empty() && engine.image_id(distro.base_image).await?.is_none() {
            terminal.notice(&format!("{name}: no base image {} here; not pooled", distro.base_image));
            continue;
        }
        let default = defaults.iter().find(|(n, _)| *n == name).map_or(2, |(_, s)| *s);
        sizes.push((ImageKind::Target(distro), size.unwrap_or(default)));
    }
    // Every run needs a controller; a warm one has loaded Ansible already.
    let controllers = defaults
        .iter()
        .find(|(name, _)| name == ImageKind::Controller.name())
        .map_or(pool::DEFAULT_CONTROLLERS, |(_, size)| *size);
    sizes.push((ImageKind::Controller, controllers));
    Ok(sizes)
}
