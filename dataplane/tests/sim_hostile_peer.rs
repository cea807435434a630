//! A hostile peer on the simulated network: what a session holder, or anyone spoofing a peer's
//! address, can make a worker hold stays bounded. Forged SRTP and SRTCP of ever new SSRCs —
//! of no known stream, of a simulcast layer still to be learnt, of a viewer's RTCP — leave no
//! SRTP state behind (measured with this test binary's counting allocator), connectivity
//! checks from ever new addresses leave a peer a few routed addresses, not one per address,
//! and a flood of checks that re-arm a peer leaves the timer queue at a few entries.

mod common;
mod counting_alloc;

use std::net::SocketAddr;
use std::time::Duration;

use dataplane::api::{
    Command, Fingerprint, LayerSpec, PeerId, PeerRole, PeerSpec, TrackSpec, WorkerId, RID_URI,
};
use dataplane::ice::{CHECK_PRIORITY, MAX_VALIDATED};
use dataplane::send_queue::SocketId;
use dataplane::sim::{self, Sim};
use dataplane::srtp::MAX_INBOUND_SSRCS;
use dataplane::stun::write_binding_request;
use dataplane::WorkerStats;

use common::*;
use counting_alloc::live;

const MS: Duration = Duration::from_millis(1);

/// What a worker may keep after tens of thousands of forged packets: far less than one
/// SRTP state per forged SSRC (each is a few hundred bytes) would take.
const BOUNDED: isize = 256 * 1024;
/// Forged packets per test run.
const FORGED: u32 = 20_000;

/// A forged SRTP packet of `ssrc`: a genuine-looking header and payload, a tag that cannot
/// verify. With `rid`, it carries that RTP stream id (extension [`RID_ID`]), in the clear
/// as SRTP leaves headers.
fn forged_rtp(ssrc: u32, seq: u16, rid: Option<u8>) -> Vec<u8> {
    let mut p = sim::rtp_packet(PUB_PT, seq, u32::from(seq) * 3000, ssrc, &[0xA5; 116]);
    if let Some(rid) = rid {
        p[0] |= 0x10;
        p.splice(12..12, [0xBE, 0xDE, 0, 1, RID_ID << 4, rid, 0, 0]);
    }
    p
}

/// A forged SRTCP receiver report from sender SSRC `ssrc` (index and tag made up).
fn forged_rtcp(ssrc: u32) -> Vec<u8> {
    let mut p = vec![0x80, 201, 0, 1];
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(&[0x80, 0, 0, 1]);
    p.extend_from_slice(&[0x5A; 16]);
    p
}

/// Sends `count` datagrams `make(i)` from `from` to worker 0, in bursts, and lets them land.
fn flood(sim: &mut Sim, from: SocketAddr, count: u32, make: impl Fn(u32) -> Vec<u8>) {
    let to = sim.worker(WorkerId(0)).addr;
    for i in 0..count {
        sim.send(from, to, make(i));
        if i % 500 == 499 {
            sim.run_for(MS);
        }
    }
    sim.run_for(10 * MS);
}

fn stats(sim: &Sim) -> WorkerStats {
    sim.worker(WorkerId(0)).core.stats()
}

/// Floods with `make` twice — a warm-up, then measured — and returns how many bytes the
/// measured flood left live, and the counters it moved.
fn measured_flood(
    sim: &mut Sim,
    from: SocketAddr,
    make: impl Fn(u32) -> Vec<u8>,
) -> (isize, WorkerStats) {
    // The warm-up lets buffers that grow once (the network's queue) reach their size.
    flood(sim, from, 1000, &make);
    let (bytes, before) = (live(), stats(sim));
    flood(sim, from, FORGED, |i| make(1000 + i));
    let after = stats(sim);
    let moved = WorkerStats {
        dropped_unknown_ssrc: after.dropped_unknown_ssrc - before.dropped_unknown_ssrc,
        dropped_invalid: after.dropped_invalid - before.dropped_invalid,
        ..WorkerStats::default()
    };
    (live() - bytes, moved)
}

