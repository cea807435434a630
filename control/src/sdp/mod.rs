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
mod error;
mod grammar;
mod offer;
mod parse;
mod types;
mod write;

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_client;
#[cfg(test)]
mod tests_crate;

pub use answer::{answer_play, answer_publish};
pub use error::{SdpError, MAX_LINE_LEN, MAX_SDP_LEN, MAX_SECTIONS};
pub use offer::{build_offer, parse_answer, Answer, AnswerTrack, OfferSpec, OfferTrack};
pub use parse::parse_offer;
pub use types::{
    Candidate, Codec, Direction, Extmap, LocalTransport, MediaSection, Negotiated, NegotiatedCodec,
    Offer, PublishedMedia,
};
pub use write::candidate_lines;
