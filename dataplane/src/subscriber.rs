//! The sending side of one subscription: rewrites shared packets to what this subscriber
//! negotiated (payload type, SSRC, header-extension ids) under its own sequence numbers and
//! timestamps ([`SeqRewriter`]), holds back video until a keyframe so a new viewer starts with
//! a decodable picture, and writes retransmissions of cached packets — as they were sent, or
//! in RTX (RFC 4588) when the subscriber negotiated it — within a budget that is a share of
//! what it forwards, once per round trip per packet, and paced ([`retransmissions`]).
//!
//! Sans-IO: writes into the caller's buffer; the retransmission cache, encryption and sending
//! are the worker core's.

#![forbid(unsafe_code)]

use std::time::{Duration, Instant};

use crate::api::{MediaKind, PeerSpec, TrackSpec};
use crate::fanout::{SenderInfo, CANONICAL_EXTENSIONS};
use crate::rtcp::{self, Feedback, ReportBlock, TransportCc, TWCC_URI};
use crate::rtp::{self, ExtensionMap, RtpHeader, SeqRewriter};

pub mod congestion;
pub mod retransmissions;
use congestion::SubscriberCongestion;
use retransmissions::{Retransmissions, RttEstimator, PACE_BURST};

/// Retransmission credit a subscriber can save up, in bytes (a burst of about 12 packets);
/// requests beyond it wait for the credit to refill ([`retransmissions`]).
const MAX_RETRANSMIT_CREDIT: f32 = 16_000.0;

/// The RTX stream of a track: its payload type, SSRC and own sequence numbers.
struct TxRtx {
    payload_type: u8,
    ssrc: u32,
    next_seq: u16,
}

struct TxTrack {
    kind: MediaKind,
    payload_type: u8,
    ssrc: u32,
    extensions: ExtensionMap,
    /// Video waits for a keyframe before the first packet is sent.
    waiting_keyframe: bool,
    rewriter: SeqRewriter,
    /// Timestamp step after a publisher discontinuity (one frame or audio packet).
    frame_ticks: u32,
    /// Whether the subscriber's NACKs for this track are answered.
    nack: bool,
    rtx: Option<TxRtx>,
    /// Bytes of retransmission the subscriber may still be sent.
    credit: f32,
    /// For our sender reports: packets and payload octets sent on the SSRC.
    packets: u32,
    octets: u32,
}

/// Why a retransmission was not written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RetransmitError {
    #[error("no such track, or NACK not negotiated for it")]
    NotNegotiated,
    #[error("retransmission budget spent")]
    OverBudget,
    #[error("resent less than a round trip ago")]
    Recent,
    #[error("malformed cached packet")]
    Malformed,
}

/// Media state of one subscriber connection.
pub struct Subscriber {
    /// The audio and the video track (`slot`), inline: a fan-out visits every subscriber per
    /// packet, and a pointer to a separate allocation would cost a cache miss each time.
    tracks: [Option<TxTrack>; 2],
    /// Share of the forwarded bytes that may be spent on retransmissions.
    retransmit_share: f32,
    /// Packets forwarded and dropped (not negotiated, waiting for a keyframe), for stats.
    pub forwarded: u64,
    pub held_back: u64,
    /// The subscriber's round trip, from its reports on the video track.
    rtt: RttEstimator,
    /// Recent and deferred retransmissions (allocated on the first).
    retransmissions: Option<Box<Retransmissions>>,
    /// Transport-wide numbering and the bandwidth estimate, when the subscriber negotiated
    /// transport-wide congestion control.
    congestion: Option<Box<SubscriberCongestion>>,
}

impl Subscriber {
    /// State for the tracks negotiated in `spec` (their SSRCs were chosen by the answer).
    /// `seed` picks each track's first sequence number and timestamp; retransmissions may
    /// take up to `retransmit_share` of the bytes forwarded.
    pub fn new(spec: &PeerSpec, seed: u64, retransmit_share: f32) -> Self {
        let mut tracks = [None, None];
        for (i, t) in spec.tracks.iter().enumerate() {
            let salt = seed.rotate_left(17 * i as u32) ^ (i as u64);
            if let Some(track) = tx_track(t, salt) {
                // The first track of each kind (a WCS stream has one of each).
                tracks[slot(track.kind)].get_or_insert(track);
            }
        }
        Self {
            tracks,
            retransmit_share,
            forwarded: 0,
            held_back: 0,
            rtt: RttEstimator::default(),
            retransmissions: None,
            congestion: spec
                .tracks
                .iter()
                .flat_map(|t| &t.extensions)
                .find(|(_, uri)| uri == TWCC_URI)
                .map(|&(id, _)| Box::new(SubscriberCongestion::new(id))),
        }
    }

