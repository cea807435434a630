//! Node configuration: `flashphoner.properties` (WCS keys we implement plus our own), with
//! defaults that run a single node on 127.0.0.1 with no file at all.
//!
//! Owns parsing and validation only; it must not start anything, bind sockets or read
//! environment variables. The command line (root crate `cli.rs`) overrides fields after
//! [`Config::load`] and then calls [`Config::validate`] again.
//!
//! The file is a Java properties file (ISO-8859-1, `\uXXXX` escapes, `\` continuation lines,
//! `=`, `:` or whitespace separators, `#`/`!` comments), read with the `java-properties`
//! crate so that line numbers survive for error messages. Keys we do not implement never stop
//! the node: they produce [`ConfigWarning`]s. Bad values of keys we do implement are errors
//! that name `file:line: key`.

mod error;
mod keys;
#[cfg(test)]
mod tests;

pub use error::{ConfigError, ConfigWarning, WarningKind};

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use java_properties::{LineContent, PropertiesIter};

use crate::cdn::config::{LoadBalancingConfig, StreamDistribution};

/// The file [`Config::load`] reads inside the configuration directory.
pub const FILE_NAME: &str = "flashphoner.properties";

/// Upper bound of `worker_threads`.
pub const MAX_WORKER_THREADS: usize = 256;

/// Video codecs we can forward, in the operator's order of preference.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VideoCodec {
    /// H.264 (`h264` in WCS `codecs`).
    H264,
    /// VP8 (`vp8`).
    Vp8,
    /// VP9 (`vp9`).
    Vp9,
    /// AV1 (`av1`).
    Av1,
}

impl VideoCodec {
    /// Every supported video codec, in the default preference order.
    pub const ALL: [VideoCodec; 4] = [Self::H264, Self::Vp8, Self::Vp9, Self::Av1];

    /// The encoding name as written in SDP `a=rtpmap` (`H264`, `VP8`, `VP9`, `AV1`).
    pub fn sdp_name(self) -> &'static str {
        match self {
            Self::H264 => "H264",
            Self::Vp8 => "VP8",
            Self::Vp9 => "VP9",
            Self::Av1 => "AV1",
        }
    }

    /// Parses a codec name as WCS writes it in `codecs` (or an SDP encoding name), ignoring
    /// ASCII case. `None` for anything that is not a video codec we forward.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|c| c.sdp_name().eq_ignore_ascii_case(name))
    }
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
    /// `load_balancing_enabled=true`: this node is a CDN origin with the edges of
    /// `<config dir>/loadbalancing.xml` (default none: a single node or an edge).
    pub load_balancing: Option<LoadBalancingConfig>,
    /// `cdn_relay_secret`: the secret both ends of an `rtp` relay must share (default none).
    pub cdn_relay_secret: Option<RelaySecret>,
    /// `worker_cpu_affinity`: `none` (default), `auto` (worker i on core i) or a core list.
    pub worker_cpu_affinity: dataplane::CpuAffinity,
    /// `media_socket_buffer`: bytes of SO_RCVBUF/SO_SNDBUF per worker socket (default 4 MiB,
    /// capped by the kernel at `net.core.rmem_max`/`wmem_max`).
    pub media_socket_buffer: usize,
    /// `fanout_queue_capacity`: packets each worker's cross-worker queue holds before it drops
    /// (default 16384).
    pub fanout_queue_capacity: usize,
    /// `media_gso`: send a worker's runs of packets to one player as one UDP GSO send
    /// (default true; off sends one datagram per message).
    pub media_gso: bool,
}

/// A shared secret that never shows in logs or `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct RelaySecret(String);

impl RelaySecret {
    /// Wraps a secret as configured.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret itself, to put on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Compares with what a peer presented, in time independent of where they differ.
    pub fn matches(&self, presented: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), presented.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl std::fmt::Debug for RelaySecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RelaySecret(..)")
    }
}

impl Default for Config {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self {
            ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            ws_port: 8080,
            media_port_from: 31001,
            media_port_to: 32000,
            worker_threads: cores.clamp(1, MAX_WORKER_THREADS),
            video_codecs: VideoCodec::ALL.to_vec(),
            keep_alive_interval: Duration::from_millis(5000),
            keep_alive_probes: 10,
            ice_consent_timeout: Duration::from_secs(30),
            web_dir: None,
            load_balancing: None,
            cdn_relay_secret: None,
            worker_cpu_affinity: dataplane::CpuAffinity::None,
            media_socket_buffer: dataplane::DataplaneConfig::default().socket_buffer,
            fanout_queue_capacity: dataplane::DataplaneConfig::default().mailbox_capacity,
            media_gso: dataplane::DataplaneConfig::default().gso,
        }
    }
}

impl Config {
    /// Loads `<dir>/flashphoner.properties` over the defaults and validates the result.
    ///
    /// `None` means "no configuration directory": the defaults. A directory without the file
    /// is fine (defaults); a directory that does not exist is an [`ConfigError::Io`] error,
    /// because it was named explicitly. Unimplemented or unknown keys come back as warnings
    /// for the caller to log.
    pub fn load(dir: Option<&Path>) -> Result<(Config, Vec<ConfigWarning>), ConfigError> {
        let Some(dir) = dir else {
            let cfg = Config::default();
            cfg.validate()?;
            return Ok((cfg, Vec::new()));
        };
        let io_err = |source| ConfigError::Io {
            file: dir.to_path_buf(),
            source,
        };
        if !std::fs::metadata(dir).map_err(io_err)?.is_dir() {
            return Err(io_err(io::Error::other("not a directory")));
        }
        let path = dir.join(FILE_NAME);
        match File::open(&path) {
            Ok(file) => Self::from_properties(&path, BufReader::new(file)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let cfg = Config::default();
                cfg.validate()?;
                Ok((cfg, Vec::new()))
            }
            Err(source) => Err(ConfigError::Io { file: path, source }),
        }
    }

