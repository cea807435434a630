//! SDP for WebRTC offer/answer as the Flashphoner Web SDK and Chrome speak it.
//!
//! Owns a tolerant, size-limited SDP parser ([`parse_offer`], [`parse_answer`]), the answerer
//! side of publish and play ([`answer_publish`], [`answer_play`]) and the offerer side for our
//! own clients ([`build_offer`]). It produces the [`TrackSpec`]s and ICE/DTLS parameters the data
//! plane needs, but it must not touch sockets, the clock, stream registries or the data plane:
//! callers pass in everything (local transport, codec preferences, what a publisher sends).
//!
//! Not on the per-packet path: clarity wins over speed, but every input is bounded
//! ([`MAX_SDP_LEN`], [`MAX_LINE_LEN`], [`MAX_SECTIONS`]) and malformed input is a typed error.

mod answer;
mod codec;
mod offer;
mod parse;
mod write;

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_client;

use std::net::SocketAddr;

use dataplane::api::{Fingerprint, TrackSpec};

pub use answer::{answer_play, answer_publish};
pub use offer::{build_offer, parse_answer, Answer, AnswerTrack, OfferSpec, OfferTrack};
pub use parse::{parse_offer, Candidate, Codec, Direction, Extmap, MediaSection, Offer};
pub use write::candidate_lines;

/// Largest SDP accepted, in bytes.
pub const MAX_SDP_LEN: usize = 64 * 1024;
/// Longest line accepted, in bytes (without the line ending).
pub const MAX_LINE_LEN: usize = 4 * 1024;
/// Most m-sections accepted in one SDP.
pub const MAX_SECTIONS: usize = 32;

/// Our side of the transport: what goes into every answer (or offer) we write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalTransport {
    /// Our ICE username fragment.
    pub ufrag: String,
    /// Our ICE password.
    pub pwd: String,
    /// The SHA-256 fingerprint of our DTLS certificate.
    pub fingerprint: Fingerprint,
    /// The host candidate: the worker's UDP address.
    pub candidate: SocketAddr,
}

/// What a publisher sends, kept by the stream so players can be matched against it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PublishedMedia {
    /// The audio codec, if audio was accepted.
    pub audio: Option<NegotiatedCodec>,
    /// The video codec, if video was accepted.
    pub video: Option<NegotiatedCodec>,
}

/// One negotiated codec of one m-section, as seen on the wire of one peer.
#[derive(Clone, Debug, PartialEq)]
pub struct NegotiatedCodec {
    /// The rtpmap encoding name as the peer wrote it: `opus`, `H264`, `VP8`, `VP9`, `AV1`.
    pub name: String,
    /// The payload type this peer uses.
    pub payload_type: u8,
    /// RTP clock rate.
    pub clock_rate: u32,
    /// Audio channels from the rtpmap (`Some(2)` for Opus).
    pub channels: Option<u8>,
    /// The `a=fmtp` parameters, if any.
    pub fmtp: Option<String>,
    /// Negotiated header extensions of this m-section: `(id, uri)`.
    pub extensions: Vec<(u8, String)>,
}

/// The result of answering an offer.
#[derive(Clone, Debug)]
pub struct Negotiated {
    /// The SDP answer to send back.
    pub answer: String,
    /// One per accepted kind, for `dataplane::api::PeerSpec`.
    pub tracks: Vec<TrackSpec>,
    /// The peer's ICE username fragment.
    pub remote_ufrag: String,
    /// The peer's ICE password.
    pub remote_pwd: String,
    /// The peer's DTLS certificate fingerprint.
    pub remote_fingerprint: Fingerprint,
    /// Publish: what the publisher sends. Play: what this player gets (its PTs and ids).
    pub media: PublishedMedia,
}

/// Why an SDP could not be parsed or answered.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    /// No audio or video m-section.
    #[error("no audio or video media section")]
    NoMedia,
    /// No `a=fingerprint` at session or media level.
    #[error("no DTLS fingerprint")]
    NoFingerprint,
    /// Only fingerprints with a hash other than sha-256.
    #[error("unsupported fingerprint hash (sha-256 required)")]
    UnsupportedFingerprint,
    /// No `a=ice-ufrag` / `a=ice-pwd`.
    #[error("no ICE credentials")]
    NoIceCredentials,
    /// Neither audio nor video could be accepted.
    #[error("no common codecs")]
    NoCommonCodecs,
    /// More than one m-section would be accepted but the offer has no BUNDLE group.
    #[error("BUNDLE required")]
    NotBundled,
    /// The SDP is larger than [`MAX_SDP_LEN`].
    #[error("SDP too large")]
    TooLarge,
    /// More than [`MAX_SECTIONS`] m-sections.
    #[error("too many media sections")]
    TooManySections,
    /// A line longer than [`MAX_LINE_LEN`].
    #[error("line {line} too long")]
    LineTooLong {
        /// 1-based line number.
        line: usize,
    },
    /// A line we need could not be understood.
    #[error("line {line}: {reason}")]
    Malformed {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl SdpError {
    /// The WCS `info` text for a stream that failed with this error.
    pub fn wcs_info(&self) -> String {
        match self {
            SdpError::NoCommonCodecs => "No common codecs".to_owned(),
            other => format!("Invalid SDP: {other}"),
        }
    }
}
