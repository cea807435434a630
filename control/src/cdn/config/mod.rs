//! `loadbalancing.xml`: the origin's list of edge nodes and how viewers are spread over them,
//! in the WCS format (`<loadbalancer mode=".." randomize=".." stream_distribution="..">` with
//! `<node id="N"><ip>host</ip><ws>port</ws><wss>port</wss></node>` children).
//!
//! Owns parsing and validation (with `roxmltree`, so every message names `file:line`) and the
//! comparison of two node lists a reload needs ([`NodesDiff`]);
//! it must not read files other than the one it is given, resolve names or open sockets.
//! Unknown elements and attributes never stop the node: they come back as
//! [`ConfigWarning`]s. Everything else that is wrong is an [`LbConfigError`].

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use crate::config::value::parse_bool;
use crate::config::warning::{ConfigWarning, WarningKind};

mod diff;

pub use diff::{same_node, NodesDiff};

/// The file name, next to `flashphoner.properties`.
pub const FILE_NAME: &str = "loadbalancing.xml";

/// `<ws>` when the node does not say (the WCS default).
pub const DEFAULT_WS_PORT: u16 = 8080;
/// `<wss>` when the node does not say (the WCS default).
pub const DEFAULT_WSS_PORT: u16 = 8443;

/// How the balancer picks an edge for a viewer (`mode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// `ROUNDROBIN`: the reachable nodes in turn.
    RoundRobin,
    /// `RANDOM`: any reachable node, uniformly.
    Random,
    /// `FEWESTCALLS` (WCS default): the node with the fewest `calls`.
    #[default]
    FewestCalls,
    /// `LESS_LOADED_NODE`: the node with the lowest `systemCpuLoad`.
    LessLoadedNode,
}

impl Mode {
    /// Every mode with its WCS spelling.
    pub const ALL: [(Mode, &'static str); 4] = [
        (Self::RoundRobin, "ROUNDROBIN"),
        (Self::Random, "RANDOM"),
        (Self::FewestCalls, "FEWESTCALLS"),
        (Self::LessLoadedNode, "LESS_LOADED_NODE"),
    ];

    /// Parses the WCS name, ignoring ASCII case.
    pub fn from_name(name: &str) -> Option<Mode> {
        Self::ALL
            .into_iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(name))
            .map(|(m, _)| m)
    }
}

/// How the origin sends streams to the edges (`stream_distribution`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StreamDistribution {
    /// `webrtc` (default): the origin publishes to each edge like a browser would.
    #[default]
    WebRtc,
    /// `rtp`: plain RTP over UDP on a private network, guarded by `cdn_relay_secret`.
    Rtp,
}

/// One `<node>`: an edge the origin relays to and sends viewers to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeConfig {
    /// `id` attribute, unique in the file (part of route ids).
    pub id: String,
    /// `<ip>`: host name or IP address as written (an IPv6 literal without brackets).
    pub host: String,
    /// `<ws>`: websocket signalling port (default 8080).
    pub ws: u16,
    /// `<wss>`: secure websocket port (default 8443).
    pub wss: u16,
    /// `<http>` (rtcdn's own element): port of `/?action=stat`; default the `ws` port,
    /// since rtcdn serves HTTP on its websocket port.
    pub http: u16,
    /// Line of the `<node>` element (for messages).
    pub line: u32,
}

impl NodeConfig {
    /// The host as it goes into a URL or the balancer's `server` field: an IPv6 literal
    /// gets brackets.
    pub fn url_host(&self) -> String {
        match self.host.parse::<IpAddr>() {
            Ok(IpAddr::V6(v6)) => format!("[{v6}]"),
            _ => self.host.clone(),
        }
    }
}

