//! Reading SDP into our typed view. The grammar (line types, their order, the `m=`, `c=`, `o=`
//! and `t=` fields) is `rtc-sdp`'s, through [`super::grammar`]; this module reads the attributes
//! negotiation needs: rtpmap, duplicate `a=fmtp` lines merged, dangling `apt=`, rtcp-fb, ssrc and
//! ssrc-group, candidates, fingerprints, Firefox `a=extmap:N/direction` (through the crate's
//! `ExtMap`). Attributes we need and cannot read are [`SdpError::Malformed`] with their line.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};

use dataplane::api::Fingerprint;

use rtc_sdp::description::common::ConnectionInformation;
use rtc_sdp::extmap::ExtMap;
use rtc_sdp::MediaDescription;

use super::error::{SdpError, MAX_FMTP_LEN, MAX_REPEATED_LINES};
use super::grammar;
use super::simulcast::{parse_send_rid, parse_simulcast_send, MAX_RID_LINES};
use super::types::{Candidate, Codec, Direction, Extmap, MediaSection, Offer};

/// Parses an offer and checks it has media, ICE credentials and a sha-256 fingerprint.
pub fn parse_offer(sdp: &str) -> Result<Offer, SdpError> {
    let desc = parse_description(sdp)?;
    let first = desc
        .sections
        .iter()
        .find(|s| s.kind().is_some())
        .ok_or(SdpError::NoMedia)?;
    let fingerprint = first.sha256_fingerprint()?.clone();
    let (Some(ufrag), Some(pwd)) = (first.ufrag.clone(), first.pwd.clone()) else {
        return Err(SdpError::NoIceCredentials);
    };
    Ok(Offer {
        bundle: desc.bundle,
        sections: desc.sections,
        ufrag,
        pwd,
        fingerprint,
    })
}

/// A whole SDP: session-level bits we use plus the m-sections.
#[derive(Debug)]
pub(super) struct Description {
    pub(super) bundle: Option<Vec<String>>,
    pub(super) ice_lite: bool,
    pub(super) sections: Vec<MediaSection>,
}

/// Session-level attributes that m-sections inherit.
#[derive(Default)]
struct SessionLevel {
    ufrag: Option<String>,
    pwd: Option<String>,
    fingerprints: Vec<Fingerprint>,
    setup: Option<String>,
    connection: Option<IpAddr>,
}

/// An m-section while its lines are read; codecs are assembled at the end.
struct SectionBuilder {
    section: MediaSection,
    /// `a=rid` lines seen, readable or not (only the first [`MAX_RID_LINES`] are read).
    rid_lines: usize,
    rtpmaps: Vec<(u8, String, u32, Option<u8>)>,
    fmtps: Vec<(u8, String)>,
    rtcp_fbs: Vec<(Option<u8>, String)>,
}

/// Reads any SDP into its m-sections: the crate parses the grammar, we read the attributes.
pub(super) fn parse_description(sdp: &str) -> Result<Description, SdpError> {
    let parsed = grammar::read(sdp)?;
    let mut session = SessionLevel {
        connection: parsed
            .desc
            .connection_information
            .as_ref()
            .and_then(connection_ip),
        ..SessionLevel::default()
    };
    let mut bundle = None;
    let mut ice_lite = false;
    for (attribute, line) in parsed.session_attributes() {
        let arg = attribute.value.as_deref().unwrap_or("");
        match attribute.key.as_str() {
            "group" => {
                let mut tokens = arg.split_whitespace();
                if tokens.next() == Some("BUNDLE") {
                    bundle = Some(tokens.map(str::to_owned).collect());
                }
            }
            "ice-lite" => ice_lite = true,
            name => session.attribute(name, arg, line)?,
        }
    }
    let mut sections = Vec::with_capacity(parsed.desc.media_descriptions.len());
    for (index, media) in parsed.desc.media_descriptions.iter().enumerate() {
        let mut builder = SectionBuilder::new(media);
        for (attribute, line) in parsed.media_attributes(index) {
            let arg = attribute.value.as_deref().unwrap_or("");
            builder.attribute(&attribute.key, arg, line)?;
        }
        sections.push(builder.finish(&session));
    }
    Ok(Description {
        bundle,
        ice_lite,
        sections,
    })
}

fn malformed(line: usize, reason: &'static str) -> SdpError {
    SdpError::malformed(line, reason)
}

