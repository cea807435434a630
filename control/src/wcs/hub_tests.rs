//! Hub behaviour, driven without sockets: fake workers (a crossbeam queue plus a real
//! `mio::Waker`) and a virtual clock.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dataplane::api::{
    CloseReason, Command, Event, Fingerprint, PeerId, PeerRole, StreamId, WorkerHandle, WorkerId,
};
use serde_json::{json, Value};

use super::{ConnId, Hub, Output};
use crate::config::{Config, VideoCodec};

const PUBLISH_OFFER: &str = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
a=group:BUNDLE 0 1\r\na=extmap-allow-mixed\r\na=msid-semantic: WMS 5yZ0\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\n\
a=ice-ufrag:Tq3x\r\na=ice-pwd:Hx1dOqO1V7MNg4c0Qx7pQmHZ\r\na=ice-options:trickle\r\n\
a=fingerprint:sha-256 9B:6A:2F:11:8D:4C:7E:03:5A:77:C1:90:2B:DE:44:10:AF:23:65:19:08:7C:3E:B2:51:0D:9E:46:CC:F1:28:37\r\n\
a=setup:actpass\r\na=mid:0\r\na=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\na=sendonly\r\n\
a=msid:5yZ0 a1\r\na=rtcp-mux\r\na=rtcp-rsize\r\na=rtpmap:111 opus/48000/2\r\na=rtcp-fb:111 transport-cc\r\n\
a=fmtp:111 minptime=10;useinbandfec=1\r\na=rtpmap:63 red/48000/2\r\na=rtpmap:9 G722/8000\r\n\
a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:13 CN/8000\r\na=rtpmap:110 telephone-event/48000\r\n\
a=rtpmap:126 telephone-event/8000\r\na=ssrc:1001 cname:abc\r\n\
m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\n\
a=ice-ufrag:Tq3x\r\na=ice-pwd:Hx1dOqO1V7MNg4c0Qx7pQmHZ\r\na=ice-options:trickle\r\n\
a=fingerprint:sha-256 9B:6A:2F:11:8D:4C:7E:03:5A:77:C1:90:2B:DE:44:10:AF:23:65:19:08:7C:3E:B2:51:0D:9E:46:CC:F1:28:37\r\n\
a=setup:actpass\r\na=mid:1\r\na=sendonly\r\na=msid:5yZ0 v1\r\na=rtcp-mux\r\na=rtcp-rsize\r\n\
a=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 nack\r\na=rtcp-fb:96 nack pli\r\na=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\n\
a=rtpmap:102 H264/90000\r\na=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f\r\n\
a=rtpmap:103 rtx/90000\r\na=fmtp:103 apt=102\r\na=ssrc-group:FID 2001 2002\r\na=ssrc:2001 cname:abc\r\na=ssrc:2002 cname:abc\r\n";

/// A Chrome play offer (recvonly, no msid/ssrc) with the given video section codecs.
fn play_offer(video_rtpmaps: &str) -> String {
    format!(
        "v=0\r\no=- 77 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\na=msid-semantic: WMS\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111 0\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:pl4Y\r\na=ice-pwd:qP0vB2mX9fJt3LwZ8yR1sK5e\r\n\
a=ice-options:trickle\r\na=fingerprint:sha-256 01:02:03:04:05:06:07:08:09:0A:0B:0C:0D:0E:0F:10:11:12:13:14:15:16:17:18:19:1A:1B:1C:1D:1E:1F:20\r\n\
a=setup:actpass\r\na=mid:0\r\na=recvonly\r\na=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n\
a=rtpmap:0 PCMU/8000\r\n\
m=video 9 UDP/TLS/RTP/SAVPF 96 98 35\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:pl4Y\r\na=ice-pwd:qP0vB2mX9fJt3LwZ8yR1sK5e\r\n\
a=ice-options:trickle\r\na=fingerprint:sha-256 01:02:03:04:05:06:07:08:09:0A:0B:0C:0D:0E:0F:10:11:12:13:14:15:16:17:18:19:1A:1B:1C:1D:1E:1F:20\r\n\
a=setup:actpass\r\na=mid:1\r\na=recvonly\r\na=rtcp-mux\r\n{video_rtpmaps}"
    )
}

