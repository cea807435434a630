//! The data-plane half of the origin → edge relay, without signalling: two in-process data
//! planes ("origin" and "edge") on loopback. A client publishes to the origin; the origin's relay
//! leg (ICE controlling, DTLS client, its own socket) publishes into the edge like a browser
//! would; a client subscribed on the edge receives every packet byte-exact, and its PLI travels
//! up to the origin's publisher.

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::media::{parse_rtp, pump_until, relative_seqs, rtcp_packets, rtp_packet, MediaPeer};
use dataplane::api::{
    Command, Event, EventSink, MediaKind, PeerId, PeerRole, PeerSpec, StreamId, TrackSpec, WorkerId,
};
use dataplane::dtls::DtlsCertificate;
use dataplane::srtp::SrtpProfile;
use dataplane::transport::{LocalParams, RemoteParams};
use dataplane::{Dataplane, DataplaneConfig};

#[derive(Default)]
struct Events(Mutex<Vec<Event>>);

impl EventSink for Events {
    fn send(&self, event: Event) {
        self.0.lock().unwrap().push(event);
    }
}

fn start() -> (Dataplane, Arc<Events>) {
    let events = Arc::new(Events::default());
    let dp = dataplane::start(
        &DataplaneConfig {
            workers: 2,
            ..DataplaneConfig::default()
        },
        events.clone(),
    )
    .expect("data plane starts");
    (dp, events)
}

fn tracks(audio_ssrc: Option<u32>, video_ssrc: Option<u32>) -> Vec<TrackSpec> {
    vec![
        TrackSpec {
            remb: false,
            layers: Vec::new(),
            kind: MediaKind::Audio,
            codec: "opus".into(),
            payload_type: 111,
            clock_rate: 48_000,
            ssrc: audio_ssrc,
            extensions: vec![(
                2,
                "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time".into(),
            )],
            nack: false,
            rtx: None,
        },
        TrackSpec {
            remb: false,
            layers: Vec::new(),
            kind: MediaKind::Video,
            codec: "VP8".into(),
            payload_type: 96,
            clock_rate: 90_000,
            ssrc: video_ssrc,
            extensions: vec![(
                2,
                "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time".into(),
            )],
            nack: false,
            rtx: None,
        },
    ]
}

#[allow(clippy::too_many_arguments)]
fn spec(
    id: u64,
    role: PeerRole,
    local: (&str, &str),
    remote: (&str, &str),
    fingerprint: &DtlsCertificate,
    tracks: Vec<TrackSpec>,
) -> PeerSpec {
    PeerSpec {
        layer_choice: Default::default(),
        id: PeerId(id),
        role,
        local_ufrag: local.0.into(),
        local_pwd: local.1.into(),
        remote_ufrag: remote.0.into(),
        remote_pwd: remote.1.into(),
        remote_fingerprint: fingerprint.fingerprint(),
        tracks,
    }
}

fn client(
    local: (&str, &str),
    remote: (&str, &str),
    server: &Dataplane,
    at: SocketAddr,
    cert: &DtlsCertificate,
) -> MediaPeer {
    MediaPeer::new(
        &LocalParams {
            ufrag: local.0.into(),
            pwd: local.1.into(),
        },
        &RemoteParams {
            ufrag: remote.0.into(),
            pwd: remote.1.into(),
            fingerprint: server.fingerprint(),
            candidate: at,
        },
        cert,
        &SrtpProfile::ALL,
    )
}

