//! The origin → edge relay over WebRTC (`stream_distribution="webrtc"`), signalling half.
//!
//! [`Relays`] is a sans-IO state machine with one *leg* per (published stream, edge node): it
//! speaks the WCS client protocol to the edge (`connection`, `publishStream` with our offer,
//! `unPublishStream`; the frames come from [`crate::wcs::client`]) through websocket
//! connections the glue opens for it, and asks the hub to
//! start and stop the leg's `PeerRole::Relay` peer. A leg that fails (edge unreachable,
//! websocket closed, `FAILED` from the edge, the relay peer closed by its worker, no answer in
//! time) is torn down and retried with exponential backoff for as long as the stream is
//! published; legs are independent of each other and of the origin's own sessions. The
//! leg's SDP (`offer`) negotiates NACK and RTX on the video like a browser publisher would, so
//! the edge NACKs the origin over the leg and the origin retransmits from its cache with RTX.
//!
//! With `stream_distribution="rtp"` ([`Relays::with_plain`]) the signalling is the same, but
//! the `publishStream` also carries `custom.rtcdnRelay = {distribution: "rtp", secret, source}`
//! and the leg's peer is plain RTP (no ICE/DTLS/SRTP; the SDP only fixes codecs, PTs and
//! SSRCs). So that `source` (the address the origin sends from) is known before signalling,
//! each attempt binds its leg's UDP socket up front (port 0 on the media IP) and hands it to
//! the worker with the peer ([`RelayPeer::plain`]): one 5-tuple per leg.
//!
//! The list of edges can change while streams are live ([`Relays::reload_nodes`], SIGHUP): legs
//! to a removed edge are unpublished and closed, every live stream gets a leg to a new edge at
//! once, legs to unchanged edges are left alone. Legs are keyed by a node *slot* that is never
//! reused, so that a removed edge's late events find nothing.
//!
//! Apart from that bind, it must not touch sockets, the clock (time comes with every input) or
//! the workers: the hub turns [`RelayOutput::AddPeer`]/[`RelayOutput::RemovePeer`] into worker
//! commands and the glue ([`super::relay_socket`]) runs the websockets.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dataplane::api::{Fingerprint, PeerId, PeerSpec, StreamId, TrackSpec, WorkerId};
use serde_json::json;

use super::config::NodeConfig;
use crate::config::RelaySecret;
use crate::sdp::{self, OfferSpec, PublishedMedia};
use crate::wcs::client::{self, Hello, ServerEvent, StreamDesc, StreamStatusEvent};

mod offer;
mod reload;

pub use offer::AnswerError;
use offer::{answered_tracks, relay_offer};

/// Delay before the first retry of a failed leg.
pub const BACKOFF_INITIAL: Duration = Duration::from_millis(500);
/// Longest delay between retries.
pub const BACKOFF_MAX: Duration = Duration::from_secs(10);
/// A leg that stayed published this long starts over at [`BACKOFF_INITIAL`] when it fails.
pub const STABLE_AFTER: Duration = Duration::from_secs(10);
/// How long the edge may take from our connect to its `PUBLISHING`.
pub const SIGNALLING_TIMEOUT: Duration = Duration::from_secs(10);
/// Relay peers are numbered from here so they never collide with the hub's peers.
const RELAY_PEER_BASE: u64 = 1 << 63;

/// One websocket connection attempt of a leg, allocated here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RelayConnId(pub u64);

/// Whether `peer` was allocated by [`Relays`] (a relay leg's peer).
pub fn is_relay_peer(peer: PeerId) -> bool {
    peer.0 >= RELAY_PEER_BASE
}

/// A relay peer to start, everything but the source worker (the hub knows it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelayPeer {
    /// The peer id to use.
    pub id: PeerId,
    /// The stream it sends.
    pub stream: StreamId,
    /// The edge's ICE-lite candidate.
    pub remote: SocketAddr,
    /// Our offer's ICE ufrag.
    pub local_ufrag: String,
    /// Our offer's ICE password.
    pub local_pwd: String,
    /// The edge's ICE ufrag.
    pub remote_ufrag: String,
    /// The edge's ICE password.
    pub remote_pwd: String,
    /// The edge's certificate fingerprint.
    pub remote_fingerprint: Fingerprint,
    /// What we send: our payload types and SSRCs, the extensions the edge accepted.
    pub tracks: Vec<TrackSpec>,
    /// `rtp` distribution: the leg's socket, bound before signalling (its address was
    /// announced as the source); the peer is then started with `Command::AddPlainPeer`.
    pub plain: Option<LegSocket>,
}

