//! Reading a saved image (`docker save`'s tar) layer by layer, for what the final file
//! system hides: a file a later layer deletes is still in the layer that added it, and
//! anyone who pulls the image can read it there.

use std::collections::HashSet;
use std::io::Read;
use std::path::Path;

/// A secret found in a layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// 1-based, oldest first, counting every layer of the image.
    pub layer: usize,
    /// The file's path in the image (`/app/token.txt`).
    pub path: String,
    pub secret: String,
    /// A later layer deletes the file: gone from the container, not from the image.
    pub deleted_later: bool,
}

/// Files bigger than this are read only this far (a layer may hold a toolchain).
const READ_LIMIT: u64 = 64 * 1024 * 1024;

/// Every place a layer of the image saved at `saved` holds one of `secrets`, in a file's
/// contents or its name; layers listed in `skip` (the base image's, by diff id) are not read.
pub fn find_secrets(
    saved: &Path,
    diff_ids: &[String],
    skip: &HashSet<String>,
    secrets: &[String],
) -> std::io::Result<Vec<Finding>> {
    let layers = layer_paths(saved)?;
    let mut findings = Vec::new();
    let mut deleted: Vec<(usize, String)> = Vec::new();
    let mut archive = tar::Archive::new(std::fs::File::open(saved)?);
    for entry in archive.entries()? {
        let entry = entry?;
        let name = entry.path()?.to_string_lossy().into_owned();
        let Some(index) = layers.iter().position(|layer| *layer == name) else { continue };
        if diff_ids.get(index).is_some_and(|id| skip.contains(id)) {
            continue;
        }
        scan_layer(entry, index + 1, secrets, &mut findings, &mut deleted)?;
    }
    for finding in &mut findings {
        finding.deleted_later = deleted.iter().any(|(layer, path)| *layer > finding.layer && *path == finding.path);
    }
    findings.sort_by_key(|f| f.layer);
    Ok(findings)
}

/// The layers' paths in the saved tar, oldest first, from its `manifest.json` (both the
/// legacy `<id>/layer.tar` layout and the OCI `blobs/sha256/…` one list them there).
fn layer_paths(saved: &Path) -> std::io::Result<Vec<String>> {
    let mut archive = tar::Archive::new(std::fs::File::open(saved)?);
    for entry in archive.entries()? {
        let mut entry = entry?;
        if entry.path()?.as_os_str() != "manifest.json" {
            continue;
        }
        let mut text = String::new();
        entry.read_to_string(&mut text)?;
        let manifest: serde_json::Value = serde_json::from_str(&text).map_err(std::io::Error::other)?;
        let layers = manifest[0]["Layers"].as_array().cloned().unwrap_or_default();
        return Ok(layers.iter().filter_map(|l| l.as_str().map(String::from)).collect());
    }
    Err(std::io::Error::other("no manifest.json in the saved image"))
}

fn scan_layer(
    layer: impl Read,
    number: usize,
    secrets: &[String],
    findings: &mut Vec<Finding>,
    deleted: &mut Vec<(usize, String)>,
) -> std::io::Result<()> {
    let mut archive = tar::Archive::new(layer);
    for file in archive.entries()? {
        let mut file = file?;
        let path = format!("/{}", file.path()?.to_string_lossy().trim_start_matches("./"));
        if let Some((dir, name)) = path.rsplit_once('/') {
            if let Some(gone) = name.strip_prefix(".wh.") {
                deleted.push((number, format!("{dir}/{gone}")));
                continue;
            }
        }
        if !file.header().entry_type().is_file() {
            continue;
        }
        let mut contents = Vec::new();
        (&mut file).take(READ_LIMIT).read_to_end(&mut contents)?;
        for secret in secrets {
            let needle = secret.as_bytes();
            if path.contains(secret.as_str()) || memchr::memmem::find(&contents, needle).is_some() {
                findings.push(Finding {
                    layer: number,
                    path: path.clone(),
                    secret: secret.clone(),
                    deleted_later: false,
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, data) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder.append_data(&mut header, path, *data).unwrap();
        }
        builder.into_inner().unwrap()
    }

    #[test]
    fn a_secret_a_later_layer_deletes_is_found_in_the_layer_that_added_it() {
        let base = tar_of(&[("etc/os-release", b"debian")]);
        let added = tar_of(&[("app/token.txt", b"the token is sbx-123 ok")]);
        let removed = tar_of(&[("app/.wh.token.txt", b"")]);
        let manifest = br#"[{"Config":"c.json","Layers":["a/layer.tar","b/layer.tar","c/layer.tar"]}]"#;
        let saved = tar_of(&[
            ("a/layer.tar", &base),
            ("b/layer.tar", &added),
            ("c/layer.tar", &removed),
            ("manifest.json", manifest),
        ]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("image.tar");
        std::fs::write(&path, saved).unwrap();
        let ids: Vec<String> = ["sha256:a", "sha256:b", "sha256:c"].map(String::from).to_vec();
        let skip = HashSet::from(["sha256:a".to_string()]);
        let found = find_secrets(&path, &ids, &skip, &["sbx-123".to_string()]).unwrap();
        assert_eq!(
            found,
            [Finding { layer: 2, path: "/app/token.txt".into(), secret: "sbx-123".into(), deleted_later: true }]
        );
        assert!(find_secrets(&path, &ids, &skip, &["debian".to_string()]).unwrap().is_empty(), "base layer skipped");
    }
}
