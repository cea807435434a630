use super::*;

/// V=2, no P/X, CC=0, M=1, PT=96, seq=0x1234, ts=0xDEADBEEF, ssrc=0x01020304, payload "abc".
const PLAIN: [u8; 15] = [
    0x80, 0xE0, 0x12, 0x34, 0xDE, 0xAD, 0xBE, 0xEF, 0x01, 0x02, 0x03, 0x04, b'a', b'b', b'c',
];

/// X set, one-byte form: id 1 (len 1: 0xAA), id 3 (len 2: 0xBB 0xCC), one padding byte,
/// 2 CSRCs, P set with 2 bytes of padding. Payload "xy".
fn one_byte_packet() -> Vec<u8> {
    let mut p = vec![0xB2, 0x6F, 0x00, 0x01, 0, 0, 0, 100, 0, 0, 0, 7];
    p.extend_from_slice(&[0, 0, 0, 9, 0, 0, 0, 10]); // CSRCs
    p.extend_from_slice(&[0xBE, 0xDE, 0x00, 0x02]); // profile, 2 words
    p.extend_from_slice(&[0x10, 0xAA, 0x31, 0xBB, 0xCC, 0x00, 0x00, 0x00]);
    p.extend_from_slice(b"xy");
    p.extend_from_slice(&[0x00, 0x02]); // padding
    p
}

/// X set, two-byte form: id 5 (len 0), id 200 (len 3: 1 2 3), then padding to a word.
fn two_byte_packet() -> Vec<u8> {
    let mut p = vec![0x90, 0x60, 0x00, 0x02, 0, 0, 0, 1, 0, 0, 0, 8];
    p.extend_from_slice(&[0x10, 0x00, 0x00, 0x02]);
    p.extend_from_slice(&[5, 0, 200, 3, 1, 2, 3, 0]);
    p.extend_from_slice(b"payload");
    p
}

#[test]
fn parses_fixed_header() {
    let h = RtpHeader::parse(&PLAIN).unwrap();
    assert!(h.marker());
    assert_eq!(h.payload_type(), 96);
    assert_eq!(h.sequence(), 0x1234);
    assert_eq!(h.timestamp(), 0xDEAD_BEEF);
    assert_eq!(h.ssrc(), 0x0102_0304);
    assert_eq!(h.header_len(), 12);
    assert_eq!(h.payload(&PLAIN), b"abc");
    assert_eq!(h.extension(), None);
    assert_eq!(h.padding_len(), 0);
}

#[test]
fn parses_csrcs_extension_and_padding() {
    let p = one_byte_packet();
    let h = RtpHeader::parse(&p).unwrap();
    assert!(!h.marker());
    assert_eq!(h.payload_type(), 111);
    assert_eq!(h.csrc_count(), 2);
    assert_eq!(h.csrcs(&p).collect::<Vec<_>>(), vec![9, 10]);
    let ext = h.extension().unwrap();
    assert_eq!(ext.profile(), ExtensionProfile::OneByte);
    assert_eq!(ext.range(), 24..32);
    assert_eq!(h.payload(&p), b"xy");
    assert_eq!(h.padding_len(), 2);
    let elems: Vec<_> = h.extensions(&p).map(Result::unwrap).collect();
    assert_eq!(elems, vec![(1, &[0xAA][..]), (3, &[0xBB, 0xCC][..])]);
}

#[test]
fn parses_two_byte_extensions() {
    let p = two_byte_packet();
    let h = RtpHeader::parse(&p).unwrap();
    assert_eq!(h.extension().unwrap().profile(), ExtensionProfile::TwoByte);
    let elems: Vec<_> = h.extensions(&p).map(Result::unwrap).collect();
    assert_eq!(elems, vec![(5, &[][..]), (200, &[1, 2, 3][..])]);
    assert_eq!(h.payload(&p), b"payload");
}

#[test]
fn other_profile_is_opaque() {
    let mut p = vec![
        0x90, 0x60, 0, 2, 0, 0, 0, 1, 0, 0, 0, 8, 0x12, 0x34, 0, 1, 0xFF, 1, 2, 3,
    ];
    let h = RtpHeader::parse(&p).unwrap();
    assert_eq!(
        h.extension().unwrap().profile(),
        ExtensionProfile::Other(0x1234)
    );
    assert_eq!(h.extensions(&p).count(), 0);
    let before = p.clone();
    rewrite_extensions(&mut p, &h, &ExtensionMap::default()).unwrap();
    assert_eq!(p, before);
}

