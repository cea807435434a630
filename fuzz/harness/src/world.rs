//! The fixed surroundings of the media targets: peers negotiated once per process from the
//! real browser offers of `tests/fixtures` by the production answerer, exactly the
//! [`PeerSpec`]s the control plane hands the data plane.

use std::net::SocketAddr;
use std::sync::OnceLock;

use control::config::VideoCodec;
use control::sdp::{
    answer_play, answer_publish_with_policy, parse_offer, LocalTransport, Negotiated, PublishPolicy,
};
use dataplane::api::{
    Fingerprint, LayerChoice, MediaKind, PeerId, PeerRole, PeerSpec, StreamId, WorkerId,
    ABS_SEND_TIME_URI, RID_URI,
};
use dataplane::rtcp::TWCC_URI;

pub(crate) const CHROME_PUBLISH: &str =
    include_str!("../../../tests/fixtures/chrome_publish_offer.sdp");
pub(crate) const CHROME_SIMULCAST: &str =
    include_str!("../../../tests/fixtures/chrome_simulcast_offer.sdp");
pub(crate) const FIREFOX_PUBLISH: &str =
    include_str!("../../../tests/fixtures/firefox_publish_offer.sdp");
pub(crate) const CHROME_PLAY: &str = include_str!("../../../tests/fixtures/chrome_play_offer.sdp");

/// Our side of every answer.
pub(crate) fn local() -> LocalTransport {
    LocalTransport {
        ufrag: "srvU".to_owned(),
        pwd: "serverpassword0123456789".to_owned(),
        fingerprint: Fingerprint {
            algorithm: "sha-256".to_owned(),
            digest: (0u8..32).collect(),
        },
        candidate: SocketAddr::from(([127, 0, 0, 1], 31000)),
    }
}

/// One publisher and the viewer that plays its stream.
pub(crate) struct Pair {
    pub(crate) publisher: PeerSpec,
    pub(crate) viewer: PeerSpec,
}

/// The publishers the rtp and rtcp targets choose from (by the input's first byte):
/// Chrome H.264 with transport-wide feedback, Chrome VP8 rid simulcast, Firefox VP8, and
/// Chrome H.264 answered without transport-wide feedback (REMB from abs-send-time).
pub(crate) fn pairs() -> &'static [Pair] {
    static PAIRS: OnceLock<Vec<Pair>> = OnceLock::new();
    PAIRS.get_or_init(|| {
        let remb_only = PublishPolicy {
            transport_cc: false,
            ..PublishPolicy::default()
        };
        vec![
            pair(CHROME_PUBLISH, VideoCodec::H264, PublishPolicy::default()),
            pair(CHROME_SIMULCAST, VideoCodec::Vp8, PublishPolicy::default()),
            pair(FIREFOX_PUBLISH, VideoCodec::Vp8, PublishPolicy::default()),
            pair(CHROME_PUBLISH, VideoCodec::H264, remb_only),
        ]
    })
}

fn pair(offer: &str, codec: VideoCodec, policy: PublishPolicy) -> Pair {
    let offer = parse_offer(offer).expect("fixture offer parses");
    let published = answer_publish_with_policy(&offer, &[codec], &policy, &local())
        .expect("fixture offer is answered");
    let play = parse_offer(CHROME_PLAY).expect("fixture play offer parses");
    let played = answer_play(&play, &published.media, &local()).expect("fixture play answer");
    let stream = StreamId(1);
    Pair {
        publisher: spec(
            PeerId(1),
            PeerRole::Publisher { stream },
            &published,
            LayerChoice::Auto,
        ),
        viewer: spec(
            PeerId(2),
            PeerRole::Subscriber {
                stream,
                source: WorkerId(0),
            },
            &played,
            LayerChoice::Auto,
        ),
    }
}

fn spec(id: PeerId, role: PeerRole, n: &Negotiated, layer_choice: LayerChoice) -> PeerSpec {
    let local = local();
    PeerSpec {
        id,
        role,
        local_ufrag: local.ufrag,
        local_pwd: local.pwd,
        remote_ufrag: n.remote_ufrag.clone(),
        remote_pwd: n.remote_pwd.clone(),
        remote_fingerprint: n.remote_fingerprint.clone(),
        tracks: n.tracks.clone(),
        layer_choice,
    }
}

/// The viewer's layer choice coded in two bits of a selector byte.
pub(crate) fn layer_choice(code: u8) -> LayerChoice {
    match code & 3 {
        0 => LayerChoice::Auto,
        1 => LayerChoice::Lowest,
        2 => LayerChoice::Middle,
        _ => LayerChoice::Highest,
    }
}

/// A media packet `spec`'s publisher could send: video (a keyframe when `keyframe`, as the
/// track's codec packs one) or audio, of simulcast layer `layer`, with the publisher's own
/// ids of the transport-wide sequence number, abs-send-time and rid extensions it negotiated
/// (one-byte form).
pub fn media_packet(
    spec: &PeerSpec,
    kind: MediaKind,
    layer: usize,
    seq: u16,
    keyframe: bool,
) -> Vec<u8> {
    let Some(track) = spec.track(kind) else {
        return Vec::new();
    };
    let layer_spec = track.layers.get(layer);
    let ssrc = layer_spec
        .and_then(|l| l.ssrc)
        .or(track.ssrc)
        .unwrap_or(0x1000 + layer as u32);
    let mut ext = Vec::new();
    for (id, uri) in &track.extensions {
        let value: Vec<u8> = match uri.as_str() {
            TWCC_URI => seq.to_be_bytes().to_vec(),
            ABS_SEND_TIME_URI => (u32::from(seq) * 1000).to_be_bytes()[1..].to_vec(),
            RID_URI => match layer_spec {
                Some(l) if !l.rid.is_empty() => l.rid.as_bytes().to_vec(),
                _ => continue,
            },
            _ => continue,
        };
        if *id == 0 || *id > 14 || value.is_empty() || value.len() > 16 {
            continue;
        }
        ext.push((id << 4) | (value.len() as u8 - 1));
        ext.extend_from_slice(&value);
    }
    while ext.len() % 4 != 0 {
        ext.push(0);
    }
    let mut p = Vec::with_capacity(64);
    p.push(if ext.is_empty() { 0x80 } else { 0x90 });
    p.push(track.payload_type & 0x7f);
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 3000).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    if !ext.is_empty() {
        p.extend_from_slice(&[0xbe, 0xde]);
        p.extend_from_slice(&((ext.len() / 4) as u16).to_be_bytes());
        p.extend_from_slice(&ext);
    }
    let payload: &[u8] = match (kind, track.codec.to_ascii_uppercase().as_str(), keyframe) {
        (MediaKind::Audio, ..) => &[0xfc, 0xff, 0xfe],
        (_, "H264", true) => &[0x65, 0x88, 0x84, 0x00, 0x33],
        (_, "H264", false) => &[0x41, 0x9a, 0x02, 0x04],
        (_, "VP8", true) => &[0x90, 0x80, 0x05, 0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a],
        (_, "VP8", false) => &[0x90, 0x80, 0x06, 0x00, 0x31, 0x01],
        (_, "VP9", true) => &[0x88, 0x00, 0x01],
        (_, "AV1", true) => &[0x08, 0x00, 0x01],
        _ => &[0x00, 0x01, 0x02],
    };
    p.extend_from_slice(payload);
    p
}
