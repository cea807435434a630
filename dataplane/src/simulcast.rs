//! Simulcast on the sending side: the bitrate of each layer of a stream as a worker forwards
//! it ([`LayerRates`]), and which layer one viewer is sent ([`LayerSelection`]) — switched
//! only where the new layer starts a keyframe, chosen from the viewer's bandwidth estimate
//! (or fixed by the viewer's [`LayerChoice`]), with video paused when not even the lowest
//! layer fits.
//!
//! Sans-IO policy: `now` and the estimate are handed in; no clock, no allocation. The
//! rewriting of sequence numbers at a switch is the subscriber's, the keyframe requests the
//! worker core's.

use std::time::{Duration, Instant};

use crate::api::{LayerChoice, MAX_LAYERS};

/// Layer rates are measured over windows this long, smoothed across windows.
const RATE_WINDOW: Duration = Duration::from_secs(1);
/// A layer with no packet for this long is inactive (the publisher stopped sending it).
const ACTIVE_WITHIN: Duration = Duration::from_millis(1500);
/// A layer fits a viewer when the layer and the audio take at most this share of its
/// estimate.
const FIT_SHARE: f64 = 0.9;
/// A higher layer is switched to only when it takes at most this share (a margin over
/// `FIT_SHARE`: a layer just under what the path carries would be left again at its next
/// keyframe burst, freezing the picture each time).
const UP_SHARE: f64 = 0.75;
/// The layer sent must have stopped fitting, with congestion seen on the path, this long
/// before the viewer is switched down...
const DOWN_AFTER: Duration = Duration::from_millis(500);
/// ... and a higher layer must have fitted this long, with no congestion, before it is
/// switched up.
const UP_AFTER: Duration = Duration::from_secs(1);
/// Video is paused when not even the lowest layer has fitted, with congestion, this long...
const PAUSE_AFTER: Duration = Duration::from_secs(2);
/// ... clearly: the estimate under this share of what the lowest layer and the audio need (an
/// estimate a little under it is the estimator's noise on a path that carries it; a stream
/// that really does not fit shows far less).
const PAUSE_SHARE: f64 = 0.85;
/// Congestion (a decrease of the estimate) this recent counts as "seen".
pub const CONGESTION_RECENT: Duration = Duration::from_secs(2);
/// A viewer that acknowledges at least this share of what it is sent is delivered to.
pub const DELIVERED_SHARE: f64 = 0.85;
/// A probe aims this much above the rate it tests, so that a success makes the layer fit.
const PROBE_MARGIN: f64 = 1.2;

/// The bitrate of each layer (and of the audio) of one stream, as forwarded on one worker.
#[derive(Debug, Default)]
pub struct LayerRates {
    window_start: Option<Instant>,
    /// Bytes in the current window: the video layers, then the audio.
    bytes: [u64; MAX_LAYERS + 1],
    /// Smoothed bits/s of the completed windows.
    bps: [u64; MAX_LAYERS + 1],
    last_seen: [Option<Instant>; MAX_LAYERS + 1],
}

/// The audio's slot in [`LayerRates`].
const AUDIO: usize = MAX_LAYERS;

impl LayerRates {
    /// A packet of `len` bytes of video layer `layer` (`None`: audio) forwarded at `now`.
    pub fn on_packet(&mut self, now: Instant, layer: Option<u8>, len: usize) {
        let slot = layer.map_or(AUDIO, |l| usize::from(l).min(MAX_LAYERS - 1));
        let start = *self.window_start.get_or_insert(now);
        let elapsed = now.saturating_duration_since(start);
        if elapsed >= RATE_WINDOW {
            let secs = elapsed.as_secs_f64();
            for (bps, bytes) in self.bps.iter_mut().zip(&mut self.bytes) {
                let window = (*bytes * 8) as f64 / secs;
                // A layer's first window counts alone; then half the old, half the new.
                *bps = if *bps == 0 {
                    window as u64
                } else {
                    ((*bps as f64 + window) / 2.0) as u64
                };
                *bytes = 0;
            }
            self.window_start = Some(now);
        }
        self.bytes[slot] += len as u64;
        self.last_seen[slot] = Some(now);
    }

    /// Video layer `layer`'s bitrate (0 until a window completed).
    pub fn rate(&self, layer: u8) -> u64 {
        self.bps.get(usize::from(layer)).copied().unwrap_or(0)
    }

    /// The audio's bitrate.
    pub fn audio(&self) -> u64 {
        self.bps[AUDIO]
    }

    /// Whether video layer `layer` was forwarded lately.
    pub fn active(&self, now: Instant, layer: u8) -> bool {
        let seen = self.last_seen.get(usize::from(layer)).copied().flatten();
        seen.is_some_and(|t| now.saturating_duration_since(t) < ACTIVE_WITHIN)
    }

