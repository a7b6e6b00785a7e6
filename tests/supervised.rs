//! `services = "supervised"`: the targets' systemctl really runs the services, seen through
//! Ansible's own modules in real runsc targets. Each run installs nginx (about 30 s), so the
//! cases share runs: one supervised run with a good config on debian-12 and a broken one on
//! debian-13, and one mock run with the broken config, to show where each mode catches it.

use crate::harness::{leftovers, Fixture, Sandbox};

/// nginx from the distro, started and enabled, with a site whose change restarts it.
const NGINX_TASKS: &str = r#"
    - name: install nginx
      ansible.builtin.apt: { name: nginx, state: present, update_cache: true }
    - name: nginx runs
      ansible.builtin.systemd: { name: nginx, state: started, enabled: true }
    - name: site config
      ansible.builtin.template: { src: site.conf.j2, dest: /etc/nginx/conf.d/site.conf }
      notify: restart nginx
    - name: restart now, not at the end of the play
      ansible.builtin.meta: flush_handlers
"#;

const NGINX_HANDLERS: &str = r#"
  handlers:
    - name: restart nginx
      ansible.builtin.systemd: { name: nginx, state: restarted }
"#;

/// A forking daemon with a PID file, a oneshot that remains, a service that dies at once and
/// one left stopped; then what service_facts makes of them.
const UNIT_TASKS: &str = r#"
    - name: units
      ansible.builtin.copy:
        dest: "/etc/systemd/system/{{ item.name }}.service"
        content: |
          [Unit]
          Description={{ item.name }}
          [Service]
          {{ item.service }}
          [Install]
          WantedBy=multi-user.target
      loop:
        - name: forker
          service: "Type=forking\nPIDFile=/run/forker.pid\nExecStart=/bin/sh -c 'sleep 1000 >/dev/null 2>&1 & echo $! > /run/forker.pid'"
        - name: setup
          service: "Type=oneshot\nRemainAfterExit=yes\nExecStart=/bin/sh -c 'date > /var/lib/setup-done'"
        - name: crashy
          service: "ExecStart=/bin/sh -c 'echo crashy cannot start >&2; exit 1'"
        - name: idle
          service: "ExecStart=/bin/sleep 1000"
      loop_control: { label: "{{ item.name }}" }
      register: units
    - name: reload units
      ansible.builtin.systemd: { daemon_reload: true }
      when: units.changed
    - name: forker and setup run
      ansible.builtin.systemd: { name: "{{ item }}", state: started }
      loop: [forker, setup]
    - name: idle stays stopped
      ansible.builtin.systemd: { name: idle, state: stopped }
    - name: crashy starts (a simple service's start succeeds, as with systemd) and dies
      ansible.builtin.systemd: { name: crashy, state: started }
      changed_when: false
    - name: crashy is failed
      ansible.builtin.command: systemctl is-active crashy
      register: crashy
      until: crashy.stdout == "failed"
      retries: 10
      delay: 1
      changed_when: false
      failed_when: crashy.stdout != "failed"
    - name: with its exit status
      ansible.builtin.command: systemctl show crashy -p Result -p ExecMainStatus
      register: crashy_show
      changed_when: false
      failed_when: crashy_show.stdout_lines | sort != ["ExecMainStatus=1", "Result=exit-code"]
    - name: facts
      ansible.builtin.service_facts:
    - name: facts tell running from stopped
      ansible.builtin.assert:
        that:
          - ansible_facts.services['nginx.service'].state == 'running'
          - ansible_facts.services['forker.service'].state == 'running'
          - ansible_facts.services['idle.service'].state == 'stopped'
          - ansible_facts.services['crashy.service'].state == 'stopped'
"#;

/// A site on port 8080; `site_broken` leaves out the closing brace.
const SITE: &str = "server {\n    listen 8080;\n    server_name {{ inventory_hostname }};\n    location / { return 200 \"ok\\n\"; }\n{{ '' if site_broken | default(false) else '}' }}\n";

/// check.sh: nginx's config and ports; with the units, their states too.
const CHECK_NGINX: &str = r#"#!/bin/sh
fail=0
nginx -t 2>&1 || { echo "nginx -t fails"; fail=1; }
for port in 80 8080; do
  python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 2)" 2>/dev/null \
    || { echo "nothing listens on port $port"; fail=1; }
