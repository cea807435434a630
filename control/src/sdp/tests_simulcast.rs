//! Simulcast publishes (RFC 8853): a real Chromium rid offer and the SSRC-group form through
//! the parser and the answerer, the exact answer lines and layers, the bounds, and every
//! malformed variant falling back to the answer of the same offer without simulcast.

use dataplane::api::{LayerSpec, MediaKind, TrackSpec, REPAIRED_RID_URI, RID_URI};

use super::answer::{answer_play_with, answer_publish_with};
use super::fixtures::{
    chrome_publish, chrome_sim_publish, chrome_simulcast_publish, local, SIM_SSRCS,
};
use super::simulcast::{parse_send_rid, parse_simulcast_send};
use super::tests::{lines, publish, rng, section};
use super::tests_crate::{crlf, CHROME_PLAY};
use super::*;
use crate::config::VideoCodec;

const VP8: &[VideoCodec] = &[VideoCodec::Vp8];

fn video(tracks: &[TrackSpec]) -> &TrackSpec {
    tracks.iter().find(|t| t.kind == MediaKind::Video).unwrap()
}

fn rid_layer(rid: &str) -> LayerSpec {
    LayerSpec {
        rid: rid.to_owned(),
        ssrc: None,
        rtx_ssrc: None,
    }
}

fn stream(rid: &str, paused: bool) -> SimulcastStream {
    SimulcastStream {
        rid: rid.to_owned(),
        paused,
    }
}

/// The answer's lines about simulcast: rid/simulcast attributes and the stream id extmaps.
fn simulcast_lines(answer: &str) -> Vec<&str> {
    lines(answer)
        .into_iter()
        .filter(|l| {
            l.starts_with("a=rid")
                || l.starts_with("a=simulcast")
                || l.contains(RID_URI)
                || l.contains(REPAIRED_RID_URI)
        })
        .collect()
}

/// The simulcast offer with its `a=rid`/`a=simulcast` lines replaced by `lines`.
fn with_simulcast_lines(lines: &str) -> String {
    let offer = chrome_simulcast_publish();
    let start = offer.find("a=rid:l send").unwrap();
    let end =
        offer.find("a=simulcast:send l;m;h\r\n").unwrap() + "a=simulcast:send l;m;h\r\n".len();
    format!("{}{lines}{}", &offer[..start], &offer[end..])
}

#[test]
fn chrome_rid_offer_is_parsed() {
    let offer = parse_offer(&chrome_simulcast_publish()).unwrap();
    let video = &offer.sections[1];
    let ids: Vec<&str> = video.send_rids.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["l", "m", "h"]);
    assert!(video.send_rids.iter().all(|r| r.payload_types.is_none()));
    assert_eq!(
        video.simulcast_send,
        Some(vec![
            stream("l", false),
            stream("m", false),
            stream("h", false)
        ])
    );
    assert!(video.ssrcs.is_empty(), "Chrome announces no SSRC for rids");
    let audio = &offer.sections[0];
    assert!(audio.send_rids.is_empty() && audio.simulcast_send.is_none());
}

#[test]
fn chrome_rid_offer_is_answered_with_a_recv_rid_per_layer() {
    let neg = publish(&chrome_simulcast_publish(), VP8).unwrap();
    let track = video(&neg.tracks);
    assert_eq!(track.codec, "VP8");
    assert_eq!(
        track.layers,
        [rid_layer("l"), rid_layer("m"), rid_layer("h")]
    );
    assert_eq!(track.ssrc, None);
    assert_eq!(track.rtx.map(|r| r.payload_type), Some(97));
    let ids: Vec<(u8, &str)> = track
        .extensions
        .iter()
        .map(|(id, uri)| (*id, uri.as_str()))
        .collect();
    assert!(ids.contains(&(10, RID_URI)) && ids.contains(&(11, REPAIRED_RID_URI)));
    assert_eq!(neg.media.layers, track.layers);
    let audio = neg
        .tracks
        .iter()
        .find(|t| t.kind == MediaKind::Audio)
        .unwrap();
    assert!(audio.layers.is_empty());

    assert_eq!(
        simulcast_lines(&neg.answer),
        [
            "a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id",
            "a=extmap:11 urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id",
            "a=rid:l recv",
            "a=rid:m recv",
            "a=rid:h recv",
            "a=simulcast:recv l;m;h",
        ]
    );
    // The rid lines follow the codecs and precede the candidate.
    let video_lines = section(&neg.answer, 1);
    let at = |prefix: &str| video_lines.iter().position(|l| l.starts_with(prefix));
    assert!(at("a=fmtp:97").unwrap() < at("a=rid:l").unwrap());
    assert!(at("a=simulcast").unwrap() < at("a=candidate").unwrap());
    assert!(section(&neg.answer, 0)
        .iter()
        .all(|l| !l.starts_with("a=rid")));
    // Our own answer reader takes it (the crate's round trip is in `tests_crate`).
    let parsed = parse_answer(&neg.answer).unwrap();
    assert_eq!(parsed.video.unwrap().codec.payload_type, 96);
}

