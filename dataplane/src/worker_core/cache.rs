//! The retransmission cache of one stream's video on one worker: the last packets the worker
//! forwarded, by the publisher's sequence number, kept as the same reference-counted buffers
//! the fan-out shares (no copy), bounded by count (the ring's size) and by age.
//!
//! Memory: the ring is allocated once, when the stream first has video for local
//! subscribers (`SLOTS` entries of a few words, about 40 KiB); the packets it keeps alive are at
//! most the last `max_age` of the stream (about 1 s, e.g. 300 KiB at 2.5 Mbit/s), shared with
//! every other worker's cache of the same stream. Owns nothing else; reads no clock.

#![forbid(unsafe_code)]

use std::time::{Duration, Instant};

use bytes::Bytes;

/// Packets a cache holds at most (a power of two: slot = sequence number mod `SLOTS`).
pub const SLOTS: usize = 1024;

#[derive(Clone, Default)]
struct Slot {
    seq: u16,
    at: Option<Instant>,
    packet: Bytes,
}

/// The last packets of one track, by sequence number.
pub struct RetransmitCache {
    slots: Box<[Slot]>,
    max_age: Duration,
}

impl RetransmitCache {
    /// An empty cache that answers for packets at most `max_age` old.
    pub fn new(max_age: Duration) -> Self {
        Self {
            slots: vec![Slot::default(); SLOTS].into_boxed_slice(),
            max_age,
        }
    }

    /// Keeps `packet` (publisher's sequence number `seq`) from `now` on, in place of whatever
    /// was `SLOTS` sequence numbers before it.
    pub fn insert(&mut self, now: Instant, seq: u16, packet: Bytes) {
        let slot = &mut self.slots[usize::from(seq) % SLOTS];
        slot.seq = seq;
        slot.at = Some(now);
        slot.packet = packet;
    }

    /// The packet with sequence number `seq`, if it is still here and not older than the
    /// cache's age limit at `now`.
    pub fn get(&self, now: Instant, seq: u16) -> Option<&Bytes> {
        let slot = &self.slots[usize::from(seq) % SLOTS];
        let at = slot.at?;
        (slot.seq == seq && now.saturating_duration_since(at) <= self.max_age)
            .then_some(&slot.packet)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn hits_by_sequence_number_misses_when_too_old_or_overwritten() {
        let t0 = Instant::now();
        let mut c = RetransmitCache::new(1000 * MS);
        assert_eq!(c.get(t0, 5), None, "empty");
        let p = Bytes::from_static(b"five");
        c.insert(t0, 5, p.clone());
        let got = c.get(t0 + 1000 * MS, 5).unwrap();
        assert_eq!(got.as_ptr(), p.as_ptr(), "the shared buffer, not a copy");
        assert_eq!(c.get(t0 + 1001 * MS, 5), None, "older than the limit");
        assert_eq!(
            c.get(t0, 5 + SLOTS as u16),
            None,
            "another number in the same slot"
        );
        c.insert(t0, 5 + SLOTS as u16, Bytes::from_static(b"later"));
        assert_eq!(c.get(t0, 5), None, "overwritten by a newer packet");
        // Wrap-around of the 16-bit numbers keeps the slots apart.
        c.insert(t0, 65_535, Bytes::from_static(b"last"));
        c.insert(t0, 0, Bytes::from_static(b"first"));
        assert_eq!(c.get(t0, 65_535).map(|b| &b[..]), Some(&b"last"[..]));
        assert_eq!(c.get(t0, 0).map(|b| &b[..]), Some(&b"first"[..]));
    }
}
