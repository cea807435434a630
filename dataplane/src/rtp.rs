//! RTP (RFC 3550) as borrowed, zero-copy views over a decrypted packet, rewritten in place.
//!
//! Owns: the fixed header, CSRC list, header-extension block (RFC 8285) and padding layout
//! ([`RtpHeader`]), in-place rewrites of PT/SSRC/sequence/timestamp and of extension ids
//! ([`ExtensionMap`], [`rewrite_extensions`]), keyframe detection on the payload
//! ([`is_keyframe`]) and sequence-number extension ([`SeqExtender`]).
//!
//! Must not touch: SRTP (the buffer is already decrypted), sockets, the clock, or any per-peer
//! state. Nothing here allocates per packet: parsing returns offsets into the caller's buffer
//! and every rewrite writes into that same buffer. Malformed input returns an [`RtpError`],
//! never a panic.
//!
//! Fan-out of one decrypted packet to a subscriber (the send buffer is the worker's arena):
//!
//! ```
//! use dataplane::rtp::{rewrite_extensions, ExtensionMap, RtpHeader};
//!
//! let packet = [0x90, 0xE0, 0, 7, 0, 0, 0, 9, 0, 0, 0, 1, 0xBE, 0xDE, 0, 1, 0x30, 0x55, 0, 0, 0xAB];
//! let map = ExtensionMap::new(&[(3, "urn:ietf:params:rtp-hdrext:sdes:mid")],
//!                             &[(1, "urn:ietf:params:rtp-hdrext:sdes:mid")]);
//! let src = RtpHeader::parse(&packet)?;
//! let mut send = [0u8; 1500];
//! let out = &mut send[..packet.len()];
//! out.copy_from_slice(&packet);
//! let mut hdr = src;
//! hdr.set_ssrc(out, 0x5eed);
//! hdr.set_sequence(out, 1000);
//! hdr.set_payload_type(out, 100);
//! rewrite_extensions(out, &hdr, &map)?;
//! assert_eq!(hdr.extensions(out).next(), Some(Ok((1, &[0x55][..]))));
//! assert!(hdr.marker());
//! # Ok::<(), dataplane::rtp::RtpError>(())
//! ```
#![forbid(unsafe_code)]

mod ext;
mod keyframe;
mod rewriter;
mod seq;
#[cfg(test)]
mod tests;
mod vp8;

pub use ext::{
    read_u16_extension, rewrite_extensions, rewrite_extensions_stamping, ExtensionElements,
    ExtensionMap,
};
pub use keyframe::{is_keyframe, VideoCodecKind};
pub use rewriter::{SeqRewriter, MAX_SEQ_JUMP};
pub use seq::SeqExtender;
pub use vp8::Vp8Ids;

use std::ops::Range;

/// Length of the fixed RTP header (without CSRCs).
pub const FIXED_HEADER_LEN: usize = 12;

/// Why a buffer is not a usable RTP packet. Small and `Copy`: built per packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RtpError {
    /// Shorter than the 12-byte fixed header.
    #[error("RTP packet shorter than the fixed header")]
    TooShort,
    /// The version field is not 2.
    #[error("RTP version is not 2")]
    BadVersion,
    /// The CSRC count points past the end of the packet.
    #[error("RTP CSRC list runs past the end of the packet")]
    CsrcOverrun,
    /// The X bit is set but the extension header or its declared length runs past the end.
    #[error("RTP header extension runs past the end of the packet")]
    ExtensionOverrun,
    /// The padding count is zero or larger than the bytes after the header.
    #[error("RTP padding length is invalid")]
    BadPadding,
    /// An RFC 8285 element's length runs past the end of the extension block.
    #[error("RTP header extension element runs past the end of the block")]
    ExtensionElementOverrun,
}

/// The form of the header-extension block, from its 16-bit "defined by profile" field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExtensionProfile {
    /// RFC 8285 one-byte header form (`0xBEDE`).
    OneByte,
    /// RFC 8285 two-byte header form (`0x100X`, the low 4 bits are "appbits").
    TwoByte,
    /// Any other profile value: opaque to us, forwarded untouched.
    Other(u16),
}

