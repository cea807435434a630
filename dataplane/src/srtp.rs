//! SRTP/SRTCP protection for one peer connection (RFC 3711, RFC 7714), on top of `rtc-srtp`.
//!
//! Owns the two cryptographic contexts of a peer: an inbound one (the peer's keys, with replay
//! protection) and an outbound one (our keys). The inbound context only sees SSRCs whose
//! packets authenticated, at most [`MAX_INBOUND_SSRCS`] per direction ([`inbound`]): the crate
//! keeps state per SSRC before it checks a tag, and forged packets must not make it grow. Outbound RTP of the `AEAD_AES_128_GCM` profile is
//! sealed in place by our own [`gcm`] path (ring); everything else goes through `rtc-srtp`. Keys come from the DTLS handshake as
//! [`SrtpKeys`]; this module never runs a handshake, parses RTP beyond what the cipher needs,
//! reads the clock or touches sockets.
//!
//! Errors are small `Copy` kinds ([`SrtpError`]) so that a bad packet costs a counter increment,
//! never a formatted string.

#![forbid(unsafe_code)]

use std::fmt;

use bytes::BytesMut;
use rtc_shared::error::Error as CrateError;
use rtc_srtp::config::Config;
use rtc_srtp::context::Context;
use rtc_srtp::option::{srtcp_replay_protection, srtp_replay_protection};
use rtc_srtp::protection_profile::ProtectionProfile;

/// Replay window for inbound SRTP, in packets. Wide, because a publisher may resend old
/// sequence numbers (NACK answered on the media SSRC) and video bursts reorder.
const SRTP_REPLAY_WINDOW: usize = 1024;
/// Replay window for inbound SRTCP, in packets.
const SRTCP_REPLAY_WINDOW: usize = 128;
/// Smallest RTP header (RFC 3550 §5.1).
const RTP_HEADER_LEN: usize = 12;
/// Smallest RTCP header with the sender SSRC.
const RTCP_HEADER_LEN: usize = 8;
/// SRTCP trailer of the HMAC-SHA1-80 profile: E flag + 31-bit index, then the 10-byte tag.
const CM_SRTCP_TRAILER_LEN: usize = 4 + 10;

/// The SRTP protection profiles we negotiate (RFC 5764 §4.1.2, RFC 7714 §14.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SrtpProfile {
    /// `SRTP_AEAD_AES_128_GCM` (0x0007): preferred, about 3x cheaper than HMAC-SHA1.
    AeadAes128Gcm,
    /// `SRTP_AES128_CM_HMAC_SHA1_80` (0x0001): the profile every WebRTC stack supports.
    Aes128CmHmacSha1_80,
}

impl SrtpProfile {
    /// Every profile, in our order of preference.
    pub const ALL: [SrtpProfile; 2] =
        [SrtpProfile::AeadAes128Gcm, SrtpProfile::Aes128CmHmacSha1_80];

    /// The profile's 16-bit identifier in the DTLS `use_srtp` extension.
    pub fn id(self) -> u16 {
        match self {
            SrtpProfile::AeadAes128Gcm => 0x0007,
            SrtpProfile::Aes128CmHmacSha1_80 => 0x0001,
        }
    }

    /// The profile with `use_srtp` identifier `id`, if we support it.
    pub fn from_id(id: u16) -> Option<Self> {
        match id {
            0x0007 => Some(SrtpProfile::AeadAes128Gcm),
            0x0001 => Some(SrtpProfile::Aes128CmHmacSha1_80),
            _ => None,
        }
    }

    /// How many bytes of DTLS keying material the profile needs (two keys and two salts).
    pub fn keying_material_len(self) -> usize {
        let (key, salt) = match self {
            SrtpProfile::AeadAes128Gcm => (16, 12),
            SrtpProfile::Aes128CmHmacSha1_80 => (16, 14),
        };
        2 * (key + salt)
    }

    fn protection_profile(self) -> ProtectionProfile {
        match self {
            SrtpProfile::AeadAes128Gcm => ProtectionProfile::AeadAes128Gcm,
            SrtpProfile::Aes128CmHmacSha1_80 => ProtectionProfile::Aes128CmHmacSha1_80,
        }
    }
}

/// The result of a DTLS-SRTP handshake: everything needed to build an [`SrtpSession`].
#[derive(Clone, PartialEq, Eq)]
pub struct SrtpKeys {
    /// The negotiated protection profile.
    pub profile: SrtpProfile,
    /// `profile.keying_material_len()` bytes exported with the label "EXTRACTOR-dtls_srtp":
    /// client key, server key, client salt, server salt (RFC 5764 §4.2).
    pub keying_material: Vec<u8>,
    /// Whether we were the DTLS client: decides which half of the material is ours.
    pub is_client: bool,
}

impl fmt::Debug for SrtpKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SrtpKeys")
            .field("profile", &self.profile)
            .field("keying_material", &"[redacted]")
            .field("is_client", &self.is_client)
            .finish()
    }
}

