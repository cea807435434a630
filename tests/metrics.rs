//! `GET /metrics` of a running `rtcdn` binary after real signalling and media, parsed with a
//! Prometheus text-format parser: the signalling connections, the peers and their handshakes,
//! and the workers' packet and byte counters.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::media::{join, pump_until, rtp_packet, MediaPeer};
use common::ServerProcess;
use control::sdp::{Codec, OfferSpec};
use dataplane::dtls::DtlsCertificate;
use prometheus_parse::{Sample, Value};

const AUDIO_SSRC: u32 = 0x1111_1111;
const VIDEO_SSRC: u32 = 0x2222_2222;

/// The parsed samples of one scrape.
fn scrape(server: &ServerProcess) -> Vec<Sample> {
    let (status, body) = server.http_get("/metrics");
    assert_eq!(status, 200, "{body}");
    prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_owned())))
        .expect("the text format parses")
        .samples
}

/// The sum of a counter or gauge over all its label sets (0 when absent).
fn total(samples: &[Sample], name: &str) -> f64 {
    samples
        .iter()
        .filter(|s| s.metric == name)
        .map(|s| match s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
            ref other => panic!("{name}: {other:?}"),
        })
        .sum()
}

/// The label values of `label` that `name` has samples for.
fn label_values(samples: &[Sample], name: &str, label: &str) -> Vec<String> {
    let mut v: Vec<String> = samples
        .iter()
        .filter(|s| s.metric == name)
        .filter_map(|s| s.labels.get(label).map(str::to_owned))
        .collect();
    v.sort();
    v.dedup();
    v
}

/// The `Content-Type` of `GET /metrics`.
fn content_type(server: &ServerProcess) -> String {
    let mut stream = TcpStream::connect(server.http_addr()).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: rtcdn\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).expect("reply");
    reply
        .lines()
        .take_while(|l| !l.is_empty())
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-type")
                .then(|| v.trim().to_owned())
        })
        .expect("a Content-Type")
}

