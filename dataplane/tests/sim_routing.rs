//! How the worker core routes datagrams, on the simulated network: only ICE-validated
//! addresses reach a peer, a first check finds its peer by ufrag, and the plain RTP relay
//! accepts exactly its announced source.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use dataplane::api::{
    CloseReason, Command, Event, Fingerprint, PeerId, PeerRole, PeerSpec, StreamId, WorkerId,
};
use dataplane::sim::{self, Sim};
use dataplane::stun::write_binding_request;

use common::*;

const MS: Duration = Duration::from_millis(1);
const SECOND: Duration = Duration::from_secs(1);

fn stranger() -> SocketAddr {
    SocketAddr::from(([203, 0, 113, 9], 4444))
}

#[test]
fn media_and_checks_from_strangers_are_dropped_and_counted_and_answered_with_nothing() {
    let mut sim = Sim::new(1, 12);
    let (publisher, viewers) = stream_with_viewers(&mut sim, 1, 1);
    let viewer = viewers[0];
    let worker = sim.worker(WorkerId(0)).addr;
    let before = sim.worker(WorkerId(0)).core.stats();

    // A copy of the publisher's SRTP packet from another address (a spoofed source) …
    let plain = video_packet(0, 30);
    let enc = sim.client_mut(publisher).conn.protect_rtp(&plain).unwrap();
    sim.send(stranger(), worker, enc.to_vec());
    // … a check for a ufrag nobody has, DTLS and garbage from the stranger.
    let mut check = [0u8; 200];
    let n = write_binding_request(
        &mut check,
        &[7; 12],
        b"nobody:cli2",
        b"client-password-00000002",
        1,
        2,
        true,
    )
    .unwrap();
    sim.send(stranger(), worker, check[..n].to_vec());
    sim.send(
        stranger(),
        worker,
        vec![22, 254, 253, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    );
    sim.send(stranger(), worker, vec![0xFF; 40]);
    sim.run_for(10 * MS);

    let stats = sim.worker(WorkerId(0)).core.stats();
    assert_eq!(stats.datagrams_in - before.datagrams_in, 4);
    assert_eq!(
        stats.dropped_unknown_source - before.dropped_unknown_source,
        4
    );
    assert!(sim.client(viewer).rtp.is_empty(), "nothing was forwarded");
    assert_eq!(
        sim.undeliverable, 0,
        "and nothing was answered to the stranger"
    );
    // The same packet from the publisher's validated address is forwarded.
    sim.send_rtp(publisher, &plain);
    sim.run_for(10 * MS);
    assert_eq!(sim.client(viewer).rtp.len(), 1);
}

#[test]
fn a_peer_nobody_connects_to_times_out_and_its_ufrag_is_free_again() {
    let ice = dataplane::ice::IceConfig {
        connect_timeout: 3 * SECOND,
        ..Default::default()
    };
    let mut sim = Sim::with_config(1, 13, ice, true);
    let id = sim.peer_id();
    let spec = PeerSpec {
        layer_choice: Default::default(),
        id,
        role: PeerRole::Publisher {
            stream: StreamId(1),
        },
        local_ufrag: "lonely".to_owned(),
        local_pwd: "lonely-password-0000000".to_owned(),
        remote_ufrag: "x".to_owned(),
        remote_pwd: "y".to_owned(),
        remote_fingerprint: Fingerprint {
            algorithm: "sha-256".to_owned(),
            digest: vec![0; 32],
        },
        tracks: vec![sim::video_track(PUB_PT, PUB_SSRC)],
    };
    sim.command(WorkerId(0), Command::AddPeer(Box::new(spec.clone())));
    // The same ufrag again is refused while the first peer lives.
    let mut dup = spec.clone();
    dup.id = PeerId(999);
    sim.command(WorkerId(0), Command::AddPeer(Box::new(dup)));
    assert_eq!(sim.worker(WorkerId(0)).core.peer_count(), 1);
    sim.run_for(5 * SECOND);
    assert_eq!(
        sim.events,
        [(
            WorkerId(0),
            Event::PeerClosed {
                peer: id,
                reason: CloseReason::IceTimeout
            }
        )]
    );
    assert_eq!(sim.worker(WorkerId(0)).core.peer_count(), 0);
    assert_eq!(sim.worker(WorkerId(0)).core.stream_count(), 0);
}

#[test]
fn the_plain_rtp_relay_carries_a_stream_from_its_own_socket_to_its_announced_source_only() {
    // Origin worker 0 publishes; its plain leg goes to edge worker 1.
    let mut sim = Sim::new(2, 14);
    let (stream, edge_stream) = (STREAM, EDGE_STREAM);
    let (publisher, _) = publisher(&mut sim, WorkerId(0), stream);
    let tracks = vec![sim::video_track(PUB_PT, PUB_SSRC)];
    let edge_addr = sim.worker(WorkerId(1)).addr;
    let (leg, edge) = sim.add_plain_relay(
        WorkerId(0),
        (stream, WorkerId(0)),
        WorkerId(1),
        edge_stream,
        tracks,
    );
    let connected: Vec<PeerId> = sim
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::PeerConnected { peer, .. } => Some(*peer),
            _ => None,
        })
        .collect();
    assert!(
        connected.contains(&leg) && connected.contains(&edge),
        "at once"
    );
    let edge_viewer = viewers(&mut sim, (edge_stream, WorkerId(1)), 1, 1)[0];
    publish(&mut sim, publisher, 0..40, 30, 10 * MS);
    let sent: Vec<Vec<u8>> = (0..40).map(|s| video_packet(s, 30)).collect();
    assert_forwarded(&sim, edge_viewer, 0, &sent);

    // A stranger's plain RTP to the edge is dropped; the edge stays up while the leg's
    // keep-alives arrive, well past the consent timeout.
    let before = sim.worker(WorkerId(1)).core.stats().dropped_unknown_source;
    sim.send(stranger(), edge_addr, video_packet(99, 30));
    sim.run_for(60 * SECOND);
    assert_eq!(
        sim.worker(WorkerId(1)).core.stats().dropped_unknown_source,
        before + 1
    );
    assert!(
        !sim.events
            .iter()
            .any(|(_, e)| matches!(e, Event::PeerClosed { .. })),
        "{:?}",
        sim.events
    );
}
