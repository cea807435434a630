//! What one subscriber's retransmissions remember: its round-trip time, measured from its
//! receiver reports (LSR/DLSR against when the node took in the sender report it forwarded);
//! the packets resent lately, so that a NACK repeated before the retransmission could have
//! arrived is not answered twice; and the requests deferred because its retransmission budget
//! was spent, sent oldest first, a few per pacing tick, as the budget refills.
//!
//! Sans-IO, bounded: `RESENT_LOG` remembered retransmissions and `MAX_DEFERRED` requests per
//! subscriber, allocated on its first retransmission. Knows nothing of packets or sockets.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// A cached packet: its simulcast layer (0 without simulcast) and the publisher's sequence
/// number.
pub type PacketId = (u8, u16);

/// The round-trip time assumed before a receiver report measured one.
pub const DEFAULT_RTT: Duration = Duration::from_millis(100);
/// A repeated NACK is ignored for at least this long, and at most `MAX_HOLD`, after a resend.
const MIN_HOLD: Duration = Duration::from_millis(10);
const MAX_HOLD: Duration = Duration::from_millis(500);
/// Deferred retransmissions are looked at this often.
pub const PACE_INTERVAL: Duration = Duration::from_millis(10);
/// Deferred retransmissions sent at most per pacing tick.
pub const PACE_BURST: usize = 8;
/// Requests a subscriber may have deferred at once; more are refused (over budget).
pub const MAX_DEFERRED: usize = 64;
/// Recent retransmissions remembered (a power of two: index = sequence number mod it).
const RESENT_LOG: usize = 128;

/// The subscriber's round-trip time from its receiver reports.
#[derive(Debug, Default, Clone, Copy)]
pub struct RttEstimator {
    /// The last sender report sent: its NTP middle 32 bits and when the node received the
    /// publisher's report it was made from (the time the NTP stamp stands for, on our clock).
    last_sr: Option<(u32, Instant)>,
    rtt: Option<Duration>,
}

impl RttEstimator {
    /// A sender report with NTP timestamp `ntp` went out, made from one received at `at`.
    pub fn sender_report_sent(&mut self, ntp: u64, at: Instant) {
        self.last_sr = Some(((ntp >> 16) as u32, at));
    }

    /// A report block about our track arrived at `now`: `last_sr` and `delay` (1/65536 s) as
    /// the subscriber wrote them. Blocks about an older report, or none, are ignored.
    pub fn on_report(&mut self, now: Instant, last_sr: u32, delay: u32) {
        let Some((mid, at)) = self.last_sr else {
            return;
        };
        if last_sr == 0 || last_sr != mid {
            return;
        }
        let delay = Duration::from_micros(u64::from(delay) * 1_000_000 / 65_536);
        let Some(sample) = now.saturating_duration_since(at).checked_sub(delay) else {
            return;
        };
        self.rtt = Some(match self.rtt {
            Some(rtt) => (rtt * 7 + sample) / 8,
            None => sample,
        });
    }

    /// The measured round-trip time, if a report gave one.
    pub fn rtt(&self) -> Option<Duration> {
        self.rtt
    }

    /// How long after a resend a repeated request for the same packet is ignored.
    fn hold(&self) -> Duration {
        self.rtt.unwrap_or(DEFAULT_RTT).clamp(MIN_HOLD, MAX_HOLD)
    }
}

/// Recent and deferred retransmissions of one subscriber, by the publisher's sequence number.
#[derive(Debug)]
pub struct Retransmissions {
    resent: Box<[(PacketId, Option<Instant>)]>,
    deferred: VecDeque<PacketId>,
    next_pace: Option<Instant>,
}

impl Default for Retransmissions {
    fn default() -> Self {
        Self {
            resent: vec![((0, 0), None); RESENT_LOG].into_boxed_slice(),
            deferred: VecDeque::with_capacity(MAX_DEFERRED),
            next_pace: None,
        }
    }
}

impl Retransmissions {
    /// True if `seq` was resent less than the subscriber's round trip (`rtt`) before `now`:
    /// the retransmission may still be on its way.
    pub fn recently_resent(&self, now: Instant, seq: PacketId, rtt: &RttEstimator) -> bool {
        match self.resent[usize::from(seq.1) % RESENT_LOG] {
            (s, Some(at)) if s == seq => now.saturating_duration_since(at) < rtt.hold(),
            _ => false,
        }
    }

    /// `seq` was resent at `now`.
    pub fn resent(&mut self, now: Instant, seq: PacketId) {
        self.resent[usize::from(seq.1) % RESENT_LOG] = (seq, Some(now));
    }

    /// Defers a request for `seq` to the next pacing tick after `now`; false if it is already
    /// deferred or too many are.
    pub fn defer(&mut self, now: Instant, seq: PacketId) -> bool {
        if self.deferred.len() >= MAX_DEFERRED || self.deferred.contains(&seq) {
            return false;
        }
        self.deferred.push_back(seq);
        self.next_pace.get_or_insert(now + PACE_INTERVAL);
        true
    }

