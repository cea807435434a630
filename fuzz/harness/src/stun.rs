//! Target `stun`: datagrams a peer sends to the media port before DTLS, i.e. ICE
//! connectivity checks and responses (RFC 5389/8445).
//!
//! Each record is one datagram; its aux byte: bits 0-1 the source address (0 is the address
//! the controlling agent checks), bit 2 re-signs it with the server's ICE password, bit 3 with
//! the peer's, bit 4 gives it the transaction id of the controlling agent's last check, bits
//! 5-7 the time that passes before it ([`crate::clock::step`]). Re-signing fills a present
//! MESSAGE-INTEGRITY and FINGERPRINT with correct values, so inputs get past authentication.
//!
//! Every datagram goes through the demultiplexer, the parser (every accessor), and both ICE
//! agents: the ICE-lite responder the server runs and the controlling agent of the relay and
//! test client, which also exchange their own checks and responses with each other. Whatever
//! an agent sends must parse and carry a valid FINGERPRINT and MESSAGE-INTEGRITY.

use std::net::SocketAddr;
use std::time::Instant;

use dataplane::demux;
use dataplane::ice::{IceConfig, IceControlling, IceLite, MAX_TRANSMIT_LEN};
use dataplane::stun::{local_ufrag, StunClass, StunMessage};
use hmac::{Hmac, Mac};
use sha1::Sha1;

use crate::clock;
use crate::records::records;

/// The server's (ICE-lite) credentials.
pub const SERVER_UFRAG: &str = "srvU";
pub const SERVER_PWD: &str = "serverpassword0123456789";
/// The peer's (controlling agent's) credentials.
pub const PEER_UFRAG: &str = "peerU";
pub const PEER_PWD: &str = "peerpassword012345678901";

const SOURCE: u8 = 0x03;
const SIGN_SERVER: u8 = 0x04;
const SIGN_PEER: u8 = 0x08;
const LAST_CHECK_TXID: u8 = 0x10;

/// The addresses datagrams come from; the controlling agent checks `ADDRS[0]`.
fn addr(code: u8) -> SocketAddr {
    let port = 40_000 + u16::from(code & SOURCE);
    SocketAddr::from(([127, 0, 0, 1], port))
}

pub fn run(data: &[u8]) {
    let mut now = clock::base();
    let cfg = IceConfig::default();
    let mut lite = IceLite::new(cfg, SERVER_UFRAG, SERVER_PWD, PEER_UFRAG, now);
    let mut controlling = IceControlling::new(
        cfg,
        PEER_UFRAG,
        PEER_PWD,
        SERVER_UFRAG,
        SERVER_PWD,
        addr(0),
        0x5eed_5eed,
        now,
    );
    let mut last_txid = [0u8; 12];
    let mut to_lite = Vec::new();
    let mut to_controlling = Vec::new();
    drain(
        &mut lite,
        &mut controlling,
        &mut to_lite,
        &mut to_controlling,
        &mut last_txid,
    );
    for (aux, datagram) in records(data) {
        now += clock::step(aux >> 5);
        let _ = demux::classify(datagram);
        let mut buf = datagram.to_vec();
        if aux & LAST_CHECK_TXID != 0 && buf.len() >= 20 {
            buf[8..20].copy_from_slice(&last_txid);
        }
        if aux & SIGN_SERVER != 0 {
            resign(&mut buf, SERVER_PWD.as_bytes());
        }
        if aux & SIGN_PEER != 0 {
            resign(&mut buf, PEER_PWD.as_bytes());
        }
        inspect(&buf);
        let from = addr(aux);
        let _ = lite.handle_input(now, from, &buf);
        let _ = controlling.handle_input(now, from, &buf);
        // One round of the agents' own exchange: the controlling agent's checks reach the
        // server from the address it checks, the server's responses come back from it.
        for check in to_lite.drain(..) {
            let _ = lite.handle_input(now, addr(1), &check);
        }
        for response in to_controlling.drain(..) {
            let _ = controlling.handle_input(now, addr(0), &response);
        }
        if lite.poll_timeout().is_some_and(|t| t <= now) {
            lite.handle_timeout(now);
        }
        if controlling.poll_timeout().is_some_and(|t| t <= now) {
            controlling.handle_timeout(now);
        }
        drain(
            &mut lite,
            &mut controlling,
            &mut to_lite,
            &mut to_controlling,
            &mut last_txid,
        );
        let _ = (lite.selected(), lite.failure(), lite.is_validated(from));
        let _ = (controlling.selected(), controlling.failure());
    }
}

