//! The receiving side of a published stream: which packets of a publisher are media (RTX
//! retransmissions unwrapped to the packets they repair) and of which simulcast layer (by
//! announced SSRC, or learnt from the RTP stream id extension), their receive statistics, receiver
//! reports, the NACKs for what went missing ([`NackGenerator`]), the keyframe requests sent
//! to the publisher, and transport-wide congestion feedback when negotiated ([`TwccRecorder`]),
//! or else REMB ([`Remb`]). Before decryption it also says which SRTP packets are worth
//! decrypting at all ([`Publisher::admits`]): those of announced or learnt SSRCs, and new ones
//! only while they name an encoding still to be learnt.

//!
//! Sans-IO: works on decrypted buffers handed in by the worker and writes RTCP into the
//! worker's buffer. Owns no transport state (see `connection`) and no routing (see `worker`).

use std::time::{Duration, Instant};

use bytes::BytesMut;

use crate::api::{
    MediaKind, PeerSpec, TrackSpec, ABS_SEND_TIME_URI, MAX_LAYERS, REPAIRED_RID_URI, RID_URI,
};
use crate::fanout::{SenderInfo, CANONICAL_EXTENSIONS};
use crate::nack::{Arrival, NackGenerator};
use crate::remb::Remb;
use crate::rtcp::{self, ReceiverStats, ReportBlock, TWCC_URI};
use crate::rtp::{self, ExtensionMap, RtpHeader, VideoCodecKind};
use crate::twcc::TwccRecorder;

mod keyframes;
pub use keyframes::{KeyframeRequester, KEYFRAME_REQUEST_INTERVAL, KEYFRAME_REQUEST_RETRIES};

/// Receiver reports go to the publisher this often.
pub const RECEIVER_REPORT_INTERVAL: Duration = Duration::from_secs(1);

/// NACK pairs one request carries at most.
const MAX_NACK_PAIRS: usize = 32;

/// A media packet recognised on a publisher's connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    pub kind: MediaKind,
    /// The simulcast layer (index into the track's layers; 0 without simulcast).
    pub layer: u8,
    /// The packet starts a keyframe.
    pub keyframe: bool,
    /// It was an RTX packet, now unwrapped to the packet it repairs.
    pub unwrapped: bool,
    /// What it meant for loss tracking (a new gap schedules a NACK; a gap too large to
    /// repair calls for a keyframe).
    pub arrival: Arrival,
    /// Missing packets it made us give up on (a gap too large, or older gaps pushed out).
    pub given_up: u64,
}

/// What [`Publisher::write_nack`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NackWrite {
    /// Bytes of NACK RTCP written (0: nothing to send).
    pub len: usize,
    /// Packets they ask for.
    pub requested: u64,
    /// Missing packets given up meanwhile (past their deadline or tries).
    pub given_up: u64,
}

/// Why a decrypted packet of a publisher is not forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PublisherError {
    #[error("malformed RTP header")]
    Malformed,
    #[error("payload type not negotiated (RTX, FEC, RED are not forwarded)")]
    UnknownPayloadType,
    #[error("SSRC differs from the announced ones and names no announced layer")]
    UnknownSsrc,
    #[error("RTX packet without an original sequence number (padding only)")]
    RtxPadding,
    /// Not forwarded: every viewer has it already (publishers probe bandwidth this way).
    #[error("RTX resend of a packet already received")]
    RtxDuplicate,
}

/// One RTP stream of a track: the track itself, or one simulcast layer of it.
struct RxEncoding {
    /// The layer's RTP stream id (empty without one).
    rid: String,
    /// Announced, or learnt from the first packet (or, with a rid, from the first packet
    /// carrying it).
    ssrc: Option<u32>,
    rtx_ssrc: Option<u32>,
    stats: Option<ReceiverStats>,
    /// Loss tracking, when NACK was negotiated for a video track.
    nack: Option<NackGenerator>,
    keyframes: KeyframeRequester,
    /// A keyframe request for this encoding is to be written now.
    pli_due: bool,
}

