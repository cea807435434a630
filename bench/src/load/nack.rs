//! A subscriber's repair of one received video stream, as a browser does it: sequence gaps
//! become generic NACKs (RFC 4585 §6.2.1) at once, missing packets are asked for again every
//! [`NackConfig::interval`] up to [`NackConfig::max_retries`] times or until
//! [`NackConfig::deadline`], then given up ([`NackGenerator`]); a retransmission with the
//! original SSRC and sequence number fills its gap, and an RTX packet (RFC 4588) is turned
//! back into the original ([`unwrap_rtx`]). Like a browser using its RTT, it waits at least the
//! measured repair time (NACK to retransmission, smoothed, from packets asked for once) before
//! asking again, so a retransmission on its way is not asked for twice.
//!
//! Owns: the missing list and its timers, the `(PID, BLP)` packing and RTX unwrapping. Must
//! not touch sockets, SRTP or the clock: `now` comes in, NACK pairs go out into the caller's
//! array.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use dataplane::rtp::SeqExtender;

use super::units::serialize_ms as ms;

/// Most `(PID, BLP)` pairs in one NACK (each covers up to 17 packets).
pub const MAX_PAIRS: usize = 32;
/// Most packets missing at once; older ones are given up when more go missing.
const MAX_MISSING: usize = 1000;

/// When a subscriber asks again and when it gives up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct NackConfig {
    /// Between two requests of the same packet at least (the wait is 1.25 × the measured
    /// repair time when that is longer).
    #[serde(serialize_with = "ms")]
    pub interval: Duration,
    /// Requests per packet at most.
    pub max_retries: u32,
    /// A packet missing this long is lost for good.
    #[serde(serialize_with = "ms")]
    pub deadline: Duration,
}

impl Default for NackConfig {
    fn default() -> Self {
        NackConfig {
            interval: Duration::from_millis(50),
            max_retries: 10,
            deadline: Duration::from_secs(1),
        }
    }
}

/// What an arriving packet was to the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arrival {
    /// Beyond everything seen before (the first packet too).
    New,
    /// It filled a gap; `nacked` if it reached the client after the first request for it
    /// went out (so it may be a retransmission; before, it was surely the original, late).
    Filled {
        /// The packet arrived after it had been requested.
        nacked: bool,
    },
    /// At or below the highest seen and not missing: a duplicate, or a packet already given up.
    Old,
}

/// Counters of one stream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NackStats {
    /// NACK packets built.
    pub nacks: u64,
    /// Sequence numbers requested (each request of each packet counts).
    pub requested: u64,
    /// Packets given up (lost for good).
    pub given_up: u64,
}

#[derive(Clone, Copy, Debug)]
struct Missing {
    seq: u64,
    since: Instant,
    next: Instant,
    sent: u32,
    first_request: Option<Instant>,
}

/// What one [`NackGenerator::poll`] produced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NackPoll {
    /// `(PID, BLP)` pairs written.
    pub pairs: usize,
    /// Packets they request.
    pub requested: usize,
    /// Packets given up by this call.
    pub given_up: usize,
}

/// The missing packets of one stream, by extended sequence number.
#[derive(Clone, Debug, Default)]
pub struct NackGenerator {
    cfg: NackConfig,
    /// Extends the 16-bit sequence numbers; its maximum is the highest one seen.
    ext: SeqExtender,
    /// The extended number of the last packet accounted.
    last: u64,
    missing: VecDeque<Missing>,
    /// Smoothed time from a packet's only request to its repair.
    repair_time: Option<Duration>,
    /// What it did.
    pub stats: NackStats,
}

impl NackGenerator {
    /// A generator with `cfg`.
    pub fn new(cfg: NackConfig) -> Self {
        NackGenerator {
            cfg,
            ..NackGenerator::default()
        }
    }

    /// The extended sequence number of the last packet accounted.
    pub fn last_extended(&self) -> u64 {
        self.last
    }

    /// Accounts a packet with sequence number `seq` handled at `now` (which is also when it
    /// reached the client); a gap it opens is requested by the next [`NackGenerator::poll`].
    /// Gap seqs given up because too many are missing are passed to `gave_up`.
    pub fn on_packet(&mut self, seq: u16, now: Instant, gave_up: impl FnMut(u64)) -> Arrival {
        self.on_packet_arrived(seq, now, now, gave_up)
    }