#[test]
fn relay_leg_carries_media_to_the_edge_and_keyframe_requests_back() {
    let (origin, origin_events) = start();
    let (edge, edge_events) = start();
    let cert = DtlsCertificate::generate().unwrap();
    let (s_origin, s_edge) = (StreamId(1), StreamId(1));
    let w0 = WorkerId(0);
    let (pub_a, pub_v, relay_a, relay_v, sub_a, sub_v) = (0x111, 0x222, 0x333, 0x444, 0x555, 0x666);

    // Origin: the client's publisher on worker 0.
    let pub_creds = (
        ("pubsrvuf", "publisher-server-password"),
        ("pubcliuf", "publisher-client-password"),
    );
    origin.workers[0]
        .send(Command::AddPeer(Box::new(spec(
            1,
            PeerRole::Publisher { stream: s_origin },
            pub_creds.0,
            pub_creds.1,
            &cert,
            tracks(Some(pub_a), Some(pub_v)),
        ))))
        .unwrap();
    // Edge: the relay leg arrives as an ordinary publisher on worker 0.
    let leg_creds = (
        ("edgesrvu", "edge-server-password-0123"),
        ("origincu", "origin-client-password-01"),
    );
    let mut edge_pub = spec(
        1,
        PeerRole::Publisher { stream: s_edge },
        leg_creds.0,
        leg_creds.1,
        &cert,
        tracks(Some(relay_a), Some(relay_v)),
    );
    edge_pub.remote_fingerprint = origin.fingerprint();
    edge.workers[0]
        .send(Command::AddPeer(Box::new(edge_pub)))
        .unwrap();
    // Edge: the client's subscriber on worker 1.
    let sub_creds = (
        ("subsrvuf", "subscriber-server-password"),
        ("subcliuf", "subscriber-client-password"),
    );
    edge.workers[1]
        .send(Command::AddPeer(Box::new(spec(
            2,
            PeerRole::Subscriber {
                stream: s_edge,
                source: w0,
            },
            sub_creds.0,
            sub_creds.1,
            &cert,
            tracks(Some(sub_a), Some(sub_v)),
        ))))
        .unwrap();
    edge.workers[0]
        .send(Command::AddFanoutTarget {
            stream: s_edge,
            worker: WorkerId(1),
        })
        .unwrap();
    // Origin: the relay leg on worker 1, toward the edge's worker 0.
    let mut relay = spec(
        2,
        PeerRole::Relay {
            stream: s_origin,
            source: w0,
            remote: edge.workers[0].addr,
        },
        leg_creds.1,
        leg_creds.0,
        &cert,
        tracks(Some(relay_a), Some(relay_v)),
    );
    relay.remote_fingerprint = edge.fingerprint();
    origin.workers[1]
        .send(Command::AddPeer(Box::new(relay)))
        .unwrap();
    origin.workers[0]
        .send(Command::AddFanoutTarget {
            stream: s_origin,
            worker: WorkerId(1),
        })
        .unwrap();

    let mut publisher = client(
        pub_creds.1,
        pub_creds.0,
        &origin,
        origin.workers[0].addr,
        &cert,
    );
    let mut subscriber = client(sub_creds.1, sub_creds.0, &edge, edge.workers[1].addr, &cert);
    let connected = pump_until(
        &mut [&mut publisher, &mut subscriber],
        Duration::from_secs(10),
        |ps| ps.iter().all(|p| p.conn.is_connected()),
    );
    assert!(connected, "clients did not connect");
    // The relay leg connects on its own (origin checks the edge, DTLS client handshake).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !origin_events.0.lock().unwrap().iter().any(|e| {
        matches!(
            e,
            Event::PeerConnected {
                peer: PeerId(2),
                ..
            }
        )
    }) {
        assert!(
            std::time::Instant::now() < deadline,
            "relay leg did not connect: {:?}",
            origin_events.0.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(edge_events.0.lock().unwrap().iter().any(|e| matches!(
        e,
        Event::PeerConnected {
            peer: PeerId(1),
            ..
        }
    )));

    let mut sent = Vec::new();
    for n in 0..60u16 {
        let mut vp8 = if n == 0 {
            vec![0x10, 0x00, 0x9d, 0x01, 0x2a]
        } else {
            vec![0x00, 0x01]
        };
        vp8.extend_from_slice(format!("relayed-video-{n}").as_bytes());
        publisher.send_rtp(&rtp_packet(
            96,
            100 + n,
            3000 * u32::from(n),
            pub_v,
            false,
            &vp8,
        ));
        sent.push((100 + n, vp8));
        subscriber.pump();
        publisher.pump();
        std::thread::sleep(Duration::from_micros(500));
    }
    let got_all = pump_until(
        &mut [&mut publisher, &mut subscriber],
        Duration::from_secs(5),
        |ps| ps[1].rtp.len() >= 60,
    );
    assert!(
        got_all,
        "edge subscriber got {} of 60",
        subscriber.rtp.len()
    );
    let got: Vec<(u16, Vec<u8>)> = subscriber
        .rtp
        .iter()
        .map(|p| {
            let r = parse_rtp(p);
            assert_eq!(
                (r.pt, r.ssrc),
                (96, sub_v),
                "edge subscriber's own PT and SSRC"
            );
            (r.seq, r.payload)
        })
        .collect();
    assert!(
        relative_seqs(&got) == relative_seqs(&sent),
        "every packet crossed the relay byte-exact ({} of {})",
        got.len(),
        sent.len()
    );

    // A PLI from the edge subscriber reaches the origin's publisher (after the join-time
    // requests have settled).
    pump_until(
        &mut [&mut publisher, &mut subscriber],
        Duration::from_millis(2500),
        |_| false,
    );
    publisher.rtcp.clear();
    let mut pli = vec![0x81, 206, 0, 2];
    pli.extend_from_slice(&0x77u32.to_be_bytes());
    pli.extend_from_slice(&sub_v.to_be_bytes());
    subscriber.send_rtcp(&pli);
    let got_pli = pump_until(
        &mut [&mut publisher, &mut subscriber],
        Duration::from_secs(4),
        |ps| {
            ps[0].rtcp.iter().any(|c| {
                rtcp_packets(c).iter().any(|(pt, fmt, body)| {
                    *pt == 206 && *fmt == 1 && body[4..8] == pub_v.to_be_bytes()
                })
            })
        },
    );
    assert!(
        got_pli,
        "the edge player's PLI did not reach the origin's publisher"
    );

    for w in origin.workers.iter().chain(edge.workers.iter()) {
        w.send(Command::Shutdown).unwrap();
    }
    origin.join();
    edge.join();
}
