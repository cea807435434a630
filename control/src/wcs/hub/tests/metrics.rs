//! The hub's counters for `/metrics`: handshakes timed from the peer's addition to its
//! `PeerConnected` on the hub's clock, failures by reason, signalling connections.

use super::*;
use crate::metrics::{render, Scrape};
use prometheus_parse::Value as Prom;

fn peer_added(h: &Harness) -> PeerId {
    h.commands(0)
        .iter()
        .find_map(|c| match c {
            Command::AddPeer(s) => Some(s.id),
            _ => None,
        })
        .expect("an AddPeer")
}

/// A parsed sample: name, sorted labels, value.
type Parsed = (String, Vec<(String, String)>, f64);

/// The hub's part of a scrape, parsed: `(name, labels, value)` of each counter and gauge,
/// and the handshake histogram's `(le, count)` buckets.
fn scrape(hub: &Hub) -> (Vec<Parsed>, Vec<(f64, f64)>) {
    let body = render(&Scrape {
        hub: hub.metrics(),
        ..Scrape::default()
    })
    .unwrap();
    let parsed = prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_owned()))).unwrap();
    let mut values = Vec::new();
    let mut buckets = Vec::new();
    for s in parsed.samples {
        let mut labels: Vec<(String, String)> = s
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        labels.sort();
        match s.value {
            // The parser leaves a histogram's `_sum` and `_count` untyped.
            Prom::Counter(v) | Prom::Gauge(v) | Prom::Untyped(v) => {
                values.push((s.metric, labels, v))
            }
            Prom::Histogram(h) if s.metric == "rtcdn_handshake_duration_seconds" => {
                buckets = h.iter().map(|b| (b.less_than, b.count)).collect();
            }
            other => panic!("{}: unexpected {other:?}", s.metric),
        }
    }
    (values, buckets)
}

fn get(values: &[Parsed], name: &str, reason: Option<&str>) -> f64 {
    let labels: Vec<(String, String)> = reason
        .map(|r| vec![("reason".to_owned(), r.to_owned())])
        .unwrap_or_default();
    values
        .iter()
        .find(|(n, l, _)| n == name && *l == labels)
        .map_or(0.0, |(_, _, v)| *v)
}

#[test]
fn handshakes_are_counted_timed_and_failures_sorted_by_reason() {
    let mut h = harness(1);
    let (a, b) = (h.open(), h.open());
    h.publish(a, "pub", "cam");
    let publisher = peer_added(&h);
    // The publisher connects 120 ms after it was added, on the hub's clock.
    h.now += Duration::from_millis(120);
    let remote: SocketAddr = "10.0.0.1:4000".parse().unwrap();
    let connected = Event::PeerConnected {
        peer: publisher,
        remote,
    };
    h.hub.handle_event(h.now, connected.clone());
    // A repeated event is not a second handshake.
    h.hub
        .handle_event(h.now + Duration::from_secs(5), connected);
    // A player times out; another is abandoned when its connection closes.
    h.play(b, "p1", "cam");
    let timed_out = peer_added(&h);
    h.hub.handle_event(
        h.now,
        Event::PeerClosed {
            peer: timed_out,
            reason: CloseReason::IceTimeout,
        },
    );
    h.play(b, "p2", "cam");
    h.hub.close(h.now, b);
    // A peer that had connected closing later is no handshake failure.
    h.hub.handle_event(
        h.now,
        Event::PeerClosed {
            peer: publisher,
            reason: CloseReason::ConsentExpired,
        },
    );
    h.drain();

    let (values, buckets) = scrape(&h.hub);
    assert_eq!(
        get(&values, "rtcdn_signalling_connections_opened_total", None),
        2.0
    );
    assert_eq!(get(&values, "rtcdn_signalling_connections", None), 1.0);
    assert_eq!(get(&values, "rtcdn_handshakes_started_total", None), 3.0);
    assert_eq!(get(&values, "rtcdn_handshakes_completed_total", None), 1.0);
    let failures = "rtcdn_handshake_failures_total";
    assert_eq!(get(&values, failures, Some("ice_timeout")), 1.0);
    assert_eq!(get(&values, failures, Some("abandoned")), 1.0);
    assert_eq!(get(&values, failures, Some("consent_expired")), 0.0);
    assert_eq!(get(&values, "rtcdn_peers", None), 0.0);
    let below = |le: f64| buckets.iter().find(|b| b.0 == le).map(|b| b.1);
    assert_eq!(below(0.1), Some(0.0), "{buckets:?}");
    assert_eq!(below(0.25), Some(1.0), "120 ms: {buckets:?}");
    assert_eq!(below(f64::INFINITY), Some(1.0));
    let sum = get(&values, "rtcdn_handshake_duration_seconds_sum", None);
    assert!((sum - 0.12).abs() < 1e-9, "{sum}");
}
