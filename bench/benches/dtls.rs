//! A full DTLS-SRTP handshake between a `DtlsSession` client and server pumped in memory: the
//! CPU of both sides together (ECDHE, ECDSA signatures and their checks, fingerprint checks,
//! key export), without network latency. The two certificates are generated once, outside the
//! measurement, as the process does at start-up.
//!
//! And what a ClientHello costs the server alone, which is all a peer that sends one and then
//! nothing (a half-open handshake) makes it spend: the first ClientHello (answered with a
//! HelloVerifyRequest), and the second, with the cookie (answered with the server's whole
//! flight: an ECDHE key share signed with ECDSA, and the certificate).

mod common;

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, Throughput};
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

const CLIENT: &str = "10.0.0.1:5000";
const SERVER: &str = "10.0.0.2:6000";

/// Every datagram `session` has to send.
fn drain(session: &mut DtlsSession) -> Vec<bytes::BytesMut> {
    std::iter::from_fn(|| session.poll_transmit().map(|(_, d)| d)).collect()
}

/// A fresh server session and the client's datagrams of its first ClientHello, or (with
/// `cookie`) of the second one, which carries the cookie of the server's HelloVerifyRequest
/// (the server has taken the first one).
fn server_and_hello(
    client_cert: &DtlsCertificate,
    server_cert: &DtlsCertificate,
    cookie: bool,
    now: Instant,
) -> (DtlsSession, Vec<bytes::BytesMut>) {
    let (client_addr, server_addr) = (CLIENT.parse().unwrap(), SERVER.parse().unwrap());
    let mut client =
        DtlsSession::client(client_cert, server_cert.fingerprint(), &SrtpProfile::ALL).unwrap();
    let mut server =
        DtlsSession::server(server_cert, client_cert.fingerprint(), &SrtpProfile::ALL).unwrap();
    client.start(now, server_addr).unwrap();
    let first = drain(&mut client);
    if !cookie {
        return (server, first);
    }
    for d in &first {
        server.handle_input(now, client_addr, d).unwrap();
    }
    for d in drain(&mut server) {
        client.handle_input(now, server_addr, &d).unwrap();
    }
    (server, drain(&mut client))
}

/// The server takes `hello` and writes its answer.
fn serve_hello(
    (mut server, hello): (DtlsSession, Vec<bytes::BytesMut>),
    now: Instant,
) -> (DtlsSession, Vec<bytes::BytesMut>) {
    let client_addr = CLIENT.parse().unwrap();
    for d in &hello {
        server.handle_input(now, client_addr, d).unwrap();
    }
    let answer = drain(&mut server);
    (server, answer)
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
    // The server's side of each ClientHello; building the session and the ClientHello is
    // set-up, dropping them is not measured either.
    for (name, cookie) in [
        ("server_first_client_hello", false),
        ("server_client_hello_with_cookie", true),
    ] {
        let (_, answer) = serve_hello(
            server_and_hello(&client_cert, &server_cert, cookie, start),
            start,
        );
        assert!(!answer.is_empty(), "{name}: the server answers");
        group.bench_function(name, |b| {
            b.iter_batched(
                || server_and_hello(&client_cert, &server_cert, cookie, start),
                |input| serve_hello(input, start),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

common::bench_main!(dtls, 20, Duration::from_secs(3));
