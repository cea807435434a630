//! VP8 picture ids owned by the SFU, per viewer: the payload descriptor (RFC 7741 §4.2) numbers
//! frames with a picture id and, with temporal layers, a TL0PICIDX. Each simulcast layer has
//! its own numbering, so a viewer switched to another layer would see them jump — and a
//! receiver drops frames whose picture id is "older" than one it decoded, freezing the picture
//! until the new layer's ids catch up. Like the sequence numbers ([`super::SeqRewriter`]), the
//! ids a viewer sees go on from the last one it got: an offset per id, changed at a switch.
//!
//! In place on the payload, no allocation; a payload without the fields is left as is.

#![forbid(unsafe_code)]

/// Where the ids sit in a VP8 payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Fields {
    /// Offset of the picture id and whether it is the 15-bit form.
    picture_id: Option<(usize, bool)>,
    /// Offset of TL0PICIDX.
    tl0: Option<usize>,
}

fn fields(payload: &[u8]) -> Option<Fields> {
    let b0 = *payload.first()?;
    if b0 & 0x80 == 0 {
        return Some(Fields {
            picture_id: None,
            tl0: None,
        });
    }
    let x = *payload.get(1)?;
    let mut pos = 2;
    let mut picture_id = None;
    if x & 0x80 != 0 {
        let long = payload.get(pos)? & 0x80 != 0;
        if long {
            payload.get(pos + 1)?;
        }
        picture_id = Some((pos, long));
        pos += if long { 2 } else { 1 };
    }
    let tl0 = match x & 0x40 {
        0 => None,
        _ => {
            payload.get(pos)?;
            Some(pos)
        }
    };
    Some(Fields { picture_id, tl0 })
}

fn read_pid(payload: &[u8], (at, long): (usize, bool)) -> u16 {
    match long {
        true => u16::from_be_bytes([payload[at] & 0x7F, payload[at + 1]]),
        false => u16::from(payload[at] & 0x7F),
    }
}

fn write_pid(payload: &mut [u8], (at, long): (usize, bool), pid: u16) {
    match long {
        true => {
            payload[at] = 0x80 | ((pid >> 8) as u8 & 0x7F);
            payload[at + 1] = pid as u8;
        }
        false => payload[at] = pid as u8 & 0x7F,
    }
}

/// The picture-id mapping of one viewer's VP8 stream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Vp8Ids {
    /// Inbound minus outbound picture id (mod 2^15) and TL0PICIDX (mod 2^8).
    pid_offset: u16,
    tl0_offset: u8,
    /// The last outbound ids.
    last_pid: Option<u16>,
    last_tl0: Option<u8>,
    /// The next packet starts another layer's numbering.
    switching: bool,
}

impl Vp8Ids {
    /// The next packet rewritten comes from another simulcast layer: its ids go on from the
    /// last ones sent.
    pub fn switch_source(&mut self) {
        self.switching = self.last_pid.is_some() || self.last_tl0.is_some();
    }

    /// Rewrites the ids of a forwarded packet's VP8 `payload` in place.
    pub fn rewrite(&mut self, payload: &mut [u8]) {
        let Some(f) = fields(payload) else {
            return;
        };
        let switching = std::mem::take(&mut self.switching);
        if let Some(at) = f.picture_id {
            let mask = if at.1 { 0x7FFF } else { 0x7F };
            let pid = read_pid(payload, at);
            if switching {
                let next = self.last_pid.map_or(pid, |l| l.wrapping_add(1));
                self.pid_offset = pid.wrapping_sub(next);
            }
            let out = pid.wrapping_sub(self.pid_offset) & mask;
            write_pid(payload, at, out);
            // The newest id sent (a reordered older packet does not move it back).
            let newer = self.last_pid.is_none_or(|l| {
                let d = out.wrapping_sub(l) & mask;
                d != 0 && d < mask / 2
            });
            if newer {
                self.last_pid = Some(out);
            }
        }
        if let Some(at) = f.tl0 {
            let tl0 = payload[at];
            if switching {
                let next = self.last_tl0.map_or(tl0, |l| l.wrapping_add(1));
                self.tl0_offset = tl0.wrapping_sub(next);
            }
            let out = tl0.wrapping_sub(self.tl0_offset);
            payload[at] = out;
            if self
                .last_tl0
                .is_none_or(|l| (out.wrapping_sub(l) as i8) > 0)
            {
                self.last_tl0 = Some(out);
            }
        }
    }

    /// Rewrites the ids of a retransmitted packet's `payload` under the current mapping.
    pub fn rewrite_retransmission(&self, payload: &mut [u8]) {
        let Some(f) = fields(payload) else {
            return;
        };
        if let Some(at) = f.picture_id {
            let mask = if at.1 { 0x7FFF } else { 0x7F };
            let pid = read_pid(payload, at);
            write_pid(payload, at, pid.wrapping_sub(self.pid_offset) & mask);
        }
        if let Some(at) = f.tl0 {
            payload[at] = payload[at].wrapping_sub(self.tl0_offset);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A VP8 payload descriptor with a 15-bit picture id and TL0PICIDX, then two bytes.
    fn payload(pid: u16, tl0: u8) -> Vec<u8> {
        vec![
            0x90,
            0xC0,
            0x80 | (pid >> 8) as u8,
            pid as u8,
            tl0,
            0x9d,
            0x01,
        ]
    }

    fn ids(p: &[u8]) -> (u16, u8) {
        (u16::from_be_bytes([p[2] & 0x7F, p[3]]), p[4])
    }

    #[test]
    fn ids_pass_unchanged_until_a_switch_then_go_on_from_the_last_sent() {
        let mut v = Vp8Ids::default();
        let mut out = Vec::new();
        for (pid, tl0) in [(1000, 7), (1001, 7), (1002, 8)] {
            let mut p = payload(pid, tl0);
            v.rewrite(&mut p);
            out.push(ids(&p));
        }
        assert_eq!(out, [(1000, 7), (1001, 7), (1002, 8)]);
        // The other layer numbers far behind: the viewer's ids go on.
        v.switch_source();
        let mut p = payload(20, 200);
        v.rewrite(&mut p);
        assert_eq!(ids(&p), (1003, 9));
        let mut p = payload(21, 201);
        v.rewrite(&mut p);
        assert_eq!(ids(&p), (1004, 10));
        assert_eq!(&p[5..], &[0x9d, 0x01], "the rest untouched");
        // A retransmission of the new layer maps alike without moving anything.
        let mut r = payload(20, 200);
        v.rewrite_retransmission(&mut r);
        assert_eq!(ids(&r), (1003, 9));
        let mut p = payload(22, 201);
        v.rewrite(&mut p);
        assert_eq!(ids(&p), (1005, 10));
    }

    #[test]
    fn the_15_bit_id_wraps_and_a_short_descriptor_is_left_alone() {
        let mut v = Vp8Ids::default();
        let mut p = payload(0x7FFF, 0);
        v.rewrite(&mut p);
        v.switch_source();
        let mut p = payload(5, 3);
        v.rewrite(&mut p);
        assert_eq!(ids(&p), (0, 1));
        // No X bit: nothing to rewrite; truncated descriptors are not touched.
        let mut plain = vec![0x10, 0x00, 0x01];
        v.rewrite(&mut plain);
        assert_eq!(plain, [0x10, 0x00, 0x01]);
        let mut cut = vec![0x90, 0xC0, 0x80];
        v.rewrite(&mut cut);
        assert_eq!(cut, [0x90, 0xC0, 0x80]);
    }
}
