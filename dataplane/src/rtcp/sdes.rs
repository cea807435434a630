//! SDES, BYE and APP packets (RFC 3550 §6.5–6.7).

use super::{be32, put32, write_header, RtcpError, PT_BYE, PT_SDES};

/// SDES item type of the canonical name.
pub const SDES_CNAME: u8 = 1;

/// A source description packet (PT 202). Validated when parsed, so its iterator is infallible.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sdes<'a> {
    count: u8,
    body: &'a [u8],
}

impl<'a> Sdes<'a> {
    pub(super) fn parse(count: u8, body: &'a [u8]) -> Result<Self, RtcpError> {
        let mut w = Walker::new(count, body);
        while let Some(item) = w.next() {
            item?;
        }
        Ok(Sdes { count, body })
    }

    /// Every item of every chunk, in wire order.
    pub fn items(&self) -> SdesItems<'a> {
        SdesItems {
            walker: Walker::new(self.count, self.body),
        }
    }

    /// The first CNAME item: `(ssrc, cname)`.
    pub fn cname(&self) -> Option<(u32, &'a [u8])> {
        self.items()
            .find(|i| i.kind == SDES_CNAME)
            .map(|i| (i.ssrc, i.value))
    }
}

/// One SDES item with the SSRC of its chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SdesItem<'a> {
    /// SSRC (or CSRC) the chunk describes.
    pub ssrc: u32,
    /// Item type (1 = CNAME, 2 = NAME, ...).
    pub kind: u8,
    /// Item value (UTF-8 per the RFC, not checked).
    pub value: &'a [u8],
}

/// Iterator over the items of an SDES packet.
#[derive(Clone, Debug)]
pub struct SdesItems<'a> {
    walker: Walker<'a>,
}

impl<'a> Iterator for SdesItems<'a> {
    type Item = SdesItem<'a>;

    fn next(&mut self) -> Option<SdesItem<'a>> {
        // The packet was validated in `Sdes::parse`, so errors cannot occur here.
        self.walker.next()?.ok()
    }
}

/// Walks the chunks and items of an SDES body.
#[derive(Clone, Debug)]
struct Walker<'a> {
    body: &'a [u8],
    pos: usize,
    chunks_left: u8,
    ssrc: u32,
    in_chunk: bool,
    done: bool,
}

impl<'a> Walker<'a> {
    fn new(count: u8, body: &'a [u8]) -> Self {
        Walker {
            body,
            pos: 0,
            chunks_left: count,
            ssrc: 0,
            in_chunk: false,
            done: false,
        }
    }

    fn next(&mut self) -> Option<Result<SdesItem<'a>, RtcpError>> {
        if self.done {
            return None;
        }
        let r = self.step();
        if !matches!(r, Some(Ok(_))) {
            self.done = true;
        }
        r
    }

    fn step(&mut self) -> Option<Result<SdesItem<'a>, RtcpError>> {
        loop {
            if !self.in_chunk {
                if self.chunks_left == 0 {
                    return None;
                }
                if self.body.len() < self.pos + 4 {
                    return Some(Err(RtcpError::Malformed));
                }
                self.ssrc = be32(self.body, self.pos);
                self.pos += 4;
                self.chunks_left -= 1;
                self.in_chunk = true;
            }
            let Some(&kind) = self.body.get(self.pos) else {
                return Some(Err(RtcpError::Malformed));
            };
            if kind == 0 {
                // End of the item list: skip the null octet and pad to a 32-bit boundary.
                self.pos = (self.pos + 4) & !3;
                if self.pos > self.body.len() {
                    return Some(Err(RtcpError::Malformed));
                }
                self.in_chunk = false;
                continue;
            }
            let Some(&len) = self.body.get(self.pos + 1) else {
                return Some(Err(RtcpError::Malformed));
            };
            let start = self.pos + 2;
            let end = start + usize::from(len);
            let Some(value) = self.body.get(start..end) else {
                return Some(Err(RtcpError::Malformed));
            };
            self.pos = end;
            return Some(Ok(SdesItem {
                ssrc: self.ssrc,
                kind,
                value,
            }));
        }
    }
}

/// A goodbye packet (PT 203).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bye<'a> {
    ssrcs: &'a [u8],
    reason: Option<&'a [u8]>,
}

impl<'a> Bye<'a> {
    pub(super) fn parse(count: u8, body: &'a [u8]) -> Result<Self, RtcpError> {
        let n = 4 * usize::from(count);
        let ssrcs = body.get(..n).ok_or(RtcpError::Malformed)?;
        let reason = match body.get(n) {
            None => None,
            Some(&len) => {
                let text = body
                    .get(n + 1..n + 1 + usize::from(len))
                    .ok_or(RtcpError::Malformed)?;
                Some(text)
            }
        };
        Ok(Bye { ssrcs, reason })
    }

    /// The SSRCs that are leaving.
    pub fn ssrcs(&self) -> impl Iterator<Item = u32> + 'a {
        self.ssrcs.chunks_exact(4).map(|c| be32(c, 0))
    }

    /// The optional reason for leaving.
    pub fn reason(&self) -> Option<&'a [u8]> {
        self.reason
    }
}

/// An application-defined packet (PT 204).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct App<'a> {
    /// The 5-bit subtype.
    pub subtype: u8,
    /// SSRC of the sender.
    pub ssrc: u32,
    /// The 4-character name.
    pub name: [u8; 4],
    /// Application-dependent data.
    pub data: &'a [u8],
}

impl<'a> App<'a> {
    pub(super) fn parse(subtype: u8, body: &'a [u8]) -> Result<Self, RtcpError> {
        let name = body.get(4..8).ok_or(RtcpError::Malformed)?;
        Ok(App {
            subtype,
            ssrc: be32(body, 0),
            name: [name[0], name[1], name[2], name[3]],
            data: &body[8..],
        })
    }
}

/// Writes an SDES packet with one chunk carrying only the CNAME of `ssrc` into `out`;
/// returns its length. `cname` is at most 255 bytes.
pub fn write_sdes_cname(out: &mut [u8], ssrc: u32, cname: &[u8]) -> Result<usize, RtcpError> {
    let len = u8::try_from(cname.len()).map_err(|_| RtcpError::TooLarge)?;
    // header + SSRC + type + length + value + at least one null octet, padded to 4.
    let total = (4 + 4 + 2 + cname.len() + 1 + 3) & !3;
    let pkt = write_header(out, 1, PT_SDES, total)?;
    put32(pkt, 4, ssrc);
    pkt[8] = SDES_CNAME;
    pkt[9] = len;
    let end = 10 + cname.len();
    pkt[10..end].copy_from_slice(cname);
    pkt[end..].fill(0);
    Ok(total)
}

/// Writes a BYE for `ssrcs` (at most 31, no reason) into `out`; returns its length.
pub fn write_bye(out: &mut [u8], ssrcs: &[u32]) -> Result<usize, RtcpError> {
    if ssrcs.len() > 31 {
        return Err(RtcpError::TooLarge);
    }
    let total = 4 + 4 * ssrcs.len();
    let pkt = write_header(out, ssrcs.len() as u8, PT_BYE, total)?;
    for (s, c) in ssrcs.iter().zip(pkt[4..].chunks_exact_mut(4)) {
        c.copy_from_slice(&s.to_be_bytes());
    }
    Ok(total)
}
