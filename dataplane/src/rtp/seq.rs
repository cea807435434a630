//! Extension of 16-bit RTP sequence numbers to a monotonic 64-bit counter (RFC 3550 A.1).

/// Turns 16-bit sequence numbers into 64-bit extended ones, counting wraps (cycles).
///
/// Each number is placed at the distance of at most ±32767 from the highest extended number
/// seen so far (so late, reordered packets extend to smaller values and do not count a wrap,
/// like RFC 3550 A.1). The first packet is placed in cycle 1 (`65536 + seq`) so that a packet
/// reordered from before a wrap right at the start still gets a smaller, positive number;
/// the low 16 bits of the result always equal the input.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SeqExtender {
    max: Option<u64>,
}

impl SeqExtender {
    /// An extender that has seen no packet.
    pub fn new() -> Self {
        SeqExtender { max: None }
    }

    /// The extended value of `seq`; updates the highest value seen.
    pub fn extend(&mut self, seq: u16) -> u64 {
        let ext = match self.max {
            None => (1 << 16) | u64::from(seq),
            Some(max) => {
                let delta = seq.wrapping_sub(max as u16) as i16;
                // `max >= 65536` always, so `max + delta` (|delta| <= 32768) stays positive.
                max.wrapping_add_signed(i64::from(delta))
            }
        };
        if self.max.is_none_or(|m| ext > m) {
            self.max = Some(ext);
        }
        ext
    }

    /// The highest extended sequence number seen, if any.
    pub fn max(&self) -> Option<u64> {
        self.max
    }
}
