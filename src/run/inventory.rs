//! The Ansible inventory of a run: host name = catalog name, one group per distro and one per
//! package family, so a playbook can say `hosts: debian_12` or `when: "'family_debian' in group_names"`.

use crate::distro::{Distro, Family};

/// A target as the controller reaches it.
#[derive(Debug, Clone)]
pub struct InventoryHost {
    pub distro: &'static Distro,
    pub address: String,
}

/// Renders an INI inventory.
pub fn render(hosts: &[InventoryHost]) -> String {
    let mut out = String::new();
    for host in hosts {
        out.push_str(&format!("[{}]\n", host.distro.group()));
        out.push_str(&format!(
            "{} ansible_host={} ansible_user=root ansible_python_interpreter=/usr/bin/python3\n\n",
            host.distro.name, host.address
        ));
    }
    for family in [Family::Debian, Family::RedHat, Family::Alpine] {
        let members: Vec<_> = hosts.iter().filter(|h| h.distro.family == family).collect();
        if members.is_empty() {
            continue;
        }
        out.push_str(&format!("[{}:children]\n", family.group()));
        for host in members {
            out.push_str(&format!("{}\n", host.distro.group()));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distro::builtin as find;

    #[test]
    fn groups_per_distro_and_family() {
        let hosts = [
            InventoryHost { distro: find("debian-12").unwrap(), address: "10.0.0.2".into() },
            InventoryHost { distro: find("ubuntu-22.04").unwrap(), address: "10.0.0.3".into() },
            InventoryHost { distro: find("rocky-9").unwrap(), address: "10.0.0.4".into() },
        ];
        let ini = render(&hosts);
        assert!(ini.contains("[debian_12]\ndebian-12 ansible_host=10.0.0.2 ansible_user=root"));
        assert!(ini.contains("[ubuntu_22_04]\nubuntu-22.04 ansible_host=10.0.0.3"));
        assert!(ini.contains("[family_debian:children]\ndebian_12\nubuntu_22_04\n"));
        assert!(ini.contains("[family_redhat:children]\nrocky_9\n"));
        assert!(!ini.contains("family_alpine"));
    }
}
