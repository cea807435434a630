//! STUN/ICE-lite cost per connectivity check: parsing a Chrome-like Binding request, checking
//! its MESSAGE-INTEGRITY and FINGERPRINT, writing the success response, and the whole answer
//! as the worker runs it (`IceLite::handle_input` + `poll_transmit`).
//!
//! The request is built here the way Chrome builds its checks: USERNAME, GOOG-NETWORK-INFO
//! (an unknown comprehension-optional attribute the parser skips), ICE-CONTROLLING,
//! USE-CANDIDATE, PRIORITY, MESSAGE-INTEGRITY (HMAC-SHA1 with our password) and FINGERPRINT.

mod common;

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use dataplane::ice::{IceConfig, IceLite, MAX_TRANSMIT_LEN};
use dataplane::stun::{write_binding_success, StunMessage, MAGIC_COOKIE};
use hmac::{Hmac, Mac};
use sha1::Sha1;

const LOCAL_UFRAG: &str = "Rt9cDnUf";
const LOCAL_PWD: &str = "qQ3vT8xZk2LmN7pR4sW6yB";
const REMOTE_UFRAG: &str = "Xe7H";
const TXID: [u8; 12] = *b"chromeTxId01";

const ATTR_USERNAME: u16 = 0x0006;
const ATTR_MESSAGE_INTEGRITY: u16 = 0x0008;
const ATTR_PRIORITY: u16 = 0x0024;
const ATTR_USE_CANDIDATE: u16 = 0x0025;
const ATTR_FINGERPRINT: u16 = 0x8028;
const ATTR_ICE_CONTROLLING: u16 = 0x802A;
const ATTR_GOOG_NETWORK_INFO: u16 = 0xC057;

fn push_attr(msg: &mut Vec<u8>, ty: u16, value: &[u8]) {
    msg.extend_from_slice(&ty.to_be_bytes());
    msg.extend_from_slice(&(value.len() as u16).to_be_bytes());
    msg.extend_from_slice(value);
    msg.resize(msg.len().next_multiple_of(4), 0);
}

/// Sets the header's length field as if the message ended `extra` bytes after its current end.
fn set_length(msg: &mut [u8], extra: usize) {
    let len = (msg.len() + extra - 20) as u16;
    msg[2..4].copy_from_slice(&len.to_be_bytes());
}

/// A Binding request as Chrome sends it to an ICE-lite server, nominating the pair.
fn chrome_check() -> Vec<u8> {
    let mut msg = Vec::with_capacity(128);
    msg.extend_from_slice(&0x0001u16.to_be_bytes());
    msg.extend_from_slice(&[0, 0]);
    msg.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
    msg.extend_from_slice(&TXID);
    let username = format!("{LOCAL_UFRAG}:{REMOTE_UFRAG}");
    push_attr(&mut msg, ATTR_USERNAME, username.as_bytes());
    push_attr(&mut msg, ATTR_GOOG_NETWORK_INFO, &[0x00, 0x01, 0x00, 0x0A]);
    push_attr(
        &mut msg,
        ATTR_ICE_CONTROLLING,
        &0x1B2C_3D4E_5F60_7182u64.to_be_bytes(),
    );
    push_attr(&mut msg, ATTR_USE_CANDIDATE, &[]);
    push_attr(&mut msg, ATTR_PRIORITY, &0x6E7F_1EFFu32.to_be_bytes());

    set_length(&mut msg, 24);
    let mut mac = Hmac::<Sha1>::new_from_slice(LOCAL_PWD.as_bytes()).expect("any key length");
    mac.update(&msg);
    let tag = mac.finalize().into_bytes();
    push_attr(&mut msg, ATTR_MESSAGE_INTEGRITY, &tag);

    set_length(&mut msg, 8);
    let crc = crc32fast::hash(&msg) ^ 0x5354_554E;
    push_attr(&mut msg, ATTR_FINGERPRINT, &crc.to_be_bytes());
    msg
}

fn stun(c: &mut Criterion) {
    let mut group = c.benchmark_group("stun");
    group.throughput(Throughput::Elements(1));

    let check = chrome_check();
    let from: SocketAddr = "192.0.2.2:54321".parse().expect("address");
    let msg = StunMessage::parse(&check).expect("valid check");
    assert!(msg.is_binding_request() && msg.has_use_candidate());
    assert!(msg.verify_integrity(LOCAL_PWD.as_bytes()));
    assert!(msg.verify_fingerprint());

    group.bench_function("parse", |b| {
        b.iter(|| StunMessage::parse(black_box(&check)).expect("valid"))
    });

    group.bench_function("parse_integrity_fingerprint", |b| {
        b.iter(|| {
            let msg = StunMessage::parse(black_box(&check)).expect("valid");
            msg.verify_fingerprint() && msg.verify_integrity(LOCAL_PWD.as_bytes())
        })
    });

    let mut out = [0u8; MAX_TRANSMIT_LEN];
    group.bench_function("write_success", |b| {
        b.iter(|| {
            write_binding_success(&mut out, black_box(&TXID), from, LOCAL_PWD.as_bytes())
                .expect("fits")
        })
    });

    // The worker's path: validate the check and write the answer into a reused buffer.
    let now = Instant::now();
    let mut ice = IceLite::new(
        IceConfig::default(),
        LOCAL_UFRAG,
        LOCAL_PWD,
        REMOTE_UFRAG,
        now,
    );
    ice.handle_input(now, from, &check).expect("valid check");
    let answer = ice.poll_transmit(&mut out).expect("an answer");
    let response = StunMessage::parse(&out[..answer.len]).expect("valid answer");
    assert_eq!(response.xor_mapped_address(), Some(from));
    assert!(response.verify_integrity(LOCAL_PWD.as_bytes()));
    assert_eq!(ice.poll_event().and(ice.selected()), Some(from));

    group.bench_function("ice_lite_answer", |b| {
        b.iter(|| {
            ice.handle_input(now, from, black_box(&check))
                .expect("valid");
            ice.poll_transmit(&mut out).expect("an answer").len
        })
    });
    group.finish();
}

common::bench_main!(stun, 50, Duration::from_secs(1));
