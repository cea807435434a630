//! WHIP and WHEP against real `rtcdn` processes, with a plain HTTP/1.1 client and test peers
//! that run real ICE, DTLS and SRTP: a WHIP publish played over the WCS websocket and the other
//! way round, `DELETE` ending it for the players, every status code the endpoints answer, and
//! on an origin the WHEP redirect to an edge.

mod common;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use common::media::{join, peer_for_answer, pump_until, rtp_packet, MediaPeer};
use common::{ServerProcess, REPLY_TIMEOUT};
use control::sdp::{build_offer, parse_answer, Codec, OfferSpec};
use dataplane::dtls::DtlsCertificate;

const AUDIO_SSRC: u32 = 0x1111_0001;
const VIDEO_SSRC: u32 = 0x2222_0002;
/// How long an edge may take to be polled by its origin, or a relay to reach it.
const CONVERGE: Duration = Duration::from_secs(20);

/// One HTTP/1.1 exchange.
struct Http {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Http {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

fn http(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Http {
    let mut s = TcpStream::connect_timeout(&addr, REPLY_TIMEOUT).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    s.write_all(head.as_bytes()).unwrap();
    // A server may answer (413) before it has read a large body and close: not our concern.
    let _ = s.write_all(body);
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("incomplete response to {method} {path}: {raw:?}"));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .expect("status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Http {
        status,
        headers,
        body: body.to_owned(),
    }
}

fn post_sdp(addr: SocketAddr, path: &str, sdp: &str, extra: &[(&str, &str)]) -> Http {
    let mut headers = vec![("Content-Type", "application/sdp")];
    headers.extend_from_slice(extra);
    http(addr, "POST", path, &headers, sdp.as_bytes())
}

fn publish_spec(cert: &DtlsCertificate, ufrag: &str) -> OfferSpec {
    OfferSpec::publish(
        ufrag,
        "publisher-password-0123456789",
        cert.fingerprint(),
        Codec::vp8(96),
        AUDIO_SSRC,
        VIDEO_SSRC,
    )
}

fn play_spec(cert: &DtlsCertificate, ufrag: &str) -> OfferSpec {
    let mut spec = OfferSpec::play(ufrag, "player-password-0123456789", cert.fingerprint());
    spec.video.as_mut().unwrap().codecs = vec![Codec::vp8(100)];
    spec
}

/// A test peer that runs ICE/DTLS toward the answer of a 201.
fn peer_for(created: &Http, spec: &OfferSpec, cert: &DtlsCertificate) -> MediaPeer {
    assert_eq!(created.status, 201, "not created: {}", created.body);
    peer_for_answer(&created.body, spec, cert, Ipv4Addr::LOCALHOST.into()).0
}

/// The path of a 201's `Location` (absolute URL or path).
fn location_path(created: &Http) -> String {
    let loc = created.header("Location").expect("Location");
    match loc.split_once("://") {
        Some((_, rest)) => rest[rest.find('/').expect("a path")..].to_owned(),
        None => loc.to_owned(),
    }
}

/// Sends a keyframe start and some video and audio until `viewer` got video, or fails.
fn publish_until_received(publisher: &mut MediaPeer, viewer: &mut MediaPeer) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut n: u16 = 0;
    while viewer.rtp.is_empty() {
        assert!(Instant::now() < deadline, "the viewer got no media");
        let mut vp8 = if n.is_multiple_of(30) {
            vec![0x10, 0x00, 0x9d, 0x01, 0x2a]
        } else {
            vec![0x00, 0x01]
        };
        vp8.extend_from_slice(b"whip-video-payload");
        let v = rtp_packet(96, 1000 + n, 3000 * u32::from(n), VIDEO_SSRC, true, &vp8);
        let a = rtp_packet(
            111,
            5000 + n,
            960 * u32::from(n),
            AUDIO_SSRC,
            false,
            b"audio",
        );
        publisher.send_rtp(&v);
        publisher.send_rtp(&a);
        n = n.wrapping_add(1);
        pump_until(&mut [publisher, viewer], Duration::from_millis(20), |_| {
            false
        });
    }
}

fn connect(peers: &mut [&mut MediaPeer]) {
    let ok = pump_until(peers, Duration::from_secs(10), |ps| {
        ps.iter().all(|p| p.conn.is_connected())
    });
    assert!(ok, "ICE+DTLS did not complete");
}

#[test]
fn whip_publish_plays_over_the_websocket_and_delete_stops_the_players() {
    let server = ServerProcess::start(&[("codecs", "opus,vp8")]);
    let cert = DtlsCertificate::generate().unwrap();
    let spec = publish_spec(&cert, "whipufrg");
    let created = post_sdp(server.http_addr(), "/whip/cam1", &build_offer(&spec), &[]);
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.header("Content-Type"), Some("application/sdp"));
    assert_eq!(
        created.header("Accept-Patch"),
        Some("application/trickle-ice-sdpfrag")
    );
    let etag = created.header("ETag").expect("ETag").to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    let resource = location_path(&created);
    let id = resource
        .strip_prefix("/whip/session/")
        .expect("session path");
    assert_eq!(id.len(), 32, "128-bit session id: {id}");
    assert!(created
        .header("Location")
        .unwrap()
        .starts_with(&format!("http://{}/whip/session/", server.http_addr())));
    let mut publisher = peer_for(&created, &spec, &cert);

