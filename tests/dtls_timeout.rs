//! The DTLS handshake timeout through the real binary: a publisher whose client completes ICE
//! (its checks are answered) but never starts DTLS is closed after `dtls_handshake_timeout`,
//! its signalling side gets FAILED "Failed by DTLS error", and `/metrics` counts the failure
//! as `dtls_timeout`.

mod common;

use std::time::{Duration, Instant};

use common::media::join;
use common::ServerProcess;
use control::sdp::{Codec, OfferSpec};
use dataplane::dtls::DtlsCertificate;
use dataplane::ice::CHECK_PRIORITY;
use dataplane::stun::write_binding_request;

/// STUN Binding success response (RFC 5389).
const BINDING_SUCCESS: [u8; 2] = [0x01, 0x01];

#[test]
fn a_publisher_that_never_starts_dtls_fails_at_the_deadline() {
    let server = ServerProcess::start(&[("dtls_handshake_timeout", "1000")]);
    let cert = DtlsCertificate::generate().expect("client certificate");
    let spec = OfferSpec::publish(
        "mutedtls",
        "mute-dtls-publisher-password",
        cert.fingerprint(),
        Codec::vp8(96),
        0x71,
        0x72,
    );
    let mut joined = join(&server, "mute", &spec, &cert, true);
    let id = joined.negotiated.media_session_id.clone();
    // Its socket sends connectivity checks (nominating) and nothing else: no DTLS.
    let socket = &joined.peer.socket;
    let server_addr = joined.answer.candidates[0];
    let username = format!("{}:{}", joined.answer.ufrag, spec.ufrag);
    let started = Instant::now();
    let (mut checks, mut answers, mut verdict) = (0u32, 0, None);
    let mut buf = [0u8; 1500];
    while verdict.is_none() && started.elapsed() < Duration::from_secs(15) {
        checks += 1;
        let mut txid = [0x3C; 12];
        txid[..4].copy_from_slice(&checks.to_be_bytes());
        let len = write_binding_request(
            &mut buf,
            &txid,
            username.as_bytes(),
            joined.answer.pwd.as_bytes(),
            CHECK_PRIORITY,
            7,
            true,
        )
        .expect("a check fits");
        socket
            .send_to(&buf[..len], server_addr)
            .expect("send check");
        if let Some(v) = joined.wcs.recv_timeout(Duration::from_millis(200)) {
            verdict = common::stream_status(&v, &id).filter(|(s, _)| s != "PUBLISHING");
        }
        while let Ok((len, _)) = socket.recv_from(&mut buf) {
            answers += usize::from(buf[..len.min(2)] == BINDING_SUCCESS);
        }
    }
    assert_eq!(
        verdict,
        Some(("FAILED".to_string(), "Failed by DTLS error".to_string())),
        "the publisher's verdict"
    );
    assert!(answers > 0, "its checks were answered: ICE was up");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "not before the deadline"
    );

    let (status, body) = server.http_get("/metrics");
    assert_eq!(status, 200);
    assert!(
        body.lines()
            .any(|l| l == "rtcdn_handshake_failures_total{reason=\"dtls_timeout\"} 1"),
        "{body}"
    );
}
