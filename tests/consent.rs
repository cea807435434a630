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
