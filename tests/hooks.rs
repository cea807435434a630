//! REST hooks against a real backend (tests/common/backend.rs) and the real binary: allowed
//! and refused `connect`, `publishStream` and `playStream` with WCS's failures, the backend's
//! `restClientConfig`, a backend that is down or slow (fail closed by default, open when
//! configured), the notifications a backend receives, and `/metrics` counting the calls.

mod common;

use std::time::Duration;

use common::backend::{Backend, Rules};
use common::{fixture, message_name, Incoming, ServerProcess, WcsClient};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(5);

fn hooked_server(url: &str, extra: &[(&str, &str)]) -> ServerProcess {
    let mut props = vec![("rest_hook_url", url)];
    props.extend_from_slice(extra);
    ServerProcess::start(&props)
}

/// Sends `connection` with `custom.token`; the first reply.
fn connect(wcs: &mut WcsClient, token: &str) -> Value {
    wcs.send(
        "connection",
        json!({"appKey": "liveApp", "clientVersion": "2.0", "mediaProviders": ["WebRTC"],
               "custom": {"token": token}}),
    );
    match wcs.next(WAIT) {
        Incoming::Json(v) => v,
        other => panic!("no answer to connection: {other:?}"),
    }
}

fn info_of(v: &Value) -> &str {
    v["data"][0]["info"].as_str().unwrap_or("")
}

#[test]
fn allowed_calls_work_and_the_backend_sees_them_as_wcs_sends_them() {
    let backend = Backend::start(Rules {
        token: Some("good".into()),
        ..Default::default()
    });
    let server = hooked_server(&backend.url("liveApp"), &[]);
    let mut publisher = WcsClient::connect(&server.ws_url());
    let user = connect(&mut publisher, "good");
    assert_eq!(message_name(&user), Some("getUserData"), "{user}");
    let stream = publisher
        .publish("hooked", &fixture("chrome_publish_offer.sdp"))
        .expect("an allowed publish");
    let mut viewer = WcsClient::connect(&server.ws_url());
    connect(&mut viewer, "good");
    let play = viewer
        .play("hooked", &fixture("chrome_play_offer.sdp"))
        .expect("an allowed play");

    let c = backend.wait_for("connect", WAIT, |_| true);
    assert_eq!(c["appKey"], "liveApp");
    assert_eq!(c["custom"]["token"], "good");
    assert!(c["sessionId"].as_str().unwrap().starts_with("/127.0.0.1:"));
    assert!(c["nodeId"].as_str().unwrap().contains('@'));
    let p = backend.wait_for("publishStream", WAIT, |_| true);
    assert_eq!(
        (&p["name"], &p["published"], &p["mediaSessionId"]),
        (
            &json!("hooked"),
            &json!(true),
            &json!(stream.media_session_id)
        )
    );
    assert_eq!(p["appKey"], "liveApp");
    let v = backend.wait_for("playStream", WAIT, |_| true);
    assert_eq!(
        (&v["name"], &v["published"]),
        (&json!("hooked"), &json!(false))
    );
    backend.wait_for("StreamStatusEvent", WAIT, |b| b["status"] == "PUBLISHING");
    backend.wait_for("StreamStatusEvent", WAIT, |b| b["status"] == "PLAYING");
    backend.wait_for("ConnectionStatusEvent", WAIT, |b| {
        b["status"] == "ESTABLISHED"
    });

    assert_eq!(viewer.stop(&play).0, "STOPPED");
    backend.wait_for("stopStream", WAIT, |b| {
        b["mediaSessionId"] == json!(play.media_session_id)
    });
    assert_eq!(publisher.unpublish(&stream).0, "UNPUBLISHED");
    backend.wait_for("unPublishStream", WAIT, |b| b["name"] == "hooked");
    viewer.close();
    backend.wait_for("ConnectionStatusEvent", WAIT, |b| {
        b["status"] == "DISCONNECTED"
    });
    // Every call went to <rest_hook_url>/<method>.
    assert!(backend
        .calls()
        .iter()
        .all(|c| c.path.starts_with("/apps/liveApp/")));
}

