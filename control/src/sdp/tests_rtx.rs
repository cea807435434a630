//! Generic NACK and RTX (RFC 4588) negotiation: the exact `TrackSpec` values and answer lines
//! for the browser fixtures, our own offers through the answerer and back, and malformed RTX.

use dataplane::api::{MediaKind, RtxSpec, TrackSpec};

use super::answer::answer_play_with;
use super::fixtures::{chrome_play, chrome_publish, firefox_play, local};
use super::tests::{assert_fmtp_after_rtpmap, publish, rng, section};
use super::tests_crate::{crlf, CHROME_PLAY, CHROME_PUBLISH, FIREFOX_PUBLISH};
use super::*;
use crate::config::VideoCodec;

type Repair = (MediaKind, u8, bool, Option<RtxSpec>);

fn rtx(payload_type: u8, ssrc: Option<u32>) -> Option<RtxSpec> {
    Some(RtxSpec { payload_type, ssrc })
}

/// `(kind, payload type, nack, rtx)` of each track.
fn repair(tracks: &[TrackSpec]) -> Vec<Repair> {
    tracks
        .iter()
        .map(|t| (t.kind, t.payload_type, t.nack, t.rtx))
        .collect()
}

/// The video track's `(payload type, nack, rtx)`.
fn video(tracks: &[TrackSpec]) -> (u8, bool, Option<RtxSpec>) {
    let t = tracks.iter().find(|t| t.kind == MediaKind::Video).unwrap();
    (t.payload_type, t.nack, t.rtx)
}

/// The rtpmap, fmtp and rtcp-fb lines of a section.
fn codec_lines<'a>(section: &[&'a str]) -> Vec<&'a str> {
    section
        .iter()
        .copied()
        .filter(|l| {
            ["a=rtpmap", "a=fmtp", "a=rtcp-fb"]
                .iter()
                .any(|p| l.starts_with(p))
        })
        .collect()
}

/// The msid, ssrc-group and ssrc lines of a section.
fn source_lines<'a>(section: &[&'a str]) -> Vec<&'a str> {
    section
        .iter()
        .copied()
        .filter(|l| l.starts_with("a=msid:") || l.starts_with("a=ssrc"))
        .collect()
}

fn play(offer: &str, published: &PublishedMedia) -> Negotiated {
    let offer = parse_offer(offer).unwrap();
    answer_play_with(&offer, published, &local("192.0.2.10:31002"), &mut rng()).unwrap()
}

fn published(prefs: &[VideoCodec]) -> PublishedMedia {
    publish(&chrome_publish(), prefs).unwrap().media
}

const CHROME_RTX_SSRC: u32 = 2_271_560_481;

#[test]
fn publish_fixtures_negotiate_nack_and_rtx() {
    let (chrome, file, firefox) = (
        chrome_publish(),
        crlf(CHROME_PUBLISH),
        crlf(FIREFOX_PUBLISH),
    );
    let (file_rtx, firefox_rtx) = (1_121_745_989, 1_150_297_761);
    let cases: [(&str, &str, VideoCodec, u8, u8, u8, u32); 8] = [
        (
            "chrome H264",
            &chrome,
            VideoCodec::H264,
            111,
            108,
            109,
            CHROME_RTX_SSRC,
        ),
        (
            "chrome VP8",
            &chrome,
            VideoCodec::Vp8,
            111,
            96,
            97,
            CHROME_RTX_SSRC,
        ),
        (
            "chrome VP9",
            &chrome,
            VideoCodec::Vp9,
            111,
            98,
            99,
            CHROME_RTX_SSRC,
        ),
        (
            "chrome AV1",
            &chrome,
            VideoCodec::Av1,
            111,
            45,
            46,
            CHROME_RTX_SSRC,
        ),
        (
            "chrome file VP8",
            &file,
            VideoCodec::Vp8,
            111,
            96,
            97,
            file_rtx,
        ),
        (
            "chrome file H264",
            &file,
            VideoCodec::H264,
            111,
            108,
            109,
            file_rtx,
        ),
        (
            "firefox file VP8",
            &firefox,
            VideoCodec::Vp8,
            109,
            120,
            124,
            firefox_rtx,
        ),
        (
            "firefox file H264",
            &firefox,
            VideoCodec::H264,
            109,
            126,
            127,
            firefox_rtx,
        ),
    ];
    for (name, offer, pref, audio_pt, video_pt, rtx_pt, rtx_ssrc) in cases {
        let expected = [
            (MediaKind::Audio, audio_pt, false, None),
            (
                MediaKind::Video,
                video_pt,
                true,
                rtx(rtx_pt, Some(rtx_ssrc)),
            ),
        ];
        let negotiated = publish(offer, &[pref]).unwrap();
        assert_eq!(repair(&negotiated.tracks), expected, "{name}");
        assert_fmtp_after_rtpmap(&negotiated.answer);
        // A recvonly answer announces no SSRC and no FID group.
        assert!(!negotiated.answer.contains("a=ssrc"), "{name}");
    }
}

