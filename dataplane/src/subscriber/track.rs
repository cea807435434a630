//! One outbound track of a subscriber: what it negotiated (payload type, SSRC, extension ids,
//! RTX), its own sequence numbers and timestamps ([`SeqRewriter`]) and VP8 picture ids, and the
//! rewrite of a shared packet onto it; the RTX wrapping of a retransmission.
//!
//! Sans-IO, in place on the caller's buffer; which packet goes to which track is the
//! subscriber's.

use std::time::Instant;

use crate::api::{MediaKind, TrackSpec};
use crate::fanout::CANONICAL_EXTENSIONS;
use crate::rtp::{self, ExtensionMap, RtpHeader, SeqRewriter, Vp8Ids};

/// The RTX stream of a track: its payload type, SSRC and own sequence numbers.
pub(super) struct TxRtx {
    pub(super) payload_type: u8,
    pub(super) ssrc: u32,
    pub(super) next_seq: u16,
}

pub(super) struct TxTrack {
    pub(super) kind: MediaKind,
    pub(super) payload_type: u8,
    pub(super) ssrc: u32,
    pub(super) extensions: ExtensionMap,
    /// Video waits for a keyframe before the first packet is sent.
    pub(super) waiting_keyframe: bool,
    pub(super) rewriter: SeqRewriter,
    /// Timestamp step after a publisher discontinuity (one frame or audio packet).
    pub(super) frame_ticks: u32,
    /// Whether the subscriber's NACKs for this track are answered.
    pub(super) nack: bool,
    pub(super) rtx: Option<TxRtx>,
    /// Bytes of retransmission the subscriber may still be sent.
    pub(super) credit: f32,
    /// For our sender reports: packets and payload octets sent on the SSRC.
    pub(super) packets: u32,
    pub(super) octets: u32,
    /// When the last packet went out (a layer switch advances the timestamp by the time since).
    pub(super) last_sent: Option<Instant>,
    /// A viewer's VP8 picture ids (they continue across layer switches).
    pub(super) vp8: Option<Vp8Ids>,
    pub(super) clock_rate: u32,
}

impl TxTrack {
    /// Rewrites the packet in `buf` (header `hdr`) to this track: payload type, SSRC,
    /// sequence number, timestamp and extension ids, and in the same pass over the extensions
    /// `stamp`s the transport-wide number (`(extension id, value)`). `None` if the packet is
    /// malformed; otherwise whether it was stamped.
    pub(super) fn rewrite(
        &self,
        buf: &mut [u8],
        hdr: &mut RtpHeader,
        seq: u16,
        ts: u32,
        stamp: Option<(u8, u16)>,
    ) -> Option<bool> {
        hdr.set_payload_type(buf, self.payload_type);
        hdr.set_ssrc(buf, self.ssrc);
        hdr.set_sequence(buf, seq);
        hdr.set_timestamp(buf, ts);
        rtp::rewrite_extensions_stamping(buf, hdr, &self.extensions, stamp).ok()
    }
}

/// Turns the rewritten packet in `buf` into its RTX packet (RFC 4588 §4): the original
/// sequence number `osn` first in the payload, padding dropped, the RTX payload type, SSRC
/// and next sequence number.
pub(super) fn wrap_rtx(
    buf: &mut Vec<u8>,
    hdr: &RtpHeader,
    rtx: &mut TxRtx,
    osn: u16,
) -> Option<()> {
    let payload = hdr.payload_range();
    buf.truncate(payload.end);
    buf.extend_from_slice(&[0, 0]);
    buf.copy_within(payload.clone(), payload.start + 2);
    buf[payload.start..payload.start + 2].copy_from_slice(&osn.to_be_bytes());
    buf[0] &= !0x20; // no padding
    let mut hdr = RtpHeader::parse(buf).ok()?;
    hdr.set_payload_type(buf, rtx.payload_type);
    hdr.set_ssrc(buf, rtx.ssrc);
    hdr.set_sequence(buf, rtx.next_seq);
    rtx.next_seq = rtx.next_seq.wrapping_add(1);
    Some(())
}

/// The track of [`Subscriber::track_mut`], from the subscriber's fields (so that others can
/// be borrowed beside it).
pub(super) fn track_of<'a>(
    tracks: &'a mut [Option<TxTrack>; 2],
    relay_layers: &'a mut [TxTrack],
    relay: bool,
    current: Option<u8>,
    kind: MediaKind,
    layer: u8,
) -> Option<&'a mut TxTrack> {
    match kind {
        MediaKind::Audio => tracks[slot(kind)].as_mut(),
        MediaKind::Video if relay => match layer {
            0 => tracks[slot(kind)].as_mut(),
            l => relay_layers.get_mut(usize::from(l) - 1),
        },
        MediaKind::Video => tracks[slot(kind)]
            .as_mut()
            .filter(|_| current == Some(layer)),
    }
}

/// The index of `kind` in [`Subscriber::tracks`].
pub(super) fn slot(kind: MediaKind) -> usize {
    match kind {
        MediaKind::Audio => 0,
        MediaKind::Video => 1,
    }
}

pub(super) fn tx_track(t: &TrackSpec, salt: u64) -> Option<TxTrack> {
    let to: Vec<(u8, &str)> = t
        .extensions
        .iter()
        .map(|(id, u)| (*id, u.as_str()))
        .collect();
    let rtx = t.rtx.and_then(|r| {
        Some(TxRtx {
            payload_type: r.payload_type,
            ssrc: r.ssrc?,
            next_seq: (salt >> 48) as u16,
        })
    });
    Some(TxTrack {
        kind: t.kind,
        payload_type: t.payload_type,
        ssrc: t.ssrc?,
        extensions: ExtensionMap::new(CANONICAL_EXTENSIONS, &to),
        waiting_keyframe: t.kind == MediaKind::Video,
        // RFC 3550 §5.1: random initial sequence number and timestamp.
        rewriter: SeqRewriter::new(salt as u16, (salt >> 16) as u32),
        frame_ticks: match t.kind {
            MediaKind::Video => t.clock_rate / 30,
            MediaKind::Audio => t.clock_rate / 50,
        },
        nack: t.nack,
        rtx,
        credit: 0.0,
        packets: 0,
        octets: 0,
        last_sent: None,
        clock_rate: t.clock_rate,
        vp8: (t.kind == MediaKind::Video && t.codec.eq_ignore_ascii_case("VP8"))
            .then(Vp8Ids::default),
    })
}