done
"#;

const CHECK_UNITS: &str = r#"
systemctl is-active -q forker && kill -0 "$(cat /run/forker.pid)" || { echo "forker is not running"; fail=1; }
systemctl is-active -q setup && [ -s /var/lib/setup-done ] || { echo "setup did not run"; fail=1; }
[ "$(systemctl is-active crashy)" = failed ] || { echo "crashy is not failed"; fail=1; }
[ "$(systemctl is-active idle)" = inactive ] || { echo "idle is not stopped"; fail=1; }
"#;

fn playbook(with_units: bool) -> String {
    let units = if with_units { UNIT_TASKS } else { "" };
    format!("- hosts: all\n  tasks:{NGINX_TASKS}{units}{NGINX_HANDLERS}")
}

fn fixture(manifest: &str, with_units: bool) -> Fixture {
    let check = format!("{CHECK_NGINX}{}exit $fail\n", if with_units { CHECK_UNITS } else { "" });
    let fixture = Fixture::new(manifest, &playbook(with_units), &check);
    fixture.write("templates/site.conf.j2", SITE);
    fixture
}

#[test]
fn supervised_nginx_really_runs_and_a_broken_config_fails_at_the_restart() {
    let fixture = fixture(
        "title = \"supervised\"\ndistros = [\"debian-12\", \"debian-13\"]\n[run]\nservices = \"supervised\"\n",
        true,
    );
    fixture.write("host_vars/debian-13.yml", "site_broken: true\n");
    let out = Sandbox::new(["run", &fixture.path_str(), "--json"]).output();
    let report = format!("stdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
    assert_eq!(out.code, 1, "debian-13 fails, debian-12 passes:\n{report}");

    // debian-12: nginx and the units really run, on both passes, and pass 2 changes nothing.
    let good = out.platform("debian-12");
    assert_eq!(good["verdict"], "passed", "{good}\n{report}");
    assert_eq!(
        good["passes"][0]["changed_tasks"],
        serde_json::json!([
            "install nginx",
            "nginx runs",
            "site config",
            "restart nginx",
            "units",
            "forker and setup run"
        ]),
        "{good}"
    );
    assert_eq!(good["passes"][1]["changed"], 0, "{good}");
    for pass in 0..2 {
        assert_eq!(good["passes"][pass]["verify_exit"], 0, "{good}");
    }

    // debian-13: the restart fails at the task, with nginx's own words.
    let broken = out.platform("debian-13");
    assert_eq!(broken["verdict"], "failed", "{broken}");
    assert_eq!(broken["passes"][0]["apply"], "failed", "{broken}");
    let error = broken["passes"][0]["apply_error"].as_str().unwrap();
    assert!(error.starts_with("task `restart nginx` failed: Unable to restart service nginx: Job for nginx.service failed because the control process exited with error code."), "{error}");
    assert!(error.contains("unexpected end of file"), "{error}");
    assert!(out.stderr.contains("unexpected end of file, expecting \\\"}\\\""), "{report}");
    // pass 1's check still runs: nothing listens, nginx -t says why
    assert!(broken["passes"][0]["verify_output"].as_str().unwrap().contains("nothing listens on port 80"), "{broken}");
    assert_eq!(leftovers(&out.run_id()), (0, 0));
}

#[test]
fn mock_services_pass_the_broken_config_and_the_check_catches_it() {
    let fixture = fixture("title = \"mock\"\ndistros = [\"debian-12\"]\n", false);
    fixture.write("host_vars/debian-12.yml", "site_broken: true\n");
    let out = Sandbox::new(["run", &fixture.path_str(), "--json", "--services", "mock"]).output();
    let report = format!("stdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
    assert_eq!(out.code, 1, "{report}");
    let platform = out.platform("debian-12");
    assert_eq!(platform["passes"][0]["apply"], "ok", "the mock restarts anything: {platform}");
    assert_eq!(platform["reason"], "check.sh failed after pass 1 (exit 1)", "{platform}");
    let check = platform["passes"][0]["verify_output"].as_str().unwrap();
    assert!(check.contains("unexpected end of file"), "{check}");
    assert!(check.contains("nothing listens on port 80"), "the mock runs nothing: {check}");
}
