//! The read-only verbs besides `show` and the listings: status, is-active/is-failed,
//! is-enabled, cat, get-default; with systemctl's output and exit codes (3 for "not
//! active", 4 for "no such unit").

use std::io::Write;

use crate::ctx::Ctx;
use crate::enablement;
use crate::install;
use crate::observe;
use crate::root::{self, ETC_UNITS};
use crate::show::SD_VERSION_FULL;
use crate::state::{self, Active};
use crate::supervisor;
use crate::time;
use crate::unit::{self, Kind};

fn status_one(ctx: &Ctx, name: &str) -> i32 {
    let l = ctx.load_all(name);
    if !l.r.found() {
        ctx.err(&format!("Unit {} could not be found.", l.r.id));
        return 4;
    }
    let bullet = match l.active() {
        a if a.is_busy() => "●",
        Active::Failed => "×",
        _ => "○",
    };
    let id = l.id();
    if l.r.kind == Kind::Masked {
        ctx.say(&format!("{bullet} {id}"));
        ctx.say(&format!("     Loaded: masked (Reason: Unit {id} is masked.)"));
    } else {
        ctx.say(&format!("{bullet} {id} - {}", l.file.description));
        let loaded = match (l.r.kind, l.install.state.as_str()) {
            (Kind::Sysv, _) => format!("{}; generated", l.r.src),
            (_, s @ ("static" | "indirect")) => format!("{}; {s}", l.r.frag),
            (_, s) => format!("{}; {s}; preset: {}", l.r.frag, l.preset),
        };
        ctx.say(&format!("     Loaded: loaded ({loaded})"));
        dropin_lines(ctx, &l.file.dropins);
    }
    let mut active = match l.active() {
        Active::Failed if ctx.supervises(&l.r) => format!("failed (Result: {})", l.main.result),
        Active::Failed => "failed (Result: exit-code)".into(),
        a if a.as_str() == l.sub_state() => a.as_str().to_string(),
        a => format!("{} ({})", a.as_str(), l.sub_state()),
    };
    if !l.recorded.since.is_empty() {
        let ago = time::ago(time::now() - l.recorded.since_epoch.unwrap_or(0));
        active = format!("{active} since {}; {ago}", l.recorded.since);
    }
    ctx.say(&format!("     Active: {active}"));
    if id.ends_with(".timer") {
        let target = if l.file.timer_unit.is_empty() {
            format!("{}.service", unit::stem(id))
        } else {
            l.file.timer_unit.clone()
        };
        ctx.say("    Trigger: n/a");
        ctx.say(&format!("   Triggers: ● {target}"));
    }
    let docs = if l.r.kind == Kind::Sysv {
        vec!["man:systemd-sysv-generator(8)".to_string()]
    } else {
        l.file.documentation.clone()
    };
    for (i, d) in docs.iter().enumerate() {
        ctx.say(&format!("{}{d}", if i == 0 { "       Docs: " } else { "             " }));
    }
    if ctx.supervises(&l.r) {
        for line in supervisor::status_lines(ctx, &l) {
            ctx.say(&line);
        }
    }
    if matches!(l.active(), Active::Active | Active::Activating | Active::Reloading) {
        0
    } else {
        3
    }
}

/// "    Drop-In: DIR" and "└─a.conf, b.conf" per directory, as systemctl status shows them.
fn dropin_lines(ctx: &Ctx, dropins: &[String]) {
    let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
    for path in dropins {
        let (d, f) = (root::dir(path), root::base(path));
        match groups.last_mut() {
            Some((last, files)) if *last == d => files.push(f),
            _ => groups.push((d, vec![f])),
        }
    }
    for (i, (d, files)) in groups.iter().enumerate() {
        ctx.say(&format!("{}{d}", if i == 0 { "    Drop-In: " } else { "             " }));
        ctx.say(&format!("             └─{}", files.join(", ")));
    }
}

pub fn cmd_status(ctx: &Ctx, units: &[String]) -> i32 {
    if units.is_empty() {
        let host = ctx.root.first_line("/etc/hostname").filter(|h| !h.is_empty()).unwrap_or_else(|| "localhost".into());
        ctx.say(&format!("● {host}"));
        ctx.say("    State: running");
        ctx.say("     Jobs: 0 queued");
        ctx.say(&format!("   Failed: {} units", state::failed_units(&ctx.root).len()));
        ctx.say(&format!("  systemd: {SD_VERSION_FULL}"));
        ctx.say("   CGroup: /");
        return 0;
    }
    let mut rc = 0;
    let mut first = true;
    for name in units {
        if !first && unit::resolve(&ctx.root, name).found() {
            ctx.say("");
        }
        match status_one(ctx, name) {
            4 => rc = 4,
            r => {
                first = false;
                if r != 0 && rc == 0 {
                    rc = r;
                }
            }
        }
    }
    rc
}