    /// True if this subscriber still waits for a video keyframe.
    pub fn wants_keyframe(&self) -> bool {
        self.tracks.iter().flatten().any(|t| t.waiting_keyframe)
    }

    /// Copies `packet` (a shared, decrypted packet in canonical form) into `scratch` rewritten
    /// for this subscriber (and numbered transport-wide, as sent at `now`, when it negotiated
    /// that). Returns false when the packet is not for this subscriber.
    pub fn prepare_rtp(
        &mut self,
        now: Option<Instant>,
        kind: MediaKind,
        keyframe: bool,
        packet: &[u8],
        scratch: &mut Vec<u8>,
    ) -> bool {
        let Some(track) = &mut self.tracks[slot(kind)] else {
            return false;
        };
        if track.waiting_keyframe {
            if !keyframe {
                self.held_back += 1;
                return false;
            }
            track.waiting_keyframe = false;
        }
        scratch.clear();
        scratch.extend_from_slice(packet);
        let Ok(mut hdr) = RtpHeader::parse(scratch) else {
            return false;
        };
        let (seq, ts) = track
            .rewriter
            .map(hdr.sequence(), hdr.timestamp(), track.frame_ticks);
        let congestion = self.congestion.as_deref_mut().zip(now);
        let stamp = congestion.as_ref().map(|(c, _)| c.next_stamp());
        let Some(stamped) = track.rewrite(scratch, &mut hdr, seq, ts, stamp) else {
            return false;
        };
        if let (true, Some((c, now))) = (stamped, congestion) {
            c.sent(now, scratch.len());
        }
        let payload = hdr.payload_range().len() as u32;
        track.packets = track.packets.wrapping_add(1);
        track.octets = track.octets.wrapping_add(payload);
        track.credit = (track.credit + self.retransmit_share * scratch.len() as f32)
            .min(MAX_RETRANSMIT_CREDIT);
        self.forwarded += 1;
        true
    }

    /// The track a NACK for our SSRC `media_ssrc` is about, if NACK was negotiated for it.
    pub fn nack_track(&self, media_ssrc: u32) -> Option<MediaKind> {
        self.tracks
            .iter()
            .flatten()
            .find(|t| t.ssrc == media_ssrc && t.nack)
            .map(|t| t.kind)
    }

    /// The publisher's (canonical) sequence number of the packet this subscriber received as
    /// `seq` on its `kind` track; `None` before the track started.
    pub fn inbound_seq(&self, kind: MediaKind, seq: u16) -> Option<u16> {
        self.tracks[slot(kind)].as_ref()?.rewriter.inbound_seq(seq)
    }

    /// Writes into `scratch` the retransmission of `packet` (a cached packet in canonical form
    /// of the `kind` track): the packet as it was sent, or wrapped in RTX (its sequence number
    /// first in the payload, the RTX payload type, SSRC and sequence numbers) when RTX was
    /// negotiated. Spends retransmission budget; refuses a packet resent less than a round
    /// trip before `now` (that retransmission may still be on its way).
    pub fn prepare_retransmission(
        &mut self,
        now: Instant,
        kind: MediaKind,
        packet: &[u8],
        scratch: &mut Vec<u8>,
    ) -> Result<(), RetransmitError> {
        let track = self.tracks[slot(kind)]
            .as_mut()
            .filter(|t| t.nack)
            .ok_or(RetransmitError::NotNegotiated)?;
        let canonical = RtpHeader::parse(packet)
            .map_err(|_| RetransmitError::Malformed)?
            .sequence();
        let log = self.retransmissions.get_or_insert_with(Box::default);
        if log.recently_resent(now, canonical, &self.rtt) {
            return Err(RetransmitError::Recent);
        }
        let len = packet.len() as f32;
        if track.credit < len {
            return Err(RetransmitError::OverBudget);
        }
        scratch.clear();
        scratch.extend_from_slice(packet);
        let mut hdr = RtpHeader::parse(scratch).map_err(|_| RetransmitError::Malformed)?;
        let (seq, ts) = track
            .rewriter
            .mapped(hdr.sequence(), hdr.timestamp())
            .ok_or(RetransmitError::NotNegotiated)?;
        // A retransmission is a transmission of its own: its own transport-wide number.
        let stamp = self.congestion.as_ref().map(|c| c.next_stamp());
        let stamped = track
            .rewrite(scratch, &mut hdr, seq, ts, stamp)
            .ok_or(RetransmitError::Malformed)?;
        if let Some(rtx) = &mut track.rtx {
            wrap_rtx(scratch, &hdr, rtx, seq).ok_or(RetransmitError::Malformed)?;
        }
        if let (true, Some(c)) = (stamped, self.congestion.as_mut()) {
            c.sent(now, scratch.len());
        }
        track.credit -= len;
        log.resent(now, canonical);
        Ok(())
    }

