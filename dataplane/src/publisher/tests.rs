//! Which SRTP packets of a publisher are worth decrypting, from their clear headers.

use std::time::Instant;

use super::*;
use crate::api::{Fingerprint, LayerSpec, PeerId, PeerRole, RtxSpec, StreamId};

const RID: u8 = 10;
const RRID: u8 = 11;

/// A publisher of one video track with layers l, m, h known by rid only, and RTX (PT 97)
/// whose SSRCs are learnt from the repaired stream id.
fn rid_publisher() -> Publisher {
    let track = TrackSpec {
        kind: MediaKind::Video,
        codec: "VP8".to_owned(),
        payload_type: 96,
        clock_rate: 90_000,
        ssrc: None,
        extensions: vec![
            (RID, RID_URI.to_owned()),
            (RRID, REPAIRED_RID_URI.to_owned()),
        ],
        nack: true,
        rtx: Some(RtxSpec {
            payload_type: 97,
            ssrc: None,
        }),
        remb: false,
        layers: ["l", "m", "h"]
            .iter()
            .map(|rid| LayerSpec {
                rid: (*rid).to_owned(),
                ssrc: None,
                rtx_ssrc: None,
            })
            .collect(),
    };
    let spec = PeerSpec {
        id: PeerId(1),
        role: PeerRole::Publisher {
            stream: StreamId(1),
        },
        local_ufrag: String::new(),
        local_pwd: String::new(),
        remote_ufrag: String::new(),
        remote_pwd: String::new(),
        remote_fingerprint: Fingerprint {
            algorithm: "sha-256".to_owned(),
            digest: vec![0; 32],
        },
        tracks: vec![track],
        layer_choice: Default::default(),
    };
    Publisher::new(&spec, 1, Instant::now())
}

/// An SRTP-looking packet: header with extension `(id, value)` if any, 20 bytes of
/// "ciphertext and tag" ending in 0 (an encrypted padding count would read as 0).
fn sealed(pt: u8, ssrc: u32, ext: Option<(u8, u8)>, padding_bit: bool) -> Vec<u8> {
    let mut p = vec![
        0x80 | if padding_bit { 0x20 } else { 0 },
        pt,
        0,
        1,
        0,
        0,
        0,
        1,
    ];
    p.extend_from_slice(&ssrc.to_be_bytes());
    if let Some((id, value)) = ext {
        p[0] |= 0x10;
        p.extend_from_slice(&[0xBE, 0xDE, 0, 1, id << 4, value, 0, 0]);
    }
    p.extend_from_slice(&[0x33; 19]);
    p.push(0);
    p
}

#[test]
fn new_ssrcs_are_admitted_only_while_they_name_an_encoding_still_to_be_learnt() {
    let mut p = rid_publisher();
    // Media naming a layer, and RTX (a padding-only probe) naming the layer it repairs.
    assert!(p.admits(&sealed(96, 0xA, Some((RID, b'h')), false)));
    assert!(p.admits(&sealed(97, 0xB, Some((RRID, b'm')), true)));
    // No stream id, an unknown one, the wrong extension, an unknown payload type.
    assert!(!p.admits(&sealed(96, 0xA, None, false)));
    assert!(!p.admits(&sealed(96, 0xA, Some((RID, b'z')), false)));
    assert!(!p.admits(&sealed(96, 0xA, Some((RRID, b'h')), false)));
    assert!(!p.admits(&sealed(111, 0xA, Some((RID, b'h')), false)));
    assert!(!p.admits(&[0x80, 96, 0, 1]), "too short for an SSRC");

    // Layer h's SSRC is learnt from its first (decrypted) packet...
    let mut first = BytesMut::from(&sealed(96, 0xA, Some((RID, b'h')), false)[..]);
    assert!(p.on_rtp(Instant::now(), &mut first).is_ok());
    // ... then it is known (its stream id no longer needed), and no other SSRC may claim h.
    assert!(p.admits(&sealed(96, 0xA, None, false)));
    assert!(!p.admits(&sealed(96, 0xC, Some((RID, b'h')), false)));
    assert!(
        p.admits(&sealed(96, 0xC, Some((RID, b'l')), false)),
        "l is still open"
    );
}
