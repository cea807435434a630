//! The offerer side for our own WebRTC clients (test client, load generator, origin→edge
//! relay): a Chrome-like offer ([`build_offer`]) and a reader for the server's answer
//! ([`parse_answer`]).
//!
//! Loss repair: video codecs offer `nack`, `nack pli` and `ccm fir`; a section with
//! [`OfferTrack::rtx`] offers one RTX payload type per codec (RFC 4588, `apt=`, numbered by
//! [`OfferSpec::rtx_payload_types`]) and, when sending, an `a=ssrc-group:FID` with its RTX SSRC.
//! [`AnswerTrack`] reports the NACK and RTX the answerer accepted. A sending section with
//! [`OfferTrack::layers`] announces simulcast in the SSRC-group form (`a=ssrc-group:SIM`, a
//! FID group per layer), which needs nothing from the answerer.

use std::net::SocketAddr;

use dataplane::api::{Fingerprint, MediaKind, RtxSpec};
use rtc_sdp::description::common::Attribute;

use super::codec::{has_nack, is_rtx, rtx_codec, rtx_line};
use super::error::SdpError;
use super::parse::parse_description;
use super::types::{Codec, Direction, MediaSection, NegotiatedCodec};
use super::write::{
    bundle_attributes, candidate_attributes, codec_attributes, extmap_attributes, media, session,
    simulcast_source_attributes, source_attributes, transport_attributes, SendSource,
};

/// One m-section of an offer we write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OfferTrack {
    /// Offered codecs in order of preference.
    pub codecs: Vec<Codec>,
    /// Offered header extensions: `(id, uri)`.
    pub extensions: Vec<(u8, String)>,
    /// The SSRC we send with (sendonly offers); `None` for receive-only sections.
    pub ssrc: Option<u32>,
    /// RTX (RFC 4588): `Some` offers an RTX payload type for every codec of the section.
    pub rtx: Option<OfferRtx>,
    /// The msid track id of what we send.
    pub track_id: String,
    /// Simulcast (sendonly): every encoding we send, announced as an `a=ssrc-group:SIM` of
    /// their SSRCs with a FID group per layer when the section offers RTX; `ssrc` and `rtx`
    /// should name the first layer. Empty: one encoding under `ssrc`.
    pub layers: Vec<OfferLayer>,
}

/// One simulcast encoding of a section we send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OfferLayer {
    /// The SSRC the layer is sent with.
    pub ssrc: u32,
    /// The SSRC its retransmissions are sent with, if RTX is offered.
    pub rtx_ssrc: Option<u32>,
}

/// The RTX offered in one section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OfferRtx {
    /// The SSRC we send retransmissions with, announced as `a=ssrc-group:FID <ssrc> <rtx>`
    /// (sendonly offers with an [`OfferTrack::ssrc`]); `None` for receive-only sections.
    pub ssrc: Option<u32>,
}

/// Everything [`build_offer`] writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OfferSpec {
    /// `SendOnly` to publish, `RecvOnly` to play (applies to every section).
    pub direction: Direction,
    /// Our ICE username fragment.
    pub ufrag: String,
    /// Our ICE password.
    pub pwd: String,
    /// Our DTLS certificate fingerprint.
    pub fingerprint: Fingerprint,
    /// The `o=` session id.
    pub session_id: u64,
    /// The RTCP CNAME of what we send.
    pub cname: String,
    /// The msid stream id of what we send.
    pub stream_id: String,
    /// The audio section (mid `0`), if any.
    pub audio: Option<OfferTrack>,
    /// The video section (mid `1`, or `0` without audio), if any.
    pub video: Option<OfferTrack>,
    /// Our host candidate, if announced (an ICE-lite answerer learns our address from our
    /// checks anyway; a full agent such as Janus's wants one in the offer).
    pub candidate: Option<SocketAddr>,
}