    /// The subscriber's transport-wide feedback (RTPFB FMT 15), received at `now`: feeds its
    /// bandwidth estimate. Ignored when it did not negotiate it or the message is malformed.
    /// Returns `Some((sending, estimate))` bits/s when the subscriber is now to be told it is
    /// short of bandwidth (see [`SubscriberCongestion::bandwidth_short`]).
    pub fn on_transport_feedback(&mut self, now: Instant, fb: &Feedback<'_>) -> Option<(u64, u64)> {
        let (Some(congestion), Ok(tcc)) = (&mut self.congestion, TransportCc::parse(fb)) else {
            return None;
        };
        congestion.on_feedback(now, &tcc);
        congestion.bandwidth_short(now)
    }

    /// The bandwidth estimate toward this subscriber (bits/s), when it negotiated
    /// transport-wide congestion control.
    pub fn bandwidth_estimate(&self) -> Option<u64> {
        self.congestion.as_ref().map(|c| c.estimate())
    }

    /// Keeps a request for the packet with the publisher's sequence number `seq`, refused for
    /// budget at `now`, to be sent when the budget allows; false if it cannot be kept.
    pub fn defer_retransmission(&mut self, now: Instant, seq: u16) -> bool {
        self.retransmissions
            .get_or_insert_with(Box::default)
            .defer(now, seq)
    }

    /// At a pacing tick: copies the deferred requests to try now into `out` and returns how
    /// many; give back those still refused with [`Self::put_back_retransmissions`].
    pub fn take_due_retransmissions(&mut self, now: Instant, out: &mut [u16; PACE_BURST]) -> usize {
        let Some(log) = self.retransmissions.as_mut() else {
            return 0;
        };
        let mut n = 0;
        for (slot, seq) in out.iter_mut().zip(log.take_due(now)) {
            *slot = seq;
            n += 1;
        }
        n
    }

    /// Returns deferred requests that still could not be sent, ahead of the others.
    pub fn put_back_retransmissions(&mut self, seqs: &[u16]) {
        if let Some(log) = self.retransmissions.as_mut() {
            log.put_back(seqs);
        }
    }

    /// When deferred retransmissions are due to be tried.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.retransmissions.as_ref()?.poll_timeout()
    }

    /// A report block from the subscriber's receiver report: measures its round trip when
    /// the block is about our video track.
    pub fn on_report_block(&mut self, now: Instant, block: &ReportBlock) {
        let video = self.tracks[slot(MediaKind::Video)].as_ref();
        if video.is_some_and(|t| t.ssrc == block.ssrc) {
            self.rtt
                .on_report(now, block.last_sr, block.delay_since_last_sr);
        }
    }

    /// The subscriber's round-trip time, once a receiver report measured it.
    pub fn rtt(&self) -> Option<Duration> {
        self.rtt.rtt()
    }

    /// Writes the publisher's sender report for `kind` under this subscriber's SSRC, with its
    /// timestamp in the subscriber's timeline and the subscriber's own counts; `None` before
    /// the track sent anything.
    pub fn write_sender_report(
        &mut self,
        kind: MediaKind,
        info: &SenderInfo,
        out: &mut [u8],
    ) -> Option<usize> {
        let track = self.tracks[slot(kind)].as_ref()?;
        let ts = track.rewriter.outbound_ts(info.rtp_timestamp)?;
        let len =
            rtcp::write_sender_report(out, track.ssrc, info.ntp, ts, track.packets, track.octets)
                .ok()?;
        if kind == MediaKind::Video {
            self.rtt.sender_report_sent(info.ntp, info.received_at);
        }
        Some(len)
    }
}

impl TxTrack {
    /// Rewrites the packet in `buf` (header `hdr`) to this track: payload type, SSRC,
    /// sequence number, timestamp and extension ids, and in the same pass over the extensions
    /// `stamp`s the transport-wide number (`(extension id, value)`). `None` if the packet is
    /// malformed; otherwise whether it was stamped.
    fn rewrite(
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
fn wrap_rtx(buf: &mut Vec<u8>, hdr: &RtpHeader, rtx: &mut TxRtx, osn: u16) -> Option<()> {
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

/// The index of `kind` in [`Subscriber::tracks`].
fn slot(kind: MediaKind) -> usize {
    match kind {
        MediaKind::Audio => 0,
        MediaKind::Video => 1,
    }
}

fn tx_track(t: &TrackSpec, salt: u64) -> Option<TxTrack> {
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
    })
}
