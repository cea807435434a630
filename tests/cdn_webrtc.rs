//! Static CDN with `stream_distribution="webrtc"`, as real processes on loopback: one origin
//! (`load_balancing_enabled=true`, `loadbalancing.xml` naming two edges) and two edges. A Rust
//! client publishes on the origin; players on both edges get every packet byte-exact; unpublish
//! on the origin stops the edges' players; an edge killed with SIGKILL and restarted on the same
//! port gets the stream again while the other edge loses nothing.

mod common;

use std::time::{Duration, Instant};

use common::media::{join, pump_until, Joined, MediaPeer};
use common::source::{check_byte_exact, has_video, stream_until, warm_up, Source};
use common::{ServerProcess, WcsClient};
use control::sdp::OfferSpec;
use dataplane::dtls::DtlsCertificate;

const AUDIO_SSRC: u32 = 0x3333_3333;
const VIDEO_SSRC: u32 = 0x4444_4444;
const STREAM: &str = "cdn-cam";
/// How long an origin may take to (re-)relay a stream to an edge (backoff is at most 10 s).
const RELAY_WAIT: Duration = Duration::from_secs(30);
const EDGE_PROPS: [(&str, &str); 1] = [("codecs", "opus,vp8,h264")];

fn start_origin(edges: &[&ServerProcess]) -> ServerProcess {
    let xml = common::loadbalancing_xml(edges, "webrtc");
    ServerProcess::start_with_files(
        &[
            ("load_balancing_enabled", "true"),
            ("codecs", "opus,vp8,h264"),
        ],
        &[("loadbalancing.xml", &xml)],
    )
}

fn player_spec(i: usize, cert: &DtlsCertificate) -> OfferSpec {
    OfferSpec::play(
        &format!("edge{i}ufr"),
        &format!("edge{i}-player-password-0123"),
        cert.fingerprint(),
    )
}

fn connect_all(peers: &mut [&mut MediaPeer]) {
    let ok = pump_until(peers, Duration::from_secs(10), |ps| {
        ps.iter().all(|p| p.conn.is_connected())
    });
    assert!(
        ok,
        "ICE+DTLS did not complete: {:?}",
        peers
            .iter()
            .map(|p| (p.conn.is_connected(), p.failed))
            .collect::<Vec<_>>()
    );
}

/// Polls `availableStream` on `edge` until the origin's relay published `name` there,
/// streaming from `source` meanwhile (so the relay peer has keyframes to start with).
fn wait_relayed(edge: &ServerProcess, publisher: &mut Joined, source: &mut Source) {
    let mut wcs = WcsClient::connect(&edge.ws_url());
    wcs.create_session();
    let what = format!("{STREAM} relayed to {}", edge.http_addr());
    stream_until(&mut publisher.peer, source, (&what, RELAY_WAIT), || {
        wcs.is_available(STREAM)
    });
}

#[test]
fn origin_relays_to_two_edges_and_unpublish_stops_their_players() {
    let edges = [
        ServerProcess::start(&EDGE_PROPS),
        ServerProcess::start(&EDGE_PROPS),
    ];
    let origin = start_origin(&[&edges[0], &edges[1]]);
    let cert = DtlsCertificate::generate().expect("client certificate");
    let mut source = Source::new("warm", AUDIO_SSRC, VIDEO_SSRC);
    let mut publisher = join(&origin, STREAM, &source.publish_spec(&cert), &cert, true);
    connect_all(&mut [&mut publisher.peer]);
    for edge in &edges {
        wait_relayed(edge, &mut publisher, &mut source);
    }
    let mut players: Vec<Joined> = edges
        .iter()
        .enumerate()
        .map(|(i, edge)| join(edge, STREAM, &player_spec(i, &cert), &cert, false))
        .collect();
    {
        let mut all: Vec<&mut MediaPeer> = players.iter_mut().map(|p| &mut p.peer).collect();
        all.push(&mut publisher.peer);
        connect_all(&mut all);
    }
    let mut refs: Vec<&mut Joined> = players.iter_mut().collect();
    warm_up(&mut publisher.peer, &mut refs, &mut source);
    check_byte_exact(&mut publisher, &mut refs, &mut source, 150);

    // The origin lists both live legs, WCS style: route id -> stream name.
    let (code, body) = origin.http_get("/rest-api/cdn/show_routes");
    assert_eq!(code, 200, "{body}");
    let routes: serde_json::Value = serde_json::from_str(&body).expect("show_routes is JSON");
    let routes = routes.as_object().expect("an object");
    assert_eq!(routes.len(), 2, "one route per edge: {body}");
    assert!(routes.values().all(|v| v == STREAM), "{body}");

    let negotiated = publisher.negotiated.clone();
    let (status, _) = publisher.wcs.unpublish(&negotiated);
    assert_eq!(status, "UNPUBLISHED");
    for (i, player) in players.iter_mut().enumerate() {
        let id = player.negotiated.media_session_id.clone();
        let (status, info) =
            player
                .wcs
                .expect_status(&id, |s| s != "PLAYING", Duration::from_secs(10));
        assert_eq!(
            (status.as_str(), info.as_str()),
            ("STOPPED", "Stopped by publisher stop"),
            "edge {i} player"
        );
    }
}

#[test]
fn killed_edge_is_re_relayed_after_restart_and_the_other_edge_loses_nothing() {
    let mut edges = vec![
        ServerProcess::start(&EDGE_PROPS),
        ServerProcess::start(&EDGE_PROPS),
    ];
    let killed_port = edges[0].http_addr().port();
    let origin = start_origin(&[&edges[0], &edges[1]]);
    let cert = DtlsCertificate::generate().expect("client certificate");
    let mut source = Source::new("warm", AUDIO_SSRC, VIDEO_SSRC);
    let mut publisher = join(&origin, STREAM, &source.publish_spec(&cert), &cert, true);
    connect_all(&mut [&mut publisher.peer]);
    for edge in &edges {
        wait_relayed(edge, &mut publisher, &mut source);
    }
    let mut survivor = join(&edges[1], STREAM, &player_spec(1, &cert), &cert, false);
    connect_all(&mut [&mut survivor.peer, &mut publisher.peer]);
    warm_up(&mut publisher.peer, &mut [&mut survivor], &mut source);

    edges[0].kill();
    check_byte_exact(&mut publisher, &mut [&mut survivor], &mut source, 150);

    let restarted =
        ServerProcess::start_on_port(&EDGE_PROPS, &[], killed_port, Duration::from_secs(10));
    edges[0] = restarted;
    wait_relayed(&edges[0], &mut publisher, &mut source);

    let started = Instant::now();
    let mut fresh = join(&edges[0], STREAM, &player_spec(2, &cert), &cert, false);
    let deadline = started + Duration::from_secs(5);
    while !has_video(&fresh) && Instant::now() < deadline {
        source.send(&mut publisher.peer);
        publisher.peer.pump();
        survivor.peer.pump();
        fresh.peer.pump();
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        has_video(&fresh),
        "a new player on the restarted edge got no video within 5 s (connected: {}, failed: {:?})",
        fresh.peer.conn.is_connected(),
        fresh.peer.failed
    );
    check_byte_exact(
        &mut publisher,
        &mut [&mut survivor, &mut fresh],
        &mut source,
        60,
    );
}
