//! The signalling core: every WCS connection, stream name and peer of this node.
//!
//! [`Hub`] is sans-IO: the async glue feeds it client text frames, connection open/close,
//! data-plane [`Event`]s and timeouts (always with `now` passed in), and drains
//! [`Hub::poll_output`] for the frames to write and the sockets to close. The only side effect
//! it performs itself is queueing [`Command`]s on the workers' [`WorkerHandle`]s (non-blocking).
//! It must not touch sockets, the clock or the SDP text (that is `crate::sdp`).
//!
//! Invariants: a name maps to at most one live publisher; a mediaSessionId is live at most
//! once; each player's worker is a fanout target of its publisher's worker exactly while it
//! has at least one player of that stream.
//!
//! Layout: `state` holds [`Hub`] and its records (a leaf the other files build on); this file
//! handles messages, keep-alive, data-plane events and worker placement; `streams` is the
//! publish/play/stop lifecycle, `relay` the origin → edge relay hooks, `health` what
//! `/health` shows (players' sending state, streams' simulcast layers), `rest` what the WCS
//! REST API finds and terminates and `drain` the drain before the node stops (SIGTERM).

mod admission;
mod authorize;
mod drain;
mod health;
mod relay;
mod rest;
mod state;
mod streams;

#[cfg(test)]
mod tests;

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;

use dataplane::api::{Command, Event, Fingerprint, PeerSpec, WorkerHandle, WorkerId};

pub use health::{HubHealth, LayeredStream, StreamReport, ViewerReport};
pub use rest::{ConnectionInfo, StreamFilter, StreamInfo};
use state::{Auth, Conn, Hooks, Role, ViewerSample, Worker, RELAYED_EVENTS};
pub use state::{ConnId, Hub, HubMetrics, HubStats, Output, MAX_NAME_LEN};
pub use streams::LAYER_SUFFIXES;

use super::info;
use super::messages::{
    self as msg, ClientMessage, ServerMessage, StreamEventRequest, StreamRequest, StreamStatus,
};
use crate::config::Config;
use crate::counters::HubCounters;
use crate::ice::IceCredentials;
use crate::sdp::LocalTransport;

fn valid_id(s: &str) -> bool {
    !s.is_empty() && s.chars().count() <= MAX_NAME_LEN
}

impl Hub {
    /// A hub for `workers` (at least one, ids as given), answering with `fingerprint`.
    /// Uses `cfg.video_codecs` and the keep-alive settings (an interval of zero disables
    /// pings; zero probes never closes).
    /// With `cfg.load_balancing` set (origin role), every published stream is relayed to every
    /// node, over plain RTP with `cfg.cdn_relay_secret` for the rtp distribution.
    pub fn new(cfg: &Config, workers: Vec<WorkerHandle>, fingerprint: Fingerprint) -> Self {
        let relays = relay::relays_for(cfg, &fingerprint);
        Self {
            relays,
            relay_peers: HashMap::new(),
            relay_secret: cfg.cdn_relay_secret.clone(),
            now: None,
            counters: HubCounters::default(),
            hooks: Hooks::from_config(cfg),
            drain: Default::default(),
            publishers_from: cfg.cdn_allowed_ips.clone(),
            admission: admission::Admission::new(admission::Limits::from_config(cfg)),
            workers: workers
                .into_iter()
                .map(|handle| Worker { handle, peers: 0 })
                .collect(),
            round_robin: 0,
            fingerprint,
            video_codecs: cfg.video_codecs.clone(),
            publish_policy: crate::sdp::PublishPolicy {
                transport_cc: cfg.transport_cc,
                remb: cfg.remb,
                min_bitrate: cfg.webrtc_cc_min_bitrate,
                max_bitrate: cfg.webrtc_cc_max_bitrate,
                start_bitrate: cfg.webrtc_cc_start_bitrate,
            },
            ping_interval: Some(cfg.keep_alive_interval).filter(|d| !d.is_zero()),
            probes: cfg.keep_alive_probes,
            conns: HashMap::new(),
            sessions: HashMap::new(),
            peers: HashMap::new(),
            streams: HashMap::new(),
            names: HashMap::new(),
            pings: BTreeSet::new(),
            next_peer: 1,
            next_stream: 1,
            out: VecDeque::new(),
        }
    }

