//! Transport-wide congestion control feedback to a publisher on the simulated network: every
//! transport-wide sequence number the node received is reported back with its arrival time
//! (and every one it did not, as lost), about every 100 ms; the publisher's transport-wide
//! numbers never reach its viewers.

mod common;

use std::time::Duration;

use dataplane::api::{Event, PeerId, PeerRole, WorkerId};
use dataplane::rtcp::{RtcpCompound, RtcpPacket, TransportCc, TWCC_URI};
use dataplane::sim::{self, ClientId, LinkConfig, Sim};

use common::*;

const MS: Duration = Duration::from_millis(1);
/// The extension id the publisher's SDP gave the transport-wide sequence number.
const TWCC_ID: u8 = 5;

/// A video packet of the publisher's (seq `seq`) carrying transport-wide number `tseq`.
fn packet_with_transport_seq(seq: u16, tseq: u16) -> Vec<u8> {
    let mut p = video_packet(seq, 1000);
    p[0] |= 0x10; // X: an extension block follows the fixed header
    let block = [
        0xBE,
        0xDE,
        0,
        1,
        (TWCC_ID << 4) | 1,
        (tseq >> 8) as u8,
        tseq as u8,
        0,
    ];
    p.splice(12..12, block);
    p
}

/// A publisher of [`STREAM`] on worker 0 that negotiated the transport-wide number as
/// [`TWCC_ID`], connected.
fn twcc_publisher(sim: &mut Sim) -> ClientId {
    let mut track = sim::video_track(PUB_PT, PUB_SSRC);
    track.extensions.push((TWCC_ID, TWCC_URI.to_owned()));
    let role = PeerRole::Publisher { stream: STREAM };
    let (publisher, _) = sim.add_client(WorkerId(0), role, vec![track]);
    connected(sim, publisher)
}