/// Extensions Chrome offers for audio (ids as Chrome numbers them).
const AUDIO_EXTENSIONS: [(u8, &str); 4] = [
    (1, "urn:ietf:params:rtp-hdrext:ssrc-audio-level"),
    (
        2,
        "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
    ),
    (
        3,
        "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
    ),
    (4, "urn:ietf:params:rtp-hdrext:sdes:mid"),
];

/// Extensions Chrome offers for video.
const VIDEO_EXTENSIONS: [(u8, &str); 5] = [
    (14, "urn:ietf:params:rtp-hdrext:toffset"),
    (
        2,
        "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
    ),
    (13, "urn:3gpp:video-orientation"),
    (
        3,
        "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
    ),
    (4, "urn:ietf:params:rtp-hdrext:sdes:mid"),
];

fn extensions(list: &[(u8, &str)]) -> Vec<(u8, String)> {
    list.iter()
        .map(|(id, uri)| (*id, (*uri).to_owned()))
        .collect()
}

impl Codec {
    fn video(payload_type: u8, name: &str, fmtp: Option<String>) -> Self {
        Codec {
            payload_type,
            name: name.to_owned(),
            clock_rate: 90_000,
            channels: None,
            fmtp,
            rtcp_fb: ["goog-remb", "transport-cc", "ccm fir", "nack", "nack pli"]
                .map(str::to_owned)
                .to_vec(),
        }
    }

    /// Opus 48 kHz stereo as Chrome offers it.
    pub fn opus(payload_type: u8) -> Self {
        Codec {
            payload_type,
            name: "opus".to_owned(),
            clock_rate: 48_000,
            channels: Some(2),
            fmtp: Some("minptime=10;useinbandfec=1".to_owned()),
            rtcp_fb: vec!["transport-cc".to_owned()],
        }
    }

    /// VP8 with Chrome's feedback.
    pub fn vp8(payload_type: u8) -> Self {
        Self::video(payload_type, "VP8", None)
    }

    /// H264 with `profile_level_id` (e.g. `42e01f`) and `packetization_mode` (0 or 1).
    pub fn h264(payload_type: u8, profile_level_id: &str, packetization_mode: u8) -> Self {
        let fmtp = format!(
            "level-asymmetry-allowed=1;packetization-mode={packetization_mode};\
             profile-level-id={profile_level_id}"
        );
        Self::video(payload_type, "H264", Some(fmtp))
    }

    /// VP9 with `profile-id`.
    pub fn vp9(payload_type: u8, profile_id: u8) -> Self {
        Self::video(
            payload_type,
            "VP9",
            Some(format!("profile-id={profile_id}")),
        )
    }

    /// AV1 profile 0.
    pub fn av1(payload_type: u8) -> Self {
        Self::video(
            payload_type,
            "AV1",
            Some("level-idx=5;profile=0;tier=0".to_owned()),
        )
    }
}

impl OfferSpec {
    /// A publish offer like Chrome's: Opus 111 and one `video` codec, sendonly, with SSRCs and
    /// RTX for the video (its SSRC is [`OfferSpec::derived_rtx_ssrc`]; set
    /// `video.rtx = None` to offer none).
    pub fn publish(
        ufrag: &str,
        pwd: &str,
        fingerprint: Fingerprint,
        video: Codec,
        audio_ssrc: u32,
        video_ssrc: u32,
    ) -> Self {
        OfferSpec {
            direction: Direction::SendOnly,
            ufrag: ufrag.to_owned(),
            pwd: pwd.to_owned(),
            fingerprint,
            session_id: u64::from(audio_ssrc) << 16 | u64::from(video_ssrc & 0xffff),
            cname: format!("rtcdn{audio_ssrc:08x}"),
            stream_id: format!("stream{video_ssrc:08x}"),
            audio: Some(OfferTrack {
                codecs: vec![Codec::opus(111)],
                extensions: extensions(&AUDIO_EXTENSIONS),
                ssrc: Some(audio_ssrc),
                rtx: None,
                track_id: format!("audio{audio_ssrc:08x}"),
                layers: Vec::new(),
            }),
            video: Some(OfferTrack {
                codecs: vec![video],
                extensions: extensions(&VIDEO_EXTENSIONS),
                ssrc: Some(video_ssrc),
                rtx: Some(OfferRtx {
                    ssrc: Some(Self::derived_rtx_ssrc(audio_ssrc, video_ssrc)),
                }),
                track_id: format!("video{video_ssrc:08x}"),
                layers: Vec::new(),
            }),
            candidate: None,
        }
    }