/// The whole `loadbalancing.xml`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadBalancingConfig {
    /// The file it came from.
    pub file: PathBuf,
    /// `mode` (default FEWESTCALLS).
    pub mode: Mode,
    /// `randomize`: break ties at random instead of taking the first node (default false).
    pub randomize: bool,
    /// `stream_distribution` (default webrtc).
    pub distribution: StreamDistribution,
    /// The nodes in file order; at least one, ids unique.
    pub nodes: Vec<NodeConfig>,
}

/// Why `loadbalancing.xml` cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{}:{}: {what}: {kind}", file.display(), line.map_or_else(|| "?".to_string(), |l| l.to_string()))]
pub struct LbConfigError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line, when known.
    pub line: Option<u32>,
    /// The element or attribute at fault, as written (`<node>`, `mode`), or `loadbalancing.xml`.
    pub what: String,
    /// What is wrong.
    pub kind: LbErrorKind,
}

/// Most nodes a `loadbalancing.xml` may list: the bound on relay legs per origin stream (one per
/// node) and on the balancer's polling.
pub const MAX_NODES: usize = 256;

/// The kinds of [`LbConfigError`].
#[derive(Debug, PartialEq, Eq)]
pub enum LbErrorKind {
    /// The file could not be read.
    Io(String),
    /// Not well-formed XML (the parser's message).
    Malformed(String),
    /// The root element is not `<loadbalancer>`.
    WrongRoot,
    /// `mode` names no mode we know.
    UnknownMode(String),
    /// `stream_distribution="rtmp"`: a WCS value rtcdn does not implement.
    RtmpNotSupported,
    /// `stream_distribution` is neither `webrtc` nor `rtp`.
    UnknownDistribution(String),
    /// `randomize` is neither `true` nor `false`.
    NotABool(String),
    /// No `<node>` at all.
    NoNodes,
    /// More than [`MAX_NODES`] nodes: each published stream would get that many relay legs.
    TooManyNodes,
    /// A `<node>` without an `id` attribute (or with an empty one).
    MissingId,
    /// Two nodes with the same `id`.
    DuplicateId {
        /// The id.
        id: String,
        /// Line of the first node with it.
        previous_line: u32,
    },
    /// A `<node>` without `<ip>` (or with an empty one).
    MissingIp,
    /// `<ip>` is not a host name or an IP address.
    BadHost(String),
    /// A port element that is not 1..65535.
    BadPort(String),
    /// The same child element twice in one `<node>`.
    Repeated {
        /// Line of the first one.
        previous_line: u32,
    },
}

impl fmt::Display for LbErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => f.write_str(e),
            Self::Malformed(e) => write!(f, "malformed XML: {e}"),
            Self::WrongRoot => f.write_str("the root element must be <loadbalancer>"),
            Self::UnknownMode(m) => write!(
                f,
                "{m:?} is not a mode (ROUNDROBIN, RANDOM, FEWESTCALLS, LESS_LOADED_NODE)"
            ),
            Self::RtmpNotSupported => {
                f.write_str("\"rtmp\" distribution is not supported by rtcdn (use webrtc or rtp)")
            }
            Self::UnknownDistribution(d) => {
                write!(f, "{d:?} is not a stream distribution (webrtc, rtp)")
            }
            Self::NotABool(v) => write!(f, "{v:?} is not true or false"),
            Self::NoNodes => f.write_str("no <node> is listed"),
            Self::TooManyNodes => write!(
                f,
                "more than {MAX_NODES} nodes (every published stream is relayed to each of them)"
            ),
            Self::MissingId => f.write_str("missing id attribute"),
            Self::DuplicateId { id, previous_line } => {
                write!(f, "id {id:?} is already used on line {previous_line}")
            }
            Self::MissingIp => f.write_str("missing <ip>"),
            Self::BadHost(h) => write!(f, "{h:?} is not a host name or IP address"),
            Self::BadPort(p) => write!(f, "{p:?} is not a port number (1-65535)"),
            Self::Repeated { previous_line } => {
                write!(f, "already given on line {previous_line}")
            }
        }
    }
}

