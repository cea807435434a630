//! Round trips for our own clients: build_offer → answer_publish / answer_play → parse_answer.

use std::net::SocketAddr;

use dataplane::api::{Fingerprint, MediaKind, RtxSpec};

use super::fixtures::local;
use super::*;
use crate::config::VideoCodec;

fn client_fingerprint() -> Fingerprint {
    Fingerprint {
        algorithm: "sha-256".to_owned(),
        digest: vec![0xab; 32],
    }
}

/// A publish offer with `video`, audio SSRC 1111 and video SSRC 2222.
fn client_publish(video: Codec) -> OfferSpec {
    let fingerprint = client_fingerprint();
    OfferSpec::publish(
        "cliU",
        "clientpassword9876543210",
        fingerprint,
        video,
        1111,
        2222,
    )
}

#[test]
fn publish_round_trip() {
    let spec = client_publish(Codec::h264(102, "42e01f", 1));
    let offer_text = build_offer(&spec);
    let offer = parse_offer(&offer_text).unwrap();
    assert_eq!(offer.sections.len(), 2);
    assert_eq!(offer.sections[1].direction, Direction::SendOnly);
    assert_eq!(
        offer.sections[1].codec(102).unwrap().fmtp.as_deref(),
        Some("level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f")
    );
    let server = local("127.0.0.1:31001");
    let negotiated = answer_publish(&offer, &[VideoCodec::Vp8, VideoCodec::H264], &server).unwrap();
    assert_eq!(negotiated.remote_ufrag, "cliU");
    assert_eq!(negotiated.remote_fingerprint, client_fingerprint());
    assert_eq!(negotiated.tracks[0].ssrc, Some(1111));
    assert_eq!(negotiated.tracks[1].ssrc, Some(2222));

    let answer = parse_answer(&negotiated.answer).unwrap();
    assert!(answer.ice_lite);
    assert_eq!(answer.ufrag, server.ufrag);
    assert_eq!(answer.pwd, server.pwd);
    assert_eq!(answer.fingerprint, server.fingerprint);
    assert_eq!(answer.candidates, [server.candidate]);
    assert_eq!(answer.bundle, Some(vec!["0".to_owned(), "1".to_owned()]));
    let audio = answer.audio.unwrap();
    let video = answer.video.unwrap();
    assert_eq!(
        (
            audio.mid.as_deref(),
            audio.direction,
            audio.codec.payload_type
        ),
        (Some("0"), Direction::RecvOnly, 111)
    );
    assert_eq!(
        (
            video.codec.name.as_str(),
            video.codec.payload_type,
            video.ssrc
        ),
        ("H264", 102, None)
    );
    // The known extensions and transport-cc's (3) keep the offer's ids.
    let ids: Vec<u8> = video.codec.extensions.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, [14, 2, 13, 3, 4]);
}

#[test]
fn play_round_trip() {
    let publisher = OfferSpec::publish(
        "pubU",
        "publisherpassword0000000",
        client_fingerprint(),
        Codec::vp8(96),
        5,
        6,
    );
    let published = answer_publish(
        &parse_offer(&build_offer(&publisher)).unwrap(),
        &[VideoCodec::Vp8],
        &local("127.0.0.1:31001"),
    )
    .unwrap()
    .media;

    let mut spec = OfferSpec::play("plyU", "playerpassword0000000000", client_fingerprint());
    // A player numbering its codecs differently from the publisher.
    spec.video
        .as_mut()
        .unwrap()
        .codecs
        .retain(|c| c.name != "VP8");
    spec.video.as_mut().unwrap().codecs.push(Codec::vp8(120));
    spec.audio.as_mut().unwrap().codecs = vec![Codec::opus(109)];
    let offer_text = build_offer(&spec);
    assert!(offer_text.contains("a=msid-semantic: WMS \r\n") && !offer_text.contains("a=ssrc:"));
    let server = local("[::1]:31002");
    let negotiated = answer_play(&parse_offer(&offer_text).unwrap(), &published, &server).unwrap();
    let answer = parse_answer(&negotiated.answer).unwrap();
    assert_eq!(answer.candidates, [server.candidate]);
    let audio = answer.audio.unwrap();
    let video = answer.video.unwrap();
    assert_eq!(
        (audio.direction, audio.codec.payload_type),
        (Direction::SendOnly, 109)
    );
    assert_eq!(
        (video.codec.name.as_str(), video.codec.payload_type),
        ("VP8", 120)
    );
    let tracks = &negotiated.tracks;
    assert_eq!(tracks.len(), 2);
    assert_eq!(
        (tracks[0].kind, tracks[0].ssrc),
        (MediaKind::Audio, audio.ssrc)
    );
    assert_eq!(
        (tracks[1].kind, tracks[1].ssrc),
        (MediaKind::Video, video.ssrc)
    );
    assert_eq!(video.codec.extensions, tracks[1].extensions);
    assert_eq!(negotiated.media.video.unwrap().payload_type, 120);
}