    /// The active video layers from the lowest bitrate to the highest (in index order where
    /// rates are not known yet), and how many there are.
    pub fn ranked(&self, now: Instant) -> ([u8; MAX_LAYERS], usize) {
        let mut order = [0u8; MAX_LAYERS];
        let mut n = 0;
        for layer in 0..MAX_LAYERS as u8 {
            if self.active(now, layer) {
                order[n] = layer;
                n += 1;
            }
        }
        order[..n].sort_by_key(|&l| (self.rate(l), l));
        if order[..n].iter().any(|&l| self.rate(l) == 0) {
            order[..n].sort_unstable();
        }
        (order, n)
    }
}

/// What a viewer's estimate says, as the selection needs it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EstimateView {
    /// The estimate, bits/s.
    pub bps: u64,
    /// When the path last made the estimate go down.
    pub last_decrease: Option<Instant>,
    /// Whether the viewer acknowledges receiving about what it is sent: then the layer it
    /// gets fits, whatever a lagging estimate says (it is not moved down).
    pub delivering: bool,
}

/// What to do with a video packet of some layer for one viewer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accept {
    /// It is of the layer the viewer is sent.
    Forward,
    /// It starts a keyframe of the layer the viewer switches to now: forward it as the
    /// continuation of the viewer's stream (a discontinuity for the sequence numbers).
    Switch,
    /// Not for this viewer.
    Drop,
}

/// The layer one viewer is sent.
#[derive(Debug, Default)]
pub struct LayerSelection {
    choice: LayerChoice,
    /// The layer forwarded (`None` before the first keyframe, and while paused).
    current: Option<u8>,
    /// The layer to forward, switched to at its next keyframe (`None`: whichever layer's
    /// keyframe comes first).
    target: Option<u8>,
    paused: bool,
    /// Since when the layer sent has not fitted, a higher one has, the lowest has not (or,
    /// while paused, has).
    over_since: Option<Instant>,
    up_since: Option<Instant>,
    pause_since: Option<Instant>,
}

impl LayerSelection {
    /// The selection for a viewer that asked for `choice`.
    pub fn new(choice: LayerChoice) -> Self {
        Self {
            choice,
            ..Self::default()
        }
    }

    /// The layer forwarded, if any.
    pub fn current(&self) -> Option<u8> {
        self.current
    }

    /// Whether video is paused because not even the lowest layer fits.
    pub fn paused(&self) -> bool {
        self.paused
    }

    /// The layer whose keyframe the viewer waits for: none yet, or a switch pending.
    pub fn wants_keyframe(&self) -> bool {
        !self.paused
            && (self.current.is_none() || self.target.is_some_and(|t| Some(t) != self.current))
    }

    /// The layer to ask a keyframe of for this viewer (`None`: any, every layer).
    pub fn keyframe_layer(&self) -> Option<u8> {
        self.target.or(self.current)
    }

    /// Decides for a video packet of `layer`, switching when it is the keyframe awaited.
    pub fn accept(&mut self, layer: u8, keyframe: bool) -> Accept {
        if self.paused {
            return Accept::Drop;
        }
        if self.current == Some(layer) {
            return Accept::Forward;
        }
        let awaited = match (self.current, self.target) {
            // Start with the first keyframe of any layer, then switch to the target's.
            (None, _) => true,
            (Some(_), None) => false,
            (Some(_), Some(t)) => t == layer,
        };
        if keyframe && awaited {
            self.current = Some(layer);
            return Accept::Switch;
        }
        Accept::Drop
    }

    /// Re-decides the target layer at `now` from the layers' `rates` and the viewer's
    /// estimate (`None`: it has none); returns the new target when it changed (ask its
    /// keyframe) — or, when video resumes after a pause, the layer to start with.
    pub fn choose(
        &mut self,
        now: Instant,
        rates: &LayerRates,
        estimate: Option<EstimateView>,
    ) -> Option<u8> {
        let (ranked, n) = rates.ranked(now);
        let ranked = &ranked[..n];
        let (&lowest, &top) = (ranked.first()?, ranked.last()?);
        let pick = match (self.choice, estimate) {
            (LayerChoice::Lowest, _) => lowest,
            (LayerChoice::Highest, _) => top,
            (LayerChoice::Middle, _) => ranked[(n - 1) / 2],
            (LayerChoice::Auto, None) => top,
            (LayerChoice::Auto, Some(e)) => return self.choose_auto(now, rates, ranked, e),
        };
        self.paused = false;
        self.set_target(pick)
    }

    fn set_target(&mut self, layer: u8) -> Option<u8> {
        if self.target == Some(layer) {
            return None;
        }
        self.target = Some(layer);
        (self.current != Some(layer)).then_some(layer)
    }

