//! Where the challenges are: the directories holding a `challenge.toml` under the roots
//! `sandbox test` and `lint` are given.

use std::path::PathBuf;

use super::MANIFEST;

/// Where `sandbox test` and `lint` look when given no directory.
pub const DEFAULT_ROOT: &str = "challenges";

/// The challenge directories under each of `roots` (a root that is itself a challenge stands
/// for itself), sorted. A root holding none is kept, so loading it reports what is missing.
pub fn discover(roots: &[PathBuf]) -> Vec<PathBuf> {
    let default = [PathBuf::from(DEFAULT_ROOT)];
    let roots = if roots.is_empty() { &default[..] } else { roots };
    let mut found = Vec::new();
    for root in roots {
        let before = found.len();
        let mut walk = walkdir::WalkDir::new(root).max_depth(4).sort_by_file_name().into_iter();
        while let Some(Ok(entry)) = walk.next() {
            let hidden = entry.depth() > 0 && entry.file_name().to_string_lossy().starts_with('.');
            if !entry.file_type().is_dir() || hidden {
                if entry.file_type().is_dir() {
                    walk.skip_current_dir();
                }
                continue;
            }
            if entry.path().join(MANIFEST).is_file() {
                found.push(entry.path().to_path_buf());
                // A challenge's own subdirectories (solution/, roles/) are not challenges.
                walk.skip_current_dir();
            }
        }
        if found.len() == before {
            found.push(root.clone());
        }
    }
    found
}
