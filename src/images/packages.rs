//! Per-challenge package layers (`[prepare] packages`): on top of a distro's prepared image,
//! the packages a challenge needs and their dependencies, **downloaded but not installed**,
//! in a local repository with its index. The learner's playbook still installs them (and
//! `check.sh` still sees them missing until it does), but from the image: fast under gVisor,
//! and possible with no network at all (`--offline`).
//!
//! The local repository comes first in the package manager's sources, so it is preferred
//! online too; an offline run removes every other source before pass 1.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use crate::distro::{Distro, Family};
use crate::docker::{tar_of, Engine};
use crate::images::ImageError;
use crate::labels;
use crate::report::Reporter;

/// Where the local repository lives in a target.
pub const REPO_DIR: &str = "/var/lib/sandbox-repo";

/// The layer's Dockerfile: `FROM` the distro's prepared image, one `RUN` of the family's script.
pub fn dockerfile(base_tag: &str, family: Family, packages: &[String]) -> String {
    format!("FROM {base_tag}\nRUN {}\n", download_script(family, packages).replace('\n', " \\\n && "))
}

/// Downloads `packages` with their dependencies (what installing them here would fetch) into
/// the local repository, indexes it and puts it first among the sources. One command per line.
pub fn download_script(family: Family, packages: &[String]) -> String {
    let names = packages.join(" ");
    match family {
        // Packages index written with dpkg-deb, sha256sum and stat, which every Debian image
        // has: apt-ftparchive/dpkg-scanpackages would add packages the learner did not ask for.
        // apt prefers, among sources offering the same version, the one listed first.
        Family::Debian => format!(
            "apt-get update -qq\n\
             DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --download-only {names}\n\
             mkdir -p {REPO_DIR}\n\
             find /var/cache/apt/archives -maxdepth 1 -name '*.deb' -exec mv {{}} {REPO_DIR}/ ';'\n\
             cd {REPO_DIR}\n\
             for deb in *.deb; do [ -e \"$deb\" ] || continue; dpkg-deb -f \"$deb\"; echo \"Filename: ./$deb\"; echo \"Size: $(stat -c %s \"$deb\")\"; echo \"SHA256: $(sha256sum \"$deb\" | cut -d' ' -f1)\"; echo; done > Packages\n\
             if [ -s /etc/apt/sources.list ]; then mv /etc/apt/sources.list /etc/apt/sources.list.d/sandbox-remote.list; fi\n\
             echo 'deb [trusted=yes] file:{REPO_DIR} ./' > /etc/apt/sources.list\n\
             apt-get update -qq\n\
             rm -rf /var/cache/apt/archives/partial/*"
        ),
        // createrepo_c indexes the repository and is removed again; priority=1 makes dnf
        // prefer it over the distro's repositories.
        Family::RedHat => format!(
            "mkdir -p {REPO_DIR}\n\
             dnf install -y -q createrepo_c\n\
             dnf download -q --resolve --alldeps --destdir {REPO_DIR} {names}\n\
             createrepo_c -q {REPO_DIR}\n\
             dnf remove -y -q createrepo_c\n\
             printf '[sandbox-local]\\nname=sandbox local packages\\nbaseurl=file://{REPO_DIR}\\nenabled=1\\ngpgcheck=0\\npriority=1\\n' > /etc/yum.repos.d/sandbox-local.repo\n\
             dnf clean all -q"
        ),
        // apk wants a signed index: a key made for this image signs it and is trusted.
        Family::Alpine => format!(
            "apk add --no-cache -q abuild\n\
             mkdir -p {REPO_DIR}\n\
             apk fetch -q --recursive -o {REPO_DIR} {names}\n\
             cd {REPO_DIR}\n\
             apk index -q -o APKINDEX.tar.gz *.apk\n\
             abuild-keygen -a -n -q\n\
             cp /root/.abuild/*.rsa.pub /etc/apk/keys/\n\
             abuild-sign -q -k /root/.abuild/*.rsa APKINDEX.tar.gz\n\
             apk del -q abuild\n\
             sed -i '1i {REPO_DIR}' /etc/apk/repositories"
        ),
    }
}

/// Run in an offline target before pass 1: every package source but the local repository
/// goes, so `update_cache` works and a package that is not prepared fails with the package
/// manager's own error instead of a network timeout.
pub fn offline_script(family: Family) -> String {
    match family {
        Family::Debian => format!(
            "rm -f /etc/apt/sources.list.d/*\n\
             grep -q 'file:{REPO_DIR}' /etc/apt/sources.list 2>/dev/null || : > /etc/apt/sources.list\n\
             find /var/lib/apt/lists -maxdepth 1 -type f ! -name lock ! -name '_var_lib_sandbox-repo_*' -delete\n\
             echo 'package sources: {REPO_DIR} only'"
        ),
        Family::RedHat => "for repo in /etc/yum.repos.d/*.repo; do [ \"$repo\" = /etc/yum.repos.d/sandbox-local.repo ] || mv \"$repo\" \"$repo.offline\"; done\n\
             dnf clean all -q\n\
             echo 'package sources: sandbox-local only'"
            .to_string(),
        Family::Alpine => format!(
            "grep -x '{REPO_DIR}' /etc/apk/repositories > /etc/apk/repositories.offline || true\n\
             mv /etc/apk/repositories.offline /etc/apk/repositories\n\
             echo 'package sources: {REPO_DIR} only'"
        ),
    }
}

