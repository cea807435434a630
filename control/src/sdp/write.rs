//! Writing SDP text: the lines shared by our answers and offers (session header, ICE/DTLS
//! attributes, codecs with each `a=fmtp` directly after its `a=rtpmap`, candidates).

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

use dataplane::api::Fingerprint;

use super::types::{Codec, Direction, LocalTransport, MediaSection};

/// What we send in one m-section: identifiers announced with `a=msid` and `a=ssrc`.
#[derive(Clone, Debug)]
pub(super) struct SendSource {
    pub(super) ssrc: u32,
    pub(super) cname: String,
    pub(super) stream_id: String,
    pub(super) track_id: String,
}

/// Our accepted side of one m-section.
#[derive(Clone, Debug)]
pub(super) struct Accepted {
    pub(super) direction: Direction,
    /// The codec as we answer it: PT, rtpmap, fmtp and the rtcp-fb values to write.
    pub(super) codec: Codec,
    pub(super) extensions: Vec<(u8, String)>,
    pub(super) source: Option<SendSource>,
}

/// One m-section of an answer: the offered section and what we accept (`None`: rejected).
pub(super) struct AnswerSection<'a> {
    pub(super) offered: &'a MediaSection,
    pub(super) accepted: Option<Accepted>,
}

/// `IN IP4 a.b.c.d` or `IN IP6 ...`.
fn net_addr(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => format!("IN IP4 {v4}"),
        IpAddr::V6(v6) => format!("IN IP6 {v6}"),
    }
}

/// `AB:CD:...` upper-case hex.
pub(super) fn fingerprint_hex(fingerprint: &Fingerprint) -> String {
    let mut hex = String::with_capacity(fingerprint.digest.len() * 3);
    for (i, byte) in fingerprint.digest.iter().enumerate() {
        if i > 0 {
            hex.push(':');
        }
        let _ = write!(hex, "{byte:02X}");
    }
    hex
}

/// `v=`, `o=`, `s=`, `t=` for a session from `ip`.
pub(super) fn session_header(out: &mut String, session_id: u64, ip: IpAddr) {
    let _ = write!(
        out,
        "v=0\r\no=rtcdn {session_id} 2 {}\r\ns=rtcdn\r\nt=0 0\r\n",
        net_addr(ip)
    );
}

/// `a=ice-ufrag`, `a=ice-pwd`, `a=fingerprint` and `a=setup`.
pub(super) fn transport_attributes(
    out: &mut String,
    ufrag: &str,
    pwd: &str,
    fingerprint: &Fingerprint,
    setup: &str,
) {
    let _ = write!(
        out,
        "a=ice-ufrag:{ufrag}\r\na=ice-pwd:{pwd}\r\na=fingerprint:{} {}\r\na=setup:{setup}\r\n",
        fingerprint.algorithm,
        fingerprint_hex(fingerprint)
    );
}

/// `a=rtpmap`, then its `a=fmtp` right after, then `a=rtcp-fb` lines.
pub(super) fn codec_lines(out: &mut String, codec: &Codec) {
    let pt = codec.payload_type;
    let _ = write!(out, "a=rtpmap:{pt} {}/{}", codec.name, codec.clock_rate);
    if let Some(channels) = codec.channels {
        let _ = write!(out, "/{channels}");
    }
    out.push_str("\r\n");
    if let Some(fmtp) = &codec.fmtp {
        let _ = write!(out, "a=fmtp:{pt} {fmtp}\r\n");
    }
    for fb in &codec.rtcp_fb {
        let _ = write!(out, "a=rtcp-fb:{pt} {fb}\r\n");
    }
}

/// `a=msid` and the `a=ssrc` cname/msid lines of a sender.
pub(super) fn source_lines(out: &mut String, source: &SendSource) {
    let msid = format!("{} {}", source.stream_id, source.track_id);
    let ssrc = source.ssrc;
    let _ = write!(
        out,
        "a=msid:{msid}\r\na=ssrc:{ssrc} cname:{}\r\na=ssrc:{ssrc} msid:{msid}\r\n",
        source.cname
    );
}

/// The whole answer text.
pub(super) fn write_answer(
    sections: &[AnswerSection<'_>],
    bundle: &[&str],
    msid_semantic: &str,
    local: &LocalTransport,
    session_id: u64,
) -> String {
    let mut out = String::with_capacity(2048);
    let ip = local.candidate.ip();
    session_header(&mut out, session_id, ip);
    out.push_str("a=ice-lite\r\n");
    if !bundle.is_empty() {
        let _ = write!(out, "a=group:BUNDLE {}\r\n", bundle.join(" "));
    }
    let _ = write!(out, "a=msid-semantic: {msid_semantic}\r\n");
    for section in sections {
        match &section.accepted {
            Some(accepted) => accepted_section(&mut out, section.offered, accepted, local),
            None => rejected_section(&mut out, section.offered, local),
        }
    }
    out
}

fn accepted_section(
    out: &mut String,
    offered: &MediaSection,
    accepted: &Accepted,
    local: &LocalTransport,
) {
    let addr = local.candidate;
    let _ = write!(
        out,
        "m={} {} {} {}\r\nc={}\r\n",
        offered.media,
        addr.port(),
        offered.protocol,
        accepted.codec.payload_type,
        net_addr(addr.ip())
    );
    transport_attributes(out, &local.ufrag, &local.pwd, &local.fingerprint, "passive");
    if let Some(mid) = &offered.mid {
        let _ = write!(out, "a=mid:{mid}\r\n");
    }
    for (id, uri) in &accepted.extensions {
        let _ = write!(out, "a=extmap:{id} {uri}\r\n");
    }
    let _ = write!(out, "a={}\r\na=rtcp-mux\r\n", accepted.direction.as_str());
    if offered.rtcp_rsize {
        out.push_str("a=rtcp-rsize\r\n");
    }
    codec_lines(out, &accepted.codec);
    if let Some(source) = &accepted.source {
        source_lines(out, source);
    }
    candidate_lines(out, addr);
}

/// `a=candidate` (host, UDP) and `a=end-of-candidates`.
pub fn candidate_lines(out: &mut String, addr: SocketAddr) {
    let _ = write!(
        out,
        "a=candidate:1 1 udp 2130706431 {} {} typ host\r\na=end-of-candidates\r\n",
        addr.ip(),
        addr.port()
    );
}

/// Port 0 and `a=inactive`, keeping the mid (and one offered format: an m= line needs one).
fn rejected_section(out: &mut String, offered: &MediaSection, local: &LocalTransport) {
    let format = offered.formats.first().map_or("0", String::as_str);
    let unspecified = match local.candidate.ip() {
        IpAddr::V4(_) => "IN IP4 0.0.0.0",
        IpAddr::V6(_) => "IN IP6 ::",
    };
    let _ = write!(
        out,
        "m={} 0 {} {format}\r\nc={unspecified}\r\n",
        offered.media, offered.protocol
    );
    transport_attributes(out, &local.ufrag, &local.pwd, &local.fingerprint, "passive");
    if let Some(mid) = &offered.mid {
        let _ = write!(out, "a=mid:{mid}\r\n");
    }
    out.push_str("a=inactive\r\na=rtcp-mux\r\n");
    if let Some(codec) = format.parse().ok().and_then(|pt| offered.codec(pt)) {
        let codec = Codec {
            rtcp_fb: Vec::new(),
            ..codec.clone()
        };
        codec_lines(out, &codec);
    }
}
