//! Where a worker sends media, on the simulated network (RFC 7675 consent): a valid check with
//! USE-CANDIDATE from a new address — which anyone holding the session's credentials can send
//! with a spoofed source — does not redirect the media before that address answered a check
//! of ours. A spoofed address that never answers gets a few checks and answers, and no media;
//! a client that really moved gets its media at the new address one round trip after its first
//! check from there.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use dataplane::api::{PeerRole, WorkerId};
use dataplane::sim::{self, Captured, ClientId, LinkConfig, Sim};

use common::*;

const MS: Duration = Duration::from_millis(1);
/// STUN message types (RFC 5389): Binding request and success response.
const BINDING_REQUEST: [u8; 2] = [0x00, 0x01];
const BINDING_SUCCESS: [u8; 2] = [0x01, 0x01];

/// The victim: an address nobody in the simulation has.
fn victim() -> SocketAddr {
    SocketAddr::from(([203, 0, 113, 50], 5000))
}

/// What the capture holds for datagrams to `to`: (STUN requests, STUN responses, others).
fn sent_to(capture: &[Captured], to: SocketAddr) -> (usize, usize, usize) {
    let to_it = capture.iter().filter(|(_, _, dst, _)| *dst == to);
    let kind = |b: &[u8]| b.get(..2).map(|t| [t[0], t[1]]);
    let requests = to_it
        .clone()
        .filter(|c| kind(&c.3) == Some(BINDING_REQUEST));
    let answers = to_it
        .clone()
        .filter(|c| kind(&c.3) == Some(BINDING_SUCCESS));
    let others = to_it
        .clone()
        .filter(|c| c.3.first().is_some_and(|&b| b > 3));
    (requests.count(), answers.count(), others.count())
}

/// Publishes packets `seqs`, one every 10 ms, calling `each` before each one.
fn publish_with(
    sim: &mut Sim,
    publisher: ClientId,
    seqs: std::ops::Range<u16>,
    mut each: impl FnMut(&mut Sim, u16),
) {
    for seq in seqs {
        each(sim, seq);
        sim.send_rtp(publisher, &video_packet(seq, 30));
        sim.run_for(10 * MS);
    }
}

#[test]
fn a_spoofed_nomination_never_gets_the_media() {
    let mut sim = Sim::new(1, 51);
    let (publisher, viewers) = stream_with_viewers(&mut sim, 1, 1);
    let viewer = viewers[0];
    let worker = sim.worker(WorkerId(0)).addr;
    sim.capture = Some(Vec::new());

    // For 10 s the viewer's session holder nominates the victim's address every 500 ms.
    let mut n = 0u32;
    publish_with(&mut sim, publisher, 0..1000, |sim, seq| {
        if seq % 50 == 0 {
            n += 1;
            let mut txid = [0xEE; 12];
            txid[..4].copy_from_slice(&n.to_be_bytes());
            let check = sim.client(viewer).check(txid, true);
            sim.send(victim(), worker, check);
        }
    });
    sim.run_for(100 * MS);

    let capture = sim.capture.take().unwrap();
    let (requests, answers, others) = sent_to(&capture, victim());
    assert_eq!(others, 0, "no media, no RTCP, no DTLS to the victim");
    assert_eq!(answers, 20, "each of its checks answered");
    // Our checks: six from 0 s (given up at 6.3 s), six from the nomination at 6.5 s.
    assert_eq!(requests, 12, "our consent checks are capped");
    // The viewer got the whole stream at its own address.
    let sent: Vec<Vec<u8>> = (0..1000).map(|s| video_packet(s, 30)).collect();
    assert_forwarded(&sim, viewer, 0, &sent);
}