#[test]
fn refused_calls_get_the_wcs_failures() {
    let backend = Backend::start(Rules {
        token: Some("good".into()),
        deny_publish: vec!["secret-cam".into()],
        deny_play: vec!["open-cam".into()],
        ..Default::default()
    });
    let server = hooked_server(&backend.url("liveApp"), &[]);

    // A refused connect: `fail` with the backend's reason, then the socket is closed.
    let mut intruder = WcsClient::connect(&server.ws_url());
    let fail = connect(&mut intruder, "bad");
    assert_eq!(message_name(&fail), Some("fail"), "{fail}");
    assert_eq!(fail["data"][0]["status"], "FAILED");
    assert_eq!(fail["data"][0]["apiMethod"], "ConnectionStatusEvent");
    assert_eq!(info_of(&fail), "Wrong credentials");
    assert!(intruder.wait_closed(WAIT), "the refused session is closed");

    // A refused publish: FAILED with the reason phrase (the body is not {status, reason}).
    let mut wcs = WcsClient::connect(&server.ws_url());
    connect(&mut wcs, "good");
    let refused = wcs
        .publish("secret-cam", &fixture("chrome_publish_offer.sdp"))
        .expect_err("a refused publish");
    assert_eq!(refused, "Forbidden");
    // The session goes on: another name is allowed, and a refused play fails alone.
    wcs.publish("open-cam", &fixture("chrome_publish_offer.sdp"))
        .expect("an allowed publish on the same session");
    let mut viewer = WcsClient::connect(&server.ws_url());
    connect(&mut viewer, "good");
    let refused = viewer
        .play("open-cam", &fixture("chrome_play_offer.sdp"))
        .expect_err("a refused play");
    assert_eq!(refused, "Forbidden");
    assert_eq!(
        server.http_get("/health").0,
        200,
        "the node is fine after refusals"
    );

    // Without a `connection` first, a publish is refused before asking anyone.
    let mut rude = WcsClient::connect(&server.ws_url());
    let early = rude
        .publish("early", &fixture("chrome_publish_offer.sdp"))
        .expect_err("no session yet");
    assert_eq!(early, "Session not ready");
    assert!(backend
        .calls_of("publishStream")
        .iter()
        .all(|c| c.body["name"] != "early"));
}

#[test]
fn the_backend_may_only_log_refusals_through_rest_client_config() {
    let backend = Backend::start(Rules {
        deny_publish: vec!["logged-cam".into()],
        connect_answer: json!({"restClientConfig": {"publishStream": {"restOnError": "LOG"}}}),
        ..Default::default()
    });
    let server = hooked_server(&backend.url("liveApp"), &[]);
    let mut wcs = WcsClient::connect(&server.ws_url());
    connect(&mut wcs, "any");
    wcs.publish("logged-cam", &fixture("chrome_publish_offer.sdp"))
        .expect("refused but only logged");
}

#[test]
fn a_backend_that_is_down_fails_closed_by_default_and_open_when_configured() {
    // A port nobody listens on.
    let down = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/apps/liveApp", l.local_addr().unwrap())
    };
    let closed = hooked_server(&down, &[]);
    let mut wcs = WcsClient::connect(&closed.ws_url());
    let fail = connect(&mut wcs, "any");
    assert_eq!(message_name(&fail), Some("fail"), "{fail}");
    assert_eq!(info_of(&fail), "Authorization backend unavailable");

    let open = hooked_server(&down, &[("rest_hook_fail_closed", "false")]);
    let mut wcs = WcsClient::connect(&open.ws_url());
    let user = connect(&mut wcs, "any");
    assert_eq!(message_name(&user), Some("getUserData"), "{user}");
    wcs.publish("open-anyway", &fixture("chrome_publish_offer.sdp"))
        .expect("the backend is down and the node fails open");
    let (_, metrics) = open.http_get("/metrics");
    assert!(
        metrics
            .contains(r#"rtcdn_hook_calls_total{method="publishStream",result="unavailable"} 1"#),
        "{metrics}"
    );
}