    /// A play offer like Chrome's: recvonly, Opus 111, VP8 96, H264 102/104/106/108, VP9 98,
    /// AV1 45, each video codec with an RTX payload type (97, 103, 105, 107, 109, 99, 46).
    pub fn play(ufrag: &str, pwd: &str, fingerprint: Fingerprint) -> Self {
        OfferSpec {
            direction: Direction::RecvOnly,
            ufrag: ufrag.to_owned(),
            pwd: pwd.to_owned(),
            fingerprint,
            session_id: 1,
            cname: String::new(),
            stream_id: String::new(),
            audio: Some(OfferTrack {
                codecs: vec![Codec::opus(111)],
                extensions: extensions(&AUDIO_EXTENSIONS),
                ssrc: None,
                rtx: None,
                track_id: String::new(),
                layers: Vec::new(),
            }),
            video: Some(OfferTrack {
                codecs: vec![
                    Codec::vp8(96),
                    Codec::h264(102, "42001f", 1),
                    Codec::h264(104, "42001f", 0),
                    Codec::h264(106, "42e01f", 1),
                    Codec::h264(108, "42e01f", 0),
                    Codec::vp9(98, 0),
                    Codec::av1(45),
                ],
                extensions: extensions(&VIDEO_EXTENSIONS),
                ssrc: None,
                rtx: Some(OfferRtx { ssrc: None }),
                track_id: String::new(),
                layers: Vec::new(),
            }),
            candidate: None,
        }
    }

    /// The RTX SSRC [`OfferSpec::publish`] pairs with `video_ssrc`: a fixed scramble of it,
    /// never 0 and never one of the two media SSRCs.
    pub fn derived_rtx_ssrc(audio_ssrc: u32, video_ssrc: u32) -> u32 {
        let mut rtx = video_ssrc.rotate_left(16) ^ 0x5254_5800;
        while rtx == 0 || rtx == audio_ssrc || rtx == video_ssrc {
            rtx = rtx.wrapping_add(1);
        }
        rtx
    }

    /// The RTX payload types [`build_offer`] writes, as `(kind, codec pt, rtx pt)` in offer
    /// order, for the sections with [`OfferTrack::rtx`]: the codec's payload type + 1 when no
    /// codec of the offer uses it (Chrome's numbering), else the first free one of 96–127,
    /// then 35–63. A codec gets none when no payload type is left.
    pub fn rtx_payload_types(&self) -> Vec<(MediaKind, u8, u8)> {
        let tracks = [
            (MediaKind::Audio, &self.audio),
            (MediaKind::Video, &self.video),
        ];
        let mut used: Vec<u8> = tracks
            .iter()
            .filter_map(|(_, t)| t.as_ref())
            .flat_map(|t| t.codecs.iter().map(|c| c.payload_type))
            .collect();
        let mut out = Vec::new();
        for (kind, track) in tracks {
            let Some(track) = track.as_ref().filter(|t| t.rtx.is_some()) else {
                continue;
            };
            for codec in track.codecs.iter().filter(|c| !is_rtx(c)) {
                let next = codec.payload_type.checked_add(1).filter(|pt| *pt <= 127);
                let free = next
                    .into_iter()
                    .chain(96..=127)
                    .chain(35..=63)
                    .find(|pt| !used.contains(pt));
                if let Some(rtx) = free {
                    used.push(rtx);
                    out.push((kind, codec.payload_type, rtx));
                }
            }
        }
        out
    }
}

