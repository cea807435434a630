//! Simulcast on the simulated network: a publisher sends three layers (l, m, h); each viewer
//! is sent one of them under its own SSRC and numbering, switched only where the new layer
//! starts a keyframe (after asking the publisher for one), chosen from the viewer's bandwidth
//! estimate — a viewer behind a thin link is moved down and climbs back (bandwidth probes)
//! when the link widens; a stream without layers has its video paused for a viewer that cannot
//! take even that, and resumed. A relay leg carries every layer.

mod common;

use std::time::Duration;

use dataplane::api::{
    Event, LayerChoice, LayerSpec, PeerId, PeerRole, RtxSpec, TrackSpec, WorkerId, RID_URI,
};
use dataplane::rtcp::{self, RtcpCompound, RtcpPacket, TWCC_URI};
use dataplane::sim::{self, ClientId, LinkConfig, Sim};

use common::*;

const MS: Duration = Duration::from_millis(1);
/// The layers' SSRCs, payload bytes per 10 ms packet (160, 400 and 960 kbit/s) and rids.
const LAYER_SSRCS: [u32; 3] = [0x5100_0000, 0x5100_0001, 0x5100_0002];
const LAYER_BYTES: [usize; 3] = [200, 500, 1200];
const RIDS: [&str; 3] = ["l", "m", "h"];
/// The extension ids of the viewers' transport-wide numbers and of the publisher's rid.
const TWCC_ID: u8 = 9;
const RID_ID: u8 = 10;
/// The publisher's id of the transport-wide number (browsers send it on every packet; the
/// node overwrites it per viewer).
const PUB_TWCC_ID: u8 = 3;

/// The publisher's video track with three layers: announced SSRCs (an SSRC group) or, with
/// `by_rid`, only rids (their SSRCs learnt from the RTP stream id extension).
fn simulcast_track(by_rid: bool) -> TrackSpec {
    let mut track = sim::video_track(PUB_PT, LAYER_SSRCS[2]);
    track.ssrc = None;
    track.layers = (0..3)
        .map(|i| LayerSpec {
            rid: if by_rid {
                RIDS[i].to_owned()
            } else {
                String::new()
            },
            ssrc: (!by_rid).then_some(LAYER_SSRCS[i]),
            rtx_ssrc: None,
        })
        .collect();
    if by_rid {
        track.extensions.push((RID_ID, RID_URI.to_owned()));
    }
    track.extensions.push((PUB_TWCC_ID, TWCC_URI.to_owned()));
    track
}

fn simulcast_publisher(sim: &mut Sim, by_rid: bool) -> ClientId {
    let role = PeerRole::Publisher { stream: STREAM };
    let (c, _) = sim.add_client(WorkerId(0), role, vec![simulcast_track(by_rid)]);
    connected(sim, c)
}

/// A viewer of [`STREAM`] asking for `choice`, with NACK, RTX and (with `twcc`) the
/// transport-wide number, connected.
fn viewer(sim: &mut Sim, i: usize, choice: LayerChoice, twcc: bool) -> (ClientId, PeerId) {
    let (pt, ssrc) = viewer_track(i);
    let mut track = sim::video_track(pt, ssrc);
    track.rtx = Some(RtxSpec {
        payload_type: pt + 20,
        ssrc: Some(ssrc + 0x100),
    });
    if twcc {
        track.extensions.push((TWCC_ID, TWCC_URI.to_owned()));
    }
    let role = PeerRole::Subscriber {
        stream: STREAM,
        source: WorkerId(0),
    };
    let (c, p) = sim.add_client_with_choice(WorkerId(0), role, vec![track], choice);
    (connected(sim, c), p)
}

/// A publisher that sends each layer as a browser does: 10 ms packets, a keyframe first and
/// then only when a PLI about that layer's SSRC arrived.
struct Layers {
    client: ClientId,
    seq: [u16; 3],
    answered: usize,
    by_rid: bool,
    transport_seq: u16,
}

impl Layers {
    fn new(client: ClientId, by_rid: bool) -> Self {
        Self {
            client,
            seq: [1000, 20_000, 40_000],
            answered: 0,
            by_rid,
            transport_seq: 0,
        }
    }

