//! How the controller runs `ansible-playbook`: its environment, and a launcher (`launcher.py`)
//! whose first pass starts one process that serves every pass of the run. Importing Ansible
//! (~1.3 s under gVisor) overlaps the SSH wait and happens once, and Mitogen's interpreters
//! on the targets outlive pass 1, so pass 2 does not connect, bootstrap and import again
//! (~2 s under gVisor here).

use crate::challenge::Strategy;

/// Where the controller image unpacks Mitogen; its strategy plugins add it to `sys.path`.
pub const MITOGEN_DIR: &str = "/opt/mitogen";

/// Where the controller image installs `LAUNCHER`.
pub const LAUNCHER_PATH: &str = "/usr/local/bin/sandbox-ansible-playbook";

/// SSH options of every connection the controller makes to a target: the run's SSH wait and
/// both passes share one master connection per target (its socket at `ControlPath`), so a
/// pass's connection is a new channel (~0.1 s under gVisor here) instead of a new SSH
/// session with its key exchange (~0.8 s). Mitogen passes `ssh_args` to `ssh` as they are;
/// Ansible's own ssh plugin keeps a `ControlPath` it is given. The key exchange prefers
/// curve25519-sha256 (OpenSSH's default before 9.0; the others stay as fallbacks): the client's
/// share of the post-quantum sntrup761 exchange costs ~0.35 s under gVisor here, and this
/// traffic never leaves the run's own network on this host.
pub const SSH_OPTIONS: &str = "-o ControlMaster=auto -o ControlPersist=120s -o ControlPath=/root/.ssh/sandbox-%C \
     -o KexAlgorithms=^curve25519-sha256 -o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no";

/// Environment of every `ansible-playbook` in the controller. Not `PYTHONUNBUFFERED`: every
/// Python the run starts inherits it, and a Python reading its program from a pipe (a local
/// action's module under pipelining) then reads it one byte per `read()`: eight local tasks
/// took ~70 s instead of ~12 s under gVisor here. The launcher's server makes its own
/// output line-buffered instead, so the live output stays live.
pub fn controller_env(color: bool, strategy: Strategy) -> Vec<String> {
    let mut env: Vec<String> = [
        // The recap parser knows the default callback; a challenge's ansible.cfg cannot
        // swap in another (environment beats ansible.cfg in Ansible's precedence).
        "ANSIBLE_STDOUT_CALLBACK=default",
        "ANSIBLE_HOST_KEY_CHECKING=False",
        "ANSIBLE_RETRY_FILES_ENABLED=False",
        "ANSIBLE_PIPELINING=True",
        "ANSIBLE_DEPRECATION_WARNINGS=False",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    env.push(format!("ANSIBLE_SSH_ARGS={SSH_OPTIONS}"));
    env.push(if color { "ANSIBLE_FORCE_COLOR=1".into() } else { "ANSIBLE_NOCOLOR=1".into() });
    // The controller image puts Mitogen's strategy plugins on ANSIBLE_STRATEGY_PLUGINS; the
    // environment beats a challenge's ansible.cfg, a play's own `strategy:` beats both.
    env.push(format!("ANSIBLE_STRATEGY={}", strategy.plugin()));
    env
}

/// The launcher: `pass N GO_FILE [MITOGEN]` hands the exec's output and working directory to
/// the run's Ansible server (which pass 1 starts) and exits with pass N's status. The server
/// waits for `GO_FILE`: the arguments of `ansible-playbook`, one per line, or nothing when
/// the pass will not run. The file appears by a rename, so it is never read half-written.
/// With `MITOGEN` (the directory of Mitogen's sources) the server imports Mitogen and starts
/// its multiplexers. Everything the launcher needs to know comes from here, as arguments:
/// it has no path or keyword of its own to keep in step with this file.
pub const LAUNCHER: &str = include_str!("launcher.py");

/// The launcher's last arguments: Mitogen's directory for its strategy, none for Ansible's own.
fn mitogen_argument(strategy: Strategy) -> Option<String> {
    matches!(strategy, Strategy::Mitogen).then(|| MITOGEN_DIR.to_string())
}

/// A warm set's server, started ahead of any attempt (the launcher's `serve`): it imports
/// Ansible and starts Mitogen's multiplexers, then waits for pass 0, the warm-up.
pub fn serve_command(strategy: Strategy) -> Vec<String> {
    [LAUNCHER_PATH.to_string(), "serve".into()].into_iter().chain(mitogen_argument(strategy)).collect()
}

/// Where a warm set's pass 0 finds its play, outside the challenge: nothing of the learner's
/// (their group_vars, their roles) takes part in it.
pub const WARM_UP_PLAYBOOK: &str = "/work/.sandbox-warm-up.yml";

/// Pass 0: facts and one no-op per host, so Mitogen connects and bootstraps its interpreter
/// on every target with the settings pass 1 will use (the same inventory, the same
/// ansible.cfg), and that interpreter has imported what gathering facts imports (~0.9 s of
/// pass 1 under gVisor here). Facts are read, never written: nothing of pass 0 stays on the
/// target but the interpreter a cold pass 1 would have started, and Ansible keeps facts per
/// playbook run, so pass 1 gathers its own.
pub const WARM_UP_PLAY: &str = "- hosts: all\n  tasks:\n    - ping:\n";

/// Where pass `pass` of a run waits for its go.
pub fn go_file(pass: u8) -> String {
    format!("/work/.sandbox-go-{pass}")
}

/// The launcher's command line for pass `pass`.
pub fn launcher(pass: u8, strategy: Strategy) -> Vec<String> {
    [LAUNCHER_PATH.to_string(), "pass".into(), pass.to_string(), go_file(pass)]
        .into_iter()
        .chain(mitogen_argument(strategy))
        .collect()
}

/// A shell command that gives pass `pass` its go: `ansible-playbook`'s arguments, or none
/// (the pass will not run) when `args` is empty. Arguments are passed to it as `$1`.
pub fn go_command(pass: u8, args: &[&str]) -> Vec<String> {
    let file = go_file(pass);
    vec![
        "sh".into(),
        "-c".into(),
        format!("printf '%s' \"$1\" > {file}.tmp && mv {file}.tmp {file}"),
        "sh".into(),
        args.join("\n"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_go_file_carries_one_argument_per_line_or_nothing() {
        let go = go_command(2, &["-i", "/work/inventory.ini", "--limit", "debian-12", "playbook.yml"]);
        assert_eq!(go[4], "-i\n/work/inventory.ini\n--limit\ndebian-12\nplaybook.yml");
        assert!(go[2].ends_with("mv /work/.sandbox-go-2.tmp /work/.sandbox-go-2"), "{}", go[2]);
        assert_eq!(go_command(1, &[])[4], "");
    }

    #[test]
    fn the_launcher_is_told_its_go_file_and_mitogen_only_for_its_strategy() {
        let mitogen = launcher(1, Strategy::Mitogen);
        assert_eq!(mitogen, [LAUNCHER_PATH, "pass", "1", "/work/.sandbox-go-1", "/opt/mitogen"]);
        assert_eq!(launcher(2, Strategy::Linear), [LAUNCHER_PATH, "pass", "2", "/work/.sandbox-go-2"]);
        assert_eq!(serve_command(Strategy::Linear), [LAUNCHER_PATH, "serve"]);
    }
}