    /// [`NackGenerator::on_packet`] of a packet that reached the client at `arrived` (before
    /// `now` if the client's own impairment held it).
    pub fn on_packet_arrived(
        &mut self,
        seq: u16,
        now: Instant,
        arrived: Instant,
        mut gave_up: impl FnMut(u64),
    ) -> Arrival {
        let prev = self.ext.max();
        let s = self.ext.extend(seq);
        self.last = s;
        let Some(max) = prev else {
            return Arrival::New;
        };
        if s > max {
            for m in max + 1..s {
                if self.missing.len() == MAX_MISSING {
                    if let Some(old) = self.missing.pop_front() {
                        self.stats.given_up += 1;
                        gave_up(old.seq);
                    }
                }
                self.missing.push_back(Missing {
                    seq: m,
                    since: now,
                    next: now,
                    sent: 0,
                    first_request: None,
                });
            }
            return Arrival::New;
        }
        match self.missing.binary_search_by_key(&s, |m| m.seq) {
            Ok(i) => {
                let m = self.missing.remove(i).expect("index from binary_search");
                let nacked = m.first_request.filter(|&t| arrived > t);
                if let (Some(t), 1) = (nacked, m.sent) {
                    // Asked once: the sample is unambiguous (Karn).
                    let sample = arrived - t;
                    self.repair_time = Some(match self.repair_time {
                        Some(rt) => (rt * 7 + sample) / 8,
                        None => sample,
                    });
                }
                Arrival::Filled {
                    nacked: nacked.is_some(),
                }
            }
            Err(_) => Arrival::Old,
        }
    }

    /// Gives up what is past its deadline or out of retries (passing each to `gave_up`), then
    /// writes the requests due at `now` into `pairs`. Requests that do not fit stay due.
    pub fn poll(
        &mut self,
        now: Instant,
        pairs: &mut [(u16, u16)],
        mut gave_up: impl FnMut(u64),
    ) -> NackPoll {
        let mut out = NackPoll::default();
        let cfg = self.cfg;
        self.missing.retain(|m| {
            let expired =
                now >= m.since + cfg.deadline || (m.sent >= cfg.max_retries && now >= m.next);
            if expired {
                out.given_up += 1;
                gave_up(m.seq);
            }
            !expired
        });
        self.stats.given_up += out.given_up as u64;
        let retry = self.retry_interval();
        let mut current: Option<(u64, u16)> = None;
        for m in self.missing.iter_mut() {
            if m.next > now || m.sent >= cfg.max_retries {
                continue;
            }
            match current {
                Some((pid, ref mut blp)) if m.seq - pid <= 16 => {
                    *blp |= 1 << (m.seq - pid - 1);
                }
                _ => {
                    if let Some((pid, blp)) = current {
                        pairs[out.pairs] = (pid as u16, blp);
                        out.pairs += 1;
                    }
                    if out.pairs == pairs.len() {
                        current = None;
                        break;
                    }
                    current = Some((m.seq, 0));
                }
            }
            m.sent += 1;
            m.first_request.get_or_insert(now);
            m.next = now + retry;
            out.requested += 1;
        }
        if let Some((pid, blp)) = current {
            pairs[out.pairs] = (pid as u16, blp);
            out.pairs += 1;
        }
        if out.pairs > 0 {
            self.stats.nacks += 1;
            self.stats.requested += out.requested as u64;
        }
        out
    }

    /// The wait between two requests of a packet: the configured interval, or 1.25 × the
    /// measured repair time if longer.
    pub fn retry_interval(&self) -> Duration {
        let measured = self.repair_time.map_or(Duration::ZERO, |rt| rt + rt / 4);
        self.cfg.interval.max(measured)
    }

    /// When [`NackGenerator::poll`] next has something to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.missing
            .iter()
            .map(|m| (m.since + self.cfg.deadline).min(m.next))
            .min()
    }

    /// Packets missing now (asked for, not yet given up).
    pub fn missing(&self) -> usize {
        self.missing.len()
    }
}

/// The RTX stream (RFC 4588) negotiated for a video track.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RtxTrack {
    /// The RTX payload type.
    pub pt: u8,
    /// The RTX SSRC, if the answer announced it (`a=ssrc-group:FID`); `None`: any SSRC with
    /// the RTX payload type.
    pub ssrc: Option<u32>,
    /// The payload type of the original (`apt=`).
    pub apt: u8,
}

