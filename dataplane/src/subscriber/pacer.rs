//! Pacing of one viewer's video: a keyframe arrives as a burst of dozens of packets, and sent
//! at once it overflows the buffer of a thin path (a policer drops it outright). The pacer lets
//! packets go while a byte budget allows — it refills at a multiple of the viewer's estimate
//! (or of what its video needs, whichever is more) and holds a few milliseconds' burst — and
//! keeps the rest, in order, to be sent at the next ticks.
//!
//! Sans-IO and bounded: holds reference-counted packets (no copies), at most
//! [`MAX_QUEUED`]; when full, the oldest is dropped (the viewer asks for it again, or for a
//! keyframe). Allocated with the viewer's first held packet.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;

/// The pace is this many times the viewer's estimate (as libwebrtc paces its own sends)...
pub const PACING_FACTOR: f64 = 2.5;
/// ... and at least this many times what its video needs, so that the queue drains.
const NEED_FACTOR: f64 = 1.5;
/// The budget holds at most this long a burst at the pace...
const BURST: Duration = Duration::from_millis(10);
/// ... and at least this many bytes (a few full packets).
const MIN_BURST_BYTES: f64 = 4_000.0;
/// Held packets are sent at ticks this far apart.
pub const PACER_TICK: Duration = Duration::from_millis(5);
/// Packets held at most.
pub const MAX_QUEUED: usize = 256;

/// A video packet held for its turn: the fan-out's shared packet and what the viewer's
/// rewrite needs to know about it.
#[derive(Clone, Debug)]
pub struct Held {
    pub layer: u8,
    pub keyframe: bool,
    /// The viewer switched to `layer` at this packet.
    pub switching: bool,
    pub packet: Bytes,
}

/// The pacer of one viewer.
#[derive(Debug, Default)]
pub struct Pacer {
    queue: VecDeque<Held>,
    /// Bytes that may be sent now (negative: sent ahead of the pace).
    budget: f64,
    /// The pace, bits/s, and when the budget was last refilled.
    rate_bps: f64,
    refilled: Option<Instant>,
    /// Packets dropped because the queue was full.
    pub dropped: u64,
}

impl Pacer {
    /// Sets the pace from the viewer's `estimate_bps` and what its video needs.
    pub fn set_rate(&mut self, estimate_bps: u64, needed_bps: u64) {
        self.rate_bps = (PACING_FACTOR * estimate_bps as f64).max(NEED_FACTOR * needed_bps as f64);
    }

    fn refill(&mut self, now: Instant) {
        let cap = (self.rate_bps / 8.0 * BURST.as_secs_f64()).max(MIN_BURST_BYTES);
        let Some(last) = self.refilled.replace(now) else {
            self.budget = cap; // a full burst allowance to start with
            return;
        };
        let dt = now.saturating_duration_since(last).as_secs_f64();
        self.budget = (self.budget + self.rate_bps / 8.0 * dt).min(cap);
    }

    /// Whether a packet of `len` bytes may go now (then it is counted against the budget);
    /// false: hold it with [`Self::hold`]. Nothing passes while packets are held (order).
    pub fn admit(&mut self, now: Instant, len: usize) -> bool {
        if self.rate_bps <= 0.0 {
            return true; // not paced yet
        }
        self.refill(now);
        if !self.queue.is_empty() || self.budget < 0.0 {
            return false;
        }
        self.budget -= len as f64;
        true
    }

    /// Holds `held` for a later tick; drops the oldest held packet when full.
    pub fn hold(&mut self, held: Held) {
        if self.queue.len() >= MAX_QUEUED {
            self.queue.pop_front();
            self.dropped += 1;
        }
        if self.queue.capacity() == 0 {
            self.queue.reserve_exact(MAX_QUEUED);
        }
        self.queue.push_back(held);
    }

    /// The next held packet whose turn has come at `now`, counted against the budget.
    pub fn pop(&mut self, now: Instant) -> Option<Held> {
        if self.queue.is_empty() {
            return None;
        }
        self.refill(now);
        if self.budget < 0.0 {
            return None;
        }
        let held = self.queue.pop_front()?;
        self.budget -= held.packet.len() as f64;
        Some(held)
    }

    /// When held packets are next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.queue.is_empty(), self.refilled) {
            (false, Some(t)) => Some(t + PACER_TICK),
            _ => None,
        }
    }

    /// Packets held.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn held(len: usize) -> Held {
        Held {
            layer: 0,
            keyframe: false,
            switching: false,
            packet: Bytes::from(vec![0u8; len]),
        }
    }

    #[test]
    fn a_burst_is_spread_at_the_pace() {
        let t0 = Instant::now();
        let mut p = Pacer::default();
        // 400 kbit/s estimate: a 1 Mbit/s pace, 50 kB a... 1250 bytes a 10 ms.
        p.set_rate(400_000, 200_000);
        // A keyframe of 40 packets of 1200 bytes at once: the burst allowance passes 4.
        let mut passed = 0;
        for _ in 0..40 {
            if p.admit(t0, 1200) {
                passed += 1;
            } else {
                p.hold(held(1200));
            }
        }
        assert_eq!(passed, 4);
        assert_eq!(p.len(), 36);
        assert_eq!(p.poll_timeout(), Some(t0 + PACER_TICK));
        // Then about 1 Mbit/s: the rest over roughly 350 ms.
        let mut now = t0;
        let mut sent_at = Vec::new();
        while !p.is_empty() {
            now += PACER_TICK;
            while p.pop(now).is_some() {
                sent_at.push(now);
            }
        }
        let took = *sent_at.last().unwrap() - t0;
        assert!(took >= 300 * MS && took <= 420 * MS, "{took:?}");
        // New packets wait behind the held ones.
        p.hold(held(100));
        assert!(!p.admit(now, 100));
    }

    #[test]
    fn the_pace_never_falls_under_what_the_video_needs_and_the_queue_is_bounded() {
        let t0 = Instant::now();
        let mut p = Pacer::default();
        assert!(p.admit(t0, 1200), "before a rate is set nothing is held");
        p.set_rate(10_000, 800_000);
        assert!((p.rate_bps - 1_200_000.0).abs() < 1.0);
        for _ in 0..MAX_QUEUED + 10 {
            p.hold(held(10));
        }
        assert_eq!(p.len(), MAX_QUEUED);
        assert_eq!(p.dropped, 10);
    }
}
