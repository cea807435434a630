//! Loss repair toward subscribers, on the worker core: video packets kept in each stream's
//! retransmission cache, subscribers' NACKs answered from it, and the retransmissions a
//! subscriber's budget refused sent later, paced.
//!
//! Sans-IO like the rest of the core: works on `now`, the cache, the peers and the outbox.
//! The publisher is never asked for a subscriber's loss (upstream repair is `nack`'s).

use std::time::Instant;

use super::peer::Role;
use super::WorkerCore;
use crate::api::{MediaKind, StreamId};
use crate::fanout::FanoutMsg;
use crate::subscriber::retransmissions::PACE_BURST;
use crate::subscriber::RetransmitError;

/// A deferred retransmission is only sent if the send queue keeps this many slots free.
const MIN_FREE_SLOTS: usize = 2;

impl WorkerCore {
    /// A media packet for local subscribers: counted in its layer's rate, and a video packet
    /// put into the layer's retransmission cache.
    pub(super) fn keep_for_retransmission(
        &mut self,
        now: Instant,
        stream: StreamId,
        msg: &FanoutMsg,
    ) {
        if let FanoutMsg::Media {
            kind,
            layer,
            packet,
            ..
        } = msg
        {
            let layer = (*kind == MediaKind::Video).then_some(*layer);
            let age = self.config.retransmit_cache;
            self.streams.forwarded(stream, now, layer, packet, age);
        }
    }

    /// A subscriber (peer `key`) asked in NACKs for the packets `nacked` (`(its SSRC, its
    /// sequence number)`): retransmit those still cached (the publisher is never asked);
    /// what its budget refuses now is deferred and sent, paced, as the budget refills.
    pub(super) fn answer_nack(&mut self, now: Instant, key: usize, nacked: &[(u32, u16)]) {
        self.outbox.stats.nack_requested += nacked.len() as u64;
        let Some(peer) = self.peers.get_mut(key) else {
            return;
        };
        let caches = self.streams.get(peer.stream).map(|s| &s.video_cache);
        for &(media_ssrc, seq) in nacked {
            let Role::Subscriber { sub, .. } = &peer.role else {
                return;
            };
            let target = sub.nack_target(media_ssrc, seq);
            let Some((canonical, packet)) = target.and_then(|(layer, seq)| {
                let cache = caches?.get(usize::from(layer))?.as_ref()?;
                Some(((layer, seq), cache.get(now, seq)?))
            }) else {
                self.outbox.stats.retransmit_missed += 1;
                continue;
            };
            if peer.retransmit(now, canonical.0, packet, &mut self.outbox)
                == Err(RetransmitError::OverBudget)
            {
                let Role::Subscriber { sub, .. } = &mut peer.role else {
                    return;
                };
                if sub.defer_retransmission(now, canonical) {
                    self.outbox.stats.retransmit_deferred += 1;
                } else {
                    self.outbox.stats.retransmit_over_budget += 1;
                }
            }
        }
        self.rearm(key);
    }

    /// At a subscriber's pacing tick: sends the deferred retransmissions its budget now allows
    /// (a few, oldest first); the rest wait for the next tick.
    pub(super) fn send_deferred_retransmissions(&mut self, now: Instant, key: usize) {
        let Some(peer) = self.peers.get_mut(key) else {
            return;
        };
        let Role::Subscriber { sub, .. } = &mut peer.role else {
            return;
        };
        let mut due = [(0u8, 0u16); PACE_BURST];
        let n = sub.take_due_retransmissions(now, &mut due);
        let caches = self.streams.get(peer.stream).map(|s| &s.video_cache);
        for (i, &(layer, seq)) in due[..n].iter().enumerate() {
            let cache = caches.and_then(|c| c.get(usize::from(layer))?.as_ref());
            let Some(packet) = cache.and_then(|c| c.get(now, seq)) else {
                self.outbox.stats.retransmit_missed += 1;
                continue;
            };
            let full = self.outbox.queue.free() < MIN_FREE_SLOTS;
            if full
                || peer.retransmit(now, layer, packet, &mut self.outbox)
                    == Err(RetransmitError::OverBudget)
            {
                if let Role::Subscriber { sub, .. } = &mut peer.role {
                    sub.put_back_retransmissions(&due[i..n]);
                }
                return;
            }
        }
    }
}
