//! Each viewer's own sequence numbers and timestamps on the simulated network: they start at
//! a random point per viewer, skip nothing for packets held back while the viewer waits for a
//! keyframe, keep a real loss as a gap of its size, and go on by one when the publisher jumps
//! its numbering, so the SRTP packet index of a viewer's key never repeats (its SRTP replay
//! check rejects nothing).

mod common;

use std::time::Duration;

use dataplane::api::WorkerId;
use dataplane::sim::{self, ClientId, Sim};

use common::*;

const MS: Duration = Duration::from_millis(1);

/// Sends the publisher's packets numbered `seqs` (a keyframe every 1000), 10 ms apart, with
/// timestamps from `ts` on, 3000 ticks apart; returns the next timestamp.
fn send(
    sim: &mut Sim,
    publisher: ClientId,
    seqs: impl IntoIterator<Item = u16>,
    mut ts: u32,
) -> u32 {
    for seq in seqs {
        let payload = if seq.is_multiple_of(1000) {
            sim::vp8_keyframe(seq, 600)
        } else {
            sim::vp8_delta(seq, 600)
        };
        sim.send_rtp(
            publisher,
            &sim::rtp_packet(PUB_PT, seq, ts, PUB_SSRC, &payload),
        );
        sim.run_for(10 * MS);
        ts = ts.wrapping_add(3000);
    }
    ts
}

/// The viewer's sequence numbers, checked to go up by exactly one from packet to packet,
/// and its timestamps, checked never to go back.
fn contiguous(sim: &Sim, viewer: ClientId) -> Vec<u16> {
    let c = sim.client(viewer);
    let seqs: Vec<u16> = c.rtp.iter().map(|p| sequence_number(p)).collect();
    for pair in seqs.windows(2) {
        assert_eq!(pair[1], pair[0].wrapping_add(1), "{seqs:?}");
    }
    for pair in c.rtp.windows(2) {
        let step = timestamp(&pair[1]).wrapping_sub(timestamp(&pair[0]));
        assert!(step < u32::MAX / 2, "the timestamp went back: {step}");
    }
    assert_eq!(c.rejected, 0, "no SRTP index repeated");
    seqs
}

#[test]
fn a_viewer_waiting_for_a_keyframe_sees_no_gap_for_what_was_held_back() {
    let mut sim = Sim::new(1, 61);
    let (publisher, _) = publisher(&mut sim, WorkerId(0), STREAM);
    let ts = send(&mut sim, publisher, 0..30, 0);
    // Joins mid-GOP: the deltas 30..120 are held back, the keyframe (1000) starts its stream.
    let viewer = add_viewer(&mut sim, WorkerId(0), (STREAM, WorkerId(0)), 0);
    let viewer = connected(&mut sim, viewer);
    let ts = send(&mut sim, publisher, 30..120, ts);
    assert!(sim.client(viewer).rtp.is_empty());
    send(&mut sim, publisher, 1000..1100, ts);
    let seqs = contiguous(&sim, viewer);
    assert_eq!(seqs.len(), 100);
    assert_eq!(
        published_seqs(&sim, viewer)[0],
        1000,
        "starts at the keyframe"
    );
}

#[test]
fn a_publisher_that_jumps_its_numbers_does_not_make_the_viewer_jump() {
    let mut sim = Sim::new(2, 62);
    let (publisher, viewers) = stream_with_viewers(&mut sim, 2, 2);
    send(&mut sim, publisher, 0..50, 0);
    // Jumps forward (an encoder reset, another sender behind the same SSRC), the last one
    // across the wrap of the 16-bit numbers. (A jump back cannot reach a node under SRTP, whose
    // replay check drops it; the rewriter's unit tests cover it for plain RTP.)
    // Each jump also restarts the timestamps elsewhere; the last run crosses their wrap too.
    send(&mut sim, publisher, 30_000..30_050, 7_000_000);
    let ts = send(&mut sim, publisher, 60_000..60_050, u32::MAX - 300_000);
    send(&mut sim, publisher, (65_500..=65_535).chain(0..14), ts);
    let mut firsts = Vec::new();
    for &v in &viewers {
        let seqs = contiguous(&sim, v);
        assert_eq!(seqs.len(), 200, "every packet, numbered without a gap");
        firsts.push(seqs[0]);
        let tags: Vec<u16> = sim
            .client(v)
            .rtp
            .iter()
            .map(|p| u16::from_be_bytes([p[14], p[15]]))
            .collect();
        assert_eq!(&tags[48..52], &[48, 49, 30_000, 30_001]);
        assert_eq!(&tags[98..102], &[30_048, 30_049, 60_000, 60_001]);
        assert_eq!(&tags[184..188], &[65_534, 65_535, 0, 1]);
    }
    assert_ne!(
        firsts[0], firsts[1],
        "each viewer numbers from its own random start"
    );
}

#[test]
fn a_loss_between_publisher_and_node_stays_a_gap_of_the_same_size_for_the_viewer() {
    let mut sim = Sim::new(1, 63);
    let (publisher, viewers) = stream_with_viewers(&mut sim, 1, 1);
    send(&mut sim, publisher, 0..20, 0);
    // 21 and 22 never arrive (the publisher's link lost them and nobody repaired them).
    send(&mut sim, publisher, [20, 23, 24], 60_000);
    let seqs: Vec<u16> = sim
        .client(viewers[0])
        .rtp
        .iter()
        .map(|p| sequence_number(p))
        .collect();
    assert_eq!(
        seqs[21].wrapping_sub(seqs[20]),
        3,
        "the gap the viewer can NACK"
    );
}
