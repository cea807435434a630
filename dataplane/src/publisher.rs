//! The receiving side of a published stream: which packets of a publisher are media (RTX
//! retransmissions unwrapped to the packets they repair), their receive statistics, receiver
//! reports, the NACKs for what went missing ([`NackGenerator`]), the keyframe requests sent
//! to the publisher, and transport-wide congestion feedback when negotiated ([`TwccRecorder`]).

//!
//! Sans-IO: works on decrypted buffers handed in by the worker and writes RTCP into the
//! worker's buffer. Owns no transport state (see `connection`) and no routing (see `worker`).

use std::time::{Duration, Instant};

use bytes::BytesMut;

use crate::api::{MediaKind, PeerSpec, TrackSpec};
use crate::fanout::{SenderInfo, CANONICAL_EXTENSIONS};
use crate::nack::{Arrival, NackGenerator};
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
    /// The packet starts a keyframe.
    pub keyframe: bool,
    /// It was an RTX packet, now unwrapped to the packet it repairs.
    pub unwrapped: bool,
    /// What it meant for loss tracking (a new gap schedules a NACK; a gap too large to
    /// repair calls for a keyframe).
    pub arrival: Arrival,
}

/// Why a decrypted packet of a publisher is not forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PublisherError {
    #[error("malformed RTP header")]
    Malformed,
    #[error("payload type not negotiated (RTX, FEC, RED are not forwarded)")]
    UnknownPayloadType,
    #[error("SSRC differs from the announced one")]
    UnknownSsrc,
    #[error("RTX packet without an original sequence number (padding only)")]
    RtxPadding,
}

struct RxTrack {
    kind: MediaKind,
    payload_type: u8,
    ssrc: Option<u32>,
    codec: Option<VideoCodecKind>,
    extensions: ExtensionMap,
    stats: Option<ReceiverStats>,
    clock_rate: u32,
    /// Loss tracking, when NACK was negotiated for a video track.
    nack: Option<NackGenerator>,
    /// The RTX payload type and (announced or learnt) SSRC.
    rtx: Option<(u8, Option<u32>)>,
}

/// Media state of one publisher connection.
pub struct Publisher {
    tracks: Vec<RxTrack>,
    /// Our SSRC in RTCP we send to the publisher.
    rtcp_ssrc: u32,
    pub keyframes: KeyframeRequester,
    next_report: Instant,
    /// The transport-wide sequence number's extension id and the arrivals, when negotiated.
    twcc: Option<(u8, TwccRecorder)>,
    /// A packet armed the transport-wide feedback timer (see [`Self::take_feedback_armed`]).
    feedback_armed: bool,
}

impl Publisher {
    /// State for the tracks negotiated in `spec`; `rtcp_ssrc` is our SSRC in RTCP.
    pub fn new(spec: &PeerSpec, rtcp_ssrc: u32, now: Instant) -> Self {
        let tracks = spec.tracks.iter().map(rx_track).collect();
        Self {
            tracks,
            rtcp_ssrc,
            keyframes: KeyframeRequester::default(),
            next_report: now + RECEIVER_REPORT_INTERVAL,
            twcc: spec
                .tracks
                .iter()
                .flat_map(|t| &t.extensions)
                .find(|(_, uri)| uri == TWCC_URI)
                .map(|&(id, _)| (id, TwccRecorder::default())),
            feedback_armed: false,
        }
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
        let pt = hdr.payload_type();
        let (index, unwrapped) = match self.tracks.iter().position(|t| t.payload_type == pt) {
            Some(i) => (i, false),
            None => {
                let i = self
                    .tracks
                    .iter()
                    .position(|t| t.rtx.is_some_and(|(rtx_pt, _)| rtx_pt == pt))
                    .ok_or(PublisherError::UnknownPayloadType)?;
                unwrap_rtx(&mut self.tracks[i], packet, &hdr)?;
                hdr = RtpHeader::parse(packet).map_err(|_| PublisherError::Malformed)?;
                (i, true)
            }
        };
        let track = &mut self.tracks[index];
        let ssrc = hdr.ssrc();
        match track.ssrc {
            Some(s) if s != ssrc => return Err(PublisherError::UnknownSsrc),
            Some(_) => {}
            None => track.ssrc = Some(ssrc),
        }
        track
            .stats
            .get_or_insert_with(|| ReceiverStats::new(ssrc, track.clock_rate))
            .on_packet(hdr.sequence(), hdr.timestamp(), now);
        let arrival = match &mut track.nack {
            Some(nack) => nack.on_packet(now, hdr.sequence()),
            None => Arrival::InOrder,
        };
        // Extension ids are local to the publisher's SDP: bring them to the canonical ids.
        let _ = rtp::rewrite_extensions(packet, &hdr, &track.extensions);
        let keyframe = match track.codec {
            Some(codec) => rtp::is_keyframe(codec, hdr.payload(packet)),
            None => false,
        };
        if keyframe {
            self.keyframes.keyframe_received();
        }
        Ok(Received {
            kind: track.kind,
            keyframe,
            unwrapped,
            arrival,
        })
    }