fn play_offer_vp8() -> String {
    play_offer("a=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 nack pli\r\na=rtpmap:98 VP9/90000\r\n")
}

struct FakeWorker {
    rx: crossbeam_channel::Receiver<Command>,
    _poll: mio::Poll,
}

struct Harness {
    hub: Hub,
    workers: Vec<FakeWorker>,
    now: Instant,
    next_conn: u64,
}

fn config() -> Config {
    Config {
        ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
        ws_port: 0,
        media_port_from: 31001,
        media_port_to: 32000,
        worker_threads: 2,
        video_codecs: vec![VideoCodec::Vp8, VideoCodec::H264],
        keep_alive_interval: Duration::from_secs(5),
        keep_alive_probes: 3,
        ice_consent_timeout: Duration::from_secs(30),
        web_dir: None,
    }
}

fn harness(n: usize) -> Harness {
    let mut handles = Vec::new();
    let mut workers = Vec::new();
    for i in 0..n {
        let poll = mio::Poll::new().unwrap();
        let waker = Arc::new(mio::Waker::new(poll.registry(), mio::Token(0)).unwrap());
        let (tx, rx) = crossbeam_channel::unbounded();
        let addr: SocketAddr = format!("127.0.0.1:{}", 31001 + i).parse().unwrap();
        handles.push(WorkerHandle::new(WorkerId(i), addr, tx, waker));
        workers.push(FakeWorker { rx, _poll: poll });
    }
    let fingerprint = Fingerprint {
        algorithm: "sha-256".into(),
        digest: vec![0xAB; 32],
    };
    Harness {
        hub: Hub::new(&config(), handles, fingerprint),
        workers,
        now: Instant::now(),
        next_conn: 1,
    }
}

impl Harness {
    fn open(&mut self) -> ConnId {
        let conn = ConnId(self.next_conn);
        self.next_conn += 1;
        let client: SocketAddr = format!("10.0.0.{}:5{:04}", conn.0, conn.0).parse().unwrap();
        self.hub
            .open(self.now, conn, client, "127.0.0.1:8080".parse().unwrap());
        conn
    }

    fn text(&mut self, conn: ConnId, text: &str) -> Vec<(ConnId, Value)> {
        self.hub.handle_text(self.now, conn, text);
        self.drain()
    }

    fn send(&mut self, conn: ConnId, message: &str, data: Value) -> Vec<(ConnId, Value)> {
        let text = json!({"message": message, "data": [data]}).to_string();
        self.text(conn, &text)
    }

    fn drain(&mut self) -> Vec<(ConnId, Value)> {
        let mut out = Vec::new();
        while let Some(o) = self.hub.poll_output() {
            match o {
                Output::Send(c, m) => out.push((c, serde_json::from_str(&m.to_json()).unwrap())),
                Output::Close(c) => out.push((c, json!({"closed": true}))),
            }
        }
        out
    }

    fn commands(&self, worker: usize) -> Vec<Command> {
        self.workers[worker].rx.try_iter().collect()
    }

    fn all_commands(&self) -> Vec<(usize, Command)> {
        (0..self.workers.len())
            .flat_map(|w| self.commands(w).into_iter().map(move |c| (w, c)))
            .collect()
    }

    fn publish(&mut self, conn: ConnId, id: &str, name: &str) -> Vec<(ConnId, Value)> {
        self.send(
            conn,
            "publishStream",
            json!({"mediaSessionId": id, "name": name, "published": true, "hasVideo": true,
                   "hasAudio": true, "status": "PENDING", "record": false, "mediaProvider": "WebRTC",
                   "sdp": PUBLISH_OFFER, "bitrate": 0, "minBitrate": 0, "maxBitrate": 0}),
        )
    }

    fn play_with(&mut self, conn: ConnId, id: &str, name: &str, sdp: &str) -> Vec<(ConnId, Value)> {
        self.send(
            conn,
            "playStream",
            json!({"mediaSessionId": id, "name": name, "published": false, "hasVideo": true,
                   "hasAudio": true, "status": "PENDING", "record": false, "width": "640", "height": 0,
                   "mediaProvider": "WebRTC", "sdp": sdp, "quality": 0}),
        )
    }

