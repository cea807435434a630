//! The sending side of one subscription: rewrites shared packets to what this subscriber
//! negotiated (payload type, SSRC, header-extension ids) under its own sequence numbers and
//! timestamps ([`SeqRewriter`]), holds back video until a keyframe so a new viewer starts with
//! a decodable picture, and writes retransmissions of cached packets — as they were sent, or
//! in RTX (RFC 4588) when the subscriber negotiated it — within a budget that is a share of
//! what it forwards, once per round trip per packet, and paced ([`retransmissions`]).
//!
//! Of a simulcast stream a viewer is sent one layer, switched at keyframes as its
//! [`LayerSelection`] decides (video paused when not even the lowest layer fits), and its
//! bandwidth probed with padding ([`probe`]) when more could be sent; a relay leg toward
//! another node is sent every layer, each under its own SSRC.
//!
//! Sans-IO: writes into the caller's buffer; the retransmission cache, encryption and sending
//! are the worker core's.

#![forbid(unsafe_code)]

use std::time::{Duration, Instant};

use crate::api::{MediaKind, PeerRole, PeerSpec};
use crate::fanout::SenderInfo;
use crate::rtcp::{self, Feedback, ReportBlock, TransportCc, TWCC_URI};
use crate::rtp::RtpHeader;
use crate::simulcast::{Accept, EstimateView, LayerRates, LayerSelection, DELIVERED_SHARE};

pub mod congestion;
pub mod pacer;
pub mod probe;
pub mod retransmissions;
mod track;
use congestion::SubscriberCongestion;
use pacer::{Held, Pacer};
use retransmissions::{PacketId, Retransmissions, RttEstimator, PACE_BURST};
use track::{slot, track_of, tx_track, wrap_rtx, TxTrack};

/// A viewer's sending state is reported this often ([`Subscriber::poll_stats`]).
pub const STATS_INTERVAL: Duration = Duration::from_secs(1);
/// Padding bytes one padding packet carries at most (RFC 3550's padding count is one byte).
const MAX_PADDING: usize = 255;

/// Retransmission credit a subscriber can save up, in bytes (a burst of about 12 packets);
/// requests beyond it wait for the credit to refill ([`retransmissions`]).
const MAX_RETRANSMIT_CREDIT: f32 = 16_000.0;

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
    /// A relay leg toward another node: sent every simulcast layer; layer 0 on the video
    /// track, the others on these (in layer order).
    relay: bool,
    relay_layers: Vec<TxTrack>,
    /// A viewer: the one layer it is sent.
    selection: LayerSelection,
    /// A viewer with an estimate: its video paced (allocated with the first packet held).
    pacer: Option<Box<Pacer>>,
    /// Bytes sent (media, retransmissions, padding) and of them video (no padding), and the
    /// stats window (start, bytes, video bytes).
    bytes_sent: u64,
    video_bytes_sent: u64,
    stats_window: Option<(Instant, u64, u64)>,
}

/// What [`Subscriber::decide`] made of a fanned-out packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Not for this subscriber.
    Skip,
    /// Held by the pacer (`first`: the first held, its timer must be armed).
    Held { first: bool },
    /// Write it now.
    Send { switching: bool },
}

