//! Outbound SRTP for `AEAD_AES_128_GCM` sealed in place (RFC 7714 §8), with ring.
//!
//! Owns the outbound SRTP session key and salt of one peer (derived from the master key with
//! the SRTP KDF, RFC 3711 §4.3 / RFC 7714 §11) and the rollover counter of every SSRC it sends.
//! It encrypts the payload of a plain RTP packet in the caller's buffer and appends the tag:
//! no allocation once the buffer has the capacity. It never decrypts (rtc-srtp does), never
//! touches SRTCP (rtc-srtp does), never reads the clock.

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM};
use rtc_srtp::crypto::{BlockCipherAlgorithm, RTCCrypto};

use super::SrtpError;

/// Master and session key length of `AEAD_AES_128_GCM`.
const KEY_LEN: usize = 16;
/// Master and session salt length of `AEAD_AES_128_GCM`.
const SALT_LEN: usize = 12;
/// The authentication tag appended to every packet.
pub(super) const TAG_LEN: usize = 16;
/// SRTP KDF labels (RFC 3711 §4.3.2).
const LABEL_SRTP_ENCRYPTION: u8 = 0x00;
const LABEL_SRTP_SALT: u8 = 0x02;
/// RFC 7714 §8.1 (via RFC 3711 §9.2): at most 2^48 packets per key.
const MAX_INDEX: u64 = 1 << 48;

/// The SRTP key derivation function with the AES-CM PRF and a key derivation rate of 0
/// (RFC 3711 §4.3.1, §4.3.3): `out.len()` bytes of AES-CTR keystream under the master key,
/// starting from (master salt ⊕ label at byte 7) · 2^16.
pub(super) fn kdf(
    crypto: &dyn RTCCrypto,
    master_key: &[u8; KEY_LEN],
    master_salt: &[u8],
    label: u8,
    out: &mut [u8],
) -> Result<(), SrtpError> {
    let mut x = [0u8; 16];
    let salt = master_salt.get(..14.min(master_salt.len())).unwrap_or(&[]);
    x[..salt.len()].copy_from_slice(salt);
    x[7] ^= label;
    for (i, chunk) in out.chunks_mut(16).enumerate() {
        let mut block = x;
        let counter = u16::try_from(i).map_err(|_| SrtpError::Keys)?;
        block[14..].copy_from_slice(&counter.to_be_bytes());
        crypto
            .block_encrypt(BlockCipherAlgorithm::Aes128, master_key, &mut block)
            .map_err(|_| SrtpError::Crypto)?;
        chunk.copy_from_slice(&block[..chunk.len()]);
    }
    Ok(())
}

/// SSRCs one outbound session can send (a subscriber sends two or three).
const MAX_SSRCS: usize = 8;

/// The highest packet index sent on one SSRC (RFC 3711 §3.3.1: ROC · 2^16 + SEQ).
#[derive(Clone, Copy, Debug, Default)]
struct SsrcIndex {
    ssrc: u32,
    highest: u64,
}

impl SsrcIndex {
    /// The index of `seq`: the one nearest to the highest so far (RFC 3711 Appendix A), so a
    /// reordered packet from before a wrap keeps the old ROC. Advances the highest index.
    fn index_of(&mut self, seq: u16) -> u64 {
        let base = self.highest & !0xFFFF;
        let mut guess = base | u64::from(seq);
        if guess > self.highest && guess - self.highest > 0x8000 && base > 0 {
            guess -= 0x1_0000;
        } else if guess < self.highest && self.highest - guess > 0x8000 {
            guess += 0x1_0000;
        }
        self.highest = self.highest.max(guess);
        guess
    }
}

/// The outbound half of an `AEAD_AES_128_GCM` SRTP session.
pub(super) struct GcmOutbound {
    key: LessSafeKey,
    salt: [u8; SALT_LEN],
    /// One entry per SSRC sent, the first `ssrc_count` in use: a linear scan is cheapest, and
    /// kept inline (not behind a pointer) because a fan-out touches many sessions per packet
    /// and each pointer chase is a likely cache miss.
    ssrcs: [SsrcIndex; MAX_SSRCS],
    ssrc_count: usize,
}

impl GcmOutbound {
    /// Derives the SRTP session key and salt from our master key and salt.
    pub(super) fn new(
        crypto: &dyn RTCCrypto,
        master_key: &[u8],
        master_salt: &[u8],
    ) -> Result<Self, SrtpError> {
        let master_key: &[u8; KEY_LEN] = master_key.try_into().map_err(|_| SrtpError::Keys)?;
        if master_salt.len() != SALT_LEN {
            return Err(SrtpError::Keys);
        }
        let mut session_key = [0u8; KEY_LEN];
        let mut salt = [0u8; SALT_LEN];
        kdf(
            crypto,
            master_key,
            master_salt,
            LABEL_SRTP_ENCRYPTION,
            &mut session_key,
        )?;
        kdf(crypto, master_key, master_salt, LABEL_SRTP_SALT, &mut salt)?;
        let unbound = UnboundKey::new(&AES_128_GCM, &session_key).map_err(|_| SrtpError::Keys)?;
        session_key.fill(0);
        Ok(Self {
            key: LessSafeKey::new(unbound),
            salt,
            ssrcs: [SsrcIndex::default(); MAX_SSRCS],
            ssrc_count: 0,
        })
    }

