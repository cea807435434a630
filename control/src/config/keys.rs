//! The keys of `flashphoner.properties`: which ones we apply, how each value is parsed, and
//! which WCS settings we recognise but ignore. Owns the per-key rules only; file reading and
//! cross-field checks live in the parent module.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::cidr::IpNet;
use super::error::ConfigError;
use super::model::{Config, RelaySecret, VideoCodec, MAX_WORKER_THREADS};
use super::value::parse_bool;
use super::warning::{ConfigWarning, WarningKind};
use crate::cdn;
use crate::hooks::OnError;
use dataplane::CpuAffinity;

pub(super) const IP: &str = "ip";
pub(super) const WS_PORT: &str = "ws.port";
pub(super) const WSS_PORT: &str = "wss.port";
pub(super) const TLS_CERTIFICATE: &str = "tls_certificate";
pub(super) const TLS_PRIVATE_KEY: &str = "tls_private_key";
pub(super) const TLS_SELF_SIGNED_DIR: &str = "tls_self_signed_dir";
pub(super) const MEDIA_PORT_FROM: &str = "media_port_from";
pub(super) const MEDIA_PORT_TO: &str = "media_port_to";
pub(super) const CODECS: &str = "codecs";
pub(super) const KEEP_ALIVE_INTERVAL: &str = "keep_alive.server_interval";
pub(super) const KEEP_ALIVE_PROBES: &str = "keep_alive.probes";
pub(super) const KEEP_ALIVE_ALGORITHM: &str = "keep_alive.algorithm";
pub(super) const WORKER_THREADS: &str = "worker_threads";
pub(super) const ICE_CONSENT_TIMEOUT: &str = "ice_consent_timeout";
pub(super) const DTLS_HANDSHAKE_TIMEOUT: &str = "dtls_handshake_timeout";
pub(super) const MAX_HANDSHAKES_PER_WORKER: &str = "max_handshakes_per_worker";
pub(super) const WEB_DIR: &str = "web_dir";
pub(super) const LOAD_BALANCING_ENABLED: &str = "load_balancing_enabled";
pub(super) const CDN_RELAY_SECRET: &str = "cdn_relay_secret";
pub(super) const WORKER_CPU_AFFINITY: &str = "worker_cpu_affinity";
pub(super) const MEDIA_SOCKET_BUFFER: &str = "media_socket_buffer";
pub(super) const FANOUT_QUEUE_CAPACITY: &str = "fanout_queue_capacity";
pub(super) const MEDIA_GSO: &str = "media_gso";
pub(super) const RETRANSMIT_CACHE: &str = "retransmit_cache";
pub(super) const RETRANSMIT_SHARE: &str = "retransmit_share";
pub(super) const TRANSPORT_CC: &str = "transport_cc";
pub(super) const REMB: &str = "remb";
pub(super) const CDN_RELAY_TLS: &str = "cdn_relay_tls";
pub(super) const CDN_RELAY_CA_FILE: &str = "cdn_relay_ca_file";
pub(super) const WEBRTC_CC_MIN_BITRATE: &str = "webrtc_cc_min_bitrate";
pub(super) const WEBRTC_CC_MAX_BITRATE: &str = "webrtc_cc_max_bitrate";
pub(super) const WEBRTC_CC_START_BITRATE: &str = "webrtc_cc_start_bitrate";
pub(super) const REST_API_KEY: &str = "rest_api_key";
pub(super) const REST_API_ALLOWED_IPS: &str = "rest_api_allowed_ips";
pub(super) const REST_HOOK_URL: &str = "rest_hook_url";
pub(super) const REST_HOOK_TIMEOUT: &str = "rest_hook_timeout";
pub(super) const REST_HOOK_FAIL_CLOSED: &str = "rest_hook_fail_closed";
pub(super) const REST_HOOK_ON_ERROR: &str = "rest_hook_on_error";
pub(super) const REST_HOOK_CA_FILE: &str = "rest_hook_ca_file";

