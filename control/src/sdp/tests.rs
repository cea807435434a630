//! Parser and answerer tests against hand-written Chrome and Firefox offers.

use std::net::SocketAddr;

use dataplane::api::MediaKind;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::answer::{answer_play_with, answer_publish_with};
use super::error as parse_limits;
use super::fixtures::{
    chrome_play, chrome_publish, firefox_play, local, sdk_strip_codecs, OFFER_FINGERPRINT,
};
use super::parse::parse_description;
use super::*;
use crate::config::VideoCodec;

/// The session lines RFC 8866 requires before anything else.
const HEADER: &str = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n";

pub(super) fn rng() -> StdRng {
    StdRng::seed_from_u64(7)
}

pub(super) fn publish(offer: &str, prefs: &[VideoCodec]) -> Result<Negotiated, SdpError> {
    let offer = parse_offer(offer)?;
    answer_publish_with(&offer, prefs, &local("192.0.2.10:31001"), &mut rng())
}

/// The answer's lines, checking every line ends with CRLF.
pub(super) fn lines(sdp: &str) -> Vec<&str> {
    assert!(sdp.ends_with("\r\n"));
    let body = &sdp[..sdp.len() - 2];
    assert!(!body.contains('\n') || body.split("\r\n").all(|l| !l.contains('\n')));
    body.split("\r\n").collect()
}

/// The lines of m-section `index` (0-based), from its m= line to the next one.
pub(super) fn section(sdp: &str, index: usize) -> Vec<&str> {
    let all = lines(sdp);
    let starts: Vec<usize> = (0..all.len())
        .filter(|&i| all[i].starts_with("m="))
        .collect();
    let end = starts.get(index + 1).copied().unwrap_or(all.len());
    all[starts[index]..end].to_vec()
}

/// Every `a=fmtp:<pt>` comes directly after `a=rtpmap:<pt>`.
pub(super) fn assert_fmtp_after_rtpmap(sdp: &str) {
    let all = lines(sdp);
    for (i, line) in all.iter().enumerate() {
        if let Some(rest) = line.strip_prefix("a=fmtp:") {
            let pt = rest.split(' ').next().unwrap();
            assert!(
                all[i - 1].starts_with(&format!("a=rtpmap:{pt} ")),
                "fmtp not after rtpmap: {line}"
            );
        }
    }
}

#[test]
fn parses_chrome_publish_offer() {
    let offer = parse_offer(&chrome_publish()).unwrap();
    assert_eq!(offer.bundle, Some(vec!["0".to_owned(), "1".to_owned()]));
    assert_eq!(offer.ufrag, "Xk9d");
    assert_eq!(offer.pwd, "Zq4bH7aR8sT2uV3wX5yZ6aB7");
    assert_eq!(offer.fingerprint.algorithm, "sha-256");
    assert_eq!(offer.fingerprint.digest[..3], [0x3c, 0x4a, 0xa9]);
    assert_eq!(offer.fingerprint.digest.len(), 32);
    let [audio, video] = &offer.sections[..] else {
        panic!("two sections expected");
    };
    assert_eq!(
        (audio.kind(), audio.mid.as_deref()),
        (Some(MediaKind::Audio), Some("0"))
    );
    assert_eq!(
        (video.kind(), video.mid.as_deref()),
        (Some(MediaKind::Video), Some("1"))
    );
    assert_eq!(audio.direction, Direction::SendOnly);
    assert!(audio.rtcp_mux && audio.rtcp_rsize);
    let names: Vec<&str> = audio.codecs.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "opus",
            "red",
            "G722",
            "PCMU",
            "PCMA",
            "CN",
            "telephone-event",
            "telephone-event"
        ]
    );
    let opus = audio.codec(111).unwrap();
    assert_eq!((opus.clock_rate, opus.channels), (48_000, Some(2)));
    assert_eq!(opus.fmtp.as_deref(), Some("minptime=10;useinbandfec=1"));
    assert_eq!(opus.rtcp_fb, ["transport-cc"]);
    assert_eq!(audio.primary_ssrc(), Some(3_735_928_559));
    assert_eq!(video.codecs.len(), 23);
    assert_eq!(video.codecs.iter().filter(|c| c.name == "H264").count(), 6);
    assert_eq!(video.codec(97).unwrap().fmtp.as_deref(), Some("apt=96"));
    assert_eq!(video.codec(96).unwrap().rtcp_fb.len(), 5);
    assert_eq!(video.primary_ssrc(), Some(305_419_896));
    assert_eq!(video.extmaps.len(), 11);
    assert_eq!(video.ssrcs, [305_419_896, 2_271_560_481]);
}