impl ExtensionProfile {
    fn from_u16(v: u16) -> Self {
        match v {
            0xBEDE => ExtensionProfile::OneByte,
            v if v & 0xFFF0 == 0x1000 => ExtensionProfile::TwoByte,
            v => ExtensionProfile::Other(v),
        }
    }
}

/// The header-extension block of a packet: its profile and where its elements are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExtensionBlock {
    /// The raw 16-bit profile field.
    pub profile_raw: u16,
    /// Start of the element bytes (just after the 4-byte extension header).
    pub start: usize,
    /// End (exclusive) of the element bytes.
    pub end: usize,
}

impl ExtensionBlock {
    /// The form of the block.
    pub fn profile(&self) -> ExtensionProfile {
        ExtensionProfile::from_u16(self.profile_raw)
    }

    /// Byte range of the elements in the packet buffer.
    pub fn range(&self) -> Range<usize> {
        self.start..self.end
    }
}

/// A parsed RTP header: the fixed fields (copied out, they are tiny) and the offsets of the
/// CSRC list, the extension block, the payload and the padding within the parsed buffer.
///
/// The view does not borrow the buffer, so it can be kept while the same bytes (or a copy of
/// them, e.g. in a send buffer) are rewritten with the `set_*` methods, which update both the
/// bytes and this view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RtpHeader {
    marker: bool,
    payload_type: u8,
    sequence: u16,
    timestamp: u32,
    ssrc: u32,
    csrc_count: u8,
    extension: Option<ExtensionBlock>,
    payload_start: usize,
    payload_end: usize,
    padding: u8,
}

impl RtpHeader {
    /// Parses and validates the header of the RTP packet `buf` (the whole datagram, decrypted).
    ///
    /// Checks version 2, that the CSRC list and the extension block fit, and that the padding
    /// count (if the P bit is set) is at least 1 and fits after the header.
    pub fn parse(buf: &[u8]) -> Result<RtpHeader, RtpError> {
        Self::parse_inner(buf, true)
    }

    /// Parses the header of an SRTP packet, whose header (extensions included) is in the
    /// clear but whose padding count is encrypted: as [`Self::parse`], without reading the
    /// padding (the payload range then ends at the end of the buffer, tag included).
    pub fn parse_sealed(buf: &[u8]) -> Result<RtpHeader, RtpError> {
        Self::parse_inner(buf, false)
    }

