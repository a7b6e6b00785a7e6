//! Prepared images: a distro's base image plus everything a target needs (python3, sshd, the
//! systemctl mock, an init that Ansible takes for systemd), and the controller image.
//!
//! Bootstrap happens once, at image build time, so a run only starts containers. Tags carry a
//! hash of every input (base image id, Dockerfile, mock, scripts): change one and the image
//! is rebuilt on next use; change none and it is reused.

pub mod packages;

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use crate::ansible::{self, LAUNCHER_PATH, MITOGEN_DIR};
use crate::distro::{Catalog, Distro, Family};
use crate::docker::{tar_of, Engine, EngineError};
use crate::labels;
use crate::report::Reporter;

/// The systemctl mock, installed in every target: a static binary built by build.rs from
/// `mocks/sandbox-systemctl` (its bytes are part of the image tag's hash).
pub const SYSTEMCTL_MOCK: &[u8] = include_bytes!(env!("SANDBOX_SYSTEMCTL_BIN"));

/// journalctl for targets without one: prints the per-unit logs of supervised services. The
/// same binary, which answers as journalctl when called by that name.
pub const JOURNALCTL_MOCK: &[u8] = SYSTEMCTL_MOCK;
/// Where the image keeps it; copied to `/usr/bin/journalctl` only where no real one exists.
const JOURNALCTL_MASTER: &str = "/usr/local/lib/sandbox/journalctl";

/// Where targets keep a pristine copy of the mock, to restore it between passes.
pub const MOCK_MASTER: &str = "/usr/local/lib/sandbox/systemctl";
/// Every place Ansible (and scripts) may look for systemctl.
pub const MOCK_LOCATIONS: &[&str] =
    &["/usr/sbin/systemctl", "/usr/bin/systemctl", "/usr/local/sbin/systemctl", "/usr/local/bin/systemctl"];

/// Which services mode a run uses (`mock`, `supervised`), written into each target before
/// pass 1; the systemctl in the image reads it.
pub const SERVICES_MODE_FILE: &str = "/etc/sandbox/services";

/// PID 1 of a target, run by bash through a symlink named `systemd` (see `PID1`).
const TARGET_INIT: &str = r#"#!/bin/bash
# /run is a fresh tmpfs at every start: recreate what the image made there.
mkdir -p /run/systemd/system /run/sshd
# What systemd creates at boot from tmpfiles.d (/run/lock among it), as it would.
systemd-tmpfiles --create --boot >/var/log/sandbox-tmpfiles.log 2>&1 || true
/usr/sbin/sshd -E /var/log/sshd.log
# In supervised services mode enabled services start at boot, as under systemd. A run
# writes the mode file after boot, so this matters only when a target is restarted.
if [ "$(cat /etc/sandbox/services 2>/dev/null)" = supervised ]; then
  systemctl sandbox-boot >>/var/log/sandbox-boot.log 2>&1
fi
trap 'exit 0' TERM INT
while :; do sleep 86400 & wait $!; done
"#;

/// What PID 1 of a target is called. Ansible reads `/proc/1/comm`: `ansible_service_mgr` is
/// that name unless it is `init` or ends in `sh`, and `service_facts` (2.14) only scans
/// systemctl when the name contains `systemd`. A symlink to bash with this name gives both
/// (comm comes from the executed path's name) while bash does the work and reaps orphans.
const PID1: &str = "/usr/local/lib/sandbox/systemd";

/// The controller image's Debian suite; ansible-core 2.14 and the community collections.
const CONTROLLER_BASE: &str = "debian:12";

/// Mitogen, pinned: its 0.3.54 loader accepts ansible-core 2.10 and newer, so Debian 12's
/// 2.14 with its collections stays. `scripts/setup.sh` downloads the wheel on the host and
/// checks its sha256: a build must not depend on PyPI being reachable from inside a
/// container (here its TLS goes through a proxy that containers do not trust).
pub const MITOGEN_WHEEL: &str = "/var/lib/sandbox/wheels/mitogen-0.3.54-py2.py3-none-any.whl";