    /// Encrypts the plain RTP packet in `buf` in place and appends the tag. `buf` grows by
    /// [`TAG_LEN`] bytes (no allocation if its capacity allows). On error `buf` is unchanged.
    pub(super) fn seal(&mut self, buf: &mut Vec<u8>) -> Result<(), SrtpError> {
        let header_len = rtp_header_len(buf)?;
        let seq = u16::from_be_bytes([buf[2], buf[3]]);
        let ssrc = u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]);
        let index = self.index_of(ssrc, seq)?;
        // RFC 7714 §8.1: IV = (0^16 || SSRC || ROC || SEQ) XOR salt; ROC || SEQ is the index.
        let mut iv = [0u8; 12];
        iv[2..6].copy_from_slice(&ssrc.to_be_bytes());
        iv[6..].copy_from_slice(&index.to_be_bytes()[2..]);
        for (v, s) in iv.iter_mut().zip(self.salt) {
            *v ^= s;
        }
        let (header, payload) = buf.split_at_mut(header_len);
        let tag = self
            .key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(iv),
                Aad::from(&*header),
                payload,
            )
            .map_err(|_| SrtpError::Crypto)?;
        buf.extend_from_slice(tag.as_ref());
        Ok(())
    }

    fn index_of(&mut self, ssrc: u32, seq: u16) -> Result<u64, SrtpError> {
        let in_use = &mut self.ssrcs[..self.ssrc_count];
        let index = match in_use.iter_mut().find(|s| s.ssrc == ssrc) {
            Some(s) => s.index_of(seq),
            None => {
                let slot = self
                    .ssrcs
                    .get_mut(self.ssrc_count)
                    .ok_or(SrtpError::TooManySsrcs)?;
                *slot = SsrcIndex {
                    ssrc,
                    highest: u64::from(seq),
                };
                self.ssrc_count += 1;
                u64::from(seq)
            }
        };
        if index >= MAX_INDEX {
            return Err(SrtpError::Exhausted);
        }
        Ok(index)
    }
}

/// Length of the RTP header including CSRCs and the extension block: the AAD (RFC 7714 §8.2).
fn rtp_header_len(buf: &[u8]) -> Result<usize, SrtpError> {
    let first = *buf.first().ok_or(SrtpError::Malformed)?;
    if first >> 6 != 2 || buf.len() < 12 {
        return Err(SrtpError::Malformed);
    }
    let mut len = 12 + 4 * usize::from(first & 0x0F);
    if first & 0x10 != 0 {
        let ext = buf.get(len + 2..len + 4).ok_or(SrtpError::Malformed)?;
        len += 4 + 4 * usize::from(u16::from_be_bytes([ext[0], ext[1]]));
    }
    if len > buf.len() {
        return Err(SrtpError::Malformed);
    }
    Ok(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_follows_wraps_and_keeps_the_old_roc_for_late_packets() {
        let mut s = SsrcIndex {
            ssrc: 1,
            highest: 0xFFF0,
        };
        assert_eq!(s.index_of(0xFFF5), 0xFFF5);
        assert_eq!(s.index_of(3), 0x1_0003);
        assert_eq!(
            s.index_of(0xFFFE),
            0xFFFE,
            "late packet from before the wrap"
        );
        assert_eq!(s.index_of(4), 0x1_0004);
        // Before any wrap, a packet "behind" the start cannot go below ROC 0.
        let mut s = SsrcIndex {
            ssrc: 1,
            highest: 5,
        };
        assert_eq!(s.index_of(0xFFFF), 0xFFFF);
    }

    #[test]
    fn header_length_covers_csrcs_and_extensions_and_rejects_truncation() {
        let mut p = vec![0x90, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1];
        p.extend_from_slice(&[0xBE, 0xDE, 0, 1, 0x10, 0xAA, 0, 0]);
        assert_eq!(rtp_header_len(&p), Ok(20));
        assert_eq!(rtp_header_len(&p[..17]), Err(SrtpError::Malformed));
        p[0] = 0x81;
        assert_eq!(rtp_header_len(&p), Ok(16));
        assert_eq!(rtp_header_len(&[0x80; 11]), Err(SrtpError::Malformed));
        assert_eq!(rtp_header_len(&[]), Err(SrtpError::Malformed));
        assert_eq!(rtp_header_len(&[0x40; 20]), Err(SrtpError::Malformed));
    }
}
