//! Fidelity: real Debian packages, installed offline from the challenge's package layer and
//! driven the way public roles drive them (geerlingguy.postfix's `main.cf` edits, a php-fpm
//! pool, an apache module and site, redis and memcached settings), must run and answer after
//! start, restart and reload; a broken postfix or php-fpm config must fail the very task that
//! restarts it, with the daemon's own error in the message. One debian-12 run (a target
//! installing these costs minutes under gVisor): both passes, the check after each. The
//! reloads, the broken configs and every handler run once, in pass 1 (the pass that installs
//! the packages); pass 2 proves the play idempotent and the services still answering, without
//! paying for the same restarts again (6 minutes where repeating them took 10 on a loaded host).

use crate::harness::{leftovers, Fixture, Sandbox};

const PLAYBOOK: &str = r#"- hosts: all
  vars:
    fpm: php8.2-fpm
    services: [postfix, php8.2-fpm, apache2, redis-server, memcached]
  tasks:
    - name: packages
      ansible.builtin.apt: { name: [postfix, php-fpm, apache2, redis-server, memcached], state: present, update_cache: true }
      environment: { DEBIAN_FRONTEND: noninteractive }
      register: installed
    - name: postfix main.cf, as geerlingguy.postfix edits it
      ansible.builtin.lineinfile: { dest: /etc/postfix/main.cf, regexp: "^{{ item.name }} =", line: "{{ item.name }} = {{ item.value }}" }
      loop:
        - { name: inet_interfaces, value: localhost }
        - { name: inet_protocols, value: all }
        - { name: myhostname, value: mail.example.test }
      notify: restart postfix
    - name: php-fpm pool on TCP
      ansible.builtin.lineinfile: { dest: /etc/php/8.2/fpm/pool.d/www.conf, regexp: "^{{ item.key }} =", line: "{{ item.key }} = {{ item.value }}" }
      loop: "{{ {'listen': '127.0.0.1:9000', 'pm.max_children': 5} | dict2items }}"
      notify: restart php-fpm
    - name: apache module
      ansible.builtin.command: { cmd: a2enmod proxy_fcgi, creates: /etc/apache2/mods-enabled/proxy_fcgi.load }
      notify: restart apache2
    - name: app directory
      ansible.builtin.file: { path: /var/www/app, state: directory }
    - name: app page
      ansible.builtin.copy: { dest: /var/www/app/index.php, content: "<?php echo 'fpm says ' . (6 * 7);\n" }
    - name: app site
      ansible.builtin.copy:
        dest: /etc/apache2/sites-available/app.conf
        content: |
          <VirtualHost *:80>
            DocumentRoot /var/www/app
            ProxyPassMatch ^/(.*\.php)$ fcgi://127.0.0.1:9000/var/www/app/$1
          </VirtualHost>
      notify: reload apache2
    - name: site enabled
      ansible.builtin.command: { cmd: a2ensite app, creates: /etc/apache2/sites-enabled/app.conf }
      notify: reload apache2
    - name: default site off
      ansible.builtin.command: { cmd: a2dissite 000-default, removes: /etc/apache2/sites-enabled/000-default.conf }
      notify: reload apache2
    - name: redis on loopback
      ansible.builtin.lineinfile: { dest: /etc/redis/redis.conf, regexp: "^bind ", line: "bind 127.0.0.1" }
      notify: restart redis
    - name: memcached memory
      ansible.builtin.lineinfile: { dest: /etc/memcached.conf, regexp: "^-m ", line: "-m 32" }
      notify: restart memcached
    - name: services started and enabled
      ansible.builtin.service: { name: "{{ item }}", state: started, enabled: true }
      loop: "{{ services }}"

    # Once, in the pass that installed the packages: pass 2 would prove the same again.
    - when: installed is changed
      block:
        - name: reloaded (as roles' reload handlers do; apache2's handler reloads it below)
          ansible.builtin.service: { name: "{{ item }}", state: reloaded }
          loop: [postfix, php8.2-fpm]
        - name: postfix broken (an address this host does not have)
          ansible.builtin.command: postconf -e inet_interfaces=192.0.2.1
        - name: postfix restart with it
          ansible.builtin.service: { name: postfix, state: restarted }
          register: broken_postfix
          ignore_errors: true
        - name: php-fpm broken
          ansible.builtin.command: sed -i 's/^pm.max_children = .*/pm.max_children = 0/' /etc/php/8.2/fpm/pool.d/www.conf
        - name: php-fpm restart with it
          ansible.builtin.service: { name: "{{ fpm }}", state: restarted }
          register: broken_fpm
          ignore_errors: true
        - name: both tasks failed, with the daemons' own words
          ansible.builtin.assert:
            that:
              - broken_postfix is failed
              - "'Job for postfix@-.service failed' in broken_postfix.msg"
              - "'no local interface found for 192.0.2.1' in broken_postfix.msg"
              - broken_fpm is failed
              - "'Job for php8.2-fpm.service failed' in broken_fpm.msg"
              - "'pm.max_children' in broken_fpm.msg"
            fail_msg: "postfix: {{ broken_postfix.msg | default('') }} / php-fpm: {{ broken_fpm.msg | default('') }}"
        - name: repaired (the handlers below start them again)
          ansible.builtin.command: "{{ item }}"
          loop:
            - postconf -e inet_interfaces=localhost
            - sed -i 's/^pm.max_children = .*/pm.max_children = 5/' /etc/php/8.2/fpm/pool.d/www.conf

  # Every service's handler runs in pass 1: each restarts a running service, or (postfix,
  # php-fpm) one that the broken config above left failed; apache2 is reloaded after it.
  handlers:
    - { name: restart postfix, ansible.builtin.service: { name: postfix, state: restarted } }
    - { name: restart php-fpm, ansible.builtin.service: { name: "{{ fpm }}", state: restarted } }
    - { name: restart apache2, ansible.builtin.service: { name: apache2, state: restarted } }
    - { name: reload apache2, ansible.builtin.service: { name: apache2, state: reloaded } }
    - { name: restart redis, ansible.builtin.service: { name: redis-server, state: restarted } }
    - { name: restart memcached, ansible.builtin.service: { name: memcached, state: restarted } }
