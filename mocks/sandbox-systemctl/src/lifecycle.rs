//! start, stop, restart, reload and friends: refused as systemd refuses them (not found,
//! masked, a template without instance, no ExecReload=), then acted on: in mock mode by
//! recording the new state, in supervised mode by the supervisor.

use crate::ctx::{Ctx, Loaded};
use crate::deps;
use crate::state::{self, Active};
use crate::supervisor;
use crate::unit::{self, Kind};

/// The verb's canonical name (`condrestart` is `try-restart`, …).
pub fn canonical(verb: &str) -> &str {
    match verb {
        "condrestart" => "try-restart",
        "force-reload" | "reload-or-try-restart" => "try-reload-or-restart",
        other => other,
    }
}

/// VERB on unit NAME; the exit code systemctl gives.
pub fn unit_op(ctx: &Ctx, verb: &str, name: &str) -> i32 {
    let r = unit::resolve(&ctx.root, name);
    let id = r.id.clone();
    if !r.found() {
        return match verb {
            "stop" => fail(ctx, &format!("Failed to stop {id}: Unit {id} not loaded."), 5),
            "kill" => fail(ctx, &format!("Failed to kill unit {id}: Unit {id} not loaded."), 1),
            _ => fail(ctx, &format!("Failed to {verb} {id}: Unit {id} not found."), 5),
        };
    }
    if unit::is_template(&id) {
        ctx.err(&format!("Failed to {verb} {id}: Unit name {id} is missing the instance name."));
        ctx.err(&format!("See system logs and 'systemctl status {id}' for details."));
        return 1;
    }
    let mut l = ctx.load_resolved(r);
    if l.r.kind == Kind::Masked {
        match verb {
            "stop" | "kill" => {}
            "try-restart" | "try-reload-or-restart" if *l.active() != Active::Active => return 0,
            "try-restart" | "try-reload-or-restart" => {}
            _ => return fail(ctx, &format!("Failed to {verb} {id}: Unit {id} is masked."), 1),
        }
    }
    if verb == "reload" {
        if !l.file.has_reload {
            return fail(ctx, &format!("Failed to reload {id}: Job type reload is not applicable for unit {id}."), 3);
        }
        if *l.active() != Active::Active {
            return fail(ctx, &format!("{id} is not active, cannot reload."), 1);
        }
    }
    deps::once(&id.clone(), || act(ctx, verb, &mut l))
}

/// VERB on the loaded unit, and on the units tied to it.
fn act(ctx: &Ctx, verb: &str, l: &mut Loaded) -> i32 {
    let id = l.id().to_string();
    let starts = matches!(verb, "start" | "restart" | "reload-or-restart");
    if starts {
        deps::ensure_generated(ctx);
        for dep in deps::wanted(ctx, &l.r, &l.file) {
            // Wants= semantics for all: a dependency that fails does not fail the unit.
            let r = unit::resolve(&ctx.root, &dep);
            if r.found() && !unit::is_template(&r.id) {
                let _ = unit_op(ctx, "start", &dep);
            }
        }
    }
    let rc = if ctx.supervises(&l.r) {
        supervisor::op(ctx, verb, l)
    } else {
        match record(ctx, verb, l) {
            Ok(()) => 0,
            // The state directory is not writable: what an unprivileged caller gets.
            Err(_) => fail(ctx, &format!("Failed to {verb} {id}: Access denied"), 1),
        }
    };
    if matches!(verb, "stop" | "restart") {
        for bound in deps::bound_to(ctx, &id) {
            let _ = unit_op(ctx, verb, &bound);
        }
    }
    rc
}

fn fail(ctx: &Ctx, message: &str, code: i32) -> i32 {
    ctx.err(message);
    code
}

/// Mock mode: the state the verb leads to, recorded.
fn record(ctx: &Ctx, verb: &str, l: &Loaded) -> std::io::Result<()> {
    let active = *l.active() == Active::Active;
    let next = match verb {
        "start" | "reload-or-restart" if !active => Some(activated(l)),
        "restart" => Some(activated(l)),
        "try-restart" if active => Some(activated(l)),
        "stop" | "kill" if l.active().is_busy() => Some(Active::Inactive),
        _ => None,
    };
    match next {
        Some(state) => state::save(&ctx.root, l.id(), &state).map(|_| ()),
        None => Ok(()),
    }
}

/// A oneshot without RemainAfterExit= runs and goes back to inactive.
fn activated(l: &Loaded) -> Active {
    if l.file.is_oneshot() && !l.file.remains() {
        Active::Inactive
    } else {
        Active::Active
    }
}
