//! The wire format shared by `rtcdn-floor` (the hardware floor of a fan-out) and the load
//! generator's `--target floor` mode: the registration datagrams, the per-subscriber keys and
//! the AES-128-GCM sealing of one RTP packet as SRTP AEAD does it (RFC 7714: clear header as
//! additional data, payload encrypted in place, 16-byte tag appended, nonce from SSRC and
//! sequence number XOR a per-subscriber salt).
//!
//! Owns: that format. Must not touch sockets; sealing and opening work in place on
//! caller-provided buffers and never allocate.

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM};

/// A subscriber sends this to the floor's port to be added to the fan-out. Its first byte
/// (`F`, version bits 01) can never be taken for RTP version 2.
pub const HELLO: &[u8] = b"FLOORSUB";
/// The floor's reply to [`HELLO`], followed by the subscriber's index (u32, big endian).
pub const WELCOME: &[u8] = b"FLOOROK!";
/// Length of the AES-GCM tag appended to each sealed packet.
pub const TAG_LEN: usize = 16;

/// Why a packet could not be sealed or opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FloorError {
    /// Not an RTP version 2 packet with a complete header.
    #[error("not RTP")]
    NotRtp,
    /// The buffer has no room for the tag.
    #[error("no room for the tag")]
    NoRoom,
    /// The tag did not verify.
    #[error("authentication failed")]
    Auth,
}

/// One subscriber's AES-128-GCM key and salt.
pub struct SubscriberKey {
    key: LessSafeKey,
    salt: [u8; 12],
}

impl SubscriberKey {
    /// The key of subscriber `index` (deterministic: the load generator derives the same).
    pub fn for_index(index: u32) -> Self {
        let d = ring::digest::digest(
            &ring::digest::SHA256,
            &[b"rtcdn-floor".as_slice(), &index.to_be_bytes()].concat(),
        );
        let bytes = d.as_ref();
        let key = UnboundKey::new(&AES_128_GCM, &bytes[..16]).expect("16-byte AES key");
        let mut salt = [0; 12];
        salt.copy_from_slice(&bytes[16..28]);
        SubscriberKey {
            key: LessSafeKey::new(key),
            salt,
        }
    }

    fn nonce(&self, rtp: &[u8]) -> Nonce {
        // RFC 7714 §8.1: 00 00 | SSRC | ROC (0 here) | SEQ, XOR salt.
        let mut iv = [0u8; 12];
        iv[2..6].copy_from_slice(&rtp[8..12]);
        iv[10..12].copy_from_slice(&rtp[2..4]);
        for (b, s) in iv.iter_mut().zip(self.salt) {
            *b ^= s;
        }
        Nonce::assume_unique_for_key(iv)
    }

    /// Seals the RTP packet in `buf[..len]` in place and appends the tag; returns the new
    /// length.
    pub fn seal(&self, buf: &mut [u8], len: usize) -> Result<usize, FloorError> {
        let header = rtp_header_len(buf.get(..len).ok_or(FloorError::NoRoom)?)?;
        if buf.len() < len + TAG_LEN {
            return Err(FloorError::NoRoom);
        }
        let nonce = self.nonce(buf);
        let (head, rest) = buf.split_at_mut(header);
        let tag = self
            .key
            .seal_in_place_separate_tag(nonce, Aad::from(&*head), &mut rest[..len - header])
            .map_err(|_| FloorError::NoRoom)?;
        rest[len - header..len - header + TAG_LEN].copy_from_slice(tag.as_ref());
        Ok(len + TAG_LEN)
    }

    /// Opens a sealed packet in place; returns the plain packet's length.
    pub fn open(&self, buf: &mut [u8]) -> Result<usize, FloorError> {
        let header = rtp_header_len(buf)?;
        if buf.len() < header + TAG_LEN {
            return Err(FloorError::Auth);
        }
        let nonce = self.nonce(buf);
        let (head, rest) = buf.split_at_mut(header);
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(&*head), rest)
            .map_err(|_| FloorError::Auth)?;
        Ok(header + plain.len())
    }
}

/// The length of an RTP v2 header (CSRCs and extension included), checked against `pkt`.
pub fn rtp_header_len(pkt: &[u8]) -> Result<usize, FloorError> {
    if pkt.len() < 12 || pkt[0] >> 6 != 2 {
        return Err(FloorError::NotRtp);
    }
    let mut len = 12 + 4 * usize::from(pkt[0] & 0x0f);
    if pkt[0] & 0x10 != 0 {
        let ext = pkt.get(len + 2..len + 4).ok_or(FloorError::NotRtp)?;
        len += 4 + 4 * usize::from(u16::from_be_bytes([ext[0], ext[1]]));
    }
    if len > pkt.len() {
        return Err(FloorError::NotRtp);
    }
    Ok(len)
}

/// The subscriber index in a [`WELCOME`] datagram.
pub fn parse_welcome(datagram: &[u8]) -> Option<u32> {
    let rest = datagram.strip_prefix(WELCOME)?;
    Some(u32::from_be_bytes(rest.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rtp(payload: usize) -> Vec<u8> {
        let mut p = vec![0x80, 96, 0x12, 0x34, 0, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef];
        p.extend((0..payload).map(|i| i as u8));
        p
    }

    #[test]
    fn seal_open_round_trip() {
        let (k0, k1) = (SubscriberKey::for_index(0), SubscriberKey::for_index(1));
        let plain = rtp(100);
        let mut buf = plain.clone();
        buf.resize(plain.len() + TAG_LEN, 0);
        let len = k0.seal(&mut buf, plain.len()).unwrap();
        assert_eq!(len, plain.len() + TAG_LEN);
        assert_eq!(buf[..12], plain[..12], "header stays clear");
        assert_ne!(buf[12..plain.len()], plain[12..], "payload encrypted");
        let mut other = buf.clone();
        assert_eq!(k1.open(&mut other), Err(FloorError::Auth), "other key");
        let n = k0.open(&mut buf).unwrap();
        assert_eq!(buf[..n], plain[..]);
    }

    #[test]
    fn bad_input() {
        let k = SubscriberKey::for_index(7);
        let mut short = [0x80u8; 11];
        assert_eq!(k.seal(&mut short, 11), Err(FloorError::NotRtp));
        let mut no_room = rtp(10);
        let n = no_room.len();
        assert_eq!(k.seal(&mut no_room, n), Err(FloorError::NoRoom));
        assert_eq!(k.seal(&mut no_room, n + 5), Err(FloorError::NoRoom));
        let mut hello = HELLO.to_vec();
        assert_eq!(k.open(&mut hello), Err(FloorError::NotRtp));
        let mut ext = rtp(0);
        ext[0] |= 0x10;
        ext.extend([0xbe, 0xde, 0x00, 0x09]); // claims 36 more bytes
        assert_eq!(rtp_header_len(&ext), Err(FloorError::NotRtp));
        let mut tagless = rtp(4);
        assert_eq!(k.open(&mut tagless), Err(FloorError::Auth));
        assert_eq!(parse_welcome(b"FLOOROK!\0\0\0\x05"), Some(5));
        assert_eq!(parse_welcome(b"FLOOROK!\0\0"), None);
        assert_eq!(parse_welcome(b"nonsense"), None);
    }
}
