//! Verification: check.sh inside each target, the cleanup between passes, and the rules that
//! turn two passes into a verdict.

use crate::images::{MOCK_LOCATIONS, MOCK_MASTER};
use crate::challenge::Limits;
use crate::distro::{Distro, Family};
use crate::docker::{ContainerState, Engine, EngineError, ExecOutput, WriteBound};
use crate::report::{Apply, PassReport, Verdict};

/// Where check.sh is placed in a target before it runs.
const CHECK_PATH: &str = "/usr/local/lib/sandbox/check.sh";

/// The host an offline target must not reach.
pub const EGRESS_PROBE_HOST: &str = "deb.debian.org";

/// Exits 0 only when a TCP connection to port 80 of its argument succeeds (python3 is in
/// every target).
pub const EGRESS_PROBE: &str = "import socket, sys; socket.create_connection((sys.argv[1], 80), 5)";

/// Waits until every target accepts the run's key over SSH: 100 tries, 0.2 s apart, per
/// host. Every host is waited for; each one that never answers is printed on a line of its
/// own (`ADDRESS did not accept SSH within 20 s`, see `unreachable_hosts`) and the exit is 1.
pub fn wait_for_ssh_script(addresses: &[&str]) -> String {
    format!(
        "failed=0; for host in {}; do tries=0; \
         until ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ConnectTimeout=2 root@$host true 2>/dev/null; do \
         tries=$((tries+1)); if [ $tries -ge 100 ]; then echo \"$host {UNREACHABLE}\"; failed=1; break; fi; sleep 0.2; done; done; exit $failed",
        addresses.join(" ")
    )
}

const UNREACHABLE: &str = "did not accept SSH within 20 s";

/// The addresses `wait_for_ssh_script` reported as unreachable.
pub fn unreachable_hosts(output: &str) -> Vec<&str> {
    output.lines().filter_map(|line| line.trim().strip_suffix(UNREACHABLE)).map(str::trim).collect()
}

/// Between the passes: kill package managers left running by pass 1 and remove their
/// locks (pass 2 would otherwise fail on a lock, not on the learner's playbook), and put
/// the systemctl mock back wherever a package replaced it. Prints one line per action.
///
/// `pidof` is missing on minimal images: processes are found with `ps` and `awk`.
pub fn between_passes_script(family: Family) -> String {
    let names = family.package_manager_processes().join(" ");
    let locks = family.lock_files().join(" ");
    let locations = MOCK_LOCATIONS.join(" ");
    format!(
        "killed=0\n\
         for name in {names}; do\n\
         \x20 for pid in $(ps -eo pid=,comm= | awk -v n=\"$name\" '$2 == n {{print $1}}'); do\n\
         \x20   kill -9 \"$pid\" 2>/dev/null && echo \"killed leftover $name (pid $pid)\" && killed=1\n\
         \x20 done\n\
         done\n\
         if [ $killed = 1 ]; then rm -f {locks}; echo 'removed package manager locks'; fi\n\
         for path in {locations}; do\n\
         \x20 if ! cmp -s {MOCK_MASTER} \"$path\"; then cp {MOCK_MASTER} \"$path\" && chmod 755 \"$path\" && echo \"restored the systemctl mock at $path (a package had replaced it)\"; fi\n\
         done\n\
         true\n"
    )
}

/// Copies check.sh into the target and runs it as root with SANDBOX_DISTRO and SANDBOX_PASS.
pub async fn run_check(
    engine: &Engine,
    id: &str,
    what: &str,
    distro: &Distro,
    pass: u8,
    script: &str,
) -> Result<ExecOutput, EngineError> {
    engine.write_file(id, what, CHECK_PATH, script, 0o755).await?;
    let env = [format!("SANDBOX_DISTRO={}", distro.name), format!("SANDBOX_PASS={pass}")];
    engine.exec(id, what, &[CHECK_PATH], &env, Some("/root"), &mut |_| {}).await
}

/// Where a resource ran out, as a reason names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place<'a> {
    Target(&'a str),
    Controller,
}

impl std::fmt::Display for Place<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Place::Target(distro) => write!(f, "target {distro}"),
            Place::Controller => f.write_str("the controller"),
        }
    }
}

/// Why a container is no longer running, naming the resource, its limit and where.
pub fn death_reason(state: &ContainerState, limits: &Limits, place: Place, writes: WriteBound) -> String {
    let limit = limits.memory_bytes / (1024 * 1024);
    let mut bound = format!("limit {limit} MiB");
    if writes == WriteBound::Memory {
        // Under gVisor's memory overlay a learner's big file is what fills this limit.
        bound.push_str("; files written outside /tmp count against it");
    }
    if place == Place::Controller {
        bound.push_str("; lookups and `delegate_to: localhost` run there");
    }
    if state.oom_killed {
        format!("out of memory in {place} ({bound})")
    } else if state.exit_code == 137 {
        // The guard records its own reason before it kills, so a SIGKILL without one came from
        // the host's OOM killer: the runsc shim does not always report it as OOMKilled.
        format!("out of memory in {place}, most likely: killed by SIGKILL ({bound})")
    } else {
        format!("{place} stopped unexpectedly (exit code {})", state.exit_code)
    }
}