#[test]
fn alternatives_paused_streams_and_extra_rids() {
    let offer = with_simulcast_lines(
        "a=rid:l send\r\na=rid:x send\r\na=rid:m send max-width=640;max-height=360\r\n\
         a=rid:h send\r\na=rid:q send\r\na=simulcast:send ~l,x;m;h;q recv r\r\n",
    );
    let neg = publish(&offer, VP8).unwrap();
    assert_eq!(
        video(&neg.tracks).layers,
        [rid_layer("l"), rid_layer("m"), rid_layer("h")],
        "first alternative, paused accepted, at most three"
    );
    assert_eq!(
        simulcast_lines(&neg.answer)[2..],
        [
            "a=rid:l recv",
            "a=rid:m recv",
            "a=rid:h recv",
            "a=simulcast:recv ~l;m;h"
        ]
    );
}

#[test]
fn a_simulcast_rid_without_its_rid_line_or_payload_type_is_left_out() {
    // `m` has no a=rid line; `h` may only use VP9 (98), not the VP8 we choose.
    let offer = with_simulcast_lines(
        "a=rid:l send pt=96,98\r\na=rid:h send pt=98\r\na=rid:x send\r\n\
         a=simulcast:send l;m;h;x\r\n",
    );
    let neg = publish(&offer, VP8).unwrap();
    assert_eq!(video(&neg.tracks).layers, [rid_layer("l"), rid_layer("x")]);
    assert!(neg.answer.contains("a=simulcast:recv l;x\r\n"));
    // With VP9 chosen `h` is allowed again.
    let neg = publish(&offer, &[VideoCodec::Vp9]).unwrap();
    assert_eq!(
        video(&neg.tracks).layers,
        [rid_layer("l"), rid_layer("h"), rid_layer("x")]
    );
}

#[test]
fn unusable_simulcast_is_answered_as_one_encoding() {
    let plain = with_simulcast_lines("");
    let without = publish(&plain, VP8).unwrap();
    assert!(simulcast_lines(&without.answer).is_empty());
    let long = "a".repeat(MAX_RID_LEN + 1);
    let bogus_rids: String = (0..MAX_RID_LINES)
        .map(|i| format!("a=rid:z{i} send\r\n"))
        .collect();
    let cases = [
        (
            "duplicate rid",
            "a=rid:l send\r\na=rid:m send\r\na=simulcast:send l;m;l\r\n".to_owned(),
        ),
        (
            "unknown direction",
            "a=rid:l send\r\na=rid:m send\r\na=simulcast:sned l;m\r\n".to_owned(),
        ),
        (
            "no send part",
            "a=rid:l send\r\na=rid:m send\r\na=simulcast:recv l;m\r\n".to_owned(),
        ),
        (
            "bad rid id",
            "a=rid:l send\r\na=rid:m send\r\na=simulcast:send l;m!\r\n".to_owned(),
        ),
        (
            "empty stream",
            "a=rid:l send\r\na=rid:m send\r\na=simulcast:send l;;m\r\n".to_owned(),
        ),
        (
            "stray token",
            "a=rid:l send\r\na=rid:m send\r\na=simulcast:send l;m recv\r\n".to_owned(),
        ),
        (
            "long rid",
            format!("a=rid:l send\r\na=rid:{long} send\r\na=simulcast:send l;{long}\r\n"),
        ),
        (
            "recv rids",
            "a=rid:l recv\r\na=rid:m recv\r\na=simulcast:send l;m\r\n".to_owned(),
        ),
        (
            "bad pt",
            "a=rid:l send pt=x\r\na=rid:m send pt=96\r\na=simulcast:send l;m\r\n".to_owned(),
        ),
        (
            "one layer",
            "a=rid:l send\r\na=simulcast:send l\r\n".to_owned(),
        ),
        (
            "no simulcast line",
            "a=rid:l send\r\na=rid:m send\r\n".to_owned(),
        ),
        ("no rid lines", "a=simulcast:send l;m;h\r\n".to_owned()),
        (
            "rid lines past the bound",
            format!("{bogus_rids}a=rid:l send\r\na=rid:m send\r\na=simulcast:send l;m\r\n"),
        ),
    ];
    for (name, simulcast) in cases {
        let neg = publish(&with_simulcast_lines(&simulcast), VP8)
            .unwrap_or_else(|e| panic!("{name}: the publish must not fail: {e}"));
        assert!(video(&neg.tracks).layers.is_empty(), "{name}");
        assert!(neg.media.layers.is_empty(), "{name}");
        assert_eq!(
            neg.answer, without.answer,
            "{name}: answered as one encoding"
        );
    }
    // Without the RTP stream id extension rid layers cannot be told apart.
    let no_extension =
        chrome_simulcast_publish().replace(&format!("a=extmap:10 {RID_URI}\r\n"), "");
    let neg = publish(&no_extension, VP8).unwrap();
    assert!(video(&neg.tracks).layers.is_empty());
    assert!(simulcast_lines(&neg.answer).is_empty(), "{}", neg.answer);
}

