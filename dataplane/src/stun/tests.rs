//! STUN tests: RFC 5769 known answers, round trips of the writers, and hostile input.

use super::*;

pub(crate) const PASSWORD: &[u8] = b"VOkJxbRl1RmTxUk/WvJxBt";
const TXID: [u8; 12] = [
    0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
];

/// RFC 5769 §2.1: sample request.
pub(crate) const SAMPLE_REQUEST: [u8; 108] = [
    0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10, 0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73,
    0x74, 0x20, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74, 0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff,
    0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36, 0x00, 0x06, 0x00, 0x09,
    0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76, 0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14,
    0x9a, 0xea, 0xa7, 0x0c, 0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49,
    0xc1, 0xb5, 0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf,
];

/// RFC 5769 §2.2: sample IPv4 response (192.0.2.1:32853).
const SAMPLE_RESPONSE_V4: [u8; 80] = [
    0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
    0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
    0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3, 0x8c, 0x74, 0x89, 0xf9,
    0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7, 0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96,
];

/// RFC 5769 §2.3: sample IPv6 response ([2001:db8:1234:5678:11:2233:4455:6677]:32853).
const SAMPLE_RESPONSE_V6: [u8; 92] = [
    0x01, 0x01, 0x00, 0x48, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
    0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x14, 0x00, 0x02, 0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa,
    0xa5, 0xd3, 0xf1, 0x79, 0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9, 0x00, 0x08, 0x00, 0x14,
    0xa3, 0x82, 0x95, 0x4e, 0x4b, 0xe6, 0x7b, 0xf1, 0x17, 0x84, 0xc9, 0x7c, 0x82, 0x92, 0xc2, 0x75,
    0xbf, 0xe3, 0xed, 0x41, 0x80, 0x28, 0x00, 0x04, 0xc8, 0xfb, 0x0b, 0x4c,
];

fn v4_mapped() -> SocketAddr {
    "192.0.2.1:32853".parse().unwrap()
}

fn v6_mapped() -> SocketAddr {
    "[2001:db8:1234:5678:11:2233:4455:6677]:32853"
        .parse()
        .unwrap()
}

#[test]
fn rfc5769_sample_request() {
    let m = StunMessage::parse(&SAMPLE_REQUEST).unwrap();
    assert_eq!(m.class(), StunClass::Request);
    assert_eq!(m.method(), METHOD_BINDING);
    assert!(m.is_binding_request());
    assert_eq!(m.transaction_id(), TXID);
    assert_eq!(m.username(), Some(&b"evtj:h6vY"[..]));
    assert_eq!(local_ufrag(m.username().unwrap()), Some(&b"evtj"[..]));
    assert_eq!(m.priority(), Some(0x6e0001ff));
    assert_eq!(m.ice_controlled(), Some(0x932ff9b151263b36));
    assert_eq!(m.ice_controlling(), None);
    assert!(!m.has_use_candidate());
    assert!(m.verify_integrity(PASSWORD));
    assert!(!m.verify_integrity(b"VOkJxbRl1RmTxUk/WvJxBu"));
    assert!(m.verify_fingerprint());
}

#[test]
fn rfc5769_sample_responses() {
    for (bytes, mapped) in [
        (&SAMPLE_RESPONSE_V4[..], v4_mapped()),
        (&SAMPLE_RESPONSE_V6[..], v6_mapped()),
    ] {
        let m = StunMessage::parse(bytes).unwrap();
        assert_eq!(m.class(), StunClass::SuccessResponse);
        assert_eq!(m.method(), METHOD_BINDING);
        assert_eq!(m.transaction_id(), TXID);
        assert_eq!(m.xor_mapped_address(), Some(mapped));
        assert!(m.verify_integrity(PASSWORD));
        assert!(!m.verify_integrity(b"wrong"));
        assert!(m.verify_fingerprint());
    }
}

#[test]
fn any_flipped_bit_breaks_integrity_or_fingerprint() {
    for i in 0..SAMPLE_REQUEST.len() {
        let mut b = SAMPLE_REQUEST;
        b[i] ^= 0x01;
        if let Ok(m) = StunMessage::parse(&b) {
            assert!(
                !(m.verify_integrity(PASSWORD) && m.verify_fingerprint()),
                "flip at {i} went unnoticed"
            );
        }
    }
}