#[test]
fn parse_answer_errors_and_duplicates() {
    let server = local("127.0.0.1:31001");
    let offer = parse_offer(&build_offer(&OfferSpec::publish(
        "u",
        "p",
        client_fingerprint(),
        Codec::vp8(96),
        1,
        2,
    )))
    .unwrap();
    let answer = answer_publish(&offer, &[VideoCodec::Vp8], &server)
        .unwrap()
        .answer;
    // The Web SDK may add a second opus fmtp line to an answer.
    let munged = answer.replace(
        "a=fmtp:111 minptime=10;useinbandfec=1\r\n",
        "a=fmtp:111 minptime=10;useinbandfec=1\r\na=fmtp:111 stereo=1;sprop-stereo=1;\r\n",
    );
    let parsed = parse_answer(&munged).unwrap();
    assert_eq!(
        parsed.audio.unwrap().codec.fmtp.as_deref(),
        Some("minptime=10;useinbandfec=1;stereo=1;sprop-stereo=1")
    );
    let rejected = answer
        .replace("m=audio 31001", "m=audio 0")
        .replace("m=video 31001", "m=video 0");
    assert_eq!(
        parse_answer(&rejected).unwrap_err(),
        SdpError::NoCommonCodecs
    );
    let no_ice: String = answer
        .split("\r\n")
        .filter(|l| !l.starts_with("a=ice-"))
        .collect::<Vec<_>>()
        .join("\r\n");
    assert_eq!(
        parse_answer(&no_ice).unwrap_err(),
        SdpError::NoIceCredentials
    );
    let session_only = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n";
    assert_eq!(parse_answer(session_only).unwrap_err(), SdpError::NoMedia);
    assert_eq!(parse_answer("").unwrap_err(), SdpError::NoMedia);
    assert_eq!(
        parse_answer("v=0\r\n").unwrap_err(),
        SdpError::Malformed {
            line: 1,
            reason: "SDP ends early: v=, o=, s= and t= lines are required"
        }
    );
}

#[test]
fn offer_announces_host_candidate_in_every_section() {
    let mut spec = OfferSpec::play("cliU", "clientpassword9876543210", client_fingerprint());
    assert!(
        !build_offer(&spec).contains("a=candidate"),
        "none by default"
    );
    let addr: SocketAddr = "10.99.0.2:40123".parse().unwrap();
    spec.candidate = Some(addr);
    let offer = parse_offer(&build_offer(&spec)).unwrap();
    assert_eq!(offer.sections.len(), 2);
    for section in &offer.sections {
        let found: Vec<_> = section.candidates.iter().map(|c| c.addr).collect();
        assert_eq!(found, vec![addr], "section {:?}", section.mid);
    }
    // A publish offer with a candidate is answered as one without.
    let mut publish = client_publish(Codec::vp8(96));
    publish.candidate = Some(addr);
    let offer = parse_offer(&build_offer(&publish)).unwrap();
    let server = local("127.0.0.1:31001");
    let negotiated = answer_publish(&offer, &[VideoCodec::Vp8], &server).unwrap();
    assert_eq!(negotiated.tracks.len(), 2);
}

