//! The example configuration directories under `examples/` must keep loading: `examples/cdn/origin`
//! and `examples/cdn/edge` (the README's two-node CDN on one machine) go through the binary's
//! configuration path (`Config::load`) and must describe an origin whose `loadbalancing.xml`
//! names the edge, with port ranges that do not overlap. The real binary must start with each
//! directory (ports overridden to free ones so the test can run next to anything).

mod common;

use std::io::{BufRead, BufReader};
use std::net::IpAddr;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;

use control::cdn::config::{Mode, StreamDistribution};
use control::config::Config;

fn example_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name)
}

/// Loads an example directory exactly as `rtcdn --config-dir <dir>` does; no warnings allowed.
fn load(name: &str) -> Config {
    let dir = example_dir(name);
    let (cfg, warnings) =
        Config::load(Some(&dir)).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    assert!(warnings.is_empty(), "{name}: warnings {warnings:?}");
    cfg
}

/// The UDP ports the node's workers bind (worker `i` binds `media_port_from + i`), within the
/// configured range.
fn media_ports(cfg: &Config) -> RangeInclusive<u16> {
    cfg.media_port_from..=cfg.media_port_to
}

fn overlap(a: &RangeInclusive<u16>, b: &RangeInclusive<u16>) -> bool {
    a.start() <= b.end() && b.start() <= a.end()
}

#[test]
fn cdn_example_origin_names_the_example_edge() {
    let origin = load("cdn/origin");
    let edge = load("cdn/edge");

    let lb = origin
        .load_balancing
        .as_ref()
        .expect("the origin example has load_balancing_enabled=true");
    assert_eq!(lb.distribution, StreamDistribution::WebRtc);
    assert_eq!(lb.mode, Mode::RoundRobin);
    assert_eq!(lb.nodes.len(), 1, "one edge: {:?}", lb.nodes);
    let node = &lb.nodes[0];
    assert_eq!(node.host.parse::<IpAddr>().ok(), Some(edge.ip), "{node:?}");
    assert_eq!(node.ws, edge.ws_port, "<ws> is the edge's ws.port");
    assert_eq!(
        node.http, edge.ws_port,
        "stats are polled on the edge's ws.port"
    );
    assert!(edge.load_balancing.is_none(), "the edge is a plain node");

    assert_eq!((origin.ws_port, edge.ws_port), (8080, 8081));
    assert_eq!(
        (origin.media_port_from, edge.media_port_from),
        (31001, 32001)
    );
    let (o, e) = (media_ports(&origin), media_ports(&edge));
    assert!(!overlap(&o, &e), "media ranges overlap: {o:?} and {e:?}");
    for port in [origin.ws_port, edge.ws_port] {
        assert!(
            !o.contains(&port) && !e.contains(&port),
            "ws port {port} is inside a media range"
        );
    }
    for cfg in [&origin, &edge] {
        let range = usize::from(cfg.media_port_to - cfg.media_port_from) + 1;
        assert!(range >= cfg.worker_threads, "{cfg:?}");
    }
}

/// Starts the real binary with `--config-dir <dir>` and free ports, waits for its listening
/// line and stops it (panics with its log if it exits or stays silent).
fn start_binary(dir: &Path) {
    let mut child = Command::new(common::server_binary())
        .arg("--config-dir")
        .arg(dir)
        .args([
            "--ws-port",
            "0",
            "--wss-port",
            "0",
            "--media-port-from",
            "0",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn rtcdn");
    let (tx, rx) = mpsc::channel::<String>();
    let stdout = child.stdout.take().expect("stdout is piped");
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let stderr = child.stderr.take().expect("stderr is piped");
    let errors = thread::spawn(move || {
        BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<_>>()
            .join("\n")
    });
    let mut listening = false;
    while let Ok(line) = rx.recv_timeout(common::START_TIMEOUT) {
        if line.starts_with("rtcdn listening on http://") {
            listening = true;
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let log = errors.join().unwrap_or_default();
    assert!(
        listening,
        "rtcdn --config-dir {} did not start:\n{log}",
        dir.display()
    );
}

#[test]
fn the_binary_starts_with_each_cdn_example() {
    for name in ["cdn/edge", "cdn/origin"] {
        start_binary(&example_dir(name));
    }
}