#[test]
fn a_slow_backend_times_out_and_is_decided_by_the_operator() {
    let backend = Backend::start(Rules {
        delay: Duration::from_millis(1500),
        ..Default::default()
    });
    let server = hooked_server(&backend.url("liveApp"), &[("rest_hook_timeout", "300")]);
    let mut wcs = WcsClient::connect(&server.ws_url());
    let fail = connect(&mut wcs, "any");
    assert_eq!(info_of(&fail), "Authorization backend unavailable");
    assert!(wcs.wait_closed(WAIT));
    let (_, metrics) = server.http_get("/metrics");
    let samples = prometheus_parse::Scrape::parse(metrics.lines().map(|l| Ok(l.to_owned())))
        .expect("the text format parses")
        .samples;
    let unavailable = samples.iter().find(|s| {
        s.metric == "rtcdn_hook_calls_total"
            && s.labels.get("method") == Some("connect")
            && s.labels.get("result") == Some("unavailable")
    });
    assert!(
        matches!(unavailable.map(|s| &s.value), Some(prometheus_parse::Value::Counter(v)) if *v == 1.0),
        "{metrics}"
    );
}

/// In a CDN each node asks its own backend: the origin's relay publishes on the edge as a
/// session of its own (the edge's backend sees `connect` with `custom.rtcdnRelay` from the
/// origin's address, then `publishStream`), the origin never asks its backend to let its relay
/// "play", and a viewer on the edge is authorized by the edge's backend.
#[test]
fn relay_legs_are_authorized_by_the_edge_as_the_origin_not_as_viewers() {
    use common::media::{join, pump_until};
    use common::source::{stream_until, Source};
    use dataplane::dtls::DtlsCertificate;

    let backend = Backend::start(Rules {
        deny_play: vec!["relayed-cam".into()],
        ..Default::default()
    });
    let edge = ServerProcess::start(&[
        ("codecs", "opus,vp8,h264"),
        ("rest_hook_url", &backend.url("edge")),
    ]);
    let xml = common::loadbalancing_xml(&[&edge], "webrtc");
    let origin = ServerProcess::start_with_files(
        &[
            ("load_balancing_enabled", "true"),
            ("codecs", "opus,vp8,h264"),
            ("rest_hook_url", &backend.url("origin")),
        ],
        &[("loadbalancing.xml", &xml)],
    );
    let cert = DtlsCertificate::generate().expect("client certificate");
    let mut source = Source::new("hook", 0x3333_3333, 0x4444_4444);
    let mut publisher = join(
        &origin,
        "relayed-cam",
        &source.publish_spec(&cert),
        &cert,
        true,
    );
    assert!(pump_until(&mut [&mut publisher.peer], WAIT, |ps| ps[0]
        .conn
        .is_connected()));
    let mut probe = WcsClient::connect(&edge.ws_url());
    connect(&mut probe, "any");
    stream_until(
        &mut publisher.peer,
        &mut source,
        ("relayed to the edge", Duration::from_secs(30)),
        || probe.is_available("relayed-cam"),
    );

    let relay_connect = backend
        .calls_of("connect")
        .into_iter()
        .find(|c| c.path.starts_with("/apps/edge/") && c.body["custom"]["rtcdnRelay"] == true)
        .unwrap_or_else(|| panic!("no relay connect at the edge: {:?}", backend.calls()));
    assert!(relay_connect.body["sessionId"]
        .as_str()
        .unwrap()
        .starts_with("/127.0.0.1:"));
    let edge_publish = backend
        .calls_of("publishStream")
        .into_iter()
        .find(|c| c.path.starts_with("/apps/edge/"))
        .expect("the relay's publish was authorized by the edge");
    assert_eq!(edge_publish.body["name"], "relayed-cam");
    assert!(
        backend.calls_of("playStream").is_empty(),
        "the relay never plays: {:?}",
        backend.calls_of("playStream")
    );
    // A viewer on the edge is asked about (and refused here) by the edge's backend.
    let refused = probe
        .play("relayed-cam", &fixture("chrome_play_offer.sdp"))
        .expect_err("the edge's backend refuses this viewer");
    assert_eq!(refused, "Forbidden");
    let play = backend.wait_for("playStream", WAIT, |_| true);
    assert_eq!(play["name"], "relayed-cam");
    assert!(backend
        .calls_of("playStream")
        .iter()
        .all(|c| c.path.starts_with("/apps/edge/")));
}
