//! Loss tracking on what a publisher sends us, and the NACKs (RFC 4585 §6.2.1) that ask it to
//! repair: one request for all our viewers, retried about once per round trip, given up after
//! a deadline — when a gap cannot be repaired in time the owner asks for a keyframe instead.
//!
//! [`NackGenerator`] owns one track's missing sequence numbers (a fixed ring, no allocation
//! after creation) and its round-trip estimate (from how long repairs take). Sans-IO: `now` is
//! passed in; the owner writes the RTCP and sends it.

#![forbid(unsafe_code)]

use std::time::{Duration, Instant};

use crate::rtp::SeqExtender;

/// Sequence numbers tracked at most; a gap larger than this is not repaired (keyframe).
pub const MAX_MISSING: usize = 512;
/// Requests per missing packet at most.
pub const MAX_TRIES: u8 = 10;
/// A packet still missing this long after its gap appeared is given up.
pub const GIVE_UP_AFTER: Duration = Duration::from_millis(1000);
/// How long a gap may be reordering before it is asked for.
pub const REORDER_WAIT: Duration = Duration::from_millis(5);
/// Shortest and longest time between two requests for one packet.
const MIN_RETRY: Duration = Duration::from_millis(20);
const MAX_RETRY: Duration = Duration::from_millis(500);
/// The round trip assumed before a repair was measured.
const INITIAL_RTT: Duration = Duration::from_millis(100);

#[derive(Clone, Copy, Debug)]
struct Missing {
    seq: u64,
    since: Instant,
    next_at: Instant,
    last_sent: Option<Instant>,
    tries: u8,
}

/// What one received packet meant for loss tracking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arrival {
    /// The next packet, or one that fills no tracked gap.
    InOrder,
    /// New packets went missing before this one: a request is scheduled.
    Gap,
    /// A gap too large to repair: ask for a keyframe.
    TooLarge,
    /// A missing packet arrived (late or repaired).
    Repaired,
    /// At or below the highest packet and not missing: received before (a duplicate — e.g. a
    /// publisher probing bandwidth by resending recent packets over RTX) or given up long ago.
    Old,
}

/// Counters of one generator.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NackStats {
    /// Packets that went missing.
    pub missing: u64,
    /// Packets asked for (each try counts).
    pub requested: u64,
    /// Missing packets that arrived later.
    pub repaired: u64,
    /// Missing packets given up.
    pub given_up: u64,
}

/// The missing packets of one track.
pub struct NackGenerator {
    ext: SeqExtender,
    highest: Option<u64>,
    ring: Box<[Option<Missing>]>,
    /// Lowest sequence number that may still be in the ring.
    oldest: u64,
    rtt: Duration,
    gave_up: bool,
    pub stats: NackStats,
}

impl Default for NackGenerator {
    fn default() -> Self {
        Self::new()
    }
}

impl NackGenerator {
    pub fn new() -> Self {
        Self {
            ext: SeqExtender::new(),
            highest: None,
            ring: vec![None; MAX_MISSING].into_boxed_slice(),
            oldest: 0,
            rtt: INITIAL_RTT,
            gave_up: false,
            stats: NackStats::default(),
        }
    }

    /// The round-trip estimate requests are retried by.
    pub fn rtt(&self) -> Duration {
        self.rtt
    }