impl SessionLevel {
    fn attribute(&mut self, name: &str, arg: &str, line: usize) -> Result<(), SdpError> {
        match name {
            "ice-ufrag" => self.ufrag = non_empty(arg),
            "ice-pwd" => self.pwd = non_empty(arg),
            "fingerprint" => self.fingerprints.push(parse_fingerprint(arg, line)?),
            "setup" => self.setup = non_empty(arg),
            _ => {}
        }
        Ok(())
    }
}

fn non_empty(arg: &str) -> Option<String> {
    let arg = arg.trim();
    (!arg.is_empty()).then(|| arg.to_owned())
}

impl SectionBuilder {
    /// An empty section for the crate's m= line (port, protocol and formats already checked).
    fn new(media: &MediaDescription) -> Self {
        let name = &media.media_name;
        SectionBuilder {
            section: MediaSection {
                media: name.media.clone(),
                // The crate read the port as a u16.
                port: u16::try_from(name.port.value).unwrap_or(0),
                protocol: name.protos.join("/"),
                formats: name.formats.clone(),
                mid: None,
                direction: Direction::default(),
                ufrag: None,
                pwd: None,
                fingerprints: Vec::new(),
                setup: None,
                rtcp_mux: false,
                rtcp_rsize: false,
                bundle_only: false,
                codecs: Vec::new(),
                extmaps: Vec::new(),
                ssrcs: Vec::new(),
                ssrc_groups: Vec::new(),
                msid: None,
                send_rids: Vec::new(),
                simulcast_send: None,
                candidates: Vec::new(),
                connection: media
                    .connection_information
                    .as_ref()
                    .and_then(connection_ip),
            },
            rid_lines: 0,
            rtpmaps: Vec::new(),
            fmtps: Vec::new(),
            rtcp_fbs: Vec::new(),
        }
    }
}

/// The address of a `c=` line, if it is an IP literal (`c=` is informational for us).
fn connection_ip(connection: &ConnectionInformation) -> Option<IpAddr> {
    let address = connection.address.as_ref()?;
    address.address.split('/').next()?.parse().ok()
}

fn parse_pt(token: &str, line: usize) -> Result<u8, SdpError> {
    match token.parse::<u8>() {
        Ok(pt) if pt <= 127 => Ok(pt),
        _ => Err(malformed(line, "bad payload type")),
    }
}

fn parse_fingerprint(arg: &str, line: usize) -> Result<Fingerprint, SdpError> {
    let (algorithm, hex) = arg
        .trim()
        .split_once(' ')
        .ok_or(malformed(line, "fingerprint needs a hash and a digest"))?;
    let digest = hex
        .trim()
        .split(':')
        .map(|byte| {
            if byte.len() == 2 {
                u8::from_str_radix(byte, 16).ok()
            } else {
                None
            }
        })
        .collect::<Option<Vec<u8>>>()
        .ok_or(malformed(line, "bad fingerprint digest"))?;
    let algorithm = algorithm.to_ascii_lowercase();
    if algorithm == "sha-256" && digest.len() != 32 {
        return Err(malformed(line, "sha-256 digest is not 32 bytes"));
    }
    Ok(Fingerprint { algorithm, digest })
}

fn parse_u32(token: Option<&str>, line: usize, reason: &'static str) -> Result<u32, SdpError> {
    token
        .and_then(|t| t.parse().ok())
        .ok_or(malformed(line, reason))
}

