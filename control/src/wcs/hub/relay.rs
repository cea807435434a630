//! The hub's side of the origin → edge relay: feeds [`Relays`] the relay websockets' input and
//! the relay peers' events, and turns its outputs into [`Output`]s and worker commands (a relay
//! peer is placed and counted like a player, including its worker's fan-out target).
//!
//! On an edge, it checks the `custom.rtcdnRelay` marker of an origin's rtp relay publish
//! (shared secret, announced source) and starts its plain publisher peer.
//!
//! Also the fan-out target bookkeeping shared by players and relay peers. Must not touch
//! sockets or the clock, like the rest of the hub (a plain leg's socket, bound by
//! [`Relays`](crate::cdn::relay::Relays), only passes through to its worker).

use std::collections::hash_map::Entry;
use std::net::SocketAddr;
use std::time::Instant;

use dataplane::api::{Command, Event, Fingerprint, PeerId, PeerSpec, StreamId, WorkerId};

use super::state::{ConnId, Hub, Output};
use crate::cdn::config::{NodeConfig, NodesDiff, StreamDistribution};
use crate::cdn::relay::{is_relay_peer, RelayConnId, RelayOutput, RelayPeer, RelayRoute, Relays};
use crate::config::Config;
use crate::wcs::messages::StreamRequest;

/// The origin's relays for `cfg`: none unless `load_balancing` is set; plain RTP with the
/// shared secret for the rtp distribution.
pub(super) fn relays_for(cfg: &Config, fingerprint: &Fingerprint) -> Relays {
    match (&cfg.load_balancing, &cfg.cdn_relay_secret) {
        (Some(lb), _) if lb.distribution == StreamDistribution::WebRtc => {
            Relays::new(lb.nodes.clone(), fingerprint.clone()).over_tls(cfg.cdn_relay_tls)
        }
        (Some(lb), Some(secret)) => Relays::new(lb.nodes.clone(), fingerprint.clone())
            .with_plain(cfg.ip, secret.clone())
            .over_tls(cfg.cdn_relay_tls),
        (Some(_), None) => {
            tracing::error!("rtp relay without cdn_relay_secret: not relaying");
            Relays::new(Vec::new(), fingerprint.clone())
        }
        (None, _) => Relays::new(Vec::new(), fingerprint.clone()),
    }
}

pub use crate::wcs::info::RESTRICTED_ACCESS;

