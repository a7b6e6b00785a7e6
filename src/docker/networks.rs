//! Networks: created, joined and left, removed.

use std::collections::HashMap;

use bollard::models::{EndpointSettings, Ipam, IpamConfig, NetworkCreateRequest};
use miette::Diagnostic;
use sha2::{Digest, Sha256};

use super::{BollardError, Engine, EngineError};

#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum NetworkError {
    #[error("failed to create network {name}")]
    #[diagnostic(code(sandbox::engine::network))]
    CreateNetwork {
        name: String,
        #[source]
        source: BollardError,
    },

    #[error("failed to connect container {id} to network {network}")]
    #[diagnostic(code(sandbox::engine::connect_network))]
    ConnectNetwork {
        id: String,
        network: String,
        #[source]
        source: BollardError,
    },

    #[error("failed to disconnect container {id} from network {network}")]
    #[diagnostic(code(sandbox::engine::disconnect_network))]
    DisconnectNetwork {
        id: String,
        network: String,
        #[source]
        source: BollardError,
    },

    #[error("failed to list the networks labelled {label}")]
    #[diagnostic(code(sandbox::engine::list_networks))]
    ListNetworks {
        label: String,
        #[source]
        source: BollardError,
    },

    #[error("failed to inspect network {name}")]
    #[diagnostic(code(sandbox::engine::inspect_network))]
    InspectNetwork {
        name: String,
        #[source]
        source: BollardError,
    },

    #[error("failed to remove network {name}")]
    #[diagnostic(code(sandbox::engine::remove_network))]
    RemoveNetwork {
        name: String,
        #[source]
        source: BollardError,
    },
}

/// A network as listed: its labels, and when it was created (None if the daemon's time did
/// not parse).
#[derive(Debug, Clone)]
pub struct ListedNetwork {
    pub labels: HashMap<String, String>,
    pub created: Option<std::time::SystemTime>,
}

impl Engine {
    pub async fn create_network(
        &self,
        name: &str,
        internal: bool,
        labels: HashMap<String, String>,
    ) -> Result<(), EngineError> {
        let request = NetworkCreateRequest {
            name: name.to_string(),
            driver: Some("bridge".into()),
            internal: Some(internal),
            labels: Some(labels),
            ..Default::default()
        };
        self.create_network_as(request).await
    }

    async fn create_network_as(&self, request: NetworkCreateRequest) -> Result<(), EngineError> {
        let name = request.name.clone();
        self.docker.create_network(request).await.map_err(|source| NetworkError::CreateNetwork { name, source })?;
        Ok(())
    }

    /// An internal network whose only job is the IPv6 loopback of the containers on it.
    ///
    /// Docker disables IPv6 in every container none of whose networks has it, `::1` on `lo`
    /// included (`net.ipv6.conf.*.disable_ipv6 = 1` in its namespace). runc would honour a
    /// `--sysctl net.ipv6.conf.lo.disable_ipv6=0`, runsc ignores the OCI sysctls, and gVisor's
    /// hostinet lists the namespace's own addresses (netlink `RTM_GETADDR`): the only way to
    /// `::1` under gVisor is an endpoint on an IPv6 network. Internal, so no route leaves it,
    /// and its `/64` is a unique local one of its own, named by `name` (no two runs share it).
    /// Daemons configured for "all" protocols on `localhost` (postfix's default
    /// `inet_protocols = all`) need it.
    pub async fn create_loopback6_network(
        &self,
        name: &str,
        labels: HashMap<String, String>,
    ) -> Result<(), EngineError> {
        let request = NetworkCreateRequest {
            name: name.to_string(),
            driver: Some("bridge".into()),
            internal: Some(true),
            enable_ipv6: Some(true),
            ipam: Some(Ipam {
                config: Some(vec![IpamConfig { subnet: Some(unique_local_subnet(name)), ..Default::default() }]),
                ..Default::default()
            }),
            labels: Some(labels),
            ..Default::default()
        };
        self.create_network_as(request).await
    }