#[test]
fn publish_answer_h264_line_by_line() {
    let negotiated = publish(&chrome_publish(), &[VideoCodec::H264, VideoCodec::Vp8]).unwrap();
    let answer = &negotiated.answer;
    let all = lines(answer);
    assert_eq!(all[0], "v=0");
    assert!(all[1].starts_with("o=rtcdn ") && all[1].ends_with(" 2 IN IP4 192.0.2.10"));
    assert_eq!(
        all[2..7],
        [
            "s=rtcdn",
            "t=0 0",
            "a=ice-lite",
            "a=group:BUNDLE 0 1",
            "a=msid-semantic: WMS"
        ]
    );
    assert_fmtp_after_rtpmap(answer);
    // Transport-wide congestion feedback for the publisher (extension and rtcp-fb), no REMB.
    assert!(answer.contains("a=rtcp-fb:111 transport-cc"));
    assert!(answer.contains("transport-wide-cc-extensions-01"));
    assert!(!answer.contains("goog-remb"));

    let audio = section(answer, 0);
    assert_eq!(audio[0], "m=audio 31001 UDP/TLS/RTP/SAVPF 111");
    for expected in [
        "c=IN IP4 192.0.2.10",
        "a=ice-ufrag:srvU",
        "a=ice-pwd:serverpassword0123456789",
        "a=setup:passive",
        "a=mid:0",
        "a=recvonly",
        "a=rtcp-mux",
        "a=rtcp-rsize",
        "a=rtpmap:111 opus/48000/2",
        "a=fmtp:111 minptime=10;useinbandfec=1",
        "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level",
        "a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
        "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid",
        "a=candidate:1 1 udp 2130706431 192.0.2.10 31001 typ host",
    ] {
        assert!(audio.contains(&expected), "audio lacks {expected}");
    }
    assert_eq!(audio.last(), Some(&"a=end-of-candidates"));
    let fingerprint = audio
        .iter()
        .find(|l| l.starts_with("a=fingerprint:"))
        .unwrap();
    assert!(fingerprint.starts_with("a=fingerprint:sha-256 00:01:02:03:"));
    assert!(fingerprint.ends_with(":1E:1F"));
    assert_eq!(
        audio.iter().filter(|l| l.starts_with("a=extmap:")).count(),
        4
    );
    let audio_fb: Vec<&str> = audio
        .iter()
        .copied()
        .filter(|l| l.starts_with("a=rtcp-fb"))
        .collect();
    assert_eq!(audio_fb, ["a=rtcp-fb:111 transport-cc"]);
    assert!(!audio.iter().any(|l| l.starts_with("a=ssrc")));

    let video = section(answer, 1);
    assert_eq!(video[0], "m=video 31001 UDP/TLS/RTP/SAVPF 108 109");
    let codec_lines: Vec<&str> = video
        .iter()
        .copied()
        .filter(|l| {
            l.starts_with("a=rtpmap") || l.starts_with("a=fmtp") || l.starts_with("a=rtcp-fb")
        })
        .collect();
    assert_eq!(
        codec_lines,
        [
            "a=rtpmap:108 H264/90000",
            "a=fmtp:108 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
            "a=rtcp-fb:108 nack",
            "a=rtcp-fb:108 nack pli",
            "a=rtcp-fb:108 ccm fir",
            "a=rtcp-fb:108 transport-cc",
            "a=rtpmap:109 rtx/90000",
            "a=fmtp:109 apt=108",
        ]
    );
    let extmaps: Vec<&str> = video
        .iter()
        .copied()
        .filter(|l| l.starts_with("a=extmap"))
        .collect();
    assert_eq!(
        extmaps,
        [
            "a=extmap:14 urn:ietf:params:rtp-hdrext:toffset",
            "a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
            "a=extmap:13 urn:3gpp:video-orientation",
            "a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
            "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid",
        ]
    );
    assert!(video.contains(&"a=mid:1") && video.contains(&"a=recvonly"));

    assert_eq!(negotiated.remote_ufrag, "Xk9d");
    assert_eq!(negotiated.remote_pwd, "Zq4bH7aR8sT2uV3wX5yZ6aB7");
    assert_eq!(negotiated.remote_fingerprint.digest[31], 0xf5);
    let [a, v] = &negotiated.tracks[..] else {
        panic!("two tracks expected");
    };
    assert_eq!(
        (a.kind, a.payload_type, a.clock_rate, a.ssrc),
        (MediaKind::Audio, 111, 48_000, Some(3_735_928_559))
    );
    assert_eq!(
        (v.kind, v.payload_type, v.clock_rate, v.ssrc),
        (MediaKind::Video, 108, 90_000, Some(305_419_896))
    );
    assert_eq!(v.extensions.len(), 5);
    let video_media = negotiated.media.video.unwrap();
    assert_eq!(video_media.name, "H264");
    assert_eq!(video_media.extensions, v.extensions);
    assert_eq!(negotiated.media.audio.unwrap().payload_type, 111);
}