/// Where `scripts/setup.sh` puts trixie's goss with the loader and libc it needs (Debian
/// packages goss from trixie on, linked against glibc >= 2.34; debian-11 has 2.31).
pub const GOSS_HOST_DIR: &str = "/var/lib/sandbox/goss";
/// Where a target keeps that goss, its loader and its libc.
const GOSS_DIR: &str = "/opt/sandbox/goss";
/// How a target runs goss: a script that starts the binary through its own loader and libc,
/// so the target's glibc (or musl) never matters.
pub const GOSS_WRAPPER: &str = "/usr/local/lib/sandbox/goss";
const GOSS_WRAPPER_SCRIPT: &str = "#!/bin/sh\n\
exec /opt/sandbox/goss/lib/ld-linux-x86-64.so.2 --library-path /opt/sandbox/goss/lib /opt/sandbox/goss/goss \"$@\"\n";
/// The host's goss files: (name in the build context, path under `GOSS_HOST_DIR`, mode).
const GOSS_FILES: [(&str, &str, u32); 3] =
    [("goss", "goss", 0o755), ("goss-ld", "lib/ld-linux-x86-64.so.2", 0o755), ("goss-libc", "lib/libc.so.6", 0o644)];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageKind {
    Target(&'static Distro),
    Controller,
}

impl ImageKind {
    /// The controller, then a target image per catalog distro: what `doctor` and
    /// `images list` report on.
    pub fn all(catalog: &Catalog) -> impl Iterator<Item = ImageKind> + '_ {
        std::iter::once(ImageKind::Controller).chain(catalog.all().map(ImageKind::Target))
    }

    pub fn repository(self) -> String {
        match self {
            ImageKind::Target(distro) => format!("sandbox/target-{}", distro.name),
            ImageKind::Controller => "sandbox/controller".to_string(),
        }
    }

    pub fn base_image(self) -> &'static str {
        match self {
            ImageKind::Target(distro) => distro.base_image,
            ImageKind::Controller => CONTROLLER_BASE,
        }
    }

    pub fn describe(self) -> String {
        match self {
            ImageKind::Target(distro) => format!("target image for {}", distro.name),
            ImageKind::Controller => "controller image".to_string(),
        }
    }

    /// `debian-12`, `controller`: how runs, the pool and its status name a container's kind.
    pub fn name(self) -> &'static str {
        match self {
            ImageKind::Target(distro) => distro.name,
            ImageKind::Controller => "controller",
        }
    }

    /// The container's hostname (a DNS label: `ubuntu-22-04`, `controller`).
    pub fn hostname(self) -> String {
        self.name().replace('.', "-")
    }

    /// The build context: Dockerfile and the files it copies. The controller's Mitogen wheel
    /// is read from the host: empty when it is missing, which `ensure` refuses to build.
    fn context(self) -> Vec<(&'static str, Vec<u8>, u32)> {
        match self {
            ImageKind::Target(distro) => {
                let mut files = vec![
                    ("Dockerfile", target_dockerfile(distro).into_bytes(), 0o644),
                    ("systemctl", SYSTEMCTL_MOCK.into(), 0o755),
                    ("journalctl", JOURNALCTL_MOCK.into(), 0o755),
                    ("init", TARGET_INIT.into(), 0o755),
                    ("goss-wrapper", GOSS_WRAPPER_SCRIPT.into(), 0o755),
                ];
                files.extend(goss_files().iter().cloned());
                files
            }
            ImageKind::Controller => vec![
                ("Dockerfile", controller_dockerfile().into_bytes(), 0o644),
                ("mitogen.whl", std::fs::read(MITOGEN_WHEEL).unwrap_or_default(), 0o644),
                ("launcher", ansible::LAUNCHER.into(), 0o755),
            ],
        }
    }
}