/// Writes an offer for `spec` (BUNDLE, rtcp-mux, `setup:actpass`, the host candidate of
/// `spec.candidate` if any: an ICE-lite answerer learns our address from our checks).
pub fn build_offer(spec: &OfferSpec) -> String {
    let sections: Vec<(MediaKind, &str, &OfferTrack)> = [
        (MediaKind::Audio, "audio", &spec.audio),
        (MediaKind::Video, "video", &spec.video),
    ]
    .into_iter()
    .filter_map(|(kind, media, track)| track.as_ref().map(|t| (kind, media, t)))
    .collect();
    let mids: Vec<String> = (0..sections.len()).map(|i| i.to_string()).collect();
    let mid_refs: Vec<&str> = mids.iter().map(String::as_str).collect();
    let sends = spec.direction.sends();
    let streams = if sends { spec.stream_id.as_str() } else { "" };
    let mut attributes = Vec::new();
    bundle_attributes(&mut attributes, &mid_refs, &format!("WMS {streams}"));
    let mut desc = session(spec.session_id, [127, 0, 0, 1].into(), attributes);
    let rtx_pts = spec.rtx_payload_types();
    for ((kind, media_name, track), mid) in sections.iter().zip(&mids) {
        // Each codec followed by its RTX payload type, as Chrome lists them.
        let codecs: Vec<Codec> = track
            .codecs
            .iter()
            .flat_map(|codec| {
                let rtx = rtx_pts
                    .iter()
                    .find(|(k, apt, _)| k == kind && *apt == codec.payload_type)
                    .map(|(_, _, rtx)| rtx_line(*rtx, codec));
                std::iter::once(codec.clone()).chain(rtx)
            })
            .collect();
        let formats = codecs.iter().map(|c| c.payload_type.to_string()).collect();
        let mut m = media(
            media_name,
            9,
            "UDP/TLS/RTP/SAVPF",
            formats,
            [0, 0, 0, 0].into(),
        );
        let out = &mut m.attributes;
        transport_attributes(out, &spec.ufrag, &spec.pwd, &spec.fingerprint, "actpass");
        out.push(Attribute::new("mid".to_owned(), Some(mid.clone())));
        extmap_attributes(out, &track.extensions);
        for flag in [spec.direction.as_str(), "rtcp-mux", "rtcp-rsize"] {
            out.push(Attribute::new(flag.to_owned(), None));
        }
        for codec in &codecs {
            codec_attributes(out, codec);
        }
        let offers_rtx = track.rtx.is_some() && codecs.iter().any(is_rtx);
        if sends && !track.layers.is_empty() {
            let layers: Vec<(u32, Option<u32>)> = track
                .layers
                .iter()
                .map(|l| {
                    (
                        l.ssrc,
                        l.rtx_ssrc.filter(|rtx| *rtx != l.ssrc && offers_rtx),
                    )
                })
                .collect();
            let msid = format!("{} {}", spec.stream_id, track.track_id);
            simulcast_source_attributes(out, &spec.cname, &msid, &layers);
        } else if let (true, Some(ssrc)) = (sends, track.ssrc) {
            let rtx_ssrc = track
                .rtx
                .and_then(|rtx| rtx.ssrc)
                .filter(|rtx| *rtx != ssrc && offers_rtx);
            source_attributes(
                out,
                &SendSource {
                    ssrc,
                    rtx_ssrc,
                    cname: spec.cname.clone(),
                    stream_id: spec.stream_id.clone(),
                    track_id: track.track_id.clone(),
                },
            );
        }
        if let Some(addr) = spec.candidate {
            candidate_attributes(out, addr);
        }
        desc.media_descriptions.push(m);
    }
    desc.marshal()
}

