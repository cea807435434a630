//! Static CDN with `stream_distribution="rtp"`, as real processes on loopback: plain RTP from
//! origin to edge, authorised by `cdn_relay_secret`.
//!
//! - One origin and three edges: the two edges sharing the origin's secret serve every packet
//!   byte-exact and stop their players on unpublish; the edge with a wrong secret refuses the
//!   relay (no stream appears there) without disturbing the others.
//! - The test itself plays the origin toward one edge: a publish with a wrong or missing secret
//!   is FAILED "Restricted access"; with the right one, media is accepted only from the
//!   announced source address (a spoofed datagram with the relayed SSRC from another address
//!   reaches no player), keyframe requests come back to the source, and a source that goes
//!   silent for the consent timeout ends the stream and frees the name.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use common::media::{join, parse_rtp, pump_until, rtcp_packets, Joined, MediaPeer};
use common::source::{assert_byte_exact, check_byte_exact, Source};
use common::{ServerProcess, WcsClient, REPLY_TIMEOUT};
use control::sdp::{build_offer, parse_answer, OfferSpec};
use control::wcs::client::{self, ServerEvent, StreamDesc};
use dataplane::dtls::DtlsCertificate;
use serde_json::{json, Value};

const AUDIO_SSRC: u32 = 0x5555_5555;
const VIDEO_SSRC: u32 = 0x6666_6666;
const STREAM: &str = "rtp-cam";
const SECRET: &str = "shared-relay-secret";
/// How long an origin may take to relay a stream to an edge.
const RELAY_WAIT: Duration = Duration::from_secs(30);

fn edge_props(secret: &str) -> Vec<(&'static str, String)> {
    vec![
        ("codecs", "opus,vp8,h264".to_owned()),
        ("cdn_relay_secret", secret.to_owned()),
    ]
}

fn start_edge(secret: &str, extra: &[(&str, &str)]) -> ServerProcess {
    let props = edge_props(secret);
    let mut all: Vec<(&str, &str)> = props.iter().map(|(k, v)| (*k, v.as_str())).collect();
    all.extend_from_slice(extra);
    ServerProcess::start(&all)
}

fn start_origin(edges: &[&ServerProcess]) -> ServerProcess {
    let xml = common::loadbalancing_xml(edges, "rtp");
    ServerProcess::start_with_files(
        &[
            ("load_balancing_enabled", "true"),
            ("codecs", "opus,vp8,h264"),
            ("cdn_relay_secret", SECRET),
        ],
        &[("loadbalancing.xml", &xml)],
    )
}

fn player(edge: &ServerProcess, i: usize, cert: &DtlsCertificate) -> Joined {
    let spec = OfferSpec::play(
        &format!("play{i}ufr"),
        &format!("player{i}-password-0123456789"),
        cert.fingerprint(),
    );
    join(edge, STREAM, &spec, cert, false)
}

fn connect_all(peers: &mut [&mut MediaPeer]) {
    let ok = pump_until(peers, Duration::from_secs(10), |ps| {
        ps.iter().all(|p| p.conn.is_connected())
    });
    assert!(ok, "ICE+DTLS of the test peers did not complete");
}

/// `availableStream` of `STREAM` on `server`.
fn available(server: &ServerProcess) -> bool {
    let mut wcs = WcsClient::connect(&server.ws_url());
    wcs.create_session();
    wcs.is_available(STREAM)
}

/// Video payloads a player received, and every payload (video and audio).
fn payloads(player: &Joined) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let video_pt = player.answer.video.as_ref().map(|v| v.codec.payload_type);
    let mut video = Vec::new();
    let mut all = Vec::new();
    for p in &player.peer.rtp {
        let rtp = parse_rtp(p);
        if Some(rtp.pt) == video_pt {
            video.push(rtp.payload.clone());
        }
        all.push(rtp.payload);
    }
    (video, all)
}

