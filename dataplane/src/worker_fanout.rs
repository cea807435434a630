//! The worker's fan-out: a publisher's packet goes to the other workers' mailboxes at once and
//! is held ([`HeldFanout`]) for this worker's subscribers; what one receive batch (or one
//! mailbox drain) produced is then delivered subscriber by subscriber, so each subscriber's
//! packets of the batch are adjacent in the send queue and leave as one UDP GSO send. Keyframe
//! requests travel the other way, to the publisher's worker.
//!
//! Owns the held messages only (reference-counted packets, no copies). Subscribers are looked
//! up when the messages are delivered, so one removed in between gets nothing. Must not read
//! the clock (`now` is passed in) or touch sockets other than through [`Io`].

use std::collections::HashMap;
use std::time::Instant;

use slab::Slab;

use super::send::{deliver, send_keyframe_request, Io};
use super::{LocalStream, PeerEntry, Role, Worker};
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

impl Worker {
    /// Queues `msg` for the other workers that host subscribers of `stream` and holds it for
    /// the local ones (delivered by [`Self::flush`]).
    pub(super) fn fan_out(&mut self, stream: StreamId, msg: FanoutMsg) {
        let Some(local) = self.streams.get(&stream) else {
            return;
        };
        for &w in &local.targets {
            if let Some(mb) = self.mailboxes.get(w.0) {
                if mb.push(msg.clone()) {
                    self.wakes.mark(w);
                }
            }
        }
        if !local.subscribers.is_empty() {
            self.hold(stream, msg);
        }
    }

    /// Holds `msg` for the local subscribers of `stream`, delivering early when enough is held.
    pub(super) fn hold(&mut self, stream: StreamId, msg: FanoutMsg) {
        if self.held.hold(stream, msg) {
            self.held
                .deliver(&self.streams, &mut self.peers, &mut self.io);
        }
    }

    /// Delivers what is held for local subscribers and sends everything queued.
    pub(super) fn flush(&mut self) {
        self.held
            .deliver(&self.streams, &mut self.peers, &mut self.io);
        self.io.flush();
    }

    /// A subscriber (peer `key`) wants a keyframe: ask the publisher, here or on its worker.
    pub(super) fn request_keyframe(&mut self, now: Instant, key: usize) {
        let Some(peer) = self.peers.get(key) else {
            return;
        };
        let stream = peer.stream;
        match peer.role {
            Role::Subscriber { source, .. } if source != self.id => {
                if let Some(mb) = self.mailboxes.get(source.0) {
                    if mb.push(FanoutMsg::KeyframeRequest { stream }) {
                        self.wakes.mark(source);
                    }
                }
            }
            _ => self.keyframe_for_stream(now, stream),
        }
    }

    /// On the publisher's worker: send (or merge) a keyframe request to the publisher.
    pub(super) fn keyframe_for_stream(&mut self, now: Instant, stream: StreamId) {
        let Some(key) = self.streams.get(&stream).and_then(|s| s.publisher) else {
            return;
        };
        let peer = &mut self.peers[key];
        if let Role::Publisher(p) = &mut peer.role {
            if p.keyframes.request(now) {
                send_keyframe_request(&mut self.io, peer);
            }
        }
        self.rearm(key);
    }

    pub(super) fn drain_mailbox(&mut self, now: Instant) {
        let mailboxes = self.mailboxes.clone();
        let Some(mb) = mailboxes.get(self.id.0) else {
            return;
        };
        while let Some(msg) = mb.pop() {
            match msg {
                FanoutMsg::KeyframeRequest { stream } => self.keyframe_for_stream(now, stream),
                FanoutMsg::Media { stream, .. } | FanoutMsg::SenderReport { stream, .. } => {
                    self.hold(stream, msg);
                }
            }
        }
    }
}
