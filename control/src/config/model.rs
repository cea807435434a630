//! The configuration values: [`Config`] with its defaults, [`VideoCodec`] and [`RelaySecret`].
//! A leaf of the config module: loading ([`super`]) and the per-key rules (`keys`) build on it,
//! so it must not import them.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

use super::cidr::IpNet;
use crate::cdn::config::LoadBalancingConfig;
use crate::hooks::OnError;

/// The file [`Config::load`] reads inside the configuration directory.
pub const FILE_NAME: &str = "flashphoner.properties";

/// Upper bound of `worker_threads`.
pub const MAX_WORKER_THREADS: usize = 256;

/// `shutdown_grace_period` when the file does not set it.
pub const DEFAULT_SHUTDOWN_GRACE_PERIOD: Duration = Duration::from_secs(30);

/// Where a publisher's congestion control starts by default, bits/s (`webrtc_cc_start_bitrate`).
pub const DEFAULT_START_BITRATE: u32 = 800_000;

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
    /// `wss.port`: the same over TLS, `wss` signalling and `https` (default 8443; `None`:
    /// 8443, or an ephemeral port when `ws.port` is 0, so that test nodes do not collide).
    pub wss_port: Option<u16>,
    /// `tls_certificate` / `tls_private_key`: PEM files of the TLS certificate chain and its
    /// key (relative to the configuration directory); unset, a self-signed certificate is
    /// generated for development.
    pub tls_certificate: Option<PathBuf>,
    pub tls_private_key: Option<PathBuf>,
    /// `tls_self_signed_dir`: where the self-signed certificate is generated and kept when
    /// the two keys above are unset (relative to the configuration directory); unset,
    /// `<config dir>/tls` (the system's temporary directory without a configuration
    /// directory). A packaged node points it at its state directory, since it may not write
    /// to `/etc`.
    pub tls_self_signed_dir: Option<PathBuf>,
    /// The directory the configuration was read from (where a generated certificate is kept).
    pub config_dir: Option<PathBuf>,
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
    /// `dtls_handshake_timeout`: close a peer whose DTLS handshake has not completed this long
    /// after ICE selected its path (default 5 s).
    pub dtls_handshake_timeout: Duration,
    /// `max_handshakes_per_worker`: DTLS handshakes each worker serves at once (default 256).
    pub max_handshakes_per_worker: usize,
    /// `web_dir`: serve files from this directory before the embedded demo pages (default none).
    pub web_dir: Option<PathBuf>,
    /// `load_balancing_enabled=true`: this node is a CDN origin with the edges of
    /// `<config dir>/loadbalancing.xml` (default none: a single node or an edge).
    pub load_balancing: Option<LoadBalancingConfig>,
    /// `cdn_relay_secret`: the secret both ends of an `rtp` relay must share, which also seals
    /// the WHEP redirect tickets when there is no `whep_token` (default none).
    pub cdn_relay_secret: Option<RelaySecret>,
    /// `cdn_relay_tls`: an origin's relay legs signal to each edge over `wss://` on its
    /// `<wss>` port, verifying its certificate (default false: `ws://` on `<ws>`).
    pub cdn_relay_tls: bool,
    /// `cdn_relay_ca_file`: PEM certificates that edges' certificates must chain to (default
    /// none: the system's trusted roots).
    pub cdn_relay_ca_file: Option<PathBuf>,
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
    /// `transport_cc`: answer transport-wide congestion feedback to publishers that offer it
    /// (default true; off, their browsers estimate from receiver reports alone).
    pub transport_cc: bool,
    /// `remb`: answer REMB (`goog-remb`) to publishers without transport-wide congestion
    /// feedback that offer it with the abs-send-time extension, and send it from the node's
    /// receive-side estimate (default true; off, as `transport_cc=false` before: receiver
    /// reports alone).
    pub remb: bool,
    /// `webrtc_cc_min_bitrate` / `webrtc_cc_max_bitrate` (WCS's keys, bits/s): the least and
    /// the most video bitrate a publisher's congestion control may choose (unset: the
    /// browser's own bounds).
    pub webrtc_cc_min_bitrate: Option<u32>,
    pub webrtc_cc_max_bitrate: Option<u32>,
    /// `webrtc_cc_start_bitrate` (bits/s; default 800000, 0: unset): where a publisher's
    /// congestion control starts (Chrome's `x-google-start-bitrate`). Chrome starts at
    /// 300 kbit/s otherwise, and its encoder then sends 1280x720 as 320x180 and scales up over
    /// some 15 s.
    pub webrtc_cc_start_bitrate: Option<u32>,
    /// `retransmit_cache`: how long forwarded video stays in each worker's retransmission
    /// cache to answer viewers' NACKs (default 1000 ms).
    pub retransmit_cache: Duration,
    /// `retransmit_share`: retransmissions to a viewer may add at most this percentage of the
    /// bytes forwarded to it (default 50; 0 answers no NACK).
    pub retransmit_share: u8,
    /// `rest_api_key`: the key a `/rest-api/` request must present (`X-Api-Key: <key>` or
    /// `Authorization: Bearer <key>`); default none (no key asked).
    pub rest_api_key: Option<RelaySecret>,
    /// `rest_api_allowed_ips`: the client addresses `/rest-api/` answers (addresses or CIDR
    /// ranges); default 127.0.0.1 and ::1.
    pub rest_api_allowed_ips: Vec<IpNet>,
    /// `rest_hook_url`: the backend application the REST hooks call (`<url>/connect`,
    /// `<url>/publishStream`, ...); default none (no hooks: every client is allowed).
    pub rest_hook_url: Option<String>,
    /// `rest_hook_timeout`: how long one hook call may take, in ms (default 3000).
    pub rest_hook_timeout: Duration,
    /// `rest_hook_fail_closed`: refuse the client's call when the backend is unreachable,
    /// times out or answers 5xx (default true); false lets it through.
    pub rest_hook_fail_closed: bool,
    /// `rest_hook_on_error`: what a 4xx answer to `publishStream`/`playStream` does unless the
    /// backend's `restClientConfig` says: `FAIL` refuses (default), `LOG` only logs (WCS's
    /// default). A refused `connect` always fails the session.
    pub rest_hook_on_error: OnError,
    /// `rest_hook_ca_file`: CA certificates (PEM) an https backend is verified against
    /// instead of the system's roots.
    pub rest_hook_ca_file: Option<PathBuf>,
    /// `shutdown_grace_period` (seconds): how long a draining node (SIGTERM) waits for its
    /// sessions to end before it stops them (default 30; 0 stops them at once).
    pub shutdown_grace_period: Duration,
    /// `max_connections_per_ip`: websocket connections one client address may hold (default
    /// 1000); more are refused with a `fail`.
    pub max_connections_per_ip: usize,
    /// `max_streams_per_connection`: publishes and plays one connection may have at once
    /// (default 32).
    pub max_streams_per_connection: usize,
    /// `max_peers`: publishers and players the node takes at once (default 10000).
    pub max_peers: usize,
    /// `cdn_allowed_ips`: on an edge, the only addresses that may publish (its origins), so
    /// that nobody else can take a name the CDN relays; default none (anyone may publish).
    pub cdn_allowed_ips: Option<Vec<IpNet>>,
    /// `whip_token`: the bearer token a WHIP publish must present (`Authorization: Bearer
    /// <token>`); default none.
    pub whip_token: Option<RelaySecret>,
    /// `whep_token`: the bearer token a WHEP play must present; default none.
    pub whep_token: Option<RelaySecret>,
    /// `ice_servers`: STUN/TURN URLs offered to WHIP/WHEP clients in `Link` headers; default
    /// none (the node is ICE-lite with a public host candidate and needs none itself).
    pub ice_servers: Vec<String>,
    /// `ice_servers_username`: the `username` of the `turn:`/`turns:` links.
    pub ice_servers_username: Option<String>,
    /// `ice_servers_credential`: the `credential` of the `turn:`/`turns:` links.
    pub ice_servers_credential: Option<RelaySecret>,
}

