//! The data plane's plain peers (`Command::AddPlainPeer`, the rtp relay) without signalling:
//! they report `PeerConnected` at once, an origin leg keeps its edge informed with RTCP
//! keep-alives from the socket the control plane bound, and invalid combinations are refused
//! with `CloseReason::Refused` instead of running.

use std::net::{SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dataplane::api::{
    CloseReason, Command, Event, EventSink, Fingerprint, MediaKind, PeerId, PeerRole, PeerSpec,
    StreamId, TrackSpec, WorkerId,
};
use dataplane::{Dataplane, DataplaneConfig};

#[derive(Default)]
struct Events(Mutex<Vec<Event>>);

impl EventSink for Events {
    fn send(&self, event: Event) {
        self.0.lock().unwrap().push(event);
    }
}

impl Events {
    /// Waits up to 5 s for an event about `peer`.
    fn wait(&self, peer: PeerId) -> Event {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let found =
                self.0
                    .lock()
                    .unwrap()
                    .iter()
                    .find(|e| match e {
                        Event::PeerConnected { peer: p, .. }
                        | Event::PeerClosed { peer: p, .. } => *p == peer,
                        Event::BandwidthShort { .. }
                        | Event::ViewerStats { .. }
                        | Event::PublisherStats { .. } => false,
                    })
                    .cloned();
            if let Some(e) = found {
                return e;
            }
            assert!(Instant::now() < deadline, "no event for {peer}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

fn start() -> (Dataplane, Arc<Events>) {
    let events = Arc::new(Events::default());
    let dp = dataplane::start(&DataplaneConfig::default(), events.clone()).expect("starts");
    (dp, events)
}

fn spec(id: u64, role: PeerRole) -> Box<PeerSpec> {
    Box::new(PeerSpec {
        layer_choice: Default::default(),
        id: PeerId(id),
        role,
        local_ufrag: format!("plain{id}"),
        local_pwd: String::new(),
        remote_ufrag: String::new(),
        remote_pwd: String::new(),
        remote_fingerprint: Fingerprint {
            algorithm: "sha-256".into(),
            digest: Vec::new(),
        },
        tracks: vec![TrackSpec {
            remb: false,
            layers: Vec::new(),
            kind: MediaKind::Video,
            codec: "VP8".into(),
            payload_type: 96,
            clock_rate: 90_000,
            ssrc: Some(0x0102_0304),
            extensions: Vec::new(),
            nack: false,
            rtx: None,
        }],
    })
}

fn add(dp: &Dataplane, spec: Box<PeerSpec>, remote: SocketAddr, socket: Option<UdpSocket>) {
    dp.workers[0]
        .send(Command::AddPlainPeer {
            spec,
            remote,
            socket,
        })
        .expect("worker runs");
}

#[test]
fn origin_leg_connects_at_once_and_sends_keepalives_from_its_socket() {
    let (dp, events) = start();
    let edge = UdpSocket::bind("127.0.0.1:0").unwrap();
    edge.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let edge_addr = edge.local_addr().unwrap();
    let leg = UdpSocket::bind("127.0.0.1:0").unwrap();
    let leg_addr = leg.local_addr().unwrap();
    let role = PeerRole::Relay {
        stream: StreamId(1),
        source: WorkerId(0),
        remote: edge_addr,
    };
    add(&dp, spec(1, role), edge_addr, Some(leg));
    assert_eq!(
        events.wait(PeerId(1)),
        Event::PeerConnected {
            peer: PeerId(1),
            remote: edge_addr
        }
    );
    let mut buf = [0u8; 64];
    let (len, from) = edge.recv_from(&mut buf).expect("a keep-alive");
    assert_eq!(from, leg_addr, "sent from the announced source");
    assert_eq!(
        &buf[..len],
        &[0x80, 201, 0, 1, 1, 2, 3, 4],
        "an empty RR with our SSRC"
    );
    dp.workers[0].send(Command::Shutdown).unwrap();
    dp.join();
}

#[test]
fn invalid_plain_peers_are_refused() {
    let (dp, events) = start();
    let source: SocketAddr = "127.0.0.1:45678".parse().unwrap();
    let publisher = PeerRole::Publisher {
        stream: StreamId(1),
    };
    // A valid edge publisher, then a second one claiming the same source.
    add(&dp, spec(1, publisher), source, None);
    assert!(matches!(
        events.wait(PeerId(1)),
        Event::PeerConnected { .. }
    ));
    add(
        &dp,
        spec(
            2,
            PeerRole::Publisher {
                stream: StreamId(2),
            },
        ),
        source,
        None,
    );
    let refused = |peer| Event::PeerClosed {
        peer,
        reason: CloseReason::Refused,
    };
    assert_eq!(events.wait(PeerId(2)), refused(PeerId(2)));
    // A player cannot be plain; a leg needs its socket; a publisher must not bring one.
    let player = PeerRole::Subscriber {
        stream: StreamId(1),
        source: WorkerId(0),
    };
    add(&dp, spec(3, player), source, None);
    assert_eq!(events.wait(PeerId(3)), refused(PeerId(3)));
    let leg = PeerRole::Relay {
        stream: StreamId(1),
        source: WorkerId(0),
        remote: source,
    };
    add(&dp, spec(4, leg), source, None);
    assert_eq!(events.wait(PeerId(4)), refused(PeerId(4)));
    let stray = UdpSocket::bind("127.0.0.1:0").unwrap();
    let other: SocketAddr = "127.0.0.1:45679".parse().unwrap();
    add(
        &dp,
        spec(
            5,
            PeerRole::Publisher {
                stream: StreamId(5),
            },
        ),
        other,
        Some(stray),
    );
    assert_eq!(events.wait(PeerId(5)), refused(PeerId(5)));
    dp.workers[0].send(Command::Shutdown).unwrap();
    dp.join();
}