/// A plain relay leg's bound UDP socket, shared until the hub hands a handle to the worker.
/// Equal only to itself.
#[derive(Clone, Debug)]
pub struct LegSocket(pub Arc<UdpSocket>);

impl PartialEq for LegSocket {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for LegSocket {}

/// What a `stream_distribution="rtp"` origin needs: where to bind leg sockets and the secret
/// the edges must share.
#[derive(Clone, Debug)]
struct PlainMode {
    ip: IpAddr,
    secret: RelaySecret,
}

impl RelayPeer {
    /// The worker command payload, with the publisher's worker `source`.
    pub fn into_spec(self, source: WorkerId) -> PeerSpec {
        PeerSpec {
            layer_choice: Default::default(),
            id: self.id,
            role: dataplane::api::PeerRole::Relay {
                stream: self.stream,
                source,
                remote: self.remote,
            },
            local_ufrag: self.local_ufrag,
            local_pwd: self.local_pwd,
            remote_ufrag: self.remote_ufrag,
            remote_pwd: self.remote_pwd,
            remote_fingerprint: self.remote_fingerprint,
            tracks: self.tracks,
        }
    }
}

/// A plain leg's socket: port 0 on the media IP.
fn bind_leg_socket(ip: IpAddr) -> std::io::Result<(LegSocket, SocketAddr)> {
    let socket = UdpSocket::bind(SocketAddr::new(ip, 0))?;
    let addr = socket.local_addr()?;
    Ok((LegSocket(Arc::new(socket)), addr))
}

/// What the hub and the glue must do for the relay.
#[derive(Clone, Debug, PartialEq)]
pub enum RelayOutput {
    /// Open a websocket client to `url`; report it with [`Relays::handle_open`] /
    /// [`Relays::handle_text`] / [`Relays::handle_closed`].
    Connect { conn: RelayConnId, url: String },
    /// Write a text frame.
    Send { conn: RelayConnId, text: String },
    /// Close the websocket (no [`Relays::handle_closed`] is needed afterwards).
    Close { conn: RelayConnId },
    /// Start this relay peer on a worker; if that is impossible call [`Relays::peer_closed`].
    AddPeer(Box<RelayPeer>),
    /// Stop a relay peer the worker still runs (fan-out bookkeeping included).
    RemovePeer { peer: PeerId },
}

/// One live relay leg for `/rest-api/cdn/show_routes`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelayRoute {
    /// `<nodeId>-<ip>-<streamName>`.
    pub id: String,
    /// The stream name.
    pub stream: String,
    /// The edge node's id.
    pub node_id: String,
    /// The edge node's address.
    pub node_ip: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Waiting for the websocket to open.
    Connecting,
    /// `connection` sent, waiting for `getUserData`.
    UserData,
    /// `publishStream` sent, waiting for `setRemoteSDP`.
    Answer,
    /// Peer started, waiting for `PUBLISHING`.
    Status,
    /// The edge publishes the stream.
    Publishing { since: Instant },
}

struct Attempt {
    conn: RelayConnId,
    phase: Phase,
    deadline: Instant,
    media_session_id: String,
    offer: OfferSpec,
    peer: Option<PeerId>,
    /// `rtp` distribution: the leg socket and its address (the announced source).
    plain: Option<(LegSocket, SocketAddr)>,
}

impl Attempt {
    /// The leg's stream as the WCS messages about it name it.
    fn stream_desc<'a>(&'a self, name: &'a str) -> StreamDesc<'a> {
        StreamDesc {
            media_session_id: &self.media_session_id,
            name,
            has_audio: self.offer.audio.is_some(),
            has_video: self.offer.video.is_some(),
        }
    }
}

enum LegState {
    Waiting { until: Instant },
    Active(Box<Attempt>),
}

struct Leg {
    backoff: Duration,
    state: LegState,
}

