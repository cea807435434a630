//! Helpers of the simulated-network tests: a stream with a publisher and viewers on a
//! [`Sim`], the packets a publisher sends, and the rewrite a viewer must see.

#![allow(dead_code)] // each test file uses its own part

use std::time::{Duration, Instant};

use dataplane::api::{Event, PeerId, PeerRole, StreamId, WorkerId};
use dataplane::sim::{self, ClientId, Sim};

/// The stream the tests publish (on worker 0), and the name an edge publishes it under.
pub const STREAM: StreamId = StreamId(1);
pub const EDGE_STREAM: StreamId = StreamId(2);

/// A stream and the worker its publisher is on.
pub type Published = (StreamId, WorkerId);

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

/// Runs until the core reported peer `peer` connected (ICE and DTLS done).
pub fn wait_connected(sim: &mut Sim, peer: PeerId) {
    let connected = |s: &Sim| {
        s.events
            .iter()
            .any(|(_, e)| matches!(e, Event::PeerConnected { peer: p, .. } if *p == peer))
    };
    assert!(
        sim.run_until_true(Duration::from_secs(5), connected),
        "{peer} connects"
    );
}

/// The payload type and SSRC viewer number `i` negotiated.
pub fn viewer_track(i: usize) -> (u8, u32) {
    (100 + (i % 20) as u8, 0x7000_0000 + i as u32)
}

/// Viewer number `i` of a stream (published on worker `source`) on worker `worker`, not yet
/// connected.
pub fn add_viewer(
    sim: &mut Sim,
    worker: WorkerId,
    (stream, source): Published,
    i: usize,
) -> ClientId {
    let (pt, ssrc) = viewer_track(i);
    let role = PeerRole::Subscriber { stream, source };
    sim.add_client(worker, role, vec![sim::video_track(pt, ssrc)])
        .0
}

/// Runs until client `c` is connected; returns it.
pub fn connected(sim: &mut Sim, c: ClientId) -> ClientId {
    assert!(
        sim.run_until_true(Duration::from_secs(5), |s| s.client(c).is_connected()),
        "{c:?} connects"
    );
    c
}

/// A connected publisher of [`STREAM`] on worker 0 and `n` connected viewers, viewer `i` on
/// worker `i % workers`.
pub fn stream_with_viewers(sim: &mut Sim, workers: usize, n: usize) -> (ClientId, Vec<ClientId>) {
    let (publisher, _) = publisher(sim, WorkerId(0), STREAM);
    (publisher, viewers(sim, (STREAM, WorkerId(0)), workers, n))
}

/// `n` viewers of a stream (published on worker `source`), viewer `i` on worker
/// `i % workers`, all connected.
pub fn viewers(sim: &mut Sim, published: Published, workers: usize, n: usize) -> Vec<ClientId> {
    let ids: Vec<ClientId> = (0..n)
        .map(|i| add_viewer(sim, WorkerId(i % workers), published, i))
        .collect();
    assert!(
        sim.run_until_true(Duration::from_secs(10), |s| ids
            .iter()
            .all(|&c| s.client(c).is_connected())),
        "every viewer connects"
    );
    ids
}

/// A WebRTC relay leg of [`STREAM`] (published on worker 0) from worker `leg` to worker `edge`
/// of another node, where it is published as [`EDGE_STREAM`]; connected. Returns the leg's
/// and the edge publisher's peer ids.
pub fn relay(sim: &mut Sim, leg: WorkerId, edge: WorkerId) -> (PeerId, PeerId) {
    let tracks = vec![sim::video_track(PUB_PT, PUB_SSRC)];
    let ids = sim.add_relay(leg, STREAM, WorkerId(0), edge, EDGE_STREAM, tracks);
    wait_connected(sim, ids.0);
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

/// What viewer `i` must receive for the publisher's `packet`: the same bytes with its own
/// payload type and SSRC, and its sequence number and timestamp moved by `offsets` (each
/// viewer's numbering is its own).
pub fn rewritten(packet: &[u8], i: usize, (seq_offset, ts_offset): (u16, u32)) -> Vec<u8> {
    let (pt, ssrc) = viewer_track(i);
    let mut p = packet.to_vec();
    p[1] = (p[1] & 0x80) | pt;
    let seq = sequence_number(&p).wrapping_add(seq_offset);
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    let ts = timestamp(&p).wrapping_add(ts_offset);
    p[4..8].copy_from_slice(&ts.to_be_bytes());
    p[8..12].copy_from_slice(&ssrc.to_be_bytes());
    p
}

/// The publisher's sequence numbers of the packets a client received (each test packet
/// carries its original number in its payload), after checking that the client's own
/// numbering follows them: the same steps, so a gap in one is the same gap in the other.
pub fn published_seqs(sim: &Sim, client: ClientId) -> Vec<u16> {
    let rtp = &sim.client(client).rtp;
    let tags: Vec<u16> = rtp
        .iter()
        .map(|p| u16::from_be_bytes([p[14], p[15]]))
        .collect();
    if let (Some(first), Some(&tag0)) = (rtp.first(), tags.first()) {
        let seq0 = sequence_number(first);
        for (p, &tag) in rtp.iter().zip(&tags) {
            assert_eq!(
                sequence_number(p).wrapping_sub(seq0),
                tag.wrapping_sub(tag0),
                "the viewer's sequence numbers step like the publisher's"
            );
        }
    }
    tags
}

/// The RTP timestamp of a packet.
pub fn timestamp(packet: &[u8]) -> u32 {
    u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]])
}

