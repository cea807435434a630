//! Handshakes on the simulated network, provoked from outside the worker by peers that hold a
//! session's ICE credentials but do not finish DTLS: one that stops after ICE, one that sends a
//! ClientHello and falls silent. Each keeps ICE alive with checks, as a browser would, so only
//! the DTLS handshake timeout can close it. And floods of DTLS records from a peer's address
//! (records for a later epoch before the keys, stale handshake fragments) leave the worker a
//! bounded buffer, measured with this test binary's counting allocator.

mod common;
mod counting_alloc;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use dataplane::api::{
    CloseReason, Command, Event, Fingerprint, PeerId, PeerRole, PeerSpec, StreamId, WorkerId,
};
use dataplane::dtls::{DtlsCertificate, DtlsSession};
use dataplane::ice::CHECK_PRIORITY;
use dataplane::sim::{self, Captured, Sim};
use dataplane::srtp::SrtpProfile;
use dataplane::stun::write_binding_request;

use common::*;
use counting_alloc::live;

const MS: Duration = Duration::from_millis(1);
const SECOND: Duration = Duration::from_secs(1);

/// A peer signalling added to worker 0, driven by hand: ICE checks and the DTLS client's first
/// flight go out only when the test says so, and nothing the worker answers reaches it (its
/// address has no endpoint in the simulation).
struct RawPeer {
    id: PeerId,
    n: u16,
    addr: SocketAddr,
    /// `<our ufrag>:<its ufrag>` and our password, which key its checks.
    username: String,
    password: String,
    checks: u32,
    dtls: DtlsSession,
    /// Its certificate's, for the worker to check.
    fingerprint: Fingerprint,
}

impl RawPeer {
    /// Adds peer number `n` (a publisher of its own stream) to worker 0.
    fn add(sim: &mut Sim, n: u16, cert: &DtlsCertificate) -> Self {
        let peer = Self::new(sim.peer_id(), n, cert, cert.fingerprint());
        peer.signal(sim);
        peer
    }

    /// Peer number `n`, with its own DTLS client expecting `server` (never checked: the
    /// handshake does not get that far), not yet known to the worker.
    fn new(id: PeerId, n: u16, cert: &DtlsCertificate, server: Fingerprint) -> Self {
        Self {
            id,
            n,
            addr: SocketAddr::from(([203, 0, 113, 1], 20_000 + n)),
            username: format!("raw{n}:atk{n}"),
            password: format!("raw-password-{n:012}"),
            checks: 0,
            dtls: DtlsSession::client(cert, server, &SrtpProfile::ALL).unwrap(),
            fingerprint: cert.fingerprint(),
        }
    }

    /// Signalling's `AddPeer` for it to worker 0.
    fn signal(&self, sim: &mut Sim) {
        let n = self.n;
        let spec = PeerSpec {
            layer_choice: Default::default(),
            id: self.id,
            role: PeerRole::Publisher {
                stream: StreamId(1000 + u64::from(n)),
            },
            local_ufrag: format!("raw{n}"),
            local_pwd: self.password.clone(),
            remote_ufrag: format!("atk{n}"),
            remote_pwd: format!("atk-password-{n:012}"),
            remote_fingerprint: self.fingerprint.clone(),
            tracks: vec![sim::video_track(PUB_PT, PUB_SSRC)],
        };
        sim.command(WorkerId(0), Command::AddPeer(Box::new(spec)));
    }

    /// Sends a valid connectivity check (nominating its address).
    fn check(&mut self, sim: &mut Sim) {
        self.checks += 1;
        let mut txid = [7u8; 12];
        txid[..4].copy_from_slice(&self.checks.to_be_bytes());
        let mut buf = [0u8; 256];
        let len = write_binding_request(
            &mut buf,
            &txid,
            self.username.as_bytes(),
            self.password.as_bytes(),
            CHECK_PRIORITY,
            1,
            true,
        )
        .unwrap();
        let to = sim.worker(WorkerId(0)).addr;
        sim.send(self.addr, to, buf[..len].to_vec());
    }

