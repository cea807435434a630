//! ICE consent freshness through the real binary: a publisher whose connectivity checks stop
//! is closed after `ice_consent_timeout`, its signalling side gets FAILED "Failed by ICE keep
//! alive", its players get STOPPED "Stopped by publisher stop", and the name is free again.

mod common;

use std::time::Duration;

use common::media::{join, pump_until, MediaPeer};
use common::ServerProcess;
use control::sdp::{Codec, OfferSpec};
use dataplane::dtls::DtlsCertificate;

#[test]
fn silent_publisher_is_closed_and_everyone_is_told() {
    // Longer than the client's consent-check interval (2 s ± 20 %), so only the silent peer expires.
    let server = ServerProcess::start(&[("ice_consent_timeout", "4000")]);
    let cert = DtlsCertificate::generate().expect("client certificate");
    let spec = OfferSpec::publish(
        "consentu",
        "consent-publisher-password",
        cert.fingerprint(),
        Codec::vp8(96),
        0x51,
        0x52,
    );
    let mut publisher = join(&server, "quiet", &spec, &cert, true);
    let play = OfferSpec::play("consents", "consent-player-password-0", cert.fingerprint());
    let mut player = join(&server, "quiet", &play, &cert, false);
    {
        let mut all: Vec<&mut MediaPeer> = vec![&mut publisher.peer, &mut player.peer];
        assert!(
            pump_until(&mut all, Duration::from_secs(10), |ps| ps
                .iter()
                .all(|p| p.conn.is_connected())),
            "peers did not connect"
        );
    }
    // The publisher goes silent (no more pumping: no consent checks); the player keeps its
    // checks going while we wait for the verdict.
    let pub_id = publisher.negotiated.media_session_id.clone();
    let play_id = player.negotiated.media_session_id.clone();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let mut verdict = None;
    while verdict.is_none() && std::time::Instant::now() < deadline {
        player.peer.pump();
        if let Some(v) = publisher.wcs.recv_timeout(Duration::from_millis(50)) {
            verdict = common::stream_status(&v, &pub_id).filter(|(s, _)| s != "PUBLISHING");
        }
    }
    assert_eq!(
        verdict,
        Some(("FAILED".to_string(), "Failed by ICE keep alive".to_string())),
        "publisher's verdict"
    );
    let (status, info) =
        player
            .wcs
            .expect_status(&play_id, |s| s != "PLAYING", Duration::from_secs(5));
    assert_eq!(
        (status.as_str(), info.as_str()),
        ("STOPPED", "Stopped by publisher stop")
    );

    // The name is free again: a new publisher may take it.
    let again = OfferSpec::publish(
        "consent2",
        "consent-publisher-password2",
        cert.fingerprint(),
        Codec::vp8(96),
        0x61,
        0x62,
    );
    let _second = join(&server, "quiet", &again, &cert, true);
}

/// A viewer that vanishes without a word (its host is gone: no more consent checks, no
/// websocket close) is freed by consent expiry: its signalling side is told FAILED, the node
/// forgets its peer (`/health` peers), and the publisher and another viewer go on.
#[test]
fn vanished_viewer_is_freed_by_consent_expiry() {
    let server = ServerProcess::start(&[("ice_consent_timeout", "4000")]);
    let cert = DtlsCertificate::generate().expect("client certificate");
    let spec = OfferSpec::publish(
        "vanishpu",
        "vanish-publisher-password",
        cert.fingerprint(),
        Codec::vp8(96),
        0x71,
        0x72,
    );
    let mut publisher = join(&server, "vanish", &spec, &cert, true);
    let gone = OfferSpec::play("vanishgo", "vanish-player-password-01", cert.fingerprint());
    let mut vanishing = join(&server, "vanish", &gone, &cert, false);
    let stays = OfferSpec::play("vanishst", "vanish-player-password-02", cert.fingerprint());
    let mut staying = join(&server, "vanish", &stays, &cert, false);
    {
        let mut all: Vec<&mut MediaPeer> =
            vec![&mut publisher.peer, &mut vanishing.peer, &mut staying.peer];
        assert!(
            pump_until(&mut all, Duration::from_secs(10), |ps| ps
                .iter()
                .all(|p| p.conn.is_connected())),
            "peers did not connect"
        );
    }
    let peers = |server: &ServerProcess| {
        let (_, body) = server.http_get("/health");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        v["peers"].as_u64().unwrap()
    };
    assert_eq!(peers(&server), 3);
    // The vanishing viewer stops everything; the others keep their checks going.
    let gone_id = vanishing.negotiated.media_session_id.clone();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let mut verdict = None;
    while verdict.is_none() && std::time::Instant::now() < deadline {
        publisher.peer.pump();
        staying.peer.pump();
        if let Some(v) = vanishing.wcs.recv_timeout(Duration::from_millis(50)) {
            verdict = common::stream_status(&v, &gone_id).filter(|(s, _)| s != "PLAYING");
        }
    }
    assert_eq!(
        verdict,
        Some(("FAILED".to_string(), "Failed by ICE keep alive".to_string())),
        "the vanished viewer's verdict"
    );
    let freed = std::time::Instant::now() + Duration::from_secs(5);
    while peers(&server) != 2 && std::time::Instant::now() < freed {
        publisher.peer.pump();
        staying.peer.pump();
    }
    assert_eq!(peers(&server), 2, "the vanished viewer's peer is freed");
    assert!(publisher.peer.conn.is_connected() && staying.peer.conn.is_connected());
}
