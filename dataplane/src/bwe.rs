//! A send-side bandwidth estimate for one viewer from its transport-wide feedback, in the
//! manner of Google Congestion Control (draft-ietf-rmcat-gcc-02, libwebrtc's goog_cc):
//!
//! - **delay-based**: packets sent within 5 ms form a group; the growth of one-way delay
//!   between groups (arrival spacing minus send spacing) is accumulated, smoothed and fitted
//!   with a line over the last 20 groups ([`Trendline`]). A slope over an adaptive threshold
//!   for more than 10 ms is overuse (a queue is building): the estimate drops to 85 % of what
//!   the viewer acknowledged receiving; under it the path is drained (hold); otherwise the
//!   estimate grows by 8 % a second, never beyond 1.5 × the acknowledged rate and never under
//!   it (what arrives with no queue building, the path carries).
//! - **loss-based**: over each second of feedback, more than 10 % lost cuts the estimate by
//!   half the loss, not below 85 % of the acknowledged rate; less leaves the delay-based
//!   estimate in charge. (GCC also holds the
//!   estimate between 2 and 10 %; a viewer on a link with steady random loss would then stay
//!   at its first estimate for good, while a really full queue shows as delay first.)
//!
//! The estimate is the smaller of the two, within `[min, max]`. Sans-IO: the owner gives the
//! send time and size of each reported packet ([`PacketResult`]) with `now`; no clock, no
//! allocation after creation (fixed windows).

use std::time::{Duration, Instant};

/// Packets sent within this span of the first of a group are one group (a burst).
const GROUP_SPAN_US: i64 = 5_000;
/// Groups in the trendline's window.
const TRENDLINE_WINDOW: usize = 20;
const SMOOTHING: f64 = 0.9;
const THRESHOLD_GAIN: f64 = 4.0;
/// The overuse threshold adapts between these (ms of modified trend).
const MIN_THRESHOLD: f64 = 6.0;
const MAX_THRESHOLD: f64 = 600.0;
const INITIAL_THRESHOLD: f64 = 12.5;
const K_UP: f64 = 0.0087;
const K_DOWN: f64 = 0.039;
/// The trend must stay over the threshold this long to count as overuse.
const OVERUSE_TIME_US: i64 = 10_000;
/// Multiplicative increase per second while the path is not congested.
const INCREASE_PER_SECOND: f64 = 1.08;
/// On overuse the estimate becomes this share of the acknowledged bitrate.
const BETA: f64 = 0.85;
/// The acknowledged bitrate is measured over this window of arrival time.
const ACKED_WINDOW_US: i64 = 500_000;
/// ... and over no less than this span (a single burst says little about a rate).
const MIN_ACKED_SPAN_US: i64 = 50_000;
/// The estimate is kept at least at the acknowledged bitrate (while the delay trend is normal)
/// once that is measured over this span of arrivals.
const ACKED_FLOOR_SPAN_US: i64 = 300_000;
/// Loss is judged over feedback of at least this span.
const LOSS_WINDOW: Duration = Duration::from_secs(1);
const LOSS_HIGH: f64 = 0.10;
/// Feedback messages remembered for the acknowledged bitrate (each summed into one entry:
/// about a second and a half of feedback every 100 ms).
const ACKED_SLOTS: usize = 16;

/// One packet of a feedback message as the sender knows it: when it left (µs, our clock),
/// how large it was, and when it arrived (µs, the receiver's clock) if it did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PacketResult {
    pub send_us: i64,
    pub size: u32,
    pub arrival_us: Option<i64>,
}

/// What the delay trend says about the path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Usage {
    Normal,
    Overusing,
    Underusing,
}

/// The slope of the accumulated one-way delay variation over the last groups.
#[derive(Debug)]
struct Trendline {
    accumulated_ms: f64,
    smoothed_ms: f64,
    /// (arrival ms since the first group, smoothed delay ms), a ring of `TRENDLINE_WINDOW`.
    points: [(f64, f64); TRENDLINE_WINDOW],
    len: usize,
    next: usize,
    first_arrival_us: Option<i64>,
    deltas: u32,
    threshold: f64,
    last_threshold_update_us: Option<i64>,
    overuse_us: i64,
    overuse_count: u32,
    prev_trend: f64,
    usage: Usage,
}