    fn play(&mut self, conn: ConnId, id: &str, name: &str) -> Vec<(ConnId, Value)> {
        self.play_with(conn, id, name, &play_offer_vp8())
    }

    fn stop(&mut self, conn: ConnId, message: &str, id: &str, name: &str) -> Vec<(ConnId, Value)> {
        self.send(
            conn,
            message,
            json!({"mediaSessionId": id, "name": name, "status": "PLAYING"}),
        )
    }
}

/// The `(status, info)` of a notifyStreamStatusEvent.
fn status_of(v: &Value) -> (&str, &str) {
    assert_eq!(v["message"], "notifyStreamStatusEvent", "{v}");
    (
        v["data"][0]["status"].as_str().unwrap(),
        v["data"][0]["info"].as_str().unwrap(),
    )
}

fn only_status(out: &[(ConnId, Value)], conn: ConnId) -> (String, String) {
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].0, conn);
    let (s, i) = status_of(&out[0].1);
    (s.to_owned(), i.to_owned())
}

fn failed(info: &str) -> (String, String) {
    ("FAILED".to_owned(), info.to_owned())
}

#[test]
fn connection_gets_user_data_echo_with_token_and_session_id() {
    let mut h = harness(1);
    let c = h.open();
    let out = h.send(
        c,
        "connection",
        json!({"appKey": "defaultApp", "mediaProviders": ["WebRTC"], "clientVersion": "2.0"}),
    );
    assert_eq!(out.len(), 1);
    let (to, v) = &out[0];
    assert_eq!(*to, c);
    assert_eq!(v["message"], "getUserData");
    let d = &v["data"][0];
    assert_eq!(d["appKey"], "defaultApp");
    assert_eq!(d["mediaProviders"], json!(["WebRTC"]));
    assert_eq!(d["sessionId"], "/10.0.0.1:50001/127.0.0.1:8080");
    assert!(uuid::Uuid::parse_str(d["authToken"].as_str().unwrap()).is_ok());
}

#[test]
fn publish_adds_a_publisher_peer_and_answers_sdp_then_publishing() {
    let mut h = harness(1);
    let c = h.open();
    let out = h.publish(c, "pub-1", "cam");
    assert_eq!(out.len(), 2, "{out:?}");
    assert_eq!(out[0].1["message"], "setRemoteSDP");
    assert_eq!(out[0].1["data"][0], "pub-1");
    let answer = out[0].1["data"][1].as_str().unwrap();
    assert!(answer.contains("a=ice-ufrag:"), "{answer}");
    let st = &out[1].1["data"][0];
    assert_eq!(status_of(&out[1].1), ("PUBLISHING", ""));
    assert_eq!(st["mediaSessionId"], "pub-1");
    assert_eq!(st["name"], "cam");
    assert_eq!(st["published"], true);
    assert_eq!(
        (st["hasAudio"].as_bool(), st["hasVideo"].as_bool()),
        (Some(true), Some(true))
    );
    assert_eq!(st["record"], false);
    let cmds = h.commands(0);
    assert_eq!(cmds.len(), 1);
    let Command::AddPeer(spec) = &cmds[0] else {
        panic!("{cmds:?}")
    };
    assert!(matches!(spec.role, PeerRole::Publisher { .. }));
    assert_eq!(spec.local_ufrag.len(), 8);
    assert_eq!(spec.local_pwd.len(), 24);
    assert!(spec
        .local_ufrag
        .chars()
        .chain(spec.local_pwd.chars())
        .all(|c| c.is_ascii_alphanumeric()));
    assert!(answer.contains(&spec.local_ufrag) && answer.contains(&spec.local_pwd));
    assert_eq!(spec.remote_ufrag, "Tq3x");
    assert_eq!(spec.remote_pwd, "Hx1dOqO1V7MNg4c0Qx7pQmHZ");
    assert_eq!(spec.remote_fingerprint.algorithm, "sha-256");
    assert_eq!(spec.remote_fingerprint.digest.len(), 32);
    assert_eq!(spec.tracks.len(), 2);
    assert_eq!(h.hub.stats().streams, 1);
    assert_eq!(h.hub.stats().peers, 1);
}

