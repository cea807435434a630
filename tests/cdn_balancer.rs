//! The CDN load balancer across real processes: two edges and one origin whose
//! `loadbalancing.xml` names them. The origin polls the edges' `/?action=stat` pages and
//! answers the Web SDK's `lbUrl` request; killed edges drop out.

mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use common::{fixture, ServerProcess, WcsClient, REPLY_TIMEOUT};
use serde_json::Value;

/// Bound for the origin to notice a change of its edges (polled every second, stale after 3).
const CONVERGE: Duration = Duration::from_secs(15);

/// A raw HTTP/1.1 exchange: status, lower-cased headers, body.
fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &str,
) -> (u16, HashMap<String, String>, String) {
    let mut s = TcpStream::connect_timeout(&addr, REPLY_TIMEOUT).expect("connect");
    s.set_read_timeout(Some(REPLY_TIMEOUT)).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nOrigin: http://page.example\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).expect("read response");
    let (head, body) = raw.split_once("\r\n\r\n").expect("complete response");
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (status, headers, body.to_string())
}

/// The `key=value` pairs of a WCS stat page, checking that it starts with a section header.
fn stat_page(server: &ServerProcess) -> HashMap<String, String> {
    let (status, headers, body) = request(
        server.http_addr(),
        "GET",
        "/?action=stat&preventCache=Mon%20Jan%2001%202024",
        "",
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers["access-control-allow-origin"], "*");
    assert!(headers["content-type"].starts_with("text/plain"));
    assert!(body.starts_with("-----Connection Stats-----\n"), "{body}");
    assert!(
        body.lines().any(|l| l == "-----System Stats-----"),
        "{body}"
    );
    body.lines()
        .filter(|l| !l.starts_with('-'))
        .map(|l| {
            let (k, v) = l
                .split_once('=')
                .unwrap_or_else(|| panic!("not key=value: {l}"));
            (k.to_string(), v.to_string())
        })
        .collect()
}

/// The origin's answer to the SDK's `lbUrl` request on `path`.
fn balance(origin: &ServerProcess, path: &str) -> (u16, Value) {
    let (status, headers, body) = request(origin.http_addr(), "GET", path, "");
    assert_eq!(
        headers
            .get("access-control-allow-origin")
            .map(String::as_str),
        Some("*")
    );
    let json = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    (status, json)
}