pub(super) const SHUTDOWN_GRACE_PERIOD: &str = "shutdown_grace_period";
pub(super) const MAX_CONNECTIONS_PER_IP: &str = "max_connections_per_ip";
pub(super) const MAX_STREAMS_PER_CONNECTION: &str = "max_streams_per_connection";
pub(super) const MAX_PEERS: &str = "max_peers";
pub(super) const CDN_ALLOWED_IPS: &str = "cdn_allowed_ips";
pub(super) const WHIP_TOKEN: &str = "whip_token";
pub(super) const WHEP_TOKEN: &str = "whep_token";
pub(super) const ICE_SERVERS: &str = "ice_servers";
pub(super) const ICE_SERVERS_USERNAME: &str = "ice_servers_username";
pub(super) const ICE_SERVERS_CREDENTIAL: &str = "ice_servers_credential";

/// Every key we apply, in the order the README documents them.
const IMPLEMENTED: [&str; 48] = [
    IP,
    WS_PORT,
    WSS_PORT,
    TLS_CERTIFICATE,
    TLS_PRIVATE_KEY,
    TLS_SELF_SIGNED_DIR,
    MEDIA_PORT_FROM,
    MEDIA_PORT_TO,
    CODECS,
    KEEP_ALIVE_INTERVAL,
    KEEP_ALIVE_PROBES,
    WORKER_THREADS,
    ICE_CONSENT_TIMEOUT,
    DTLS_HANDSHAKE_TIMEOUT,
    MAX_HANDSHAKES_PER_WORKER,
    WEB_DIR,
    LOAD_BALANCING_ENABLED,
    CDN_RELAY_SECRET,
    CDN_RELAY_TLS,
    CDN_RELAY_CA_FILE,
    WORKER_CPU_AFFINITY,
    MEDIA_SOCKET_BUFFER,
    FANOUT_QUEUE_CAPACITY,
    MEDIA_GSO,
    RETRANSMIT_CACHE,
    RETRANSMIT_SHARE,
    TRANSPORT_CC,
    REMB,
    WEBRTC_CC_MIN_BITRATE,
    WEBRTC_CC_MAX_BITRATE,
    WEBRTC_CC_START_BITRATE,
    REST_API_KEY,
    REST_API_ALLOWED_IPS,
    REST_HOOK_URL,
    REST_HOOK_TIMEOUT,
    REST_HOOK_FAIL_CLOSED,
    REST_HOOK_ON_ERROR,
    REST_HOOK_CA_FILE,
    SHUTDOWN_GRACE_PERIOD,
    MAX_CONNECTIONS_PER_IP,
    MAX_STREAMS_PER_CONNECTION,
    MAX_PEERS,
    CDN_ALLOWED_IPS,
    WHIP_TOKEN,
    WHEP_TOKEN,
    ICE_SERVERS,
    ICE_SERVERS_USERNAME,
    ICE_SERVERS_CREDENTIAL,
];

pub(super) const NOT_A_PORT: &str = "is not a port number (1-65535)";
pub(super) const NOT_A_PORT_OR_ANY: &str = "is not a port number (1-65535, or 0 for any free port)";
pub(super) const BAD_WORKER_THREADS: &str = "must be a number of threads from 1 to 256";
pub(super) const NO_VIDEO_CODEC: &str = "names no video codec rtcdn supports (h264, vp8, vp9, av1)";
pub(super) const ZERO_MS: &str = "must be more than 0 ms";
pub(super) const ZERO_COUNT: &str = "must be at least 1";
const NOT_MS: &str = "is not a number of milliseconds";
const NOT_COUNT: &str = "is not a whole number";
const NOT_IP: &str = "is not an IP address";
const NOT_BOOL: &str = "is not true or false";
const BAD_AFFINITY: &str = "must be none, auto or a list of core numbers like 0,1,2";
const BAD_SOCKET_BUFFER: &str = "must be a number of bytes from 65536 to 1073741824";
const BAD_QUEUE_CAPACITY: &str = "must be a number of packets from 64 to 16777216";
const BAD_RETRANSMIT_CACHE: &str = "must be a number of milliseconds from 100 to 10000";
const BAD_RETRANSMIT_SHARE: &str = "must be a percentage from 0 to 100";
const BAD_ALLOWED_IPS: &str =
    "must be a comma-separated list of IP addresses or CIDR ranges like 10.0.0.0/8, ::1";
