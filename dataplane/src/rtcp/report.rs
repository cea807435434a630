//! Sender and receiver reports (RFC 3550 §6.4) and their report blocks.

use super::{be32, put32, write_header, RtcpError, PT_RR, PT_SR};

/// Size of one report block on the wire.
const BLOCK_LEN: usize = 24;
/// Size of the sender info (sender SSRC included) of an SR.
const SENDER_INFO_LEN: usize = 24;
/// The most report blocks one SR/RR can carry (5-bit count).
const MAX_BLOCKS: usize = 31;

/// One reception report block (RFC 3550 §6.4.1), owned: it is 24 bytes of numbers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReportBlock {
    /// The SSRC this block reports on.
    pub ssrc: u32,
    /// Fraction of packets lost since the previous report, in 1/256.
    pub fraction_lost: u8,
    /// Cumulative packets lost (24-bit signed on the wire; clamped when written).
    pub cumulative_lost: i32,
    /// Extended highest sequence number received (cycles << 16 | highest seq).
    pub extended_highest_seq: u32,
    /// Interarrival jitter in RTP timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the NTP timestamp of the last SR received (0: none).
    pub last_sr: u32,
    /// Delay since that SR, in 1/65536 s (0: none).
    pub delay_since_last_sr: u32,
}

impl ReportBlock {
    fn read(b: &[u8]) -> Self {
        let lost = be32(b, 4);
        ReportBlock {
            ssrc: be32(b, 0),
            fraction_lost: (lost >> 24) as u8,
            // Sign-extend the 24-bit field.
            cumulative_lost: ((lost << 8) as i32) >> 8,
            extended_highest_seq: be32(b, 8),
            jitter: be32(b, 12),
            last_sr: be32(b, 16),
            delay_since_last_sr: be32(b, 20),
        }
    }

    fn write(&self, b: &mut [u8]) {
        let lost = self.cumulative_lost.clamp(-0x80_0000, 0x7F_FFFF) as u32 & 0x00FF_FFFF;
        put32(b, 0, self.ssrc);
        put32(b, 4, u32::from(self.fraction_lost) << 24 | lost);
        put32(b, 8, self.extended_highest_seq);
        put32(b, 12, self.jitter);
        put32(b, 16, self.last_sr);
        put32(b, 20, self.delay_since_last_sr);
    }
}

/// Iterator over the report blocks of an SR or RR.
#[derive(Clone, Debug)]
pub struct ReportBlocks<'a> {
    chunks: std::slice::ChunksExact<'a, u8>,
}

impl Iterator for ReportBlocks<'_> {
    type Item = ReportBlock;

    fn next(&mut self) -> Option<ReportBlock> {
        self.chunks.next().map(ReportBlock::read)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.chunks.size_hint()
    }
}

fn blocks(body: &[u8], start: usize, count: u8) -> Result<&[u8], RtcpError> {
    body.get(start..start + usize::from(count) * BLOCK_LEN)
        .ok_or(RtcpError::Malformed)
}

/// A sender report (PT 200). Profile-specific extensions after the blocks are ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SenderReport<'a> {
    body: &'a [u8],
    blocks: &'a [u8],
}

impl<'a> SenderReport<'a> {
    pub(super) fn parse(count: u8, body: &'a [u8]) -> Result<Self, RtcpError> {
        let blocks = blocks(body, SENDER_INFO_LEN, count)?;
        Ok(SenderReport { body, blocks })
    }

    /// SSRC of the sender.
    pub fn sender_ssrc(&self) -> u32 {
        be32(self.body, 0)
    }

    /// 64-bit NTP timestamp (seconds since 1900 in the high 32 bits, fraction in the low).
    pub fn ntp(&self) -> u64 {
        u64::from(be32(self.body, 4)) << 32 | u64::from(be32(self.body, 8))
    }

    /// RTP timestamp corresponding to [`ntp`](Self::ntp).
    pub fn rtp_timestamp(&self) -> u32 {
        be32(self.body, 12)
    }

    /// Sender's packet count.
    pub fn packet_count(&self) -> u32 {
        be32(self.body, 16)
    }

    /// Sender's octet count (payload bytes).
    pub fn octet_count(&self) -> u32 {
        be32(self.body, 20)
    }

    /// The reception report blocks.
    pub fn report_blocks(&self) -> ReportBlocks<'a> {
        ReportBlocks {
            chunks: self.blocks.chunks_exact(BLOCK_LEN),
        }
    }
}

/// A receiver report (PT 201).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReceiverReport<'a> {
    body: &'a [u8],
    blocks: &'a [u8],
}

impl<'a> ReceiverReport<'a> {
    pub(super) fn parse(count: u8, body: &'a [u8]) -> Result<Self, RtcpError> {
        let blocks = blocks(body, 4, count)?;
        Ok(ReceiverReport { body, blocks })
    }

    /// SSRC of the report's sender.
    pub fn sender_ssrc(&self) -> u32 {
        be32(self.body, 0)
    }

    /// The reception report blocks.
    pub fn report_blocks(&self) -> ReportBlocks<'a> {
        ReportBlocks {
            chunks: self.blocks.chunks_exact(BLOCK_LEN),
        }
    }
}

/// Writes a receiver report from `sender_ssrc` with `blocks` (at most 31) into `out`;
/// returns its length.
pub fn write_receiver_report(
    out: &mut [u8],
    sender_ssrc: u32,
    blocks: &[ReportBlock],
) -> Result<usize, RtcpError> {
    if blocks.len() > MAX_BLOCKS {
        return Err(RtcpError::TooLarge);
    }
    let total = 8 + blocks.len() * BLOCK_LEN;
    let pkt = write_header(out, blocks.len() as u8, PT_RR, total)?;
    put32(pkt, 4, sender_ssrc);
    for (b, chunk) in blocks.iter().zip(pkt[8..].chunks_exact_mut(BLOCK_LEN)) {
        b.write(chunk);
    }
    Ok(total)
}

/// Writes a sender report without report blocks into `out`; returns its length (28).
/// Used to forward a publisher's SR to a subscriber under the subscriber's SSRC.
pub fn write_sender_report(
    out: &mut [u8],
    sender_ssrc: u32,
    ntp: u64,
    rtp_ts: u32,
    packets: u32,
    octets: u32,
) -> Result<usize, RtcpError> {
    let total = 4 + SENDER_INFO_LEN;
    let pkt = write_header(out, 0, PT_SR, total)?;
    put32(pkt, 4, sender_ssrc);
    put32(pkt, 8, (ntp >> 32) as u32);
    put32(pkt, 12, ntp as u32);
    put32(pkt, 16, rtp_ts);
    put32(pkt, 20, packets);
    put32(pkt, 24, octets);
    Ok(total)
}