#[test]
fn publish_follows_preferences() {
    let offer = chrome_publish();
    let chosen = |prefs: &[VideoCodec]| publish(&offer, prefs).unwrap().tracks[1].payload_type;
    assert_eq!(chosen(&[VideoCodec::Vp8, VideoCodec::H264]), 96);
    assert_eq!(chosen(&[VideoCodec::H264, VideoCodec::Vp8]), 108);
    assert_eq!(chosen(&[VideoCodec::Vp9]), 98);
    assert_eq!(chosen(&[VideoCodec::Av1, VideoCodec::Vp8]), 45);
    let no_42e0 = sdk_strip_codecs(&offer, "VP8")
        .replace("profile-level-id=42e01f", "profile-level-id=640c1f");
    assert_eq!(
        publish(&no_42e0, &[VideoCodec::H264]).unwrap().tracks[1].payload_type,
        102
    );
}

#[test]
fn publish_rejects_video_without_preferred_codec() {
    let offer = sdk_strip_codecs(&chrome_publish(), "H264");
    let negotiated = publish(&offer, &[VideoCodec::H264]).unwrap();
    let answer = &negotiated.answer;
    assert!(lines(answer).contains(&"a=group:BUNDLE 0"));
    let video = section(answer, 1);
    assert_eq!(video[0], "m=video 0 UDP/TLS/RTP/SAVPF 96");
    assert!(video.contains(&"a=mid:1") && video.contains(&"a=inactive"));
    assert!(!video
        .iter()
        .any(|l| l.starts_with("a=candidate") || l.starts_with("a=rtcp-fb")));
    assert_eq!(negotiated.tracks.len(), 1);
    assert!(negotiated.media.video.is_none());
    assert_fmtp_after_rtpmap(answer);
}

#[test]
fn publish_rejects_audio_without_opus() {
    let offer = sdk_strip_codecs(&chrome_publish(), "opus");
    let negotiated = publish(&offer, &[VideoCodec::Vp8]).unwrap();
    assert!(lines(&negotiated.answer).contains(&"a=group:BUNDLE 1"));
    assert_eq!(
        section(&negotiated.answer, 0)[0],
        "m=audio 0 UDP/TLS/RTP/SAVPF 63"
    );
    assert!(negotiated.media.audio.is_none());
    assert_eq!(negotiated.tracks.len(), 1);
    assert_eq!(negotiated.tracks[0].kind, MediaKind::Video);
    let both = sdk_strip_codecs(&offer, "VP8");
    assert_eq!(
        publish(&both, &[VideoCodec::Vp8]).unwrap_err(),
        SdpError::NoCommonCodecs
    );
}

#[test]
fn sdk_strip_codecs_leftovers_are_tolerated() {
    let offer = sdk_strip_codecs(&sdk_strip_codecs(&chrome_publish(), "VP8"), "red");
    assert!(offer.contains("a=fmtp:97 apt=96\r\n") && offer.contains("\r\na=fmtp:120 apt=119"));
    assert!(offer.contains("\r\n") && offer.contains("\r\na"));
    let parsed = parse_offer(&offer).unwrap();
    let video = &parsed.sections[1];
    assert!(video.codec(96).is_none() && video.codec(97).is_some());
    let negotiated = publish(&offer, &[VideoCodec::Vp8, VideoCodec::H264]).unwrap();
    assert_eq!(negotiated.tracks[1].payload_type, 108);
    // The dangling RTX 97 (apt=96) is not the chosen codec's: 109 is.
    let rtx = negotiated.tracks[1].rtx.unwrap();
    assert_eq!((rtx.payload_type, rtx.ssrc), (109, Some(2_271_560_481)));
    assert_fmtp_after_rtpmap(&negotiated.answer);
}

#[test]
fn line_endings_do_not_matter() {
    let crlf = chrome_publish();
    let lf = crlf.replace("\r\n", "\n");
    let mixed: String = crlf
        .split("\r\n")
        .enumerate()
        .map(|(i, l)| {
            if i % 2 == 0 {
                format!("{l}\n")
            } else {
                format!("{l}\r\n")
            }
        })
        .collect();
    let expected = parse_offer(&crlf).unwrap();
    assert_eq!(parse_offer(&lf).unwrap(), expected);
    assert_eq!(parse_offer(&mixed).unwrap(), expected);
    let a = publish(&lf, &[VideoCodec::Vp8]).unwrap();
    let b = publish(&crlf, &[VideoCodec::Vp8]).unwrap();
    assert_eq!(a.answer, b.answer);
}

