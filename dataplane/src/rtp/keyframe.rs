//! Keyframe detection on an RTP payload, used to start a new subscriber's video at a keyframe.
//!
//! Reads only the codec's payload descriptor / NAL headers; never allocates. A payload too short
//! to tell is "not a keyframe".

/// The video codecs whose keyframes we can recognise.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VideoCodecKind {
    /// H.264, RFC 6184 packetization.
    H264,
    /// VP8, RFC 7741.
    Vp8,
    /// VP9, RFC 9628 (draft-ietf-payload-vp9).
    Vp9,
    /// AV1, the AOM RTP payload format.
    Av1,
}

/// Whether `payload` (an RTP payload, padding excluded) starts, or carries the start of, a
/// keyframe of `codec`. Garbage or truncated payloads return `false`.
pub fn is_keyframe(codec: VideoCodecKind, payload: &[u8]) -> bool {
    match codec {
        VideoCodecKind::H264 => h264(payload),
        VideoCodecKind::Vp8 => vp8(payload),
        VideoCodecKind::Vp9 => vp9(payload),
        VideoCodecKind::Av1 => av1(payload),
    }
}

/// RFC 7741 §4.2/§4.3: a keyframe is the start of partition 0 (S=1, PID=0) whose VP8 frame
/// header has the P (inverse key frame) bit clear.
fn vp8(p: &[u8]) -> bool {
    let Some(&b0) = p.first() else {
        return false;
    };
    let start = b0 & 0x10 != 0;
    let pid = b0 & 0x07;
    if !start || pid != 0 {
        return false;
    }
    let mut pos = 1;
    if b0 & 0x80 != 0 {
        // X: extended control bits I|L|T|K.
        let Some(&x) = p.get(1) else {
            return false;
        };
        pos = 2;
        if x & 0x80 != 0 {
            // I: PictureID, 15 bits when M is set.
            let Some(&pic) = p.get(pos) else {
                return false;
            };
            pos += if pic & 0x80 != 0 { 2 } else { 1 };
        }
        if x & 0x40 != 0 {
            pos += 1; // L: TL0PICIDX
        }
        if x & 0x30 != 0 {
            pos += 1; // T or K: TID|Y|KEYIDX
        }
    }
    p.get(pos).is_some_and(|h| h & 0x01 == 0)
}

const H264_IDR: u8 = 5;
const H264_SPS: u8 = 7;
const H264_STAP_A: u8 = 24;
const H264_FU_A: u8 = 28;

fn h264_key_nal(t: u8) -> bool {
    t == H264_IDR || t == H264_SPS
}

/// RFC 6184: a single NAL unit of type IDR (5) or SPS (7), such a NAL inside a STAP-A, or the
/// start fragment of an FU-A carrying one.
fn h264(p: &[u8]) -> bool {
    let Some(&b0) = p.first() else {
        return false;
    };
    match b0 & 0x1F {
        t @ 1..=23 => h264_key_nal(t),
        H264_STAP_A => {
            let mut pos = 1;
            while let Some(size) = p.get(pos..pos + 2) {
                let size = usize::from(u16::from_be_bytes([size[0], size[1]]));
                pos += 2;
                let Some(&nal) = p.get(pos).filter(|_| size > 0 && pos + size <= p.len()) else {
                    return false;
                };
                if h264_key_nal(nal & 0x1F) {
                    return true;
                }
                pos += size;
            }
            false
        }
        H264_FU_A => p
            .get(1)
            .is_some_and(|fu| fu & 0x80 != 0 && h264_key_nal(fu & 0x1F)),
        _ => false,
    }
}

/// RFC 9628 §4.2: P (inter-picture predicted) clear and B (start of frame) set; with a layer
/// index present, only the base spatial layer (SID 0) counts.
fn vp9(p: &[u8]) -> bool {
    let Some(&b0) = p.first() else {
        return false;
    };
    let predicted = b0 & 0x40 != 0;
    let begin = b0 & 0x08 != 0;
    if predicted || !begin {
        return false;
    }
    if b0 & 0x20 == 0 {
        return true;
    }
    // L: find the layer index after the optional picture id.
    let mut pos = 1;
    if b0 & 0x80 != 0 {
        let Some(&pic) = p.get(pos) else {
            return false;
        };
        pos += if pic & 0x80 != 0 { 2 } else { 1 };
    }
    p.get(pos).is_some_and(|l| (l >> 1) & 0x07 == 0)
}

/// AV1 RTP spec §4.4: the aggregation header's N bit marks the first packet of a new coded
/// video sequence, which starts with a keyframe.
fn av1(p: &[u8]) -> bool {
    p.first().is_some_and(|h| h & 0x08 != 0)
}
