//! Networks: created, joined and left, removed.

use std::collections::HashMap;

use bollard::models::{EndpointSettings, NetworkCreateRequest};
use miette::Diagnostic;

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
        self.docker
            .create_network(request)
            .await
            .map_err(|source| NetworkError::CreateNetwork { name: name.to_string(), source })?;
        Ok(())
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

    /// The labels of every network carrying `label` (`key` or `key=value`).
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
