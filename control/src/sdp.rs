//! PLACEHOLDER for the SDP negotiation module (written by another engineer; replaced at merge).
//!
//! Only the API shape the signalling hub codes against: parse an offer (ICE credentials,
//! fingerprint, per-section codecs) and build a trivial answer. It must not grow beyond that.

use std::net::SocketAddr;

use dataplane::api::{Fingerprint, MediaKind, TrackSpec};

use crate::config::VideoCodec;

/// Our side of the transport, written into every answer.
#[derive(Clone, Debug)]
pub struct LocalTransport {
    /// Our ICE username fragment.
    pub ufrag: String,
    /// Our ICE password.
    pub pwd: String,
    /// The process certificate fingerprint.
    pub fingerprint: Fingerprint,
    /// The worker's UDP address (the only candidate).
    pub candidate: SocketAddr,
}

/// One codec of one m-section of an offer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OfferCodec {
    /// Encoding name as written in `a=rtpmap` (e.g. `VP8`, `opus`).
    pub name: String,
    /// Payload type.
    pub payload_type: u8,
    /// RTP clock rate.
    pub clock_rate: u32,
}

/// One m-section of an offer.
#[derive(Clone, Debug)]
pub struct OfferSection {
    /// Audio or video.
    pub kind: MediaKind,
    /// `a=mid` value.
    pub mid: String,
    /// Codecs in the offer's order.
    pub codecs: Vec<OfferCodec>,
}

/// A parsed browser offer.
#[derive(Clone, Debug)]
pub struct Offer {
    /// The browser's ICE username fragment.
    pub ufrag: String,
    /// The browser's ICE password.
    pub pwd: String,
    /// The browser's certificate fingerprint.
    pub fingerprint: Fingerprint,
    /// The audio/video m-sections.
    pub sections: Vec<OfferSection>,
}

/// The codec chosen for one kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NegotiatedCodec {
    /// Encoding name.
    pub name: String,
    /// Payload type on the wire of the peer it was negotiated with.
    pub payload_type: u8,
    /// RTP clock rate.
    pub clock_rate: u32,
}

/// What a publisher sends, as negotiated.
#[derive(Clone, Debug)]
pub struct PublishedMedia {
    /// The audio codec, if the publisher sends audio.
    pub audio: Option<NegotiatedCodec>,
    /// The video codec, if the publisher sends video.
    pub video: Option<NegotiatedCodec>,
}

/// The outcome of a successful negotiation.
#[derive(Clone, Debug)]
pub struct Negotiated {
    /// The answer SDP to send in `setRemoteSDP`.
    pub answer: String,
    /// The negotiated tracks.
    pub tracks: Vec<TrackSpec>,
    /// The offer's ICE ufrag.
    pub remote_ufrag: String,
    /// The offer's ICE password.
    pub remote_pwd: String,
    /// The offer's fingerprint.
    pub remote_fingerprint: Fingerprint,
    /// The negotiated media.
    pub media: PublishedMedia,
}

/// Why an offer could not be answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    /// No audio or video m-section.
    #[error("no media sections")]
    NoMedia,
    /// No `a=fingerprint`.
    #[error("no fingerprint")]
    NoFingerprint,
    /// No `a=ice-ufrag`/`a=ice-pwd`.
    #[error("no ICE credentials")]
    NoIceCredentials,
    /// Nothing in common with what we (or the publisher) can send.
    #[error("no common codecs")]
    NoCommonCodecs,
}

impl SdpError {
    /// The WCS `info` string for this error.
    pub fn wcs_info(&self) -> String {
        match self {
            SdpError::NoCommonCodecs => "No common codecs".to_owned(),
            other => format!("Invalid SDP: {other}"),
        }
    }
}

