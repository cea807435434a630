//! The worker core's timer queue: a min-heap of `(deadline, peer key)`, so the next deadline
//! of all peers is found in O(log n). Entries are not removed when a peer is re-armed or goes
//! away; they are skipped when they reach the top (the peer's `armed` deadline no longer
//! matches).
//!
//! Owns the heap only; the peers' armed deadlines are the core's.

#![forbid(unsafe_code)]

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

/// Deadlines of peers, earliest first.
#[derive(Default)]
pub struct Timers {
    heap: BinaryHeap<Reverse<(Instant, usize)>>,
}

impl Timers {
    /// Peer `key` is due at `at` (its `armed` deadline is now `at`).
    pub fn schedule(&mut self, at: Instant, key: usize) {
        self.heap.push(Reverse((at, key)));
    }

    /// The earliest live deadline and its peer, dropping stale entries on the way (`armed`
    /// says which deadline a peer is armed for, `None` for a peer that is gone).
    pub fn peek(&mut self, armed: impl Fn(usize) -> Option<Instant>) -> Option<(Instant, usize)> {
        while let Some(&Reverse((t, key))) = self.heap.peek() {
            if armed(key) == Some(t) {
                return Some((t, key));
            }
            self.heap.pop();
        }
        None
    }

    /// Removes the top entry (after [`Self::peek`] returned it).
    pub fn pop(&mut self) {
        self.heap.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn stale_entries_are_skipped_and_the_earliest_live_one_wins() {
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        let mut timers = Timers::default();
        timers.schedule(at(10), 1);
        timers.schedule(at(5), 2);
        timers.schedule(at(20), 1); // peer 1 re-armed later: the 10 ms entry is stale
        let armed = |key| match key {
            1 => Some(at(20)),
            2 => None, // gone
            _ => None,
        };
        assert_eq!(timers.peek(armed), Some((at(20), 1)));
        timers.pop();
        assert_eq!(timers.peek(armed), None);
    }
}
