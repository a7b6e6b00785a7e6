//! `[prepare]`: the packages a challenge's image layer holds ready (downloaded, not installed),
//! for every family or per package manager.

use serde::Deserialize;
use toml::Spanned;

use super::error::ChallengeError;
use super::parsed::Parsed;
use crate::distro::Family;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPrepare {
    /// A list for every family, or a table of lists per family (`apt`, `dnf`, `apk`); kept as
    /// a raw value so both shapes keep their spans for diagnostics.
    pub(super) packages: Option<Spanned<toml::Value>>,
}

/// Packages baked into a per-challenge image layer, downloaded but not installed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Prepare {
    /// Packages for every family, unless the family has its own list.
    pub common: Vec<String>,
    /// Per package manager (`apt`, `dnf`, `apk`).
    pub per_family: Vec<(Family, Vec<String>)>,
}

impl Prepare {
    /// The packages to prepare for `family` (empty: no layer).
    pub fn packages_for(&self, family: Family) -> &[String] {
        self.per_family.iter().find(|(f, _)| *f == family).map_or(&self.common, |(_, list)| list)
    }
}

impl Parsed {
    /// `packages = ["nginx"]` or `[prepare.packages] apt = [...] dnf = [...]`.
    pub(super) fn prepare_packages(&self, value: &Spanned<toml::Value>) -> Result<Prepare, ChallengeError> {
        let invalid = |message: &str| self.invalid("packages", message, value.span());
        let names = |list: &toml::Value| -> Result<Vec<String>, ChallengeError> {
            let items = list.as_array().ok_or_else(|| invalid("expected a list of package names"))?;
            items
                .iter()
                .map(|item| match item.as_str() {
                    // Names go into a shell command at image build: only what package names use.
                    Some(name) if is_package_name(name) => Ok(name.to_string()),
                    _ => Err(invalid(&format!("`{item}` is not a package name"))),
                })
                .collect()
        };
        match value.get_ref() {
            toml::Value::Array(_) => Ok(Prepare { common: names(value.get_ref())?, per_family: Vec::new() }),
            toml::Value::Table(table) => {
                let mut per_family = Vec::new();
                for (manager, list) in table {
                    let family = Family::from_package_manager(manager).ok_or_else(|| {
                        invalid(&format!("unknown package manager `{manager}`: expected apt, dnf or apk"))
                    })?;
                    per_family.push((family, names(list)?));
                }
                Ok(Prepare { common: Vec::new(), per_family })
            }
            _ => Err(invalid("expected a list of package names, or a table of lists per package manager")),
        }
    }
}

/// Package names as Debian, Fedora and Alpine spell them (`libstdc++6`, `php8.2-fpm`).
fn is_package_name(name: &str) -> bool {
    !name.is_empty()
        && name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "+-._".contains(c))
}
