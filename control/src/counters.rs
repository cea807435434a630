//! The live counters the control plane updates as things happen: [`HubCounters`] (signalling
//! connections, handshakes, REST hook calls; kept by the hub), [`BalancerCounters`] (the
//! balancer's answers; kept by the CDN handle) and [`WhipCounters`] (the WHIP/WHEP endpoints'
//! answers). They are `prometheus-client` atomics behind an
//! `Arc`: a clone shares them, and a scrape (`crate::metrics`) registers clones.
//!
//! A leaf: the hub, the CDN task and the metrics endpoint build on it; it imports none of them.

use std::time::Duration;

use dataplane::api::CloseReason;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;

use crate::hooks::{HookAnswer, HookMethod};

/// Upper bounds of the handshake duration buckets, in seconds (ICE plus DTLS: tens of
/// milliseconds on a LAN, up to the ICE timeout on a path that never works).
pub(crate) const HANDSHAKE_BUCKETS: [f64; 10] =
    [0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];
/// Upper bounds of the REST hook call duration buckets, in seconds (a local backend answers in
/// milliseconds; the default timeout is 3 s).
pub(crate) const HOOK_BUCKETS: [f64; 9] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 3.0];

/// One label.
pub(crate) type Label = (&'static str, &'static str);
/// A label set of one `reason` or `result`.
pub(crate) type OneLabel = [Label; 1];
/// The `method` and `result` labels of a hook call.
pub(crate) type MethodResult = [Label; 2];
/// Hook call durations by `method`.
pub(crate) type HookDurations = Family<OneLabel, Histogram, fn() -> Histogram>;

/// What the hub counts as it goes; cloning shares the counters (they are atomics behind an
/// `Arc`), so a scrape registers clones.
#[derive(Clone, Debug)]
pub struct HubCounters {
    pub(crate) connections_opened: Counter,
    pub(crate) handshakes_started: Counter,
    pub(crate) handshakes_completed: Counter,
    pub(crate) handshake_failures: Family<OneLabel, Counter>,
    pub(crate) handshake_duration: Histogram,
    pub(crate) hook_calls: Family<MethodResult, Counter>,
    pub(crate) hook_duration: HookDurations,
}

impl Default for HubCounters {
    fn default() -> Self {
        Self {
            hook_calls: Family::default(),
            hook_duration: Family::new_with_constructor(|| Histogram::new(HOOK_BUCKETS)),
            connections_opened: Counter::default(),
            handshakes_started: Counter::default(),
            handshakes_completed: Counter::default(),
            handshake_failures: Family::default(),
            handshake_duration: Histogram::new(HANDSHAKE_BUCKETS),
        }
    }
}

impl HubCounters {
    /// A REST hook call of `method` ended with `answer` after `took`.
    pub fn hook_called(&self, method: HookMethod, answer: &HookAnswer, took: Duration) {
        let result = match answer {
            HookAnswer::Allowed(_) => "allowed",
            HookAnswer::Refused { .. } => "refused",
            HookAnswer::Unavailable(_) => "unavailable",
        };
        let method = method.as_str();
        self.hook_calls
            .get_or_create(&[("method", method), ("result", result)])
            .inc();
        self.hook_duration
            .get_or_create(&[("method", method)])
            .observe(took.as_secs_f64());
    }

    /// A signalling websocket was accepted.
    pub fn connection_opened(&self) {
        self.connections_opened.inc();
    }

    /// A peer was added on a worker for a publish or play: its ICE and DTLS begin.
    pub fn handshake_started(&self) {
        self.handshakes_started.inc();
    }

    /// A peer connected (ICE and DTLS done) `took` after it was added.
    pub fn handshake_completed(&self, took: Duration) {
        self.handshakes_completed.inc();
        self.handshake_duration.observe(took.as_secs_f64());
    }

    /// A peer that had not connected yet was closed by its worker for `reason`.
    pub fn handshake_failed(&self, reason: CloseReason) {
        self.handshake_failures
            .get_or_create(&[("reason", close_reason(reason))])
            .inc();
    }

    /// A session ended (its client stopped or left, or its publisher did) before its peer
    /// connected.
    pub fn handshake_abandoned(&self) {
        self.handshake_failures
            .get_or_create(&[("reason", "abandoned")])
            .inc();
    }
}

/// The `reason` label of a handshake the worker ended.
fn close_reason(reason: CloseReason) -> &'static str {
    match reason {
        CloseReason::IceTimeout => "ice_timeout",
        CloseReason::ConsentExpired => "consent_expired",
        CloseReason::DtlsError => "dtls_error",
        CloseReason::DtlsTimeout => "dtls_timeout",
        CloseReason::DtlsFingerprint => "dtls_fingerprint",
        CloseReason::PeerClosed => "peer_closed",
        CloseReason::Refused => "refused",
    }
}

/// The `protocol`, `method` and `status` labels of a WHIP/WHEP answer.
pub(crate) type WhipAnswer = [Label; 3];

/// The WHIP/WHEP endpoints' answers (`protocol` `whip`/`whep`, `method`, `status` code).
#[derive(Clone, Debug, Default)]
pub struct WhipCounters {
    pub(crate) answers: Family<WhipAnswer, Counter>,
}

impl WhipCounters {
    /// An answer with `status` to a `method` request of `protocol`.
    pub fn answered(&self, protocol: &'static str, method: &'static str, status: u16) {
        self.answers
            .get_or_create(&[
                ("protocol", protocol),
                ("method", method),
                ("status", status_label(status)),
            ])
            .inc();
    }
}

/// The status codes the endpoints answer, as static labels (others are `other`).
fn status_label(status: u16) -> &'static str {
    const KNOWN: [(u16, &str); 17] = [
        (200, "200"),
        (201, "201"),
        (204, "204"),
        (307, "307"),
        (400, "400"),
        (401, "401"),
        (403, "403"),
        (404, "404"),
        (405, "405"),
        (406, "406"),
        (409, "409"),
        (412, "412"),
        (413, "413"),
        (415, "415"),
        (422, "422"),
        (500, "500"),
        (503, "503"),
    ];
    KNOWN
        .iter()
        .find(|(code, _)| *code == status)
        .map_or("other", |(_, label)| label)
}

/// The balancer's answers on an origin (`result`: `edge` or `no_edge`).
#[derive(Clone, Debug, Default)]
pub struct BalancerCounters {
    pub(crate) decisions: Family<OneLabel, Counter>,
}

impl BalancerCounters {
    /// The balancer answered a viewer: with an edge, or with none up.
    pub fn decided(&self, found: bool) {
        let result = if found { "edge" } else { "no_edge" };
        self.decisions.get_or_create(&[("result", result)]).inc();
    }
}
