//! Target `rtcp`: decrypted RTCP compounds from a viewer or a publisher (what SRTCP lets
//! through): SR/RR report blocks, SDES, BYE, APP, PLI, FIR, REMB, generic NACK and
//! transport-wide congestion feedback.
//!
//! The first byte picks the stream (see [`crate::world::pairs`]) and the viewer's layer
//! choice like the rtp target; the rest are records, one compound each, whose aux byte says
//! how long (aux × 4 ms) passes before it. The viewer first gets a few real packets of its
//! stream, so that its sequence numbers, congestion state and NACK lookups have something to
//! work on. Each compound is iterated like the worker does, every packet is read through all
//! its accessors and iterators, and the packets the worker acts on go where the worker sends
//! them: report blocks to the viewer's round-trip estimate, transport-wide feedback to its
//! congestion control, NACKed sequence numbers to its retransmission lookup, keyframe
//! requests to its layer choice, sender reports to the publisher.

use std::time::Duration;

use bytes::BytesMut;
use dataplane::api::MediaKind;
use dataplane::fanout::SenderInfo;
use dataplane::publisher::Publisher;
use dataplane::rtcp::{RtcpCompound, RtcpPacket, TransportCc};
use dataplane::simulcast::LayerRates;
use dataplane::subscriber::retransmissions::PACE_BURST;
use dataplane::subscriber::Subscriber;

use crate::records::records;
use crate::{clock, world};

pub fn run(data: &[u8]) {
    let Some((&select, rest)) = data.split_first() else {
        return;
    };
    let pairs = world::pairs();
    let pair = &pairs[usize::from(select) % pairs.len()];
    let mut viewer_spec = pair.viewer.clone();
    viewer_spec.layer_choice = world::layer_choice(select >> 2);
    let mut now = clock::base();
    let mut publisher = Publisher::new(&pair.publisher, 0xfeed, now);
    let mut viewer = Subscriber::new(&viewer_spec, 0x5eed, 0.2);
    let mut rates = LayerRates::default();
    let mut scratch = Vec::with_capacity(1500);
    for seq in 0..8u16 {
        now += Duration::from_millis(20);
        for kind in [MediaKind::Audio, MediaKind::Video] {
            let packet = world::media_packet(&pair.publisher, kind, 0, 100 + seq, seq == 0);
            let mut buf = BytesMut::from(&packet[..]);
            if let Ok(rx) = publisher.on_rtp(now, &mut buf) {
                rates.on_packet(
                    now,
                    (kind == MediaKind::Video).then_some(rx.layer),
                    buf.len(),
                );
                scratch.clear();
                let _ = viewer.prepare_rtp(
                    Some(now),
                    rx.kind,
                    rx.layer,
                    rx.keyframe,
                    &buf,
                    &mut scratch,
                );
            }
        }
    }
    for (aux, compound) in records(rest) {
        now += Duration::from_millis(u64::from(aux) * 4);
        let mut feedback = false;
        for packet in RtcpCompound::iter(compound) {
            let Ok(packet) = packet else {
                break;
            };
            read_packet(&packet);
            match packet {
                RtcpPacket::SenderReport(sr) => {
                    let info = SenderInfo {
                        ntp: sr.ntp(),
                        received_at: now,
                        rtp_timestamp: sr.rtp_timestamp(),
                        packet_count: sr.packet_count(),
                        octet_count: sr.octet_count(),
                    };
                    let _ = publisher.on_sender_report(now, sr.sender_ssrc(), info);
                    for block in sr.report_blocks() {
                        viewer.on_report_block(now, &block);
                    }
                }
                RtcpPacket::ReceiverReport(rr) => {
                    for block in rr.report_blocks() {
                        viewer.on_report_block(now, &block);
                    }
                }
                RtcpPacket::Twcc(fb) => {
                    viewer.on_transport_feedback(now, &fb);
                    feedback = true;
                }
                RtcpPacket::Nack(nack) => {
                    for seq in nack.lost() {
                        if let Some(id) = viewer.nack_target(nack.media_ssrc, seq) {
                            let _ = viewer.defer_retransmission(now, id);
                        }
                    }
                }
                RtcpPacket::Pli(pli) => {
                    let _ = viewer.keyframe_layer(pli.media_ssrc);
                }
                RtcpPacket::Fir(fir) => {
                    for entry in fir.entries() {
                        let _ = viewer.keyframe_layer(entry.ssrc);
                    }
                }
                _ => {}
            }
        }
        if feedback {
            let _ = viewer.bandwidth_short(now, Some(&rates));
            let _ = viewer.choose_layer(now, &rates);
        }
        if viewer.poll_timeout().is_some_and(|t| t <= now) {
            viewer.handle_timeout(now);
        }
        let padding = viewer.padding_due(now);
        if padding > 0 {
            scratch.clear();
            let _ = viewer.write_padding(now, padding.min(4000), &mut scratch);
        }
        let _ = viewer.take_due_retransmissions(now, &mut [(0, 0); PACE_BURST]);
        let _ = (
            viewer.rtt(),
            viewer.bandwidth_estimate(),
            viewer.poll_stats(now),
        );
    }
}

/// Every accessor and iterator of one packet.
fn read_packet(packet: &RtcpPacket<'_>) {
    match packet {
        RtcpPacket::SenderReport(sr) => {
            let _ = (sr.sender_ssrc(), sr.ntp(), sr.rtp_timestamp());
            let _ = (sr.packet_count(), sr.octet_count());
            for block in sr.report_blocks() {
                let _ = block;
            }
        }
        RtcpPacket::ReceiverReport(rr) => {
            let _ = rr.sender_ssrc();
            for block in rr.report_blocks() {
                let _ = block;
            }
        }
        RtcpPacket::Sdes(sdes) => {
            for item in sdes.items() {
                let _ = item;
            }
            let _ = sdes.cname();
        }
        RtcpPacket::Bye(bye) => {
            let _ = bye.ssrcs().count();
            let _ = bye.reason();
        }
        RtcpPacket::Fir(fir) => {
            let _ = fir.entries().count();
        }
        RtcpPacket::Remb(remb) => {
            let _ = (remb.sender_ssrc, remb.bitrate, remb.ssrcs().count());
        }
        RtcpPacket::Nack(nack) => {
            let pairs = nack.pairs().count();
            assert!(nack.lost().count() <= pairs * 17);
        }
        RtcpPacket::Twcc(fb) => {
            if let Ok(tcc) = TransportCc::parse(fb) {
                assert_eq!(tcc.packets().count(), usize::from(tcc.status_count));
            }
        }
        RtcpPacket::App(_)
        | RtcpPacket::Pli(_)
        | RtcpPacket::PayloadFeedback(_)
        | RtcpPacket::TransportFeedback(_)
        | RtcpPacket::Unknown { .. } => {}
    }
}

/// RTCP we wrote ourselves must parse, every packet of it, its TWCC feedback included.
pub(crate) fn check_own_rtcp(buf: &[u8]) {
    for packet in RtcpCompound::iter(buf) {
        let packet = packet.expect("our own RTCP parses");
        if let RtcpPacket::Twcc(fb) = packet {
            TransportCc::parse(&fb).expect("our own transport-wide feedback parses");
        }
    }
}
