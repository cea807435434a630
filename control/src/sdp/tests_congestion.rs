//! Answers to publishers about congestion control and bitrate: transport-wide feedback
//! (`transport_cc`), REMB when it is not negotiated (`remb`), and the operator's bitrate bounds.

use dataplane::api::MediaKind;

use super::fixtures::{chrome_publish, local};
use super::tests::{publish, section};
use super::*;
use crate::config::VideoCodec;

#[test]
fn transport_cc_off_answers_neither_the_extension_nor_the_feedback() {
    let offer = parse_offer(&chrome_publish()).unwrap();
    let policy = PublishPolicy {
        transport_cc: false,
        ..PublishPolicy::default()
    };
    let local = local("192.0.2.10:31001");
    let off = answer_publish_with_policy(&offer, &[VideoCodec::Vp8], &policy, &local).unwrap();
    assert!(!off.answer.contains("transport-cc"), "{}", off.answer);
    assert!(!off.answer.contains("transport-wide-cc"), "{}", off.answer);
    assert!(off.tracks.iter().all(|t| t
        .extensions
        .iter()
        .all(|(_, u)| !u.contains("transport-wide"))));
    let on = answer_publish(&offer, &[VideoCodec::Vp8], &local).unwrap();
    assert!(on.answer.contains("a=rtcp-fb:96 transport-cc"));
    assert!(!on.answer.contains("goog-remb"), "{}", on.answer);
    assert!(on.tracks.iter().all(|t| !t.remb));
}

#[test]
fn without_transport_cc_the_video_gets_remb_from_its_send_times() {
    let offer = parse_offer(&chrome_publish()).unwrap();
    let local = local("192.0.2.10:31001");
    let policy = PublishPolicy {
        transport_cc: false,
        ..PublishPolicy::default()
    };
    let remb = answer_publish_with_policy(&offer, &[VideoCodec::Vp8], &policy, &local).unwrap();
    let video = section(&remb.answer, 1);
    assert!(video.contains(&"a=rtcp-fb:96 goog-remb"), "{video:#?}");
    assert!(
        video.iter().any(|l| l.ends_with("abs-send-time")),
        "{video:#?}"
    );
    assert!(!section(&remb.answer, 0)
        .iter()
        .any(|l| l.contains("goog-remb")));
    let tracks: Vec<(MediaKind, bool)> = remb.tracks.iter().map(|t| (t.kind, t.remb)).collect();
    assert_eq!(
        tracks,
        [(MediaKind::Audio, false), (MediaKind::Video, true)]
    );
    // Neither with `remb` off, nor without the send times to estimate from.
    let off = PublishPolicy {
        remb: false,
        ..policy
    };
    let none = answer_publish_with_policy(&offer, &[VideoCodec::Vp8], &off, &local).unwrap();
    assert!(!none.answer.contains("goog-remb"));
    let no_times = chrome_publish()
        .lines()
        .filter(|l| !l.contains("abs-send-time"))
        .map(|l| format!("{l}\r\n"))
        .collect::<String>();
    let offer = parse_offer(&no_times).unwrap();
    let none = answer_publish_with_policy(&offer, &[VideoCodec::Vp8], &policy, &local).unwrap();
    assert!(!none.answer.contains("goog-remb"));
}

#[test]
fn bitrate_bounds_go_into_the_video_section_only() {
    let offer = parse_offer(&chrome_publish()).unwrap();
    let policy = PublishPolicy {
        min_bitrate: Some(300_000),
        max_bitrate: Some(1_500_000),
        ..PublishPolicy::default()
    };
    let local = local("192.0.2.10:31001");
    let negotiated =
        answer_publish_with_policy(&offer, &[VideoCodec::H264], &policy, &local).unwrap();
    let audio = section(&negotiated.answer, 0);
    let video = section(&negotiated.answer, 1);
    assert!(!audio
        .iter()
        .any(|l| l.starts_with("b=") || l.contains("x-google")));
    // b= right after c= (RFC 4566 order), in kbit/s.
    let c = video.iter().position(|l| l.starts_with("c=")).unwrap();
    assert_eq!(video[c + 1], "b=AS:1500");
    let fmtp = "a=fmtp:108 level-asymmetry-allowed=1;packetization-mode=1;\
                profile-level-id=42e01f;x-google-min-bitrate=300";
    assert!(video.contains(&fmtp), "{video:#?}");
    // Without bounds: neither.
    let plain = publish(&chrome_publish(), &[VideoCodec::H264]).unwrap();
    assert!(!plain.answer.contains("b=AS") && !plain.answer.contains("x-google"));
}