    /// A packet with sequence number `seq` arrived at `now`.
    pub fn on_packet(&mut self, now: Instant, seq: u16) -> Arrival {
        let ext = self.ext.extend(seq);
        let Some(highest) = self.highest else {
            self.highest = Some(ext);
            self.oldest = ext + 1;
            return Arrival::InOrder;
        };
        if ext <= highest {
            let slot = &mut self.ring[ext as usize % MAX_MISSING];
            return match slot.take() {
                Some(m) if m.seq == ext => {
                    self.stats.repaired += 1;
                    if let Some(sent) = m.last_sent {
                        // A repair one round trip after the last request: the round trip.
                        let sample = now.saturating_duration_since(sent);
                        self.rtt = (self.rtt * 7 + sample) / 8;
                    }
                    Arrival::Repaired
                }
                other => {
                    *slot = other;
                    Arrival::Old
                }
            };
        }
        self.highest = Some(ext);
        let gap = ext - highest - 1;
        if gap == 0 {
            return Arrival::InOrder;
        }
        if gap as usize >= MAX_MISSING {
            self.clear();
            self.oldest = ext + 1;
            self.stats.missing += gap;
            self.stats.given_up += gap;
            return Arrival::TooLarge;
        }
        for s in highest + 1..ext {
            let slot = &mut self.ring[s as usize % MAX_MISSING];
            if let Some(old) = slot.replace(Missing {
                seq: s,
                since: now,
                next_at: now + REORDER_WAIT,
                last_sent: None,
                tries: 0,
            }) {
                // Still missing after MAX_MISSING newer packets: too late to repair.
                self.stats.given_up += 1;
                self.gave_up = true;
                let _ = old;
            }
        }
        self.stats.missing += gap;
        Arrival::Gap
    }

    fn clear(&mut self) {
        for slot in self.ring.iter_mut() {
            *slot = None;
        }
    }