#[test]
fn one_byte_id_15_stops_processing() {
    let p = vec![
        0x90, 0x60, 0, 2, 0, 0, 0, 1, 0, 0, 0, 8, 0xBE, 0xDE, 0, 1, 0x10, 0xAA, 0xF3, 0xFF,
    ];
    let h = RtpHeader::parse(&p).unwrap();
    let elems: Vec<_> = h.extensions(&p).map(Result::unwrap).collect();
    assert_eq!(elems, vec![(1, &[0xAA][..])]);
}

#[test]
fn setters_rewrite_in_place() {
    let mut p = PLAIN;
    let mut h = RtpHeader::parse(&p).unwrap();
    h.set_payload_type(&mut p, 100);
    h.set_ssrc(&mut p, 0xCAFE_BABE);
    h.set_sequence(&mut p, 0xFFFF);
    h.set_timestamp(&mut p, 42);
    assert_eq!(p[1], 0x80 | 100, "marker kept");
    let again = RtpHeader::parse(&p).unwrap();
    assert_eq!(again, h);
    assert!(again.marker());
    assert_eq!(again.payload_type(), 100);
    assert_eq!(again.ssrc(), 0xCAFE_BABE);
    assert_eq!(again.sequence(), 0xFFFF);
    assert_eq!(again.timestamp(), 42);
    assert_eq!(again.payload(&p), b"abc");

    h.set_marker(&mut p, false);
    assert_eq!(p[1], 100);
    let mut h2 = RtpHeader::parse(&p).unwrap();
    h2.set_payload_type(&mut p, 0xFF); // only 7 bits are written, marker stays clear
    assert_eq!(p[1], 0x7F);
}

#[test]
fn malformed_headers_are_errors() {
    assert_eq!(RtpHeader::parse(&[]), Err(RtpError::TooShort));
    for n in 0..12 {
        assert_eq!(RtpHeader::parse(&PLAIN[..n]), Err(RtpError::TooShort));
    }
    let mut bad = PLAIN;
    bad[0] = 0x40;
    assert_eq!(RtpHeader::parse(&bad), Err(RtpError::BadVersion));
    bad[0] = 0x00;
    assert_eq!(RtpHeader::parse(&bad), Err(RtpError::BadVersion));

    let mut csrc = PLAIN;
    csrc[0] = 0x81; // one CSRC but only 3 bytes follow
    assert_eq!(RtpHeader::parse(&csrc), Err(RtpError::CsrcOverrun));
    let mut csrc = PLAIN.to_vec();
    csrc[0] = 0x8F;
    assert_eq!(RtpHeader::parse(&csrc), Err(RtpError::CsrcOverrun));

    // Extension header itself truncated, then declared length past the end.
    let mut ext = PLAIN.to_vec();
    ext[0] = 0x90;
    assert_eq!(RtpHeader::parse(&ext), Err(RtpError::ExtensionOverrun));
    ext.truncate(12);
    ext.extend_from_slice(&[0xBE, 0xDE, 0x00, 0x02, 0x10, 0xAA, 0, 0]);
    assert_eq!(RtpHeader::parse(&ext), Err(RtpError::ExtensionOverrun));

    // Padding: zero count, larger than the bytes after the header, ok when exactly that.
    let mut pad = PLAIN;
    pad[0] = 0xA0;
    pad[14] = 0;
    assert_eq!(RtpHeader::parse(&pad), Err(RtpError::BadPadding));
    pad[14] = 4;
    assert_eq!(RtpHeader::parse(&pad), Err(RtpError::BadPadding));
    pad[14] = 3;
    let h = RtpHeader::parse(&pad).unwrap();
    assert_eq!(h.payload(&pad), b"");
}

#[test]
fn every_truncation_is_an_error_or_a_consistent_view() {
    for p in [one_byte_packet(), two_byte_packet(), PLAIN.to_vec()] {
        for n in 0..p.len() {
            let cut = &p[..n];
            if let Ok(h) = RtpHeader::parse(cut) {
                assert!(h.payload_range().end <= n);
                assert!(h.payload_range().start <= h.payload_range().end);
                let _ = h.extensions(cut).count();
                let mut copy = cut.to_vec();
                let _ = rewrite_extensions(&mut copy, &h, &ExtensionMap::default());
            }
        }
    }
}

