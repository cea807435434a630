//! The worker core's held fan-out: media and sender reports for this worker's subscribers
//! (from its own publishers or from other workers' mailboxes) are held while one receive batch
//! or mailbox drain is handled, then delivered stream by stream and subscriber by subscriber,
//! so each subscriber's packets of the batch are adjacent in the send queue and leave as one
//! UDP GSO send.
//!
//! Delivery stops when the send queue is full and resumes where it stopped once the queue was
//! sent. Owns the held messages only (reference-counted packets, no copies); subscribers are
//! looked up when the messages are delivered, so one removed in between gets nothing.

#![forbid(unsafe_code)]

use slab::Slab;

use super::outbox::Outbox;
use super::peer::Peer;
use super::streams::Streams;
use crate::api::StreamId;
use crate::fanout::FanoutMsg;

/// Messages held before they must be delivered (bounds the delivery's stream grouping, which
/// is quadratic in the number held).
pub const MAX_HELD: usize = 64;

/// Where a delivery stopped: the stream's first message, the subscriber's index in the
/// stream, and the next message for that subscriber.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Cursor {
    first: usize,
    subscriber: usize,
    next: usize,
}

/// Media and sender reports waiting for [`HeldFanout::deliver`], in arrival order.
pub struct HeldFanout {
    msgs: Vec<(StreamId, FanoutMsg)>,
    /// Set while a delivery waits for room in the send queue.
    cursor: Option<Cursor>,
}

impl HeldFanout {
    pub fn new() -> Self {
        Self {
            msgs: Vec::with_capacity(MAX_HELD),
            cursor: None,
        }
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.msgs.is_empty()
    }

    /// Whether [`Self::hold`] would refuse: deliver first.
    pub fn is_full(&self) -> bool {
        self.msgs.len() >= MAX_HELD
    }

    /// Whether a delivery started and waits for room in the send queue.
    pub fn in_progress(&self) -> bool {
        self.cursor.is_some()
    }

    /// Holds `msg` for the local subscribers of `stream`; false (not held) when full or while
    /// a delivery is in progress.
    #[must_use]
    pub fn hold(&mut self, stream: StreamId, msg: FanoutMsg) -> bool {
        if self.is_full() || self.in_progress() {
            return false;
        }
        self.msgs.push((stream, msg));
        true
    }

    /// Delivers what is held into the send queue: stream by stream, then subscriber by
    /// subscriber, each subscriber getting its stream's messages in arrival order. Returns
    /// true when everything was delivered, false when the queue filled up first (send it and
    /// call again).
    pub fn deliver(
        &mut self,
        streams: &Streams,
        peers: &mut Slab<Peer>,
        outbox: &mut Outbox,
    ) -> bool {
        let msgs = &self.msgs;
        let mut at = self.cursor.take().unwrap_or_default();
        while at.first < msgs.len() {
            let stream = msgs[at.first].0;
            let delivered_before = msgs[..at.first].iter().any(|(s, _)| *s == stream);
            let subscribers = match streams.get(stream) {
                Some(local) if !delivered_before => &local.subscribers[..],
                _ => &[],
            };
            while let Some(&key) = subscribers.get(at.subscriber) {
                at.next = at.next.max(at.first);
                while let Some((s, msg)) = msgs.get(at.next) {
                    if *s == stream {
                        if outbox.queue.is_full() {
                            self.cursor = Some(at);
                            return false;
                        }
                        if let Some(peer) = peers.get_mut(key) {
                            if peer.deliver(msg, outbox) {
                                outbox.rearm.push(key);
                            }
                        }
                    }
                    at.next += 1;
                }
                at.subscriber += 1;
                at.next = at.first;
            }
            at = Cursor {
                first: at.first + 1,
                subscriber: 0,
                next: at.first + 1,
            };
        }
        self.msgs.clear();
        true
    }
}
