//! Codec rules: which offered codec a publisher may use, which player codec carries what a
//! publisher sends (name, clock rate, channels and the fmtp parameters that change the
//! bitstream), which header extensions we accept, and the loss-repair rules: generic NACK
//! (`a=rtcp-fb:<pt> nack`) and the RTX payload type (RFC 4588, `rtx` with `apt=`) of a codec.

use crate::config::VideoCodec;

use super::types::{fmtp_param, Codec, NegotiatedCodec};

/// Header extensions we accept from publishers (the worker forwards or remaps them).
pub(super) const KNOWN_EXTENSIONS: [&str; 5] = [
    "urn:ietf:params:rtp-hdrext:ssrc-audio-level",
    "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
    "urn:ietf:params:rtp-hdrext:toffset",
    "urn:3gpp:video-orientation",
    "urn:ietf:params:rtp-hdrext:sdes:mid",
];

/// RTCP feedback we answer for video (when the offer lists it for the chosen PT).
pub(super) const VIDEO_FEEDBACK: [&str; 3] = [NACK, "nack pli", "ccm fir"];
/// RTCP feedback we answer for audio (when the offer lists it; Chrome does not).
pub(super) const AUDIO_FEEDBACK: [&str; 1] = [NACK];

/// Transport-wide congestion control feedback (`a=rtcp-fb:<pt> transport-cc`), answered to
/// publishers that also offer the transport-wide sequence number extension.
pub(super) const TRANSPORT_CC: &str = "transport-cc";

/// Receiver-estimated maximum bitrate (`a=rtcp-fb:<pt> goog-remb`), answered on video to
/// publishers without transport-wide feedback that send the abs-send-time extension.
pub(super) const REMB: &str = "goog-remb";

/// The generic NACK feedback value (RFC 4585 `a=rtcp-fb:<pt> nack`).
pub(super) const NACK: &str = "nack";

/// Whether `codec` lists generic NACK (not just `nack pli`).
pub(crate) fn has_nack(codec: &Codec) -> bool {
    codec.rtcp_fb.iter().any(|fb| fb == NACK)
}

/// Whether `codec` is an RTX payload type (`rtx` in its rtpmap).
pub(super) fn is_rtx(codec: &Codec) -> bool {
    codec.name.eq_ignore_ascii_case("rtx")
}

/// The RTX codec (RFC 4588) among `offered` that retransmits `media`: the first `rtx` payload
/// type in m= order whose `apt=` is `media`'s payload type and whose clock rate is `media`'s.
/// An `rtx` with a missing or unreadable `apt=`, an `apt=` naming another (or no) payload type,
/// or another clock rate is ignored.
pub(super) fn rtx_codec<'a>(offered: &'a [Codec], media: &Codec) -> Option<&'a Codec> {
    offered.iter().find(|c| {
        is_rtx(c)
            && c.payload_type != media.payload_type
            && c.clock_rate == media.clock_rate
            && c.fmtp
                .as_deref()
                .and_then(|f| fmtp_param(f, "apt"))
                .and_then(|apt| apt.parse::<u8>().ok())
                == Some(media.payload_type)
    })
}

/// The RTX codec as we write it for `media`: `a=rtpmap:<pt> rtx/<rate>` and
/// `a=fmtp:<pt> apt=<media pt>`, no feedback.
pub(super) fn rtx_line(payload_type: u8, media: &Codec) -> Codec {
    Codec {
        payload_type,
        name: "rtx".to_owned(),
        clock_rate: media.clock_rate,
        channels: None,
        fmtp: Some(format!("apt={}", media.payload_type)),
        rtcp_fb: Vec::new(),
    }
}

/// The rtpmap encoding name of a video codec.
pub(super) fn video_codec_name(codec: VideoCodec) -> &'static str {
    match codec {
        VideoCodec::H264 => "H264",
        VideoCodec::Vp8 => "VP8",
        VideoCodec::Vp9 => "VP9",
        VideoCodec::Av1 => "AV1",
    }
}

fn param<'a>(fmtp: Option<&'a str>, key: &str) -> Option<&'a str> {
    fmtp.and_then(|f| fmtp_param(f, key))
}

/// H264 `packetization-mode` (default 0).
fn h264_packetization_mode(fmtp: Option<&str>) -> &str {
    param(fmtp, "packetization-mode").unwrap_or("0")
}

/// H264 profile_idc + profile-iop: the first 4 hex digits of `profile-level-id`, lower case
/// (default `42000a` → `4200`). `None` when the parameter is not 6 hex digits.
fn h264_profile(fmtp: Option<&str>) -> Option<String> {
    let id = param(fmtp, "profile-level-id").unwrap_or("42000a");
    (id.len() == 6 && id.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| id[..4].to_ascii_lowercase())
}