#[test]
fn publish_answer_keeps_only_the_chosen_codecs_rtx() {
    let chrome = publish(&chrome_publish(), &[VideoCodec::Vp8]).unwrap();
    let audio = section(&chrome.answer, 0);
    assert_eq!(audio[0], "m=audio 31001 UDP/TLS/RTP/SAVPF 111");
    let opus = [
        "a=rtpmap:111 opus/48000/2",
        "a=fmtp:111 minptime=10;useinbandfec=1",
        "a=rtcp-fb:111 transport-cc",
    ];
    assert_eq!(codec_lines(&audio), opus);
    let feedback = |pt: u8| {
        ["nack", "nack pli", "ccm fir", "transport-cc"].map(|fb| format!("a=rtcp-fb:{pt} {fb}"))
    };
    let chrome_vp8 = [
        vec!["a=rtpmap:96 VP8/90000".to_owned()],
        feedback(96).to_vec(),
    ]
    .concat();
    let firefox_vp8 = [
        vec![
            "a=rtpmap:120 VP8/90000".to_owned(),
            "a=fmtp:120 max-fs=12288;max-fr=60".to_owned(),
        ],
        feedback(120).to_vec(),
    ]
    .concat();
    for (offer, m_line, codec, rtx) in [
        (
            chrome_publish(),
            "96 97",
            chrome_vp8,
            ["a=rtpmap:97 rtx/90000", "a=fmtp:97 apt=96"],
        ),
        (
            crlf(FIREFOX_PUBLISH),
            "120 124",
            firefox_vp8,
            ["a=rtpmap:124 rtx/90000", "a=fmtp:124 apt=120"],
        ),
    ] {
        let answer = publish(&offer, &[VideoCodec::Vp8]).unwrap().answer;
        let video = section(&answer, 1);
        assert_eq!(
            video[0],
            format!("m=video 31001 UDP/TLS/RTP/SAVPF {m_line}")
        );
        let expected: Vec<String> = codec.into_iter().chain(rtx.map(str::to_owned)).collect();
        assert_eq!(codec_lines(&video), expected);
    }
}

/// A play answer's video source lines: the FID group and both SSRCs with one cname and msid.
fn assert_play_sources(negotiated: &Negotiated, video_index: usize) {
    let track = &negotiated.tracks[video_index];
    let (ssrc, rtx_ssrc) = (track.ssrc.unwrap(), track.rtx.unwrap().ssrc.unwrap());
    let used: Vec<u32> = negotiated.tracks.iter().filter_map(|t| t.ssrc).collect();
    assert!(rtx_ssrc != 0 && !used.contains(&rtx_ssrc));
    let video = section(&negotiated.answer, 1);
    let sources = source_lines(&video);
    let msid = sources[0].strip_prefix("a=msid:").unwrap();
    let cname = sources[2].split_once(" cname:").unwrap().1;
    assert_eq!(
        sources,
        [
            format!("a=msid:{msid}"),
            format!("a=ssrc-group:FID {ssrc} {rtx_ssrc}"),
            format!("a=ssrc:{ssrc} cname:{cname}"),
            format!("a=ssrc:{ssrc} msid:{msid}"),
            format!("a=ssrc:{rtx_ssrc} cname:{cname}"),
            format!("a=ssrc:{rtx_ssrc} msid:{msid}"),
        ]
    );
    // Audio: no RTX, no FID group.
    let audio = section(&negotiated.answer, 0);
    assert_eq!(source_lines(&audio).len(), 3);
    assert!(!audio.iter().any(|l| l.contains("rtx") || l.contains("FID")));
}

