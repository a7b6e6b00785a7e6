//! The distro catalog: the only images sandbox will ever start.
//!
//! A challenge names distros by catalog name (`debian-12`); anything else is rejected before
//! Docker is touched. Each row carries what bootstrap needs to turn the distro's base image
//! into a prepared target, and what the between-pass cleanup must know about its package
//! manager.

use std::fmt;

/// Package-manager family of a distro; also an inventory group (`family_debian`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Debian,
    RedHat,
    Alpine,
}

impl Family {
    /// The inventory group holding every host of this family.
    /// `apt`, `dnf` or `apk`: how `[prepare.packages]` names a family.
    pub fn package_manager(self) -> &'static str {
        match self {
            Family::Debian => "apt",
            Family::RedHat => "dnf",
            Family::Alpine => "apk",
        }
    }

    pub fn from_package_manager(name: &str) -> Option<Family> {
        [Family::Debian, Family::RedHat, Family::Alpine].into_iter().find(|f| f.package_manager() == name)
    }

    pub fn group(self) -> &'static str {
        match self {
            Family::Debian => "family_debian",
            Family::RedHat => "family_redhat",
            Family::Alpine => "family_alpine",
        }
    }

    /// Package-manager processes that may be left holding a lock after pass 1.
    pub fn package_manager_processes(self) -> &'static [&'static str] {
        match self {
            Family::Debian => &["apt", "apt-get", "dpkg", "unattended-upgr"],
            Family::RedHat => &["dnf", "yum", "rpm"],
            Family::Alpine => &["apk"],
        }
    }

    /// Lock files those processes leave behind when killed.
    pub fn lock_files(self) -> &'static [&'static str] {
        match self {
            Family::Debian => &[
                "/var/lib/dpkg/lock",
                "/var/lib/dpkg/lock-frontend",
                "/var/lib/apt/lists/lock",
                "/var/cache/apt/archives/lock",
            ],
            Family::RedHat => &["/var/run/dnf.pid", "/var/run/yum.pid", "/var/lib/rpm/.rpm.lock"],
            Family::Alpine => &["/lib/apk/db/lock"],
        }
    }
}

/// One supported distro.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Distro {
    /// Catalog name, also the inventory host name: `debian-12`.
    pub name: &'static str,
    /// Image reference a registry would use; setup.sh builds the Debian ones locally.
    pub base_image: &'static str,
    pub family: Family,
    /// Shell commands (one RUN) that install python3, sshd and ps on the base image.
    pub install_bootstrap_packages: &'static str,
}

impl fmt::Display for Distro {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

impl Distro {
    /// Ansible group for this distro: `debian-12` → `debian_12`.
    pub fn group(&self) -> String {
        self.name.replace(['-', '.'], "_")
    }
}

// Debian base images made by debootstrap have no sources.list entry for security updates and
// may have none at all: write the main archive so `apt-get update` works offline of a registry.
const APT_BOOTSTRAP_12: &str = "echo 'deb http://deb.debian.org/debian bookworm main' > /etc/apt/sources.list \
 && apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3 python3-apt openssh-server procps";

const APT_BOOTSTRAP_11: &str = "echo 'deb http://deb.debian.org/debian bullseye main' > /etc/apt/sources.list \
 && apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3 python3-apt openssh-server procps";

// Debian 13's openssh-server depends on `systemd | systemd-sysusers`; installing the
// standalone sysusers first keeps the real systemd (and its systemctl) out of the image.
const APT_BOOTSTRAP_13: &str = "echo 'deb http://deb.debian.org/debian trixie main' > /etc/apt/sources.list \
 && apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends systemd-standalone-sysusers \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3 python3-apt openssh-server procps";

const UBUNTU_BOOTSTRAP: &str = "apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3 python3-apt openssh-server procps";

const DNF_BOOTSTRAP: &str = "dnf install -y -q python3 openssh-server procps-ng && dnf clean all";

const APK_BOOTSTRAP: &str = "apk add --no-cache python3 openssh-server procps bash";

/// The built-in catalog. Order is the order platforms are reported in.
pub const CATALOG: &[Distro] = &[
    Distro {
        name: "debian-11",
        base_image: "debian:11",
        family: Family::Debian,
        install_bootstrap_packages: APT_BOOTSTRAP_11,
    },
    Distro {
        name: "debian-12",
        base_image: "debian:12",
        family: Family::Debian,
        install_bootstrap_packages: APT_BOOTSTRAP_12,
    },
    Distro {
        name: "debian-13",
        base_image: "debian:13",
        family: Family::Debian,
        install_bootstrap_packages: APT_BOOTSTRAP_13,
    },
    Distro {
        name: "ubuntu-22.04",
        base_image: "ubuntu:22.04",
        family: Family::Debian,
        install_bootstrap_packages: UBUNTU_BOOTSTRAP,
    },
    Distro {
        name: "ubuntu-24.04",
        base_image: "ubuntu:24.04",
        family: Family::Debian,
        install_bootstrap_packages: UBUNTU_BOOTSTRAP,
    },
    Distro {
        name: "rocky-9",
        base_image: "rockylinux:9",
        family: Family::RedHat,
        install_bootstrap_packages: DNF_BOOTSTRAP,
    },
    Distro {
        name: "alpine-3.20",
        base_image: "alpine:3.20",
        family: Family::Alpine,
        install_bootstrap_packages: APK_BOOTSTRAP,
    },
];

/// The distros a process may start: the built-in ones and those the operator's config adds.
/// A value, not a global, so two configurations can live in one process (tests do).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalog {
    extra: Vec<&'static Distro>,
}

impl Catalog {
    /// The built-in catalog alone.
    pub fn builtin() -> Catalog {
        Catalog::default()
    }

    /// The built-in catalog followed by `extra`. Rows are handed out as `&'static Distro`
    /// (a run's state holds them); a config is read once per process, so they are leaked.
    pub fn with_extra(extra: Vec<Distro>) -> Catalog {
        Catalog { extra: extra.into_iter().map(|d| &*Box::leak(Box::new(d))).collect() }
    }

    pub fn all(&self) -> impl Iterator<Item = &'static Distro> + '_ {
        CATALOG.iter().chain(self.extra.iter().copied())
    }

    /// Looks a distro up by catalog name.
    pub fn find(&self, name: &str) -> Option<&'static Distro> {
        self.all().find(|d| d.name == name)
    }

    /// Catalog names, for diagnostics and completions.
    pub fn names(&self) -> Vec<&'static str> {
        self.all().map(|d| d.name).collect()
    }
}

/// A built-in distro by name (for tests and defaults).
pub fn builtin(name: &str) -> Option<&'static Distro> {
    CATALOG.iter().find(|d| d.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_replace_dashes_and_dots() {
        assert_eq!(builtin("ubuntu-22.04").unwrap().group(), "ubuntu_22_04");
        assert_eq!(builtin("debian-12").unwrap().group(), "debian_12");
    }

    #[test]
    fn catalog_names_are_unique_and_lookup_rejects_unknown() {
        let catalog = Catalog::builtin();
        let mut names = catalog.names();
        names.dedup();
        assert_eq!(names.len(), CATALOG.len());
        assert!(catalog.find("debian:12").is_none());
        assert!(catalog.find("fedora-40").is_none());
    }

    #[test]
    fn every_debian_row_installs_python_and_sshd() {
        for distro in CATALOG {
            assert!(distro.install_bootstrap_packages.contains("python3"), "{distro}");
            assert!(distro.install_bootstrap_packages.contains("openssh-server"), "{distro}");
        }
    }
}