impl Trendline {
    fn new() -> Self {
        Self {
            accumulated_ms: 0.0,
            smoothed_ms: 0.0,
            points: [(0.0, 0.0); TRENDLINE_WINDOW],
            len: 0,
            next: 0,
            first_arrival_us: None,
            deltas: 0,
            threshold: INITIAL_THRESHOLD,
            last_threshold_update_us: None,
            overuse_us: 0,
            overuse_count: 0,
            prev_trend: 0.0,
            usage: Usage::Normal,
        }
    }

    /// One more group: its delay variation against the previous group, and its arrival.
    fn update(&mut self, delay_variation_ms: f64, send_delta_us: i64, arrival_us: i64) {
        self.deltas = self.deltas.saturating_add(1);
        self.accumulated_ms += delay_variation_ms;
        self.smoothed_ms = SMOOTHING * self.smoothed_ms + (1.0 - SMOOTHING) * self.accumulated_ms;
        let first = *self.first_arrival_us.get_or_insert(arrival_us);
        let x = (arrival_us - first) as f64 / 1000.0;
        self.points[self.next] = (x, self.smoothed_ms);
        self.next = (self.next + 1) % TRENDLINE_WINDOW;
        self.len = (self.len + 1).min(TRENDLINE_WINDOW);
        if self.len < TRENDLINE_WINDOW {
            return;
        }
        let Some(slope) = self.slope() else {
            return;
        };
        let trend = f64::from(self.deltas.min(60)) * slope * THRESHOLD_GAIN;
        self.detect(trend, send_delta_us, arrival_us);
    }

    /// Least-squares slope of the window's points.
    fn slope(&self) -> Option<f64> {
        let n = self.len as f64;
        let (sx, sy) = self.points[..self.len]
            .iter()
            .fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
        let (mx, my) = (sx / n, sy / n);
        let (num, den) = self.points[..self.len]
            .iter()
            .fold((0.0, 0.0), |(num, den), (x, y)| {
                (num + (x - mx) * (y - my), den + (x - mx) * (x - mx))
            });
        (den > 0.0).then(|| num / den)
    }

    fn detect(&mut self, trend: f64, send_delta_us: i64, arrival_us: i64) {
        if trend > self.threshold {
            self.overuse_us += send_delta_us.max(0);
            self.overuse_count += 1;
            if self.overuse_us > OVERUSE_TIME_US
                && self.overuse_count > 1
                && trend >= self.prev_trend
            {
                self.overuse_us = 0;
                self.overuse_count = 0;
                self.usage = Usage::Overusing;
            }
        } else if trend < -self.threshold {
            self.overuse_us = 0;
            self.overuse_count = 0;
            self.usage = Usage::Underusing;
        } else {
            self.overuse_us = 0;
            self.overuse_count = 0;
            self.usage = Usage::Normal;
        }
        self.prev_trend = trend;
        self.adapt_threshold(trend, arrival_us);
    }

    fn adapt_threshold(&mut self, trend: f64, arrival_us: i64) {
        let last = self.last_threshold_update_us.replace(arrival_us);
        // A sudden large trend (a route change, a burst) does not drag the threshold up.
        if trend.abs() > self.threshold + 15.0 {
            return;
        }
        let dt_ms = last.map_or(0.0, |l| ((arrival_us - l) as f64 / 1000.0).min(100.0));
        let k = if trend.abs() < self.threshold {
            K_DOWN
        } else {
            K_UP
        };
        self.threshold += k * (trend.abs() - self.threshold) * dt_ms;
        self.threshold = self.threshold.clamp(MIN_THRESHOLD, MAX_THRESHOLD);
    }
}

/// A group of packets sent within `GROUP_SPAN_US`.
#[derive(Clone, Copy, Debug)]
struct Group {
    first_send_us: i64,
    last_send_us: i64,
    last_arrival_us: i64,
}

