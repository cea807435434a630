//! The vocabulary shared by the parser, the codec rules, the writer and the answerer: the typed
//! view of an SDP (sections, codecs, extensions, candidates) and what negotiation produces. A
//! leaf besides [`super::error`]: it must not import the parser, writer or negotiation modules.

use std::net::{IpAddr, SocketAddr};

use dataplane::api::{Fingerprint, LayerSpec, MediaKind, TrackSpec};

use super::error::SdpError;

/// Media direction attribute of an m-section (`a=sendrecv` when absent).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Direction {
    /// `a=sendrecv`
    #[default]
    SendRecv,
    /// `a=sendonly`
    SendOnly,
    /// `a=recvonly`
    RecvOnly,
    /// `a=inactive`
    Inactive,
}

impl Direction {
    /// The attribute name, e.g. `sendonly`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// Whether the writer of the SDP sends media in this direction.
    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    /// Whether the writer of the SDP receives media in this direction.
    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }

    pub(super) fn from_attr(name: &str) -> Option<Self> {
        Some(match name {
            "sendrecv" => Direction::SendRecv,
            "sendonly" => Direction::SendOnly,
            "recvonly" => Direction::RecvOnly,
            "inactive" => Direction::Inactive,
            _ => return None,
        })
    }
}

/// One payload type of an m-section: its rtpmap, fmtp and rtcp-fb lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Codec {
    /// The payload type.
    pub payload_type: u8,
    /// The encoding name as written (`opus`, `VP8`, `rtx`, ...).
    pub name: String,
    /// RTP clock rate.
    pub clock_rate: u32,
    /// Channels from the rtpmap, if given.
    pub channels: Option<u8>,
    /// The `a=fmtp` parameters (duplicate lines merged, first value of a key wins).
    pub fmtp: Option<String>,
    /// `a=rtcp-fb` values for this PT (and `*`), e.g. `nack`, `nack pli`, `ccm fir`.
    pub rtcp_fb: Vec<String>,
}

/// An `a=extmap` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Extmap {
    /// The extension id.
    pub id: u8,
    /// The extension URI.
    pub uri: String,
}

/// An `a=rid:<id> send` line (RFC 8851): a simulcast encoding the offerer may send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RidLine {
    /// The rid id.
    pub id: String,
    /// The `pt=` restriction: the only payload types the encoding may use (`None`: any).
    pub payload_types: Option<Vec<u8>>,
}

/// One stream of an `a=simulcast` direction (RFC 8853): its first alternative.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimulcastStream {
    /// The rid id.
    pub rid: String,
    /// Written with `~`: the offerer starts with the stream paused.
    pub paused: bool,
}

/// An `a=candidate` line with an IP address (mDNS names are skipped).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// Component (1 = RTP).
    pub component: u16,
    /// `true` for UDP, `false` for TCP.
    pub udp: bool,
    /// Address and port.
    pub addr: SocketAddr,
}

/// One parsed m-section, with session-level ICE/DTLS attributes filled in where the section
/// has none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaSection {
    /// The media type token: `audio`, `video`, `application`, ...
    pub media: String,
    /// The port of the m= line (0 = rejected).
    pub port: u16,
    /// The protocol of the m= line, e.g. `UDP/TLS/RTP/SAVPF`.
    pub protocol: String,
    /// The format tokens of the m= line, in order.
    pub formats: Vec<String>,
    /// `a=mid`.
    pub mid: Option<String>,
    /// The direction attribute.
    pub direction: Direction,
    /// `a=ice-ufrag`.
    pub ufrag: Option<String>,
    /// `a=ice-pwd`.
    pub pwd: Option<String>,
    /// All `a=fingerprint` lines.
    pub fingerprints: Vec<Fingerprint>,
    /// `a=setup` value.
    pub setup: Option<String>,
    /// `a=rtcp-mux` present.
    pub rtcp_mux: bool,
    /// `a=rtcp-rsize` present.
    pub rtcp_rsize: bool,
    /// `a=bundle-only` present (port 0 then means "bundled", not "rejected").
    pub bundle_only: bool,
    /// Codecs with an rtpmap (or a well-known static PT), in m= line order.
    pub codecs: Vec<Codec>,
    /// Header extensions.
    pub extmaps: Vec<Extmap>,
    /// SSRCs from `a=ssrc`, in order of first appearance.
    pub ssrcs: Vec<u32>,
    /// `a=ssrc-group` lines: semantics and SSRCs.
    pub ssrc_groups: Vec<(String, Vec<u32>)>,
    /// `a=msid` (stream id and optional track id as one string).
    pub msid: Option<String>,
    /// The readable `a=rid:<id> send` lines, the first of each id, from the first
    /// [`MAX_RID_LINES`](super::simulcast::MAX_RID_LINES) `a=rid` lines.
    pub send_rids: Vec<RidLine>,
    /// The `send` streams of `a=simulcast` (`None`: absent, unreadable or receive-only).
    pub simulcast_send: Option<Vec<SimulcastStream>>,
    /// Candidates with IP addresses.
    pub candidates: Vec<Candidate>,
    /// Address of the `c=` line, if it could be read.
    pub connection: Option<IpAddr>,
}

