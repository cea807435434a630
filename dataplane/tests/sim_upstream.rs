//! Upstream repair on the simulated network: the worker NACKs what it lost from a publisher
//! (once for all viewers), takes plain or RTX retransmissions (not resends of what arrived
//! already, which publishers pad bandwidth probes with), falls back to one keyframe
//! request when a gap cannot be repaired, and repairs an origin → edge relay leg the same way.

mod common;

use std::time::Duration;

use dataplane::api::{PeerRole, RtxSpec, TrackSpec, WorkerId};
use dataplane::rtcp::{RtcpCompound, RtcpPacket};
use dataplane::sim::{self, ClientId, LinkConfig, Sim};

use common::*;

const MS: Duration = Duration::from_millis(1);
const SECOND: Duration = Duration::from_secs(1);
const RTX_PT: u8 = 97;
const RTX_SSRC: u32 = 0x5000_0002;

/// A publisher client that answers NACKs as a browser does: with the packets asked for, in
/// RTX when `rtx` is set. Remembers how far it read the RTCP it received.
struct Browser {
    client: ClientId,
    rtx: bool,
    read: usize,
    rtx_seq: u16,
    /// Every sequence number the server asked for, each request.
    asked: Vec<u16>,
}

impl Browser {
    fn new(sim: &mut Sim, rtx: bool) -> Self {
        let mut track = sim::video_track(PUB_PT, PUB_SSRC);
        if rtx {
            track.rtx = Some(RtxSpec {
                payload_type: RTX_PT,
                ssrc: Some(RTX_SSRC),
            });
        }
        let (client, _) = sim.add_client(
            WorkerId(0),
            PeerRole::Publisher { stream: STREAM },
            vec![track],
        );
        let client = connected(sim, client);
        Self {
            client,
            rtx,
            read: 0,
            rtx_seq: 7000,
            asked: Vec::new(),
        }
    }

    /// Answers the NACKs that arrived since the last call.
    fn answer(&mut self, sim: &mut Sim) {
        let mut lost = Vec::new();
        for compound in &sim.client(self.client).rtcp[self.read..] {
            for p in RtcpCompound::iter(compound).map_while(Result::ok) {
                if let RtcpPacket::Nack(n) = p {
                    assert_eq!(n.media_ssrc, PUB_SSRC);
                    lost.extend(n.lost());
                }
            }
        }
        self.read = sim.client(self.client).rtcp.len();
        for seq in lost {
            self.asked.push(seq);
            if self.rtx {
                self.send_rtx(sim, seq);
            } else {
                sim.send_rtp(self.client, &video_packet(seq, 1000));
            }
        }
    }

    /// Sends packet `seq` again in RTX (RFC 4588: its number first, then its payload).
    fn send_rtx(&mut self, sim: &mut Sim, seq: u16) {
        let original = video_packet(seq, 1000);
        let mut p = sim::rtp_packet(
            RTX_PT,
            self.rtx_seq,
            timestamp(&original),
            RTX_SSRC,
            &seq.to_be_bytes(),
        );
        p.extend_from_slice(&original[12..]);
        self.rtx_seq += 1;
        sim.send_rtp(self.client, &p);
    }

    /// Sends packets `seqs` every 10 ms, answering NACKs in between, then keeps answering
    /// for `tail`.
    fn publish(&mut self, sim: &mut Sim, seqs: std::ops::Range<u16>, tail: Duration) {
        for seq in seqs {
            sim.send_rtp(self.client, &video_packet(seq, 1000));
            sim.run_for(10 * MS);
            self.answer(sim);
        }
        let end = sim.now() + tail;
        while sim.now() < end {
            sim.run_for(10 * MS);
            self.answer(sim);
        }
    }
}

/// The link from the publisher to worker 0 drops `loss` of what it carries from now on;
/// returns the sequence numbers it dropped so far, when asked.
fn lossy_uplink(sim: &mut Sim, publisher: ClientId, loss: f64) {
    let (from, to) = (sim.client(publisher).addr, sim.worker(WorkerId(0)).addr);
    sim.set_link(from, to, LinkConfig::lossy(loss));
}

fn dropped_on_uplink(sim: &Sim, publisher: ClientId) -> Vec<u16> {
    let (from, to) = (sim.client(publisher).addr, sim.worker(WorkerId(0)).addr);
    sim.link(from, to)
        .map(|l| {
            l.dropped
                .iter()
                .map(|d| sequence_number(&d.bytes))
                .collect()
        })
        .unwrap_or_default()
}

fn every_packet(sim: &Sim, viewer: ClientId, n: u16) {
    let mut got = published_seqs_any_order(sim, viewer);
    got.sort_unstable();
    assert_eq!(got, (0..n).collect::<Vec<_>>(), "every packet, repaired");
}