/// The host's goss files, read once per process (16 MB, hashed into every target's tag):
/// each empty when missing, which `ensure` refuses to build.
fn goss_files() -> &'static [(&'static str, Vec<u8>, u32)] {
    static FILES: std::sync::OnceLock<Vec<(&'static str, Vec<u8>, u32)>> = std::sync::OnceLock::new();
    FILES.get_or_init(|| {
        let dir = std::path::Path::new(GOSS_HOST_DIR);
        GOSS_FILES
            .iter()
            .map(|(name, path, mode)| (*name, std::fs::read(dir.join(path)).unwrap_or_default(), *mode))
            .collect()
    })
}

fn target_dockerfile(distro: &Distro) -> String {
    let family_setup = match distro.family {
        // policy-rc.d 101: packages install without trying to start their services, as in
        // Docker's own Debian images. The real systemctl is diverted, present or not: a
        // package that pulls in systemd later (php-fpm does) installs it as `….distrib`
        // and the mock stays in charge. systemd ships it as /bin/systemctl up to bookworm and
        // /usr/bin/systemctl from trixie; dpkg does not know they are one file under merged /usr.
        Family::Debian => {
            "printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d \
 && dpkg-divert --local --rename --add /bin/systemctl \
 && dpkg-divert --local --rename --add /usr/bin/systemctl"
        }
        Family::RedHat | Family::Alpine => "true",
    };
    let copies: Vec<String> = MOCK_LOCATIONS.iter().map(|path| format!("cp {MOCK_MASTER} {path}")).collect();
    format!(
        "FROM {base}\n\
         RUN {install}\n\
         RUN {family_setup}\n\
         COPY systemctl {MOCK_MASTER}\n\
         COPY journalctl {JOURNALCTL_MASTER}\n\
         COPY init /usr/local/lib/sandbox/init\n\
         COPY goss {GOSS_DIR}/goss\n\
         COPY goss-ld {GOSS_DIR}/lib/ld-linux-x86-64.so.2\n\
         COPY goss-libc {GOSS_DIR}/lib/libc.so.6\n\
         COPY goss-wrapper {GOSS_WRAPPER}\n\
         RUN {copies} \\\n \
         && chmod 755 {locations} \\\n \
         && if [ ! -e /usr/bin/journalctl ] && [ ! -e /bin/journalctl ]; then cp {JOURNALCTL_MASTER} /usr/bin/journalctl && chmod 755 /usr/bin/journalctl; fi \\\n \
         && if [ ! -e /usr/bin/systemd-tmpfiles ] && [ ! -e /bin/systemd-tmpfiles ]; then cp {MOCK_MASTER} /usr/bin/systemd-tmpfiles; fi \\\n \
         && mkdir -p /etc/systemd/system /var/lib/sandbox-systemctl /root/.ssh && chmod 700 /root/.ssh \\\n \
         && ln -sf /bin/bash {PID1} \\\n \
         && ssh-keygen -A\n\
         CMD [\"{PID1}\", \"/usr/local/lib/sandbox/init\"]\n",
        base = distro.base_image,
        install = distro.install_bootstrap_packages,
        copies = copies.join(" && "),
        locations = MOCK_LOCATIONS.join(" "),
    )
}

fn controller_dockerfile() -> String {
    format!(
        "FROM {CONTROLLER_BASE}\n\
         RUN echo 'deb http://deb.debian.org/debian bookworm main' > /etc/apt/sources.list \\\n \
         && apt-get update -qq \\\n \
         && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ansible openssh-client python3 \\\n \
         && rm -rf /var/lib/apt/lists/* \\\n \
         && mkdir -p /root/.ssh /work && chmod 700 /root/.ssh\n\
         COPY mitogen.whl /tmp/mitogen.whl\n\
         RUN python3 -m zipfile -e /tmp/mitogen.whl {MITOGEN_DIR} && rm /tmp/mitogen.whl \\\n \
         && PYTHONPATH={MITOGEN_DIR} python3 -c 'import ansible_mitogen.strategy'\n\
         ENV ANSIBLE_STRATEGY_PLUGINS={MITOGEN_DIR}/ansible_mitogen/plugins/strategy\n\
         COPY launcher {LAUNCHER_PATH}\n\
         CMD [\"sleep\", \"infinity\"]\n"
    )
}

/// Prints the controller's public SSH key, making the key pair first unless a pooled
/// controller already made it while warming. Each controller serves one run: one key per run.
pub const CONTROLLER_KEY: &str =
    "[ -s /root/.ssh/id_ed25519 ] || ssh-keygen -q -t ed25519 -N '' -f /root/.ssh/id_ed25519; \
     cat /root/.ssh/id_ed25519.pub";

/// What a pooled controller does while it warms: its key pair (`CONTROLLER_KEY`, which the
/// run then only reads), and Ansible once against itself, so the run's first
/// `ansible-playbook` finds Python's modules in gVisor's file cache instead of reading them
/// through the gofer. That Ansible runs in a session of its own whose id is in
/// `CONTROLLER_WARM_UP_PID`: a run that claims the controller before it is done ends it
/// (`end_controller_warm_up`) rather than compete with it for the CPUs.
pub fn controller_warm_up() -> String {
    format!(
        "{{ {CONTROLLER_KEY}; }} >/dev/null && \
         {{ setsid ansible localhost -c local -m ping >/dev/null & echo $! > {CONTROLLER_WARM_UP_PID}; wait $!; }}"
    )
}

/// The session of a pooled controller's warm-up Ansible.
const CONTROLLER_WARM_UP_PID: &str = "/run/sandbox-warm-up.pid";

/// For a run that claimed a controller still warming: exits 1 until the key pair and the
/// warm-up's session id are there (the caller polls, bounded), then ends that session's
/// Ansible if it still runs (`kill -SIG -PGID`, without `--`, which dash's kill does not take).
pub fn end_controller_warm_up() -> String {
    format!(
        "[ -s /root/.ssh/id_ed25519.pub ] && [ -s {CONTROLLER_WARM_UP_PID} ] || exit 1; \
         kill -TERM -\"$(cat {CONTROLLER_WARM_UP_PID})\" 2>/dev/null; exit 0"
    )
}

/// The tag an image would have for the given base image id.
pub fn tag_for(kind: ImageKind, base_id: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(base_id.as_bytes());
    for (name, contents, mode) in kind.context() {
        hasher.update(name.as_bytes());
        hasher.update(&contents);
        hasher.update(mode.to_le_bytes());
    }
    let digest = hasher.finalize();
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("{}:{hex}", kind.repository())
}

/// What `images list` and `doctor` show for one image.
#[derive(Debug, Clone)]
pub struct ImageStatus {
    pub kind: ImageKind,
    pub base_present: bool,
    /// The tag the current inputs give, when the base image exists.
    pub tag: Option<String>,
    pub prepared_present: bool,
}

pub async fn status(engine: &Engine, kind: ImageKind) -> Result<ImageStatus, EngineError> {
    let Some(base_id) = engine.image_id(kind.base_image()).await? else {
        return Ok(ImageStatus { kind, base_present: false, tag: None, prepared_present: false });
    };
    let tag = tag_for(kind, &base_id);
    let prepared_present = engine.image_id(&tag).await?.is_some();
    Ok(ImageStatus { kind, base_present: true, tag: Some(tag), prepared_present })
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ImageError {
    #[error("base image {image} for the {what} is not on this machine")]
    #[diagnostic(code(sandbox::image::base_missing), help("{hint}"))]
    BaseMissing { image: String, what: String, hint: String },

    #[error("cannot build the target images: goss is missing from {path}")]
    #[diagnostic(
        code(sandbox::image::goss_missing),
        help("run `sudo scripts/setup.sh`: it fetches goss (and the libc it needs) from Debian's archive")
    )]
    GossMissing { path: String },

    #[error("cannot build the controller image: Mitogen's wheel {path} is missing")]
    #[diagnostic(
        code(sandbox::image::mitogen_missing),
        help("run `sudo scripts/setup.sh`: it downloads Mitogen's pinned wheel and checks its sha256")
    )]
    MitogenMissing { path: String },

    #[error(transparent)]
    #[diagnostic(transparent)]
    Engine(#[from] EngineError),
}