    pub async fn connect_network(&self, network: &str, id: &str, alias: &str) -> Result<(), EngineError> {
        let request = bollard::models::NetworkConnectRequest {
            container: id.to_string(),
            endpoint_config: Some(EndpointSettings { aliases: Some(vec![alias.to_string()]), ..Default::default() }),
        };
        let failed = |source| NetworkError::ConnectNetwork { id: id.to_string(), network: network.to_string(), source };
        Ok(self.docker.connect_network(network, request).await.map_err(failed)?)
    }

    pub async fn disconnect_network(&self, network: &str, id: &str) -> Result<(), EngineError> {
        let request = bollard::models::NetworkDisconnectRequest { container: id.to_string(), force: Some(true) };
        let failed =
            |source| NetworkError::DisconnectNetwork { id: id.to_string(), network: network.to_string(), source };
        Ok(self.docker.disconnect_network(network, request).await.map_err(failed)?)
    }

    pub async fn network_exists(&self, name: &str) -> Result<bool, EngineError> {
        match self.docker.inspect_network(name, None::<bollard::query_parameters::InspectNetworkOptions>).await {
            Ok(_) => Ok(true),
            Err(BollardError::DockerResponseServerError { status_code: 404, .. }) => Ok(false),
            Err(source) => Err(NetworkError::InspectNetwork { name: name.to_string(), source }.into()),
        }
    }

    /// Every network carrying `label` (`key` or `key=value`): its labels and creation time.
    pub async fn networks_labelled(&self, label: &str) -> Result<Vec<ListedNetwork>, EngineError> {
        let filters = HashMap::from([("label".to_string(), vec![label.to_string()])]);
        let options = bollard::query_parameters::ListNetworksOptionsBuilder::default().filters(&filters).build();
        let networks = self
            .docker
            .list_networks(Some(options))
            .await
            .map_err(|source| NetworkError::ListNetworks { label: label.to_string(), source })?;
        Ok(networks
            .into_iter()
            .map(|network| ListedNetwork {
                created: network.created.as_deref().and_then(|at| humantime::parse_rfc3339_weak(at).ok()),
                labels: network.labels.unwrap_or_default(),
            })
            .collect())
    }

    pub async fn remove_network(&self, name: &str) -> Result<(), EngineError> {
        match self.docker.remove_network(name).await {
            Ok(()) | Err(BollardError::DockerResponseServerError { status_code: 404, .. }) => Ok(()),
            Err(source) => Err(NetworkError::RemoveNetwork { name: name.to_string(), source }.into()),
        }
    }
}

/// A unique local IPv6 `/64` (RFC 4193: `fd` and 56 bits, here of the name's SHA-256): each
/// name its own, so networks of concurrent runs never overlap.
pub fn unique_local_subnet(name: &str) -> String {
    let digest = Sha256::digest(name.as_bytes());
    let groups: Vec<String> = (0..4)
        .map(|i| format!("{:x}", u16::from_be_bytes([if i == 0 { 0xfd } else { digest[2 * i - 1] }, digest[2 * i]])))
        .collect();
    format!("{}::/64", groups.join(":"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_network_name_gets_a_unique_local_slash_64_of_its_own() {
        let subnet = unique_local_subnet("sandbox-193423b624-lo6");
        assert!(subnet.starts_with("fd"), "{subnet}");
        assert!(subnet.ends_with("::/64"), "{subnet}");
        let net: std::net::Ipv6Addr = subnet.trim_end_matches("/64").parse().expect("an IPv6 address");
        assert_eq!(net.segments()[0] >> 8, 0xfd, "{subnet}");
        assert_eq!(net.segments()[4..], [0, 0, 0, 0], "{subnet}");
        assert_eq!(subnet, unique_local_subnet("sandbox-193423b624-lo6"), "the same name, the same subnet");
        assert_ne!(subnet, unique_local_subnet("sandbox-193423b625-lo6"));
    }
}