struct RxTrack {
    kind: MediaKind,
    payload_type: u8,
    codec: Option<VideoCodecKind>,
    extensions: ExtensionMap,
    clock_rate: u32,
    /// The RTX payload type, when negotiated.
    rtx_payload_type: Option<u8>,
    /// The publisher's ids of the RTP stream id and repaired stream id extensions (how the
    /// SSRCs of rid layers are learnt).
    rid_ext: Option<u8>,
    repaired_rid_ext: Option<u8>,
    /// One, or one per simulcast layer (in the offer's order).
    encodings: Vec<RxEncoding>,
}

/// Media state of one publisher connection.
pub struct Publisher {
    tracks: Vec<RxTrack>,
    /// Our SSRC in RTCP we send to the publisher.
    rtcp_ssrc: u32,
    next_report: Instant,
    /// The transport-wide sequence number's extension id and the arrivals, when negotiated.
    twcc: Option<(u8, TwccRecorder)>,
    /// A packet armed the transport-wide feedback timer (see [`Self::take_feedback_armed`]).
    feedback_armed: bool,
    /// Without transport-wide feedback but with REMB negotiated: the abs-send-time
    /// extension's id and the receive-side estimate reported in REMB.
    remb: Option<(u8, Box<Remb>)>,
    /// Video bytes received, and the stats window (start, bytes).
    video_bytes: u64,
    stats_window: Option<(Instant, u64)>,
}

impl Publisher {
    /// State for the tracks negotiated in `spec`; `rtcp_ssrc` is our SSRC in RTCP.
    pub fn new(spec: &PeerSpec, rtcp_ssrc: u32, now: Instant) -> Self {
        let tracks = spec.tracks.iter().map(rx_track).collect();
        Self {
            tracks,
            rtcp_ssrc,
            next_report: now + RECEIVER_REPORT_INTERVAL,
            twcc: spec
                .tracks
                .iter()
                .flat_map(|t| &t.extensions)
                .find(|(_, uri)| uri == TWCC_URI)
                .map(|&(id, _)| (id, TwccRecorder::default())),
            feedback_armed: false,
            remb: spec
                .tracks
                .iter()
                .filter(|t| t.kind == MediaKind::Video && t.remb)
                .flat_map(|t| &t.extensions)
                .find(|(_, uri)| uri == ABS_SEND_TIME_URI)
                .filter(|_| {
                    !spec
                        .tracks
                        .iter()
                        .flat_map(|t| &t.extensions)
                        .any(|(_, u)| u == TWCC_URI)
                })
                .map(|&(id, _)| (id, Box::default())),
            video_bytes: 0,
            stats_window: None,
        }
    }

    /// The video rate received (bits/s) over the last second, once a second (`None` in
    /// between).
    pub fn poll_stats(&mut self, now: Instant) -> Option<u64> {
        let (start, bytes) = *self.stats_window.get_or_insert((now, self.video_bytes));
        let elapsed = now.saturating_duration_since(start);
        if elapsed < RECEIVER_REPORT_INTERVAL {
            return None;
        }
        self.stats_window = Some((now, self.video_bytes));
        Some(((self.video_bytes - bytes) as f64 * 8.0 / elapsed.as_secs_f64()) as u64)
    }

    /// Whether an SRTP packet of the publisher is worth decrypting, from its header (in the
    /// clear): its SSRC is one announced or learnt (media or RTX), or it is new but names, by
    /// payload type and (on a track with layers) its RTP stream id or repaired stream id, an
    /// encoding whose SSRC is still to be learnt. Anything else is never forwarded, and
    /// decrypting it would only make the SRTP context keep state for one more SSRC; so the
    /// SSRCs a publisher can introduce are bounded by its negotiated encodings and their RTX.
    pub fn admits(&self, packet: &[u8]) -> bool {
        let Some(ssrc) = packet.get(8..12) else {
            return false;
        };
        let ssrc = u32::from_be_bytes([ssrc[0], ssrc[1], ssrc[2], ssrc[3]]);
        let encodings = self.tracks.iter().flat_map(|t| &t.encodings);
        if encodings
            .clone()
            .any(|e| e.ssrc == Some(ssrc) || e.rtx_ssrc == Some(ssrc))
        {
            return true;
        }
        let Ok(hdr) = RtpHeader::parse_sealed(packet) else {
            return false;
        };
        let pt = hdr.payload_type();
        if let Some(t) = self.tracks.iter().find(|t| t.payload_type == pt) {
            return learn(&t.encodings, t.rid_ext, packet, &hdr, |e| e.ssrc).is_ok();
        }
        if let Some(t) = self.tracks.iter().find(|t| t.rtx_payload_type == Some(pt)) {
            return learn(&t.encodings, t.repaired_rid_ext, packet, &hdr, |e| {
                e.rtx_ssrc
            })
            .is_ok();
        }
        false
    }