    /// Feeds the DTLS client what the worker sent it (from `capture`) and returns its answer:
    /// after a HelloVerifyRequest, the ClientHello with the cookie.
    fn answer(&mut self, now: Instant, capture: &[Captured]) -> Vec<Vec<u8>> {
        for (_, from, to, bytes) in capture {
            if *to == self.addr && bytes.first().is_some_and(|b| (20..=63).contains(b)) {
                let _ = self.dtls.handle_input(now, *from, bytes);
            }
        }
        std::iter::from_fn(|| self.dtls.poll_transmit())
            .map(|(_, datagram)| datagram.to_vec())
            .collect()
    }

    /// Starts the DTLS client and returns its ClientHello.
    fn first_flight(&mut self, now: Instant, worker: SocketAddr) -> Vec<Vec<u8>> {
        self.dtls.start(now, worker).unwrap();
        std::iter::from_fn(|| self.dtls.poll_transmit())
            .map(|(_, datagram)| datagram.to_vec())
            .collect()
    }

    /// Starts the DTLS client and sends its ClientHello.
    fn client_hello(&mut self, sim: &mut Sim) {
        let to = sim.worker(WorkerId(0)).addr;
        for datagram in self.first_flight(sim.now(), to) {
            sim.send(self.addr, to, datagram);
        }
    }
}

/// Why the worker closed `peer`, if it did.
fn closed(sim: &Sim, peer: PeerId) -> Option<CloseReason> {
    sim.events.iter().find_map(|(_, e)| match e {
        Event::PeerClosed { peer: p, reason } if *p == peer => Some(*reason),
        _ => None,
    })
}

/// Runs `d`, with every peer of `peers` sending a check each second (consent stays fresh).
fn run_with_checks(sim: &mut Sim, peers: &mut [&mut RawPeer], d: Duration) {
    let end = sim.now() + d;
    while sim.now() < end {
        let step = SECOND.min(end - sim.now());
        sim.run_for(step);
        for p in peers.iter_mut() {
            p.check(sim);
        }
    }
}

#[test]
fn a_peer_that_completes_ice_and_never_starts_dtls_is_closed_at_the_deadline() {
    let mut sim = Sim::new(1, 61);
    let cert = DtlsCertificate::generate().unwrap();
    let mut silent = RawPeer::add(&mut sim, 1, &cert);
    silent.check(&mut sim);
    // The default deadline: 5 s after ICE selected the path.
    run_with_checks(&mut sim, &mut [&mut silent], 5 * SECOND - MS);
    assert_eq!(closed(&sim, silent.id), None, "open until the deadline");
    sim.run_for(MS);
    assert_eq!(closed(&sim, silent.id), Some(CloseReason::DtlsTimeout));
    assert_eq!(sim.worker(WorkerId(0)).core.peer_count(), 0);
}

#[test]
fn a_client_hello_and_then_silence_is_closed_at_the_configured_deadline() {
    let mut sim = Sim::with_core_config(1, 62, |c| c.dtls_timeout = 2 * SECOND);
    let cert = DtlsCertificate::generate().unwrap();
    let mut half_open = RawPeer::add(&mut sim, 1, &cert);
    half_open.check(&mut sim);
    sim.run_for(MS);
    half_open.client_hello(&mut sim);
    run_with_checks(&mut sim, &mut [&mut half_open], 2 * SECOND - 2 * MS);
    assert_eq!(closed(&sim, half_open.id), None, "open until the deadline");
    sim.run_for(MS);
    assert_eq!(closed(&sim, half_open.id), Some(CloseReason::DtlsTimeout));
    assert_eq!(sim.worker(WorkerId(0)).core.peer_count(), 0);

    // A genuine client on the same worker, whose handshake completes at once, stays.
    let (publisher, _) = publisher(&mut sim, WorkerId(0), STREAM);
    sim.run_for(10 * SECOND);
    assert!(sim.client(publisher).is_connected());
    assert_eq!(sim.worker(WorkerId(0)).core.peer_count(), 1);
}

