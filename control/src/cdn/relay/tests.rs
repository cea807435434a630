//! Relay legs driven with a virtual clock; the edge's answers come from the real answerer.

use super::*;
use crate::config::VideoCodec;
use crate::sdp::{answer_publish, parse_offer, LocalTransport, NegotiatedCodec};
use dataplane::api::{LayerSpec, MediaKind, RtxSpec, REPAIRED_RID_URI, RID_URI};
use serde_json::Value;

const STREAM: StreamId = StreamId(7);

fn fingerprint(byte: u8) -> Fingerprint {
    Fingerprint {
        algorithm: "sha-256".into(),
        digest: vec![byte; 32],
    }
}

fn node(id: &str, ws: u16) -> NodeConfig {
    NodeConfig {
        id: id.into(),
        host: "127.0.0.1".into(),
        ws,
        wss: 8443,
        http: ws,
        line: 1,
    }
}

fn media() -> PublishedMedia {
    PublishedMedia {
        audio: Some(NegotiatedCodec {
            name: "opus".into(),
            payload_type: 111,
            clock_rate: 48_000,
            channels: Some(2),
            fmtp: Some("minptime=10;useinbandfec=1".into()),
            extensions: vec![(1, "urn:ietf:params:rtp-hdrext:ssrc-audio-level".into())],
        }),
        video: Some(NegotiatedCodec {
            name: "VP8".into(),
            payload_type: 96,
            clock_rate: 90_000,
            channels: None,
            fmtp: None,
            extensions: vec![(
                2,
                "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time".into(),
            )],
        }),
        layers: Vec::new(),
    }
}

fn relays(nodes: usize) -> Relays {
    let nodes = (0..nodes)
        .map(|i| node(&format!("n{i}"), 9000 + i as u16))
        .collect();
    Relays::new(nodes, fingerprint(0xAB))
}

fn drain(r: &mut Relays) -> Vec<RelayOutput> {
    std::iter::from_fn(|| r.poll_output()).collect()
}

fn sent(out: &[RelayOutput], conn: RelayConnId) -> Vec<Value> {
    out.iter()
        .filter_map(|o| match o {
            RelayOutput::Send { conn: c, text } if *c == conn => {
                Some(serde_json::from_str(text).unwrap())
            }
            _ => None,
        })
        .collect()
}

fn connects(out: &[RelayOutput]) -> Vec<(RelayConnId, String)> {
    out.iter()
        .filter_map(|o| match o {
            RelayOutput::Connect { conn, url } => Some((*conn, url.clone())),
            _ => None,
        })
        .collect()
}

fn msg(name: &str, data: Value) -> String {
    json!({"message": name, "data": data}).to_string()
}

/// The edge's answer to our `publishStream` and its tracks, from the real answerer.
fn edge_negotiated(offer_sdp: &str) -> sdp::Negotiated {
    let local = LocalTransport {
        ufrag: "edgeufrg".into(),
        pwd: "edge-password-0123456789".into(),
        fingerprint: fingerprint(0xCD),
        candidate: "127.0.0.1:40000".parse().unwrap(),
    };
    let offer = parse_offer(offer_sdp).unwrap();
    answer_publish(&offer, &[VideoCodec::Vp8, VideoCodec::H264], &local).unwrap()
}

/// What the edge answers to our `publishStream`.
fn edge_answer(offer_sdp: &str) -> String {
    edge_negotiated(offer_sdp).answer
}

struct Signalled {
    id: String,
    offer: String,
    peer: RelayPeer,
}

