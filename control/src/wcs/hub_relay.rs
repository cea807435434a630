//! The hub's side of the origin → edge relay: feeds [`Relays`] the relay websockets' input and
//! the relay peers' events, and turns its outputs into [`Output`]s and worker commands (a relay
//! peer is placed and counted like a player, including its worker's fan-out target).
//!
//! Also the fan-out target bookkeeping shared by players and relay peers. Must not touch
//! sockets or the clock, like the rest of the hub.

use std::collections::hash_map::Entry;
use std::time::Instant;

use dataplane::api::{Command, Event, PeerId, StreamId, WorkerId};

use super::{Hub, Output};
use crate::cdn::relay::{is_relay_peer, RelayConnId, RelayOutput, RelayPeer, RelayRoute};

impl Hub {
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
                self.add_peer(worker, peer.into_spec(source))
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
