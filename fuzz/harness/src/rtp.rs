//! Target `rtp`: decrypted RTP packets from a publisher (what SRTP lets through), with RFC
//! 8285 one-byte and two-byte header extensions, RTX, simulcast rids and codec payloads.
//!
//! The first byte picks the publisher (see [`crate::world::pairs`]) in bits 0-1 and the
//! viewer's layer choice in bits 2-3; the rest are records, one packet each, whose aux byte
//! says how long (aux × 4 ms) passes before it. Each packet is read statelessly (header, CSRCs,
//! every extension element, keyframe detection for every codec, VP8 id rewriting, extension
//! id rewriting), then handled as the worker does: the publisher's state machine classifies
//! it (RTX unwrapping, rid layers, loss and congestion bookkeeping, canonical extension ids),
//! and a viewer of the stream rewrites it for itself. What the publisher keeps, what the
//! viewer sends and every RTCP report the publisher writes must parse again.

use std::time::Duration;

use bytes::BytesMut;
use dataplane::publisher::Publisher;
use dataplane::rtp::{
    is_keyframe, read_u16_extension, rewrite_extensions_stamping, ExtensionMap, RtpHeader,
    VideoCodecKind, Vp8Ids,
};
use dataplane::subscriber::Subscriber;

use crate::records::records;
use crate::rtcp::check_own_rtcp;
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
    let mut scratch = Vec::with_capacity(1500);
    let mut out = [0u8; 1500];
    for (aux, packet) in records(rest) {
        now += Duration::from_millis(u64::from(aux) * 4);
        read_statelessly(packet);
        let mut buf = BytesMut::from(packet);
        if let Ok(rx) = publisher.on_rtp(now, &mut buf) {
            RtpHeader::parse(&buf).expect("a packet the publisher accepted parses");
            scratch.clear();
            if viewer.prepare_rtp(
                Some(now),
                rx.kind,
                rx.layer,
                rx.keyframe,
                &buf,
                &mut scratch,
            ) {
                let hdr = RtpHeader::parse(&scratch).expect("a packet for a viewer parses");
                assert!(hdr.extensions(&scratch).all(|e| e.is_ok()));
            }
        }
        if publisher.poll_timeout().is_some_and(|t| t <= now) {
            let _ = publisher.handle_keyframe_timers(now);
        }
        let _ = publisher.take_feedback_armed();
        let nack = publisher.write_nack(now, &mut out);
        if nack.len > 0 {
            check_own_rtcp(&out[..nack.len]);
        }
        if let Some(len) = publisher.write_keyframe_request(&mut out) {
            check_own_rtcp(&out[..len]);
        }
        for _ in 0..16 {
            let Some(len) = publisher.write_transport_feedback(now, &mut out) else {
                break;
            };
            check_own_rtcp(&out[..len]);
        }
        if let Some(len) = publisher.write_remb(now, &mut out) {
            check_own_rtcp(&out[..len]);
        }
        if let Some(len) = publisher.write_receiver_report(now, &mut out) {
            check_own_rtcp(&out[..len]);
        }
        let _ = publisher.poll_stats(now);
        let _ = viewer.poll_stats(now);
    }
}

/// Everything that reads one packet without state; rewrites work on copies.
fn read_statelessly(packet: &[u8]) {
    let Ok(hdr) = RtpHeader::parse(packet) else {
        return;
    };
    let _ = (
        hdr.payload_type(),
        hdr.marker(),
        hdr.sequence(),
        hdr.timestamp(),
    );
    let _ = (
        hdr.ssrc(),
        hdr.padding_len(),
        hdr.extension().map(|b| b.profile()),
    );
    assert_eq!(hdr.csrcs(packet).count(), usize::from(hdr.csrc_count()));
    assert!(hdr.header_len() <= packet.len());
    for element in hdr.extensions(packet) {
        let _ = element;
    }
    for id in [1, 3, 5, 14, 200] {
        let _ = read_u16_extension(packet, &hdr, id);
    }
    let payload = hdr.payload(packet);
    for codec in [
        VideoCodecKind::H264,
        VideoCodecKind::Vp8,
        VideoCodecKind::Vp9,
        VideoCodecKind::Av1,
    ] {
        let _ = is_keyframe(codec, payload);
    }
    let mut copy = payload.to_vec();
    let mut ids = Vp8Ids::default();
    ids.rewrite(&mut copy);
    ids.switch_source();
    ids.rewrite(&mut copy);
    ids.rewrite_retransmission(&mut copy);

    let mut copy = packet.to_vec();
    match rewrite_extensions_stamping(&mut copy, &hdr, remap(), Some((5, 0xbeef))) {
        Ok(_) => {
            let again = RtpHeader::parse(&copy).expect("a rewritten packet parses");
            assert_eq!(again.payload_range(), hdr.payload_range());
            assert!(again.extensions(&copy).all(|e| e.is_ok()));
        }
        Err(_) => assert_eq!(copy, packet, "a failed rewrite leaves the packet as it was"),
    }
}

/// An id map that keeps, moves and blanks ids of both extension forms.
fn remap() -> &'static ExtensionMap {
    static MAP: std::sync::OnceLock<ExtensionMap> = std::sync::OnceLock::new();
    MAP.get_or_init(|| {
        let mut map = ExtensionMap::default();
        for from in 1..=255u8 {
            map.set(from, from.wrapping_mul(7) % 17);
        }
        map
    })
}
