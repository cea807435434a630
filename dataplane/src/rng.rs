//! The data plane's one pseudo-random generator: splitmix64, seeded by whoever owns the
//! machine (randomly in production, fixed in tests and the simulated network), so that
//! everything built on it is repeatable. Not for secrets: keys come from DTLS.

#![forbid(unsafe_code)]

use std::time::Duration;

/// splitmix64: a tiny deterministic generator (transaction ids, consent jitter, SSRCs), seeded
/// by the owner so that tests are repeatable.
#[derive(Clone, Debug)]
pub(crate) struct SplitMix64(pub(crate) u64);

impl SplitMix64 {
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub(crate) fn transaction_id(&mut self) -> [u8; 12] {
        let a = self.next_u64().to_be_bytes();
        let b = self.next_u64().to_be_bytes();
        let mut id = [0u8; 12];
        id[..8].copy_from_slice(&a);
        id[8..].copy_from_slice(&b[..4]);
        id
    }

    /// `base` scaled by a factor uniform in [0.8, 1.2).
    pub(crate) fn jitter(&mut self, base: Duration) -> Duration {
        base.mul_f64(0.8 + 0.4 * self.unit())
    }

    /// A number uniform in [0, 1).
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}