#[test]
fn duplicate_fmtp_lines_are_merged() {
    let offer = chrome_publish().replace(
        "a=fmtp:111 minptime=10;useinbandfec=1\r\n",
        "a=fmtp:111 minptime=10;useinbandfec=1\r\na=fmtp:111 maxaveragebitrate=64000;minptime=20;stereo=1\r\n",
    );
    let parsed = parse_offer(&offer).unwrap();
    assert_eq!(
        parsed.sections[0].codec(111).unwrap().fmtp.as_deref(),
        Some("minptime=10;useinbandfec=1;maxaveragebitrate=64000;stereo=1")
    );
}

/// A hostile offer just under the size limit, made of the lines whose handling used to grow
/// faster than the offer (wildcard rtcp-fb copied into every codec, fmtp merging, ssrc lines):
/// it is read with every list bounded, and still answered.
#[test]
fn repeated_lines_are_bounded_per_section() {
    let mut extra = String::new();
    // 128 payload types on the video m-line, each with an rtpmap.
    let pts: Vec<String> = (0..128).map(|p| p.to_string()).collect();
    let offer = chrome_publish();
    let video_m = offer
        .lines()
        .find(|l| l.starts_with("m=video"))
        .unwrap()
        .to_owned();
    let mut i = 0u32;
    while offer.len() + extra.len() < MAX_SDP_LEN - 4096 {
        match i % 4 {
            0 => extra.push_str(&format!("a=rtcp-fb:* fb{i}\r\n")),
            1 => extra.push_str(&format!("a=fmtp:96 k{i}=1;q{i}=2\r\n")),
            2 => extra.push_str(&format!("a=ssrc:{i} cname:x\r\n")),
            _ => extra.push_str(&format!("a=rtpmap:{} X{i}/90000\r\n", i % 128)),
        }
        i += 1;
    }
    let hostile = offer
        .replacen(&video_m, &format!("{video_m} {}", pts.join(" ")), 1)
        .replacen("a=rtcp-mux\r\n", &format!("a=rtcp-mux\r\n{extra}"), 1);
    assert!(
        hostile.len() <= MAX_SDP_LEN && hostile.len() > 200 * 1024,
        "{}",
        hostile.len()
    );
    let parsed = parse_offer(&hostile).expect("a large offer of legal lines parses");
    for section in &parsed.sections {
        assert!(section.ssrcs.len() <= parse_limits::MAX_REPEATED_LINES);
        for codec in &section.codecs {
            assert!(codec.rtcp_fb.len() <= parse_limits::MAX_REPEATED_LINES);
            let fmtp = codec.fmtp.as_deref().map_or(0, str::len);
            assert!(fmtp <= MAX_FMTP_LEN, "{fmtp}");
        }
    }
    let video = parsed.sections.iter().find(|s| s.media == "video").unwrap();
    assert!(video.codecs.len() <= 128);
    // The real codecs are still there and the answer is built.
    assert!(publish(&hostile, &[VideoCodec::Vp8, VideoCodec::H264]).is_ok());
    // One byte over the limit is refused with a clear error.
    let too_big = format!(
        "{hostile}{}",
        "a=x\r\n".repeat((MAX_SDP_LEN - hostile.len()) / 5 + 1)
    );
    assert_eq!(parse_offer(&too_big).unwrap_err(), SdpError::TooLarge);
}

#[test]
fn fmtp_merging_is_bounded() {
    // Found with the sdp fuzz target (our answers must parse): 60 KB of duplicate fmtp lines
    // took 170 ms to merge, and the merged parameters made the answer's a=fmtp line longer
    // than MAX_LINE_LEN. Merging is now linear and bounded.
    let first = "a=fmtp:111 minptime=10;useinbandfec=1\r\n";
    let duplicates: String = (0..1500)
        .map(|i| format!("a=fmtp:111 x{i}=1;minptime=5\r\n"))
        .collect();
    let offer = chrome_publish().replace(first, &format!("{first}{duplicates}"));
    let parsed = parse_offer(&offer).unwrap();
    let fmtp = parsed.sections[0].codec(111).unwrap().fmtp.clone().unwrap();
    assert!(fmtp.len() <= MAX_FMTP_LEN, "{} bytes", fmtp.len());
    assert!(
        fmtp.starts_with("minptime=10;useinbandfec=1;x0=1;x1=1;"),
        "{fmtp}"
    );
    assert_eq!(fmtp.matches("minptime").count(), 1, "{fmtp}");
    let answer = publish(&offer, &[VideoCodec::H264]).unwrap().answer;
    assert!(answer.lines().all(|l| l.len() <= MAX_FMTP_LEN + 20));
    parse_answer(&answer).expect("our answer parses");

    // One fmtp line longer than MAX_FMTP_LEN is refused with its line.
    let long = format!("a=fmtp:111 minptime=10;x={}\r\n", "y".repeat(MAX_FMTP_LEN));
    let offer = chrome_publish().replace(first, &long);
    assert!(matches!(
        parse_offer(&offer).unwrap_err(),
        SdpError::Malformed { reason: "fmtp parameters too long", line } if line > 10
    ));
}