#[test]
fn success_writer_matches_rfc5769_address_encoding() {
    let mut out = [0u8; 128];
    for (sample, mapped, attr_at, attr_len) in [
        (&SAMPLE_RESPONSE_V4[..], v4_mapped(), 36, 12),
        (&SAMPLE_RESPONSE_V6[..], v6_mapped(), 36, 24),
    ] {
        let n = write_binding_success(&mut out, &TXID, mapped, PASSWORD).unwrap();
        let m = StunMessage::parse(&out[..n]).unwrap();
        assert_eq!(m.class(), StunClass::SuccessResponse);
        assert_eq!(m.method(), METHOD_BINDING);
        assert_eq!(m.transaction_id(), TXID);
        assert_eq!(m.xor_mapped_address(), Some(mapped));
        assert!(m.verify_integrity(PASSWORD));
        assert!(m.verify_fingerprint());
        // Our XOR-MAPPED-ADDRESS attribute is byte-identical to the RFC's.
        assert_eq!(
            &out[20..20 + attr_len],
            &sample[attr_at..attr_at + attr_len]
        );
        assert_eq!(n, 20 + attr_len + 24 + 8);
    }
}

#[test]
fn request_writer_round_trip() {
    let mut out = [0u8; 256];
    for use_candidate in [false, true] {
        let n = write_binding_request(
            &mut out,
            &TXID,
            b"evtj:h6vY",
            PASSWORD,
            0x6e0001ff,
            0x0102030405060708,
            use_candidate,
        )
        .unwrap();
        let m = StunMessage::parse(&out[..n]).unwrap();
        assert!(m.is_binding_request());
        assert_eq!(m.transaction_id(), TXID);
        assert_eq!(m.username(), Some(&b"evtj:h6vY"[..]));
        assert_eq!(m.priority(), Some(0x6e0001ff));
        assert_eq!(m.ice_controlling(), Some(0x0102030405060708));
        assert_eq!(m.ice_controlled(), None);
        assert_eq!(m.has_use_candidate(), use_candidate);
        assert!(m.verify_integrity(PASSWORD));
        assert!(m.verify_fingerprint());
    }
}

#[test]
fn error_writer_round_trip() {
    let mut out = [0u8; 128];
    let n = write_binding_error(&mut out, &TXID, 401, None).unwrap();
    let m = StunMessage::parse(&out[..n]).unwrap();
    assert_eq!(m.class(), StunClass::ErrorResponse);
    assert_eq!(m.method(), METHOD_BINDING);
    assert_eq!(m.error_code(), Some(401));
    assert!(!m.has_integrity());
    assert!(m.verify_fingerprint());

    let n = write_binding_error(&mut out, &TXID, 487, Some(PASSWORD)).unwrap();
    let m = StunMessage::parse(&out[..n]).unwrap();
    assert_eq!(m.error_code(), Some(487));
    assert!(m.verify_integrity(PASSWORD));
    assert!(m.verify_fingerprint());

    assert!(write_binding_error(&mut out, &TXID, 200, None).is_err());
}

#[test]
fn writers_reject_small_buffers_at_every_length() {
    let mut big = [0u8; 256];
    let need = write_binding_success(&mut big, &TXID, v6_mapped(), PASSWORD).unwrap();
    for len in 0..need {
        let mut out = vec![0u8; len];
        assert_eq!(
            write_binding_success(&mut out, &TXID, v6_mapped(), PASSWORD),
            Err(StunError::BufferTooSmall)
        );
    }
    let need = write_binding_request(&mut big, &TXID, b"a:b", PASSWORD, 1, 2, true).unwrap();
    for len in 0..need {
        let mut out = vec![0u8; len];
        assert_eq!(
            write_binding_request(&mut out, &TXID, b"a:b", PASSWORD, 1, 2, true),
            Err(StunError::BufferTooSmall)
        );
    }
    let long = [b'x'; MAX_USERNAME_LEN + 1];
    assert_eq!(
        write_binding_request(&mut big, &TXID, &long, PASSWORD, 1, 2, true),
        Err(StunError::UsernameTooLong)
    );
}

#[test]
fn truncated_at_every_length_is_an_error() {
    for sample in [
        &SAMPLE_REQUEST[..],
        &SAMPLE_RESPONSE_V4[..],
        &SAMPLE_RESPONSE_V6[..],
    ] {
        for len in 0..sample.len() {
            assert!(StunMessage::parse(&sample[..len]).is_err(), "len {len}");
        }
    }
}

