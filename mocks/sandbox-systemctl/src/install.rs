//! Enablement, kept exactly where systemd keeps it: `.wants/`/`.requires/` symlinks and alias
//! links under /etc/systemd/system (or /run/systemd/system with `--runtime`), masks as links
//! to /dev/null, presets from the preset files, and rc.d links for SysV scripts the way
//! update-rc.d keeps them. Debian's deb-systemd-helper makes the same links, so what a package
//! enabled at install time is enabled here too. Reading them back (UnitFileState) is
//! `enablement`'s.

use std::fs;
use std::os::unix::fs::symlink;

use crate::ctx::Ctx;
use crate::enablement::{dependency_links, instance_links, link_name, rc_links};
use crate::root::{self, ETC_UNITS, RUN_UNITS};
use crate::unit::{self, Kind, Resolved};

/// rc.d links as update-rc.d keeps them: S01 links when enabled, K01 when disabled.
fn sysv_set(ctx: &Ctx, r: &Resolved, enable: bool) {
    let script = unit::stem(&r.id);
    let verb = if enable { "enable" } else { "disable" };
    ctx.note(&format!(
        "Synchronizing state of {} with SysV service script with /lib/systemd/systemd-sysv-install.",
        r.id
    ));
    ctx.note(&format!("Executing: /lib/systemd/systemd-sysv-install {verb} {script}"));
    let (remove, keep) = if enable { ('K', 'S') } else { ('S', 'K') };
    ctx.root.forget();
    for level in 2..=5 {
        let dir = ctx.root.p(&format!("/etc/rc{level}.d"));
        let _ = fs::create_dir_all(&dir);
        for link in rc_links(&ctx.root, level, remove, script) {
            let _ = fs::remove_file(link);
        }
        if rc_links(&ctx.root, level, keep, script).is_empty() {
            let _ = symlink(format!("../init.d/{script}"), dir.join(format!("{keep}01{script}")));
        }
    }
}

fn has_init_script(ctx: &Ctx, r: &Resolved) -> bool {
    r.is_service() && root::executable(&ctx.root.p(&format!("/etc/init.d/{}", unit::stem(&r.id))))
}

// ---------------------------------------------------------------------------- links

/// DIR/NAME -> TARGET, unless it is already that; prints what systemctl prints.
pub fn make_link(ctx: &Ctx, dir: &str, name: &str, target: &str) -> bool {
    let abs = format!("{dir}/{name}");
    let host = ctx.root.p(&abs);
    if root::is_link(&host) {
        if root::readlink(&host).as_deref() == Some(target) {
            return true;
        }
        let _ = fs::remove_file(&host);
    }
    let _ = fs::create_dir_all(ctx.root.p(dir));
    ctx.root.forget();
    match symlink(target, &host) {
        Ok(()) => {
            ctx.note(&format!("Created symlink {abs} → {target}."));
            true
        }
        Err(e) => {
            ctx.err(&format!("Failed to create symlink {abs}: {}", root::errno_text(&e)));
            false
        }
    }
}

pub fn remove_link(ctx: &Ctx, abs: &str) {
    ctx.root.forget();
    if fs::remove_file(ctx.root.p(abs)).is_ok() {
        ctx.note(&format!("Removed \"{abs}\"."));
    }
}

fn enable_base(ctx: &Ctx) -> &'static str {
    if ctx.opts.runtime {
        RUN_UNITS
    } else {
        ETC_UNITS
    }
}

const NO_INSTALL: &str = "The unit files have no installation config (WantedBy=, RequiredBy=, Also=,
Alias= settings in the [Install] section, and DefaultInstance= for template
units). This means they are not meant to be enabled or disabled using systemctl.
 
Possible reasons for having this kind of units are:
• A unit may be statically enabled by being symlinked from another unit's
  .wants/ or .requires/ directory.
• A unit's purpose may be to act as a helper for some other unit which has
  a requirement dependency on it.
• A unit may be started when needed via activation (socket, path, timer,
  D-Bus, udev, scripted systemctl call, ...).
• In case of template units, the unit is meant to be enabled with some
  instance name specified.";

// ---------------------------------------------------------------------------- verbs

