//! `systemctl sandbox-boot`, for the target's init in supervised mode: what systemd does at
//! boot. Nothing survived the last boot, and enabled services start in After= order.

use std::fs;

use crate::ctx::Ctx;
use crate::deps;
use crate::enablement;
use crate::lifecycle;
use crate::list;
use crate::observe;
use crate::root::{self, STATE_DIR};
use crate::state::{self, Active};
use crate::unit::{self, Kind};

/// What systemd does at boot, for the target's init: nothing survived the last boot, and
/// enabled services start.
pub fn boot(ctx: &Ctx) -> i32 {
    for name in root::names(&ctx.root.p(STATE_DIR)).into_iter().filter(|n| n.ends_with(".service")) {
        let path = ctx.root.p(&format!("{STATE_DIR}/{name}"));
        if !root::is_file(&path) {
            continue;
        }
        let was = Active::parse(&root::first_line(&path).unwrap_or_default());
        if matches!(was, Active::Active | Active::Reloading | Active::Activating | Active::Deactivating) {
            let _ = state::save(&ctx.root, &name, &Active::Inactive);
        }
    }
    let _ = fs::remove_dir_all(observe::sup_dir(&ctx.root));
    deps::run_generators(ctx);
    let mut enabled: Vec<(String, Vec<String>)> = Vec::new();
    for name in list::unit_names(ctx, list::Scope::Files) {
        if !name.ends_with(".service") {
            continue;
        }
        let r = unit::resolve(&ctx.root, &name);
        if r.id != name || r.kind != Kind::File || !ctx.supervises(&r) {
            continue;
        }
        let u = unit::parse(&ctx.root, &r);
        if enablement::file_state(&ctx.root, &r, &u).state == "enabled" {
            enabled.push((name, u.after.iter().map(|a| unit::normalize(a)).collect()));
        }
    }
    for name in boot_order(enabled) {
        let _ = lifecycle::unit_op(ctx, "start", &name);
    }
    0
}

/// UNITS (name, After=) in an order that starts each after the ones it names; a cycle is
/// broken in name order, as systemd breaks one by dropping a job.
fn boot_order(mut units: Vec<(String, Vec<String>)>) -> Vec<String> {
    let mut order: Vec<String> = Vec::new();
    while !units.is_empty() {
        let pending: Vec<String> = units.iter().map(|(n, _)| n.clone()).collect();
        let ready = units.iter().position(|(_, after)| after.iter().all(|a| !pending.contains(a))).unwrap_or(0);
        order.push(units.remove(ready).0);
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boot_follows_after_and_survives_cycles() {
        let u = |n: &str, after: &[&str]| (n.to_string(), after.iter().map(|a| a.to_string()).collect());
        let order = boot_order(vec![
            u("app.service", &["db.service", "network.target"]),
            u("db.service", &[]),
            u("web.service", &["app.service"]),
        ]);
        assert_eq!(order, ["db.service", "app.service", "web.service"]);
        let cycle = boot_order(vec![u("a.service", &["b.service"]), u("b.service", &["a.service"])]);
        assert_eq!(cycle, ["a.service", "b.service"]);
    }
}
