//! The hub task's side of the operator's signals: a re-read node list for the relay legs
//! (SIGHUP), the start of a drain and its end (SIGTERM), as [`HubOp`]s through the hub's input
//! queue, with the async calls the process lifecycle (`crate::lifecycle`) uses.
//!
//! Owns the replies only (the number of busy sessions after every input while draining, the
//! answer to a finish once its statuses are queued to the sockets); the decisions are the
//! sans-IO [`Hub`]'s.

use std::time::Instant;

use tokio::sync::{oneshot, watch};

use super::hub::Hub;
use super::queue::{HubHandle, HubInput, HubOp};
use crate::cdn::config::{NodeConfig, NodesDiff};

/// What the hub task keeps between inputs for the [`HubOp`]s.
#[derive(Debug, Default)]
pub(super) struct HubOps {
    busy: Option<watch::Sender<usize>>,
    finished: Option<(oneshot::Sender<usize>, usize)>,
}

impl HubOps {
    /// Applies `op` to the hub.
    pub(super) fn handle(&mut self, hub: &mut Hub, op: HubOp) {
        let now = Instant::now();
        match op {
            HubOp::ReloadNodes(nodes, reply) => {
                let _ = reply.send(hub.reload_nodes(now, &nodes));
            }
            HubOp::Drain(busy) => {
                hub.start_drain(now);
                self.busy = Some(busy);
            }
            HubOp::Finish(reply) => {
                let ended = hub.finish_drain(now);
                self.finished = Some((reply, ended));
            }
        }
    }

    /// Called after every input, once the hub's output is delivered: the busy count while
    /// draining, and the answer to a finish.
    pub(super) fn after_input(&mut self, hub: &Hub) {
        if let Some(busy) = &self.busy {
            let now = hub.busy_sessions();
            busy.send_if_modified(|n| std::mem::replace(n, now) != now);
        }
        if let Some((reply, ended)) = self.finished.take() {
            let _ = reply.send(ended);
        }
    }
}

/// Relays to `nodes` from now on; `None` when the hub task is gone.
pub async fn reload_nodes(hub: &HubHandle, nodes: Vec<NodeConfig>) -> Option<NodesDiff> {
    let (tx, rx) = oneshot::channel();
    if !hub.send(HubInput::Ops(HubOp::ReloadNodes(nodes, tx))).await {
        return None;
    }
    rx.await.ok()
}

/// Starts draining; the receiver follows the number of busy sessions (`usize::MAX` until the
/// hub counted them). `None` when the hub task is gone.
pub async fn drain(hub: &HubHandle) -> Option<watch::Receiver<usize>> {
    let (tx, rx) = watch::channel(usize::MAX);
    hub.send(HubInput::Ops(HubOp::Drain(tx)))
        .await
        .then_some(rx)
}

/// Ends every session with a status; the number ended once the statuses are queued, `None`
/// when the hub task is gone.
pub async fn finish(hub: &HubHandle) -> Option<usize> {
    let (tx, rx) = oneshot::channel();
    if !hub.send(HubInput::Ops(HubOp::Finish(tx))).await {
        return None;
    }
    rx.await.ok()
}
