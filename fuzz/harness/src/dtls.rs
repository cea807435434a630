//! Target `dtls`: the datagrams a peer sends once ICE let it through, i.e. DTLS records:
//! first the ClientHello, whose `use_srtp` offer the server reads (reassembling fragments from
//! any number of datagrams) before the handshake library sees anything, then the rest of
//! the handshake.
//!
//! The first byte's bit 0 picks the side we play: server (a browser's ClientHello and what
//! follows) or client (the relay's handshake with another node: its ServerHello flight and
//! what follows). The rest are records, one datagram each, whose aux byte's bit 7 sends it
//! from a second address and bits 0-2 say how long passes before it
//! ([`crate::clock::step`]). Every datagram goes through the demultiplexer and the session;
//! transmits and events are drained and due timers run, as the worker does.

use std::net::SocketAddr;
use std::sync::OnceLock;

use dataplane::api::Fingerprint;
use dataplane::demux;
use dataplane::dtls::{DtlsCertificate, DtlsSession};
use dataplane::srtp::SrtpProfile;

use crate::clock;
use crate::records::records;

const PROFILES: [SrtpProfile; 2] = [SrtpProfile::AeadAes128Gcm, SrtpProfile::Aes128CmHmacSha1_80];
const OTHER_SOURCE: u8 = 0x80;

/// The process certificate (generated once: it is an ECDSA key pair).
fn certificate() -> &'static DtlsCertificate {
    static CERT: OnceLock<DtlsCertificate> = OnceLock::new();
    CERT.get_or_init(|| DtlsCertificate::generate().expect("a DTLS certificate"))
}

fn peer(aux: u8) -> SocketAddr {
    let port = if aux & OTHER_SOURCE != 0 {
        40_001
    } else {
        40_000
    };
    SocketAddr::from(([127, 0, 0, 1], port))
}

pub fn run(data: &[u8]) {
    let Some((&select, rest)) = data.split_first() else {
        return;
    };
    let mut now = clock::base();
    let remote = Fingerprint {
        algorithm: "sha-256".to_owned(),
        digest: vec![0x42; 32],
    };
    let mut session = if select & 1 == 0 {
        DtlsSession::server(certificate(), remote, &PROFILES).expect("a server session")
    } else {
        let mut s = DtlsSession::client(certificate(), remote, &PROFILES).expect("a client");
        s.start(now, peer(0)).expect("the client starts");
        s
    };
    drain(&mut session);
    for (aux, datagram) in records(rest) {
        now += clock::step(aux);
        let _ = demux::classify(datagram);
        let _ = session.handle_input(now, peer(aux), datagram);
        drain(&mut session);
        if session.poll_timeout().is_some_and(|t| t <= now) {
            let _ = session.handle_timeout(now);
            drain(&mut session);
        }
        let _ = (session.is_connected(), session.remote());
    }
}

fn drain(session: &mut DtlsSession) {
    while session.poll_transmit().is_some() {}
    while session.poll_event().is_some() {}
}
