//! Per-client network impairment of the load generator: each client passes every datagram it
//! sends and every datagram it reads (STUN, DTLS, SRTP, SRTCP) through one [`Impairment`] per
//! direction, which drops it (random loss), holds it back (delay, uniform jitter, an explicit
//! reorder share held for an extra delay) or lets it through.
//!
//! Owns: the impairment's description ([`ImpairSpec`], parsed from `loss=5,delay=20ms,...`),
//! its seeded generator ([`Rng`]) and the time-ordered queue of held datagrams
//! ([`DelayQueue`]). Must not touch sockets or read the clock: `now` comes in, held datagrams
//! go out through [`Impairment::pop_due`] into the caller's buffer. Once the queue has grown to
//! its peak nothing allocates: slots and the heap are reused; a full queue drops the datagram
//! and counts it ([`ImpairStats::overflow`]).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::units::{parse_duration, serialize_ms as ms};

/// Largest datagram a queue slot holds (longer ones are truncated; none of ours are).
pub const MAX_DATAGRAM: usize = 2048;
/// Held datagrams per client and direction by default.
pub const DEFAULT_QUEUE: usize = 512;

/// Why an impairment description was rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ImpairError {
    /// An item is not `key=value`.
    #[error("expected key=value, got {0:?}")]
    NotKeyValue(String),
    /// An unknown key.
    #[error("unknown impairment {0:?} (loss, delay, jitter, reorder, reorder_delay)")]
    UnknownKey(String),
    /// A value that does not parse or is out of range.
    #[error("bad value for {key}: {value:?}")]
    BadValue {
        /// The key.
        key: String,
        /// The value as written.
        value: String,
    },
}

/// What happens to one direction of a client's datagrams.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct ImpairSpec {
    /// Share of datagrams dropped, percent.
    pub loss_pct: f64,
    /// Fixed one-way delay added to every datagram.
    #[serde(serialize_with = "ms")]
    pub delay: Duration,
    /// Uniform jitter: each datagram's delay is `delay ± jitter` (never below zero); datagrams
    /// may overtake each other.
    #[serde(serialize_with = "ms")]
    pub jitter: Duration,
    /// Share of datagrams held back by `reorder_delay` more, percent.
    pub reorder_pct: f64,
    /// The extra delay of a reordered datagram.
    #[serde(serialize_with = "ms")]
    pub reorder_delay: Duration,
}

impl ImpairSpec {
    /// Parses `loss=5,delay=20ms,jitter=5ms,reorder=1,reorder_delay=10ms` (any subset, any
    /// order; percentages without `%`; durations as for `--duration`). `none` or an empty
    /// string is no impairment. `reorder_delay` defaults to 10 ms when `reorder` is given.
    pub fn parse(s: &str) -> Result<ImpairSpec, ImpairError> {
        let mut spec = ImpairSpec::default();
        let s = s.trim();
        if s.is_empty() || s == "none" {
            return Ok(spec);
        }
        let mut reorder_delay = None;
        for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (key, value) = item
                .split_once('=')
                .ok_or_else(|| ImpairError::NotKeyValue(item.to_owned()))?;
            let (key, value) = (key.trim(), value.trim());
            let bad = || ImpairError::BadValue {
                key: key.to_owned(),
                value: value.to_owned(),
            };
            let pct = || {
                value
                    .trim_end_matches('%')
                    .parse::<f64>()
                    .ok()
                    .filter(|p| (0.0..=100.0).contains(p))
                    .ok_or_else(bad)
            };
            let dur = || parse_duration(value).map_err(|_| bad());
            match key {
                "loss" => spec.loss_pct = pct()?,
                "delay" => spec.delay = dur()?,
                "jitter" => spec.jitter = dur()?,
                "reorder" => spec.reorder_pct = pct()?,
                "reorder_delay" | "reorder-delay" => reorder_delay = Some(dur()?),
                _ => return Err(ImpairError::UnknownKey(key.to_owned())),
            }
        }
        spec.reorder_delay = reorder_delay.unwrap_or(if spec.reorder_pct > 0.0 {
            Duration::from_millis(10)
        } else {
            Duration::ZERO
        });
        Ok(spec)
    }

    /// Whether this impairs nothing (every datagram passes at once).
    pub fn is_none(&self) -> bool {
        self.loss_pct <= 0.0
            && self.delay.is_zero()
            && self.jitter.is_zero()
            && (self.reorder_pct <= 0.0 || self.reorder_delay.is_zero())
    }
}