/// The verdict of a platform that completed its passes without being killed.
pub fn verdict(passes: &[PassReport], idempotent_required: bool, planned_passes: u8) -> (Verdict, String) {
    let failed = |reason: String| (Verdict::Failed, reason);
    let Some(first) = passes.first() else {
        return (Verdict::Error, "pass 1 never ran".into());
    };
    let apply_failure = |pass: &PassReport| {
        let error = pass.apply_error.as_deref().unwrap_or("the playbook failed");
        failed(format!("pass {}: {error}", pass.pass))
    };
    if first.apply != Apply::Ok {
        return apply_failure(first);
    }
    match first.verify_exit {
        Some(0) => {}
        Some(code) => return failed(format!("check.sh failed after pass 1 (exit {code})")),
        None => return failed("check.sh did not run after pass 1".into()),
    }
    let Some(second) = passes.get(1) else {
        if planned_passes == 1 {
            return (Verdict::Passed, "passed (one pass)".into());
        }
        return failed("pass 2 did not run".into());
    };
    if second.apply != Apply::Ok {
        return apply_failure(second);
    }
    let changed = second.changed.unwrap_or(0);
    if idempotent_required && changed > 0 {
        let tasks: Vec<String> = second.changed_tasks.iter().map(|t| format!("`{t}`")).collect();
        return failed(format!("not idempotent: pass 2 changed {changed} task(s): {}", tasks.join(", ")));
    }
    match second.verify_exit {
        Some(0) => (Verdict::Passed, "passed".into()),
        Some(code) => failed(format!("check.sh failed after pass 2 (exit {code})")),
        None => failed("check.sh did not run after pass 2".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pass(n: u8, apply: Apply, changed: u32, verify: i64) -> PassReport {
        PassReport {
            pass: n,
            apply,
            apply_error: (apply == Apply::Failed).then(|| "task `x` failed: boom".to_string()),
            changed: Some(changed),
            changed_tasks: if changed > 0 { vec!["append".into()] } else { vec![] },
            verify_exit: Some(verify),
            verify_output: String::new(),
        }
    }

    #[test]
    fn both_passes_clean_is_a_pass() {
        let passes = [pass(1, Apply::Ok, 3, 0), pass(2, Apply::Ok, 0, 0)];
        assert_eq!(verdict(&passes, true, 2).0, Verdict::Passed);
    }

    #[test]
    fn changes_on_pass_two_fail_idempotency_with_task_names() {
        let passes = [pass(1, Apply::Ok, 1, 0), pass(2, Apply::Ok, 1, 0)];
        let (verdict_, reason) = verdict(&passes, true, 2);
        assert_eq!(verdict_, Verdict::Failed);
        assert_eq!(reason, "not idempotent: pass 2 changed 1 task(s): `append`");
        assert_eq!(verdict(&passes, false, 2).0, Verdict::Passed);
    }

    #[test]
    fn a_failed_apply_names_ansibles_reason() {
        let passes = [pass(1, Apply::Failed, 0, 0)];
        assert_eq!(verdict(&passes, true, 2), (Verdict::Failed, "pass 1: task `x` failed: boom".to_string()));
    }

    #[test]
    fn a_failing_check_fails() {
        let passes = [pass(1, Apply::Ok, 1, 2)];
        assert_eq!(verdict(&passes, true, 2).1, "check.sh failed after pass 1 (exit 2)");
    }

    #[test]
    fn the_ssh_wait_names_only_the_hosts_that_did_not_answer() {
        let script = wait_for_ssh_script(&["10.0.0.2", "10.0.0.3"]);
        assert!(script.contains("for host in 10.0.0.2 10.0.0.3;"));
        assert!(script.contains("break; fi") && script.ends_with("exit $failed"), "{script}");
        let output = "10.0.0.3 did not accept SSH within 20 s\n";
        assert_eq!(unreachable_hosts(output), ["10.0.0.3"]);
        assert!(unreachable_hosts("").is_empty());
    }

    #[test]
    fn cleanup_script_finds_processes_without_pidof_and_restores_the_mock() {
        let script = between_passes_script(Family::Debian);
        assert!(!script.contains("pidof"));
        assert!(script.contains("for name in apt apt-get dpkg"));
        assert!(script.contains("/var/lib/dpkg/lock-frontend"));
        assert!(script.contains("cmp -s /usr/local/lib/sandbox/systemctl \"$path\""));
    }

    #[test]
    fn oom_is_named_with_the_place_and_the_limit() {
        let state = ContainerState { running: false, oom_killed: true, exit_code: 137, ..Default::default() };
        let limits = Limits::default();
        assert_eq!(
            death_reason(&state, &limits, Place::Target("debian-12"), WriteBound::HostDisk),
            "out of memory in target debian-12 (limit 512 MiB)"
        );
        assert_eq!(
            death_reason(&state, &limits, Place::Target("debian-12"), WriteBound::Memory),
            "out of memory in target debian-12 (limit 512 MiB; files written outside /tmp count against it)"
        );
        let controller = death_reason(&state, &limits.for_controller(), Place::Controller, WriteBound::Memory);
        assert!(controller.starts_with("out of memory in the controller (limit 1024 MiB;"), "{controller}");
        assert!(controller.contains("lookups and `delegate_to: localhost` run there"), "{controller}");
    }

    #[test]
    fn a_sigkill_without_oom_flag_is_still_called_memory_and_other_exits_are_not() {
        let killed = ContainerState { running: false, oom_killed: false, exit_code: 137, ..Default::default() };
        let reason = death_reason(&killed, &Limits::default(), Place::Controller, WriteBound::HostDisk);
        assert!(
            reason.starts_with("out of memory in the controller, most likely: killed by SIGKILL (limit"),
            "{reason}"
        );
        let exited = ContainerState { running: false, oom_killed: false, exit_code: 2, ..Default::default() };
        let reason = death_reason(&exited, &Limits::default(), Place::Target("debian-12"), WriteBound::Memory);
        assert_eq!(reason, "target debian-12 stopped unexpectedly (exit code 2)");
    }
}