/// One viewer's bandwidth estimate.
#[derive(Debug)]
pub struct BandwidthEstimator {
    min_bps: f64,
    max_bps: f64,
    delay_based: f64,
    loss_based: f64,
    trendline: Trendline,
    current: Option<Group>,
    previous: Option<Group>,
    last_update: Option<Instant>,
    /// Per feedback message: (first arrival µs, last arrival µs, bytes received), a ring for
    /// the acknowledged bitrate.
    acked: [(i64, i64, u64); ACKED_SLOTS],
    acked_next: usize,
    acked_len: usize,
    loss_since: Option<Instant>,
    loss_sent: u32,
    loss_lost: u32,
    /// Whether the last judgement of loss cut the estimate (then it holds until the next).
    loss_limiting: bool,
    /// When the path last made the estimate go down (overuse or heavy loss).
    last_decrease: Option<Instant>,
}

impl BandwidthEstimator {
    /// An estimator starting at `initial_bps`, kept within `[min_bps, max_bps]`.
    pub fn new(initial_bps: u64, min_bps: u64, max_bps: u64) -> Self {
        let initial = (initial_bps as f64).clamp(min_bps as f64, max_bps as f64);
        Self {
            min_bps: min_bps as f64,
            max_bps: max_bps as f64,
            delay_based: initial,
            loss_based: initial,
            trendline: Trendline::new(),
            current: None,
            previous: None,
            last_update: None,
            acked: [(0, 0, 0); ACKED_SLOTS],
            acked_next: 0,
            acked_len: 0,
            loss_since: None,
            loss_sent: 0,
            loss_lost: 0,
            loss_limiting: false,
            last_decrease: None,
        }
    }

    /// The estimate, bits/s.
    pub fn estimate(&self) -> u64 {
        self.delay_based
            .min(self.loss_based)
            .clamp(self.min_bps, self.max_bps) as u64
    }

    /// When congestion (overuse or heavy loss) last lowered the estimate: an estimate under
    /// the rate sent means the path is short only if this is recent (otherwise the estimate
    /// may just not have grown yet).
    pub fn last_decrease(&self) -> Option<Instant> {
        self.last_decrease
    }

    /// A bandwidth probe showed the path carries `bps`: the estimate becomes at least that
    /// (probes are how it grows faster than its 8 % a second, and beyond 1.5 × what the
    /// viewer receives when less is sent to it).
    pub fn raise_to(&mut self, bps: u64) {
        let bps = (bps as f64).clamp(self.min_bps, self.max_bps);
        self.delay_based = self.delay_based.max(bps);
        self.loss_based = self.loss_based.max(bps);
    }

    /// What the delay trend said last.
    pub fn usage(&self) -> Usage {
        self.trendline.usage
    }

    /// What the viewer acknowledged receiving over about the last half second, bits/s: the
    /// bytes of the newest feedback messages that reach back that far, over the time their
    /// arrivals span.
    pub fn acknowledged(&self) -> Option<u64> {
        self.acknowledged_span().map(|(bps, _)| bps)
    }

    /// [`Self::acknowledged`] and the span of arrivals it was measured over, µs.
    fn acknowledged_span(&self) -> Option<(u64, i64)> {
        let mut newest = None;
        let mut first = i64::MAX;
        let mut bytes = 0u64;
        for k in 0..self.acked_len {
            let (f, l, b) = self.acked[(self.acked_next + ACKED_SLOTS - 1 - k) % ACKED_SLOTS];
            let last = *newest.get_or_insert(l);
            if bytes > 0 && last - f > ACKED_WINDOW_US {
                break;
            }
            first = first.min(f);
            bytes += b;
        }
        let measured = newest? - first;
        let span = measured.max(MIN_ACKED_SPAN_US);
        Some((bytes * 8 * 1_000_000 / span as u64, measured))
    }

    /// The packets of one feedback message (in transport-wide order), received at `now`.
    pub fn on_feedback(&mut self, now: Instant, packets: &[PacketResult]) {
        let mut sent = 0;
        let mut lost = 0;
        let (mut first, mut last, mut bytes) = (i64::MAX, i64::MIN, 0u64);
        for p in packets {
            sent += 1;
            let Some(arrival) = p.arrival_us else {
                lost += 1;
                continue;
            };
            first = first.min(arrival);
            last = last.max(arrival);
            bytes += u64::from(p.size);
            self.on_arrival(p.send_us, arrival);
        }
        if bytes > 0 {
            self.acked[self.acked_next] = (first, last, bytes);
            self.acked_next = (self.acked_next + 1) % ACKED_SLOTS;
            self.acked_len = (self.acked_len + 1).min(ACKED_SLOTS);
        }
        self.update_delay_based(now);
        self.update_loss_based(now, sent, lost);
    }

