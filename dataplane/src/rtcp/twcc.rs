//! Transport-wide congestion control feedback (draft-holmer-rmcat-transport-wide-cc-
//! extensions-01, RTPFB FMT 15): which transport-wide sequence numbers arrived and when, so the
//! sender can estimate the path's delay and loss. [`TransportCc`] reads one (the FCI of an
//! [`RtcpPacket::Twcc`](super::RtcpPacket::Twcc)); [`write_twcc`] writes one.
//!
//! Times on the wire: a 24-bit signed reference time in 64 ms units, then per received packet
//! a delta in 250 µs units from the previous one (the first from the reference time): one
//! unsigned byte when it fits 0..=255, two signed bytes otherwise. Statuses come in 16-bit
//! chunks: a run of one status (up to 8191), or a vector of 14 one-bit or 7 two-bit statuses.

use super::feedback::FMT_TWCC;
use super::{put32, write_header, Feedback, RtcpError, PT_RTPFB};

/// The RTP header extension carrying the transport-wide sequence number.
pub const TWCC_URI: &str =
    "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01";

/// One delta tick in µs.
pub const DELTA_TICK_US: i64 = 250;
/// One reference-time tick in µs.
pub const REFERENCE_TICK_US: i64 = 64_000;
/// Statuses in one run-length chunk at most.
const MAX_RUN: usize = 0x1FFF;

const NOT_RECEIVED: u8 = 0;
const SMALL_DELTA: u8 = 1;
const LARGE_DELTA: u8 = 2;

/// A parsed transport-wide feedback message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TransportCc<'a> {
    pub sender_ssrc: u32,
    pub media_ssrc: u32,
    /// The first transport-wide sequence number reported.
    pub base_seq: u16,
    /// How many sequence numbers from `base_seq` on are reported.
    pub status_count: u16,
    /// The reference time, in 64 ms units (sign-extended from 24 bits).
    pub reference_time: i32,
    /// The feedback message's own counter (wraps).
    pub fb_count: u8,
    chunks_and_deltas: &'a [u8],
}

impl<'a> TransportCc<'a> {
    /// Reads the FCI of an RTPFB FMT 15 message.
    pub fn parse(fb: &Feedback<'a>) -> Result<Self, RtcpError> {
        let f = fb.fci;
        if f.len() < 8 {
            return Err(RtcpError::Malformed);
        }
        let reference = u32::from_be_bytes([0, f[4], f[5], f[6]]);
        let tcc = TransportCc {
            sender_ssrc: fb.sender_ssrc,
            media_ssrc: fb.media_ssrc,
            base_seq: u16::from_be_bytes([f[0], f[1]]),
            status_count: u16::from_be_bytes([f[2], f[3]]),
            reference_time: ((reference << 8) as i32) >> 8,
            fb_count: f[7],
            chunks_and_deltas: &f[8..],
        };
        // Validate the whole body once, so iterating cannot fail.
        let mut n = 0;
        for p in tcc.packets_checked() {
            p?;
            n += 1;
        }
        if n != usize::from(tcc.status_count) {
            return Err(RtcpError::Malformed);
        }
        Ok(tcc)
    }