    /// When deferred requests should be looked at again.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_pace.filter(|_| !self.deferred.is_empty())
    }

    /// At a pacing tick (`now`): the deferred requests to try, oldest first, at most
    /// [`PACE_BURST`]. What cannot be sent goes back with [`Self::put_back`].
    pub fn take_due(&mut self, now: Instant) -> impl Iterator<Item = PacketId> + '_ {
        let due = self.next_pace.is_some_and(|t| now >= t);
        let n = if due {
            self.next_pace = Some(now + PACE_INTERVAL);
            self.deferred.len().min(PACE_BURST)
        } else {
            0
        };
        self.deferred.drain(..n)
    }

    /// Returns requests taken with [`Self::take_due`] that the budget did not allow yet, in
    /// their order, ahead of the others.
    pub fn put_back(&mut self, seqs: &[PacketId]) {
        for &seq in seqs.iter().rev() {
            self.deferred.push_front(seq);
        }
    }

    /// Requests waiting.
    pub fn deferred(&self) -> usize {
        self.deferred.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn rtt_is_the_time_since_the_report_minus_the_subscribers_delay() {
        let t0 = Instant::now();
        let mut r = RttEstimator::default();
        // NTP 0x0001_2345_6789_0000: middle 32 bits 0x2345_6789.
        r.sender_report_sent(0x0001_2345_6789_0000, t0);
        // Held 500 ms by the subscriber, back 540 ms after: 40 ms.
        r.on_report(t0 + 540 * MS, 0x2345_6789, 65_536 / 2);
        let rtt = r.rtt().unwrap();
        assert!(rtt >= 39 * MS && rtt <= 41 * MS, "{rtt:?}");
        // A block about another report, or none, changes nothing.
        r.on_report(t0 + 900 * MS, 0x1111_1111, 0);
        r.on_report(t0 + 900 * MS, 0, 0);
        assert_eq!(r.rtt(), Some(rtt));
    }

    #[test]
    fn a_packet_resent_within_the_round_trip_is_not_resent_again() {
        let t0 = Instant::now();
        let mut rtt = RttEstimator::default();
        let mut r = Retransmissions::default();
        r.resent(t0, (0, 7));
        assert!(
            r.recently_resent(t0 + 99 * MS, (0, 7), &rtt),
            "default 100 ms"
        );
        assert!(!r.recently_resent(t0 + 100 * MS, (0, 7), &rtt));
        assert!(!r.recently_resent(t0, (0, 8), &rtt));
        // Another packet in the same log slot replaces it.
        r.resent(t0, (0, 7 + RESENT_LOG as u16));
        assert!(!r.recently_resent(t0, (0, 7), &rtt));
        // A measured 30 ms round trip.
        rtt.sender_report_sent(1 << 16, t0);
        rtt.on_report(t0 + 30 * MS, 1, 0);
        r.resent(t0, (0, 9));
        assert!(r.recently_resent(t0 + 29 * MS, (0, 9), &rtt));
        assert!(!r.recently_resent(t0 + 31 * MS, (0, 9), &rtt));
    }

    #[test]
    fn deferred_requests_leave_a_few_per_tick_oldest_first() {
        let t0 = Instant::now();
        let mut r = Retransmissions::default();
        assert_eq!(r.poll_timeout(), None);
        for seq in 0..20 {
            assert!(r.defer(t0, (0, seq)));
        }
        assert!(!r.defer(t0, (0, 3)), "already deferred");
        assert_eq!(r.poll_timeout(), Some(t0 + PACE_INTERVAL));
        assert_eq!(r.take_due(t0 + 5 * MS).count(), 0, "not yet");
        let first: Vec<PacketId> = r.take_due(t0 + PACE_INTERVAL).collect();
        assert_eq!(
            first,
            (0..PACE_BURST as u16).map(|s| (0, s)).collect::<Vec<_>>()
        );
        // The budget allowed two: the rest go back in front.
        r.put_back(&first[2..]);
        assert_eq!(r.deferred(), 18);
        assert_eq!(r.poll_timeout(), Some(t0 + 2 * PACE_INTERVAL));
        let next: Vec<PacketId> = r.take_due(t0 + 2 * PACE_INTERVAL).collect();
        assert_eq!(
            next,
            (2..2 + PACE_BURST as u16)
                .map(|s| (0, s))
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn deferred_requests_are_bounded() {
        let t0 = Instant::now();
        let mut r = Retransmissions::default();
        for seq in 0..MAX_DEFERRED as u16 {
            assert!(r.defer(t0, (0, seq)));
        }
        assert!(!r.defer(t0, (0, 1000)));
        assert_eq!(r.deferred(), MAX_DEFERRED);
    }
}
