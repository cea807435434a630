//! RFC 8285 header-extension elements: reading them and remapping their ids in place.
//!
//! A publisher and a subscriber negotiate their own `a=extmap` ids for the same URIs, so the
//! forwarded packet's ids must be rewritten. The rewrite never changes the length of anything:
//!
//! - an element whose URI the subscriber negotiated gets the subscriber's id written over the
//!   publisher's (the 4-bit ID nibble in the one-byte form, the ID byte in the two-byte form);
//! - an element the subscriber did not negotiate (map entry 0), or whose new id does not fit the
//!   one-byte form (15..=255), is *blanked*: every byte of it (id, length and data) becomes 0.
//!
//! Blanking is valid in both forms: RFC 8285 §4.2 and §4.3 define a 0 byte as a padding byte
//! that "does not supply the ID of an element, nor the length field"; the parser ignores it and
//! moves on to the next byte. The block keeps its 32-bit word count, so the RTP header stays
//! well formed, and the publisher's data of unknown extensions is not leaked to the subscriber.

use super::{ExtensionBlock, ExtensionProfile, RtpError, RtpHeader};

/// Publisher extension id → subscriber extension id, for all 256 possible ids.
/// Entry 0 means "the subscriber did not negotiate this extension": the element is blanked.
#[derive(Clone, PartialEq, Eq)]
pub struct ExtensionMap([u8; 256]);

impl std::fmt::Debug for ExtensionMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pairs = self
            .0
            .iter()
            .enumerate()
            .filter(|(_, to)| **to != 0)
            .map(|(from, to)| (from, *to));
        f.debug_map().entries(pairs).finish()
    }
}

impl Default for ExtensionMap {
    fn default() -> Self {
        ExtensionMap([0; 256])
    }
}

impl ExtensionMap {
    /// Builds the map by matching URIs: for each publisher `(id, uri)` in `from`, the id of the
    /// same URI in `to` (the subscriber's), or 0 when the subscriber did not negotiate it.
    /// Ids 0 in either list are ignored (0 is not a valid extension id).
    pub fn new<A: AsRef<str>, B: AsRef<str>>(from: &[(u8, A)], to: &[(u8, B)]) -> Self {
        let mut map = ExtensionMap::default();
        for (from_id, uri) in from {
            if *from_id == 0 {
                continue;
            }
            let target = to
                .iter()
                .find(|(id, u)| *id != 0 && u.as_ref() == uri.as_ref())
                .map_or(0, |(id, _)| *id);
            map.0[usize::from(*from_id)] = target;
        }
        map
    }

    /// Maps `from` to `to` (0: blank it).
    pub fn set(&mut self, from: u8, to: u8) {
        self.0[usize::from(from)] = to;
    }

    /// The subscriber id for publisher id `from` (0: not negotiated).
    pub fn get(&self, from: u8) -> u8 {
        self.0[usize::from(from)]
    }
}

/// One element's position inside the packet buffer.
#[derive(Clone, Copy, Debug)]
struct Element {
    id: u8,
    /// Offset of the element's first header byte.
    start: usize,
    /// Offset of the first data byte.
    data: usize,
    /// End (exclusive) of the data.
    end: usize,
}

/// Walks the elements of one block; shared by the iterator and the rewrite.
#[derive(Clone, Debug)]
struct Walker {
    pos: usize,
    end: usize,
    two_byte: bool,
    done: bool,
}

impl Walker {
    fn new(block: Option<ExtensionBlock>) -> Self {
        match block {
            Some(b) if !matches!(b.profile(), ExtensionProfile::Other(_)) => Walker {
                pos: b.start,
                end: b.end,
                two_byte: b.profile() == ExtensionProfile::TwoByte,
                done: false,
            },
            _ => Walker {
                pos: 0,
                end: 0,
                two_byte: false,
                done: true,
            },
        }
    }