    /// Classifies a decrypted RTP packet (an RTX packet is first unwrapped, in place, to the
    /// packet it repairs), updates statistics and loss tracking, and rewrites its header
    /// extensions in place to the canonical ids shared by all subscribers.
    pub fn on_rtp(
        &mut self,
        now: Instant,
        packet: &mut BytesMut,
    ) -> Result<Received, PublisherError> {
        let mut hdr = RtpHeader::parse(packet).map_err(|_| PublisherError::Malformed)?;
        if let Some((id, arrivals)) = &mut self.twcc {
            // Every packet counts for congestion control, RTX and padding-only probes too:
            // recorded before anything can turn the packet away.
            if let Some(seq) = rtp::read_u16_extension(packet, &hdr, *id) {
                self.feedback_armed |= arrivals.on_packet(now, seq);
            }
        }
        if let Some((id, remb)) = &mut self.remb {
            let stamp = hdr
                .extensions(packet)
                .map_while(Result::ok)
                .find(|(i, _)| i == id);
            if let Some((_, &[a, b, c])) = stamp {
                let before = remb.poll_timeout();
                remb.on_packet(now, u32::from_be_bytes([0, a, b, c]), packet.len());
                self.feedback_armed |= remb.poll_timeout() != before;
            }
        }
        let pt = hdr.payload_type();
        let (index, layer, unwrapped) = match self.tracks.iter().position(|t| t.payload_type == pt)
        {
            Some(i) => {
                let layer = media_encoding(&mut self.tracks[i], packet, &hdr)?;
                (i, layer, false)
            }
            None => {
                let i = self
                    .tracks
                    .iter()
                    .position(|t| t.rtx_payload_type == Some(pt))
                    .ok_or(PublisherError::UnknownPayloadType)?;
                let layer = unwrap_rtx(&mut self.tracks[i], packet, &hdr)?;
                hdr = RtpHeader::parse(packet).map_err(|_| PublisherError::Malformed)?;
                (i, layer, true)
            }
        };
        let track = &mut self.tracks[index];
        if track.kind == MediaKind::Video {
            self.video_bytes += packet.len() as u64;
        }
        let clock_rate = track.clock_rate;
        let enc = &mut track.encodings[layer];
        let (arrival, given_up) = match &mut enc.nack {
            Some(nack) => {
                let before = nack.stats.given_up;
                let arrival = nack.on_packet(now, hdr.sequence());
                (arrival, nack.stats.given_up - before)
            }
            None => (Arrival::InOrder, 0),
        };
        if unwrapped && arrival == Arrival::Old {
            // A resend of what arrived already (libwebrtc pads its bandwidth probes with
            // such resends): forwarded, it would be the publisher's probe sent to every viewer.
            return Err(PublisherError::RtxDuplicate);
        }
        enc.stats
            .get_or_insert_with(|| ReceiverStats::new(hdr.ssrc(), clock_rate))
            .on_packet(hdr.sequence(), hdr.timestamp(), now);
        // Extension ids are local to the publisher's SDP: bring them to the canonical ids.
        let _ = rtp::rewrite_extensions(packet, &hdr, &track.extensions);
        let keyframe = match track.codec {
            Some(codec) => rtp::is_keyframe(codec, hdr.payload(packet)),
            None => false,
        };
        if keyframe {
            enc.keyframes.keyframe_received();
        }
        Ok(Received {
            kind: track.kind,
            layer: layer as u8,
            keyframe,
            unwrapped,
            arrival,
            given_up,
        })
    }

