//! `GET /metrics`: the node's counters in the Prometheus text format (version 0.0.4), written
//! by the `prometheus-client` crate.
//!
//! Two kinds of values: live counters the control plane updates as things happen
//! (`crate::counters`: the hub's signalling connections, handshakes and REST hook calls; the
//! CDN handle's balancer answers), shared atomics that a scrape only reads; and
//! values read at scrape time (the hub's gauges, each worker's [`WorkerStats`] as last
//! published). A scrape builds a fresh registry from both and encodes it; nothing here runs on
//! a worker thread. Owns the metric names, labels and help texts; serving them over HTTP is
//! `crate::http`'s.

use dataplane::WorkerStats;
use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};

use crate::counters::{BalancerCounters, WhipCounters};
use crate::wcs::hub::HubMetrics;

/// The `Content-Type` of the text format.
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// The prefix of every metric name.
pub const PREFIX: &str = "rtcdn";

/// The `worker` label.
type WorkerLabel = [(&'static str, String); 1];
/// The `worker` and `reason` labels.
type WorkerReason = [(&'static str, String); 2];

/// Everything one scrape shows.
#[derive(Clone, Debug, Default)]
pub struct Scrape {
    /// The hub's part.
    pub hub: HubMetrics,
    /// Each worker's id and counters.
    pub workers: Vec<(usize, WorkerStats)>,
    /// The balancer's counters on an origin.
    pub balancer: Option<BalancerCounters>,
    /// The WHIP/WHEP endpoints' answers and live sessions.
    pub whip: (WhipCounters, usize),
}

/// A gauge of `value` (saturating at `i64::MAX`).
fn gauge(value: usize) -> Gauge {
    let g = Gauge::default();
    g.set(i64::try_from(value).unwrap_or(i64::MAX));
    g
}

/// Registers a per-worker counter `name` (`_total` and the unit's suffix are added) whose value
/// `get` reads from each worker's stats.
fn worker_counter(
    registry: &mut Registry,
    workers: &[(usize, WorkerStats)],
    (name, help, unit): (&str, &str, Option<Unit>),
    get: Field,
) {
    let family = Family::<WorkerLabel, Counter>::default();
    for (id, stats) in workers {
        family
            .get_or_create(&[("worker", id.to_string())])
            .inc_by(get(stats));
    }
    match unit {
        Some(unit) => registry.register_with_unit(name, help, unit, family),
        None => registry.register(name, help, family),
    }
}

/// Reads one counter of a worker.
type Field = fn(&WorkerStats) -> u64;

/// The per-worker counters other than drops: name, help, unit and field.
type WorkerField = (&'static str, &'static str, Option<Unit>, Field);

fn worker_fields() -> [WorkerField; 23] {
    [
        (
            "worker_received_datagrams",
            "Datagrams received on the worker socket and relay sockets",
            None,
            |s| s.datagrams_in,
        ),
        (
            "worker_received",
            "UDP payload bytes received",
            Some(Unit::Bytes),
            |s| s.bytes_in,
        ),
        (
            "worker_sent_datagrams",
            "Datagrams the kernel accepted from the worker socket and relay sockets",
            None,
            |s| s.datagrams_out,
        ),
        (
            "worker_sent",
            "UDP payload bytes the kernel accepted",
            Some(Unit::Bytes),
            |s| s.bytes_out,
        ),
        (
            "worker_rtp_forwarded_packets",
            "RTP packets sent to players and relay legs",
            None,
            |s| s.rtp_forwarded,
        ),
        (
            "worker_gso_sends",
            "Sends that carried several datagrams to one destination (UDP GSO)",
            None,
            |s| s.gso_sends,
        ),
        (
            "worker_gso_datagrams",
            "Datagrams that left inside GSO sends",
            None,
            |s| s.gso_datagrams,
        ),
        (
            "worker_nack_requested_packets",
            "Packets players and edges asked for in NACKs",
            None,
            |s| s.nack_requested,
        ),
        (
            "worker_retransmitted_packets",
            "Retransmissions sent from the cache (plain or RTX)",
            None,
            |s| s.retransmitted,
        ),
        (
            "worker_retransmit_missed_packets",
            "Requested packets not in the cache",
            None,
            |s| s.retransmit_missed,
        ),
        (
            "worker_retransmit_deferred_packets",
            "Requests deferred until the retransmission budget refills",
            None,
            |s| s.retransmit_deferred,
        ),
        (
            "worker_retransmit_over_budget_packets",
            "Requests refused: budget spent and too many deferred",
            None,
            |s| s.retransmit_over_budget,
        ),
        (
            "worker_retransmit_suppressed_packets",
            "Repeated requests within a round trip of the retransmission",
            None,
            |s| s.retransmit_suppressed,
        ),
        (
            "worker_nack_sent_packets",
            "Packets asked of publishers and origins in NACKs, each try",
            None,
            |s| s.nack_sent,
        ),
        (
            "worker_rtx_received_packets",
            "RTX packets from publishers unwrapped",
            None,
            |s| s.rtx_received,
        ),
        (
            "worker_upstream_repaired_packets",
            "Packets missing from publishers and origins that arrived later (repaired or late)",
            None,
            |s| s.upstream_repaired,
        ),
        (
            "worker_upstream_given_up_packets",
            "Packets missing from publishers and origins given up (a keyframe is asked for)",
            None,
            |s| s.upstream_given_up,
        ),
        (
            "worker_transport_feedback_sent",
            "Transport-wide feedback messages sent to publishers",
            None,
            |s| s.transport_feedback_sent,
        ),
        (
            "worker_transport_feedback_received",
            "Transport-wide feedback messages received from players",
            None,
            |s| s.transport_feedback_received,
        ),
        (
            "worker_remb_sent",
            "REMB messages sent to publishers",
            None,
            |s| s.remb_sent,
        ),
        (
            "worker_padding_sent_packets",
            "Padding packets of bandwidth probes sent to players",
            None,
            |s| s.padding_sent,
        ),
        (
            "worker_layer_switches",
            "Simulcast layer changes decided for players",
            None,
            |s| s.layer_switches,
        ),
        (
            "worker_paced_packets",
            "Video packets a player's pacer held and sent later",
            None,
            |s| s.paced,
        ),
    ]
}

/// The `reason` labels of the worker drops and their counters.
const DROPS: [(&str, Field); 8] = [
    ("unknown_source", |s| s.dropped_unknown_source),
    ("unknown_ssrc", |s| s.dropped_unknown_ssrc),
    ("handshake_busy", |s| s.dropped_handshake_busy),
    ("invalid", |s| s.dropped_invalid),
    ("duplicate", |s| s.dropped_duplicate),
    ("send_full", |s| s.dropped_send_full),
    ("fanout_full", |s| s.dropped_fanout_full),
    ("send_error", |s| s.send_errors),
];

/// The registry of one scrape.
fn registry(scrape: &Scrape) -> Registry {
    let mut r = Registry::with_prefix(PREFIX);
    let hub = &scrape.hub;
    let s = &hub.stats;
    r.register(
        "signalling_connections",
        "Open signalling websocket connections",
        gauge(s.connections),
    );
    r.register(
        "signalling_connections_opened",
        "Signalling websocket connections accepted",
        hub.counters.connections_opened.clone(),
    );
    r.register("streams", "Published streams", gauge(s.streams));
    r.register(
        "peers",
        "Peer connections of publishers and players",
        gauge(s.peers),
    );
    r.register(
        "connected_peers",
        "Peers whose ICE and DTLS completed",
        gauge(s.connected_peers),
    );
    r.register("players", "Peers that play a stream", gauge(s.players));
    r.register(
        "publishers",
        "Peers that publish a stream",
        gauge(s.peers.saturating_sub(s.players)),
    );
    r.register(
        "relay_legs",
        "Origin to edge relay legs whose edge publishes the stream",
        gauge(hub.relay_legs),
    );
    r.register(
        "handshakes_started",
        "Peers added for a publish or play (ICE and DTLS begin)",
        hub.counters.handshakes_started.clone(),
    );
    r.register(
        "handshakes_completed",
        "Peers whose ICE and DTLS completed",
        hub.counters.handshakes_completed.clone(),
    );
    r.register(
        "handshake_failures",
        "Peers closed before they connected, by reason",
        hub.counters.handshake_failures.clone(),
    );
    r.register_with_unit(
        "handshake_duration",
        "Time from adding a peer to its connection (ICE and DTLS)",
        Unit::Seconds,
        hub.counters.handshake_duration.clone(),
    );
    r.register(
        "hook_calls",
        "REST hook calls to the backend, by method and result (allowed, refused, unavailable)",
        hub.counters.hook_calls.clone(),
    );
    r.register_with_unit(
        "hook_duration",
        "Time a REST hook call took, by method",
        Unit::Seconds,
        hub.counters.hook_duration.clone(),
    );
    if let Some(b) = &scrape.balancer {
        r.register(
            "balancer_decisions",
            "Balancer answers to viewers, by result",
            b.decisions.clone(),
        );
    }
    r.register(
        "whip_answers",
        "WHIP and WHEP requests answered, by protocol, method and status code",
        scrape.whip.0.answers.clone(),
    );
    r.register(
        "whip_sessions",
        "Live WHIP and WHEP sessions",
        gauge(scrape.whip.1),
    );
    r.register("workers", "Data-plane workers", gauge(scrape.workers.len()));
    for field in worker_fields() {
        let (name, help, unit, get) = field;
        worker_counter(&mut r, &scrape.workers, (name, help, unit), get);
    }
    let drops = Family::<WorkerReason, Counter>::default();
    for (id, stats) in &scrape.workers {
        for (reason, get) in DROPS {
            drops
                .get_or_create(&[("worker", id.to_string()), ("reason", reason.to_owned())])
                .inc_by(get(stats));
        }
    }
    r.register(
        "worker_dropped_datagrams",
        "Datagrams dropped, by reason",
        drops,
    );
    r
}

/// The scrape in the Prometheus text format (version 0.0.4).
pub fn render(scrape: &Scrape) -> Result<String, std::fmt::Error> {
    let mut body = String::new();
    prometheus_text::encode(&mut body, &registry(scrape))?;
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::counters::HubCounters;
    use crate::wcs::hub::HubStats;
    use dataplane::api::CloseReason;
    use prometheus_parse::{Sample, Value};
    use std::time::Duration;

    fn parse(body: &str) -> Vec<Sample> {
        prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_owned())))
            .expect("the text format parses")
            .samples
    }

    /// The value of the counter or gauge `name` with exactly `labels`.
    fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
        let found: Vec<&Sample> = samples
            .iter()
            .filter(|s| {
                s.metric == name
                    && s.labels.len() == labels.len()
                    && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v))
            })
            .collect();
        assert_eq!(found.len(), 1, "{name}{labels:?}: {found:?}");
        match found[0].value {
            Value::Counter(v) | Value::Gauge(v) => v,
            ref other => panic!("{name}: not a counter or gauge: {other:?}"),
        }
    }

    #[test]
    fn a_scrape_renders_gauges_worker_counters_drops_and_handshakes() {
        let counters = HubCounters::default();
        counters.connection_opened();
        counters.connection_opened();
        for _ in 0..4 {
            counters.handshake_started();
        }
        counters.handshake_completed(Duration::from_millis(200));
        counters.handshake_failed(CloseReason::IceTimeout);
        counters.handshake_abandoned();
        let whip = WhipCounters::default();
        whip.answered("whep", "POST", 409);
        whip.answered("whep", "POST", 409);
        whip.answered("whip", "DELETE", 599);
        let balancer = BalancerCounters::default();
        balancer.decided(true);
        balancer.decided(true);
        balancer.decided(false);
        let w0 = WorkerStats {
            datagrams_in: 10,
            bytes_in: 1000,
            datagrams_out: 20,
            bytes_out: 2400,
            dropped_duplicate: 3,
            paced: 7,
            ..WorkerStats::default()
        };
        let w1 = WorkerStats {
            dropped_send_full: 5,
            send_errors: 6,
            ..WorkerStats::default()
        };
        let scrape = Scrape {
            hub: HubMetrics {
                stats: HubStats {
                    connections: 2,
                    streams: 1,
                    peers: 3,
                    players: 2,
                    connected_peers: 1,
                },
                relay_legs: 4,
                counters,
            },
            workers: vec![(0, w0), (1, w1)],
            balancer: Some(balancer),
            whip: (whip, 3),
        };
        let body = render(&scrape).unwrap();
        let samples = parse(&body);
        assert!(samples.iter().all(|s| s.metric.starts_with("rtcdn_")));

        assert_eq!(value(&samples, "rtcdn_signalling_connections", &[]), 2.0);
        let answer = |p, m, s| {
            value(
                &samples,
                "rtcdn_whip_answers_total",
                &[("protocol", p), ("method", m), ("status", s)],
            )
        };
        assert_eq!(answer("whep", "POST", "409"), 2.0);
        assert_eq!(answer("whip", "DELETE", "other"), 1.0);
        assert_eq!(value(&samples, "rtcdn_whip_sessions", &[]), 3.0);
        assert_eq!(
            value(&samples, "rtcdn_signalling_connections_opened_total", &[]),
            2.0
        );
        assert_eq!(value(&samples, "rtcdn_peers", &[]), 3.0);
        assert_eq!(value(&samples, "rtcdn_publishers", &[]), 1.0);
        assert_eq!(value(&samples, "rtcdn_players", &[]), 2.0);
        assert_eq!(value(&samples, "rtcdn_relay_legs", &[]), 4.0);
        assert_eq!(value(&samples, "rtcdn_workers", &[]), 2.0);

        let w = |id| [("worker", id)];
        let total = |name: &str, id| value(&samples, name, &w(id));
        assert_eq!(total("rtcdn_worker_received_datagrams_total", "0"), 10.0);
        assert_eq!(total("rtcdn_worker_received_bytes_total", "0"), 1000.0);
        assert_eq!(total("rtcdn_worker_sent_datagrams_total", "0"), 20.0);
        assert_eq!(total("rtcdn_worker_sent_bytes_total", "0"), 2400.0);
        assert_eq!(total("rtcdn_worker_paced_packets_total", "0"), 7.0);
        assert_eq!(total("rtcdn_worker_sent_bytes_total", "1"), 0.0);
        let drop = |id, reason| {
            value(
                &samples,
                "rtcdn_worker_dropped_datagrams_total",
                &[("worker", id), ("reason", reason)],
            )
        };
        assert_eq!(drop("0", "duplicate"), 3.0);
        assert_eq!(drop("1", "send_full"), 5.0);
        assert_eq!(drop("1", "send_error"), 6.0);
        assert_eq!(drop("1", "unknown_source"), 0.0);

        assert_eq!(value(&samples, "rtcdn_handshakes_started_total", &[]), 4.0);
        assert_eq!(
            value(&samples, "rtcdn_handshakes_completed_total", &[]),
            1.0
        );
        let failures = "rtcdn_handshake_failures_total";
        assert_eq!(value(&samples, failures, &[("reason", "ice_timeout")]), 1.0);
        assert_eq!(value(&samples, failures, &[("reason", "abandoned")]), 1.0);
        let decisions = "rtcdn_balancer_decisions_total";
        assert_eq!(value(&samples, decisions, &[("result", "edge")]), 2.0);
        assert_eq!(value(&samples, decisions, &[("result", "no_edge")]), 1.0);

        let histogram = samples
            .iter()
            .find(|s| s.metric == "rtcdn_handshake_duration_seconds")
            .expect("the handshake histogram");
        let Value::Histogram(buckets) = &histogram.value else {
            panic!("not a histogram: {histogram:?}");
        };
        let count_below = |le: f64| {
            buckets
                .iter()
                .find(|b| b.less_than == le)
                .map(|b| b.count)
                .expect("bucket")
        };
        assert_eq!(count_below(0.1), 0.0);
        assert_eq!(count_below(0.25), 1.0);
        assert_eq!(count_below(f64::INFINITY), 1.0);
    }

    #[test]
    fn a_node_without_a_balancer_has_no_balancer_metric() {
        let body = render(&Scrape::default()).unwrap();
        assert!(!parse(&body)
            .iter()
            .any(|s| s.metric.starts_with("rtcdn_balancer")));
        assert!(body.contains("# TYPE rtcdn_handshake_duration_seconds histogram"));
    }
}
