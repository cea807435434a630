//! Helpers of the simulated-network tests: a stream with a publisher and viewers on a
//! [`Sim`], the packets a publisher sends, and the rewrite a viewer must see.

#![allow(dead_code)] // each test file uses its own part

use std::time::Duration;

use dataplane::api::{PeerId, PeerRole, StreamId, WorkerId};
use dataplane::sim::{self, ClientId, Sim};

/// The publisher's video payload type and SSRC.
pub const PUB_PT: u8 = 96;
pub const PUB_SSRC: u32 = 0x5000_0001;

/// A connected publisher of `stream` on `worker`.
pub fn publisher(sim: &mut Sim, worker: WorkerId, stream: StreamId) -> (ClientId, PeerId) {
    let (c, p) = sim.add_client(
        worker,
        PeerRole::Publisher { stream },
        vec![sim::video_track(PUB_PT, PUB_SSRC)],
    );
    assert!(
        sim.run_until_true(Duration::from_secs(5), |s| s.client(c).is_connected()),
        "the publisher connects"
    );
    (c, p)
}

/// The payload type and SSRC viewer number `i` negotiated.
pub fn viewer_track(i: usize) -> (u8, u32) {
    (100 + (i % 20) as u8, 0x7000_0000 + i as u32)
}

/// `n` viewers of `stream` (published on worker `source`), viewer `i` on worker
/// `i % workers`, all connected.
pub fn viewers(
    sim: &mut Sim,
    stream: StreamId,
    source: WorkerId,
    workers: usize,
    n: usize,
) -> Vec<ClientId> {
    let ids: Vec<ClientId> = (0..n)
        .map(|i| {
            let (pt, ssrc) = viewer_track(i);
            sim.add_client(
                WorkerId(i % workers),
                PeerRole::Subscriber { stream, source },
                vec![sim::video_track(pt, ssrc)],
            )
            .0
        })
        .collect();
    assert!(
        sim.run_until_true(Duration::from_secs(10), |s| ids
            .iter()
            .all(|&c| s.client(c).is_connected())),
        "every viewer connects"
    );
    ids
}

/// Video packet `seq` of the publisher: a keyframe start every `gop` packets, else a delta.
pub fn video_packet(seq: u16, gop: u16) -> Vec<u8> {
    let payload = if seq.is_multiple_of(gop) {
        sim::vp8_keyframe(seq, 600)
    } else {
        sim::vp8_delta(seq, 600)
    };
    sim::rtp_packet(PUB_PT, seq, u32::from(seq) * 3000, PUB_SSRC, &payload)
}

/// What a viewer with `pt`/`ssrc` must receive for the publisher's `packet`: the same bytes
/// with its own payload type and SSRC.
pub fn rewritten(packet: &[u8], pt: u8, ssrc: u32) -> Vec<u8> {
    let mut p = packet.to_vec();
    p[1] = (p[1] & 0x80) | pt;
    p[8..12].copy_from_slice(&ssrc.to_be_bytes());
    p
}

/// Sends the publisher's packets `seqs`, one every `interval`.
pub fn publish(
    sim: &mut Sim,
    publisher: ClientId,
    seqs: impl IntoIterator<Item = u16>,
    gop: u16,
    interval: Duration,
) {
    for seq in seqs {
        sim.send_rtp(publisher, &video_packet(seq, gop));
        sim.run_for(interval);
    }
}

/// The PLIs and FIRs a client received, as `(PLI count, FIR count)`.
pub fn keyframe_requests(sim: &Sim, client: ClientId) -> (usize, usize) {
    use dataplane::rtcp::{RtcpCompound, RtcpPacket};
    let mut counts = (0, 0);
    for compound in &sim.client(client).rtcp {
        for p in RtcpCompound::iter(compound).map_while(Result::ok) {
            match p {
                RtcpPacket::Pli(_) => counts.0 += 1,
                RtcpPacket::Fir(_) => counts.1 += 1,
                _ => {}
            }
        }
    }
    counts
}
