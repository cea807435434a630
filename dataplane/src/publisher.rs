//! The receiving side of a published stream: which packets of a publisher are media, their
//! receive statistics, receiver reports, and the keyframe requests sent to the publisher.
//!
//! Sans-IO: works on decrypted buffers handed in by the worker and writes RTCP into the
//! worker's buffer. Owns no transport state (see `connection`) and no routing (see `worker`).

use std::time::{Duration, Instant};

use crate::api::{MediaKind, PeerSpec, TrackSpec};
use crate::fanout::{SenderInfo, CANONICAL_EXTENSIONS};
use crate::rtcp::{self, ReceiverStats, ReportBlock};
use crate::rtp::{self, ExtensionMap, RtpHeader, VideoCodecKind};

/// Keyframe requests to one publisher are sent at most this often (requests in between are
/// merged into one sent when the interval ends).
pub const KEYFRAME_REQUEST_INTERVAL: Duration = Duration::from_secs(1);

/// Receiver reports go to the publisher this often.
pub const RECEIVER_REPORT_INTERVAL: Duration = Duration::from_secs(1);

/// A media packet recognised on a publisher's connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    pub kind: MediaKind,
    /// The packet starts a keyframe.
    pub keyframe: bool,
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
}

struct RxTrack {
    kind: MediaKind,
    payload_type: u8,
    ssrc: Option<u32>,
    codec: Option<VideoCodecKind>,
    extensions: ExtensionMap,
    stats: Option<ReceiverStats>,
    clock_rate: u32,
}

/// Merges keyframe requests so that the publisher sees at most one per interval.
#[derive(Debug, Default)]
pub struct KeyframeRequester {
    last_sent: Option<Instant>,
    pending: bool,
    fir_seq: u8,
}

impl KeyframeRequester {
    /// Records a request; returns true if a PLI should be sent now.
    pub fn request(&mut self, now: Instant) -> bool {
        match self.last_sent {
            Some(t) if now < t + KEYFRAME_REQUEST_INTERVAL => {
                self.pending = true;
                false
            }
            _ => {
                self.last_sent = Some(now);
                self.pending = false;
                true
            }
        }
    }

    /// When a merged request becomes due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.pending, self.last_sent) {
            (true, Some(t)) => Some(t + KEYFRAME_REQUEST_INTERVAL),
            _ => None,
        }
    }

    /// Returns true if a merged request is due at `now` (and marks it sent).
    pub fn handle_timeout(&mut self, now: Instant) -> bool {
        match self.poll_timeout() {
            Some(t) if now >= t => {
                self.pending = false;
                self.last_sent = Some(now);
                true
            }
            _ => false,
        }
    }

    fn next_fir_seq(&mut self) -> u8 {
        self.fir_seq = self.fir_seq.wrapping_add(1);
        self.fir_seq
    }
}

/// Media state of one publisher connection.
pub struct Publisher {
    tracks: Vec<RxTrack>,
    /// Our SSRC in RTCP we send to the publisher.
    rtcp_ssrc: u32,
    pub keyframes: KeyframeRequester,
    next_report: Instant,
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
        }
    }

    /// Classifies a decrypted RTP packet, updates statistics and rewrites its header
    /// extensions in place to the canonical ids shared by all subscribers.
    pub fn on_rtp(&mut self, now: Instant, packet: &mut [u8]) -> Result<Received, PublisherError> {
        let hdr = RtpHeader::parse(packet).map_err(|_| PublisherError::Malformed)?;
        let pt = hdr.payload_type();
        let track = self
            .tracks
            .iter_mut()
            .find(|t| t.payload_type == pt)
            .ok_or(PublisherError::UnknownPayloadType)?;
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
        // Extension ids are local to the publisher's SDP: bring them to the canonical ids.
        let _ = rtp::rewrite_extensions(packet, &hdr, &track.extensions);
        let keyframe = match track.codec {
            Some(codec) => rtp::is_keyframe(codec, hdr.payload(packet)),
            None => false,
        };
        Ok(Received {
            kind: track.kind,
            keyframe,
        })
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

    /// When the next receiver report or merged keyframe request is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let kf = self.keyframes.poll_timeout();
        Some(kf.map_or(self.next_report, |k| k.min(self.next_report)))
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
    }
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
mod tests {
    use super::*;

    #[test]
    fn keyframe_requests_are_merged_per_interval() {
        let t0 = Instant::now();
        let mut k = KeyframeRequester::default();
        assert!(k.request(t0));
        assert_eq!(k.poll_timeout(), None);
        assert!(!k.request(t0 + Duration::from_millis(100)));
        assert!(!k.request(t0 + Duration::from_millis(200)));
        assert_eq!(k.poll_timeout(), Some(t0 + KEYFRAME_REQUEST_INTERVAL));
        assert!(!k.handle_timeout(t0 + Duration::from_millis(999)));
        assert!(k.handle_timeout(t0 + KEYFRAME_REQUEST_INTERVAL));
        assert_eq!(k.poll_timeout(), None);
        // The next request inside the new interval waits again.
        assert!(!k.request(t0 + Duration::from_millis(1500)));
        assert!(k.request(t0 + Duration::from_millis(2001)));
    }
}