/// Why an SRTP operation failed. Small and `Copy`: returned per packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SrtpError {
    /// The authentication tag did not verify (tampered, wrong key or not SRTP at all).
    #[error("SRTP authentication failed")]
    Auth,
    /// The packet was already received (or is older than the replay window).
    #[error("SRTP replayed packet")]
    Replay,
    /// Too short, or the RTP/RTCP header does not parse.
    #[error("malformed SRTP/SRTCP packet")]
    Malformed,
    /// The keying material does not fit the profile.
    #[error("invalid SRTP keying material")]
    Keys,
    /// 2^48 packets were protected with this key: the session must be rekeyed.
    #[error("SRTP key exhausted")]
    Exhausted,
    /// The crypto backend failed (or is unavailable).
    #[error("SRTP crypto backend failure")]
    Crypto,
    /// More SSRCs than one session tracks: outbound 8 (we send two or three), inbound
    /// [`MAX_INBOUND_SSRCS`] per direction.
    #[error("too many SSRCs in one SRTP session")]
    TooManySsrcs,
}

impl SrtpError {
    fn from_crate(err: &CrateError) -> Self {
        match err {
            CrateError::ErrFailedToVerifyAuthTag
            | CrateError::RtpFailedToVerifyAuthTag
            | CrateError::RtcpFailedToVerifyAuthTag => SrtpError::Auth,
            CrateError::SrtpSsrcDuplicated(..) | CrateError::SrtcpSsrcDuplicated(..) => {
                SrtpError::Replay
            }
            CrateError::ErrExceededMaxPackets => SrtpError::Exhausted,
            CrateError::SrtpMasterKeyLength(..) | CrateError::SrtpSaltLength(..) => SrtpError::Keys,
            CrateError::Crypto(_) => SrtpError::Crypto,
            _ => SrtpError::Malformed,
        }
    }
}

/// One peer's SRTP state: an inbound context (replay protection on) and an outbound context.
///
/// Inbound and outbound are independent; the caller decides which packets are RTP and which
/// are RTCP (RFC 5761 demultiplexing) before calling in.
pub struct SrtpSession {
    profile: SrtpProfile,
    inbound: Context,
    outbound: Context,
    /// Outbound RTP for `AEAD_AES_128_GCM`, sealed in place (replaces `outbound` for RTP).
    outbound_gcm: Option<gcm::GcmOutbound>,
    /// The SSRCs `inbound` may keep state for.
    guard: InboundGuard,
}

impl fmt::Debug for SrtpSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SrtpSession")
            .field("profile", &self.profile)
            .finish_non_exhaustive()
    }
}

impl SrtpSession {
    /// Builds both contexts from the keys a DTLS handshake exported.
    pub fn new(keys: &SrtpKeys) -> Result<Self, SrtpError> {
        let mut config = Config {
            profile: keys.profile.protection_profile(),
            ..Default::default()
        };
        if keys.keying_material.len() != config.keying_material_len() {
            return Err(SrtpError::Keys);
        }
        config
            .set_session_keys_from_keying_material(&keys.keying_material, keys.is_client)
            .map_err(|_| SrtpError::Keys)?;
        let provider = rtc_srtp::crypto::default_provider().map_err(|_| SrtpError::Crypto)?;
        let crypto = provider.crypto();
        let session_keys = &config.keys;
        let inbound = Context::new(
            &session_keys.remote_master_key,
            &session_keys.remote_master_salt,
            config.profile,
            Some(srtp_replay_protection(SRTP_REPLAY_WINDOW)),
            Some(srtcp_replay_protection(SRTCP_REPLAY_WINDOW)),
            crypto,
        )
        .map_err(|e| SrtpError::from_crate(&e))?;
        let outbound_gcm = match keys.profile {
            SrtpProfile::AeadAes128Gcm => Some(gcm::GcmOutbound::new(
                crypto,
                &session_keys.local_master_key,
                &session_keys.local_master_salt,
            )?),
            SrtpProfile::Aes128CmHmacSha1_80 => None,
        };
        let outbound = Context::new(
            &session_keys.local_master_key,
            &session_keys.local_master_salt,
            config.profile,
            None,
            None,
            crypto,
        )
        .map_err(|e| SrtpError::from_crate(&e))?;
        let guard = InboundGuard::new(
            config.profile,
            &session_keys.remote_master_key,
            &session_keys.remote_master_salt,
        );
        Ok(Self {
            profile: keys.profile,
            inbound,
            outbound,
            outbound_gcm,
            guard,
        })
    }

    /// The negotiated profile.
    pub fn profile(&self) -> SrtpProfile {
        self.profile
    }

    /// How many SSRCs the inbound context keeps state for: (SRTP, SRTCP).
    pub fn inbound_ssrcs(&self) -> (usize, usize) {
        (self.guard.rtp.len(), self.guard.rtcp.len())
    }