const BAD_HOOK_URL: &str = "must be an http:// or https:// URL of the backend application";
const BAD_LIMIT: &str = "must be a count from 1 to 1000000";
const BAD_ON_ERROR: &str = "must be FAIL or LOG";
const BAD_ICE_SERVERS: &str =
    "must be a comma-separated list of stun:, stuns:, turn: or turns: URLs like stun:stun.example.com:3478";
const BAD_BITRATE: &str = "must be a bitrate in bits per second from 30000 to 100000000";
const BAD_GRACE_PERIOD: &str = "must be a whole number of seconds from 0 to 86400";

/// An admission limit: a count from 1 to 1,000,000.
fn parse_limit(value: &str) -> Result<usize, &'static str> {
    value
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=1_000_000).contains(n))
        .ok_or(BAD_LIMIT)
}

/// A publisher bitrate bound in bits/s (WCS's `webrtc_cc_*_bitrate` unit).
fn parse_bitrate(value: &str) -> Result<u32, &'static str> {
    value
        .parse::<u32>()
        .ok()
        .filter(|n| (30_000..=100_000_000).contains(n))
        .ok_or(BAD_BITRATE)
}

/// WCS settings (exact names) that rtcdn recognises and ignores with a warning.
const WCS_KEYS: &[&str] = &[
    "ip_local",
    "domain",
    "rtp_bundle",
    "ice_tcp_transport",
    "ice_keep_alive_enabled",
    "rtp_activity_detecting",
    "rtp_activity_audio",
    "rtp_activity_video",
    "global_bandwidth_check_enabled",
    "keep_alive_streaming_sessions_enabled",
    "streaming_video_decoder_fast_start",
    "enable_extended_logging",
    "disable_streaming_proxy",
    "client_acl_enabled",
    "port_speed",
    "server_ping",
];

/// Families of WCS settings (prefixes) that rtcdn recognises and ignores with a warning.
const WCS_PREFIXES: &[&str] = &[
    "wss.",
    "http.",
    "https.",
    "rtmp",
    "rtsp",
    "rtmfp",
    "keep_alive.",
    "codecs_",
    "cdn_",
    "sip_",
    "sip.",
    "hls_",
    "record_",
    "stream_record",
    "webrtc_",
    "jitter_buffer",
    "video_",
    "audio_",
    "transcoding",
    "rest_",
    "ws_",
    "snapshot",
    "mixer_",
    "streaming_",
    "wcs_",
    "ice_",
    "rtp_",
    "rtcp_",
    "dtls_",
    "srtp_",
];

/// Codec names WCS accepts in `codecs` that rtcdn does not forward; listed without a warning.
const WCS_CODECS: &[&str] = &[
    "alaw",
    "ulaw",
    "pcma",
    "pcmu",
    "g729",
    "g722",
    "speex",
    "speex16",
    "speex32",
    "mpeg4-generic",
    "aac",
    "mp3",
    "telephone-event",
    "flv",
    "mpv",
    "h265",
    "red",
    "ulpfec",
    "flexfec",
    "rtx",
    "cn",
    "isac",
];

/// Applies one file's key/value pairs to a [`Config`], collecting warnings and remembering
/// which line set each implemented key (to put `file:line` on later validation errors).
pub(super) struct Loader {
    file: PathBuf,
    defaults: Config,
    lines: HashMap<&'static str, usize>,
    warnings: Vec<ConfigWarning>,
    /// `load_balancing_enabled=true`: read `loadbalancing.xml` in [`Loader::finish`].
    load_balancing: bool,
}

impl Loader {
    pub(super) fn new(file: &Path) -> Self {
        Self {
            file: file.to_path_buf(),
            defaults: Config::default(),
            lines: HashMap::new(),
            warnings: Vec::new(),
            load_balancing: false,
        }
    }

    fn warn(&mut self, line: usize, key: &str, kind: WarningKind) {
        self.warnings.push(ConfigWarning {
            file: self.file.clone(),
            line,
            key: key.to_string(),
            kind,
        });
    }

    fn bad(&self, line: usize, key: &str, value: &str, reason: &str) -> ConfigError {
        ConfigError::BadValue {
            file: self.file.clone(),
            line,
            key: key.to_string(),
            value: value.to_string(),
            reason: reason.to_string(),
        }
    }

