//! Downstream repair on the simulated network: a viewer's NACK is answered from the worker's
//! retransmission cache — as the packet was sent, or in RTX when the viewer negotiated it —
//! within the viewer's retransmission budget, and never reaches the publisher.

mod common;

use std::time::Duration;

use dataplane::api::{PeerRole, RtxSpec, TrackSpec, WorkerId};
use dataplane::rtcp;
use dataplane::sim::{self, ClientId, LinkConfig, Sim};

use common::*;

const MS: Duration = Duration::from_millis(1);

/// Sends a generic NACK for `seqs` (the viewer's own sequence numbers) from viewer `i`.
fn nack(sim: &mut Sim, viewer: ClientId, i: usize, seqs: &[u16]) {
    let (_, ssrc) = viewer_track(i);
    let pairs: Vec<(u16, u16)> = seqs.iter().map(|&s| (s, 0)).collect();
    let mut buf = vec![0u8; 16 + 4 * pairs.len()];
    let n = rtcp::write_nack(&mut buf, 0x1234, ssrc, &pairs).unwrap();
    sim.send_rtcp(viewer, &buf[..n]);
}

/// The viewer's numbering of the publisher's: the offsets of the packet it received for the
/// publisher's packet `seq`.
fn offsets_of(received: &[u8], seq: u16) -> (u16, u32) {
    let sent = video_packet(seq, 1000);
    (
        sequence_number(received).wrapping_sub(sequence_number(&sent)),
        timestamp(received).wrapping_sub(timestamp(&sent)),
    )
}

/// Viewer 0 of [`STREAM`] on `worker` with its video `track`, connected.
fn viewer_with(sim: &mut Sim, worker: WorkerId, track: TrackSpec) -> ClientId {
    let role = PeerRole::Subscriber {
        stream: STREAM,
        source: WorkerId(0),
    };
    let viewer = sim.add_client(worker, role, vec![track]).0;
    connected(sim, viewer)
}

/// A stream whose viewer `i` (on worker `worker`, with `rtx` if given) misses the packet the
/// publisher numbered 20 of 0..40; returns (sim, viewer, the viewer's number of the missing
/// packet).
fn viewer_missing_one(worker: WorkerId, rtx: Option<RtxSpec>) -> (Sim, ClientId, u16, ClientId) {
    let mut sim = Sim::new(2, 31);
    let (publisher, _) = publisher(&mut sim, WorkerId(0), STREAM);
    let (pt, ssrc) = viewer_track(0);
    let mut track = sim::video_track(pt, ssrc);
    track.rtx = rtx;
    let viewer = viewer_with(&mut sim, worker, track);
    let (from, to) = (sim.worker(worker).addr, sim.client(viewer).addr);
    publish(&mut sim, publisher, 0..20, 1000, 10 * MS);
    sim.set_link(from, to, LinkConfig::lossy(1.0));
    publish(&mut sim, publisher, 20..21, 1000, 10 * MS);
    sim.set_link(from, to, LinkConfig::default());
    publish(&mut sim, publisher, 21..40, 1000, 10 * MS);
    let got = published_seqs(&sim, viewer);
    assert_eq!(got.len(), 39);
    assert!(!got.contains(&20));
    // The viewer got 0..=19 at indexes 0..=19, then 21 on.
    let missing = sequence_number(&sim.client(viewer).rtp[19]).wrapping_add(1);
    (sim, viewer, missing, publisher)
}

#[test]
fn a_nack_is_answered_from_the_cache_as_the_packet_was_sent() {
    for worker in [WorkerId(0), WorkerId(1)] {
        let (mut sim, viewer, missing, publisher) = viewer_missing_one(worker, None);
        nack(&mut sim, viewer, 0, &[missing]);
        sim.run_for(50 * MS);
        let rtp = &sim.client(viewer).rtp;
        assert_eq!(rtp.len(), 40, "the retransmission arrived");
        let repaired = rtp.last().unwrap();
        // Exactly what the viewer would have got, numbered like its neighbours.
        let offsets = offsets_of(&rtp[19], 19);
        assert_eq!(
            &repaired[..],
            &rewritten(&video_packet(20, 1000), 0, offsets)[..]
        );
        let stats = sim.worker(worker).core.stats();
        assert_eq!(
            (stats.nack_requested, stats.retransmitted),
            (1, 1),
            "{stats:?}"
        );
        // The publisher never sees the viewer's NACK.
        assert_eq!(nacks_received(&sim, publisher), 0);
    }
}