struct StreamInfo {
    name: String,
    media: PublishedMedia,
    /// One leg per node, by the node's slot in `Relays::nodes`.
    legs: BTreeMap<NodeSlot, Leg>,
}

/// A node's place in [`Relays`]: given when the node is added, never reused.
type NodeSlot = usize;

type LegKey = (StreamId, NodeSlot);

/// Every relay leg of this origin. Drain [`Relays::poll_output`] after each input and re-arm
/// the timer with [`Relays::poll_timeout`].
pub struct Relays {
    nodes: BTreeMap<NodeSlot, NodeConfig>,
    /// The slot the next added node gets.
    next_slot: NodeSlot,
    fingerprint: Fingerprint,
    plain: Option<PlainMode>,
    /// Signalling to edges over `wss://` on their `<wss>` port.
    tls: bool,
    streams: HashMap<StreamId, StreamInfo>,
    conns: HashMap<RelayConnId, LegKey>,
    peers: HashMap<PeerId, LegKey>,
    next_conn: u64,
    next_peer: u64,
    out: VecDeque<RelayOutput>,
}

/// The edge's signalling URL: `ws://<ip>:<ws>/`, or `wss://<ip>:<wss>/` over TLS.
fn ws_url(node: &NodeConfig, tls: bool) -> String {
    match tls {
        true => format!("wss://{}:{}/", node.url_host(), node.wss),
        false => format!("ws://{}:{}/", node.url_host(), node.ws),
    }
}

impl Relays {
    /// Relays to `nodes` (an empty list relays nothing), offering with our DTLS `fingerprint`.
    pub fn new(nodes: Vec<NodeConfig>, fingerprint: Fingerprint) -> Self {
        Self {
            next_slot: nodes.len(),
            nodes: nodes.into_iter().enumerate().collect(),
            fingerprint,
            plain: None,
            tls: false,
            streams: HashMap::new(),
            conns: HashMap::new(),
            peers: HashMap::new(),
            next_conn: 1,
            next_peer: RELAY_PEER_BASE,
            out: VecDeque::new(),
        }
    }

    /// Relays with `stream_distribution="rtp"`: plain legs bound on `ip`, announced to the
    /// edges with `secret`.
    #[must_use]
    pub fn with_plain(mut self, ip: IpAddr, secret: RelaySecret) -> Self {
        self.plain = Some(PlainMode { ip, secret });
        self
    }

    /// Relay legs signal over `wss://` to each edge's `<wss>` port (`cdn_relay_tls`).
    #[must_use]
    pub fn over_tls(mut self, tls: bool) -> Self {
        self.tls = tls;
        self
    }

    /// Whether there is any edge to relay to.
    pub fn is_enabled(&self) -> bool {
        !self.nodes.is_empty()
    }

