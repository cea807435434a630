//! The answerer: publish (`sendonly` offer → `recvonly` answer) and play (`recvonly` offer →
//! `sendonly` answer), always ICE-lite, DTLS passive, rtcp-mux and BUNDLE when offered.
//!
//! Loss repair is negotiated on what the offerer listed for the chosen codec: generic NACK
//! (answered for audio too when offered; video also gets `nack pli` and `ccm fir`), and for
//! video the offer's RTX payload type whose `apt=` is the chosen one (RFC 4588; no other RTX,
//! RED or FEC is answered). A publisher's RTX SSRC comes from its `a=ssrc-group:FID`; to a
//! player we announce our own random RTX SSRC in a FID group.
//!
//! Simulcast (RFC 8853, see `simulcast`): a publisher's rid layers are answered with
//! `a=rid:<id> recv` each and `a=simulcast:recv`, and keep the RTP stream id extensions the
//! data plane tells them apart by; SSRC-group layers need nothing in the answer. Players never
//! get the stream id extensions (they are sent one layer under one SSRC).
//!
//! Congestion control: a publisher that offers the transport-wide sequence number extension
//! and `transport-cc` feedback gets both (the node sends it transport-wide feedback); a player
//! gets them too when its publisher has them (the node numbers what it sends the player and
//! estimates its bandwidth from the player's feedback).

use dataplane::api::{MediaKind, RtxSpec, TrackSpec, ABS_SEND_TIME_URI};
use dataplane::rtcp::TWCC_URI;
use rand::Rng;

use crate::config::VideoCodec;
use crate::ice::{random_ssrc, random_token_with};

use super::codec::{
    choose_play_codec, choose_publish_audio, choose_publish_video, has_nack, rtx_codec, rtx_line,
    AUDIO_FEEDBACK, KNOWN_EXTENSIONS, REMB, TRANSPORT_CC, VIDEO_FEEDBACK,
};
use super::error::{SdpError, MAX_FMTP_LEN};
use super::simulcast::{is_rid_extension, offered_layers, OfferedLayers};
use super::types::{
    Codec, Direction, LocalTransport, MediaSection, Negotiated, NegotiatedCodec, Offer,
    PublishedMedia,
};
use super::write::{write_answer, Accepted, AnswerSection, SendSource};

/// Answers a publisher's offer: Opus audio and the first video codec of `prefs` it offers;
/// transport-wide congestion feedback when the offer has it.
pub fn answer_publish(
    offer: &Offer,
    prefs: &[VideoCodec],
    local: &LocalTransport,
) -> Result<Negotiated, SdpError> {
    answer_publish_with(offer, prefs, local, &mut rand::thread_rng())
}

/// What an answer to a publisher allows it beyond the codec: congestion feedback and the
/// bounds of its video bitrate (the operator's settings).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublishPolicy {
    /// Answer transport-wide congestion feedback when offered (`transport_cc`).
    pub transport_cc: bool,
    /// Answer REMB when offered to a publisher without transport-wide feedback, with the
    /// abs-send-time extension (`remb`).
    pub remb: bool,
    /// The least video bitrate the sender's congestion control may choose, bits/s
    /// (`webrtc_cc_min_bitrate`; Chrome's `x-google-min-bitrate` in the answer's fmtp).
    pub min_bitrate: Option<u32>,
    /// The most, bits/s (`webrtc_cc_max_bitrate`; `b=AS` on the video section).
    pub max_bitrate: Option<u32>,
    /// Where it starts, bits/s (`webrtc_cc_start_bitrate`; Chrome's `x-google-start-bitrate`),
    /// kept within the two bounds.
    pub start_bitrate: Option<u32>,
}

impl Default for PublishPolicy {
    fn default() -> Self {
        Self {
            transport_cc: true,
            remb: true,
            min_bitrate: None,
            max_bitrate: None,
            start_bitrate: None,
        }
    }
}

/// [`answer_publish`] under the operator's `policy`.
pub fn answer_publish_with_policy(
    offer: &Offer,
    prefs: &[VideoCodec],
    policy: &PublishPolicy,
    local: &LocalTransport,
) -> Result<Negotiated, SdpError> {
    answer_publish_inner(offer, prefs, policy, local, &mut rand::thread_rng())
}

/// Answers a player's offer with what `source` (the publisher) sends, on the player's PTs.
pub fn answer_play(
    offer: &Offer,
    source: &PublishedMedia,
    local: &LocalTransport,
) -> Result<Negotiated, SdpError> {
    answer_play_with(offer, source, local, &mut rand::thread_rng())
}

