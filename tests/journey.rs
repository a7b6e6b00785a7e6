//! The learner's journey, as a new learner takes it: a library, a workspace of their own,
//! the task, attempts that fail and then pass, hints, progress, reset.

use std::path::{Path, PathBuf};

use crate::harness::{Output, Sandbox};

const STARTER: &str = "- hosts: all\n  tasks: []\n";
const SOLUTION: &str =
    "- hosts: all\n  tasks:\n    - ansible.builtin.copy:\n        dest: /etc/greeting\n        content: \"hello\\n\"\n";
const CHECK: &str = "#!/bin/sh\ngrep -qx hello /etc/greeting 2>/dev/null || { echo 'FAIL: /etc/greeting does not say hello'; exit 1; }\necho 'PASS: greeting'\n";

/// A learner's machine: a library of one challenge, an empty home, an empty working directory.
struct Learner {
    _root: tempfile::TempDir,
    library: PathBuf,
    home: PathBuf,
    cwd: PathBuf,
}

impl Learner {
    fn new() -> Learner {
        let root = tempfile::tempdir().unwrap();
        let library = root.path().join("library");
        let challenge = library.join("greeting");
        for (path, text) in [
            ("challenge.toml", "title = \"Say hello\"\ntopic = \"files\"\ndifficulty = \"easy\"\nhints = [\"Look at ansible.builtin.copy.\", \"dest: /etc/greeting, content: hello\"]\ndistros = [\"debian-12\"]\n"),
            ("README.md", "# Say hello\n\nWrite `hello` to `/etc/greeting`.\n"),
            ("playbook.yml", STARTER),
            ("solution/playbook.yml", SOLUTION),
            ("check.sh", CHECK),
        ] {
            let path = challenge.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, text).unwrap();
        }
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(challenge.join("check.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
        let (home, cwd) = (root.path().join("home"), root.path().join("work"));
        std::fs::create_dir_all(&home).unwrap();
        std::fs::create_dir_all(&cwd).unwrap();
        Learner { _root: root, library, home, cwd }
    }

    fn sandbox(&self, args: &[&str]) -> Sandbox {
        Sandbox::new(args)
            .current_dir(&self.cwd)
            .env("HOME", self.home.to_str().unwrap())
            .env_remove("XDG_DATA_HOME")
            .env("SANDBOX_LIBRARY", self.library.to_str().unwrap())
    }

    fn status(&self) -> (String, u64) {
        let out = self.sandbox(&["list", "--json"]).status(0).run();
        let entry = out.json()[0].clone();
        assert_eq!(entry["name"], "greeting", "{entry}");
        (entry["status"].as_str().unwrap().to_string(), entry["attempts"].as_u64().unwrap())
    }

    fn progress_file(&self) -> PathBuf {
        self.home.join(".local/share/sandbox/progress.json")
    }

    fn workspace(&self) -> PathBuf {
        self.cwd.join("greeting")
    }
}

fn run(learner: &Learner, code: i32) -> Output {
    learner.sandbox(&["run", "greeting", "--json"]).status(code).run()
}

#[test]
fn a_learner_lists_starts_reads_fails_takes_hints_solves_and_resets() {
    let learner = Learner::new();
    assert_eq!(learner.status(), ("new".into(), 0));
    learner.sandbox(&["start", "greeting"]).status(0).stdout_has("sandbox watch greeting").run();
    let workspace = learner.workspace();
    assert!(workspace.join("playbook.yml").is_file());
    assert!(!workspace.join("solution").exists(), "the workspace holds the reference solution");
    learner.sandbox(&["show", "greeting"]).status(0).stdout_has("Write `hello` to `/etc/greeting`").run();

    let failed = run(&learner, 1);
    let reason = failed.platform("debian-12")["reason"].as_str().unwrap().to_string();
    assert_eq!(reason, "check after pass 1: FAIL: /etc/greeting does not say hello");
    assert_eq!(learner.status(), ("attempted".into(), 1));

    learner.sandbox(&["hint", "greeting"]).status(0).stdout_has("hint 1 of 2: Look at ansible.builtin.copy.").run();
    learner.sandbox(&["hint", "greeting"]).status(0).stdout_has("hint 2 of 2: dest: /etc/greeting").run();
    learner.sandbox(&["hint", "greeting"]).status(0).stdout_has("no more hints").run();

    // The reference solution runs from the library, and does not count.
    learner.sandbox(&["run", "greeting", "--solution"]).status(0).run();
    assert_eq!(learner.status(), ("attempted".into(), 1));

    std::fs::write(workspace.join("playbook.yml"), SOLUTION).unwrap();
    run(&learner, 0);
    assert_eq!(learner.status(), ("solved".into(), 2));

    learner.sandbox(&["reset", "greeting", "--yes"]).status(0).run();
    assert_eq!(std::fs::read_to_string(workspace.join("playbook.yml")).unwrap(), STARTER);
    assert_eq!(learner.status(), ("solved".into(), 2), "a reset keeps the progress");
}

#[test]
fn bad_learner_input_is_refused_with_a_way_forward_and_loses_nothing() {
    let learner = Learner::new();
    learner.sandbox(&["start", "greetng"]).status(2).stderr_has("did you mean `greeting`?").run();
    learner.sandbox(&["start", "greeting"]).status(0).run();
    let edited = learner.workspace().join("playbook.yml");
    std::fs::write(&edited, "mine\n").unwrap();
    learner.sandbox(&["start", "greeting"]).status(2).stderr_has("already exists").run();
    assert_eq!(std::fs::read_to_string(&edited).unwrap(), "mine\n", "start overwrote a workspace");
    learner.sandbox(&["reset", "."]).status(2).stderr_has("is not a workspace made by `sandbox start`").run();
    // Without --yes and without a terminal to ask on, nothing is reset.
    learner.sandbox(&["reset", "greeting"]).status(2).stderr_has("--yes").run();
    assert_eq!(std::fs::read_to_string(&edited).unwrap(), "mine\n");

    let progress = learner.progress_file();
    std::fs::create_dir_all(progress.parent().unwrap()).unwrap();
    std::fs::write(&progress, "{\"challenges\": {\"greeting\": {\"attempts\": \"two\"").unwrap();
    learner.sandbox(&["list"]).status(2).stderr_has("progress file").stderr_has(progress.to_str().unwrap()).run();
    learner.sandbox(&["hint", "greeting"]).status(2).stderr_has("progress file").run();
    assert_eq!(
        std::fs::read_to_string(&progress).unwrap(),
        "{\"challenges\": {\"greeting\": {\"attempts\": \"two\"",
        "the corrupt file was changed"
    );
}

#[test]
fn a_name_finds_the_built_in_library_from_any_directory() {
    let elsewhere = tempfile::tempdir().unwrap();
    let out =
        Sandbox::new(["list", "--json"]).current_dir(elsewhere.path()).env_remove("SANDBOX_LIBRARY").status(0).run();
    let names: Vec<String> =
        out.json().as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap().into()).collect();
    let bundled = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("challenges")).unwrap().count();
    assert_eq!(names.len(), bundled, "{names:?}");
    assert!(names.contains(&"nginx-static".to_string()));
}
