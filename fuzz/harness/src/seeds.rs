//! Synthetic seed inputs, built with the production writers and the real browser offers of
//! `tests/fixtures`: what the targets' parsers must accept, in the framing each target reads.
//! `examples/seeds.rs` writes them out; the real-traffic seeds come from `fuzz/capture/`.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;
use control::config::VideoCodec;
use control::sdp::{
    answer_play, answer_publish_with_policy, build_offer, parse_offer, Codec, OfferSpec,
    PublishPolicy,
};
use dataplane::api::{Fingerprint, MediaKind};
use dataplane::dtls::{DtlsCertificate, DtlsSession};
use dataplane::publisher::Publisher;
use dataplane::rtcp::{
    write_bye, write_fir, write_nack, write_pli, write_receiver_report, write_remb,
    write_sdes_cname, write_sender_report, write_twcc, ReportBlock,
};
use dataplane::srtp::SrtpProfile;
use dataplane::stun::{write_binding_error, write_binding_success};

use crate::records::encode;
use crate::{clock, stun, world};

/// One seed: its target, a file name, the bytes.
pub type Seed = (&'static str, String, Vec<u8>);

/// Every synthetic seed of every target.
pub fn synthetic() -> Vec<Seed> {
    let mut seeds = Vec::new();
    stun_seeds(&mut seeds);
    rtp_seeds(&mut seeds);
    rtcp_seeds(&mut seeds);
    dtls_seeds(&mut seeds);
    sdp_and_wcs_seeds(&mut seeds);
    config_seeds(&mut seeds);
    seeds
}

fn add(seeds: &mut Vec<Seed>, target: &'static str, name: &str, data: Vec<u8>) {
    seeds.push((target, format!("synthetic-{name}"), data));
}

/// RFC 5769 §2.1 sample request (also in the dataplane's STUN tests).
const RFC5769_REQUEST: [u8; 108] = [
    0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10, 0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73,
    0x74, 0x20, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74, 0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff,
    0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36, 0x00, 0x06, 0x00, 0x09,
    0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76, 0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14,
    0x9a, 0xea, 0xa7, 0x0c, 0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49,
    0xc1, 0xb5, 0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf,
];

fn stun_seeds(seeds: &mut Vec<Seed>) {
    let check = stun::seed_check(clock::base());
    // The check as the relay sends it, then again 31 s later (consent expired in between).
    add(seeds, "stun", "check", encode([(0x04, &check[..])]));
    add(
        seeds,
        "stun",
        "check-then-silence",
        encode([(0x04, &check[..]), (0xe4, &check[..])]),
    );
    add(
        seeds,
        "stun",
        "rfc5769-request",
        encode([(0, &RFC5769_REQUEST[..])]),
    );
    let mut out = [0u8; 600];
    let txid = [7u8; 12];
    let to = SocketAddr::from(([127, 0, 0, 1], 31000));
    let n = write_binding_success(&mut out, &txid, to, stun::SERVER_PWD.as_bytes()).unwrap();
    add(seeds, "stun", "success", encode([(0x14, &out[..n])]));
    let n = write_binding_error(&mut out, &txid, 487, Some(stun::SERVER_PWD.as_bytes())).unwrap();
    add(seeds, "stun", "role-conflict", encode([(0x14, &out[..n])]));
}

fn rtp_seeds(seeds: &mut Vec<Seed>) {
    for (i, pair) in world::pairs().iter().enumerate() {
        let spec = &pair.publisher;
        let layers = spec
            .track(MediaKind::Video)
            .map_or(1, |t| t.layers.len().max(1));
        let mut packets = Vec::new();
        for seq in 0..12u16 {
            packets.push(world::media_packet(
                spec,
                MediaKind::Audio,
                0,
                1000 + seq,
                false,
            ));
            for layer in 0..layers {
                // A gap at 1005 (NACKed), keyframes at the start of each layer.
                if seq != 5 {
                    let video =
                        world::media_packet(spec, MediaKind::Video, layer, 2000 + seq, seq == 0);
                    packets.push(video);
                }
            }
        }
        let framed = encode(packets.iter().map(|p| (5u8, &p[..])));
        add(
            seeds,
            "rtp",
            &format!("stream-{i}"),
            [&[i as u8][..], &framed].concat(),
        );
    }
}

fn rtcp_seeds(seeds: &mut Vec<Seed>) {
    for (i, pair) in world::pairs().iter().enumerate() {
        let video_ssrc = pair
            .viewer
            .track(MediaKind::Video)
            .and_then(|t| t.ssrc)
            .unwrap_or(1);
        let audio_ssrc = pair
            .viewer
            .track(MediaKind::Audio)
            .and_then(|t| t.ssrc)
            .unwrap_or(2);
        let publisher_ssrc = pair
            .publisher
            .track(MediaKind::Video)
            .and_then(|t| t.ssrc)
            .unwrap_or(3);
        let mut out = [0u8; 1500];
        let mut compounds: Vec<Vec<u8>> = Vec::new();
        // A viewer's receiver report and SDES, as Chrome sends them.
        let block = ReportBlock {
            ssrc: video_ssrc,
            fraction_lost: 3,
            cumulative_lost: 12,
            extended_highest_seq: 0x0001_2345,
            jitter: 90,
            last_sr: 0x1234_5678,
            delay_since_last_sr: 0x0001_0000,
        };
        let mut c = Vec::new();
        let n = write_receiver_report(&mut out, 0xc0ffee, &[block]).unwrap();
        c.extend_from_slice(&out[..n]);
        let n = write_sdes_cname(&mut out, 0xc0ffee, b"chrome-cname-1234").unwrap();
        c.extend_from_slice(&out[..n]);
        compounds.push(c);
        let n = write_nack(&mut out, 0xc0ffee, video_ssrc, &[(100, 0b101), (200, 0)]).unwrap();
        compounds.push(out[..n].to_vec());
        let n = write_pli(&mut out, 0xc0ffee, video_ssrc).unwrap();
        compounds.push(out[..n].to_vec());
        let n = write_fir(&mut out, 0xc0ffee, video_ssrc, 1).unwrap();
        compounds.push(out[..n].to_vec());
        let n = write_remb(&mut out, 0xc0ffee, 1_500_000, &[video_ssrc, audio_ssrc]).unwrap();
        compounds.push(out[..n].to_vec());
        let arrivals: Vec<Option<i64>> = (0..40)
            .map(|k| (k % 7 != 3).then_some(1_000_000 + k * 5_000 + (k % 3) * 70_000))
            .collect();
        let n = write_twcc(&mut out, 0xc0ffee, video_ssrc, 1, 0, &arrivals).unwrap();
        compounds.push(out[..n].to_vec());
        // A publisher's sender report and goodbye.
        let mut c = Vec::new();
        let n = write_sender_report(
            &mut out,
            publisher_ssrc,
            0xe000_0000_8000_0000,
            90_000,
            10,
            12_000,
        )
        .unwrap();
        c.extend_from_slice(&out[..n]);
        let n = write_bye(&mut out, &[publisher_ssrc]).unwrap();
        c.extend_from_slice(&out[..n]);
        compounds.push(c);
        // The transport-wide feedback our own publisher side writes after real packets.
        let mut publisher = Publisher::new(&pair.publisher, 0xfeed, clock::base());
        let mut now = clock::base();
        for seq in 0..30u16 {
            now += Duration::from_millis(10);
            if seq % 9 == 4 {
                continue;
            }
            let p = world::media_packet(&pair.publisher, MediaKind::Video, 0, seq, seq == 0);
            let _ = publisher.on_rtp(now, &mut BytesMut::from(&p[..]));
        }
        now += Duration::from_millis(200);
        if let Some(n) = publisher.write_transport_feedback(now, &mut out) {
            compounds.push(out[..n].to_vec());
        }
        let framed = encode(compounds.iter().map(|c| (25u8, &c[..])));
        add(
            seeds,
            "rtcp",
            &format!("viewer-{i}"),
            [&[i as u8][..], &framed].concat(),
        );
    }
}

/// A real handshake between our client and server sessions: the datagrams each one received.
fn dtls_seeds(seeds: &mut Vec<Seed>) {
    let cert = DtlsCertificate::generate().expect("certificate");
    let fp = cert.fingerprint();
    let profiles = [SrtpProfile::AeadAes128Gcm, SrtpProfile::Aes128CmHmacSha1_80];
    let client_addr = SocketAddr::from(([127, 0, 0, 1], 40000));
    let server_addr = SocketAddr::from(([127, 0, 0, 1], 31000));
    let mut client = DtlsSession::client(&cert, fp.clone(), &profiles).unwrap();
    let mut server = DtlsSession::server(&cert, fp, &profiles).unwrap();
    let mut now = clock::base();
    client.start(now, server_addr).unwrap();
    let (mut to_server, mut to_client) = (Vec::new(), Vec::new());
    for _ in 0..10 {
        now += Duration::from_millis(10);
        let mut moved = false;
        while let Some((_, d)) = client.poll_transmit() {
            let _ = server.handle_input(now, client_addr, &d);
            to_server.push(d.to_vec());
            moved = true;
        }
        while let Some((_, d)) = server.poll_transmit() {
            let _ = client.handle_input(now, server_addr, &d);
            to_client.push(d.to_vec());
            moved = true;
        }
        if !moved {
            break;
        }
    }
    if let Some(hello) = to_server.first() {
        add(
            seeds,
            "dtls",
            "client-hello",
            [&[0u8][..], &encode([(1, &hello[..])])].concat(),
        );
        add(
            seeds,
            "dtls",
            "client-hello-fragments",
            [&[0u8][..], &fragmented(hello)].concat(),
        );
    }
    let framed = encode(to_server.iter().map(|d| (1u8, &d[..])));
    add(seeds, "dtls", "server-side", [&[0u8][..], &framed].concat());
    let framed = encode(to_client.iter().map(|d| (1u8, &d[..])));
    add(seeds, "dtls", "client-side", [&[1u8][..], &framed].concat());
}

/// The first handshake message of a one-record datagram, re-sent as two fragments in two
/// datagrams, the second first (fragments may arrive in any order).
fn fragmented(datagram: &[u8]) -> Vec<u8> {
    const RECORD: usize = 13;
    const HANDSHAKE: usize = 12;
    if datagram.len() < RECORD + HANDSHAKE + 2 {
        return Vec::new();
    }
    let body = &datagram[RECORD + HANDSHAKE..];
    let half = body.len() / 2;
    let fragment = |offset: usize, part: &[u8]| {
        let mut hs = datagram[RECORD..RECORD + 6].to_vec(); // type, length, message_seq
        hs.extend_from_slice(&(offset as u32).to_be_bytes()[1..]);
        hs.extend_from_slice(&(part.len() as u32).to_be_bytes()[1..]);
        hs.extend_from_slice(part);
        let mut record = datagram[..11].to_vec();
        record.extend_from_slice(&(hs.len() as u16).to_be_bytes());
        record.extend_from_slice(&hs);
        record
    };
    let first = fragment(0, &body[..half]);
    let second = fragment(half, &body[half..]);
    encode([(1, &second[..]), (1, &first[..])])
}

fn sdp_and_wcs_seeds(seeds: &mut Vec<Seed>) {
    let offers = [
        ("chrome-publish", world::CHROME_PUBLISH),
        ("chrome-simulcast", world::CHROME_SIMULCAST),
        ("firefox-publish", world::FIREFOX_PUBLISH),
        ("chrome-play", world::CHROME_PLAY),
    ];
    let local = world::local();
    for (name, sdp) in offers {
        add(seeds, "sdp", name, sdp.as_bytes().to_vec());
        add(
            seeds,
            "sdp",
            &format!("{name}-lf"),
            sdp.replace("\r\n", "\n").into_bytes(),
        );
        let offer = parse_offer(sdp).expect("fixture");
        let policy = PublishPolicy::default();
        if let Ok(n) = answer_publish_with_policy(&offer, &VideoCodec::ALL, &policy, &local) {
            add(
                seeds,
                "sdp",
                &format!("{name}-answer"),
                n.answer.into_bytes(),
            );
            if let Ok(play) =
                answer_play(&parse_offer(world::CHROME_PLAY).unwrap(), &n.media, &local)
            {
                add(
                    seeds,
                    "sdp",
                    &format!("{name}-play-answer"),
                    play.answer.into_bytes(),
                );
            }
        }
        let publish = wcs_frame("publishStream", sdp, true);
        add(
            seeds,
            "wcs",
            &format!("publish-{name}"),
            publish.into_bytes(),
        );
    }
    let fp = Fingerprint {
        algorithm: "sha-256".to_owned(),
        digest: vec![0xab; 32],
    };
    let ours = OfferSpec::publish(
        "relU",
        "relaypassword0123456789",
        fp.clone(),
        Codec::vp8(96),
        11,
        22,
    );
    add(
        seeds,
        "sdp",
        "relay-publish-offer",
        build_offer(&ours).into_bytes(),
    );
    let ours = OfferSpec::play("relU", "relaypassword0123456789", fp);
    add(
        seeds,
        "sdp",
        "relay-play-offer",
        build_offer(&ours).into_bytes(),
    );
    add(
        seeds,
        "wcs",
        "play",
        wcs_frame("playStream", world::CHROME_PLAY, false).into_bytes(),
    );

    let frames = [
        (
            "connection",
            r#"{"message":"connection","data":[{"appKey":"defaultApp","mediaProviders":["WebRTC","MSE","WSPlayer"],"clientVersion":"2.0","clientOSVersion":"5.0 (X11)","clientBrowserVersion":"Mozilla/5.0","msePacketizationVersion":2,"custom":{"rtcdnRelay":true},"clientInfo":{}}]}"#,
        ),
        ("ping", r#"{"message":"ping","data":[null]}"#),
        ("pong", r#"{"message":"pong","data":[null]}"#),
        (
            "unpublish",
            r#"{"message":"unPublishStream","data":[{"mediaSessionId":"a1b2","name":"s1","published":true,"hasVideo":true,"hasAudio":true,"status":"PUBLISHING","record":false,"width":"640","height":480}]}"#,
        ),
        (
            "stop",
            r#"{"message":"stopStream","data":[{"mediaSessionId":"c3d4","name":"s1","published":false}]}"#,
        ),
        (
            "available",
            r#"{"message":"availableStream","data":[{"mediaSessionId":"e5f6","name":"s1"}]}"#,
        ),
        (
            "stream-event",
            r#"{"message":"sendStreamEvent","data":[{"mediaSessionId":"a1b2","type":"data","payload":{"text":"hi","n":[1,2.5e3,null]}}]}"#,
        ),
        (
            "send-data",
            r#"{"message":"sendData","data":[{"operationId":"op-1","payload":{"k":"v"}}]}"#,
        ),
        (
            "unknown",
            r#"{"message":"pushLogs","data":[{"logs":"..."}]}"#,
        ),
    ];
    for (name, frame) in frames {
        add(seeds, "wcs", name, frame.as_bytes().to_vec());
    }
}

/// A `publishStream`/`playStream` frame the Web SDK sends, carrying `sdp`.
fn wcs_frame(name: &str, sdp: &str, published: bool) -> String {
    let sdp = sdp
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace("\r\n", "\\r\\n")
        .replace('\n', "\\n");
    format!(
        r#"{{"message":"{name}","data":[{{"mediaSessionId":"9d1f6e10-3c1a-11ef-8f6a-0f9b1c2d3e4f","name":"stream1","published":{published},"hasVideo":true,"hasAudio":true,"status":"PENDING","record":false,"mediaProvider":"WebRTC","sdp":"{sdp}","bitrate":0,"minBitrate":0,"maxBitrate":0,"width":0,"height":"480","custom":{{}}}}]}}"#
    )
}

fn config_seeds(seeds: &mut Vec<Seed>) {
    let files = [
        (
            "packaging",
            include_str!("../../../packaging/flashphoner.properties"),
        ),
        (
            "origin",
            include_str!("../../../examples/cdn/origin/flashphoner.properties"),
        ),
        (
            "edge",
            include_str!("../../../examples/cdn/edge/flashphoner.properties"),
        ),
    ];
    for (name, text) in files {
        add(seeds, "properties", name, text.as_bytes().to_vec());
    }
    // Every key we implement, with a value we accept.
    let every_key = "ip=192.0.2.10\nws.port=8080\nwss.port=8443\n\
        tls_certificate=/etc/rtcdn/tls/cert.pem\ntls_private_key=/etc/rtcdn/tls/key.pem\n\
        tls_self_signed_dir=tls\nmedia_port_from=31001\nmedia_port_to=32000\n\
        codecs=opus,h264,vp8,vp9,av1\nkeep_alive.server_interval=5000\nkeep_alive.probes=10\n\
        keep_alive.algorithm=HIGH_LEVEL\nworker_threads=4\nice_consent_timeout=30000\n\
        web_dir=web\nload_balancing_enabled=false\ncdn_relay_secret=s3cret\n\
        worker_cpu_affinity=0,1\nmedia_socket_buffer=4194304\nfanout_queue_capacity=16384\n\
        media_gso=true\nretransmit_cache=1000\nretransmit_share=20\ntransport_cc=true\nremb=true\n\
        cdn_relay_tls=false\ncdn_relay_ca_file=/etc/rtcdn/ca.pem\nwebrtc_cc_min_bitrate=100000\n\
        webrtc_cc_max_bitrate=5000000\nrest_api_key=k\\u00e9y\nrest_api_allowed_ips=127.0.0.1,10.0.0.0/8\n\
        rest_hook_url=http://127.0.0.1:9090/hooks\nrest_hook_timeout=2000\nrest_hook_fail_closed=true\n\
        rest_hook_on_error=LOG\nrest_hook_ca_file=/etc/rtcdn/hooks-ca.pem\nshutdown_grace_period=30\n\
        ! a WCS key we do not implement\nrecord_streams : false\nlong\\\n  continued=value\n";
    add(
        seeds,
        "properties",
        "every-key",
        every_key.as_bytes().to_vec(),
    );
    add(
        seeds,
        "properties",
        "load-balancing",
        b"load_balancing_enabled=true\ncdn_relay_secret=x\n".to_vec(),
    );

    add(
        seeds,
        "loadbalancing",
        "example",
        include_bytes!("../../../examples/cdn/origin/loadbalancing.xml").to_vec(),
    );
    let rtp = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
        <loadbalancer mode=\"FEWESTCALLS\" randomize=\"true\" stream_distribution=\"rtp\">\n\
        <node id=\"edge-1\"><ip>edge1.example.org</ip><ws>8080</ws><wss>8443</wss></node>\n\
        <node id=\"edge-2\"><ip>2001:db8::2</ip><ws>8081</ws></node>\n\
        <!-- a comment --><node id=\"3\"><ip>10.0.0.3</ip><wss>443</wss></node>\n\
        </loadbalancer>\n";
    add(seeds, "loadbalancing", "rtp", rtp.as_bytes().to_vec());
}
