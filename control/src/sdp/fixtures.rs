//! Hand-written offers in the shape Chrome 156 and Firefox produce through the Flashphoner
//! Web SDK (see wcs-protocol.md §5.2/§5.3), for tests.

use std::net::SocketAddr;

use dataplane::api::Fingerprint;

use super::types::LocalTransport;

/// The digest used in every fixture offer.
pub(super) const OFFER_FINGERPRINT: &str = "3C:4A:A9:0F:11:52:7E:1D:9B:2C:44:F0:A1:B3:6E:77:\
08:C1:D9:25:5A:E6:93:0B:7F:12:C8:4D:E0:36:9A:F5";

/// A Chrome publish offer (sendonly, CRLF): full audio and video codec lists, FID group.
pub(super) fn chrome_publish() -> String {
    let sdp = format!(
        "v=0
o=- 4611731400430051336 2 IN IP4 127.0.0.1
s=-
t=0 0
a=group:BUNDLE 0 1
a=extmap-allow-mixed
a=msid-semantic: WMS 7a2b3c4d-1111-4222-8333-944455556666
m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126
c=IN IP4 0.0.0.0
a=rtcp:9 IN IP4 0.0.0.0
a=ice-ufrag:Xk9d
a=ice-pwd:Zq4bH7aR8sT2uV3wX5yZ6aB7
a=ice-options:trickle
a=fingerprint:sha-256 {OFFER_FINGERPRINT}
a=setup:actpass
a=mid:0
a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level
a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time
a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01
a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid
a=sendonly
a=msid:7a2b3c4d-1111-4222-8333-944455556666 0f1e2d3c-aaaa-4bbb-8ccc-ddddeeeeffff
a=rtcp-mux
a=rtcp-rsize
a=rtpmap:111 opus/48000/2
a=rtcp-fb:111 transport-cc
a=fmtp:111 minptime=10;useinbandfec=1
a=rtpmap:63 red/48000/2
a=fmtp:63 111/111
a=rtpmap:9 G722/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:13 CN/8000
a=rtpmap:110 telephone-event/48000
a=rtpmap:126 telephone-event/8000
a=ssrc:3735928559 cname:Fb3kQ9zT1mN5pL2x
a=ssrc:3735928559 msid:7a2b3c4d-1111-4222-8333-944455556666 0f1e2d3c-aaaa-4bbb-8ccc-ddddeeeeffff
m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103 104 105 108 109 114 115 116 117 39 40 45 46 98 99 100 101 119 120 121
c=IN IP4 0.0.0.0
a=rtcp:9 IN IP4 0.0.0.0
a=ice-ufrag:Xk9d
a=ice-pwd:Zq4bH7aR8sT2uV3wX5yZ6aB7
a=ice-options:trickle
a=fingerprint:sha-256 {OFFER_FINGERPRINT}
a=setup:actpass
a=mid:1
a=extmap:14 urn:ietf:params:rtp-hdrext:toffset
a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time
a=extmap:13 urn:3gpp:video-orientation
a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01
a=extmap:5 http://www.webrtc.org/experiments/rtp-hdrext/playout-delay
a=extmap:6 http://www.webrtc.org/experiments/rtp-hdrext/video-content-type
a=extmap:7 http://www.webrtc.org/experiments/rtp-hdrext/video-timing
a=extmap:8 http://www.webrtc.org/experiments/rtp-hdrext/color-space
a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid
a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id
a=extmap:11 urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id
a=sendonly
a=msid:7a2b3c4d-1111-4222-8333-944455556666 9a8b7c6d-5555-4666-8777-888899990000
a=rtcp-mux
a=rtcp-rsize
{video}a=ssrc-group:FID 305419896 2271560481
a=ssrc:305419896 cname:Fb3kQ9zT1mN5pL2x
a=ssrc:305419896 msid:7a2b3c4d-1111-4222-8333-944455556666 9a8b7c6d-5555-4666-8777-888899990000
a=ssrc:2271560481 cname:Fb3kQ9zT1mN5pL2x
a=ssrc:2271560481 msid:7a2b3c4d-1111-4222-8333-944455556666 9a8b7c6d-5555-4666-8777-888899990000
",
        video = chrome_video_codecs(&[
            (96, "VP8", None),
            (102, "H264", Some("level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f")),
            (104, "H264", Some("level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42001f")),
            (108, "H264", Some("level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f")),
            (114, "H264", Some("level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f")),
            (116, "H264", Some("level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=4d001f")),
            (39, "H264", Some("level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=4d001f")),
            (45, "AV1", Some("level-idx=5;profile=0;tier=0")),
            (98, "VP9", Some("profile-id=0")),
            (100, "VP9", Some("profile-id=2")),
        ]),
    );
    sdp.replace('\n', "\r\n")
}

