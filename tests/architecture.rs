//! The module layout holds what ARCHITECTURE.md says: no import cycles at any level of `src/`
//! (between top-level modules, and between the files of each folder) nor in the systemctl
//! mock's crate, a Docker client that imports nothing of the product, short functions and
//! files a reader can hold. Read from the source, so a change that breaks one fails here, not
//! in review.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The crates whose layout is checked, relative to the repository.
const TREES: [&str; 2] = ["src", "mocks/sandbox-systemctl/src"];

/// Cycles known and being broken: a folder, and the files (modules) its cycle runs through.
/// A cycle may shrink inside its entry; a new one, or one that grows, fails. Remove an entry
/// once its cycle is gone (the test says when).
const KNOWN_CYCLES: &[(&str, &[&str])] = &[];

/// The most lines of non-test code (what comes before `#[cfg(test)] mod tests`) a file has.
const MAX_FILE_LINES: usize = 600;

/// Files still over `MAX_FILE_LINES` while they are split, each capped at its size when it was
/// listed so it cannot grow. Remove an entry once its file is split (the test says when).
const OVERSIZED: &[(&str, usize)] = &[];

fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file of a tree, with its text.
fn sources(tree: &str) -> Vec<(PathBuf, String)> {
    let root = repository().join(tree);
    walkdir::WalkDir::new(&root)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|entry| entry.path().extension().is_some_and(|ext| ext == "rs"))
        .map(|entry| {
            let relative = entry.path().strip_prefix(&root).unwrap().to_path_buf();
            (relative, std::fs::read_to_string(entry.path()).unwrap())
        })
        .collect()
}

/// The module a file is: `run/platform.rs` → `[run, platform]`, `run/mod.rs` → `[run]`, the
/// crate root (`lib.rs`, `main.rs`) → `[]`.
fn module_path(relative: &Path) -> Vec<String> {
    let mut path: Vec<String> =
        relative.with_extension("").components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
    if matches!(path.last().map(String::as_str), Some("mod"))
        || matches!(path.as_slice(), [n] if n == "lib" || n == "main")
    {
        path.pop();
    }
    path
}

/// Where a file's unit tests start: the `#[cfg(test)]` line before `mod tests`.
fn tests_start(lines: &[&str]) -> Option<usize> {
    lines.windows(2).position(|pair| pair[0].trim() == "#[cfg(test)]" && pair[1].starts_with("mod tests"))
}

/// The paths a use tree names below `base`: `verdict::{self, Decision}` → `base::verdict`.
/// Type names end a path (they are items, not modules).
fn use_tree(text: &[char], at: &mut usize, base: &[String]) -> Vec<Vec<String>> {
    let skip_space = |at: &mut usize| {
        while text.get(*at).is_some_and(|c| c.is_whitespace()) {
            *at += 1;
        }
    };
    skip_space(at);
    if text.get(*at) == Some(&'{') {
        *at += 1;
        let mut paths = Vec::new();
        loop {
            skip_space(at);
            match text.get(*at) {
                None => return paths,
                Some('}') => return paths,
                Some(',') => *at += 1,
                Some(_) => {
                    let before = *at;
                    paths.extend(use_tree(text, at, base));
                    if *at == before {
                        *at += 1;
                    }
                }
            }
        }
    }
    let name: String = text[*at..].iter().take_while(|c| c.is_ascii_alphanumeric() || **c == '_').collect();
    if name.is_empty() || !name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_') {
        *at += name.len();
        return vec![base.to_vec()];
    }
    *at += name.len();
    let path = if name == "self" { base.to_vec() } else { [base, &[name]].concat() };
    if text.get(*at..*at + 2) == Some(&[':', ':']) {
        *at += 2;
        return use_tree(text, at, &path);
    }
    vec![path]
}

