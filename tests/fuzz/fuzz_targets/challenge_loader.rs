//! Fuzzes `Challenge::load` and `sandbox lint` over a whole challenge directory, of either
//! track (a Docker challenge's `[checks] structure` file and its Dockerfiles included).
//!
//! The input is a challenge directory written as text, one section per file, so seeds are
//! readable and the fuzzer can mutate both the manifest and the files it names:
//!
//! ```text
//! title = "…"                     <- everything before the first header is challenge.toml
//! distros = ["debian-12"]
//! ==> playbook.yml <==
//! - hosts: all
//! ==> solution/playbook.yml <==
//! - hosts: all
//! ==> check.sh +x <==             <- ` +x`: written with mode 0755
//! #!/bin/sh
//! ==> @link <==                   <- `@`: a symlink named `link` whose target is the body
//! playbook.yml
//! ```
//!
//! File names are restricted (at most three plain components of `[A-Za-z0-9._-]`, symlinks
//! only at the top level) and every file is created with `create_new` before any symlink
//! exists, so the harness never writes outside its temporary directory.
//!
//! Every diagnostic is rendered the way `sandbox lint` prints it (`{:?}` of a miette Report),
//! so a span that does not fit its source text is caught too.

#![no_main]

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use libfuzzer_sys::fuzz_target;
use sandbox::challenge::{lint, Allowed, Challenge, Track, MANIFEST};
use sandbox::distro::Family;

mod shared;
use shared::{render, verbose};

const MAX_FILES: usize = 16;

struct Section<'a> {
    name: &'a str,
    executable: bool,
    symlink: bool,
    body: String,
}

/// Splits the input into (header, body) sections; the first one is challenge.toml.
fn sections(text: &str) -> Vec<Section<'_>> {
    let mut sections = vec![Section { name: MANIFEST, executable: false, symlink: false, body: String::new() }];
    for line in text.split_inclusive('\n') {
        let header = line.trim_end_matches(['\n', '\r']).strip_prefix("==> ").and_then(|h| h.strip_suffix(" <=="));
        match header {
            Some(header) if sections.len() < MAX_FILES => {
                let (header, executable) = match header.strip_suffix(" +x") {
                    Some(name) => (name, true),
                    None => (header, false),
                };
                let (name, symlink) = match header.strip_prefix('@') {
                    Some(name) => (name, true),
                    None => (header, false),
                };
                sections.push(Section { name, executable, symlink, body: String::new() });
            }
            _ => sections.last_mut().unwrap().body.push_str(line),
        }
    }
    sections
}

/// A relative path the harness may create: plain components only, nothing hidden or upward.
fn safe_name(name: &str, max_components: usize) -> Option<PathBuf> {
    let parts: Vec<&str> = name.split('/').collect();
    let plain = |part: &&str| {
        !part.is_empty()
            && part.len() <= 32
            && !part.starts_with('.')
            && part.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    };
    (parts.len() <= max_components && parts.iter().all(plain)).then(|| parts.iter().collect())
}

fn write_new(path: &Path, body: &str, executable: bool) -> bool {
    if let Some(parent) = path.parent() {
        if std::fs::create_dir_all(parent).is_err() {
            return false;
        }
    }
    // create_new (O_EXCL) never follows a symlink, and none exists yet anyway.
    let file = OpenOptions::new().write(true).create_new(true).mode(if executable { 0o755 } else { 0o644 }).open(path);
    match file {
        Ok(mut file) => file.write_all(body.as_bytes()).is_ok(),
        Err(_) => false,
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(tmp) = tempfile::tempdir() else { return };
    let dir = tmp.path().join("challenge");
    if std::fs::create_dir(&dir).is_err() {
        return;
    }

    let sections = sections(&text);
    let mut playbooks = Vec::new();
    // Regular files first, then symlinks: nothing is ever written through a link.
    for section in sections.iter().filter(|s| !s.symlink) {
        let Some(relative) = safe_name(section.name, 3) else { continue };
        let path = dir.join(&relative);
        if write_new(&path, &section.body, section.executable)
            && matches!(relative.extension().and_then(|e| e.to_str()), Some("yml" | "yaml"))
        {
            playbooks.push((path, relative));
        }
    }
    for section in sections.iter().filter(|s| s.symlink) {
        let Some(relative) = safe_name(section.name, 1) else { continue };
        let target = section.body.trim_end_matches(['\n', '\r']);
        if !target.is_empty() && !target.contains('\0') {
            let _ = std::os::unix::fs::symlink(target, dir.join(relative));
        }
    }

    // Each playbook on its own, as `lint` would if the manifest named it.
    for (path, relative) in &playbooks {
        if let Some(finding) = lint::lint_playbook(path, relative) {
            let _ = finding.is_error();
            let _ = render(finding);
        }
    }

    // The built-in catalog and the default ceilings, as a host without a config file has.
    let allowed = Allowed::default();
    let ceilings = allowed.ceilings;
    match Challenge::load(&dir, &allowed) {
        Err(err) => {
            let _ = render(err);
        }
        Ok(challenge) => {
            if verbose() {
                eprintln!("loaded {challenge:?}");
            }
            // The contract of a validated challenge: files inside its directory, limits
            // within the ceilings, at least one distro.
            assert!(!challenge.distros.is_empty());
            let goss = challenge.goss.as_ref().map(|goss| &goss.file);
            for relative in [&challenge.starter, &challenge.solution].into_iter().chain(challenge.check.as_ref()).chain(goss) {
                assert!(relative.is_relative(), "{relative:?} is absolute");
                let real = challenge.file(relative).canonicalize().expect("a validated file exists");
                assert!(real.starts_with(&challenge.dir), "{real:?} is outside {:?}", challenge.dir);
                assert!(real.is_file());
            }
            let limits = challenge.limits;
            assert!(limits.memory_bytes <= ceilings.memory_bytes);
            assert!(limits.cpus <= ceilings.cpus && limits.pids <= ceilings.pids);
            assert!(!challenge.run.timeout.is_zero() && challenge.run.timeout <= ceilings.timeout);
            let _ = limits.for_controller();
            let _ = challenge.difficulty.map(|d| d.as_str());
            let _ = challenge.run.services.as_str();
            let _ = challenge.run.strategy.plugin();
            for distro in &challenge.distros {
                let _ = challenge.poolable_target(distro);
            }
            for family in [Family::Debian, Family::RedHat, Family::Alpine] {
                for name in challenge.prepare.packages_for(family) {
                    assert!(!name.is_empty() && !name.contains(char::is_whitespace), "package {name:?}");
                }
            }
            let _ =
                (&challenge.id, &challenge.title, &challenge.topic, challenge.run.idempotent, challenge.run.network);

            if let Track::Docker(image) = &challenge.track {
                // The build context is a directory of the challenge; a touched file is in it.
                assert!(image.context.is_relative(), "{:?} is absolute", image.context);
                let context = challenge.file(&image.context).canonicalize().expect("a validated context exists");
                assert!(context.starts_with(&challenge.dir) && context.is_dir(), "context {context:?}");
                if let Some(touch) = &image.touch {
                    assert!(touch.starts_with(&image.context), "{touch:?} is outside {:?}", image.context);
                }
                assert!(image.port != Some(0));
                assert!(image.checks.http.is_none() || image.port.is_some());
            }
            let _ = challenge.track.name();

            for finding in lint::lint(&dir, &allowed) {
                let _ = finding.is_error();
                let _ = render(finding);
            }
        }
    }
});
