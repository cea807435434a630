//! The static CDN (WCS "CDN 1.0") on the control thread: `loadbalancing.xml`, the load
//! balancer that sends viewers to an edge, the `/?action=stat` page every node serves, the
//! poller that reads the edges' pages, and the registry of relayed streams (routes).
//!
//! Owns the origin's view of its edges. It must not touch media or signalling state: the
//! relay (origin → edge legs) reports its routes here through [`CdnHandle`], and HTTP asks
//! through the same handle.

pub mod balancer;
pub mod config;
pub mod poller;
pub mod stats;

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use tokio::sync::{mpsc, oneshot};

use self::config::NodeConfig;

/// The WCS RTMP port the balancer's answer carries in `flash` (only Flash clients use it).
pub const FLASH_PORT: u16 = 1935;

/// Which stream is relayed to which node, as WCS `/rest-api/cdn/show_routes` lists it:
/// route id `<nodeId>-<ip>-<streamName>` → stream name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Routes {
    map: BTreeMap<String, String>,
}

impl Routes {
    /// The route id of `stream` relayed to `node`.
    pub fn route_id(node: &NodeConfig, stream: &str) -> String {
        format!("{}-{}-{}", node.id, node.host, stream)
    }

    /// Records that `stream` is relayed to `node`; returns the route id.
    pub fn insert(&mut self, node: &NodeConfig, stream: &str) -> String {
        let id = Self::route_id(node, stream);
        self.map.insert(id.clone(), stream.to_string());
        id
    }

    /// Forgets the route of `stream` to `node`; `false` if there was none.
    pub fn remove(&mut self, node: &NodeConfig, stream: &str) -> bool {
        self.map.remove(&Self::route_id(node, stream)).is_some()
    }

    /// Number of routes.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no stream is relayed.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// `(route id, stream name)` pairs, ordered by route id.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.map.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The `show_routes` JSON object.
    pub fn to_json(&self) -> Value {
        Value::Object(
            self.map
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect::<Map<_, _>>(),
        )
    }
}

/// The edge the balancer chose for a viewer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Choice {
    /// Host for the viewer's websocket URL (IPv6 literals in brackets).
    pub server: String,
    /// Websocket port.
    pub ws: u16,
    /// Secure websocket port.
    pub wss: u16,
}

impl Choice {
    /// The answer the Web SDK's `lbUrl` request expects.
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "server": self.server,
            "ws": self.ws,
            "wss": self.wss,
            "flash": FLASH_PORT,
        })
    }
}

/// Requests to the CDN task (see [`poller::spawn`]).
#[derive(Debug)]
pub(crate) enum CdnInput {
    /// Choose an edge for a new viewer (`None`: no edge is up).
    Balance(oneshot::Sender<Option<Choice>>),
    /// The `show_routes` listing.
    Routes(oneshot::Sender<Value>),
    /// A stream is now relayed to a node.
    RouteUp { node_id: String, stream: String },
    /// A stream is no longer relayed to a node.
    RouteDown { node_id: String, stream: String },
}

/// A cheap, cloneable handle to the CDN task on the control thread. Every method is a no-op
/// (or answers `None`) once the task has stopped.
#[derive(Clone, Debug)]
pub struct CdnHandle {
    tx: mpsc::UnboundedSender<CdnInput>,
}

impl CdnHandle {
    pub(crate) fn new(tx: mpsc::UnboundedSender<CdnInput>) -> Self {
        Self { tx }
    }

    /// The edge for a new viewer: `Some(None)` when no edge is up, `None` when the task is gone.
    pub async fn balance(&self) -> Option<Option<Choice>> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(CdnInput::Balance(tx)).ok()?;
        rx.await.ok()
    }

    /// The `show_routes` JSON object, or `None` when the task is gone.
    pub async fn routes(&self) -> Option<Value> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(CdnInput::Routes(tx)).ok()?;
        rx.await.ok()
    }

    /// For the relay: `stream` is now relayed to node `node_id` (an id of `loadbalancing.xml`).
    pub fn route_up(&self, node_id: &str, stream: &str) {
        let _ = self.tx.send(CdnInput::RouteUp {
            node_id: node_id.to_string(),
            stream: stream.to_string(),
        });
    }

    /// For the relay: `stream` is no longer relayed to node `node_id`.
    pub fn route_down(&self, node_id: &str, stream: &str) {
        let _ = self.tx.send(CdnInput::RouteDown {
            node_id: node_id.to_string(),
            stream: stream.to_string(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str, host: &str) -> NodeConfig {
        NodeConfig {
            id: id.into(),
            host: host.into(),
            ws: 8080,
            wss: 8443,
            http: 8080,
            line: 1,
        }
    }

    #[test]
    fn routes_are_keyed_by_node_host_and_stream() {
        let mut routes = Routes::default();
        let a = node("1", "edge1.example");
        let b = node("2", "10.0.0.2");
        assert_eq!(routes.insert(&a, "cam"), "1-edge1.example-cam");
        routes.insert(&b, "cam");
        routes.insert(&b, "cam");
        assert_eq!(routes.len(), 2);
        assert_eq!(
            routes.to_json(),
            serde_json::json!({"1-edge1.example-cam": "cam", "2-10.0.0.2-cam": "cam"})
        );
        assert!(routes.remove(&a, "cam"));
        assert!(!routes.remove(&a, "cam"));
        assert_eq!(
            routes.iter().collect::<Vec<_>>(),
            [("2-10.0.0.2-cam", "cam")]
        );
        routes.remove(&b, "cam");
        assert!(routes.is_empty());
        assert_eq!(routes.to_json(), serde_json::json!({}));
    }

    #[test]
    fn choice_json_is_what_the_sdk_reads() {
        let c = Choice {
            server: "[::1]".into(),
            ws: 8080,
            wss: 8443,
        };
        assert_eq!(
            c.to_json(),
            serde_json::json!({"server": "[::1]", "ws": 8080, "wss": 8443, "flash": 1935})
        );
    }
}