/// The modules `code` names through `crate::`, `super::` and `self::`, as absolute module
/// paths, read as from inside module `module`. Comments are not read.
fn references(code: &str, module: &[String]) -> Vec<Vec<String>> {
    let code: String = code.lines().map(|line| line.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n");
    let text: Vec<char> = code.chars().collect();
    let mut found = Vec::new();
    let mut at = 0;
    while at < text.len() {
        let word_start =
            at == 0 || !(text[at - 1].is_ascii_alphanumeric() || text[at - 1] == '_' || text[at - 1] == ':');
        let starts = |word: &str, at: usize| text[at..].iter().take(word.len()).copied().eq(word.chars());
        if !word_start || !["crate::", "super::", "self::"].iter().any(|w| starts(w, at)) {
            at += 1;
            continue;
        }
        let mut base = if starts("crate::", at) { Vec::new() } else { module.to_vec() };
        if starts("crate::", at) {
            at += 7;
        } else if starts("self::", at) {
            at += 6;
        } else {
            while starts("super::", at) {
                base.pop();
                at += 7;
            }
        }
        found.extend(use_tree(&text, &mut at, &base));
    }
    found
}

/// For each folder of a tree (as a module path), its files and subfolders (as modules, the
/// folder's own `mod.rs` aside) and which of them name which.
fn folder_graphs(tree: &str) -> BTreeMap<Vec<String>, BTreeMap<String, BTreeSet<String>>> {
    let files: Vec<(Vec<String>, String)> =
        sources(tree).into_iter().map(|(relative, text)| (module_path(&relative), text)).collect();
    let mut graphs: BTreeMap<Vec<String>, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for (module, _) in &files {
        // A file is a node of every folder above it, as the module its folder makes.
        for depth in 0..module.len() {
            graphs.entry(module[..depth].to_vec()).or_default().entry(module[depth].clone()).or_default();
        }
    }
    for (module, text) in &files {
        // Unit tests are left out: a test may build its fixture with a sibling (lint's tests
        // scaffold a challenge, scaffold's tests lint one) without the code depending on it.
        let lines: Vec<&str> = text.lines().collect();
        let code = lines[..tests_start(&lines).unwrap_or(lines.len())].join("\n");
        for target in references(&code, module) {
            for (folder, graph) in graphs.iter_mut() {
                let depth = folder.len();
                let inside = |path: &[String]| path.len() > depth && path[..depth] == folder[..];
                if !inside(module) || !inside(&target) || module[depth] == target[depth] {
                    continue;
                }
                if graph.contains_key(&target[depth]) {
                    graph.get_mut(&module[depth]).unwrap().insert(target[depth].clone());
                }
            }
        }
    }
    graphs
}

/// The nodes reachable from `start` (itself only through a cycle).
fn reachable(graph: &BTreeMap<String, BTreeSet<String>>, start: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![start.to_string()];
    while let Some(node) = stack.pop() {
        for next in graph.get(&node).into_iter().flatten() {
            if seen.insert(next.clone()) {
                stack.push(next.clone());
            }
        }
    }
    seen
}

/// The graph's knots: the sets of nodes each of which reaches every other (a cycle runs
/// through them all).
fn knots(graph: &BTreeMap<String, BTreeSet<String>>) -> BTreeSet<BTreeSet<String>> {
    let reach: BTreeMap<&String, BTreeSet<String>> = graph.keys().map(|n| (n, reachable(graph, n))).collect();
    graph
        .keys()
        .filter(|node| reach[node].contains(*node))
        .map(|node| reach[node].iter().filter(|other| reach[other].contains(node.as_str())).cloned().collect())
        .collect()
}

fn folder_name(tree: &str, folder: &[String]) -> String {
    [tree.to_string()].into_iter().chain(folder.iter().cloned()).collect::<Vec<_>>().join("/")
}

#[test]
fn no_import_cycles_at_any_level() {
    let top = &folder_graphs("src")[&Vec::new()];
    assert!(top.contains_key("run") && top.contains_key("docker"), "{top:?}");
    let verdict = &folder_graphs("src")[&vec!["run".to_string()]];
    assert!(verdict["platform"].contains("verdict"), "files' imports are read: {verdict:?}");
    let (mut cycles, mut known) = (Vec::new(), BTreeSet::new());
    for tree in TREES {
        for (folder, graph) in folder_graphs(tree) {
            let name = folder_name(tree, &folder);
            for knot in knots(&graph) {
                let allowed = KNOWN_CYCLES
                    .iter()
                    .find(|(f, nodes)| *f == name && knot.iter().all(|n| nodes.contains(&n.as_str())));
                match allowed {
                    Some((_, nodes)) => {
                        known.insert(*nodes);
                    }
                    None => cycles.push(format!("{name}: {}", knot.into_iter().collect::<Vec<_>>().join(" ↔ "))),
                }
            }
        }
    }
    assert!(
        cycles.is_empty(),
        "import cycles (modules that import each other, directly or not):\n{}",
        cycles.join("\n")
    );
    let stale: Vec<_> = KNOWN_CYCLES.iter().filter(|(_, nodes)| !known.contains(nodes)).collect();
    assert!(stale.is_empty(), "these cycles are gone: remove them from KNOWN_CYCLES: {stale:?}");
}

#[test]
fn the_docker_client_imports_nothing_of_the_product() {
    let graphs = folder_graphs("src");
    assert_eq!(graphs[&Vec::new()]["docker"], BTreeSet::new());
}

/// Lines of a file before its unit tests.
fn code_lines(text: &str) -> usize {
    let lines: Vec<&str> = text.lines().collect();
    tests_start(&lines).unwrap_or(lines.len())
}

/// Files stay small enough to know what a line may touch; the ones being split may not grow.
#[test]
fn no_file_is_over_600_lines_of_code() {
    let mut over = Vec::new();
    let mut listed = BTreeSet::new();
    for tree in TREES {
        for (relative, text) in sources(tree) {
            let name = Path::new(tree).join(&relative).to_string_lossy().into_owned();
            let lines = code_lines(&text);
            let cap = OVERSIZED.iter().find(|(file, _)| *file == name).map(|(_, cap)| *cap);
            if cap.is_some() && lines > MAX_FILE_LINES {
                listed.insert(name.clone());
            }
            if lines > cap.unwrap_or(MAX_FILE_LINES) {
                over.push(format!("{name}: {lines} lines (at most {})", cap.unwrap_or(MAX_FILE_LINES)));
            }
        }
    }
    assert!(over.is_empty(), "files over their size (split them by concern):\n{}", over.join("\n"));
    let split: Vec<_> = OVERSIZED.iter().filter(|(file, _)| !listed.contains(*file)).collect();
    assert!(
        split.is_empty(),
        "these files are within {MAX_FILE_LINES} lines now: remove them from OVERSIZED: {split:?}"
    );
}

/// Functions stay short: past 60 lines one says why in its comment; none passes 70.
#[test]
fn no_function_in_src_is_over_70_lines() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut long = Vec::new();
    for entry in walkdir::WalkDir::new(&src).into_iter().filter_map(Result::ok) {
        if entry.path().extension().is_none_or(|ext| ext != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(entry.path()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (start, line) in lines.iter().enumerate() {
            let trimmed = line.trim_start();
            let is_fn = ["fn ", "pub fn ", "async fn ", "pub async fn ", "pub(crate) fn ", "pub(crate) async fn "]
                .iter()
                .any(|p| trimmed.starts_with(p));
            if !is_fn || line.trim_end().ends_with(';') {
                continue;
            }
            let indent = &line[..line.len() - trimmed.len()];
            let end = lines[start..].iter().position(|l| *l == format!("{indent}}}")).unwrap_or(0);
            if end + 1 > 70 {
                long.push(format!("{}:{} ({} lines)", entry.path().display(), start + 1, end + 1));
            }
        }
    }
    assert!(long.is_empty(), "functions over 70 lines:\n{}", long.join("\n"));
}
