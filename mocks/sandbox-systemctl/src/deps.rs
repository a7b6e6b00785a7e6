//! Units tied to each other, generally rather than per package: starting a unit starts what
//! it wants (`Wants=`, `Requires=`, `.wants/`/`.requires/` links, those made by generators
//! included), and stopping or restarting a unit does the same to the units that are
//! `PartOf=`/`BindsTo=` it. Debian's postfix needs all of it: `postfix.service` is a oneshot,
//! the daemon runs in the template instance `postfix@-.service`, which a generator ties to it.
//!
//! Generators run as systemd runs them at boot and daemon-reload (supervised mode only: in
//! mock mode nothing is ever run), with the normal, early and late output directories under
//! /run/systemd; units are then looked up in those directories too.

use std::cell::RefCell;
use std::collections::HashSet;
use std::time::Duration;

use crate::ctx::{Ctx, Mode};
use crate::process::{self, Spawn};
use crate::root::{self, STATE_DIR};
use crate::state::Active;
use crate::unit::{self, Resolved, UnitFile};

pub const GENERATOR_OUTPUT: [&str; 3] =
    ["/run/systemd/generator", "/run/systemd/generator.early", "/run/systemd/generator.late"];

const GENERATOR_DIRS: [&str; 4] = [
    "/etc/systemd/system-generators",
    "/usr/local/lib/systemd/system-generators",
    "/lib/systemd/system-generators",
    "/usr/lib/systemd/system-generators",
];

/// Where `.wants/`/`.requires/` directories are looked for: the unit directories and the
/// generators' output.
fn dependency_dirs() -> impl Iterator<Item = &'static str> {
    root::UNIT_DIRS.iter().copied().chain(GENERATOR_OUTPUT)
}

/// Runs every generator (each bounded to 5 s), replacing their earlier output.
pub fn run_generators(ctx: &Ctx) {
    if ctx.mode != Mode::Supervised {
        return;
    }
    let outputs: Vec<String> = GENERATOR_OUTPUT.iter().map(|d| ctx.root.p(d).to_string_lossy().into_owned()).collect();
    for dir in &outputs {
        let _ = std::fs::remove_dir_all(dir);
        let _ = std::fs::create_dir_all(dir);
    }
    let mut seen = HashSet::new();
    for dir in GENERATOR_DIRS {
        for name in root::names(&ctx.root.p(dir)) {
            let path = ctx.root.p(&format!("{dir}/{name}"));
            if !seen.insert(name.clone()) || !root::is_file(&path) || !root::executable(&path) {
                continue;
            }
            let mut argv = vec![path.to_string_lossy().into_owned()];
            argv.extend(outputs.iter().cloned());
            let env = [format!("PATH={}", process::SERVICE_PATH), "SYSTEMD_SCOPE=system".to_string()];
            let spawn = Spawn::new(&argv, &env, None, None, Some(-1));
            if let Ok(pid) = process::fork(|| spawn.exec(true, false)) {
                if process::wait_for(pid, Duration::from_secs(5)).is_none() {
                    process::terminate(pid);
                }
            }
        }
    }
    ctx.root.forget();
}

/// Generators run once per boot (/run is fresh at each start of a target) before the first
/// supervised start, as systemd runs them before it starts anything.
pub fn ensure_generated(ctx: &Ctx) {
    if ctx.mode == Mode::Supervised && !ctx.root.p(GENERATOR_OUTPUT[0]).is_dir() {
        run_generators(ctx);
    }
}

/// What starting unit R also starts: Wants=, Requires= and the `.wants/`/`.requires/` links.
pub fn wanted(ctx: &Ctx, r: &Resolved, u: &UnitFile) -> Vec<String> {
    let mut names: Vec<String> = u.wants.iter().chain(u.requires.iter()).cloned().collect();
    for dir in dependency_dirs() {
        for name in r.template.iter().chain(std::iter::once(&r.id)) {
            for kind in ["wants", "requires"] {
                let d = format!("{name}.{kind}");
                // The parent's listing (read anyway) says whether there is one to read.
                if ctx.root.entry(dir, &d).is_some() {
                    names.extend(ctx.root.listing(&format!("{dir}/{d}")).iter().map(|(n, _)| n.clone()));
                }
            }
        }
    }
    let mut seen = HashSet::new();
    names.retain(|n| n != &r.id && seen.insert(n.clone()));
    names
}

/// Active units that are PartOf= or BindsTo= unit ID: a stop or restart of ID reaches them.
pub fn bound_to(ctx: &Ctx, id: &str) -> Vec<String> {
    busy_units_where(ctx, id, |u| ties(u, id))
}

/// Whether unit file U is PartOf= or BindsTo= unit ID: it is that unit's own daemon
/// (postfix@- for postfix), so its failure to start is that unit's failure too.
pub fn ties(u: &UnitFile, id: &str) -> bool {
    u.part_of.iter().chain(u.binds_to.iter()).any(|p| unit::normalize(p) == id)
}

/// The active units a reload of unit ID (file U) reaches: ReloadPropagatedFrom=ID on their
/// side, PropagatesReloadTo= on its side.
pub fn reload_followers(ctx: &Ctx, id: &str, u: &UnitFile) -> Vec<String> {
    let mut out = busy_units_where(ctx, id, |f| f.reload_propagated_from.iter().any(|p| unit::normalize(p) == id));
    for name in u.propagates_reload_to.iter().map(|n| unit::normalize(n)) {
        let path = ctx.root.p(&format!("{STATE_DIR}/{name}"));
        let active = Active::parse(&root::first_line(&path).unwrap_or_default()) == Active::Active;
        if active && !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

/// The units other than ID recorded as active (or on their way) whose files satisfy WANTED.
fn busy_units_where(ctx: &Ctx, id: &str, wanted: impl Fn(&UnitFile) -> bool) -> Vec<String> {
    let mut out = Vec::new();
    for name in root::names(&ctx.root.p(STATE_DIR)) {
        let path = ctx.root.p(&format!("{STATE_DIR}/{name}"));
        if name == id || !root::is_file(&path) {
            continue;
        }
        if !Active::parse(&root::first_line(&path).unwrap_or_default()).is_busy() {
            continue;
        }
        let r = unit::resolve(&ctx.root, &name);
        if wanted(&unit::parse(&ctx.root, &r)) {
            out.push(name);
        }
    }
    out
}

thread_local! {
    /// Units a propagation is already acting on in this call: dependency cycles end here.
    static ACTING: RefCell<HashSet<String>> = RefCell::new(HashSet::new());
}

/// Runs F for unit ID unless an outer propagation already acts on it.
pub fn once(id: &str, f: impl FnOnce() -> i32) -> i32 {
    let fresh = ACTING.with(|a| a.borrow_mut().insert(id.to_string()));
    if !fresh {
        return 0;
    }
    let rc = f();
    ACTING.with(|a| a.borrow_mut().remove(id));
    rc
}