    /// Applies `key = value` from `line`. Bad values of implemented keys are errors; anything
    /// else we cannot use is a warning.
    pub(super) fn apply(
        &mut self,
        cfg: &mut Config,
        line: usize,
        key: &str,
        value: &str,
    ) -> Result<(), ConfigError> {
        let Some(key) = IMPLEMENTED.into_iter().find(|k| *k == key) else {
            self.ignore(line, key, value);
            return Ok(());
        };
        if let Some(previous_line) = self.lines.insert(key, line) {
            self.warn(line, key, WarningKind::Duplicate { previous_line });
        }
        let value = value.trim();
        if value.is_empty() {
            self.reset(cfg, line, key);
            return Ok(());
        }
        match key {
            CODECS => cfg.video_codecs = self.codecs(line, value)?,
            WEB_DIR => cfg.web_dir = Some(self.relative(value)),
            TLS_CERTIFICATE => cfg.tls_certificate = Some(self.relative(value)),
            TLS_PRIVATE_KEY => cfg.tls_private_key = Some(self.relative(value)),
            TLS_SELF_SIGNED_DIR => cfg.tls_self_signed_dir = Some(self.relative(value)),
            CDN_RELAY_CA_FILE => cfg.cdn_relay_ca_file = Some(self.relative(value)),
            REST_HOOK_CA_FILE => cfg.rest_hook_ca_file = Some(self.relative(value)),
            LOAD_BALANCING_ENABLED => {
                self.load_balancing =
                    parse_bool(value).ok_or_else(|| self.bad(line, key, value, NOT_BOOL))?;
            }
            CDN_RELAY_SECRET => cfg.cdn_relay_secret = Some(RelaySecret::new(value)),
            REST_API_KEY => cfg.rest_api_key = Some(RelaySecret::new(value)),
            WHIP_TOKEN => cfg.whip_token = Some(RelaySecret::new(value)),
            WHEP_TOKEN => cfg.whep_token = Some(RelaySecret::new(value)),
            ICE_SERVERS_CREDENTIAL => cfg.ice_servers_credential = Some(RelaySecret::new(value)),
            _ => apply_scalar(cfg, key, value)
                .map_err(|reason| self.bad(line, key, value, reason))?,
        }
        Ok(())
    }

    /// A path value, relative to the configuration file's directory unless absolute.
    fn relative(&self, value: &str) -> PathBuf {
        let path = PathBuf::from(value);
        match self.file.parent() {
            Some(base) if path.is_relative() => base.join(path),
            _ => path,
        }
    }

