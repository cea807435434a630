//! Fan-out of one video packet (1200-byte payload, 3 header extensions) to 1,000 viewers by
//! the real worker core: `WorkerCore::handle_input` with the publisher's SRTP packet (decrypt,
//! classify, canonical extension ids, hold), then `poll_transmit` (each viewer's header
//! rewritten and its packet sealed in place in a send-queue slot), the queue emptied in
//! place of a `sendmmsg`. The viewers are connected over the simulated network first (ICE,
//! DTLS), one SRTP profile per bench.
//!
//! One iteration serves all viewers and the throughput is set to their number, so criterion's
//! elements/s is viewers served per second and time / 1,000 is the cost per viewer.
//! `prepare_only` measures the per-viewer header rewrite (`Subscriber::prepare_rtp`) alone.

mod common;

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput};
use dataplane::api::{
    Fingerprint, MediaKind, PeerId, PeerRole, PeerSpec, StreamId, TrackSpec, WorkerId,
};
use dataplane::fanout::CANONICAL_EXTENSIONS;
use dataplane::rtp::RtpHeader;
use dataplane::send_queue::SocketId;
use dataplane::sim::{self, ClientId, Sim};
use dataplane::srtp::SrtpProfile;
use dataplane::subscriber::Subscriber;

use common::{profile_name, rtp_packet, VP8_KEYFRAME_HEAD};

const VIEWERS: usize = 1_000;

/// A negotiated video track with its own PT, SSRC and extension ids (abs-send-time, toffset
/// and video-orientation, numbered as Chrome numbers them).
fn video(pt: u8, ssrc: u32) -> TrackSpec {
    let mut track = sim::video_track(pt, ssrc);
    track.extensions = [
        (3, CANONICAL_EXTENSIONS[1].1),
        (14, CANONICAL_EXTENSIONS[2].1),
        (13, CANONICAL_EXTENSIONS[3].1),
    ]
    .into_iter()
    .map(|(id, uri)| (id, uri.to_owned()))
    .collect();
    track
}

/// The publisher's packet `seq` with its extension ids (3, 14, 13) as negotiated.
fn publisher_packet(seq: u16) -> Vec<u8> {
    let mut p = rtp_packet(seq, 0xCAFE_0001, true, &VP8_KEYFRAME_HEAD);
    p[1] = 96;
    // The common packet carries the canonical ids 2, 3, 4; the publisher uses 3, 14, 13.
    p[16] = (3 << 4) | (p[16] & 0x0F);
    p[20] = (14 << 4) | (p[20] & 0x0F);
    p[24] = (13 << 4) | (p[24] & 0x0F);
    p
}

/// One node with a publisher and `VIEWERS` viewers on one worker, all connected with
/// `profile`.
fn connected(profile: SrtpProfile) -> (Sim, ClientId) {
    let mut sim = Sim::new(1, 42);
    sim.set_client_profiles(&[profile]);
    let stream = StreamId(1);
    let (publisher, _) = sim.add_client(
        WorkerId(0),
        PeerRole::Publisher { stream },
        vec![video(96, 0xCAFE_0001)],
    );
    let viewers: Vec<ClientId> = (0..VIEWERS)
        .map(|i| {
            let role = PeerRole::Subscriber {
                stream,
                source: WorkerId(0),
            };
            let track = video(96 + (i % 32) as u8, 0x1000_0000 + i as u32);
            sim.add_client(WorkerId(0), role, vec![track]).0
        })
        .collect();
    let all = sim.run_until_true(Duration::from_secs(30), |s| {
        s.client(publisher).is_connected() && viewers.iter().all(|&v| s.client(v).is_connected())
    });
    assert!(all, "every viewer connects");
    // The first keyframe goes through the network: every viewer then takes deltas too.
    sim.send_rtp(publisher, &publisher_packet(0));
    sim.run_for(Duration::from_millis(10));
    assert!(viewers.iter().all(|&v| sim.client(v).rtp.len() == 1));
    let out = sim.client(viewers[VIEWERS - 1]).rtp[0].clone();
    let hdr = RtpHeader::parse(&out).expect("rewritten packet parses");
    assert_eq!(hdr.ssrc(), 0x1000_0000 + VIEWERS as u32 - 1);
    let ids: Vec<u8> = hdr.extensions(&out).map(|e| e.expect("valid").0).collect();
    assert_eq!(ids, [3, 14, 13], "each viewer's own extension ids");
    (sim, publisher)
}

/// Feeds the publisher's next packet to the core and drains what it sends; returns the
/// datagrams it queued.
fn forward_one(sim: &mut Sim, publisher: ClientId, seq: &mut u16) -> usize {
    *seq = seq.wrapping_add(1);
    let plain = publisher_packet(*seq);
    let client = sim.client_mut(publisher);
    let from = client.addr;
    let packet = client.conn.protect_rtp(&plain).expect("publisher SRTP");
    let now = sim.now();
    let core = &mut sim.worker_mut(WorkerId(0)).core;
    core.handle_input(now, SocketId::WORKER, from, black_box(&packet));
    let mut sent = 0;
    while let Some(queue) = core.poll_transmit() {
        sent += queue.len();
        queue.clear();
    }
    sent
}

fn spec(i: usize) -> PeerSpec {
    PeerSpec {
        layer_choice: Default::default(),
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
        tracks: vec![video(96 + (i % 32) as u8, 0x1000_0000 + i as u32)],
    }
}

fn fanout(c: &mut Criterion) {
    let mut group = c.benchmark_group("fanout_1000");
    group.throughput(Throughput::Elements(VIEWERS as u64));

    let packet = rtp_packet(4242, 0xCAFE_0001, true, &VP8_KEYFRAME_HEAD);
    let mut scratch = Vec::with_capacity(1500);
    let mut subs: Vec<Subscriber> = (0..VIEWERS)
        .map(|i| Subscriber::new(&spec(i), i as u64, 0.5))
        .collect();
    group.bench_function("prepare_only", |b| {
        b.iter(|| {
            let mut bytes = 0;
            for sub in subs.iter_mut() {
                if sub.prepare_rtp(
                    None,
                    MediaKind::Video,
                    0,
                    true,
                    black_box(&packet),
                    &mut scratch,
                ) {
                    bytes += scratch.len();
                }
            }
            bytes
        })
    });

    for profile in SrtpProfile::ALL {
        let (mut sim, publisher) = connected(profile);
        let mut seq = 0;
        assert_eq!(forward_one(&mut sim, publisher, &mut seq), VIEWERS);
        group.bench_function(format!("core/{}", profile_name(profile)), |b| {
            b.iter(|| forward_one(&mut sim, publisher, &mut seq))
        });
    }
    group.finish();
}

common::bench_main!(fanout, 20, Duration::from_secs(3));
