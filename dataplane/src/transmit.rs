//! The vocabulary every sans-IO machine of the data plane shares for its output: a
//! [`Transmit`] (where a datagram written into the caller's buffer goes, and how long it is)
//! and [`earliest`], which combines the deadlines of composed machines.
//!
//! Owns no state; reads no clock, touches no socket.

#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::time::Instant;

/// A datagram to send: `len` bytes written at the start of the caller's buffer, to `dst`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// Destination address.
    pub dst: SocketAddr,
    /// Number of bytes written into the buffer given to `poll_transmit`.
    pub len: usize,
}

/// The earlier of two optional deadlines.
#[must_use]
pub fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn earliest_takes_the_smaller_or_the_only_one() {
        let t = Instant::now();
        let later = t + Duration::from_secs(1);
        assert_eq!(earliest(Some(t), Some(later)), Some(t));
        assert_eq!(earliest(Some(later), Some(t)), Some(t));
        assert_eq!(earliest(None, Some(later)), Some(later));
        assert_eq!(earliest(Some(t), None), Some(t));
        assert_eq!(earliest(None, None), None);
    }
}
