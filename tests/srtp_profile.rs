//! SRTP profile negotiation through the real binary: a publisher and a player that offer only
//! `SRTP_AES128_CM_HMAC_SHA1_80` in their DTLS `use_srtp` extension (as older or constrained
//! clients do; browsers prefer AES-GCM) connect with that profile, and every packet the
//! publisher sends reaches the player byte-exact.

mod common;

use std::time::Duration;

use common::media::{join, pump_until, Joined, MediaPeer};
use common::source::{check_byte_exact, warm_up, Source};
use common::ServerProcess;
use control::sdp::OfferSpec;
use dataplane::dtls::DtlsCertificate;
use dataplane::srtp::SrtpProfile;
use dataplane::transport::{LocalParams, RemoteParams};

const PROFILE: SrtpProfile = SrtpProfile::Aes128CmHmacSha1_80;

/// Publishes or plays `name` with `spec` like [`join`], but with a media peer whose DTLS
/// client offers only [`PROFILE`] (the peer [`join`] made has not sent anything yet).
fn join_with_only_aes_cm(
    server: &ServerProcess,
    name: &str,
    spec: &OfferSpec,
    cert: &DtlsCertificate,
    publish: bool,
) -> Joined {
    let mut joined = join(server, name, spec, cert, publish);
    let answer = &joined.answer;
    joined.peer = MediaPeer::new(
        &LocalParams {
            ufrag: spec.ufrag.clone(),
            pwd: spec.pwd.clone(),
        },
        &RemoteParams {
            ufrag: answer.ufrag.clone(),
            pwd: answer.pwd.clone(),
            fingerprint: answer.fingerprint.clone(),
            candidate: *answer.candidates.first().expect("answer has a candidate"),
        },
        cert,
        &[PROFILE],
    );
    joined
}

#[test]
fn aes_cm_only_clients_publish_and_play() {
    let server = ServerProcess::start(&[("codecs", "opus,vp8")]);
    let cert = DtlsCertificate::generate().expect("client certificate");
    let mut source = Source::new("aescm", 0x0A0A_0001, 0x0A0A_0002);
    let mut publisher =
        join_with_only_aes_cm(&server, "aes-cm", &source.publish_spec(&cert), &cert, true);
    let play = OfferSpec::play("aescmpl", "aes-cm-player-password-01", cert.fingerprint());
    let mut player = join_with_only_aes_cm(&server, "aes-cm", &play, &cert, false);

    let connected = pump_until(
        &mut [&mut publisher.peer, &mut player.peer],
        Duration::from_secs(10),
        |ps| {
            ps.iter()
                .all(|p| p.conn.is_connected() || p.failed.is_some())
        },
    );
    assert!(
        connected,
        "ICE+DTLS did not finish\n{}",
        server.stderr_output()
    );
    for (who, peer) in [("publisher", &publisher.peer), ("player", &player.peer)] {
        assert_eq!(
            peer.failed, None,
            "{who}: DTLS with only AES_CM_HMAC_SHA1_80"
        );
        assert_eq!(
            peer.conn.srtp_profile(),
            Some(PROFILE),
            "{who}: negotiated profile"
        );
    }

    warm_up(&mut publisher.peer, &mut [&mut player], &mut source);
    let rejected_before = player.peer.rejected;
    check_byte_exact(&mut publisher, &mut [&mut player], &mut source, 100);
    assert_eq!(
        player.peer.rejected, rejected_before,
        "no datagram failed SRTP authentication"
    );
}