/// The value of a profile parameter that defaults to `0` (VP9 `profile-id`, AV1 `profile`).
fn profile_or_zero<'a>(fmtp: Option<&'a str>, key: &str) -> &'a str {
    param(fmtp, key).unwrap_or("0")
}

/// Publish preference among offered codecs of one name: lower is better, `None` = unusable.
fn publish_rank(codec: &Codec) -> Option<u8> {
    let fmtp = codec.fmtp.as_deref();
    if codec.name.eq_ignore_ascii_case("H264") {
        let profile = h264_profile(fmtp)?;
        let mode = h264_packetization_mode(fmtp);
        let baseline_rank = match profile.as_str() {
            "42e0" => 0,
            "4200" => 1,
            _ => 2,
        };
        return match mode {
            "1" => Some(baseline_rank),
            "0" => Some(3 + baseline_rank),
            _ => None,
        };
    }
    let profile = if codec.name.eq_ignore_ascii_case("VP9") {
        profile_or_zero(fmtp, "profile-id")
    } else if codec.name.eq_ignore_ascii_case("AV1") {
        profile_or_zero(fmtp, "profile")
    } else {
        "0"
    };
    Some(if profile == "0" { 0 } else { 1 })
}

/// The offered codec a publisher should send for the first of `prefs` the offer has.
pub(super) fn choose_publish_video<'a>(
    offered: &'a [Codec],
    prefs: &[VideoCodec],
) -> Option<&'a Codec> {
    prefs.iter().find_map(|&pref| {
        let name = video_codec_name(pref);
        offered
            .iter()
            .filter(|c| c.name.eq_ignore_ascii_case(name) && c.clock_rate == 90_000)
            .filter_map(|c| publish_rank(c).map(|rank| (rank, c)))
            .min_by_key(|(rank, _)| *rank)
            .map(|(_, c)| c)
    })
}

/// The offered Opus codec (48 kHz, 2 channels).
pub(super) fn choose_publish_audio(offered: &[Codec]) -> Option<&Codec> {
    offered.iter().find(|c| {
        c.name.eq_ignore_ascii_case("opus") && c.clock_rate == 48_000 && c.channels == Some(2)
    })
}

/// Whether a player's `offered` codec carries exactly what `source` sends.
pub(super) fn player_accepts(source: &NegotiatedCodec, offered: &Codec) -> bool {
    if !source.name.eq_ignore_ascii_case(&offered.name)
        || source.clock_rate != offered.clock_rate
        || source.channels.unwrap_or(1) != offered.channels.unwrap_or(1)
    {
        return false;
    }
    let (src, dst) = (source.fmtp.as_deref(), offered.fmtp.as_deref());
    if source.name.eq_ignore_ascii_case("H264") {
        h264_packetization_mode(src) == h264_packetization_mode(dst)
            && h264_profile(src).is_some()
            && h264_profile(src) == h264_profile(dst)
    } else if source.name.eq_ignore_ascii_case("VP9") {
        profile_or_zero(src, "profile-id") == profile_or_zero(dst, "profile-id")
    } else if source.name.eq_ignore_ascii_case("AV1") {
        profile_or_zero(src, "profile") == profile_or_zero(dst, "profile")
    } else {
        true
    }
}