#[test]
fn the_start_bitrate_goes_into_the_video_fmtp_within_the_bounds() {
    let offer = parse_offer(&chrome_publish()).unwrap();
    let local = local("192.0.2.10:31001");
    let fmtp_of = |policy: &PublishPolicy| {
        let negotiated =
            answer_publish_with_policy(&offer, &[VideoCodec::Vp8], policy, &local).unwrap();
        assert!(!section(&negotiated.answer, 0)
            .iter()
            .any(|l| l.contains("x-google")));
        section(&negotiated.answer, 1)
            .into_iter()
            .filter(|l| l.starts_with("a=fmtp:96 ") || l.contains("x-google"))
            .map(|l| l.to_string())
            .collect::<Vec<_>>()
    };
    let start = PublishPolicy {
        start_bitrate: Some(800_000),
        ..PublishPolicy::default()
    };
    assert_eq!(fmtp_of(&start), ["a=fmtp:96 x-google-start-bitrate=800"]);
    // Kept within the bounds: raised to the least, lowered to the most.
    let min = PublishPolicy {
        min_bitrate: Some(1_000_000),
        ..start
    };
    assert_eq!(
        fmtp_of(&min),
        ["a=fmtp:96 x-google-min-bitrate=1000;x-google-start-bitrate=1000"]
    );
    let max = PublishPolicy {
        max_bitrate: Some(500_000),
        ..start
    };
    assert_eq!(fmtp_of(&max), ["a=fmtp:96 x-google-start-bitrate=500"]);
    // One the publisher offered is replaced, not repeated.
    let offered = chrome_publish().replace(
        "a=rtpmap:96 VP8/90000\r\n",
        "a=rtpmap:96 VP8/90000\r\na=fmtp:96 x-google-start-bitrate=50\r\n",
    );
    assert!(offered.contains("x-google-start-bitrate=50"));
    let offer = parse_offer(&offered).unwrap();
    let negotiated =
        answer_publish_with_policy(&offer, &[VideoCodec::Vp8], &start, &local).unwrap();
    assert!(negotiated
        .answer
        .contains("a=fmtp:96 x-google-start-bitrate=800\r\n"));
    assert!(!negotiated.answer.contains("=50"));
}

#[test]
fn the_min_bitrate_fits_an_fmtp_at_its_limit() {
    // A publisher's merged fmtp at MAX_FMTP_LEN: our x-google-min-bitrate still goes in and
    // the answer's fmtp stays within the limit (the sdp fuzz target checks answers parse).
    let h264 =
        "a=fmtp:108 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n";
    let padding = |from: usize| {
        (from..from + 100)
            .map(|i| format!("p{i}=1;"))
            .collect::<String>()
    };
    let duplicates = format!(
        "a=fmtp:108 {}\r\na=fmtp:108 {}\r\n",
        padding(0),
        padding(100)
    );
    let offer = chrome_publish().replace(h264, &format!("{h264}{duplicates}"));
    let parsed = parse_offer(&offer).unwrap();
    let merged = parsed.sections[1].codec(108).unwrap().fmtp.clone().unwrap();
    assert!(merged.len() > MAX_FMTP_LEN - 10, "{} bytes", merged.len());
    let policy = PublishPolicy {
        min_bitrate: Some(300_000),
        ..PublishPolicy::default()
    };
    let local = local("192.0.2.10:31001");
    let negotiated =
        answer_publish_with_policy(&parsed, &[VideoCodec::H264], &policy, &local).unwrap();
    let video = section(&negotiated.answer, 1);
    let fmtp = video.iter().find(|l| l.starts_with("a=fmtp:108 ")).unwrap();
    let params = fmtp.trim_start_matches("a=fmtp:108 ");
    assert!(params.len() <= MAX_FMTP_LEN, "{} bytes", params.len());
    assert!(params.starts_with("level-asymmetry-allowed=1;packetization-mode=1;"));
    assert!(params.ends_with(";x-google-min-bitrate=300"), "{params}");
    parse_answer(&negotiated.answer).expect("our answer parses");
}