pub fn enable(ctx: &Ctx, name: &str) -> bool {
    let r = unit::resolve(&ctx.root, name);
    match r.kind {
        Kind::None => {
            ctx.err(&format!("Failed to enable unit: Unit file {} does not exist.", r.id));
            return false;
        }
        Kind::Masked => {
            ctx.err(&format!("Failed to enable unit: Unit file {ETC_UNITS}/{} is masked.", r.id));
            return false;
        }
        Kind::Sysv => {
            sysv_set(ctx, &r, true);
            return true;
        }
        Kind::File => {}
    }
    let u = unit::parse(&ctx.root, &r);
    let name = link_name(&r, &u);
    if unit::is_template(&name) || !u.has_install {
        ctx.note(NO_INSTALL);
        return true;
    }
    let base = enable_base(ctx);
    let mut ok = true;
    let nothing = u.wanted_by.is_empty() && u.required_by.is_empty() && u.aliases.is_empty() && u.also.is_empty();
    let wanted: Vec<String> = if nothing { vec!["multi-user.target".into()] } else { u.wanted_by.clone() };
    for target in &wanted {
        ok &= make_link(ctx, &format!("{base}/{target}.wants"), &name, &r.frag);
    }
    for target in &u.required_by {
        ok &= make_link(ctx, &format!("{base}/{target}.requires"), &name, &r.frag);
    }
    for alias in &u.aliases {
        let host = ctx.root.p(&format!("{base}/{alias}"));
        if root::present(&host) && !root::is_link(&host) {
            continue;
        }
        ok &= make_link(ctx, base, alias, &r.frag);
    }
    if has_init_script(ctx, &r) {
        sysv_set(ctx, &r, true);
    }
    for other in &u.also {
        ok &= enable(ctx, other);
    }
    ok
}

pub fn disable(ctx: &Ctx, name: &str) -> bool {
    let r = unit::resolve(&ctx.root, name);
    match r.kind {
        Kind::None => {
            ctx.err(&format!("Failed to disable unit: Unit file {} does not exist.", r.id));
            return false;
        }
        Kind::Masked => return true,
        Kind::Sysv => {
            sysv_set(ctx, &r, false);
            return true;
        }
        Kind::File => {}
    }
    let u = unit::parse(&ctx.root, &r);
    let name = link_name(&r, &u);
    for base in [ETC_UNITS, RUN_UNITS] {
        for link in dependency_links(&ctx.root, base, &name) {
            remove_link(ctx, &link);
        }
        if unit::is_template(&r.id) {
            for link in instance_links(&ctx.root, base, &r.id, &[".wants", ".requires"]) {
                remove_link(ctx, &link);
            }
        }
        for alias in &u.aliases {
            let abs = format!("{base}/{alias}");
            let host = ctx.root.p(&abs);
            if root::is_link(&host) && !root::is_null_link(&host) {
                remove_link(ctx, &abs);
            }
        }
    }
    if has_init_script(ctx, &r) {
        sysv_set(ctx, &r, false);
    }
    for other in &u.also {
        disable(ctx, other);
    }
    true
}

/// A link to /dev/null. The admin's own unit file in /etc lives where the mask belongs: real
/// systemd refuses ("File ... already exists"), which Ansible ignores and reports as changed,
/// and overwriting it would lose the file. The mask goes to the higher-priority control
/// directory instead: the file is kept and unmask restores it.
pub fn mask(ctx: &Ctx, name: &str) -> bool {
    let r = unit::name_only(name);
    let base = enable_base(ctx);
    let mut dir = base.to_string();
    let here = ctx.root.p(&format!("{base}/{}", r.id));
    if root::present(&here) {
        if root::is_null_link(&here) {
            return true;
        }
        dir = format!("{base}.control");
    }
    let abs = format!("{dir}/{}", r.id);
    if root::is_null_link(&ctx.root.p(&abs)) {
        return true;
    }
    let _ = fs::create_dir_all(ctx.root.p(&dir));
    ctx.root.forget();
    match symlink("/dev/null", ctx.root.p(&abs)) {
        Ok(()) => {
            ctx.note(&format!("Created symlink {abs} → /dev/null."));
            true
        }
        Err(e) => {
            ctx.err(&format!("Failed to mask unit: {}", root::errno_text(&e)));
            false
        }
    }
}

pub fn unmask(ctx: &Ctx, name: &str) -> bool {
    let r = unit::name_only(name);
    for base in [ETC_UNITS, RUN_UNITS, "/etc/systemd/system.control", "/run/systemd/system.control"] {
        let abs = format!("{base}/{}", r.id);
        if root::is_null_link(&ctx.root.p(&abs)) {
            remove_link(ctx, &abs);
        }
    }
    true
}

pub fn preset(ctx: &Ctx, name: &str) -> bool {
    let r = unit::resolve(&ctx.root, name);
    match r.kind {
        Kind::None => {
            ctx.err(&format!("Failed to preset unit: Unit file {} does not exist.", r.id));
            return false;
        }
        Kind::Masked | Kind::Sysv => return true,
        Kind::File => {}
    }
    if !unit::parse(&ctx.root, &r).has_install {
        return true;
    }
    if ctx.preset_of(&r.id) == "enabled" {
        enable(ctx, name)
    } else {
        disable(ctx, name)
    }
}