/// The publisher's numbers of what a viewer got (in arrival order, repairs arrive late).
fn published_seqs_any_order(sim: &Sim, viewer: ClientId) -> Vec<u16> {
    sim.client(viewer)
        .rtp
        .iter()
        .map(|p| u16::from_be_bytes([p[14], p[15]]))
        .collect()
}

#[test]
fn packets_lost_from_the_publisher_are_asked_for_once_for_all_viewers_and_repaired() {
    let mut sim = Sim::new(2, 41);
    let mut browser = Browser::new(&mut sim, false);
    let viewers = viewers(&mut sim, (STREAM, WorkerId(0)), 2, 4);
    browser.publish(&mut sim, 0..1, Duration::ZERO);
    lossy_uplink(&mut sim, browser.client, 0.05);
    browser.publish(&mut sim, 1..500, SECOND);
    let dropped = dropped_on_uplink(&sim, browser.client);
    assert!(dropped.len() > 10, "{dropped:?}");
    for &v in &viewers {
        every_packet(&sim, v, 500);
    }
    // Every packet the link dropped was asked for; nothing else. A repair lost again is asked
    // for again, and only then.
    let mut asked = browser.asked.clone();
    asked.sort_unstable();
    let mut lost = dropped.clone();
    lost.sort_unstable();
    assert_eq!(
        asked, lost,
        "one request per packet the uplink lost, not one per viewer"
    );
    let stats = sim.worker(WorkerId(0)).core.stats();
    assert_eq!(stats.nack_sent, dropped.len() as u64);
    assert_eq!(
        (stats.upstream_repaired, stats.upstream_given_up),
        (dropped.len() as u64, 0),
        "every missing packet counted repaired, none given up"
    );
}

#[test]
fn rtx_from_the_publisher_is_unwrapped_and_forwarded_byte_exact() {
    let mut sim = Sim::new(1, 42);
    let mut browser = Browser::new(&mut sim, true);
    let viewer = viewers(&mut sim, (STREAM, WorkerId(0)), 1, 1)[0];
    browser.publish(&mut sim, 0..1, Duration::ZERO);
    lossy_uplink(&mut sim, browser.client, 0.05);
    browser.publish(&mut sim, 1..300, SECOND);
    every_packet(&sim, viewer, 300);
    // In order of the publisher's numbers, what the viewer got is exactly what was sent.
    let mut got: Vec<(u16, Vec<u8>)> = sim
        .client(viewer)
        .rtp
        .iter()
        .map(|p| (u16::from_be_bytes([p[14], p[15]]), p.to_vec()))
        .collect();
    got.sort_by_key(|(tag, _)| *tag);
    let first = &got[0].1;
    let offsets = (
        sequence_number(first).wrapping_sub(0),
        timestamp(first).wrapping_sub(0),
    );
    for (tag, p) in &got {
        assert_eq!(
            p,
            &rewritten(&video_packet(*tag, 1000), 0, offsets),
            "packet {tag}"
        );
    }
    let stats = sim.worker(WorkerId(0)).core.stats();
    assert!(stats.rtx_received > 0);
    assert_eq!(
        stats.rtx_received,
        browser.asked.len() as u64 - lost_again(&sim, &browser)
    );
}

#[test]
fn rtx_resends_of_packets_already_received_are_not_forwarded() {
    // libwebrtc fills its bandwidth probes with RTX resends of its latest packets; forwarded,
    // every viewer would get the publisher's probes as duplicates.
    let mut sim = Sim::new(1, 42);
    let mut browser = Browser::new(&mut sim, true);
    let viewers = viewers(&mut sim, (STREAM, WorkerId(0)), 1, 2);
    browser.publish(&mut sim, 0..20, Duration::ZERO);
    for _ in 0..3 {
        for seq in 10..20 {
            browser.send_rtx(&mut sim, seq);
        }
        sim.run_for(10 * MS);
    }
    browser.publish(&mut sim, 20..30, 100 * MS);
    for viewer in viewers {
        assert_eq!(
            published_seqs_any_order(&sim, viewer),
            (0..30).collect::<Vec<_>>(),
            "each packet once, in order"
        );
    }
    let stats = sim.worker(WorkerId(0)).core.stats();
    // (A viewer's SRTP drops a duplicate as a replay, but it would have been sent.)
    assert_eq!(
        stats.rtp_forwarded,
        2 * 30,
        "each packet sent once to each viewer"
    );
    assert_eq!(stats.dropped_duplicate, 30);
    assert_eq!(stats.rtx_received, 0, "no repair among them");
    assert!(browser.asked.is_empty(), "nothing was missing");
}