#[test]
fn ice_credentials_are_fresh_per_peer() {
    let mut h = harness(1);
    let c = h.open();
    h.publish(c, "a", "one");
    h.publish(c, "b", "two");
    let cmds = h.commands(0);
    let creds: Vec<(String, String)> = cmds
        .iter()
        .map(|c| match c {
            Command::AddPeer(s) => (s.local_ufrag.clone(), s.local_pwd.clone()),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(creds.len(), 2);
    assert_ne!(creds[0].0, creds[1].0);
    assert_ne!(creds[0].1, creds[1].1);
}

#[test]
fn duplicate_live_name_fails_and_cannot_hijack() {
    let mut h = harness(1);
    let (a, b) = (h.open(), h.open());
    h.publish(a, "a-1", "cam");
    h.commands(0);
    let out = h.publish(b, "b-1", "cam");
    assert_eq!(
        only_status(&out, b),
        failed("Stream name is already in use")
    );
    assert!(h.commands(0).is_empty());
    // The original publisher is untouched: players still reach it.
    let c = h.open();
    let out = h.play(c, "p-1", "cam");
    assert_eq!(status_of(&out[1].1).0, "PLAYING");
}

#[test]
fn duplicate_media_session_id_fails() {
    let mut h = harness(1);
    let (a, b) = (h.open(), h.open());
    h.publish(a, "same", "cam");
    let out = h.publish(b, "same", "other");
    assert_eq!(
        only_status(&out, b),
        failed("MediaSessionId is already in use")
    );
    let out = h.play(b, "same", "cam");
    assert_eq!(
        only_status(&out, b),
        failed("MediaSessionId is already in use")
    );
}

#[test]
fn name_and_id_limits() {
    let mut h = harness(1);
    let c = h.open();
    assert_eq!(
        only_status(&h.publish(c, "x1", ""), c),
        failed("Invalid stream name")
    );
    let long = "n".repeat(257);
    assert_eq!(
        only_status(&h.publish(c, "x2", &long), c),
        failed("Invalid stream name")
    );
    let max = "n".repeat(256);
    assert_eq!(status_of(&h.publish(c, "x3", &max)[1].1).0, "PUBLISHING");
    let out = h.publish(c, "", "cam");
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].1["message"], "fail");
    assert_eq!(out[0].1["data"][0]["apiMethod"], "publishStream");
    assert_eq!(out[0].1["data"][0]["info"], "MediaSessionId is null");
}

#[test]
fn bad_offers_fail_with_sdp_info() {
    let mut h = harness(1);
    let c = h.open();
    let no_sdp = h.send(
        c,
        "publishStream",
        json!({"mediaSessionId": "m1", "name": "cam"}),
    );
    assert!(only_status(&no_sdp, c).1.starts_with("Invalid SDP"));
    let garbage = h.send(
        c,
        "publishStream",
        json!({"mediaSessionId": "m2", "name": "cam", "sdp": "\u{0}garbage"}),
    );
    assert!(only_status(&garbage, c).1.starts_with("Invalid SDP"));
    let no_fp = PUBLISH_OFFER.replace("a=fingerprint:", "a=x-fingerprint:");
    let out = h.send(
        c,
        "publishStream",
        json!({"mediaSessionId": "m3", "name": "cam", "sdp": no_fp}),
    );
    assert!(only_status(&out, c).1.starts_with("Invalid SDP"));
    assert!(h.all_commands().is_empty());
    assert_eq!(h.hub.stats().streams, 0);
}

#[test]
fn play_unknown_name_is_stream_not_found() {
    let mut h = harness(1);
    let c = h.open();
    assert_eq!(
        only_status(&h.play(c, "p", "nope"), c),
        failed("Stream not found")
    );
    assert!(h.commands(0).is_empty());
}

#[test]
fn play_with_no_common_codecs_fails() {
    let mut h = harness(1);
    let (a, b) = (h.open(), h.open());
    h.publish(a, "pub", "cam");
    h.commands(0);
    let out = h.play_with(b, "p", "cam", &play_offer("a=rtpmap:98 VP9/90000\r\n"));
    assert_eq!(only_status(&out, b), failed("No common codecs"));
    assert!(h.commands(0).is_empty());
    assert_eq!(h.hub.stats().peers, 1);
}