    /// Writes the NACKs due at `now` (one per layer with losses, as one compound) into `out`;
    /// says how long they are, how many packets they ask for and how many were given up.
    pub fn write_nack(&mut self, now: Instant, out: &mut [u8]) -> NackWrite {
        let mut w = NackWrite::default();
        let encodings = self.tracks.iter_mut().flat_map(|t| &mut t.encodings);
        for enc in encodings {
            let (Some(media), Some(nack)) = (enc.ssrc, enc.nack.as_mut()) else {
                continue;
            };
            let before = nack.stats;
            let mut pairs = [(0u16, 0u16); MAX_NACK_PAIRS];
            let n = nack.poll_nack(now, &mut pairs);
            w.given_up += nack.stats.given_up - before.given_up;
            if n == 0 {
                continue;
            }
            let Ok(l) = rtcp::write_nack(&mut out[w.len..], self.rtcp_ssrc, media, &pairs[..n])
            else {
                break;
            };
            w.len += l;
            w.requested += nack.stats.requested - before.requested;
        }
        w
    }

    /// Asks for a keyframe of video layer `layer` (every layer with `None`), merged with the
    /// requests of the last interval; true when a request is to be written now
    /// ([`Self::write_keyframe_request`]).
    pub fn request_keyframe(&mut self, now: Instant, layer: Option<u8>) -> bool {
        let Some(video) = self.tracks.iter_mut().find(|t| t.kind == MediaKind::Video) else {
            return false;
        };
        let mut due = false;
        for (i, enc) in video.encodings.iter_mut().enumerate() {
            if layer.is_none_or(|l| usize::from(l) == i) && enc.keyframes.request(now) {
                enc.pli_due = true;
                due = true;
            }
        }
        due
    }

    /// The keyframe timers at `now`: a merged request whose interval ended, an unanswered one
    /// to repeat, or a layer whose loss could not be repaired. True when a request is to be
    /// written now.
    pub fn handle_keyframe_timers(&mut self, now: Instant) -> bool {
        let mut due = false;
        let encodings = self.tracks.iter_mut().flat_map(|t| &mut t.encodings);
        for enc in encodings {
            // A gap given up: only a keyframe repairs the picture.
            let gave_up = enc.nack.as_mut().is_some_and(|n| n.take_gave_up());
            if (gave_up && enc.keyframes.request(now)) | enc.keyframes.handle_timeout(now) {
                enc.pli_due = true;
                due = true;
            }
        }
        due
    }

    /// A sender report from the publisher: returns the track and layer it describes.
    pub fn on_sender_report(
        &mut self,
        now: Instant,
        ssrc: u32,
        info: SenderInfo,
    ) -> Option<(MediaKind, u8)> {
        self.tracks.iter_mut().find_map(|t| {
            let kind = t.kind;
            let (layer, enc) = t
                .encodings
                .iter_mut()
                .enumerate()
                .find(|(_, e)| e.ssrc == Some(ssrc))?;
            if let Some(stats) = enc.stats.as_mut() {
                stats.on_sender_report(info.ntp, now);
            }
            Some((kind, layer as u8))
        })
    }

    /// Writes a PLI for each video layer whose request is due (as one compound) into `out`;
    /// `None` if none is (or no SSRC is known yet).
    pub fn write_keyframe_request(&mut self, out: &mut [u8]) -> Option<usize> {
        let video = self
            .tracks
            .iter_mut()
            .find(|t| t.kind == MediaKind::Video)?;
        let mut len = 0;
        for enc in &mut video.encodings {
            if !std::mem::take(&mut enc.pli_due) {
                continue;
            }
            let Some(media) = enc.ssrc else {
                continue;
            };
            let _ = enc.keyframes.next_fir_seq();
            match rtcp::write_pli(&mut out[len..], self.rtcp_ssrc, media) {
                Ok(l) => len += l,
                Err(_) => break,
            }
        }
        (len > 0).then_some(len)
    }

    /// Whether packets since the last call armed the transport-wide feedback timer (the owner
    /// then re-reads [`Self::poll_timeout`]).
    pub fn take_feedback_armed(&mut self) -> bool {
        std::mem::take(&mut self.feedback_armed)
    }

