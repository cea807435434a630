//! Fan-out of one decrypted video packet (1200-byte payload, 3 header extensions in canonical
//! ids) to 1,000 in-memory subscribers, as a worker does it: `Subscriber::prepare_rtp` into one
//! reused scratch buffer, then `SrtpSession::protect_rtp` with that subscriber's own session.
//!
//! One iteration serves all subscribers and the throughput is set to their number, so
//! criterion's elements/s is subscribers served per second and time / 1,000 is the cost per
//! subscriber. `prepare_only` leaves encryption out to separate forwarding from crypto cost.

mod common;

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use dataplane::api::{
    Fingerprint, MediaKind, PeerId, PeerRole, PeerSpec, StreamId, TrackSpec, WorkerId,
};
use dataplane::fanout::CANONICAL_EXTENSIONS;
use dataplane::rtp::RtpHeader;
use dataplane::srtp::{SrtpProfile, SrtpSession};
use dataplane::subscriber::Subscriber;

use common::{profile_name, rtp_packet, srtp_keys, VP8_KEYFRAME_HEAD};

const SUBSCRIBERS: usize = 1_000;

/// A subscriber's negotiated video track: its own PT, SSRC and extension ids (abs-send-time,
/// toffset and video-orientation, like Chrome's offer numbering).
fn spec(i: usize) -> PeerSpec {
    let extensions = [
        (3, CANONICAL_EXTENSIONS[1].1),
        (14, CANONICAL_EXTENSIONS[2].1),
        (13, CANONICAL_EXTENSIONS[3].1),
    ]
    .into_iter()
    .map(|(id, uri)| (id, uri.to_owned()))
    .collect();
    PeerSpec {
        id: PeerId(i as u64),
        role: PeerRole::Subscriber {
            stream: StreamId(1),
            source: WorkerId(0),
        },
        local_ufrag: format!("l{i}"),
        local_pwd: "localPasswordForBench1".to_owned(),
        remote_ufrag: format!("r{i}"),
        remote_pwd: "remotePasswordForBench".to_owned(),
        remote_fingerprint: Fingerprint {
            algorithm: "sha-256".to_owned(),
            digest: vec![0; 32],
        },
        tracks: vec![TrackSpec {
            kind: MediaKind::Video,
            codec: "VP8".to_owned(),
            payload_type: 96 + (i % 32) as u8,
            clock_rate: 90_000,
            ssrc: Some(0x1000_0000 + i as u32),
            extensions,
        }],
    }
}

fn subscribers() -> Vec<Subscriber> {
    (0..SUBSCRIBERS)
        .map(|i| Subscriber::new(&spec(i)))
        .collect()
}

/// Prepares `packet` for every subscriber; returns the bytes prepared over all of them.
fn prepare_all(subs: &mut [Subscriber], packet: &[u8], scratch: &mut Vec<u8>) -> usize {
    let mut bytes = 0;
    for sub in subs.iter_mut() {
        if sub.prepare_rtp(MediaKind::Video, true, packet, scratch) {
            bytes += scratch.len();
        }
    }
    bytes
}

fn fanout(c: &mut Criterion) {
    let mut group = c.benchmark_group("fanout_1000");
    group.throughput(Throughput::Elements(SUBSCRIBERS as u64));
    let packet = rtp_packet(4242, 0xCAFE_0001, true, &VP8_KEYFRAME_HEAD);
    let mut scratch = Vec::with_capacity(1500);

    let mut subs = subscribers();
    assert_eq!(
        prepare_all(&mut subs, &packet, &mut scratch),
        SUBSCRIBERS * packet.len()
    );
    let out = RtpHeader::parse(&scratch).expect("rewritten packet parses");
    assert_eq!(out.ssrc(), 0x1000_0000 + SUBSCRIBERS as u32 - 1);
    let ids: Vec<u8> = out
        .extensions(&scratch)
        .map(|e| e.expect("valid").0)
        .collect();
    assert_eq!(ids, [3, 14, 13]);

    group.bench_function("prepare_only", |b| {
        b.iter(|| prepare_all(&mut subs, black_box(&packet), &mut scratch))
    });

    for profile in SrtpProfile::ALL {
        let mut sessions: Vec<SrtpSession> = (0..SUBSCRIBERS)
            .map(|i| SrtpSession::new(&srtp_keys(profile, false, i as u32)).expect("valid keys"))
            .collect();
        let mut subs = subscribers();
        group.bench_function(format!("prepare_protect/{}", profile_name(profile)), |b| {
            b.iter(|| {
                let mut sent = 0;
                for (sub, srtp) in subs.iter_mut().zip(&mut sessions) {
                    if sub.prepare_rtp(MediaKind::Video, true, black_box(&packet), &mut scratch) {
                        sent += srtp.protect_rtp(&scratch).expect("protect").len();
                    }
                }
                sent
            })
        });
        group.bench_function(
            format!("prepare_protect_in_place/{}", profile_name(profile)),
            |b| {
                b.iter(|| {
                    let mut sent = 0;
                    for (sub, srtp) in subs.iter_mut().zip(&mut sessions) {
                        if sub.prepare_rtp(MediaKind::Video, true, black_box(&packet), &mut scratch)
                        {
                            srtp.protect_rtp_in_place(&mut scratch).expect("protect");
                            sent += scratch.len();
                        }
                    }
                    sent
                })
            },
        );
        // Every subscriber's packet opens with its peer's keys: nothing was skipped.
        let mut peer = SrtpSession::new(&srtp_keys(profile, true, 7)).expect("valid keys");
        let mut sub = Subscriber::new(&spec(7));
        assert!(sub.prepare_rtp(MediaKind::Video, true, &packet, &mut scratch));
        let protected = sessions[7].protect_rtp(&scratch).expect("protect");
        assert_eq!(
            &peer.unprotect_rtp(&protected).expect("opens")[..],
            &scratch[..]
        );
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion(20, Duration::from_secs(3));
    targets = fanout
}
criterion_main!(benches);