    /// Authenticates and decrypts one SRTP packet from the peer; returns the plain RTP packet.
    /// A packet of an SSRC not seen before is authenticated apart first (see [`inbound`]);
    /// beyond [`MAX_INBOUND_SSRCS`] SSRCs, new ones are refused with
    /// [`SrtpError::TooManySsrcs`].
    pub fn unprotect_rtp(&mut self, buf: &[u8]) -> Result<BytesMut, SrtpError> {
        check_rtp(buf)?;
        let ssrc = u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]);
        self.guard.admit(Direction::Rtp, ssrc, buf)?;
        self.inbound
            .decrypt_rtp(buf)
            .map_err(|e| SrtpError::from_crate(&e))
    }

    /// Encrypts and authenticates one plain RTP packet for the peer.
    pub fn protect_rtp(&mut self, plain: &[u8]) -> Result<BytesMut, SrtpError> {
        check_rtp(plain)?;
        if self.outbound_gcm.is_some() {
            let mut buf = Vec::with_capacity(plain.len() + gcm::TAG_LEN);
            buf.extend_from_slice(plain);
            self.protect_rtp_in_place(&mut buf)?;
            return Ok(BytesMut::from(&buf[..]));
        }
        self.outbound
            .encrypt_rtp(plain)
            .map_err(|e| SrtpError::from_crate(&e))
    }

    /// Like [`Self::protect_rtp`], but writes the SRTP packet into `out` (cleared first), so a
    /// worker can reuse one buffer.
    pub fn protect_rtp_into(&mut self, plain: &[u8], out: &mut Vec<u8>) -> Result<(), SrtpError> {
        out.clear();
        out.extend_from_slice(plain);
        self.protect_rtp_in_place(out)
    }

    /// Turns the plain RTP packet in `buf` into the SRTP packet, in place: the payload is
    /// encrypted where it is and the tag appended. For `AEAD_AES_128_GCM` this allocates
    /// nothing once `buf` has capacity for the tag (16 bytes); the CM profile still goes
    /// through `rtc-srtp` and copies its output back. On error `buf` holds the plain packet.
    pub fn protect_rtp_in_place(&mut self, buf: &mut Vec<u8>) -> Result<(), SrtpError> {
        check_rtp(buf)?;
        if let Some(gcm) = &mut self.outbound_gcm {
            return gcm.seal(buf);
        }
        let protected = self
            .outbound
            .encrypt_rtp(buf)
            .map_err(|e| SrtpError::from_crate(&e))?;
        buf.clear();
        buf.extend_from_slice(&protected);
        Ok(())
    }

    /// Authenticates and decrypts one SRTCP packet from the peer; returns the plain RTCP. New
    /// sender SSRCs are admitted as in [`Self::unprotect_rtp`].
    pub fn unprotect_rtcp(&mut self, buf: &[u8]) -> Result<BytesMut, SrtpError> {
        check_rtcp(buf)?;
        if self.profile == SrtpProfile::Aes128CmHmacSha1_80 {
            // rtc-srtp 0.21.1 returns an SRTCP packet whose E flag is clear without checking its
            // authentication tag. We never negotiate unencrypted SRTCP, so such a packet is
            // forged: refuse it before the crate sees it (and before it touches the replay
            // window).
            let e_flag_at = buf.len().checked_sub(CM_SRTCP_TRAILER_LEN);
            match e_flag_at {
                Some(at) if at >= RTCP_HEADER_LEN && buf[at] & 0x80 != 0 => {}
                Some(at) if at >= RTCP_HEADER_LEN => return Err(SrtpError::Auth),
                _ => return Err(SrtpError::Malformed),
            }
        }
        let ssrc = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]);
        self.guard.admit(Direction::Rtcp, ssrc, buf)?;
        self.inbound
            .decrypt_rtcp(buf)
            .map_err(|e| SrtpError::from_crate(&e))
    }

    /// Encrypts and authenticates one plain (compound) RTCP packet for the peer.
    pub fn protect_rtcp(&mut self, plain: &[u8]) -> Result<BytesMut, SrtpError> {
        check_rtcp(plain)?;
        self.outbound
            .encrypt_rtcp(plain)
            .map_err(|e| SrtpError::from_crate(&e))
    }
}

/// Cheap checks before the crate parses: RTP version 2 and a full fixed header.
fn check_rtp(buf: &[u8]) -> Result<(), SrtpError> {
    if buf.len() < RTP_HEADER_LEN || buf[0] >> 6 != 2 {
        return Err(SrtpError::Malformed);
    }
    Ok(())
}

/// Cheap checks before the crate parses: RTCP version 2 and a header with the sender SSRC.
fn check_rtcp(buf: &[u8]) -> Result<(), SrtpError> {
    if buf.len() < RTCP_HEADER_LEN || buf[0] >> 6 != 2 {
        return Err(SrtpError::Malformed);
    }
    Ok(())
}

mod gcm;
pub mod inbound;

pub use inbound::MAX_INBOUND_SSRCS;
use inbound::{Direction, InboundGuard};

#[cfg(test)]
pub(crate) mod tests;
