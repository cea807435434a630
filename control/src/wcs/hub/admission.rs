//! Admission limits of the hub: how many websocket connections one client address may hold,
//! how many streams one connection may publish and play, how many peers the node takes, and
//! how many wrong relay secrets one address may try. Each refusal is a WCS answer with an
//! `info` (a `fail` and a closed socket for a connection, FAILED for a stream), never a
//! silent drop.
//!
//! Sans-IO: counts and windows driven by the hub's inputs and their `now`. Owns the counters
//! only; the hub decides when to ask.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::config::Config;

pub use crate::wcs::info::{NODE_FULL, TOO_MANY_CONNECTIONS, TOO_MANY_STREAMS};
/// Wrong relay secrets an address may present per [`SECRET_WINDOW`] before it is refused
/// without a check until the window ends.
pub const SECRET_GUESSES: u32 = 5;
/// The window of [`SECRET_GUESSES`].
pub const SECRET_WINDOW: Duration = Duration::from_secs(60);
/// Addresses whose wrong guesses are remembered at once (the oldest window is forgotten
/// first beyond it).
const MAX_GUESSERS: usize = 4096;

/// The limits, from the configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// `max_connections_per_ip`.
    pub connections_per_ip: usize,
    /// `max_streams_per_connection`.
    pub streams_per_connection: usize,
    /// `max_peers`.
    pub peers: usize,
}

impl Limits {
    /// The limits `cfg` sets.
    pub fn from_config(cfg: &Config) -> Self {
        Self {
            connections_per_ip: cfg.max_connections_per_ip,
            streams_per_connection: cfg.max_streams_per_connection,
            peers: cfg.max_peers,
        }
    }
}

/// The counters behind the limits.
#[derive(Debug)]
pub(super) struct Admission {
    pub(super) limits: Limits,
    /// Open connections per client address.
    connections: HashMap<IpAddr, usize>,
    /// Wrong relay secrets per address: when the window began and how many.
    guesses: HashMap<IpAddr, (Instant, u32)>,
}

impl Admission {
    pub(super) fn new(limits: Limits) -> Self {
        Self {
            limits,
            connections: HashMap::new(),
            guesses: HashMap::new(),
        }
    }

    /// A connection from `ip` opens: true if it is within the limit (and then counted).
    pub(super) fn connection_opened(&mut self, ip: IpAddr) -> bool {
        let held = self.connections.entry(ip).or_insert(0);
        if *held >= self.limits.connections_per_ip {
            return false;
        }
        *held += 1;
        true
    }

    /// A counted connection from `ip` closed.
    pub(super) fn connection_closed(&mut self, ip: IpAddr) {
        if let Some(held) = self.connections.get_mut(&ip) {
            *held -= 1;
            if *held == 0 {
                self.connections.remove(&ip);
            }
        }
    }

    /// Whether `ip` may present a relay secret at `now` (not locked out by wrong guesses).
    pub(super) fn may_guess(&mut self, ip: IpAddr, now: Instant) -> bool {
        match self.guesses.get(&ip) {
            Some(&(since, _)) if now.saturating_duration_since(since) >= SECRET_WINDOW => {
                self.guesses.remove(&ip);
                true
            }
            Some(&(_, n)) => n < SECRET_GUESSES,
            None => true,
        }
    }

    /// `ip` presented a wrong relay secret at `now`.
    pub(super) fn wrong_guess(&mut self, ip: IpAddr, now: Instant) {
        if self.guesses.len() >= MAX_GUESSERS && !self.guesses.contains_key(&ip) {
            // Forget windows that are over, else the oldest one.
            self.guesses
                .retain(|_, (since, _)| now.saturating_duration_since(*since) < SECRET_WINDOW);
            if self.guesses.len() >= MAX_GUESSERS {
                if let Some(oldest) = self
                    .guesses
                    .iter()
                    .min_by_key(|(_, (s, _))| *s)
                    .map(|(ip, _)| *ip)
                {
                    self.guesses.remove(&oldest);
                }
            }
        }
        let entry = self.guesses.entry(ip).or_insert((now, 0));
        entry.1 += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            connections_per_ip: 2,
            streams_per_connection: 3,
            peers: 10,
        }
    }

    #[test]
    fn connections_are_counted_per_address() {
        let mut a = Admission::new(limits());
        let (x, y): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        assert!(a.connection_opened(x));
        assert!(a.connection_opened(x));
        assert!(!a.connection_opened(x), "the third from one address");
        assert!(a.connection_opened(y), "another address is not affected");
        a.connection_closed(x);
        assert!(a.connection_opened(x), "a closed one frees a place");
        a.connection_closed(x);
        a.connection_closed(x);
        a.connection_closed(y);
        assert!(
            a.connections.is_empty(),
            "nothing kept for addresses with none"
        );
    }

    #[test]
    fn wrong_secrets_lock_an_address_out_for_the_window() {
        let mut a = Admission::new(limits());
        let ip: IpAddr = "192.0.2.9".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..SECRET_GUESSES {
            assert!(a.may_guess(ip, t0));
            a.wrong_guess(ip, t0);
        }
        assert!(!a.may_guess(ip, t0 + Duration::from_secs(1)));
        assert!(a.may_guess("192.0.2.10".parse().unwrap(), t0));
        assert!(a.may_guess(ip, t0 + SECRET_WINDOW), "the window ends");
    }

    #[test]
    fn guessers_are_bounded() {
        let mut a = Admission::new(limits());
        let t0 = Instant::now();
        for i in 0..(MAX_GUESSERS as u32 + 100) {
            let ip = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            a.wrong_guess(ip, t0 + Duration::from_millis(u64::from(i)));
        }
        assert!(a.guesses.len() <= MAX_GUESSERS);
    }
}
