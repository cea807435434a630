//! What travels between the hub task and the other tasks: [`HubInput`] into the hub task (sent
//! through a [`HubHandle`]), with the operator's [`HubOp`]s among them, and [`Outgoing`] frames
//! out to each websocket (browser connections and relay legs alike).
//!
//! A leaf: the glue (`super::connection`), the operator's requests (`super::lifecycle`) and the
//! relay websocket client (`crate::cdn::relay_socket`) all speak it, so it must not import any
//! of them.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::ws::Utf8Bytes;
use tokio::sync::{mpsc, oneshot, watch};

use super::hub::{
    ConnId, ConnectionInfo, HubHealth, HubMetrics, HubStats, StreamFilter, StreamInfo,
};
use crate::cdn::config::{NodeConfig, NodesDiff};
use crate::cdn::relay::{RelayConnId, RelayRoute};
use crate::hooks::{HookAnswer, HookCallId, HookMethod};

/// Something for the hub task.
#[derive(Debug)]
pub enum HubInput {
    /// A websocket was accepted; `out` receives its frames.
    Open {
        /// The new connection.
        conn: ConnId,
        /// The client's address.
        client: SocketAddr,
        /// Our listening address.
        server: SocketAddr,
        /// The connection's outgoing queue.
        out: mpsc::Sender<Outgoing>,
    },
    /// A text frame from the client.
    Text {
        /// The connection.
        conn: ConnId,
        /// The frame.
        text: Utf8Bytes,
    },
    /// A binary frame from the client (ignored).
    Binary {
        /// The connection.
        conn: ConnId,
    },
    /// The websocket is gone.
    Closed {
        /// The connection.
        conn: ConnId,
    },
    /// A request for the counters.
    Stats(oneshot::Sender<HubStats>),
    /// A request for what `/health` shows (counters, viewers, simulcast layers).
    Health(oneshot::Sender<HubHealth>),
    /// What `/metrics` shows of the hub.
    Metrics(oneshot::Sender<HubMetrics>),
    /// The live origin → edge relay legs, for `show_routes`.
    Routes(oneshot::Sender<Vec<RelayRoute>>),
    /// The streams a filter selects (REST `stream/find`, `stream/find_all`).
    FindStreams(StreamFilter, oneshot::Sender<Vec<StreamInfo>>),
    /// End the streams a filter selects; the reply lists them (REST `stream/terminate`).
    Terminate(StreamFilter, oneshot::Sender<Vec<StreamInfo>>),
    /// Every websocket connection (REST `connection/find_all`).
    Connections(oneshot::Sender<Vec<ConnectionInfo>>),
    /// A relay websocket to an edge opened.
    RelayOpened {
        /// The relay connection.
        conn: RelayConnId,
    },
    /// A text frame from an edge.
    RelayText {
        /// The relay connection.
        conn: RelayConnId,
        /// The frame.
        text: String,
    },
    /// A REST hook call finished.
    HookDone {
        /// The hub's id of a call it waits for (`None`: a notification).
        call: Option<HookCallId>,
        /// The method called.
        method: HookMethod,
        /// The verdict.
        answer: HookAnswer,
        /// How long the call took.
        took: std::time::Duration,
    },
    /// A relay websocket closed or could not be opened.
    RelayClosed {
        /// The relay connection.
        conn: RelayConnId,
    },
    /// An operator's request: reload the edges, drain, finish (SIGHUP, SIGTERM).
    Ops(HubOp),
}

/// Something for one websocket task.
#[derive(Debug)]
pub enum Outgoing {
    /// Write a text frame.
    Text(String),
    /// Close the websocket.
    Close,
    /// Close the websocket because its session was refused, with this reason.
    Refuse(String),
}

/// An operator's request to the hub task.
#[derive(Debug)]
pub enum HubOp {
    /// Relay to these edges from now on; the reply says what changed.
    ReloadNodes(Vec<NodeConfig>, oneshot::Sender<NodesDiff>),
    /// Start draining; the sender gets the number of busy sessions after every input.
    Drain(watch::Sender<usize>),
    /// End every session with a status; the reply (the number ended) comes once the statuses
    /// are queued to the sockets.
    Finish(oneshot::Sender<usize>),
}

/// Inputs the hub task's queue holds; a sender waits while it is full, so a websocket that
/// floods the hub stops being read (backpressure) instead of growing the queue.
pub const HUB_QUEUE: usize = 4096;

/// The hub task's input queue: bounded ([`HUB_QUEUE`]), so every sender waits its turn.
pub fn hub_queue() -> (mpsc::Sender<HubInput>, mpsc::Receiver<HubInput>) {
    mpsc::channel(HUB_QUEUE)
}

/// Cloneable access to the hub task.
#[derive(Clone, Debug)]
pub struct HubHandle {
    tx: mpsc::Sender<HubInput>,
    next_conn: Arc<AtomicU64>,
}

impl HubHandle {
    /// Wraps the hub task's input queue.
    pub fn new(tx: mpsc::Sender<HubInput>) -> Self {
        Self {
            tx,
            next_conn: Arc::new(AtomicU64::new(1)),
        }
    }

    /// Queues an input, waiting while the queue is full; false if the hub task has stopped.
    pub async fn send(&self, input: HubInput) -> bool {
        self.tx.send(input).await.is_ok()
    }

    /// The hub's counters, or `None` if the hub task has stopped.
    pub async fn stats(&self) -> Option<HubStats> {
        let (tx, rx) = oneshot::channel();
        if !self.send(HubInput::Stats(tx)).await {
            return None;
        }
        rx.await.ok()
    }

    /// What `/health` shows of the hub, or `None` if the hub task has stopped.
    pub async fn health(&self) -> Option<HubHealth> {
        let (tx, rx) = oneshot::channel();
        if !self.send(HubInput::Health(tx)).await {
            return None;
        }
        rx.await.ok()
    }

    /// What `/metrics` shows of the hub, or `None` if the hub task has stopped.
    pub async fn metrics(&self) -> Option<HubMetrics> {
        let (tx, rx) = oneshot::channel();
        if !self.send(HubInput::Metrics(tx)).await {
            return None;
        }
        rx.await.ok()
    }

    /// The live relay legs (`show_routes`), or `None` if the hub task has stopped.
    pub async fn relay_routes(&self) -> Option<Vec<RelayRoute>> {
        let (tx, rx) = oneshot::channel();
        if !self.send(HubInput::Routes(tx)).await {
            return None;
        }
        rx.await.ok()
    }

    /// The streams `filter` selects, or `None` if the hub task has stopped.
    pub async fn find_streams(&self, filter: StreamFilter) -> Option<Vec<StreamInfo>> {
        let (tx, rx) = oneshot::channel();
        if !self.send(HubInput::FindStreams(filter, tx)).await {
            return None;
        }
        rx.await.ok()
    }

    /// Ends the streams `filter` selects and returns them, or `None` if the hub task has
    /// stopped.
    pub async fn terminate(&self, filter: StreamFilter) -> Option<Vec<StreamInfo>> {
        let (tx, rx) = oneshot::channel();
        if !self.send(HubInput::Terminate(filter, tx)).await {
            return None;
        }
        rx.await.ok()
    }

    /// Every websocket connection, or `None` if the hub task has stopped.
    pub async fn connections(&self) -> Option<Vec<ConnectionInfo>> {
        let (tx, rx) = oneshot::channel();
        if !self.send(HubInput::Connections(tx)).await {
            return None;
        }
        rx.await.ok()
    }

    pub(crate) fn next_conn_id(&self) -> ConnId {
        ConnId(self.next_conn.fetch_add(1, Ordering::Relaxed))
    }
}