impl MediaSection {
    /// Audio or video; `None` for any other media type.
    pub fn kind(&self) -> Option<MediaKind> {
        match self.media.as_str() {
            "audio" => Some(MediaKind::Audio),
            "video" => Some(MediaKind::Video),
            _ => None,
        }
    }

    /// Whether the offerer wants this section: a non-zero port, or port 0 with `a=bundle-only`.
    pub fn is_active(&self) -> bool {
        self.port != 0 || self.bundle_only
    }

    /// The codec with payload type `pt`.
    pub fn codec(&self, pt: u8) -> Option<&Codec> {
        self.codecs.iter().find(|c| c.payload_type == pt)
    }

    /// The `a=ssrc-group:FID <media> <rtx>` pairs (RFC 4588 §8.2) in order. A group is used
    /// only if it names exactly two different SSRCs that both have `a=ssrc` lines: a group
    /// naming an SSRC the section does not announce says nothing we can trust.
    pub fn fid_pairs(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.ssrc_groups
            .iter()
            .filter(|(semantics, _)| semantics.eq_ignore_ascii_case("FID"))
            .filter_map(|(_, ssrcs)| match ssrcs[..] {
                [media, rtx]
                    if media != rtx && self.ssrcs.contains(&media) && self.ssrcs.contains(&rtx) =>
                {
                    Some((media, rtx))
                }
                _ => None,
            })
    }

    /// The sender's primary SSRC: the media SSRC of the first usable `a=ssrc-group:FID` (see
    /// [`MediaSection::fid_pairs`]), else the first `a=ssrc`.
    pub fn primary_ssrc(&self) -> Option<u32> {
        self.fid_pairs()
            .next()
            .map(|(media, _)| media)
            .or_else(|| self.ssrcs.first().copied())
    }

    /// The RTX SSRC paired with `media` by a usable `a=ssrc-group:FID`, if any.
    pub fn rtx_ssrc(&self, media: u32) -> Option<u32> {
        self.fid_pairs()
            .find(|(m, _)| *m == media)
            .map(|(_, rtx)| rtx)
    }

    /// The sha-256 fingerprint of this section.
    pub(super) fn sha256_fingerprint(&self) -> Result<&Fingerprint, SdpError> {
        if self.fingerprints.is_empty() {
            return Err(SdpError::NoFingerprint);
        }
        self.fingerprints
            .iter()
            .find(|f| f.algorithm == "sha-256")
            .ok_or(SdpError::UnsupportedFingerprint)
    }
}

/// A parsed offer (from a browser or any other offerer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Offer {
    /// All m-sections in order.
    pub sections: Vec<MediaSection>,
    /// The mids of `a=group:BUNDLE`, if offered.
    pub bundle: Option<Vec<String>>,
    /// The offerer's ICE ufrag (from its first audio/video section).
    pub ufrag: String,
    /// The offerer's ICE password.
    pub pwd: String,
    /// The offerer's sha-256 certificate fingerprint.
    pub fingerprint: Fingerprint,
}

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
    /// The video's simulcast layers as the publisher sends them, in its order (empty: one
    /// encoding, and always for a player).
    pub layers: Vec<LayerSpec>,
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

/// The value of `key` in an fmtp parameter list (`a=1;b=2`), keys compared case-insensitively.
pub(super) fn fmtp_param<'a>(fmtp: &'a str, key: &str) -> Option<&'a str> {
    fmtp.split(';').find_map(|param| {
        let (k, v) = param.split_once('=')?;
        k.trim().eq_ignore_ascii_case(key).then(|| v.trim())
    })
}