    /// An implemented key with an empty value goes back to its default.
    fn reset(&mut self, cfg: &mut Config, line: usize, key: &'static str) {
        let d = &self.defaults;
        match key {
            IP => cfg.ip = d.ip,
            WS_PORT => cfg.ws_port = d.ws_port,
            WSS_PORT => cfg.wss_port = d.wss_port,
            TLS_CERTIFICATE => cfg.tls_certificate = None,
            TLS_PRIVATE_KEY => cfg.tls_private_key = None,
            TLS_SELF_SIGNED_DIR => cfg.tls_self_signed_dir = None,
            CDN_RELAY_TLS => cfg.cdn_relay_tls = d.cdn_relay_tls,
            CDN_RELAY_CA_FILE => cfg.cdn_relay_ca_file = None,
            REST_HOOK_CA_FILE => cfg.rest_hook_ca_file = None,
            REST_HOOK_TIMEOUT => cfg.rest_hook_timeout = d.rest_hook_timeout,
            REST_HOOK_FAIL_CLOSED => cfg.rest_hook_fail_closed = d.rest_hook_fail_closed,
            REST_HOOK_ON_ERROR => cfg.rest_hook_on_error = d.rest_hook_on_error,
            // An empty URL is the explicit way to say "no hooks".
            REST_HOOK_URL => {
                cfg.rest_hook_url = None;
                return;
            }
            MEDIA_PORT_FROM => cfg.media_port_from = d.media_port_from,
            MEDIA_PORT_TO => cfg.media_port_to = d.media_port_to,
            WORKER_THREADS => cfg.worker_threads = d.worker_threads,
            KEEP_ALIVE_INTERVAL => cfg.keep_alive_interval = d.keep_alive_interval,
            ICE_CONSENT_TIMEOUT => cfg.ice_consent_timeout = d.ice_consent_timeout,
            DTLS_HANDSHAKE_TIMEOUT => cfg.dtls_handshake_timeout = d.dtls_handshake_timeout,
            MAX_HANDSHAKES_PER_WORKER => {
                cfg.max_handshakes_per_worker = d.max_handshakes_per_worker
            }
            KEEP_ALIVE_PROBES => cfg.keep_alive_probes = d.keep_alive_probes,
            WORKER_CPU_AFFINITY => cfg.worker_cpu_affinity = d.worker_cpu_affinity.clone(),
            MEDIA_SOCKET_BUFFER => cfg.media_socket_buffer = d.media_socket_buffer,
            FANOUT_QUEUE_CAPACITY => cfg.fanout_queue_capacity = d.fanout_queue_capacity,
            MEDIA_GSO => cfg.media_gso = d.media_gso,
            RETRANSMIT_CACHE => cfg.retransmit_cache = d.retransmit_cache,
            RETRANSMIT_SHARE => cfg.retransmit_share = d.retransmit_share,
            TRANSPORT_CC => cfg.transport_cc = d.transport_cc,
            REMB => cfg.remb = d.remb,
            WEBRTC_CC_MIN_BITRATE => cfg.webrtc_cc_min_bitrate = d.webrtc_cc_min_bitrate,
            WEBRTC_CC_MAX_BITRATE => cfg.webrtc_cc_max_bitrate = d.webrtc_cc_max_bitrate,
            WEBRTC_CC_START_BITRATE => cfg.webrtc_cc_start_bitrate = d.webrtc_cc_start_bitrate,
            REST_API_ALLOWED_IPS => cfg.rest_api_allowed_ips.clone_from(&d.rest_api_allowed_ips),
            SHUTDOWN_GRACE_PERIOD => cfg.shutdown_grace_period = d.shutdown_grace_period,
            MAX_CONNECTIONS_PER_IP => cfg.max_connections_per_ip = d.max_connections_per_ip,
            MAX_STREAMS_PER_CONNECTION => {
                cfg.max_streams_per_connection = d.max_streams_per_connection
            }
            MAX_PEERS => cfg.max_peers = d.max_peers,
            // An empty list is the explicit way to say "anyone may publish".
            CDN_ALLOWED_IPS => {
                cfg.cdn_allowed_ips = None;
                return;
            }
            CODECS => cfg.video_codecs.clone_from(&d.video_codecs),
            LOAD_BALANCING_ENABLED => self.load_balancing = false,
            // An empty secret is no secret (the rtp relay stays refused).
            CDN_RELAY_SECRET => {
                cfg.cdn_relay_secret = None;
                return;
            }
            // An empty key is no key (the allowed addresses alone protect the REST API).
            REST_API_KEY => {
                cfg.rest_api_key = None;
                return;
            }
            // An empty token is no token (anyone may publish or play over WHIP/WHEP, as over
            // the websocket, unless the REST hooks refuse).
            WHIP_TOKEN => {
                cfg.whip_token = None;
                return;
            }
            WHEP_TOKEN => {
                cfg.whep_token = None;
                return;
            }
            // An empty list is the explicit way to say "no ICE servers to advertise".
            ICE_SERVERS => {
                cfg.ice_servers.clear();
                return;
            }
            ICE_SERVERS_USERNAME => {
                cfg.ice_servers_username = None;
                return;
            }
            ICE_SERVERS_CREDENTIAL => {
                cfg.ice_servers_credential = None;
                return;
            }
            // An empty web_dir is the explicit way to say "embedded pages only".
            WEB_DIR => {
                cfg.web_dir = None;
                return;
            }
            _ => unreachable!("every IMPLEMENTED key has an arm"),
        }
        self.warn(line, key, WarningKind::EmptyValue);
    }

