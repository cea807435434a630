//! Handshake tests: a client and a server session pumped in memory with a virtual clock.

use std::sync::OnceLock;

use super::client_hello::tests::{client_hello_body, fragment_record};
use super::*;
use crate::srtp::{SrtpError, SrtpSession};

const CLIENT: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 5000);
const SERVER: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), 6000);

/// Certificate generation is the slow part: two per test binary.
fn certs() -> &'static (DtlsCertificate, DtlsCertificate) {
    static CERTS: OnceLock<(DtlsCertificate, DtlsCertificate)> = OnceLock::new();
    CERTS.get_or_init(|| {
        (
            DtlsCertificate::generate().unwrap(),
            DtlsCertificate::generate().unwrap(),
        )
    })
}

fn wrong_fingerprint() -> Fingerprint {
    Fingerprint {
        algorithm: "sha-256".to_owned(),
        digest: vec![0xAB; 32],
    }
}

/// Which side a datagram travels to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum To {
    Server,
    Client,
}

struct Pair {
    client: DtlsSession,
    server: DtlsSession,
    now: Instant,
    client_events: Vec<DtlsEvent>,
    server_events: Vec<DtlsEvent>,
    client_error: Option<DtlsError>,
    server_error: Option<DtlsError>,
    /// Datagrams delivered so far, per direction.
    delivered: usize,
}

impl Pair {
    fn new(client_profiles: &[SrtpProfile], server_profiles: &[SrtpProfile]) -> Self {
        let (client_cert, server_cert) = certs();
        Self::with_fingerprints(
            client_profiles,
            server_profiles,
            server_cert.fingerprint(),
            client_cert.fingerprint(),
        )
    }

    /// `client_expects` is what the client checks the server's certificate against, and so on.
    fn with_fingerprints(
        client_profiles: &[SrtpProfile],
        server_profiles: &[SrtpProfile],
        client_expects: Fingerprint,
        server_expects: Fingerprint,
    ) -> Self {
        let (client_cert, server_cert) = certs();
        let now = Instant::now();
        let mut client = DtlsSession::client(client_cert, client_expects, client_profiles).unwrap();
        let server = DtlsSession::server(server_cert, server_expects, server_profiles).unwrap();
        client.start(now, SERVER).unwrap();
        Self {
            client,
            server,
            now,
            client_events: Vec::new(),
            server_events: Vec::new(),
            client_error: None,
            server_error: None,
            delivered: 0,
        }
    }

    /// Moves every queued datagram across once; `drop` decides which are lost.
    fn exchange(&mut self, drop: &mut dyn FnMut(To, usize) -> bool) -> bool {
        let mut moved = false;
        while let Some((dst, datagram)) = self.client.poll_transmit() {
            assert_eq!(dst, SERVER);
            moved = true;
            self.delivered += 1;
            if !drop(To::Server, self.delivered) {
                if let Err(e) = self.server.handle_input(self.now, CLIENT, &datagram) {
                    self.server_error.get_or_insert(e);
                }
            }
        }
        while let Some((dst, datagram)) = self.server.poll_transmit() {
            assert_eq!(dst, CLIENT);
            moved = true;
            self.delivered += 1;
            if !drop(To::Client, self.delivered) {
                if let Err(e) = self.client.handle_input(self.now, SERVER, &datagram) {
                    self.client_error.get_or_insert(e);
                }
            }
        }
        self.client_events
            .extend(std::iter::from_fn(|| self.client.poll_event()));
        self.server_events
            .extend(std::iter::from_fn(|| self.server.poll_event()));
        moved
    }

