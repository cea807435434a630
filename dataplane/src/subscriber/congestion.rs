//! Congestion state of one subscriber that negotiated transport-wide congestion control: the
//! transport-wide sequence numbers stamped on what it is sent (one space for all its tracks
//! and retransmissions), the send history its feedback is matched against, and its bandwidth
//! estimate ([`BandwidthEstimator`]).
//!
//! Sans-IO and bounded: a fixed history ring allocated once (4 KiB: 8 bytes per packet, so
//! consecutive packets share cache lines) and the estimator's fixed windows (about 1 KiB), per
//! subscriber that negotiated it; nothing for the others.

use std::time::{Duration, Instant};

use super::probe::{ProbeResult, Prober};
use crate::bwe::{BandwidthEstimator, PacketResult};
use crate::rtcp::TransportCc;
use crate::simulcast::CONGESTION_RECENT;

/// Sent packets remembered (a power of two): about two seconds of a 2.5 Mbit/s stream.
const HISTORY: usize = 512;
/// Reported packets handed to the estimator at once.
const CHUNK: usize = 64;
/// A subscriber's estimate starts here (bits/s) and stays within these bounds.
const INITIAL_BPS: u64 = 1_000_000;
const MIN_BPS: u64 = 30_000;
const MAX_BPS: u64 = 50_000_000;
/// The rate sent is measured over windows of this length.
const RATE_WINDOW: Duration = Duration::from_secs(1);
/// The estimate must stay under `SHORT_SHARE` of the rate sent this long (with congestion
/// seen within `SHORT_EVIDENCE`) before the subscriber is said to be short of bandwidth, and
/// is said so again at most every `SHORT_REPEAT`.
const SHORT_SHARE: f64 = 0.9;
const SHORT_AFTER: Duration = Duration::from_secs(1);
const SHORT_EVIDENCE: Duration = Duration::from_secs(5);
const SHORT_REPEAT: Duration = Duration::from_secs(5);

/// A probe aims at most this many times the estimate.
const PROBE_STEP: u64 = 2;
/// Of what a probe that failed delivered, the estimate keeps at least this share.
const SHORT_PROBE_SHARE: f64 = 0.85;

/// One packet sent, as remembered to match feedback against.
#[derive(Clone, Copy, Debug, Default)]
struct Sent {
    seq: u16,
    /// Bytes; 0 for an empty slot.
    size: u16,
    /// Send time, µs since the first packet, modulo 2^32.
    send_us: u32,
}

/// Transport-wide numbering, send history and estimate of one subscriber.
pub struct SubscriberCongestion {
    /// The subscriber's extension id for the transport-wide sequence number.
    id: u8,
    next_seq: u16,
    epoch: Option<Instant>,
    /// By sequence number mod `HISTORY`.
    history: Box<[Sent]>,
    estimator: BandwidthEstimator,
    /// Bytes numbered so far, and where the current rate window started (time, bytes).
    bytes_sent: u64,
    window: Option<(Instant, u64)>,
    /// The rate sent over the last complete window, bits/s.
    sending_bps: u64,
    /// Since when the estimate has been short, and when that was last reported.
    short_since: Option<Instant>,
    reported_at: Option<Instant>,
    /// Bandwidth probes (padding written by the subscriber).
    pub prober: Prober,
}

impl SubscriberCongestion {
    /// State for a subscriber whose answer gave the transport-wide number extension id `id`.
    pub fn new(id: u8) -> Self {
        Self {
            id,
            next_seq: 0,
            epoch: None,
            history: vec![Sent::default(); HISTORY].into_boxed_slice(),
            estimator: BandwidthEstimator::new(INITIAL_BPS, MIN_BPS, MAX_BPS),
            bytes_sent: 0,
            window: None,
            sending_bps: 0,
            short_since: None,
            reported_at: None,
            prober: Prober::default(),
        }
    }

    /// What the next packet is to be stamped with: the subscriber's extension id for the
    /// transport-wide number, and the number (the rewrite writes it while it remaps ids; a
    /// packet without the element, from a publisher that sent none, goes unnumbered).
    pub fn next_stamp(&self) -> (u8, u16) {
        (self.id, self.next_seq)
    }

    /// The packet stamped with [`Self::next_stamp`] (`len` bytes) is sent at `now`: remember
    /// it, and move to the next number.
    pub fn sent(&mut self, now: Instant, len: usize) {
        self.remember(now, len);
        self.bytes_sent += len as u64;
    }

    /// A probe's padding packet stamped with [`Self::next_stamp`] is sent at `now`: like
    /// [`Self::sent`], but not counted in the rate the subscriber is sent.
    pub fn sent_padding(&mut self, now: Instant, len: usize) {
        self.remember(now, len);
    }

    fn remember(&mut self, now: Instant, len: usize) {
        let seq = self.next_seq;
        self.next_seq = seq.wrapping_add(1);
        let epoch = *self.epoch.get_or_insert(now);
        let send_us = now.saturating_duration_since(epoch).as_micros() as u32;
        self.history[usize::from(seq) % HISTORY] = Sent {
            seq,
            size: len.min(usize::from(u16::MAX)) as u16,
            send_us,
        };
    }