    // An SDK-style viewer over the websocket.
    let mut viewer = join(&server, "cam1", &play_spec(&cert, "wcsviewr"), &cert, false);
    connect(&mut [&mut publisher, &mut viewer.peer]);
    publish_until_received(&mut publisher, &mut viewer.peer);

    // The name is taken while the WHIP session lives.
    let again = post_sdp(
        server.http_addr(),
        "/whip/cam1",
        &build_offer(&publish_spec(&cert, "secondpb")),
        &[],
    );
    assert_eq!(
        (again.status, again.body.trim()),
        (409, "Stream name is already in use")
    );
    // A malformed offer is a 400 even for a taken name.
    let malformed = post_sdp(server.http_addr(), "/whip/cam1", "v=0\r\nnot sdp\r\n", &[]);
    assert_eq!(malformed.status, 400, "{}", malformed.body);
    assert!(
        malformed.body.starts_with("Invalid SDP"),
        "{}",
        malformed.body
    );

    // A trickle PATCH is taken; with a stale entity tag it is not; a restart is refused.
    let frag = "a=ice-ufrag:whipufrg\r\na=ice-pwd:publisher-password-0123456789\r\n\
                m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n\
                a=candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host\r\na=end-of-candidates\r\n";
    let frag_type = ("Content-Type", "application/trickle-ice-sdpfrag");
    let patch = |headers: &[(&str, &str)], body: &str| {
        http(
            server.http_addr(),
            "PATCH",
            &resource,
            headers,
            body.as_bytes(),
        )
    };
    assert_eq!(patch(&[frag_type, ("If-Match", &etag)], frag).status, 204);
    assert_eq!(patch(&[frag_type, ("If-Match", "*")], frag).status, 204);
    assert_eq!(patch(&[frag_type], frag).status, 204);
    assert_eq!(
        patch(&[frag_type, ("If-Match", "\"0000\"")], frag).status,
        412
    );
    let restart = "a=ice-ufrag:newufrag\r\na=ice-pwd:new-password-0123456789ab\r\n";
    let r = patch(&[frag_type, ("If-Match", "*")], restart);
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(
        patch(&[("Content-Type", "application/sdp")], frag).status,
        415
    );
    assert_eq!(patch(&[frag_type], "not sdp\r\n").status, 400);
    let options = http(server.http_addr(), "OPTIONS", &resource, &[], b"");
    assert_eq!(options.status, 204);
    assert_eq!(
        options.header("Accept-Patch"),
        Some("application/trickle-ice-sdpfrag")
    );

