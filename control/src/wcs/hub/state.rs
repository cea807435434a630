//! The hub's state: [`Hub`] and the records it keeps (connections, sessions, streams,
//! workers), plus the types the glue sees ([`ConnId`], [`Output`], [`HubStats`]).
//!
//! A leaf of the hub module: the behaviour lives in the parent (messages, timers, events),
//! `streams` (publish/play/stop) and `relay` (the origin → edge relay hooks), which all build on
//! these types; this file must not import them.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use dataplane::api::{Fingerprint, PeerId, StreamId, WorkerHandle, WorkerId};

use crate::cdn::relay::{RelayConnId, Relays};
use crate::config::{RelaySecret, VideoCodec};
use crate::counters::HubCounters;
use crate::hooks::{HookCallId, HookRequest, OnError, RestClientConfig};
use crate::sdp::PublishedMedia;
use crate::wcs::messages::{ServerMessage, StreamRequest};

/// Longest accepted stream name and mediaSessionId, in characters.
pub const MAX_NAME_LEN: usize = 256;
/// `sendStreamEvent` types relayed to players.
pub(super) const RELAYED_EVENTS: [&str; 5] = [
    "data",
    "audioMuted",
    "audioUnmuted",
    "videoMuted",
    "videoUnmuted",
];

/// One websocket connection, allocated by the glue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// What the glue must do after feeding the hub.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// Write this message as a text frame on the connection.
    Send(ConnId, ServerMessage),
    /// Close the connection (keep-alive expired). Its streams are already cleaned up.
    Close(ConnId),
    /// Open a relay websocket client to an edge (origin role); report it with
    /// [`Hub::relay_opened`], [`Hub::relay_text`] and [`Hub::relay_closed`].
    RelayConnect {
        /// The relay connection.
        conn: RelayConnId,
        /// `ws://<edge>:<port>/`.
        url: String,
    },
    /// Write this text frame on the relay connection.
    RelaySend(RelayConnId, String),
    /// Close the relay connection (the hub already forgot it).
    RelayClose(RelayConnId),
    /// Call the REST hook backend; report the answer with [`Hub::hook_done`].
    Hook(HookRequest),
    /// Close the connection after its session was refused, with this reason (the `fail`
    /// message saying so is already queued).
    Refuse(ConnId, String),
}

/// Counters for `/health`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HubStats {
    /// Open websocket connections.
    pub connections: usize,
    /// Published streams.
    pub streams: usize,
    /// Peer connections (publishers plus players).
    pub peers: usize,
    /// Peer connections that play a stream.
    pub players: usize,
    /// Peers whose ICE+DTLS completed.
    pub connected_peers: usize,
}

pub(super) struct Conn {
    pub(super) client: SocketAddr,
    pub(super) server: SocketAddr,
    pub(super) sessions: HashSet<String>,
    pub(super) next_ping: Option<Instant>,
    pub(super) unanswered: u32,
    /// Where the session stands with the REST hooks.
    pub(super) auth: Auth,
    /// Publishes and plays waiting for the backend's verdict, by mediaSessionId.
    pub(super) pending_streams: HashMap<String, HookCallId>,
    /// Whether it counts against its address's `max_connections_per_ip`.
    pub(super) counted: bool,
}

/// A connection's session as the REST hooks see it.
#[derive(Clone, Debug, Default)]
pub(super) enum Auth {
    /// No `connection` yet (or hooks off and none needed).
    #[default]
    None,
    /// `connect` is with the backend.
    Pending(HookCallId),
    /// `connect` allowed (or hooks off): the session's application and settings.
    Established {
        /// The `appKey` the client gave (`defaultApp` when none).
        app_key: String,
        /// The backend's `restClientConfig` (defaults when hooks are off).
        rest: RestClientConfig,
    },
}

/// The REST hooks of this node: the policy and the calls waiting for an answer.
pub(super) struct Hooks {
    /// `rest_hook_fail_closed`.
    pub(super) fail_closed: bool,
    /// `rest_hook_on_error`.
    pub(super) on_error: OnError,
    /// The `nodeId` every call carries.
    pub(super) node_id: String,
    /// Calls the hub waits for.
    pub(super) pending: HashMap<HookCallId, PendingCall>,
    pub(super) next_call: u64,
}

