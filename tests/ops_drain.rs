//! SIGTERM on real processes. A draining edge refuses new websockets (503) and new
//! publishes/plays on open ones (FAILED "Server is shutting down"), says `draining=true` on its
//! stat page so that the origin's balancer stops choosing it, keeps its player playing, and
//! exits with status 0 as soon as that player stops (the origin's relay publish alone does not
//! keep it up). A node whose sessions outlive `shutdown_grace_period` stops them with STOPPED
//! and UNPUBLISHED and that info, then exits with status 0; a second signal stops at once.

mod common;

use std::time::{Duration, Instant};

use common::media::{join, pump_until, Joined, MediaPeer};
use common::source::{has_video, stream_until, Source};
use common::{ServerProcess, WcsClient};
use control::sdp::{build_offer, OfferSpec};
use dataplane::dtls::DtlsCertificate;

const AUDIO_SSRC: u32 = 0x3737_3737;
const VIDEO_SSRC: u32 = 0x4747_4747;
const STREAM: &str = "drain-cam";
const SHUTTING_DOWN: &str = "Server is shutting down";
const PROPS: (&str, &str) = ("codecs", "opus,vp8,h264");

fn connect(peers: &mut [&mut MediaPeer]) {
    assert!(
        pump_until(peers, Duration::from_secs(10), |ps| ps
            .iter()
            .all(|p| p.conn.is_connected())),
        "ICE+DTLS did not complete"
    );
}

fn player_spec(cert: &DtlsCertificate) -> OfferSpec {
    OfferSpec::play("drainufr", "drain-player-password-0123", cert.fingerprint())
}

/// A publisher and a player of [`STREAM`] on `node` (the player on `player_node`), connected.
fn publish_and_play(
    node: &ServerProcess,
    player_node: &ServerProcess,
    source: &mut Source,
) -> (Joined, Joined) {
    let cert = DtlsCertificate::generate().expect("certificate");
    let mut publisher = join(node, STREAM, &source.publish_spec(&cert), &cert, true);
    connect(&mut [&mut publisher.peer]);
    if !std::ptr::eq(node, player_node) {
        let mut wcs = WcsClient::connect(&player_node.ws_url());
        wcs.create_session();
        stream_until(
            &mut publisher.peer,
            source,
            ("relayed", Duration::from_secs(30)),
            || wcs.is_available(STREAM),
        );
    }
    let mut player = join(player_node, STREAM, &player_spec(&cert), &cert, false);
    connect(&mut [&mut player.peer, &mut publisher.peer]);
    (publisher, player)
}

/// Streams until `player` has received `more` packets more than now.
fn keeps_playing(publisher: &mut Joined, player: &mut Joined, source: &mut Source, more: usize) {
    let before = player.peer.rtp.len();
    let deadline = Instant::now() + Duration::from_secs(5);
    while player.peer.rtp.len() < before + more && Instant::now() < deadline {
        source.send(&mut publisher.peer);
        publisher.peer.pump();
        player.peer.pump();
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        player.peer.rtp.len() >= before + more,
        "the player stopped getting media"
    );
}