    /// A key we do not apply: a warning that says whether it is a WCS setting or unknown.
    fn ignore(&mut self, line: usize, key: &str, value: &str) {
        if key == KEEP_ALIVE_ALGORITHM {
            // HIGH_LEVEL (JSON ping/pong) is what we do; other algorithms are not implemented.
            let value = value.trim();
            if !value.eq_ignore_ascii_case("HIGH_LEVEL") {
                self.warn(line, key, WarningKind::UnsupportedValue(value.to_string()));
            }
            return;
        }
        let known = WCS_KEYS.contains(&key) || WCS_PREFIXES.iter().any(|p| key.starts_with(p));
        let kind = if known {
            WarningKind::NotImplemented
        } else {
            WarningKind::Unknown
        };
        self.warn(line, key, kind);
    }

    /// Parses a WCS `codecs` list: the video codecs we forward, in the listed order.
    fn codecs(&mut self, line: usize, value: &str) -> Result<Vec<VideoCodec>, ConfigError> {
        let mut video = Vec::new();
        let mut opus = false;
        for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            if let Some(codec) = VideoCodec::from_name(name) {
                if !video.contains(&codec) {
                    video.push(codec);
                }
            } else if name.eq_ignore_ascii_case("opus") {
                opus = true;
            } else if !WCS_CODECS.iter().any(|c| c.eq_ignore_ascii_case(name)) {
                self.warn(line, CODECS, WarningKind::UnknownCodec(name.to_string()));
            }
        }
        if video.is_empty() {
            return Err(self.bad(line, CODECS, value, NO_VIDEO_CODEC));
        }
        if !opus {
            self.warn(line, CODECS, WarningKind::NoOpus);
        }
        Ok(video)
    }

    /// Validates the finished config; an error about a key set in the file gets its line.
    pub(super) fn finish(
        mut self,
        mut cfg: Config,
    ) -> Result<(Config, Vec<ConfigWarning>), ConfigError> {
        if self.load_balancing {
            cfg.load_balancing = Some(self.load_balancing_file()?);
        }
        match cfg.validate() {
            Ok(()) => Ok((cfg, self.warnings)),
            Err(ConfigError::Invalid { key, value, reason }) => {
                // The range check blames worker_threads, but the file may only have narrowed
                // the range: point at whichever of the involved keys the file set.
                let fallbacks: &[&str] = match key {
                    WORKER_THREADS => &[MEDIA_PORT_TO, MEDIA_PORT_FROM],
                    WS_PORT => &[MEDIA_PORT_FROM, WORKER_THREADS],
                    MEDIA_PORT_FROM => &[MEDIA_PORT_TO],
                    CDN_RELAY_SECRET => &[LOAD_BALANCING_ENABLED],
                    TLS_PRIVATE_KEY => &[TLS_CERTIFICATE],
                    TLS_CERTIFICATE => &[TLS_PRIVATE_KEY],
                    WSS_PORT => &[WS_PORT],
                    _ => &[],
                };
                let line = std::iter::once(&key)
                    .chain(fallbacks)
                    .find_map(|k| self.lines.get(k).copied());
                Err(match line {
                    Some(line) => self.bad(line, key, &value, &reason),
                    None => ConfigError::Invalid { key, value, reason },
                })
            }
            Err(e) => Err(e),
        }
    }
}

impl Loader {
    /// Reads the `loadbalancing.xml` next to the properties file; a missing file is an error
    /// on the `load_balancing_enabled` line.
    fn load_balancing_file(&mut self) -> Result<cdn::config::LoadBalancingConfig, ConfigError> {
        let path = match self.file.parent() {
            Some(dir) => dir.join(cdn::config::FILE_NAME),
            None => PathBuf::from(cdn::config::FILE_NAME),
        };
        let text = std::fs::read_to_string(&path).map_err(|e| {
            let line = self.lines.get(LOAD_BALANCING_ENABLED).copied().unwrap_or(0);
            let reason = format!("needs {}: {e}", path.display());
            self.bad(line, LOAD_BALANCING_ENABLED, "true", &reason)
        })?;
        let (lb, warnings) = cdn::config::parse(&path, &text)?;
        self.warnings.extend(warnings);
        Ok(lb)
    }
}

/// A non-zero port number.
fn parse_port(value: &str) -> Result<u16, &'static str> {
    value
        .parse::<u16>()
        .ok()
        .filter(|p| *p != 0)
        .ok_or(NOT_A_PORT)
}

