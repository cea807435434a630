//! The SDP of a relay leg: the origin's sendonly offer to an edge and the [`TrackSpec`]s of
//! the origin's relay peer from the edge's answer.
//!
//! The offer repeats the publisher's codecs, payload types and extension ids with fresh SSRCs,
//! and offers loss repair on the video: `nack` (with `nack pli`, `ccm fir`) and an RTX payload
//! type with its own SSRC in an `a=ssrc-group:FID`. The edge answers it as any publisher's
//! offer (its `Publisher` track gets the RTX payload type and SSRC from our offer); the relay
//! peer's `nack`/`rtx` are what the edge accepted, with our RTX SSRC, so both ends of the leg
//! agree: the edge NACKs the origin and the origin retransmits with RTX.
//!
//! A simulcast publisher's video is relayed with every layer, in the SSRC-group form whatever
//! form the publisher used: a fresh SSRC and RTX SSRC per layer, `a=ssrc-group:SIM` in the
//! publisher's layer order and a FID group per layer. The edge reads it as any SSRC-group
//! publish, so its stream has the same layers; the relay peer sends layer `i` under our
//! SSRCs of layer `i`. The RTP stream id extensions of rid simulcast are not offered (the
//! layers are told apart by SSRC on the leg).

use dataplane::api::{
    Fingerprint, LayerSpec, MediaKind, RtxSpec, TrackSpec, REPAIRED_RID_URI, RID_URI,
};
use rand::Rng;

use crate::ice::{random_ssrc, random_token, IceCredentials};
use crate::sdp::{
    self, Direction, NegotiatedCodec, OfferLayer, OfferRtx, OfferSpec, OfferTrack, PublishedMedia,
};

/// Why an answer from an edge cannot start a relay peer (logged; the leg is retried).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    /// The SDP did not parse.
    #[error("unreadable answer SDP")]
    Sdp,
    /// No candidate to send checks to.
    #[error("answer has no UDP candidate")]
    NoCandidate,
    /// The edge accepted no track or a codec we did not offer.
    #[error("answer accepts none of our tracks")]
    NoTracks,
}

fn offer_track(
    codec: &NegotiatedCodec,
    kind: MediaKind,
    ssrc: u32,
    rtx_ssrc: u32,
    layers: Vec<OfferLayer>,
) -> OfferTrack {
    let (rtcp_fb, rtx) = match kind {
        MediaKind::Audio => (Vec::new(), None),
        MediaKind::Video => (
            ["ccm fir", "nack", "nack pli"].map(str::to_owned).to_vec(),
            Some(OfferRtx {
                ssrc: Some(rtx_ssrc),
            }),
        ),
    };
    OfferTrack {
        codecs: vec![sdp::Codec {
            payload_type: codec.payload_type,
            name: codec.name.clone(),
            clock_rate: codec.clock_rate,
            channels: codec.channels,
            fmtp: codec.fmtp.clone(),
            rtcp_fb,
        }],
        // Transport-wide numbers included: the origin numbers what it relays like any
        // subscriber, the edge reports arrivals back, and the edge's players get numbered too.
        extensions: codec
            .extensions
            .iter()
            .filter(|(_, uri)| uri != RID_URI && uri != REPAIRED_RID_URI)
            .cloned()
            .collect(),
        ssrc: Some(ssrc),
        rtx,
        track_id: format!("relay{ssrc:08x}"),
        layers,
    }
}

/// A sendonly offer with exactly the publisher's codecs, PTs and extension ids, fresh SSRCs
/// (audio, video, video RTX; with simulcast a video and RTX SSRC per layer, the first layer's
/// being the video's) and ICE credentials.
pub(super) fn relay_offer(media: &PublishedMedia, fingerprint: &Fingerprint) -> OfferSpec {
    let mut rng = rand::thread_rng();
    let audio_ssrc = random_ssrc(&mut rng, &[]);
    let video_ssrc = random_ssrc(&mut rng, &[audio_ssrc]);
    let rtx_ssrc = random_ssrc(&mut rng, &[audio_ssrc, video_ssrc]);
    let mut used = vec![audio_ssrc, video_ssrc, rtx_ssrc];
    let layers: Vec<OfferLayer> = (0..media.layers.len())
        .map(|i| {
            let (ssrc, rtx) = if i == 0 {
                (video_ssrc, rtx_ssrc)
            } else {
                let ssrc = random_ssrc(&mut rng, &used);
                used.push(ssrc);
                let rtx = random_ssrc(&mut rng, &used);
                used.push(rtx);
                (ssrc, rtx)
            };
            OfferLayer {
                ssrc,
                rtx_ssrc: Some(rtx),
            }
        })
        .collect();
    let IceCredentials { ufrag, pwd } = IceCredentials::random();
    OfferSpec {
        direction: Direction::SendOnly,
        ufrag,
        pwd,
        fingerprint: fingerprint.clone(),
        session_id: rng.gen::<u64>() >> 2,
        cname: random_token(16),
        stream_id: random_token(16),
        audio: media
            .audio
            .as_ref()
            .map(|c| offer_track(c, MediaKind::Audio, audio_ssrc, rtx_ssrc, Vec::new())),
        video: media
            .video
            .as_ref()
            .map(|c| offer_track(c, MediaKind::Video, video_ssrc, rtx_ssrc, layers)),
        candidate: None,
    }
}

/// The tracks we send as the edge accepted them: its extensions, its NACK, and RTX when it
/// accepted the RTX payload type we offered for the codec (sent with our offer's RTX SSRC);
/// the video's layers are our offer's, with their RTX SSRCs only when RTX was accepted.
pub(super) fn answered_tracks(offer: &OfferSpec, answer: &sdp::Answer) -> Vec<TrackSpec> {
    let rtx_pts = offer.rtx_payload_types();
    let pairs = [
        (MediaKind::Audio, &offer.audio, &answer.audio),
        (MediaKind::Video, &offer.video, &answer.video),
    ];
    pairs
        .into_iter()
        .filter_map(|(kind, ours, theirs)| {
            let (ours, theirs) = (ours.as_ref()?, theirs.as_ref()?);
            let codec = ours.codecs.first()?;
            let same = codec.payload_type == theirs.codec.payload_type
                && codec.name.eq_ignore_ascii_case(&theirs.codec.name);
            let rtx = theirs
                .rtx
                .filter(|r| rtx_pts.contains(&(kind, codec.payload_type, r.payload_type)))
                .zip(ours.rtx.and_then(|r| r.ssrc))
                .map(|(r, ssrc)| RtxSpec {
                    payload_type: r.payload_type,
                    ssrc: Some(ssrc),
                });
            let layers = ours
                .layers
                .iter()
                .map(|l| LayerSpec {
                    rid: String::new(),
                    ssrc: Some(l.ssrc),
                    rtx_ssrc: l.rtx_ssrc.filter(|_| rtx.is_some()),
                })
                .collect();
            same.then(|| TrackSpec {
                remb: false,
                layers,
                kind,
                codec: codec.name.clone(),
                payload_type: codec.payload_type,
                clock_rate: codec.clock_rate,
                ssrc: ours.ssrc,
                extensions: theirs.codec.extensions.clone(),
                nack: theirs.nack && sdp::has_nack(codec),
                rtx,
            })
        })
        .collect()
}
