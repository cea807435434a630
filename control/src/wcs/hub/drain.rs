//! The drain before the node stops (SIGTERM), sans-IO like the rest of the hub. After
//! [`Hub::start_drain`] a new publish or play is refused with FAILED [`info::SHUTTING_DOWN`]
//! while what runs goes on; [`Hub::busy_sessions`] tells the glue when nothing is left to wait
//! for; [`Hub::finish_drain`] ends whatever is still there with a status and the same info
//! (players STOPPED first, then publishers UNPUBLISHED, whose relay legs to edges end with
//! them).
//!
//! An origin's relay leg publishing on this node (an edge) counts only while it has players:
//! with none it serves nobody here, and waiting for it would keep a drained edge up until the
//! grace period's end. The leg is recognised by its `connection` (`custom.rtcdnRelay: true`).
//!
//! Must not touch sockets or the clock, nor decide when the drain ends (that is the glue's
//! timer and the operator's second signal).

use std::time::Instant;

use serde_json::{Map, Value};

use super::state::{ConnId, Hub, Role};
use crate::wcs::info;

impl Hub {
    /// Enters draining at `now`: from here on publishes and plays are refused. Idempotent.
    pub fn start_drain(&mut self, now: Instant) {
        self.now = Some(now);
        if !self.drain.draining {
            self.drain.draining = true;
            tracing::info!(
                sessions = self.busy_sessions(),
                connections = self.conns.len(),
                "draining: new publishes and plays are refused"
            );
        }
    }

    /// Whether the node drains.
    pub fn is_draining(&self) -> bool {
        self.drain.draining
    }

    /// The sessions a draining node waits for: every publisher and player, except an origin's
    /// relay publish that no player watches.
    pub fn busy_sessions(&self) -> usize {
        self.sessions
            .values()
            .filter(|s| {
                let idle_relay = s.role == Role::Publisher
                    && self.drain.relay_conns.contains(&s.conn)
                    && self
                        .streams
                        .get(&s.stream)
                        .is_none_or(|stream| stream.players.is_empty());
                !idle_relay
            })
            .count()
    }

    /// Ends every session at `now` with [`info::SHUTTING_DOWN`]: players get STOPPED, then
    /// publishers UNPUBLISHED (edges are told through the relay legs). Returns how many
    /// sessions were ended. New ones stay refused; the glue closes the sockets after it has
    /// delivered these statuses.
    pub fn finish_drain(&mut self, now: Instant) -> usize {
        self.now = Some(now);
        self.drain.draining = true;
        let of_role = |hub: &Hub, role: Role| {
            let mut ids: Vec<String> = hub
                .sessions
                .iter()
                .filter(|(_, s)| s.role == role)
                .map(|(id, _)| id.clone())
                .collect();
            ids.sort();
            ids
        };
        let players = of_role(self, Role::Player);
        for id in &players {
            self.end_session(id, Some(("STOPPED", info::SHUTTING_DOWN)), true);
        }
        let publishers = of_role(self, Role::Publisher);
        for id in &publishers {
            self.end_session(id, Some(("UNPUBLISHED", info::SHUTTING_DOWN)), true);
        }
        let ended = players.len() + publishers.len();
        tracing::info!(
            players = players.len(),
            publishers = publishers.len(),
            "drain finished: every session told to stop"
        );
        ended
    }

    /// Remembers `conn` as an origin's relay leg when its `connection` says so.
    pub(super) fn note_relay_connection(&mut self, conn: ConnId, object: &Map<String, Value>) {
        let relay = object
            .get("custom")
            .and_then(|c| c.get("rtcdnRelay"))
            .and_then(Value::as_bool)
            == Some(true);
        if relay && self.conns.contains_key(&conn) {
            self.drain.relay_conns.insert(conn);
        }
    }
}