/// A port number, or 0 for "let the OS pick".
fn parse_port_or_any(value: &str) -> Result<u16, &'static str> {
    value.parse::<u16>().map_err(|_| NOT_A_PORT_OR_ANY)
}

/// A positive number of milliseconds.
fn parse_ms(value: &str) -> Result<Duration, &'static str> {
    match value.parse::<u64>() {
        Ok(0) => Err(ZERO_MS),
        Ok(ms) => Ok(Duration::from_millis(ms)),
        Err(_) => Err(NOT_MS),
    }
}

/// Parses and stores one single-valued key; the error is the reason text.
fn apply_scalar(cfg: &mut Config, key: &str, value: &str) -> Result<(), &'static str> {
    match key {
        IP => cfg.ip = value.parse::<IpAddr>().map_err(|_| NOT_IP)?,
        WS_PORT => cfg.ws_port = parse_port_or_any(value)?,
        WSS_PORT => cfg.wss_port = Some(parse_port_or_any(value)?),
        MEDIA_PORT_FROM => cfg.media_port_from = parse_port_or_any(value)?,
        MEDIA_PORT_TO => cfg.media_port_to = parse_port(value)?,
        WORKER_THREADS => {
            cfg.worker_threads = value
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_WORKER_THREADS).contains(n))
                .ok_or(BAD_WORKER_THREADS)?;
        }
        KEEP_ALIVE_INTERVAL => cfg.keep_alive_interval = parse_ms(value)?,
        ICE_CONSENT_TIMEOUT => cfg.ice_consent_timeout = parse_ms(value)?,
        DTLS_HANDSHAKE_TIMEOUT => cfg.dtls_handshake_timeout = parse_ms(value)?,
        MAX_HANDSHAKES_PER_WORKER => cfg.max_handshakes_per_worker = parse_limit(value)?,
        KEEP_ALIVE_PROBES => {
            cfg.keep_alive_probes = match value.parse::<u32>() {
                Ok(0) => return Err(ZERO_COUNT),
                Ok(n) => n,
                Err(_) => return Err(NOT_COUNT),
            };
        }
        WORKER_CPU_AFFINITY => cfg.worker_cpu_affinity = parse_affinity(value)?,
        MEDIA_GSO => cfg.media_gso = parse_bool(value).ok_or(NOT_BOOL)?,
        TRANSPORT_CC => cfg.transport_cc = parse_bool(value).ok_or(NOT_BOOL)?,
        REMB => cfg.remb = parse_bool(value).ok_or(NOT_BOOL)?,
        CDN_RELAY_TLS => cfg.cdn_relay_tls = parse_bool(value).ok_or(NOT_BOOL)?,
        WEBRTC_CC_MIN_BITRATE => cfg.webrtc_cc_min_bitrate = Some(parse_bitrate(value)?),
        WEBRTC_CC_MAX_BITRATE => cfg.webrtc_cc_max_bitrate = Some(parse_bitrate(value)?),
        WEBRTC_CC_START_BITRATE => {
            // 0: the browser's own start (Chrome's 300 kbit/s).
            cfg.webrtc_cc_start_bitrate = match value.trim() {
                "0" => None,
                v => Some(parse_bitrate(v)?),
            }
        }
        REST_API_ALLOWED_IPS => cfg.rest_api_allowed_ips = parse_allowed_ips(value)?,
        REST_HOOK_URL => {
            // By bytes: a value may have a multi-byte character where the scheme would end.
            let scheme_ok = ["http://", "https://"].iter().any(|p| {
                value.len() > p.len()
                    && value.as_bytes()[..p.len()].eq_ignore_ascii_case(p.as_bytes())
            });
            if !scheme_ok || value.contains(char::is_whitespace) {
                return Err(BAD_HOOK_URL);
            }
            cfg.rest_hook_url = Some(value.to_owned());
        }
        REST_HOOK_TIMEOUT => cfg.rest_hook_timeout = parse_ms(value)?,
        REST_HOOK_FAIL_CLOSED => cfg.rest_hook_fail_closed = parse_bool(value).ok_or(NOT_BOOL)?,
        REST_HOOK_ON_ERROR => cfg.rest_hook_on_error = OnError::parse(value).ok_or(BAD_ON_ERROR)?,
        MEDIA_SOCKET_BUFFER => {
            cfg.media_socket_buffer = value
                .parse::<usize>()
                .ok()
                .filter(|n| (64 * 1024..=1024 * 1024 * 1024).contains(n))
                .ok_or(BAD_SOCKET_BUFFER)?;
        }
        FANOUT_QUEUE_CAPACITY => {
            cfg.fanout_queue_capacity = value
                .parse::<usize>()
                .ok()
                .filter(|n| (64..=16 * 1024 * 1024).contains(n))
                .ok_or(BAD_QUEUE_CAPACITY)?;
        }
        RETRANSMIT_CACHE => {
            cfg.retransmit_cache = value
                .parse::<u64>()
                .ok()
                .filter(|n| (100..=10_000).contains(n))
                .map(Duration::from_millis)
                .ok_or(BAD_RETRANSMIT_CACHE)?;
        }
        MAX_CONNECTIONS_PER_IP => cfg.max_connections_per_ip = parse_limit(value)?,
        MAX_STREAMS_PER_CONNECTION => cfg.max_streams_per_connection = parse_limit(value)?,
        MAX_PEERS => cfg.max_peers = parse_limit(value)?,
        CDN_ALLOWED_IPS => cfg.cdn_allowed_ips = Some(parse_allowed_ips(value)?),
        ICE_SERVERS => cfg.ice_servers = parse_ice_servers(value)?,
        ICE_SERVERS_USERNAME => cfg.ice_servers_username = Some(value.to_owned()),
        SHUTDOWN_GRACE_PERIOD => {
            cfg.shutdown_grace_period = value
                .parse::<u64>()
                .ok()
                .filter(|s| *s <= 86_400)
                .map(Duration::from_secs)
                .ok_or(BAD_GRACE_PERIOD)?;
        }
        RETRANSMIT_SHARE => {
            cfg.retransmit_share = value
                .parse::<u8>()
                .ok()
                .filter(|n| *n <= 100)
                .ok_or(BAD_RETRANSMIT_SHARE)?;
        }
        _ => unreachable!("apply() routes only single-valued IMPLEMENTED keys here"),
    }
    Ok(())
}

