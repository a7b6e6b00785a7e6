//! start, stop, restart, reload and friends: refused as systemd refuses them (not found,
//! masked, a template without instance, no ExecReload=), then acted on: in mock mode by
//! recording the new state, in supervised mode by the supervisor.

use crate::ctx::Ctx;
use crate::deps;
use crate::loaded::Loaded;
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

/// VERB on the loaded unit, and on the units tied to it. A unit that is PartOf=/BindsTo= this
/// one is its daemon (postfix@- of the oneshot postfix): when it fails to start, restart or
/// reload, the job fails, with that unit's own "Job for … failed" message (already printed).
/// Plain Wants= keeps systemd's semantics: a wanted unit that fails fails nothing.
fn act(ctx: &Ctx, verb: &str, l: &mut Loaded) -> i32 {
    let id = l.id().to_string();
    let does = effective(verb, *l.active() == Active::Active, l.file.has_reload);
    let mut tied_rc = 0;
    if matches!(verb, "start" | "restart" | "reload-or-restart") {
        deps::ensure_generated(ctx);
        for dep in deps::wanted(ctx, &l.r, &l.file) {
            let r = unit::resolve(&ctx.root, &dep);
            if r.found() && !unit::is_template(&r.id) {
                let tied = deps::ties(&unit::parse(&ctx.root, &r), &id);
                tied_rc = keep_failure(tied_rc, unit_op(ctx, "start", &dep), tied);
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
    if matches!(does, Some("stop" | "restart")) {
        for bound in deps::bound_to(ctx, &id) {
            let op = does.unwrap_or(verb);
            tied_rc = keep_failure(tied_rc, unit_op(ctx, op, &bound), op == "restart");
        }
    }
    if does == Some("reload") && rc == 0 {
        for follower in deps::reload_followers(ctx, &id, &l.file) {
            tied_rc = keep_failure(tied_rc, unit_op(ctx, "reload", &follower), true);
        }
    }
    if rc != 0 {
        rc
    } else {
        tied_rc
    }
}

/// The exit code so far, or a tied unit's failure RC when it counts.
fn keep_failure(so_far: i32, rc: i32, counts: bool) -> i32 {
    if so_far == 0 && rc != 0 && counts {
        rc
    } else {
        so_far
    }
}

/// What VERB does to a unit that is ACTIVE (or not) and can reload (or not): `stop`,
/// `restart`, `reload`, `start`; None when it does nothing (try-restart of a stopped unit).
fn effective(verb: &str, active: bool, can_reload: bool) -> Option<&str> {
    match verb {
        "reload-or-restart" | "try-reload-or-restart" if active && can_reload => Some("reload"),
        "reload-or-restart" | "try-restart" | "try-reload-or-restart" if active => Some("restart"),
        "reload-or-restart" => Some("start"),
        "try-restart" | "try-reload-or-restart" => None,
        other => Some(other),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_each_verb_does_to_the_units_tied_to_it() {
        assert_eq!(effective("reload-or-restart", true, true), Some("reload"));
        assert_eq!(effective("reload-or-restart", true, false), Some("restart"));
        assert_eq!(effective("reload-or-restart", false, true), Some("start"));
        assert_eq!(effective("try-reload-or-restart", false, true), None);
        assert_eq!(effective("try-restart", true, false), Some("restart"));
        assert_eq!(effective("kill", true, false), Some("kill"));
        assert_eq!(effective("restart", false, false), Some("restart"));
    }

    #[test]
    fn only_a_tied_unit_fails_the_job_and_the_first_failure_is_kept() {
        assert_eq!(keep_failure(0, 1, true), 1);
        assert_eq!(keep_failure(0, 1, false), 0);
        assert_eq!(keep_failure(3, 1, true), 3);
        assert_eq!(keep_failure(0, 0, true), 0);
    }
}