/// Turns the decrypted RTX packet in `buf[..len]` (payload type and SSRC of `rtx`) back into
/// the original in place: the original sequence number (the first two payload bytes) goes back
/// into the header, the payload type becomes `rtx.apt` (marker kept) and the SSRC
/// `media_ssrc`; returns the new length. `None` if the packet is not of `rtx` or carries no
/// OSN (padding-only probes).
pub fn unwrap_rtx(buf: &mut [u8], len: usize, rtx: RtxTrack, media_ssrc: u32) -> Option<usize> {
    let p = buf.get(..len)?;
    if p.len() < 12 || p[0] >> 6 != 2 {
        return None;
    }
    let ssrc = u32::from_be_bytes([p[8], p[9], p[10], p[11]]);
    if p[1] & 0x7f != rtx.pt || rtx.ssrc.is_some_and(|s| s != ssrc) {
        return None;
    }
    let mut header = 12 + 4 * usize::from(p[0] & 0x0f);
    if p[0] & 0x10 != 0 {
        let ext = p.get(header..header + 4)?;
        header += 4 + 4 * usize::from(u16::from_be_bytes([ext[2], ext[3]]));
    }
    let padding = if p[0] & 0x20 != 0 {
        usize::from(*p.last()?)
    } else {
        0
    };
    if len < header + padding + 2 {
        return None;
    }
    let osn = [p[header], p[header + 1]];
    buf.copy_within(header + 2..len, header);
    buf[1] = (buf[1] & 0x80) | (rtx.apt & 0x7f);
    buf[2..4].copy_from_slice(&osn);
    buf[8..12].copy_from_slice(&media_ssrc.to_be_bytes());
    Some(len - 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// A default generator that got `seqs` at `t0`.
    fn fed(seqs: &[u16], t0: Instant) -> NackGenerator {
        let mut g = NackGenerator::new(NackConfig::default());
        for &s in seqs {
            g.on_packet(s, t0, |_| panic!("nothing given up"));
        }
        g
    }

    fn lost(pairs: &[(u16, u16)]) -> Vec<u16> {
        let mut v = Vec::new();
        for &(pid, blp) in pairs {
            v.push(pid);
            for i in 0..16 {
                if blp & (1 << i) != 0 {
                    v.push(pid.wrapping_add(i + 1));
                }
            }
        }
        v
    }

    /// A gap across the 16-bit wrap is requested at once in one pair, and the NACK is a valid
    /// RTCP packet listing exactly those sequence numbers.
    #[test]
    fn gap_across_wrap_is_nacked_at_once() {
        let t0 = Instant::now();
        let mut g = NackGenerator::new(NackConfig::default());
        let none = |_| panic!("nothing given up");
        assert_eq!(g.on_packet(65533, t0, none), Arrival::New);
        assert_eq!(g.on_packet(1, t0, none), Arrival::New); // 65534, 65535, 0 missing
        let mut pairs = [(0, 0); MAX_PAIRS];
        let p = g.poll(t0, &mut pairs, none);
        assert_eq!((p.pairs, p.requested, p.given_up), (1, 3, 0));
        assert_eq!(lost(&pairs[..1]), vec![65534, 65535, 0]);
        let mut rtcp = [0u8; 64];
        let n = dataplane::rtcp::write_nack(&mut rtcp, 1, 2, &pairs[..p.pairs]).unwrap();
        let parsed: Vec<u16> = match dataplane::rtcp::RtcpCompound::iter(&rtcp[..n]).next() {
            Some(Ok(dataplane::rtcp::RtcpPacket::Nack(nack))) => nack.lost().collect(),
            other => panic!("{other:?}"),
        };
        assert_eq!(parsed, vec![65534, 65535, 0]);
        // Not again before the interval.
        assert_eq!(g.poll(t0 + ms(49), &mut pairs, none).pairs, 0);
        assert_eq!(g.poll_timeout(), Some(t0 + ms(50)));
        // A retransmission fills its gap; a duplicate is old.
        assert_eq!(
            g.on_packet(65535, t0 + ms(1), none),
            Arrival::Filled { nacked: true }
        );
        // Held by the client's own impairment since before the NACK: the late original.
        let mut late = g.clone();
        assert_eq!(
            late.on_packet_arrived(65534, t0 + ms(5), t0, none),
            Arrival::Filled { nacked: false }
        );
        assert_eq!(g.on_packet(65535, t0, none), Arrival::Old);
        assert_eq!(g.on_packet(1, t0, none), Arrival::Old);
        assert_eq!(g.missing(), 2);
        let p = g.poll(t0 + ms(50), &mut pairs, none);
        assert_eq!(lost(&pairs[..p.pairs]), vec![65534, 0]);
        assert_eq!(g.stats.requested, 5);
        assert_eq!(g.stats.nacks, 2);
    }

    /// Packets further apart than 16 go into separate pairs; a reordered packet that arrives
    /// before the NACK went out was not asked for.
    #[test]
    fn pairs_split_and_reordering() {
        let t0 = Instant::now();
        let mut g = fed(&[100, 102, 130], t0);
        let none = |_| panic!("nothing given up");
        assert_eq!(
            g.on_packet(103, t0, none),
            Arrival::Filled { nacked: false }
        );
        let mut pairs = [(0, 0); MAX_PAIRS];
        let p = g.poll(t0, &mut pairs, none);
        let want: Vec<u16> = std::iter::once(101).chain(104..130).collect();
        assert_eq!(lost(&pairs[..p.pairs]), want);
        assert_eq!(p.pairs, 2, "101..=117, 118..=129");
        assert_eq!(pairs[0], (101, 0xfffc), "101, then 104..=117");
        // Only one pair fits: the rest stays due.
        let mut g2 = g.clone();
        let mut one = [(0, 0); 1];
        let p = g2.poll(t0 + ms(50), &mut one, none);
        assert_eq!(p.pairs, 1);
        assert_eq!(g2.poll(t0 + ms(50), &mut one, none).pairs, 1, "the rest");
    }

    /// Retries every interval up to the limit, then the packet is given up; the deadline gives
    /// up earlier when it comes first.
    #[test]
    fn retries_then_gives_up() {
        let t0 = Instant::now();
        let cfg = NackConfig {
            interval: ms(50),
            max_retries: 3,
            deadline: ms(1000),
        };
        let mut g = NackGenerator::new(cfg);
        let mut given = Vec::new();
        g.on_packet(10, t0, |_| {});
        g.on_packet(12, t0, |_| {});
        let mut pairs = [(0, 0); MAX_PAIRS];
        let sends: Vec<usize> = (0..5)
            .map(|i| {
                g.poll(t0 + ms(50 * i), &mut pairs, |s| given.push(s))
                    .requested
            })
            .collect();
        assert_eq!(sends, vec![1, 1, 1, 0, 0]);
        assert_eq!(
            given.len(),
            1,
            "given up after the third request's interval"
        );
        assert_eq!(given[0] & 0xffff, 11);
        assert_eq!(g.stats.given_up, 1);
        assert_eq!(g.missing(), 0);
        assert_eq!(g.poll_timeout(), None);
        // The deadline first.
        let mut g = NackGenerator::new(NackConfig {
            deadline: ms(120),
            ..cfg
        });
        g.on_packet(10, t0, |_| {});
        g.on_packet(12, t0, |_| {});
        assert_eq!(g.poll(t0, &mut pairs, |_| {}).requested, 1);
        assert_eq!(g.poll_timeout(), Some(t0 + ms(50)));
        assert_eq!(g.poll(t0 + ms(119), &mut pairs, |_| {}).given_up, 0);
        assert_eq!(g.poll(t0 + ms(120), &mut pairs, |_| {}).given_up, 1);
        // A late packet after giving up is old.
        assert_eq!(g.on_packet(11, t0, |_| {}), Arrival::Old);
    }

    /// A repair of a packet asked for once measures the repair time; retries then wait
    /// 1.25 × that when it is longer than the interval. Packets asked for twice do not count.
    #[test]
    fn retries_wait_for_the_measured_repair_time() {
        let t0 = Instant::now();
        let mut g = fed(&[10, 14], t0); // 11, 12, 13 missing
        let none = |_| panic!("nothing given up");
        let mut pairs = [(0, 0); MAX_PAIRS];
        assert_eq!(g.poll(t0, &mut pairs, none).requested, 3);
        assert_eq!(g.retry_interval(), ms(50));
        g.on_packet(11, t0 + ms(80), none);
        assert_eq!(g.retry_interval(), ms(100), "1.25 x 80 ms");
        assert_eq!(
            g.poll(t0 + ms(80), &mut pairs, none).requested,
            2,
            "due at 50 ms"
        );
        assert_eq!(g.poll_timeout(), Some(t0 + ms(180)));
        // 12 was asked twice: its repair time is not a sample.
        g.on_packet(12, t0 + ms(300), none);
        assert_eq!(g.retry_interval(), ms(100));
        // Smoothing: 7/8 of the old plus 1/8 of a new sample.
        g.on_packet(20, t0 + ms(300), none);
        g.poll(t0 + ms(300), &mut pairs, none);
        g.on_packet(15, t0 + ms(300) + ms(160), none);
        assert_eq!(g.retry_interval(), (ms(80) * 7 + ms(160)) / 8 * 5 / 4);
    }

    /// Too many missing at once: the oldest are given up.
    #[test]
    fn bounded_missing_list() {
        let t0 = Instant::now();
        let mut g = NackGenerator::new(NackConfig::default());
        let mut given = 0;
        g.on_packet(0, t0, |_| given += 1);
        g.on_packet(2000, t0, |_| given += 1);
        assert_eq!(given, 999);
        assert_eq!(g.missing(), MAX_MISSING);
    }

    fn rtx_packet(ext: bool, padding: u8) -> Vec<u8> {
        let mut p = vec![0x80 | if ext { 0x10 } else { 0 }, 0x80 | 97];
        p.extend_from_slice(&7u16.to_be_bytes()); // RTX seq
        p.extend_from_slice(&1234u32.to_be_bytes());
        p.extend_from_slice(&0xAAAA_AAAAu32.to_be_bytes()); // RTX SSRC
        if ext {
            p.extend_from_slice(&[0xBE, 0xDE, 0, 1, 0x21, 9, 9, 0]);
        }
        p.extend_from_slice(&0xFFFEu16.to_be_bytes()); // OSN
        p.extend_from_slice(b"payload");
        if padding > 0 {
            p[0] |= 0x20;
            p.extend(std::iter::repeat_n(0, usize::from(padding) - 1));
            p.push(padding);
        }
        p
    }

    #[test]
    fn rtx_unwraps_to_the_original() {
        let rtx = RtxTrack {
            pt: 97,
            ssrc: Some(0xAAAA_AAAA),
            apt: 96,
        };
        for (ext, padding) in [(false, 0), (true, 0), (true, 4)] {
            let mut p = rtx_packet(ext, padding);
            let len = p.len();
            let n = unwrap_rtx(&mut p, len, rtx, 0x1111_1111).unwrap();
            assert_eq!(n, len - 2);
            let h = if ext { 20 } else { 12 };
            assert_eq!(p[1], 0x80 | 96, "marker kept, PT = apt");
            assert_eq!(u16::from_be_bytes([p[2], p[3]]), 0xFFFE, "OSN");
            assert_eq!(&p[8..12], &0x1111_1111u32.to_be_bytes());
            assert_eq!(&p[h..h + 7], b"payload");
            if padding > 0 {
                assert_eq!(p[n - 1], padding, "padding stays at the end");
            } else {
                assert_eq!(&p[n - 7..n], b"payload");
            }
        }
        // SSRC not announced: any SSRC with the RTX payload type.
        let mut p = rtx_packet(false, 0);
        let len = p.len();
        let any = RtxTrack { ssrc: None, ..rtx };
        assert_eq!(unwrap_rtx(&mut p, len, any, 9), Some(len - 2));
        // Not this RTX stream, or no OSN.
        let mut p = rtx_packet(false, 0);
        let len = p.len();
        assert_eq!(unwrap_rtx(&mut p, len, RtxTrack { pt: 98, ..rtx }, 1), None);
        assert_eq!(
            unwrap_rtx(
                &mut p,
                len,
                RtxTrack {
                    ssrc: Some(5),
                    ..rtx
                },
                1
            ),
            None
        );
        assert_eq!(unwrap_rtx(&mut p, 13, rtx, 1), None);
        let mut probe = rtx_packet(false, 0)[..12].to_vec();
        probe.extend_from_slice(&[0, 0, 0, 4]);
        probe[0] |= 0x20;
        assert_eq!(unwrap_rtx(&mut probe, 16, rtx, 1), None, "padding only");
        assert_eq!(unwrap_rtx(&mut [0u8; 4], 4, rtx, 1), None);
    }
}