/// The answerer's side of one accepted m-section.
#[derive(Clone, Debug, PartialEq)]
pub struct AnswerTrack {
    /// The section's mid.
    pub mid: Option<String>,
    /// The answerer's direction.
    pub direction: Direction,
    /// The chosen codec (the first non-RTX format of the m= line) with the section's
    /// extensions.
    pub codec: NegotiatedCodec,
    /// The answerer's SSRC from `a=ssrc` (primary of `ssrc-group:FID`), if announced.
    pub ssrc: Option<u32>,
    /// Generic NACK (`a=rtcp-fb:<pt> nack`) accepted for the chosen codec.
    pub nack: bool,
    /// RTX accepted for the chosen codec: the answer's `rtx` payload type whose `apt=` is the
    /// chosen one, with the answerer's RTX SSRC from its `a=ssrc-group:FID` if it announced
    /// one (a sendonly answerer does; ours, when we send, is in the offer).
    pub rtx: Option<RtxSpec>,
}

/// A parsed answer from a server.
#[derive(Clone, Debug, PartialEq)]
pub struct Answer {
    /// The answerer's ICE ufrag.
    pub ufrag: String,
    /// The answerer's ICE password.
    pub pwd: String,
    /// The answerer's sha-256 fingerprint.
    pub fingerprint: Fingerprint,
    /// `a=ice-lite` at session level.
    pub ice_lite: bool,
    /// The mids of `a=group:BUNDLE`, if any.
    pub bundle: Option<Vec<String>>,
    /// UDP RTP candidate addresses, in order, without duplicates.
    pub candidates: Vec<SocketAddr>,
    /// The first accepted audio section.
    pub audio: Option<AnswerTrack>,
    /// The first accepted video section.
    pub video: Option<AnswerTrack>,
}

/// Reads a server's answer.
pub fn parse_answer(sdp: &str) -> Result<Answer, SdpError> {
    let desc = parse_description(sdp)?;
    if desc.sections.iter().all(|s| s.kind().is_none()) {
        return Err(SdpError::NoMedia);
    }
    let (mut audio, mut video, mut first) = (None, None, None);
    for section in &desc.sections {
        let slot = match section.kind() {
            Some(MediaKind::Audio) => &mut audio,
            Some(MediaKind::Video) => &mut video,
            None => continue,
        };
        if section.port == 0 || section.direction == Direction::Inactive || slot.is_some() {
            continue;
        }
        if let Some(track) = answer_track(section) {
            *slot = Some(track);
            first.get_or_insert(section);
        }
    }
    let first = first.ok_or(SdpError::NoCommonCodecs)?;
    let fingerprint = first.sha256_fingerprint()?.clone();
    let (Some(ufrag), Some(pwd)) = (first.ufrag.clone(), first.pwd.clone()) else {
        return Err(SdpError::NoIceCredentials);
    };
    let mut candidates = Vec::new();
    for candidate in desc.sections.iter().flat_map(|s| &s.candidates) {
        if candidate.udp && candidate.component == 1 && !candidates.contains(&candidate.addr) {
            candidates.push(candidate.addr);
        }
    }
    Ok(Answer {
        ufrag,
        pwd,
        fingerprint,
        ice_lite: desc.ice_lite,
        bundle: desc.bundle,
        candidates,
        audio,
        video,
    })
}

fn answer_track(section: &MediaSection) -> Option<AnswerTrack> {
    let codec = section
        .formats
        .iter()
        .filter_map(|f| section.codec(f.parse().ok()?))
        .find(|c| !is_rtx(c))?;
    let ssrc = section.primary_ssrc();
    Some(AnswerTrack {
        mid: section.mid.clone(),
        direction: section.direction,
        codec: NegotiatedCodec {
            name: codec.name.clone(),
            payload_type: codec.payload_type,
            clock_rate: codec.clock_rate,
            channels: codec.channels,
            fmtp: codec.fmtp.clone(),
            extensions: section
                .extmaps
                .iter()
                .map(|e| (e.id, e.uri.clone()))
                .collect(),
        },
        ssrc,
        nack: has_nack(codec),
        rtx: rtx_codec(&section.codecs, codec).map(|rtx| RtxSpec {
            payload_type: rtx.payload_type,
            ssrc: ssrc.and_then(|media| section.rtx_ssrc(media)),
        }),
    })
}
