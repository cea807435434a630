//! SIGHUP on real processes: an origin re-reads `loadbalancing.xml` (a live stream is relayed
//! to an edge added to the file and plays there; the players of an edge removed from it get
//! STOPPED, the balancer answers only the remaining edge, the unchanged edge's leg goes on; a
//! malformed file is logged and the running edges are kept), and a node re-reads its TLS
//! certificate (new connections present the new one; a broken file keeps the old one).

mod common;

use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::media::{join, pump_until, Joined, MediaPeer};
use common::source::{has_video, stream_until, Source};
use common::{ServerProcess, WcsClient};
use control::sdp::OfferSpec;
use dataplane::dtls::DtlsCertificate;

const AUDIO_SSRC: u32 = 0x3636_3636;
const VIDEO_SSRC: u32 = 0x4646_4646;
const STREAM: &str = "reload-cam";
const RELAY_WAIT: Duration = Duration::from_secs(30);
const EDGE_PROPS: [(&str, &str); 1] = [("codecs", "opus,vp8,h264")];
const RELOAD_LOG: &str = "SIGHUP reload: ";

/// A `loadbalancing.xml` with the given node ids for the given edges.
fn xml(nodes: &[(&str, &ServerProcess)]) -> String {
    let nodes: String = nodes
        .iter()
        .map(|(id, edge)| {
            format!(
                "  <node id=\"{id}\"><ip>127.0.0.1</ip><ws>{}</ws></node>\n",
                edge.http_addr().port()
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <loadbalancer mode=\"ROUNDROBIN\" stream_distribution=\"webrtc\">\n{nodes}</loadbalancer>\n"
    )
}

fn connect(peers: &mut [&mut MediaPeer]) {
    assert!(
        pump_until(peers, Duration::from_secs(10), |ps| ps
            .iter()
            .all(|p| p.conn.is_connected())),
        "ICE+DTLS did not complete"
    );
}

/// Streams from `source` until `edge` has the stream (relayed by the origin).
fn wait_relayed(edge: &ServerProcess, publisher: &mut Joined, source: &mut Source) {
    let mut wcs = WcsClient::connect(&edge.ws_url());
    wcs.create_session();
    let what = format!("{STREAM} relayed to {}", edge.http_addr());
    stream_until(&mut publisher.peer, source, (&what, RELAY_WAIT), || {
        wcs.is_available(STREAM)
    });
}

/// Plays the stream on `edge` until video arrives.
fn play_on(edge: &ServerProcess, i: usize, publisher: &mut Joined, source: &mut Source) -> Joined {
    let cert = DtlsCertificate::generate().expect("player certificate");
    let spec = OfferSpec::play(
        &format!("rld{i}ufr"),
        &format!("reload{i}-player-password-01"),
        cert.fingerprint(),
    );
    let mut player = join(edge, STREAM, &spec, &cert, false);
    connect(&mut [&mut player.peer, &mut publisher.peer]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !has_video(&player) && Instant::now() < deadline {
        source.send(&mut publisher.peer);
        publisher.peer.pump();
        player.peer.pump();
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(has_video(&player), "no video on {}", edge.http_addr());
    player
}

/// The edge port the origin's balancer answers, or `None` for its 503.
fn balanced_port(origin: &ServerProcess) -> Option<u64> {
    let (code, body) = origin.http_get("/?action=balance");
    match code {
        200 => {
            let v: serde_json::Value = serde_json::from_str(&body).expect("balancer JSON");
            v["ws"].as_u64()
        }
        503 => None,
        other => panic!("balancer answered {other}: {body}"),
    }
}

#[test]
fn sighup_moves_relays_to_added_edges_and_away_from_removed_ones() {
    let first = ServerProcess::start(&EDGE_PROPS);
    let mut origin = ServerProcess::start_with_files(
        &[
            ("load_balancing_enabled", "true"),
            ("codecs", "opus,vp8,h264"),
        ],
        &[("loadbalancing.xml", &xml(&[("1", &first)]))],
    );
    let cert = DtlsCertificate::generate().expect("publisher certificate");
    let mut source = Source::new("reload", AUDIO_SSRC, VIDEO_SSRC);
    let mut publisher = join(&origin, STREAM, &source.publish_spec(&cert), &cert, true);
    connect(&mut [&mut publisher.peer]);
    wait_relayed(&first, &mut publisher, &mut source);
    let mut viewer = play_on(&first, 1, &mut publisher, &mut source);

    // A second edge in the file: the live stream is relayed to it without a restart.
    let second = ServerProcess::start(&EDGE_PROPS);
    origin.write_config_file("loadbalancing.xml", &xml(&[("1", &first), ("2", &second)]));
    origin.signal("HUP");
    let logs = origin.wait_log(RELOAD_LOG, 1, Duration::from_secs(10));
    assert!(
        logs.contains("SIGHUP reload: edges added [2], removed [], 1 unchanged"),
        "{logs}"
    );
    wait_relayed(&second, &mut publisher, &mut source);
    let mut other = play_on(&second, 2, &mut publisher, &mut source);
    // The balancer chooses the new edge once it has polled it (ROUNDROBIN: both in turn).
    let ports = [first.http_addr().port(), second.http_addr().port()].map(u64::from);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    while !ports.iter().all(|p| seen.contains(&Some(*p))) {
        assert!(Instant::now() < deadline, "balancer answers: {seen:?}");
        seen.push(balanced_port(&origin));
        std::thread::sleep(Duration::from_millis(50));
    }

    // The first edge leaves the file: its viewer is stopped, the second goes on.
    origin.write_config_file("loadbalancing.xml", &xml(&[("2", &second)]));
    origin.signal("HUP");
    let logs = origin.wait_log(RELOAD_LOG, 2, Duration::from_secs(10));
    assert!(
        logs.contains("SIGHUP reload: edges added [], removed [1], 1 unchanged"),
        "{logs}"
    );
    let id = viewer.negotiated.media_session_id.clone();
    let (status, info) = viewer
        .wcs
        .expect_status(&id, |s| s != "PLAYING", Duration::from_secs(10));
    assert_eq!(
        (status.as_str(), info.as_str()),
        ("STOPPED", "Stopped by publisher stop")
    );
    let second_port = ports[1];
    for _ in 0..4 {
        assert_eq!(balanced_port(&origin), Some(second_port), "only edge 2");
    }
    // The unchanged edge's leg was not restarted: its viewer was told nothing and still
    // gets video.
    let before = other.peer.rtp.len();
    let deadline = Instant::now() + Duration::from_secs(5);
    while other.peer.rtp.len() < before + 20 && Instant::now() < deadline {
        source.send(&mut publisher.peer);
        publisher.peer.pump();
        other.peer.pump();
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(other.peer.rtp.len() >= before + 20, "edge 2 still plays");
    let told: Vec<_> = other
        .wcs
        .drain_for(Duration::from_millis(300))
        .into_iter()
        .filter(|m| common::message_name(m) == Some("notifyStreamStatusEvent"))
        .collect();
    assert!(told.is_empty(), "{told:?}");

    // A broken file: logged with its line, the running edges kept, the node up.
    origin.write_config_file(
        "loadbalancing.xml",
        "<loadbalancer>\n<node id=\"3\"><ip>127.0.0.1</ip>\n</loadbalancer>\n",
    );
    origin.signal("HUP");
    let logs = origin.wait_log(RELOAD_LOG, 3, Duration::from_secs(10));
    assert!(
        logs.contains("loadbalancing.xml:3:")
            && logs.contains("SIGHUP: the running edges are kept"),
        "{logs}"
    );
    assert!(origin.is_running());
    assert_eq!(balanced_port(&origin), Some(second_port));
    let mut probe = WcsClient::connect(&second.ws_url());
    probe.create_session();
    assert!(probe.is_available(STREAM), "still relayed to edge 2");
}

/// Generates a certificate for `localhost`: (PEM chain, PEM key, DER).
fn certificate() -> (String, String, Vec<u8>) {
    let generated =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("certificate");
    (
        generated.cert.pem(),
        generated.signing_key.serialize_pem(),
        generated.cert.der().to_vec(),
    )
}

/// The fingerprint of the certificate a new TLS connection to `server` is presented, the
/// client trusting every certificate in `trusted`.
fn presented(server: &ServerProcess, trusted: &[&[u8]]) -> String {
    let mut roots = rustls::RootCertStore::empty();
    for der in trusted {
        roots
            .add(rustls::pki_types::CertificateDer::from(der.to_vec()))
            .expect("trust anchor");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("server name");
    let mut tls = rustls::ClientConnection::new(Arc::new(config), name).expect("TLS client");
    let mut tcp = TcpStream::connect(server.tls_addr()).expect("connect to the TLS port");
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    while tls.is_handshaking() {
        tls.complete_io(&mut tcp)
            .unwrap_or_else(|e| panic!("TLS handshake: {e}"));
    }
    let leaf = tls.peer_certificates().expect("a certificate")[0].clone();
    control::tls::fingerprint(leaf.as_ref())
}

#[test]
fn sighup_reloads_the_tls_certificate() {
    let (first_pem, first_key, first_der) = certificate();
    let mut node = ServerProcess::start_with_files(
        &[
            ("tls_certificate", "node.crt"),
            ("tls_private_key", "node.key"),
        ],
        &[("node.crt", &first_pem), ("node.key", &first_key)],
    );
    let (second_pem, second_key, second_der) = certificate();
    let trusted: [&[u8]; 2] = [&first_der, &second_der];
    let first = control::tls::fingerprint(&first_der);
    let second = control::tls::fingerprint(&second_der);
    assert_eq!(presented(&node, &trusted), first);

    node.write_config_file("node.crt", &second_pem);
    node.write_config_file("node.key", &second_key);
    node.signal("HUP");
    let logs = node.wait_log(RELOAD_LOG, 1, Duration::from_secs(10));
    assert!(
        logs.contains(&format!("certificate replaced ({second})")),
        "{logs}"
    );
    assert_eq!(presented(&node, &trusted), second, "new connections");

    // A broken chain: the error names the file, the second certificate stays.
    node.write_config_file("node.crt", "not a certificate\n");
    node.signal("HUP");
    let logs = node.wait_log(RELOAD_LOG, 2, Duration::from_secs(10));
    assert!(
        logs.contains("node.crt: no PEM certificate in it")
            && logs.contains("the running certificate is kept"),
        "{logs}"
    );
    assert!(node.is_running());
    assert_eq!(presented(&node, &trusted), second);
}
