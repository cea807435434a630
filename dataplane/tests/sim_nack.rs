//! Downstream repair on the simulated network: a viewer's NACK is answered from the worker's
//! retransmission cache — as the packet was sent, or in RTX when the viewer negotiated it —
//! within the viewer's retransmission budget, and never reaches the publisher.

mod common;

use std::time::Duration;

use dataplane::api::{PeerRole, RtxSpec, TrackSpec, WorkerId};
use dataplane::rtcp;
use dataplane::sim::{self, ClientId, LinkConfig, Sim};

use common::*;
use dataplane::subscriber::retransmissions::{DEFAULT_RTT, PACE_BURST, PACE_INTERVAL};

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
    // Asked twice, the second time after the (default) round trip: two RTX packets.
    nack(&mut sim, viewer, 0, &[missing]);
    sim.run_for(DEFAULT_RTT + 10 * MS);
    nack(&mut sim, viewer, 0, &[missing]);
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
fn a_repeated_nack_is_answered_once_per_round_trip() {
    let (mut sim, viewer, missing, _) = viewer_missing_one(WorkerId(0), None);
    // Asked again every 20 ms for 90 ms: inside the default 100 ms round trip, once.
    for _ in 0..5 {
        nack(&mut sim, viewer, 0, &[missing]);
        sim.run_for(20 * MS);
    }
    let stats = sim.worker(WorkerId(0)).core.stats();
    assert_eq!(
        (stats.retransmitted, stats.retransmit_suppressed),
        (1, 4),
        "{stats:?}"
    );
    // Once the round trip is over it is resent.
    sim.run_for(DEFAULT_RTT);
    nack(&mut sim, viewer, 0, &[missing]);
    sim.run_for(10 * MS);
    assert_eq!(sim.worker(WorkerId(0)).core.stats().retransmitted, 2);
    // The viewer had the packet already: its SRTP replay check drops the second copy.
    let c = sim.client(viewer);
    assert_eq!((c.rtp.len(), c.rejected), (40, 1));
}

#[test]
fn the_round_trip_measured_from_receiver_reports_sets_how_long_repeats_are_ignored() {
    let mut sim = Sim::new(1, 33);
    let (publisher, _) = publisher(&mut sim, WorkerId(0), STREAM);
    let (pt, ssrc) = viewer_track(0);
    let viewer = viewer_with(&mut sim, WorkerId(0), sim::video_track(pt, ssrc));
    // 30 ms each way between the worker and the viewer.
    let (w, v) = (sim.worker(WorkerId(0)).addr, sim.client(viewer).addr);
    sim.set_link(w, v, LinkConfig::delayed(30 * MS));
    sim.set_link(v, w, LinkConfig::delayed(30 * MS));
    publish(&mut sim, publisher, 0..20, 1000, 10 * MS);
    // The publisher's sender report reaches the viewer (under its SSRC) ...
    let ntp = 0x0001_2345_6789_0000u64;
    let mut buf = [0u8; 128];
    let n = rtcp::write_sender_report(&mut buf, PUB_SSRC, ntp, 57_000, 20, 12_000).unwrap();
    sim.send_rtcp(publisher, &buf[..n]);
    assert!(sim.run_until_true(Duration::from_secs(1), |s| !s
        .client(viewer)
        .rtcp
        .is_empty()));
    // ... which holds it 5 ms and reports on it.
    sim.run_for(5 * MS);
    let block = rtcp::ReportBlock {
        ssrc,
        last_sr: 0x2345_6789,
        delay_since_last_sr: 65_536 * 5 / 1000,
        ..Default::default()
    };
    let n = rtcp::write_receiver_report(&mut buf, 0x1234, &[block]).unwrap();
    sim.send_rtcp(viewer, &buf[..n]);
    sim.run_for(100 * MS);

    // A packet lost and asked for twice 70 ms apart: 70 ms is more than the measured
    // 60 ms round trip, so both are answered (with the default 100 ms the second would not be).
    sim.set_link(w, v, LinkConfig::lossy(1.0));
    publish(&mut sim, publisher, 20..21, 1000, 10 * MS);
    sim.set_link(w, v, LinkConfig::delayed(30 * MS));
    publish(&mut sim, publisher, 21..25, 1000, 10 * MS);
    sim.run_for(50 * MS);
    let missing = sequence_number(&sim.client(viewer).rtp[19]).wrapping_add(1);
    nack(&mut sim, viewer, 0, &[missing]);
    sim.run_for(70 * MS);
    nack(&mut sim, viewer, 0, &[missing]);
    sim.run_for(100 * MS);
    let stats = sim.worker(WorkerId(0)).core.stats();
    assert_eq!(
        (stats.retransmitted, stats.retransmit_suppressed),
        (2, 0),
        "{stats:?}"
    );
}