    /// Runs until both sides are connected, one fails, or nothing is left to do.
    fn drive(&mut self, drop: &mut dyn FnMut(To, usize) -> bool) {
        for _ in 0..200 {
            if self.exchange(drop) {
                continue;
            }
            if self.client.is_connected() && self.server.is_connected() {
                return;
            }
            if self.client_error.is_some() || self.server_error.is_some() {
                return;
            }
            let next = [self.client.poll_timeout(), self.server.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            let Some(next) = next else { return };
            self.now = self.now.max(next);
            if let Err(e) = self.client.handle_timeout(self.now) {
                self.client_error.get_or_insert(e);
            }
            if let Err(e) = self.server.handle_timeout(self.now) {
                self.server_error.get_or_insert(e);
            }
        }
    }

    fn keys(&self) -> (SrtpKeys, SrtpKeys) {
        let pick = |events: &[DtlsEvent]| {
            events
                .iter()
                .find_map(|e| match e {
                    DtlsEvent::Connected(keys) => Some(keys.clone()),
                    DtlsEvent::Closed => None,
                })
                .expect("a Connected event")
        };
        (pick(&self.client_events), pick(&self.server_events))
    }
}

fn no_loss(_: To, _: usize) -> bool {
    false
}

fn assert_srtp_round_trips(client_keys: &SrtpKeys, server_keys: &SrtpKeys) {
    use crate::srtp::tests::{rtcp_packet, rtp_packet};
    let mut client = SrtpSession::new(client_keys).unwrap();
    let mut server = SrtpSession::new(server_keys).unwrap();
    for seq in 1..=3u16 {
        let plain = rtp_packet(seq, b"from the client");
        let protected = client.protect_rtp(&plain).unwrap();
        assert_eq!(&server.unprotect_rtp(&protected).unwrap()[..], &plain[..]);
        let plain = rtp_packet(seq, b"from the server");
        let protected = server.protect_rtp(&plain).unwrap();
        assert_eq!(&client.unprotect_rtp(&protected).unwrap()[..], &plain[..]);
    }
    let protected = client.protect_rtcp(&rtcp_packet()).unwrap();
    assert_eq!(
        &server.unprotect_rtcp(&protected).unwrap()[..],
        &rtcp_packet()[..]
    );
    let protected = server.protect_rtcp(&rtcp_packet()).unwrap();
    assert_eq!(
        &client.unprotect_rtcp(&protected).unwrap()[..],
        &rtcp_packet()[..]
    );

    let protected = client.protect_rtp(&rtp_packet(50, b"tamper me")).unwrap();
    let mut tampered = protected.to_vec();
    *tampered.last_mut().unwrap() ^= 1;
    assert_eq!(server.unprotect_rtp(&tampered), Err(SrtpError::Auth));
    assert!(server.unprotect_rtp(&protected).is_ok());
    assert_eq!(server.unprotect_rtp(&protected), Err(SrtpError::Replay));
}

#[test]
fn handshake_exports_matching_keys_for_both_profiles() {
    for profile in SrtpProfile::ALL {
        let mut pair = Pair::new(&[profile], &SrtpProfile::ALL);
        pair.drive(&mut no_loss);
        assert_eq!((pair.client_error, pair.server_error), (None, None));
        let (client_keys, server_keys) = pair.keys();
        assert_eq!(client_keys.profile, profile);
        assert_eq!(server_keys.profile, profile);
        assert!(client_keys.is_client && !server_keys.is_client);
        assert_eq!(client_keys.keying_material, server_keys.keying_material);
        assert_eq!(
            client_keys.keying_material.len(),
            profile.keying_material_len()
        );
        assert_srtp_round_trips(&client_keys, &server_keys);
    }
}

#[test]
fn server_prefers_gcm_even_when_the_client_lists_cm_first() {
    // Chrome's order.
    let chrome_order = [SrtpProfile::Aes128CmHmacSha1_80, SrtpProfile::AeadAes128Gcm];
    let mut pair = Pair::new(&chrome_order, &SrtpProfile::ALL);
    pair.drive(&mut no_loss);
    assert_eq!(
        pair.server.configured_profiles,
        [SrtpProfile::AeadAes128Gcm]
    );
    let (client_keys, server_keys) = pair.keys();
    assert_eq!(client_keys.profile, SrtpProfile::AeadAes128Gcm);
    assert_eq!(server_keys.profile, SrtpProfile::AeadAes128Gcm);

    // A client without GCM gets CM.
    let mut pair = Pair::new(&[SrtpProfile::Aes128CmHmacSha1_80], &SrtpProfile::ALL);
    pair.drive(&mut no_loss);
    assert_eq!(
        pair.server.configured_profiles,
        [SrtpProfile::Aes128CmHmacSha1_80]
    );
    assert_eq!(pair.keys().1.profile, SrtpProfile::Aes128CmHmacSha1_80);
}

#[test]
fn server_reads_the_offer_from_a_fragmented_client_hello() {
    let (_, server_cert) = certs();
    let fp = certs().0.fingerprint();
    let now = Instant::now();
    let body = client_hello_body(&[0x0001, 0x0007], 1200);
    let mid = body.len() / 2;

    let mut server = DtlsSession::server(server_cert, fp.clone(), &SrtpProfile::ALL).unwrap();
    server
        .handle_input(now, CLIENT, &fragment_record(&body, 0..mid))
        .unwrap();
    assert!(
        server.configured_profiles.is_empty(),
        "still waiting for use_srtp"
    );
    assert!(server.poll_timeout().is_some(), "a flush timer is armed");
    // The tail arrives: the offer is visible and the server is configured with GCM only. The
    // crate then parses this synthetic ClientHello (it may reject it; that is not under test).
    let _ = server.handle_input(now, CLIENT, &fragment_record(&body, mid..body.len()));
    assert_eq!(server.configured_profiles, [SrtpProfile::AeadAes128Gcm]);

    // If the tail never arrives, the flush timer configures the whole list.
    let mut server = DtlsSession::server(server_cert, fp, &SrtpProfile::ALL).unwrap();
    server
        .handle_input(now, CLIENT, &fragment_record(&body, 0..mid))
        .unwrap();
    let deadline = server.poll_timeout().unwrap();
    let _ = server.handle_timeout(deadline);
    assert_eq!(server.configured_profiles, SrtpProfile::ALL);
}

#[test]
fn wrong_fingerprint_fails_on_the_checking_side() {
    let (client_cert, server_cert) = certs();

    // The server expects another client certificate.
    let mut pair = Pair::with_fingerprints(
        &SrtpProfile::ALL,
        &SrtpProfile::ALL,
        server_cert.fingerprint(),
        wrong_fingerprint(),
    );
    pair.drive(&mut no_loss);
    assert_eq!(pair.server_error, Some(DtlsError::FingerprintMismatch));
    assert_eq!(
        DtlsError::FingerprintMismatch.close_reason(),
        Some(CloseReason::DtlsFingerprint)
    );
    assert!(!pair.server.is_connected());
    assert!(pair.server_events.is_empty());
    assert!(pair.client_error.is_some(), "the client hears the alert");
    assert!(!pair.client.is_connected());

    // The client expects another server certificate.
    let mut pair = Pair::with_fingerprints(
        &SrtpProfile::ALL,
        &SrtpProfile::ALL,
        wrong_fingerprint(),
        client_cert.fingerprint(),
    );
    pair.drive(&mut no_loss);
    assert_eq!(pair.client_error, Some(DtlsError::FingerprintMismatch));
    assert!(pair.client_events.is_empty());
    assert!(!pair.server.is_connected());
}

#[test]
fn lost_server_flight_is_retransmitted() {
    let mut pair = Pair::new(&SrtpProfile::ALL, &SrtpProfile::ALL);
    let mut dropped = 0;
    // Drop everything the server sends the first time it answers (its first flight).
    let mut first_server_datagram = None;
    pair.drive(&mut |to, n| {
        if to == To::Client && first_server_datagram.is_none() {
            first_server_datagram = Some(n);
        }
        let drop = to == To::Client && first_server_datagram == Some(n);
        dropped += usize::from(drop);
        drop
    });
    assert_eq!(dropped, 1);
    assert_eq!((pair.client_error, pair.server_error), (None, None));
    let (client_keys, server_keys) = pair.keys();
    assert_srtp_round_trips(&client_keys, &server_keys);
}

#[test]
fn lost_later_flights_are_retransmitted() {
    // Lose each datagram of a clean handshake in turn (client and server flights alike).
    let mut clean = Pair::new(&SrtpProfile::ALL, &SrtpProfile::ALL);
    clean.drive(&mut no_loss);
    assert!(
        clean.delivered >= 6,
        "a DTLS 1.2 handshake with a cookie has six flights"
    );
    for victim in 1..=clean.delivered {
        let mut pair = Pair::new(&SrtpProfile::ALL, &SrtpProfile::ALL);
        let mut dropped = false;
        pair.drive(&mut |_, n| {
            dropped |= n == victim;
            n == victim
        });
        assert!(dropped, "victim {victim} was sent");
        assert_eq!(
            (pair.client_error, pair.server_error),
            (None, None),
            "victim {victim}"
        );
        let (client_keys, server_keys) = pair.keys();
        assert_eq!(client_keys.keying_material, server_keys.keying_material);
    }
}

/// The server's budget of what it feeds rtc-dtls (records for a later epoch, handshake
/// records) leaves room for every flight of a genuine client sent eight times — the first try
/// and the seven resends either side makes at most — and for seven more repeats of its last
/// flight once the handshake completed. (Each distinct datagram crosses once, then its
/// repeats: a repeat makes the other side answer with its own flight, which is not fed back.)
#[test]
fn a_client_sending_every_flight_eight_times_stays_within_the_servers_budget() {
    let mut pair = Pair::new(&SrtpProfile::ALL, &SrtpProfile::ALL);
    let mut seen = std::collections::HashSet::new();
    let mut last_flight = Vec::new();
    for _ in 0..50 {
        if pair.client.is_connected() && pair.server.is_connected() {
            break;
        }
        let mut flight = Vec::new();
        while let Some((_, datagram)) = pair.client.poll_transmit() {
            if seen.insert(datagram.clone()) {
                for _ in 0..8 {
                    let _ = pair.server.handle_input(pair.now, CLIENT, &datagram);
                }
                flight.push(datagram);
            }
        }
        if !flight.is_empty() {
            last_flight = flight;
        }
        while let Some((_, datagram)) = pair.server.poll_transmit() {
            if seen.insert(datagram.clone()) {
                let _ = pair.client.handle_input(pair.now, SERVER, &datagram);
            }
        }
    }
    assert!(pair.client.is_connected() && pair.server.is_connected());
    for datagram in &last_flight {
        for _ in 0..7 {
            let _ = pair.server.handle_input(pair.now, CLIENT, datagram);
        }
    }
    assert_eq!(pair.server.records_over_budget(), 0);
    assert!(pair.server.is_connected());
}

#[test]
fn silent_peer_makes_handle_timeout_fail() {
    let (client_cert, server_cert) = certs();
    let now = Instant::now();
    let mut client =
        DtlsSession::client(client_cert, server_cert.fingerprint(), &SrtpProfile::ALL).unwrap();
    client.start(now, SERVER).unwrap();
    let mut sent = 0;
    let mut result = Ok(());
    for _ in 0..100 {
        while client.poll_transmit().is_some() {
            sent += 1;
        }
        let Some(deadline) = client.poll_timeout() else {
            break;
        };
        result = client.handle_timeout(deadline);
        if result.is_err() {
            break;
        }
    }
    assert_eq!(result, Err(DtlsError::Timeout));
    assert_eq!(
        DtlsError::Timeout.close_reason(),
        Some(CloseReason::DtlsTimeout)
    );
    assert!(
        sent > 1,
        "the ClientHello was retransmitted before giving up"
    );
    assert_eq!(client.poll_timeout(), None);
    assert_eq!(
        client.handle_input(now, SERVER, &[22; 20]),
        Err(DtlsError::Closed)
    );
}

#[test]
fn datagrams_from_another_address_are_refused() {
    let mut pair = Pair::new(&SrtpProfile::ALL, &SrtpProfile::ALL);
    pair.drive(&mut no_loss);
    let other: SocketAddr = "10.0.0.9:7000".parse().unwrap();
    assert_eq!(
        pair.server.handle_input(pair.now, other, &[22; 30]),
        Err(DtlsError::WrongRemote)
    );
    assert_eq!(
        pair.client.handle_input(pair.now, other, &[22; 30]),
        Err(DtlsError::WrongRemote)
    );
    assert!(!DtlsError::WrongRemote.is_fatal());
    assert!(pair.server.is_connected() && pair.client.is_connected());
}

#[test]
fn close_notify_reaches_the_peer() {
    let mut pair = Pair::new(&SrtpProfile::ALL, &SrtpProfile::ALL);
    pair.drive(&mut no_loss);
    pair.client.close(pair.now);
    pair.exchange(&mut no_loss);
    assert!(pair.server_events.contains(&DtlsEvent::Closed));
    assert!(!pair.server.is_connected());
    assert_eq!(pair.server.poll_timeout(), None);
}

#[test]
fn garbage_never_panics_and_never_binds_a_server() {
    let (client_cert, server_cert) = certs();
    let now = Instant::now();
    let mut x = 0x2545_f491u32;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x
    };
    let mut server =
        DtlsSession::server(server_cert, client_cert.fingerprint(), &SrtpProfile::ALL).unwrap();
    for _ in 0..2000 {
        let len = (next() % 200) as usize;
        let buf: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        assert_eq!(
            server.handle_input(now, CLIENT, &buf),
            Err(DtlsError::Malformed)
        );
        // Well-framed records that are not a ClientHello are refused the same way.
        let mut record = vec![23, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0];
        record.extend_from_slice(&(len as u16).to_be_bytes());
        record.extend_from_slice(&buf);
        assert_eq!(
            server.handle_input(now, CLIENT, &record),
            Err(DtlsError::Malformed)
        );
    }
    assert_eq!(server.remote(), None, "garbage does not bind the session");
    assert!(server.poll_transmit().is_none());
    assert_eq!(
        server.handle_input(now, CLIENT, &[]),
        Err(DtlsError::Malformed)
    );
}