    fn next(&mut self, buf: &[u8]) -> Option<Result<Element, RtpError>> {
        if self.done {
            return None;
        }
        // Skip padding bytes.
        while self.pos < self.end && buf.get(self.pos) == Some(&0) {
            self.pos += 1;
        }
        if self.pos >= self.end {
            self.done = true;
            return None;
        }
        let start = self.pos;
        let Some(&b) = buf.get(start) else {
            self.done = true;
            return Some(Err(RtpError::ExtensionElementOverrun));
        };
        let (id, data, len) = if self.two_byte {
            let Some(&l) = buf.get(start + 1).filter(|_| start + 1 < self.end) else {
                self.done = true;
                return Some(Err(RtpError::ExtensionElementOverrun));
            };
            (b, start + 2, usize::from(l))
        } else {
            if b >> 4 == 15 {
                // RFC 8285 §4.2: ID 15 stops processing of the whole block.
                self.done = true;
                return None;
            }
            (b >> 4, start + 1, usize::from(b & 0x0F) + 1)
        };
        let end = data + len;
        if end > self.end {
            self.done = true;
            return Some(Err(RtpError::ExtensionElementOverrun));
        }
        self.pos = end;
        Some(Ok(Element {
            id,
            start,
            data,
            end,
        }))
    }
}

/// Iterator over the `(id, data)` elements of an RFC 8285 extension block; yields an error
/// (and then stops) when an element runs past the end of the block.
#[derive(Clone, Debug)]
pub struct ExtensionElements<'a> {
    buf: &'a [u8],
    walker: Walker,
}

impl<'a> ExtensionElements<'a> {
    pub(super) fn new(buf: &'a [u8], block: Option<ExtensionBlock>) -> Self {
        ExtensionElements {
            buf,
            walker: Walker::new(block),
        }
    }
}

impl<'a> Iterator for ExtensionElements<'a> {
    type Item = Result<(u8, &'a [u8]), RtpError>;

    fn next(&mut self) -> Option<Self::Item> {
        let buf = self.buf;
        self.walker.next(buf).map(|r| {
            r.and_then(|e| {
                buf.get(e.data..e.end)
                    .map(|d| (e.id, d))
                    .ok_or(RtpError::ExtensionElementOverrun)
            })
        })
    }
}

/// Rewrites the extension ids of the packet `buf` (parsed as `hdr`) for a subscriber, in place:
/// mapped ids are replaced, unmapped elements are blanked to padding (see the module doc).
///
/// The whole block is validated before anything is written, so on error `buf` is unchanged.
/// A packet without an extension block, or with a profile other than RFC 8285's, is left as is.
pub fn rewrite_extensions(
    buf: &mut [u8],
    hdr: &RtpHeader,
    map: &ExtensionMap,
) -> Result<(), RtpError> {
    rewrite_extensions_stamping(buf, hdr, map, None).map(|_| ())
}

/// [`rewrite_extensions`], and in the same walk writes `value` over the data of the element
/// that ends up with id `id` when it has two data bytes (a subscriber's transport-wide sequence
/// number): `stamp = Some((id, value))`. Returns whether it stamped.
pub fn rewrite_extensions_stamping(
    buf: &mut [u8],
    hdr: &RtpHeader,
    map: &ExtensionMap,
    stamp: Option<(u8, u16)>,
) -> Result<bool, RtpError> {
    let Some(block) = hdr.extension else {
        return Ok(false);
    };
    if buf.len() < block.end {
        return Err(RtpError::ExtensionOverrun);
    }
    let mut check = Walker::new(Some(block));
    while let Some(r) = check.next(buf) {
        r?;
    }
    let two_byte = block.profile() == ExtensionProfile::TwoByte;
    let mut stamped = false;
    let mut walker = Walker::new(Some(block));
    while let Some(Ok(e)) = walker.next(buf) {
        let to = map.get(e.id);
        let fits = if two_byte {
            to != 0
        } else {
            (1..=14).contains(&to)
        };
        if !fits {
            buf[e.start..e.end].fill(0);
        } else if two_byte {
            buf[e.start] = to;
        } else {
            buf[e.start] = (to << 4) | (buf[e.start] & 0x0F);
        }
        let stamp_here = |&(id, _): &(u8, u16)| fits && id == to && e.end - e.data == 2;
        if let Some((_, value)) = stamp.filter(stamp_here).filter(|_| !stamped) {
            buf[e.data..e.end].copy_from_slice(&value.to_be_bytes());
            stamped = true;
        }
    }
    Ok(stamped)
}

/// The two-byte value (big-endian) of the element with id `id`, e.g. the transport-wide
/// sequence number, if the packet `buf` (parsed as `hdr`) carries one.
pub fn read_u16_extension(buf: &[u8], hdr: &RtpHeader, id: u8) -> Option<u16> {
    hdr.extensions(buf)
        .map_while(Result::ok)
        .find(|(i, _)| *i == id)
        .and_then(|(_, d)| {
            Some(u16::from_be_bytes([*d.first()?, *d.get(1)?])).filter(|_| d.len() == 2)
        })
}
