//! The receive-side bandwidth estimate of a publisher that does not negotiate transport-wide
//! congestion control but REMB: the arrival of its packets against the send time it stamps
//! (the abs-send-time extension, 24-bit seconds in 6.18 fixed point) feeds the same delay-trend
//! estimator ([`BandwidthEstimator`]) the node runs per viewer, and the estimate goes back in
//! REMB messages (draft-alvestrand-rmcat-remb): every second, and at once when it drops. The
//! publisher's browser caps its send rate with it (and keeps its own loss-based control from
//! our receiver reports).
//!
//! Sans-IO and fixed-size: the owner hands in each packet's send stamp and size with `now`,
//! and writes the REMB when [`Remb::poll_timeout`] is due.

use std::time::{Duration, Instant};

use crate::bwe::{BandwidthEstimator, PacketResult};
use crate::rtcp;

/// A REMB is sent this often...
pub const REMB_INTERVAL: Duration = Duration::from_secs(1);
/// ... and at once when the estimate fell under this share of the last one sent.
const DROP_SHARE: f64 = 0.97;
/// Arrivals are handed to the estimator in batches of this many, or this often (as
/// transport-wide feedback would bring them).
const BATCH: usize = 32;
const BATCH_INTERVAL: Duration = Duration::from_millis(100);
/// The estimate starts here and stays within these bounds (bits/s).
const INITIAL_BPS: u64 = 300_000;
const MIN_BPS: u64 = 30_000;
const MAX_BPS: u64 = 50_000_000;
/// abs-send-time ticks per second (6.18 fixed point) and the 24-bit wrap.
const TICKS_PER_SECOND: i64 = 1 << 18;
const WRAP: i64 = 1 << 24;

/// The REMB estimate of one publisher.
pub struct Remb {
    estimator: BandwidthEstimator,
    epoch: Option<Instant>,
    /// The last send stamp, unwrapped (ticks).
    last_send: Option<i64>,
    batch: [PacketResult; BATCH],
    len: usize,
    batch_started: Option<Instant>,
    /// The last value sent and when; the next regular report.
    sent_bps: Option<u64>,
    next_report: Option<Instant>,
    /// A drop made a report due now.
    due_now: bool,
}

impl Default for Remb {
    fn default() -> Self {
        Self {
            estimator: BandwidthEstimator::new(INITIAL_BPS, MIN_BPS, MAX_BPS),
            epoch: None,
            last_send: None,
            batch: [PacketResult {
                send_us: 0,
                size: 0,
                arrival_us: None,
            }; BATCH],
            len: 0,
            batch_started: None,
            sent_bps: None,
            next_report: None,
            due_now: false,
        }
    }
}

impl Remb {
    /// A packet of `size` bytes stamped `abs_send_time` (the extension's 24 bits) arrived at
    /// `now`.
    pub fn on_packet(&mut self, now: Instant, abs_send_time: u32, size: usize) {
        let stamp = i64::from(abs_send_time & 0x00FF_FFFF);
        let send = match self.last_send {
            None => stamp,
            Some(last) => {
                // The nearest unwrapping of the 24-bit stamp to the last one.
                let delta = (stamp - last.rem_euclid(WRAP)).rem_euclid(WRAP);
                let delta = if delta >= WRAP / 2 {
                    delta - WRAP
                } else {
                    delta
                };
                last + delta
            }
        };
        if self.last_send.is_none_or(|l| send > l) {
            self.last_send = Some(send);
        }
        let epoch = *self.epoch.get_or_insert(now);
        self.batch[self.len] = PacketResult {
            send_us: send * 1_000_000 / TICKS_PER_SECOND,
            size: size as u32,
            arrival_us: Some(now.saturating_duration_since(epoch).as_micros() as i64),
        };
        self.len += 1;
        let started = *self.batch_started.get_or_insert(now);
        if self.len == BATCH || now.saturating_duration_since(started) >= BATCH_INTERVAL {
            self.flush(now);
        }
        self.next_report.get_or_insert(now + REMB_INTERVAL);
    }

    fn flush(&mut self, now: Instant) {
        if self.len > 0 {
            self.estimator.on_feedback(now, &self.batch[..self.len]);
        }
        self.len = 0;
        self.batch_started = None;
        let estimate = self.estimator.estimate();
        if self
            .sent_bps
            .is_some_and(|s| (estimate as f64) < DROP_SHARE * s as f64)
        {
            self.due_now = true;
        }
    }

    /// The estimate, bits/s.
    pub fn estimate(&self) -> u64 {
        self.estimator.estimate()
    }

