//! A short churn soak against the real binary (`bench::load::churn::run` in-process): viewers
//! join and leave a few times a second around a small population, a quarter of the leaves
//! vanish without a word, the publishers restart every few seconds (their viewers play the new
//! stream again), on one node and through an edge. Once everyone has left and the settle time
//! (longer than the servers' ICE consent timeout and websocket keep-alive expiry) has passed,
//! the servers must hold no peer, stream, player, websocket or relay leg, and no more file
//! descriptors than before the run (± `FD_SLACK`). RSS is not checked here: the limit
//! is about growth after the first minute of the 10-minute soak (`bench/README.md`).

mod common;

use std::time::Duration;

use bench::load::churn::{self, ChurnReport, ChurnSpec};
use bench::load::{LoadConfig, Verify};
use common::ServerProcess;

/// Short consent and keep-alive expiry so that vanished viewers are found out within the
/// settle time: consent after 4 s (the clients check every 2 s ± 20 %), a silent websocket
/// after about 3 s (pings every second, closed after 2 unanswered).
const SOAK_PROPS: [(&str, &str); 4] = [
    ("ice_consent_timeout", "4000"),
    ("keep_alive.server_interval", "1000"),
    ("keep_alive.probes", "2"),
    ("worker_threads", "1"),
];

fn spec() -> ChurnSpec {
    ChurnSpec::parse("joins=4/s,leaves=4/s,publisher-restart=5s,vanish=25%,settle=8s,sample=1s")
        .expect("churn spec")
}

fn config(server: &str) -> LoadConfig {
    let mut cfg = LoadConfig::new(server);
    cfg.subscribers = 8;
    cfg.duration = Duration::from_secs(16);
    cfg.bitrate = 200_000;
    cfg.verify = Verify::Sample(8);
    cfg.join_parallel = 4;
    cfg.churn = Some(spec());
    cfg
}

/// What every churn run must show: it did churn (joins, both kinds of leaves, restarts both
/// ways, viewers stopped and playing again), nothing failed, the servers were watched, and
/// nothing was left.
fn assert_churned_without_leaks(report: &ChurnReport, logs: &str) {
    let c = &report.clients;
    let summary = report.summary();
    let context = format!("{summary}errors: {:?}\n{logs}", report.errors);
    assert!(c.joins_playing >= 20, "{context}");
    assert!(c.leaves_clean > 0 && c.leaves_vanished > 0, "{context}");
    assert_eq!(
        c.vanished_closed_by_server, c.leaves_vanished,
        "every vanished websocket closed by the server's keep-alive\n{context}"
    );
    assert!(c.restarts >= 2 && c.restarts_reconnecting >= 1, "{context}");
    assert!(
        c.stopped_by_publisher > 0 && c.replays_playing > 0,
        "{context}"
    );
    let failures = c.joins_failed
        + c.replays_failed
        + c.viewers_failed
        + c.restarts_failed
        + c.publishers_failed;
    assert_eq!(failures, 0, "{context}");
    assert_eq!(c.auth_failures, 0, "{context}");
    assert!(c.packets_received > 0, "{context}");
    for (peak, base) in report.peaks.iter().zip(&report.baseline) {
        assert!(peak.peers > 0, "{} was watched: {context}", peak.role);
        assert!(
            base.fds.is_some_and(|b| peak.fds > b),
            "{}'s descriptors grew during the run: {context}",
            peak.role
        );
    }
    assert!(
        report.leaks.is_empty(),
        "leaks: {:?}\n{context}",
        report.leaks
    );
    assert!(report.leak_free, "{context}");
    let json = serde_json::to_value(report).expect("the report serializes");
    for field in [
        "leak_free",
        "clients",
        "baseline",
        "end",
        "peaks",
        "rss",
        "samples",
    ] {
        assert!(json.get(field).is_some(), "JSON has {field}");
    }
    let svg = bench::load::svg::churn_chart(report);
    assert!(svg.contains("RSS MiB") && svg.contains("<polyline"));
}

#[test]
fn one_node_frees_everything_after_churn() {
    let server = ServerProcess::start(&SOAK_PROPS);
    let mut cfg = config(&server.ws_url());
    cfg.server_pids = server.pid().into_iter().collect();
    let report = churn::run(&cfg, false)
        .unwrap_or_else(|e| panic!("churn run failed: {e}\n{}", server.stderr_output()));
    assert_eq!(report.servers.len(), 1);
    assert_churned_without_leaks(&report, &server.stderr_output());
}

/// Through an edge; the pids are found from the listening ports (no `server_pids`).
#[test]
fn origin_and_edge_free_everything_after_churn() {
    let edge = ServerProcess::start(&SOAK_PROPS);
    let xml = common::loadbalancing_xml(&[&edge], "webrtc");
    let mut props = SOAK_PROPS.to_vec();
    props.push(("load_balancing_enabled", "true"));
    let origin = ServerProcess::start_with_files(&props, &[("loadbalancing.xml", &xml)]);
    let mut cfg = config(&origin.ws_url());
    cfg.play_server = Some(edge.ws_url());
    cfg.publishers = 2;
    let report = churn::run(&cfg, false).unwrap_or_else(|e| {
        panic!(
            "churn run failed: {e}\norigin:\n{}\nedge:\n{}",
            origin.stderr_output(),
            edge.stderr_output()
        )
    });
    let pids: Vec<Option<u32>> = report.servers.iter().map(|w| w.pid).collect();
    assert_eq!(pids, vec![origin.pid(), edge.pid()], "found from the ports");
    let logs = format!(
        "origin:\n{}\nedge:\n{}",
        origin.stderr_output(),
        edge.stderr_output()
    );
    assert!(
        report.peaks[0].relay_legs > 0,
        "the origin relayed to the edge"
    );
    assert_churned_without_leaks(&report, &logs);
}