    /// Sends one packet of every layer (a keyframe where one was asked for) and runs 10 ms.
    fn tick(&mut self, sim: &mut Sim) {
        let mut asked = [self.seq[0] == 1000; 3];
        let c = sim.client(self.client);
        for compound in &c.rtcp[self.answered..] {
            for p in RtcpCompound::iter(compound).map_while(Result::ok) {
                if let RtcpPacket::Pli(pli) = p {
                    if let Some(i) = LAYER_SSRCS.iter().position(|&s| s == pli.media_ssrc) {
                        asked[i] = true;
                    }
                }
            }
        }
        self.answered = c.rtcp.len();
        for layer in 0..3 {
            let seq = self.seq[layer];
            let ts = u32::from(seq) * 900;
            match asked[layer] {
                true => {
                    // A keyframe in two packets of one timestamp: its start, then the rest
                    // (S bit clear).
                    let start = sim::vp8_keyframe(seq, LAYER_BYTES[layer]);
                    let mut rest = start.clone();
                    rest[0] &= !0x10;
                    self.send(sim, layer, ts, &start);
                    self.send(sim, layer, ts, &rest);
                }
                false => self.send(sim, layer, ts, &sim::vp8_delta(seq, LAYER_BYTES[layer])),
            }
        }
        sim.run_for(10 * MS);
    }

    /// Sends the next packet of `layer`, of timestamp `ts`.
    fn send(&mut self, sim: &mut Sim, layer: usize, ts: u32, payload: &[u8]) {
        let seq = self.seq[layer];
        self.seq[layer] = seq.wrapping_add(1);
        let mut p = sim::rtp_packet(PUB_PT, seq, ts, LAYER_SSRCS[layer], payload);
        // The transport-wide number, and the rid (as browsers send them): one-byte
        // extension elements.
        let t = self.transport_seq.to_be_bytes();
        self.transport_seq = self.transport_seq.wrapping_add(1);
        let rid = match self.by_rid {
            true => [RID_ID << 4, RIDS[layer].as_bytes()[0]],
            false => [0, 0],
        };
        p[0] |= 0x10;
        p.splice(
            12..12,
            [
                0xBE,
                0xDE,
                0,
                2,
                (PUB_TWCC_ID << 4) | 1,
                t[0],
                t[1],
                rid[0],
                rid[1],
                0,
                0,
                0,
            ],
        );
        sim.send_rtp(self.client, &p);
    }
}

/// The layer of a media packet a viewer received, from its size (`None`: padding or RTX).
fn layer_of(packet: &[u8], pt: u8) -> Option<usize> {
    if packet[1] & 0x7F != pt {
        return None;
    }
    let payload = packet.len() - 12 - extension_len(packet) - 4;
    LAYER_BYTES.iter().position(|&b| b == payload)
}

fn extension_len(packet: &[u8]) -> usize {
    match packet[0] & 0x10 {
        0 => 0,
        _ => 4 + 4 * usize::from(u16::from_be_bytes([packet[14], packet[15]])),
    }
}

/// Sends `viewer` an empty receiver report (browsers send them every second).
fn report(sim: &mut Sim, viewer: ClientId) {
    let mut buf = [0u8; 64];
    let n = rtcp::write_receiver_report(&mut buf, 0x1234, &[]).unwrap();
    sim.send_rtcp(viewer, &buf[..n]);
}

/// The latest `ViewerStats` of `peer` so far: (layer, paused, sending bit/s).
fn latest_stats(sim: &Sim, peer: PeerId) -> Option<(Option<u8>, bool, u64)> {
    sim.events.iter().rev().find_map(|(_, e)| match *e {
        Event::ViewerStats {
            peer: p,
            layer,
            video_paused,
            sending_bps,
            ..
        } if p == peer => Some((layer, video_paused, sending_bps)),
        _ => None,
    })
}