#[test]
fn forged_srtp_of_new_ssrcs_is_dropped_undecrypted_and_leaves_nothing_behind() {
    let mut sim = Sim::new(1, 41);
    let (publisher, viewers) = stream_with_viewers(&mut sim, 1, 1);
    publish(&mut sim, publisher, 0..20, 30, 10 * MS);
    let from = sim.client(publisher).addr;

    let (grown, moved) = measured_flood(&mut sim, from, |i| {
        forged_rtp(0x6000_0000 + i, i as u16, None)
    });
    eprintln!("{FORGED} forged SRTP packets of new SSRCs: {grown} bytes left live");
    assert!(
        grown < BOUNDED,
        "{grown} bytes left by {FORGED} forged packets"
    );
    assert_eq!(
        moved.dropped_unknown_ssrc,
        u64::from(FORGED),
        "every one dropped before decryption"
    );

    // The publisher's own stream is untouched.
    publish(&mut sim, publisher, 20..40, 30, 10 * MS);
    let sent: Vec<Vec<u8>> = (0..40).map(|s| video_packet(s, 30)).collect();
    assert_forwarded(&sim, viewers[0], 0, &sent);
}

/// The extension id of the publisher's RTP stream id.
const RID_ID: u8 = 10;
const RIDS: [u8; 3] = [b'l', b'm', b'h'];

/// A video track of three layers known by rid only (as Chrome announces simulcast).
fn rid_track() -> TrackSpec {
    let mut track = sim::video_track(PUB_PT, 0);
    track.ssrc = None;
    track.layers = RIDS
        .iter()
        .map(|&rid| LayerSpec {
            rid: char::from(rid).to_string(),
            ssrc: None,
            rtx_ssrc: None,
        })
        .collect();
    track.extensions.push((RID_ID, RID_URI.to_owned()));
    track
}

#[test]
fn forged_srtp_naming_a_layer_still_to_be_learnt_leaves_nothing_behind_and_the_layer_is_learnt() {
    let mut sim = Sim::new(1, 42);
    let role = PeerRole::Publisher { stream: STREAM };
    let (publisher, _) = sim.add_client(WorkerId(0), role, vec![rid_track()]);
    let publisher = connected(&mut sim, publisher);
    let from = sim.client(publisher).addr;

    // Before the publisher sent anything: packets of new SSRCs that name layer h. They may
    // be h's first packets, so they are authenticated — and fail.
    let (grown, moved) = measured_flood(&mut sim, from, |i| {
        forged_rtp(0x6100_0000 + i, i as u16, Some(b'h'))
    });
    eprintln!("{FORGED} forged SRTP packets naming a layer: {grown} bytes left live");
    assert!(
        grown < BOUNDED,
        "{grown} bytes left by {FORGED} forged packets"
    );
    assert_eq!(
        moved.dropped_invalid,
        u64::from(FORGED),
        "all failed to verify"
    );

    // The genuine layer h is learnt from its first packet...
    let genuine = |seq| {
        let mut p = forged_rtp(0x5100_0002, seq, Some(b'h'));
        p.truncate(p.len() - 16);
        p
    };
    let before = stats(&sim);
    sim.send_rtp(publisher, &genuine(1));
    sim.send_rtp(publisher, &genuine(2));
    sim.run_for(10 * MS);
    let after = stats(&sim);
    assert_eq!(after.dropped_invalid, before.dropped_invalid);
    assert_eq!(after.dropped_unknown_ssrc, before.dropped_unknown_ssrc);
    // ... and from then on a new SSRC naming h is not even decrypted.
    flood(&mut sim, from, 10, |i| {
        forged_rtp(0x6200_0000 + i, 7, Some(b'h'))
    });
    assert_eq!(
        stats(&sim).dropped_unknown_ssrc,
        before.dropped_unknown_ssrc + 10
    );
}

#[test]
fn a_viewers_rtcp_of_new_ssrcs_leaves_nothing_behind_and_admits_a_bounded_number() {
    let mut sim = Sim::new(1, 43);
    let (_, viewers) = stream_with_viewers(&mut sim, 1, 1);
    let viewer = viewers[0];
    let from = sim.client(viewer).addr;

    let (grown, moved) = measured_flood(&mut sim, from, |i| forged_rtcp(0x6300_0000 + i));
    eprintln!("{FORGED} forged SRTCP packets of new SSRCs: {grown} bytes left live");
    assert!(
        grown < BOUNDED,
        "{grown} bytes left by {FORGED} forged packets"
    );
    assert_eq!(moved.dropped_invalid, u64::from(FORGED));

    // Genuine RTCP of more sender SSRCs than a session admits: the surplus is dropped.
    let before = stats(&sim);
    let extra = 4;
    for i in 0..(MAX_INBOUND_SSRCS + extra) as u32 {
        let mut rr = vec![0x80, 201, 0, 1];
        rr.extend_from_slice(&(0x6400_0000 + i).to_be_bytes());
        sim.send_rtcp(viewer, &rr);
    }
    sim.run_for(10 * MS);
    let after = stats(&sim);
    assert_eq!(
        after.dropped_unknown_ssrc - before.dropped_unknown_ssrc,
        extra as u64
    );
    assert_eq!(after.dropped_invalid, before.dropped_invalid);
}