#[test]
fn origin_relays_plain_rtp_to_edges_sharing_the_secret_only() {
    let edges = [
        start_edge(SECRET, &[]),
        start_edge(SECRET, &[]),
        start_edge("not-the-secret", &[]),
    ];
    let origin = start_origin(&[&edges[0], &edges[1], &edges[2]]);
    let cert = DtlsCertificate::generate().expect("client certificate");
    let mut source = Source::new("warm", AUDIO_SSRC, VIDEO_SSRC);
    let mut publisher = join(&origin, STREAM, &source.publish_spec(&cert), &cert, true);
    connect_all(&mut [&mut publisher.peer]);

    // Both good edges get the stream.
    let deadline = Instant::now() + RELAY_WAIT;
    while !(available(&edges[0]) && available(&edges[1])) {
        assert!(
            Instant::now() < deadline,
            "not relayed within {RELAY_WAIT:?}"
        );
        source.send(&mut publisher.peer);
        pump_until(
            &mut [&mut publisher.peer],
            Duration::from_millis(100),
            |_| false,
        );
    }
    let mut players: Vec<Joined> = (0..2).map(|i| player(&edges[i], i, &cert)).collect();
    {
        let mut all: Vec<&mut MediaPeer> = players.iter_mut().map(|p| &mut p.peer).collect();
        all.push(&mut publisher.peer);
        connect_all(&mut all);
    }
    // Warm up until both players show video (they start at a keyframe).
    let deadline = Instant::now() + Duration::from_secs(10);
    while !players.iter().all(|p| !payloads(p).0.is_empty()) {
        assert!(Instant::now() < deadline, "no video on the edges' players");
        source.send(&mut publisher.peer);
        publisher.peer.pump();
        for p in &mut players {
            p.peer.pump();
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut source = source.retagged("live");
    let mut refs: Vec<&mut Joined> = players.iter_mut().collect();
    check_byte_exact(&mut publisher, &mut refs, &mut source, 150);

    // The edge with the wrong secret refused every attempt: no stream, players get not found.
    assert!(
        !available(&edges[2]),
        "the wrong-secret edge must not have the stream"
    );
    let mut wcs = WcsClient::connect(&edges[2].ws_url());
    wcs.create_session();
    let spec = OfferSpec::play(
        "badeufrg",
        "bad-edge-player-password-01",
        cert.fingerprint(),
    );
    let refused = wcs.play(STREAM, &build_offer(&spec));
    assert_eq!(refused.err().as_deref(), Some("Stream not found"));

    // Only the two good legs are routes.
    let (code, body) = origin.http_get("/rest-api/cdn/show_routes");
    assert_eq!(code, 200, "{body}");
    let routes: Value = serde_json::from_str(&body).expect("show_routes is JSON");
    assert_eq!(routes.as_object().map(|r| r.len()), Some(2), "{body}");

    let negotiated = publisher.negotiated.clone();
    let (status, _) = publisher.wcs.unpublish(&negotiated);
    assert_eq!(status, "UNPUBLISHED");
    for (i, p) in players.iter_mut().enumerate() {
        let id = p.negotiated.media_session_id.clone();
        let (status, info) = p
            .wcs
            .expect_status(&id, |s| s != "PLAYING", Duration::from_secs(10));
        assert_eq!(
            (status.as_str(), info.as_str()),
            ("STOPPED", "Stopped by publisher stop"),
            "edge {i} player"
        );
    }
}

/// Sends an rtp relay `publishStream` as an origin would; returns the mediaSessionId.
fn relay_publish(wcs: &mut WcsClient, marker: Value, cert: &DtlsCertificate) -> String {
    let id = common::unique_id();
    let offer = build_offer(&Source::new("relay", AUDIO_SSRC, VIDEO_SSRC).publish_spec(cert));
    let custom = json!({"rtcdnRelay": marker});
    wcs.send_raw(&client::publish_stream(
        &StreamDesc::av(&id, STREAM),
        &offer,
        Some(&custom),
    ));
    id
}

/// Waits for the outcome of a relay publish: the answer's candidate, or the FAILED info.
fn relay_outcome(wcs: &mut WcsClient, id: &str) -> Result<SocketAddr, String> {
    let deadline = Instant::now() + REPLY_TIMEOUT;
    let mut answer = None;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let value = wcs
            .recv_timeout(left)
            .expect("a reply to the relay publish");
        match client::parse_server_value(&value) {
            Ok(ServerEvent::RemoteSdp {
                media_session_id,
                sdp,
            }) if media_session_id == id => {
                let parsed = parse_answer(&sdp).expect("answer parses");
                answer = Some(*parsed.candidates.first().expect("a candidate"));
            }
            Ok(ServerEvent::StreamStatus(st)) if st.media_session_id == id => {
                match st.status.as_str() {
                    "PUBLISHING" => return Ok(answer.expect("setRemoteSDP before PUBLISHING")),
                    "FAILED" => return Err(st.info),
                    _ => {}
                }
            }
            _ => {}
        }
    }
}

#[test]
fn edge_takes_relay_media_only_from_the_announced_source_with_the_secret() {
    let edge = start_edge(SECRET, &[("ice_consent_timeout", "3000")]);
    let cert = DtlsCertificate::generate().expect("certificate");
    let src = UdpSocket::bind("127.0.0.1:0").expect("source socket");
    src.set_nonblocking(true).expect("nonblocking");
    let src_addr = src.local_addr().expect("source address");
    let mut wcs = WcsClient::connect(&edge.ws_url());
    wcs.create_session();

    // Wrong, missing and malformed markers are refused, and nothing is published.
    let bad = [
        json!({"distribution": "rtp", "secret": "guess", "source": src_addr.to_string()}),
        json!({"distribution": "rtp", "source": src_addr.to_string()}),
        json!({"distribution": "rtp", "secret": SECRET, "source": "not an address"}),
        json!(true),
    ];
    for marker in bad {
        let id = relay_publish(&mut wcs, marker.clone(), &cert);
        let outcome = relay_outcome(&mut wcs, &id);
        assert_eq!(outcome, Err("Restricted access".to_owned()), "{marker}");
    }
    assert!(!available(&edge));

    let marker = json!({"distribution": "rtp", "secret": SECRET, "source": src_addr.to_string()});
    let id = relay_publish(&mut wcs, marker, &cert);
    let media_addr = relay_outcome(&mut wcs, &id).expect("relay accepted with the secret");
    assert!(available(&edge));

    let mut viewer = player(&edge, 0, &cert);
    connect_all(&mut [&mut viewer.peer]);
    // Spoofers: another port on the same IP, and the source's port on another loopback IP.
    let spoofers = [
        UdpSocket::bind("127.0.0.1:0").expect("spoofer"),
        UdpSocket::bind(SocketAddr::new([127, 0, 0, 2].into(), src_addr.port())).expect("spoofer"),
    ];
    let mut source = Source::new("warm", AUDIO_SSRC, VIDEO_SSRC);
    let deadline = Instant::now() + Duration::from_secs(10);
    while payloads(&viewer).0.is_empty() {
        assert!(Instant::now() < deadline, "no video from the plain source");
        for p in source.next().0 {
            src.send_to(&p, media_addr).expect("send");
        }
        pump_until(&mut [&mut viewer.peer], Duration::from_millis(10), |_| {
            false
        });
    }
    pump_until(&mut [&mut viewer.peer], Duration::from_millis(300), |_| {
        false
    });
    viewer.peer.rtp.clear();

    let mut live = source.retagged("live");
    let mut spoof = source.retagged("spoof");
    let mut sent = Vec::new();
    for _ in 0..100 {
        let (packets, payload) = live.next();
        for p in packets {
            src.send_to(&p, media_addr).expect("send");
        }
        sent.push(payload);
        for s in &spoofers {
            for p in spoof.next().0 {
                s.send_to(&p, media_addr).expect("send spoof");
            }
        }
        viewer.peer.pump();
        std::thread::sleep(Duration::from_millis(2));
    }
    let want = 2 * sent.len();
    pump_until(&mut [&mut viewer.peer], Duration::from_secs(5), |ps| {
        ps[0].rtp.len() >= want
    });
    pump_until(&mut [&mut viewer.peer], Duration::from_millis(300), |_| {
        false
    });
    let (_, all) = payloads(&viewer);
    assert!(
        !all.iter().any(|p| p.windows(5).any(|w| w == b"spoof")),
        "a datagram from another address reached the player"
    );
    assert_byte_exact(0, &viewer, &sent);

    // Keyframe requests and receiver reports come back, plain, to the announced source.
    let mut buf = [0u8; 2048];
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut feedback = Vec::new();
    while Instant::now() < deadline && !feedback.iter().any(|&(pt, fmt)| pt == 206 && fmt == 1) {
        viewer.peer.pump();
        while let Ok((len, from)) = src.recv_from(&mut buf) {
            assert_eq!(from, media_addr, "feedback from the edge's media address");
            feedback.extend(
                rtcp_packets(&buf[..len])
                    .into_iter()
                    .map(|(pt, f, _)| (pt, f)),
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        feedback.iter().any(|&(pt, fmt)| pt == 206 && fmt == 1),
        "no plain PLI from the edge: {feedback:?}"
    );

    // The source goes silent (the player keeps its own ICE consent alive): after the consent
    // timeout the edge ends the stream and stops its player.
    let viewer_id = viewer.negotiated.media_session_id.clone();
    let mut publisher_end = None;
    let mut viewer_end = None;
    let deadline = Instant::now() + Duration::from_secs(10);
    while (publisher_end.is_none() || viewer_end.is_none()) && Instant::now() < deadline {
        viewer.peer.pump();
        if let Some(v) = wcs.recv_timeout(Duration::from_millis(10)) {
            publisher_end = publisher_end.or(common::stream_status(&v, &id));
        }
        if let Some(v) = viewer.wcs.recv_timeout(Duration::from_millis(10)) {
            viewer_end = viewer_end.or(common::stream_status(&v, &viewer_id));
        }
    }
    let ended = |s: Option<(String, String)>| s.map(|(a, b)| format!("{a}/{b}"));
    assert_eq!(
        ended(publisher_end).as_deref(),
        Some("FAILED/Failed by ICE keep alive")
    );
    assert_eq!(
        ended(viewer_end).as_deref(),
        Some("STOPPED/Stopped by publisher stop")
    );
    assert!(!available(&edge), "the name is free again");
}