/// Reads and parses `path`.
pub fn load(path: &Path) -> Result<(LoadBalancingConfig, Vec<ConfigWarning>), LbConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| LbConfigError {
        file: path.to_path_buf(),
        line: None,
        what: FILE_NAME.to_string(),
        kind: LbErrorKind::Io(e.to_string()),
    })?;
    parse(path, &text)
}

/// Parses the text of a `loadbalancing.xml`; `file` names it in errors and warnings.
pub fn parse(
    file: &Path,
    text: &str,
) -> Result<(LoadBalancingConfig, Vec<ConfigWarning>), LbConfigError> {
    let doc = roxmltree::Document::parse(text).map_err(|e| LbConfigError {
        file: file.to_path_buf(),
        line: Some(e.pos().row),
        what: FILE_NAME.to_string(),
        kind: LbErrorKind::Malformed(e.to_string()),
    })?;
    Parser {
        file,
        doc: &doc,
        warnings: Vec::new(),
    }
    .document()
}

struct Parser<'a, 'input> {
    file: &'a Path,
    doc: &'a roxmltree::Document<'input>,
    warnings: Vec<ConfigWarning>,
}

impl<'a, 'input> Parser<'a, 'input> {
    fn line(&self, node: roxmltree::Node<'_, '_>) -> u32 {
        self.doc.text_pos_at(node.range().start).row
    }

    fn attr_line(&self, attr: &roxmltree::Attribute<'_, '_>) -> u32 {
        self.doc.text_pos_at(attr.range().start).row
    }

    fn err(&self, line: u32, what: impl Into<String>, kind: LbErrorKind) -> LbConfigError {
        LbConfigError {
            file: self.file.to_path_buf(),
            line: Some(line),
            what: what.into(),
            kind,
        }
    }

    fn warn(&mut self, line: u32, what: String) {
        self.warnings.push(ConfigWarning {
            file: self.file.to_path_buf(),
            line: line as usize,
            key: what,
            kind: WarningKind::Unknown,
        });
    }

    fn document(mut self) -> Result<(LoadBalancingConfig, Vec<ConfigWarning>), LbConfigError> {
        let root = self.doc.root_element();
        let root_line = self.line(root);
        if root.tag_name().name() != "loadbalancer" {
            let name = format!("<{}>", root.tag_name().name());
            return Err(self.err(root_line, name, LbErrorKind::WrongRoot));
        }
        let mut cfg = LoadBalancingConfig {
            file: self.file.to_path_buf(),
            mode: Mode::default(),
            randomize: false,
            distribution: StreamDistribution::default(),
            nodes: Vec::new(),
        };
        for attr in root.attributes() {
            let line = self.attr_line(&attr);
            let value = attr.value().trim();
            match attr.name() {
                "mode" => {
                    cfg.mode = Mode::from_name(value).ok_or_else(|| {
                        self.err(line, "mode", LbErrorKind::UnknownMode(value.to_string()))
                    })?;
                }
                "randomize" => {
                    cfg.randomize = parse_bool(value).ok_or_else(|| {
                        self.err(line, "randomize", LbErrorKind::NotABool(value.to_string()))
                    })?;
                }
                "stream_distribution" => {
                    cfg.distribution = match value.to_ascii_lowercase().as_str() {
                        "webrtc" => StreamDistribution::WebRtc,
                        "rtp" => StreamDistribution::Rtp,
                        "rtmp" => {
                            return Err(self.err(
                                line,
                                "stream_distribution",
                                LbErrorKind::RtmpNotSupported,
                            ))
                        }
                        _ => {
                            return Err(self.err(
                                line,
                                "stream_distribution",
                                LbErrorKind::UnknownDistribution(value.to_string()),
                            ))
                        }
                    };
                }
                other => self.warn(line, format!("<loadbalancer> {other}")),
            }
        }
        let mut ids: HashMap<String, u32> = HashMap::new();
        for child in root.children().filter(roxmltree::Node::is_element) {
            let line = self.line(child);
            if child.tag_name().name() != "node" {
                self.warn(line, format!("<{}>", child.tag_name().name()));
                continue;
            }
            let node = self.node(child)?;
            if let Some(&previous_line) = ids.get(&node.id) {
                let kind = LbErrorKind::DuplicateId {
                    id: node.id,
                    previous_line,
                };
                return Err(self.err(line, "<node>", kind));
            }
            if cfg.nodes.len() == MAX_NODES {
                return Err(self.err(line, "<node>", LbErrorKind::TooManyNodes));
            }
            ids.insert(node.id.clone(), line);
            cfg.nodes.push(node);
        }
        if cfg.nodes.is_empty() {
            return Err(self.err(root_line, "<loadbalancer>", LbErrorKind::NoNodes));
        }
        Ok((cfg, self.warnings))
    }

