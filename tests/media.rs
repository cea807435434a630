//! End-to-end media through the real `rtcdn` binary: a Rust client doing real ICE, DTLS and
//! SRTP (as the browser would) publishes synthetic RTP; three subscribers on three different
//! workers receive every packet byte-exact with their own payload types and SSRCs; a
//! subscriber's PLI reaches the publisher; the publisher's sender report reaches subscribers.

mod common;

use std::time::Duration;

use common::media::{
    join, parse_rtp, pump_until, relative_seqs, rtcp_packets, rtp_packet, Joined, MediaPeer,
    PlainRtp,
};
use common::ServerProcess;
use control::sdp::{Codec, OfferSpec};
use dataplane::dtls::DtlsCertificate;

const AUDIO_SSRC: u32 = 0x1111_1111;
const VIDEO_SSRC: u32 = 0x2222_2222;

/// A play offer whose payload types and extension ids all differ from the publisher's.
fn play_spec(i: usize, cert: &DtlsCertificate) -> OfferSpec {
    let mut spec = OfferSpec::play(
        &format!("sub{i}ufrg"),
        &format!("sub{i}-password-0123456789"),
        cert.fingerprint(),
    );
    let audio = spec.audio.as_mut().unwrap();
    audio.codecs = vec![Codec::opus(109)];
    audio.extensions = vec![(
        7,
        "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time".into(),
    )];
    let video = spec.video.as_mut().unwrap();
    video.codecs = vec![Codec::h264(125, "42e01f", 1), Codec::vp8(100 + i as u8)];
    video.extensions = vec![
        (
            9,
            "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time".into(),
        ),
        (4, "urn:ietf:params:rtp-hdrext:sdes:mid".into()),
    ];
    spec
}

fn has_pli_for(peer: &MediaPeer, media_ssrc: u32) -> bool {
    peer.rtcp.iter().any(|c| {
        rtcp_packets(c).iter().any(|(pt, fmt, body)| {
            *pt == 206 && *fmt == 1 && body.len() >= 8 && body[4..8] == media_ssrc.to_be_bytes()
        })
    })
}

