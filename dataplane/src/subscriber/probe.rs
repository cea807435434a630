//! Bandwidth probes toward one viewer: for a short while, padding is added to what the viewer
//! is sent so that the total reaches a target rate; the viewer's transport-wide feedback on
//! the packets sent meanwhile shows whether the path carried it. A success raises the
//! estimate at once (so a viewer moved to a low layer, or paused, can come back without
//! waiting for the estimate's slow growth, which is capped by what it is sent); a failure
//! backs off before the next try.
//!
//! Sans-IO and fixed-size: decides how many padding bytes are due per tick and measures the
//! probe from the feedback the owner hands in; writing padding packets is the subscriber's.

use std::time::{Duration, Instant};

/// A probe adds padding for this long.
pub const PROBE_DURATION: Duration = Duration::from_millis(300);
/// Padding is sent in ticks this far apart during a probe.
pub const PADDING_TICK: Duration = Duration::from_millis(10);
/// The probe succeeded when the viewer received at least this share of its target rate...
const SUCCESS_SHARE: f64 = 0.85;
/// ... losing at most this share of the probe's packets.
const MAX_LOSS: f64 = 0.05;
/// A failed probe waits this long before the next (doubled after each failure, up to
/// `MAX_BACKOFF`: a path that stays thin is probed every 5 s, as libwebrtc's periodic probes
/// go, so that a path that widened is found within seconds); after a success the next may
/// follow `AFTER_SUCCESS` later.
const FIRST_BACKOFF: Duration = Duration::from_secs(2);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
const AFTER_SUCCESS: Duration = Duration::from_secs(1);
/// A probe whose feedback has not come back this long after it ended failed.
const RESULT_TIMEOUT: Duration = Duration::from_secs(1);

/// The outcome of a probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeResult {
    /// The path carried the target: this many bits/s.
    Carried(u64),
    /// The path did not carry the target, but delivered this many bits/s while the probe
    /// filled it (what it can carry, at most).
    Short(u64),
    /// Nothing could be measured.
    Failed,
}

#[derive(Debug)]
struct Running {
    started: Instant,
    ends: Instant,
    target_bps: u64,
    padding_bps: u64,
    /// Transport-wide numbers: the first of the probe, and the last once it ended.
    first_seq: u16,
    last_seq: Option<u16>,
    next_tick: Instant,
    /// Feedback on the probe's packets: bytes received, first and last arrival (µs, the
    /// viewer's clock), packets reported and lost, and whether the last one was reported.
    bytes: u64,
    first_arrival: Option<i64>,
    last_arrival: i64,
    reported: u32,
    lost: u32,
    complete: bool,
}

/// The probes of one viewer.
#[derive(Debug)]
pub struct Prober {
    running: Option<Running>,
    /// No probe starts before this.
    next_at: Option<Instant>,
    backoff: Duration,
    /// Probes sent and succeeded, for stats.
    pub started: u64,
    pub succeeded: u64,
}

impl Default for Prober {
    fn default() -> Self {
        Self {
            running: None,
            next_at: None,
            backoff: FIRST_BACKOFF,
            started: 0,
            succeeded: 0,
        }
    }
}

impl Prober {
    /// Whether a probe may start at `now`.
    pub fn may_start(&self, now: Instant) -> bool {
        self.running.is_none() && self.next_at.is_none_or(|t| now >= t)
    }

    /// Starts a probe at `now` toward `target_bps` while `sending_bps` is sent anyway; the
    /// next transport-wide number is `next_seq`.
    pub fn start(&mut self, now: Instant, target_bps: u64, sending_bps: u64, next_seq: u16) {
        self.started += 1;
        self.running = Some(Running {
            started: now,
            ends: now + PROBE_DURATION,
            target_bps,
            padding_bps: target_bps.saturating_sub(sending_bps),
            first_seq: next_seq,
            last_seq: None,
            next_tick: now,
            bytes: 0,
            first_arrival: None,
            last_arrival: 0,
            reported: 0,
            lost: 0,
            complete: false,
        });
    }

    /// When the next padding tick is due (or, after the probe, its result times out).
    pub fn poll_timeout(&self) -> Option<Instant> {
        let r = self.running.as_ref()?;
        Some(match r.last_seq {
            None => r.next_tick,
            Some(_) => r.ends + RESULT_TIMEOUT,
        })
    }

    /// Padding bytes to send at `now` (0 between ticks and after the probe). `next_seq` is
    /// the next transport-wide number: when the probe ends, the one before it was its last.
    pub fn padding_due(&mut self, now: Instant, next_seq: u16) -> u32 {
        let Some(r) = self.running.as_mut().filter(|r| r.last_seq.is_none()) else {
            return 0;
        };
        if now < r.next_tick {
            return 0;
        }
        if now >= r.ends {
            r.last_seq = Some(next_seq.wrapping_sub(1));
            return 0;
        }
        r.next_tick = now + PADDING_TICK;
        (r.padding_bps as f64 / 8.0 * PADDING_TICK.as_secs_f64()) as u32
    }

    /// Feedback on the packet numbered `seq` of `size` bytes: received at `arrival_us` (the
    /// viewer's clock) or lost.
    pub fn on_reported(&mut self, seq: u16, size: u16, arrival_us: Option<i64>) {
        let Some(r) = self.running.as_mut() else {
            return;
        };
        let offset = seq.wrapping_sub(r.first_seq);
        if offset > i16::MAX as u16 {
            return; // before the probe
        }
        if let Some(last) = r.last_seq {
            let span = last.wrapping_sub(r.first_seq);
            if offset > span {
                return;
            }
            r.complete |= offset == span;
        }
        r.reported += 1;
        match arrival_us {
            Some(at) => {
                r.bytes += u64::from(size);
                r.first_arrival = Some(r.first_arrival.map_or(at, |f| f.min(at)));
                r.last_arrival = r.last_arrival.max(at);
            }
            None => r.lost += 1,
        }
    }