/// Every transport-wide report the client received: (seq, arrived at µs) in order.
fn reports(sim: &Sim, client: ClientId) -> Vec<Vec<(u16, Option<i64>)>> {
    let c = sim.client(client);
    c.rtcp
        .iter()
        .flat_map(|compound| RtcpCompound::iter(compound).map_while(Result::ok))
        .filter_map(|p| match p {
            RtcpPacket::Twcc(fb) => Some(TransportCc::parse(&fb).unwrap().packets().collect()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_publisher_gets_transport_wide_feedback_of_what_arrived_and_what_did_not() {
    let mut sim = Sim::new(1, 81);
    let publisher = twcc_publisher(&mut sim);
    let viewer = viewers(&mut sim, (STREAM, WorkerId(0)), 1, 1)[0];
    // 100 packets 10 ms apart; the link loses transport-wide numbers 40..45 (seq 40..45).
    let (from, to) = (sim.client(publisher).addr, sim.worker(WorkerId(0)).addr);
    for seq in 0..100u16 {
        if seq == 40 {
            sim.set_link(from, to, LinkConfig::lossy(1.0));
        }
        if seq == 45 {
            sim.set_link(from, to, LinkConfig::default());
        }
        sim.send_rtp(publisher, &packet_with_transport_seq(seq, 1000 + seq));
        sim.run_for(10 * MS);
    }
    sim.run_for(200 * MS);

    let reports = reports(&sim, publisher);
    // About one report per 100 ms of packets.
    assert!(
        (8..=12).contains(&reports.len()),
        "{} reports",
        reports.len()
    );
    let all: Vec<(u16, Option<i64>)> = reports.concat();
    let seqs: Vec<u16> = all.iter().map(|p| p.0).collect();
    assert_eq!(
        seqs,
        (1000..1100).collect::<Vec<_>>(),
        "each number once, in order"
    );
    for (tseq, at) in &all {
        let lost = (1040..1045).contains(tseq);
        assert_eq!(at.is_none(), lost, "{tseq}");
    }
    // The arrival times keep the 10 ms spacing the link gave them (250 µs resolution).
    let times: Vec<i64> = all.iter().filter_map(|p| p.1).collect();
    for pair in times.windows(2) {
        let step = pair[1] - pair[0];
        assert!(step == 10_000 || step == 60_000, "{step}");
    }
    assert_eq!(
        sim.worker(WorkerId(0)).core.stats().transport_feedback_sent as usize,
        reports.len()
    );

    // The viewer gets the media with the transport-wide element blanked (its own transport
    // numbers are not the publisher's).
    let got = &sim.client(viewer).rtp;
    assert_eq!(got.len(), 95);
    for p in got {
        assert_eq!(p[0] & 0x10, 0x10, "the block is kept");
        assert_eq!(&p[16..20], &[0, 0, 0, 0], "the element is padding");
    }
}

#[test]
fn without_the_extension_negotiated_no_feedback_is_sent() {
    let mut sim = Sim::new(1, 82);
    let (publisher, _) = publisher(&mut sim, WorkerId(0), STREAM);
    for seq in 0..50u16 {
        sim.send_rtp(publisher, &packet_with_transport_seq(seq, seq));
        sim.run_for(10 * MS);
    }
    assert!(reports(&sim, publisher).is_empty());
    assert_eq!(
        sim.worker(WorkerId(0)).core.stats().transport_feedback_sent,
        0
    );
}

/// A viewer of [`STREAM`] that negotiated the transport-wide number as extension `id`.
fn twcc_viewer(sim: &mut Sim, i: usize, id: u8) -> (ClientId, PeerId) {
    let (pt, ssrc) = viewer_track(i);
    let mut track = sim::video_track(pt, ssrc);
    track.extensions.push((id, TWCC_URI.to_owned()));
    let role = PeerRole::Subscriber {
        stream: STREAM,
        source: WorkerId(0),
    };
    let (c, p) = sim.add_client(WorkerId(0), role, vec![track]);
    (connected(sim, c), p)
}

#[test]
fn each_viewer_gets_its_own_transport_wide_numbers_and_an_estimate_from_its_feedback() {
    let mut sim = Sim::new(1, 83);
    let publisher = twcc_publisher(&mut sim);
    let (thin, thin_peer) = twcc_viewer(&mut sim, 0, 9);
    let (wide, wide_peer) = twcc_viewer(&mut sim, 1, 9);
    // The thin viewer's downlink carries 320 kbit/s with a 500 ms queue; the stream is about
    // 500 kbit/s (612-byte packets every 10 ms).
    let (w, v) = (sim.worker(WorkerId(0)).addr, sim.client(thin).addr);
    let thin_link = LinkConfig {
        rate_bps: Some(320_000),
        queue_bytes: 20_000,
        ..LinkConfig::default()
    };
    sim.set_link(w, v, thin_link);
    let (mut thin_reported, mut wide_reported) = (0, 0);
    for seq in 0..1000u16 {
        sim.send_rtp(publisher, &packet_with_transport_seq(seq, 5000 + seq));
        sim.run_for(10 * MS);
        if seq % 10 == 9 {
            feed_back(&mut sim, thin, 9, &mut thin_reported);
            feed_back(&mut sim, wide, 9, &mut wide_reported);
        }
    }
    // Each viewer's numbers are its own: consecutive from 0 on the wide one (nothing lost).
    let numbers: Vec<u16> = sim
        .client(wide)
        .rtp
        .iter()
        .map(|p| transport_seq(p, 9).unwrap())
        .collect();
    assert_eq!(numbers, (0..numbers.len() as u16).collect::<Vec<_>>());
    let core = &sim.worker(WorkerId(0)).core;
    let (thin_bps, wide_bps) = (
        core.bandwidth_estimate(thin_peer).unwrap(),
        core.bandwidth_estimate(wide_peer).unwrap(),
    );
    assert!(thin_bps < 400_000, "thin viewer: {thin_bps} bit/s");
    assert!(wide_bps > 500_000, "wide viewer: {wide_bps} bit/s");

    // The thin viewer is reported short of bandwidth (sending ~500 kbit/s, estimate under
    // it), every 5 s at most; the wide one never.
    let short: Vec<(PeerId, u64, u64)> = sim
        .events
        .iter()
        .filter_map(|(_, e)| match *e {
            Event::BandwidthShort {
                peer,
                sending_bps,
                estimate_bps,
            } => Some((peer, sending_bps, estimate_bps)),
            _ => None,
        })
        .collect();
    assert!(!short.is_empty(), "no report for the thin viewer");
    assert!(short.len() <= 3, "at most every 5 s in 10 s: {short:?}");
    for &(peer, sending, estimate) in &short {
        assert_eq!(peer, thin_peer, "{short:?}");
        assert!((400_000..600_000).contains(&sending), "{short:?}");
        assert!(estimate < 400_000, "{short:?}");
    }
}
