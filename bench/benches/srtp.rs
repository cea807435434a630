//! SRTP/SRTCP cost per packet: `SrtpSession` protect and unprotect of a 1200-byte-payload RTP
//! packet (with a 3-element header-extension block, and without one) and of a compound RTCP
//! packet (SR + SDES), for both negotiated profiles.
//!
//! Sessions are built from fixed keying material (the DTLS export is measured in `dtls.rs`).
//! Unprotect runs with replay protection on, so every measured packet is a fresh one: a sender
//! session protects it in the (unmeasured) setup of `iter_batched`.

mod common;

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput};
use dataplane::srtp::SrtpProfile;

use common::{profile_name, rtcp_compound, rtp_packet, set_seq, srtp_pair, VP8_KEYFRAME_HEAD};

const SSRC: u32 = 0x1122_3344;

fn srtp(c: &mut Criterion) {
    for profile in SrtpProfile::ALL {
        let mut group = c.benchmark_group(format!("srtp/{}", profile_name(profile)));
        group.throughput(Throughput::Elements(1));

        let (mut tx, mut rx) = srtp_pair(profile, 1);
        let mut plain = rtp_packet(0, SSRC, true, &VP8_KEYFRAME_HEAD);
        let check = tx.protect_rtp(&plain).expect("protect a valid RTP packet");
        assert_eq!(
            &rx.unprotect_rtp(&check).expect("round trip")[..],
            &plain[..]
        );

        let mut seq = 0u16;
        group.bench_function("protect_rtp", |b| {
            b.iter(|| {
                seq = seq.wrapping_add(1);
                set_seq(&mut plain, seq);
                black_box(tx.protect_rtp(black_box(&plain)).expect("protect"))
            })
        });

        // The same packet without its header-extension block (rtc-srtp re-parses the header).
        let mut bare = rtp_packet(0, SSRC, false, &VP8_KEYFRAME_HEAD);
        group.bench_function("protect_rtp_no_ext", |b| {
            b.iter(|| {
                seq = seq.wrapping_add(1);
                set_seq(&mut bare, seq);
                black_box(tx.protect_rtp(black_box(&bare)).expect("protect"))
            })
        });

        let mut out = Vec::with_capacity(plain.len() + 32);
        group.bench_function("protect_rtp_into", |b| {
            b.iter(|| {
                seq = seq.wrapping_add(1);
                set_seq(&mut plain, seq);
                tx.protect_rtp_into(black_box(&plain), &mut out)
                    .expect("protect");
                black_box(out.len())
            })
        });

        // The worker's path: the packet is rewritten into a reused buffer, then sealed there.
        group.bench_function("protect_rtp_in_place", |b| {
            b.iter(|| {
                seq = seq.wrapping_add(1);
                set_seq(&mut plain, seq);
                out.clear();
                out.extend_from_slice(black_box(&plain));
                tx.protect_rtp_in_place(&mut out).expect("protect");
                black_box(out.len())
            })
        });

        // Fresh sessions: the receiver's replay window must see increasing indexes.
        let (mut tx, mut rx) = srtp_pair(profile, 2);
        let mut seq = 0u16;
        group.bench_function("unprotect_rtp", |b| {
            b.iter_batched(
                || {
                    seq = seq.wrapping_add(1);
                    set_seq(&mut plain, seq);
                    tx.protect_rtp(&plain).expect("protect")
                },
                |packet| black_box(rx.unprotect_rtp(&packet).expect("unprotect")),
                BatchSize::SmallInput,
            )
        });

        let rtcp = rtcp_compound(SSRC);
        let (mut tx, mut rx) = srtp_pair(profile, 3);
        group.bench_function("protect_rtcp", |b| {
            b.iter(|| black_box(tx.protect_rtcp(black_box(&rtcp)).expect("protect")))
        });

        // The SRTCP index of `tx` keeps increasing, so every setup packet is new to `rx`.
        group.bench_function("unprotect_rtcp", |b| {
            b.iter_batched(
                || tx.protect_rtcp(&rtcp).expect("protect"),
                |packet| black_box(rx.unprotect_rtcp(&packet).expect("unprotect")),
                BatchSize::SmallInput,
            )
        });
        group.finish();
    }
}

common::bench_main!(srtp, 50, Duration::from_millis(1500));