    fn choose_auto(
        &mut self,
        now: Instant,
        rates: &LayerRates,
        ranked: &[u8],
        e: EstimateView,
    ) -> Option<u8> {
        let audio = rates.audio();
        let fits = |l: u8| (rates.rate(l) + audio) as f64 <= FIT_SHARE * e.bps as f64;
        let congested = e
            .last_decrease
            .is_some_and(|t| now.saturating_duration_since(t) <= CONGESTION_RECENT);
        let lowest = ranked[0];
        let best_fit = ranked.iter().rev().copied().find(|&l| fits(l));
        let up_fits = |l: u8| (rates.rate(l) + audio) as f64 <= UP_SHARE * e.bps as f64;
        let best_up = ranked.iter().rev().copied().find(|&l| up_fits(l));
        // Not even the lowest layer fits, by far — judged once the viewer is sent it (the
        // estimate right after a path showed itself thin says little) — the path says so and
        // the viewer does not receive what it is sent: pause the video.
        let on_lowest = self.current == Some(lowest);
        let far_short = (e.bps as f64) < PAUSE_SHARE * (rates.rate(lowest) + audio) as f64;
        if far_short && congested && !e.delivering && (on_lowest || self.paused) {
            let since = *self.pause_since.get_or_insert(now);
            if !self.paused && now.saturating_duration_since(since) >= PAUSE_AFTER {
                self.paused = true;
                self.current = None;
                self.target = None;
                self.up_since = None;
                self.over_since = None;
                // From now on: since when the lowest layer fits again.
                self.pause_since = None;
                return None;
            }
        } else if !self.paused {
            self.pause_since = None;
        }
        if self.paused {
            if !fits(lowest) {
                self.pause_since = None;
                return None;
            }
            // The lowest layer fits again (a probe showed it): resume with it.
            let since = *self.pause_since.get_or_insert(now);
            if now.saturating_duration_since(since) < UP_AFTER {
                return None;
            }
            self.paused = false;
            self.pause_since = None;
            self.target = Some(best_fit.unwrap_or(lowest));
            return self.target;
        }
        let Some(heading) = self.target.filter(|&t| ranked.contains(&t)) else {
            self.over_since = None;
            self.up_since = None;
            // The first decision, before the path showed any congestion: the top layer (the
            // estimate has not had a chance to grow yet; a thin path shows itself within
            // moments and the viewer is moved down). Otherwise — no target yet, or its layer
            // stopped — the best that fits, or the lowest.
            let first = self.target.is_none() && e.last_decrease.is_none();
            let pick = match first {
                true => ranked[ranked.len() - 1],
                false => best_fit.unwrap_or(lowest),
            };
            return self.set_target(pick);
        };
        let rank = |l: u8| ranked.iter().position(|&r| r == l);
        // The viewer still waits for the target's keyframe: nothing of it has been sent, so
        // what the viewer receives now says nothing about it, and a target the path shows it
        // cannot carry is given up at once (switching to it first would flood a thin path
        // with a keyframe of the top layer, then take it back).
        let pending = self.current != Some(heading);
        if !fits(heading) && congested && (pending || !e.delivering) {
            self.up_since = None;
            let since = *self.over_since.get_or_insert(now);
            if pending || now.saturating_duration_since(since) >= DOWN_AFTER {
                self.over_since = None;
                let down = best_fit.unwrap_or(lowest);
                if rank(down) < rank(heading) {
                    return self.set_target(down);
                }
            }
            return None;
        }
        self.over_since = None;
        match best_up {
            Some(up) if rank(up) > rank(heading) && !congested => {
                let since = *self.up_since.get_or_insert(now);
                if now.saturating_duration_since(since) >= UP_AFTER {
                    self.up_since = None;
                    return self.set_target(up);
                }
            }
            _ => self.up_since = None,
        }
        None
    }

    /// The rate (bits/s) a bandwidth probe should show the path carries for the viewer to be
    /// sent more: the lowest layer while paused, else the next layer up from the target, for
    /// a viewer whose layer follows its estimate; `None` when nothing higher is to be had.
    pub fn probe_target(&self, now: Instant, rates: &LayerRates) -> Option<u64> {
        if self.choice != LayerChoice::Auto {
            return None;
        }
        let (ranked, n) = rates.ranked(now);
        let ranked = &ranked[..n];
        let next = if self.paused {
            *ranked.first()?
        } else {
            let at = ranked.iter().position(|&l| Some(l) == self.target)?;
            *ranked.get(at + 1)?
        };
        let rate = rates.rate(next);
        // What lets the next layer up be switched to (a paused viewer resumes at FIT_SHARE).
        let share = if self.paused { FIT_SHARE } else { UP_SHARE };
        (rate > 0).then(|| ((rate + rates.audio()) as f64 / share * PROBE_MARGIN) as u64)
    }

    /// What the viewer needs to be sent its target layer (or the lowest while paused) and
    /// the audio, bits/s: what `notEnoughBandwidth` compares the estimate with.
    pub fn needed_bps(&self, now: Instant, rates: &LayerRates) -> Option<u64> {
        let layer = match self.target.or(self.current) {
            Some(l) if !self.paused => l,
            _ => match rates.ranked(now) {
                (_, 0) => return None,
                (ranked, _) => ranked[0],
            },
        };
        Some(rates.rate(layer) + rates.audio())
    }
}

#[cfg(test)]
mod tests;
