//! Feedback messages (RFC 4585): PLI, FIR (RFC 5104), REMB, generic NACK, and the raw view
//! of any other transport/payload-specific feedback (TWCC included).

use super::{be32, put32, write_header, RtcpError, RtcpPacket, PT_PSFB, PT_RTPFB};

const FMT_NACK: u8 = 1;
pub(super) const FMT_TWCC: u8 = 15;
const FMT_PLI: u8 = 1;
const FMT_FIR: u8 = 4;
const FMT_AFB: u8 = 15;
const FIR_ENTRY_LEN: usize = 8;

/// The common part of a feedback message: FMT, sender and media SSRC, and the raw FCI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Feedback<'a> {
    /// The 5-bit feedback message type.
    pub fmt: u8,
    /// SSRC of the packet's sender.
    pub sender_ssrc: u32,
    /// SSRC of the media source the feedback is about.
    pub media_ssrc: u32,
    /// Feedback control information (after the two SSRCs), unparsed.
    pub fci: &'a [u8],
}

impl<'a> Feedback<'a> {
    fn parse(fmt: u8, body: &'a [u8]) -> Result<Self, RtcpError> {
        let fci = body.get(8..).ok_or(RtcpError::Malformed)?;
        Ok(Feedback {
            fmt,
            sender_ssrc: be32(body, 0),
            media_ssrc: be32(body, 4),
            fci,
        })
    }
}

pub(super) fn parse_psfb(fmt: u8, body: &[u8]) -> Result<RtcpPacket<'_>, RtcpError> {
    let fb = Feedback::parse(fmt, body)?;
    Ok(match fmt {
        FMT_PLI => RtcpPacket::Pli(Pli {
            sender_ssrc: fb.sender_ssrc,
            media_ssrc: fb.media_ssrc,
        }),
        FMT_FIR => {
            if !fb.fci.len().is_multiple_of(FIR_ENTRY_LEN) {
                return Err(RtcpError::Malformed);
            }
            RtcpPacket::Fir(Fir {
                sender_ssrc: fb.sender_ssrc,
                fci: fb.fci,
            })
        }
        FMT_AFB if fb.fci.starts_with(b"REMB") => RtcpPacket::Remb(Remb::parse(fb)?),
        _ => RtcpPacket::PayloadFeedback(fb),
    })
}

pub(super) fn parse_rtpfb(fmt: u8, body: &[u8]) -> Result<RtcpPacket<'_>, RtcpError> {
    let fb = Feedback::parse(fmt, body)?;
    Ok(match fmt {
        FMT_NACK => {
            if !fb.fci.len().is_multiple_of(4) {
                return Err(RtcpError::Malformed);
            }
            RtcpPacket::Nack(Nack {
                sender_ssrc: fb.sender_ssrc,
                media_ssrc: fb.media_ssrc,
                fci: fb.fci,
            })
        }
        FMT_TWCC => RtcpPacket::Twcc(fb),
        _ => RtcpPacket::TransportFeedback(fb),
    })
}

/// Picture loss indication (PSFB FMT 1): "send me a keyframe".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pli {
    /// SSRC of the requester.
    pub sender_ssrc: u32,
    /// SSRC of the video stream that needs a keyframe.
    pub media_ssrc: u32,
}

/// Full intra request (PSFB FMT 4, RFC 5104 §4.3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fir<'a> {
    /// SSRC of the requester.
    pub sender_ssrc: u32,
    fci: &'a [u8],
}

impl<'a> Fir<'a> {
    /// The `(media SSRC, command sequence number)` entries.
    pub fn entries(&self) -> FirEntries<'a> {
        FirEntries {
            chunks: self.fci.chunks_exact(FIR_ENTRY_LEN),
        }
    }
}

/// One FIR entry: which stream, and the request's sequence number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FirEntry {
    /// SSRC of the stream that must send a keyframe.
    pub ssrc: u32,
    /// Command sequence number (repeats of one request carry the same number).
    pub seq: u8,
}

/// Iterator over the entries of a FIR.
#[derive(Clone, Debug)]
pub struct FirEntries<'a> {
    chunks: std::slice::ChunksExact<'a, u8>,
}

impl Iterator for FirEntries<'_> {
    type Item = FirEntry;

    fn next(&mut self) -> Option<FirEntry> {
        self.chunks.next().map(|c| FirEntry {
            ssrc: be32(c, 0),
            seq: c[4],
        })
    }
}

/// Receiver estimated maximum bitrate (PSFB FMT 15, "REMB", draft-alvestrand-rmcat-remb).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Remb<'a> {
    /// SSRC of the estimator.
    pub sender_ssrc: u32,
    /// The estimate, in bits per second.
    pub bitrate: u64,
    ssrcs: &'a [u8],
}

impl<'a> Remb<'a> {
    fn parse(fb: Feedback<'a>) -> Result<Self, RtcpError> {
        let head = fb.fci.get(4..8).ok_or(RtcpError::Malformed)?;
        let n = usize::from(head[0]);
        let exp = head[1] >> 2;
        let mantissa =
            u64::from(head[1] & 0x03) << 16 | u64::from(head[2]) << 8 | u64::from(head[3]);
        let ssrcs = fb.fci.get(8..8 + 4 * n).ok_or(RtcpError::Malformed)?;
        Ok(Remb {
            sender_ssrc: fb.sender_ssrc,
            bitrate: mantissa.checked_shl(u32::from(exp)).unwrap_or(u64::MAX),
            ssrcs,
        })
    }

    /// The SSRCs the estimate applies to.
    pub fn ssrcs(&self) -> RembSsrcs<'a> {
        RembSsrcs {
            chunks: self.ssrcs.chunks_exact(4),
        }
    }
}