#[test]
fn play_fixtures_negotiate_nack_and_rtx_with_our_rtx_ssrc() {
    let h264_mode0 = PublishedMedia {
        audio: published(&[VideoCodec::Vp8]).audio,
        video: Some(NegotiatedCodec {
            name: "H264".to_owned(),
            payload_type: 104,
            clock_rate: 90_000,
            channels: None,
            fmtp: Some("packetization-mode=0;profile-level-id=42001f".to_owned()),
            extensions: Vec::new(),
        }),
        layers: Vec::new(),
    };
    let cases: [(&str, String, PublishedMedia, u8, u8, u8); 6] = [
        (
            "chrome H264",
            chrome_play(),
            published(&[VideoCodec::H264]),
            111,
            108,
            109,
        ),
        (
            "chrome VP8",
            chrome_play(),
            published(&[VideoCodec::Vp8]),
            111,
            96,
            97,
        ),
        (
            "chrome file VP8",
            crlf(CHROME_PLAY),
            published(&[VideoCodec::Vp8]),
            111,
            96,
            97,
        ),
        // Chrome numbers H264 104's RTX 107: the apt= decides, not pt + 1.
        (
            "chrome file H264 mode 0",
            crlf(CHROME_PLAY),
            h264_mode0,
            111,
            104,
            107,
        ),
        (
            "firefox H264",
            firefox_play(),
            published(&[VideoCodec::H264]),
            109,
            126,
            127,
        ),
        (
            "firefox VP8",
            firefox_play(),
            published(&[VideoCodec::Vp8]),
            109,
            120,
            124,
        ),
    ];
    for (name, offer, source, audio_pt, video_pt, rtx_pt) in cases {
        let negotiated = play(&offer, &source);
        let rtx_ssrc = negotiated.tracks[1].rtx.and_then(|r| r.ssrc);
        assert!(rtx_ssrc.is_some(), "{name}");
        assert_eq!(
            repair(&negotiated.tracks),
            [
                (MediaKind::Audio, audio_pt, false, None),
                (MediaKind::Video, video_pt, true, rtx(rtx_pt, rtx_ssrc))
            ],
            "{name}"
        );
        let video = section(&negotiated.answer, 1);
        assert_eq!(
            video[0],
            format!("m=video 31002 UDP/TLS/RTP/SAVPF {video_pt} {rtx_pt}"),
            "{name}"
        );
        let tail = &codec_lines(&video)[codec_lines(&video).len() - 2..];
        assert_eq!(
            tail,
            [
                format!("a=rtpmap:{rtx_pt} rtx/90000"),
                format!("a=fmtp:{rtx_pt} apt={video_pt}")
            ],
            "{name}"
        );
        assert_play_sources(&negotiated, 1);
        assert_fmtp_after_rtpmap(&negotiated.answer);
    }
}

/// `offer` without any `rtx` payload type (the m= line keeps the PTs, which then mean nothing).
fn without_rtx(offer: &str) -> String {
    offer
        .split_inclusive('\n')
        .filter(|l| !l.contains(" rtx/") && !l.contains(" apt="))
        .collect()
}

#[test]
fn nothing_is_negotiated_that_was_not_offered() {
    let negotiated = publish(&without_rtx(&chrome_publish()), &[VideoCodec::Vp8]).unwrap();
    assert_eq!(video(&negotiated.tracks), (96, true, None));
    assert_eq!(
        section(&negotiated.answer, 1)[0],
        "m=video 31001 UDP/TLS/RTP/SAVPF 96"
    );
    assert!(!negotiated.answer.contains("rtx"));

    let no_nack = chrome_publish().replace("a=rtcp-fb:96 nack\r\n", "");
    let negotiated = publish(&no_nack, &[VideoCodec::Vp8]).unwrap();
    assert_eq!(
        video(&negotiated.tracks),
        (96, false, rtx(97, Some(CHROME_RTX_SSRC)))
    );
    let lines = codec_lines(&section(&negotiated.answer, 1));
    assert!(lines.contains(&"a=rtcp-fb:96 nack pli") && !lines.contains(&"a=rtcp-fb:96 nack"));

    let negotiated = play(&without_rtx(&chrome_play()), &published(&[VideoCodec::Vp8]));
    assert_eq!(video(&negotiated.tracks), (96, true, None));
    let sources = source_lines(&section(&negotiated.answer, 1));
    assert_eq!(
        sources.len(),
        3,
        "msid and one SSRC's two lines: {sources:?}"
    );
    assert!(!negotiated.answer.contains("rtx") && !negotiated.answer.contains("FID"));
}