/// The first of a player's offered codecs that carries `source`.
pub(super) fn choose_play_codec<'a>(
    offered: &'a [Codec],
    source: &NegotiatedCodec,
) -> Option<&'a Codec> {
    offered.iter().find(|c| player_accepts(source, c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codec(pt: u8, name: &str, fmtp: Option<&str>) -> Codec {
        Codec {
            payload_type: pt,
            name: name.to_owned(),
            clock_rate: 90_000,
            channels: None,
            fmtp: fmtp.map(str::to_owned),
            rtcp_fb: Vec::new(),
        }
    }

    fn negotiated(c: &Codec) -> NegotiatedCodec {
        NegotiatedCodec {
            name: c.name.clone(),
            payload_type: c.payload_type,
            clock_rate: c.clock_rate,
            channels: c.channels,
            fmtp: c.fmtp.clone(),
            extensions: Vec::new(),
        }
    }

    #[test]
    fn fmtp_param_is_case_insensitive_and_trims() {
        let fmtp = "level-asymmetry-allowed=1; Packetization-Mode=1 ;profile-level-id=42e01f";
        assert_eq!(fmtp_param(fmtp, "packetization-mode"), Some("1"));
        assert_eq!(fmtp_param(fmtp, "profile-level-id"), Some("42e01f"));
        assert_eq!(fmtp_param(fmtp, "apt"), None);
        assert_eq!(fmtp_param("garbage;;=;x", "x"), None);
    }

    #[test]
    fn h264_prefers_mode1_constrained_baseline() {
        let offered = [
            codec(
                39,
                "H264",
                Some("packetization-mode=0;profile-level-id=4d001f"),
            ),
            codec(
                102,
                "H264",
                Some("packetization-mode=1;profile-level-id=4d001f"),
            ),
            codec(
                104,
                "H264",
                Some("packetization-mode=0;profile-level-id=42e01f"),
            ),
            codec(
                108,
                "H264",
                Some("packetization-mode=1;profile-level-id=42001f"),
            ),
            codec(
                114,
                "H264",
                Some("packetization-mode=1;profile-level-id=42e01f"),
            ),
        ];
        let chosen = choose_publish_video(&offered, &[VideoCodec::H264]).unwrap();
        assert_eq!(chosen.payload_type, 114);
        let chosen = choose_publish_video(&offered[..4], &[VideoCodec::H264]).unwrap();
        assert_eq!(chosen.payload_type, 108);
        let chosen = choose_publish_video(&offered[..3], &[VideoCodec::H264]).unwrap();
        assert_eq!(chosen.payload_type, 102);
    }

    #[test]
    fn h264_with_bad_profile_or_mode_is_unusable() {
        let offered = [
            codec(
                100,
                "H264",
                Some("packetization-mode=2;profile-level-id=42e01f"),
            ),
            codec(
                101,
                "H264",
                Some("packetization-mode=1;profile-level-id=zz"),
            ),
        ];
        assert!(choose_publish_video(&offered, &[VideoCodec::H264]).is_none());
    }

    #[test]
    fn prefs_order_wins_over_offer_order() {
        let offered = [codec(96, "VP8", None), codec(45, "AV1", None)];
        let chosen = choose_publish_video(&offered, &[VideoCodec::Av1, VideoCodec::Vp8]);
        assert_eq!(chosen.unwrap().payload_type, 45);
        let chosen = choose_publish_video(&offered, &[VideoCodec::H264, VideoCodec::Vp8]);
        assert_eq!(chosen.unwrap().payload_type, 96);
        assert!(choose_publish_video(&offered, &[VideoCodec::Vp9]).is_none());
    }

    #[test]
    fn vp9_prefers_profile_0() {
        let offered = [
            codec(100, "VP9", Some("profile-id=2")),
            codec(98, "VP9", Some("profile-id=0")),
        ];
        let chosen = choose_publish_video(&offered, &[VideoCodec::Vp9]).unwrap();
        assert_eq!(chosen.payload_type, 98);
    }

    #[test]
    fn player_match_ignores_h264_level_but_not_profile_or_mode() {
        let src = negotiated(&codec(
            102,
            "H264",
            Some("packetization-mode=1;profile-level-id=42e01f"),
        ));
        let higher_level = codec(
            120,
            "h264",
            Some("level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42E034"),
        );
        assert!(player_accepts(&src, &higher_level));
        let other_mode = codec(
            121,
            "H264",
            Some("packetization-mode=0;profile-level-id=42e01f"),
        );
        assert!(!player_accepts(&src, &other_mode));
        let other_profile = codec(
            122,
            "H264",
            Some("packetization-mode=1;profile-level-id=42001f"),
        );
        assert!(!player_accepts(&src, &other_profile));
        assert!(!player_accepts(&src, &codec(96, "VP8", None)));
    }

    #[test]
    fn player_match_checks_vp9_and_av1_profiles_and_audio_channels() {
        let vp9 = negotiated(&codec(98, "VP9", Some("profile-id=0")));
        assert!(player_accepts(&vp9, &codec(35, "VP9", None)));
        assert!(!player_accepts(
            &vp9,
            &codec(37, "VP9", Some("profile-id=2"))
        ));
        let av1 = negotiated(&codec(45, "AV1", None));
        assert!(player_accepts(
            &av1,
            &codec(47, "AV1", Some("level-idx=5;profile=0;tier=0"))
        ));
        assert!(!player_accepts(&av1, &codec(48, "AV1", Some("profile=1"))));
        let mut opus = codec(111, "opus", Some("minptime=10"));
        opus.clock_rate = 48_000;
        opus.channels = Some(2);
        let src = negotiated(&opus);
        let mut mono = opus.clone();
        mono.channels = None;
        assert!(!player_accepts(&src, &mono));
        opus.payload_type = 109;
        assert_eq!(
            choose_play_codec(&[mono, opus], &src).unwrap().payload_type,
            109
        );
    }
}