    /// Every reported packet in order: its transport-wide sequence number and, if it arrived,
    /// its arrival time in µs on the receiver's clock (reference time plus the deltas).
    pub fn packets(&self) -> impl Iterator<Item = (u16, Option<i64>)> + 'a {
        self.packets_checked().map_while(Result::ok)
    }

    fn packets_checked(&self) -> impl Iterator<Item = Result<(u16, Option<i64>), RtcpError>> + 'a {
        let body = self.chunks_and_deltas;
        let count = usize::from(self.status_count);
        // Statuses first: walk the chunks until `count` symbols are known.
        let mut deltas_at = 0;
        let mut known = 0;
        let mut failed = false;
        while known < count {
            let Some(c) = body.get(deltas_at..deltas_at + 2) else {
                failed = true;
                break;
            };
            known += chunk_len(u16::from_be_bytes([c[0], c[1]]));
            deltas_at += 2;
        }
        let base = self.base_seq;
        let mut arrival = i64::from(self.reference_time) * REFERENCE_TICK_US;
        let (mut chunk_at, mut in_chunk) = (0, 0);
        let mut i = 0;
        std::iter::from_fn(move || {
            if i >= count {
                return None;
            }
            if failed {
                // Report once, then stop.
                i = count;
                return Some(Err(RtcpError::Malformed));
            }
            let chunk = u16::from_be_bytes([body[chunk_at], body[chunk_at + 1]]);
            let symbol = chunk_symbol(chunk, in_chunk);
            in_chunk += 1;
            if in_chunk == chunk_len(chunk) {
                chunk_at += 2;
                in_chunk = 0;
            }
            let seq = base.wrapping_add(i as u16);
            i += 1;
            let delta = match symbol {
                NOT_RECEIVED => return Some(Ok((seq, None))),
                SMALL_DELTA => body.get(deltas_at).map(|&d| (i64::from(d), 1)),
                LARGE_DELTA => body
                    .get(deltas_at..deltas_at + 2)
                    .map(|d| (i64::from(i16::from_be_bytes([d[0], d[1]])), 2)),
                _ => None,
            };
            let Some((delta, len)) = delta else {
                i = count;
                return Some(Err(RtcpError::Malformed));
            };
            deltas_at += len;
            arrival += delta * DELTA_TICK_US;
            Some(Ok((seq, Some(arrival))))
        })
    }
}

/// How many statuses a chunk holds.
fn chunk_len(chunk: u16) -> usize {
    match chunk >> 14 {
        0b00 | 0b01 => usize::from(chunk & 0x1FFF),
        0b10 => 14,
        _ => 7,
    }
}

/// Status `i` of a chunk.
fn chunk_symbol(chunk: u16, i: usize) -> u8 {
    match chunk >> 14 {
        0b00 | 0b01 => ((chunk >> 13) & 0b11) as u8,
        0b10 => ((chunk >> (13 - i)) & 1) as u8,
        _ => ((chunk >> (12 - 2 * i)) & 0b11) as u8,
    }
}

/// Writes a transport-wide feedback message into `out`: `arrivals[i]` is the arrival time in
/// µs (on any clock, the same for all) of transport-wide sequence number `base_seq + i`, `None`
/// if it did not arrive. The reference time is the first arrival rounded down to 64 ms; each
/// delta is rounded to 250 µs against the rounded sum so far (no drift), and clamped to what
/// two bytes hold. Returns the length written.
pub fn write_twcc(
    out: &mut [u8],
    sender_ssrc: u32,
    media_ssrc: u32,
    fb_count: u8,
    base_seq: u16,
    arrivals: &[Option<i64>],
) -> Result<usize, RtcpError> {
    let count = u16::try_from(arrivals.len()).map_err(|_| RtcpError::TooLarge)?;
    let first = arrivals
        .iter()
        .flatten()
        .next()
        .copied()
        .ok_or(RtcpError::Malformed)?;
    let reference = first.div_euclid(REFERENCE_TICK_US);
    let reference_24 = i32::try_from(reference)
        .ok()
        .filter(|r| (-(1 << 23)..(1 << 23)).contains(r))
        .ok_or(RtcpError::TooLarge)?;
    // The symbols and the deltas in ticks.
    let mut sum = reference * (REFERENCE_TICK_US / DELTA_TICK_US);
    let mut ticks = Vec::new();
    let symbols: Vec<u8> = arrivals
        .iter()
        .map(|a| match a {
            None => NOT_RECEIVED,
            Some(us) => {
                let target = us.div_euclid(DELTA_TICK_US);
                let delta = (target - sum).clamp(i64::from(i16::MIN), i64::from(i16::MAX));
                sum += delta;
                ticks.push(delta as i16);
                if (0..=255).contains(&delta) {
                    SMALL_DELTA
                } else {
                    LARGE_DELTA
                }
            }
        })
        .collect();
    let chunks = encode_chunks(&symbols);
    let delta_bytes: usize = ticks
        .iter()
        .map(|&t| if (0..=255).contains(&t) { 1 } else { 2 })
        .sum();
    let body = 8 + 8 + 2 * chunks.len() + delta_bytes;
    let padded = (4 + body).next_multiple_of(4);
    let pad = padded - 4 - body;
    let pkt = write_header(out, FMT_TWCC, PT_RTPFB, padded)?;
    put32(pkt, 4, sender_ssrc);
    put32(pkt, 8, media_ssrc);
    pkt[12..14].copy_from_slice(&base_seq.to_be_bytes());
    pkt[14..16].copy_from_slice(&count.to_be_bytes());
    let r = (reference_24 as u32).to_be_bytes();
    pkt[16..19].copy_from_slice(&r[1..]);
    pkt[19] = fb_count;
    let mut at = 20;
    for c in chunks {
        pkt[at..at + 2].copy_from_slice(&c.to_be_bytes());
        at += 2;
    }
    for t in ticks {
        if (0..=255).contains(&t) {
            pkt[at] = t as u8;
            at += 1;
        } else {
            pkt[at..at + 2].copy_from_slice(&t.to_be_bytes());
            at += 2;
        }
    }
    if pad > 0 {
        // RFC 3550 padding: zeros, the count last, the P bit set.
        pkt[at..padded].fill(0);
        pkt[padded - 1] = pad as u8;
        pkt[0] |= 0x20;
    }
    Ok(padded)
}