    /// Applies the properties read from `input` over the defaults and validates the result.
    ///
    /// `file` names the source in errors and warnings; a relative `web_dir` is resolved
    /// against its parent directory, and with `load_balancing_enabled=true` the
    /// `loadbalancing.xml` next to it is read. The bytes may be UTF-8 (a BOM is skipped) or, as Java
    /// reads properties, ISO-8859-1: input that is not valid UTF-8 is read as ISO-8859-1.
    pub fn from_properties(
        file: &Path,
        mut input: impl Read,
    ) -> Result<(Config, Vec<ConfigWarning>), ConfigError> {
        let mut bytes = Vec::new();
        input
            .read_to_end(&mut bytes)
            .map_err(|source| ConfigError::Io {
                file: file.to_path_buf(),
                source,
            })?;
        let text = decode(&bytes);
        let mut cfg = Config::default();
        let mut loader = keys::Loader::new(file);
        // Only valid UTF-8 reaches the crate's decoder: it panics on a truncated sequence
        // or an odd-length UTF-16 file at end of input (java-properties 2.0.0).
        for line in PropertiesIter::new_with_encoding(text.as_bytes(), encoding_rs::UTF_8) {
            let line = line.map_err(|e| error::from_properties_error(file, &e))?;
            let number = line.line_number();
            if let LineContent::KVPair(key, value) = line.consume_content() {
                loader.apply(&mut cfg, number, &key, &value)?;
            }
        }
        loader.finish(cfg)
    }

    /// Cross-field and range checks; run after the file and again after command-line
    /// overrides. Errors are [`ConfigError::Invalid`] naming the offending key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &'static str, value: String, reason: String| {
            Err(ConfigError::Invalid { key, value, reason })
        };
        if self.ip.is_unspecified() || self.ip.is_multicast() {
            return invalid(
                keys::IP,
                self.ip.to_string(),
                "is not an address peers can reach (unspecified or multicast)".into(),
            );
        }
        // `ws.port` and `media_port_from` may be 0: the OS picks free ports (tests, several
        // nodes on one machine).
        if self.media_port_to == 0 {
            return invalid(keys::MEDIA_PORT_TO, "0".into(), keys::NOT_A_PORT.into());
        }
        if self.media_port_from > self.media_port_to {
            return invalid(
                keys::MEDIA_PORT_FROM,
                self.media_port_from.to_string(),
                format!("is above media_port_to ({})", self.media_port_to),
            );
        }
        if self.worker_threads == 0 || self.worker_threads > MAX_WORKER_THREADS {
            return invalid(
                keys::WORKER_THREADS,
                self.worker_threads.to_string(),
                keys::BAD_WORKER_THREADS.into(),
            );
        }
        let ports = usize::from(self.media_port_to - self.media_port_from) + 1;
        if self.media_port_from != 0 && ports < self.worker_threads {
            return invalid(
                keys::WORKER_THREADS,
                self.worker_threads.to_string(),
                format!(
                    "needs one media port per worker but media_port_from..media_port_to \
                     ({}-{}) holds only {ports}",
                    self.media_port_from, self.media_port_to
                ),
            );
        }
        let used = usize::from(self.media_port_from)
            ..usize::from(self.media_port_from) + self.worker_threads;
        if self.media_port_from != 0 && used.contains(&usize::from(self.ws_port)) {
            return invalid(
                keys::WS_PORT,
                self.ws_port.to_string(),
                format!(
                    "is also the media port of worker {}",
                    self.ws_port - self.media_port_from
                ),
            );
        }
        if self.video_codecs.is_empty() {
            return invalid(keys::CODECS, String::new(), keys::NO_VIDEO_CODEC.into());
        }
        for (key, d) in [
            (keys::KEEP_ALIVE_INTERVAL, self.keep_alive_interval),
            (keys::ICE_CONSENT_TIMEOUT, self.ice_consent_timeout),
        ] {
            if d.is_zero() {
                return invalid(key, "0".into(), keys::ZERO_MS.into());
            }
        }
        if self.keep_alive_probes == 0 {
            return invalid(keys::KEEP_ALIVE_PROBES, "0".into(), keys::ZERO_COUNT.into());
        }
        let rtp = self
            .load_balancing
            .as_ref()
            .is_some_and(|lb| lb.distribution == StreamDistribution::Rtp);
        if rtp && self.cdn_relay_secret.is_none() {
            return invalid(
                keys::CDN_RELAY_SECRET,
                String::new(),
                "must be set when loadbalancing.xml has stream_distribution=\"rtp\"".into(),
            );
        }
        if let Some(dir) = &self.web_dir {
            if !dir.is_dir() {
                return invalid(
                    keys::WEB_DIR,
                    dir.display().to_string(),
                    "is not a directory".into(),
                );
            }
        }
        Ok(())
    }
}

/// UTF-8 without its BOM when the bytes are valid UTF-8, else ISO-8859-1 (one char per byte).
fn decode(bytes: &[u8]) -> Cow<'_, str> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => Cow::Owned(bytes.iter().map(|&b| char::from(b)).collect()),
    }
}