impl SectionBuilder {
    fn attribute(&mut self, name: &str, arg: &str, line: usize) -> Result<(), SdpError> {
        let s = &mut self.section;
        if let Some(direction) = Direction::from_attr(name) {
            s.direction = direction;
            return Ok(());
        }
        match name {
            "mid" => {
                let mid = arg.trim();
                if mid.is_empty() || mid.contains(char::is_whitespace) {
                    return Err(malformed(line, "bad mid"));
                }
                s.mid = Some(mid.to_owned());
            }
            "ice-ufrag" => s.ufrag = non_empty(arg),
            "ice-pwd" => s.pwd = non_empty(arg),
            "fingerprint" => s.fingerprints.push(parse_fingerprint(arg, line)?),
            "setup" => s.setup = non_empty(arg),
            "rtcp-mux" => s.rtcp_mux = true,
            "rtcp-rsize" => s.rtcp_rsize = true,
            "bundle-only" => s.bundle_only = true,
            "msid" => s.msid = non_empty(arg),
            "rtpmap" => self.rtpmap(arg, line)?,
            "fmtp" => {
                let (pt, params) = arg.split_once(' ').unwrap_or((arg, ""));
                let params = params.trim();
                if params.len() > MAX_FMTP_LEN {
                    return Err(malformed(line, "fmtp parameters too long"));
                }
                if !params.is_empty() && self.fmtps.len() < MAX_REPEATED_LINES {
                    self.fmtps.push((parse_pt(pt, line)?, params.to_owned()));
                }
            }
            "rtcp-fb" => {
                let (pt, fb) = arg
                    .split_once(' ')
                    .ok_or(malformed(line, "rtcp-fb needs a value"))?;
                let pt = if pt == "*" {
                    None
                } else {
                    Some(parse_pt(pt, line)?)
                };
                let fb = fb.split_whitespace().collect::<Vec<_>>().join(" ");
                // Duplicates add nothing; a wildcard line is copied into every codec, so the
                // lines kept are bounded.
                if self.rtcp_fbs.len() < MAX_REPEATED_LINES
                    && !self.rtcp_fbs.iter().any(|(p, f)| *p == pt && *f == fb)
                {
                    self.rtcp_fbs.push((pt, fb));
                }
            }
            "extmap" if s.extmaps.len() < MAX_REPEATED_LINES => {
                s.extmaps.push(parse_extmap(arg, line)?)
            }
            "ssrc" => {
                let ssrc = parse_u32(arg.split_whitespace().next(), line, "bad ssrc")?;
                // An SSRC has several `a=ssrc` lines (cname, msid): distinct ones are few.
                if s.ssrcs.len() < MAX_REPEATED_LINES && !s.ssrcs.contains(&ssrc) {
                    s.ssrcs.push(ssrc);
                }
            }
            "ssrc-group" if s.ssrc_groups.len() < MAX_REPEATED_LINES => {
                let mut tokens = arg.split_whitespace();
                let semantics = tokens.next().unwrap_or("").to_owned();
                let ssrcs = tokens
                    .map(|t| parse_u32(Some(t), line, "bad ssrc in ssrc-group"))
                    .collect::<Result<Vec<_>, _>>()?;
                s.ssrc_groups.push((semantics, ssrcs));
            }
            // Simulcast is optional: unreadable rid and simulcast lines are ignored.
            "rid" => {
                self.rid_lines += 1;
                let rid = parse_send_rid(arg).filter(|_| self.rid_lines <= MAX_RID_LINES);
                if let Some(rid) = rid.filter(|r| s.send_rids.iter().all(|o| o.id != r.id)) {
                    s.send_rids.push(rid);
                }
            }
            "simulcast" => s.simulcast_send = parse_simulcast_send(arg),
            "candidate" if s.candidates.len() < MAX_REPEATED_LINES => {
                if let Some(candidate) = parse_candidate(arg, line)? {
                    s.candidates.push(candidate);
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn rtpmap(&mut self, arg: &str, line: usize) -> Result<(), SdpError> {
        let (pt, encoding) = arg
            .split_once(' ')
            .ok_or(malformed(line, "rtpmap needs an encoding"))?;
        let pt = parse_pt(pt, line)?;
        let mut parts = encoding.trim().split('/');
        let name = parts.next().unwrap_or("");
        if name.is_empty() {
            return Err(malformed(line, "rtpmap needs an encoding name"));
        }
        let clock_rate = parse_u32(parts.next(), line, "bad rtpmap clock rate")?;
        let channels = match parts.next() {
            Some(c) => Some(
                c.parse()
                    .map_err(|_| malformed(line, "bad rtpmap channels"))?,
            ),
            None => None,
        };
        // The first rtpmap of a payload type is the one used; there are at most 128.
        if !self.rtpmaps.iter().any(|(p, ..)| *p == pt) {
            self.rtpmaps
                .push((pt, name.to_owned(), clock_rate, channels));
        }
        Ok(())
    }

    /// Assembles codecs in m= line order and inherits session-level attributes.
    fn finish(mut self, session: &SessionLevel) -> MediaSection {
        let mut codecs: Vec<Codec> = Vec::new();
        for format in &self.section.formats {
            let Ok(pt) = format.parse::<u8>() else {
                continue;
            };
            if codecs.iter().any(|c| c.payload_type == pt) {
                continue;
            }
            let mapped = self.rtpmaps.iter().find(|(p, ..)| *p == pt);
            let (name, clock_rate, channels) = match mapped {
                Some((_, name, rate, channels)) => (name.clone(), *rate, *channels),
                None => match static_payload_type(pt) {
                    Some((name, rate)) => (name.to_owned(), rate, None),
                    None => continue,
                },
            };
            codecs.push(Codec {
                payload_type: pt,
                name,
                clock_rate,
                channels,
                fmtp: merged_fmtp(&self.fmtps, pt),
                rtcp_fb: self
                    .rtcp_fbs
                    .iter()
                    .filter(|(p, _)| p.is_none() || *p == Some(pt))
                    .map(|(_, fb)| fb.clone())
                    .collect(),
            });
        }
        let s = &mut self.section;
        s.codecs = codecs;
        if s.ufrag.is_none() {
            s.ufrag.clone_from(&session.ufrag);
        }
        if s.pwd.is_none() {
            s.pwd.clone_from(&session.pwd);
        }
        if s.fingerprints.is_empty() {
            s.fingerprints.clone_from(&session.fingerprints);
        }
        if s.setup.is_none() {
            s.setup.clone_from(&session.setup);
        }
        if s.connection.is_none() {
            s.connection = session.connection;
        }
        self.section
    }
}

/// RFC 3551 static payload types a browser may list without an rtpmap.
fn static_payload_type(pt: u8) -> Option<(&'static str, u32)> {
    Some(match pt {
        0 => ("PCMU", 8000),
        8 => ("PCMA", 8000),
        9 => ("G722", 8000),
        13 => ("CN", 8000),
        _ => return None,
    })
}

/// All fmtp lines of `pt` merged: parameters of later duplicate lines are added when their key
/// is new (keys compared as `types::fmtp_param` does) and they fit [`MAX_FMTP_LEN`]. Linear in the
/// lines' length: the keys seen are kept in a set. (Found with the sdp fuzz target's check
/// that our answers parse, on an offer of 60 KB of duplicate fmtp lines: rescanning the merged
/// list for every parameter took 170 ms, and the answer's `a=fmtp` line passed
/// [`super::MAX_LINE_LEN`].)
fn merged_fmtp(fmtps: &[(u8, String)], pt: u8) -> Option<String> {
    let mut lines = fmtps.iter().filter(|(p, _)| *p == pt).map(|(_, f)| f);
    let mut merged = lines.next()?.clone();
    let key = |param: &str| {
        param
            .split('=')
            .next()
            .unwrap_or(param)
            .trim()
            .to_ascii_lowercase()
    };
    // Only a `key=value` parameter has a key `fmtp_param` finds.
    let mut keys: HashSet<String> = merged
        .split(';')
        .filter(|p| p.contains('='))
        .map(key)
        .collect();
    for extra in lines {
        for param in extra.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let k = key(param);
            if keys.contains(&k) || merged.len() + 1 + param.len() > MAX_FMTP_LEN {
                continue;
            }
            if !merged.ends_with(';') {
                merged.push(';');
            }
            merged.push_str(param);
            if param.contains('=') {
                keys.insert(k);
            }
        }
    }
    Some(merged)
}

/// `a=extmap:<id>[/<direction>] <uri>` through the crate's [`ExtMap`] (ids 1-255, URI syntax).
fn parse_extmap(arg: &str, line: usize) -> Result<Extmap, SdpError> {
    let text = format!("extmap:{arg}");
    let parsed =
        ExtMap::unmarshal(&mut text.as_bytes()).map_err(|_| malformed(line, "bad extmap"))?;
    let id = u8::try_from(parsed.value).map_err(|_| malformed(line, "bad extmap id"))?;
    let uri = parsed.uri.ok_or(malformed(line, "extmap needs a URI"))?;
    Ok(Extmap {
        id,
        uri: uri.to_string(),
    })
}

/// `<foundation> <component> <transport> <priority> <address> <port> typ <type> ...`
fn parse_candidate(arg: &str, line: usize) -> Result<Option<Candidate>, SdpError> {
    let tokens: Vec<&str> = arg.split_whitespace().take(8).collect();
    if tokens.len() < 8 || tokens[6] != "typ" {
        return Err(malformed(line, "candidate needs 8 fields"));
    }
    let component = tokens[1]
        .parse()
        .map_err(|_| malformed(line, "bad candidate component"))?;
    let port = tokens[5]
        .parse()
        .map_err(|_| malformed(line, "bad candidate port"))?;
    let Ok(ip) = tokens[4].parse::<IpAddr>() else {
        return Ok(None);
    };
    Ok(Some(Candidate {
        component,
        udp: tokens[2].eq_ignore_ascii_case("udp"),
        addr: SocketAddr::new(ip, port),
    }))
}