/// What a pending hook call decides.
pub(super) enum PendingCall {
    /// A `connection`: its session object.
    Connect {
        conn: ConnId,
        object: serde_json::Map<String, serde_json::Value>,
    },
    /// A `publishStream` (`published`) or `playStream`.
    Stream {
        conn: ConnId,
        req: StreamRequest,
        published: bool,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Role {
    Publisher,
    Player,
}

/// The latest `Event::ViewerStats` of a player, for `/health`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct ViewerSample {
    pub(super) sending_bps: u64,
    pub(super) estimate_bps: Option<u64>,
    /// Index into the publisher's layers; `None` without simulcast.
    pub(super) layer: Option<u8>,
    pub(super) video_paused: bool,
}

pub(super) struct Session {
    pub(super) conn: ConnId,
    pub(super) peer: PeerId,
    pub(super) worker: WorkerId,
    pub(super) stream: StreamId,
    pub(super) name: String,
    pub(super) role: Role,
    pub(super) has_audio: bool,
    pub(super) has_video: bool,
    pub(super) connected: bool,
    /// When its peer was added (the hub's latest input time then), for the handshake time.
    pub(super) added: Option<Instant>,
    /// A player's latest sending state from its worker (`None` until the first report).
    pub(super) viewer: Option<ViewerSample>,
    /// A publisher's video as its worker last reported receiving it, bits/s (`None` until the
    /// first report).
    pub(super) received_video_bps: Option<u64>,
}

pub(super) struct Stream {
    pub(super) publisher: String,
    pub(super) worker: WorkerId,
    pub(super) media: PublishedMedia,
    pub(super) players: HashSet<String>,
    /// Players per worker; a key exists exactly while that worker is a fanout target.
    pub(super) fanout: HashMap<WorkerId, usize>,
}

pub(super) struct Worker {
    pub(super) handle: WorkerHandle,
    pub(super) peers: usize,
}

/// The drain before the node stops (SIGTERM); the behaviour is in `drain`.
#[derive(Default)]
pub(super) struct DrainState {
    /// New publishes and plays are refused.
    pub(super) draining: bool,
    /// Connections that introduced themselves as an origin's relay leg (`custom.rtcdnRelay`).
    pub(super) relay_conns: HashSet<ConnId>,
}

/// The sans-IO signalling state machine of one node. Drain order after each input:
/// [`Hub::poll_output`] until `None`, then re-arm the timer with [`Hub::poll_timeout`].
pub struct Hub {
    pub(super) workers: Vec<Worker>,
    pub(super) round_robin: usize,
    pub(super) fingerprint: Fingerprint,
    pub(super) video_codecs: Vec<VideoCodec>,
    /// What publishers' answers allow (`transport_cc`, `webrtc_cc_min/max_bitrate`).
    pub(super) publish_policy: crate::sdp::PublishPolicy,
    pub(super) ping_interval: Option<Duration>,
    pub(super) probes: u32,
    pub(super) conns: HashMap<ConnId, Conn>,
    pub(super) sessions: HashMap<String, Session>,
    pub(super) peers: HashMap<PeerId, String>,
    pub(super) streams: HashMap<StreamId, Stream>,
    pub(super) names: HashMap<String, StreamId>,
    pub(super) pings: BTreeSet<(Instant, ConnId)>,
    pub(super) next_peer: u64,
    pub(super) next_stream: u64,
    pub(super) out: VecDeque<Output>,
    /// Origin → edge relay legs (no nodes: not an origin).
    pub(super) relays: Relays,
    /// Relay peers started on workers: their worker and stream.
    pub(super) relay_peers: HashMap<PeerId, (WorkerId, StreamId)>,
    /// `cdn_relay_secret`: an origin's rtp relay publishes only if it presents this.
    pub(super) relay_secret: Option<RelaySecret>,
    /// The time of the latest input, for work deferred to [`Hub::poll_output`].
    pub(super) now: Option<Instant>,
    /// Signalling connections and handshakes, for `/metrics`.
    pub(super) counters: HubCounters,
    /// The REST hooks (`rest_hook_url` set); `None` lets every client in.
    pub(super) hooks: Option<Hooks>,
    /// Draining before the node stops.
    pub(super) drain: DrainState,
    /// `cdn_allowed_ips`: who may publish here (an edge's origins); `None`: anyone.
    pub(super) publishers_from: Option<Vec<crate::config::IpNet>>,
    /// The admission limits and their counters.
    pub(super) admission: super::admission::Admission,
}

/// What the hub reports for a scrape.
#[derive(Clone, Debug, Default)]
pub struct HubMetrics {
    /// The hub's gauges.
    pub stats: HubStats,
    /// Origin → edge relay legs whose edge publishes the stream.
    pub relay_legs: usize,
    /// The hub's live counters.
    pub counters: HubCounters,
}