/// Packs status symbols into chunks: a run-length chunk for a run of 7 or more equal
/// statuses, otherwise a one-bit vector of 14 when those hold no large delta, else a two-bit
/// vector of 7 (the last vector may cover statuses past the count; readers stop at the count).
fn encode_chunks(symbols: &[u8]) -> Vec<u16> {
    let mut chunks = Vec::with_capacity(symbols.len() / 7 + 1);
    let mut i = 0;
    while i < symbols.len() {
        let run = symbols[i..]
            .iter()
            .take(MAX_RUN)
            .take_while(|&&s| s == symbols[i])
            .count();
        if run >= 7 {
            chunks.push((u16::from(symbols[i]) << 13) | run as u16);
            i += run;
            continue;
        }
        let next14 = &symbols[i..(i + 14).min(symbols.len())];
        if next14.len() == 14 && next14.iter().all(|&s| s <= SMALL_DELTA) {
            let mut c = 0b10 << 14;
            for (k, &s) in next14.iter().enumerate() {
                c |= u16::from(s) << (13 - k);
            }
            chunks.push(c);
            i += 14;
        } else {
            let mut c = 0b11 << 14;
            for (k, &s) in symbols[i..(i + 7).min(symbols.len())].iter().enumerate() {
                c |= u16::from(s) << (12 - 2 * k);
            }
            chunks.push(c);
            i += 7;
        }
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtcp::{RtcpCompound, RtcpPacket};

    fn parse(buf: &[u8]) -> (TransportCc<'_>, Vec<(u16, Option<i64>)>) {
        let pkt = RtcpCompound::iter(buf).next().unwrap().unwrap();
        let RtcpPacket::Twcc(fb) = pkt else {
            panic!("{pkt:?}");
        };
        let tcc = TransportCc::parse(&fb).unwrap();
        let packets = tcc.packets().collect();
        (tcc, packets)
    }

    /// Arrival times survive a round trip to within the 250 µs tick, without drift.
    fn assert_round_trip(base: u16, arrivals: &[Option<i64>]) {
        let mut buf = [0u8; 1500];
        let n = write_twcc(&mut buf, 1, 2, 9, base, arrivals).unwrap();
        assert_eq!(n % 4, 0);
        let (tcc, packets) = parse(&buf[..n]);
        assert_eq!((tcc.sender_ssrc, tcc.media_ssrc, tcc.fb_count), (1, 2, 9));
        assert_eq!(tcc.base_seq, base);
        assert_eq!(packets.len(), arrivals.len());
        for (i, ((seq, got), want)) in packets.iter().zip(arrivals).enumerate() {
            assert_eq!(*seq, base.wrapping_add(i as u16));
            match (got, want) {
                (None, None) => {}
                (Some(g), Some(w)) => assert!(
                    (g - w.div_euclid(DELTA_TICK_US) * DELTA_TICK_US).abs() < DELTA_TICK_US,
                    "packet {i}: {g} vs {w}"
                ),
                _ => panic!("packet {i}: {got:?} vs {want:?}"),
            }
        }
    }

    #[test]
    fn every_packet_arrived_a_millisecond_apart() {
        let arrivals: Vec<_> = (0..100).map(|i| Some(5_000_000 + i * 1000)).collect();
        assert_round_trip(65_500, &arrivals);
    }

    #[test]
    fn losses_long_runs_large_and_negative_deltas() {
        let mut arrivals = vec![Some(1_000_000), None, Some(1_000_250), Some(1_100_000)];
        arrivals.extend(std::iter::repeat_n(None, 20)); // a run of losses
        arrivals.push(Some(1_050_000)); // reordered: a negative delta
        arrivals.push(Some(3_000_000)); // two seconds later: a large delta
        arrivals.extend((0..30).map(|i| Some(3_000_000 + i * 300)));
        arrivals.push(None);
        assert_round_trip(7, &arrivals);
    }

    #[test]
    fn a_hand_built_message_from_the_draft_reads_back() {
        // base 10, 4 statuses: received (small), lost, received (large), received (small);
        // reference time 1 (64 ms); one 2-bit vector chunk; deltas 4, -8 (i16), 1 ticks.
        // Hand-built rather than written by `write_twcc`, so the reader is not only checked
        // against our own writer.
        let mut buf = vec![0x8F, 205, 0, 0];
        buf.extend_from_slice(&1u32.to_be_bytes());
        buf.extend_from_slice(&2u32.to_be_bytes());
        buf.extend_from_slice(&[0, 10, 0, 4, 0, 0, 1, 3]);
        buf.extend_from_slice(&0b11_01_00_10_01_00_00_00u16.to_be_bytes());
        buf.extend_from_slice(&[4, 0xFF, 0xF8, 1]);
        buf.extend_from_slice(&[0, 0]); // zero padding to the 32-bit boundary (no P bit)
        let words = (buf.len() / 4 - 1) as u16;
        buf[2..4].copy_from_slice(&words.to_be_bytes());
        let (tcc, packets) = parse(&buf);
        assert_eq!(
            (
                tcc.base_seq,
                tcc.status_count,
                tcc.reference_time,
                tcc.fb_count
            ),
            (10, 4, 1, 3)
        );
        assert_eq!(
            packets,
            [
                (10, Some(64_000 + 1000)),
                (11, None),
                (12, Some(64_000 + 1000 - 2000)),
                (13, Some(64_000 + 1000 - 2000 + 250)),
            ]
        );
    }

    #[test]
    fn truncated_or_inconsistent_messages_are_rejected() {
        let arrivals: Vec<_> = (0..20).map(|i| Some(i * 1000)).collect();
        let mut buf = [0u8; 256];
        let n = write_twcc(&mut buf, 1, 2, 0, 0, &arrivals).unwrap();
        let pkt = RtcpCompound::iter(&buf[..n]).next().unwrap().unwrap();
        let RtcpPacket::Twcc(fb) = pkt else { panic!() };
        // Fewer deltas than received statuses.
        let short = Feedback {
            fci: &fb.fci[..fb.fci.len() - 8],
            ..fb
        };
        assert_eq!(TransportCc::parse(&short), Err(RtcpError::Malformed));
        // A status count the chunks do not cover.
        let mut fci = fb.fci.to_vec();
        fci[2..4].copy_from_slice(&500u16.to_be_bytes());
        let more = Feedback { fci: &fci, ..fb };
        assert_eq!(TransportCc::parse(&more), Err(RtcpError::Malformed));
        // Nothing received: nothing to write.
        assert_eq!(
            write_twcc(&mut buf, 1, 2, 0, 0, &[None, None]),
            Err(RtcpError::Malformed)
        );
    }
}