/// Chrome's video codec block: each codec with its feedback, fmtp and an RTX PT (`pt + 1`),
/// then red 119 (rtx 120) and ulpfec 121.
fn chrome_video_codecs(codecs: &[(u8, &str, Option<&str>)]) -> String {
    let mut out = String::new();
    for (pt, name, fmtp) in codecs {
        out.push_str(&format!("a=rtpmap:{pt} {name}/90000\n"));
        for fb in ["goog-remb", "transport-cc", "ccm fir", "nack", "nack pli"] {
            out.push_str(&format!("a=rtcp-fb:{pt} {fb}\n"));
        }
        if let Some(fmtp) = fmtp {
            out.push_str(&format!("a=fmtp:{pt} {fmtp}\n"));
        }
        let rtx = pt + 1;
        out.push_str(&format!(
            "a=rtpmap:{rtx} rtx/90000\na=fmtp:{rtx} apt={pt}\n"
        ));
    }
    out.push_str(
        "a=rtpmap:119 red/90000\na=rtpmap:120 rtx/90000\na=fmtp:120 apt=119\n\
         a=rtpmap:121 ulpfec/90000\n",
    );
    out
}

/// A Chrome play offer (recvonly, no msid/ssrc): extra VP9 35/37, AV1 47, flexfec-03 49.
pub(super) fn chrome_play() -> String {
    let sdp = format!(
        "v=0
o=- 8122993355116530521 2 IN IP4 127.0.0.1
s=-
t=0 0
a=group:BUNDLE 0 1
a=extmap-allow-mixed
a=msid-semantic: WMS
m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126
c=IN IP4 0.0.0.0
a=rtcp:9 IN IP4 0.0.0.0
a=ice-ufrag:pL7q
a=ice-pwd:Hh3kL9mN2bV5cX8zQ1wE4rT6
a=ice-options:trickle
a=fingerprint:sha-256 {OFFER_FINGERPRINT}
a=setup:actpass
a=mid:0
a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level
a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time
a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01
a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid
a=recvonly
a=rtcp-mux
a=rtcp-rsize
a=rtpmap:111 opus/48000/2
a=rtcp-fb:111 transport-cc
a=fmtp:111 minptime=10;useinbandfec=1
a=rtpmap:63 red/48000/2
a=fmtp:63 111/111
a=rtpmap:9 G722/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:13 CN/8000
a=rtpmap:110 telephone-event/48000
a=rtpmap:126 telephone-event/8000
m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103 104 105 108 109 114 115 116 117 39 40 45 46 98 99 100 101 35 36 37 38 47 48 119 120 121 49
c=IN IP4 0.0.0.0
a=rtcp:9 IN IP4 0.0.0.0
a=ice-ufrag:pL7q
a=ice-pwd:Hh3kL9mN2bV5cX8zQ1wE4rT6
a=ice-options:trickle
a=fingerprint:sha-256 {OFFER_FINGERPRINT}
a=setup:actpass
a=mid:1
a=extmap:14 urn:ietf:params:rtp-hdrext:toffset
a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time
a=extmap:13 urn:3gpp:video-orientation
a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01
a=extmap:5 http://www.webrtc.org/experiments/rtp-hdrext/playout-delay
a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid
a=recvonly
a=rtcp-mux
a=rtcp-rsize
{video}a=rtpmap:49 flexfec-03/90000
a=rtcp-fb:49 goog-remb
a=rtcp-fb:49 transport-cc
a=fmtp:49 repair-window=10000000
",
        video = chrome_video_codecs(&[
            (96, "VP8", None),
            (102, "H264", Some("level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f")),
            (104, "H264", Some("level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42001f")),
            (108, "H264", Some("level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f")),
            (114, "H264", Some("level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f")),
            (116, "H264", Some("level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=4d001f")),
            (39, "H264", Some("level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=4d001f")),
            (45, "AV1", Some("level-idx=5;profile=0;tier=0")),
            (98, "VP9", Some("profile-id=0")),
            (100, "VP9", Some("profile-id=2")),
            (35, "VP9", Some("profile-id=1")),
            (37, "VP9", Some("profile-id=3")),
            (47, "AV1", Some("level-idx=5;profile=1;tier=0")),
        ]),
    );
    sdp.replace('\n', "\r\n")
}