#[test]
fn play_adds_subscriber_and_fanout_once_per_worker() {
    let mut h = harness(2);
    let (a, b) = (h.open(), h.open());
    h.publish(a, "pub", "cam");
    let pub_cmds = h.all_commands();
    let (pub_worker, stream) = match &pub_cmds[..] {
        [(w, Command::AddPeer(s))] => (*w, s.stream()),
        other => panic!("{other:?}"),
    };
    let other = 1 - pub_worker;

    // First player goes to the idle worker (fewest peers).
    let out = h.play(b, "p1", "cam");
    assert_eq!(out[0].1["message"], "setRemoteSDP");
    assert_eq!(out[0].1["data"][0], "p1");
    assert_eq!(status_of(&out[1].1), ("PLAYING", ""));
    assert_eq!(out[1].1["data"][0]["published"], false);
    let sub = h.commands(other);
    let [Command::AddPeer(spec)] = &sub[..] else {
        panic!("{sub:?}")
    };
    assert_eq!(
        spec.role,
        PeerRole::Subscriber {
            stream,
            source: WorkerId(pub_worker)
        }
    );
    assert_eq!(spec.remote_ufrag, "pl4Y");
    let fan = h.commands(pub_worker);
    assert!(
        matches!(&fan[..], [Command::AddFanoutTarget { stream: s, worker }] if *s == stream && *worker == WorkerId(other)),
        "{fan:?}"
    );

    // Second player: tie (1 peer each) → round-robin moves on to the publisher's worker,
    // which becomes a fanout target of itself.
    h.play(b, "p2", "cam");
    let cmds = h.commands(pub_worker);
    assert!(
        matches!(&cmds[..], [Command::AddPeer(_), Command::AddFanoutTarget { worker, .. }] if *worker == WorkerId(pub_worker)),
        "{cmds:?}"
    );

    // Third player lands on a worker that already has a player: no second AddFanoutTarget.
    h.play(b, "p3", "cam");
    let all = h.all_commands();
    assert_eq!(
        all.iter()
            .filter(|(_, c)| matches!(c, Command::AddPeer(_)))
            .count(),
        1
    );
    assert!(
        !all.iter()
            .any(|(_, c)| matches!(c, Command::AddFanoutTarget { .. })),
        "{all:?}"
    );
    assert_eq!(h.hub.stats().peers, 4);
}

#[test]
fn stop_stream_removes_peer_and_last_fanout_target() {
    let mut h = harness(1);
    let (a, b) = (h.open(), h.open());
    h.publish(a, "pub", "cam");
    h.play(b, "p1", "cam");
    h.play(b, "p2", "cam");
    h.commands(0);
    let out = h.stop(b, "stopStream", "p1", "cam");
    assert_eq!(only_status(&out, b), ("STOPPED".into(), String::new()));
    let cmds = h.commands(0);
    assert!(matches!(&cmds[..], [Command::RemovePeer(_)]), "{cmds:?}");
    let out = h.stop(b, "stopStream", "p2", "cam");
    assert_eq!(only_status(&out, b).0, "STOPPED");
    let cmds = h.commands(0);
    assert!(
        matches!(
            &cmds[..],
            [
                Command::RemovePeer(_),
                Command::RemoveFanoutTarget {
                    worker: WorkerId(0),
                    ..
                }
            ]
        ),
        "{cmds:?}"
    );
    assert_eq!(h.hub.stats().peers, 1);
    // Stopping twice: unknown now, the connection stays usable.
    let out = h.stop(b, "stopStream", "p2", "cam");
    assert_eq!(only_status(&out, b), failed("Stream not found"));
    let out = h.send(
        b,
        "availableStream",
        json!({"mediaSessionId": "probe", "name": "cam"}),
    );
    assert_eq!(out[0].1["data"][0]["status"], "true");
}

