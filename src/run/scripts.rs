//! The shell a run executes inside its containers: the SSH wait, the egress probe, the cleanup
//! between passes, and check.sh.

use crate::ansible::SSH_OPTIONS;
use crate::distro::{Distro, Family};
use crate::docker::{Engine, EngineError, ExecOutput};
use crate::images::{MOCK_LOCATIONS, MOCK_MASTER};

/// Where check.sh is placed in a target before it runs.
const CHECK_PATH: &str = "/usr/local/lib/sandbox/check.sh";

/// The host an offline target must not reach.
pub const EGRESS_PROBE_HOST: &str = "deb.debian.org";

/// Exits 0 only when a TCP connection to port 80 of its argument succeeds (python3 is in
/// every target).
pub const EGRESS_PROBE: &str = "import socket, sys; socket.create_connection((sys.argv[1], 80), 5)";

/// Writes the inventory (the script's `$1`) to `inventory`, then waits until every target
/// accepts the run's key over SSH: 100 tries, 0.2 s apart, per host (one exec for both: an
/// exec costs ~0.1 s under gVisor). The first connection that succeeds stays as the master
/// the passes' connections share (`ansible::SSH_OPTIONS`). Every host is waited for; each
/// one that never answers is printed on a line of its own (`ADDRESS did not accept SSH
/// within 20 s`, see `unreachable_hosts`) and the exit is 1; an inventory that could not be
/// written is `INVENTORY_NOT_WRITTEN`.
pub fn wait_for_ssh_script(inventory: &str, addresses: &[&str]) -> String {
    format!(
        "printf '%s' \"$1\" > {inventory} || exit {INVENTORY_NOT_WRITTEN}; \
         failed=0; for host in {}; do tries=0; \
         until ssh {SSH_OPTIONS} -o BatchMode=yes -o ConnectTimeout=2 root@$host true 2>/dev/null; do \
         tries=$((tries+1)); if [ $tries -ge 100 ]; then echo \"$host {UNREACHABLE}\"; failed=1; break; fi; sleep 0.2; done; done; exit $failed",
        addresses.join(" ")
    )
}

/// The SSH wait's exit when the inventory could not be written.
pub const INVENTORY_NOT_WRITTEN: i64 = 2;

const UNREACHABLE: &str = "did not accept SSH within 20 s";

/// The addresses `wait_for_ssh_script` reported as unreachable.
pub fn unreachable_hosts(output: &str) -> Vec<&str> {
    output.lines().filter_map(|line| line.trim().strip_suffix(UNREACHABLE)).map(str::trim).collect()
}

/// Between the passes: kill package managers left running by pass 1 and remove their
/// locks (pass 2 would otherwise fail on a lock, not on the learner's playbook), and put
/// the systemctl mock back wherever a package replaced it. Prints one line per action.
///
/// `pidof` is missing on minimal images: processes are found with one `ps` and one `awk`
/// (every process costs ~10-30 ms under gVisor, and this runs between the passes).
pub fn between_passes_script(family: Family) -> String {
    let names = family.package_manager_processes().join(" ");
    let locks = family.lock_files().join(" ");
    let locations = MOCK_LOCATIONS.join(" ");
    format!(
        "killed=0\n\
         leftovers=$(ps -eo pid=,comm= | awk -v names=\"{names}\" \
         'BEGIN {{ n = split(names, list, \" \"); for (i = 1; i <= n; i++) wanted[list[i]] = 1 }} ($2 in wanted) {{ print $1 \":\" $2 }}')\n\
         for leftover in $leftovers; do\n\
         \x20 pid=${{leftover%%:*}}; name=${{leftover#*:}}\n\
         \x20 kill -9 \"$pid\" 2>/dev/null && echo \"killed leftover $name (pid $pid)\" && killed=1\n\
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ssh_wait_names_only_the_hosts_that_did_not_answer() {
        let script = wait_for_ssh_script("/work/inventory.ini", &["10.0.0.2", "10.0.0.3"]);
        assert!(script.starts_with("printf '%s' \"$1\" > /work/inventory.ini || exit 2;"), "{script}");
        assert!(script.contains("for host in 10.0.0.2 10.0.0.3;"));
        assert!(script.contains("break; fi") && script.ends_with("exit $failed"), "{script}");
        // The wait's connection is the master the passes' connections share.
        let ansible_ssh_args = crate::ansible::controller_env(false, crate::challenge::Strategy::Mitogen)
            .into_iter()
            .find_map(|var| var.strip_prefix("ANSIBLE_SSH_ARGS=").map(str::to_string))
            .unwrap();
        assert_eq!(ansible_ssh_args, SSH_OPTIONS);
        assert!(SSH_OPTIONS.contains("-o ControlPath=/root/.ssh/sandbox-%C"), "{SSH_OPTIONS}");
        assert!(script.contains(&format!("until ssh {SSH_OPTIONS} -o BatchMode=yes")), "{script}");
        let output = "10.0.0.3 did not accept SSH within 20 s\n";
        assert_eq!(unreachable_hosts(output), ["10.0.0.3"]);
        assert!(unreachable_hosts("").is_empty());
    }

    #[test]
    fn cleanup_script_finds_processes_without_pidof_and_restores_the_mock() {
        let script = between_passes_script(Family::Debian);
        assert!(!script.contains("pidof"));
        assert!(script.contains("awk -v names=\"apt apt-get dpkg unattended-upgr\""), "{script}");
        assert!(script.contains("/var/lib/dpkg/lock-frontend"));
        assert!(script.contains("cmp -s /usr/local/lib/sandbox/systemctl \"$path\""));
    }
}