    /// Writes the transport-wide feedback due at `now` into `out`; call again while it
    /// returns `Some` (a long stretch takes several messages).
    pub fn write_transport_feedback(&mut self, now: Instant, out: &mut [u8]) -> Option<usize> {
        let (_, arrivals) = self.twcc.as_mut()?;
        let media = self
            .tracks
            .iter()
            .filter_map(|t| Some((t.kind, t.encodings.iter().find_map(|e| e.ssrc)?)))
            .max_by_key(|(kind, _)| *kind == MediaKind::Video)
            .map_or(0, |(_, ssrc)| ssrc);
        arrivals.write_feedback(now, self.rtcp_ssrc, media, out)
    }

    /// Writes the REMB due at `now` into `out` (about every video SSRC known), if REMB was
    /// negotiated and one is due.
    pub fn write_remb(&mut self, now: Instant, out: &mut [u8]) -> Option<usize> {
        let (_, remb) = self.remb.as_mut()?;
        let mut ssrcs = [0u32; MAX_LAYERS];
        let mut n = 0;
        let video = self.tracks.iter().filter(|t| t.kind == MediaKind::Video);
        for ssrc in video.flat_map(|t| &t.encodings).filter_map(|e| e.ssrc) {
            if n < ssrcs.len() {
                ssrcs[n] = ssrc;
                n += 1;
            }
        }
        remb.write(now, self.rtcp_ssrc, &ssrcs[..n], out)
    }

    /// When the next receiver report, merged keyframe request, NACK, transport-wide
    /// feedback or REMB is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let twcc = self.twcc.as_ref().and_then(|(_, a)| a.poll_timeout());
        let remb = self.remb.as_ref().and_then(|(_, r)| r.poll_timeout());
        let twcc = crate::transmit::earliest(twcc, remb);
        let encodings = self.tracks.iter().flat_map(|t| &t.encodings);
        let timers = encodings
            .flat_map(|e| {
                [
                    e.keyframes.poll_timeout(),
                    e.nack.as_ref().and_then(NackGenerator::poll_timeout),
                ]
            })
            .flatten()
            .min();
        let next = crate::transmit::earliest(twcc, timers);
        Some(next.map_or(self.next_report, |k| k.min(self.next_report)))
    }

    /// Writes a receiver report into `out` if one is due at `now`.
    pub fn write_receiver_report(&mut self, now: Instant, out: &mut [u8]) -> Option<usize> {
        if now < self.next_report {
            return None;
        }
        self.next_report = now + RECEIVER_REPORT_INTERVAL;
        let mut blocks = [ReportBlock::default(); 1 + MAX_LAYERS];
        let mut n = 0;
        let encodings = self.tracks.iter_mut().flat_map(|t| &mut t.encodings);
        for stats in encodings.filter_map(|e| e.stats.as_mut()) {
            if n < blocks.len() {
                blocks[n] = stats.report_block(now);
                n += 1;
            }
        }
        if n == 0 {
            return None;
        }
        rtcp::write_receiver_report(out, self.rtcp_ssrc, &blocks[..n]).ok()
    }
}

fn rx_track(t: &TrackSpec) -> RxTrack {
    let from: Vec<(u8, &str)> = t
        .extensions
        .iter()
        .map(|(id, u)| (*id, u.as_str()))
        .collect();
    let ext_id = |uri: &str| {
        t.extensions
            .iter()
            .find(|(_, u)| u == uri)
            .map(|(id, _)| *id)
    };
    let nack = t.nack && t.kind == MediaKind::Video;
    let encoding = |rid: &str, ssrc, rtx_ssrc| RxEncoding {
        rid: rid.to_owned(),
        ssrc,
        rtx_ssrc,
        stats: None,
        nack: nack.then(NackGenerator::new),
        keyframes: KeyframeRequester::default(),
        pli_due: false,
    };
    let encodings = if t.layers.is_empty() || t.kind != MediaKind::Video {
        vec![encoding("", t.ssrc, t.rtx.and_then(|r| r.ssrc))]
    } else {
        t.layers
            .iter()
            .take(MAX_LAYERS)
            .map(|l| encoding(&l.rid, l.ssrc, l.rtx_ssrc))
            .collect()
    };
    RxTrack {
        kind: t.kind,
        payload_type: t.payload_type,
        codec: video_codec(t),
        extensions: ExtensionMap::new(&from, CANONICAL_EXTENSIONS),
        clock_rate: t.clock_rate,
        rtx_payload_type: t.rtx.map(|r| r.payload_type),
        rid_ext: ext_id(RID_URI),
        repaired_rid_ext: ext_id(REPAIRED_RID_URI),
        encodings,
    }
}

