//! Simulcast of a publisher's video (RFC 8853): reading `a=rid` (RFC 8851) and `a=simulcast`
//! lines, and the layers we accept for the chosen codec: the rids of the `a=simulcast:send`
//! line in its order, or the SSRCs of an `a=ssrc-group:SIM`, at most [`MAX_LAYERS`].
//!
//! Simulcast is an offer's option, never a reason to refuse it: an unreadable or unusable
//! simulcast description (bad rid ids, a rid without its `a=rid` line, no RTP stream id
//! extension to tell rid layers apart) leaves the section one encoding, answered as before.
//! Imports only the leaves (`types`).

use dataplane::api::{LayerSpec, MAX_LAYERS, REPAIRED_RID_URI, RID_URI};

use super::types::{Codec, MediaSection, RidLine, SimulcastStream};

/// Most `a=rid` lines read per m-section (later ones are ignored).
pub const MAX_RID_LINES: usize = 16;
/// Longest rid id accepted, in bytes.
pub const MAX_RID_LEN: usize = 32;

/// Whether `id` is a rid id we accept: 1 to [`MAX_RID_LEN`] ASCII letters, digits, `-`, `_`
/// (RFC 8851's `rid-id`, bounded).
fn valid_rid(id: &str) -> bool {
    (1..=MAX_RID_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The value of `a=rid:<id> <direction> [<restrictions>]` when it describes a valid rid the
/// offerer sends; `None` for `recv` rids and anything unreadable (an invalid id, a bad `pt=`).
pub(super) fn parse_send_rid(arg: &str) -> Option<RidLine> {
    let mut tokens = arg.split_whitespace();
    let (id, direction) = (tokens.next()?, tokens.next()?);
    let restrictions = tokens.next();
    if !valid_rid(id) || direction != "send" || tokens.next().is_some() {
        return None;
    }
    let mut payload_types = None;
    for param in restrictions.into_iter().flat_map(|r| r.split(';')) {
        if let Some(list) = param.strip_prefix("pt=") {
            let pts = list
                .split(',')
                .map(|pt| pt.parse::<u8>().ok().filter(|pt| *pt <= 127))
                .collect::<Option<Vec<u8>>>()?;
            payload_types = Some(pts);
        }
    }
    Some(RidLine {
        id: id.to_owned(),
        payload_types,
    })
}

/// The `send` streams of `a=simulcast:<direction> <streams> [<direction> <streams>]`, each
/// its first alternative; `None` when the value is unreadable (an unknown or repeated
/// direction, an invalid or repeated rid id) or has no `send` part. At most
/// [`MAX_RID_LINES`] streams are kept.
pub(super) fn parse_simulcast_send(arg: &str) -> Option<Vec<SimulcastStream>> {
    let tokens: Vec<&str> = arg.split_whitespace().take(5).collect();
    if !matches!(tokens.len(), 2 | 4) {
        return None;
    }
    let mut send = None;
    let mut seen_recv = false;
    for pair in tokens.chunks(2) {
        let streams = parse_streams(pair[1])?;
        match pair[0] {
            "send" if send.is_none() => send = Some(streams),
            "recv" if !seen_recv => seen_recv = true,
            _ => return None,
        }
    }
    send
}

/// `<alt>[,<alt>...][;<alt>[,<alt>...]...]`: each stream's first alternative, with `~` read
/// as paused. Every alternative must be a valid id, and no id may appear twice.
fn parse_streams(list: &str) -> Option<Vec<SimulcastStream>> {
    let mut streams: Vec<SimulcastStream> = Vec::new();
    let mut ids: Vec<&str> = Vec::new();
    for stream in list.split(';').take(MAX_RID_LINES) {
        let mut first = None;
        for alternative in stream.split(',') {
            let (paused, id) = match alternative.strip_prefix('~') {
                Some(id) => (true, id),
                None => (false, alternative),
            };
            if !valid_rid(id) || ids.contains(&id) {
                return None;
            }
            ids.push(id);
            first.get_or_insert(SimulcastStream {
                rid: id.to_owned(),
                paused,
            });
        }
        streams.push(first?);
    }
    Some(streams)
}

/// The simulcast layers a publisher's video section offers for the chosen `codec`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum OfferedLayers {
    /// One encoding.
    None,
    /// RFC 8853 rids, in the order of the simulcast line (answered with `a=rid`/`a=simulcast`).
    Rids(Vec<SimulcastStream>),
    /// `a=ssrc-group:SIM`: each layer's SSRC and, if grouped with one by FID, its RTX SSRC.
    Ssrcs(Vec<(u32, Option<u32>)>),
}

impl OfferedLayers {
    /// The data plane's view of the layers; `rtx` tells whether RTX was negotiated (RTX
    /// SSRCs are dropped otherwise).
    pub(super) fn specs(&self, rtx: bool) -> Vec<LayerSpec> {
        match self {
            OfferedLayers::None => Vec::new(),
            OfferedLayers::Rids(streams) => streams
                .iter()
                .map(|s| LayerSpec {
                    rid: s.rid.clone(),
                    ssrc: None,
                    rtx_ssrc: None,
                })
                .collect(),
            OfferedLayers::Ssrcs(ssrcs) => ssrcs
                .iter()
                .map(|&(ssrc, rtx_ssrc)| LayerSpec {
                    rid: String::new(),
                    ssrc: Some(ssrc),
                    rtx_ssrc: rtx_ssrc.filter(|_| rtx),
                })
                .collect(),
        }
    }

    /// The rid streams to answer (`a=rid:<id> recv`, `a=simulcast:recv`); empty otherwise.
    pub(super) fn answered_rids(&self) -> &[SimulcastStream] {
        match self {
            OfferedLayers::Rids(streams) => streams,
            _ => &[],
        }
    }
}

/// Whether `uri` is one of the RTP stream id header extensions (RFC 8852) of rid simulcast.
pub(super) fn is_rid_extension(uri: &str) -> bool {
    uri == RID_URI || uri == REPAIRED_RID_URI
}

/// The layers `section` offers for `codec`: the `a=simulcast:send` rids that have an
/// `a=rid:<id> send` line allowing `codec` (no `pt=`, or one listing its payload type), when
/// the section also offers the RTP stream id extension (the layers are told apart by it);
/// else the first `a=ssrc-group:SIM` whose SSRCs are distinct and announced by `a=ssrc`.
/// At most [`MAX_LAYERS`] (the first ones); fewer than two is no simulcast.
pub(super) fn offered_layers(section: &MediaSection, codec: &Codec) -> OfferedLayers {
    let has_rid_extension = section.extmaps.iter().any(|e| e.uri == RID_URI);
    if let (Some(streams), true) = (&section.simulcast_send, has_rid_extension) {
        let allowed = |s: &&SimulcastStream| {
            section.send_rids.iter().any(|r| {
                r.id == s.rid
                    && r.payload_types
                        .as_ref()
                        .is_none_or(|pts| pts.contains(&codec.payload_type))
            })
        };
        let layers: Vec<SimulcastStream> = streams
            .iter()
            .filter(allowed)
            .take(MAX_LAYERS)
            .cloned()
            .collect();
        if layers.len() >= 2 {
            return OfferedLayers::Rids(layers);
        }
    }
    let sim = section
        .ssrc_groups
        .iter()
        .filter(|(semantics, _)| semantics.eq_ignore_ascii_case("SIM"))
        .find_map(|(_, ssrcs)| {
            let layers = &ssrcs[..ssrcs.len().min(MAX_LAYERS)];
            let distinct = layers
                .iter()
                .enumerate()
                .all(|(i, s)| !layers[..i].contains(s));
            let announced = layers.iter().all(|s| section.ssrcs.contains(s));
            (layers.len() >= 2 && distinct && announced).then_some(layers)
        });
    match sim {
        Some(layers) => OfferedLayers::Ssrcs(
            layers
                .iter()
                .map(|&ssrc| (ssrc, section.rtx_ssrc(ssrc)))
                .collect(),
        ),
        None => OfferedLayers::None,
    }
}
