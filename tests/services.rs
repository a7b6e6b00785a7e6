//! The systemctl mock seen through Ansible's own service modules, in real runsc targets.

use crate::harness::{Fixture, Sandbox, PASSING_CHECK};

const UNITS: &str = r#"
    - name: service manager is systemd
      ansible.builtin.assert:
        that: ansible_service_mgr == "systemd"
    - name: demo unit
      ansible.builtin.copy:
        dest: /etc/systemd/system/{{ item }}.service
        content: |
          [Unit]
          Description={{ item }} service
          [Service]
          ExecStart=/bin/sleep infinity
          ExecReload=/bin/true
          [Install]
          WantedBy=multi-user.target
      loop: [demo, idle, blocked]
      register: units
    - name: reload units
      ansible.builtin.systemd:
        daemon_reload: true
      when: units.changed
"#;

/// Every distro with a Debian base image built by setup.sh.
const ALL_DEBIANS: &str = "title = \"services\"\ndistros = [\"debian-11\", \"debian-12\", \"debian-13\"]\n";

#[test]
fn systemd_and_service_modules_are_right_and_idempotent() {
    let playbook = format!(
        r#"- hosts: all
  tasks:{UNITS}
    - name: start and enable demo
      ansible.builtin.systemd:
        name: demo
        state: started
        enabled: true
    - name: idle stays stopped and disabled
      ansible.builtin.systemd:
        name: idle
        state: stopped
        enabled: false
    - name: mask blocked
      ansible.builtin.systemd:
        name: blocked
        masked: true
    - name: service module agrees
      ansible.builtin.service:
        name: demo
        state: started
        enabled: true
    - name: facts
      ansible.builtin.service_facts:
    - name: facts report the mock's state
      ansible.builtin.assert:
        that:
          - ansible_facts.services['demo.service'].state == 'running'
          - ansible_facts.services['demo.service'].status == 'enabled'
          - ansible_facts.services['idle.service'].state == 'stopped'
          - ansible_facts.services['idle.service'].status == 'disabled'
    - name: a service that does not exist
      ansible.builtin.systemd:
        name: no-such-service
        state: started
      register: missing
      ignore_errors: true
    - name: it failed as on a real server
      ansible.builtin.assert:
        that: missing is failed
"#
    );
    let fixture = Fixture::new(ALL_DEBIANS, &playbook, "#!/bin/sh\nset -e\nsystemctl is-active -q demo\nsystemctl is-enabled -q demo\n! systemctl is-active -q idle\n[ \"$(systemctl is-enabled blocked)\" = masked ]\n");
    let out = Sandbox::new(["run", &fixture.path_str(), "--json"]).status(0).run();
    for distro in ["debian-11", "debian-12", "debian-13"] {
        let platform = out.platform(distro);
        assert_eq!(platform["verdict"], "passed", "{platform}");
        // The recap counts tasks, not loop items; daemon-reload alone reports no change.
        assert_eq!(platform["passes"][0]["changed"], 3, "{platform}");
        assert_eq!(
            platform["passes"][0]["changed_tasks"],
            serde_json::json!(["demo unit", "start and enable demo", "mask blocked"])
        );
        assert_eq!(platform["passes"][1]["changed"], 0, "{platform}");
    }
}

#[test]
fn restart_reload_stop_change_state_every_time() {
    let playbook = format!(
        r#"- hosts: all
  tasks:{UNITS}
    - ansible.builtin.systemd: {{ name: demo, state: restarted }}
      register: restarted
    - ansible.builtin.command: systemctl is-active demo
      register: after_restart
      changed_when: false
    - ansible.builtin.systemd: {{ name: demo, state: reloaded }}
      register: reloaded
    - ansible.builtin.systemd: {{ name: demo, state: stopped }}
      register: stopped
    - ansible.builtin.command: systemctl is-active demo
      register: after_stop
      changed_when: false
      failed_when: after_stop.rc != 3
    - ansible.builtin.assert:
        that:
          - restarted is changed
          - reloaded is changed
          - stopped is changed
          - after_restart.stdout == 'active'
          - after_stop.stdout == 'inactive'
"#
    );
    let fixture =
        Fixture::new("title = \"t\"\ndistros = [\"debian-12\"]\n[run]\nidempotent = false\n", &playbook, PASSING_CHECK);
    let out = Sandbox::new(["run", &fixture.path_str(), "--json"]).status(0).run();
    let platform = out.platform("debian-12");
    // restart, reload and stop change on both passes; they are not idempotent by nature.
    assert_eq!(platform["passes"][1]["changed"], 3, "{platform}");
}