/// Returns the prepared image's tag, building it first when it does not exist yet.
pub async fn ensure(engine: &Engine, kind: ImageKind, reporter: &dyn Reporter) -> Result<String, ImageError> {
    let current = status(engine, kind).await?;
    let Some(tag) = current.tag else {
        let hint = if kind.base_image().starts_with("debian:") {
            "run `sudo scripts/setup.sh`: it builds the Debian base images with debootstrap".to_string()
        } else {
            format!("pull it where a registry is reachable: `docker pull {}`", kind.base_image())
        };
        return Err(ImageError::BaseMissing { image: kind.base_image().into(), what: kind.describe(), hint });
    };
    if !current.prepared_present {
        let files = kind.context();
        if files.iter().any(|(_, contents, _)| contents.is_empty()) {
            return Err(match kind {
                ImageKind::Target(_) => ImageError::GossMissing { path: GOSS_HOST_DIR.into() },
                ImageKind::Controller => ImageError::MitogenMissing { path: MITOGEN_WHEEL.into() },
            });
        }
        let entries: Vec<(&str, &[u8], u32)> =
            files.iter().map(|(name, contents, mode)| (*name, contents.as_slice(), *mode)).collect();
        let labels = HashMap::from([(labels::IMAGE.to_string(), kind.repository())]);
        reporter.step(&format!("building the {} (first use; cached afterwards)", kind.describe()));
        engine.build_image(&tag, tar_of(&entries), &labels, &mut |line| reporter.build_line(line)).await?;
        reporter.step_done(&format!("built {tag}"));
    }
    Ok(tag)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distro;

    #[test]
    fn tags_change_with_the_base_image_and_not_otherwise() {
        let kind = ImageKind::Target(distro::builtin("debian-12").unwrap());
        assert_eq!(tag_for(kind, "sha256:a"), tag_for(kind, "sha256:a"));
        assert_ne!(tag_for(kind, "sha256:a"), tag_for(kind, "sha256:b"));
        assert!(tag_for(kind, "sha256:a").starts_with("sandbox/target-debian-12:"));
    }

    #[test]
    fn target_dockerfile_installs_the_mock_everywhere_and_blocks_service_starts() {
        let dockerfile = target_dockerfile(distro::builtin("debian-13").unwrap());
        for location in MOCK_LOCATIONS {
            assert!(dockerfile.contains(&format!("cp {MOCK_MASTER} {location}")), "{location}");
        }
        assert!(dockerfile.contains("policy-rc.d"));
        // diverted unconditionally: systemd installed later must not replace the mock
        assert!(dockerfile.contains(
            "&& dpkg-divert --local --rename --add /bin/systemctl && dpkg-divert --local --rename --add /usr/bin/systemctl\n"
        ));
        assert!(dockerfile.contains("systemd-standalone-sysusers"));
        assert!(dockerfile.contains("ln -sf /bin/bash /usr/local/lib/sandbox/systemd"));
        assert!(dockerfile.contains("CMD [\"/usr/local/lib/sandbox/systemd\""));
        // journalctl only where the distro has none of its own
        assert!(dockerfile.contains("COPY journalctl /usr/local/lib/sandbox/journalctl"));
        assert!(dockerfile.contains("if [ ! -e /usr/bin/journalctl ]"));
        // goss runs through its own loader and libc: the target's glibc may be older
        assert!(dockerfile.contains("COPY goss-ld /opt/sandbox/goss/lib/ld-linux-x86-64.so.2\n"));
        assert!(GOSS_WRAPPER_SCRIPT.contains("--library-path /opt/sandbox/goss/lib /opt/sandbox/goss/goss \"$@\""));
    }

    #[test]
    fn the_init_starts_enabled_services_only_in_supervised_mode() {
        assert!(TARGET_INIT.contains(SERVICES_MODE_FILE));
        assert!(TARGET_INIT.contains("= supervised ]; then\n  systemctl sandbox-boot"));
    }
}