#[test]
fn play_answer_maps_chrome_player() {
    let published = publish(&chrome_publish(), &[VideoCodec::H264])
        .unwrap()
        .media;
    let offer = parse_offer(&chrome_play()).unwrap();
    let negotiated =
        answer_play_with(&offer, &published, &local("192.0.2.10:31002"), &mut rng()).unwrap();
    let answer = &negotiated.answer;
    assert_fmtp_after_rtpmap(answer);
    let all = lines(answer);
    assert!(all.contains(&"a=ice-lite") && all.contains(&"a=group:BUNDLE 0 1"));
    let audio = section(answer, 0);
    let video = section(answer, 1);
    assert_eq!(audio[0], "m=audio 31002 UDP/TLS/RTP/SAVPF 111");
    assert_eq!(video[0], "m=video 31002 UDP/TLS/RTP/SAVPF 108 109");
    assert!(audio.contains(&"a=sendonly") && video.contains(&"a=sendonly"));

    let msid = |lines: &[&str]| {
        lines
            .iter()
            .find_map(|l| l.strip_prefix("a=msid:"))
            .unwrap()
            .to_owned()
    };
    let (audio_msid, video_msid) = (msid(&audio), msid(&video));
    let stream_id = audio_msid.split(' ').next().unwrap();
    assert_eq!(video_msid.split(' ').next().unwrap(), stream_id);
    assert_ne!(audio_msid, video_msid);
    assert!(all.contains(&format!("a=msid-semantic: WMS {stream_id}").as_str()));
    for (lines, track) in [
        (&audio, &negotiated.tracks[0]),
        (&video, &negotiated.tracks[1]),
    ] {
        let ssrc = track.ssrc.unwrap();
        assert_ne!(ssrc, 0);
        let cname = format!("a=ssrc:{ssrc} cname:");
        assert!(lines.iter().any(|l| l.starts_with(&cname)));
        let msid_line = format!("a=ssrc:{ssrc} msid:{}", msid(lines));
        assert!(lines.contains(&msid_line.as_str()));
    }
    assert_ne!(negotiated.tracks[0].ssrc, negotiated.tracks[1].ssrc);
    // Extensions: what the publisher negotiated and the player offered, transport-wide
    // numbers and their feedback included.
    assert_eq!(negotiated.tracks[1].extensions.len(), 5);
    assert!(answer.contains("a=rtcp-fb:108 transport-cc"));
    assert!(!answer.contains("playout-delay"));
    assert_eq!(negotiated.remote_ufrag, "pL7q");
}

#[test]
fn play_answer_uses_player_payload_types_and_fmtp() {
    let published = publish(&chrome_publish(), &[VideoCodec::H264])
        .unwrap()
        .media;
    let offer = parse_offer(&firefox_play()).unwrap();
    assert_eq!(offer.ufrag, "6a1b2c3d");
    assert_eq!(offer.sections[0].extmaps[1].id, 2);
    let negotiated =
        answer_play_with(&offer, &published, &local("192.0.2.10:31002"), &mut rng()).unwrap();
    let answer = &negotiated.answer;
    let audio = section(answer, 0);
    let video = section(answer, 1);
    assert_eq!(audio[0], "m=audio 31002 UDP/TLS/RTP/SAVPF 109");
    assert!(audio.contains(&"a=fmtp:109 maxplaybackrate=48000;stereo=1;useinbandfec=1"));
    assert_eq!(video[0], "m=video 31002 UDP/TLS/RTP/SAVPF 126 127");
    assert!(video.contains(
        &"a=fmtp:126 profile-level-id=42e01f;level-asymmetry-allowed=1;packetization-mode=1"
    ));
    assert!(video.contains(&"a=rtcp-fb:126 nack pli"));
    // Player ids for the publisher's extensions: sdes:mid 3, abs-send-time 4, toffset 5,
    // transport-wide-cc 7.
    let ext = &negotiated.tracks[1].extensions;
    let ids: Vec<u8> = ext.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, [3, 4, 5, 7]);
    assert_eq!(negotiated.media.video.as_ref().unwrap().payload_type, 126);
    assert_eq!(negotiated.media.audio.as_ref().unwrap().extensions.len(), 2);
    assert_eq!(
        (
            negotiated.tracks[0].payload_type,
            negotiated.tracks[1].payload_type
        ),
        (109, 126)
    );
}