#[test]
fn nginx_from_apt_with_a_template_handler_passes_both_passes() {
    let playbook = r#"- hosts: all
  tasks:
    - ansible.builtin.apt: { name: nginx, state: present }
    - name: site config
      ansible.builtin.template:
        src: site.conf.j2
        dest: /etc/nginx/conf.d/site.conf
      notify: restart nginx
    - ansible.builtin.systemd: { name: nginx, state: started, enabled: true }
  handlers:
    - name: restart nginx
      ansible.builtin.systemd: { name: nginx, state: restarted }
"#;
    let fixture = Fixture::new(
        "title = \"t\"\ndistros = [\"debian-12\"]\n",
        playbook,
        "#!/bin/sh\nset -e\nnginx -t\nsystemctl is-active -q nginx\ngrep -q 'listen 8080' /etc/nginx/conf.d/site.conf\n",
    );
    fixture
        .write("templates/site.conf.j2", "server {\n    listen 8080;\n    server_name {{ inventory_hostname }};\n}\n");
    let out = Sandbox::new(["run", &fixture.path_str(), "--json"]).status(0).run();
    let platform = out.platform("debian-12");
    assert_eq!(
        platform["passes"][0]["changed_tasks"],
        serde_json::json!(["ansible.builtin.apt", "site config", "ansible.builtin.systemd", "restart nginx"]),
        "{platform}"
    );
    assert_eq!(platform["passes"][1]["changed"], 0);
}

#[test]
fn a_package_manager_left_running_by_pass_1_is_killed_between_passes_with_its_locks() {
    // A process named dpkg (sleep under that name) outlives pass 1 and holds dpkg's lock file.
    let playbook = r#"- hosts: all
  gather_facts: false
  tasks:
    - name: leave a dpkg running (pass 1 only)
      ansible.builtin.shell: |
        if [ ! -e /root/left ]; then cp /bin/sleep /root/dpkg; touch /root/left /var/lib/dpkg/lock-frontend; nohup /root/dpkg 600 >/dev/null 2>&1 & fi
      changed_when: false
"#;
    let check = "#!/bin/sh\n[ \"$SANDBOX_PASS\" = 1 ] && exit 0\n\
                 if ps -eo comm= | grep -qx dpkg; then echo 'dpkg still running'; exit 1; fi\n\
                 if [ -e /var/lib/dpkg/lock-frontend ]; then echo 'lock left'; exit 1; fi\n";
    let fixture = Fixture::new("title = \"t\"\ndistros = [\"debian-12\"]\n", playbook, check);
    let out = Sandbox::new(["run", &fixture.path_str(), "--json"]).status(0).run();
    let notes = out.platform("debian-12")["notes"].clone();
    let notes: Vec<&str> = notes.as_array().unwrap().iter().filter_map(|n| n.as_str()).collect();
    assert!(notes.iter().any(|n| n.starts_with("killed leftover dpkg (pid ")), "{notes:?}");
    assert!(notes.contains(&"removed package manager locks"), "{notes:?}");
}

#[test]
fn a_replaced_systemctl_is_restored_between_passes_and_reported() {
    let playbook = r#"- hosts: all
  gather_facts: false
  tasks:
    - name: a package replaces systemctl (pass 1 only)
      ansible.builtin.shell: |
        if [ ! -e /root/replaced ]; then printf '#!/bin/sh\nexit 0\n' > /usr/bin/systemctl; touch /root/replaced; fi
      changed_when: false
"#;
    let fixture = Fixture::new(
        "title = \"t\"\ndistros = [\"debian-12\"]\n",
        playbook,
        "#!/bin/sh\n[ \"$SANDBOX_PASS\" = 1 ] || ! systemctl is-active -q no-such-unit\n",
    );
    let out = Sandbox::new(["run", &fixture.path_str(), "--json"]).status(0).run();
    let notes = out.platform("debian-12")["notes"].clone();
    assert_eq!(
        notes,
        serde_json::json!(["restored the systemctl mock at /usr/bin/systemctl (a package had replaced it)"]),
    );
    assert!(out.stderr.contains("debian-12: restored the systemctl mock at /usr/bin/systemctl"), "{}", out.stderr);
}
