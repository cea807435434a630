//! Pacing of a viewer's video on the simulated network: a keyframe is a burst of dozens of
//! packets; sent at once it overflows a thin path's shallow buffer, paced (at 2.5 times the
//! viewer's estimate) much less of it is lost. A viewer with transport-wide congestion control
//! is paced; one without (no estimate) is the comparison, on an identical path.

mod common;

use std::time::Duration;

use dataplane::api::{PeerRole, WorkerId};
use dataplane::rtcp::TWCC_URI;
use dataplane::sim::{self, ClientId, LinkConfig, Sim};

use common::*;

const MS: Duration = Duration::from_millis(1);
const PUB_TWCC_ID: u8 = 3;
const TWCC_ID: u8 = 9;

/// A packet of the publisher with its transport-wide number; a keyframe start or a delta.
fn packet(seq: u16, keyframe: bool, len: usize) -> Vec<u8> {
    let payload = match keyframe {
        true => sim::vp8_keyframe(seq, len),
        false => sim::vp8_delta(seq, len),
    };
    let mut p = sim::rtp_packet(PUB_PT, seq, u32::from(seq / 30) * 3000, PUB_SSRC, &payload);
    let t = seq.to_be_bytes();
    p[0] |= 0x10;
    p.splice(
        12..12,
        [0xBE, 0xDE, 0, 1, (PUB_TWCC_ID << 4) | 1, t[0], t[1], 0],
    );
    p
}

#[test]
fn a_paced_viewer_loses_much_less_of_a_keyframe_burst_on_a_shallow_path() {
    let mut sim = Sim::new(1, 101);
    let mut track = sim::video_track(PUB_PT, PUB_SSRC);
    track.extensions.push((PUB_TWCC_ID, TWCC_URI.to_owned()));
    let role = PeerRole::Publisher { stream: STREAM };
    let (publisher, _) = sim.add_client(WorkerId(0), role, vec![track]);
    connected(&mut sim, publisher);
    let add = |sim: &mut Sim, i: usize, twcc: bool| {
        let (pt, ssrc) = viewer_track(i);
        let mut t = sim::video_track(pt, ssrc);
        if twcc {
            t.extensions.push((TWCC_ID, TWCC_URI.to_owned()));
        }
        let role = PeerRole::Subscriber {
            stream: STREAM,
            source: WorkerId(0),
        };
        let (c, _) = sim.add_client(WorkerId(0), role, vec![t]);
        connected(sim, c)
    };
    let paced = add(&mut sim, 0, true);
    let unpaced = add(&mut sim, 1, false);
    // Both behind 1.5 Mbit/s with a buffer of 6 kB (32 ms): a policer-like path.
    let w = sim.worker(WorkerId(0)).addr;
    let shallow = LinkConfig {
        rate_bps: Some(1_500_000),
        queue_bytes: 6_000,
        ..LinkConfig::default()
    };
    for v in [paced, unpaced] {
        let a = sim.client(v).addr;
        sim.set_link(w, a, shallow);
    }
    // 10 s at 30 frames/s: a 600-byte delta frame, and every second a keyframe of 30
    // 1100-byte packets at once (about 400 kbit/s on average).
    let mut seq = 0u16;
    let mut reported = 0;
    for frame in 0..300u32 {
        let burst = if frame % 30 == 0 { 30 } else { 1 };
        for i in 0..burst {
            let len = if burst > 1 { 1100 } else { 600 };
            sim.send_rtp(publisher, &packet(seq, burst > 1 && i == 0, len));
            seq = seq.wrapping_add(1);
        }
        for _ in 0..3 {
            sim.run_for(11 * MS);
            feed_back(&mut sim, paced, TWCC_ID, &mut reported);
        }
    }
    sim.run_for(500 * MS);
    let lost = |sim: &Sim, v: ClientId| {
        let a = sim.client(v).addr;
        sim.link(w, a).map_or(0, |l| l.dropped.len())
    };
    let (paced_lost, unpaced_lost) = (lost(&sim, paced), lost(&sim, unpaced));
    println!("dropped by the path: paced {paced_lost}, unpaced {unpaced_lost}");
    assert!(
        unpaced_lost >= 100,
        "the burst overflows the path unpaced: {unpaced_lost}"
    );
    assert!(
        paced_lost * 4 <= unpaced_lost,
        "paced {paced_lost} vs unpaced {unpaced_lost}"
    );
    let stats = sim.worker(WorkerId(0)).core.stats();
    assert!(stats.paced > 0, "packets were held and sent later");
    // Everything the paced viewer was sent arrived or was dropped in order: no reordering.
    let seqs: Vec<u16> = sim
        .client(paced)
        .rtp
        .iter()
        .filter(|p| p[1] & 0x7F == viewer_track(0).0)
        .map(|p| sequence_number(p))
        .collect();
    assert!(
        seqs.windows(2).all(|w| w[1].wrapping_sub(w[0]) < 0x8000),
        "in order"
    );
}
