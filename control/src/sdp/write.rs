//! Writing SDP: our answers and offers are built as `rtc-sdp` [`SessionDescription`]s and
//! serialised by the crate (CRLF, `c=` right after `m=`, attributes in the order pushed). This
//! module owns the attribute layout shared by answers and offers (ICE/DTLS attributes, each
//! `a=fmtp` directly after its `a=rtpmap`, a codec's RTX payload type right after the codec,
//! sources with their `a=ssrc-group:FID`, candidates); what to accept is the answerer's
//! business.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

use dataplane::api::Fingerprint;
use rtc_sdp::description::common::{Address, Attribute, Bandwidth, ConnectionInformation};
use rtc_sdp::description::media::{MediaName, RangedPort};
use rtc_sdp::description::session::{Origin, TimeDescription, Timing};
use rtc_sdp::{MediaDescription, SessionDescription};

use super::types::{Codec, Direction, LocalTransport, MediaSection, SimulcastStream};

/// What we send in one m-section: identifiers announced with `a=msid` and `a=ssrc`.
#[derive(Clone, Debug)]
pub(super) struct SendSource {
    pub(super) ssrc: u32,
    /// The RTX SSRC paired with `ssrc` (`a=ssrc-group:FID <ssrc> <rtx>`), if RTX is sent.
    pub(super) rtx_ssrc: Option<u32>,
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
    /// The codec's RTX payload type as we answer it (written right after `codec`), if accepted.
    pub(super) rtx: Option<Codec>,
    pub(super) extensions: Vec<(u8, String)>,
    pub(super) source: Option<SendSource>,
    /// `b=AS` for the section: the most the sender may send, bits/s.
    pub(super) max_bitrate: Option<u32>,
    /// The offerer's simulcast rids we receive, in order (`a=rid:<id> recv` each, then
    /// `a=simulcast:recv`); empty: one encoding.
    pub(super) simulcast: Vec<SimulcastStream>,
}

/// One m-section of an answer: the offered section and what we accept (`None`: rejected).
pub(super) struct AnswerSection<'a> {
    pub(super) offered: &'a MediaSection,
    pub(super) accepted: Option<Accepted>,
}

/// `a=<key>:<value>`.
fn attr(key: &str, value: impl Into<String>) -> Attribute {
    Attribute::new(key.to_owned(), Some(value.into()))
}

/// `a=<key>` (a flag).
fn flag(key: &str) -> Attribute {
    Attribute::new(key.to_owned(), None)
}

/// `IP4`/`IP6` and the address text of `ip`.
fn address_type(ip: IpAddr) -> &'static str {
    match ip {
        IpAddr::V4(_) => "IP4",
        IpAddr::V6(_) => "IP6",
    }
}