/// Opens `conn` and runs the edge's side up to `setRemoteSDP`: returns the relay peer.
fn signal(r: &mut Relays, now: Instant, conn: RelayConnId) -> Signalled {
    r.handle_open(now, conn);
    let out = drain(r);
    let hello = sent(&out, conn);
    assert_eq!(hello.len(), 1, "{out:?}");
    assert_eq!(hello[0]["message"], "connection");
    assert_eq!(hello[0]["data"][0]["appKey"], "defaultApp");
    assert_eq!(hello[0]["data"][0]["custom"]["rtcdnRelay"], true);
    r.handle_text(
        now,
        conn,
        &msg("getUserData", json!([{"sessionId": "/x/y"}])),
    );
    let out = drain(r);
    let publish = sent(&out, conn);
    assert_eq!(publish.len(), 1, "{out:?}");
    assert_eq!(publish[0]["message"], "publishStream");
    let p = &publish[0]["data"][0];
    assert_eq!(p["name"], "cam");
    assert_eq!(p["published"], true);
    assert_eq!(p["status"], "PENDING");
    let id = p["mediaSessionId"].as_str().unwrap().to_owned();
    let offer = p["sdp"].as_str().unwrap().to_owned();
    r.handle_text(
        now,
        conn,
        &msg("setRemoteSDP", json!([id, edge_answer(&offer)])),
    );
    let out = drain(r);
    let [RelayOutput::AddPeer(peer)] = out.as_slice() else {
        panic!("expected AddPeer: {out:?}");
    };
    Signalled {
        id,
        offer,
        peer: (**peer).clone(),
    }
}

/// One relay (one node) with the stream started and its leg signalled up to `AddPeer`.
fn signalled_leg() -> (Relays, Instant, RelayConnId, Signalled) {
    let mut r = relays(1);
    let now = Instant::now();
    r.stream_started(now, STREAM, "cam", &media());
    let conn = connects(&drain(&mut r))[0].0;
    let s = signal(&mut r, now, conn);
    (r, now, conn, s)
}

fn publishing(r: &mut Relays, now: Instant, conn: RelayConnId, id: &str) {
    let status = json!([{"mediaSessionId": id, "name": "cam", "status": "PUBLISHING", "info": ""}]);
    r.handle_text(now, conn, &msg("notifyStreamStatusEvent", status));
    assert!(drain(r).is_empty());
}

#[test]
fn leg_publishes_our_offer_and_starts_a_peer_with_the_answer() {
    let mut r = relays(2);
    let now = Instant::now();
    r.stream_started(now, STREAM, "cam", &media());
    let c = connects(&drain(&mut r));
    assert_eq!(
        c.iter().map(|(_, u)| u.as_str()).collect::<Vec<_>>(),
        ["ws://127.0.0.1:9000/", "ws://127.0.0.1:9001/"]
    );
    let s = signal(&mut r, now, c[0].0);

    // The offer carries the publisher's codecs, PTs, fmtp and extension ids, sendonly.
    let offer = parse_offer(&s.offer).unwrap();
    let audio = &offer.sections[0];
    assert_eq!(audio.codecs[0].name, "opus");
    assert_eq!(audio.codecs[0].payload_type, 111);
    assert_eq!(
        audio.codecs[0].fmtp.as_deref(),
        Some("minptime=10;useinbandfec=1")
    );
    assert_eq!(audio.extmaps[0].id, 1);
    let video = &offer.sections[1];
    assert_eq!(
        (video.codecs[0].name.as_str(), video.codecs[0].payload_type),
        ("VP8", 96)
    );
    assert!(video.direction.sends() && !video.direction.receives());

    let p = &s.peer;
    assert!(is_relay_peer(p.id));
    assert_eq!(p.stream, STREAM);
    assert_eq!(p.remote, "127.0.0.1:40000".parse::<SocketAddr>().unwrap());
    assert_eq!(
        (p.remote_ufrag.as_str(), p.remote_pwd.as_str()),
        ("edgeufrg", "edge-password-0123456789")
    );
    assert_eq!(p.remote_fingerprint, fingerprint(0xCD));
    assert_eq!((p.local_ufrag.len(), p.local_pwd.len()), (8, 24));
    assert_eq!(
        offer.sections[0].ufrag.as_deref(),
        Some(p.local_ufrag.as_str())
    );
    assert_eq!(offer.sections[0].pwd.as_deref(), Some(p.local_pwd.as_str()));
    let kinds: Vec<(MediaKind, u8, Option<u32>)> = p
        .tracks
        .iter()
        .map(|t| (t.kind, t.payload_type, t.ssrc))
        .collect();
    assert_eq!(
        kinds,
        [
            (MediaKind::Audio, 111, audio.primary_ssrc()),
            (MediaKind::Video, 96, video.primary_ssrc())
        ]
    );
    assert!(p.tracks.iter().all(|t| t.ssrc.is_some()));
    assert_eq!(p.tracks[1].extensions, media().video.unwrap().extensions);

    assert!(r.routes().is_empty(), "not live before PUBLISHING");
    publishing(&mut r, now, c[0].0, &s.id);
    let routes = r.routes();
    assert_eq!(routes.len(), 1);
    assert_eq!(routes[0].id, "n0-127.0.0.1-cam");
    assert_eq!(routes[0].node_id, "n0");
}