/// A shared secret that never shows in logs or `Debug` output (`cdn_relay_secret`,
/// `rest_api_key`).
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
            dtls_handshake_timeout: dataplane::DataplaneConfig::default().dtls_handshake_timeout,
            max_handshakes_per_worker: dataplane::DataplaneConfig::default()
                .max_handshakes_per_worker,
            web_dir: None,
            wss_port: None,
            tls_certificate: None,
            tls_private_key: None,
            tls_self_signed_dir: None,
            config_dir: None,
            load_balancing: None,
            cdn_relay_secret: None,
            cdn_relay_tls: false,
            cdn_relay_ca_file: None,
            worker_cpu_affinity: dataplane::CpuAffinity::None,
            media_socket_buffer: dataplane::DataplaneConfig::default().socket_buffer,
            fanout_queue_capacity: dataplane::DataplaneConfig::default().mailbox_capacity,
            media_gso: dataplane::DataplaneConfig::default().gso,
            transport_cc: true,
            remb: true,
            webrtc_cc_min_bitrate: None,
            webrtc_cc_start_bitrate: Some(DEFAULT_START_BITRATE),
            webrtc_cc_max_bitrate: None,
            retransmit_cache: dataplane::DataplaneConfig::default().retransmit_cache,
            retransmit_share: (dataplane::DataplaneConfig::default().retransmit_share * 100.0)
                .round() as u8,
            rest_api_key: None,
            rest_api_allowed_ips: ["127.0.0.1", "::1"]
                .into_iter()
                .filter_map(IpNet::parse)
                .collect(),
            rest_hook_url: None,
            rest_hook_timeout: Duration::from_millis(3000),
            rest_hook_fail_closed: true,
            rest_hook_on_error: OnError::Fail,
            rest_hook_ca_file: None,
            shutdown_grace_period: DEFAULT_SHUTDOWN_GRACE_PERIOD,
            max_connections_per_ip: 1000,
            max_streams_per_connection: 32,
            max_peers: 10_000,
            cdn_allowed_ips: None,
            whip_token: None,
            whep_token: None,
            ice_servers: Vec::new(),
            ice_servers_username: None,
            ice_servers_credential: None,
        }
    }
}
