//! Inputs shared by the benches: RTP packets as a publisher's worker forwards them, and fixed
//! SRTP keying material. Each bench binary includes this module and uses a subset of it.
//!
//! Nothing here is measured; it only builds the packets and sessions the benches run on.

#![allow(dead_code)]

use std::time::Duration;

use criterion::Criterion;
use dataplane::srtp::{SrtpKeys, SrtpProfile, SrtpSession};

/// RTP payload size of the media benches (a full video packet).
pub const PAYLOAD_LEN: usize = 1200;

/// Criterion settings that keep `cargo bench -p bench` short on a 2-core machine: short
/// warm-up, fewer bootstrap resamples and no plots (the statistics and baselines are still
/// saved under `target/criterion`).
pub fn criterion(sample_size: usize, measurement: Duration) -> Criterion {
    Criterion::default()
        .without_plots()
        .nresamples(20_000)
        .sample_size(sample_size)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(measurement)
}

/// The bench binary's `main`: criterion with [`criterion`]`(samples, measurement)` running
/// `target`.
macro_rules! bench_main {
    ($target:ident, $samples:expr, $measurement:expr) => {
        criterion::criterion_group! {
            name = benches;
            config = common::criterion($samples, $measurement);
            targets = $target
        }
        criterion::criterion_main!(benches);
    };
}
pub(crate) use bench_main;

/// A short name for a profile in bench ids.
pub fn profile_name(profile: SrtpProfile) -> &'static str {
    match profile {
        SrtpProfile::AeadAes128Gcm => "aead_aes128_gcm",
        SrtpProfile::Aes128CmHmacSha1_80 => "aes128_cm_hmac_sha1_80",
    }
}

/// Deterministic keying material for `profile`; different `seed`s give different keys.
pub fn srtp_keys(profile: SrtpProfile, is_client: bool, seed: u32) -> SrtpKeys {
    let mut state = seed.wrapping_mul(0x9E37_79B9).wrapping_add(0x7F4A_7C15);
    let keying_material = (0..profile.keying_material_len())
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        })
        .collect();
    SrtpKeys {
        profile,
        keying_material,
        is_client,
    }
}

/// The two ends of one SRTP association: (DTLS client side, DTLS server side).
pub fn srtp_pair(profile: SrtpProfile, seed: u32) -> (SrtpSession, SrtpSession) {
    let client = SrtpSession::new(&srtp_keys(profile, true, seed)).expect("valid client keys");
    let server = SrtpSession::new(&srtp_keys(profile, false, seed)).expect("valid server keys");
    (client, server)
}

/// A one-byte-form (RFC 8285) extension block of three elements in the canonical ids of
/// `dataplane::fanout::CANONICAL_EXTENSIONS`: abs-send-time (2, 3 bytes), toffset (3, 3 bytes)
/// and video-orientation (4, 1 byte), padded to 3 words.
const EXTENSION_BLOCK: [u8; 16] = [
    0xBE, 0xDE, 0x00, 0x03, // profile, 3 words
    0x22, 0x12, 0x34, 0x56, // id 2, 3 bytes
    0x32, 0x00, 0x01, 0x00, // id 3, 3 bytes
    0x40, 0x01, 0x00, 0x00, // id 4, 1 byte, then 2 padding bytes
];

/// A decrypted video RTP packet: PT 96, `seq`, SSRC `ssrc`, the 3-element extension block when
/// `extensions`, and a [`PAYLOAD_LEN`]-byte payload starting with `payload_head`.
pub fn rtp_packet(seq: u16, ssrc: u32, extensions: bool, payload_head: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(12 + EXTENSION_BLOCK.len() + PAYLOAD_LEN);
    p.push(if extensions { 0x90 } else { 0x80 });
    p.push(96);
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq).wrapping_mul(3000)).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    if extensions {
        p.extend_from_slice(&EXTENSION_BLOCK);
    }
    p.extend_from_slice(payload_head);
    let filler = PAYLOAD_LEN.saturating_sub(payload_head.len());
    p.extend((0..filler).map(|i| i as u8));
    p
}

/// Writes `seq` into the sequence-number field of the RTP packet `p`.
pub fn set_seq(p: &mut [u8], seq: u16) {
    p[2..4].copy_from_slice(&seq.to_be_bytes());
}

/// The first bytes of a VP8 keyframe payload (RFC 7741): descriptor with X, S, PID 0, a 15-bit
/// picture id, TL0PICIDX and TID/KEYIDX, then a frame header with the P bit clear.
pub const VP8_KEYFRAME_HEAD: [u8; 9] = [0x90, 0xE0, 0x81, 0x23, 0x05, 0x40, 0x10, 0x02, 0x00];

/// A compound RTCP packet as a subscriber's worker sends it: a sender report (no report
/// blocks) followed by an SDES CNAME chunk, 52 bytes.
pub fn rtcp_compound(ssrc: u32) -> Vec<u8> {
    let mut p = Vec::with_capacity(52);
    // SR: V=2, RC=0, PT=200, length 6 words.
    p.extend_from_slice(&[0x80, 200, 0x00, 0x06]);
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(&0xE6B2_7A10_4000_0000u64.to_be_bytes()); // NTP
    p.extend_from_slice(&0x0012_3456u32.to_be_bytes()); // RTP timestamp
    p.extend_from_slice(&1000u32.to_be_bytes()); // packets
    p.extend_from_slice(&1_200_000u32.to_be_bytes()); // octets

    // SDES: V=2, SC=1, PT=202, length 5 words; CNAME "rtcdn-bench" (11 bytes), end, pad.
    p.extend_from_slice(&[0x81, 202, 0x00, 0x05]);
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(&[1, 11]);
    p.extend_from_slice(b"rtcdn-bench");
    p.extend_from_slice(&[0, 0, 0]);
    debug_assert_eq!(p.len(), 52);
    p
}
