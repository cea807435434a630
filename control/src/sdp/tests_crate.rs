//! The `rtc-sdp` evaluation as tests: every browser fixture through the crate's parser and
//! serialiser, the exact values our view reads from each, our answers back through the crate,
//! and what the crate's own codec helper would lose (the reason codecs stay ours).

use std::io::Cursor;

use dataplane::api::MediaKind;
use rand::rngs::StdRng;
use rand::SeedableRng;
use rtc_sdp::SessionDescription;

use super::answer::{answer_play_with, answer_publish_with};
use super::fixtures::{
    chrome_play, chrome_publish, chrome_simulcast_publish, firefox_play, local, sdk_strip_codecs,
};
use super::*;
use crate::config::VideoCodec;

pub(super) const CHROME_PUBLISH: &str =
    include_str!("../../../tests/fixtures/chrome_publish_offer.sdp");
pub(super) const CHROME_PLAY: &str = include_str!("../../../tests/fixtures/chrome_play_offer.sdp");
pub(super) const FIREFOX_PUBLISH: &str =
    include_str!("../../../tests/fixtures/firefox_publish_offer.sdp");

/// The fixture files are stored with LF; browsers send CRLF.
pub(super) fn crlf(text: &str) -> String {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| format!("{}\r\n", l.trim_end_matches('\r')))
        .collect()
}

fn crate_parse(text: &str) -> SessionDescription {
    SessionDescription::unmarshal(&mut Cursor::new(text)).expect("the crate parses it")
}

/// Every offer we have, as a browser would send it.
fn all_offers() -> Vec<(&'static str, String)> {
    vec![
        ("chrome publish (file)", crlf(CHROME_PUBLISH)),
        ("chrome play (file)", crlf(CHROME_PLAY)),
        ("firefox publish (file)", crlf(FIREFOX_PUBLISH)),
        (
            "chrome simulcast publish (file)",
            chrome_simulcast_publish(),
        ),
        ("chrome publish", chrome_publish()),
        ("chrome play", chrome_play()),
        ("firefox play", firefox_play()),
        // The Web SDK's stripCodecs: LF-joined lines that keep their CR, dangling apt=.
        (
            "sdk stripCodecs",
            sdk_strip_codecs(&chrome_publish(), "VP8"),
        ),
    ]
}

fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

#[test]
fn crate_reserialises_every_browser_offer_byte_for_byte() {
    for (name, offer) in all_offers() {
        for text in [offer.clone(), offer.replace("\r\n", "\n")] {
            let desc = crate_parse(&text);
            assert_eq!(desc.marshal(), crlf(&text), "{name}");
        }
    }
    let firefox = crate_parse(&crlf(FIREFOX_PUBLISH));
    let video = &firefox.media_descriptions[1];
    assert_eq!(video.attribute("simulcast"), Some(Some("send h;l")));
    let rids: Vec<_> = video
        .attributes
        .iter()
        .filter(|a| a.key == "rid")
        .map(|a| a.value.as_deref())
        .collect();
    assert_eq!(rids, [Some("h send"), Some("l send")]);
    assert_eq!(
        firefox.attribute("msid-semantic").map(String::as_str),
        Some("WMS *")
    );
}

