//! The estimator against a simulated bottleneck: a FIFO link of a given rate, propagation
//! delay and queue (tail drop), optional random loss, and transport-wide feedback every
//! 100 ms. Senders are either adaptive (send at the estimate, as a simulcast layer choice
//! would) or a fixed-rate stream (what an SFU forwards without layers).

use super::*;
use crate::rng::SplitMix64;

const FRAME_US: i64 = 33_333;
const PACKET: u32 = 1200;
const FEEDBACK_US: i64 = 100_000;

struct Link {
    rate_bps: f64,
    prop_us: i64,
    queue_us: i64,
    loss: f64,
    busy_until_us: i64,
    rng: SplitMix64,
}

impl Link {
    fn new(rate_bps: f64, prop_us: i64, queue_us: i64) -> Self {
        Link {
            rate_bps,
            prop_us,
            queue_us,
            loss: 0.0,
            busy_until_us: 0,
            rng: SplitMix64(7),
        }
    }

    /// When a packet sent at `send_us` arrives, if it does.
    fn transmit(&mut self, send_us: i64, size: u32) -> Option<i64> {
        let start = send_us.max(self.busy_until_us);
        if start - send_us > self.queue_us {
            return None; // tail drop
        }
        let tx = (f64::from(size) * 8.0 * 1e6 / self.rate_bps) as i64;
        self.busy_until_us = start + tx;
        if self.loss > 0.0 && self.rng.unit() < self.loss {
            return None;
        }
        Some(self.busy_until_us + self.prop_us)
    }
}

enum Sender {
    Adaptive,
    Fixed(f64),
}

struct Run {
    est: BandwidthEstimator,
    link: Link,
    sender: Sender,
    t0: Instant,
    now_us: i64,
    /// Sent, not yet reported: (send µs, size, arrival).
    pending: Vec<PacketResult>,
    next_feedback_us: i64,
    /// (send µs, one-way delay µs) of what arrived, for queueing checks.
    delays: Vec<(i64, i64)>,
}

impl Run {
    fn new(link: Link, sender: Sender) -> Self {
        Run {
            est: BandwidthEstimator::new(300_000, 30_000, 10_000_000),
            link,
            sender,
            t0: Instant::now(),
            now_us: 0,
            pending: Vec::new(),
            next_feedback_us: FEEDBACK_US,
            delays: Vec::new(),
        }
    }

    /// Runs until `until_us`, a frame every 33 ms (its packets back to back), feedback every
    /// 100 ms reporting what has arrived by then (and what was lost before it), delivered to
    /// the estimator one propagation delay later.
    fn run_until(&mut self, until_us: i64) {
        while self.now_us < until_us {
            let rate = match self.sender {
                Sender::Adaptive => self.est.estimate() as f64,
                Sender::Fixed(r) => r,
            };
            let frame_bytes = (rate / 8.0 * FRAME_US as f64 / 1e6) as u32;
            let mut left = frame_bytes.max(PACKET);
            while left > 0 {
                let size = left.min(PACKET);
                left -= size;
                let arrival = self.link.transmit(self.now_us, size);
                if let Some(a) = arrival {
                    self.delays.push((self.now_us, a - self.now_us));
                }
                self.pending.push(PacketResult {
                    send_us: self.now_us,
                    size,
                    arrival_us: arrival,
                });
            }
            self.now_us += FRAME_US;
            while self.next_feedback_us <= self.now_us {
                self.feedback(self.next_feedback_us);
                self.next_feedback_us += FEEDBACK_US;
            }
        }
    }

    fn feedback(&mut self, at_us: i64) {
        // Report up to the last packet that arrived by `at_us`.
        let Some(last) = self
            .pending
            .iter()
            .rposition(|p| p.arrival_us.is_some_and(|a| a <= at_us))
        else {
            return;
        };
        let report: Vec<PacketResult> = self.pending.drain(..=last).collect();
        let now = self.t0 + Duration::from_micros((at_us + self.link.prop_us) as u64);
        self.est.on_feedback(now, &report);
    }

    fn estimate_kbps(&self) -> u64 {
        self.est.estimate() / 1000
    }

    /// The mean queueing delay (one-way minus propagation) of packets sent in `[from, to)` µs.
    fn queueing_ms(&self, from: i64, to: i64) -> i64 {
        let d: Vec<i64> = self
            .delays
            .iter()
            .filter(|(s, _)| (from..to).contains(s))
            .map(|(_, d)| d - self.link.prop_us)
            .collect();
        d.iter().sum::<i64>() / d.len().max(1) as i64 / 1000
    }
}

const S: i64 = 1_000_000;

