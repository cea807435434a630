//! PLACEHOLDER for the `loadbalancing.xml` configuration (the real parser is written in another
//! branch and replaces this file at merge; the type names are the agreed contract).
//!
//! [`load_placeholder`] is a deliberately naive reader so the relay can be exercised in this
//! branch; it is not the real parser (no line numbers, no validation).

use std::path::Path;

/// `stream_distribution`: how the origin sends streams to edges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Distribution {
    /// WebRTC relay (the origin publishes to the edge like a browser would).
    Webrtc,
    /// Plain RTP over UDP.
    Rtp,
}

/// `mode`: how the load balancer picks an edge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BalanceMode {
    /// `ROUNDROBIN`.
    RoundRobin,
    /// `RANDOM`.
    Random,
    /// `FEWESTCALLS`.
    FewestCalls,
    /// `LESS_LOADED_NODE`.
    LessLoadedNode,
}

/// One `<node>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// `id` attribute.
    pub id: String,
    /// `<ip>`: host name or address of the edge.
    pub ip: String,
    /// `<ws>` port (default 8080).
    pub ws: u16,
    /// `<wss>` port (default 8443).
    pub wss: u16,
    /// HTTP port (default: the ws port).
    pub http: u16,
}

/// The whole `loadbalancing.xml`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadBalancingConfig {
    /// Balancing mode.
    pub mode: BalanceMode,
    /// `randomize` attribute.
    pub randomize: bool,
    /// `stream_distribution` attribute.
    pub distribution: Distribution,
    /// The edges.
    pub nodes: Vec<Node>,
}

/// The file name inside the configuration directory.
pub const FILE_NAME: &str = "loadbalancing.xml";

fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = text.find(open)? + open.len();
    let end = text[start..].find(close)? + start;
    Some(text[start..end].trim())
}

/// PLACEHOLDER: reads `<dir>/loadbalancing.xml` when it exists (`None` otherwise or when it
/// cannot be understood).
pub fn load_placeholder(dir: &Path) -> Option<LoadBalancingConfig> {
    let text = std::fs::read_to_string(dir.join(FILE_NAME)).ok()?;
    let distribution = if text.contains("stream_distribution=\"rtp\"") {
        Distribution::Rtp
    } else {
        Distribution::Webrtc
    };
    let mut nodes = Vec::new();
    for chunk in text.split("<node").skip(1) {
        let body = chunk.split("</node>").next()?;
        let id = between(body, "id=\"", "\"").unwrap_or_default().to_owned();
        let ip = between(body, "<ip>", "</ip>")?.to_owned();
        let ws = between(body, "<ws>", "</ws>").map_or(Some(8080), |p| p.parse().ok())?;
        let wss = between(body, "<wss>", "</wss>").map_or(Some(8443), |p| p.parse().ok())?;
        nodes.push(Node {
            id,
            ip,
            ws,
            wss,
            http: ws,
        });
    }
    Some(LoadBalancingConfig {
        mode: BalanceMode::RoundRobin,
        randomize: false,
        distribution,
        nodes,
    })
}