    /// The next thing to do, if any.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<RelayOutput> {
        self.out.pop_front()
    }

    /// When [`Relays::handle_timeout`] must be called next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.streams
            .values()
            .flat_map(|s| s.legs.values())
            .filter_map(|leg| match &leg.state {
                LegState::Waiting { until } => Some(*until),
                LegState::Active(a) => {
                    (!matches!(a.phase, Phase::Publishing { .. })).then_some(a.deadline)
                }
            })
            .min()
    }

    /// Live legs (the edge publishes the stream), for the routes listing.
    pub fn routes(&self) -> Vec<RelayRoute> {
        let mut routes: Vec<RelayRoute> = self
            .streams
            .values()
            .flat_map(|s| {
                s.legs.iter().filter_map(|(slot, leg)| {
                    let LegState::Active(a) = &leg.state else {
                        return None;
                    };
                    let node = self.nodes.get(slot)?;
                    matches!(a.phase, Phase::Publishing { .. }).then(|| RelayRoute {
                        id: format!("{}-{}-{}", node.id, node.host, s.name),
                        stream: s.name.clone(),
                        node_id: node.id.clone(),
                        node_ip: node.host.clone(),
                    })
                })
            })
            .collect();
        routes.sort_by(|a, b| a.id.cmp(&b.id));
        routes
    }

    /// How many legs are live (what [`Self::routes`] lists), without building the list.
    pub fn live_legs(&self) -> usize {
        self.streams
            .values()
            .flat_map(|s| s.legs.values())
            .filter(|leg| {
                matches!(&leg.state, LegState::Active(a) if matches!(a.phase, Phase::Publishing { .. }))
            })
            .count()
    }

    /// `stream` started publishing as `name` with `media`: start a leg to every node.
    pub fn stream_started(
        &mut self,
        now: Instant,
        stream: StreamId,
        name: &str,
        media: &PublishedMedia,
    ) {
        if self.nodes.is_empty() || self.streams.contains_key(&stream) {
            return;
        }
        let legs = self
            .nodes
            .keys()
            .map(|&slot| {
                let leg = Leg {
                    backoff: BACKOFF_INITIAL,
                    state: LegState::Waiting { until: now },
                };
                (slot, leg)
            })
            .collect();
        self.streams.insert(
            stream,
            StreamInfo {
                name: name.to_owned(),
                media: media.clone(),
                legs,
            },
        );
        let slots: Vec<NodeSlot> = self.nodes.keys().copied().collect();
        for slot in slots {
            self.start_attempt(now, (stream, slot));
        }
    }

    /// `stream` is no longer published: unpublish it on every edge and stop every leg.
    pub fn stream_ended(&mut self, _now: Instant, stream: StreamId) {
        let Some(info) = self.streams.remove(&stream) else {
            return;
        };
        for leg in info.legs.into_values() {
            self.end_leg(leg, &info.name);
        }
        tracing::info!(%stream, name = %info.name, "relay legs stopped");
    }

    /// The websocket of `conn` is open: introduce ourselves.
    pub fn handle_open(&mut self, _now: Instant, conn: RelayConnId) {
        let Some(a) = self.attempt_mut(conn) else {
            return;
        };
        if a.phase != Phase::Connecting {
            return;
        }
        a.phase = Phase::UserData;
        self.out.push_back(RelayOutput::Send {
            conn,
            text: client::connection(&Hello::relay()),
        });
    }

    /// The websocket of `conn` closed or could not be opened.
    pub fn handle_closed(&mut self, now: Instant, conn: RelayConnId) {
        // The glue already forgot the socket: nothing to close.
        if let Some(key) = self.conns.remove(&conn) {
            tracing::info!(conn = conn.0, node = %self.node_id(key.1), "relay websocket closed");
            self.fail(now, key);
        }
    }

    /// A text frame from the edge on `conn`. Anything unexpected is ignored or fails the leg;
    /// nothing here panics on bad input.
    pub fn handle_text(&mut self, now: Instant, conn: RelayConnId, text: &str) {
        let Some(&key) = self.conns.get(&conn) else {
            return;
        };
        let event = match client::parse_server(text) {
            Ok(event) => event,
            Err(e) => {
                tracing::debug!(conn = conn.0, error = %e, "relay: unreadable message from the edge");
                return;
            }
        };
        match event {
            ServerEvent::Ping => self.out.push_back(RelayOutput::Send {
                conn,
                text: client::pong(),
            }),
            ServerEvent::UserData(_) => self.on_user_data(key),
            ServerEvent::RemoteSdp {
                media_session_id,
                sdp,
            } => self.on_answer(now, key, &media_session_id, &sdp),
            ServerEvent::StreamStatus(status) => self.on_status(now, key, &status),
            ServerEvent::Fail { info, .. } => {
                let publishing = self
                    .attempt_mut(conn)
                    .is_some_and(|a| matches!(a.phase, Phase::Publishing { .. }));
                tracing::warn!(conn = conn.0, info = %info, "relay: edge answered fail");
                if !publishing {
                    self.fail(now, key);
                }
            }
            _ => {}
        }
    }

    /// The relay peer completed ICE and DTLS.
    pub fn peer_connected(&mut self, _now: Instant, peer: PeerId) {
        if let Some(key) = self.peers.get(&peer) {
            tracing::info!(%peer, node = %self.node_id(key.1), "relay peer connected");
        }
    }

    /// The relay peer is gone from its worker (closed on its own, or it could not be started).
    pub fn peer_closed(&mut self, now: Instant, peer: PeerId) {
        if let Some(key) = self.peers.remove(&peer) {
            if let Some(a) = self.attempt_of(key) {
                a.peer = None;
            }
            self.fail(now, key);
        }
    }

    /// Retries that are due and signalling that took too long.
    pub fn handle_timeout(&mut self, now: Instant) {
        let mut due = Vec::new();
        for (&stream, info) in &self.streams {
            for (&node, leg) in &info.legs {
                match &leg.state {
                    LegState::Waiting { until } if *until <= now => due.push((stream, node, true)),
                    LegState::Active(a)
                        if a.deadline <= now && !matches!(a.phase, Phase::Publishing { .. }) =>
                    {
                        due.push((stream, node, false))
                    }
                    _ => {}
                }
            }
        }
        for (stream, node, retry) in due {
            if retry {
                self.start_attempt(now, (stream, node));
            } else {
                tracing::info!(%stream, node = %self.node_id(node), "relay signalling timed out");
                self.fail(now, (stream, node));
            }
        }
    }

    fn attempt_of(&mut self, key: LegKey) -> Option<&mut Attempt> {
        let leg = self.streams.get_mut(&key.0)?.legs.get_mut(&key.1)?;
        match &mut leg.state {
            LegState::Active(a) => Some(a),
            LegState::Waiting { .. } => None,
        }
    }

    fn attempt_mut(&mut self, conn: RelayConnId) -> Option<&mut Attempt> {
        let key = *self.conns.get(&conn)?;
        self.attempt_of(key).filter(|a| a.conn == conn)
    }

    fn start_attempt(&mut self, now: Instant, key: LegKey) {
        let conn = RelayConnId(self.next_conn);
        let Some(info) = self.streams.get_mut(&key.0) else {
            return;
        };
        let (Some(leg), Some(node)) = (info.legs.get_mut(&key.1), self.nodes.get(&key.1)) else {
            return;
        };
        let plain = match &self.plain {
            Some(mode) => match bind_leg_socket(mode.ip) {
                Ok(bound) => Some(bound),
                Err(e) => {
                    tracing::warn!(stream = %key.0, ip = %mode.ip, "cannot bind a relay leg socket: {e}");
                    leg.state = LegState::Waiting {
                        until: now + leg.backoff,
                    };
                    leg.backoff = (leg.backoff * 2).min(BACKOFF_MAX);
                    return;
                }
            },
            None => None,
        };
        self.next_conn += 1;
        let attempt = Attempt {
            conn,
            phase: Phase::Connecting,
            deadline: now + SIGNALLING_TIMEOUT,
            media_session_id: uuid::Uuid::new_v4().to_string(),
            offer: relay_offer(&info.media, &self.fingerprint),
            peer: None,
            plain,
        };
        leg.state = LegState::Active(Box::new(attempt));
        self.conns.insert(conn, key);
        let url = ws_url(node, self.tls);
        tracing::debug!(stream = %key.0, %url, conn = conn.0, "relay leg connecting");
        self.out.push_back(RelayOutput::Connect { conn, url });
    }

    /// The id of the node in `slot`, for logs.
    fn node_id(&self, slot: NodeSlot) -> &str {
        self.nodes.get(&slot).map_or("?", |n| n.id.as_str())
    }

    /// Stops a leg that is being removed: the edge is told to unpublish when it may already
    /// publish, then the websocket and the relay peer are dropped.
    fn end_leg(&mut self, leg: Leg, name: &str) {
        let LegState::Active(a) = leg.state else {
            return;
        };
        if matches!(a.phase, Phase::Status | Phase::Publishing { .. }) {
            let text = client::unpublish_stream(&a.stream_desc(name), "PUBLISHING");
            self.out.push_back(RelayOutput::Send { conn: a.conn, text });
        }
        self.drop_attempt(&a);
    }

    /// Forgets an attempt's websocket and peer, telling the glue and the hub.
    fn drop_attempt(&mut self, a: &Attempt) {
        if self.conns.remove(&a.conn).is_some() {
            self.out.push_back(RelayOutput::Close { conn: a.conn });
        }
        if let Some(peer) = a.peer {
            if self.peers.remove(&peer).is_some() {
                self.out.push_back(RelayOutput::RemovePeer { peer });
            }
        }
    }

    /// Tears the leg's attempt down and schedules the next one with backoff.
    fn fail(&mut self, now: Instant, key: LegKey) {
        let Some(leg) = self
            .streams
            .get_mut(&key.0)
            .and_then(|s| s.legs.get_mut(&key.1))
        else {
            return;
        };
        let LegState::Active(a) = &leg.state else {
            return;
        };
        let stable = matches!(a.phase, Phase::Publishing { since }
            if now.saturating_duration_since(since) >= STABLE_AFTER);
        if stable {
            leg.backoff = BACKOFF_INITIAL;
        }
        let delay = leg.backoff;
        leg.backoff = (leg.backoff * 2).min(BACKOFF_MAX);
        let old = std::mem::replace(&mut leg.state, LegState::Waiting { until: now + delay });
        if let LegState::Active(a) = old {
            self.drop_attempt(&a);
        }
        tracing::info!(stream = %key.0, node = %self.node_id(key.1), ?delay, "relay leg failed; retrying");
    }

    fn on_user_data(&mut self, key: LegKey) {
        let Some(name) = self.streams.get(&key.0).map(|s| s.name.clone()) else {
            return;
        };
        let secret = self.plain.as_ref().map(|m| m.secret.clone());
        let Some(a) = self.attempt_of(key) else {
            return;
        };
        if a.phase != Phase::UserData {
            return;
        }
        a.phase = Phase::Answer;
        let custom = match (secret, &a.plain) {
            (Some(secret), Some((_, source))) => Some(json!({"rtcdnRelay": {
                "distribution": "rtp",
                "secret": secret.expose(),
                "source": source.to_string(),
            }})),
            _ => None,
        };
        let text = client::publish_stream(
            &a.stream_desc(&name),
            &sdp::build_offer(&a.offer),
            custom.as_ref(),
        );
        let conn = a.conn;
        self.out.push_back(RelayOutput::Send { conn, text });
    }

    fn on_answer(&mut self, now: Instant, key: LegKey, id: &str, answer: &str) {
        let peer = PeerId(self.next_peer);
        let Some(a) = self.attempt_of(key) else {
            return;
        };
        if a.phase != Phase::Answer || a.media_session_id != id {
            return;
        }
        let built = sdp::parse_answer(answer)
            .map_err(|_| AnswerError::Sdp)
            .and_then(|ans| {
                let remote = *ans.candidates.first().ok_or(AnswerError::NoCandidate)?;
                let tracks = answered_tracks(&a.offer, &ans);
                if tracks.is_empty() {
                    return Err(AnswerError::NoTracks);
                }
                Ok(RelayPeer {
                    id: peer,
                    stream: key.0,
                    remote,
                    local_ufrag: a.offer.ufrag.clone(),
                    local_pwd: a.offer.pwd.clone(),
                    remote_ufrag: ans.ufrag,
                    remote_pwd: ans.pwd,
                    remote_fingerprint: ans.fingerprint,
                    tracks,
                    plain: a.plain.take().map(|(socket, _)| socket),
                })
            });
        match built {
            Ok(spec) => {
                a.phase = Phase::Status;
                a.peer = Some(peer);
                self.next_peer += 1;
                self.peers.insert(peer, key);
                self.out.push_back(RelayOutput::AddPeer(Box::new(spec)));
            }
            Err(e) => {
                tracing::warn!(stream = %key.0, node = %self.node_id(key.1), error = %e, "relay answer rejected");
                self.fail(now, key);
            }
        }
    }

    fn on_status(&mut self, now: Instant, key: LegKey, event: &StreamStatusEvent) {
        let Some(a) = self.attempt_of(key) else {
            return;
        };
        if a.media_session_id != event.media_session_id {
            return;
        }
        let (status, info) = (event.status.as_str(), event.info.as_str());
        match status {
            "PUBLISHING" if a.phase == Phase::Status => {
                a.phase = Phase::Publishing { since: now };
                tracing::info!(stream = %key.0, node = %self.node_id(key.1), "relay leg publishing");
            }
            "FAILED" | "UNPUBLISHED" | "STOPPED" => {
                tracing::info!(stream = %key.0, node = %self.node_id(key.1), status, info, "relay leg ended by the edge");
                self.fail(now, key);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests;