/// [`answer_publish`] with the random source given (tests use a seeded one).
pub(super) fn answer_publish_with(
    offer: &Offer,
    prefs: &[VideoCodec],
    local: &LocalTransport,
    rng: &mut impl Rng,
) -> Result<Negotiated, SdpError> {
    answer_publish_inner(offer, prefs, &PublishPolicy::default(), local, rng)
}

fn answer_publish_inner(
    offer: &Offer,
    prefs: &[VideoCodec],
    policy: &PublishPolicy,
    local: &LocalTransport,
    rng: &mut impl Rng,
) -> Result<Negotiated, SdpError> {
    let mut taken = (false, false);
    let mut sections = Vec::with_capacity(offer.sections.len());
    let mut media = PublishedMedia::default();
    let mut tracks = Vec::new();
    for offered in &offer.sections {
        let accepted = match offered.kind() {
            Some(kind)
                if offered.is_active() && offered.direction.sends() && !is_taken(taken, kind) =>
            {
                let codec = match kind {
                    MediaKind::Audio => choose_publish_audio(&offered.codecs),
                    MediaKind::Video => choose_publish_video(&offered.codecs, prefs),
                };
                codec.map(|codec| {
                    mark(&mut taken, kind);
                    let layers = match kind {
                        MediaKind::Audio => OfferedLayers::None,
                        MediaKind::Video => offered_layers(offered, codec),
                    };
                    let rid_layers = matches!(layers, OfferedLayers::Rids(_));
                    let extensions = offered
                        .extmaps
                        .iter()
                        .filter(|e| {
                            KNOWN_EXTENSIONS.contains(&e.uri.as_str())
                                || (policy.transport_cc && e.uri == TWCC_URI)
                                || (rid_layers && is_rid_extension(&e.uri))
                        })
                        .map(|e| (e.id, e.uri.clone()))
                        .collect::<Vec<_>>();
                    let negotiated = negotiated(codec, &extensions);
                    let transport_cc = extensions.iter().any(|(_, uri)| uri == TWCC_URI);
                    let congestion = match transport_cc {
                        true => Some(TRANSPORT_CC),
                        // REMB needs the send times the node's estimate is made from.
                        false => (policy.remb
                            && kind == MediaKind::Video
                            && extensions.iter().any(|(_, uri)| uri == ABS_SEND_TIME_URI))
                        .then_some(REMB),
                    };
                    let mut answered = answered_codec(kind, codec, congestion);
                    if kind == MediaKind::Video {
                        answered.fmtp = with_google_bitrates(answered.fmtp.as_deref(), policy);
                    }
                    let rtx = accepted_rtx(kind, offered, codec);
                    let ssrc = offered.primary_ssrc();
                    let layer_specs = layers.specs(rtx.is_some());
                    if kind == MediaKind::Video {
                        media.layers.clone_from(&layer_specs);
                    }
                    tracks.push(TrackSpec {
                        layers: layer_specs,
                        kind,
                        codec: codec.name.clone(),
                        payload_type: codec.payload_type,
                        clock_rate: codec.clock_rate,
                        ssrc,
                        extensions: extensions.clone(),
                        nack: has_nack(&answered),
                        remb: answered.rtcp_fb.iter().any(|fb| fb == REMB),
                        rtx: rtx.as_ref().map(|rtx| RtxSpec {
                            payload_type: rtx.payload_type,
                            ssrc: ssrc.and_then(|media| offered.rtx_ssrc(media)),
                        }),
                    });
                    match kind {
                        MediaKind::Audio => media.audio = Some(negotiated),
                        MediaKind::Video => media.video = Some(negotiated),
                    }
                    Accepted {
                        direction: Direction::RecvOnly,
                        codec: answered,
                        rtx,
                        extensions,
                        source: None,
                        max_bitrate: policy.max_bitrate.filter(|_| kind == MediaKind::Video),
                        simulcast: layers.answered_rids().to_vec(),
                    }
                })
            }
            _ => None,
        };
        sections.push(AnswerSection { offered, accepted });
    }
    finish(offer, sections, "WMS", tracks, media, local, rng)
}

