//! systemctl (and, called by those names, journalctl and systemd-tmpfiles) for sandbox
//! targets.
//!
//! Why this exists: targets run in gVisor containers where systemd is not PID 1 and cannot
//! run, so the real systemctl only answers "System has not been booted with systemd".
//! Ansible's systemd/service/service_facts modules and Debian maintainer scripts still need a
//! systemctl that behaves like the real one. This program answers from the unit files really
//! present on disk, keeps enable/mask state where systemd keeps it, and remembers each unit's
//! state in /var/lib/sandbox-systemctl. In supervised mode (/etc/sandbox/services says
//! `supervised`) it is a small service manager: services really run.
//!
//! It is one static binary (no libc to match on Debian, Rocky or Alpine) that execs nothing
//! of its own: every call costs one exec, where the POSIX-sh program it replaces forked tens.

mod boot;
mod cli;
mod cmdline;
mod ctx;
mod deps;
mod enablement;
mod install;
mod journal;
mod lifecycle;
mod list;
mod loaded;
mod notify;
mod observe;
mod process;
mod query;
mod root;
mod show;
mod state;
mod supervisor;
mod syslog;
mod time;
mod tmpfiles;
mod unit;
mod unitlog;

use ctx::Ctx;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let invoked = args.first().map(|a| root::base(a).to_string()).unwrap_or_default();
    let root = root::Root::from_env();
    let code = match invoked.as_str() {
        "journalctl" => journal::main(&root, &args[1..]),
        "systemd-tmpfiles" => tmpfiles::main(&root, &args[1..]),
        _ => systemctl(root, &args[1..]),
    };
    std::process::exit(code);
}

const USAGE: &str = "systemctl [OPTIONS...] COMMAND ...

Query or send control commands to the system manager (sandbox stand-in:
no systemd runs here; unit state is simulated from the unit files on disk).

Unit Commands:
  list-units [PATTERN...]     List units currently in memory
  list-unit-files [PATTERN...] List installed unit files
  list-timers [PATTERN...]    List timer units
  is-active PATTERN...        Check whether units are active
  is-failed PATTERN...        Check whether units are failed
  status [PATTERN...]         Show runtime status of one or more units
  show [PATTERN...]           Show properties of one or more units
  cat PATTERN...              Show files and drop-ins of specified units
  start/stop/restart/reload/try-restart/reload-or-restart/
  try-reload-or-restart/kill/reset-failed UNIT...
  enable/disable/reenable/preset/mask/unmask UNIT...
  is-enabled UNIT...          Check whether unit files are enabled
  daemon-reload/daemon-reexec/is-system-running/get-default";

fn systemctl(root: root::Root, args: &[String]) -> i32 {
    let command = match cli::parse(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    let ctx = Ctx::new(root, command.opts);
    if ctx.opts.version {
        ctx.say(&format!("systemd {} ({})", show::SD_VERSION, show::SD_VERSION_FULL));
        ctx.say(show::SD_FEATURES);
        return 0;
    }
    if ctx.opts.help {
        ctx.say(USAGE);
        return 0;
    }
    // Control commands are waited for with sigtimedwait (see process::wait_for).
    process::block_sigchld();
    let verb = command.verb.as_deref().unwrap_or("");
    run_verb(&ctx, verb, &command.args)
}

/// Verbs that need at least one unit.
const NEEDS_UNITS: [&str; 22] = [
    "start",
    "stop",
    "restart",
    "reload",
    "try-restart",
    "condrestart",
    "reload-or-restart",
    "try-reload-or-restart",
    "force-reload",
    "reload-or-try-restart",
    "kill",
    "enable",
    "disable",
    "reenable",
    "preset",
    "mask",
    "unmask",
    "is-active",
    "is-failed",
    "is-enabled",
    "cat",
    "set-default",
];

fn run_verb(ctx: &Ctx, verb: &str, units: &[String]) -> i32 {
    if NEEDS_UNITS.contains(&verb) && units.is_empty() {
        ctx.err("Too few arguments.");
        return 1;
    }
    match verb {
        "" | "list-units" => list::cmd_list_units(ctx, units),
        "list-unit-files" => list::cmd_list_unit_files(ctx, units),
        "list-timers" => list::cmd_list_timers(ctx, units),
        "list-jobs" => {
            ctx.say("No jobs running.");
            0
        }
        "start"
        | "stop"
        | "restart"
        | "reload"
        | "try-restart"
        | "condrestart"
        | "reload-or-restart"
        | "try-reload-or-restart"
        | "force-reload"
        | "reload-or-try-restart"
        | "kill" => {
            let verb = lifecycle::canonical(verb);
            units.iter().fold(0, |rc, u| match lifecycle::unit_op(ctx, verb, u) {
                0 => rc,
                code => code,
            })
        }
        "enable" | "disable" | "reenable" | "preset" | "mask" | "unmask" => enablement(ctx, verb, units),
        "is-active" => query::cmd_is_active(ctx, units, "active"),
        "is-failed" => query::cmd_is_active(ctx, units, "failed"),
        "is-enabled" => query::cmd_is_enabled(ctx, units),
        "show" => show::cmd_show(ctx, units),
        "status" => query::cmd_status(ctx, units),
        "cat" => query::cmd_cat(ctx, units),
        "reset-failed" => query::cmd_reset_failed(ctx, units),
        "daemon-reload" | "daemon-reexec" => {
            deps::run_generators(ctx);
            0
        }
        "is-system-running" => {
            if !ctx.opts.quiet {
                ctx.say("running");
            }
            0
        }
        "get-default" => query::cmd_get_default(ctx),
        "set-default" => query::cmd_set_default(ctx, &units[0]),
        "sandbox-boot" if ctx.mode == ctx::Mode::Supervised => boot::boot(ctx),
        "sandbox-boot" => 0,
        "show-environment" => {
            for entry in show::MANAGER_ENVIRONMENT.split(' ') {
                ctx.say(entry);
            }
            0
        }
        "help" => {
            ctx.say(USAGE);
            0
        }
        other => {
            ctx.err(&format!("Unknown command verb '{other}'."));
            1
        }
    }
}

/// enable/disable/…: each unit, then with --now the start or stop that goes with it.
fn enablement(ctx: &Ctx, verb: &str, units: &[String]) -> i32 {
    let mut ok = true;
    for u in units {
        ok &= match verb {
            "enable" => install::enable(ctx, u),
            "disable" => install::disable(ctx, u),
            "reenable" => install::disable(ctx, u) & install::enable(ctx, u),
            "preset" => install::preset(ctx, u),
            "mask" => install::mask(ctx, u),
            _ => install::unmask(ctx, u),
        };
    }
    let mut rc = if ok { 0 } else { 1 };
    if ctx.opts.now && ok {
        let follow = match verb {
            "enable" | "reenable" => Some("start"),
            "disable" | "mask" => Some("stop"),
            _ => None,
        };
        for u in units {
            if let Some(op) = follow {
                match lifecycle::unit_op(ctx, op, u) {
                    0 => {}
                    code => rc = code,
                }
            }
        }
    }
    rc
}