/// The impairment of every client of a run: one spec per direction, the run's seed (each
/// client and direction gets its own generator derived from it) and the queue bound.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct ImpairConfig {
    /// What each client does to the datagrams it sends.
    pub send: ImpairSpec,
    /// What each client does to the datagrams it receives.
    pub recv: ImpairSpec,
    /// The run's seed.
    pub seed: u64,
    /// Held datagrams per client and direction at most.
    pub queue: usize,
}

impl Default for ImpairConfig {
    fn default() -> Self {
        ImpairConfig {
            send: ImpairSpec::default(),
            recv: ImpairSpec::default(),
            seed: 1,
            queue: DEFAULT_QUEUE,
        }
    }
}

impl ImpairConfig {
    /// The send and receive impairments of client number `client`.
    pub fn for_client(&self, client: u64) -> (Impairment, Impairment) {
        let (send, recv) = client_seeds(self.seed, client);
        (
            Impairment::new(self.send, send, self.queue),
            Impairment::new(self.recv, recv, self.queue),
        )
    }
}

/// SplitMix64: a small seeded generator whose sequence is fixed by its seed (and by nothing
/// else: no crate version can change a run's drop pattern).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `pct` percent.
    pub fn chance(&mut self, pct: f64) -> bool {
        pct > 0.0 && self.unit() * 100.0 < pct
    }
}

/// The seeds of one client's `(send, receive)` generators, derived from the run's seed so
/// that clients and directions get independent but repeatable patterns.
pub fn client_seeds(run_seed: u64, client: u64) -> (u64, u64) {
    let mut r = Rng::new(run_seed ^ client.wrapping_mul(0xA24B_AED4_963E_E407));
    (r.next_u64(), r.next_u64())
}

/// What the impairment did with a datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Deliver it now.
    Pass,
    /// Lost.
    Drop,
    /// Deliver it at this time.
    Hold(Instant),
}

/// What [`Impairment::admit`] did with a datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admit {
    /// The caller delivers it now.
    Now,
    /// Copied into the queue: [`Impairment::pop_due`] gives it back at its time.
    Held,
    /// Lost (random loss, or the queue was full).
    Dropped,
}

/// Counters of one direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImpairStats {
    /// Datagrams seen.
    pub datagrams: u64,
    /// Dropped by the random loss.
    pub dropped: u64,
    /// Held back (delay, jitter or reorder).
    pub delayed: u64,
    /// Of those, held back by the reorder share.
    pub reordered: u64,
    /// Dropped because the queue of held datagrams was full.
    pub overflow: u64,
}

impl ImpairStats {
    /// The change since `before` (field by field, never below zero).
    pub fn since(&self, before: &ImpairStats) -> ImpairStats {
        ImpairStats {
            datagrams: self.datagrams.saturating_sub(before.datagrams),
            dropped: self.dropped.saturating_sub(before.dropped),
            delayed: self.delayed.saturating_sub(before.delayed),
            reordered: self.reordered.saturating_sub(before.reordered),
            overflow: self.overflow.saturating_sub(before.overflow),
        }
    }
}

impl std::ops::AddAssign for ImpairStats {
    fn add_assign(&mut self, o: ImpairStats) {
        self.datagrams += o.datagrams;
        self.dropped += o.dropped;
        self.delayed += o.delayed;
        self.reordered += o.reordered;
        self.overflow += o.overflow;
    }
}

