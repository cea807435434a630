//! A fixed-size log-linear histogram of `u64` values (HDR-like: 64 sub-buckets per power of
//! two, so a reported percentile is within 1/64 ≈ 1.6 % of the true value).
//!
//! Owns: recording and percentile queries. Must not allocate per record: the bucket array is
//! allocated once.

/// Values below this are recorded exactly.
const LINEAR: u64 = 128;
/// Sub-buckets per power of two above [`LINEAR`].
const SUB: u64 = 64;
/// Bucket count covering the whole `u64` range.
const BUCKETS: usize = (LINEAR + 57 * SUB) as usize;

/// Log-linear histogram with exact count, min and max.
#[derive(Clone)]
pub struct Histogram {
    counts: Box<[u64]>,
    total: u64,
    min: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Histogram")
            .field("count", &self.total)
            .field("min", &self.min())
            .field("max", &self.max)
            .finish()
    }
}

fn index(v: u64) -> usize {
    if v < LINEAR {
        return v as usize;
    }
    let msb = 63 - u64::from(v.leading_zeros());
    let shift = msb - 6;
    let top = v >> shift;
    (LINEAR + (shift - 1) * SUB + (top - SUB)) as usize
}

/// The highest value that falls into bucket `i`.
fn bucket_high(i: usize) -> u64 {
    let i = i as u64;
    if i < LINEAR {
        return i;
    }
    let k = i - LINEAR;
    let shift = k / SUB + 1;
    let top = k % SUB + SUB;
    let low = top << shift;
    low.saturating_add((1u64 << shift) - 1)
}

impl Histogram {
    /// An empty histogram.
    pub fn new() -> Self {
        Histogram {
            counts: vec![0; BUCKETS].into_boxed_slice(),
            total: 0,
            min: u64::MAX,
            max: 0,
        }
    }

    /// Records one value.
    pub fn record(&mut self, v: u64) {
        self.counts[index(v)] += 1;
        self.total += 1;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }

    /// Adds every value of `other`.
    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a += b;
        }
        self.total += other.total;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    /// Forgets every value.
    pub fn clear(&mut self) {
        self.counts.fill(0);
        self.total = 0;
        self.min = u64::MAX;
        self.max = 0;
    }

    /// Number of recorded values.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// The largest recorded value (0 when empty).
    pub fn max(&self) -> u64 {
        self.max
    }

    /// The smallest recorded value (0 when empty).
    pub fn min(&self) -> u64 {
        if self.total == 0 {
            0
        } else {
            self.min
        }
    }

    /// The value at quantile `q` (0.0..=1.0): the highest value of the bucket holding the
    /// `ceil(q * count)`-th smallest value, clamped to the exact min/max. 0 when empty.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return bucket_high(i).clamp(self.min, self.max);
            }
        }
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_monotonic() {
        let mut last = 0;
        for v in (0..100_000u64).chain([u64::MAX / 3, u64::MAX - 1, u64::MAX]) {
            let i = index(v);
            assert!(i < BUCKETS, "{v} -> {i}");
            assert!(i >= last || v > 100_000, "{v}");
            assert!(
                bucket_high(i) >= v,
                "{v} above its bucket {}",
                bucket_high(i)
            );
            last = i;
        }
        assert_eq!(index(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn percentiles_within_relative_error() {
        let mut h = Histogram::new();
        for v in 1..=10_000u64 {
            h.record(v * 1000);
        }
        assert_eq!(h.count(), 10_000);
        let p50 = h.quantile(0.5) as f64;
        let p99 = h.quantile(0.99) as f64;
        assert!((p50 - 5_000_000.0).abs() / 5_000_000.0 < 0.02, "{p50}");
        assert!((p99 - 9_900_000.0).abs() / 9_900_000.0 < 0.02, "{p99}");
        assert_eq!(h.quantile(1.0), 10_000_000);
        assert_eq!(h.min(), 1000);
    }

    #[test]
    fn empty_merge_and_clear() {
        let mut a = Histogram::new();
        assert_eq!(a.quantile(0.5), 0);
        assert_eq!(a.min(), 0);
        let mut b = Histogram::new();
        b.record(7);
        b.record(300);
        a.merge(&b);
        assert_eq!(a.count(), 2);
        assert_eq!(a.quantile(0.5), 7);
        assert_eq!(a.max(), 300);
        a.clear();
        assert_eq!(a.count(), 0);
        assert_eq!(a.max(), 0);
    }
}