#[test]
fn with_rtx_the_retransmission_has_its_own_payload_type_ssrc_and_numbers() {
    let rtx = RtxSpec {
        payload_type: 124,
        ssrc: Some(0x0BAD_F00D),
    };
    let (mut sim, viewer, missing, _) = viewer_missing_one(WorkerId(1), Some(rtx));
    nack(&mut sim, viewer, 0, &[missing, missing]);
    sim.run_for(50 * MS);
    let rtp = &sim.client(viewer).rtp;
    assert_eq!(rtp.len(), 41, "two RTX packets");
    let original = rewritten(&video_packet(20, 1000), 0, offsets_of(&rtp[19], 19));
    for (k, p) in rtp[39..].iter().enumerate() {
        assert_eq!(p[1] & 0x7F, 124, "the RTX payload type");
        assert_eq!(&p[8..12], &0x0BAD_F00Du32.to_be_bytes(), "the RTX SSRC");
        assert_eq!(&p[4..8], &original[4..8], "the original timestamp");
        assert_eq!(
            &p[12..14],
            &missing.to_be_bytes(),
            "the original sequence number first"
        );
        assert_eq!(&p[14..], &original[12..], "then the original payload");
        if k == 1 {
            let first = sequence_number(&rtp[39]);
            assert_eq!(
                sequence_number(p),
                first.wrapping_add(1),
                "RTX numbers go on"
            );
        }
    }
}

#[test]
fn a_packet_no_longer_cached_or_never_sent_is_not_answered() {
    let (mut sim, viewer, missing, _) = viewer_missing_one(WorkerId(0), None);
    // Well past the cache's 1 s.
    sim.run_for(1500 * MS);
    nack(&mut sim, viewer, 0, &[missing, missing.wrapping_add(1000)]);
    sim.run_for(50 * MS);
    assert_eq!(sim.client(viewer).rtp.len(), 39);
    let stats = sim.worker(WorkerId(0)).core.stats();
    assert_eq!((stats.nack_requested, stats.retransmit_missed), (2, 2));
    assert_eq!(stats.retransmitted, 0);
}

#[test]
fn retransmissions_stay_within_half_of_what_the_viewer_was_forwarded() {
    let (mut sim, viewer, missing, _) = viewer_missing_one(WorkerId(0), None);
    let forwarded: usize = sim.client(viewer).rtp.iter().map(|p| p.len()).sum();
    // A viewer asking for the same packet 200 times.
    for _ in 0..20 {
        nack(&mut sim, viewer, 0, &[missing; 10]);
    }
    sim.run_for(50 * MS);
    let stats = sim.worker(WorkerId(0)).core.stats();
    assert_eq!(stats.nack_requested, 200);
    assert_eq!(stats.retransmitted + stats.retransmit_over_budget, 200);
    let sent: usize = sim.client(viewer).rtp[39..].iter().map(|p| p.len()).sum();
    assert!(stats.retransmitted > 0, "{stats:?}");
    assert!(
        sent * 2 <= forwarded,
        "{sent} bytes of retransmission for {forwarded} forwarded"
    );
}

#[test]
fn a_viewer_without_nack_gets_no_retransmission() {
    let mut sim = Sim::new(1, 32);
    let (publisher, _) = publisher(&mut sim, WorkerId(0), STREAM);
    let (pt, ssrc) = viewer_track(0);
    let mut track = sim::video_track(pt, ssrc);
    track.nack = false;
    let viewer = viewer_with(&mut sim, WorkerId(0), track);
    publish(&mut sim, publisher, 0..10, 1000, 10 * MS);
    let seq = sequence_number(&sim.client(viewer).rtp[5]);
    nack(&mut sim, viewer, 0, &[seq]);
    sim.run_for(50 * MS);
    assert_eq!(sim.client(viewer).rtp.len(), 10);
    let stats = sim.worker(WorkerId(0)).core.stats();
    assert_eq!((stats.retransmitted, stats.retransmit_missed), (0, 1));
}
