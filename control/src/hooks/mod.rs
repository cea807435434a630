//! Authorization and notification through WCS REST hooks: for each client call the node POSTs
//! a JSON object to the operator's backend at `<rest_hook_url>/<method>` (`connect`,
//! `publishStream`, `playStream`, `stopStream`, `unPublishStream`, and the status events
//! `ConnectionStatusEvent`, `StreamStatusEvent`), as WCS does.
//!
//! The hub decides *when* to call and what a verdict means for the client (it is sans-IO: it
//! emits a [`HookRequest`] and is later fed the [`HookAnswer`]); this module owns what a call
//! and an answer are ([`answer`]: how an HTTP status and body become a verdict, the backend's
//! `restClientConfig`) and the HTTP client that performs the calls ([`client`]). It must not
//! touch signalling state.

pub mod answer;
pub mod client;

pub use answer::{read_answer, HookAnswer, OnError, RestClientConfig};
pub use client::{HookClient, HookError};

use serde_json::Value;

/// A REST hook method: the last path segment of the URL the backend receives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HookMethod {
    /// A client's `connection` (decides whether the session is established).
    Connect,
    /// A client's `publishStream` (decides whether the publish goes ahead).
    PublishStream,
    /// A client's `playStream` (decides whether the play goes ahead).
    PlayStream,
    /// A client's `stopStream` (a notification: a stop is never refused).
    StopStream,
    /// A client's `unPublishStream` (a notification).
    UnPublishStream,
    /// A session's status changed (ESTABLISHED, DISCONNECTED).
    ConnectionStatusEvent,
    /// A stream's status changed (PUBLISHING, PLAYING, UNPUBLISHED, STOPPED, FAILED).
    StreamStatusEvent,
}

impl HookMethod {
    /// Every method, for metrics and documentation.
    pub const ALL: [HookMethod; 7] = [
        HookMethod::Connect,
        HookMethod::PublishStream,
        HookMethod::PlayStream,
        HookMethod::StopStream,
        HookMethod::UnPublishStream,
        HookMethod::ConnectionStatusEvent,
        HookMethod::StreamStatusEvent,
    ];

    /// The name WCS uses (and the URL path segment).
    pub fn as_str(self) -> &'static str {
        match self {
            HookMethod::Connect => "connect",
            HookMethod::PublishStream => "publishStream",
            HookMethod::PlayStream => "playStream",
            HookMethod::StopStream => "stopStream",
            HookMethod::UnPublishStream => "unPublishStream",
            HookMethod::ConnectionStatusEvent => "ConnectionStatusEvent",
            HookMethod::StreamStatusEvent => "StreamStatusEvent",
        }
    }
}

/// One call for the glue to make. With a `call` id the hub waits for the answer (fed back
/// with that id); without, it is a notification whose answer is only logged.
#[derive(Clone, Debug, PartialEq)]
pub struct HookRequest {
    /// The hub's id of a call it waits for.
    pub call: Option<HookCallId>,
    /// Which method.
    pub method: HookMethod,
    /// The JSON object POSTed.
    pub body: Value,
}

/// The hub's id of a pending authorization call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HookCallId(pub u64);