/// The node's `/health` JSON.
fn health(server: &ServerProcess) -> Value {
    let (status, _, body) = request(server.http_addr(), "GET", "/health", "");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// `(id, reachable, calls)` of each edge in the origin's `/health`.
fn health_edges(origin: &ServerProcess) -> Vec<(String, bool, Value)> {
    let health = health(origin);
    let edges = health["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("no edges: {health}"));
    edges
        .iter()
        .map(|e| {
            (
                e["id"].as_str().unwrap().to_owned(),
                e["reachable"].as_bool().unwrap(),
                e["calls"].clone(),
            )
        })
        .collect()
}

fn start_origin(edges: &[&ServerProcess]) -> ServerProcess {
    let xml = common::loadbalancing_xml(edges, "webrtc");
    ServerProcess::start_with_files(
        &[("load_balancing_enabled", "true")],
        &[("loadbalancing.xml", &xml)],
    )
}

#[test]
fn every_node_serves_a_wcs_stat_page() {
    let edge = ServerProcess::start(&[]);
    let idle = stat_page(&edge);
    for key in [
        "connections",
        "connections_websocket",
        "calls",
        "streams_webrtc_in",
        "streams_webrtc_out",
        "availableProcessors",
        "systemCpuLoad",
        "processCpuLoad",
    ] {
        assert!(idle.contains_key(key), "{key} missing: {idle:?}");
    }
    assert_eq!(idle["calls"], "0");
    assert!(idle["availableProcessors"].parse::<u32>().unwrap() >= 1);
    for key in ["systemCpuLoad", "processCpuLoad"] {
        let load: f64 = idle[key].parse().unwrap();
        assert!((0.0..=1.0).contains(&load), "{key}={load}");
    }

    let mut client = WcsClient::connect(&edge.ws_url());
    client.create_session();
    client
        .publish("cam", &fixture("chrome_publish_offer.sdp"))
        .unwrap();
    client
        .play("cam", &fixture("chrome_play_offer.sdp"))
        .unwrap();
    let busy = stat_page(&edge);
    assert_eq!(busy["connections"], "1");
    assert_eq!(busy["calls"], "2", "{busy:?}");
    assert_eq!(busy["streams_webrtc_in"], "1");
    assert_eq!(busy["streams_webrtc_out"], "1");

    // Not an origin: no balancer, no routes, no edges in /health.
    assert!(health(&edge).get("edges").is_none());
    assert_eq!(
        request(edge.http_addr(), "GET", "/?action=balance", "").0,
        404
    );
    assert_eq!(request(edge.http_addr(), "GET", "/balancer", "").0, 404);
    assert_eq!(
        request(edge.http_addr(), "GET", "/rest-api/cdn/show_routes", "").0,
        404
    );
}

#[test]
fn origin_balances_round_robin_over_live_edges_only() {
    let edge1 = ServerProcess::start(&[]);
    let edge2 = ServerProcess::start(&[]);
    let ports = [edge1.http_addr().port(), edge2.http_addr().port()];
    let origin = start_origin(&[&edge1, &edge2]);

    // Bounded wait until the origin has polled both edges.
    let deadline = Instant::now() + CONVERGE;
    let mut seen = Vec::new();
    while !(seen.contains(&ports[0]) && seen.contains(&ports[1])) {
        assert!(
            Instant::now() < deadline,
            "both edges never offered: {seen:?}\n{}",
            origin.stderr_output()
        );
        let (status, json) = balance(&origin, "/?action=balance");
        if status == 200 {
            seen.push(json["ws"].as_u64().unwrap() as u16);
        } else {
            assert_eq!(
                (status, &json["error"]),
                (503, &Value::from("no edge available"))
            );
            thread::sleep(Duration::from_millis(100));
        }
    }

    // /health lists both edges as the balancer sees them, in file order, with their figures.
    let reachable = |calls: Value| {
        vec![
            ("1".to_owned(), true, calls.clone()),
            ("2".to_owned(), true, calls),
        ]
    };
    assert_eq!(health_edges(&origin), reachable(Value::from(0)));
    let edge_json = &health(&origin)["edges"][1];
    assert_eq!(edge_json["ws"], ports[1]);
    assert_eq!(edge_json["streams_in"], 0);
    assert_eq!(edge_json["relayed_streams"], 0);

    // Round robin: each answer names the other edge than the one before, on both paths.
    let mut answers = Vec::new();
    for path in [
        "/?action=balance",
        "/balancer",
        "/?preventCache=1&action=balance",
        "/balancer",
    ] {
        let (status, json) = balance(&origin, path);
        assert_eq!(status, 200, "{path}: {json}");
        assert_eq!(json["server"], "127.0.0.1");
        assert_eq!(json["wss"], 8443);
        assert_eq!(json["flash"], 1935);
        answers.push(json["ws"].as_u64().unwrap() as u16);
    }
    for pair in answers.windows(2) {
        assert_ne!(pair[0], pair[1], "not alternating: {answers:?}");
        assert!(ports.contains(&pair[0]) && ports.contains(&pair[1]));
    }

    // The WCS REST listing of relayed streams: nothing is relayed yet.
    for method in ["GET", "POST"] {
        let (status, headers, body) = request(
            origin.http_addr(),
            method,
            "/rest-api/cdn/show_routes",
            "{}",
        );
        assert_eq!(status, 200, "{method}");
        assert_eq!(headers["access-control-allow-origin"], "*");
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap(),
            serde_json::json!({})
        );
    }
    let (status, headers, _) = request(
        origin.http_addr(),
        "OPTIONS",
        "/rest-api/cdn/show_routes",
        "",
    );
    assert_eq!(status, 204);
    assert!(headers["access-control-allow-methods"].contains("POST"));
    assert_eq!(headers["access-control-allow-origin"], "*");
    // The origin serves its own stat page too.
    assert_eq!(stat_page(&origin)["calls"], "0");

    // Both edges die: the balancer answers 503 JSON within a few polls.
    drop(edge1);
    drop(edge2);
    let deadline = Instant::now() + CONVERGE;
    loop {
        let (status, json) = balance(&origin, "/balancer");
        if status == 503 {
            assert_eq!(json, serde_json::json!({"error": "no edge available"}));
            break;
        }
        assert_eq!(status, 200);
        assert!(
            Instant::now() < deadline,
            "still balancing to dead edges: {json}"
        );
        thread::sleep(Duration::from_millis(100));
    } // ... and /health shows both unreachable, without figures.
    let unreachable = vec![
        ("1".to_owned(), false, Value::Null),
        ("2".to_owned(), false, Value::Null),
    ];
    assert_eq!(health_edges(&origin), unreachable);
}
