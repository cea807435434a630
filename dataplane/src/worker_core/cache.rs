//! The retransmission cache of one stream's video on one worker: the last packets the worker
//! forwarded, by the publisher's sequence number, kept as the same reference-counted buffers
//! the fan-out shares (no copy), bounded by count (the ring's size) and by age.
//!
//! Memory: the ring is allocated once, when the stream first has video for local
//! subscribers (`SLOTS` entries of a few words, about 58 KiB); the packets it keeps alive are at
//! most the last `max_age` of the stream (released as they age, e.g. 1 s ≈ 300 KiB at
//! 2.5 Mbit/s), shared with every other worker's cache of the same stream. Owns nothing else;
//! reads no clock.

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
    /// The sequence numbers inserted, oldest first (a ring of `SLOTS`): what is older than
    /// `max_age` is let go from the front, so no packet is kept alive longer than that.
    order: Box<[u16]>,
    head: usize,
    len: usize,
    max_age: Duration,
}

impl RetransmitCache {
    /// An empty cache that answers for packets at most `max_age` old.
    pub fn new(max_age: Duration) -> Self {
        Self {
            slots: vec![Slot::default(); SLOTS].into_boxed_slice(),
            order: vec![0; SLOTS].into_boxed_slice(),
            head: 0,
            len: 0,
            max_age,
        }
    }

    /// Keeps `packet` (publisher's sequence number `seq`) from `now` on, in place of whatever
    /// was `SLOTS` sequence numbers before it, and lets go of packets older than the limit.
    pub fn insert(&mut self, now: Instant, seq: u16, packet: Bytes) {
        while self.len > 0 {
            let oldest = self.order[self.head];
            let slot = &mut self.slots[usize::from(oldest) % SLOTS];
            let expired = slot
                .at
                .is_none_or(|at| now.saturating_duration_since(at) > self.max_age);
            if !expired && self.len < SLOTS {
                break;
            }
            if slot.seq == oldest && expired {
                *slot = Slot::default();
            }
            self.head = (self.head + 1) % SLOTS;
            self.len -= 1;
        }
        let slot = &mut self.slots[usize::from(seq) % SLOTS];
        slot.seq = seq;
        slot.at = Some(now);
        slot.packet = packet;
        self.order[(self.head + self.len) % SLOTS] = seq;
        self.len += 1;
    }

    /// Packets the cache keeps alive.
    #[cfg(test)]
    fn held(&self) -> usize {
        self.slots.iter().filter(|s| s.at.is_some()).count()
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

    #[test]
    fn packets_older_than_the_limit_are_let_go_not_only_refused() {
        let t0 = Instant::now();
        let mut c = RetransmitCache::new(100 * MS);
        // 10 ms apart: at most 11 packets are ever 100 ms old or younger.
        for i in 0..50u16 {
            c.insert(
                t0 + u32::from(i) * 10 * MS,
                i,
                Bytes::from(vec![i as u8; 100]),
            );
            assert!(c.held() <= 11, "{} held after {i}", c.held());
        }
        assert_eq!(c.held(), 11);
        assert!(c.get(t0 + 490 * MS, 39).is_some());
        assert!(c.get(t0 + 490 * MS, 38).is_none());
        // Faster than the ring: the count bounds it.
        let mut c = RetransmitCache::new(100 * MS);
        for i in 0..3000u16 {
            c.insert(t0, i, Bytes::from_static(b"x"));
        }
        assert_eq!(c.held(), SLOTS);
    }
}
