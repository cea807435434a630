//! A re-read `loadbalancing.xml` applied to the relay legs (SIGHUP), sans-IO like the rest of
//! [`Relays`]: legs to a removed edge end as on unpublish (the edge is told `unPublishStream`,
//! so its players get STOPPED, then the websocket and the relay peer go), every live stream
//! gets a leg to a new edge at once, and legs to unchanged edges are not touched.
//!
//! Must not touch sockets or the clock; the outputs go through [`Relays::poll_output`].

use std::time::Instant;

use super::{Leg, LegState, NodeSlot, Relays, BACKOFF_INITIAL};
use crate::cdn::config::{same_node, NodeConfig, NodesDiff};

impl Relays {
    /// Relays to `nodes` from now on (the new file's list; `now` for the new legs' first
    /// attempts) and returns what changed. A node whose address changed under the same id
    /// counts as removed and added: its legs start over at the new address.
    pub fn reload_nodes(&mut self, now: Instant, nodes: &[NodeConfig]) -> NodesDiff {
        let current: Vec<NodeConfig> = self.nodes.values().cloned().collect();
        let diff = NodesDiff::between(&current, nodes);
        let gone: Vec<NodeSlot> = self
            .nodes
            .iter()
            .filter(|(_, n)| !nodes.iter().any(|m| same_node(n, m)))
            .map(|(&slot, _)| slot)
            .collect();
        for slot in gone {
            self.remove_node(slot);
        }
        for node in nodes {
            let kept = self.nodes.values_mut().find(|n| same_node(n, node));
            match kept {
                // The same edge, maybe on another line of the file: its legs go on.
                Some(kept) => kept.clone_from(node),
                None => self.add_node(now, node.clone()),
            }
        }
        diff
    }

    /// Ends every leg to the node in `slot` and forgets the node.
    fn remove_node(&mut self, slot: NodeSlot) {
        let Some(node) = self.nodes.remove(&slot) else {
            return;
        };
        let ended: Vec<(Leg, String)> = self
            .streams
            .values_mut()
            .filter_map(|info| Some((info.legs.remove(&slot)?, info.name.clone())))
            .collect();
        let legs = ended.len();
        for (leg, name) in ended {
            self.end_leg(leg, &name);
        }
        tracing::info!(node = %node.id, host = %node.host, legs, "edge removed: its relay legs stopped");
    }

    /// Adds a node in a new slot and starts a leg to it for every live stream.
    fn add_node(&mut self, now: Instant, node: NodeConfig) {
        let slot = self.next_slot;
        self.next_slot += 1;
        tracing::info!(node = %node.id, host = %node.host, streams = self.streams.len(), "edge added: relaying every live stream to it");
        self.nodes.insert(slot, node);
        let streams: Vec<_> = self.streams.keys().copied().collect();
        for stream in streams {
            if let Some(info) = self.streams.get_mut(&stream) {
                info.legs.insert(
                    slot,
                    Leg {
                        backoff: BACKOFF_INITIAL,
                        state: LegState::Waiting { until: now },
                    },
                );
            }
            self.start_attempt(now, (stream, slot));
        }
    }
}