/// The encoding of `track` a media packet with header `hdr` belongs to: by SSRC, else by the
/// RTP stream id it carries (learning the layer's SSRC), else — a track without layers whose
/// SSRC was not announced — the first SSRC seen.
fn media_encoding(
    track: &mut RxTrack,
    packet: &[u8],
    hdr: &RtpHeader,
) -> Result<usize, PublisherError> {
    let ssrc = hdr.ssrc();
    if let Some(i) = track.encodings.iter().position(|e| e.ssrc == Some(ssrc)) {
        return Ok(i);
    }
    let i = learn(&track.encodings, track.rid_ext, packet, hdr, |e| e.ssrc)?;
    track.encodings[i].ssrc = Some(ssrc);
    Ok(i)
}

/// Which encoding with an unknown SSRC (per `known`) a packet with a new SSRC is for: the
/// only one, or the one whose rid the packet carries in extension `rid_ext`.
fn learn(
    encodings: &[RxEncoding],
    rid_ext: Option<u8>,
    packet: &[u8],
    hdr: &RtpHeader,
    known: impl Fn(&RxEncoding) -> Option<u32>,
) -> Result<usize, PublisherError> {
    if let [only] = encodings {
        return match known(only) {
            None if only.rid.is_empty() => Ok(0),
            _ => Err(PublisherError::UnknownSsrc),
        };
    }
    let id = rid_ext.ok_or(PublisherError::UnknownSsrc)?;
    let rid = hdr
        .extensions(packet)
        .map_while(Result::ok)
        .find(|(i, _)| *i == id)
        .map(|(_, d)| d)
        .ok_or(PublisherError::UnknownSsrc)?;
    encodings
        .iter()
        .position(|e| known(e).is_none() && !e.rid.is_empty() && e.rid.as_bytes() == rid)
        .ok_or(PublisherError::UnknownSsrc)
}

/// Turns an RTX packet (RFC 4588 §4) of `track` in `packet` back into the packet it repairs,
/// in place: the original sequence number from the first two payload bytes, the track's
/// payload type and the SSRC of the encoding it repairs, padding dropped. Returns the encoding.
fn unwrap_rtx(
    track: &mut RxTrack,
    packet: &mut BytesMut,
    hdr: &RtpHeader,
) -> Result<usize, PublisherError> {
    let ssrc = hdr.ssrc();
    let layer = match track
        .encodings
        .iter()
        .position(|e| e.rtx_ssrc == Some(ssrc))
    {
        Some(i) => i,
        None => {
            let i = learn(&track.encodings, track.repaired_rid_ext, packet, hdr, |e| {
                e.rtx_ssrc
            })?;
            track.encodings[i].rtx_ssrc = Some(ssrc);
            i
        }
    };
    let media_ssrc = track.encodings[layer]
        .ssrc
        .ok_or(PublisherError::UnknownSsrc)?;
    let payload = hdr.payload_range();
    if payload.len() < 2 {
        // Padding-only RTX: bandwidth probing, nothing to repair.
        return Err(PublisherError::RtxPadding);
    }
    let osn = u16::from_be_bytes([packet[payload.start], packet[payload.start + 1]]);
    packet.copy_within(payload.start + 2..payload.end, payload.start);
    packet.truncate(payload.end - 2);
    packet[0] &= !0x20; // no padding
    let mut hdr = *hdr;
    hdr.set_payload_type(packet, track.payload_type);
    hdr.set_ssrc(packet, media_ssrc);
    hdr.set_sequence(packet, osn);
    Ok(layer)
}

/// The keyframe-detection codec of a video track.
pub fn video_codec(t: &TrackSpec) -> Option<VideoCodecKind> {
    if t.kind != MediaKind::Video {
        return None;
    }
    match t.codec.to_ascii_uppercase().as_str() {
        "H264" => Some(VideoCodecKind::H264),
        "VP8" => Some(VideoCodecKind::Vp8),
        "VP9" => Some(VideoCodecKind::Vp9),
        "AV1" | "AV1X" => Some(VideoCodecKind::Av1),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
