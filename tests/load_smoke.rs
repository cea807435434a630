//! Smoke test of the load generator: the real `rtcdn` binary, `bench::load::run` in-process
//! with one publisher and three subscribers for a few seconds, on one node and through an edge
//! (publisher on the origin, subscribers on the edge). Checks that the run went as asked
//! (every subscriber received media in the measuring window), that every checked packet of
//! every subscriber passed SRTP authentication (all of them, or exactly every Nth when
//! sampling) and that the JSON result has its fields; no timing thresholds. With 3 % loss on
//! the subscribers' receive side: NACKs go out and the residual loss is consistent with what
//! the impairment dropped, whether or not the server repairs.

mod common;

use std::time::Duration;

use bench::load::impair::ImpairSpec;
use bench::load::{self, LoadConfig, Verify};
use common::ServerProcess;

/// Checks each subscriber's SRTP accounting: it received RTP, and exactly the packets
/// `verify` picks (every one, or the 1st, (N+1)th, … of each subscriber) were checked and
/// authentic. The RTP count comes from the clear header before any SRTP check, so a packet
/// that fails authentication (or is dropped by the SRTP layer) makes the counts differ.
fn assert_verified(report: &load::LoadReport, verify: Verify) {
    let rtp = &report.rtp_per_subscriber;
    let verified = &report.verified_per_subscriber;
    assert_eq!(
        rtp.len(),
        report.config.subscribers,
        "one count per subscriber"
    );
    assert!(
        rtp.iter().all(|&n| n > 0),
        "every subscriber got RTP: {rtp:?}"
    );
    let expected: Vec<u64> = match verify {
        Verify::All => rtp.clone(),
        Verify::Sample(n) => rtp.iter().map(|r| r.div_ceil(u64::from(n))).collect(),
    };
    assert_eq!(
        verified, &expected,
        "verified per subscriber with {verify:?} (rtp per subscriber: {rtp:?})"
    );
    for (rtp, distinct) in rtp.iter().zip(&report.received_per_subscriber) {
        assert!(
            rtp >= distinct,
            "datagrams {rtp} < distinct packets {distinct}"
        );
    }
}

#[test]
fn one_publisher_three_subscribers() {
    let server = ServerProcess::start(&[("worker_threads", "2")]);
    let mut cfg = LoadConfig::new(&format!("ws://{}", server.http_addr()));
    cfg.publishers = 1;
    cfg.subscribers = 3;
    cfg.duration = Duration::from_secs(3);
    cfg.bitrate = 500_000;
    cfg.verify = Verify::All;
    cfg.server_pids = server.pid().into_iter().collect();
    let report = load::run(&cfg, false)
        .unwrap_or_else(|e| panic!("load run failed: {e}\n{}", server.stderr_output()));

    assert!(report.errors.is_empty(), "errors: {:?}", report.errors);
    assert!(report.completed, "{}", report.summary());
    assert_eq!(report.received_per_subscriber.len(), 3);
    assert!(
        report.received_per_subscriber.iter().all(|&n| n > 0),
        "every subscriber receives: {:?}",
        report.received_per_subscriber
    );
    let t = &report.totals;
    assert_eq!(t.receiving_subscribers, 3);
    assert!(t.packets_sent > 0 && t.packets_received > 0);
    assert_verified(&report, Verify::All);
    assert_eq!(t.auth_failures, 0);
    assert_eq!(t.corrupt, 0);
    assert!(t.latency_us.count > 0);
    assert_eq!(t.joins, 3);
    assert_eq!(t.failed_joins, 0);
    assert!(t.server_cpu_s.is_some() && t.server_rss_kib.is_some_and(|kib| kib > 0));

    let json: serde_json::Value =
        serde_json::to_value(&report).expect("the report serializes to JSON");
    for field in [
        "completed",
        "config",
        "packets_sent",
        "packets_received",
        "rtp_per_subscriber",
        "verified_per_subscriber",
        "pps_out",
        "pps_in",
        "loss_pct",
        "reordered",
        "duplicates",
        "latency_us",
        "joins_per_s",
        "server_cpu_s",
        "cpu_us_per_forwarded_packet",
        "server_rss_kib",
        "steps",
        "timeseries",
    ] {
        assert!(json.get(field).is_some(), "JSON has {field}: {json}");
    }
    for q in ["p50", "p99", "max"] {
        assert!(json["latency_us"][q].is_number(), "latency {q}");
    }
    let svg = load::svg::chart(&report);
    assert!(svg.starts_with("<svg") && svg.contains("polyline"));
}

#[test]
fn through_an_edge() {
    let edge = ServerProcess::start(&[("worker_threads", "1")]);
    let xml = common::loadbalancing_xml(&[&edge], "webrtc");
    let origin = ServerProcess::start_with_files(
        &[("load_balancing_enabled", "true"), ("worker_threads", "1")],
        &[("loadbalancing.xml", &xml)],
    );
    let mut cfg = LoadConfig::new(&origin.ws_url());
    cfg.play_server = Some(edge.ws_url());
    cfg.subscribers = 3;
    cfg.join_parallel = 2; // two signalling threads
    cfg.duration = Duration::from_secs(2);
    cfg.bitrate = 500_000;
    cfg.verify = Verify::Sample(4);
    cfg.join_timeout = Duration::from_secs(30);
    cfg.server_pids = origin.pid().into_iter().chain(edge.pid()).collect();
    let report = load::run(&cfg, false).unwrap_or_else(|e| {
        panic!(
            "load run failed: {e}\norigin:\n{}\nedge:\n{}",
            origin.stderr_output(),
            edge.stderr_output()
        )
    });
    assert!(report.errors.is_empty(), "errors: {:?}", report.errors);
    assert!(report.completed, "{}", report.summary());
    let t = &report.totals;
    assert_eq!(t.receiving_subscribers, 3, "all play on the edge");
    assert!(report.received_per_subscriber.iter().all(|&n| n > 0));
    assert_verified(&report, Verify::Sample(4));
    assert_eq!(t.auth_failures, 0);
    // Both processes were measured: the sum exceeds either alone.
    let edge_rss = edge.pid().and_then(load::procstat::rss_kib).unwrap();
    assert!(t.server_rss_kib.is_some_and(|kib| kib > edge_rss));
}

