//! Node configuration: `flashphoner.properties` (WCS keys we implement plus our own), with
//! defaults that run a single node on 127.0.0.1 with no file at all.
//!
//! Owns parsing and validation only; it must not start anything.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Video codecs we can forward, in the operator's order of preference.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VideoCodec {
    H264,
    Vp8,
    Vp9,
    Av1,
}

/// The whole node configuration after defaults, file and command line.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// `ip`: the address we bind and announce in SDP candidates (default 127.0.0.1).
    pub ip: IpAddr,
    /// `ws.port`: websocket signalling and HTTP (default 8080).
    pub ws_port: u16,
    /// `media_port_from`: worker `i` binds `media_port_from + i` (default 31001).
    pub media_port_from: u16,
    /// `media_port_to`: upper bound of the media port range (default 32000).
    pub media_port_to: u16,
    /// `worker_threads`: data-plane threads (default: one per core).
    pub worker_threads: usize,
    /// `codecs`: video codecs we accept for publishing, in preference order
    /// (default H264 then VP8, then VP9 and AV1).
    pub video_codecs: Vec<VideoCodec>,
    /// `keep_alive.server_interval`: websocket ping interval (default 5 s).
    pub keep_alive_interval: Duration,
    /// `keep_alive.probes`: missed pongs before the websocket is closed (default 10).
    pub keep_alive_probes: u32,
    /// `ice_consent_timeout`: close a peer whose checks stop for this long (default 30 s).
    pub ice_consent_timeout: Duration,
    /// `web_dir`: serve files from this directory before the embedded demo pages (default none).
    pub web_dir: Option<PathBuf>,
}