#[test]
fn rid_lines_are_read_up_to_the_bound() {
    let rids: String = (0..MAX_RID_LINES - 2)
        .map(|i| format!("a=rid:z{i} send\r\n"))
        .collect();
    let offer = with_simulcast_lines(&format!(
        "{rids}a=rid:l send\r\na=rid:m send\r\na=rid:h send\r\na=simulcast:send l;m;h\r\n"
    ));
    let parsed = parse_offer(&offer).unwrap();
    assert_eq!(parsed.sections[1].send_rids.len(), MAX_RID_LINES);
    let neg = publish(&offer, VP8).unwrap();
    assert_eq!(video(&neg.tracks).layers, [rid_layer("l"), rid_layer("m")]);
}

#[test]
fn rid_and_simulcast_line_readers() {
    let rid = parse_send_rid("h send pt=96,97;max-width=1280").unwrap();
    assert_eq!(
        (rid.id.as_str(), rid.payload_types),
        ("h", Some(vec![96, 97]))
    );
    assert_eq!(parse_send_rid("a-b_9 send").unwrap().payload_types, None);
    for bad in [
        "h recv",
        "h",
        "",
        "h! send",
        "h send pt=300",
        "h send pt=",
        "h send max-width=1 extra",
    ] {
        assert_eq!(parse_send_rid(bad), None, "{bad}");
    }
    assert_eq!(
        parse_simulcast_send("recv 1;2 send ~a,b;c"),
        Some(vec![stream("a", true), stream("c", false)])
    );
    let many: Vec<String> = (0..40).map(|i| format!("r{i}")).collect();
    let kept = parse_simulcast_send(&format!("send {}", many.join(";"))).unwrap();
    assert_eq!(kept.len(), MAX_RID_LINES);
    for bad in [
        "send",
        "send a;b send c",
        "recv a recv b",
        "send a;~",
        "send a,a",
        "x a",
    ] {
        assert_eq!(parse_simulcast_send(bad), None, "{bad}");
    }
}

#[test]
fn ssrc_group_simulcast_gives_layers_and_an_unchanged_answer() {
    let neg = publish(&chrome_sim_publish(), VP8).unwrap();
    let track = video(&neg.tracks);
    let expected: Vec<LayerSpec> = SIM_SSRCS
        .iter()
        .map(|&(media, rtx)| LayerSpec {
            rid: String::new(),
            ssrc: Some(media),
            rtx_ssrc: Some(rtx),
        })
        .collect();
    assert_eq!(track.layers, expected);
    assert_eq!(neg.media.layers, expected);
    // The first layer is also the track's one encoding (its first FID group).
    assert_eq!(track.ssrc, Some(SIM_SSRCS[0].0));
    assert_eq!(track.rtx.unwrap().ssrc, Some(SIM_SSRCS[0].1));
    assert!(
        track.extensions.iter().all(|(_, uri)| uri != RID_URI),
        "no stream id extension for SSRC layers"
    );
    // Nothing in the answer is about simulcast: it is the answer without the SIM group.
    let single = publish(&chrome_publish(), VP8).unwrap();
    assert_eq!(neg.answer, single.answer);
}