/// is-active (OK = active) and is-failed (OK = failed).
pub fn cmd_is_active(ctx: &Ctx, units: &[String], ok: &str) -> i32 {
    let mut rc = 3;
    for name in units {
        let l = ctx.load(name);
        let active = if l.r.found() { l.active().as_str().to_string() } else { "inactive".into() };
        if !ctx.opts.quiet {
            ctx.say(&active);
        }
        if active == ok {
            rc = 0;
        }
    }
    if ok == "failed" && rc != 0 {
        1
    } else {
        rc
    }
}

pub fn cmd_is_enabled(ctx: &Ctx, units: &[String]) -> i32 {
    let mut rc = 1;
    for name in units {
        let r = unit::resolve(&ctx.root, name);
        if !r.found() {
            ctx.err(&format!("Failed to get unit file state for {}: No such file or directory", r.id));
            return 1;
        }
        let fs = if r.kind == Kind::Sysv {
            let state = if enablement::sysv_enabled(&ctx.root, &r) { "enabled" } else { "disabled" };
            enablement::FileState { state: state.into(), links: Vec::new() }
        } else {
            enablement::file_state(&ctx.root, &r, &unit::parse(&ctx.root, &r))
        };
        if !ctx.opts.quiet {
            ctx.say(&fs.state);
            if ctx.opts.full {
                for link in &fs.links {
                    ctx.say(&format!("  {link}"));
                }
            }
        }
        let enabled =
            ["enabled", "enabled-runtime", "static", "indirect", "alias", "generated", "linked", "linked-runtime"];
        if enabled.contains(&fs.state.as_str()) {
            rc = 0;
        }
    }
    rc
}

pub fn cmd_cat(ctx: &Ctx, units: &[String]) -> i32 {
    let mut rc = 0;
    let mut first = true;
    for name in units {
        let r = unit::resolve(&ctx.root, name);
        if !r.found() {
            ctx.err(&format!("No files found for {}.", r.id));
            rc = 1;
            continue;
        }
        if r.kind == Kind::Masked {
            ctx.err(&format!("Unit {} is masked.", r.id));
            rc = 1;
            continue;
        }
        if !first {
            ctx.say("");
        }
        first = false;
        if r.kind == Kind::Sysv {
            ctx.say(&format!("# {}", r.src));
            raw(ctx, &r.src);
            continue;
        }
        ctx.say(&format!("# {}", r.frag));
        raw(ctx, &r.frag);
        for path in unit::dropin_paths(&ctx.root, &r) {
            ctx.say("");
            ctx.say(&format!("# {path}"));
            raw(ctx, &path);
        }
    }
    rc
}

fn raw(ctx: &Ctx, abs: &str) {
    if let Ok(bytes) = std::fs::read(ctx.root.p(abs)) {
        let _ = std::io::stdout().lock().write_all(&bytes);
    }
}

pub fn cmd_get_default(ctx: &Ctx) -> i32 {
    for path in [
        format!("{ETC_UNITS}/default.target"),
        "/lib/systemd/system/default.target".into(),
        "/usr/lib/systemd/system/default.target".into(),
    ] {
        if let Some(target) = root::readlink(&ctx.root.p(&path)) {
            ctx.say(root::base(&target));
            return 0;
        }
    }
    ctx.say("multi-user.target");
    0
}

pub fn cmd_set_default(ctx: &Ctx, name: &str) -> i32 {
    let r = unit::resolve(&ctx.root, name);
    if r.kind != Kind::File {
        ctx.err(&format!("Failed to set default target: Unit file {} does not exist.", r.id));
        return 1;
    }
    let _ = std::fs::create_dir_all(ctx.root.p(ETC_UNITS));
    let link = format!("{ETC_UNITS}/default.target");
    if root::is_link(&ctx.root.p(&link)) {
        install::remove_link(ctx, &link);
    }
    if install::make_link(ctx, ETC_UNITS, "default.target", &r.frag) {
        0
    } else {
        1
    }
}

/// reset-failed: every failed unit, or the ones named.
pub fn cmd_reset_failed(ctx: &Ctx, units: &[String]) -> i32 {
    if units.is_empty() {
        for id in state::failed_units(&ctx.root) {
            let _ = state::save(&ctx.root, &id, &Active::Inactive);
        }
        return 0;
    }
    let mut rc = 0;
    for name in units {
        let mut l = ctx.load(name);
        if !l.r.found() {
            ctx.err(&format!("Failed to reset failed state of unit {id}: Unit {id} not loaded.", id = l.r.id));
            rc = 1;
            continue;
        }
        if *l.active() != Active::Failed {
            continue;
        }
        let _ = state::save(&ctx.root, l.id(), &Active::Inactive);
        if ctx.supervises(&l.r) {
            l.main.result = "success".into();
            observe::save_record(&ctx.root, &l);
        }
    }
    rc
}
