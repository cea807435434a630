//! The origin's relay legs over `wss://` (`cdn_relay_tls=true`), as real processes on loopback:
//! the origin signals to the edge's TLS port (`<wss>` in `loadbalancing.xml`) and verifies the
//! edge's certificate against `cdn_relay_ca_file` (here the edge's generated self-signed one), so
//! a published stream is relayed and plays on the edge; an origin that does not trust the edge's
//! certificate (system roots only) refuses the TLS handshake and relays nothing.

mod common;

use std::time::{Duration, Instant};

use common::media::{join, pump_until};
use common::source::{stream_until, Source};
use common::{ServerProcess, WcsClient};
use dataplane::dtls::DtlsCertificate;

const AUDIO_SSRC: u32 = 0x3535_3535;
const VIDEO_SSRC: u32 = 0x4545_4545;
const RELAY_WAIT: Duration = Duration::from_secs(30);

/// A `loadbalancing.xml` naming `edge` with both its ports.
fn xml(edge: &ServerProcess) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <loadbalancer mode=\"ROUNDROBIN\" stream_distribution=\"webrtc\">\n\
         <node id=\"1\"><ip>127.0.0.1</ip><ws>{}</ws><wss>{}</wss></node>\n\
         </loadbalancer>\n",
        edge.http_addr().port(),
        edge.tls_addr().port()
    )
}

fn origin(edge: &ServerProcess, ca_file: Option<&str>) -> ServerProcess {
    let mut props = vec![
        ("load_balancing_enabled", "true"),
        ("codecs", "opus,vp8,h264"),
        ("cdn_relay_tls", "true"),
    ];
    if let Some(ca) = ca_file {
        props.push(("cdn_relay_ca_file", ca));
    }
    ServerProcess::start_with_files(&props, &[("loadbalancing.xml", &xml(edge))])
}

#[test]
fn relay_legs_over_wss_verify_the_edges_certificate() {
    let edge = ServerProcess::start(&[("codecs", "opus,vp8,h264")]);
    let ca = edge.self_signed_certificate();
    assert!(ca.is_file(), "the edge generated {}", ca.display());
    let trusting = origin(&edge, Some(ca.to_str().unwrap()));
    let cert = DtlsCertificate::generate().expect("client certificate");
    let mut source = Source::new("wss", AUDIO_SSRC, VIDEO_SSRC);
    let mut publisher = join(
        &trusting,
        "wss-cam",
        &source.publish_spec(&cert),
        &cert,
        true,
    );
    assert!(
        pump_until(&mut [&mut publisher.peer], Duration::from_secs(10), |ps| ps
            [0]
        .conn
        .is_connected()),
        "the publisher connects"
    );
    let mut wcs = WcsClient::connect(&edge.ws_url());
    wcs.create_session();
    let what = format!("wss-cam relayed over wss to {}", edge.tls_addr());
    stream_until(
        &mut publisher.peer,
        &mut source,
        (&what, RELAY_WAIT),
        || wcs.is_available("wss-cam"),
    );
    let log = trusting.stderr_output();
    assert!(!log.contains("cannot connect to edge"), "{log}");

    // An origin that trusts only the system's roots refuses the edge's self-signed certificate.
    let untrusting = origin(&edge, None);
    let other = Source::new("wss2", AUDIO_SSRC + 1, VIDEO_SSRC + 1);
    let mut second = join(
        &untrusting,
        "wss-refused",
        &other.publish_spec(&cert),
        &cert,
        true,
    );
    assert!(
        pump_until(&mut [&mut second.peer], Duration::from_secs(10), |ps| ps[0]
            .conn
            .is_connected()),
        "the second publisher connects"
    );
    let deadline = Instant::now() + RELAY_WAIT;
    let refused = loop {
        let log = untrusting.stderr_output();
        if log.contains("cannot connect to edge") && log.contains("TLS") {
            break log;
        }
        assert!(
            Instant::now() < deadline,
            "no refused TLS handshake logged:\n{log}"
        );
        second.peer.pump();
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        refused.contains("UnknownIssuer") || refused.contains("invalid peer certificate"),
        "{refused}"
    );
    assert!(
        !wcs.is_available("wss-refused"),
        "nothing relayed without trust"
    );
}
