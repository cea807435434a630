//! Reception statistics of one received SSRC, for RR report blocks (RFC 3550 A.3, A.8).

use super::ReportBlock;
use crate::rtp::SeqExtender;
use std::time::{Duration, Instant};

/// Loss, jitter and last-SR bookkeeping for one received SSRC.
///
/// Sans-IO: the arrival time of each packet and the time of each report are passed in.
/// Sequence numbers are extended with [`SeqExtender`] (±32767 around the highest seen); a
/// source that restarts its sequence far away is not detected (no RFC 3550 A.1 probation).
#[derive(Clone, Debug)]
pub struct ReceiverStats {
    ssrc: u32,
    clock_rate: u32,
    seq: SeqExtender,
    /// Lowest extended sequence number received.
    base: u64,
    received: u64,
    expected_prior: u64,
    received_prior: u64,
    /// Interarrival jitter × 16, in RTP units (RFC 3550 A.8 fixed-point form).
    jitter_x16: u32,
    /// Arrival of the first packet: the origin of arrival times in RTP units.
    origin: Option<Instant>,
    /// Transit time (arrival − RTP timestamp, in RTP units) of the previous packet.
    last_transit: Option<u32>,
    /// Middle 32 bits of the last SR's NTP timestamp and when it arrived.
    last_sr: Option<(u32, Instant)>,
}

impl ReceiverStats {
    /// Statistics for `ssrc`, whose RTP clock runs at `clock_rate` Hz.
    pub fn new(ssrc: u32, clock_rate: u32) -> Self {
        ReceiverStats {
            ssrc,
            clock_rate,
            seq: SeqExtender::new(),
            base: 0,
            received: 0,
            expected_prior: 0,
            received_prior: 0,
            jitter_x16: 0,
            origin: None,
            last_transit: None,
            last_sr: None,
        }
    }

    /// The SSRC these statistics are about.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// Records one received packet with sequence number `seq` and timestamp `rtp_ts`,
    /// which arrived at `now`. Returns its extended sequence number.
    pub fn on_packet(&mut self, seq: u16, rtp_ts: u32, now: Instant) -> u64 {
        let first = self.seq.max().is_none();
        let ext = self.seq.extend(seq);
        if first || ext < self.base {
            self.base = ext;
        }
        self.received += 1;

        let origin = *self.origin.get_or_insert(now);
        let arrival = self.rtp_units(now.saturating_duration_since(origin)) as u32;
        let transit = arrival.wrapping_sub(rtp_ts);
        if let Some(prev) = self.last_transit {
            let d = (transit.wrapping_sub(prev) as i32).unsigned_abs();
            // J += (|D| - J) / 16, kept ×16: J16 += |D| - round(J16 / 16).
            let j =
                i64::from(self.jitter_x16) + i64::from(d) - ((i64::from(self.jitter_x16) + 8) >> 4);
            self.jitter_x16 = j.clamp(0, i64::from(u32::MAX)) as u32;
        }
        self.last_transit = Some(transit);
        ext
    }

    /// Records a sender report of this SSRC carrying NTP timestamp `ntp`, received at `now`.
    pub fn on_sender_report(&mut self, ntp: u64, now: Instant) {
        self.last_sr = Some(((ntp >> 16) as u32, now));
    }

    /// Packets received so far (duplicates included, as in RFC 3550).
    pub fn packets_received(&self) -> u64 {
        self.received
    }

    /// Current interarrival jitter, in RTP timestamp units.
    pub fn jitter(&self) -> u32 {
        self.jitter_x16 >> 4
    }

    /// The report block for an RR sent at `now`. Starts a new interval for the fraction
    /// lost, so call it once per report actually sent.
    pub fn report_block(&mut self, now: Instant) -> ReportBlock {
        let (lsr, dlsr) = match self.last_sr {
            Some((lsr, at)) => {
                let since = now.saturating_duration_since(at);
                let units = since.as_nanos() * 65536 / 1_000_000_000;
                (lsr, u32::try_from(units).unwrap_or(u32::MAX))
            }
            None => (0, 0),
        };
        let Some(max) = self.seq.max() else {
            return ReportBlock {
                ssrc: self.ssrc,
                last_sr: lsr,
                delay_since_last_sr: dlsr,
                ..ReportBlock::default()
            };
        };
        let expected = max - self.base + 1;
        let lost = expected as i64 - self.received as i64;
        let expected_interval = expected - self.expected_prior;
        let received_interval = self.received - self.received_prior;
        self.expected_prior = expected;
        self.received_prior = self.received;
        let lost_interval = expected_interval as i64 - received_interval as i64;
        let fraction = if expected_interval == 0 || lost_interval <= 0 {
            0
        } else {
            ((lost_interval << 8) / expected_interval as i64).min(255) as u8
        };
        ReportBlock {
            ssrc: self.ssrc,
            fraction_lost: fraction,
            cumulative_lost: lost.clamp(-0x80_0000, 0x7F_FFFF) as i32,
            // SeqExtender starts at cycle 1; the report counts cycles from 0.
            extended_highest_seq: max.wrapping_sub(1 << 16) as u32,
            jitter: self.jitter(),
            last_sr: lsr,
            delay_since_last_sr: dlsr,
        }
    }

    fn rtp_units(&self, d: Duration) -> u64 {
        (d.as_nanos() * u128::from(self.clock_rate) / 1_000_000_000) as u64
    }
}
