//! Demultiplexing of the one UDP port every peer shares (RFC 7983 §7).
//!
//! Owns only the first-byte classification of a datagram into STUN, DTLS, RTP or RTCP. It looks
//! at no table and no state; routing a classified datagram to a peer is the worker's job.

#![forbid(unsafe_code)]

/// Minimum length of a STUN message (its header).
const STUN_MIN: usize = 20;
/// Minimum length of a DTLS record (its header).
const DTLS_MIN: usize = 13;
/// Minimum length of an RTP packet (the fixed header).
const RTP_MIN: usize = 12;
/// Minimum length of an RTCP packet (header plus sender SSRC).
const RTCP_MIN: usize = 8;

/// What a datagram received on the media port carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PacketClass {
    /// A STUN message (ICE connectivity check or response).
    Stun,
    /// A DTLS record.
    Dtls,
    /// An RTP packet (SRTP on the wire).
    Rtp,
    /// An RTCP packet (SRTCP on the wire).
    Rtcp,
    /// Anything else, including datagrams too short for the class their first byte names.
    Unknown,
}

/// Classifies a datagram by its first byte (and, for RTP/RTCP, its second byte).
///
/// First byte 0–3: STUN, 20–63: DTLS, 128–191: RTP, or RTCP when the second byte (the RTCP
/// packet type, or RTP marker bit plus payload type) is 192–223. A datagram shorter than the
/// minimal header of its class is [`PacketClass::Unknown`].
#[must_use]
pub fn classify(buf: &[u8]) -> PacketClass {
    let (class, min) = match buf {
        [0..=3, ..] => (PacketClass::Stun, STUN_MIN),
        [20..=63, ..] => (PacketClass::Dtls, DTLS_MIN),
        [128..=191, 192..=223, ..] => (PacketClass::Rtcp, RTCP_MIN),
        [128..=191, ..] => (PacketClass::Rtp, RTP_MIN),
        _ => return PacketClass::Unknown,
    };
    if buf.len() < min {
        PacketClass::Unknown
    } else {
        class
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_prefix(first: u8, second: u8, len: usize) -> Vec<u8> {
        let mut v = vec![0u8; len];
        if len > 0 {
            v[0] = first;
        }
        if len > 1 {
            v[1] = second;
        }
        v
    }

    #[test]
    fn ranges_of_rfc7983() {
        for b in 0..=255u8 {
            let expected = match b {
                0..=3 => PacketClass::Stun,
                20..=63 => PacketClass::Dtls,
                128..=191 => PacketClass::Rtp,
                _ => PacketClass::Unknown,
            };
            assert_eq!(
                classify(&with_prefix(b, 96, 64)),
                expected,
                "first byte {b}"
            );
        }
    }

    #[test]
    fn rtcp_by_second_byte() {
        for pt in 0..=255u8 {
            let expected = if (192..=223).contains(&pt) {
                PacketClass::Rtcp
            } else {
                PacketClass::Rtp
            };
            assert_eq!(
                classify(&with_prefix(0x80, pt, 64)),
                expected,
                "second byte {pt}"
            );
        }
    }

    #[test]
    fn short_buffers_are_unknown() {
        let cases = [
            (0x00, 0x01, STUN_MIN, PacketClass::Stun),
            (0x16, 0xfe, DTLS_MIN, PacketClass::Dtls),
            (0x80, 0x60, RTP_MIN, PacketClass::Rtp),
            (0x81, 0xc8, RTCP_MIN, PacketClass::Rtcp),
        ];
        for (first, second, min, class) in cases {
            for len in 0..min {
                assert_eq!(
                    classify(&with_prefix(first, second, len)),
                    PacketClass::Unknown
                );
            }
            assert_eq!(classify(&with_prefix(first, second, min)), class);
        }
    }

    #[test]
    fn empty_is_unknown() {
        assert_eq!(classify(&[]), PacketClass::Unknown);
    }
}