/// [`answer_play`] with the random source given (tests use a seeded one).
pub(super) fn answer_play_with(
    offer: &Offer,
    source: &PublishedMedia,
    local: &LocalTransport,
    rng: &mut impl Rng,
) -> Result<Negotiated, SdpError> {
    let stream_id = random_token_with(rng, 16);
    let cname = random_token_with(rng, 16);
    // Ours must differ from each other and from the player's own (RTCP) SSRCs.
    let mut used_ssrcs: Vec<u32> = offer
        .sections
        .iter()
        .flat_map(|s| &s.ssrcs)
        .copied()
        .collect();
    let mut taken = (false, false);
    let mut sections = Vec::with_capacity(offer.sections.len());
    let mut media = PublishedMedia::default();
    let mut tracks = Vec::new();
    for offered in &offer.sections {
        let accepted = match offered.kind() {
            Some(kind)
                if offered.is_active()
                    && offered.direction.receives()
                    && !is_taken(taken, kind) =>
            {
                let sent = match kind {
                    MediaKind::Audio => source.audio.as_ref(),
                    MediaKind::Video => source.video.as_ref(),
                };
                let chosen = sent.and_then(|sent| {
                    choose_play_codec(&offered.codecs, sent).map(|codec| (sent, codec))
                });
                chosen.map(|(sent, codec)| {
                    mark(&mut taken, kind);
                    let extensions = offered
                        .extmaps
                        .iter()
                        .filter(|e| {
                            !is_rid_extension(&e.uri)
                                && sent.extensions.iter().any(|(_, uri)| *uri == e.uri)
                        })
                        .map(|e| (e.id, e.uri.clone()))
                        .collect::<Vec<_>>();
                    let ssrc = random_ssrc(rng, &used_ssrcs);
                    used_ssrcs.push(ssrc);
                    let transport_cc = extensions.iter().any(|(_, uri)| uri == TWCC_URI);
                    let answered =
                        answered_codec(kind, codec, transport_cc.then_some(TRANSPORT_CC));
                    let rtx = accepted_rtx(kind, offered, codec);
                    let rtx_ssrc = rtx.as_ref().map(|_| {
                        let rtx_ssrc = random_ssrc(rng, &used_ssrcs);
                        used_ssrcs.push(rtx_ssrc);
                        rtx_ssrc
                    });
                    tracks.push(TrackSpec {
                        remb: false,
                        layers: Vec::new(),
                        kind,
                        codec: codec.name.clone(),
                        payload_type: codec.payload_type,
                        clock_rate: codec.clock_rate,
                        ssrc: Some(ssrc),
                        extensions: extensions.clone(),
                        nack: has_nack(&answered),
                        rtx: rtx.as_ref().map(|rtx| RtxSpec {
                            payload_type: rtx.payload_type,
                            ssrc: rtx_ssrc,
                        }),
                    });
                    let negotiated = negotiated(codec, &extensions);
                    match kind {
                        MediaKind::Audio => media.audio = Some(negotiated),
                        MediaKind::Video => media.video = Some(negotiated),
                    }
                    Accepted {
                        direction: Direction::SendOnly,
                        codec: answered,
                        rtx,
                        extensions,
                        max_bitrate: None,
                        simulcast: Vec::new(),
                        source: Some(SendSource {
                            ssrc,
                            rtx_ssrc,
                            cname: cname.clone(),
                            stream_id: stream_id.clone(),
                            track_id: random_token_with(rng, 16),
                        }),
                    }
                })
            }
            _ => None,
        };
        sections.push(AnswerSection { offered, accepted });
    }
    let semantic = format!("WMS {stream_id}");
    finish(offer, sections, &semantic, tracks, media, local, rng)
}

/// Whether a section of `kind` was already accepted.
fn is_taken(taken: (bool, bool), kind: MediaKind) -> bool {
    match kind {
        MediaKind::Audio => taken.0,
        MediaKind::Video => taken.1,
    }
}

fn mark(taken: &mut (bool, bool), kind: MediaKind) {
    match kind {
        MediaKind::Audio => taken.0 = true,
        MediaKind::Video => taken.1 = true,
    }
}

fn negotiated(codec: &Codec, extensions: &[(u8, String)]) -> NegotiatedCodec {
    NegotiatedCodec {
        name: codec.name.clone(),
        payload_type: codec.payload_type,
        clock_rate: codec.clock_rate,
        channels: codec.channels,
        fmtp: codec.fmtp.clone(),
        extensions: extensions.to_vec(),
    }
}

