//! `[prepare] packages` and `--offline`: packages come from the image's local repository,
//! and the targets have no route out.

use crate::harness::{leftovers, Fixture, Sandbox};

#[test]
fn bundled_challenge_passes_offline_on_both_debians() {
    let out = Sandbox::new(["run", "challenges/nginx-static", "--solution", "--offline", "--json"]).status(0).run();
    let json = out.json();
    assert_eq!(json["passed"], true);
    assert_eq!(json["runtime"], "runsc");
    for distro in ["debian-12", "debian-13"] {
        let platform = out.platform(distro);
        assert_eq!(platform["verdict"], "passed", "{platform}");
        let notes = platform["notes"].to_string();
        assert!(notes.contains("offline: no route to deb.debian.org"), "{notes}");
        assert_eq!(platform["passes"][0]["apply"], "ok");
        assert_eq!(platform["passes"][0]["changed"], 3, "install, page, service: {platform}");
        assert_eq!(platform["passes"][1]["changed"], 0);
        assert_eq!(platform["passes"][1]["verify_exit"], 0);
        // The table (stderr in --json mode) says the same.
        let row = out.stderr.lines().find(|l| l.starts_with(distro)).unwrap();
        assert_eq!(row.split_whitespace().collect::<Vec<_>>(), [distro, "ok", "ok", "0", "ok", "passed"]);
    }
    assert_eq!(leftovers(&out.run_id()), (0, 0));
}

/// Independent of the product's own probe: the check fetches the mirror itself, and the
/// playbook sees apt's own error for a package that was not prepared, while `update_cache`
/// and the prepared package work.
#[test]
fn offline_apt_sees_only_prepared_packages_and_the_mirror_is_unreachable() {
    let playbook = r#"
- hosts: all
  tasks:
    - name: Refresh the cache (the local repository only)
      ansible.builtin.apt:
        update_cache: true
    - name: Install the prepared package
      ansible.builtin.apt:
        name: nginx
    - name: Install one that was not prepared
      ansible.builtin.apt:
        name: cowsay
      register: missing
      ignore_errors: true
    - name: It fails with apt's own words
      ansible.builtin.assert:
        that: "'No package matching' in missing.msg"
"#;
    let check = r#"#!/bin/sh
dpkg-query -W -f='${Status}' nginx | grep -q 'install ok installed' || { echo "FAIL: nginx not installed"; exit 1; }
if python3 -c "import urllib.request; urllib.request.urlopen('http://deb.debian.org/debian/', timeout=5)" 2>/dev/null; then
    echo "FAIL: the target reached deb.debian.org"; exit 1
fi
echo "ok: no route to the mirror"
"#;
    let fixture = Fixture::new(
        "title = \"offline\"\ndistros = [\"debian-12\"]\n[run]\nnetwork = \"none\"\nidempotent = false\n[prepare]\npackages = [\"nginx\"]\n",
        playbook,
        check,
    );
    let out = Sandbox::new(["run", &fixture.path_str(), "--json"]).status(0).run();
    let platform = out.platform("debian-12");
    assert!(platform["passes"][0]["verify_output"].as_str().unwrap().contains("ok: no route to the mirror"));
}
