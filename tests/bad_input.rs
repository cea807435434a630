//! Bad input on the media port while a stream is flowing through the real binary: garbage and
//! truncated datagrams of every demultiplexing class, STUN with a wrong password, DTLS and SRTP
//! from an address that never passed ICE, SRTP that fails authentication from the publisher's
//! own (validated) address. The ongoing stream must lose nothing and nobody unvalidated may get
//! an answer.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use common::media::{join, parse_rtp, pump_until, rtp_packet, Joined, MediaPeer};
use common::ServerProcess;
use control::sdp::{Codec, OfferSpec};
use dataplane::dtls::DtlsCertificate;

const AUDIO_SSRC: u32 = 0x0A0A_0A0A;
const VIDEO_SSRC: u32 = 0x0B0B_0B0B;

/// Sends `n` audio packets numbered from `first` and pumps both peers while doing so.
fn send_audio(publisher: &mut Joined, sub: &mut Joined, first: u16, n: u16) -> Vec<Vec<u8>> {
    let mut sent = Vec::new();
    for i in first..first + n {
        let payload = format!("audio-{i}").into_bytes();
        let p = rtp_packet(111, i, 960 * u32::from(i), AUDIO_SSRC, false, &payload);
        publisher.peer.send_rtp(&p);
        sent.push(payload);
        sub.peer.pump();
        publisher.peer.pump();
        std::thread::sleep(Duration::from_micros(300));
    }
    sent
}

fn pump_both(publisher: &mut Joined, sub: &mut Joined, d: Duration, want_rtp: usize) -> bool {
    let mut all: Vec<&mut MediaPeer> = vec![&mut publisher.peer, &mut sub.peer];
    pump_until(&mut all, d, |ps| ps[1].rtp.len() >= want_rtp)
}

/// Datagrams that look like each demux class (and none) but are garbage or truncated.
fn garbage() -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = vec![
        vec![],
        vec![0x00],
        vec![0x01, 0x01, 0x00, 0x08], // truncated STUN header
        [vec![0x00, 0x01, 0x00, 0x40], vec![0x21; 16]].concat(), // STUN, length past the end
        vec![0x16, 0xFE, 0xFD],       // truncated DTLS record
        [
            vec![0x16, 0xFE, 0xFD, 0, 0],
            vec![0; 8],
            vec![0xFF, 0xFF],
            vec![1; 20],
        ]
        .concat(),
        vec![0x17; 100],                          // DTLS application data, garbage
        vec![0x80, 0x6F, 0x00],                   // truncated RTP
        [vec![0x8F, 0x6F], vec![0; 10]].concat(), // RTP with 15 CSRCs, none present
        vec![0x80, 200, 0, 1],                    // truncated RTCP
        [vec![0x80, 201, 0xFF, 0xFF], vec![0; 8]].concat(), // RTCP length past the end
        vec![0x40; 40],                           // no class (64..127)
        vec![0xFF; 1500],
    ];
    // Pseudo-random datagrams of every first byte.
    let mut x: u32 = 0x1234_5678;
    for first in 0..=255u8 {
        let len = 1 + (first as usize * 7) % 300;
        let mut d = Vec::with_capacity(len);
        d.push(first);
        for _ in 1..len {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            d.push(x as u8);
        }
        out.push(d);
    }
    out
}

/// SRTP-looking packets that cannot authenticate: a valid RTP header of the publisher's audio
/// SSRC, random "ciphertext" and tag.
fn forged_srtp() -> Vec<Vec<u8>> {
    (0..20u16)
        .map(|i| {
            let mut p = rtp_packet(111, 9000 + i, 0, AUDIO_SSRC, false, &[0x5A; 40]);
            p.extend_from_slice(&[0xA5; 16]);
            p
        })
        .collect()
}

