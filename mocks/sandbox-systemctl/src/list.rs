//! list-unit-files, list-units and list-timers: every unit known from the unit directories
//! and init scripts (and, for units, the instances that are running or enabled), in
//! systemctl's columns, filtered by --type, --state and patterns.

use crate::ctx::Ctx;
use crate::root::{self, ETC_UNITS, RUN_UNITS, STATE_DIR, UNIT_DIRS};
use crate::unit::{self, Kind};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Unit files (templates included).
    Files,
    /// Units that can be loaded (instances included, templates not).
    Units,
}

/// Init scripts that are no services.
const NOT_SERVICES: [&str; 6] = ["README", "skeleton", "rc", "rcS", "rc.local", "functions"];

/// Every known unit name, sorted bytewise, each once.
pub fn unit_names(ctx: &Ctx, scope: Scope) -> Vec<String> {
    let mut names = Vec::new();
    for dir in UNIT_DIRS {
        for (n, kind) in ctx.root.listing(dir).iter() {
            if matches!(kind, root::EntryKind::Link | root::EntryKind::File) {
                names.push(n.clone());
            }
        }
    }
    for n in root::names(&ctx.root.p("/etc/init.d")) {
        let path = ctx.root.p(&format!("/etc/init.d/{n}"));
        let skip =
            NOT_SERVICES.contains(&n.as_str()) || n.contains(".dpkg-") || n.contains(".ucf-") || n.ends_with('~');
        if !skip && root::is_file(&path) && root::executable(&path) {
            names.push(format!("{n}.service"));
        }
    }
    if scope == Scope::Units {
        names.extend(instances(ctx));
    }
    names.retain(|n| unit::valid_suffix(n) && !(scope == Scope::Units && unit::is_template(n)));
    names.sort();
    names.dedup();
    names
}

/// Instances with a state file or an enablement link.
fn instances(ctx: &Ctx) -> Vec<String> {
    let is_instance = |n: &str| n.contains('@') && n[n.find('@').unwrap_or(0)..].contains('.');
    let mut found: Vec<String> = Vec::new();
    for n in root::names(&ctx.root.p(STATE_DIR)) {
        if is_instance(&n) && root::is_file(&ctx.root.p(&format!("{STATE_DIR}/{n}"))) {
            found.push(n);
        }
    }
    for base in [ETC_UNITS, RUN_UNITS] {
        for (d, _) in ctx.root.listing(base).iter().filter(|(d, _)| d.ends_with(".wants")) {
            for (n, _) in ctx.root.listing(&format!("{base}/{d}")).iter() {
                if is_instance(n) {
                    found.push(n.clone());
                }
            }
        }
    }
    found
}

fn type_ok(ctx: &Ctx, name: &str) -> bool {
    let types = ctx.opts.type_list();
    types.is_empty() || types.iter().any(|t| name.ends_with(&format!(".{t}")))
}

/// Whether any of WORDS (a unit's states) is among --state.
fn state_ok(ctx: &Ctx, words: &[&str]) -> bool {
    let states = ctx.opts.state_list();
    states.is_empty() || states.iter().any(|s| words.contains(s))
}

/// Shell globs, as systemctl's fnmatch; a plain name without suffix also matches NAME.service.
fn pattern_ok(name: &str, patterns: &[String]) -> bool {
    patterns.is_empty()
        || patterns.iter().any(|p| {
            root::glob_match(p, name)
                || (!root::has_glob(p) && !unit::valid_suffix(p) && name == format!("{p}.service"))
        })
}

fn width(min: usize, values: impl Iterator<Item = usize>) -> usize {
    values.fold(min, usize::max)
}

pub fn cmd_list_unit_files(ctx: &Ctx, patterns: &[String]) -> i32 {
    let mut rows: Vec<[String; 3]> = Vec::new();
    for n in unit_names(ctx, Scope::Files) {
        if !type_ok(ctx, &n) || !pattern_ok(&n, patterns) {
            continue;
        }
        let r = unit::resolve(&ctx.root, &n);
        let (state, preset) = if r.id != n && r.kind != Kind::Masked {
            ("alias".to_string(), "-".to_string())
        } else {
            match r.kind {
                Kind::Masked => ("masked".into(), ctx.preset_of(&r.id).to_string()),
                Kind::Sysv => ("generated".into(), "-".into()),
                _ => {
                    let st = crate::enablement::file_state(&ctx.root, &r, &unit::parse(&ctx.root, &r)).state;
                    let pr = if st == "static" { "-".to_string() } else { ctx.preset_of(&r.id).to_string() };
                    (st, pr)
                }
            }
        };
        if state_ok(ctx, &[&state]) {
            rows.push([n, state, preset]);
        }
    }
    let w1 = width(9, rows.iter().map(|r| r[0].len()));
    let w2 = width(5, rows.iter().map(|r| r[1].len()));
    if ctx.opts.legend && !rows.is_empty() {
        ctx.say(&format!("{:<w1$} {:<w2$} {}", "UNIT FILE", "STATE", "PRESET"));
    }
    for [n, st, pr] in &rows {
        ctx.say(&format!("{n:<w1$} {st:<w2$} {pr}"));
    }
    if ctx.opts.legend {
        if !rows.is_empty() {
            ctx.say("");
        }
        ctx.say(&format!("{} unit files listed.", rows.len()));
    }
    if !patterns.is_empty() && rows.is_empty() {
        1
    } else {
        0
    }
}

