//! Supervised mode with real Debian packages whose services need more than a unit file:
//! apache2 (its start script needs /run/lock, which tmpfiles.d makes at boot) and postfix
//! (`postfix.service` is a oneshot; the daemon runs in `postfix@-.service`, tied to it by
//! `PartOf=` and linked by a generator), plus a `Restart=on-failure` unit whose process is
//! killed between the passes. One debian-12 run; both passes must pass and pass 2 change
//! nothing.

use crate::harness::{leftovers, Fixture, Sandbox};

const PLAYBOOK: &str = r#"- hosts: all
  tasks:
    - name: install apache2 and postfix
      ansible.builtin.apt: { name: [apache2, postfix], state: present, update_cache: true }
      environment: { DEBIAN_FRONTEND: noninteractive }
    - name: apache2 runs
      ansible.builtin.systemd: { name: apache2, state: started, enabled: true }
    - name: postfix runs
      ansible.builtin.systemd: { name: postfix, state: started, enabled: true }
    - name: a unit that must come back
      ansible.builtin.copy:
        dest: /etc/systemd/system/phoenix.service
        content: |
          [Unit]
          Description=comes back
          [Service]
          ExecStart=/bin/sleep infinity
          Restart=on-failure
          RestartSec=1
          [Install]
          WantedBy=multi-user.target
    - name: phoenix runs
      ansible.builtin.systemd: { name: phoenix, state: started, enabled: true, daemon_reload: true }
"#;

/// After pass 1 the check kills phoenix's main process; after pass 2 it must be back.
const CHECK: &str = r#"#!/bin/sh
fail=0
for port in 80 25; do
  python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 2)" 2>/dev/null \
    || { echo "nothing listens on port $port"; fail=1; }
done
grep -qx master /proc/[0-9]*/comm 2>/dev/null || { echo "postfix's master does not run"; fail=1; }
[ "$(systemctl is-active postfix@-)" = active ] || { echo "postfix@- is not active"; fail=1; }
pid=$(systemctl show -p MainPID --value phoenix)
[ "$pid" -gt 0 ] 2>/dev/null || { echo "phoenix has no main process"; fail=1; }
if [ -e /var/tmp/phoenix-killed ]; then
  [ "$(cat /var/tmp/phoenix-killed)" != "$pid" ] || { echo "phoenix did not come back"; fail=1; }
else
  kill -9 "$pid" && echo "$pid" > /var/tmp/phoenix-killed
  i=0; while [ "$(systemctl show -p MainPID --value phoenix)" = "$pid" ] || [ "$(systemctl show -p MainPID --value phoenix)" = 0 ]; do
    i=$((i + 1)); [ $i -lt 100 ] || { echo "phoenix did not restart"; fail=1; break; }; sleep 0.1
  done
fi
exit $fail
"#;

#[test]
fn supervised_apache2_postfix_and_restart_on_failure_pass_twice() {
    let fixture = Fixture::new(
        "title = \"supervised packages\"\ndistros = [\"debian-12\"]\n[run]\nservices = \"supervised\"\n",
        PLAYBOOK,
        CHECK,
    );
    let out = Sandbox::new(["run", &fixture.path_str(), "--json", "--no-pool"]).output();
    let report = format!("stdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
    assert_eq!(out.code, 0, "{report}");
    let platform = out.platform("debian-12");
    assert_eq!(platform["verdict"], "passed", "{platform}\n{report}");
    assert_eq!(platform["passes"][1]["changed"], 0, "pass 2 changes nothing: {platform}");
    for pass in 0..2 {
        assert_eq!(platform["passes"][pass]["verify_exit"], 0, "{platform}");
    }
    assert_eq!(leftovers(&out.run_id()), (0, 0));
}