/// One slot of the queue: a copy of a held datagram.
#[derive(Debug)]
struct Slot {
    buf: Box<[u8; MAX_DATAGRAM]>,
    len: usize,
    addr: SocketAddr,
    since: Instant,
}

/// A held datagram given back, copied into the caller's buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Released {
    /// Its length.
    pub len: usize,
    /// Where it goes to or came from.
    pub addr: SocketAddr,
    /// When it was held (for a received datagram: when it reached the socket).
    pub since: Instant,
}

/// Held datagrams in release order (time, then arrival), at most `capacity` of them. Slots
/// are allocated when the queue first grows and reused after.
#[derive(Debug)]
pub struct DelayQueue {
    heap: BinaryHeap<Reverse<(Instant, u64, usize)>>,
    slots: Vec<Slot>,
    free: Vec<usize>,
    capacity: usize,
    order: u64,
}

impl DelayQueue {
    /// An empty queue holding at most `capacity` datagrams.
    pub fn new(capacity: usize) -> Self {
        DelayQueue {
            heap: BinaryHeap::new(),
            slots: Vec::new(),
            free: Vec::new(),
            capacity,
            order: 0,
        }
    }

    /// Holds a copy of `data` (to or from `addr`), taken at `since`, until `at`; false if the
    /// queue is full.
    pub fn push(&mut self, (since, at): (Instant, Instant), data: &[u8], addr: SocketAddr) -> bool {
        let i = match self.free.pop() {
            Some(i) => i,
            None if self.slots.len() < self.capacity => {
                self.slots.push(Slot {
                    buf: Box::new([0; MAX_DATAGRAM]),
                    len: 0,
                    addr,
                    since,
                });
                self.slots.len() - 1
            }
            None => return false,
        };
        let slot = &mut self.slots[i];
        let len = data.len().min(MAX_DATAGRAM);
        slot.buf[..len].copy_from_slice(&data[..len]);
        slot.len = len;
        slot.addr = addr;
        slot.since = since;
        self.order += 1;
        self.heap.push(Reverse((at, self.order, i)));
        true
    }

    /// Copies the earliest datagram due at `now` into `out`.
    pub fn pop_due(&mut self, now: Instant, out: &mut [u8]) -> Option<Released> {
        let &Reverse((at, _, i)) = self.heap.peek()?;
        if at > now {
            return None;
        }
        self.heap.pop();
        self.free.push(i);
        let slot = &self.slots[i];
        let len = slot.len.min(out.len());
        out[..len].copy_from_slice(&slot.buf[..len]);
        Some(Released {
            len,
            addr: slot.addr,
            since: slot.since,
        })
    }

    /// When the earliest held datagram is due.
    pub fn next_release(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _, _))| *at)
    }

    /// Datagrams held.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

/// One direction of one client: the spec, its generator, the held datagrams and counters.
#[derive(Debug)]
pub struct Impairment {
    spec: ImpairSpec,
    rng: Rng,
    queue: DelayQueue,
    /// What happened so far.
    pub stats: ImpairStats,
}

impl Impairment {
    /// An impairment of `spec` seeded with `seed`, holding at most `capacity` datagrams.
    pub fn new(spec: ImpairSpec, seed: u64, capacity: usize) -> Self {
        Impairment {
            spec,
            rng: Rng::new(seed),
            queue: DelayQueue::new(capacity),
            stats: ImpairStats::default(),
        }
    }

    /// Decides the fate of the next datagram at `now`. Draws from the generator in a fixed
    /// order (loss, then jitter, then reorder, each only if configured), so the same seed and
    /// the same datagram sequence give the same verdicts.
    pub fn verdict(&mut self, now: Instant) -> Verdict {
        let s = self.spec;
        self.stats.datagrams += 1;
        if s.is_none() {
            return Verdict::Pass;
        }
        if self.rng.chance(s.loss_pct) {
            self.stats.dropped += 1;
            return Verdict::Drop;
        }
        let mut delay = s.delay;
        if !s.jitter.is_zero() {
            let j = s.jitter.as_secs_f64() * (2.0 * self.rng.unit() - 1.0);
            delay = Duration::from_secs_f64((delay.as_secs_f64() + j).max(0.0));
        }
        if self.rng.chance(s.reorder_pct) {
            self.stats.reordered += 1;
            delay += s.reorder_delay;
        }
        if delay.is_zero() {
            Verdict::Pass
        } else {
            Verdict::Hold(now + delay)
        }
    }