/// Checks that a viewer's media packets (payload type `pt`) are numbered without a gap (on a
/// `lossless` path) and that each change of layer starts with a keyframe; returns the layers
/// in the order seen.
fn assert_switches_at_keyframes(sim: &Sim, viewer: ClientId, pt: u8) -> Vec<usize> {
    assert_layers(sim, viewer, pt, true)
}

fn assert_layers(sim: &Sim, viewer: ClientId, pt: u8, lossless: bool) -> Vec<usize> {
    let media: Vec<&[u8]> = sim
        .client(viewer)
        .rtp
        .iter()
        .map(|p| &p[..])
        .filter(|p| p[1] & 0x7F == pt)
        .collect();
    let mut seen = Vec::new();
    for pair in media.windows(2).filter(|_| lossless) {
        assert_eq!(
            sequence_number(pair[1]),
            sequence_number(pair[0]).wrapping_add(1),
            "the viewer's numbers have no gap"
        );
        assert!(
            dataplane::rtp::RtpHeader::parse(pair[1]).is_ok(),
            "a well-formed packet"
        );
    }
    for (i, p) in media.iter().enumerate() {
        let layer = layer_of(p, pt).expect("a media packet of a layer");
        if seen.last() != Some(&layer) {
            let payload = &p[12 + extension_len(p)..];
            assert_eq!(payload[1] & 0x01, 0, "layer {layer} starts with a keyframe");
            // The rest of that keyframe keeps its timestamp (one frame, decodable).
            if let Some(next) = media
                .get(i + 1)
                .filter(|n| n[12 + extension_len(n)] & 0x10 == 0)
            {
                assert_eq!(
                    timestamp(next),
                    timestamp(p),
                    "layer {layer}'s first keyframe is one frame"
                );
            }
            seen.push(layer);
        }
    }
    seen
}

#[test]
fn a_viewer_is_sent_the_layer_it_asked_for_and_only_that_one() {
    for by_rid in [false, true] {
        let mut sim = Sim::new(1, 91);
        let publisher = simulcast_publisher(&mut sim, by_rid);
        let (low, _) = viewer(&mut sim, 0, LayerChoice::Lowest, false);
        let (high, _) = viewer(&mut sim, 1, LayerChoice::Highest, false);
        let mut layers = Layers::new(publisher, by_rid);
        for tick in 0..400 {
            if tick % 100 == 50 {
                report(&mut sim, low);
                report(&mut sim, high);
            }
            layers.tick(&mut sim);
        }
        let (pt_low, pt_high) = (viewer_track(0).0, viewer_track(1).0);
        let low_layers = assert_switches_at_keyframes(&sim, low, pt_low);
        let high_layers = assert_switches_at_keyframes(&sim, high, pt_high);
        assert_eq!(
            low_layers.last(),
            Some(&0),
            "by rid {by_rid}: {low_layers:?}"
        );
        assert_eq!(
            high_layers.last(),
            Some(&2),
            "by rid {by_rid}: {high_layers:?}"
        );
        // After its switch the low viewer got every l packet: about 250 of the last 2.5 s.
        let tail = sim.client(low).rtp.len();
        assert!(tail >= 250, "by rid {by_rid}: {tail} packets");
    }
}