/// A Firefox-style play offer: session-level fingerprint, its own PT numbers, `extmap:N/dir`.
pub(super) fn firefox_play() -> String {
    format!(
        "v=0
o=mozilla...THIS_IS_SDPARTA-99.0 5816548421343522304 0 IN IP4 0.0.0.0
s=-
t=0 0
a=fingerprint:sha-256 {OFFER_FINGERPRINT}
a=group:BUNDLE 0 1
a=ice-options:trickle
a=msid-semantic:WMS *
m=audio 9 UDP/TLS/RTP/SAVPF 109 9 0 8 101
c=IN IP4 0.0.0.0
a=recvonly
a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level
a=extmap:2/recvonly urn:ietf:params:rtp-hdrext:csrc-audio-level
a=extmap:3 urn:ietf:params:rtp-hdrext:sdes:mid
a=fmtp:109 maxplaybackrate=48000;stereo=1;useinbandfec=1
a=fmtp:101 0-15
a=ice-pwd:4f0c2e7b9a1d3c5e7f9a1b3c5d7e9f01
a=ice-ufrag:6a1b2c3d
a=mid:0
a=rtcp-mux
a=rtpmap:109 opus/48000/2
a=rtpmap:9 G722/8000/1
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000/1
a=setup:actpass
a=ssrc:2788128520 cname:{{b2c0e2b5-6a8f-4a3b-9c57-4f5e6d7c8b9a}}
m=video 9 UDP/TLS/RTP/SAVPF 120 124 121 125 126 127 97 98
c=IN IP4 0.0.0.0
a=recvonly
a=extmap:3 urn:ietf:params:rtp-hdrext:sdes:mid
a=extmap:4 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time
a=extmap:5 urn:ietf:params:rtp-hdrext:toffset
a=extmap:6/recvonly http://www.webrtc.org/experiments/rtp-hdrext/playout-delay
a=extmap:7 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01
a=fmtp:126 profile-level-id=42e01f;level-asymmetry-allowed=1;packetization-mode=1
a=fmtp:97 profile-level-id=42e01f;level-asymmetry-allowed=1
a=fmtp:120 max-fs=12288;max-fr=60
a=fmtp:124 apt=120
a=fmtp:121 max-fs=12288;max-fr=60
a=fmtp:125 apt=121
a=fmtp:127 apt=126
a=fmtp:98 apt=97
a=ice-pwd:4f0c2e7b9a1d3c5e7f9a1b3c5d7e9f01
a=ice-ufrag:6a1b2c3d
a=mid:1
a=rtcp-fb:120 nack
a=rtcp-fb:120 nack pli
a=rtcp-fb:120 ccm fir
a=rtcp-fb:120 goog-remb
a=rtcp-fb:120 transport-cc
a=rtcp-fb:126 nack
a=rtcp-fb:126 nack pli
a=rtcp-fb:126 ccm fir
a=rtcp-fb:126 goog-remb
a=rtcp-fb:126 transport-cc
a=rtcp-mux
a=rtcp-rsize
a=rtpmap:120 VP8/90000
a=rtpmap:124 rtx/90000
a=rtpmap:121 VP9/90000
a=rtpmap:125 rtx/90000
a=rtpmap:126 H264/90000
a=rtpmap:127 rtx/90000
a=rtpmap:97 H264/90000
a=rtpmap:98 rtx/90000
a=setup:actpass
a=ssrc:3226345164 cname:{{b2c0e2b5-6a8f-4a3b-9c57-4f5e6d7c8b9a}}
"
    )
    .replace('\n', "\r\n")
}

/// A real Chromium 148 publish offer with three rid simulcast encodings (captured from
/// `addTransceiver(video, {sendEncodings: [{rid: 'l', scaleResolutionDownBy: 4},
/// {rid: 'm', scaleResolutionDownBy: 2}, {rid: 'h'}]})` plus a microphone track; stored with LF).
const CHROME_SIMULCAST: &str = include_str!("../../../tests/fixtures/chrome_simulcast_offer.sdp");