    fn on_arrival(&mut self, send_us: i64, arrival_us: i64) {
        match &mut self.current {
            Some(g) if send_us - g.first_send_us <= GROUP_SPAN_US && send_us >= g.first_send_us => {
                g.last_send_us = g.last_send_us.max(send_us);
                g.last_arrival_us = g.last_arrival_us.max(arrival_us);
            }
            Some(g) if send_us < g.first_send_us => {} // reordered into an older group
            _ => {
                if let (Some(done), Some(prev)) = (self.current, self.previous) {
                    let send_delta = done.last_send_us - prev.last_send_us;
                    let arrival_delta = done.last_arrival_us - prev.last_arrival_us;
                    let variation_ms = (arrival_delta - send_delta) as f64 / 1000.0;
                    self.trendline
                        .update(variation_ms, send_delta, done.last_arrival_us);
                }
                if self.current.is_some() {
                    self.previous = self.current;
                }
                self.current = Some(Group {
                    first_send_us: send_us,
                    last_send_us: send_us,
                    last_arrival_us: arrival_us,
                });
            }
        }
    }

    fn update_delay_based(&mut self, now: Instant) {
        let dt = self
            .last_update
            .replace(now)
            .map_or(Duration::ZERO, |t| now.saturating_duration_since(t))
            .min(Duration::from_secs(1));
        let acked_span = self.acknowledged_span();
        let acked = acked_span.map(|(a, _)| a as f64);
        match self.trendline.usage {
            Usage::Overusing => {
                let base = acked.unwrap_or(self.delay_based);
                self.delay_based = (BETA * base).min(self.delay_based);
                self.last_decrease = Some(now);
            }
            Usage::Underusing => {} // hold: let the queue drain
            Usage::Normal => {
                let grown = self.delay_based * INCREASE_PER_SECOND.powf(dt.as_secs_f64());
                // Never far beyond what the viewer is shown to receive.
                let cap = acked.map_or(f64::MAX, |a| 1.5 * a + 10_000.0);
                // Never under what it is shown to receive with no queue building, measured
                // over a good part of the window: the path carries that. (An SFU sends a
                // layer whatever the estimate; growing 8 % a second from the initial
                // estimate, the estimate would stay under the layer the viewer receives well
                // for seconds, and any blip of delay would then move it down. libwebrtc, too,
                // starts from the measured throughput once it has one.)
                let floor = acked_span
                    .filter(|&(_, span)| span >= ACKED_FLOOR_SPAN_US)
                    .map_or(0.0, |(bps, _)| bps as f64);
                self.delay_based = grown.min(cap.max(self.delay_based)).max(floor);
            }
        }
        self.delay_based = self.delay_based.clamp(self.min_bps, self.max_bps);
    }

    fn update_loss_based(&mut self, now: Instant, sent: u32, lost: u32) {
        let since = *self.loss_since.get_or_insert(now);
        self.loss_sent += sent;
        self.loss_lost += lost;
        if now.saturating_duration_since(since) < LOSS_WINDOW || self.loss_sent == 0 {
            if !self.loss_limiting {
                // Between judgements, an estimate that loss does not limit follows the
                // delay-based one at once (up too), not a second later.
                self.loss_based = self.delay_based;
            }
            return;
        }
        let loss = f64::from(self.loss_lost) / f64::from(self.loss_sent);
        if loss > LOSS_HIGH {
            let cut = self.loss_based.min(self.delay_based) * (1.0 - 0.5 * loss);
            // Not below what the viewer is shown to receive: a stream that cannot slow down
            // (no lower layer) keeps losing, and the estimate would otherwise fall for good
            // instead of saying what the path carries.
            let floor = self.acknowledged().map_or(0.0, |a| BETA * a as f64);
            self.loss_based = cut.max(floor);
            self.last_decrease = Some(now);
            self.loss_limiting = true;
        } else {
            // Not limiting: follow the delay-based estimate (up too).
            self.loss_based = self.delay_based;
            self.loss_limiting = false;
        }
        self.loss_based = self.loss_based.clamp(self.min_bps, self.max_bps);
        self.loss_since = Some(now);
        self.loss_sent = 0;
        self.loss_lost = 0;
    }
}

#[cfg(test)]
mod tests;