    fn parse_inner(buf: &[u8], read_padding: bool) -> Result<RtpHeader, RtpError> {
        if buf.len() < FIXED_HEADER_LEN {
            return Err(RtpError::TooShort);
        }
        let b0 = buf[0];
        if b0 >> 6 != 2 {
            return Err(RtpError::BadVersion);
        }
        let has_padding = read_padding && b0 & 0x20 != 0;
        let has_extension = b0 & 0x10 != 0;
        let csrc_count = b0 & 0x0F;
        let mut pos = FIXED_HEADER_LEN + 4 * usize::from(csrc_count);
        if pos > buf.len() {
            return Err(RtpError::CsrcOverrun);
        }
        let extension = if has_extension {
            let head = buf.get(pos..pos + 4).ok_or(RtpError::ExtensionOverrun)?;
            let profile_raw = u16::from_be_bytes([head[0], head[1]]);
            let words = usize::from(u16::from_be_bytes([head[2], head[3]]));
            let start = pos + 4;
            let end = start + 4 * words;
            if end > buf.len() {
                return Err(RtpError::ExtensionOverrun);
            }
            pos = end;
            Some(ExtensionBlock {
                profile_raw,
                start,
                end,
            })
        } else {
            None
        };
        let mut payload_end = buf.len();
        let mut padding = 0;
        if has_padding {
            padding = buf[buf.len() - 1];
            let pad = usize::from(padding);
            if pad == 0 || pad > buf.len() - pos {
                return Err(RtpError::BadPadding);
            }
            payload_end -= pad;
        }
        Ok(RtpHeader {
            marker: buf[1] & 0x80 != 0,
            payload_type: buf[1] & 0x7F,
            sequence: u16::from_be_bytes([buf[2], buf[3]]),
            timestamp: u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]),
            ssrc: u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]),
            csrc_count,
            extension,
            payload_start: pos,
            payload_end,
            padding,
        })
    }

    /// The 7-bit payload type.
    pub fn payload_type(&self) -> u8 {
        self.payload_type
    }

    /// The marker bit (end of a video frame).
    pub fn marker(&self) -> bool {
        self.marker
    }

    /// The 16-bit sequence number.
    pub fn sequence(&self) -> u16 {
        self.sequence
    }

    /// The RTP timestamp.
    pub fn timestamp(&self) -> u32 {
        self.timestamp
    }

    /// The synchronisation source.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// Number of CSRCs in the header.
    pub fn csrc_count(&self) -> u8 {
        self.csrc_count
    }

    /// The CSRC identifiers, read from `buf` (the parsed packet).
    pub fn csrcs<'a>(&self, buf: &'a [u8]) -> impl Iterator<Item = u32> + 'a {
        let end = FIXED_HEADER_LEN + 4 * usize::from(self.csrc_count);
        buf.get(FIXED_HEADER_LEN..end)
            .unwrap_or(&[])
            .chunks_exact(4)
            .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
    }

    /// The header-extension block, if the X bit is set.
    pub fn extension(&self) -> Option<ExtensionBlock> {
        self.extension
    }

    /// Iterates over the RFC 8285 elements `(id, data)` of the extension block in `buf`.
    /// Empty when there is no block or its profile is neither one-byte nor two-byte.
    pub fn extensions<'a>(&self, buf: &'a [u8]) -> ExtensionElements<'a> {
        ExtensionElements::new(buf, self.extension)
    }

    /// Length of everything before the payload (fixed header, CSRCs, extension block).
    pub fn header_len(&self) -> usize {
        self.payload_start
    }

    /// Byte range of the payload (padding excluded) in the packet buffer.
    pub fn payload_range(&self) -> Range<usize> {
        self.payload_start..self.payload_end
    }

    /// Number of padding bytes at the end of the packet (0 when the P bit is clear).
    pub fn padding_len(&self) -> u8 {
        self.padding
    }

    /// The payload of `buf` (the parsed packet or a copy of it); empty if `buf` is shorter.
    pub fn payload<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        buf.get(self.payload_range()).unwrap_or(&[])
    }

    /// Rewrites the payload type in `buf`, keeping the marker bit.
    ///
    /// # Panics
    /// If `buf` is shorter than 12 bytes, i.e. not the parsed packet nor a copy of it.
    pub fn set_payload_type(&mut self, buf: &mut [u8], pt: u8) {
        buf[1] = (buf[1] & 0x80) | (pt & 0x7F);
        self.payload_type = pt & 0x7F;
    }

    /// Sets or clears the marker bit in `buf`, keeping the payload type.
    ///
    /// # Panics
    /// If `buf` is shorter than 12 bytes, i.e. not the parsed packet nor a copy of it.
    pub fn set_marker(&mut self, buf: &mut [u8], marker: bool) {
        buf[1] = (buf[1] & 0x7F) | (u8::from(marker) << 7);
        self.marker = marker;
    }

    /// Rewrites the sequence number in `buf`.
    ///
    /// # Panics
    /// If `buf` is shorter than 12 bytes, i.e. not the parsed packet nor a copy of it.
    pub fn set_sequence(&mut self, buf: &mut [u8], seq: u16) {
        buf[2..4].copy_from_slice(&seq.to_be_bytes());
        self.sequence = seq;
    }

    /// Rewrites the timestamp in `buf`.
    ///
    /// # Panics
    /// If `buf` is shorter than 12 bytes, i.e. not the parsed packet nor a copy of it.
    pub fn set_timestamp(&mut self, buf: &mut [u8], ts: u32) {
        buf[4..8].copy_from_slice(&ts.to_be_bytes());
        self.timestamp = ts;
    }

    /// Rewrites the SSRC in `buf`.
    ///
    /// # Panics
    /// If `buf` is shorter than 12 bytes, i.e. not the parsed packet nor a copy of it.
    pub fn set_ssrc(&mut self, buf: &mut [u8], ssrc: u32) {
        buf[8..12].copy_from_slice(&ssrc.to_be_bytes());
        self.ssrc = ssrc;
    }
}
