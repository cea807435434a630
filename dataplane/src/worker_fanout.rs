//! The worker's local fan-out: what one receive batch (or one mailbox drain) produced for the
//! subscribers on this worker is held here and delivered subscriber by subscriber, so each
//! subscriber's packets of the batch are adjacent in the send queue and leave as one UDP GSO
//! send.
//!
//! Owns the held messages only (reference-counted packets, no copies). Subscribers are looked
//! up when the messages are delivered, so one removed in between gets nothing. Must not touch
//! sockets or the clock.

use std::collections::HashMap;

use slab::Slab;

use super::send::{deliver, Io};
use super::{LocalStream, PeerEntry};
use crate::api::StreamId;
use crate::fanout::FanoutMsg;

/// Messages held before they are delivered anyway (bounds the delivery's stream grouping,
/// which is quadratic in the number held).
const MAX_HELD: usize = 64;

/// Media and sender reports waiting for [`HeldFanout::deliver`], in arrival order.
pub(super) struct HeldFanout {
    msgs: Vec<(StreamId, FanoutMsg)>,
}

impl HeldFanout {
    pub(super) fn new() -> Self {
        Self {
            msgs: Vec::with_capacity(MAX_HELD),
        }
    }

    /// Holds `msg` for the local subscribers of `stream`; true when full (deliver now).
    #[must_use]
    pub(super) fn hold(&mut self, stream: StreamId, msg: FanoutMsg) -> bool {
        self.msgs.push((stream, msg));
        self.msgs.len() >= MAX_HELD
    }

    /// Delivers everything held: stream by stream, then subscriber by subscriber, each
    /// subscriber getting its stream's messages in arrival order.
    pub(super) fn deliver(
        &mut self,
        streams: &HashMap<StreamId, LocalStream>,
        peers: &mut Slab<PeerEntry>,
        io: &mut Io,
    ) {
        let msgs = &self.msgs;
        for (first, (stream, _)) in msgs.iter().enumerate() {
            if msgs[..first].iter().any(|(s, _)| s == stream) {
                continue; // delivered with its stream's first message
            }
            let Some(local) = streams.get(stream) else {
                continue;
            };
            for &key in &local.subscribers {
                for (_, msg) in msgs[first..].iter().filter(|(s, _)| s == stream) {
                    deliver(peers, io, key, msg);
                }
            }
        }
        self.msgs.clear();
    }
}