    // DELETE ends the publish: the websocket viewer gets STOPPED, the name is free again.
    let deleted = http(server.http_addr(), "DELETE", &resource, &[], b"");
    assert_eq!(deleted.status, 200);
    let id = viewer.negotiated.media_session_id.clone();
    let (status, info) = viewer
        .wcs
        .expect_status(&id, |s| s != "PLAYING", REPLY_TIMEOUT);
    assert_eq!(
        (status.as_str(), info.as_str()),
        ("STOPPED", "Stopped by publisher stop")
    );
    // A repeated DELETE (or one after the node ended the session) is still fine for a while.
    assert_eq!(
        http(server.http_addr(), "DELETE", &resource, &[], b"").status,
        200
    );
    assert_eq!(patch(&[frag_type], frag).status, 404);
    let mut free = post_sdp(
        server.http_addr(),
        "/whip/cam1",
        &build_offer(&publish_spec(&cert, "thirdpub")),
        &[],
    );
    for _ in 0..50 {
        if free.status == 201 {
            break;
        }
        thread::sleep(Duration::from_millis(100));
        free = post_sdp(
            server.http_addr(),
            "/whip/cam1",
            &build_offer(&publish_spec(&cert, "thirdpub")),
            &[],
        );
    }
    assert_eq!(free.status, 201, "{}", free.body);
}

