//! A full DTLS-SRTP handshake between a `DtlsSession` client and server pumped in memory: the
//! CPU of both sides together (ECDHE, ECDSA signatures and their checks, fingerprint checks,
//! key export), without network latency. The two certificates are generated once, outside the
//! measurement, as the process does at start-up.

mod common;

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use dataplane::dtls::{DtlsCertificate, DtlsEvent, DtlsSession};
use dataplane::srtp::{SrtpKeys, SrtpProfile, SrtpSession};

use common::rtp_packet;

/// Safety net for the pump: a clean handshake needs a handful of flights.
const MAX_ROUNDS: usize = 64;

/// Runs one handshake to completion and returns both sides' SRTP keys (client, server).
fn handshake(
    client_cert: &DtlsCertificate,
    server_cert: &DtlsCertificate,
    profiles: &[SrtpProfile],
    start: Instant,
) -> (SrtpKeys, SrtpKeys) {
    let client_addr: SocketAddr = "10.0.0.1:5000".parse().expect("address");
    let server_addr: SocketAddr = "10.0.0.2:6000".parse().expect("address");
    let mut now = start;
    let mut client = DtlsSession::client(client_cert, server_cert.fingerprint(), profiles)
        .expect("client config");
    let mut server = DtlsSession::server(server_cert, client_cert.fingerprint(), profiles)
        .expect("server config");
    client.start(now, server_addr).expect("start");
    let (mut client_keys, mut server_keys) = (None, None);
    for _ in 0..MAX_ROUNDS {
        let mut moved = false;
        while let Some((_, datagram)) = client.poll_transmit() {
            moved = true;
            server
                .handle_input(now, client_addr, &datagram)
                .expect("server accepts");
        }
        while let Some((_, datagram)) = server.poll_transmit() {
            moved = true;
            client
                .handle_input(now, server_addr, &datagram)
                .expect("client accepts");
        }
        while let Some(event) = client.poll_event() {
            if let DtlsEvent::Connected(keys) = event {
                client_keys = Some(keys);
            }
        }
        while let Some(event) = server.poll_event() {
            if let DtlsEvent::Connected(keys) = event {
                server_keys = Some(keys);
            }
        }
        if let (Some(c), Some(s)) = (&client_keys, &server_keys) {
            return (c.clone(), s.clone());
        }
        if !moved {
            // Only a held ClientHello waits on a timer; jump to it.
            let next = [client.poll_timeout(), server.poll_timeout()]
                .into_iter()
                .flatten()
                .min()
                .expect("a stalled handshake has a timer");
            now = now.max(next);
            client.handle_timeout(now).expect("client timer");
            server.handle_timeout(now).expect("server timer");
        }
    }
    panic!("DTLS handshake did not complete in {MAX_ROUNDS} rounds");
}

fn dtls(c: &mut Criterion) {
    let client_cert = DtlsCertificate::generate().expect("certificate");
    let server_cert = DtlsCertificate::generate().expect("certificate");
    let start = Instant::now();

    for profile in SrtpProfile::ALL {
        // The exported keys work: what the client protects, the server opens.
        let (ck, sk) = handshake(&client_cert, &server_cert, &[profile], start);
        assert_eq!((ck.profile, sk.profile), (profile, profile));
        let mut tx = SrtpSession::new(&ck).expect("client keys");
        let mut rx = SrtpSession::new(&sk).expect("server keys");
        let plain = rtp_packet(1, 0xABCD, false, &[]);
        let protected = tx.protect_rtp(&plain).expect("protect");
        assert_eq!(
            &rx.unprotect_rtp(&protected).expect("opens")[..],
            &plain[..]
        );
    }

    // Both profiles offered, as the server is configured by default; the profile does not
    // change the handshake's cost.
    let mut group = c.benchmark_group("dtls");
    group.throughput(Throughput::Elements(1));
    group.bench_function("handshake", |b| {
        b.iter(|| {
            black_box(handshake(
                &client_cert,
                &server_cert,
                black_box(&SrtpProfile::ALL),
                start,
            ))
        })
    });
    group.finish();
}

common::bench_main!(dtls, 20, Duration::from_secs(3));