    /// The subscriber's transport-wide feedback, received at `now`: what it reports is matched
    /// with what was sent and given to the estimator (numbers no longer remembered are skipped).
    pub fn on_feedback(&mut self, now: Instant, tcc: &TransportCc<'_>) {
        let mut chunk = [PacketResult {
            send_us: 0,
            size: 0,
            arrival_us: None,
        }; CHUNK];
        let mut n = 0;
        let now_us = self
            .epoch
            .map_or(0, |e| now.saturating_duration_since(e).as_micros() as i64);
        for (seq, arrival_us) in tcc.packets() {
            let sent = self.history[usize::from(seq) % HISTORY];
            if sent.seq != seq || sent.size == 0 {
                continue;
            }
            // Send times are kept as 32 bits of µs (71 minutes): what is remembered was sent
            // within the last seconds, so its age is exact.
            self.prober.on_reported(seq, sent.size, arrival_us);
            let age = i64::from((now_us as u32).wrapping_sub(sent.send_us));
            chunk[n] = PacketResult {
                send_us: now_us - age,
                size: u32::from(sent.size),
                arrival_us,
            };
            n += 1;
            if n == CHUNK {
                self.estimator.on_feedback(now, &chunk);
                n = 0;
            }
        }
        if n > 0 {
            self.estimator.on_feedback(now, &chunk[..n]);
        }
        self.update_rate(now);
        self.probe_result(now);
    }

    /// A finished probe's result: a success raises the estimate to what the path carried; a
    /// probe the path could not carry still shows what it delivered when full, which the
    /// estimate keeps at least a share of (the overuse the probe caused would otherwise cut it
    /// to a share of the little sent before — to the audio alone for a paused viewer).
    fn probe_result(&mut self, now: Instant) {
        let decreased = self.estimator.last_decrease();
        let result = self.prober.poll_result(now, decreased);
        if let Some(r) = result {
            tracing::debug!(result = ?r, estimate = self.estimate(), "bandwidth probe");
        }
        match result {
            Some(ProbeResult::Carried(bps)) => self.estimator.raise_to(bps),
            Some(ProbeResult::Short(bps)) => self
                .estimator
                .raise_to((SHORT_PROBE_SHARE * bps as f64) as u64),
            Some(ProbeResult::Failed) | None => {}
        }
    }

    /// Starts a probe toward `target_bps` at `now` if one may start, the estimate is under
    /// it, and the path showed no congestion lately. True if it started.
    pub fn maybe_probe(&mut self, now: Instant, target_bps: u64) -> bool {
        let calm = self
            .estimator
            .last_decrease()
            .is_none_or(|t| now.saturating_duration_since(t) > CONGESTION_RECENT);
        if !calm || self.estimate() >= target_bps || !self.prober.may_start(now) {
            return false;
        }
        // At most twice the estimate at once: a path far thinner than the target is not
        // flooded (what a probe shows raises the estimate; the next probe goes further).
        let target_bps = target_bps.min(PROBE_STEP * self.estimate());
        tracing::debug!(
            target_bps,
            sending_bps = self.sending_bps,
            "bandwidth probe starts"
        );
        self.prober
            .start(now, target_bps, self.sending_bps, self.next_seq);
        true
    }

    /// Padding bytes due at `now` for a running probe.
    pub fn padding_due(&mut self, now: Instant) -> u32 {
        self.prober.padding_due(now, self.next_seq)
    }

    /// When the probe next needs the owner: a padding tick, or its result's timeout.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.prober.poll_timeout()
    }

    /// The probe timers at `now` (a probe whose feedback never came fails).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.probe_result(now);
    }

    /// When the path last made the estimate go down.
    pub fn last_decrease(&self) -> Option<Instant> {
        self.estimator.last_decrease()
    }

    /// Whether the subscriber acknowledges receiving at least `share` of the rate it is sent.
    pub fn delivering(&self, share: f64) -> bool {
        let acked = self.estimator.acknowledged().unwrap_or(0);
        self.sending_bps > 0 && acked as f64 >= share * self.sending_bps as f64
    }

    fn update_rate(&mut self, now: Instant) {
        let (start, bytes) = *self.window.get_or_insert((now, self.bytes_sent));
        let elapsed = now.saturating_duration_since(start);
        if elapsed >= RATE_WINDOW {
            let bits = (self.bytes_sent - bytes) * 8;
            self.sending_bps = (bits as f64 / elapsed.as_secs_f64()) as u64;
            self.window = Some((now, self.bytes_sent));
        }
    }

    /// After feedback at `now`: `Some((needed, estimate))` bits/s when the subscriber is
    /// short of bandwidth — the estimate has stayed under 90 % of what it needs (what it is
    /// sent, or more when its video had to be paused: `needed_bps`) for 1 s and the path
    /// showed congestion within 5 s — at most every 5 s while that lasts.
    pub fn bandwidth_short(&mut self, now: Instant, needed_bps: Option<u64>) -> Option<(u64, u64)> {
        let needed = needed_bps.unwrap_or(0).max(self.sending_bps);
        let estimate = self.estimate();
        let congested = self
            .estimator
            .last_decrease()
            .is_some_and(|t| now.saturating_duration_since(t) <= SHORT_EVIDENCE);
        if !congested || (estimate as f64) >= SHORT_SHARE * needed as f64 {
            self.short_since = None;
            return None;
        }
        let since = *self.short_since.get_or_insert(now);
        let due = self
            .reported_at
            .is_none_or(|t| now.saturating_duration_since(t) >= SHORT_REPEAT);
        if now.saturating_duration_since(since) < SHORT_AFTER || !due {
            return None;
        }
        self.reported_at = Some(now);
        Some((needed, estimate))
    }

    /// The bandwidth estimate toward the subscriber, bits/s.
    pub fn estimate(&self) -> u64 {
        self.estimator.estimate()
    }
}
