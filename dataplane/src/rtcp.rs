//! RTCP (RFC 3550, 4585, 5104): borrowed views over the packets of a decrypted compound,
//! writers into caller buffers, and per-SSRC receiver statistics for report blocks.
//!
//! Owns: the RTCP wire format ([`RtcpCompound`] iterates, [`RtcpPacket`] is one packet),
//! the `write_*` functions (each writes one packet into `out` and returns its length) and
//! [`ReceiverStats`] (RFC 3550 A.3 loss and A.8 jitter, LSR/DLSR).
//!
//! Must not touch: SRTCP (the buffer is already decrypted), sockets or the clock — every
//! function that needs the time takes `now`. Parsing never allocates and never reads out of
//! bounds: a bad packet yields an [`RtcpError`] and ends the iteration.
#![forbid(unsafe_code)]

mod feedback;
mod report;
mod sdes;
mod stats;
#[cfg(test)]
mod tests;
mod twcc;

pub use feedback::{
    write_fir, write_nack, write_pli, write_remb, Feedback, Fir, FirEntries, FirEntry, Nack,
    NackLost, NackPairs, Pli, Remb, RembSsrcs,
};
pub use report::{
    write_receiver_report, write_sender_report, ReceiverReport, ReportBlock, ReportBlocks,
    SenderReport,
};
pub use sdes::{write_bye, write_sdes_cname, App, Bye, Sdes, SdesItem, SdesItems, SDES_CNAME};
pub use stats::ReceiverStats;
pub use twcc::{write_twcc, TransportCc, DELTA_TICK_US, REFERENCE_TICK_US, TWCC_URI};

/// RTCP packet type: sender report.
pub const PT_SR: u8 = 200;
/// RTCP packet type: receiver report.
pub const PT_RR: u8 = 201;
/// RTCP packet type: source description.
pub const PT_SDES: u8 = 202;
/// RTCP packet type: goodbye.
pub const PT_BYE: u8 = 203;
/// RTCP packet type: application-defined.
pub const PT_APP: u8 = 204;
/// RTCP packet type: transport-layer feedback (RFC 4585).
pub const PT_RTPFB: u8 = 205;
/// RTCP packet type: payload-specific feedback (RFC 4585).
pub const PT_PSFB: u8 = 206;

/// Length of the common RTCP header.
pub const HEADER_LEN: usize = 4;

/// Why an RTCP packet could not be parsed or written. Small and `Copy`: built per packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RtcpError {
    /// Fewer than 4 bytes left for a packet header (also: an empty compound).
    #[error("RTCP packet shorter than its header")]
    TooShort,
    /// The version field is not 2.
    #[error("RTCP version is not 2")]
    BadVersion,
    /// The length field points past the end of the buffer.
    #[error("RTCP length field runs past the end of the buffer")]
    LengthOverrun,
    /// The padding count is zero or larger than the packet body.
    #[error("RTCP padding length is invalid")]
    BadPadding,
    /// The body is too short or inconsistent for its packet type (e.g. more report blocks
    /// than fit, an SDES item past the end, a FIR entry cut short).
    #[error("RTCP packet body is malformed for its type")]
    Malformed,
    /// Writer: `out` is too small for the packet.
    #[error("output buffer too small for the RTCP packet")]
    BufferTooSmall,
    /// Writer: a count does not fit its field (more than 31 report blocks, a CNAME longer than
    /// 255 bytes, more than 255 REMB SSRCs, ...).
    #[error("value too large for its RTCP field")]
    TooLarge,
}