/// Asserts that viewer number `i` (client `viewer`) received exactly `sent`, in order, byte
/// for byte as [`rewritten`] for it, with consecutive sequence numbers from wherever its own
/// numbering started, and that none of its packets failed SRTP.
pub fn assert_forwarded(sim: &Sim, viewer: ClientId, i: usize, sent: &[Vec<u8>]) {
    let got: Vec<Vec<u8>> = sim.client(viewer).rtp.iter().map(|p| p.to_vec()).collect();
    assert_eq!(got.len(), sent.len(), "viewer {i}: every packet");
    let offsets = (
        sequence_number(&got[0]).wrapping_sub(sequence_number(&sent[0])),
        timestamp(&got[0]).wrapping_sub(timestamp(&sent[0])),
    );
    let want: Vec<Vec<u8>> = sent.iter().map(|p| rewritten(p, i, offsets)).collect();
    assert!(
        got == want,
        "viewer {i}: every packet byte for byte, in order"
    );
    assert_eq!(
        sim.client(viewer).rejected,
        0,
        "viewer {i}: nothing failed SRTP"
    );
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

/// When a client received PLIs and FIRs: `(time, is_fir)` per request, in order.
pub fn keyframe_requests(sim: &Sim, client: ClientId) -> Vec<(Instant, bool)> {
    use dataplane::rtcp::{RtcpCompound, RtcpPacket};
    let c = sim.client(client);
    let mut got = Vec::new();
    for (compound, &at) in c.rtcp.iter().zip(&c.rtcp_at) {
        for p in RtcpCompound::iter(compound).map_while(Result::ok) {
            match p {
                RtcpPacket::Pli(_) => got.push((at, false)),
                RtcpPacket::Fir(_) => got.push((at, true)),
                _ => {}
            }
        }
    }
    got
}

/// A publisher that behaves like a browser: packets `seqs` one every `interval`, a keyframe
/// first if `start_with_keyframe` and then only when a new keyframe request (PLI or FIR)
/// arrived. Returns the sequence numbers that started keyframes.
pub fn publish_on_request(
    sim: &mut Sim,
    publisher: ClientId,
    seqs: impl IntoIterator<Item = u16>,
    interval: Duration,
    start_with_keyframe: bool,
) -> Vec<u16> {
    let mut answered = keyframe_requests(sim, publisher).len();
    let mut keyframes = Vec::new();
    let mut first = start_with_keyframe;
    for seq in seqs {
        let requests = keyframe_requests(sim, publisher).len();
        let keyframe = std::mem::take(&mut first) || requests > answered;
        answered = requests;
        let payload = if keyframe {
            keyframes.push(seq);
            sim::vp8_keyframe(seq, 600)
        } else {
            sim::vp8_delta(seq, 600)
        };
        let packet = sim::rtp_packet(PUB_PT, seq, u32::from(seq) * 3000, PUB_SSRC, &payload);
        sim.send_rtp(publisher, &packet);
        sim.run_for(interval);
    }
    keyframes
}

/// The RTP sequence number of an (S)RTP datagram (the header is in the clear).
pub fn sequence_number(datagram: &[u8]) -> u16 {
    u16::from_be_bytes([datagram[2], datagram[3]])
}

/// The generic NACKs (RTCP RTPFB FMT 1) a client received.
pub fn nacks_received(sim: &Sim, client: ClientId) -> usize {
    use dataplane::rtcp::{RtcpCompound, RtcpPacket};
    sim.client(client)
        .rtcp
        .iter()
        .flat_map(|c| RtcpCompound::iter(c).map_while(Result::ok))
        .filter(|p| matches!(p, RtcpPacket::Nack(_)))
        .count()
}

/// The transport-wide number in extension `id` of a packet a viewer received.
pub fn transport_seq(packet: &[u8], id: u8) -> Option<u16> {
    let hdr = dataplane::rtp::RtpHeader::parse(packet).ok()?;
    dataplane::rtp::read_u16_extension(packet, &hdr, id)
}

/// Sends `viewer` the transport-wide feedback a browser would for what it received since
/// `*reported` (its packets' numbers in extension `id`, their arrival times; numbers it never
/// got reported lost).
pub fn feed_back(sim: &mut Sim, viewer: ClientId, id: u8, reported: &mut usize) {
    let c = sim.client(viewer);
    let Some(start) = c.connected_at else {
        return;
    };
    let got: Vec<(u16, i64)> = c.rtp[*reported..]
        .iter()
        .zip(&c.rtp_at[*reported..])
        .filter_map(|(p, at)| {
            let us = at.duration_since(start).as_micros() as i64;
            Some((transport_seq(p, id)?, us))
        })
        .collect();
    *reported = c.rtp.len();
    let Some(&(first, _)) = got.first() else {
        return;
    };
    let span = got
        .iter()
        .map(|(s, _)| s.wrapping_sub(first))
        .max()
        .unwrap_or(0);
    let mut arrivals = vec![None; usize::from(span) + 1];
    for (seq, us) in got {
        arrivals[usize::from(seq.wrapping_sub(first))] = Some(us);
    }
    let mut buf = [0u8; 1500];
    let n = dataplane::rtcp::write_twcc(&mut buf, 0x1234, 0, 0, first, &arrivals).unwrap();
    sim.send_rtcp(viewer, &buf[..n]);
}
