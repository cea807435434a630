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
use crate::api::{StreamId, WorkerId};

/// One stream's members on this worker.
#[derive(Default)]
pub struct LocalStream {
    pub publisher: Option<usize>,
    pub subscribers: Vec<usize>,
    /// Other workers hosting subscribers (only on the publisher's worker).
    pub targets: Vec<WorkerId>,
    /// The video packets forwarded to local subscribers lately (created with the first one).
    pub video_cache: Option<RetransmitCache>,
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

    /// Keeps a video packet (publisher's sequence number `seq`) of `stream` for
    /// retransmissions to its local subscribers, for `max_age`.
    pub fn cache_video(
        &mut self,
        stream: StreamId,
        now: Instant,
        seq: u16,
        packet: &Bytes,
        max_age: Duration,
    ) {
        if let Some(s) = self.0.get_mut(&stream) {
            s.video_cache
                .get_or_insert_with(|| RetransmitCache::new(max_age))
                .insert(now, seq, packet.clone());
        }
    }

    /// Streams with a member on this worker.
    pub fn len(&self) -> usize {
        self.0.len()
    }
}