/// [`CHROME_SIMULCAST`] as Chrome sends it (CRLF): `a=rid:l send`, `a=rid:m send`,
/// `a=rid:h send`, `a=simulcast:send l;m;h`, the RTP stream id extensions as ids 10 and 11,
/// and no `a=ssrc` lines in the video section.
pub(super) fn chrome_simulcast_publish() -> String {
    CHROME_SIMULCAST.replace('\n', "\r\n")
}

/// The SSRCs of [`chrome_sim_publish`]'s layers: `(media, rtx)`, lowest first.
pub(super) const SIM_SSRCS: [(u32, u32); 3] = [
    (305_419_896, 2_271_560_481),
    (305_419_897, 2_271_560_482),
    (305_419_898, 2_271_560_483),
];

/// [`chrome_publish`] with the legacy SSRC-group simulcast (what Chrome sends after the
/// SDP munging some clients do): `a=ssrc-group:SIM` of three SSRCs, each in a FID group with
/// its RTX SSRC, and no rids.
pub(super) fn chrome_sim_publish() -> String {
    let msid = "7a2b3c4d-1111-4222-8333-944455556666 9a8b7c6d-5555-4666-8777-888899990000";
    let mut sources = String::new();
    let [l0, l1, l2] = SIM_SSRCS.map(|(media, _)| media);
    for (i, (media, rtx)) in SIM_SSRCS.iter().enumerate() {
        sources.push_str(&format!("a=ssrc-group:FID {media} {rtx}\r\n"));
        if i == 0 {
            sources.push_str(&format!("a=ssrc-group:SIM {l0} {l1} {l2}\r\n"));
        }
    }
    for (media, rtx) in SIM_SSRCS {
        for ssrc in [media, rtx] {
            sources.push_str(&format!("a=ssrc:{ssrc} cname:Fb3kQ9zT1mN5pL2x\r\n"));
            sources.push_str(&format!("a=ssrc:{ssrc} msid:{msid}\r\n"));
        }
    }
    let offer = chrome_publish();
    let start = offer
        .find("a=ssrc-group:FID 305419896")
        .expect("the video sources of chrome_publish");
    format!("{}{sources}", &offer[..start])
}

/// Our transport in the fixtures' answers.
pub(super) fn local(candidate: &str) -> LocalTransport {
    LocalTransport {
        ufrag: "srvU".to_owned(),
        pwd: "serverpassword0123456789".to_owned(),
        fingerprint: Fingerprint {
            algorithm: "sha-256".to_owned(),
            digest: (0u8..32).collect(),
        },
        candidate: candidate.parse::<SocketAddr>().expect("fixture address"),
    }
}

/// Removes codecs the way the Web SDK's `stripCodecs` does: rtpmap lines by name, fmtp and
/// rtcp-fb lines by `a=fmtp:<pt>` substring, the PT from the m= line; RTX fmtp lines of other
/// PTs stay dangling; joined with `\n` (original `\r` kept).
pub(super) fn sdk_strip_codecs(sdp: &str, name: &str) -> String {
    let mut lines: Vec<String> = sdp.split('\n').map(str::to_owned).collect();
    let pts: Vec<String> = lines
        .iter()
        .filter_map(|l| {
            let rest = l.strip_prefix("a=rtpmap:")?;
            let (pt, enc) = rest.split_once(' ')?;
            enc.to_lowercase()
                .starts_with(&format!("{}/", name.to_lowercase()))
                .then(|| pt.to_owned())
        })
        .collect();
    for pt in &pts {
        let prefixes = [
            format!("a=rtpmap:{pt} "),
            format!("a=fmtp:{pt}"),
            format!("a=rtcp-fb:{pt}"),
        ];
        lines.retain(|l| !prefixes.iter().any(|p| l.contains(p.as_str())));
        for line in lines.iter_mut().filter(|l| l.starts_with("m=")) {
            let cr = line.ends_with('\r');
            let body = line.trim_end_matches('\r');
            let kept: Vec<&str> = body
                .split(' ')
                .enumerate()
                .filter(|(i, t)| *i < 3 || t != pt)
                .map(|(_, t)| t)
                .collect();
            *line = kept.join(" ") + if cr { "\r" } else { "" };
        }
    }
    lines.retain(|l| !l.trim().is_empty());
    lines.join("\n")
}