#[test]
fn edge_pings_are_answered_and_garbage_is_ignored() {
    let mut r = relays(1);
    let now = Instant::now();
    r.stream_started(now, STREAM, "cam", &media());
    let conn = connects(&drain(&mut r))[0].0;
    r.handle_open(now, conn);
    drain(&mut r);
    r.handle_text(now, conn, r#"{"message":"ping","data":[]}"#);
    let out = drain(&mut r);
    assert_eq!(sent(&out, conn)[0]["message"], "pong");
    for junk in [
        "",
        "{",
        "[]",
        r#"{"message":"setRemoteSDP","data":[5]}"#,
        r#"{"message":"notifyStreamStatusEvent","data":"x"}"#,
        r#"{"message":"getUserData","data":null}"#,
    ] {
        r.handle_text(now, conn, junk);
    }
    // getUserData was accepted once (publishStream sent), the rest changed nothing.
    let out = drain(&mut r);
    assert_eq!(sent(&out, conn).len(), 1, "{out:?}");
    assert_eq!(sent(&out, conn)[0]["message"], "publishStream");
}

#[test]
fn failures_retry_with_doubling_backoff_up_to_the_cap() {
    let mut r = relays(1);
    let mut now = Instant::now();
    r.stream_started(now, STREAM, "cam", &media());
    let mut conn = connects(&drain(&mut r))[0].0;
    let mut delays = Vec::new();
    for _ in 0..7 {
        r.handle_closed(now, conn);
        assert!(
            drain(&mut r).is_empty(),
            "a failed connect has nothing to close"
        );
        let at = r.poll_timeout().unwrap();
        delays.push(at - now);
        r.handle_timeout(at - Duration::from_millis(1));
        assert!(drain(&mut r).is_empty(), "no retry before its time");
        now = at;
        r.handle_timeout(now);
        let c = connects(&drain(&mut r));
        assert_eq!(c.len(), 1);
        assert_ne!(c[0].0, conn, "every attempt is a new connection");
        conn = c[0].0;
    }
    let ms: Vec<u128> = delays.iter().map(Duration::as_millis).collect();
    assert_eq!(ms, [500, 1000, 2000, 4000, 8000, 10_000, 10_000]);
}

#[test]
fn a_leg_that_stayed_up_retries_fast_again() {
    let mut r = relays(1);
    let mut now = Instant::now();
    r.stream_started(now, STREAM, "cam", &media());
    let mut conn = connects(&drain(&mut r))[0].0;
    for _ in 0..4 {
        r.handle_closed(now, conn);
        now = r.poll_timeout().unwrap();
        r.handle_timeout(now);
        conn = connects(&drain(&mut r))[0].0;
    }
    let s = signal(&mut r, now, conn);
    publishing(&mut r, now, conn, &s.id);
    assert_eq!(r.poll_timeout(), None, "a live leg has no timer");
    now += STABLE_AFTER;
    r.handle_closed(now, conn);
    let out = drain(&mut r);
    assert_eq!(out, [RelayOutput::RemovePeer { peer: s.peer.id }]);
    assert_eq!(r.poll_timeout(), Some(now + BACKOFF_INITIAL));
}

#[test]
fn unpublish_reaches_the_edge_then_closes_and_stops_the_peer() {
    let (mut r, now, conn, s) = signalled_leg();
    publishing(&mut r, now, conn, &s.id);
    r.stream_ended(now, STREAM);
    let out = drain(&mut r);
    assert_eq!(out.len(), 3, "{out:?}");
    let unpublish = sent(&out, conn);
    assert_eq!(unpublish[0]["message"], "unPublishStream");
    assert_eq!(unpublish[0]["data"][0]["mediaSessionId"], s.id.as_str());
    assert_eq!(out[1], RelayOutput::Close { conn });
    assert_eq!(out[2], RelayOutput::RemovePeer { peer: s.peer.id });
    assert_eq!(r.poll_timeout(), None);
    assert!(r.routes().is_empty());
    // Late input from the closed socket or the stopped peer does nothing.
    r.handle_closed(now, conn);
    r.peer_closed(now, s.peer.id);
    assert!(drain(&mut r).is_empty());
}

#[test]
fn unpublish_while_waiting_to_retry_cancels_the_retry() {
    let mut r = relays(1);
    let now = Instant::now();
    r.stream_started(now, STREAM, "cam", &media());
    let conn = connects(&drain(&mut r))[0].0;
    r.handle_closed(now, conn);
    r.stream_ended(now, STREAM);
    assert!(drain(&mut r).is_empty());
    assert_eq!(r.poll_timeout(), None);
}

#[test]
fn peer_closed_by_its_worker_closes_the_socket_and_retries() {
    let (mut r, now, conn, s) = signalled_leg();
    publishing(&mut r, now, conn, &s.id);
    r.peer_closed(now, s.peer.id);
    assert_eq!(drain(&mut r), [RelayOutput::Close { conn }]);
    assert_eq!(r.poll_timeout(), Some(now + BACKOFF_INITIAL));
}

#[test]
fn failed_from_the_edge_or_a_bad_answer_fails_the_leg() {
    let (mut r, now, conn, s) = signalled_leg();
    let failed =
        json!([{"mediaSessionId": s.id, "status": "FAILED", "info": "Failed by ICE timeout"}]);
    r.handle_text(now, conn, &msg("notifyStreamStatusEvent", failed));
    assert_eq!(
        drain(&mut r),
        [
            RelayOutput::Close { conn },
            RelayOutput::RemovePeer { peer: s.peer.id }
        ]
    );

    r.handle_timeout(r.poll_timeout().unwrap());
    let conn = connects(&drain(&mut r))[0].0;
    r.handle_open(now, conn);
    r.handle_text(now, conn, &msg("getUserData", json!([{}])));
    let id = sent(&drain(&mut r), conn)[1]["data"][0]["mediaSessionId"]
        .as_str()
        .unwrap()
        .to_owned();
    r.handle_text(now, conn, &msg("setRemoteSDP", json!(["other-id", "v=0"])));
    assert!(
        drain(&mut r).is_empty(),
        "an answer for another session is ignored"
    );
    r.handle_text(
        now,
        conn,
        &msg("setRemoteSDP", json!([id, "v=0\r\nm=bogus"])),
    );
    assert_eq!(drain(&mut r), [RelayOutput::Close { conn }]);
}

#[test]
fn an_edge_that_never_answers_times_out() {
    let mut r = relays(1);
    let now = Instant::now();
    r.stream_started(now, STREAM, "cam", &media());
    let conn = connects(&drain(&mut r))[0].0;
    r.handle_open(now, conn);
    drain(&mut r);
    assert_eq!(r.poll_timeout(), Some(now + SIGNALLING_TIMEOUT));
    r.handle_timeout(now + SIGNALLING_TIMEOUT);
    assert_eq!(drain(&mut r), [RelayOutput::Close { conn }]);
    assert_eq!(
        r.poll_timeout(),
        Some(now + SIGNALLING_TIMEOUT + BACKOFF_INITIAL)
    );
}

#[test]
fn a_failing_edge_does_not_touch_the_other_leg() {
    let mut r = relays(2);
    let now = Instant::now();
    r.stream_started(now, STREAM, "cam", &media());
    let c = connects(&drain(&mut r));
    let good = signal(&mut r, now, c[1].0);
    publishing(&mut r, now, c[1].0, &good.id);
    for i in 0..5 {
        let t = now + Duration::from_secs(i * 20);
        let bad = connects(&drain(&mut r)).first().map_or(c[0].0, |x| x.0);
        r.handle_closed(t, bad);
        r.handle_timeout(t + BACKOFF_MAX);
        let out = drain(&mut r);
        assert!(
            out.iter()
                .all(|o| matches!(o, RelayOutput::Connect { url, .. } if url.ends_with(":9000/"))),
            "{out:?}"
        );
        r.handle_closed(t, connects(&out)[0].0);
    }
    assert_eq!(r.routes().len(), 1);
    assert_eq!(r.routes()[0].node_id, "n1");
}

#[test]
fn no_nodes_means_no_relay() {
    let mut r = Relays::new(Vec::new(), fingerprint(1));
    assert!(!r.is_enabled());
    r.stream_started(Instant::now(), STREAM, "cam", &media());
    assert!(drain(&mut r).is_empty());
    assert_eq!(r.poll_timeout(), None);
}

type Repair = (MediaKind, bool, Option<RtxSpec>);

fn repair(tracks: &[TrackSpec]) -> Vec<Repair> {
    tracks.iter().map(|t| (t.kind, t.nack, t.rtx)).collect()
}

#[test]
fn both_ends_of_the_leg_agree_on_nack_and_rtx() {
    let (_relays, _, _, s) = signalled_leg();

    // Our offer: NACK for the video, RTX 97 (apt=96) with its own SSRC in a FID group.
    let offer = parse_offer(&s.offer).unwrap();
    let video = &offer.sections[1];
    assert!(s.offer.contains("m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\n"));
    for line in [
        "a=rtcp-fb:96 nack\r\n",
        "a=rtpmap:97 rtx/90000\r\n",
        "a=fmtp:97 apt=96\r\n",
    ] {
        assert!(s.offer.contains(line), "{line}");
    }
    let (media_ssrc, rtx_ssrc) = video.fid_pairs().next().unwrap();
    let audio_ssrc = offer.sections[0].primary_ssrc().unwrap();
    assert!(rtx_ssrc != 0 && rtx_ssrc != audio_ssrc && rtx_ssrc != media_ssrc);
    assert!(!offer.sections[0].codecs.iter().any(|c| c.name == "rtx"));

    // The origin sends what the edge receives.
    let expected = [
        (MediaKind::Audio, false, None),
        (
            MediaKind::Video,
            true,
            Some(RtxSpec {
                payload_type: 97,
                ssrc: Some(rtx_ssrc),
            }),
        ),
    ];
    assert_eq!(repair(&s.peer.tracks), expected);
    assert_eq!(repair(&edge_negotiated(&s.offer).tracks), expected);
    assert_eq!(s.peer.tracks[1].ssrc, Some(media_ssrc));
}

#[test]
fn relay_peer_repairs_only_what_the_edge_accepted() {
    let spec = relay_offer(&media(), &fingerprint(0xAB));
    let answer = edge_answer(&sdp::build_offer(&spec));
    let tracks = |answer: &str| answered_tracks(&spec, &sdp::parse_answer(answer).unwrap());
    assert!(tracks(&answer)[1].nack && tracks(&answer)[1].rtx.is_some());
    // An edge that answers without RTX, or with an RTX we did not offer, or without NACK.
    let without_rtx: String = answer
        .split_inclusive("\r\n")
        .filter(|l| !l.contains("rtx/") && !l.contains("apt="))
        .collect();
    let other_rtx = answer
        .replace("a=rtpmap:97 rtx", "a=rtpmap:98 rtx")
        .replace("a=fmtp:97", "a=fmtp:98")
        .replace(" 96 97\r\n", " 96 98\r\n");
    let without_nack = answer.replace("a=rtcp-fb:96 nack\r\n", "");
    assert_eq!(
        repair(&tracks(&without_rtx))[1],
        (MediaKind::Video, true, None)
    );
    assert_eq!(
        repair(&tracks(&other_rtx))[1],
        (MediaKind::Video, true, None)
    );
    let no_nack = repair(&tracks(&without_nack));
    assert_eq!(
        (no_nack[1].1, no_nack[1].2.map(|r| r.payload_type)),
        (false, Some(97))
    );
}

#[test]
fn the_relay_offer_carries_the_transport_wide_numbers_the_publisher_negotiated() {
    let mut published = media();
    let video = published.video.as_mut().unwrap();
    video
        .extensions
        .push((3, dataplane::rtcp::TWCC_URI.to_owned()));
    let offer = sdp::build_offer(&relay_offer(&published, &fingerprint(0xAB)));
    assert!(offer.contains("abs-send-time"), "{offer}");
    assert!(
        offer.contains(
            "a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
        ),
        "{offer}"
    );
}

/// [`media`] as a rid simulcast publisher of three layers sends it (with the stream id
/// extensions its answer kept).
fn simulcast_media() -> PublishedMedia {
    let mut published = media();
    let video = published.video.as_mut().unwrap();
    video.extensions.push((10, RID_URI.to_owned()));
    video.extensions.push((11, REPAIRED_RID_URI.to_owned()));
    published.layers = ["l", "m", "h"]
        .map(|rid| LayerSpec {
            rid: rid.to_owned(),
            ssrc: None,
            rtx_ssrc: None,
        })
        .to_vec();
    published
}

#[test]
fn every_layer_is_relayed_in_the_ssrc_group_form() {
    let mut r = relays(1);
    let now = Instant::now();
    r.stream_started(now, STREAM, "cam", &simulcast_media());
    let conn = connects(&drain(&mut r))[0].0;
    let s = signal(&mut r, now, conn);

    let offer = parse_offer(&s.offer).unwrap();
    let video = &offer.sections[1];
    let sim: Vec<&Vec<u32>> = video
        .ssrc_groups
        .iter()
        .filter(|(semantics, _)| semantics == "SIM")
        .map(|(_, ssrcs)| ssrcs)
        .collect();
    let [layers] = sim.as_slice() else {
        panic!("one SIM group: {}", s.offer);
    };
    let fids: Vec<(u32, u32)> = video.fid_pairs().collect();
    assert_eq!(layers.len(), 3);
    assert_eq!(fids.iter().map(|(m, _)| *m).collect::<Vec<_>>(), **layers);
    let mut all: Vec<u32> = fids.iter().flat_map(|(m, r)| [*m, *r]).collect();
    all.push(offer.sections[0].primary_ssrc().unwrap());
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), 7, "fresh, distinct SSRCs: {}", s.offer);
    assert!(!s.offer.contains("stream-id") && !s.offer.contains("a=rid"));

    // The edge's publisher gets the layers in our order, with our SSRCs.
    let ours: Vec<LayerSpec> = fids
        .iter()
        .map(|&(ssrc, rtx)| LayerSpec {
            rid: String::new(),
            ssrc: Some(ssrc),
            rtx_ssrc: Some(rtx),
        })
        .collect();
    let edge = edge_negotiated(&s.offer);
    assert_eq!(edge.tracks[1].layers, ours);
    assert_eq!(edge.media.layers, ours);
    assert!(!edge.answer.contains("simulcast"), "{}", edge.answer);
    // And the relay peer sends them under the same SSRCs.
    let video_track = &s.peer.tracks[1];
    assert_eq!(video_track.layers, ours);
    assert_eq!(video_track.ssrc, Some(fids[0].0));
    assert_eq!(video_track.rtx.unwrap().ssrc, Some(fids[0].1));
    assert!(video_track
        .extensions
        .iter()
        .all(|(_, uri)| uri != RID_URI && uri != REPAIRED_RID_URI));
    assert!(s.peer.tracks[0].layers.is_empty());
}

#[test]
fn relayed_layers_lose_their_rtx_when_the_edge_refuses_it() {
    let spec = relay_offer(&simulcast_media(), &fingerprint(0xAB));
    let answer = edge_answer(&sdp::build_offer(&spec));
    let without_rtx: String = answer
        .split_inclusive("\r\n")
        .filter(|l| !l.contains("rtx/") && !l.contains("apt="))
        .collect();
    let tracks = answered_tracks(&spec, &sdp::parse_answer(&without_rtx).unwrap());
    let layers = &tracks[1].layers;
    assert_eq!(layers.len(), 3);
    assert!(layers
        .iter()
        .all(|l| l.ssrc.is_some() && l.rtx_ssrc.is_none()));
    assert_eq!(tracks[1].rtx, None);
}

mod reload;