#[test]
fn truncated_and_corrupted_flights_never_panic() {
    // Record every datagram of a clean handshake, then replay damaged copies into fresh
    // sessions at every stage.
    let mut pair = Pair::new(&SrtpProfile::ALL, &SrtpProfile::ALL);
    let mut log: Vec<(To, Vec<u8>)> = Vec::new();
    for _ in 0..20 {
        let mut moved = false;
        while let Some((_, d)) = pair.client.poll_transmit() {
            moved = true;
            log.push((To::Server, d.to_vec()));
            let _ = pair.server.handle_input(pair.now, CLIENT, &d);
        }
        while let Some((_, d)) = pair.server.poll_transmit() {
            moved = true;
            log.push((To::Client, d.to_vec()));
            let _ = pair.client.handle_input(pair.now, SERVER, &d);
        }
        if !moved {
            break;
        }
    }
    assert!(pair.client.is_connected() && pair.server.is_connected());
    let mut x = 0x1357_9bdfu32;
    for (to, datagram) in &log {
        for cut in (0..datagram.len()).step_by(7) {
            for session in [&mut pair.client, &mut pair.server] {
                let from = if *to == To::Server { CLIENT } else { SERVER };
                let _ = session.handle_input(pair.now, from, &datagram[..cut]);
            }
        }
        for _ in 0..50 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let mut d = datagram.clone();
            let at = x as usize % d.len();
            d[at] ^= (x >> 8) as u8 | 1;
            // A fresh server for the corrupted first flight, the established ones otherwise.
            let (client_cert, server_cert) = certs();
            let mut fresh =
                DtlsSession::server(server_cert, client_cert.fingerprint(), &SrtpProfile::ALL)
                    .unwrap();
            let _ = fresh.handle_input(pair.now, CLIENT, &d);
            while fresh.poll_transmit().is_some() {}
            let _ = pair.server.handle_input(pair.now, CLIENT, &d);
            let _ = pair.client.handle_input(pair.now, SERVER, &d);
        }
    }
}

