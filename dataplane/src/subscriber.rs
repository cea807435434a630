//! The sending side of one subscription: rewrites shared packets to what this subscriber
//! negotiated (payload type, SSRC, header-extension ids) and holds back video until a
//! keyframe so a new viewer starts with a decodable picture.
//!
//! Sans-IO: writes into the worker's scratch buffer; encryption and sending are the worker's.

use crate::api::{MediaKind, PeerSpec, TrackSpec};
use crate::fanout::{SenderInfo, CANONICAL_EXTENSIONS};
use crate::rtcp;
use crate::rtp::{self, ExtensionMap, RtpHeader};

struct TxTrack {
    kind: MediaKind,
    payload_type: u8,
    ssrc: u32,
    extensions: ExtensionMap,
    /// Video waits for a keyframe before the first packet is sent.
    waiting_keyframe: bool,
}

/// Media state of one subscriber connection.
pub struct Subscriber {
    /// The audio and the video track (`slot`), inline: a fan-out visits every subscriber per
    /// packet, and a pointer to a separate allocation would cost a cache miss each time.
    tracks: [Option<TxTrack>; 2],
    /// Packets forwarded and dropped (not negotiated, waiting for a keyframe), for stats.
    pub forwarded: u64,
    pub held_back: u64,
}

impl Subscriber {
    /// State for the tracks negotiated in `spec` (their SSRCs were chosen by the answer).
    pub fn new(spec: &PeerSpec) -> Self {
        let mut tracks = [None, None];
        for track in spec.tracks.iter().filter_map(tx_track) {
            // The first track of each kind (a WCS stream has one of each).
            tracks[slot(track.kind)].get_or_insert(track);
        }
        Self {
            tracks,
            forwarded: 0,
            held_back: 0,
        }
    }

    /// True if this subscriber still waits for a video keyframe.
    pub fn wants_keyframe(&self) -> bool {
        self.tracks.iter().flatten().any(|t| t.waiting_keyframe)
    }

    /// Copies `packet` (a shared, decrypted packet in canonical form) into `scratch` rewritten
    /// for this subscriber. Returns false when the packet is not for this subscriber.
    pub fn prepare_rtp(
        &mut self,
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
        hdr.set_payload_type(scratch, track.payload_type);
        hdr.set_ssrc(scratch, track.ssrc);
        if rtp::rewrite_extensions(scratch, &hdr, &track.extensions).is_err() {
            return false;
        }
        self.forwarded += 1;
        true
    }

    /// Writes the publisher's sender report for `kind` under this subscriber's SSRC.
    pub fn write_sender_report(
        &self,
        kind: MediaKind,
        info: &SenderInfo,
        out: &mut [u8],
    ) -> Option<usize> {
        let track = self.tracks[slot(kind)].as_ref()?;
        rtcp::write_sender_report(
            out,
            track.ssrc,
            info.ntp,
            info.rtp_timestamp,
            info.packet_count,
            info.octet_count,
        )
        .ok()
    }
}

/// The index of `kind` in [`Subscriber::tracks`].
fn slot(kind: MediaKind) -> usize {
    match kind {
        MediaKind::Audio => 0,
        MediaKind::Video => 1,
    }
}

fn tx_track(t: &TrackSpec) -> Option<TxTrack> {
    let to: Vec<(u8, &str)> = t
        .extensions
        .iter()
        .map(|(id, u)| (*id, u.as_str()))
        .collect();
    Some(TxTrack {
        kind: t.kind,
        payload_type: t.payload_type,
        ssrc: t.ssrc?,
        extensions: ExtensionMap::new(CANONICAL_EXTENSIONS, &to),
        waiting_keyframe: t.kind == MediaKind::Video,
    })
}