    /// When a request is next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.ring.iter().flatten().map(|m| m.next_at).min()
    }

    /// Whether a missing packet was given up since the last call (ask for a keyframe).
    pub fn take_gave_up(&mut self) -> bool {
        std::mem::take(&mut self.gave_up)
    }

    /// The sequence numbers to ask for at `now`, as NACK `(PID, BLP)` pairs written into
    /// `pairs`; returns how many. Gives up on packets past their deadline or tries.
    pub fn poll_nack(&mut self, now: Instant, pairs: &mut [(u16, u16)]) -> usize {
        let Some(highest) = self.highest else {
            return 0;
        };
        let retry = self.rtt.clamp(MIN_RETRY, MAX_RETRY);
        let mut n: usize = 0;
        let mut oldest = None;
        for s in self.oldest..=highest {
            let slot = &mut self.ring[s as usize % MAX_MISSING];
            let Some(m) = slot.as_mut().filter(|m| m.seq == s) else {
                continue;
            };
            if now.saturating_duration_since(m.since) >= GIVE_UP_AFTER || m.tries >= MAX_TRIES {
                *slot = None;
                self.stats.given_up += 1;
                self.gave_up = true;
                continue;
            }
            oldest.get_or_insert(s);
            if m.next_at > now {
                continue;
            }
            let seq = s as u16;
            let bit = n
                .checked_sub(1)
                .map(|last| seq.wrapping_sub(pairs[last].0).wrapping_sub(1))
                .filter(|bit| *bit < 16);
            match bit {
                Some(bit) => pairs[n - 1].1 |= 1 << bit,
                None if n < pairs.len() => {
                    pairs[n] = (seq, 0);
                    n += 1;
                }
                None => continue, // no room: asked for next time
            }
            m.tries += 1;
            m.last_sent = Some(now);
            m.next_at = now + retry;
            self.stats.requested += 1;
        }
        self.oldest = oldest.unwrap_or(highest + 1);
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn lost(pairs: &[(u16, u16)]) -> Vec<u16> {
        let mut v = Vec::new();
        for &(pid, blp) in pairs {
            v.push(pid);
            for bit in 0..16 {
                if blp & (1 << bit) != 0 {
                    v.push(pid.wrapping_add(bit + 1));
                }
            }
        }
        v
    }

    #[test]
    fn a_gap_is_asked_for_after_the_reorder_wait_then_retried_then_given_up() {
        let t0 = Instant::now();
        let mut g = NackGenerator::new();
        let mut pairs = [(0, 0); 8];
        assert_eq!(g.on_packet(t0, 100), Arrival::InOrder);
        assert_eq!(g.on_packet(t0, 101), Arrival::InOrder);
        assert_eq!(g.on_packet(t0, 104), Arrival::Gap);
        assert_eq!(g.poll_timeout(), Some(t0 + REORDER_WAIT));
        assert_eq!(g.poll_nack(t0, &mut pairs), 0, "waits for reordering");
        let t1 = t0 + REORDER_WAIT;
        let n = g.poll_nack(t1, &mut pairs);
        assert_eq!(lost(&pairs[..n]), [102, 103]);
        assert_eq!(n, 1, "one pair with a bitmask");
        // 103 is repaired 40 ms later: the round trip moves toward 40 ms.
        assert_eq!(g.on_packet(t1 + 40 * MS, 103), Arrival::Repaired);
        assert!(g.rtt() < INITIAL_RTT);
        let retry = g.poll_timeout().unwrap();
        assert_eq!(
            retry,
            t1 + INITIAL_RTT,
            "the retry was scheduled before the sample"
        );
        let n = g.poll_nack(retry, &mut pairs);
        assert_eq!(lost(&pairs[..n]), [102]);
        // Nobody repairs 102: it is given up at its deadline, once.
        let mut t = retry;
        while let Some(next) = g.poll_timeout() {
            t = next;
            g.poll_nack(t, &mut pairs);
        }
        assert!(t.duration_since(t0) <= GIVE_UP_AFTER + MAX_RETRY);
        assert!(g.take_gave_up());
        assert!(!g.take_gave_up());
        assert_eq!(g.stats.missing, 2);
        assert_eq!(g.stats.repaired, 1);
        assert_eq!(g.stats.given_up, 1);
        assert!(g.stats.requested >= 3 && g.stats.requested <= 2 + u64::from(MAX_TRIES));
    }

    #[test]
    fn reordering_within_the_wait_asks_for_nothing_and_wraps_are_followed() {
        let t0 = Instant::now();
        let mut g = NackGenerator::new();
        let mut pairs = [(0, 0); 8];
        g.on_packet(t0, 65_534);
        assert_eq!(
            g.on_packet(t0, 0),
            Arrival::Gap,
            "65535 missing across the wrap"
        );
        assert_eq!(g.on_packet(t0 + MS, 65_535), Arrival::Repaired);
        assert_eq!(g.poll_nack(t0 + REORDER_WAIT, &mut pairs), 0);
        assert_eq!(g.poll_timeout(), None);
        assert_eq!(g.on_packet(t0, 2), Arrival::Gap);
        let n = g.poll_nack(t0 + REORDER_WAIT, &mut pairs);
        assert_eq!(lost(&pairs[..n]), [1]);
        // What arrived already, again (a resend used as padding, a duplicate): old, and the
        // missing packet is still missing.
        assert_eq!(g.on_packet(t0, 2), Arrival::Old);
        assert_eq!(g.on_packet(t0, 65_535), Arrival::Old);
        assert_eq!(g.on_packet(t0, 1), Arrival::Repaired);
        assert_eq!(g.on_packet(t0, 1), Arrival::Old);
    }

    #[test]
    fn a_huge_gap_is_not_repaired_but_reported() {
        let t0 = Instant::now();
        let mut g = NackGenerator::new();
        g.on_packet(t0, 10);
        assert_eq!(
            g.on_packet(t0, 10 + MAX_MISSING as u16 + 5),
            Arrival::TooLarge
        );
        assert_eq!(g.poll_timeout(), None);
        assert_eq!(
            g.on_packet(t0, 11 + MAX_MISSING as u16 + 5),
            Arrival::InOrder
        );
    }

    #[test]
    fn requests_that_do_not_fit_wait_for_the_next_call() {
        let t0 = Instant::now();
        let mut g = NackGenerator::new();
        g.on_packet(t0, 0);
        // 19 lost after every 20th: 95 missing packets need more than two pairs.
        for k in 1..=5u16 {
            g.on_packet(t0, k * 20);
        }
        let mut pairs = [(0, 0); 2];
        let t = t0 + REORDER_WAIT;
        let n = g.poll_nack(t, &mut pairs);
        assert_eq!(n, 2);
        // 1..=17 in the first pair; 18, 19 and 21..=34 in the second.
        assert_eq!(lost(&pairs[..n]).len(), 33);
        let n = g.poll_nack(t, &mut pairs);
        assert!(n > 0, "the rest go at once in the next call");
    }
}