#[test]
fn an_adaptive_sender_settles_near_the_bottleneck_without_a_standing_queue() {
    let mut run = Run::new(Link::new(1_000_000.0, 20_000, 300_000), Sender::Adaptive);
    run.run_until(40 * S);
    let kbps = run.estimate_kbps();
    assert!(
        (600..=1200).contains(&kbps),
        "{kbps} kbit/s on a 1000 kbit/s link"
    );
    let q = run.queueing_ms(30 * S, 40 * S);
    assert!(q < 150, "{q} ms of queue");
}

#[test]
fn a_fixed_stream_over_a_thinner_link_is_estimated_below_its_rate() {
    let mut run = Run::new(
        Link::new(320_000.0, 20_000, 500_000),
        Sender::Fixed(470_000.0),
    );
    run.run_until(10 * S);
    let kbps = run.estimate_kbps();
    // Below the stream's rate (what a notEnoughBandwidth needs), near what the link carries.
    assert!(
        (200..400).contains(&kbps),
        "{kbps} kbit/s for 470 kbit/s on a 320 kbit/s link"
    );
}

#[test]
fn a_fixed_stream_over_a_wide_link_is_never_cut() {
    let mut run = Run::new(
        Link::new(10_000_000.0, 20_000, 300_000),
        Sender::Fixed(470_000.0),
    );
    for _ in 0..30 {
        run.run_until(run.now_us + S);
        assert_ne!(run.est.usage(), Usage::Overusing);
    }
    let kbps = run.estimate_kbps();
    assert!(kbps >= 470, "{kbps} kbit/s on an idle 10 Mbit/s link");
}

#[test]
fn a_stream_received_in_full_lifts_the_estimate_to_its_rate_at_once() {
    // An SFU sends a layer above the initial estimate (300 kbit/s here): what the viewer
    // receives with no queue building is what the path carries, not 8 % a second more.
    let mut run = Run::new(
        Link::new(10_000_000.0, 20_000, 300_000),
        Sender::Fixed(1_300_000.0),
    );
    run.run_until(S);
    let kbps = run.estimate_kbps();
    assert!(
        (1200..=2000).contains(&kbps),
        "{kbps} kbit/s 1 s into 1300 kbit/s on an idle 10 Mbit/s link"
    );
}

#[test]
fn a_rate_step_down_is_followed_within_seconds_and_a_step_up_within_twenty() {
    let mut run = Run::new(Link::new(2_000_000.0, 20_000, 300_000), Sender::Adaptive);
    run.run_until(30 * S);
    let before = run.estimate_kbps();
    assert!(before > 1200, "{before} kbit/s on 2000");
    run.link.rate_bps = 500_000.0;
    run.run_until(35 * S);
    let down = run.estimate_kbps();
    assert!(down < 650, "{down} kbit/s 5 s after the link fell to 500");
    run.link.rate_bps = 2_000_000.0;
    run.run_until(55 * S);
    let up = run.estimate_kbps();
    assert!(
        up > 1200,
        "{up} kbit/s 20 s after the link came back to 2000"
    );
}

#[test]
fn random_loss_under_ten_percent_does_not_collapse_the_estimate() {
    let mut link = Link::new(2_000_000.0, 20_000, 300_000);
    link.loss = 0.05;
    let mut run = Run::new(link, Sender::Adaptive);
    run.run_until(30 * S);
    let kbps = run.estimate_kbps();
    assert!(kbps > 1000, "{kbps} kbit/s with 5 % random loss on 2000");
}

#[test]
fn heavy_loss_cuts_the_estimate() {
    let mut link = Link::new(10_000_000.0, 20_000, 300_000);
    link.loss = 0.25;
    let mut run = Run::new(link, Sender::Fixed(1_000_000.0));
    run.run_until(10 * S);
    let kbps = run.estimate_kbps();
    // Below the stream, but not below 85 % of the 750 kbit/s that gets through.
    assert!(
        (600..900).contains(&kbps),
        "{kbps} kbit/s with 25 % loss of 1000"
    );
}

#[test]
fn a_delay_spike_dips_the_estimate_and_it_recovers() {
    let mut run = Run::new(Link::new(2_000_000.0, 20_000, 1_000_000), Sender::Adaptive);
    run.run_until(25 * S);
    let before = run.estimate_kbps();
    // The path's delay grows by 200 ms over half a second (a route through a queue), then
    // stays: delay growth, not level, is what the estimator reacts to.
    for step in 1..=10 {
        run.link.prop_us = 20_000 + step * 20_000;
        run.run_until(run.now_us + S / 20);
    }
    run.run_until(run.now_us + 2 * S);
    let dipped = run.estimate_kbps();
    assert!(dipped < before, "{dipped} after the spike, {before} before");
    run.run_until(run.now_us + 20 * S);
    let after = run.estimate_kbps();
    assert!(after > 1200, "{after} kbit/s 20 s later");
}
