//! Frame completion and freezes of one received video stream ([`FrameTracker`]), from the
//! clear RTP header only (sequence number, timestamp, marker), so it works on packets whose
//! SRTP was not checked.
//!
//! A frame is complete once every packet up to its marker packet is here: the tracker keeps a
//! horizon, the highest sequence number up to which every packet was received or given up,
//! and each received marker packet the horizon passes ends a frame, complete unless a packet
//! given up lies between it and the previous clean frame end. The stream "freezes" when two
//! complete frames are more than the threshold apart; the freeze lasts that whole interval
//! (as `totalFreezesDuration` in WebRTC stats).
//!
//! Owns: that accounting. Must not touch sockets or read the clock.

use std::time::{Duration, Instant};

/// Packets remembered beyond the horizon (more than the NACK generator keeps missing).
const RING: usize = 1024;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum State {
    #[default]
    Empty,
    Received {
        ts: u32,
        marker: bool,
    },
    GivenUp,
}

/// Freeze figures at some instant.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Freezes {
    /// Complete frames.
    pub frames: u64,
    /// Freezes, the one going on included.
    pub count: u64,
    /// Their total duration.
    pub time: Duration,
}

/// Frame completion of one stream, by extended sequence number.
#[derive(Clone, Debug)]
pub struct FrameTracker {
    threshold: Duration,
    ring: Vec<(u64, State)>,
    /// Every packet at or below this was received or given up.
    horizon: Option<u64>,
    /// The frame being passed has a packet given up (or may have: its start is unknown).
    broken: bool,
    last_complete: Option<Instant>,
    done: Freezes,
}

impl FrameTracker {
    /// A tracker counting gaps over `threshold` between complete frames as freezes.
    pub fn new(threshold: Duration) -> Self {
        FrameTracker {
            threshold,
            ring: vec![(0, State::Empty); RING],
            horizon: None,
            broken: false,
            last_complete: None,
            done: Freezes::default(),
        }
    }

    /// A packet with extended sequence number `seq`, timestamp `ts` and `marker` arrived at
    /// `now`.
    pub fn on_packet(&mut self, seq: u64, ts: u32, marker: bool, now: Instant) {
        let h = *self.horizon.get_or_insert(seq.saturating_sub(1));
        if seq <= h {
            return;
        }
        self.set(seq, State::Received { ts, marker }, now);
        self.advance(now);
    }

    /// The packet `seq` will never come (its NACKs gave up).
    pub fn give_up(&mut self, seq: u64, now: Instant) {
        if self.horizon.is_none_or(|h| seq <= h) {
            return;
        }
        self.set(seq, State::GivenUp, now);
        self.advance(now);
    }

    fn set(&mut self, seq: u64, state: State, now: Instant) {
        // Too far ahead for the ring: what the horizon has to skip is lost for the decoder.
        while seq - self.horizon.expect("set after the horizon exists") >= RING as u64 {
            let next = self.horizon.expect("checked above") + 1;
            let i = (next % RING as u64) as usize;
            if self.ring[i].0 != next || self.ring[i].1 == State::Empty {
                self.ring[i] = (next, State::GivenUp);
            }
            self.step(i, now);
        }
        let i = (seq % RING as u64) as usize;
        self.ring[i] = (seq, state);
    }

    fn advance(&mut self, now: Instant) {
        loop {
            let next = self.horizon.expect("advance after the horizon exists") + 1;
            let i = (next % RING as u64) as usize;
            if self.ring[i].0 != next || self.ring[i].1 == State::Empty {
                return;
            }
            self.step(i, now);
        }
    }

    /// Moves the horizon over slot `i`; a clean frame end counts at `now`.
    fn step(&mut self, i: usize, now: Instant) {
        let state = std::mem::take(&mut self.ring[i].1);
        self.horizon = Some(self.ring[i].0);
        match state {
            State::GivenUp => self.broken = true,
            State::Received { marker: true, .. } => {
                if !self.broken {
                    self.complete(now);
                }
                self.broken = false;
            }
            State::Received { .. } | State::Empty => {}
        }
    }

    fn complete(&mut self, now: Instant) {
        self.done.frames += 1;
        if let Some(last) = self.last_complete {
            let gap = now.saturating_duration_since(last);
            if gap > self.threshold {
                self.done.count += 1;
                self.done.time += gap;
            }
        }
        self.last_complete = Some(now);
    }

