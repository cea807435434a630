//! What travels between the hub task and the websocket tasks: [`HubInput`] into the hub task,
//! [`Outgoing`] frames out to each websocket (browser connections and relay legs alike).
//!
//! A leaf: the glue ([`super::connection`]) and the relay websocket client
//! (`crate::cdn::relay_socket`) both speak it, so it must not import either of them.

use axum::extract::ws::Utf8Bytes;
use std::net::SocketAddr;
use tokio::sync::{mpsc, oneshot};

use super::hub::{
    ConnId, ConnectionInfo, HubHealth, HubMetrics, HubStats, StreamFilter, StreamInfo,
};
use super::lifecycle::HubOp;
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