/// Requests whose retransmission the lossy uplink dropped too.
fn lost_again(sim: &Sim, browser: &Browser) -> u64 {
    let (from, to) = (
        sim.client(browser.client).addr,
        sim.worker(WorkerId(0)).addr,
    );
    sim.link(from, to)
        .unwrap()
        .dropped
        .iter()
        .filter(|d| d.bytes[1] & 0x7F == RTX_PT)
        .count() as u64
}

#[test]
fn a_gap_nobody_repairs_becomes_one_keyframe_request() {
    let mut sim = Sim::new(1, 43);
    let (publisher, _) = publisher(&mut sim, WorkerId(0), STREAM);
    viewers(&mut sim, (STREAM, WorkerId(0)), 1, 1);
    publish(&mut sim, publisher, 0..10, 1000, 10 * MS);
    let before = keyframe_requests(&sim, publisher).len();
    lossy_uplink(&mut sim, publisher, 1.0);
    publish(&mut sim, publisher, 10..11, 1000, 10 * MS);
    lossy_uplink(&mut sim, publisher, 0.0);
    // The publisher ignores NACKs; packets go on, and it answers the keyframe request.
    let keyframes = publish_on_request(&mut sim, publisher, 11..250, 10 * MS, false);
    let requests = &keyframe_requests(&sim, publisher)[before..];
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(
        keyframes.len(),
        1,
        "answered, so not repeated: {keyframes:?}"
    );
    let nacks = nacks_received(&sim, publisher);
    assert!((2..=10).contains(&nacks), "retried, then given up: {nacks}");
    let stats = sim.worker(WorkerId(0)).core.stats();
    assert_eq!(
        (stats.upstream_repaired, stats.upstream_given_up),
        (0, 1),
        "the one packet lost for good is counted"
    );
}

/// Publishes 400 packets while the leg from worker 0 to the edge (worker 1) loses 5 %, checks
/// that the edge's viewer got every one, and returns how many the leg lost.
fn stream_over_lossy_leg(sim: &mut Sim, publisher: ClientId, viewer: ClientId) -> u64 {
    publish(sim, publisher, 0..1, 1000, 10 * MS);
    let (leg, edge) = (
        sim.worker(WorkerId(0)).legs()[0].1,
        sim.worker(WorkerId(1)).addr,
    );
    sim.set_link(leg, edge, LinkConfig::lossy(0.05));
    publish(sim, publisher, 1..400, 1000, 10 * MS);
    sim.run_for(SECOND);
    every_packet(sim, viewer, 400);
    sim.link(leg, edge).unwrap().dropped.len() as u64
}

#[test]
fn a_relay_leg_is_repaired_by_the_edge_asking_the_origin() {
    // Origin worker 0 (publisher and leg); edge worker 1 with a viewer.
    let mut sim = Sim::new(2, 44);
    let (publisher, _) = publisher(&mut sim, WorkerId(0), STREAM);
    let tracks: Vec<TrackSpec> = vec![sim::video_track(PUB_PT, PUB_SSRC)];
    let (leg, _) = sim.add_relay(
        WorkerId(0),
        STREAM,
        WorkerId(0),
        WorkerId(1),
        EDGE_STREAM,
        tracks,
    );
    wait_connected(&mut sim, leg);
    let viewer = viewers(&mut sim, (EDGE_STREAM, WorkerId(1)), 1, 1)[0];
    let dropped = stream_over_lossy_leg(&mut sim, publisher, viewer);
    assert!(dropped > 5);
    let (origin, edge) = (
        sim.worker(WorkerId(0)).core.stats(),
        sim.worker(WorkerId(1)).core.stats(),
    );
    assert!(
        edge.nack_sent >= dropped,
        "each lost packet asked for: {edge:?}"
    );
    assert_eq!(
        origin.nack_requested, edge.nack_sent,
        "the edge's requests reach the origin"
    );
    assert!(origin.retransmitted > 0 && origin.retransmitted <= origin.nack_requested);
}

#[test]
fn a_plain_rtp_relay_leg_is_repaired_the_same_way() {
    let mut sim = Sim::new(2, 45);
    let (publisher, _) = publisher(&mut sim, WorkerId(0), STREAM);
    let tracks: Vec<TrackSpec> = vec![sim::video_track(PUB_PT, PUB_SSRC)];
    sim.add_plain_relay(
        WorkerId(0),
        (STREAM, WorkerId(0)),
        WorkerId(1),
        EDGE_STREAM,
        tracks,
    );
    let viewer = viewers(&mut sim, (EDGE_STREAM, WorkerId(1)), 1, 1)[0];
    stream_over_lossy_leg(&mut sim, publisher, viewer);
    let (origin, edge) = (
        sim.worker(WorkerId(0)).core.stats(),
        sim.worker(WorkerId(1)).core.stats(),
    );
    assert!(
        edge.nack_sent > 0 && origin.retransmitted > 0,
        "{origin:?} {edge:?}"
    );
}