/// `fmtp` with Chrome's `x-google-min-bitrate` and `x-google-start-bitrate` (kbit/s) as the
/// `policy` sets them (replacing any there; the start kept within the policy's bounds). Within
/// [`MAX_FMTP_LEN`]: offered parameters that would push it past are left out. Unchanged when
/// the policy sets neither.
fn with_google_bitrates(fmtp: Option<&str>, policy: &PublishPolicy) -> Option<String> {
    let start = policy.start_bitrate.map(|s| {
        let s = s.max(policy.min_bitrate.unwrap_or(0));
        policy.max_bitrate.map_or(s, |max| s.min(max))
    });
    let ours: Vec<String> = [
        ("x-google-min-bitrate", policy.min_bitrate),
        ("x-google-start-bitrate", start),
    ]
    .into_iter()
    .filter_map(|(key, bps)| Some(format!("{key}={}", bps? / 1000)))
    .collect();
    if ours.is_empty() {
        return fmtp.map(str::to_owned);
    }
    let ours_len = ours.iter().map(|p| p.len() + 1).sum::<usize>() - 1;
    let mut room = MAX_FMTP_LEN - ours_len;
    let replaced = |p: &str| {
        let p = p.trim_start();
        p.starts_with("x-google-min-bitrate=") || p.starts_with("x-google-start-bitrate=")
    };
    let kept = fmtp
        .into_iter()
        .flat_map(|f| f.split(';'))
        .filter(|p| !p.is_empty() && !replaced(p))
        .take_while(|p| {
            let fits = p.len() < room;
            room = room.saturating_sub(p.len() + 1);
            fits
        });
    Some(
        kept.chain(ours.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(";"),
    )
}

/// The offered codec with only the offered feedback we implement (video: nack, pli, fir;
/// audio: nack; and the `congestion` feedback we send, `transport-cc` or `goog-remb`).
fn answered_codec(kind: MediaKind, offered: &Codec, congestion: Option<&'static str>) -> Codec {
    let implemented: &[&str] = match kind {
        MediaKind::Audio => &AUDIO_FEEDBACK,
        MediaKind::Video => &VIDEO_FEEDBACK,
    };
    let rtcp_fb = implemented
        .iter()
        .chain(congestion.as_ref())
        .filter(|fb| offered.rtcp_fb.iter().any(|o| o == *fb))
        .map(|fb| (*fb).to_owned())
        .collect();
    Codec {
        rtcp_fb,
        ..offered.clone()
    }
}

/// The RTX payload type we answer for the chosen video `codec` of `offered`, as we write it
/// (`apt=<codec pt>`); never for audio.
fn accepted_rtx(kind: MediaKind, offered: &MediaSection, codec: &Codec) -> Option<Codec> {
    match kind {
        MediaKind::Audio => None,
        MediaKind::Video => {
            rtx_codec(&offered.codecs, codec).map(|rtx| rtx_line(rtx.payload_type, codec))
        }
    }
}

/// Checks bundling, picks the remote transport and writes the answer.
fn finish(
    offer: &Offer,
    sections: Vec<AnswerSection<'_>>,
    msid_semantic: &str,
    tracks: Vec<TrackSpec>,
    media: PublishedMedia,
    local: &LocalTransport,
    rng: &mut impl Rng,
) -> Result<Negotiated, SdpError> {
    let accepted: Vec<&MediaSection> = sections
        .iter()
        .filter(|s| s.accepted.is_some())
        .map(|s| s.offered)
        .collect();
    let Some(first) = accepted.first() else {
        return Err(SdpError::NoCommonCodecs);
    };
    let group = offer.bundle.as_deref().unwrap_or_default();
    let in_group = |s: &&MediaSection| s.mid.as_ref().is_some_and(|m| group.contains(m));
    if accepted.len() > 1 && !accepted.iter().all(in_group) {
        return Err(SdpError::NotBundled);
    }
    let bundle: Vec<&str> = group
        .iter()
        .filter(|mid| accepted.iter().any(|s| s.mid.as_ref() == Some(*mid)))
        .map(String::as_str)
        .collect();
    let (Some(remote_ufrag), Some(remote_pwd)) = (first.ufrag.clone(), first.pwd.clone()) else {
        return Err(SdpError::NoIceCredentials);
    };
    let remote_fingerprint = first.sha256_fingerprint()?.clone();
    let session_id = rng.gen_range(1..=i64::MAX as u64);
    let answer = write_answer(&sections, &bundle, msid_semantic, local, session_id);
    Ok(Negotiated {
        answer,
        tracks,
        remote_ufrag,
        remote_pwd,
        remote_fingerprint,
        media,
    })
}