    /// Complete frames and freezes at `now`, a freeze going on (no complete frame for more
    /// than the threshold) included with its duration so far.
    pub fn freezes(&self, now: Instant) -> Freezes {
        let mut f = self.done;
        if let Some(last) = self.last_complete {
            let gap = now.saturating_duration_since(last);
            if gap > self.threshold {
                f.count += 1;
                f.time += gap;
            }
        }
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Frames of three packets every 33 ms: `(seq, ts, marker, at)` for frame `f`.
    fn frame(f: u64) -> [(u64, u32, bool, u64); 3] {
        let ts = (f * 3000) as u32;
        [0, 1, 2].map(|i| (100 + 3 * f + i, ts, i == 2, 33 * f))
    }

    /// A tracker fed frames `0..frames` at their times, without the packet `missing`.
    fn fed(frames: u64, missing: Option<u64>) -> (FrameTracker, Instant) {
        let t0 = Instant::now();
        let mut t = FrameTracker::new(ms(500));
        for f in 0..frames {
            for (seq, ts, m, at) in frame(f) {
                if Some(seq) != missing {
                    t.on_packet(seq, ts, m, t0 + ms(at));
                }
            }
        }
        (t, t0)
    }

    #[test]
    fn complete_frames_without_loss_never_freeze() {
        let (t, t0) = fed(30, None);
        let f = t.freezes(t0 + ms(33 * 29 + 100));
        assert_eq!((f.frames, f.count, f.time), (30, 0, Duration::ZERO));
        // Nothing for 600 ms: a freeze going on, counted once with its length so far.
        let f = t.freezes(t0 + ms(33 * 29 + 600));
        assert_eq!((f.count, f.time), (1, ms(600)));
    }

    /// A missing packet holds every later frame back until it arrives; the frames then complete
    /// at that time and the wait is a freeze if longer than the threshold.
    #[test]
    fn a_hole_holds_frames_until_repaired() {
        let (mut t, t0) = fed(30, Some(100 + 3 * 5 + 1));
        assert_eq!(t.freezes(t0 + ms(33 * 5)).frames, 5);
        // Repaired 800 ms after frame 4 completed: frames 5..30 complete at once.
        let at = t0 + ms(33 * 4 + 800);
        t.on_packet(100 + 16, 15_000, false, at);
        let f = t.freezes(at);
        assert_eq!((f.frames, f.count, f.time), (30, 1, ms(800)));
        // A short hole (under the threshold) is no freeze.
        t.on_packet(100 + 91, 90_000, false, at + ms(10));
        t.on_packet(100 + 92, 90_000, true, at + ms(10));
        t.on_packet(100 + 90, 90_000, false, at + ms(100));
        assert_eq!(t.freezes(at + ms(100)).count, 1);
        assert_eq!(t.freezes(at + ms(100)).frames, 31);
    }

    /// A packet given up breaks its frame (never complete) but lets the next frames complete.
    #[test]
    fn given_up_packet_skips_its_frame() {
        let (mut t, t0) = fed(10, Some(100 + 3 * 2 + 1));
        assert_eq!(t.freezes(t0 + ms(300)).frames, 2);
        t.give_up(100 + 7, t0 + ms(1000));
        let f = t.freezes(t0 + ms(1000));
        assert_eq!(f.frames, 9, "frame 2 never completes, 3..9 do");
        assert_eq!((f.count, f.time), (1, ms(1000 - 33)));
        // Late arrival of a given-up packet changes nothing.
        t.on_packet(100 + 7, 6000, false, t0 + ms(1100));
        assert_eq!(t.freezes(t0 + ms(1100)).frames, 9);
    }

    /// A jump beyond the ring moves the horizon on instead of growing.
    #[test]
    fn big_jump_moves_on() {
        let t0 = Instant::now();
        let mut t = FrameTracker::new(ms(500));
        t.on_packet(10, 0, true, t0);
        t.on_packet(10 + 5000, 1, true, t0 + ms(10));
        assert_eq!(t.horizon, Some(10 + 5000 + 1 - RING as u64));
        for s in 11..10 + 5000 {
            t.give_up(s, t0 + ms(10));
        }
        assert_eq!(t.horizon, Some(10 + 5000));
        t.on_packet(10 + 5001, 2, true, t0 + ms(20));
        assert_eq!(
            t.freezes(t0 + ms(20)).frames,
            2,
            "the first, then 5001 after the skip"
        );
    }
}
