//! `sandbox test --list --json`: the selection as JSON whether or not a flag narrowed it, and no
//! Docker needed to print it.

use std::collections::BTreeSet;

use crate::harness::{repo, Sandbox};

/// Nothing listens here: listing must not reach for Docker.
const NO_DOCKER: &str = "unix:///nonexistent/sandbox-listing-docker.sock";

/// The bundled challenges' ids: the directories under challenges/ holding a challenge.toml.
fn bundled() -> BTreeSet<String> {
    std::fs::read_dir(repo().join("challenges"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|dir| dir.join("challenge.toml").is_file())
        .map(|dir| dir.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn list_json_without_a_partition_prints_every_challenge() {
    let out = Sandbox::new(["test", "--list", "--json"]).env("DOCKER_HOST", NO_DOCKER).status(0).run();
    let json = out.json();
    let selected = json["selected"].as_array().unwrap_or_else(|| panic!("no `selected` in {json}"));
    let ids: BTreeSet<String> = selected.iter().map(|s| s["challenge"].as_str().unwrap().to_string()).collect();
    assert_eq!(ids, bundled());
    assert_eq!(json["discovered"], selected.len());
    for entry in selected {
        let dir = std::path::Path::new(entry["dir"].as_str().unwrap());
        assert!(dir.join("challenge.toml").is_file(), "{entry}");
        assert!(entry["reasons"].is_array(), "{entry}");
    }
    // The human form still goes to stderr: stdout is the JSON alone.
    assert!(!out.stdout.contains("challenges/cron-and-timer\n"), "{}", out.stdout);
}

/// Same shape as with a partition: the keys a share adds are the only difference.
#[test]
fn list_json_has_the_shape_a_partition_gives() {
    let all = Sandbox::new(["test", "challenges", "--list", "--json"]).env("DOCKER_HOST", NO_DOCKER).status(0).run();
    let share = Sandbox::new(["test", "challenges", "--partition", "1/1", "--list", "--json"])
        .env("DOCKER_HOST", NO_DOCKER)
        .status(0)
        .run();
    let (all, share) = (all.json(), share.json());
    let ids = |json: &serde_json::Value| -> Vec<String> {
        json["selected"].as_array().unwrap().iter().map(|s| s["challenge"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(ids(&all), ids(&share));
    assert_eq!(all["discovered"], share["discovered"]);
    for key in ["share", "balance"] {
        assert!(all.get(key).is_none() && share.get(key).is_some(), "{key}: {all} / {share}");
    }
}