#[test]
fn certificate_fingerprint_formats_for_sdp() {
    let (cert, _) = certs();
    let fp = cert.fingerprint();
    assert_eq!(fp.algorithm, "sha-256");
    assert_eq!(fp.digest.len(), 32);
    let sdp = cert.fingerprint_sdp();
    let hex = sdp.strip_prefix("sha-256 ").unwrap();
    let parsed: Vec<u8> = hex
        .split(':')
        .map(|h| {
            assert_eq!(h.len(), 2);
            assert_eq!(h, h.to_ascii_uppercase());
            u8::from_str_radix(h, 16).unwrap()
        })
        .collect();
    assert_eq!(parsed, fp.digest);
    assert_ne!(certs().0.fingerprint(), certs().1.fingerprint());
}

#[test]
fn unsupported_fingerprint_algorithm_is_refused_up_front() {
    let (cert, _) = certs();
    let fp = Fingerprint {
        algorithm: "md5".to_owned(),
        digest: vec![0; 16],
    };
    assert_eq!(
        DtlsSession::server(cert, fp, &SrtpProfile::ALL).unwrap_err(),
        DtlsError::UnsupportedFingerprint
    );
    assert_eq!(
        DtlsSession::client(cert, cert.fingerprint(), &[]).unwrap_err(),
        DtlsError::Config
    );
}
