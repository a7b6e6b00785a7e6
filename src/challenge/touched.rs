//! What a playbook touches, read from its tasks (and its roles' tasks and handlers): the
//! packages, services, users, groups and files its modules name. `sandbox draft-goss` asks
//! goss to describe each of them in a target the reference solution configured, so that an
//! author starts a goss file from what the solution really did, not from a blank page.
//!
//! Only literal names are read: a name that is a Jinja2 expression (`{{ item }}`) is known
//! only when Ansible runs, and is left for the author.

use std::collections::BTreeSet;
use std::path::Path;

use yaml_rust2::{Yaml, YamlLoader};

/// A resource goss can add: `package nginx`, `file /etc/motd`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Touched {
    /// goss's resource type, as `goss add TYPE` names it.
    pub kind: &'static str,
    pub name: String,
}

/// Modules (short name) and the resource their arguments name, with the arguments to read.
const MODULES: &[(&str, &str, &[&str])] = &[
    ("apt", "package", &["name", "pkg"]),
    ("package", "package", &["name"]),
    ("dnf", "package", &["name"]),
    ("yum", "package", &["name"]),
    ("systemd", "service", &["name"]),
    ("systemd_service", "service", &["name"]),
    ("service", "service", &["name"]),
    ("user", "user", &["name"]),
    ("group", "group", &["name"]),
    ("copy", "file", &["dest"]),
    ("template", "file", &["dest"]),
    ("file", "file", &["path", "dest"]),
    ("lineinfile", "file", &["path", "dest"]),
    ("blockinfile", "file", &["path", "dest"]),
    ("replace", "file", &["path", "dest"]),
    ("ini_file", "file", &["path", "dest"]),
];

/// The task lists of a play, a block or a role file.
const TASK_LISTS: &[&str] = &["tasks", "pre_tasks", "post_tasks", "handlers", "block", "rescue", "always"];

/// Everything `playbook` (and the task and handler files of the roles beside it) touches, in
/// a stable order, each once.
pub fn touched_by(playbook: &Path) -> BTreeSet<Touched> {
    let mut found = BTreeSet::new();
    let mut files = vec![playbook.to_path_buf()];
    if let Some(dir) = playbook.parent() {
        let roles = std::fs::read_dir(dir.join("roles")).into_iter().flatten().flatten();
        for role in roles {
            for part in ["tasks", "handlers"] {
                let entries = std::fs::read_dir(role.path().join(part)).into_iter().flatten().flatten();
                files.extend(entries.map(|entry| entry.path()));
            }
        }
    }
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else { continue };
        for document in YamlLoader::load_from_str(&text).unwrap_or_default() {
            walk(&document, &mut found);
        }
    }
    found
}

/// Plays, blocks and tasks, at any depth.
fn walk(node: &Yaml, found: &mut BTreeSet<Touched>) {
    match node {
        Yaml::Array(items) => items.iter().for_each(|item| walk(item, found)),
        Yaml::Hash(map) => {
            task(node, found);
            for key in TASK_LISTS {
                if let Some(list) = map.get(&Yaml::String((*key).to_string())) {
                    walk(list, found);
                }
            }
        }
        _ => {}
    }
}

/// One task: its module (`ansible.builtin.apt` or `apt`) and the names its arguments give.
fn task(node: &Yaml, found: &mut BTreeSet<Touched>) {
    let Yaml::Hash(map) = node else { return };
    for (key, args) in map {
        let Some(module) = key.as_str() else { continue };
        let short = module.rsplit('.').next().unwrap_or(module);
        let Some((_, kind, keys)) = MODULES.iter().find(|(name, _, _)| *name == short) else { continue };
        for key in *keys {
            let value = &args[*key];
            let names: Vec<&str> = match value {
                Yaml::String(text) => text.split(',').map(str::trim).collect(),
                Yaml::Array(items) => items.iter().filter_map(Yaml::as_str).collect(),
                _ => Vec::new(),
            };
            for name in names.into_iter().filter(|name| !name.is_empty() && !name.contains("{{")) {
                found.insert(Touched { kind, name: name.to_string() });
            }
        }
    }
}

/// The shell that asks goss (`goss` is its wrapper's path) to add each resource to `file`,
/// ending with the file on stdout. A resource goss cannot describe is skipped, not fatal.
pub fn goss_add_script(goss: &str, file: &str, touched: &BTreeSet<Touched>) -> String {
    let mut script = format!("rm -f {file}; ");
    for resource in touched {
        let name = resource.name.replace('\'', "'\\''");
        script.push_str(&format!("{goss} -g {file} add {} '{name}' >/dev/null 2>&1; ", resource.kind));
    }
    script.push_str(&format!("cat {file}"));
    script
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modules_name_what_they_touch_with_literal_names_only() {
        let dir = tempfile::tempdir().unwrap();
        let playbook = dir.path().join("playbook.yml");
        std::fs::write(
            &playbook,
            "- hosts: all\n  roles: [web]\n  tasks:\n    - ansible.builtin.apt:\n        name: [nginx, curl]\n    - block:\n        - copy: {dest: /etc/motd, content: hi}\n        - ansible.builtin.user:\n            name: \"{{ item }}\"\n          loop: [a, b]\n  handlers:\n    - ansible.builtin.systemd: {name: nginx, state: restarted}\n",
        )
        .unwrap();
        std::fs::create_dir_all(dir.path().join("roles/web/tasks")).unwrap();
        std::fs::write(dir.path().join("roles/web/tasks/main.yml"), "- ansible.builtin.group:\n    name: deploy\n")
            .unwrap();
        let touched: Vec<String> = touched_by(&playbook).iter().map(|t| format!("{} {}", t.kind, t.name)).collect();
        assert_eq!(touched, ["file /etc/motd", "group deploy", "package curl", "package nginx", "service nginx"]);
    }

    #[test]
    fn the_script_quotes_names_and_prints_the_file() {
        let touched = BTreeSet::from([Touched { kind: "file", name: "/tmp/it's".into() }]);
        let script = goss_add_script("/g", "/tmp/d.yaml", &touched);
        assert_eq!(
            script,
            "rm -f /tmp/d.yaml; /g -g /tmp/d.yaml add file '/tmp/it'\\''s' >/dev/null 2>&1; cat /tmp/d.yaml"
        );
    }
}