#[test]
fn chrome_fixture_files_parse_to_exact_values() {
    let publish = parse_offer(&crlf(CHROME_PUBLISH)).unwrap();
    assert_eq!(
        (publish.ufrag.as_str(), publish.pwd.as_str()),
        ("iF1E", "Ru6Dbu2skhSJYpjeolAMVi6B")
    );
    assert_eq!(publish.fingerprint.digest[..2], [0x30, 0x9b]);
    assert_eq!(publish.fingerprint.digest[31], 0xe3);
    assert_eq!(publish.bundle, Some(vec!["0".to_owned(), "1".to_owned()]));
    let [audio, video] = &publish.sections[..] else {
        panic!("two sections");
    };
    assert_eq!(
        (audio.port, audio.protocol.as_str()),
        (9, "UDP/TLS/RTP/SAVPF")
    );
    assert_eq!(audio.connection, Some([0, 0, 0, 0].into()));
    assert_eq!(audio.direction, Direction::SendOnly);
    assert_eq!(audio.codecs.len(), 8);
    assert_eq!(audio.ssrcs, [1_337_347_157]);
    assert_eq!(
        audio.msid.as_deref(),
        Some("c3a1f6e7-7b4c-4936-b0c4-24d4076e0373 82d2e78f-90f5-4ee2-87c1-699e6be2e380")
    );
    assert_eq!(video.codecs.len(), 23);
    assert_eq!(video.extmaps.len(), 11);
    assert_eq!(
        video.extmaps[10].uri,
        "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id"
    );
    assert_eq!(video.primary_ssrc(), Some(1_234_983_059));
    assert_eq!(
        video.ssrc_groups,
        [("FID".to_owned(), vec![1_234_983_059, 1_121_745_989])]
    );
    assert_eq!(video.codec(107).unwrap().fmtp.as_deref(), Some("apt=104"));
    assert_eq!(video.codec(120).unwrap().name, "ulpfec");

    let play = parse_offer(&crlf(CHROME_PLAY)).unwrap();
    assert_eq!(play.ufrag, "NjJk");
    assert_eq!(play.pwd, "6SV+jDxziG3+q+0DzccFb6LM");
    let video = &play.sections[1];
    assert_eq!(video.direction, Direction::RecvOnly);
    assert_eq!(video.formats.len(), 34);
    assert_eq!(video.codecs.len(), 34);
    assert!(video.ssrcs.is_empty() && video.msid.is_none());
    let h264: Vec<u8> = video
        .codecs
        .iter()
        .filter(|c| c.name == "H264")
        .map(|c| c.payload_type)
        .collect();
    assert_eq!(h264, [102, 104, 108, 114, 116, 39, 41, 43]);
    assert_eq!(
        video.codec(49).unwrap().fmtp.as_deref(),
        Some("repair-window=10000000")
    );
}

#[test]
fn firefox_publish_parses_and_is_answered() {
    let offer = parse_offer(&crlf(FIREFOX_PUBLISH)).unwrap();
    // Session-level fingerprint, media-level ICE credentials.
    assert_eq!(offer.fingerprint.digest[..2], [0x6b, 0x2e]);
    assert_eq!(offer.ufrag, "e1c4a7b2");
    let [audio, video] = &offer.sections[..] else {
        panic!("two sections");
    };
    assert_eq!(audio.setup.as_deref(), Some("actpass"));
    let ids: Vec<(u8, &str)> = audio
        .extmaps
        .iter()
        .map(|e| (e.id, e.uri.as_str()))
        .collect();
    assert_eq!(
        ids,
        [
            (1, "urn:ietf:params:rtp-hdrext:ssrc-audio-level"),
            (2, "urn:ietf:params:rtp-hdrext:csrc-audio-level"),
            (3, "urn:ietf:params:rtp-hdrext:sdes:mid"),
        ]
    );
    let opus = audio.codec(109).unwrap();
    assert_eq!((opus.clock_rate, opus.channels), (48_000, Some(2)));
    assert_eq!(audio.codec(9).unwrap().channels, Some(1));
    assert_eq!(audio.primary_ssrc(), Some(1_824_302_577));
    assert_eq!(video.codecs.len(), 11);
    assert_eq!(video.codec(126).unwrap().rtcp_fb.len(), 5);
    assert_eq!(video.primary_ssrc(), Some(2_967_081_306));
    assert_eq!(video.ssrcs.len(), 4);

    let negotiated = answer_publish_with(
        &offer,
        &[VideoCodec::H264],
        &local("192.0.2.10:31001"),
        &mut rng(3),
    )
    .unwrap();
    let tracks: Vec<(MediaKind, u8, Option<u32>)> = negotiated
        .tracks
        .iter()
        .map(|t| (t.kind, t.payload_type, t.ssrc))
        .collect();
    assert_eq!(
        tracks,
        [
            (MediaKind::Audio, 109, Some(1_824_302_577)),
            (MediaKind::Video, 126, Some(2_967_081_306)),
        ]
    );
    let video_ids: Vec<u8> = negotiated.tracks[1]
        .extensions
        .iter()
        .map(|(id, _)| *id)
        .collect();
    assert_eq!(
        video_ids,
        [3, 4, 5, 7, 8, 9],
        "7: transport-wide-cc, 8 and 9: the RTP stream ids of simulcast"
    );
    // Simulcast is negotiated in the offer's order (high first), each layer told apart by its
    // stream id: the announced SSRCs are not tied to rids.
    let rids: Vec<(&str, Option<u32>)> = negotiated.tracks[1]
        .layers
        .iter()
        .map(|l| (l.rid.as_str(), l.ssrc))
        .collect();
    assert_eq!(rids, [("h", None), ("l", None)]);
    assert!(negotiated
        .answer
        .contains("a=rid:h recv\r\na=rid:l recv\r\na=simulcast:recv h;l\r\n"));
}