#[test]
fn framing_errors() {
    let mut b = SAMPLE_REQUEST;
    b[0] = 0x40;
    assert_eq!(StunMessage::parse(&b).unwrap_err(), StunError::BadType);

    let mut b = SAMPLE_REQUEST;
    b[4] = 0;
    assert_eq!(
        StunMessage::parse(&b).unwrap_err(),
        StunError::BadMagicCookie
    );

    let mut b = SAMPLE_REQUEST;
    b[3] = 0x59;
    assert_eq!(
        StunMessage::parse(&b).unwrap_err(),
        StunError::UnalignedLength
    );

    let mut b = SAMPLE_REQUEST.to_vec();
    b.extend_from_slice(&[0, 0, 0, 0]);
    assert_eq!(
        StunMessage::parse(&b).unwrap_err(),
        StunError::LengthMismatch
    );

    // SOFTWARE claims more bytes than the message has.
    let mut b = SAMPLE_REQUEST;
    b[23] = 0xf0;
    assert_eq!(
        StunMessage::parse(&b).unwrap_err(),
        StunError::AttributeOverrun
    );

    // PRIORITY with a 3-byte value.
    let mut b = SAMPLE_REQUEST;
    b[43] = 3;
    assert_eq!(
        StunMessage::parse(&b).unwrap_err(),
        StunError::BadAttribute(0x0024)
    );

    // An attribute after FINGERPRINT.
    let mut b = SAMPLE_REQUEST.to_vec();
    b.extend_from_slice(&[0x80, 0x22, 0, 0]);
    b[3] += 4;
    assert_eq!(
        StunMessage::parse(&b).unwrap_err(),
        StunError::AttributeAfterFingerprint
    );
}

#[test]
fn header_only_message() {
    let mut b = [0u8; 20];
    b[1] = 0x01;
    b[4..8].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
    let m = StunMessage::parse(&b).unwrap();
    assert!(m.is_binding_request());
    assert_eq!(m.username(), None);
    assert!(!m.verify_integrity(PASSWORD));
    assert!(!m.verify_fingerprint());
    assert_eq!(m.xor_mapped_address(), None);
}

#[test]
fn attributes_after_integrity_are_ignored() {
    // USERNAME placed after MESSAGE-INTEGRITY must not be seen.
    let mut out = [0u8; 256];
    let n = write_binding_success(&mut out, &TXID, v4_mapped(), PASSWORD).unwrap();
    // Drop the FINGERPRINT (8 bytes), append USERNAME "ab" after MESSAGE-INTEGRITY.
    let mut b = out[..n - 8].to_vec();
    b.extend_from_slice(&[0x00, 0x06, 0x00, 0x02, b'a', b'b', 0, 0]);
    let len = (b.len() - 20) as u16;
    b[2..4].copy_from_slice(&len.to_be_bytes());
    let m = StunMessage::parse(&b).unwrap();
    assert_eq!(m.username(), None);
    // Integrity still verifies: it covers only what precedes it.
    assert!(m.verify_integrity(PASSWORD));
}

#[test]
fn class_and_method_encoding() {
    for class in [
        StunClass::Request,
        StunClass::Indication,
        StunClass::SuccessResponse,
        StunClass::ErrorResponse,
    ] {
        for method in [0x001, 0x003, 0x00f, 0x010, 0x0ff, 0xabc, 0xfff] {
            let ty = message_type(class, method);
            assert_eq!(ty & 0xC000, 0);
            assert_eq!(StunClass::from_type(ty), class);
            let mut b = [0u8; 20];
            b[..2].copy_from_slice(&ty.to_be_bytes());
            b[4..8].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
            let m = StunMessage::parse(&b).unwrap();
            assert_eq!(m.method(), method);
            assert_eq!(m.class(), class);
        }
    }
    assert_eq!(
        message_type(StunClass::SuccessResponse, METHOD_BINDING),
        0x0101
    );
    assert_eq!(
        message_type(StunClass::ErrorResponse, METHOD_BINDING),
        0x0111
    );
}

#[test]
fn local_ufrag_splits_at_first_colon() {
    assert_eq!(local_ufrag(b"abcd:efgh"), Some(&b"abcd"[..]));
    assert_eq!(local_ufrag(b"a:b:c"), Some(&b"a"[..]));
    assert_eq!(local_ufrag(b"abcd"), None);
    assert_eq!(local_ufrag(b":efgh"), None);
    assert_eq!(local_ufrag(b""), None);
}

#[test]
fn random_garbage_never_panics() {
    // xorshift64*, fixed seed: repeatable.
    let mut s: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        s.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    let mut buf = [0u8; 128];
    for _ in 0..20_000 {
        let mut len = (next() % 128) as usize;
        for b in buf.iter_mut() {
            *b = next() as u8;
        }
        // Make a good share of them look like STUN so attribute parsing gets exercised.
        if next() % 2 == 0 && len >= 20 {
            len = 20 + ((len - 20) & !3);
            buf[0] &= 0x3f;
            buf[2..4].copy_from_slice(&((len - 20) as u16).to_be_bytes());
            buf[4..8].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
        }
        if let Ok(m) = StunMessage::parse(&buf[..len]) {
            let _ = m.xor_mapped_address();
            let _ = m.verify_integrity(PASSWORD);
            let _ = m.verify_fingerprint();
            let _ = m.username().map(local_ufrag);
        }
    }
}