#[test]
fn metrics_after_a_publish_and_a_play_with_media() {
    let server = ServerProcess::start(&[("worker_threads", "2"), ("codecs", "opus,vp8")]);
    assert!(
        content_type(&server).starts_with("text/plain; version=0.0.4"),
        "{}",
        content_type(&server)
    );
    let idle = scrape(&server);
    assert_eq!(total(&idle, "rtcdn_signalling_connections"), 0.0);
    assert_eq!(total(&idle, "rtcdn_workers"), 2.0);
    assert_eq!(
        label_values(&idle, "rtcdn_worker_received_bytes_total", "worker"),
        ["0", "1"]
    );

    let cert = DtlsCertificate::generate().expect("client certificate");
    let pub_spec = OfferSpec::publish(
        "pubufrag",
        "publisher-password-0123456789",
        cert.fingerprint(),
        Codec::vp8(96),
        AUDIO_SSRC,
        VIDEO_SSRC,
    );
    let play_spec = OfferSpec::play(
        "subufrag",
        "subscriber-password-0123456789",
        cert.fingerprint(),
    );
    let mut publisher = join(&server, "cam", &pub_spec, &cert, true);
    let mut player = join(&server, "cam", &play_spec, &cert, false);
    let connected = pump_until(
        &mut [&mut publisher.peer, &mut player.peer],
        Duration::from_secs(10),
        |ps| ps.iter().all(|p| p.conn.is_connected()),
    );
    assert!(connected, "ICE+DTLS did not complete");

    for n in 0..50u16 {
        let payload: &[u8] = if n == 0 {
            &[0x10, 0x00, 0x9d, 0x01, 0x2a, 1, 2, 3]
        } else {
            &[0x00, 0x01, 2, 3]
        };
        let v = rtp_packet(96, 100 + n, 3000 * u32::from(n), VIDEO_SSRC, true, payload);
        publisher.peer.send_rtp(&v);
        player.peer.pump();
    }
    let got = pump_until(
        &mut [&mut publisher.peer, &mut player.peer],
        Duration::from_secs(5),
        |ps: &[&mut MediaPeer]| ps[1].rtp.len() >= 50,
    );
    assert!(got, "the player received {}", player.peer.rtp.len());

    // Workers publish their counters once per loop: scrape until they show what the player
    // received (bounded: a hang guard, not a timing check).
    let deadline = Instant::now() + Duration::from_secs(10);
    let samples = loop {
        let s = scrape(&server);
        let forwarded = total(&s, "rtcdn_worker_rtp_forwarded_packets_total");
        if forwarded >= 50.0 || Instant::now() > deadline {
            break s;
        }
        publisher.peer.pump();
        player.peer.pump();
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(total(&samples, "rtcdn_signalling_connections"), 2.0);
    assert_eq!(
        total(&samples, "rtcdn_signalling_connections_opened_total"),
        2.0
    );
    assert_eq!(total(&samples, "rtcdn_streams"), 1.0);
    assert_eq!(total(&samples, "rtcdn_peers"), 2.0);
    assert_eq!(total(&samples, "rtcdn_publishers"), 1.0);
    assert_eq!(total(&samples, "rtcdn_players"), 1.0);
    assert_eq!(total(&samples, "rtcdn_connected_peers"), 2.0);
    assert_eq!(total(&samples, "rtcdn_handshakes_started_total"), 2.0);
    assert_eq!(total(&samples, "rtcdn_handshakes_completed_total"), 2.0);
    assert_eq!(total(&samples, "rtcdn_handshake_failures_total"), 0.0);
    assert_eq!(
        total(&samples, "rtcdn_handshake_duration_seconds_count"),
        2.0
    );

    let forwarded = total(&samples, "rtcdn_worker_rtp_forwarded_packets_total");
    assert!(forwarded >= 50.0, "{forwarded}");
    // Upstream repair, one series per worker (nothing was lost on loopback).
    for name in [
        "rtcdn_worker_upstream_repaired_packets_total",
        "rtcdn_worker_upstream_given_up_packets_total",
    ] {
        assert_eq!(label_values(&samples, name, "worker"), ["0", "1"], "{name}");
        assert_eq!(total(&samples, name), 0.0, "{name}");
    }
    let datagrams_in = total(&samples, "rtcdn_worker_received_datagrams_total");
    let bytes_in = total(&samples, "rtcdn_worker_received_bytes_total");
    let datagrams_out = total(&samples, "rtcdn_worker_sent_datagrams_total");
    let bytes_out = total(&samples, "rtcdn_worker_sent_bytes_total");
    // 50 media packets in plus the handshakes; every datagram is at least 12 bytes.
    assert!(datagrams_in >= 50.0, "{datagrams_in}");
    assert!(
        bytes_in >= 12.0 * datagrams_in,
        "{bytes_in} for {datagrams_in}"
    );
    assert!(datagrams_out >= forwarded, "{datagrams_out} < {forwarded}");
    assert!(
        bytes_out >= 12.0 * datagrams_out,
        "{bytes_out} for {datagrams_out}"
    );
    assert_eq!(
        label_values(&samples, "rtcdn_worker_dropped_datagrams_total", "reason"),
        [
            "duplicate",
            "fanout_full",
            "handshake_busy",
            "invalid",
            "send_error",
            "send_full",
            "unknown_source",
            "unknown_ssrc"
        ]
    );

    // The player leaves: its connection and peer are gone from the gauges.
    player.wcs.close();
    let deadline = Instant::now() + Duration::from_secs(10);
    let after = loop {
        let s = scrape(&server);
        if total(&s, "rtcdn_signalling_connections") == 1.0 || Instant::now() > deadline {
            break s;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(total(&after, "rtcdn_signalling_connections"), 1.0);
    assert_eq!(total(&after, "rtcdn_players"), 0.0);
    assert_eq!(total(&after, "rtcdn_peers"), 1.0);
}