#[test]
fn a_draining_edge_refuses_new_sessions_leaves_the_balancer_and_exits_when_empty() {
    let mut edge = ServerProcess::start(&[PROPS]);
    let origin = ServerProcess::start_with_files(
        &[("load_balancing_enabled", "true"), PROPS],
        &[(
            "loadbalancing.xml",
            &common::loadbalancing_xml(&[&edge], "webrtc"),
        )],
    );
    let mut source = Source::new("drain", AUDIO_SSRC, VIDEO_SSRC);
    let (mut publisher, mut player) = publish_and_play(&origin, &edge, &mut source);
    keeps_playing(&mut publisher, &mut player, &mut source, 20);
    assert!(has_video(&player));
    let mut idle = WcsClient::connect(&edge.ws_url());
    idle.create_session();
    let edge_port = edge.http_addr().port();
    let deadline = Instant::now() + Duration::from_secs(10);
    while origin.http_get("/?action=balance").0 != 200 {
        assert!(Instant::now() < deadline, "the origin never chose the edge");
        std::thread::sleep(Duration::from_millis(50));
    }
    let (_, body) = origin.http_get("/?action=balance");
    assert!(body.contains(&format!("\"ws\":{edge_port}")), "{body}");

    edge.signal("TERM");
    edge.wait_log(
        "draining: new sessions are refused",
        1,
        Duration::from_secs(10),
    );
    let refused = WcsClient::try_connect(&edge.ws_url())
        .err()
        .expect("refused");
    assert!(refused.contains("503"), "{refused}");
    let cert = DtlsCertificate::generate().expect("certificate");
    let offer = build_offer(&Source::new("late", 1, 2).publish_spec(&cert));
    assert_eq!(
        idle.publish("late", &offer).err().as_deref(),
        Some(SHUTTING_DOWN)
    );
    let play_offer = build_offer(&player_spec(&cert));
    assert_eq!(
        idle.play(STREAM, &play_offer).err().as_deref(),
        Some(SHUTTING_DOWN)
    );
    let (code, stat) = edge.http_get("/?action=stat");
    assert_eq!(code, 200);
    assert!(stat.lines().any(|l| l == "draining=true"), "{stat}");
    // The origin polls the page once a second and stops choosing the edge.
    let deadline = Instant::now() + Duration::from_secs(10);
    while origin.http_get("/?action=balance").0 != 503 {
        assert!(
            Instant::now() < deadline,
            "the origin still chooses the draining edge"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        origin.stderr_output().contains("edge availability changed"),
        "{}",
        origin.stderr_output()
    );
    // What runs goes on.
    keeps_playing(&mut publisher, &mut player, &mut source, 20);
    assert!(edge.is_running());

    // The last player stops: the edge exits by itself, long before the 30 s grace period.
    let stopped_at = Instant::now();
    let negotiated = player.negotiated.clone();
    assert_eq!(player.wcs.stop(&negotiated).0, "STOPPED");
    let status = edge
        .wait_exit(Duration::from_secs(10))
        .expect("the edge exits once empty");
    assert!(status.success(), "{status}");
    assert!(stopped_at.elapsed() < Duration::from_secs(10));
    let logs = edge.stderr_output();
    assert!(logs.contains("drain over: no session left"), "{logs}");
    assert!(
        idle.wait_closed(Duration::from_secs(5)),
        "open websockets are closed"
    );
}

#[test]
fn the_grace_period_ends_the_drain_with_statuses_and_exit_status_0() {
    let mut node = ServerProcess::start(&[PROPS, ("shutdown_grace_period", "2")]);
    let mut source = Source::new("grace", AUDIO_SSRC, VIDEO_SSRC);
    let (mut publisher, mut player) = publish_and_play(&node, &node, &mut source);
    keeps_playing(&mut publisher, &mut player, &mut source, 20);

    let signalled = Instant::now();
    node.signal("TERM");
    let id = player.negotiated.media_session_id.clone();
    let (status, info) = player
        .wcs
        .expect_status(&id, |s| s != "PLAYING", Duration::from_secs(10));
    assert_eq!((status.as_str(), info.as_str()), ("STOPPED", SHUTTING_DOWN));
    let id = publisher.negotiated.media_session_id.clone();
    let (status, info) =
        publisher
            .wcs
            .expect_status(&id, |s| s != "PUBLISHING", Duration::from_secs(5));
    assert_eq!(
        (status.as_str(), info.as_str()),
        ("UNPUBLISHED", SHUTTING_DOWN)
    );
    assert!(
        signalled.elapsed() >= Duration::from_secs(2),
        "the sessions were left the grace period"
    );
    let status = node
        .wait_exit(Duration::from_secs(5))
        .expect("the node exits after the grace period");
    assert!(status.success(), "{status}");
    assert!(player.wcs.wait_closed(Duration::from_secs(2)));
    let logs = node.stderr_output();
    assert!(logs.contains("drain over: grace period over"), "{logs}");
}

#[test]
fn a_second_signal_stops_a_draining_node_at_once() {
    let mut node = ServerProcess::start(&[PROPS]);
    let mut source = Source::new("twice", AUDIO_SSRC, VIDEO_SSRC);
    let (mut publisher, mut player) = publish_and_play(&node, &node, &mut source);
    keeps_playing(&mut publisher, &mut player, &mut source, 10);
    node.signal("TERM");
    node.wait_log(
        "draining: new sessions are refused",
        1,
        Duration::from_secs(10),
    );
    let signalled = Instant::now();
    node.signal("INT");
    let id = publisher.negotiated.media_session_id.clone();
    let (status, info) =
        publisher
            .wcs
            .expect_status(&id, |s| s != "PUBLISHING", Duration::from_secs(5));
    assert_eq!(
        (status.as_str(), info.as_str()),
        ("UNPUBLISHED", SHUTTING_DOWN)
    );
    let status = node
        .wait_exit(Duration::from_secs(5))
        .expect("the node exits at once, not after the 30 s grace period");
    assert!(status.success(), "{status}");
    assert!(signalled.elapsed() < Duration::from_secs(10));
    assert!(node.stderr_output().contains("drain over: second signal"));
}