/// A DTLS 1.2 record: content type, version, epoch, 48-bit sequence number, length, `body`.
fn record(content_type: u8, epoch: u16, seq: u64, body: &[u8]) -> Vec<u8> {
    let mut r = vec![content_type, 0xFE, 0xFD];
    r.extend_from_slice(&epoch.to_be_bytes());
    r.extend_from_slice(&seq.to_be_bytes()[2..]);
    r.extend_from_slice(&(body.len() as u16).to_be_bytes());
    r.extend_from_slice(body);
    r
}

/// An epoch-1 handshake record, as an encrypted Finished looks on the wire (junk inside: only
/// the keys could tell).
fn early_record(seq: u64) -> Vec<u8> {
    record(22, 1, seq, &[0x5A; 64])
}

/// An epoch-0 handshake record carrying fragment `i` (100 bytes) of a 64000-byte ClientHello
/// (message_seq 0): plaintext anyone spoofing the peer's address can forge.
fn handshake_fragment(seq: u64, i: u32) -> Vec<u8> {
    let mut body = vec![1]; // client_hello
    body.extend_from_slice(&64_000u32.to_be_bytes()[1..]);
    body.extend_from_slice(&[0, 0]); // message_seq
    body.extend_from_slice(&(i % 640 * 100).to_be_bytes()[1..]);
    body.extend_from_slice(&100u32.to_be_bytes()[1..]);
    body.extend_from_slice(&[0xA5; 100]);
    record(22, 0, seq, &body)
}

/// Records per flood.
const FLOOD: u32 = 20_000;

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

/// Floods from `from` with `make` and returns the bytes it left live and the datagrams the
/// worker counted invalid. A flood from a stranger first sizes the network's queue.
fn measured_flood(sim: &mut Sim, from: SocketAddr, make: impl Fn(u32) -> Vec<u8>) -> (isize, u64) {
    let stranger = SocketAddr::from(([203, 0, 113, 99], 9));
    flood(sim, stranger, 1000, &make);
    let (bytes, invalid) = (live(), sim.worker(WorkerId(0)).core.stats().dropped_invalid);
    flood(sim, from, FLOOD, make);
    let invalid = sim.worker(WorkerId(0)).core.stats().dropped_invalid - invalid;
    (live() - bytes, invalid)
}

#[test]
fn a_flood_of_records_for_a_later_epoch_before_the_keys_leaves_a_bounded_queue() {
    let mut sim = Sim::new(1, 63);
    let cert = DtlsCertificate::generate().unwrap();
    let mut half_open = RawPeer::add(&mut sim, 1, &cert);
    half_open.check(&mut sim);
    sim.run_for(MS);
    half_open.client_hello(&mut sim);
    sim.run_for(MS);

    // Before the ClientKeyExchange there are no keys: the crate queues what comes for epoch 1.
    let (grown, invalid) = measured_flood(&mut sim, half_open.addr, |i| early_record(u64::from(i)));
    eprintln!(
        "{FLOOD} epoch-1 records before the keys: {grown} bytes left live, {invalid} dropped"
    );
    assert!(grown < 64 * 1024, "{grown} bytes left by {FLOOD} records");
    assert!(invalid >= u64::from(FLOOD) - 64, "{invalid} dropped");
    assert_eq!(
        closed(&sim, half_open.id),
        None,
        "the flood does not end the handshake"
    );
}

#[test]
fn a_flood_of_handshake_fragments_leaves_a_connected_peer_a_bounded_buffer() {
    let mut sim = Sim::new(1, 64);
    let (publisher, viewers) = stream_with_viewers(&mut sim, 1, 1);
    publish(&mut sim, publisher, 0..10, 30, 10 * MS);
    let from = sim.client(publisher).addr;

    // Plaintext handshake fragments of a message the crate has read already: it keeps them
    // (up to 2 MB of its own) unless we stop feeding them.
    let (grown, _) = measured_flood(&mut sim, from, |i| {
        handshake_fragment(100 + u64::from(i), i)
    });
    eprintln!("{FLOOD} epoch-0 handshake fragments: {grown} bytes left live");
    assert!(
        grown < 128 * 1024,
        "{grown} bytes left by {FLOOD} fragments"
    );

    // The association is unharmed: media still flows.
    publish(&mut sim, publisher, 10..20, 30, 10 * MS);
    let sent: Vec<Vec<u8>> = (0..20).map(|s| video_packet(s, 30)).collect();
    assert_forwarded(&sim, viewers[0], 0, &sent);
}

