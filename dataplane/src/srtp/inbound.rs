//! The inbound guard of an SRTP session: which SSRCs the inbound `rtc-srtp` context may keep
//! state for.
//!
//! `rtc-srtp` creates per-SSRC state (rollover counter, replay window) for every SSRC it is
//! handed, *before* it checks the packet's tag: a peer — or anyone spoofing its address — could
//! make it grow without bound with forged packets of fresh SSRCs. So the inbound context only
//! ever sees SSRCs whose packets authenticated: a packet of a new SSRC is first verified by a
//! separate probe context, and only then is its SSRC admitted. At most [`MAX_INBOUND_SSRCS`]
//! SSRCs are admitted per direction (SRTP, SRTCP); the probe context is rebuilt from the keys
//! after [`PROBE_PACKETS`] packets, so its own state stays bounded too.
//!
//! Owns the admitted SSRC sets and the probe; the inbound context and the decision which SSRCs
//! a peer's role wants are not its business.

#![forbid(unsafe_code)]

use std::sync::Arc;

use rtc_srtp::context::Context;
use rtc_srtp::crypto::RTCCryptoProvider;
use rtc_srtp::protection_profile::ProtectionProfile;

use super::SrtpError;

/// SSRCs one session admits per direction (SRTP, SRTCP). A publisher sends at most audio,
/// three video layers and their RTX streams (7), and its RTCP comes from those and one
/// receiver SSRC; a viewer sends RTCP from one or two.
pub const MAX_INBOUND_SSRCS: usize = 16;
/// Packets of new SSRCs one probe context verifies before it is rebuilt (it keeps state for
/// each SSRC it saw, like any context).
pub const PROBE_PACKETS: usize = 8;

/// A small set of SSRCs, inline: a linear scan of a few words is the cheapest lookup, and the
/// hot path asks once per packet.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct SsrcSet {
    ssrcs: [u32; MAX_INBOUND_SSRCS],
    len: usize,
}

impl SsrcSet {
    pub(super) fn contains(&self, ssrc: u32) -> bool {
        self.ssrcs[..self.len].contains(&ssrc)
    }

    pub(super) fn is_full(&self) -> bool {
        self.len == MAX_INBOUND_SSRCS
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Adds `ssrc` (the caller checked it is new and the set is not full).
    fn insert(&mut self, ssrc: u32) {
        if let Some(slot) = self.ssrcs.get_mut(self.len) {
            *slot = ssrc;
            self.len += 1;
        }
    }
}

/// The peer's master key and salt, and the probe context built from them when needed.
pub(super) struct InboundGuard {
    profile: ProtectionProfile,
    master_key: Box<[u8]>,
    master_salt: Box<[u8]>,
    /// The probe context and how many packets it verified.
    probe: Option<(Box<Context>, usize)>,
    provider: Option<Arc<dyn RTCCryptoProvider>>,
    pub(super) rtp: SsrcSet,
    pub(super) rtcp: SsrcSet,
}

/// Which half of the protocol a packet belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Direction {
    Rtp,
    Rtcp,
}

impl InboundGuard {
    pub(super) fn new(profile: ProtectionProfile, master_key: &[u8], master_salt: &[u8]) -> Self {
        Self {
            profile,
            master_key: master_key.into(),
            master_salt: master_salt.into(),
            probe: None,
            provider: None,
            rtp: SsrcSet::default(),
            rtcp: SsrcSet::default(),
        }
    }

    /// Whether the inbound context may see `packet` of `ssrc`: its SSRC was admitted before,
    /// or it is new, there is room, and the packet authenticates (then it is admitted).
    pub(super) fn admit(
        &mut self,
        direction: Direction,
        ssrc: u32,
        packet: &[u8],
    ) -> Result<(), SrtpError> {
        let set = match direction {
            Direction::Rtp => &self.rtp,
            Direction::Rtcp => &self.rtcp,
        };
        if set.contains(ssrc) {
            return Ok(());
        }
        if set.is_full() {
            return Err(SrtpError::TooManySsrcs);
        }
        self.verify(direction, packet)?;
        match direction {
            Direction::Rtp => self.rtp.insert(ssrc),
            Direction::Rtcp => self.rtcp.insert(ssrc),
        }
        Ok(())
    }

    /// Authenticates `packet` with the probe context (built, or rebuilt once it verified
    /// [`PROBE_PACKETS`] packets).
    fn verify(&mut self, direction: Direction, packet: &[u8]) -> Result<(), SrtpError> {
        let (ctx, used) = match &mut self.probe {
            Some(probe) => probe,
            None => {
                let provider = match &self.provider {
                    Some(p) => p.clone(),
                    None => rtc_srtp::crypto::default_provider().map_err(|_| SrtpError::Crypto)?,
                };
                let ctx = Context::new(
                    &self.master_key,
                    &self.master_salt,
                    self.profile,
                    None,
                    None,
                    provider.crypto(),
                )
                .map_err(|e| SrtpError::from_crate(&e))?;
                self.provider = Some(provider);
                self.probe.insert((Box::new(ctx), 0))
            }
        };
        *used += 1;
        let verified = match direction {
            Direction::Rtp => ctx.decrypt_rtp(packet).map(drop),
            Direction::Rtcp => ctx.decrypt_rtcp(packet).map(drop),
        };
        if *used >= PROBE_PACKETS {
            self.probe = None;
        }
        verified.map_err(|e| SrtpError::from_crate(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_holds_its_capacity_and_says_when_full() {
        let mut set = SsrcSet::default();
        for ssrc in 0..MAX_INBOUND_SSRCS as u32 {
            assert!(!set.is_full());
            set.insert(ssrc * 7);
        }
        assert!(set.is_full());
        assert_eq!(set.len(), MAX_INBOUND_SSRCS);
        assert!(set.contains(7) && !set.contains(8));
        set.insert(99);
        assert!(!set.contains(99), "a full set takes nothing more");
    }
}