#[test]
fn retransmissions_stay_within_half_of_what_the_viewer_was_forwarded_and_are_paced() {
    let mut sim = Sim::new(1, 34);
    let (publisher, _) = publisher(&mut sim, WorkerId(0), STREAM);
    let (pt, ssrc) = viewer_track(0);
    let viewer = viewer_with(&mut sim, WorkerId(0), sim::video_track(pt, ssrc));
    let (w, v) = (sim.worker(WorkerId(0)).addr, sim.client(viewer).addr);
    publish(&mut sim, publisher, 0..20, 1000, 10 * MS);
    // 60 packets in a row lost, then 20 arrive.
    sim.set_link(w, v, LinkConfig::lossy(1.0));
    publish(&mut sim, publisher, 20..80, 1000, 10 * MS);
    sim.set_link(w, v, LinkConfig::default());
    publish(&mut sim, publisher, 80..100, 1000, 10 * MS);
    assert_eq!(sim.client(viewer).rtp.len(), 40);
    let first_missing = sequence_number(&sim.client(viewer).rtp[19]).wrapping_add(1);
    let missing: Vec<u16> = (0..60).map(|k| first_missing.wrapping_add(k)).collect();

    // One NACK for all 60: what the budget allows goes at once, the rest is deferred.
    let asked_at = sim.now();
    nack(&mut sim, viewer, 0, &missing);
    sim.run_for(5 * MS);
    let stats = sim.worker(WorkerId(0)).core.stats();
    assert_eq!(stats.nack_requested, 60);
    assert!(stats.retransmitted > 0, "{stats:?}");
    assert_eq!(
        stats.retransmitted + stats.retransmit_deferred,
        60,
        "{stats:?}"
    );
    // Every packet has the same size; the budget is a share of what was sent to the viewer
    // (also what its link lost).
    let size = sim.client(viewer).rtp[0].len();
    let forwarded = |s: &Sim| s.worker(WorkerId(0)).core.stats().rtp_forwarded as usize * size;
    let immediate = sim.client(viewer).rtp.len() - 40;
    assert!(
        immediate * size * 2 <= forwarded(&sim),
        "{immediate} retransmissions for {} bytes forwarded",
        forwarded(&sim)
    );

    // The stream goes on: the budget refills with what is forwarded, and the deferred
    // retransmissions follow, a few per pacing tick, never more than half of the rest.
    let before = sim.client(viewer).rtp.len();
    publish(&mut sim, publisher, 100..200, 1000, 10 * MS);
    let c = sim.client(viewer);
    let retransmitted: Vec<_> = c.rtp[before..]
        .iter()
        .zip(&c.rtp_at[before..])
        .filter(|(p, _)| missing.contains(&sequence_number(p)))
        .map(|(_, &at)| at)
        .collect();
    let stats = sim.worker(WorkerId(0)).core.stats();
    assert_eq!(
        immediate + retransmitted.len(),
        stats.retransmitted as usize,
        "{stats:?}"
    );
    assert!(
        retransmitted.len() > PACE_BURST,
        "deferred ones were sent: {stats:?}"
    );
    let mut per_tick = std::collections::BTreeMap::new();
    for at in &retransmitted {
        *per_tick
            .entry(at.duration_since(asked_at).as_millis() / PACE_INTERVAL.as_millis())
            .or_insert(0) += 1;
    }
    assert!(
        per_tick.values().all(|&n| n <= PACE_BURST) && per_tick.len() > 1,
        "paced: {per_tick:?}"
    );
    assert!(
        stats.retransmitted as usize * size * 2 <= forwarded(&sim),
        "{} retransmissions for {} bytes forwarded",
        stats.retransmitted,
        forwarded(&sim)
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