#[test]
fn whep_plays_a_websocket_publish_and_waits_for_a_missing_one() {
    let server = ServerProcess::start(&[("codecs", "opus,vp8")]);
    let cert = DtlsCertificate::generate().unwrap();

    let missing = post_sdp(
        server.http_addr(),
        "/whep/cam2",
        &build_offer(&play_spec(&cert, "whepmiss")),
        &[],
    );
    assert_eq!(
        (missing.status, missing.body.trim()),
        (409, "Stream not found")
    );
    assert_eq!(missing.header("Retry-After"), Some("2"));

    let mut publisher = join(
        &server,
        "cam2",
        &publish_spec(&cert, "wcspubuf"),
        &cert,
        true,
    );
    let spec = play_spec(&cert, "wheppler");
    let created = post_sdp(server.http_addr(), "/whep/cam2", &build_offer(&spec), &[]);
    let mut viewer = peer_for(&created, &spec, &cert);
    let resource = location_path(&created);
    assert!(resource.starts_with("/whep/session/"), "{resource}");
    connect(&mut [&mut publisher.peer, &mut viewer]);
    publish_until_received(&mut publisher.peer, &mut viewer);
    let health: serde_json::Value = serde_json::from_str(&server.http_get("/health").1).unwrap();
    assert_eq!(health["players"], 1, "{health}");

    // A WHEP session is not a WHIP one.
    assert_eq!(
        http(
            server.http_addr(),
            "DELETE",
            &resource.replace("/whep/", "/whip/"),
            &[],
            b""
        )
        .status,
        404
    );
    assert_eq!(
        http(server.http_addr(), "DELETE", &resource, &[], b"").status,
        200
    );
    let deadline = Instant::now() + REPLY_TIMEOUT;
    loop {
        let health: serde_json::Value =
            serde_json::from_str(&server.http_get("/health").1).unwrap();
        if health["players"] == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the player was not freed: {health}"
        );
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn every_refusal_has_its_status_code() {
    let server = ServerProcess::start(&[
        ("codecs", "opus,vp8"),
        ("max_peers", "1"),
        (
            "ice_servers",
            "stun:stun.example.net:3478, turn:turn.example.net?transport=udp",
        ),
        ("ice_servers_username", "user"),
        ("ice_servers_credential", "pass"),
    ]);
    let addr = server.http_addr();
    let cert = DtlsCertificate::generate().unwrap();
    let offer = build_offer(&publish_spec(&cert, "statusuf"));

    // OPTIONS: what the endpoint takes and the ICE servers; a CORS preflight gets no Link.
    let options = http(addr, "OPTIONS", "/whip/s1", &[], b"");
    assert_eq!(options.status, 204);
    assert_eq!(options.header("Accept-Post"), Some("application/sdp"));
    assert_eq!(options.header("Access-Control-Allow-Origin"), Some("*"));
    assert_eq!(
        options.all("Link"),
        [
            "<stun:stun.example.net:3478>; rel=\"ice-server\"",
            "<turn:turn.example.net?transport=udp>; rel=\"ice-server\"; username=\"user\"; \
             credential=\"pass\"; credential-type=\"password\"",
        ]
    );
    let preflight = http(
        addr,
        "OPTIONS",
        "/whip/s1",
        &[
            ("Origin", "http://example.com"),
            ("Access-Control-Request-Method", "POST"),
        ],
        b"",
    );
    assert_eq!(preflight.status, 204);
    assert!(preflight
        .header("Access-Control-Allow-Headers")
        .unwrap()
        .contains("Authorization"));
    assert!(preflight.all("Link").is_empty());
    assert_eq!(
        preflight.header("Access-Control-Allow-Methods"),
        Some("POST, PATCH, DELETE, OPTIONS")
    );

    // Methods, paths and content.
    let get = http(addr, "GET", "/whip/s1", &[], b"");
    assert_eq!(
        (get.status, get.header("Allow")),
        (405, Some("POST, OPTIONS"))
    );
    assert_eq!(
        http(addr, "DELETE", "/whip/session/0123", &[], b"").status,
        404
    );
    assert_eq!(http(addr, "POST", "/whip/a/b/c", &[], b"").status, 404);
    let wrong_type = http(
        addr,
        "POST",
        "/whip/s1",
        &[("Content-Type", "text/plain")],
        offer.as_bytes(),
    );
    assert_eq!(wrong_type.status, 415);
    assert_eq!(wrong_type.header("Accept-Post"), Some("application/sdp"));
    let bad = post_sdp(addr, "/whip/s1", "v=0\r\nthis is not sdp\r\n", &[]);
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(bad.body.starts_with("Invalid SDP"), "{}", bad.body);
    let huge = format!(
        "{offer}{}",
        "a=x-padding:0123456789abcdef\r\n".repeat(10_000)
    );
    assert_eq!(post_sdp(addr, "/whip/s1", &huge, &[]).status, 413);
    let not_utf8 = http(
        addr,
        "POST",
        "/whip/s1",
        &[("Content-Type", "application/sdp")],
        &[0xff, 0xfe, 0x00],
    );
    assert_eq!(not_utf8.status, 400);

    // The node is full with one peer: 503 and when to come back.
    let first = post_sdp(addr, "/whip/s1", &offer, &[]);
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(first.all("Link").len(), 2, "ICE servers on the 201");
    let full = post_sdp(
        addr,
        "/whip/s2",
        &build_offer(&publish_spec(&cert, "statusu2")),
        &[],
    );
    assert_eq!(
        (full.status, full.header("Retry-After"), full.body.trim()),
        (503, Some("5"), "Server is full")
    );

    // Every answer is counted by protocol, method and status; the live session is a gauge.
    let metrics = server.http_get("/metrics").1;
    for line in [
        "rtcdn_whip_answers_total{protocol=\"whip\",method=\"POST\",status=\"201\"} 1",
        "rtcdn_whip_answers_total{protocol=\"whip\",method=\"POST\",status=\"415\"} 1",
        "rtcdn_whip_answers_total{protocol=\"whip\",method=\"POST\",status=\"503\"} 1",
        "rtcdn_whip_answers_total{protocol=\"whip\",method=\"OPTIONS\",status=\"204\"} 2",
        "rtcdn_whip_answers_total{protocol=\"whip\",method=\"GET\",status=\"405\"} 1",
        "rtcdn_whip_sessions 1",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in\n{metrics}");
    }
}

#[test]
fn tokens_and_allowed_publishers() {
    let server = ServerProcess::start(&[
        ("codecs", "opus,vp8"),
        ("whip_token", "s3cret-whip"),
        ("whep_token", "s3cret-whep"),
    ]);
    let addr = server.http_addr();
    let cert = DtlsCertificate::generate().unwrap();
    let offer = build_offer(&publish_spec(&cert, "tokenpub"));
    for auth in [
        None,
        Some("Bearer wrong"),
        Some("Basic s3cret-whip"),
        Some("Bearer s3cret-whep"),
    ] {
        let headers: Vec<(&str, &str)> = auth.map(|a| ("Authorization", a)).into_iter().collect();
        let r = post_sdp(addr, "/whip/t1", &offer, &headers);
        assert_eq!(r.status, 401, "{auth:?}");
        assert_eq!(r.header("WWW-Authenticate"), Some("Bearer realm=\"rtcdn\""));
    }
    let ok = post_sdp(
        addr,
        "/whip/t1",
        &offer,
        &[("Authorization", "Bearer s3cret-whip")],
    );
    assert_eq!(ok.status, 201, "{}", ok.body);
    let resource = location_path(&ok);
    let whep = build_offer(&play_spec(&cert, "tokenply"));
    assert_eq!(post_sdp(addr, "/whep/t1", &whep, &[]).status, 401);
    let played = post_sdp(
        addr,
        "/whep/t1",
        &whep,
        &[("Authorization", "Bearer s3cret-whep")],
    );
    assert_eq!(played.status, 201, "{}", played.body);
    // The session's resource asks for the token too.
    assert_eq!(http(addr, "DELETE", &resource, &[], b"").status, 401);
    assert_eq!(
        http(
            addr,
            "DELETE",
            &resource,
            &[("Authorization", "Bearer s3cret-whip")],
            b""
        )
        .status,
        200
    );

    // An edge that takes publishes only from its origins refuses a WHIP publisher too.
    let edge = ServerProcess::start(&[("cdn_allowed_ips", "192.0.2.1")]);
    let refused = post_sdp(edge.http_addr(), "/whip/t2", &offer, &[]);
    assert_eq!(
        (refused.status, refused.body.trim()),
        (403, "Restricted access")
    );
}

/// An edge with `edge_props` and an origin with `origin_props` relaying to it over WebRTC, and
/// a WHIP publisher of `path` on the origin (connected).
fn cdn_with_whip_publisher(
    edge_props: &[(&str, &str)],
    origin_props: &[(&str, &str)],
    path: &str,
    cert: &DtlsCertificate,
) -> (ServerProcess, ServerProcess, MediaPeer) {
    let edge = ServerProcess::start(edge_props);
    let xml = common::loadbalancing_xml(&[&edge], "webrtc");
    let mut props = vec![("load_balancing_enabled", "true")];
    props.extend_from_slice(origin_props);
    let origin = ServerProcess::start_with_files(&props, &[("loadbalancing.xml", &xml)]);
    let spec = publish_spec(cert, "originpb");
    let created = post_sdp(origin.http_addr(), path, &build_offer(&spec), &[]);
    let mut publisher = peer_for(&created, &spec, cert);
    connect(&mut [&mut publisher]);
    (edge, origin, publisher)
}

/// Posts `offer` to `path` on `addr` until `done` takes the answer's status (keeping the
/// publisher's session alive in between), at most until `deadline`; returns that answer.
fn post_until(
    (addr, path, offer, headers): (SocketAddr, &str, &str, &[(&str, &str)]),
    done: impl Fn(u16) -> bool,
    publisher: &mut MediaPeer,
    deadline: Instant,
) -> Http {
    loop {
        let r = post_sdp(addr, path, offer, headers);
        if done(r.status) {
            return r;
        }
        assert!(
            Instant::now() < deadline,
            "{path}: still {} at the deadline: {}",
            r.status,
            r.body
        );
        pump_until(&mut [publisher], Duration::from_millis(100), |_| false);
    }
}

#[test]
fn whep_on_an_origin_is_redirected_to_an_edge() {
    // Both nodes ask for the same WHEP token: the origin checks it, the edge takes the ticket
    // of the redirect instead (browsers drop Authorization on a redirect to another origin).
    let cert = DtlsCertificate::generate().unwrap();
    let props = [("codecs", "opus,vp8"), ("whep_token", "play-secret")];
    let (edge, origin, mut publisher) =
        cdn_with_whip_publisher(&props, &props, "/whip/live%201", &cert);

    // The origin redirects once it has polled its edge.
    let spec = play_spec(&cert, "edgeplay");
    let offer = build_offer(&spec);
    let bearer = [("Authorization", "Bearer play-secret")];
    assert_eq!(
        post_sdp(origin.http_addr(), "/whep/live%201", &offer, &[]).status,
        401,
        "the origin checks the token before it redirects"
    );
    let deadline = Instant::now() + CONVERGE;
    let request = (
        origin.http_addr(),
        "/whep/live%201",
        offer.as_str(),
        &bearer[..],
    );
    let redirect = post_until(request, |s| s == 307, &mut publisher, deadline);
    let location = redirect.header("Location").unwrap().to_owned();
    let prefix = format!("http://{}/whep/live%201?ticket=", edge.http_addr());
    assert!(location.starts_with(&prefix), "{location}");
    let edge_path = &location[location.find("/whep/").unwrap()..];
    let direct = post_sdp(
        origin.http_addr(),
        "/whep/live%201?direct=1",
        &offer,
        &bearer,
    );
    assert_eq!(
        direct.status, 201,
        "?direct=1 plays on the origin: {}",
        direct.body
    );

    // The ticket is for that name only; without it the edge asks for the token.
    let spec = play_spec(&cert, "edgeply2");
    let offer = build_offer(&spec);
    let ticket = &edge_path[edge_path.find("?ticket=").unwrap()..];
    let other = post_sdp(
        edge.http_addr(),
        &format!("/whep/other{ticket}"),
        &offer,
        &[],
    );
    assert_eq!(other.status, 401);
    assert_eq!(
        post_sdp(edge.http_addr(), "/whep/live%201", &offer, &[]).status,
        401
    );
    // The edge plays once the relay is there, with the ticket and no Authorization.
    let request = (edge.http_addr(), edge_path, offer.as_str(), &[][..]);
    let created = post_until(request, |s| s != 409, &mut publisher, deadline);
    assert_eq!(created.status, 201, "{}", created.body);
    assert!(created
        .header("Location")
        .unwrap()
        .starts_with(&format!("http://{}/whep/session/", edge.http_addr())));
    let mut viewer = peer_for(&created, &spec, &cert);
    connect(&mut [&mut publisher, &mut viewer]);
    publish_until_received(&mut publisher, &mut viewer);
    let edge_health: serde_json::Value = serde_json::from_str(&edge.http_get("/health").1).unwrap();
    assert_eq!(edge_health["players"], 1, "{edge_health}");
}

#[test]
fn rest_hooks_authorize_whip_and_whep_with_the_bearer_token() {
    use common::backend::{Backend, Rules};
    let backend = Backend::start(Rules {
        token: Some("good".into()),
        deny_publish: vec!["denied".into()],
        deny_play: vec!["hidden".into()],
        ..Default::default()
    });
    let url = backend.url("liveApp");
    let server = ServerProcess::start(&[("rest_hook_url", url.as_str())]);
    let addr = server.http_addr();
    let chrome = common::fixture("chrome_publish_offer.sdp");
    let bearer = [("Authorization", "Bearer good")];

    // The backend refuses a session without the token, or with another one.
    let none = post_sdp(addr, "/whip/hooked", &chrome, &[]);
    assert_eq!((none.status, none.body.trim()), (403, "Wrong credentials"));
    let wrong = post_sdp(
        addr,
        "/whip/hooked",
        &chrome,
        &[("Authorization", "Bearer bad")],
    );
    assert_eq!(wrong.status, 403);

    // With the token: the backend saw it in connect's custom, and the publish.
    let ok = post_sdp(addr, "/whip/hooked", &chrome, &bearer);
    assert_eq!(ok.status, 201, "{}", ok.body);
    let c = backend.wait_for("connect", REPLY_TIMEOUT, |c| c["custom"]["token"] == "good");
    assert_eq!(c["custom"]["rtcdnProtocol"], "whip");
    let p = backend.wait_for("publishStream", REPLY_TIMEOUT, |p| p["name"] == "hooked");
    assert_eq!(
        (&p["hasAudio"], &p["hasVideo"]),
        (&true.into(), &true.into())
    );

    // A refused publish and play: the backend's 403.
    let denied = post_sdp(addr, "/whip/denied", &chrome, &bearer);
    assert_eq!(denied.status, 403, "{}", denied.body);
    let play = common::fixture("chrome_play_offer.sdp");
    let played = post_sdp(addr, "/whep/hooked", &play, &bearer);
    assert_eq!(played.status, 201, "{}", played.body);
    backend.wait_for("playStream", REPLY_TIMEOUT, |p| p["name"] == "hooked");
    let _hidden = post_sdp(addr, "/whip/hidden", &chrome, &bearer);
    let refused = post_sdp(addr, "/whep/hidden", &play, &bearer);
    assert_eq!(refused.status, 403, "{}", refused.body);
}

#[test]
fn whep_redirect_carries_the_bearer_token_to_the_edge_backend() {
    // No static token: the edge's backend decides, and needs the player's token, which the
    // browser drops on the 307. The nodes share cdn_relay_secret: the ticket carries it sealed.
    use common::backend::{Backend, Rules};
    let backend = Backend::start(Rules::default());
    let url = backend.url("edgeApp");
    let cert = DtlsCertificate::generate().unwrap();
    let edge_props = [
        ("codecs", "opus,vp8"),
        ("rest_hook_url", url.as_str()),
        ("cdn_relay_secret", "relay-key"),
    ];
    let origin_props = [("codecs", "opus,vp8"), ("cdn_relay_secret", "relay-key")];
    let (edge, origin, mut publisher) =
        cdn_with_whip_publisher(&edge_props, &origin_props, "/whip/tv", &cert);

    let spec = play_spec(&cert, "tokenply");
    let offer = build_offer(&spec);
    let bearer = [("Authorization", "Bearer viewer-token-7")];
    let deadline = Instant::now() + CONVERGE;
    let request = (origin.http_addr(), "/whep/tv", offer.as_str(), &bearer[..]);
    let redirect = post_until(request, |s| s == 307, &mut publisher, deadline);
    let location = redirect.header("Location").unwrap().to_owned();
    assert!(location.contains("?ticket="), "{location}");
    assert!(
        !location.contains("viewer-token-7"),
        "the token is sealed: {location}"
    );
    let edge_path = &location[location.find("/whep/").unwrap()..];

    // Followed without Authorization, as a browser does: the edge's backend gets the token.
    let request = (edge.http_addr(), edge_path, offer.as_str(), &[][..]);
    let created = post_until(request, |s| s != 409, &mut publisher, deadline);
    assert_eq!(created.status, 201, "{}", created.body);
    let c = backend.wait_for("connect", REPLY_TIMEOUT, |c| {
        c["custom"]["rtcdnProtocol"] == "whep"
    });
    assert_eq!(c["custom"]["token"], "viewer-token-7", "{c}");
    backend.wait_for("playStream", REPLY_TIMEOUT, |p| p["name"] == "tv");
    let mut viewer = peer_for(&created, &spec, &cert);
    connect(&mut [&mut publisher, &mut viewer]);
    publish_until_received(&mut publisher, &mut viewer);

    // A node with another secret opens no ticket: the backend is asked without a token.
    let stranger = ServerProcess::start(&[
        ("codecs", "opus,vp8"),
        ("rest_hook_url", url.as_str()),
        ("cdn_relay_secret", "another-key"),
    ]);
    let with_token = || {
        backend
            .calls_of("connect")
            .iter()
            .filter(|c| c.body["custom"]["token"] == "viewer-token-7")
            .count()
    };
    let before = (with_token(), backend.calls_of("connect").len());
    let spec = play_spec(&cert, "strangep");
    let r = post_sdp(stranger.http_addr(), edge_path, &build_offer(&spec), &[]);
    assert_eq!(r.status, 409, "no stream there: {}", r.body);
    assert_eq!(with_token(), before.0, "the token stayed sealed");
    assert!(
        backend.calls_of("connect").len() > before.1,
        "the stranger asked its backend"
    );
}

#[test]
fn browser_offers_are_answered_simulcast_included() {
    let server = ServerProcess::start(&[]);
    let addr = server.http_addr();
    for (i, fixture) in [
        "chrome_publish_offer.sdp",
        "firefox_publish_offer.sdp",
        "chrome_simulcast_offer.sdp",
    ]
    .iter()
    .enumerate()
    {
        let r = post_sdp(addr, &format!("/whip/b{i}"), &common::fixture(fixture), &[]);
        assert_eq!(r.status, 201, "{fixture}: {}", r.body);
        let answer = parse_answer(&r.body).expect("the answer parses");
        assert!(answer.video.is_some(), "{fixture}: video answered");
        if fixture.contains("simulcast") {
            assert!(
                r.body.contains("a=simulcast:recv"),
                "simulcast is answered: {}",
                r.body
            );
        }
    }
    let r = post_sdp(
        addr,
        "/whep/b2",
        &common::fixture("chrome_play_offer.sdp"),
        &[],
    );
    assert_eq!(r.status, 201, "{}", r.body);
}