#[test]
fn audio_gets_nack_when_offered_and_never_rtx() {
    let with_audio_repair = |offer: String| {
        offer
            .replacen(
                "UDP/TLS/RTP/SAVPF 111 63",
                "UDP/TLS/RTP/SAVPF 111 112 63",
                1,
            )
            .replacen(
                "a=rtcp-fb:111 transport-cc\r\n",
                "a=rtcp-fb:111 transport-cc\r\na=rtcp-fb:111 nack\r\n\
                 a=rtpmap:112 rtx/48000\r\na=fmtp:112 apt=111\r\n",
                1,
            )
    };
    let negotiated = publish(&with_audio_repair(chrome_publish()), &[VideoCodec::Vp8]).unwrap();
    assert_eq!(
        repair(&negotiated.tracks)[0],
        (MediaKind::Audio, 111, true, None)
    );
    let audio = section(&negotiated.answer, 0);
    assert_eq!(audio[0], "m=audio 31001 UDP/TLS/RTP/SAVPF 111");
    assert_eq!(
        codec_lines(&audio),
        [
            "a=rtpmap:111 opus/48000/2",
            "a=fmtp:111 minptime=10;useinbandfec=1",
            "a=rtcp-fb:111 nack",
            "a=rtcp-fb:111 transport-cc",
        ]
    );
    let negotiated = play(
        &with_audio_repair(chrome_play()),
        &published(&[VideoCodec::Vp8]),
    );
    assert_eq!(
        repair(&negotiated.tracks)[0],
        (MediaKind::Audio, 111, true, None)
    );
    assert_play_sources(&negotiated, 1);
}