#[test]
fn unpublish_stops_players_and_frees_the_name() {
    let mut h = harness(1);
    let (a, b, c) = (h.open(), h.open(), h.open());
    h.publish(a, "pub", "cam");
    h.play(b, "p1", "cam");
    h.play(c, "p2", "cam");
    h.commands(0);
    let out = h.stop(a, "unPublishStream", "pub", "cam");
    assert_eq!(out.len(), 3, "{out:?}");
    assert_eq!(out[0].0, a);
    assert_eq!(status_of(&out[0].1), ("UNPUBLISHED", ""));
    let mut players: Vec<(ConnId, String, String)> = out[1..]
        .iter()
        .map(|(to, v)| {
            (
                *to,
                v["data"][0]["mediaSessionId"].as_str().unwrap().to_owned(),
                status_of(v).1.to_owned(),
            )
        })
        .collect();
    players.sort();
    assert_eq!(
        players,
        vec![
            (b, "p1".into(), "Stopped by publisher stop".into()),
            (c, "p2".into(), "Stopped by publisher stop".into())
        ]
    );
    for (_, v) in &out[1..] {
        assert_eq!(status_of(v).0, "STOPPED");
    }
    let cmds = h.commands(0);
    assert_eq!(
        cmds.iter()
            .filter(|c| matches!(c, Command::RemovePeer(_)))
            .count(),
        3
    );
    assert_eq!(
        cmds.iter()
            .filter(|c| matches!(c, Command::RemoveFanoutTarget { .. }))
            .count(),
        1
    );
    assert_eq!(
        h.hub.stats(),
        super::HubStats {
            connections: 3,
            ..Default::default()
        }
    );
    // The name is free again.
    assert_eq!(status_of(&h.publish(b, "pub2", "cam")[1].1).0, "PUBLISHING");
}

#[test]
fn only_the_owning_connection_can_stop_a_stream() {
    let mut h = harness(1);
    let (a, b) = (h.open(), h.open());
    h.publish(a, "pub", "cam");
    h.commands(0);
    let out = h.stop(b, "unPublishStream", "pub", "cam");
    assert_eq!(only_status(&out, b), failed("Stream not found"));
    assert!(h.commands(0).is_empty());
    assert_eq!(h.hub.stats().streams, 1);
}

#[test]
fn disconnect_cleans_up_like_unpublish_and_stop() {
    let mut h = harness(1);
    let (a, b) = (h.open(), h.open());
    h.publish(a, "pub", "cam");
    h.play(b, "p1", "cam");
    h.commands(0);
    // The player disconnects: its peer and the fanout target go, nobody is notified.
    h.hub.close(h.now, b);
    assert!(h.drain().is_empty());
    let cmds = h.commands(0);
    assert!(
        matches!(
            &cmds[..],
            [Command::RemovePeer(_), Command::RemoveFanoutTarget { .. }]
        ),
        "{cmds:?}"
    );

    let c = h.open();
    h.play(c, "p2", "cam");
    h.commands(0);
    // The publisher disconnects: its player gets STOPPED, every peer is removed.
    h.hub.close(h.now, a);
    let out = h.drain();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].0, c);
    assert_eq!(
        status_of(&out[0].1),
        ("STOPPED", "Stopped by publisher stop")
    );
    assert_eq!(
        h.commands(0)
            .iter()
            .filter(|c| matches!(c, Command::RemovePeer(_)))
            .count(),
        2
    );
    assert_eq!(
        h.hub.stats(),
        super::HubStats {
            connections: 1,
            ..Default::default()
        }
    );
    // Closing twice is harmless.
    h.hub.close(h.now, a);
    assert!(h.drain().is_empty());
}