#[test]
fn beyond_the_handshake_slots_a_client_hello_waits_and_a_freed_slot_lets_it_in() {
    let mut sim = Sim::with_core_config(1, 65, |c| c.max_handshakes = 2);
    let in_flight = |sim: &Sim| sim.worker(WorkerId(0)).core.handshakes_in_flight();
    let busy = |sim: &Sim| sim.worker(WorkerId(0)).core.stats().dropped_handshake_busy;
    let cert = DtlsCertificate::generate().unwrap();
    let mut first = RawPeer::add(&mut sim, 1, &cert);
    let mut second = RawPeer::add(&mut sim, 2, &cert);
    first.check(&mut sim);
    second.check(&mut sim);
    sim.run_for(MS);
    first.client_hello(&mut sim);
    second.client_hello(&mut sim);
    sim.run_for(MS);
    assert_eq!(
        in_flight(&sim),
        2,
        "two half-open handshakes hold both slots"
    );
    assert_eq!(busy(&sim), 0);

    // A genuine publisher: ICE connects, its ClientHello finds no slot.
    let role = PeerRole::Publisher { stream: STREAM };
    let track = sim::video_track(PUB_PT, PUB_SSRC);
    let (third, third_id) = sim.add_client(WorkerId(0), role, vec![track]);
    run_with_checks(&mut sim, &mut [&mut first, &mut second], 900 * MS);
    assert!(!sim.client(third).is_connected());
    assert_eq!(sim.client(third).failed, None);
    assert!(busy(&sim) >= 1, "its ClientHello was dropped");
    assert_eq!(in_flight(&sim), 2);
    assert_eq!(
        sim.worker(WorkerId(0)).core.routed_addrs(),
        3,
        "ICE answered it: its path is routed"
    );

    // Signalling removes the first half-open peer: the slot frees and the publisher's next
    // ClientHello gets in.
    sim.command(WorkerId(0), Command::RemovePeer(first.id));
    assert_eq!(in_flight(&sim), 1);
    wait_connected(&mut sim, third_id);
    connected(&mut sim, third);
    assert_eq!(
        in_flight(&sim),
        1,
        "a completed handshake gives its slot back"
    );

    // The second one holds its slot until its deadline.
    run_with_checks(&mut sim, &mut [&mut second], 5 * SECOND);
    assert_eq!(closed(&sim, second.id), Some(CloseReason::DtlsTimeout));
    assert_eq!(in_flight(&sim), 0);
    assert!(sim.client(third).is_connected());
}

/// What the worker kept at each step of a round of [`half_open_round`], in bytes for all
/// its peers.
#[derive(Debug)]
struct Round {
    /// `AddPeer`.
    signalled: isize,
    /// An ICE check each.
    ice: isize,
    /// A first ClientHello each.
    hello: isize,
    /// The ClientHello with the cookie each.
    cookie: isize,
    /// What was still live after the handshake timeout closed them all and the test dropped
    /// everything it made.
    left: isize,
}

const PEERS: usize = 100;

/// Sends `datagrams[i]` from `peers[i]` to worker 0 (copies: the network frees them on
/// delivery, so they leave the count as they came).
fn send_all(sim: &mut Sim, peers: &[RawPeer], datagrams: &[Vec<Vec<u8>>]) {
    let worker = sim.worker(WorkerId(0)).addr;
    for (p, ds) in peers.iter().zip(datagrams) {
        for d in ds {
            sim.send(p.addr, worker, d.clone());
        }
    }
}