#[test]
fn malformed_rtx_is_ignored() {
    let vp8 = |offer: &str| video(&publish(offer, &[VideoCodec::Vp8]).unwrap().tracks);
    let chrome = chrome_publish();
    let replaced = |from: &str, to: &str| {
        assert!(chrome.contains(from), "{from}");
        chrome.replacen(from, to, 1)
    };
    for (name, offer) in [
        (
            "apt to nowhere",
            replaced("a=fmtp:97 apt=96", "a=fmtp:97 apt=55"),
        ),
        (
            "apt unreadable",
            replaced("a=fmtp:97 apt=96", "a=fmtp:97 apt=9x6"),
        ),
        (
            "apt out of range",
            replaced("a=fmtp:97 apt=96", "a=fmtp:97 apt=352"),
        ),
        (
            "no apt",
            replaced("a=fmtp:97 apt=96", "a=fmtp:97 rtx-time=3000"),
        ),
        ("no fmtp", replaced("a=fmtp:97 apt=96\r\n", "")),
        (
            "rate mismatch",
            replaced("a=rtpmap:97 rtx/90000", "a=rtpmap:97 rtx/48000"),
        ),
        (
            "rtx of the rtx",
            replaced("a=fmtp:97 apt=96", "a=fmtp:97 apt=97"),
        ),
    ] {
        assert_eq!(vp8(&offer), (96, true, None), "{name}");
        let negotiated = publish(&offer, &[VideoCodec::Vp8]).unwrap();
        assert_eq!(
            section(&negotiated.answer, 1)[0],
            "m=video 31001 UDP/TLS/RTP/SAVPF 96",
            "{name}"
        );
    }
    let fid = "a=ssrc-group:FID 305419896 2271560481";
    for (name, group, ssrc) in [
        (
            "unknown RTX SSRC",
            "a=ssrc-group:FID 305419896 42",
            305_419_896,
        ),
        (
            "unknown media SSRC",
            "a=ssrc-group:FID 42 2271560481",
            305_419_896,
        ),
        (
            "same SSRC twice",
            "a=ssrc-group:FID 305419896 305419896",
            305_419_896,
        ),
        (
            "three SSRCs",
            "a=ssrc-group:FID 305419896 2271560481 7",
            305_419_896,
        ),
        ("one SSRC", "a=ssrc-group:FID 2271560481", 305_419_896),
        (
            "reversed",
            "a=ssrc-group:FID 2271560481 305419896",
            2_271_560_481,
        ),
    ] {
        let negotiated = publish(&replaced(fid, group), &[VideoCodec::Vp8]).unwrap();
        let track = &negotiated.tracks[1];
        let expected_rtx = (name == "reversed").then_some(305_419_896);
        assert_eq!(
            (track.ssrc, track.rtx),
            (Some(ssrc), rtx(97, expected_rtx)),
            "{name}"
        );
    }
    // Duplicate payload types: the first rtpmap of a PT and the first RTX in m= order win.
    let duplicated = replaced(
        "a=fmtp:97 apt=96\r\n",
        "a=fmtp:97 apt=96\r\na=rtpmap:97 VP8/90000\r\na=rtpmap:96 rtx/90000\r\n",
    )
    .replacen("SAVPF 96 97 ", "SAVPF 55 96 97 97 96 ", 1)
    .replacen(
        "a=rtpmap:96 VP8",
        "a=rtpmap:55 rtx/90000\r\na=fmtp:55 apt=96\r\na=rtpmap:96 VP8",
        1,
    );
    assert_eq!(vp8(&duplicated), (96, true, rtx(55, Some(CHROME_RTX_SSRC))));
    // Genuinely invalid lines are the parser's existing errors.
    for bad in [
        replaced("a=rtpmap:97 rtx/90000", "a=rtpmap:97 rtx"),
        replaced(fid, "a=ssrc-group:FID 305419896 rtx"),
        replaced("a=rtpmap:97 rtx/90000", "a=rtpmap:200 rtx/90000"),
    ] {
        assert!(
            matches!(
                publish(&bad, &[VideoCodec::Vp8]),
                Err(SdpError::Malformed { .. })
            ),
            "{bad:.40}"
        );
    }
    // A player's RTX pointing nowhere: no RTX and no FID group.
    let player = chrome_play().replacen("a=fmtp:97 apt=96", "a=fmtp:97 apt=95", 1);
    let negotiated = play(&player, &published(&[VideoCodec::Vp8]));
    assert_eq!(video(&negotiated.tracks), (96, true, None));
    assert!(!negotiated.answer.contains("FID"));
}

#[test]
fn mangled_rtx_lines_never_panic() {
    let offers = [
        chrome_publish(),
        chrome_play(),
        firefox_play(),
        crlf(FIREFOX_PUBLISH),
    ];
    let mutations: [(&str, &str); 8] = [
        (" rtx/90000", " rtx/0"),
        (" rtx/90000", " rtx/90000/2"),
        (" rtx/90000", " RTX/90000"),
        ("apt=", "apt=-1;apt="),
        ("apt=", "apt=;"),
        ("a=ssrc-group:FID", "a=ssrc-group:FID 0"),
        ("a=ssrc-group:FID", "a=ssrc-group:fid 4294967295"),
        ("a=ssrc-group:FID", "a=ssrc-group:"),
    ];
    let source = published(&[VideoCodec::Vp8, VideoCodec::H264]);
    for offer in &offers {
        for (from, to) in mutations {
            let mangled = offer.replace(from, to);
            if let Ok(parsed) = parse_offer(&mangled) {
                let server = local("127.0.0.1:31001");
                for negotiated in [
                    answer_publish(&parsed, &[VideoCodec::Vp8, VideoCodec::H264], &server),
                    answer_play(&parsed, &source, &server),
                ]
                .into_iter()
                .flatten()
                {
                    let answer = parse_answer(&negotiated.answer).unwrap();
                    let ours = negotiated
                        .tracks
                        .iter()
                        .find(|t| t.kind == MediaKind::Video);
                    if let (Some(track), Some(theirs)) = (ours, answer.video) {
                        assert_eq!(
                            track.rtx.map(|r| r.payload_type),
                            theirs.rtx.map(|r| r.payload_type)
                        );
                    }
                }
            }
            let _ = parse_answer(&mangled);
        }
    }
}