/// A comma-separated list of ICE server URLs (RFC 7064/7065 schemes; at least one; blanks
/// between commas are skipped). Their text goes into `Link` headers, so it may not hold the
/// characters that would end the URL there.
fn parse_ice_servers(value: &str) -> Result<Vec<String>, &'static str> {
    let urls: Vec<String> = value
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(str::to_owned)
        .collect();
    let valid = |u: &String| {
        let lower = u.to_ascii_lowercase();
        ["stun:", "stuns:", "turn:", "turns:"]
            .iter()
            .any(|s| lower.starts_with(s) && lower.len() > s.len())
            && u.chars()
                .all(|c| c.is_ascii_graphic() && !matches!(c, '<' | '>' | '"' | ',' | ';' | '\\'))
    };
    if urls.is_empty() || !urls.iter().all(valid) {
        return Err(BAD_ICE_SERVERS);
    }
    Ok(urls)
}

/// A comma-separated list of addresses and CIDR ranges (at least one; blanks between commas
/// are skipped).
fn parse_allowed_ips(value: &str) -> Result<Vec<IpNet>, &'static str> {
    let nets = value
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(IpNet::parse)
        .collect::<Option<Vec<_>>>()
        .ok_or(BAD_ALLOWED_IPS)?;
    if nets.is_empty() {
        return Err(BAD_ALLOWED_IPS);
    }
    Ok(nets)
}

/// `none`, `auto`, or a comma-separated list of core numbers.
fn parse_affinity(value: &str) -> Result<CpuAffinity, &'static str> {
    if value.eq_ignore_ascii_case("none") {
        return Ok(CpuAffinity::None);
    }
    if value.eq_ignore_ascii_case("auto") {
        return Ok(CpuAffinity::Auto);
    }
    let cores = value
        .split(',')
        .map(|c| c.trim().parse::<usize>().ok().filter(|&c| c < 1024))
        .collect::<Option<Vec<_>>>()
        .ok_or(BAD_AFFINITY)?;
    Ok(CpuAffinity::Cores(cores))
}