    /// Applies [`Impairment::verdict`] to `data` (to or from `addr`): a held datagram is
    /// copied into the queue (or, the queue being full, counted as overflow and dropped).
    pub fn admit(&mut self, now: Instant, data: &[u8], addr: SocketAddr) -> Admit {
        match self.verdict(now) {
            Verdict::Pass => Admit::Now,
            Verdict::Drop => Admit::Dropped,
            Verdict::Hold(at) => {
                if self.queue.push((now, at), data, addr) {
                    self.stats.delayed += 1;
                    Admit::Held
                } else {
                    self.stats.overflow += 1;
                    Admit::Dropped
                }
            }
        }
    }

    /// The next held datagram due at `now`, copied into `out`.
    pub fn pop_due(&mut self, now: Instant, out: &mut [u8]) -> Option<Released> {
        self.queue.pop_due(now, out)
    }

    /// When the next held datagram is due.
    pub fn next_release(&self) -> Option<Instant> {
        self.queue.next_release()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr() -> SocketAddr {
        ([127, 0, 0, 1], 9).into()
    }

    /// An impairment of `spec` (seed 1) holding `capacity` datagrams, and a start time.
    fn impairment(spec: &str, capacity: usize) -> (Impairment, Instant) {
        let spec = ImpairSpec::parse(spec).unwrap();
        (Impairment::new(spec, 1, capacity), Instant::now())
    }

    #[test]
    fn parses_specs() {
        let s = ImpairSpec::parse("loss=5,delay=20ms,jitter=5ms").unwrap();
        assert_eq!(s.loss_pct, 5.0);
        assert_eq!(s.delay, Duration::from_millis(20));
        assert_eq!(s.jitter, Duration::from_millis(5));
        assert_eq!(s.reorder_delay, Duration::ZERO);
        let r = ImpairSpec::parse(" reorder=2% , reorder_delay=30ms").unwrap();
        assert_eq!(
            (r.reorder_pct, r.reorder_delay),
            (2.0, Duration::from_millis(30))
        );
        let r = ImpairSpec::parse("reorder=1").unwrap();
        assert_eq!(r.reorder_delay, Duration::from_millis(10));
        assert!(ImpairSpec::parse("none").unwrap().is_none());
        assert!(ImpairSpec::parse("").unwrap().is_none());
        assert!(!s.is_none());
        assert!(matches!(
            ImpairSpec::parse("loss"),
            Err(ImpairError::NotKeyValue(_))
        ));
        assert!(matches!(
            ImpairSpec::parse("lose=3"),
            Err(ImpairError::UnknownKey(_))
        ));
        assert!(matches!(
            ImpairSpec::parse("loss=101"),
            Err(ImpairError::BadValue { .. })
        ));
        assert!(ImpairSpec::parse("delay=fast").is_err());
    }

    /// The exact drop pattern repeats with the seed, differs with another seed, and its rate
    /// is near the asked one.
    #[test]
    fn seeded_loss_repeats() {
        let spec = ImpairSpec::parse("loss=10").unwrap();
        let now = Instant::now();
        let pattern = |seed| {
            let mut imp = Impairment::new(spec, seed, 8);
            (0..10_000)
                .map(|_| imp.verdict(now) == Verdict::Drop)
                .collect::<Vec<_>>()
        };
        let a = pattern(7);
        assert_eq!(a, pattern(7));
        assert_ne!(a, pattern(8));
        let drops = a.iter().filter(|&&d| d).count();
        assert!((800..1200).contains(&drops), "{drops} of 10000 at 10 %");
        // No impairment never draws and never drops.
        let mut none = Impairment::new(ImpairSpec::default(), 7, 8);
        assert!((0..1000).all(|_| none.verdict(now) == Verdict::Pass));
        assert_eq!(none.stats.datagrams, 1000);
    }

    /// A held datagram is released exactly at its time, not a nanosecond earlier, in the
    /// caller's buffer with its address.
    #[test]
    fn delay_releases_exactly_at_its_time() {
        let (mut imp, t0) = impairment("delay=20ms", 8);
        assert_eq!(imp.admit(t0, b"hello", addr()), Admit::Held);
        let at = t0 + Duration::from_millis(20);
        assert_eq!(imp.next_release(), Some(at));
        let mut out = [0u8; 64];
        assert_eq!(imp.pop_due(at - Duration::from_nanos(1), &mut out), None);
        let released = Released {
            len: 5,
            addr: addr(),
            since: t0,
        };
        assert_eq!(imp.pop_due(at, &mut out), Some(released));
        assert_eq!(&out[..5], b"hello");
        assert_eq!(imp.pop_due(at, &mut out), None);
        assert_eq!(imp.next_release(), None);
        assert_eq!(imp.stats.delayed, 1);
    }

    /// Jitter keeps every delay within `delay ± jitter` and lets datagrams overtake; the queue
    /// releases in time order whatever the arrival order.
    #[test]
    fn jitter_bounds_and_reorders() {
        let (mut imp, t0) = impairment("delay=20ms,jitter=5ms", 1024);
        for i in 0..200u16 {
            let now = t0 + Duration::from_millis(u64::from(i));
            assert_eq!(imp.admit(now, &i.to_be_bytes(), addr()), Admit::Held);
        }
        let mut out = [0u8; 2];
        let mut released = Vec::new();
        let mut last = t0;
        while let Some(at) = imp.next_release() {
            assert!(at >= last, "released in time order");
            last = at;
            let r = imp.pop_due(at, &mut out).unwrap();
            assert_eq!(r.len, 2);
            let i = u16::from_be_bytes(out);
            let sent = t0 + Duration::from_millis(u64::from(i));
            let d = at - sent;
            assert!(
                d >= Duration::from_millis(15) && d <= Duration::from_millis(25),
                "{d:?}"
            );
            released.push(i);
        }
        assert_eq!(released.len(), 200);
        assert!(released.windows(2).any(|w| w[1] < w[0]), "jitter reorders");
    }

    /// The reorder share holds datagrams back by exactly the extra delay, so later ones pass
    /// first; a full queue drops and counts.
    #[test]
    fn reorder_and_overflow() {
        let (mut imp, t0) = impairment("reorder=50,reorder_delay=10ms", 4);
        let mut passed = 0;
        for i in 0..100u8 {
            if imp.admit(t0, &[i], addr()) == Admit::Now {
                passed += 1;
            }
        }
        assert_eq!(imp.stats.reordered, 100 - passed);
        assert!(imp.stats.reordered > 4, "{:?}", imp.stats);
        assert_eq!(imp.stats.delayed, 4, "queue capacity");
        assert_eq!(imp.stats.overflow, imp.stats.reordered - 4);
        assert_eq!(imp.next_release(), Some(t0 + Duration::from_millis(10)));
        let mut out = [0u8; 1];
        assert_eq!(imp.pop_due(t0, &mut out), None);
        let held: Vec<u8> = std::iter::from_fn(|| {
            imp.pop_due(t0 + Duration::from_millis(10), &mut out)
                .map(|_| out[0])
        })
        .collect();
        assert_eq!(held.len(), 4);
        assert!(
            held.windows(2).all(|w| w[0] < w[1]),
            "same time: arrival order"
        );
        // Reused slots: the queue takes four more without growing.
        for i in 0..4 {
            assert!(imp.queue.push((t0, t0), &[i], addr()));
        }
        assert!(!imp.queue.push((t0, t0), &[9], addr()));
        assert_eq!(imp.queue.len(), 4);
    }
}
