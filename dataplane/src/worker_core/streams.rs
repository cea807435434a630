//! The streams a worker core takes part in: for each, the local publisher, the local
//! subscribers, (on the publisher's worker) the other workers that host subscribers, and the
//! video retransmission cache the local subscribers' NACKs are answered from.
//!
//! Owns the membership lists (peers are slab keys of the core) and the caches; forgets a
//! stream when nothing is left of it.

#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::cache::RetransmitCache;
use crate::api::{StreamId, WorkerId, MAX_LAYERS};
use crate::simulcast::LayerRates;

/// One stream's members on this worker.
#[derive(Default)]
pub struct LocalStream {
    pub publisher: Option<usize>,
    pub subscribers: Vec<usize>,
    /// Other workers hosting subscribers (only on the publisher's worker).
    pub targets: Vec<WorkerId>,
    /// The video packets forwarded to local subscribers lately, per simulcast layer (each
    /// created with its first packet).
    pub video_cache: [Option<RetransmitCache>; MAX_LAYERS],
    /// The bitrate of each layer forwarded here (what viewers' layers are chosen by).
    pub rates: LayerRates,
}

impl LocalStream {
    fn is_empty(&self) -> bool {
        self.publisher.is_none() && self.subscribers.is_empty() && self.targets.is_empty()
    }
}

/// Every stream with a member on this worker.
#[derive(Default)]
pub struct Streams(HashMap<StreamId, LocalStream>);

impl Streams {
    pub fn get(&self, stream: StreamId) -> Option<&LocalStream> {
        self.0.get(&stream)
    }

    pub fn set_publisher(&mut self, stream: StreamId, key: usize) {
        self.0.entry(stream).or_default().publisher = Some(key);
    }

    pub fn add_subscriber(&mut self, stream: StreamId, key: usize) {
        self.0.entry(stream).or_default().subscribers.push(key);
    }

    /// Peer `key` left `stream`.
    pub fn remove_peer(&mut self, stream: StreamId, key: usize) {
        if let Some(s) = self.0.get_mut(&stream) {
            if s.publisher == Some(key) {
                s.publisher = None;
            }
            s.subscribers.retain(|k| *k != key);
        }
        self.forget_if_empty(stream);
    }

    /// Subscribers of `stream` on `worker` get its packets from here too.
    pub fn add_target(&mut self, stream: StreamId, worker: WorkerId) {
        let s = self.0.entry(stream).or_default();
        if !s.targets.contains(&worker) {
            s.targets.push(worker);
        }
    }

    /// `worker` has no subscribers of `stream` left.
    pub fn remove_target(&mut self, stream: StreamId, worker: WorkerId) {
        if let Some(s) = self.0.get_mut(&stream) {
            s.targets.retain(|w| *w != worker);
        }
        self.forget_if_empty(stream);
    }

    fn forget_if_empty(&mut self, stream: StreamId) {
        if self.0.get(&stream).is_some_and(LocalStream::is_empty) {
            self.0.remove(&stream);
        }
    }

    /// A media packet of `stream` (video layer `layer`, `None` for audio) is forwarded to its
    /// local subscribers at `now`: counted in the layers' rates, and a video packet
    /// (publisher's sequence number `seq`) kept for retransmissions for `max_age`.
    pub fn forwarded(
        &mut self,
        stream: StreamId,
        now: Instant,
        layer: Option<u8>,
        packet: &Bytes,
        max_age: Duration,
    ) {
        let Some(s) = self.0.get_mut(&stream) else {
            return;
        };
        s.rates.on_packet(now, layer, packet.len());
        let (Some(layer), Some(seq)) = (layer, packet.get(2..4)) else {
            return;
        };
        let seq = u16::from_be_bytes([seq[0], seq[1]]);
        if let Some(cache) = s.video_cache.get_mut(usize::from(layer)) {
            cache
                .get_or_insert_with(|| RetransmitCache::new(max_age))
                .insert(now, seq, packet.clone());
        }
    }

    /// Streams with a member on this worker.
    pub fn len(&self) -> usize {
        self.0.len()
    }
}
