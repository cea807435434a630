//! One direction of a simulated network path: what happens to each datagram sent on it —
//! lost, duplicated, queued behind a rate limit, delayed with jitter, or held back so that it
//! arrives after later ones — decided with the network's seeded generator, so a run is exact
//! and repeatable.
//!
//! Owns the link's settings, its rate-limit backlog and a log of what it dropped. It does not
//! hold datagrams in flight (the network does) and reads no clock.

#![forbid(unsafe_code)]

use std::time::{Duration, Instant};

use crate::rng::SplitMix64;

/// How one direction of a path treats datagrams. The default is a perfect link: no delay,
/// loss, jitter, reordering or rate limit.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LinkConfig {
    /// One-way delay every datagram gets.
    pub delay: Duration,
    /// Extra delay uniform in `[0, jitter)` per datagram (may reorder close datagrams).
    pub jitter: Duration,
    /// Share of datagrams dropped at random, 0.0 to 1.0.
    pub loss: f64,
    /// Share of datagrams delivered twice, 0.0 to 1.0.
    pub duplicate: f64,
    /// Share of datagrams held back by `reorder_delay`, so later ones overtake them.
    pub reorder: f64,
    /// How long a reordered datagram is held back.
    pub reorder_delay: Duration,
    /// Bottleneck rate in bits per second (`None`: unlimited).
    pub rate_bps: Option<u64>,
    /// Bytes the bottleneck queue holds before it drops (tail drop); 0 means 64 KiB.
    pub queue_bytes: usize,
}

impl LinkConfig {
    /// A link with `loss` random loss and nothing else.
    pub fn lossy(loss: f64) -> Self {
        Self {
            loss,
            ..Self::default()
        }
    }

    /// A link with a one-way `delay` and nothing else.
    pub fn delayed(delay: Duration) -> Self {
        Self {
            delay,
            ..Self::default()
        }
    }
}

/// Why a link dropped a datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropCause {
    /// Random loss.
    Loss,
    /// The rate limit's queue was full.
    QueueFull,
}

/// A datagram a link dropped, for tests to compare with what arrived.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dropped {
    pub at: Instant,
    pub cause: DropCause,
    pub bytes: Vec<u8>,
}

/// The state of one direction of a path.
#[derive(Debug)]
pub struct Link {
    pub config: LinkConfig,
    /// When the bottleneck finishes sending what it already holds.
    busy_until: Option<Instant>,
    /// Everything this link dropped, in order.
    pub dropped: Vec<Dropped>,
    /// Datagrams that went onto the link.
    pub sent: u64,
}

impl Link {
    pub fn new(config: LinkConfig) -> Self {
        Self {
            config,
            busy_until: None,
            dropped: Vec::new(),
            sent: 0,
        }
    }

    /// When each copy of a datagram of `bytes` sent at `now` arrives: none (dropped), one, or
    /// two (duplicated).
    pub(crate) fn arrivals(
        &mut self,
        now: Instant,
        bytes: &[u8],
        rng: &mut SplitMix64,
    ) -> [Option<Instant>; 2] {
        self.sent += 1;
        let c = self.config;
        if c.loss > 0.0 && rng.unit() < c.loss {
            self.drop(now, DropCause::Loss, bytes);
            return [None, None];
        }
        let mut departs = now;
        if let Some(rate) = c.rate_bps.filter(|r| *r > 0) {
            let start = self.busy_until.map_or(now, |b| b.max(now));
            let backlog = start.saturating_duration_since(now);
            let limit = if c.queue_bytes == 0 {
                64 * 1024
            } else {
                c.queue_bytes
            };
            let backlog_bytes = backlog.as_secs_f64() * rate as f64 / 8.0;
            if backlog_bytes + bytes.len() as f64 > limit as f64 {
                self.drop(now, DropCause::QueueFull, bytes);
                return [None, None];
            }
            let serialise = Duration::from_secs_f64(bytes.len() as f64 * 8.0 / rate as f64);
            departs = start + serialise;
            self.busy_until = Some(departs);
        }
        let arrival = |rng: &mut SplitMix64| {
            let mut t = departs + c.delay;
            if !c.jitter.is_zero() {
                t += c.jitter.mul_f64(rng.unit());
            }
            if c.reorder > 0.0 && rng.unit() < c.reorder {
                t += c.reorder_delay;
            }
            t
        };
        let first = arrival(rng);
        let second = (c.duplicate > 0.0 && rng.unit() < c.duplicate).then(|| arrival(rng));
        [Some(first), second]
    }

    fn drop(&mut self, at: Instant, cause: DropCause, bytes: &[u8]) {
        self.dropped.push(Dropped {
            at,
            cause,
            bytes: bytes.to_vec(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_perfect_link_delivers_at_once_and_a_delayed_one_later() {
        let now = Instant::now();
        let mut rng = SplitMix64(1);
        let mut link = Link::new(LinkConfig::default());
        assert_eq!(link.arrivals(now, &[0; 100], &mut rng), [Some(now), None]);
        let mut link = Link::new(LinkConfig::delayed(30 * MS));
        assert_eq!(
            link.arrivals(now, &[0; 100], &mut rng),
            [Some(now + 30 * MS), None]
        );
    }

    #[test]
    fn loss_is_random_but_repeatable_and_logged() {
        let now = Instant::now();
        let run = |seed| {
            let mut rng = SplitMix64(seed);
            let mut link = Link::new(LinkConfig::lossy(0.1));
            let lost: Vec<usize> = (0..2000)
                .filter(|&i| link.arrivals(now, &[i as u8], &mut rng)[0].is_none())
                .collect();
            assert_eq!(link.dropped.len(), lost.len());
            lost
        };
        let lost = run(7);
        assert_eq!(lost, run(7), "same seed, same losses");
        assert_ne!(lost, run(8));
        assert!(
            (150..250).contains(&lost.len()),
            "about 10 % of 2000: {}",
            lost.len()
        );
    }

    #[test]
    fn a_rate_limit_queues_then_drops_the_tail() {
        let now = Instant::now();
        let mut rng = SplitMix64(1);
        // 8 kbit/s: a 100-byte datagram takes 100 ms; the queue holds 300 bytes.
        let mut link = Link::new(LinkConfig {
            rate_bps: Some(8_000),
            queue_bytes: 300,
            ..LinkConfig::default()
        });
        let got: Vec<_> = (0..5)
            .map(|_| link.arrivals(now, &[0; 100], &mut rng)[0])
            .collect();
        assert_eq!(
            got,
            [
                Some(now + 100 * MS),
                Some(now + 200 * MS),
                Some(now + 300 * MS),
                None,
                None
            ]
        );
        assert!(link.dropped.iter().all(|d| d.cause == DropCause::QueueFull));
        // Once the backlog drained, the link takes datagrams again.
        let later = now + 300 * MS;
        assert_eq!(
            link.arrivals(later, &[0; 100], &mut rng)[0],
            Some(later + 100 * MS)
        );
    }

    #[test]
    fn duplicates_and_reordering_add_copies_and_hold_back() {
        let now = Instant::now();
        let mut rng = SplitMix64(3);
        let mut link = Link::new(LinkConfig {
            duplicate: 1.0,
            reorder: 1.0,
            reorder_delay: 50 * MS,
            ..LinkConfig::default()
        });
        assert_eq!(
            link.arrivals(now, &[1], &mut rng),
            [Some(now + 50 * MS), Some(now + 50 * MS)]
        );
    }
}