    /// When the next REMB is due (once packets arrived).
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.due_now {
            true => self.batch_started.or(self.next_report),
            false => self.next_report,
        }
    }

    /// Writes the REMB due at `now` (from `sender_ssrc`, about the publisher's `ssrcs`) into
    /// `out`; `None` when none is due.
    pub fn write(
        &mut self,
        now: Instant,
        sender_ssrc: u32,
        ssrcs: &[u32],
        out: &mut [u8],
    ) -> Option<usize> {
        let regular = self.next_report.is_some_and(|t| now >= t);
        if !regular && !self.due_now {
            return None;
        }
        self.flush(now);
        let estimate = self.estimator.estimate();
        self.due_now = false;
        self.sent_bps = Some(estimate);
        self.next_report = Some(now + REMB_INTERVAL);
        rtcp::write_remb(out, sender_ssrc, estimate, ssrcs).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// abs-send-time of `t` since some origin, wrapped to 24 bits.
    fn stamp(t: Duration) -> u32 {
        ((t.as_micros() as i64 * TICKS_PER_SECOND / 1_000_000) % WRAP) as u32
    }

    /// Sends `bps` in 1000-byte packets for `secs` seconds through a bottleneck of `link_bps`
    /// (a queue that never drops); returns the REMB values written.
    fn run(bps: u64, link_bps: u64, secs: u64, origin: Duration) -> Vec<u64> {
        let t0 = Instant::now();
        let mut remb = Remb::default();
        let interval_us = 1000 * 8 * 1_000_000 / bps;
        let service_us = 1000 * 8 * 1_000_000 / link_bps;
        let mut link_free = 0u64;
        let mut reports = Vec::new();
        let mut out = [0u8; 64];
        for i in 0..secs * 1_000_000 / interval_us {
            let sent = i * interval_us;
            let arrival = link_free.max(sent) + service_us;
            link_free = arrival;
            let now = t0 + Duration::from_micros(arrival);
            remb.on_packet(now, stamp(origin + Duration::from_micros(sent)), 1000);
            if let Some(n) = remb.write(now, 1, &[2], &mut out) {
                let p = rtcp::RtcpCompound::iter(&out[..n]).next().unwrap().unwrap();
                match p {
                    rtcp::RtcpPacket::Remb(r) => reports.push(r.bitrate),
                    other => panic!("{other:?}"),
                }
            }
        }
        reports
    }

    #[test]
    fn a_stream_through_a_thinner_link_is_reported_under_the_link() {
        let reports = run(1_000_000, 500_000, 20, Duration::ZERO);
        let last = *reports.last().unwrap();
        assert!(last < 520_000, "{reports:?}");
        assert!(last > 200_000, "{reports:?}");
    }

    #[test]
    fn a_stream_through_a_wide_link_is_let_grow() {
        let reports = run(800_000, 10_000_000, 20, Duration::ZERO);
        assert!(
            reports.len() >= 18,
            "about one per second: {}",
            reports.len()
        );
        let last = *reports.last().unwrap();
        assert!(last > 800_000, "{reports:?}");
    }

    #[test]
    fn the_24_bit_send_time_wraps_without_a_jump() {
        // Starting 2 s before the 64 s wrap of the stamp: the same reports as without it.
        let wrapped = run(800_000, 10_000_000, 10, Duration::from_secs(62));
        assert_eq!(wrapped, run(800_000, 10_000_000, 10, Duration::ZERO));
        assert!(wrapped.windows(2).all(|w| w[1] >= w[0]), "{wrapped:?}");
    }

    #[test]
    fn a_drop_is_reported_at_once() {
        let t0 = Instant::now();
        let mut remb = Remb::default();
        let mut out = [0u8; 64];
        remb.on_packet(t0, 0, 1000);
        assert_eq!(remb.poll_timeout(), Some(t0 + REMB_INTERVAL));
        assert!(remb.write(t0 + 10 * MS, 1, &[2], &mut out).is_none());
        assert!(remb.write(t0 + REMB_INTERVAL, 1, &[2], &mut out).is_some());
        // Force a lower estimate: a long queue building at 200 kbit/s (arrivals 40 ms apart,
        // sends 5 ms apart).
        let mut now = t0 + REMB_INTERVAL;
        for i in 0..400u32 {
            now += 40 * MS;
            remb.on_packet(now, stamp(Duration::from_millis(u64::from(i) * 5)), 1000);
            if remb.due_now {
                break;
            }
        }
        assert!(remb.due_now, "a drop makes a report due");
        assert!(remb.write(now, 1, &[2], &mut out).is_some());
    }
}
