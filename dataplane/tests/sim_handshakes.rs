//! Handshakes on the simulated network, provoked from outside the worker by peers that hold a
//! session's ICE credentials but do not finish DTLS: one that stops after ICE, one that sends a
//! ClientHello and falls silent. Each keeps ICE alive with checks, as a browser would, so only
//! the DTLS handshake timeout can close it.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use dataplane::api::{CloseReason, Command, Event, PeerId, PeerRole, PeerSpec, StreamId, WorkerId};
use dataplane::dtls::{DtlsCertificate, DtlsSession};
use dataplane::ice::CHECK_PRIORITY;
use dataplane::sim::{self, Sim};
use dataplane::srtp::SrtpProfile;
use dataplane::stun::write_binding_request;

use common::*;

const MS: Duration = Duration::from_millis(1);
const SECOND: Duration = Duration::from_secs(1);

/// A peer signalling added to worker 0, driven by hand: ICE checks and the DTLS client's first
/// flight go out only when the test says so, and nothing the worker answers reaches it (its
/// address has no endpoint in the simulation).
struct RawPeer {
    id: PeerId,
    addr: SocketAddr,
    /// `<our ufrag>:<its ufrag>` and our password, which key its checks.
    username: String,
    password: String,
    checks: u32,
    dtls: DtlsSession,
}

impl RawPeer {
    /// Adds peer number `n` (a publisher of its own stream) to worker 0.
    fn add(sim: &mut Sim, n: u16, cert: &DtlsCertificate) -> Self {
        let id = sim.peer_id();
        let (ufrag, password) = (format!("raw{n}"), format!("raw-password-{n:012}"));
        let spec = PeerSpec {
            layer_choice: Default::default(),
            id,
            role: PeerRole::Publisher {
                stream: StreamId(1000 + u64::from(n)),
            },
            local_ufrag: ufrag.clone(),
            local_pwd: password.clone(),
            remote_ufrag: format!("atk{n}"),
            remote_pwd: format!("atk-password-{n:012}"),
            remote_fingerprint: cert.fingerprint(),
            tracks: vec![sim::video_track(PUB_PT, PUB_SSRC)],
        };
        sim.command(WorkerId(0), Command::AddPeer(Box::new(spec)));
        let server_fingerprint = DtlsCertificate::generate().unwrap().fingerprint();
        Self {
            id,
            addr: SocketAddr::from(([203, 0, 113, 1], 20_000 + n)),
            username: format!("{ufrag}:atk{n}"),
            password,
            checks: 0,
            dtls: DtlsSession::client(cert, server_fingerprint, &SrtpProfile::ALL).unwrap(),
        }
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

    /// Starts the DTLS client and sends its ClientHello.
    fn client_hello(&mut self, sim: &mut Sim) {
        let to = sim.worker(WorkerId(0)).addr;
        self.dtls.start(sim.now(), to).unwrap();
        while let Some((_, datagram)) = self.dtls.poll_transmit() {
            sim.send(self.addr, to, datagram.to_vec());
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
