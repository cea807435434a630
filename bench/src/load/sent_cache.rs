//! A publisher's copies of the video packets it sent lately ([`SentCache`]), so that it can
//! answer a NACK with a plain retransmission (RFC 4585: same SSRC and sequence number) as a
//! browser's sender does.
//!
//! Owns: the copies, one fixed slot per sequence number modulo the capacity, allocated once.
//! Must not touch sockets or SRTP: packets go in and out plain.

/// Packets kept (about 2.5 s of 1 Mbit/s video in 1200-byte packets).
pub const CAPACITY: usize = 256;
/// Largest packet kept.
const SLOT: usize = 1500;

/// The last [`CAPACITY`] plain video packets by sequence number.
#[derive(Debug)]
pub struct SentCache {
    slots: Vec<(Option<u16>, usize, Box<[u8; SLOT]>)>,
}

impl Default for SentCache {
    fn default() -> Self {
        SentCache {
            slots: (0..CAPACITY)
                .map(|_| (None, 0, Box::new([0; SLOT])))
                .collect(),
        }
    }
}

impl SentCache {
    /// Keeps a copy of the plain RTP `packet` (ignored if shorter than a header or too long).
    pub fn store(&mut self, packet: &[u8]) {
        if packet.len() < 12 || packet.len() > SLOT {
            return;
        }
        let seq = u16::from_be_bytes([packet[2], packet[3]]);
        let slot = &mut self.slots[usize::from(seq) % CAPACITY];
        slot.2[..packet.len()].copy_from_slice(packet);
        slot.0 = Some(seq);
        slot.1 = packet.len();
    }

    /// The packet with sequence number `seq`, if still kept.
    pub fn get(&self, seq: u16) -> Option<&[u8]> {
        let slot = &self.slots[usize::from(seq) % CAPACITY];
        (slot.0 == Some(seq)).then(|| &slot.2[..slot.1])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(seq: u16) -> Vec<u8> {
        let mut p = vec![0x80, 96];
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&[0; 8]);
        p.extend_from_slice(&seq.to_le_bytes());
        p
    }

    #[test]
    fn keeps_the_last_packets_by_sequence_number() {
        let mut c = SentCache::default();
        for seq in 65500u16..=65535 {
            c.store(&packet(seq));
        }
        for seq in 0u16..300 {
            c.store(&packet(seq));
        }
        assert_eq!(c.get(299), Some(&packet(299)[..]));
        assert_eq!(c.get(44), Some(&packet(44)[..]), "the oldest kept");
        assert_eq!(c.get(43), None, "overwritten by 299");
        assert_eq!(c.get(65535), None);
        c.store(&[0x80; 5]);
        assert_eq!(c.get(0x8080), None);
    }
}