/// Drains both agents, checking what they send; the server's responses are queued for the
/// controlling agent, its checks for the server.
fn drain(
    lite: &mut IceLite,
    controlling: &mut IceControlling,
    to_lite: &mut Vec<Vec<u8>>,
    to_controlling: &mut Vec<Vec<u8>>,
    last_txid: &mut [u8; 12],
) {
    let mut out = [0u8; MAX_TRANSMIT_LEN];
    while let Some(t) = lite.poll_transmit(&mut out) {
        let sent = &out[..t.len];
        let msg = StunMessage::parse(sent).expect("the ICE-lite agent's datagram parses");
        assert!(msg.verify_fingerprint());
        match msg.class() {
            StunClass::SuccessResponse => {
                assert!(msg.verify_integrity(SERVER_PWD.as_bytes()));
                assert!(msg.xor_mapped_address() == Some(t.dst));
                if t.dst == addr(1) {
                    to_controlling.push(sent.to_vec());
                }
            }
            // Its own consent checks toward a nominated address (RFC 7675), signed with the
            // peer's password.
            StunClass::Request => {}
            other => panic!("the ICE-lite agent sent a {other:?}"),
        }
    }
    while let Some(t) = controlling.poll_transmit(&mut out) {
        let sent = &out[..t.len];
        let msg = StunMessage::parse(sent).expect("the controlling agent's datagram parses");
        assert!(msg.verify_fingerprint());
        if msg.is_binding_request() {
            assert!(msg.verify_integrity(SERVER_PWD.as_bytes()));
            last_txid.copy_from_slice(&msg.transaction_id());
            to_lite.push(sent.to_vec());
        } else {
            assert!(msg.verify_integrity(PEER_PWD.as_bytes()));
        }
    }
    while lite.poll_event().is_some() {}
    while controlling.poll_event().is_some() {}
    // Bounded by the agents' own queues; the exchange is one round per record.
    to_lite.truncate(8);
    to_controlling.truncate(8);
}

/// Every accessor of a parsed message.
fn inspect(buf: &[u8]) {
    let Ok(msg) = StunMessage::parse(buf) else {
        return;
    };
    assert_eq!(msg.as_bytes(), buf);
    let _ = (msg.class(), msg.method(), msg.is_binding_request());
    let _ = (
        msg.transaction_id(),
        msg.priority(),
        msg.has_use_candidate(),
    );
    let _ = (
        msg.ice_controlling(),
        msg.ice_controlled(),
        msg.error_code(),
    );
    let _ = (
        msg.has_integrity(),
        msg.has_fingerprint(),
        msg.xor_mapped_address(),
    );
    let _ = msg.verify_integrity(SERVER_PWD.as_bytes());
    let _ = msg.verify_fingerprint();
    if let Some(username) = msg.username() {
        let _ = local_ufrag(username);
    }
}

/// Rewrites the value of every MESSAGE-INTEGRITY (HMAC-SHA1 with `key`, RFC 5389 §15.4) and
/// FINGERPRINT (§15.5) attribute of `buf` to what it must be, leaving the rest as it is.
fn resign(buf: &mut [u8], key: &[u8]) {
    const HEADER_LEN: usize = 20;
    if buf.len() < HEADER_LEN {
        return;
    }
    let mut pos = HEADER_LEN;
    while pos + 4 <= buf.len() {
        let ty = u16::from_be_bytes([buf[pos], buf[pos + 1]]);
        let len = usize::from(u16::from_be_bytes([buf[pos + 2], buf[pos + 3]]));
        let end = pos + 4 + len;
        if end > buf.len() {
            return;
        }
        if ty == 0x0008 && len == 20 {
            let mut header = [0u8; HEADER_LEN];
            header.copy_from_slice(&buf[..HEADER_LEN]);
            let counted = u16::try_from(end - HEADER_LEN).unwrap_or(u16::MAX);
            header[2..4].copy_from_slice(&counted.to_be_bytes());
            let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(key).expect("any key length");
            mac.update(&header);
            mac.update(&buf[HEADER_LEN..pos]);
            buf[pos + 4..end].copy_from_slice(&mac.finalize().into_bytes());
        } else if ty == 0x8028 && len == 4 {
            let crc = crc32fast::hash(&buf[..pos]) ^ 0x5354_554E;
            buf[pos + 4..end].copy_from_slice(&crc.to_be_bytes());
        }
        pos = pos + 4 + len.next_multiple_of(4);
    }
}

/// A check the server accepts (for seeds): from the controlling agent, as the relay sends it.
pub fn seed_check(now: Instant) -> Vec<u8> {
    let mut controlling = IceControlling::new(
        IceConfig::default(),
        PEER_UFRAG,
        PEER_PWD,
        SERVER_UFRAG,
        SERVER_PWD,
        addr(0),
        7,
        now,
    );
    let mut out = [0u8; MAX_TRANSMIT_LEN];
    let t = controlling.poll_transmit(&mut out).expect("a first check");
    out[..t.len].to_vec()
}