    /// After a feedback message at `now`: the probe's result once its packets are reported
    /// (or it timed out). `decreased` is when the estimate last went down: a decrease during
    /// the probe fails it.
    pub fn poll_result(&mut self, now: Instant, decreased: Option<Instant>) -> Option<ProbeResult> {
        let r = self.running.as_ref()?;
        let timed_out = r.last_seq.is_some() && now >= r.ends + RESULT_TIMEOUT;
        if !r.complete && !timed_out {
            return None;
        }
        let span_us = r.first_arrival.map_or(0, |f| r.last_arrival - f);
        let rate = match span_us {
            s if s >= (PROBE_DURATION / 2).as_micros() as i64 => r.bytes * 8 * 1_000_000 / s as u64,
            _ => 0,
        };
        let lossy = f64::from(r.lost) > MAX_LOSS * f64::from(r.reported.max(1));
        let congested = decreased.is_some_and(|t| t >= r.started);
        let carried = rate as f64 >= SUCCESS_SHARE * r.target_bps as f64;
        self.running = None;
        if carried && !lossy && !congested && !timed_out {
            self.succeeded += 1;
            self.backoff = FIRST_BACKOFF;
            self.next_at = Some(now + AFTER_SUCCESS);
            Some(ProbeResult::Carried(rate))
        } else {
            self.next_at = Some(now + self.backoff);
            self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
            Some(match rate {
                0 => ProbeResult::Failed,
                r => ProbeResult::Short(r),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// Runs a probe toward 1 Mbit/s while 200 kbit/s is sent: packets of 1000 bytes, the
    /// viewer receiving them at `carried_bps` (none lost). Returns the result.
    fn probe(carried_bps: u64, decreased: Option<Duration>) -> (Prober, Option<ProbeResult>) {
        let t0 = Instant::now();
        let mut p = Prober::default();
        assert!(p.may_start(t0));
        p.start(t0, 1_000_000, 200_000, 100);
        let mut seq = 100u16;
        let mut padding = 0u64;
        let mut now = t0;
        while now <= t0 + PROBE_DURATION {
            padding += u64::from(p.padding_due(now, seq));
            now += PADDING_TICK;
            // 1 Mbit/s of packets: 1.25 per tick, say one per 8 ms.
            seq = seq.wrapping_add(1);
        }
        assert!(p.padding_due(now, seq) == 0);
        // 800 kbit/s of padding for 300 ms: 30 kB.
        assert_eq!(padding, 30 * 1000);
        let span = 1_000_000 * 8 * 1000 / carried_bps as i64; // µs per packet
        for (i, s) in (100..seq).enumerate() {
            p.on_reported(s, 1000, Some(i as i64 * span));
        }
        let decreased = decreased.map(|d| t0 + d);
        let result = p.poll_result(now + 50 * MS, decreased);
        (p, result)
    }

    #[test]
    fn a_probe_the_path_carries_raises_and_allows_the_next_soon() {
        let (p, result) = probe(950_000, None);
        match result {
            Some(ProbeResult::Carried(bps)) => {
                assert!((900_000..1_000_000).contains(&bps), "{bps}")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!((p.started, p.succeeded), (1, 1));
        assert!(!p.may_start(Instant::now()));
    }

    #[test]
    fn a_probe_the_path_cannot_carry_fails_and_backs_off() {
        let (mut p, result) = probe(400_000, None);
        match result {
            Some(ProbeResult::Short(bps)) => assert!((380_000..430_000).contains(&bps), "{bps}"),
            other => panic!("{other:?}"),
        }
        let t = Instant::now();
        assert!(!p.may_start(t + FIRST_BACKOFF / 2));
        assert!(p.may_start(t + FIRST_BACKOFF + 500 * MS));
        assert_eq!(p.backoff, 2 * FIRST_BACKOFF);
        // Back-off doubles, capped.
        for _ in 0..5 {
            p.start(t, 1, 0, 0);
            p.running.as_mut().unwrap().last_seq = Some(0);
            p.on_reported(0, 10, None);
            assert_eq!(p.poll_result(t, None), Some(ProbeResult::Failed));
        }
        assert_eq!(p.backoff, MAX_BACKOFF);
    }

    #[test]
    fn congestion_during_the_probe_fails_it() {
        let (_, result) = probe(990_000, Some(100 * MS));
        assert!(matches!(result, Some(ProbeResult::Short(_))), "{result:?}");
    }

    #[test]
    fn a_probe_without_feedback_times_out() {
        let t0 = Instant::now();
        let mut p = Prober::default();
        p.start(t0, 1_000_000, 0, 7);
        assert_eq!(p.padding_due(t0 + PROBE_DURATION, 20), 0);
        assert_eq!(p.poll_timeout(), Some(t0 + PROBE_DURATION + RESULT_TIMEOUT));
        assert_eq!(p.poll_result(t0 + PROBE_DURATION, None), None);
        assert_eq!(
            p.poll_result(t0 + PROBE_DURATION + RESULT_TIMEOUT, None),
            Some(ProbeResult::Failed)
        );
    }
}