#[test]
fn our_answers_round_trip_through_the_crate() {
    let server = local("192.0.2.10:31001");
    let published = answer_publish_with(
        &parse_offer(&crlf(CHROME_PUBLISH)).unwrap(),
        &[VideoCodec::H264],
        &server,
        &mut rng(1),
    )
    .unwrap();
    let mut answers = vec![("chrome publish", published.answer.clone(), 108)];
    for (name, offer, video_pt) in [
        ("chrome play (file)", crlf(CHROME_PLAY), 108),
        ("chrome play", chrome_play(), 108),
        ("firefox play", firefox_play(), 126),
    ] {
        let offer = parse_offer(&offer).unwrap();
        let played = answer_play_with(&offer, &published.media, &server, &mut rng(2)).unwrap();
        answers.push((name, played.answer, video_pt));
    }
    let sdk = sdk_strip_codecs(&crlf(CHROME_PUBLISH), "H264");
    let sdk = parse_offer(&sdk).unwrap();
    let vp8 = answer_publish_with(
        &sdk,
        &[VideoCodec::H264, VideoCodec::Vp8],
        &server,
        &mut rng(4),
    );
    answers.push(("sdk publish", vp8.unwrap().answer, 96));
    let firefox = parse_offer(&crlf(FIREFOX_PUBLISH)).unwrap();
    let ff = answer_publish_with(&firefox, &[VideoCodec::Vp8], &server, &mut rng(5));
    answers.push(("firefox publish", ff.unwrap().answer, 120));
    let simulcast = parse_offer(&chrome_simulcast_publish()).unwrap();
    let sc = answer_publish_with(&simulcast, &[VideoCodec::Vp8], &server, &mut rng(6));
    answers.push(("chrome simulcast publish", sc.unwrap().answer, 96));

    for (name, answer, video_pt) in answers {
        let desc = crate_parse(&answer);
        assert_eq!(
            desc.marshal(),
            answer,
            "{name}: the crate re-serialises our answer"
        );
        assert_eq!(desc.media_descriptions.len(), 2, "{name}");
        assert_eq!(desc.origin.username, "rtcdn");
        let parsed = parse_answer(&answer).unwrap();
        assert!(parsed.ice_lite, "{name}");
        assert_eq!(parsed.candidates, [server.candidate], "{name}");
        assert_eq!(parsed.audio.unwrap().codec.name, "opus", "{name}");
        assert_eq!(parsed.video.unwrap().codec.payload_type, video_pt, "{name}");
    }
}

#[test]
fn crate_codec_helper_would_lose_what_negotiation_needs() {
    // MediaDescription::codecs() is a HashMap (the m= preference order is gone), drops an fmtp
    // written with a space after ';' and keeps only the first of two fmtp lines of a PT.
    let offer = chrome_publish()
        .replace(
            "a=fmtp:111 minptime=10;useinbandfec=1\r\n",
            "a=fmtp:111 minptime=10; useinbandfec=1\r\na=fmtp:111 stereo=1\r\n",
        )
        .replace("a=rtpmap:0 PCMU/8000\r\n", "");
    let desc = crate_parse(&offer);
    let codecs = desc.media_descriptions[0].codecs();
    assert_eq!(codecs[&111].fmtp, "stereo=1");
    assert!(
        !codecs.contains_key(&0),
        "static PT 0 without rtpmap is not a codec"
    );
    let ours = parse_offer(&offer).unwrap();
    let audio = &ours.sections[0];
    assert_eq!(
        audio.codec(111).unwrap().fmtp.as_deref(),
        Some("minptime=10; useinbandfec=1;stereo=1")
    );
    assert_eq!(audio.codec(0).unwrap().name, "PCMU");
    let order: Vec<u8> = audio.codecs.iter().map(|c| c.payload_type).collect();
    assert_eq!(order, [111, 63, 9, 0, 8, 13, 110, 126]);
}

