//! Offers at the size limit (`MAX_SDP_LEN`) built from the one attribute repeated, run through
//! the sdp target: the shapes where quadratic work or oversized answers would hide (duplicate
//! fmtp lines were both, see `sdp::parse::merged_fmtp`). Each must be answered or refused with
//! an error, and every answer must parse. Timings are printed (`--nocapture`), not asserted.

use std::time::Instant;

use control::sdp::MAX_SDP_LEN;

const FINGERPRINT: &str = "sha-256 AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:\
                           AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB";

/// A publish offer with Opus audio and a video section whose m= line lists `pts`, followed
/// by `repeat(i)` for i = 0, 1, ... while the SDP stays under the size limit.
fn offer(pts: &str, fixed: &str, repeat: impl Fn(usize) -> String) -> String {
    let mut sdp = format!(
        "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n\
         m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:abcd\r\n\
         a=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=fingerprint:{FINGERPRINT}\r\na=setup:actpass\r\n\
         a=mid:0\r\na=sendonly\r\na=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\n\
         m=video 9 UDP/TLS/RTP/SAVPF {pts}\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\na=sendonly\r\n\
         a=rtcp-mux\r\n{fixed}"
    );
    for i in 0.. {
        let line = repeat(i);
        if sdp.len() + line.len() > MAX_SDP_LEN - 64 {
            break;
        }
        sdp.push_str(&line);
    }
    sdp
}

#[test]
fn worst_case_offers_are_answered_or_refused() {
    let vp8 = "a=rtpmap:96 VP8/90000\r\n";
    let all_pts: String = (96..128)
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join(" ");
    let rtpmaps: String = (96..128)
        .map(|p| format!("a=rtpmap:{p} VP8/90000\r\n"))
        .collect();
    let cases: Vec<(&str, String)> = vec![
        (
            "duplicate fmtp",
            offer("96", vp8, |i| format!("a=fmtp:96 x{i}=1;max-fs=12288\r\n")),
        ),
        (
            "rtcp-fb",
            offer(&all_pts, &rtpmaps, |i| {
                format!("a=rtcp-fb:{} nack\r\n", 96 + i % 32)
            }),
        ),
        (
            "wildcard rtcp-fb",
            offer(&all_pts, &rtpmaps, |i| format!("a=rtcp-fb:* x{i}\r\n")),
        ),
        (
            "ssrc",
            offer("96", vp8, |i| format!("a=ssrc:{i} cname:c{i}\r\n")),
        ),
        (
            "FID groups",
            offer("96", vp8, |i| format!("a=ssrc-group:FID {i} {}\r\n", i + 1)),
        ),
        (
            "SIM groups",
            offer("96", vp8, |i| {
                format!("a=ssrc-group:SIM {i} {} {}\r\n", i + 1, i + 2)
            }),
        ),
        (
            "candidates",
            offer("96", vp8, |i| {
                format!(
                    "a=candidate:{i} 1 udp 1 10.0.{}.{} 9 typ host\r\n",
                    i / 250,
                    i % 250
                )
            }),
        ),
        (
            "extmap",
            offer("96", vp8, |i| {
                format!("a=extmap:{} urn:x:{i}\r\n", 1 + i % 14)
            }),
        ),
        (
            "rid",
            offer("96", &format!("{vp8}a=simulcast:send 1;2;3\r\n"), |i| {
                format!("a=rid:{i} send\r\n")
            }),
        ),
        (
            "rtx apt chains",
            offer(&all_pts, "", |i| {
                let (pt, apt) = (96 + i % 32, 96 + (i + 1) % 32);
                format!("a=rtpmap:{pt} rtx/90000\r\na=fmtp:{pt} apt={apt}\r\n")
            }),
        ),
        (
            "unknown attributes",
            offer("96", vp8, |i| format!("a=x-{i}:{}\r\n", "v".repeat(40))),
        ),
    ];
    for (name, sdp) in cases {
        assert!(sdp.len() <= MAX_SDP_LEN);
        let start = Instant::now();
        fuzz_harness::sdp(sdp.as_bytes());
        println!("{name:>20}: {} bytes in {:?}", sdp.len(), start.elapsed());
    }
}