fn parse_fingerprint(value: &str) -> Option<Fingerprint> {
    let (algorithm, hex) = value.split_once(' ')?;
    let digest = hex
        .trim()
        .split(':')
        .map(|b| u8::from_str_radix(b, 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    Some(Fingerprint {
        algorithm: algorithm.to_ascii_lowercase(),
        digest,
    })
}

/// Parses the parts of an offer the placeholder needs.
pub fn parse_offer(sdp: &str) -> Result<Offer, SdpError> {
    let (mut ufrag, mut pwd, mut fingerprint) = (None, None, None);
    let mut sections: Vec<OfferSection> = Vec::new();
    for line in sdp.lines().map(str::trim) {
        if let Some(m) = line.strip_prefix("m=") {
            let kind = match m.split(' ').next() {
                Some("audio") => MediaKind::Audio,
                Some("video") => MediaKind::Video,
                _ => continue,
            };
            sections.push(OfferSection {
                kind,
                mid: String::new(),
                codecs: Vec::new(),
            });
        } else if let Some(v) = line.strip_prefix("a=ice-ufrag:") {
            ufrag = Some(v.to_owned());
        } else if let Some(v) = line.strip_prefix("a=ice-pwd:") {
            pwd = Some(v.to_owned());
        } else if let Some(v) = line.strip_prefix("a=fingerprint:") {
            fingerprint = parse_fingerprint(v);
        } else if let (Some(v), Some(s)) = (line.strip_prefix("a=mid:"), sections.last_mut()) {
            s.mid = v.to_owned();
        } else if let (Some(v), Some(s)) = (line.strip_prefix("a=rtpmap:"), sections.last_mut()) {
            let Some((pt, rest)) = v.split_once(' ') else {
                continue;
            };
            let mut parts = rest.split('/');
            let (Ok(payload_type), Some(name), Some(Ok(clock_rate))) =
                (pt.parse(), parts.next(), parts.next().map(str::parse))
            else {
                continue;
            };
            s.codecs.push(OfferCodec {
                name: name.to_owned(),
                payload_type,
                clock_rate,
            });
        }
    }
    if sections.is_empty() {
        return Err(SdpError::NoMedia);
    }
    let fingerprint = fingerprint.ok_or(SdpError::NoFingerprint)?;
    let (Some(ufrag), Some(pwd)) = (ufrag, pwd) else {
        return Err(SdpError::NoIceCredentials);
    };
    Ok(Offer {
        ufrag,
        pwd,
        fingerprint,
        sections,
    })
}

fn codec_name(codec: VideoCodec) -> &'static str {
    match codec {
        VideoCodec::H264 => "H264",
        VideoCodec::Vp8 => "VP8",
        VideoCodec::Vp9 => "VP9",
        VideoCodec::Av1 => "AV1",
    }
}

fn negotiated(
    offer: &Offer,
    local: &LocalTransport,
    audio: Option<&OfferCodec>,
    video: Option<&OfferCodec>,
) -> Negotiated {
    let mut answer = format!(
        "v=0\r\no=rtcdn 0 0 IN IP4 {ip}\r\ns=-\r\nt=0 0\r\na=ice-lite\r\n\
         a=ice-ufrag:{}\r\na=ice-pwd:{}\r\n",
        local.ufrag,
        local.pwd,
        ip = local.candidate.ip()
    );
    let mut tracks = Vec::new();
    for (kind, codec) in [(MediaKind::Audio, audio), (MediaKind::Video, video)] {
        if let Some(c) = codec {
            answer.push_str(&format!(
                "m={} 9 UDP/TLS/RTP/SAVPF {}\r\na=rtpmap:{} {}/{}\r\n",
                if kind == MediaKind::Audio {
                    "audio"
                } else {
                    "video"
                },
                c.payload_type,
                c.payload_type,
                c.name,
                c.clock_rate
            ));
            tracks.push(TrackSpec {
                kind,
                payload_type: c.payload_type,
                clock_rate: c.clock_rate,
                ssrc: None,
                extensions: Vec::new(),
            });
        }
    }
    let to_neg = |c: Option<&OfferCodec>| {
        c.map(|c| NegotiatedCodec {
            name: c.name.clone(),
            payload_type: c.payload_type,
            clock_rate: c.clock_rate,
        })
    };
    Negotiated {
        answer,
        tracks,
        remote_ufrag: offer.ufrag.clone(),
        remote_pwd: offer.pwd.clone(),
        remote_fingerprint: offer.fingerprint.clone(),
        media: PublishedMedia {
            audio: to_neg(audio),
            video: to_neg(video),
        },
    }
}

fn first_of(
    offer: &Offer,
    kind: MediaKind,
    accept: impl Fn(&OfferCodec) -> bool,
) -> Option<&OfferCodec> {
    offer
        .sections
        .iter()
        .filter(|s| s.kind == kind)
        .flat_map(|s| s.codecs.iter())
        .find(|c| accept(c))
}

/// Answers a publisher's offer: opus for audio, the first preferred video codec offered.
pub fn answer_publish(
    offer: &Offer,
    prefs: &[VideoCodec],
    local: &LocalTransport,
) -> Result<Negotiated, SdpError> {
    let audio = first_of(offer, MediaKind::Audio, |c| {
        c.name.eq_ignore_ascii_case("opus")
    });
    let video = prefs.iter().find_map(|p| {
        first_of(offer, MediaKind::Video, |c| {
            c.name.eq_ignore_ascii_case(codec_name(*p))
        })
    });
    if audio.is_none() && video.is_none() {
        return Err(SdpError::NoCommonCodecs);
    }
    Ok(negotiated(offer, local, audio, video))
}

/// Answers a player's offer with the publisher's codecs, by name.
pub fn answer_play(
    offer: &Offer,
    source: &PublishedMedia,
    local: &LocalTransport,
) -> Result<Negotiated, SdpError> {
    let pick = |kind, src: &Option<NegotiatedCodec>| match src {
        None => Ok(None),
        Some(s) => first_of(offer, kind, |c| c.name.eq_ignore_ascii_case(&s.name))
            .map(Some)
            .ok_or(SdpError::NoCommonCodecs),
    };
    let audio = pick(MediaKind::Audio, &source.audio)?;
    let video = pick(MediaKind::Video, &source.video)?;
    Ok(negotiated(offer, local, audio, video))
}