/// A viewer's sending state ([`Subscriber::poll_stats`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ViewerStats {
    pub sending_bps: u64,
    pub video_bps: u64,
    pub estimate_bps: Option<u64>,
    pub layer: Option<u8>,
    pub video_paused: bool,
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
        let relay = matches!(spec.role, PeerRole::Relay { .. });
        // A relay leg of a simulcast stream: a video track per layer, layer 0 in the slot.
        let mut relay_layers: Vec<TxTrack> = match spec.track(MediaKind::Video) {
            Some(video) if relay => video
                .layers
                .iter()
                .enumerate()
                .filter_map(|(i, layer)| {
                    let mut t = video.clone();
                    t.ssrc = layer.ssrc;
                    t.rtx = t.rtx.map(|mut r| {
                        r.ssrc = layer.rtx_ssrc;
                        r
                    });
                    tx_track(&t, seed.rotate_left(29 + 7 * i as u32) ^ 0x5eed)
                })
                .collect(),
            _ => Vec::new(),
        };
        if !relay_layers.is_empty() {
            tracks[slot(MediaKind::Video)] = Some(relay_layers.remove(0));
        }
        Self {
            relay,
            relay_layers,
            selection: LayerSelection::new(spec.layer_choice),
            pacer: None,
            bytes_sent: 0,
            video_bytes_sent: 0,
            stats_window: None,
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
        let video = self.tracks[slot(MediaKind::Video)].is_some();
        match self.relay {
            true => self.video_tracks().any(|t| t.waiting_keyframe),
            false => video && self.selection.wants_keyframe(),
        }
    }

    /// The video tracks: the one of a viewer, or every layer's of a relay leg.
    fn video_tracks(&self) -> impl Iterator<Item = &TxTrack> {
        self.tracks[slot(MediaKind::Video)]
            .iter()
            .chain(&self.relay_layers)
    }

    /// The track that sends `kind` of `layer`: audio; a relay leg's track of that layer; a
    /// viewer's video track when `layer` is the one it is sent.
    fn track_mut(&mut self, kind: MediaKind, layer: u8) -> Option<&mut TxTrack> {
        let current = self.selection.current();
        track_of(
            &mut self.tracks,
            &mut self.relay_layers,
            self.relay,
            current,
            kind,
            layer,
        )
    }

    /// The layer of the video track that sends as `ssrc`, if one does.
    fn layer_of(&self, ssrc: u32) -> Option<u8> {
        let i = self.video_tracks().position(|t| t.ssrc == ssrc)?;
        match self.relay {
            true => Some(i as u8),
            false => self.selection.current(),
        }
    }

    /// Copies `packet` (a shared, decrypted packet in canonical form, of simulcast layer
    /// `layer`) into `scratch` rewritten for this subscriber (and numbered transport-wide, as
    /// sent at `now`, when it negotiated that). Returns false when the packet is not for this
    /// subscriber (not negotiated, another layer, or video it must wait with for a keyframe).
    /// Not paced: see [`Self::decide`].
    pub fn prepare_rtp(
        &mut self,
        now: Option<Instant>,
        kind: MediaKind,
        layer: u8,
        keyframe: bool,
        packet: &[u8],
        scratch: &mut Vec<u8>,
    ) -> bool {
        match self.accept(kind, layer, keyframe) {
            Some(switching) => {
                self.write_rtp(now, kind, layer, keyframe, switching, packet, scratch)
            }
            None => false,
        }
    }

    /// Whether this subscriber takes a packet of `kind`/`layer` now; `Some(true)` when a
    /// viewer switches to `layer` at it.
    fn accept(&mut self, kind: MediaKind, layer: u8, keyframe: bool) -> Option<bool> {
        if kind != MediaKind::Video || self.relay {
            return Some(false);
        }
        match self.selection.accept(layer, keyframe) {
            Accept::Forward => Some(false),
            Accept::Switch => Some(true),
            Accept::Drop => {
                self.held_back += 1;
                None
            }
        }
    }

    /// What to do with a fanned-out packet at `now`: not for this subscriber, held by its
    /// pacer for a later tick, or to be written now ([`Self::write_rtp`]).
    pub fn decide(
        &mut self,
        now: Option<Instant>,
        kind: MediaKind,
        layer: u8,
        keyframe: bool,
        packet: &bytes::Bytes,
    ) -> Delivery {
        let Some(switching) = self.accept(kind, layer, keyframe) else {
            return Delivery::Skip;
        };
        if let (MediaKind::Video, Some(pacer), Some(now)) = (kind, self.pacer.as_mut(), now) {
            if !pacer.admit(now, packet.len()) {
                let first = pacer.is_empty();
                pacer.hold(Held {
                    layer,
                    keyframe,
                    switching,
                    packet: packet.clone(),
                });
                return Delivery::Held { first };
            }
        }
        Delivery::Send { switching }
    }

    /// The next held video packet whose turn came at `now` (write it with
    /// [`Self::write_rtp`]).
    pub fn pop_paced(&mut self, now: Instant) -> Option<Held> {
        self.pacer.as_mut()?.pop(now)
    }

    /// Writes `packet` into `scratch` rewritten for this subscriber, once [`Self::decide`]
    /// let it go (`switching`: a viewer switches to `layer` at it). False when it cannot be
    /// sent (not negotiated, waiting for a keyframe, malformed).
    #[allow(clippy::too_many_arguments)]
    pub fn write_rtp(
        &mut self,
        now: Option<Instant>,
        kind: MediaKind,
        layer: u8,
        keyframe: bool,
        switching: bool,
        packet: &[u8],
        scratch: &mut Vec<u8>,
    ) -> bool {
        let current = self.selection.current();
        let relay = self.relay;
        let track = track_of(
            &mut self.tracks,
            &mut self.relay_layers,
            relay,
            current,
            kind,
            layer,
        );
        let Some(track) = track else {
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
        let mut ticks = track.frame_ticks;
        if switching {
            // Another layer's numbers: the viewer's go on from the last sent, its clock by
            // the time since (at least one tick).
            track.rewriter.switch_source();
            if let (Some(now), Some(last)) = (now, track.last_sent) {
                let elapsed = now
                    .saturating_duration_since(last)
                    .min(Duration::from_secs(1));
                ticks = ((elapsed.as_micros() as u64 * u64::from(track.clock_rate) / 1_000_000)
                    as u32)
                    .max(1);
            }
        }
        let (seq, ts) = track.rewriter.map(hdr.sequence(), hdr.timestamp(), ticks);
        let congestion = self.congestion.as_deref_mut().zip(now);
        let stamp = congestion.as_ref().map(|(c, _)| c.next_stamp());
        let Some(stamped) = track.rewrite(scratch, &mut hdr, seq, ts, stamp) else {
            return false;
        };
        if let Some(vp8) = track.vp8.as_mut().filter(|_| !relay) {
            if switching {
                vp8.switch_source();
            }
            vp8.rewrite(&mut scratch[hdr.payload_range()]);
        }
        if let (true, Some((c, now))) = (stamped, congestion) {
            c.sent(now, scratch.len());
        }
        track.last_sent = now.or(track.last_sent);
        let payload = hdr.payload_range().len() as u32;
        track.packets = track.packets.wrapping_add(1);
        track.octets = track.octets.wrapping_add(payload);
        track.credit = (track.credit + self.retransmit_share * scratch.len() as f32)
            .min(MAX_RETRANSMIT_CREDIT);
        self.forwarded += 1;
        self.bytes_sent += scratch.len() as u64;
        if kind == MediaKind::Video {
            self.video_bytes_sent += scratch.len() as u64;
        }
        true
    }

    /// The cached packet a NACK for our video SSRC `media_ssrc`, sequence number `seq`, asks
    /// for: its layer and the publisher's sequence number; `None` if NACK was not negotiated,
    /// the SSRC is not ours, or the packet was sent before the layer last changed.
    pub fn nack_target(&self, media_ssrc: u32, seq: u16) -> Option<PacketId> {
        let track = self
            .video_tracks()
            .find(|t| t.ssrc == media_ssrc && t.nack)?;
        let canonical = track.rewriter.inbound_seq(seq)?;
        Some((self.layer_of(media_ssrc)?, canonical))
    }

    /// Writes into `scratch` the retransmission of `packet` (a cached video packet in
    /// canonical form of simulcast layer `layer`): the packet as it was sent, or wrapped in RTX
    /// (its sequence number first in the payload, the RTX payload type, SSRC and sequence
    /// numbers) when RTX was negotiated. Spends retransmission budget; refuses a packet resent
    /// less than a round trip before `now` (that retransmission may still be on its way).
    pub fn prepare_retransmission(
        &mut self,
        now: Instant,
        layer: u8,
        packet: &[u8],
        scratch: &mut Vec<u8>,
    ) -> Result<(), RetransmitError> {
        let canonical = RtpHeader::parse(packet)
            .map_err(|_| RetransmitError::Malformed)?
            .sequence();
        let mut log = self.retransmissions.take().unwrap_or_default();
        let result = self.retransmit_into(now, layer, canonical, packet, scratch, &mut log);
        self.retransmissions = Some(log);
        result
    }

    fn retransmit_into(
        &mut self,
        now: Instant,
        layer: u8,
        canonical: u16,
        packet: &[u8],
        scratch: &mut Vec<u8>,
        log: &mut Retransmissions,
    ) -> Result<(), RetransmitError> {
        let rtt = self.rtt;
        let share = self.congestion.as_deref_mut();
        let current = self.selection.current();
        let track = track_of(
            &mut self.tracks,
            &mut self.relay_layers,
            self.relay,
            current,
            MediaKind::Video,
            layer,
        )
        .filter(|t| t.nack)
        .ok_or(RetransmitError::NotNegotiated)?;
        let canonical = (layer, canonical);
        if log.recently_resent(now, canonical, &rtt) {
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
        let stamp = share.as_ref().map(|c| c.next_stamp());
        let stamped = track
            .rewrite(scratch, &mut hdr, seq, ts, stamp)
            .ok_or(RetransmitError::Malformed)?;
        if let Some(vp8) = track.vp8.as_ref().filter(|_| !self.relay) {
            vp8.rewrite_retransmission(&mut scratch[hdr.payload_range()]);
        }
        if let Some(rtx) = &mut track.rtx {
            wrap_rtx(scratch, &hdr, rtx, seq).ok_or(RetransmitError::Malformed)?;
        }
        if let (true, Some(c)) = (stamped, share) {
            c.sent(now, scratch.len());
        }
        track.credit -= len;
        log.resent(now, canonical);
        self.bytes_sent += scratch.len() as u64;
        self.video_bytes_sent += scratch.len() as u64;
        Ok(())
    }

    /// The subscriber's transport-wide feedback (RTPFB FMT 15), received at `now`: feeds its
    /// bandwidth estimate (and a running probe). Ignored when it did not negotiate it or the
    /// message is malformed.
    pub fn on_transport_feedback(&mut self, now: Instant, fb: &Feedback<'_>) {
        if let (Some(congestion), Ok(tcc)) = (&mut self.congestion, TransportCc::parse(fb)) {
            congestion.on_feedback(now, &tcc);
        }
    }

    /// After feedback at `now`: `Some((needed, estimate))` bits/s when the viewer is to be told
    /// it is short of bandwidth (see [`SubscriberCongestion::bandwidth_short`]); `rates` are
    /// its stream's layers (what it needs when its video is paused).
    pub fn bandwidth_short(
        &mut self,
        now: Instant,
        rates: Option<&LayerRates>,
    ) -> Option<(u64, u64)> {
        let needed = rates.and_then(|r| self.selection.needed_bps(now, r));
        let needed = needed.filter(|_| self.selection.paused());
        self.congestion.as_mut()?.bandwidth_short(now, needed)
    }

    /// A viewer's layer decision at `now` from its estimate and its stream's layer `rates`:
    /// returns the layer whose keyframe it now waits for, if that changed (ask the publisher
    /// for it). Starts a bandwidth probe when more could be sent and the path may carry it.
    pub fn choose_layer(&mut self, now: Instant, rates: &LayerRates) -> Option<u8> {
        if self.relay || self.tracks[slot(MediaKind::Video)].is_none() {
            return None;
        }
        let estimate = self.congestion.as_ref().map(|c| EstimateView {
            bps: c.estimate(),
            last_decrease: c.last_decrease(),
            delivering: c.delivering(DELIVERED_SHARE),
        });
        let changed = self.selection.choose(now, rates, estimate);
        if let Some(c) = self.congestion.as_ref() {
            let needed = self.selection.needed_bps(now, rates).unwrap_or(0);
            self.pacer
                .get_or_insert_with(Box::default)
                .set_rate(c.estimate(), needed);
        }
        let can_pad = self.tracks[slot(MediaKind::Video)]
            .as_ref()
            .is_some_and(|t| t.rtx.is_some() && t.rewriter.is_started());
        if let (Some(target), Some(c), true) = (
            self.selection.probe_target(now, rates),
            &mut self.congestion,
            can_pad,
        ) {
            c.maybe_probe(now, target);
        }
        changed
    }

    /// The layer to ask a keyframe of for this subscriber after its PLI about our SSRC
    /// `media_ssrc` (`None`: every layer).
    pub fn keyframe_layer(&self, media_ssrc: u32) -> Option<u8> {
        match self.relay {
            true => self.layer_of(media_ssrc),
            false => self.selection.keyframe_layer(),
        }
    }

    /// Padding bytes a running bandwidth probe wants sent at `now`.
    pub fn padding_due(&mut self, now: Instant) -> u32 {
        self.congestion.as_mut().map_or(0, |c| c.padding_due(now))
    }

    /// Writes into `scratch` one padding packet of the probe (RTX payload type and SSRC,
    /// padding only, numbered transport-wide) carrying up to `bytes` of padding; returns the
    /// padding it carries (0: none written — no RTX or no transport-wide numbers).
    pub fn write_padding(&mut self, now: Instant, bytes: u32, scratch: &mut Vec<u8>) -> u32 {
        let (Some(track), Some(c)) = (
            self.tracks[slot(MediaKind::Video)].as_mut(),
            self.congestion.as_deref_mut(),
        ) else {
            return 0;
        };
        let (Some(rtx), Some((_, ts))) = (track.rtx.as_mut(), track.rewriter.last_out()) else {
            return 0;
        };
        let (id, twcc) = c.next_stamp();
        if !(1..=14).contains(&id) {
            return 0;
        }
        let padding = (bytes as usize).clamp(1, MAX_PADDING);
        scratch.clear();
        // V=2, padding, one header extension block (RFC 8285 one-byte form).
        scratch.extend_from_slice(&[0xB0, rtx.payload_type & 0x7F]);
        scratch.extend_from_slice(&rtx.next_seq.to_be_bytes());
        scratch.extend_from_slice(&ts.to_be_bytes());
        scratch.extend_from_slice(&rtx.ssrc.to_be_bytes());
        scratch.extend_from_slice(&[0xBE, 0xDE, 0, 1, (id << 4) | 1]);
        scratch.extend_from_slice(&twcc.to_be_bytes());
        scratch.push(0);
        scratch.resize(scratch.len() + padding - 1, 0);
        scratch.push(padding as u8);
        rtx.next_seq = rtx.next_seq.wrapping_add(1);
        c.sent_padding(now, scratch.len());
        self.bytes_sent += scratch.len() as u64;
        padding as u32
    }

    /// The viewer's sending state once per [`STATS_INTERVAL`] (`None` in between).
    pub fn poll_stats(&mut self, now: Instant) -> Option<ViewerStats> {
        let window = (now, self.bytes_sent, self.video_bytes_sent);
        let (start, bytes, video) = *self.stats_window.get_or_insert(window);
        let elapsed = now.saturating_duration_since(start);
        if elapsed < STATS_INTERVAL {
            return None;
        }
        self.stats_window = Some(window);
        let bps = |b: u64| (b as f64 * 8.0 / elapsed.as_secs_f64()) as u64;
        Some(ViewerStats {
            sending_bps: bps(self.bytes_sent - bytes),
            video_bps: bps(self.video_bytes_sent - video),
            estimate_bps: self.bandwidth_estimate(),
            layer: self.selection.current().filter(|_| !self.relay),
            video_paused: self.selection.paused(),
        })
    }

    /// The bandwidth estimate toward this subscriber (bits/s), when it negotiated
    /// transport-wide congestion control.
    pub fn bandwidth_estimate(&self) -> Option<u64> {
        self.congestion.as_ref().map(|c| c.estimate())
    }

    /// Keeps a request for the packet with the publisher's sequence number `seq`, refused for
    /// budget at `now`, to be sent when the budget allows; false if it cannot be kept.
    pub fn defer_retransmission(&mut self, now: Instant, seq: PacketId) -> bool {
        self.retransmissions
            .get_or_insert_with(Box::default)
            .defer(now, seq)
    }

    /// At a pacing tick: copies the deferred requests to try now into `out` and returns how
    /// many; give back those still refused with [`Self::put_back_retransmissions`].
    pub fn take_due_retransmissions(
        &mut self,
        now: Instant,
        out: &mut [PacketId; PACE_BURST],
    ) -> usize {
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
    pub fn put_back_retransmissions(&mut self, seqs: &[PacketId]) {
        if let Some(log) = self.retransmissions.as_mut() {
            log.put_back(seqs);
        }
    }

    /// When deferred retransmissions are due to be tried, a probe's padding tick, or the
    /// pacer's.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let deferred = self.retransmissions.as_ref().and_then(|r| r.poll_timeout());
        let probe = self.congestion.as_ref().and_then(|c| c.poll_timeout());
        let paced = self.pacer.as_ref().and_then(|p| p.poll_timeout());
        crate::transmit::earliest(crate::transmit::earliest(deferred, probe), paced)
    }

    /// The subscriber's own timers at `now` (a probe whose feedback never came).
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(c) = self.congestion.as_mut() {
            c.handle_timeout(now);
        }
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
        layer: u8,
        info: &SenderInfo,
        out: &mut [u8],
    ) -> Option<usize> {
        let track = self.track_mut(kind, layer)?;
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