impl Hub {
    /// The announced source of an origin's rtp relay publish: `Ok(None)` for an ordinary
    /// publish, `Err` (a WCS info) when the marker is present but the secret is not configured
    /// here, does not match (compared in constant time) or the source is not an address.
    /// An address that presented [`super::admission::SECRET_GUESSES`] wrong secrets within a
    /// minute is refused without a check until that minute is over.
    pub(super) fn relay_source(
        &mut self,
        conn: ConnId,
        req: &StreamRequest,
    ) -> Result<Option<SocketAddr>, &'static str> {
        let Some(marker) = req.custom.as_ref().and_then(|c| c.get("rtcdnRelay")) else {
            return Ok(None);
        };
        let (Some(ip), Some(now)) = (self.conns.get(&conn).map(|c| c.client.ip()), self.now) else {
            return Err(RESTRICTED_ACCESS);
        };
        if !self.admission.may_guess(ip, now) {
            tracing::warn!(name = %req.name, %ip, "rtp relay refused: too many wrong secrets");
            return Err(RESTRICTED_ACCESS);
        }
        let (Some(ours), Some(theirs)) = (&self.relay_secret, marker["secret"].as_str()) else {
            tracing::warn!(name = %req.name, "rtp relay refused: no secret on one side");
            self.admission.wrong_guess(ip, now);
            return Err(RESTRICTED_ACCESS);
        };
        if !ours.matches(theirs) {
            tracing::warn!(name = %req.name, "rtp relay refused: wrong secret");
            self.admission.wrong_guess(ip, now);
            return Err(RESTRICTED_ACCESS);
        }
        let source = marker["source"].as_str().and_then(|s| s.parse().ok());
        match (marker["distribution"].as_str(), source) {
            (Some("rtp"), Some(source)) => Ok(Some(source)),
            _ => {
                tracing::warn!(name = %req.name, "rtp relay refused: bad marker");
                Err(RESTRICTED_ACCESS)
            }
        }
    }

    /// Starts the plain publisher of a relayed stream on `worker`, accepting media only from
    /// `source`; false when the worker is gone.
    pub(super) fn add_plain_peer(
        &mut self,
        worker: usize,
        spec: PeerSpec,
        source: SocketAddr,
    ) -> bool {
        let id = self.workers[worker].handle.id;
        let cmd = Command::AddPlainPeer {
            spec: Box::new(spec),
            remote: source,
            socket: None,
        };
        if !self.command(id, cmd) {
            return false;
        }
        self.workers[worker].peers += 1;
        self.round_robin = worker + 1;
        true
    }

    /// A relay websocket opened.
    pub fn relay_opened(&mut self, now: Instant, conn: RelayConnId) {
        self.now = Some(now);
        self.relays.handle_open(now, conn);
    }

    /// A text frame from an edge on a relay websocket.
    pub fn relay_text(&mut self, now: Instant, conn: RelayConnId, text: &str) {
        self.now = Some(now);
        self.relays.handle_text(now, conn, text);
    }

    /// A relay websocket closed, failed or could not connect.
    pub fn relay_closed(&mut self, now: Instant, conn: RelayConnId) {
        self.now = Some(now);
        self.relays.handle_closed(now, conn);
    }

    /// `loadbalancing.xml` was read again (SIGHUP): relay every stream to `nodes` from now
    /// on — legs to removed edges end (the edge is told to unpublish), live streams get legs
    /// to new edges at once, legs to unchanged edges go on. Returns what changed.
    pub fn reload_nodes(&mut self, now: Instant, nodes: &[NodeConfig]) -> NodesDiff {
        self.now = Some(now);
        self.relays.reload_nodes(now, nodes)
    }

    /// The relay legs whose edge publishes the stream.
    pub fn relay_routes(&self) -> Vec<RelayRoute> {
        self.relays.routes()
    }

    /// Handles `event` if it is about a relay peer; returns whether it was.
    pub(super) fn relay_peer_event(&mut self, now: Instant, event: &Event) -> bool {
        match *event {
            Event::PeerConnected { peer, .. } if is_relay_peer(peer) => {
                self.relays.peer_connected(now, peer);
                true
            }
            Event::PeerClosed { peer, reason } if is_relay_peer(peer) => {
                tracing::info!(%peer, ?reason, "relay peer closed by worker");
                self.forget_relay_peer(peer, false);
                self.relays.peer_closed(now, peer);
                true
            }
            _ => false,
        }
    }

    /// Moves everything [`Relays`](crate::cdn::relay::Relays) wants done into the output
    /// queue and the workers.
    pub(super) fn pump_relays(&mut self) {
        while let Some(output) = self.relays.poll_output() {
            match output {
                RelayOutput::Connect { conn, url } => {
                    self.out.push_back(Output::RelayConnect { conn, url })
                }
                RelayOutput::Send { conn, text } => {
                    self.out.push_back(Output::RelaySend(conn, text))
                }
                RelayOutput::Close { conn } => self.out.push_back(Output::RelayClose(conn)),
                RelayOutput::AddPeer(peer) => self.start_relay_peer(*peer),
                RelayOutput::RemovePeer { peer } => self.forget_relay_peer(peer, true),
            }
        }
    }

    fn start_relay_peer(&mut self, peer: RelayPeer) {
        let (id, stream) = (peer.id, peer.stream);
        let source = self.streams.get(&stream).map(|s| s.worker);
        let started = match (source, self.pick_worker()) {
            (Some(source), Some(worker)) => {
                let worker_id = self.workers[worker].handle.id;
                self.start_on_worker(worker, peer, source)
                    .then_some(worker_id)
            }
            _ => None,
        };
        match started {
            Some(worker) => {
                self.relay_peers.insert(id, (worker, stream));
                self.fanout_add(stream, worker);
                tracing::info!(peer = %id, %stream, ?worker, "relay peer started");
            }
            None => {
                if let Some(now) = self.now {
                    self.relays.peer_closed(now, id);
                }
            }
        }
    }

    /// Sends the relay peer's start command: plain with a handle of its leg socket, or WebRTC.
    fn start_on_worker(&mut self, worker: usize, mut peer: RelayPeer, source: WorkerId) -> bool {
        let Some(socket) = peer.plain.take() else {
            return self.add_peer(worker, peer.into_spec(source));
        };
        let socket = match socket.0.try_clone() {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(peer = %peer.id, "cannot hand the leg socket over: {e}");
                return false;
            }
        };
        let remote = peer.remote;
        let cmd = Command::AddPlainPeer {
            spec: Box::new(peer.into_spec(source)),
            remote,
            socket: Some(socket),
        };
        let id = self.workers[worker].handle.id;
        if !self.command(id, cmd) {
            return false;
        }
        self.workers[worker].peers += 1;
        self.round_robin = worker + 1;
        true
    }

    /// Drops a relay peer's bookkeeping; `remove` also stops it on its worker.
    fn forget_relay_peer(&mut self, peer: PeerId, remove: bool) {
        let Some((worker, stream)) = self.relay_peers.remove(&peer) else {
            return;
        };
        if remove {
            self.command(worker, Command::RemovePeer(peer));
        }
        if let Some(w) = self.worker_mut(worker) {
            w.peers = w.peers.saturating_sub(1);
        }
        self.fanout_remove(stream, worker);
    }

    /// One more consumer of `stream` on `worker`; the first makes it a fan-out target.
    pub(super) fn fanout_add(&mut self, stream: StreamId, worker: WorkerId) {
        let Some(s) = self.streams.get_mut(&stream) else {
            return;
        };
        let count = s.fanout.entry(worker).or_insert(0);
        *count += 1;
        if *count == 1 {
            let source = s.worker;
            self.command(source, Command::AddFanoutTarget { stream, worker });
        }
    }

    /// One consumer of `stream` on `worker` fewer; the last removes the fan-out target.
    pub(super) fn fanout_remove(&mut self, stream: StreamId, worker: WorkerId) {
        let Some(s) = self.streams.get_mut(&stream) else {
            return;
        };
        let source = s.worker;
        if let Entry::Occupied(mut count) = s.fanout.entry(worker) {
            *count.get_mut() -= 1;
            if *count.get() == 0 {
                count.remove();
                self.command(source, Command::RemoveFanoutTarget { stream, worker });
            }
        }
    }
}