#[test]
fn garbage_never_panics() {
    // Deterministic pseudo-random bytes (xorshift), all first-byte versions forced to 2.
    let mut x: u32 = 0x1234_5678;
    let mut buf = [0u8; 64];
    for _ in 0..20_000 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let len = (x % 64) as usize;
        for b in buf.iter_mut() {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            *b = x as u8;
        }
        buf[0] = 0x80 | (buf[0] & 0x3F);
        let p = &mut buf[..len];
        if let Ok(h) = RtpHeader::parse(p) {
            let _ = h.extensions(p).count();
            let map = ExtensionMap::new(&[(1, "a"), (2, "b")], &[(7, "a")]);
            let _ = rewrite_extensions(p, &h, &map);
            for codec in [
                VideoCodecKind::H264,
                VideoCodecKind::Vp8,
                VideoCodecKind::Vp9,
                VideoCodecKind::Av1,
            ] {
                let _ = is_keyframe(codec, h.payload(p));
            }
        }
    }
}

#[test]
fn extension_map_matches_uris() {
    let from = [(1u8, "urn:a"), (3, "urn:b"), (4, "urn:c")];
    let to = vec![(2u8, "urn:b".to_string()), (9, "urn:a".to_string())];
    let m = ExtensionMap::new(&from, &to);
    assert_eq!(m.get(1), 9);
    assert_eq!(m.get(3), 2);
    assert_eq!(m.get(4), 0);
    assert_eq!(m.get(2), 0);
}

#[test]
fn one_byte_remap_and_blank() {
    let mut p = one_byte_packet();
    let h = RtpHeader::parse(&p).unwrap();
    let m = ExtensionMap::new(&[(1, "urn:a"), (3, "urn:b")], &[(14, "urn:a")]);
    rewrite_extensions(&mut p, &h, &m).unwrap();
    assert_eq!(&p[24..32], &[0xE0, 0xAA, 0, 0, 0, 0, 0, 0]);
    let again = RtpHeader::parse(&p).unwrap();
    assert_eq!(again, h, "lengths and offsets unchanged");
    let elems: Vec<_> = again.extensions(&p).map(Result::unwrap).collect();
    assert_eq!(elems, vec![(14, &[0xAA][..])]);
    assert_eq!(again.payload(&p), b"xy");
}

#[test]
fn one_byte_target_id_too_large_is_blanked() {
    let mut p = one_byte_packet();
    let h = RtpHeader::parse(&p).unwrap();
    let mut m = ExtensionMap::default();
    m.set(1, 15);
    m.set(3, 5);
    rewrite_extensions(&mut p, &h, &m).unwrap();
    let elems: Vec<_> = h.extensions(&p).map(Result::unwrap).collect();
    assert_eq!(elems, vec![(5, &[0xBB, 0xCC][..])]);
    assert_eq!(&p[24..26], &[0, 0]);
}

#[test]
fn two_byte_remap_and_blank() {
    let mut p = two_byte_packet();
    let h = RtpHeader::parse(&p).unwrap();
    let m = ExtensionMap::new(&[(5, "urn:x"), (200, "urn:y")], &[(250, "urn:y")]);
    rewrite_extensions(&mut p, &h, &m).unwrap();
    assert_eq!(&p[16..24], &[0, 0, 250, 3, 1, 2, 3, 0]);
    let elems: Vec<_> = h.extensions(&p).map(Result::unwrap).collect();
    assert_eq!(elems, vec![(250, &[1, 2, 3][..])]);
    assert_eq!(h.payload(&p), b"payload");
}

#[test]
fn all_blanked_block_is_valid_and_empty() {
    let mut p = one_byte_packet();
    let h = RtpHeader::parse(&p).unwrap();
    rewrite_extensions(&mut p, &h, &ExtensionMap::default()).unwrap();
    assert!(p[24..32].iter().all(|b| *b == 0));
    assert_eq!(RtpHeader::parse(&p).unwrap().extensions(&p).count(), 0);
}

