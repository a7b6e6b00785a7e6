//! Every target has an IPv6 loopback, as a real host has: Docker disables IPv6 (`::1`
//! included) in a container none of whose networks has it, and runsc ignores the sysctls that
//! would turn it back on, so a run gives its targets an internal IPv6 network of its own.
//! Daemons set to listen on "all" protocols at `localhost` need `::1` (postfix, as
//! geerlingguy.postfix configures it: `inet_protocols = all`, `inet_interfaces = localhost`).
//! The targets still reach nothing over IPv6 beyond their own run, and the network goes with
//! the run.

use crate::harness::{leftovers, Fixture, Sandbox};

const PLAYBOOK: &str = "- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.ping:\n";

const CHECK: &str = r#"#!/bin/sh
fail=0
grep -q '^00000000000000000000000000000001 .* lo$' /proc/net/if_inet6 || { echo "FAIL: no ::1 on lo in /proc/net/if_inet6"; fail=1; }
python3 - <<'PY' || fail=1
import socket, sys
server = socket.socket(socket.AF_INET6)
server.bind(("::1", 2525))
server.listen()
client = socket.create_connection(("::1", 2525), 2)
peer, _ = server.accept()
client.sendall(b"over ::1")
print("ok:", peer.recv(16).decode())
# No IPv6 route leaves the run: a global address is unreachable at once.
probe = socket.socket(socket.AF_INET6)
probe.settimeout(3)
try:
    probe.connect(("2001:db8::1", 80))
    print("FAIL: 2001:db8::1 answered")
    sys.exit(1)
except OSError as e:
    print("ok: no route out over IPv6:", e)
PY
exit $fail
"#;

#[test]
fn targets_have_an_ipv6_loopback_and_no_ipv6_route_out() {
    let fixture = Fixture::new("title = \"ipv6 loopback\"\ndistros = [\"debian-12\"]\n", PLAYBOOK, CHECK);
    let out = Sandbox::new(["run", &fixture.path_str(), "--json", "--no-pool"]).output();
    let report = format!("stdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
    assert_eq!(out.code, 0, "{report}");
    let platform = out.platform("debian-12");
    let output = platform["passes"][0]["verify_output"].as_str().unwrap_or_default().to_string();
    assert!(output.contains("ok: over ::1"), "{output}\n{report}");
    assert!(output.contains("ok: no route out over IPv6"), "{output}\n{report}");
    assert!(!output.contains("FAIL"), "{output}\n{report}");
    assert_eq!(leftovers(&out.run_id()), (0, 0), "the run's networks, the IPv6 one too, are removed");
}