#[test]
fn ssrc_group_layers_without_rtx_and_unusable_groups() {
    // No RTX offered for VP8: the layers keep no RTX SSRC.
    let no_rtx = chrome_sim_publish().replace("a=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\n", "");
    let neg = publish(&no_rtx, VP8).unwrap();
    let track = video(&neg.tracks);
    assert_eq!(track.rtx, None);
    assert_eq!(track.layers.len(), 3);
    assert!(track.layers.iter().all(|l| l.rtx_ssrc.is_none()));

    let [(l0, _), (l1, _), (l2, _)] = SIM_SSRCS;
    let group = format!("a=ssrc-group:SIM {l0} {l1} {l2}\r\n");
    for (name, replacement) in [
        ("one ssrc", format!("a=ssrc-group:SIM {l0}\r\n")),
        (
            "repeated ssrc",
            format!("a=ssrc-group:SIM {l0} {l1} {l0}\r\n"),
        ),
        (
            "unannounced ssrc",
            format!("a=ssrc-group:SIM {l0} 77 {l2}\r\n"),
        ),
    ] {
        let offer = chrome_sim_publish().replace(&group, &replacement);
        let neg = publish(&offer, VP8).unwrap();
        assert!(video(&neg.tracks).layers.is_empty(), "{name}");
    }
    // A fourth SSRC is left out.
    let offer = chrome_sim_publish()
        .replace(&group, &format!("a=ssrc-group:SIM {l0} {l1} {l2} 99\r\n"))
        .replace(
            &format!("a=ssrc:{l0} cname"),
            &format!("a=ssrc:99 cname:x\r\na=ssrc:{l0} cname"),
        );
    let neg = publish(&offer, VP8).unwrap();
    let ssrcs: Vec<Option<u32>> = video(&neg.tracks).layers.iter().map(|l| l.ssrc).collect();
    assert_eq!(ssrcs, [Some(l0), Some(l1), Some(l2)]);
}

#[test]
fn players_of_a_simulcast_stream_get_no_stream_id_extensions() {
    let published = publish(&chrome_simulcast_publish(), VP8).unwrap();
    let offer = parse_offer(&crlf(CHROME_PLAY)).unwrap();
    assert!(offer.sections[1].extmaps.iter().any(|e| e.uri == RID_URI));
    let played = answer_play_with(
        &offer,
        &published.media,
        &local("192.0.2.10:31002"),
        &mut rng(),
    )
    .unwrap();
    for track in &played.tracks {
        assert!(track.layers.is_empty());
        assert!(track
            .extensions
            .iter()
            .all(|(_, uri)| uri != RID_URI && uri != REPAIRED_RID_URI));
    }
    assert!(played.media.layers.is_empty());
    assert!(
        simulcast_lines(&played.answer).is_empty(),
        "{}",
        played.answer
    );
}

#[test]
fn mangled_simulcast_lines_never_panic_and_answer_what_they_accept() {
    use rand::Rng;
    let mut mutations = rng();
    for offer in [chrome_simulcast_publish(), chrome_sim_publish()] {
        let bytes = offer.as_bytes();
        // The simulcast and source lines are at the end of the video section.
        let tail = bytes.len() - 400;
        let (mut answered_rounds, mut with_layers) = (0, 0);
        for round in 0..400 {
            let mut mutated = bytes.to_vec();
            for _ in 0..(1 + round % 8) {
                let at = mutations.gen_range(tail..mutated.len());
                match mutations.gen_range(0..3) {
                    0 => mutated[at] = mutations.gen(),
                    1 => {
                        mutated.remove(at);
                    }
                    _ => mutated.insert(at, b";,~ :=\n"[mutations.gen_range(0..7)]),
                }
            }
            let text = String::from_utf8_lossy(&mutated);
            let Ok(neg) = parse_offer(&text)
                .and_then(|o| answer_publish_with(&o, VP8, &local("192.0.2.10:31001"), &mut rng()))
            else {
                continue;
            };
            assert!(parse_answer(&neg.answer).is_ok(), "{}", neg.answer);
            let layers = &video(&neg.tracks).layers;
            answered_rounds += 1;
            with_layers += usize::from(!layers.is_empty());
            assert!(layers.len() <= dataplane::api::MAX_LAYERS);
            assert!(layers.is_empty() || layers.len() >= 2);
            let answered: Vec<&str> = lines(&neg.answer)
                .into_iter()
                .filter_map(|l| l.strip_prefix("a=rid:")?.strip_suffix(" recv"))
                .collect();
            let rid_layers: Vec<&str> = layers
                .iter()
                .filter(|l| !l.rid.is_empty())
                .map(|l| l.rid.as_str())
                .collect();
            assert_eq!(answered, rid_layers, "{text}");
        }
        // Both outcomes were exercised: some mutations keep simulcast, some lose it.
        assert!(
            0 < with_layers && with_layers < answered_rounds,
            "{with_layers}/{answered_rounds}"
        );
    }
}