"#;

/// Every daemon answers its own protocol.
const CHECK: &str = r#"#!/bin/sh
python3 - <<'PY'
import socket, sys, urllib.request
fail = []
def ask(port, send, expect):
    try:
        with socket.create_connection(("127.0.0.1", port), 5) as s:
            if send:
                s.sendall(send)
            got = s.recv(200).decode(errors="replace")
    except OSError as e:
        got = str(e)
    if expect not in got:
        fail.append(f"FAIL: port {port}: wanted {expect!r}, got {got.strip()!r}")
ask(25, None, "220 mail.example.test")
ask(6379, b"PING\r\n", "+PONG")
ask(11211, b"version\r\n", "VERSION")
try:
    body = urllib.request.urlopen("http://127.0.0.1/index.php", timeout=5).read().decode()
except Exception as e:
    body = str(e)
if "fpm says 42" not in body:
    fail.append(f"FAIL: apache + php-fpm: {body[:200]!r}")
print("\n".join(fail) or "all answer")
sys.exit(1 if fail else 0)
PY
"#;

/// At the default limits, as the roles it stands for must pass: under runsc's ptrace platform
/// the five services' host tasks pass a quarter of the target's pids cgroup (1,154 of 4,608
/// were seen while they restarted), which the fork-bomb guard now tells from a bomb by its
/// pace (`GuardSettings::bomb`).
#[test]
fn real_packages_run_and_answer_after_start_restart_and_reload_and_broken_configs_fail_their_task() {
    let fixture = Fixture::new(
        "title = \"fidelity\"\ndistros = [\"debian-12\"]\n[run]\nservices = \"supervised\"\nnetwork = \"none\"\ntimeout = \"20m\"\n\
         [prepare]\npackages = [\"postfix\", \"php-fpm\", \"apache2\", \"redis-server\", \"memcached\"]\n",
        PLAYBOOK,
        CHECK,
    );
    let out = Sandbox::new(["run", &fixture.path_str(), "--json", "--no-pool"]).output();
    let report = format!("stdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
    assert_eq!(out.code, 0, "{report}");
    let platform = out.platform("debian-12");
    assert_eq!(platform["verdict"], "passed", "{platform}\n{report}");
    assert_eq!(platform["passes"][1]["changed"], 0, "pass 2 changes nothing: {platform}");
    // Pass 1 exercised what pass 2 skips: the broken configs and every service's handler.
    let exercised = &platform["passes"][0]["changed_tasks"];
    let handlers = ["restart postfix", "restart php-fpm", "restart apache2", "reload apache2", "restart redis"];
    for task in handlers.iter().chain(&["restart memcached", "php-fpm broken"]) {
        assert!(exercised.as_array().unwrap().iter().any(|t| t == *task), "{task} did not run in pass 1: {platform}");
    }
    for pass in 0..2 {
        assert_eq!(platform["passes"][pass]["verify_exit"], 0, "{platform}");
    }
    assert_eq!(leftovers(&out.run_id()), (0, 0));
}