#[test]
fn a_thin_viewer_drops_to_the_lowest_layer_and_climbs_back_when_the_path_widens() {
    let mut sim = Sim::new(1, 93);
    let publisher = simulcast_publisher(&mut sim, false);
    let (thin, thin_peer) = viewer(&mut sim, 0, LayerChoice::Auto, true);
    let (wide, wide_peer) = viewer(&mut sim, 1, LayerChoice::Auto, true);
    let (w, v) = (sim.worker(WorkerId(0)).addr, sim.client(thin).addr);
    // 320 kbit/s with a queue of half a second: h (960 kbit/s) and m (400) do not fit.
    let narrow = LinkConfig {
        rate_bps: Some(320_000),
        queue_bytes: 20_000,
        ..LinkConfig::default()
    };
    sim.set_link(w, v, narrow);
    let mut layers = Layers::new(publisher, false);
    let (mut thin_reported, mut wide_reported) = (0, 0);
    let run = |sim: &mut Sim, layers: &mut Layers, ticks: u32, reported: &mut (usize, usize)| {
        for tick in 0..ticks {
            layers.tick(sim);
            if tick % 10 == 9 {
                feed_back(sim, thin, TWCC_ID, &mut reported.0);
                feed_back(sim, wide, TWCC_ID, &mut reported.1);
            }
        }
    };
    let mut reported = (thin_reported, wide_reported);
    run(&mut sim, &mut layers, 1000, &mut reported);
    let thin_stats = latest_stats(&sim, thin_peer).expect("stats of the thin viewer");
    assert_eq!(
        thin_stats.0,
        Some(0),
        "the thin viewer is on l after 10 s: {thin_stats:?}"
    );
    assert!(!thin_stats.1, "not paused: l fits");
    assert_eq!(
        latest_stats(&sim, wide_peer).map(|s| s.0),
        Some(Some(2)),
        "the wide viewer stays on h"
    );
    let thin_layers = assert_layers(&sim, thin, viewer_track(0).0, false);
    assert_eq!(thin_layers.last(), Some(&0), "{thin_layers:?}");

    // The link widens: within 20 s the thin viewer is back on h.
    sim.set_link(w, v, LinkConfig::default());
    let widened = sim.now();
    let mut back_at = None;
    for _ in 0..20 {
        run(&mut sim, &mut layers, 100, &mut reported);
        if latest_stats(&sim, thin_peer).is_some_and(|s| s.0 == Some(2)) {
            back_at = Some(sim.now() - widened);
            break;
        }
    }
    (thin_reported, wide_reported) = reported;
    let _ = (thin_reported, wide_reported);
    let back_at = back_at.expect("the thin viewer climbs back to h within 20 s");
    println!("back on h {back_at:?} after the link widened");
    let thin_layers = assert_layers(&sim, thin, viewer_track(0).0, false);
    println!("thin viewer's layers: {thin_layers:?}");
    // The wide viewer was never moved and never told it is short.
    let wide_layers = assert_switches_at_keyframes(&sim, wide, viewer_track(1).0);
    assert_eq!(wide_layers.last(), Some(&2), "{wide_layers:?}");
    assert!(!sim
        .events
        .iter()
        .any(|(_, e)| matches!(e, Event::BandwidthShort { peer, .. } if *peer == wide_peer)));
    // Probes were padding on the RTX SSRC, numbered transport-wide.
    let pt_rtx = viewer_track(0).0 + 20;
    let padding = sim
        .client(thin)
        .rtp
        .iter()
        .filter(|p| p[1] & 0x7F == pt_rtx && p[0] & 0x20 != 0)
        .count();
    assert!(padding > 0, "probes sent padding");
}