/// The layer's tag: a hash of the prepared image it builds on and of its Dockerfile (which
/// holds the package list), so two challenges with the same list share one layer.
pub fn tag_for(distro: &Distro, base_image_id: &str, dockerfile: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(base_image_id.as_bytes());
    hasher.update(dockerfile.as_bytes());
    let hex: String = hasher.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("sandbox/packages-{}:{hex}", distro.name)
}

/// The tag of the package layer for `packages` on top of `base_tag`, built on first use.
pub async fn ensure(
    engine: &Engine,
    distro: &Distro,
    base_tag: &str,
    packages: &[String],
    reporter: &dyn Reporter,
) -> Result<String, ImageError> {
    let dockerfile = dockerfile(base_tag, distro.family, packages);
    let base_id = engine.image_id(base_tag).await?.unwrap_or_default();
    let tag = tag_for(distro, &base_id, &dockerfile);
    if engine.image_id(&tag).await?.is_none() {
        reporter.step(&format!(
            "preparing {} package(s) for {} (first use; cached afterwards)",
            packages.len(),
            distro
        ));
        let context = tar_of(&[("Dockerfile", dockerfile.as_bytes(), 0o644)]);
        let labels = HashMap::from([(labels::IMAGE.to_string(), format!("sandbox/packages-{}", distro.name))]);
        engine.build_image(&tag, context, &labels, &mut |line| reporter.build_line(line)).await?;
        reporter.step_done(&format!("prepared packages in {tag}"));
    }
    Ok(tag)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distro::builtin as find;

    fn packages() -> Vec<String> {
        vec!["nginx".into(), "php-fpm".into()]
    }

    #[test]
    fn apt_downloads_without_installing_and_puts_the_local_repository_first() {
        let script = download_script(Family::Debian, &packages());
        assert!(script.contains("apt-get install -y -qq --download-only nginx php-fpm"));
        assert!(!script.contains("apt-get install -y -qq nginx"));
        let first_source = script.find("> /etc/apt/sources.list\n").unwrap();
        let moved_remote = script.find("sandbox-remote.list").unwrap();
        assert!(moved_remote < first_source, "the remote source moves out before the local one takes its place");
        assert!(script.contains("deb [trusted=yes] file:/var/lib/sandbox-repo ./"));
    }

    #[test]
    fn dnf_and_apk_index_their_repositories() {
        let dnf = download_script(Family::RedHat, &packages());
        assert!(dnf.contains("dnf download -q --resolve --alldeps --destdir /var/lib/sandbox-repo nginx php-fpm"));
        assert!(dnf.contains("createrepo_c -q /var/lib/sandbox-repo"));
        assert!(dnf.contains("priority=1"));
        let apk = download_script(Family::Alpine, &packages());
        assert!(apk.contains("apk fetch -q --recursive -o /var/lib/sandbox-repo nginx php-fpm"));
        assert!(apk.contains("abuild-sign"));
    }

    #[test]
    fn offline_leaves_only_the_local_repository() {
        let apt = offline_script(Family::Debian);
        assert!(apt.contains("rm -f /etc/apt/sources.list.d/*"));
        assert!(apt.contains("! -name '_var_lib_sandbox-repo_*' -delete"));
        assert!(offline_script(Family::RedHat).contains("mv \"$repo\" \"$repo.offline\""));
        assert!(offline_script(Family::Alpine).contains("grep -x '/var/lib/sandbox-repo'"));
    }

    #[test]
    fn the_dockerfile_chains_the_script_in_one_layer() {
        let dockerfile = dockerfile("sandbox/target-debian-12:abc", Family::Debian, &packages());
        assert!(dockerfile.starts_with("FROM sandbox/target-debian-12:abc\nRUN apt-get update -qq \\\n && "));
        assert_eq!(dockerfile.matches("RUN ").count(), 1);
    }

    #[test]
    fn tags_follow_the_base_and_the_list() {
        let distro = find("debian-12").unwrap();
        let a = tag_for(distro, "sha256:1", &dockerfile("t", Family::Debian, &packages()));
        let b = tag_for(distro, "sha256:1", &dockerfile("t", Family::Debian, &["nginx".to_string()]));
        let c = tag_for(distro, "sha256:2", &dockerfile("t", Family::Debian, &packages()));
        assert!(a.starts_with("sandbox/packages-debian-12:"));
        assert_ne!(a, b);
        assert_ne!(a, c);
    }
}