#[test]
fn offers_nack_and_rtx_and_reads_what_was_accepted() {
    let spec = client_publish(Codec::vp8(96));
    let rtx_ssrc = OfferSpec::derived_rtx_ssrc(1111, 2222);
    assert!(![0, 1111, 2222].contains(&rtx_ssrc));
    let text = build_offer(&spec);
    for line in [
        "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n",
        "m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\n",
        "a=rtcp-fb:96 nack\r\n",
        "a=rtcp-fb:96 nack pli\r\n",
        "a=rtcp-fb:96 ccm fir\r\n",
        "a=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\n",
        &format!("a=ssrc-group:FID 2222 {rtx_ssrc}\r\na=ssrc:2222 cname:rtcdn00000457\r\n"),
        &format!("a=ssrc:{rtx_ssrc} cname:rtcdn00000457\r\n"),
        &format!("a=ssrc:{rtx_ssrc} msid:stream000008ae video000008ae\r\n"),
    ] {
        assert!(text.contains(line), "{line}");
    }
    assert_eq!(text.matches("rtx/").count(), 1, "no RTX for audio");
    let server = local("127.0.0.1:31001");
    let negotiated =
        answer_publish(&parse_offer(&text).unwrap(), &[VideoCodec::Vp8], &server).unwrap();
    let rtx = |payload_type, ssrc| Some(RtxSpec { payload_type, ssrc });
    let tracks: Vec<_> = negotiated.tracks.iter().map(|t| (t.nack, t.rtx)).collect();
    assert_eq!(tracks, [(false, None), (true, rtx(97, Some(rtx_ssrc)))]);
    let answer = parse_answer(&negotiated.answer).unwrap();
    let (audio, video) = (answer.audio.unwrap(), answer.video.unwrap());
    assert_eq!((audio.nack, audio.rtx), (false, None));
    // A recvonly answerer announces no SSRC of its own.
    assert_eq!((video.nack, video.rtx), (true, rtx(97, None)));

    // Play: the server's RTX SSRC comes back from its FID group.
    let play = OfferSpec::play("plyU", "playerpassword0000000000", client_fingerprint());
    assert_eq!(
        play.rtx_payload_types(),
        [96, 102, 104, 106, 108, 98, 45].map(|pt| (MediaKind::Video, pt, pt + 1))
    );
    let text = build_offer(&play);
    assert!(text.contains(
        "m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103 104 105 106 107 108 109 98 99 45 46\r\n"
    ));
    assert!(!text.contains("a=ssrc"));
    let negotiated = answer_play(&parse_offer(&text).unwrap(), &negotiated.media, &server).unwrap();
    let answer = parse_answer(&negotiated.answer).unwrap();
    let video = answer.video.unwrap();
    assert_eq!((video.nack, video.rtx), (true, negotiated.tracks[1].rtx));
    assert_eq!(video.rtx.unwrap().payload_type, 97);
    assert!(video.rtx.unwrap().ssrc.is_some());
    assert_eq!(video.ssrc, negotiated.tracks[1].ssrc);
    assert_eq!(answer.audio.unwrap().rtx, None);
}

#[test]
fn offered_rtx_payload_types_avoid_every_used_one() {
    let mut spec = OfferSpec::play("cliU", "clientpassword9876543210", client_fingerprint());
    spec.audio.as_mut().unwrap().codecs = vec![Codec::opus(98)];
    spec.video.as_mut().unwrap().codecs = vec![Codec::vp8(96), Codec::vp8(97), Codec::vp8(127)];
    assert_eq!(
        spec.rtx_payload_types(),
        [
            (MediaKind::Video, 96, 99),
            (MediaKind::Video, 97, 100),
            (MediaKind::Video, 127, 101)
        ]
    );
    let offer = parse_offer(&build_offer(&spec)).unwrap();
    let pts: Vec<u8> = offer.sections[1]
        .codecs
        .iter()
        .map(|c| c.payload_type)
        .collect();
    assert_eq!(pts, [96, 99, 97, 100, 127, 101]);
    // No RTX asked: none offered and no FID group.
    let mut publish = OfferSpec::publish("u", "p", client_fingerprint(), Codec::vp8(96), 1, 2);
    publish.video.as_mut().unwrap().rtx = None;
    let text = build_offer(&publish);
    assert!(!text.contains("rtx") && !text.contains("FID"));
    assert!(publish.rtx_payload_types().is_empty());
    // The derived RTX SSRC skips 0 and the media SSRCs.
    let zero = 0x5254_5800u32.rotate_right(16);
    assert_eq!(OfferSpec::derived_rtx_ssrc(1, zero), 2);
}