#[test]
fn without_layers_a_thin_viewers_video_pauses_within_its_link_and_resumes() {
    let mut sim = Sim::new(1, 95);
    // One layer of about 500 kbit/s (612-byte packets every 10 ms).
    let mut track = sim::video_track(PUB_PT, PUB_SSRC);
    track.extensions.push((PUB_TWCC_ID, TWCC_URI.to_owned()));
    let role = PeerRole::Publisher { stream: STREAM };
    let (publisher, _) = sim.add_client(WorkerId(0), role, vec![track]);
    let publisher = connected(&mut sim, publisher);
    let (thin, thin_peer) = viewer(&mut sim, 0, LayerChoice::Auto, true);
    let (w, v) = (sim.worker(WorkerId(0)).addr, sim.client(thin).addr);
    sim.set_link(
        w,
        v,
        LinkConfig {
            rate_bps: Some(320_000),
            queue_bytes: 20_000,
            ..LinkConfig::default()
        },
    );
    let mut reported = 0;
    let mut seq = 0u16;
    let mut send = |sim: &mut Sim, ticks: u32, reported: &mut usize| {
        for _ in 0..ticks {
            let mut p = video_packet(seq, 100);
            let t = seq.to_be_bytes();
            p[0] |= 0x10;
            p.splice(
                12..12,
                [0xBE, 0xDE, 0, 1, (PUB_TWCC_ID << 4) | 1, t[0], t[1], 0],
            );
            sim.send_rtp(publisher, &p);
            seq = seq.wrapping_add(1);
            sim.run_for(10 * MS);
            if seq.is_multiple_of(10) {
                feed_back(sim, thin, TWCC_ID, reported);
            }
            if seq.is_multiple_of(100) {
                // Browsers report every second (with or without media to report on).
                report(sim, thin);
            }
        }
    };
    send(&mut sim, 1000, &mut reported);
    let stats = latest_stats(&sim, thin_peer).unwrap();
    assert!(stats.1, "video paused after 10 s: {stats:?}");
    // While paused, what is sent (probes) stays within the link plus 20 % on average.
    let link = sim.link(w, v).unwrap();
    let _ = link;
    let before = sim
        .client(thin)
        .rtp
        .iter()
        .map(|p| p.len() + 30)
        .sum::<usize>();
    send(&mut sim, 1000, &mut reported);
    let during = sim
        .client(thin)
        .rtp
        .iter()
        .map(|p| p.len() + 30)
        .sum::<usize>()
        - before;
    let bps = during as f64 * 8.0 / 10.0;
    assert!(bps < 320_000.0 * 1.2, "{bps} bit/s sent while paused");
    // The viewer was told, with what the stream needs.
    let short: Vec<(u64, u64)> = sim
        .events
        .iter()
        .filter_map(|(_, e)| match *e {
            Event::BandwidthShort {
                peer,
                sending_bps,
                estimate_bps,
            } if peer == thin_peer => Some((sending_bps, estimate_bps)),
            _ => None,
        })
        .collect();
    assert!(
        short
            .iter()
            .any(|&(needed, est)| needed >= 400_000 && est < 400_000),
        "{short:?}"
    );

    // The link widens: a probe shows it and video resumes within 20 s.
    sim.set_link(w, v, LinkConfig::default());
    let widened = sim.now();
    let mut resumed = None;
    for _ in 0..20 {
        send(&mut sim, 100, &mut reported);
        if latest_stats(&sim, thin_peer).is_some_and(|s| !s.1) {
            resumed = Some(sim.now() - widened);
            break;
        }
    }
    send(&mut sim, 100, &mut reported);
    let trail: Vec<_> = sim
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::ViewerStats { .. } => Some(format!("{e:?}")),
            _ => None,
        })
        .collect();
    let resumed = resumed.unwrap_or_else(|| panic!("video resumes within 20 s: {trail:#?}"));
    println!("video resumed {resumed:?} after the link widened");
    let last = sim.client(thin).rtp.last().unwrap();
    assert_eq!(last[1] & 0x7F, viewer_track(0).0, "media flows again");
}

#[test]
fn a_relay_leg_carries_every_layer_and_the_edge_viewer_picks_one() {
    let mut sim = Sim::new(2, 97);
    let publisher = simulcast_publisher(&mut sim, false);
    let mut leg_track = simulcast_track(false);
    for (i, layer) in leg_track.layers.iter_mut().enumerate() {
        layer.ssrc = Some(0x6100_0000 + i as u32);
    }
    let ids = sim.add_relay(
        WorkerId(0),
        STREAM,
        WorkerId(0),
        WorkerId(1),
        EDGE_STREAM,
        vec![leg_track],
    );
    wait_connected(&mut sim, ids.0);
    let (pt, ssrc) = viewer_track(0);
    let role = PeerRole::Subscriber {
        stream: EDGE_STREAM,
        source: WorkerId(1),
    };
    let (edge_viewer, _) = sim.add_client_with_choice(
        WorkerId(1),
        role,
        vec![sim::video_track(pt, ssrc)],
        LayerChoice::Lowest,
    );
    connected(&mut sim, edge_viewer);
    let mut layers = Layers::new(publisher, false);
    for tick in 0..300 {
        if tick % 100 == 50 {
            report(&mut sim, edge_viewer);
        }
        layers.tick(&mut sim);
    }
    let seen = assert_switches_at_keyframes(&sim, edge_viewer, pt);
    assert_eq!(seen.last(), Some(&0), "{seen:?}");
    assert!(sim.client(edge_viewer).rtp.len() > 150);
}
