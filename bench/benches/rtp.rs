//! RTP header work on the forwarding path, per packet: `RtpHeader::parse` of a video packet
//! with a 3-element one-byte extension block, the in-place payload-type and SSRC rewrite,
//! `rewrite_extensions` of that block, and `is_keyframe` for VP8 and H.264.

mod common;

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput};
use dataplane::rtp::{is_keyframe, rewrite_extensions, ExtensionMap, RtpHeader, VideoCodecKind};

use common::{rtp_packet, VP8_KEYFRAME_HEAD};

/// An H.264 STAP-A (RFC 6184 §5.7.1) aggregating SPS, PPS and the start of an IDR slice, as
/// a browser sends the first packet of a keyframe.
const H264_STAP_A: [u8; 24] = [
    0x78, // STAP-A, NRI 3
    0x00, 0x0A, 0x67, 0x42, 0xC0, 0x1F, 0xDA, 0x01, 0x40, 0x16, 0xE8, 0x40, // SPS (10 bytes)
    0x00, 0x04, 0x68, 0xCE, 0x3C, 0x80, // PPS (4 bytes)
    0x00, 0x02, 0x65, 0x88, // IDR (2 bytes)
    0x00, // trailing filler
];

/// An H.264 FU-A (RFC 6184 §5.8) start fragment of an IDR slice.
const H264_FU_A_IDR_START: [u8; 4] = [0x7C, 0x85, 0x88, 0x84];

/// An H.264 FU-A start fragment of a non-IDR slice (the common case: not a keyframe).
const H264_FU_A_DELTA: [u8; 4] = [0x5C, 0x81, 0x9A, 0x02];

fn rtp(c: &mut Criterion) {
    let mut group = c.benchmark_group("rtp");
    group.throughput(Throughput::Elements(1));

    let packet = rtp_packet(1000, 0x1122_3344, true, &VP8_KEYFRAME_HEAD);
    let parsed = RtpHeader::parse(&packet).expect("valid packet");
    assert_eq!(parsed.extensions(&packet).count(), 3);

    group.bench_function("parse", |b| {
        b.iter(|| RtpHeader::parse(black_box(&packet)).expect("valid"))
    });

    let mut buf = packet.clone();
    let mut n = 0u32;
    group.bench_function("set_pt_ssrc", |b| {
        b.iter(|| {
            n = n.wrapping_add(1);
            let mut hdr = black_box(parsed);
            hdr.set_payload_type(&mut buf, black_box(100));
            hdr.set_ssrc(&mut buf, black_box(n));
            black_box(&buf);
        })
    });

    // A permutation of the three ids keeps every element mapped (none is blanked), so applying
    // it to the same buffer over and over does the same work each time.
    let mut map = ExtensionMap::default();
    map.set(2, 3);
    map.set(3, 4);
    map.set(4, 2);
    let mut buf = packet.clone();
    group.bench_function("rewrite_extensions_3", |b| {
        b.iter(|| {
            rewrite_extensions(&mut buf, black_box(&parsed), black_box(&map)).expect("valid");
        })
    });
    assert_eq!(parsed.extensions(&buf).count(), 3);

    // What a subscriber does to a shared packet: copy it, parse, rewrite PT, SSRC and ids.
    let mut scratch = Vec::with_capacity(1500);
    group.bench_function("copy_parse_rewrite", |b| {
        b.iter(|| {
            scratch.clear();
            scratch.extend_from_slice(black_box(&packet));
            let mut hdr = RtpHeader::parse(&scratch).expect("valid");
            hdr.set_payload_type(&mut scratch, 100);
            hdr.set_ssrc(&mut scratch, 0x5EED);
            rewrite_extensions(&mut scratch, &hdr, &map).expect("valid");
            black_box(&scratch);
        })
    });

    let vp8 = parsed.payload(&packet);
    assert!(is_keyframe(VideoCodecKind::Vp8, vp8));
    group.bench_function("is_keyframe_vp8", |b| {
        b.iter(|| is_keyframe(VideoCodecKind::Vp8, black_box(vp8)))
    });
    let cases: [(&str, &[u8], bool); 3] = [
        ("is_keyframe_h264_stap_a", &H264_STAP_A, true),
        ("is_keyframe_h264_fu_a_idr", &H264_FU_A_IDR_START, true),
        ("is_keyframe_h264_fu_a_delta", &H264_FU_A_DELTA, false),
    ];
    for (name, payload, key) in cases {
        assert_eq!(is_keyframe(VideoCodecKind::H264, payload), key, "{name}");
        group.bench_function(name, |b| {
            b.iter(|| is_keyframe(VideoCodecKind::H264, black_box(payload)))
        });
    }
    group.finish();
}

common::bench_main!(rtp, 50, Duration::from_secs(1));
