//! Sequence numbers and timestamps owned by the SFU, per outbound SSRC: a viewer's stream
//! starts at a random sequence number and timestamp and stays continuous whatever the
//! publisher does — packets held back before the viewer's first keyframe leave no gap, a
//! publisher that restarts or jumps its sequence numbers does not make the viewer's jump (nor
//! repeat an SRTP packet index), and a packet really lost upstream still leaves its gap so the
//! viewer can ask for it.
//!
//! The mapping is an offset (inbound − outbound), changed only at a discontinuity. Pure
//! arithmetic: no clock, no allocation.

#![forbid(unsafe_code)]

/// A forward jump of the publisher's sequence numbers larger than this is a discontinuity
/// (a restart or a switch), not loss: the viewer's numbers go on from the last one sent.
pub const MAX_SEQ_JUMP: u16 = 3000;

/// The mapping of one inbound stream onto one outbound SSRC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeqRewriter {
    first_seq: u16,
    first_ts: u32,
    state: Option<Mapping>,
    /// The next packet comes from another source (a simulcast layer switch): map it as a
    /// discontinuity whatever its numbers.
    switching: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Mapping {
    /// Inbound minus outbound sequence number.
    seq_offset: u16,
    /// Inbound minus outbound timestamp.
    ts_offset: u32,
    /// The highest inbound sequence number mapped (wrap-aware) and what it became.
    max_in: u16,
    max_out: u16,
    /// The outbound timestamp of the highest sequence number.
    max_out_ts: u32,
    /// The first outbound number of this mapping after a discontinuity: numbers before it
    /// came from another mapping and cannot be traced back.
    since_out: Option<u16>,
}

impl SeqRewriter {
    /// A rewriter whose first packet goes out as `first_seq` / `first_ts`.
    pub fn new(first_seq: u16, first_ts: u32) -> Self {
        Self {
            first_seq,
            first_ts,
            state: None,
            switching: false,
        }
    }

    /// The next packet mapped starts another source's numbering (a simulcast layer switch):
    /// it goes out one after the last number sent, `frame_ticks` (of [`Self::map`]) later.
    pub fn switch_source(&mut self) {
        self.switching = self.state.is_some();
    }

    /// The last outbound sequence number and timestamp sent, if any.
    pub fn last_out(&self) -> Option<(u16, u32)> {
        self.state.map(|m| (m.max_out, m.max_out_ts))
    }

    /// Whether a packet was mapped yet.
    pub fn is_started(&self) -> bool {
        self.state.is_some()
    }

    /// The outbound sequence number and timestamp of a packet about to be forwarded, with
    /// inbound `seq` and `ts`. `frame_ticks` is the timestamp step put between the last packet
    /// and the first one after a discontinuity (one frame or audio packet).
    pub fn map(&mut self, seq: u16, ts: u32, frame_ticks: u32) -> (u16, u32) {
        let Some(m) = &mut self.state else {
            self.state = Some(Mapping {
                seq_offset: seq.wrapping_sub(self.first_seq),
                ts_offset: ts.wrapping_sub(self.first_ts),
                max_in: seq,
                max_out: self.first_seq,
                max_out_ts: self.first_ts,
                since_out: None,
            });
            return (self.first_seq, self.first_ts);
        };
        let delta = seq.wrapping_sub(m.max_in) as i16;
        // Taken whatever the jump says: a switch flag left standing would make the next
        // packet a discontinuity too, splitting the new layer's first frame in two.
        let switching = std::mem::take(&mut self.switching);
        if switching || delta.unsigned_abs() > MAX_SEQ_JUMP {
            // A restart or a jump: go on from the last number sent, one frame later.
            let out = m.max_out.wrapping_add(1);
            let out_ts = m.max_out_ts.wrapping_add(frame_ticks);
            *m = Mapping {
                seq_offset: seq.wrapping_sub(out),
                ts_offset: ts.wrapping_sub(out_ts),
                max_in: seq,
                max_out: out,
                max_out_ts: out_ts,
                since_out: Some(out),
            };
            return (out, out_ts);
        }
        let out = seq.wrapping_sub(m.seq_offset);
        let out_ts = ts.wrapping_sub(m.ts_offset);
        if delta > 0 {
            m.max_in = seq;
            m.max_out = out;
            m.max_out_ts = out_ts;
        }
        (out, out_ts)
    }

    /// The outbound sequence number and timestamp inbound `seq`/`ts` has under the current
    /// mapping (a retransmission), without changing it; `None` before the first packet.
    pub fn mapped(&self, seq: u16, ts: u32) -> Option<(u16, u32)> {
        let m = self.state?;
        Some((seq.wrapping_sub(m.seq_offset), ts.wrapping_sub(m.ts_offset)))
    }

