//! The static CDN (WCS "CDN 1.0") on the control thread: `loadbalancing.xml`, the load
//! balancer that sends viewers to an edge, the `/?action=stat` page every node serves, the
//! poller that reads the edges' pages, and the origin → edge relay legs ([`relay`],
//! [`relay_socket`]; the hub drives them and lists them for `show_routes`).
//!
//! Owns the origin's view of its edges (also shown in `/health`'s `edges`). The balancer side must not touch media or signalling
//! state; HTTP reaches it through [`CdnHandle`].

pub mod balancer;
pub mod config;
pub mod poller;
pub mod relay;
pub mod relay_socket;
pub mod stats;

use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use crate::counters::BalancerCounters;
use balancer::EdgeStatus;

/// The WCS RTMP port the balancer's answer carries in `flash` (only Flash clients use it).
pub const FLASH_PORT: u16 = 1935;

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
    /// Every edge as the balancer sees it now (for `/health`).
    Edges(oneshot::Sender<Vec<EdgeStatus>>),
    /// `loadbalancing.xml` was read again (SIGHUP).
    Reload(config::LoadBalancingConfig),
}

/// A cheap, cloneable handle to the CDN task on the control thread. Every method is a no-op
/// (or answers `None`) once the task has stopped.
#[derive(Clone, Debug)]
pub struct CdnHandle {
    tx: mpsc::UnboundedSender<CdnInput>,
    counters: BalancerCounters,
}

impl CdnHandle {
    pub(crate) fn new(tx: mpsc::UnboundedSender<CdnInput>) -> Self {
        Self {
            tx,
            counters: BalancerCounters::default(),
        }
    }

    /// The edge for a new viewer: `Some(None)` when no edge is up, `None` when the task is gone.
    pub async fn balance(&self) -> Option<Option<Choice>> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(CdnInput::Balance(tx)).ok()?;
        let choice = rx.await.ok()?;
        self.counters.decided(choice.is_some());
        Some(choice)
    }

    /// Every configured edge with its reachability and last load figures, in file order;
    /// `None` when the task is gone.
    pub async fn edges(&self) -> Option<Vec<EdgeStatus>> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(CdnInput::Edges(tx)).ok()?;
        rx.await.ok()
    }

    /// Balances over the nodes of a re-read `loadbalancing.xml` from now on; false when the
    /// task is gone.
    pub fn reload(&self, cfg: config::LoadBalancingConfig) -> bool {
        self.tx.send(CdnInput::Reload(cfg)).is_ok()
    }

    /// The balancer's answers so far, for `/metrics`.
    pub fn counters(&self) -> &BalancerCounters {
        &self.counters
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