#[test]
fn bad_extension_elements_are_errors_and_leave_buf_unchanged() {
    // One-byte: second element claims 4 data bytes, block has only 2 left.
    let mut p = vec![
        0x90, 0x60, 0, 2, 0, 0, 0, 1, 0, 0, 0, 8, 0xBE, 0xDE, 0, 1, 0x10, 0xAA, 0x23, 0xBB, 0xEE,
    ];
    let h = RtpHeader::parse(&p).unwrap();
    let r: Result<Vec<_>, _> = h.extensions(&p).collect();
    assert_eq!(r, Err(RtpError::ExtensionElementOverrun));
    let before = p.clone();
    let mut m = ExtensionMap::default();
    m.set(1, 4);
    assert_eq!(
        rewrite_extensions(&mut p, &h, &m),
        Err(RtpError::ExtensionElementOverrun)
    );
    assert_eq!(p, before);

    // Two-byte: id with the length byte outside the block.
    let p = vec![
        0x90, 0x60, 0, 2, 0, 0, 0, 1, 0, 0, 0, 8, 0x10, 0x00, 0, 1, 0, 0, 0, 7, 9,
    ];
    let h = RtpHeader::parse(&p).unwrap();
    let r: Result<Vec<_>, _> = h.extensions(&p).collect();
    assert_eq!(r, Err(RtpError::ExtensionElementOverrun));

    // Rewriting into a buffer shorter than the parsed header.
    let full = one_byte_packet();
    let h = RtpHeader::parse(&full).unwrap();
    let mut short = full[..20].to_vec();
    assert_eq!(
        rewrite_extensions(&mut short, &h, &ExtensionMap::default()),
        Err(RtpError::ExtensionOverrun)
    );
}

#[test]
fn vp8_keyframes() {
    use VideoCodecKind::Vp8;
    // S=1, PID=0, no X; frame header byte with P=0 → key.
    assert!(is_keyframe(Vp8, &[0x10, 0x50, 0x2A, 0x00]));
    // P=1 → delta frame.
    assert!(!is_keyframe(Vp8, &[0x10, 0x51, 0x2A, 0x00]));
    // S=0 (continuation) → not a start.
    assert!(!is_keyframe(Vp8, &[0x00, 0x50]));
    // PID=1 → not partition 0.
    assert!(!is_keyframe(Vp8, &[0x11, 0x50]));
    // X with I (15-bit picture id), L, T: descriptor is 1+1+2+1+1 = 6 bytes.
    let key = [0x90, 0xE0, 0x80 | 0x12, 0x34, 0x05, 0x40, 0x10];
    assert!(is_keyframe(Vp8, &key));
    let mut delta = key;
    delta[6] = 0x11;
    assert!(!is_keyframe(Vp8, &delta));
    // X with I (7-bit picture id) only.
    assert!(is_keyframe(Vp8, &[0x90, 0x80, 0x12, 0x9C]));
    assert!(!is_keyframe(Vp8, &[0x90, 0x80, 0x12, 0x9D]));
    // Truncated descriptors.
    assert!(!is_keyframe(Vp8, &[]));
    assert!(!is_keyframe(Vp8, &[0x10]));
    assert!(!is_keyframe(Vp8, &[0x90]));
    assert!(!is_keyframe(Vp8, &[0x90, 0x80]));
    assert!(!is_keyframe(Vp8, &key[..6]));
}

#[test]
fn h264_keyframes() {
    use VideoCodecKind::H264;
    assert!(is_keyframe(H264, &[0x65, 0x88])); // IDR
    assert!(is_keyframe(H264, &[0x67, 0x42])); // SPS
    assert!(!is_keyframe(H264, &[0x68, 0xCE])); // PPS
    assert!(!is_keyframe(H264, &[0x41, 0x9A])); // non-IDR slice
                                                // STAP-A: SPS(2 bytes) + PPS(2 bytes).
    assert!(is_keyframe(
        H264,
        &[0x78, 0, 2, 0x67, 0x42, 0, 2, 0x68, 0xCE]
    ));
    // STAP-A: non-key then IDR.
    assert!(is_keyframe(H264, &[0x78, 0, 1, 0x06, 0, 2, 0x65, 0x88]));
    // STAP-A: only PPS and SEI.
    assert!(!is_keyframe(H264, &[0x78, 0, 2, 0x68, 0xCE, 0, 1, 0x06]));
    // STAP-A with a NAL size past the end, or zero size.
    assert!(!is_keyframe(H264, &[0x78, 0, 9, 0x65]));
    assert!(!is_keyframe(H264, &[0x78, 0, 0, 0x65]));
    assert!(!is_keyframe(H264, &[0x78, 0]));
    // FU-A: start of IDR, middle of IDR, start of non-IDR.
    assert!(is_keyframe(H264, &[0x7C, 0x85, 0x88]));
    assert!(!is_keyframe(H264, &[0x7C, 0x05, 0x88]));
    assert!(!is_keyframe(H264, &[0x7C, 0x81, 0x9A]));
    assert!(!is_keyframe(H264, &[0x7C]));
    assert!(!is_keyframe(H264, &[]));
}