    /// The inbound sequence number outbound `seq` came from under the current mapping (to
    /// answer a NACK); `None` before the first packet.
    pub fn inbound_seq(&self, seq: u16) -> Option<u16> {
        let m = self.state?;
        let before = m
            .since_out
            .is_some_and(|s| (seq.wrapping_sub(s) as i16) < 0);
        (!before).then(|| seq.wrapping_add(m.seq_offset))
    }

    /// The outbound timestamp of inbound timestamp `ts` (a sender report's); `None` before
    /// the first packet.
    pub fn outbound_ts(&self, ts: u32) -> Option<u32> {
        self.state.map(|m| ts.wrapping_sub(m.ts_offset))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(r: &mut SeqRewriter, packets: &[(u16, u32)]) -> Vec<(u16, u32)> {
        packets.iter().map(|&(s, t)| r.map(s, t, 3000)).collect()
    }

    #[test]
    fn starts_at_its_own_numbers_and_keeps_real_gaps() {
        let mut r = SeqRewriter::new(100, 5000);
        assert!(!r.is_started());
        // Held-back packets before 1000 were never mapped: no gap for them. 1002 was lost
        // upstream: its gap stays.
        let got = run(&mut r, &[(1000, 90_000), (1001, 93_000), (1003, 99_000)]);
        assert_eq!(got, [(100, 5000), (101, 8000), (103, 14_000)]);
        assert_eq!(
            r.inbound_seq(102),
            Some(1002),
            "a NACK for the gap finds the packet"
        );
        assert_eq!(r.mapped(1002, 96_000), Some((102, 11_000)));
        assert_eq!(r.outbound_ts(90_000), Some(5000));
    }

    #[test]
    fn reordered_and_late_packets_keep_their_place() {
        let mut r = SeqRewriter::new(7, 0);
        let got = run(&mut r, &[(10, 0), (12, 6000), (11, 3000), (13, 9000)]);
        assert_eq!(got, [(7, 0), (9, 6000), (8, 3000), (10, 9000)]);
    }

    #[test]
    fn wraps_on_both_sides() {
        let mut r = SeqRewriter::new(65_534, u32::MAX - 1000);
        let got = run(&mut r, &[(65_535, 0), (0, 3000), (1, 6000)]);
        assert_eq!(got, [(65_534, u32::MAX - 1000), (65_535, 1999), (0, 4999)]);
    }

    #[test]
    fn a_publisher_restart_continues_the_numbers_without_a_jump_or_a_repeat() {
        let mut r = SeqRewriter::new(500, 1_000_000);
        run(&mut r, &[(40_000, 10), (40_001, 3010)]);
        // The publisher starts again at a random place, backwards and forwards.
        let got = run(
            &mut r,
            &[(20, 777), (21, 3777), (30_000, 9), (30_001, 3009)],
        );
        assert_eq!(
            got,
            [
                (502, 1_006_000),
                (503, 1_009_000),
                (504, 1_012_000),
                (505, 1_015_000)
            ]
        );
        assert_eq!(r.inbound_seq(505), Some(30_001));
    }

    #[test]
    fn a_layer_switch_continues_the_numbers_and_old_numbers_no_longer_trace_back() {
        let mut r = SeqRewriter::new(500, 1_000_000);
        run(&mut r, &[(100, 7000), (101, 10_000)]);
        // The other layer's numbers are close to the old ones: still a discontinuity.
        r.switch_source();
        let got = run(&mut r, &[(103, 55), (104, 3055)]);
        assert_eq!(got, [(502, 1_006_000), (503, 1_009_000)]);
        assert_eq!(r.last_out(), Some((503, 1_009_000)));
        assert_eq!(r.inbound_seq(503), Some(104));
        assert_eq!(r.inbound_seq(501), None, "sent from the old layer");
        // The other layer's numbers far from the old ones (a jump as well as a switch): the
        // frame that starts the new layer keeps one timestamp across its packets, and the
        // packets after it follow on (a switch flag left standing split such a keyframe in
        // two: the viewer could not decode it and froze until it asked for another).
        r.switch_source();
        let got = run(
            &mut r,
            &[(40_000, 90_000), (40_001, 90_000), (40_002, 93_000)],
        );
        assert_eq!(got, [(504, 1_012_000), (505, 1_012_000), (506, 1_015_000)]);
        // Before the first packet a switch changes nothing.
        let mut fresh = SeqRewriter::new(9, 90);
        fresh.switch_source();
        assert_eq!(run(&mut fresh, &[(7, 1), (8, 3001)]), [(9, 90), (10, 3090)]);
    }
}
