//! Hub behaviour, driven without sockets: fake workers (a crossbeam queue plus a real
//! `mio::Waker`) and a virtual clock. Fixtures and the harness live here; the scenarios are in
//! `streams` (publish/play) and `lifecycle` (stop, disconnect, events, keep-alive, messages),
//! `relay`/`rtp_relay` (the origin's legs), `simulcast` (layer suffixes, viewer stats), `rest`
//! (what the REST API finds and terminates), `metrics` (the handshake and connection
//! counters), `health` (the published streams `/health` lists), `hooks` (the REST hooks) and
//! `ops` (the drain before the node stops, the edges reloaded).

mod admission;
mod health;
mod hooks;
mod lifecycle;
mod metrics;
mod ops;
mod relay;
mod rest;
mod rtp_relay;
mod simulcast;
mod streams;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dataplane::api::{
    CloseReason, Command, Event, Fingerprint, PeerId, PeerRole, StreamId, WorkerHandle, WorkerId,
};
use serde_json::{json, Value};

use super::{ConnId, Hub, Output};
use crate::config::{Config, VideoCodec};
use crate::sdp::{answer_publish, parse_offer, LocalTransport};
use crate::wcs::client::{self, StreamDesc};

pub(super) const PUBLISH_OFFER: &str = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
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
pub(super) fn play_offer(video_rtpmaps: &str) -> String {
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

pub(super) fn play_offer_vp8() -> String {
    play_offer("a=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 nack pli\r\na=rtpmap:98 VP9/90000\r\n")
}

pub(super) struct FakeWorker {
    rx: crossbeam_channel::Receiver<Command>,
    _poll: mio::Poll,
}

pub(super) struct Harness {
    hub: Hub,
    workers: Vec<FakeWorker>,
    now: Instant,
    next_conn: u64,
}

pub(super) fn config() -> Config {
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
        load_balancing: None,
        cdn_relay_secret: None,
        ..Config::default()
    }
}

pub(super) fn harness(n: usize) -> Harness {
    harness_with(&config(), n)
}

pub(super) fn harness_with(cfg: &Config, n: usize) -> Harness {
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
        hub: Hub::new(cfg, handles, fingerprint),
        workers,
        now: Instant::now(),
        next_conn: 1,
    }
}

impl Harness {
    pub(super) fn open(&mut self) -> ConnId {
        let conn = ConnId(self.next_conn);
        self.next_conn += 1;
        let client: SocketAddr = format!("10.0.0.{}:5{:04}", conn.0, conn.0).parse().unwrap();
        self.hub
            .open(self.now, conn, client, "127.0.0.1:8080".parse().unwrap());
        conn
    }

    pub(super) fn text(&mut self, conn: ConnId, text: &str) -> Vec<(ConnId, Value)> {
        self.hub.handle_text(self.now, conn, text);
        self.drain()
    }

    pub(super) fn send(
        &mut self,
        conn: ConnId,
        message: &str,
        data: Value,
    ) -> Vec<(ConnId, Value)> {
        self.text(conn, &client::frame(message, &data))
    }

    pub(super) fn drain(&mut self) -> Vec<(ConnId, Value)> {
        let mut out = Vec::new();
        while let Some(o) = self.hub.poll_output() {
            match o {
                Output::Send(c, m) => out.push((c, serde_json::from_str(&m.to_json()).unwrap())),
                Output::Close(c) => out.push((c, json!({"closed": true}))),
                other => panic!("unexpected relay output {other:?}"),
            }
        }
        out
    }

    pub(super) fn commands(&self, worker: usize) -> Vec<Command> {
        self.workers[worker].rx.try_iter().collect()
    }

    pub(super) fn all_commands(&self) -> Vec<(usize, Command)> {
        (0..self.workers.len())
            .flat_map(|w| self.commands(w).into_iter().map(move |c| (w, c)))
            .collect()
    }

    pub(super) fn publish(&mut self, conn: ConnId, id: &str, name: &str) -> Vec<(ConnId, Value)> {
        self.publish_with(conn, id, name, PUBLISH_OFFER)
    }

    pub(super) fn publish_with(
        &mut self,
        conn: ConnId,
        id: &str,
        name: &str,
        sdp: &str,
    ) -> Vec<(ConnId, Value)> {
        let publish = client::publish_stream(&StreamDesc::av(id, name), sdp, None);
        self.text(conn, &publish)
    }

    pub(super) fn play_with(
        &mut self,
        conn: ConnId,
        id: &str,
        name: &str,
        sdp: &str,
    ) -> Vec<(ConnId, Value)> {
        // Not `client::play_stream`: the width comes as a string, as the SDK sends it when it
        // is taken from a page's URL parameters.
        self.send(
            conn,
            "playStream",
            json!({"mediaSessionId": id, "name": name, "published": false, "hasVideo": true,
                   "hasAudio": true, "status": "PENDING", "record": false, "width": "640", "height": 0,
                   "mediaProvider": "WebRTC", "sdp": sdp, "quality": 0}),
        )
    }

    pub(super) fn play(&mut self, conn: ConnId, id: &str, name: &str) -> Vec<(ConnId, Value)> {
        self.play_with(conn, id, name, &play_offer_vp8())
    }

    pub(super) fn stop(
        &mut self,
        conn: ConnId,
        message: &str,
        id: &str,
        name: &str,
    ) -> Vec<(ConnId, Value)> {
        self.send(
            conn,
            message,
            json!({"mediaSessionId": id, "name": name, "status": "PLAYING"}),
        )
    }
}

/// The `(status, info)` of a notifyStreamStatusEvent.
pub(super) fn status_of(v: &Value) -> (&str, &str) {
    assert_eq!(v["message"], "notifyStreamStatusEvent", "{v}");
    (
        v["data"][0]["status"].as_str().unwrap(),
        v["data"][0]["info"].as_str().unwrap(),
    )
}

pub(super) fn only_status(out: &[(ConnId, Value)], conn: ConnId) -> (String, String) {
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].0, conn);
    let (s, i) = status_of(&out[0].1);
    (s.to_owned(), i.to_owned())
}

pub(super) fn failed(info: &str) -> (String, String) {
    ("FAILED".to_owned(), info.to_owned())
}

/// The edge's answer (VP8) to a relay's publish offer.
pub(super) fn edge_answer(offer: &str) -> String {
    let local = LocalTransport {
        ufrag: "edgeufrg".into(),
        pwd: "edge-password-0123456789".into(),
        fingerprint: Fingerprint {
            algorithm: "sha-256".into(),
            digest: vec![0xCD; 32],
        },
        candidate: "127.0.0.1:40000".parse().unwrap(),
    };
    answer_publish(&parse_offer(offer).unwrap(), &[VideoCodec::Vp8], &local)
        .unwrap()
        .answer
}
