//! Fan-out on the simulated network: one publisher, many viewers on several workers.

mod common;

use std::time::Duration;

use dataplane::api::WorkerId;
use dataplane::sim::Sim;

use common::*;

const MS: Duration = Duration::from_millis(1);

#[test]
fn one_publisher_to_200_viewers_on_4_workers_is_byte_exact() {
    let mut sim = Sim::new(4, 1);
    let (publisher, viewers) = stream_with_viewers(&mut sim, 4, 200);
    // 100 packets at 100 packets/s, a keyframe first and every 30.
    publish(&mut sim, publisher, 0..100, 30, 10 * MS);
    sim.run_for(100 * MS);

    let sent: Vec<Vec<u8>> = (0..100).map(|s| video_packet(s, 30)).collect();
    for (i, &v) in viewers.iter().enumerate() {
        assert_forwarded(&sim, v, i, &sent);
    }
    // Each worker forwarded to its own 50 viewers; the publisher's worker shared the packets
    // with the three others through their mailboxes, none dropped.
    for w in 0..4 {
        let stats = sim.worker(WorkerId(w)).core.stats();
        assert_eq!(stats.rtp_forwarded, 50 * 100, "worker {w}: {stats:?}");
        assert_eq!(stats.dropped_fanout_full, 0);
        assert_eq!(stats.dropped_send_full, 0, "worker {w}: {stats:?}");
        // Every forwarded packet left as a datagram of at least its plain size (SRTP adds a
        // tag), plus the handshakes' and feedback datagrams.
        assert!(
            stats.datagrams_out > stats.rtp_forwarded,
            "worker {w}: {stats:?}"
        );
        assert!(stats.bytes_out > stats.rtp_forwarded * sent[0].len() as u64);
        assert!(stats.bytes_in > 0 && stats.datagrams_in > 0);
    }
    assert_eq!(sim.undeliverable, 0);
}

#[test]
fn a_viewer_that_leaves_gets_nothing_more_and_the_others_go_on() {
    let mut sim = Sim::new(2, 2);
    let (publisher, viewers) = stream_with_viewers(&mut sim, 2, 4);
    publish(&mut sim, publisher, 0..10, 30, 10 * MS);
    // Viewer 1 (on worker 1) leaves: the control plane removes its peer.
    let leaving = dataplane::api::PeerId(3); // publisher is peer 1, viewers 2..=5
    sim.command(WorkerId(1), dataplane::api::Command::RemovePeer(leaving));
    publish(&mut sim, publisher, 10..20, 30, 10 * MS);
    sim.run_for(100 * MS);
    let counts: Vec<usize> = viewers.iter().map(|&v| sim.client(v).rtp.len()).collect();
    assert_eq!(counts, [20, 10, 20, 20]);
    assert_eq!(sim.worker(WorkerId(1)).core.peer_count(), 1);
    // The leaving viewer was told with a DTLS close_notify, not left to consent expiry; the
    // others were not.
    let told: Vec<_> = viewers.iter().map(|&v| sim.client(v).failed).collect();
    assert_eq!(
        told,
        [
            None,
            Some(dataplane::api::CloseReason::PeerClosed),
            None,
            None
        ]
    );
}

#[test]
fn without_gso_a_32_slot_queue_delivers_a_batch_to_100_viewers_in_several_sends() {
    let mut sim = Sim::with_config(1, 6, dataplane::ice::IceConfig::default(), false);
    let (publisher, viewers) = stream_with_viewers(&mut sim, 1, 100);
    // Bursts of 5 packets at once: one batch is 500 datagrams for a 32-slot queue.
    for burst in 0..10u16 {
        for seq in burst * 5..burst * 5 + 5 {
            sim.send_rtp(publisher, &video_packet(seq, 25));
        }
        sim.run_for(40 * MS);
    }
    let sent: Vec<Vec<u8>> = (0..50).map(|s| video_packet(s, 25)).collect();
    for (i, &v) in viewers.iter().enumerate() {
        assert_forwarded(&sim, v, i, &sent);
    }
    let stats = sim.worker(WorkerId(0)).core.stats();
    assert_eq!(stats.rtp_forwarded, 100 * 50);
    assert_eq!(stats.dropped_send_full, 0, "{stats:?}");
}