/// `c=IN IP4 a.b.c.d` or `c=IN IP6 ...`.
fn connection(ip: IpAddr) -> ConnectionInformation {
    ConnectionInformation {
        network_type: "IN".to_owned(),
        address_type: address_type(ip).to_owned(),
        address: Some(Address {
            address: ip.to_string(),
            ttl: None,
            range: None,
        }),
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

/// `v=0`, `o=rtcdn <id> 2 IN IP4 <ip>`, `s=rtcdn`, `t=0 0`, and the session attributes.
pub(super) fn session(
    session_id: u64,
    ip: IpAddr,
    attributes: Vec<Attribute>,
) -> SessionDescription {
    SessionDescription {
        version: 0,
        origin: Origin {
            username: "rtcdn".to_owned(),
            session_id,
            session_version: 2,
            network_type: "IN".to_owned(),
            address_type: address_type(ip).to_owned(),
            unicast_address: ip.to_string(),
        },
        session_name: "rtcdn".to_owned(),
        time_descriptions: vec![TimeDescription {
            timing: Timing {
                start_time: 0,
                stop_time: 0,
            },
            repeat_times: Vec::new(),
        }],
        attributes,
        ..SessionDescription::default()
    }
}

/// `a=group:BUNDLE <mids>` when there are mids, then `a=msid-semantic: <semantic>`.
pub(super) fn bundle_attributes(out: &mut Vec<Attribute>, mids: &[&str], msid_semantic: &str) {
    if !mids.is_empty() {
        out.push(attr("group", format!("BUNDLE {}", mids.join(" "))));
    }
    // Chrome writes a space after the colon; keep its spelling.
    out.push(attr("msid-semantic", format!(" {msid_semantic}")));
}

/// An m-section: `m=<media> <port> <protocol> <formats>` and `c=`.
pub(super) fn media(
    kind: &str,
    port: u16,
    protocol: &str,
    formats: Vec<String>,
    ip: IpAddr,
) -> MediaDescription {
    MediaDescription {
        media_name: MediaName {
            media: kind.to_owned(),
            port: RangedPort {
                // isize is at least 32 bits on every target we build for.
                value: isize::try_from(port).unwrap_or(isize::MAX),
                range: None,
            },
            protos: protocol.split('/').map(str::to_owned).collect(),
            formats,
        },
        connection_information: Some(connection(ip)),
        ..MediaDescription::default()
    }
}

/// `a=ice-ufrag`, `a=ice-pwd`, `a=fingerprint` and `a=setup`.
pub(super) fn transport_attributes(
    out: &mut Vec<Attribute>,
    ufrag: &str,
    pwd: &str,
    fingerprint: &Fingerprint,
    setup: &str,
) {
    out.push(attr("ice-ufrag", ufrag));
    out.push(attr("ice-pwd", pwd));
    out.push(attr(
        "fingerprint",
        format!("{} {}", fingerprint.algorithm, fingerprint_hex(fingerprint)),
    ));
    out.push(attr("setup", setup));
}

/// `a=extmap:<id> <uri>` for each extension.
pub(super) fn extmap_attributes(out: &mut Vec<Attribute>, extensions: &[(u8, String)]) {
    for (id, uri) in extensions {
        out.push(attr("extmap", format!("{id} {uri}")));
    }
}

/// `a=rtpmap`, then its `a=fmtp` right after, then `a=rtcp-fb` lines.
pub(super) fn codec_attributes(out: &mut Vec<Attribute>, codec: &Codec) {
    let pt = codec.payload_type;
    let mut rtpmap = format!("{pt} {}/{}", codec.name, codec.clock_rate);
    if let Some(channels) = codec.channels {
        let _ = write!(rtpmap, "/{channels}");
    }
    out.push(attr("rtpmap", rtpmap));
    if let Some(fmtp) = &codec.fmtp {
        out.push(attr("fmtp", format!("{pt} {fmtp}")));
    }
    for fb in &codec.rtcp_fb {
        out.push(attr("rtcp-fb", format!("{pt} {fb}")));
    }
}

/// `a=msid`, `a=ssrc-group:FID <ssrc> <rtx>` when RTX is sent, and the `a=ssrc` cname/msid
/// lines of the media SSRC and then of the RTX SSRC (Chrome's layout).
pub(super) fn source_attributes(out: &mut Vec<Attribute>, source: &SendSource) {
    let msid = format!("{} {}", source.stream_id, source.track_id);
    out.push(attr("msid", msid.clone()));
    if let Some(rtx) = source.rtx_ssrc {
        out.push(attr("ssrc-group", format!("FID {} {rtx}", source.ssrc)));
    }
    for ssrc in std::iter::once(source.ssrc).chain(source.rtx_ssrc) {
        out.push(attr("ssrc", format!("{ssrc} cname:{}", source.cname)));
        out.push(attr("ssrc", format!("{ssrc} msid:{msid}")));
    }
}

/// `a=msid`, `a=ssrc-group:SIM` of the layers' SSRCs, `a=ssrc-group:FID` of each layer with
/// an RTX SSRC, and the `a=ssrc` cname/msid lines of each layer's SSRC then its RTX SSRC.
pub(super) fn simulcast_source_attributes(
    out: &mut Vec<Attribute>,
    cname: &str,
    msid: &str,
    layers: &[(u32, Option<u32>)],
) {
    out.push(attr("msid", msid));
    let ssrcs: Vec<String> = layers.iter().map(|(ssrc, _)| ssrc.to_string()).collect();
    out.push(attr("ssrc-group", format!("SIM {}", ssrcs.join(" "))));
    for (ssrc, rtx) in layers {
        if let Some(rtx) = rtx {
            out.push(attr("ssrc-group", format!("FID {ssrc} {rtx}")));
        }
    }
    for ssrc in layers
        .iter()
        .flat_map(|(ssrc, rtx)| std::iter::once(*ssrc).chain(*rtx))
    {
        out.push(attr("ssrc", format!("{ssrc} cname:{cname}")));
        out.push(attr("ssrc", format!("{ssrc} msid:{msid}")));
    }
}

/// `a=rid:<id> recv` per stream and `a=simulcast:recv <id>;<id>...` (`~` kept on paused
/// streams), nothing without streams.
fn simulcast_attributes(out: &mut Vec<Attribute>, streams: &[SimulcastStream]) {
    if streams.is_empty() {
        return;
    }
    for stream in streams {
        out.push(attr("rid", format!("{} recv", stream.rid)));
    }
    let list: Vec<String> = streams
        .iter()
        .map(|s| format!("{}{}", if s.paused { "~" } else { "" }, s.rid))
        .collect();
    out.push(attr("simulcast", format!("recv {}", list.join(";"))));
}

/// `a=candidate` (host, UDP) and `a=end-of-candidates`.
pub(super) fn candidate_attributes(out: &mut Vec<Attribute>, addr: SocketAddr) {
    out.push(attr(
        "candidate",
        format!("1 1 udp 2130706431 {} {} typ host", addr.ip(), addr.port()),
    ));
    out.push(flag("end-of-candidates"));
}

/// `a=candidate` (host, UDP) and `a=end-of-candidates` as SDP text, for SDP written elsewhere.
pub fn candidate_lines(out: &mut String, addr: SocketAddr) {
    let mut attributes = Vec::with_capacity(2);
    candidate_attributes(&mut attributes, addr);
    for attribute in attributes {
        let _ = write!(out, "a={attribute}\r\n");
    }
}

/// The whole answer text.
pub(super) fn write_answer(
    sections: &[AnswerSection<'_>],
    bundle: &[&str],
    msid_semantic: &str,
    local: &LocalTransport,
    session_id: u64,
) -> String {
    let mut attributes = vec![flag("ice-lite")];
    bundle_attributes(&mut attributes, bundle, msid_semantic);
    let mut desc = session(session_id, local.candidate.ip(), attributes);
    for section in sections {
        desc.media_descriptions.push(match &section.accepted {
            Some(accepted) => accepted_section(section.offered, accepted, local),
            None => rejected_section(section.offered, local),
        });
    }
    desc.marshal()
}

fn accepted_section(
    offered: &MediaSection,
    accepted: &Accepted,
    local: &LocalTransport,
) -> MediaDescription {
    let addr = local.candidate;
    let formats = std::iter::once(&accepted.codec)
        .chain(&accepted.rtx)
        .map(|c| c.payload_type.to_string())
        .collect();
    let mut m = media(
        &offered.media,
        addr.port(),
        &offered.protocol,
        formats,
        addr.ip(),
    );
    if let Some(bps) = accepted.max_bitrate {
        m.bandwidth.push(Bandwidth {
            experimental: false,
            bandwidth_type: "AS".to_owned(),
            bandwidth: u64::from(bps / 1000),
        });
    }
    let out = &mut m.attributes;
    transport_attributes(out, &local.ufrag, &local.pwd, &local.fingerprint, "passive");
    if let Some(mid) = &offered.mid {
        out.push(attr("mid", mid.as_str()));
    }
    extmap_attributes(out, &accepted.extensions);
    out.push(flag(accepted.direction.as_str()));
    out.push(flag("rtcp-mux"));
    if offered.rtcp_rsize {
        out.push(flag("rtcp-rsize"));
    }
    codec_attributes(out, &accepted.codec);
    if let Some(rtx) = &accepted.rtx {
        codec_attributes(out, rtx);
    }
    simulcast_attributes(out, &accepted.simulcast);
    if let Some(source) = &accepted.source {
        source_attributes(out, source);
    }
    candidate_attributes(out, addr);
    m
}

/// Port 0 and `a=inactive`, keeping the mid (and one offered format: an m= line needs one).
fn rejected_section(offered: &MediaSection, local: &LocalTransport) -> MediaDescription {
    let format = offered.formats.first().map_or("0", String::as_str);
    let unspecified: IpAddr = match local.candidate.ip() {
        IpAddr::V4(_) => [0, 0, 0, 0].into(),
        IpAddr::V6(_) => [0u16; 8].into(),
    };
    let formats = vec![format.to_owned()];
    let mut m = media(&offered.media, 0, &offered.protocol, formats, unspecified);
    let out = &mut m.attributes;
    transport_attributes(out, &local.ufrag, &local.pwd, &local.fingerprint, "passive");
    if let Some(mid) = &offered.mid {
        out.push(attr("mid", mid.as_str()));
    }
    out.push(flag("inactive"));
    out.push(flag("rtcp-mux"));
    if let Some(codec) = format.parse().ok().and_then(|pt| offered.codec(pt)) {
        let codec = Codec {
            rtcp_fb: Vec::new(),
            ..codec.clone()
        };
        codec_attributes(out, &codec);
    }
    m
}