#[test]
fn play_rejects_kinds_without_a_match() {
    let vp9 = publish(&chrome_publish(), &[VideoCodec::Vp9])
        .unwrap()
        .media;
    let offer = parse_offer(&firefox_play()).unwrap();
    let local = local("192.0.2.10:31002");
    // Firefox offers VP9 without profile-id (= 0), so VP9 profile 0 maps.
    let negotiated = answer_play_with(&offer, &vp9, &local, &mut rng()).unwrap();
    assert_eq!(
        section(&negotiated.answer, 1)[0],
        "m=video 31002 UDP/TLS/RTP/SAVPF 121 125"
    );

    let av1 = publish(&chrome_publish(), &[VideoCodec::Av1])
        .unwrap()
        .media;
    let negotiated = answer_play_with(&offer, &av1, &local, &mut rng()).unwrap();
    let video = section(&negotiated.answer, 1);
    assert_eq!(video[0], "m=video 0 UDP/TLS/RTP/SAVPF 120");
    assert!(video.contains(&"a=inactive") && video.contains(&"a=mid:1"));
    assert!(lines(&negotiated.answer).contains(&"a=group:BUNDLE 0"));
    assert_eq!(negotiated.tracks.len(), 1);

    let audio_only = PublishedMedia {
        video: None,
        ..av1.clone()
    };
    let negotiated = answer_play_with(&offer, &audio_only, &local, &mut rng()).unwrap();
    assert!(negotiated.media.video.is_none());
    let video_only = PublishedMedia { audio: None, ..av1 };
    let err = answer_play_with(&offer, &video_only, &local, &mut rng()).unwrap_err();
    assert_eq!(err, SdpError::NoCommonCodecs);
    assert_eq!(err.wcs_info(), "No common codecs");
}

#[test]
fn rejects_extra_sections_and_data_channels() {
    let offer = chrome_publish();
    let video_start = offer.find("m=video").unwrap();
    let second_video = offer[video_start..].replace("a=mid:1", "a=mid:2");
    let data = "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=mid:3\r\na=sctp-port:5000\r\n";
    let offer = format!("{offer}{second_video}{data}")
        .replace("a=group:BUNDLE 0 1", "a=group:BUNDLE 0 1 2 3");
    let negotiated = publish(&offer, &[VideoCodec::Vp8]).unwrap();
    let answer = &negotiated.answer;
    assert!(lines(answer).contains(&"a=group:BUNDLE 0 1"));
    assert_eq!(section(answer, 2)[0], "m=video 0 UDP/TLS/RTP/SAVPF 96");
    assert!(section(answer, 2).contains(&"a=mid:2"));
    assert_eq!(
        section(answer, 3)[0],
        "m=application 0 UDP/DTLS/SCTP webrtc-datachannel"
    );
    assert!(section(answer, 3).contains(&"a=mid:3") && section(answer, 3).contains(&"a=inactive"));
    assert_eq!(negotiated.tracks.len(), 2);
    assert_eq!(parse_description(answer).unwrap().sections.len(), 4);
}

#[test]
fn ipv6_candidate() {
    let offer = parse_offer(&chrome_publish()).unwrap();
    let local = local("[2001:db8::5]:31001");
    let answer = answer_publish_with(&offer, &[VideoCodec::Vp8], &local, &mut rng())
        .unwrap()
        .answer;
    let all = lines(&answer);
    assert!(all[1].ends_with(" 2 IN IP6 2001:db8::5"));
    assert!(all.contains(&"c=IN IP6 2001:db8::5"));
    assert!(all.contains(&"a=candidate:1 1 udp 2130706431 2001:db8::5 31001 typ host"));
}

