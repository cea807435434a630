//! The targets' clock: one base instant taken once per process, advanced by what the input says.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The instant every run starts at.
pub(crate) fn base() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

/// Steps from 0 to 31 s, so a 3-bit field reaches every timer of the protocols (ICE consent is
/// 30 s, DTLS retransmission starts at 1 s, TWCC feedback is every 100 ms).
pub(crate) fn step(code: u8) -> Duration {
    const STEPS_MS: [u64; 8] = [0, 10, 50, 200, 1_000, 2_500, 10_000, 31_000];
    Duration::from_millis(STEPS_MS[usize::from(code & 7)])
}