    fn node(&mut self, el: roxmltree::Node<'_, '_>) -> Result<NodeConfig, LbConfigError> {
        let line = self.line(el);
        let mut id = None;
        for attr in el.attributes() {
            match attr.name() {
                "id" => id = Some(attr.value().trim().to_string()),
                other => {
                    let line = self.attr_line(&attr);
                    self.warn(line, format!("<node> {other}"));
                }
            }
        }
        let id = id
            .filter(|id| !id.is_empty())
            .ok_or_else(|| self.err(line, "<node>", LbErrorKind::MissingId))?;
        let mut host = None;
        let mut ports: [Option<u16>; 3] = [None; 3];
        let mut seen: HashMap<&str, u32> = HashMap::new();
        for child in el.children().filter(roxmltree::Node::is_element) {
            let child_line = self.line(child);
            let name = child.tag_name().name();
            let what = format!("<{name}>");
            let slot = match name {
                "ip" => None,
                "ws" => Some(0),
                "wss" => Some(1),
                "http" => Some(2),
                _ => {
                    self.warn(child_line, format!("<node> {what}"));
                    continue;
                }
            };
            if let Some(&previous_line) = seen.get(name) {
                return Err(self.err(child_line, what, LbErrorKind::Repeated { previous_line }));
            }
            seen.insert(name, child_line);
            let value = child.text().unwrap_or("").trim();
            match slot {
                None => {
                    if value.is_empty() {
                        return Err(self.err(line, "<node>", LbErrorKind::MissingIp));
                    }
                    let h = parse_host(value).ok_or_else(|| {
                        self.err(child_line, what, LbErrorKind::BadHost(value.to_string()))
                    })?;
                    host = Some(h);
                }
                Some(i) => {
                    let port = value.parse::<u16>().ok().filter(|p| *p != 0);
                    ports[i] = Some(port.ok_or_else(|| {
                        self.err(child_line, what, LbErrorKind::BadPort(value.to_string()))
                    })?);
                }
            }
        }
        let host = host.ok_or_else(|| self.err(line, "<node>", LbErrorKind::MissingIp))?;
        let ws = ports[0].unwrap_or(DEFAULT_WS_PORT);
        Ok(NodeConfig {
            id,
            host,
            ws,
            wss: ports[1].unwrap_or(DEFAULT_WSS_PORT),
            http: ports[2].unwrap_or(ws),
            line,
        })
    }
}

/// An IP address (an IPv6 literal with or without brackets, stored without) or a DNS name
/// (letters, digits, `-`, `_` and `.`, no empty label).
fn parse_host(value: &str) -> Option<String> {
    let bare = value
        .strip_prefix('[')
        .and_then(|v| v.strip_suffix(']'))
        .unwrap_or(value);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Some(ip.to_string());
    }
    let name = value.strip_suffix('.').unwrap_or(value);
    let ok = name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    ok.then(|| value.to_string())
}

#[cfg(test)]
mod tests;