#[test]
fn transport_errors() {
    let offer = chrome_publish();
    let no_fp: String = offer
        .split("\r\n")
        .filter(|l| !l.starts_with("a=fingerprint"))
        .collect::<Vec<_>>()
        .join("\r\n");
    assert_eq!(parse_offer(&no_fp).unwrap_err(), SdpError::NoFingerprint);
    let sha1 = offer.replace(
        &format!("a=fingerprint:sha-256 {}", OFFER_FINGERPRINT),
        "a=fingerprint:sha-1 3C:4A:A9:0F:11:52:7E:1D:9B:2C:44:F0:A1:B3:6E:77:08:C1:D9:25",
    );
    assert_eq!(
        parse_offer(&sha1).unwrap_err(),
        SdpError::UnsupportedFingerprint
    );
    let no_pwd: String = offer
        .split("\r\n")
        .filter(|l| !l.starts_with("a=ice-pwd"))
        .collect::<Vec<_>>()
        .join("\r\n");
    assert_eq!(
        parse_offer(&no_pwd).unwrap_err(),
        SdpError::NoIceCredentials
    );
    let no_bundle = offer.replace("a=group:BUNDLE 0 1\r\n", "");
    assert_eq!(
        publish(&no_bundle, &[VideoCodec::Vp8]).unwrap_err(),
        SdpError::NotBundled
    );
    // One accepted section needs no BUNDLE.
    let audio_only = &no_bundle[..no_bundle.find("m=video").unwrap()];
    assert_eq!(
        publish(audio_only, &[VideoCodec::Vp8])
            .unwrap()
            .tracks
            .len(),
        1
    );
    assert_eq!(parse_offer(HEADER).unwrap_err(), SdpError::NoMedia);
    assert!(matches!(
        parse_offer("v=0\r\ns=-\r\n").unwrap_err(),
        SdpError::Malformed { line: 2, .. }
    ));
    let data_only = format!("{HEADER}a=ice-ufrag:x\r\na=ice-pwd:y\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n");
    let data_only = data_only.as_str();
    assert_eq!(parse_offer(data_only).unwrap_err(), SdpError::NoMedia);
    assert_eq!(
        SdpError::NoMedia.wcs_info(),
        "Invalid SDP: no audio or video media section"
    );
}

#[test]
fn session_level_attributes_are_inherited() {
    let offer = parse_offer(&firefox_play()).unwrap();
    assert_eq!(offer.sections[1].fingerprints.len(), 1);
    assert_eq!(offer.fingerprint.digest.len(), 32);
    let moved = chrome_publish()
        .replace("a=ice-ufrag:Xk9d\r\n", "")
        .replace("t=0 0\r\n", "t=0 0\r\na=ice-ufrag:Sess\r\n");
    let parsed = parse_offer(&moved).unwrap();
    assert_eq!(parsed.ufrag, "Sess");
    assert_eq!(parsed.sections[1].ufrag.as_deref(), Some("Sess"));
}

#[test]
fn size_limits() {
    let huge = format!("{}a=x:{}\r\n", chrome_publish(), "y".repeat(MAX_SDP_LEN));
    assert_eq!(parse_offer(&huge).unwrap_err(), SdpError::TooLarge);
    let long_line = chrome_publish().replace(
        "a=rtcp-rsize\r\n",
        &format!("a=x-long:{}\r\n", "z".repeat(MAX_LINE_LEN)),
    );
    assert!(
        matches!(parse_offer(&long_line).unwrap_err(), SdpError::LineTooLong { line } if line > 10)
    );
    let one = "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n";
    let many = format!("{HEADER}{}", one.repeat(MAX_SECTIONS + 1));
    assert_eq!(parse_offer(&many).unwrap_err(), SdpError::TooManySections);
    let exactly = format!(
        "{HEADER}a=ice-ufrag:u\r\na=ice-pwd:p\r\n{}",
        one.repeat(MAX_SECTIONS)
    );
    assert_eq!(parse_offer(&exactly).unwrap_err(), SdpError::NoFingerprint);
}

#[test]
fn malformed_lines() {
    let offer = chrome_publish();
    let cases = [
        (
            "m=audio 9 UDP/TLS/RTP/SAVPF 111 63",
            "m=audio nine UDP/TLS/RTP/SAVPF 111 63",
        ),
        (
            "m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126",
            "m=audio 9",
        ),
        ("a=rtpmap:111 opus/48000/2", "a=rtpmap:300 opus/48000/2"),
        ("a=rtpmap:111 opus/48000/2", "a=rtpmap:111 opus/fast/2"),
        ("a=rtpmap:111 opus/48000/2", "a=rtpmap:111 opus/48000/two"),
        ("a=rtpmap:111 opus/48000/2", "a=rtpmap:111"),
        ("a=fingerprint:sha-256 3C:", "a=fingerprint:sha-256 ZZ:"),
        ("a=fingerprint:sha-256 3C:4A:", "a=fingerprint:sha-256 4A:"),
        ("a=mid:0", "a=mid:"),
        ("a=ssrc:3735928559 cname", "a=ssrc:-1 cname"),
        ("a=ssrc-group:FID 305419896", "a=ssrc-group:FID x305419896"),
        ("a=extmap:1 urn", "a=extmap:0 urn"),
        (
            "a=extmap:14 urn:ietf:params:rtp-hdrext:toffset",
            "a=extmap:14",
        ),
        ("a=rtcp-fb:111 transport-cc", "a=rtcp-fb:abc transport-cc"),
        ("a=fmtp:111 minptime", "a=fmtp:1111 minptime"),
        ("a=rtcp-mux", "garbage line"),
        ("a=rtcp-mux", "ab=cd"),
    ];
    for (from, to) in cases {
        assert!(offer.contains(from), "fixture lacks {from}");
        let bad = offer.replacen(from, to, 1);
        let expected_line = offer[..offer.find(from).unwrap()].matches('\n').count() + 1;
        match parse_offer(&bad) {
            Err(SdpError::Malformed { line, reason }) => {
                assert_eq!(line, expected_line, "{to}: {reason}");
                let info = SdpError::Malformed { line, reason }.wcs_info();
                assert!(info.starts_with("Invalid SDP: line "), "{info}");
            }
            other => panic!("{to}: expected Malformed, got {other:?}"),
        }
    }
}