/// Subscribers drop 3 % of what they receive (seeded). Whatever the server does with their
/// NACKs, every gap they saw came from a dropped datagram, so: NACKs were sent; the residual
/// loss plus the gaps retransmissions filled is at most what was dropped; and if nothing was
/// retransmitted (a server that does not answer NACKs) the residual loss is what was dropped,
/// but for drops before a stream's first packet or after its last, which open no gap.
#[test]
fn receive_loss_is_nacked_and_accounted() {
    let server = ServerProcess::start(&[("worker_threads", "1")]);
    let mut cfg = LoadConfig::new(&server.ws_url());
    cfg.subscribers = 3;
    cfg.duration = Duration::from_secs(3);
    cfg.bitrate = 500_000;
    cfg.verify = Verify::Sample(3);
    cfg.impair.recv = ImpairSpec::parse("loss=3").unwrap();
    cfg.impair.seed = 42;
    let report = load::run(&cfg, false)
        .unwrap_or_else(|e| panic!("load run failed: {e}\n{}", server.stderr_output()));
    let t = &report.totals;
    let summary = report.summary();
    eprintln!(
        "{summary}residual {:?} dropped {:?} nacks {:?} expected {:?}",
        report.residual_lost_per_subscriber,
        report.impaired_video_per_subscriber,
        report.nacks_per_subscriber,
        report.video_expected_per_subscriber
    );
    assert_eq!(t.receiving_subscribers, 3, "{summary}");
    assert_eq!(t.auth_failures, 0, "{summary}");
    assert!(t.impair_recv.dropped > 0, "{summary}");
    assert_eq!(t.impair_send.dropped, 0, "nothing dropped on the send side");
    assert!(t.nacks_sent > 0 && t.nack_requests > 0, "{summary}");
    assert!(t.video_expected > 0 && t.frames_completed > 0, "{summary}");
    assert_eq!(
        t.retransmissions_received,
        t.retransmissions_useful + t.retransmissions_duplicate
    );
    let json: serde_json::Value = serde_json::to_value(&report).expect("serializes");
    for field in [
        "residual_loss_pct",
        "residual_lost",
        "retransmissions_received",
        "nacks_sent",
        "nack_requests",
        "plis_sent",
        "plis_received",
        "freezes",
        "freeze_ms",
        "impair_recv",
        "residual_lost_per_subscriber",
        "impaired_video_per_subscriber",
    ] {
        assert!(json.get(field).is_some(), "JSON has {field}");
    }

    // Whole run, per subscriber.
    let n = report.config.subscribers;
    assert_eq!(report.residual_lost_per_subscriber.len(), n);
    assert_eq!(report.impaired_video_per_subscriber.len(), n);
    assert_eq!(report.nacks_per_subscriber.len(), n);
    assert_eq!(report.repaired_per_subscriber.len(), n);
    let per_subscriber = report
        .residual_lost_per_subscriber
        .iter()
        .zip(&report.impaired_video_per_subscriber)
        .zip(&report.nacks_per_subscriber)
        .zip(&report.repaired_per_subscriber);
    for (i, (((&lost, &dropped), &nacks), &repaired)) in per_subscriber.enumerate() {
        // Each gap came from a drop; each either stayed open or a retransmission filled it.
        assert!(
            lost + repaired <= dropped,
            "subscriber {i}: residual {lost} + repaired {repaired} > dropped {dropped}: {summary}"
        );
        // A gap it saw was NACKed at once (a subscriber may see none at 3 %).
        assert!(
            lost + repaired == 0 || nacks > 0,
            "subscriber {i}: {summary}"
        );
        if repaired == 0 {
            // Not repaired: every drop inside the stream is a residual loss. A drop before the
            // first or after the last packet (at most a few at 3 %) opens no gap.
            assert!(
                lost + 4 >= dropped,
                "subscriber {i}: residual {lost} vs dropped {dropped}: {summary}"
            );
        }
    }
    let residual: u64 = report.residual_lost_per_subscriber.iter().sum();
    let dropped: u64 = report.impaired_video_per_subscriber.iter().sum();
    let expected: u64 = report.video_expected_per_subscriber.iter().sum();
    assert!(dropped > 0 && residual <= expected, "{summary}");
    if report.repaired_per_subscriber.iter().all(|&r| r == 0) {
        assert!(
            residual > 0,
            "nothing repaired, so something is lost: {summary}"
        );
    }
}

#[test]
fn play_server_needs_wcs() {
    let mut cfg = LoadConfig::new("http://127.0.0.1:1/janus");
    cfg.target = load::TargetKind::Janus;
    cfg.play_server = Some("ws://127.0.0.1:1".into());
    assert!(matches!(
        load::run(&cfg, false),
        Err(load::LoadError::Config(_))
    ));
}

#[test]
fn unreachable_server_is_an_error() {
    // Nothing listens on port 1: the publisher's websocket connect fails, the run reports it.
    let mut cfg = LoadConfig::new("ws://127.0.0.1:1");
    cfg.subscribers = 1;
    cfg.duration = Duration::from_secs(1);
    assert!(load::run(&cfg, false).is_err());
    cfg.server = "http://nope".into();
    assert!(load::run(&cfg, false).is_err());
}