#[test]
fn vp9_keyframes() {
    use VideoCodecKind::Vp9;
    assert!(is_keyframe(Vp9, &[0x08])); // B, not P
    assert!(!is_keyframe(Vp9, &[0x48])); // B and P
    assert!(!is_keyframe(Vp9, &[0x00])); // not a frame start
                                         // I (15-bit picture id) + L: SID 0 → key, SID 1 → not the base layer.
    assert!(is_keyframe(Vp9, &[0xA8, 0x81, 0x02, 0x00]));
    assert!(!is_keyframe(Vp9, &[0xA8, 0x81, 0x02, 0x02]));
    // I (7-bit picture id) + L with SID 0.
    assert!(is_keyframe(Vp9, &[0xA8, 0x05, 0x00]));
    assert!(!is_keyframe(Vp9, &[0xA8, 0x81, 0x02]));
    assert!(!is_keyframe(Vp9, &[0xA8]));
    assert!(!is_keyframe(Vp9, &[]));
}

#[test]
fn av1_keyframes() {
    use VideoCodecKind::Av1;
    assert!(is_keyframe(Av1, &[0x18, 0x0A]));
    assert!(!is_keyframe(Av1, &[0x10, 0x32]));
    assert!(!is_keyframe(Av1, &[]));
}

#[test]
fn seq_extender_handles_wrap_and_reorder() {
    let mut s = SeqExtender::new();
    assert_eq!(s.max(), None);
    let base = s.extend(65533);
    assert_eq!(base, 65536 + 65533);
    assert_eq!(s.extend(65535), base + 2);
    assert_eq!(s.extend(1), base + 4, "wrapped forward");
    assert_eq!(
        s.extend(65534),
        base + 1,
        "late packet from before the wrap"
    );
    assert_eq!(s.max(), Some(base + 4));
    assert_eq!(s.extend(0), base + 3);
    // Many wraps in steps of 30000.
    let mut seq: u16 = 1;
    let mut expected = base + 4;
    for _ in 0..10 {
        seq = seq.wrapping_add(30000);
        expected += 30000;
        assert_eq!(s.extend(seq), expected);
        assert_eq!(s.extend(seq) as u16, seq);
    }
}

#[test]
fn seq_extender_reorder_before_start_wrap() {
    let mut s = SeqExtender::new();
    let first = s.extend(2);
    assert_eq!(s.extend(65535), first - 3);
    assert_eq!(s.max(), Some(first));
}

#[test]
fn stamping_writes_the_two_byte_element_that_ends_up_with_the_id_in_the_same_pass() {
    let h = RtpHeader::parse(&one_byte_packet()).unwrap();
    let mut m = ExtensionMap::default();
    m.set(1, 14);
    m.set(3, 5);
    // Element 3 (two bytes) becomes 5 and carries the value.
    let mut p = one_byte_packet();
    assert_eq!(
        rewrite_extensions_stamping(&mut p, &h, &m, Some((5, 0x1234))),
        Ok(true)
    );
    let elems: Vec<_> = h.extensions(&p).map(Result::unwrap).collect();
    assert_eq!(elems, vec![(14, &[0xAA][..]), (5, &[0x12, 0x34][..])]);
    assert_eq!(read_u16_extension(&p, &h, 5), Some(0x1234));
    // Element 1 has one byte: not a place for the number; an id no element maps to: nothing.
    for stamp in [(14, 0x1234), (7, 0x1234)] {
        let mut p = one_byte_packet();
        assert_eq!(
            rewrite_extensions_stamping(&mut p, &h, &m, Some(stamp)),
            Ok(false)
        );
        assert_eq!(read_u16_extension(&p, &h, 5), Some(0xBBCC));
    }
}

#[test]
fn a_sealed_header_parses_without_its_encrypted_padding_count() {
    // An SRTP packet with P set: its last byte (here 0) is part of the tag, not a count.
    let mut sealed = one_byte_packet();
    let last = sealed.len() - 1;
    sealed[last] = 0;
    assert_eq!(RtpHeader::parse(&sealed), Err(RtpError::BadPadding));
    let h = RtpHeader::parse_sealed(&sealed).unwrap();
    assert_eq!((h.ssrc(), h.padding_len()), (7, 0));
    assert_eq!(h.payload_range().end, sealed.len());
    let elements: Vec<(u8, Vec<u8>)> = h
        .extensions(&sealed)
        .map(|e| e.map(|(id, d)| (id, d.to_vec())).unwrap())
        .collect();
    assert_eq!(elements, [(1, vec![0xAA]), (3, vec![0xBB, 0xCC])]);
}