#[test]
fn bad_sdp_gives_the_expected_error() {
    let offer = chrome_publish();
    let m_audio = offer
        .lines()
        .position(|l| l.starts_with("m=audio"))
        .unwrap()
        + 1;
    let malformed = |line, reason| SdpError::Malformed { line, reason };
    let bad_m = "bad m= line (media, port, protocol and formats expected)";
    let cases: Vec<(String, SdpError)> = vec![
        (
            "this is not SDP\r\n\u{1}\u{2}m=\r\n".to_owned(),
            malformed(1, "expected <type>=<value>"),
        ),
        (String::new(), SdpError::NoMedia),
        (" \r\n\n\t\r\n".to_owned(), SdpError::NoMedia),
        (
            offer[..offer.find("m=audio").unwrap()].to_owned(),
            SdpError::NoMedia,
        ),
        (
            offer[..offer.find("t=0 0").unwrap()].to_owned(),
            malformed(3, "SDP ends early: v=, o=, s= and t= lines are required"),
        ),
        (
            offer[..offer.find("m=audio").unwrap() + 5].to_owned(),
            malformed(m_audio, bad_m),
        ),
        (
            offer.replacen("m=audio 9 ", "m=audio 70000 ", 1),
            malformed(m_audio, bad_m),
        ),
        (
            offer.replacen("m=audio 9 ", "m=audio -9 ", 1),
            malformed(m_audio, bad_m),
        ),
        (
            offer.replacen("m=audio 9 ", "m=audio 9/x ", 1),
            malformed(m_audio, bad_m),
        ),
        (
            offer.replacen("m=audio ", "m=sound ", 1),
            malformed(m_audio, bad_m),
        ),
        (
            offer.replacen("o=- 4611731400430051336", "o=- x", 1),
            malformed(2, "bad o= line (6 fields, numeric session id and version)"),
        ),
        (
            offer.replacen("v=0", "v=1", 1),
            malformed(1, "bad v= line (version 0 expected)"),
        ),
        (
            offer.replacen("s=-\r\n", "", 1),
            malformed(
                3,
                "line type unknown or out of order (RFC 8866: v, o, s, t, then a and m)",
            ),
        ),
        (
            format!("{offer}{}", "a=x\r\n".repeat(MAX_SDP_LEN / 5)),
            SdpError::TooLarge,
        ),
        (
            format!("{offer}a={}\r\n", "x".repeat(MAX_LINE_LEN)),
            SdpError::LineTooLong {
                line: offer.lines().count() + 1,
            },
        ),
    ];
    for (sdp, expected) in cases {
        assert_eq!(parse_offer(&sdp).unwrap_err(), expected, "{sdp:.80?}");
        assert_eq!(parse_answer(&sdp).unwrap_err(), expected, "{sdp:.80?}");
    }
    assert_eq!(
        malformed(m_audio, bad_m).wcs_info(),
        format!("Invalid SDP: line {m_audio}: {bad_m}")
    );
}

#[test]
fn truncated_offers_never_panic() {
    for offer in [chrome_publish(), crlf(FIREFOX_PUBLISH), crlf(CHROME_PLAY)] {
        let mut parsed = 0;
        // Every 7th cut: every line type is cut somewhere, at a fraction of the debug-build time.
        for end in (0..offer.len())
            .step_by(7)
            .filter(|&i| offer.is_char_boundary(i))
        {
            let result = parse_offer(&offer[..end]);
            if let Ok(offer) = result {
                parsed += 1;
                let _ = answer_publish_with(
                    &offer,
                    &[VideoCodec::Vp8],
                    &local("192.0.2.10:31001"),
                    &mut rng(9),
                );
            }
        }
        // Cuts after the first section's fingerprint and ICE lines parse as offers.
        assert!(parsed > 0);
    }
}