/// Iterator over the SSRCs of a REMB.
#[derive(Clone, Debug)]
pub struct RembSsrcs<'a> {
    chunks: std::slice::ChunksExact<'a, u8>,
}

impl Iterator for RembSsrcs<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        self.chunks.next().map(|c| be32(c, 0))
    }
}

/// Generic NACK (RTPFB FMT 1, RFC 4585 §6.2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Nack<'a> {
    /// SSRC of the requester.
    pub sender_ssrc: u32,
    /// SSRC of the stream whose packets are missing.
    pub media_ssrc: u32,
    fci: &'a [u8],
}

impl<'a> Nack<'a> {
    /// The raw `(PID, BLP)` pairs.
    pub fn pairs(&self) -> NackPairs<'a> {
        NackPairs {
            chunks: self.fci.chunks_exact(4),
        }
    }

    /// Every sequence number reported lost, in wire order.
    pub fn lost(&self) -> NackLost<'a> {
        NackLost {
            pairs: self.pairs(),
            current: None,
        }
    }
}

/// Iterator over the `(PID, BLP)` pairs of a NACK.
#[derive(Clone, Debug)]
pub struct NackPairs<'a> {
    chunks: std::slice::ChunksExact<'a, u8>,
}

impl Iterator for NackPairs<'_> {
    type Item = (u16, u16);

    fn next(&mut self) -> Option<(u16, u16)> {
        self.chunks.next().map(|c| {
            (
                u16::from_be_bytes([c[0], c[1]]),
                u16::from_be_bytes([c[2], c[3]]),
            )
        })
    }
}

/// Iterator over the lost sequence numbers of a NACK: each PID, then PID+i+1 for each set
/// bit i of its BLP.
#[derive(Clone, Debug)]
pub struct NackLost<'a> {
    pairs: NackPairs<'a>,
    /// The current pair's PID and the BLP bits not yet yielded.
    current: Option<(u16, u16)>,
}

impl Iterator for NackLost<'_> {
    type Item = u16;

    fn next(&mut self) -> Option<u16> {
        if let Some((pid, bits)) = self.current.filter(|(_, bits)| *bits != 0) {
            let i = bits.trailing_zeros() as u16;
            self.current = Some((pid, bits & (bits - 1)));
            return Some(pid.wrapping_add(i + 1));
        }
        let (pid, blp) = self.pairs.next()?;
        self.current = Some((pid, blp));
        Some(pid)
    }
}

/// Writes a PLI from `sender_ssrc` about `media_ssrc` into `out`; returns its length (12).
pub fn write_pli(out: &mut [u8], sender_ssrc: u32, media_ssrc: u32) -> Result<usize, RtcpError> {
    let pkt = write_header(out, FMT_PLI, PT_PSFB, 12)?;
    put32(pkt, 4, sender_ssrc);
    put32(pkt, 8, media_ssrc);
    Ok(12)
}

/// Writes a FIR from `sender_ssrc` asking `media_ssrc` for a keyframe with command sequence
/// number `seq_nr` into `out`; returns its length (20). Per RFC 5104 the header's media SSRC
/// is 0 and the target goes into the FCI entry.
pub fn write_fir(
    out: &mut [u8],
    sender_ssrc: u32,
    media_ssrc: u32,
    seq_nr: u8,
) -> Result<usize, RtcpError> {
    let pkt = write_header(out, FMT_FIR, PT_PSFB, 20)?;
    put32(pkt, 4, sender_ssrc);
    put32(pkt, 8, 0);
    put32(pkt, 12, media_ssrc);
    pkt[16..20].copy_from_slice(&[seq_nr, 0, 0, 0]);
    Ok(20)
}

/// Writes a generic NACK with the given `(PID, BLP)` pairs into `out`; returns its length.
pub fn write_nack(
    out: &mut [u8],
    sender_ssrc: u32,
    media_ssrc: u32,
    pairs: &[(u16, u16)],
) -> Result<usize, RtcpError> {
    if pairs.is_empty() {
        return Err(RtcpError::Malformed);
    }
    let total = 12 + 4 * pairs.len();
    let pkt = write_header(out, FMT_NACK, PT_RTPFB, total)?;
    put32(pkt, 4, sender_ssrc);
    put32(pkt, 8, media_ssrc);
    for ((pid, blp), c) in pairs.iter().zip(pkt[12..].chunks_exact_mut(4)) {
        c[..2].copy_from_slice(&pid.to_be_bytes());
        c[2..].copy_from_slice(&blp.to_be_bytes());
    }
    Ok(total)
}

/// Writes a REMB of `bitrate` bits/s for `ssrcs` (at most 255) into `out`; returns its length.
/// The bitrate is rounded down to what an 18-bit mantissa and 6-bit exponent can carry.
pub fn write_remb(
    out: &mut [u8],
    sender_ssrc: u32,
    bitrate: u64,
    ssrcs: &[u32],
) -> Result<usize, RtcpError> {
    let n = u8::try_from(ssrcs.len()).map_err(|_| RtcpError::TooLarge)?;
    let exp = (64 - bitrate.leading_zeros()).saturating_sub(18);
    let mantissa = (bitrate >> exp) as u32;
    let total = 20 + 4 * ssrcs.len();
    let pkt = write_header(out, FMT_AFB, PT_PSFB, total)?;
    put32(pkt, 4, sender_ssrc);
    put32(pkt, 8, 0);
    pkt[12..16].copy_from_slice(b"REMB");
    put32(pkt, 16, u32::from(n) << 24 | exp << 18 | mantissa);
    for (s, c) in ssrcs.iter().zip(pkt[20..].chunks_exact_mut(4)) {
        c.copy_from_slice(&s.to_be_bytes());
    }
    Ok(total)
}