#[test]
fn unknown_lines_and_candidates_are_tolerated() {
    let offer = chrome_publish().replace(
        "a=rtcp-rsize\r\n",
        "a=rtcp-rsize\r\na=unknown-attr:1 2 3\r\nb=AS:500\r\na=candidate:1 1 udp 1 host.local 9 typ host\r\n\
         a=candidate:2 1 udp 1 203.0.113.1 5000 typ host generation 0\r\n   \r\n",
    );
    let parsed = parse_offer(&offer).unwrap();
    assert_eq!(parsed.sections[0].candidates.len(), 1);
    assert_eq!(
        parsed.sections[0].candidates[0].addr,
        "203.0.113.1:5000".parse::<SocketAddr>().unwrap()
    );
    let bad = chrome_publish().replace(
        "a=rtcp-rsize\r\n",
        "a=candidate:1 1 udp 1 1.2.3.4 port typ host\r\n",
    );
    assert!(matches!(parse_offer(&bad), Err(SdpError::Malformed { .. })));
    // RFC 8866 section 5: a type letter the parser does not know makes the whole SDP unusable.
    let unknown_type = chrome_publish().replacen("a=rtcp-rsize\r\n", "x=whatever\r\n", 1);
    let line = unknown_type
        .split("\r\n")
        .position(|l| l == "x=whatever")
        .unwrap()
        + 1;
    assert_eq!(
        parse_offer(&unknown_type).unwrap_err(),
        SdpError::Malformed {
            line,
            reason: "line type unknown or out of order (RFC 8866: v, o, s, t, then a and m)"
        }
    );
}

#[test]
fn garbage_never_panics() {
    let mut rng = rng();
    let offer = chrome_publish();
    let bytes = offer.as_bytes();
    for round in 0..400 {
        let mut mutated = bytes.to_vec();
        for _ in 0..(1 + round % 16) {
            let at = rng.gen_range(0..mutated.len());
            match rng.gen_range(0..3) {
                0 => mutated[at] = rng.gen(),
                1 => mutated.truncate(at),
                _ => mutated.insert(at, b"\n:= /;"[rng.gen_range(0..6)]),
            }
            if mutated.is_empty() {
                break;
            }
        }
        let text = String::from_utf8_lossy(&mutated);
        if let Ok(parsed) = parse_offer(&text) {
            let local = local("192.0.2.10:31001");
            if let Ok(n) = answer_publish_with(
                &parsed,
                &[VideoCodec::H264, VideoCodec::Vp8],
                &local,
                &mut StdRng::seed_from_u64(1),
            ) {
                assert!(parse_description(&n.answer).is_ok());
                let _ = answer_play_with(&parsed, &n.media, &local, &mut StdRng::seed_from_u64(2));
            }
        }
        let _ = parse_answer(&text);
    }
}

#[test]
fn bundle_only_sections_are_answered() {
    let offer = chrome_publish().replacen(
        "m=video 9 UDP/TLS/RTP/SAVPF",
        "m=video 0 UDP/TLS/RTP/SAVPF",
        1,
    );
    let rejected = publish(&offer, &[VideoCodec::Vp8]).unwrap();
    assert_eq!(rejected.tracks.len(), 1);
    let bundled = offer.replace("a=mid:1\r\n", "a=mid:1\r\na=bundle-only\r\n");
    let accepted = publish(&bundled, &[VideoCodec::Vp8]).unwrap();
    assert_eq!(accepted.tracks.len(), 2);
    assert_eq!(
        section(&accepted.answer, 1)[0],
        "m=video 31001 UDP/TLS/RTP/SAVPF 96 97"
    );
}