#[test]
fn malformed_and_unknown_messages_get_fail_and_connection_stays_usable() {
    let mut h = harness(1);
    let c = h.open();
    for (text, api) in [
        ("{not json", "unknown"),
        ("42", "unknown"),
        (r#"{"data":[{}]}"#, "unknown"),
        (r#"{"message":"publishStream"}"#, "publishStream"),
        (r#"{"message":"playStream","data":"x"}"#, "playStream"),
        (r#"{"message":"frobnicate","data":[{}]}"#, "frobnicate"),
    ] {
        let out = h.text(c, text);
        assert_eq!(out.len(), 1, "{text}: {out:?}");
        assert_eq!(out[0].1["message"], "fail", "{text}");
        assert_eq!(out[0].1["data"][0]["apiMethod"], api, "{text}");
        assert!(!out[0].1["data"][0]["info"].as_str().unwrap().is_empty());
    }
    for text in [
        r#"{"message":"pong","data":[null]}"#,
        r#"{"message":"ping","data":[null]}"#,
        r#"{"message":"pushLogs","data":[{"logs":"x"}]}"#,
        r#"{"message":"submitBugReport","data":[{"text":"x"}]}"#,
    ] {
        assert!(h.text(c, text).is_empty(), "{text}");
    }
    h.hub.handle_binary(h.now, c);
    assert!(h.drain().is_empty());
    let out = h.send(c, "connection", json!({}));
    assert_eq!(out[0].1["message"], "getUserData");
}

#[test]
fn available_stream_answers_string_status() {
    let mut h = harness(1);
    let c = h.open();
    let out = h.send(
        c,
        "availableStream",
        json!({"mediaSessionId": "probe", "name": "cam"}),
    );
    assert_eq!(out[0].1["message"], "availableStream");
    assert_eq!(
        out[0].1["data"][0],
        json!({"id": "probe", "status": "false", "info": "Stream not found"})
    );
    h.publish(c, "pub", "cam");
    let out = h.send(
        c,
        "availableStream",
        json!({"mediaSessionId": "probe2", "name": "cam"}),
    );
    assert_eq!(out[0].1["data"][0]["id"], "probe2");
    assert_eq!(out[0].1["data"][0]["status"], "true");
}

#[test]
fn stream_data_is_relayed_to_every_player() {
    let mut h = harness(1);
    let (a, b, c) = (h.open(), h.open(), h.open());
    h.publish(a, "pub", "cam");
    h.play(b, "p1", "cam");
    h.play(c, "p2", "cam");
    let out = h.send(
        a,
        "sendStreamEvent",
        json!({"mediaSessionId": "pub", "type": "data", "payload": {"count": 23}}),
    );
    let mut got: Vec<(ConnId, Value)> = out;
    got.sort_by_key(|(c, _)| *c);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].0, b);
    assert_eq!(
        got[0].1,
        json!({"message": "notifyStreamEvent", "data": [{"mediaSessionId": "p1", "type": "data", "payload": {"count": 23}}]})
    );
    assert_eq!(got[1].1["data"][0]["mediaSessionId"], "p2");
    let out = h.send(
        a,
        "sendStreamEvent",
        json!({"mediaSessionId": "pub", "type": "audioMuted"}),
    );
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].1["data"][0]["type"], "audioMuted");
    assert!(out[0].1["data"][0].get("payload").is_none());
    // A player cannot inject events, and unknown types are refused.
    let out = h.send(
        b,
        "sendStreamEvent",
        json!({"mediaSessionId": "p1", "type": "data", "payload": 1}),
    );
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].0, out[0].1["message"].as_str()), (b, Some("fail")));
    let out = h.send(
        a,
        "sendStreamEvent",
        json!({"mediaSessionId": "pub", "type": "resize"}),
    );
    assert_eq!(out[0].1["message"], "fail");
    let out = h.send(
        a,
        "sendData",
        json!({"operationId": "op-1", "payload": {"x": 1}}),
    );
    assert_eq!(
        out,
        vec![(
            a,
            json!({"message": "DataStatusEvent", "data": [{"operationId": "op-1", "status": "ACCEPTED"}]})
        )]
    );
}

fn peer_of(cmds: &[Command]) -> PeerId {
    cmds.iter()
        .find_map(|c| match c {
            Command::AddPeer(s) => Some(s.id),
            _ => None,
        })
        .expect("an AddPeer")
}