struct UnitRow {
    failed_or_unloaded: bool,
    name: String,
    load: String,
    active: String,
    sub: String,
    description: String,
}

pub fn cmd_list_units(ctx: &Ctx, patterns: &[String]) -> i32 {
    let mut rows = Vec::new();
    for n in unit_names(ctx, Scope::Units) {
        if !type_ok(ctx, &n) || !pattern_ok(&n, patterns) {
            continue;
        }
        let l = ctx.load(&n);
        if l.r.id != n {
            continue;
        }
        let (load, active, sub) = (l.r.load.as_str(), l.active().as_str(), l.sub_state());
        if !ctx.opts.states.is_empty() {
            if !state_ok(ctx, &[load, active, sub]) {
                continue;
            }
        } else if !ctx.opts.all && active == "inactive" {
            continue;
        }
        rows.push(UnitRow {
            failed_or_unloaded: active == "failed" || load != "loaded",
            name: n.clone(),
            load: load.into(),
            active: active.into(),
            sub: sub.into(),
            description: l.file.description.trim_matches([' ', '\t']).to_string(),
        });
    }
    let w1 = width(4, rows.iter().map(|r| r.name.len()));
    let w2 = width(4, rows.iter().map(|r| r.load.len()));
    let w3 = width(6, rows.iter().map(|r| r.active.len()));
    let w4 = width(3, rows.iter().map(|r| r.sub.len()));
    let line =
        |pre: &str, c: [&str; 5]| format!("{pre}{:<w1$} {:<w2$} {:<w3$} {:<w4$} {}", c[0], c[1], c[2], c[3], c[4]);
    if ctx.opts.legend && !rows.is_empty() {
        ctx.say(&line(if ctx.opts.plain { "" } else { "  " }, ["UNIT", "LOAD", "ACTIVE", "SUB", "DESCRIPTION"]));
    }
    for r in &rows {
        let pre = match (ctx.opts.plain, r.failed_or_unloaded) {
            (true, _) => "",
            (false, true) => "● ",
            (false, false) => "  ",
        };
        ctx.say(&line(pre, [&r.name, &r.load, &r.active, &r.sub, &r.description]));
    }
    if ctx.opts.legend {
        if !rows.is_empty() {
            ctx.say("");
            ctx.say("LOAD   = Reflects whether the unit definition was properly loaded.");
            ctx.say("ACTIVE = The high-level unit activation state, i.e. generalization of SUB.");
            ctx.say("SUB    = The low-level unit activation state, values depend on unit type.");
        }
        if ctx.opts.all {
            ctx.say(&format!("{} loaded units listed.", rows.len()));
        } else {
            ctx.say(&format!("{} loaded units listed. Pass --all to see loaded but inactive units, too.", rows.len()));
        }
        ctx.say("To show all installed unit files use 'systemctl list-unit-files'.");
    }
    0
}

pub fn cmd_list_timers(ctx: &Ctx, patterns: &[String]) -> i32 {
    let mut rows: Vec<(String, String)> = Vec::new();
    for n in unit_names(ctx, Scope::Units).into_iter().filter(|n| n.ends_with(".timer")) {
        if !pattern_ok(&n, patterns) {
            continue;
        }
        let l = ctx.load(&n);
        if l.r.id != n || !(ctx.opts.all || l.active().as_str() == "active") {
            continue;
        }
        let activates = if l.file.timer_unit.is_empty() {
            format!("{}.service", unit::stem(&n))
        } else {
            l.file.timer_unit.clone()
        };
        rows.push((n, activates));
    }
    let w = width(4, rows.iter().map(|r| r.0.len()));
    if ctx.opts.legend {
        ctx.say(&format!("{:<4} {:<4} {:<4} {:<6} {:<w$} {}", "NEXT", "LEFT", "LAST", "PASSED", "UNIT", "ACTIVATES"));
    }
    for (n, act) in &rows {
        ctx.say(&format!("{:<4} {:<4} {:<4} {:<6} {n:<w$} {act}", "n/a", "n/a", "n/a", "n/a"));
    }
    if ctx.opts.legend {
        ctx.say("");
        ctx.say(&format!("{} timers listed.", rows.len()));
        if !ctx.opts.all {
            ctx.say("Pass --all to see loaded but inactive timers, too.");
        }
    }
    0
}