/// One packet of a compound, as a borrowed view of the buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RtcpPacket<'a> {
    /// SR (200).
    SenderReport(SenderReport<'a>),
    /// RR (201).
    ReceiverReport(ReceiverReport<'a>),
    /// SDES (202).
    Sdes(Sdes<'a>),
    /// BYE (203).
    Bye(Bye<'a>),
    /// APP (204).
    App(App<'a>),
    /// PSFB FMT 1: picture loss indication.
    Pli(Pli),
    /// PSFB FMT 4: full intra request.
    Fir(Fir<'a>),
    /// PSFB FMT 15 with the "REMB" identifier: receiver estimated max bitrate.
    Remb(Remb<'a>),
    /// Any other PSFB (SLI, RPSI, non-REMB application feedback, ...).
    PayloadFeedback(Feedback<'a>),
    /// RTPFB FMT 1: generic NACK.
    Nack(Nack<'a>),
    /// RTPFB FMT 15: transport-wide congestion control feedback (FCI left unparsed).
    Twcc(Feedback<'a>),
    /// Any other RTPFB.
    TransportFeedback(Feedback<'a>),
    /// A packet type we do not know (XR, ...): forwarded or ignored by the caller.
    Unknown {
        /// Packet type.
        pt: u8,
        /// The 5-bit count / format field.
        count: u8,
        /// The body after the 4-byte header, padding excluded.
        body: &'a [u8],
    },
}

impl<'a> RtcpPacket<'a> {
    /// Parses the body of one packet, given its header fields.
    fn parse(pt: u8, count: u8, body: &'a [u8]) -> Result<Self, RtcpError> {
        Ok(match pt {
            PT_SR => RtcpPacket::SenderReport(SenderReport::parse(count, body)?),
            PT_RR => RtcpPacket::ReceiverReport(ReceiverReport::parse(count, body)?),
            PT_SDES => RtcpPacket::Sdes(Sdes::parse(count, body)?),
            PT_BYE => RtcpPacket::Bye(Bye::parse(count, body)?),
            PT_APP => RtcpPacket::App(App::parse(count, body)?),
            PT_PSFB => feedback::parse_psfb(count, body)?,
            PT_RTPFB => feedback::parse_rtpfb(count, body)?,
            _ => RtcpPacket::Unknown { pt, count, body },
        })
    }
}

/// Iterator over the packets of an RTCP compound packet. Yields `Err` once and stops when a
/// packet is malformed; an empty buffer yields `Err(TooShort)`.
#[derive(Clone, Debug)]
pub struct RtcpCompound<'a> {
    buf: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> RtcpCompound<'a> {
    /// Iterates over the packets in `buf` (a whole decrypted SRTCP datagram).
    pub fn iter(buf: &'a [u8]) -> Self {
        RtcpCompound {
            buf,
            pos: 0,
            done: false,
        }
    }

    fn next_packet(&mut self) -> Result<RtcpPacket<'a>, RtcpError> {
        let rest = self.buf.get(self.pos..).unwrap_or(&[]);
        if rest.len() < HEADER_LEN {
            return Err(RtcpError::TooShort);
        }
        let b0 = rest[0];
        if b0 >> 6 != 2 {
            return Err(RtcpError::BadVersion);
        }
        let count = b0 & 0x1F;
        let pt = rest[1];
        let len = (usize::from(u16::from_be_bytes([rest[2], rest[3]])) + 1) * 4;
        let packet = rest.get(..len).ok_or(RtcpError::LengthOverrun)?;
        let mut end = len;
        if b0 & 0x20 != 0 {
            let pad = usize::from(packet[len - 1]);
            if pad == 0 || pad > len - HEADER_LEN {
                return Err(RtcpError::BadPadding);
            }
            end -= pad;
        }
        self.pos += len;
        RtcpPacket::parse(pt, count, &packet[HEADER_LEN..end])
    }
}

impl<'a> Iterator for RtcpCompound<'a> {
    type Item = Result<RtcpPacket<'a>, RtcpError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || (self.pos >= self.buf.len() && !self.buf.is_empty()) {
            return None;
        }
        let r = self.next_packet();
        if r.is_err() || self.pos >= self.buf.len() {
            self.done = true;
        }
        Some(r)
    }
}

/// Reads a big-endian u32 at `pos`; callers validate lengths first, so a short read yields 0.
fn be32(b: &[u8], pos: usize) -> u32 {
    b.get(pos..pos + 4)
        .map_or(0, |s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// Writes the common header of a packet of `total` bytes (a multiple of 4, header included)
/// after checking that `out` can hold it; returns the packet slice to fill.
fn write_header(out: &mut [u8], count: u8, pt: u8, total: usize) -> Result<&mut [u8], RtcpError> {
    debug_assert!(total.is_multiple_of(4) && total >= HEADER_LEN);
    let words = u16::try_from(total / 4 - 1).map_err(|_| RtcpError::TooLarge)?;
    let pkt = out.get_mut(..total).ok_or(RtcpError::BufferTooSmall)?;
    pkt[0] = 0x80 | (count & 0x1F);
    pkt[1] = pt;
    pkt[2..4].copy_from_slice(&words.to_be_bytes());
    Ok(pkt)
}

/// Writes `v` big-endian at `pos` of a packet already sized by [`write_header`].
fn put32(pkt: &mut [u8], pos: usize, v: u32) {
    pkt[pos..pos + 4].copy_from_slice(&v.to_be_bytes());
}
