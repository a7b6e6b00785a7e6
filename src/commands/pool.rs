//! `sandbox pool up|status|down`: warm targets and controllers that runs take at once.

use crate::cli::PoolCommand;
use crate::cli::RunSetup;
use crate::distro::Catalog;
use crate::docker::Engine;
use crate::images::ImageKind;
use crate::learner::Opened;
use crate::pool::{self, Location, Pool};
use crate::printer::terminal::Terminal;
use crate::report::Reporter;
use crate::run::teardown::Removal;
use crate::run::{warm, Run, RunOptions};
use crate::settings::Settings;
use crate::{Error, ExitStatus};

use super::unknown_distro;

/// `sandbox pool up|status|down`.
pub(crate) async fn pool(command: PoolCommand, settings: &Settings, terminal: &Terminal) -> Result<ExitStatus, Error> {
    let runtime = |flag: Option<String>| settings.runtime(flag);
    let location = |namespace: Option<String>| Location {
        namespace: namespace.unwrap_or_else(|| settings.pool.namespace.clone()),
        ..settings.pool.clone()
    };
    let catalog = &settings.allowed.catalog;
    let engine = Engine::connect(&settings.engine()?).await?;
    match command {
        PoolCommand::Up { size, distros, challenge: Some(dir), runtime: flag } => {
            let pool = Pool::at(engine.clone(), &runtime(flag.clone()), &settings.pool);
            let opened = Opened::open(&dir, &settings.library)?;
            let challenge = opened.load(&settings.allowed)?;
            let setup = RunSetup::default();
            let options =
                RunOptions { distros, ..super::run::run_options(&setup, settings, runtime(flag), terminal, 2) };
            let recipe = pool.keep_sets(warm::recipe_of(&challenge, &options), size.unwrap_or(1)).await?;
            terminal.step(&format!("warming sets of {}", challenge.id));
            fill_sets(&engine, &pool, &recipe, settings, terminal).await?;
            terminal.finish();
            print_pool_status(terminal, &pool, catalog).await?;
        }
        PoolCommand::Up { size, distros, challenge: None, runtime: flag } => {
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
        PoolCommand::Teardown(args) => {
            let pool = Pool::at(engine.clone(), &runtime(args.runtime.clone()), &location(args.namespace.clone()));
            let removal = Removal { containers: args.containers, labels: args.labels };
            removal.run(&engine, terminal).await;
            if let Some(recipe) = args.refill_set {
                fill_sets(&engine, &pool, &recipe, settings, terminal).await?;
            }
            for refill in args.refills {
                let (kind, image) = refill.split_once('=').unwrap_or((&refill, ""));
                pool.refill(pool_kind(catalog, kind)?, image).await?;
            }
        }
        PoolCommand::Refill { kind, image, set, namespace, runtime: flag } => {
            let pool = Pool::at(engine.clone(), &runtime(flag), &location(namespace));
            if let Some(recipe) = set {
                fill_sets(&engine, &pool, &recipe, settings, terminal).await?;
                return Ok(ExitStatus::Success);
            }
            let kind = pool_kind(catalog, &kind.unwrap_or_default())?;
            pool.refill(kind, &image.unwrap_or_default()).await?;
        }
        PoolCommand::Down => {
            let removed = Pool::at(engine, &runtime(None), &settings.pool).down().await?;
            terminal.print(&format!("pool down: removed {removed} warm target(s) and controller(s)"));
        }
    }
    Ok(ExitStatus::Success)
}

fn pool_kind(catalog: &Catalog, kind: &str) -> Result<ImageKind, Error> {
    ImageKind::all(catalog)
        .find(|known| known.name() == kind)
        .ok_or_else(|| Error::Usage(format!("unknown pool kind `{kind}`")))
}

async fn print_pool_status(terminal: &Terminal, pool: &Pool, catalog: &Catalog) -> Result<(), Error> {
    let sets = pool.set_status().await?;
    let state = if pool.sizes().is_some() || !sets.is_empty() { "up" } else { "down" };
    terminal.print(&format!("pool {state}"));
    terminal.print(&format!("{:<14} {:>5} {:>7} {:>6}", "distro", "ready", "warming", "target"));
    for line in pool.status(catalog).await? {
        terminal.print(&format!("{:<14} {:>5} {:>7} {:>6}", line.name, line.ready, line.warming, line.target));
    }
    for set in sets {
        let name = format!("set {}", set.dir.file_name().unwrap_or_default().to_string_lossy());
        terminal.print(&format!("{name:<14} {:>5} {:>7} {:>6}", set.ready, set.warming, set.target));
    }
    Ok(())
}

/// Makes warm sets of the recipe until the pool has as many as it keeps (one recipe's sets
/// are made one at a time: a set takes the CPUs a cold run would).
pub(super) async fn fill_sets(
    engine: &Engine,
    pool: &Pool,
    recipe: &str,
    settings: &Settings,
    terminal: &Terminal,
) -> Result<(), Error> {
    let _filling = pool.lock_recipe(recipe).await?;
    let Some(entry) = pool.set_entries().remove(recipe) else { return Ok(()) };
    let challenge = Opened::open(&entry.recipe.dir, &settings.library)?.load(&settings.allowed)?;
    let options = warm::options_of(&entry.recipe, settings.guard, pool.location());
    loop {
        let run = Run::new(engine.clone(), &challenge, options.clone(), terminal)?.into_warm_set(recipe);
        if !run.make_warm_set(entry.size).await? {
            return Ok(());
        }
    }
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