#[test]
fn a_spoofed_first_check_and_nominations_throughout_do_not_get_the_media_either() {
    let mut sim = Sim::new(1, 52);
    let (publisher, _) = publisher(&mut sim, WorkerId(0), STREAM);
    let worker = sim.worker(WorkerId(0)).addr;
    sim.capture = Some(Vec::new());
    // The viewer's own datagrams take 5 ms; a spoofed check from the victim's address comes
    // first, and more follow every 100 ms, through the handshake and the stream.
    let (pt, ssrc) = viewer_track(0);
    let role = PeerRole::Subscriber {
        stream: STREAM,
        source: WorkerId(0),
    };
    let viewer_addr = SocketAddr::from(([198, 51, 100, 3], 50000));
    let slow = LinkConfig {
        delay: 5 * MS,
        ..LinkConfig::default()
    };
    sim.set_link(viewer_addr, worker, slow);
    let (viewer, _) = sim.add_client(WorkerId(0), role, vec![sim::video_track(pt, ssrc)]);
    assert_eq!(
        sim.client(viewer).addr,
        viewer_addr,
        "the address the link was set for"
    );
    let mut n = 0u32;
    let mut spoof = |sim: &mut Sim| {
        n += 1;
        let mut txid = [0xEF; 12];
        txid[..4].copy_from_slice(&n.to_be_bytes());
        let check = sim.client(viewer).check(txid, true);
        sim.send(victim(), worker, check);
    };
    spoof(&mut sim);
    for _ in 0..10 {
        sim.run_for(100 * MS);
        spoof(&mut sim);
    }
    publish_with(&mut sim, publisher, 0..600, |sim, seq| {
        if seq % 10 == 0 {
            spoof(sim);
        }
    });
    sim.run_for(100 * MS);

    let capture = sim.capture.take().unwrap();
    let (_, answers, others) = sent_to(&capture, victim());
    assert_eq!(others, 0, "no media, no RTCP, no DTLS to the victim");
    assert_eq!(answers, 71, "each of its checks answered");
    // The viewer's own address gets the stream once it nominates itself again.
    let got = published_seqs(&sim, viewer);
    let from = *got.first().expect("the viewer gets the stream");
    assert_eq!(got, (from..600).collect::<Vec<u16>>());
}

/// When the first datagram matching `pick` was put on the network, if any.
fn first(capture: &[Captured], pick: impl Fn(&Captured) -> bool) -> Option<Instant> {
    capture.iter().find(|c| pick(c)).map(|c| c.0)
}

#[test]
fn a_client_that_moved_gets_its_media_one_round_trip_after_its_first_check_from_there() {
    let mut sim = Sim::new(1, 53);
    let (publisher, viewers) = stream_with_viewers(&mut sim, 1, 1);
    let viewer = viewers[0];
    let worker = sim.worker(WorkerId(0)).addr;
    publish(&mut sim, publisher, 0..100, 30, 10 * MS);
    assert_eq!(sim.client(viewer).rtp.len(), 100);

    // The viewer's NAT binding changes: from now on it is at `moved`, 20 ms from the worker.
    let moved = SocketAddr::from(([198, 51, 100, 200], 61000));
    let delay = 20 * MS;
    let link = LinkConfig {
        delay,
        ..LinkConfig::default()
    };
    sim.set_link(moved, worker, link);
    sim.set_link(worker, moved, link);
    sim.move_client(viewer, moved);
    sim.capture = Some(Vec::new());
    // Its next consent check (every 1.6–2.4 s) comes from there.
    publish(&mut sim, publisher, 100..500, 30, 10 * MS);
    sim.run_for(100 * MS);

    let capture = sim.capture.take().unwrap();
    let from_it = |c: &Captured| c.1 == moved && c.2 == worker;
    let to_it = |c: &Captured| c.1 == worker && c.2 == moved;
    let is = |b: &[u8], kind: [u8; 2]| b.get(..2) == Some(&kind[..]);
    let check = first(&capture, |c| from_it(c) && is(&c.3, BINDING_REQUEST)).expect("a check");
    let answer =
        first(&capture, |c| from_it(c) && is(&c.3, BINDING_SUCCESS)).expect("our check answered");
    let media = first(&capture, |c| to_it(c) && c.3[0] >= 128).expect("media at the new address");
    // Our check reached it one way after its check reached us; its answer left at once.
    assert_eq!(answer - check, 2 * delay);
    assert!(media > answer, "no media before its answer");
    // The answer arrives one way later; the next packet (every 10 ms) goes there.
    assert!(media <= answer + delay + 10 * MS, "switched at once");
    // And the viewer receives the stream there.
    let got = published_seqs(&sim, viewer);
    let after: Vec<u16> = got.into_iter().filter(|&s| s >= 100).collect();
    let first_there = after[0];
    assert!(first_there < 340, "within 2.4 s: {first_there}");
    assert_eq!(after, (first_there..500).collect::<Vec<u16>>());
}