#[test]
fn publisher_to_three_subscribers_on_three_workers() {
    let server = ServerProcess::start(&[("worker_threads", "4"), ("codecs", "opus,vp8,h264")]);
    let cert = DtlsCertificate::generate().expect("client certificate");
    let pub_spec = OfferSpec::publish(
        "pubufrag",
        "publisher-password-0123456789",
        cert.fingerprint(),
        Codec::vp8(96),
        AUDIO_SSRC,
        VIDEO_SSRC,
    );
    let mut publisher = join(&server, "cam1", &pub_spec, &cert, true);
    let mut subs: Vec<Joined> = (0..3)
        .map(|i| join(&server, "cam1", &play_spec(i, &cert), &cert, false))
        .collect();

    // Every subscriber landed on its own worker (its own media port), none on the publisher's.
    let mut ports: Vec<u16> = subs.iter().map(|s| s.answer.candidates[0].port()).collect();
    ports.push(publisher.answer.candidates[0].port());
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(
        ports.len(),
        4,
        "publisher and subscribers should use 4 different workers"
    );

    {
        let mut all: Vec<&mut MediaPeer> = std::iter::once(&mut publisher.peer)
            .chain(subs.iter_mut().map(|s| &mut s.peer))
            .collect();
        let connected = pump_until(&mut all, Duration::from_secs(10), |ps| {
            ps.iter().all(|p| p.conn.is_connected())
        });
        assert!(
            connected,
            "ICE+DTLS did not complete for all peers: {:?}",
            all.iter()
                .map(|p| (p.conn.is_connected(), p.failed))
                .collect::<Vec<_>>()
        );
    }

    // The subscribers' negotiated payload types and SSRCs.
    let expect: Vec<(u8, u32, u8, u32)> = subs
        .iter()
        .map(|s| {
            let a = s.answer.audio.as_ref().expect("audio answered");
            let v = s
                .answer
                .video
                .as_ref()
                .unwrap_or_else(|| panic!("video answered:\n{:?}", s.answer));
            assert_eq!(
                v.codec.name.to_ascii_uppercase(),
                "VP8",
                "player gets the publisher's codec"
            );
            (
                a.codec.payload_type,
                a.ssrc.expect("audio ssrc"),
                v.codec.payload_type,
                v.ssrc.expect("video ssrc"),
            )
        })
        .collect();
    for (i, e) in expect.iter().enumerate() {
        assert_eq!(e.0, 109);
        assert_eq!(e.2, 100 + i as u8);
    }

    // Publish 100 video packets (the first one starts a VP8 keyframe) and 100 audio packets.
    let mut sent_video = Vec::new();
    let mut sent_audio = Vec::new();
    for n in 0..100u16 {
        let mut vp8 = if n == 0 {
            vec![0x10, 0x00, 0x9d, 0x01, 0x2a]
        } else {
            vec![0x00, 0x01]
        };
        vp8.extend_from_slice(format!("video-{n}-payload").as_bytes());
        let v = rtp_packet(
            96,
            1000 + n,
            9000 * u32::from(n / 3),
            VIDEO_SSRC,
            n % 3 == 2,
            &vp8,
        );
        let a = rtp_packet(
            111,
            5000 + n,
            960 * u32::from(n),
            AUDIO_SSRC,
            false,
            format!("audio-{n}").as_bytes(),
        );
        publisher.peer.send_rtp(&v);
        publisher.peer.send_rtp(&a);
        sent_video.push((1000 + n, vp8));
        sent_audio.push((5000 + n, format!("audio-{n}").into_bytes()));
        let mut all: Vec<&mut MediaPeer> = subs.iter_mut().map(|s| &mut s.peer).collect();
        for p in all.iter_mut() {
            p.pump();
        }
        std::thread::sleep(Duration::from_micros(500));
    }
    {
        let mut all: Vec<&mut MediaPeer> = subs.iter_mut().map(|s| &mut s.peer).collect();
        let got_all = pump_until(&mut all, Duration::from_secs(5), |ps| {
            ps.iter().all(|p| p.rtp.len() >= 200)
        });
        assert!(
            got_all,
            "received: {:?}",
            all.iter().map(|p| p.rtp.len()).collect::<Vec<_>>()
        );
    }

    for (i, sub) in subs.iter().enumerate() {
        let (apt, assrc, vpt, vssrc) = expect[i];
        let mut video = Vec::new();
        let mut audio = Vec::new();
        for p in &sub.peer.rtp {
            let PlainRtp {
                pt,
                seq,
                ssrc,
                extensions: ext,
                payload,
            } = parse_rtp(p);
            if pt == vpt {
                assert_eq!(ssrc, vssrc, "video SSRC rewritten to the subscriber's");
                // abs-send-time moved to the subscriber's id 9; the publisher's mid is not forwarded.
                assert_eq!(ext, vec![(9, vec![0x12, 0x34, 0x56])], "video extensions");
                video.push((seq, payload));
            } else if pt == apt {
                assert_eq!(ssrc, assrc, "audio SSRC rewritten to the subscriber's");
                assert_eq!(ext, vec![(7, vec![0x12, 0x34, 0x56])], "audio extensions");
                audio.push((seq, payload));
            } else {
                panic!("subscriber {i} got unexpected payload type {pt}");
            }
        }
        assert!(
            relative_seqs(&video) == relative_seqs(&sent_video),
            "subscriber {i}: every video packet, byte-exact, in order ({} of {})",
            video.len(),
            sent_video.len()
        );
        assert!(
            relative_seqs(&audio) == relative_seqs(&sent_audio),
            "subscriber {i}: every audio packet, byte-exact, in order ({} of {})",
            audio.len(),
            sent_audio.len()
        );
    }

    // Keyframe requests: let the join-time requests settle, check that none arrives on its
    // own, then a subscriber's PLI must reach the publisher for its video SSRC.
    let settle = |publisher: &mut Joined, subs: &mut Vec<Joined>, d: Duration| {
        let mut all: Vec<&mut MediaPeer> = std::iter::once(&mut publisher.peer)
            .chain(subs.iter_mut().map(|s| &mut s.peer))
            .collect();
        pump_until(&mut all, d, |_| false);
    };
    settle(&mut publisher, &mut subs, Duration::from_millis(2500));
    publisher.peer.rtcp.clear();
    settle(&mut publisher, &mut subs, Duration::from_millis(1200));
    assert!(
        !has_pli_for(&publisher.peer, VIDEO_SSRC),
        "no PLI without a request"
    );

    let sub_video_ssrc = expect[1].3;
    let mut pli = vec![0x81, 206, 0, 2];
    pli.extend_from_slice(&0xABCD_0001u32.to_be_bytes());
    pli.extend_from_slice(&sub_video_ssrc.to_be_bytes());
    subs[1].peer.send_rtcp(&pli);
    {
        let mut all: Vec<&mut MediaPeer> = std::iter::once(&mut publisher.peer)
            .chain(subs.iter_mut().map(|s| &mut s.peer))
            .collect();
        let got = pump_until(&mut all, Duration::from_secs(3), |ps| {
            has_pli_for(ps[0], VIDEO_SSRC)
        });
        assert!(got, "the subscriber's PLI did not reach the publisher");
    }

    // A sender report from the publisher reaches every subscriber under its own video SSRC.
    let mut sr = vec![0x80, 200, 0, 6];
    sr.extend_from_slice(&VIDEO_SSRC.to_be_bytes());
    sr.extend_from_slice(&0x0102_0304_0506_0708u64.to_be_bytes());
    sr.extend_from_slice(&90_000u32.to_be_bytes());
    sr.extend_from_slice(&100u32.to_be_bytes());
    sr.extend_from_slice(&2_000u32.to_be_bytes());
    for s in subs.iter_mut() {
        s.peer.rtcp.clear();
    }
    publisher.peer.send_rtcp(&sr);
    let mut all: Vec<&mut MediaPeer> = subs.iter_mut().map(|s| &mut s.peer).collect();
    let got_sr = pump_until(&mut all, Duration::from_secs(3), |ps| {
        ps.iter().enumerate().all(|(i, p)| {
            p.rtcp.iter().any(|c| {
                rtcp_packets(c).iter().any(|(pt, _, body)| {
                    *pt == 200
                        && body.len() >= 24
                        && body[..4] == expect[i].3.to_be_bytes()
                        && body[4..12] == 0x0102_0304_0506_0708u64.to_be_bytes()
                })
            })
        })
    });
    assert!(
        got_sr,
        "sender report was not forwarded to every subscriber"
    );
}