#[test]
fn worker_closing_a_publisher_fails_it_and_stops_players() {
    let mut h = harness(1);
    let (a, b) = (h.open(), h.open());
    h.publish(a, "pub", "cam");
    let publisher = peer_of(&h.commands(0));
    h.play(b, "p1", "cam");
    let player = peer_of(&h.commands(0));
    h.hub.handle_event(
        h.now,
        Event::PeerConnected {
            peer: player,
            remote: "10.0.0.2:4000".parse().unwrap(),
        },
    );
    assert_eq!(h.hub.stats().connected_peers, 1);
    assert!(h.drain().is_empty());
    h.hub.handle_event(
        h.now,
        Event::PeerClosed {
            peer: publisher,
            reason: CloseReason::IceTimeout,
        },
    );
    let out = h.drain();
    assert_eq!(out.len(), 2, "{out:?}");
    assert_eq!(out[0].0, a);
    assert_eq!(status_of(&out[0].1), ("FAILED", "Failed by ICE timeout"));
    assert_eq!(out[1].0, b);
    assert_eq!(
        status_of(&out[1].1),
        ("STOPPED", "Stopped by publisher stop")
    );
    let cmds = h.commands(0);
    // The publisher is already gone from its worker: only the player is removed.
    let removed: Vec<PeerId> = cmds
        .iter()
        .filter_map(|c| match c {
            Command::RemovePeer(p) => Some(*p),
            _ => None,
        })
        .collect();
    assert_eq!(removed, vec![player]);
    assert_eq!(h.hub.stats().streams, 0);
    assert_eq!(status_of(&h.publish(b, "pub2", "cam")[1].1).0, "PUBLISHING");
    // Events for unknown peers are ignored.
    h.hub.handle_event(
        h.now,
        Event::PeerClosed {
            peer: publisher,
            reason: CloseReason::DtlsError,
        },
    );
    assert!(h.drain().is_empty());
}

#[test]
fn worker_closing_a_player_fails_only_that_player() {
    let mut h = harness(1);
    let (a, b) = (h.open(), h.open());
    h.publish(a, "pub", "cam");
    h.play(b, "p1", "cam");
    let player = peer_of(&h.commands(0)[1..]);
    h.hub.handle_event(
        h.now,
        Event::PeerClosed {
            peer: player,
            reason: CloseReason::DtlsFingerprint,
        },
    );
    let out = h.drain();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].0, b);
    assert_eq!(
        status_of(&out[0].1),
        ("FAILED", "Failed by DTLS fingerprint error")
    );
    let cmds = h.commands(0);
    assert!(
        matches!(&cmds[..], [Command::RemoveFanoutTarget { .. }]),
        "{cmds:?}"
    );
    assert_eq!(h.hub.stats().streams, 1);
    assert_eq!(h.hub.stats().peers, 1);
}

#[test]
fn keep_alive_pings_and_closes_after_missed_probes() {
    let mut h = harness(1);
    let c = h.open();
    let quiet = h.open();
    h.publish(quiet, "pub", "cam");
    h.drain();
    let interval = Duration::from_secs(5);
    assert_eq!(h.hub.poll_timeout(), Some(h.now + interval));
    for round in 1..=3 {
        h.now += interval;
        h.hub.handle_timeout(h.now);
        let out = h.drain();
        assert_eq!(out.len(), 2, "round {round}: {out:?}");
        assert!(out
            .iter()
            .all(|(_, v)| *v == json!({"message": "ping", "data": []})));
        // `c` answers every ping; `quiet` never does.
        assert!(h.text(c, r#"{"message":"pong","data":[null]}"#).is_empty());
    }
    h.now += interval;
    h.hub.handle_timeout(h.now);
    let out = h.drain();
    assert!(out.contains(&(quiet, json!({"closed": true}))), "{out:?}");
    assert!(
        out.contains(&(c, json!({"message": "ping", "data": []}))),
        "{out:?}"
    );
    assert_eq!(h.hub.stats().connections, 1);
    assert_eq!(
        h.hub.stats().streams,
        0,
        "the quiet publisher was cleaned up"
    );
    assert!(h
        .commands(0)
        .iter()
        .any(|c| matches!(c, Command::RemovePeer(_))));
    // Nothing is due before the next interval.
    h.hub.handle_timeout(h.now + Duration::from_secs(1));
    assert!(h.drain().is_empty());
}

#[test]
fn a_dead_worker_fails_the_publish() {
    let mut h = harness(1);
    let c = h.open();
    h.workers.clear();
    let out = h.publish(c, "pub", "cam");
    assert_eq!(only_status(&out, c), failed("Failed by error"));
    assert_eq!(h.hub.stats().streams, 0);
    // Shutting down dead workers is harmless too.
    h.hub.shutdown_workers();
}

#[test]
fn shutdown_reaches_every_worker() {
    let h = harness(2);
    h.hub.shutdown_workers();
    for w in 0..2 {
        assert!(matches!(&h.commands(w)[..], [Command::Shutdown]));
    }
    let _ = StreamId(0);
}