/// Source address number `i` of a spoofing peer.
fn spoofed(i: u32) -> SocketAddr {
    SocketAddr::from((
        [203, 0, 113, (i % 200) as u8 + 1],
        10_000 + (i / 200) as u16,
    ))
}

#[test]
fn checks_from_ever_new_addresses_leave_a_peer_a_few_routes_and_its_own_path() {
    let mut sim = Sim::new(1, 44);
    let (publisher, viewers) = stream_with_viewers(&mut sim, 1, 1);
    publish(&mut sim, publisher, 0..10, 30, 10 * MS);
    let routed = sim.worker(WorkerId(0)).core.routed_addrs();
    assert_eq!(routed, 2, "the publisher's and the viewer's addresses");

    // Valid checks (the session's credentials) from 1000 addresses.
    let to = sim.worker(WorkerId(0)).addr;
    for i in 0..1000u32 {
        let mut txid = [0u8; 12];
        txid[..4].copy_from_slice(&i.to_be_bytes());
        let check = sim.client(publisher).check(txid, false);
        sim.send(spoofed(i), to, check);
        sim.run_for(MS);
    }
    let routed = sim.worker(WorkerId(0)).core.routed_addrs();
    assert_eq!(
        routed,
        MAX_VALIDATED + 1,
        "the publisher keeps {MAX_VALIDATED} addresses, the viewer its one"
    );

    // Its own (selected) address was never evicted: its media still flows...
    publish(&mut sim, publisher, 10..20, 30, 10 * MS);
    let sent: Vec<Vec<u8>> = (0..20).map(|s| video_packet(s, 30)).collect();
    assert_forwarded(&sim, viewers[0], 0, &sent);
    // ... while a forgotten address is a stranger again.
    let before = stats(&sim).dropped_unknown_source;
    let sealed = sim
        .client_mut(publisher)
        .conn
        .protect_rtp(&video_packet(20, 30));
    sim.send(spoofed(0), to, sealed.unwrap().to_vec());
    sim.run_for(MS);
    assert_eq!(stats(&sim).dropped_unknown_source, before + 1);
}

/// A peer's timer is re-armed whenever its deadline moves: a session holder that only sends
/// checks (never DTLS) moves its consent deadline with each one. A hundred thousand checks
/// leave the worker's timer queue at a few entries (it took one entry per check before).
#[test]
fn a_flood_of_checks_re_arms_a_peer_without_growing_the_timer_queue() {
    let mut sim = Sim::new(1, 45);
    let spec = PeerSpec {
        layer_choice: Default::default(),
        id: PeerId(7),
        role: PeerRole::Publisher { stream: STREAM },
        local_ufrag: "lite".to_owned(),
        local_pwd: "lite-password-0000000000".to_owned(),
        remote_ufrag: "ctl".to_owned(),
        remote_pwd: "ctl-password-00000000000".to_owned(),
        remote_fingerprint: Fingerprint {
            algorithm: "sha-256".to_owned(),
            digest: vec![0; 32],
        },
        tracks: vec![sim::video_track(PUB_PT, PUB_SSRC)],
    };
    sim.command(WorkerId(0), Command::AddPeer(Box::new(spec)));
    let mut check = [0u8; 200];
    let len = write_binding_request(
        &mut check,
        &[9; 12],
        b"lite:ctl",
        b"lite-password-0000000000",
        CHECK_PRIORITY,
        1,
        false,
    )
    .unwrap();
    let from = spoofed(1);
    let mut now = sim.now();
    let core = &mut sim.worker_mut(WorkerId(0)).core;
    let mut largest = 0;
    for _ in 0..100_000 {
        now += Duration::from_micros(10);
        core.handle_input(now, SocketId::WORKER, from, &check[..len]);
        while let Some(queue) = core.poll_transmit() {
            queue.clear();
        }
        largest = largest.max(core.timer_queue_len());
    }
    eprintln!("100000 checks: the timer queue held at most {largest} entries");
    assert!(
        largest <= 2 + 64,
        "the timer queue grew to {largest} entries"
    );
    assert_eq!(core.stats().dropped_invalid, 0, "every check was valid");
    assert_eq!(core.peer_count(), 1);
}