#[test]
fn bad_datagrams_disturb_nothing_and_get_no_answer() {
    let server = ServerProcess::start(&[("worker_threads", "1"), ("codecs", "opus,vp8")]);
    let cert = DtlsCertificate::generate().expect("client certificate");
    let pub_spec = OfferSpec::publish(
        "badpubuf",
        "bad-input-publisher-password",
        cert.fingerprint(),
        Codec::vp8(96),
        AUDIO_SSRC,
        VIDEO_SSRC,
    );
    let mut publisher = join(&server, "victim", &pub_spec, &cert, true);
    let play = OfferSpec::play(
        "badsubuf",
        "bad-input-subscriber-password",
        cert.fingerprint(),
    );
    let mut sub = join(&server, "victim", &play, &cert, false);
    let media: SocketAddr = publisher.answer.candidates[0];
    assert_eq!(
        media, sub.answer.candidates[0],
        "one worker: one media port"
    );
    {
        let mut all: Vec<&mut MediaPeer> = vec![&mut publisher.peer, &mut sub.peer];
        assert!(
            pump_until(&mut all, Duration::from_secs(10), |ps| ps
                .iter()
                .all(|p| p.conn.is_connected())),
            "peers did not connect"
        );
    }

    let mut sent = send_audio(&mut publisher, &mut sub, 0, 50);
    assert!(
        pump_both(&mut publisher, &mut sub, Duration::from_secs(5), 50),
        "stream flows before the attack"
    );

    let attacker = UdpSocket::bind("127.0.0.1:0").unwrap();
    attacker
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();

    // 1. Garbage of every class from an address that never passed ICE.
    // Paced: this is a malformed-input test, not a flood test.
    for (i, d) in garbage().into_iter().enumerate() {
        attacker.send_to(&d, media).unwrap();
        if i % 16 == 15 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    // 2. STUN checks for the publisher's session with a wrong password (right ufrags).
    let username = format!("{}:{}", publisher.answer.ufrag, "badpubuf");
    for (i, key) in [&b"wrong-password"[..], b"", &[0u8; 64][..]]
        .into_iter()
        .enumerate()
    {
        let mut buf = [0u8; 600];
        let txid = [i as u8 + 1; 12];
        let len = dataplane::stun::write_binding_request(
            &mut buf,
            &txid,
            username.as_bytes(),
            key,
            0x6E00_1EFF,
            42,
            true,
        )
        .expect("write check");
        attacker.send_to(&buf[..len], media).unwrap();
    }
    // 3. A DTLS ClientHello-like record and replayed SRTP from the unvalidated address.
    let client_hello = [
        &[0x16, 0xFE, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x40, 0x01][..],
        &[0u8; 63][..],
    ]
    .concat();
    attacker.send_to(&client_hello, media).unwrap();
    let replayed = publisher
        .peer
        .conn
        .protect_rtp(&rtp_packet(111, 49, 0, AUDIO_SSRC, false, b"replayed"))
        .unwrap();
    attacker.send_to(&replayed, media).unwrap();
    // 4. From the publisher's own validated address: SRTP that fails authentication, and
    //    the same garbage.
    for (i, d) in forged_srtp().into_iter().chain(garbage()).enumerate() {
        publisher.peer.socket.send_to(&d, media).unwrap();
        if i % 16 == 15 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    // The stream keeps flowing, untouched.
    sent.extend(send_audio(&mut publisher, &mut sub, 50, 50));
    let flowed = pump_both(&mut publisher, &mut sub, Duration::from_secs(5), 100);
    let got: Vec<Vec<u8>> = sub.peer.rtp.iter().map(|p| parse_rtp(p).payload).collect();
    let missing: Vec<String> = sent
        .iter()
        .filter(|p| !got.contains(p))
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    assert!(
        flowed,
        "stream flows after the attack: missing {missing:?}; rejected by subscriber: {}\n{}",
        sub.peer.rejected,
        server.stderr_output()
    );
    pump_both(
        &mut publisher,
        &mut sub,
        Duration::from_millis(300),
        usize::MAX,
    );

    let got: Vec<Vec<u8>> = sub.peer.rtp.iter().map(|p| parse_rtp(p).payload).collect();
    assert_eq!(
        got, sent,
        "the subscriber got exactly the published packets, no forged ones"
    );
    assert_eq!(publisher.peer.failed, None);
    assert_eq!(sub.peer.failed, None);

    // Nothing was ever sent to the unvalidated address.
    let mut buf = [0u8; 2048];
    match attacker.recv_from(&mut buf) {
        Err(e) => assert!(
            matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
            "{e}"
        ),
        Ok((n, from)) => {
            panic!("the server answered an unvalidated address: {n} bytes from {from}")
        }
    }
    let (status, body) = server.http_get("/health");
    assert_eq!(status, 200, "server still healthy");
    // The workers' counters are published in /health: the garbage above was counted as dropped
    // and the media as forwarded.
    let health: serde_json::Value = serde_json::from_str(&body).expect("JSON health");
    let total = |key: &str| -> u64 {
        health["workers"]
            .as_array()
            .expect("workers array")
            .iter()
            .map(|w| w[key].as_u64().expect("counter"))
            .sum()
    };
    assert!(
        total("dropped_unknown_source") + total("dropped_invalid") > 0,
        "{body}"
    );
    assert!(total("rtp_forwarded") > 0, "{body}");
}