/// [`PEERS`] peers go through a half-open handshake: signalled, ICE, a ClientHello, the
/// ClientHello with our cookie, then silence (but checks) until the handshake timeout closes
/// them. What the test itself holds is kept out of each step measured: its clients and their
/// ClientHellos are made between steps, and what it captures off the wire is subtracted.
fn half_open_round(sim: &mut Sim, cert: &DtlsCertificate) -> Round {
    let worker = sim.worker(WorkerId(0)).addr;
    let server = cert.fingerprint();
    // The events the simulation records for the test are not the worker's.
    sim.events = Vec::new();
    let before = live();
    let mut peers: Vec<RawPeer> = (0..PEERS as u16)
        .map(|n| RawPeer::new(sim.peer_id(), n, cert, server.clone()))
        .collect();

    let mark = live();
    for p in &peers {
        p.signal(sim);
    }
    let signalled = live() - mark;

    let mark = live();
    for p in &mut peers {
        p.check(sim);
    }
    sim.run_for(MS);
    let ice = live() - mark;

    let now = sim.now();
    let hellos: Vec<_> = peers
        .iter_mut()
        .map(|p| p.first_flight(now, worker))
        .collect();
    let mark = live();
    send_all(sim, &peers, &hellos);
    sim.capture = Some(Vec::with_capacity(4 * PEERS));
    sim.run_for(MS);
    let capture = sim.capture.take().unwrap();
    let captured = capture.capacity() * size_of::<Captured>()
        + capture.iter().map(|c| c.3.capacity()).sum::<usize>();
    let hello = live() - mark - captured as isize;

    let now = sim.now();
    let seconds: Vec<_> = peers.iter_mut().map(|p| p.answer(now, &capture)).collect();
    drop(capture);
    let mark = live();
    send_all(sim, &peers, &seconds);
    sim.run_for(MS);
    let cookie = live() - mark;
    assert_eq!(sim.worker(WorkerId(0)).core.handshakes_in_flight(), PEERS);

    let mut refs: Vec<&mut RawPeer> = peers.iter_mut().collect();
    run_with_checks(sim, &mut refs, 6 * SECOND);
    drop(refs);
    assert!(peers
        .iter()
        .all(|p| closed(sim, p.id) == Some(CloseReason::DtlsTimeout)));
    assert_eq!(sim.worker(WorkerId(0)).core.handshakes_in_flight(), 0);
    drop((peers, hellos, seconds));
    sim.events = Vec::new();
    Round {
        signalled,
        ice,
        hello,
        cookie,
        left: live() - before,
    }
}

/// What one half-open handshake costs the worker in memory, step by step, for peers that
/// send a ClientHello and nothing more (a first one; then the second, with the cookie of our
/// HelloVerifyRequest, which makes the server compute its key share, sign it and keep its
/// whole flight). All of it is given back when the handshake timeout closes them.
#[test]
fn what_a_half_open_handshake_costs_and_that_the_deadline_gives_it_back() {
    let mut sim = Sim::new(1, 66);
    let cert = DtlsCertificate::generate().unwrap();
    // A first round sizes what grows once (the peer slab, the network queue, the tables), a
    // second one the last tables (a third left 0 to 2 KB over several runs: no leak).
    let warm = half_open_round(&mut sim, &cert);
    half_open_round(&mut sim, &cert);
    let r = half_open_round(&mut sim, &cert);
    let per_peer = |bytes: isize| bytes / PEERS as isize;
    eprintln!(
        "per peer: signalled {} B (first round, with the slab's growth: {} B), ICE +{} B, \
         first ClientHello +{} B, ClientHello with the cookie +{} B",
        per_peer(r.signalled),
        per_peer(warm.signalled),
        per_peer(r.ice),
        per_peer(r.hello),
        per_peer(r.cookie),
    );
    let half_open = per_peer(r.hello + r.cookie);
    eprintln!("one half-open handshake: {half_open} B");
    assert!(
        r.hello > 0 && r.cookie > 0 && half_open < 64 * 1024,
        "{r:?}"
    );
    eprintln!("after the deadline: {} B left for {PEERS} peers", r.left);
    assert!(r.left < 16 * 1024, "{r:?}");
}