    /// The next thing the glue must do, if any.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<Output> {
        self.pump_relays();
        self.out.pop_front()
    }

    /// When [`Hub::handle_timeout`] must be called next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let ping = self.pings.first().map(|&(at, _)| at);
        match (ping, self.relays.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Current counters.
    pub fn stats(&self) -> HubStats {
        HubStats {
            connections: self.conns.len(),
            streams: self.streams.len(),
            peers: self.sessions.len(),
            players: self
                .sessions
                .values()
                .filter(|s| s.role == Role::Player)
                .count(),
            connected_peers: self.sessions.values().filter(|s| s.connected).count(),
        }
    }

    /// The gauges, relay legs and live counters `/metrics` shows.
    pub fn metrics(&self) -> HubMetrics {
        HubMetrics {
            stats: self.stats(),
            relay_legs: self.relays.live_legs(),
            counters: self.counters.clone(),
        }
    }

    /// A websocket connection was accepted from `client` on our `server` address.
    pub fn open(&mut self, now: Instant, conn: ConnId, client: SocketAddr, server: SocketAddr) {
        self.now = Some(now);
        self.counters.connection_opened();
        let next_ping = self.ping_interval.map(|i| now + i);
        if let Some(at) = next_ping {
            self.pings.insert((at, conn));
        }
        let state = Conn {
            client,
            server,
            sessions: HashSet::new(),
            next_ping,
            unanswered: 0,
            auth: Auth::None,
            pending_streams: HashMap::new(),
            counted: false,
        };
        if let Some(old) = self.conns.insert(conn, state) {
            tracing::warn!(conn = conn.0, "connection id reused");
            if let Some(at) = old.next_ping {
                self.pings.remove(&(at, conn));
            }
        }
        if !self.admission.connection_opened(client.ip()) {
            tracing::info!(conn = conn.0, %client, "connection refused: too many from this address");
            let info = admission::TOO_MANY_CONNECTIONS;
            self.send(conn, msg::connection_failed(info));
            self.out.push_back(Output::Refuse(conn, info.to_owned()));
            self.close(now, conn);
        } else if let Some(state) = self.conns.get_mut(&conn) {
            state.counted = true;
        }
    }

    /// The websocket closed (or the glue gave up on it): clean up its streams like
    /// `unPublishStream`/`stopStream` would. Idempotent.
    pub fn close(&mut self, now: Instant, conn: ConnId) {
        self.now = Some(now);
        self.forget_hooks(conn);
        let Some(state) = self.conns.remove(&conn) else {
            return;
        };
        if let Some(at) = state.next_ping {
            self.pings.remove(&(at, conn));
        }
        if state.counted {
            self.admission.connection_closed(state.client.ip());
        }
        self.drain.relay_conns.remove(&conn);
        for id in state.sessions {
            self.end_session(&id, None, true);
        }
        tracing::debug!(conn = conn.0, "connection closed");
    }

    /// Sends `ping`s that are due and closes connections that missed too many.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = Some(now);
        self.relays.handle_timeout(now);
        while let Some(&(at, conn)) = self.pings.first() {
            if at > now {
                break;
            }
            self.pings.remove(&(at, conn));
            let (Some(interval), Some(state)) = (self.ping_interval, self.conns.get_mut(&conn))
            else {
                continue;
            };
            if self.probes > 0 && state.unanswered >= self.probes {
                tracing::info!(conn = conn.0, "keep-alive expired");
                state.next_ping = None;
                self.out.push_back(Output::Close(conn));
                self.close(now, conn);
                continue;
            }
            state.unanswered += 1;
            let next = now + interval;
            state.next_ping = Some(next);
            self.pings.insert((next, conn));
            self.out.push_back(Output::Send(conn, msg::ping()));
        }
    }

    /// A binary frame arrived: not part of the protocol; it only counts as liveness.
    pub fn handle_binary(&mut self, _now: Instant, conn: ConnId) {
        tracing::debug!(conn = conn.0, "binary frame ignored");
        self.touch(conn);
    }

    /// A text frame arrived on `conn`. Malformed input is answered with `fail`.
    pub fn handle_text(&mut self, now: Instant, conn: ConnId, text: &str) {
        self.now = Some(now);
        if !self.touch(conn) {
            return;
        }
        match msg::parse_client(text) {
            Ok(message) => self.handle_message(now, conn, message),
            Err(msg::MessageError::BadStream {
                name,
                stream,
                source,
            }) => {
                tracing::debug!(conn = conn.0, error = %source, "bad {name}");
                let info = format!("Bad {name}: {source}");
                self.send_status(conn, &stream, stream.published, "FAILED", &info);
            }
            Err(e) => {
                tracing::debug!(conn = conn.0, error = %e, "bad client message");
                self.send(conn, msg::fail(e.api_method(), &e.to_string()));
            }
        }
    }

    /// A parsed client message on `conn`.
    pub fn handle_message(&mut self, now: Instant, conn: ConnId, message: ClientMessage) {
        self.now = Some(now);
        if !self.touch(conn) {
            return;
        }
        match message {
            ClientMessage::Connection(object) => {
                self.note_relay_connection(conn, &object);
                self.connect(conn, object);
            }
            ClientMessage::PublishStream(req) => self.request_stream(conn, req, true),
            ClientMessage::PlayStream(req) => self.request_stream(conn, req, false),
            ClientMessage::UnPublishStream(req) => self.stop(conn, "unPublishStream", &req),
            ClientMessage::StopStream(req) => self.stop(conn, "stopStream", &req),
            ClientMessage::AvailableStream(req) => {
                let available = self.play_target(&req.name).is_some();
                let info = if available {
                    "Available"
                } else {
                    info::STREAM_NOT_FOUND
                };
                self.send(
                    conn,
                    msg::available_stream(&req.media_session_id, available, info),
                );
            }
            ClientMessage::SendStreamEvent(req) => self.relay_event(conn, req),
            ClientMessage::SendData(req) => {
                self.send(conn, msg::data_status(&req.operation_id, "ACCEPTED"))
            }
            ClientMessage::Ignored(name) => tracing::trace!(conn = conn.0, name, "accepted"),
        }
    }

    /// A data-plane event.
    pub fn handle_event(&mut self, now: Instant, event: Event) {
        self.now = Some(now);
        if self.relay_peer_event(now, &event) {
            return;
        }
        match event {
            Event::PeerConnected { peer, remote } => {
                let Some(id) = self.peers.get(&peer) else {
                    return;
                };
                if let Some(s) = self.sessions.get_mut(id) {
                    if !s.connected {
                        if let Some(added) = s.added {
                            let took = now.saturating_duration_since(added);
                            self.counters.handshake_completed(took);
                        }
                    }
                    s.connected = true;
                    tracing::info!(%peer, %remote, name = %s.name, "peer connected");
                }
            }
            Event::PeerClosed { peer, reason } => {
                let Some(id) = self.peers.get(&peer).cloned() else {
                    return;
                };
                tracing::info!(%peer, ?reason, "peer closed by worker");
                if self.sessions.get(&id).is_some_and(|s| !s.connected) {
                    self.counters.handshake_failed(reason);
                }
                self.end_session(&id, Some(("FAILED", info::peer_closed(reason))), false);
            }
            Event::BandwidthShort {
                peer,
                sending_bps,
                estimate_bps,
            } => self.not_enough_bandwidth(peer, sending_bps, estimate_bps),
            Event::ViewerStats {
                peer,
                sending_bps,
                video_bps,
                estimate_bps,
                layer,
                video_paused,
            } => {
                self.viewer_stats(
                    peer,
                    ViewerSample {
                        sending_bps,
                        estimate_bps,
                        layer,
                        video_paused,
                    },
                );
                self.video_rate(peer, Role::Player, video_bps);
            }
            Event::PublisherStats { peer, video_bps } => {
                self.publisher_stats(peer, video_bps);
                self.video_rate(peer, Role::Publisher, video_bps)
            }
        }
    }

    /// Tells a player what video rate it is sent (`outboundVideoRate`) or a publisher what
    /// the node receives from it (`inboundVideoRate`), as WCS does about once a second: the
    /// SDK compares it with its own count for `CONNECTION_QUALITY.UPDATE`.
    fn video_rate(&mut self, peer: dataplane::api::PeerId, role: Role, video_bps: u64) {
        let Some(id) = self.peers.get(&peer).cloned() else {
            return;
        };
        let Some(session) = self.sessions.get(&id).filter(|s| s.role == role) else {
            return;
        };
        let conn = session.conn;
        self.send(
            conn,
            msg::video_rate(role == Role::Publisher, &id, video_bps),
        );
    }

    /// Tells a player that its path carries less than its stream: WCS's `notEnoughBandwidth`
    /// stream event, `info` "<stream bitrate>/<estimated bandwidth>" in bits/s.
    fn not_enough_bandwidth(
        &mut self,
        peer: dataplane::api::PeerId,
        sending_bps: u64,
        estimate_bps: u64,
    ) {
        let Some(id) = self.peers.get(&peer).cloned() else {
            return;
        };
        let Some(session) = self.sessions.get(&id).filter(|s| s.role == Role::Player) else {
            return;
        };
        let conn = session.conn;
        tracing::info!(%peer, name = %session.name, sending_bps, estimate_bps, "not enough bandwidth");
        let payload = serde_json::json!({ "info": format!("{sending_bps}/{estimate_bps}") });
        self.send(
            conn,
            msg::stream_event(&id, "notEnoughBandwidth", Some(&payload)),
        );
    }

    /// Sends `Command::Shutdown` to every worker.
    pub fn shutdown_workers(&self) {
        for w in &self.workers {
            if let Err(e) = w.handle.send(Command::Shutdown) {
                tracing::debug!(error = %e, "worker already gone");
            }
        }
    }

    /// Resets the keep-alive counter; false if the connection is unknown.
    fn touch(&mut self, conn: ConnId) -> bool {
        match self.conns.get_mut(&conn) {
            Some(state) => {
                state.unanswered = 0;
                true
            }
            None => false,
        }
    }

    fn send(&mut self, conn: ConnId, message: ServerMessage) {
        if self.conns.contains_key(&conn) {
            self.out.push_back(Output::Send(conn, message));
        }
    }

    fn send_status(
        &mut self,
        conn: ConnId,
        req: &StreamRequest,
        published: bool,
        status: &str,
        info: &str,
    ) {
        let st = StreamStatus {
            media_session_id: &req.media_session_id,
            name: &req.name,
            published,
            has_audio: req.has_audio.unwrap_or(false),
            has_video: req.has_video.unwrap_or(false),
            status,
            info,
        };
        self.notify_stream_status(conn, &st);
        self.send(conn, msg::stream_status(&st));
    }

    fn send_session_status(&mut self, id: &str, status: &str, info: &str) {
        let Some(s) = self.sessions.get(id) else {
            return;
        };
        let (conn, name) = (s.conn, s.name.clone());
        let st = StreamStatus {
            media_session_id: id,
            name: &name,
            published: s.role == Role::Publisher,
            has_audio: s.has_audio,
            has_video: s.has_video,
            status,
            info,
        };
        self.notify_stream_status(conn, &st);
        self.send(conn, msg::stream_status(&st));
    }

    /// Checks shared by publish and play; replies FAILED/fail and returns false on error.
    fn check_new_session(
        &mut self,
        conn: ConnId,
        api: &str,
        req: &StreamRequest,
        published: bool,
    ) -> bool {
        if !valid_id(&req.media_session_id) {
            self.send(conn, msg::fail(api, "MediaSessionId is null"));
            return false;
        }
        let streams = self
            .conns
            .get(&conn)
            .map_or(0, |c| c.sessions.len() + c.pending_streams.len());
        let limits = self.admission.limits;
        let problem = if self.drain.draining {
            info::SHUTTING_DOWN
        } else if streams >= limits.streams_per_connection {
            admission::TOO_MANY_STREAMS
        } else if self.sessions.len() >= limits.peers {
            admission::NODE_FULL
        } else if self.sessions.contains_key(&req.media_session_id) {
            "MediaSessionId is already in use"
        } else if !valid_id(&req.name) {
            "Invalid stream name"
        } else if req.sdp.is_none() {
            "Invalid SDP: no offer"
        } else {
            return true;
        };
        self.send_status(conn, req, published, "FAILED", problem);
        false
    }

    /// Fewest peers wins; ties go round-robin.
    fn pick_worker(&self) -> Option<usize> {
        let fewest = self.workers.iter().map(|w| w.peers).min()?;
        let n = self.workers.len();
        (0..n)
            .map(|i| (self.round_robin + i) % n)
            .find(|&i| self.workers[i].peers == fewest)
    }

    fn worker_mut(&mut self, id: WorkerId) -> Option<&mut Worker> {
        self.workers.iter_mut().find(|w| w.handle.id == id)
    }

    fn command(&self, worker: WorkerId, cmd: Command) -> bool {
        let Some(w) = self.workers.iter().find(|w| w.handle.id == worker) else {
            tracing::error!(?worker, "no such worker");
            return false;
        };
        match w.handle.send(cmd) {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(error = %e, "command not delivered");
                false
            }
        }
    }

    fn local_transport(&self, worker: usize) -> LocalTransport {
        let IceCredentials { ufrag, pwd } = IceCredentials::random();
        LocalTransport {
            ufrag,
            pwd,
            fingerprint: self.fingerprint.clone(),
            candidate: self.workers[worker].handle.addr,
        }
    }

    /// Starts a peer on the chosen worker; false (and FAILED sent) when the worker is gone.
    fn add_peer(&mut self, worker: usize, spec: PeerSpec) -> bool {
        let id = self.workers[worker].handle.id;
        if !self.command(id, Command::AddPeer(Box::new(spec))) {
            return false;
        }
        self.workers[worker].peers += 1;
        self.round_robin = worker + 1;
        true
    }

    fn relay_event(&mut self, conn: ConnId, req: StreamEventRequest) {
        let stream = match self.sessions.get(&req.media_session_id) {
            Some(s) if s.conn == conn && s.role == Role::Publisher => s.stream,
            _ => return self.send(conn, msg::fail("sendStreamEvent", info::STREAM_NOT_FOUND)),
        };
        let Some(kind) = RELAYED_EVENTS.iter().find(|k| **k == req.kind) else {
            return self.send(
                conn,
                msg::fail("sendStreamEvent", "Unknown stream event type"),
            );
        };
        let Some(players) = self.streams.get(&stream).map(|s| &s.players) else {
            return;
        };
        let targets: Vec<(ConnId, ServerMessage)> = players
            .iter()
            .filter_map(|p| {
                self.sessions
                    .get(p)
                    .map(|s| (s.conn, msg::stream_event(p, kind, req.payload.as_ref())))
            })
            .collect();
        for (c, m) in targets {
            self.send(c, m);
        }
    }
}