    /// Writes a NACK for what is due to be asked for at `now` into `out`; returns its length
    /// and how many packets it asks for.
    pub fn write_nack(&mut self, now: Instant, out: &mut [u8]) -> Option<(usize, u64)> {
        let track = self.tracks.iter_mut().find(|t| t.nack.is_some())?;
        let media = track.ssrc?;
        let nack = track.nack.as_mut()?;
        let before = nack.stats.requested;
        let mut pairs = [(0u16, 0u16); MAX_NACK_PAIRS];
        let n = nack.poll_nack(now, &mut pairs);
        if n == 0 {
            return None;
        }
        let requested = nack.stats.requested - before;
        let len = rtcp::write_nack(out, self.rtcp_ssrc, media, &pairs[..n]).ok()?;
        Some((len, requested))
    }

    /// Whether a missing packet was given up since the last call: the picture cannot be
    /// repaired, ask for a keyframe.
    pub fn take_unrepairable(&mut self) -> bool {
        let mut any = false;
        for nack in self.tracks.iter_mut().filter_map(|t| t.nack.as_mut()) {
            any |= nack.take_gave_up();
        }
        any
    }

    /// A sender report from the publisher: returns the track it describes and its sender info.
    pub fn on_sender_report(
        &mut self,
        now: Instant,
        ssrc: u32,
        info: SenderInfo,
    ) -> Option<MediaKind> {
        let track = self.tracks.iter_mut().find(|t| t.ssrc == Some(ssrc))?;
        if let Some(stats) = track.stats.as_mut() {
            stats.on_sender_report(info.ntp, now);
        }
        Some(track.kind)
    }

    /// Writes a PLI for the publisher's video into `out` (None if no video SSRC is known).
    pub fn write_keyframe_request(&mut self, out: &mut [u8]) -> Option<usize> {
        let media = self
            .tracks
            .iter()
            .find(|t| t.kind == MediaKind::Video)?
            .ssrc?;
        let _ = self.keyframes.next_fir_seq();
        rtcp::write_pli(out, self.rtcp_ssrc, media).ok()
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
            .filter_map(|t| Some((t.kind, t.ssrc?)))
            .max_by_key(|(kind, _)| *kind == MediaKind::Video)
            .map_or(0, |(_, ssrc)| ssrc);
        arrivals.write_feedback(now, self.rtcp_ssrc, media, out)
    }

    /// When the next receiver report, merged keyframe request, NACK or transport-wide
    /// feedback is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let kf = self.keyframes.poll_timeout();
        let kf =
            crate::transmit::earliest(kf, self.twcc.as_ref().and_then(|(_, a)| a.poll_timeout()));
        let nack = self
            .tracks
            .iter()
            .filter_map(|t| t.nack.as_ref()?.poll_timeout())
            .min();
        let next = crate::transmit::earliest(kf, nack);
        Some(next.map_or(self.next_report, |k| k.min(self.next_report)))
    }

    /// Writes a receiver report into `out` if one is due at `now`.
    pub fn write_receiver_report(&mut self, now: Instant, out: &mut [u8]) -> Option<usize> {
        if now < self.next_report {
            return None;
        }
        self.next_report = now + RECEIVER_REPORT_INTERVAL;
        let mut blocks = [ReportBlock::default(); 2];
        let mut n = 0;
        for t in &mut self.tracks {
            if let Some(stats) = t.stats.as_mut() {
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
    RxTrack {
        kind: t.kind,
        payload_type: t.payload_type,
        ssrc: t.ssrc,
        codec: video_codec(t),
        extensions: ExtensionMap::new(&from, CANONICAL_EXTENSIONS),
        stats: None,
        clock_rate: t.clock_rate,
        nack: (t.nack && t.kind == MediaKind::Video).then(NackGenerator::new),
        rtx: t.rtx.map(|r| (r.payload_type, r.ssrc)),
    }
}

/// Turns an RTX packet (RFC 4588 §4) of `track` in `packet` back into the packet it repairs,
/// in place: the original sequence number from the first two payload bytes, the track's
/// payload type and SSRC, padding dropped.
fn unwrap_rtx(
    track: &mut RxTrack,
    packet: &mut BytesMut,
    hdr: &RtpHeader,
) -> Result<(), PublisherError> {
    let (_, rtx_ssrc) = track
        .rtx
        .as_mut()
        .ok_or(PublisherError::UnknownPayloadType)?;
    match *rtx_ssrc {
        Some(s) if s != hdr.ssrc() => return Err(PublisherError::UnknownSsrc),
        Some(_) => {}
        None => *rtx_ssrc = Some(hdr.ssrc()),
    }
    let media_ssrc = track.ssrc.ok_or(PublisherError::UnknownSsrc)?;
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
    Ok(())
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
