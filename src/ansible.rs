//! How the controller runs `ansible-playbook`: its environment, and a launcher that is
//! started before a pass can begin, so that importing Ansible (most of its start-up under
//! gVisor: ~0.8 s of the ~1.3 s measured here) overlaps the run's own work (the SSH wait,
//! check.sh, the cleanup between passes) instead of following it.

use crate::challenge::Strategy;

/// Where the controller image unpacks Mitogen; its strategy plugins add it to `sys.path`.
pub const MITOGEN_DIR: &str = "/opt/mitogen";

/// Where the controller image installs `LAUNCHER`.
pub const LAUNCHER_PATH: &str = "/usr/local/bin/sandbox-ansible-playbook";

/// SSH options of every connection the controller makes to a target: the run's SSH wait and
/// both passes share one master connection per target (its socket at `ControlPath`), so a
/// pass's connection is a new channel (~0.1 s under gVisor here) instead of a new SSH
/// session with its key exchange (~0.8 s). Mitogen passes `ssh_args` to `ssh` as they are;
/// Ansible's own ssh plugin keeps a `ControlPath` it is given.
pub const SSH_OPTIONS: &str = "-o ControlMaster=auto -o ControlPersist=120s -o ControlPath=/root/.ssh/sandbox-%C \
     -o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no";

/// Environment of every `ansible-playbook` in the controller.
pub fn controller_env(color: bool, strategy: Strategy) -> Vec<String> {
    let mut env: Vec<String> = [
        // The recap parser knows the default callback; a challenge's ansible.cfg cannot
        // swap in another (environment beats ansible.cfg in Ansible's precedence).
        "ANSIBLE_STDOUT_CALLBACK=default",
        // Without it Python buffers stdout and the "live" output arrives at the end.
        "PYTHONUNBUFFERED=1",
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

/// Imports Ansible (and Mitogen when it is the strategy), then waits for its go file: the
/// arguments of `ansible-playbook`, one per line, or `stop` when the pass will not run.
/// The file appears by a rename, so it is never read half-written.
pub const LAUNCHER: &str = r#"#!/usr/bin/python3
import os, sys, time
go, strategy, mitogen = sys.argv[1:4]
from ansible.cli.playbook import main
if strategy == "mitogen":
    sys.path.insert(0, mitogen)
    import ansible_mitogen.strategy
while not os.path.exists(go):
    time.sleep(0.005)
with open(go) as f:
    words = f.read().split("\n")
if words == ["stop"]:
    sys.exit(0)
sys.argv = ["ansible-playbook"] + words
main()
"#;

/// Where pass `pass` of a run waits for its go.
pub fn go_file(pass: u8) -> String {
    format!("/work/.sandbox-go-{pass}")
}

/// The launcher's command line for pass `pass`.
pub fn launcher(pass: u8, strategy: Strategy) -> Vec<String> {
    [LAUNCHER_PATH, &go_file(pass), strategy.as_str(), MITOGEN_DIR].map(str::to_string).to_vec()
}

/// A shell command that gives pass `pass` its go: `ansible-playbook`'s arguments, or stop
/// when `args` is empty. Arguments are passed to it as `$1`.
pub fn go_command(pass: u8, args: &[&str]) -> Vec<String> {
    let content = if args.is_empty() { "stop".to_string() } else { args.join("\n") };
    let file = go_file(pass);
    vec![
        "sh".into(),
        "-c".into(),
        format!("printf '%s' \"$1\" > {file}.tmp && mv {file}.tmp {file}"),
        "sh".into(),
        content,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_go_file_carries_one_argument_per_line_or_stop() {
        let go = go_command(2, &["-i", "/work/inventory.ini", "--limit", "debian-12", "playbook.yml"]);
        assert_eq!(go[4], "-i\n/work/inventory.ini\n--limit\ndebian-12\nplaybook.yml");
        assert!(go[2].ends_with("mv /work/.sandbox-go-2.tmp /work/.sandbox-go-2"), "{}", go[2]);
        assert_eq!(go_command(1, &[])[4], "stop");
    }

    #[test]
    fn the_launcher_loads_mitogen_only_for_its_strategy() {
        let mitogen = launcher(1, Strategy::Mitogen);
        assert_eq!(mitogen, [LAUNCHER_PATH, "/work/.sandbox-go-1", "mitogen", "/opt/mitogen"]);
        assert_eq!(launcher(1, Strategy::Linear)[2], "linear");
        assert!(LAUNCHER.contains("if words == [\"stop\"]"));
    }
}
