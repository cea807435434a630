//! DTLS that turns into SRTP: the part of a WebRTC transport that the passive (browser-facing)
//! and the active (relay) roles share. Hands the DTLS flights to the owner to send, and
//! installs the SRTP session once the handshake completes.
//!
//! Sans-IO; owns no ICE state (the owner decides which addresses may reach it).

use crate::api::CloseReason;
use crate::dtls::{DtlsEvent, DtlsSession};
use crate::srtp::SrtpSession;
use crate::transmit::Transmit;

/// What a drain changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The handshake completed and SRTP is ready.
    Connected,
    /// The handshake failed, key export failed, or the peer closed.
    Failed(CloseReason),
}

/// A DTLS session and, once connected, its SRTP session.
pub(crate) struct DtlsSrtp {
    dtls: DtlsSession,
    srtp: Option<SrtpSession>,
}

impl DtlsSrtp {
    pub(crate) fn new(dtls: DtlsSession) -> Self {
        Self { dtls, srtp: None }
    }

    /// The DTLS session, for input and timers.
    pub(crate) fn dtls(&mut self) -> &mut DtlsSession {
        &mut self.dtls
    }

    /// The DTLS session, read-only.
    pub(crate) fn dtls_ref(&self) -> &DtlsSession {
        &self.dtls
    }

    /// The SRTP session once the handshake completed.
    pub(crate) fn srtp(&mut self) -> Option<&mut SrtpSession> {
        self.srtp.as_mut()
    }

    /// The negotiated SRTP profile once connected.
    pub(crate) fn profile(&self) -> Option<crate::srtp::SrtpProfile> {
        self.srtp.as_ref().map(SrtpSession::profile)
    }

    /// True once SRTP keys are installed.
    pub(crate) fn is_ready(&self) -> bool {
        self.srtp.is_some()
    }

    /// Applies the DTLS session's events. Call after every DTLS input or timeout.
    pub(crate) fn drain(&mut self) -> Option<Outcome> {
        let mut outcome = None;
        while let Some(ev) = self.dtls.poll_event() {
            outcome = Some(match ev {
                DtlsEvent::Connected(keys) => match SrtpSession::new(&keys) {
                    Ok(s) => {
                        self.srtp = Some(s);
                        Outcome::Connected
                    }
                    Err(_) => Outcome::Failed(CloseReason::DtlsError),
                },
                DtlsEvent::Closed => Outcome::Failed(CloseReason::PeerClosed),
            });
            if matches!(outcome, Some(Outcome::Failed(_))) {
                break;
            }
        }
        outcome
    }

    /// Copies the DTLS session's next datagram into `out`.
    pub(crate) fn pop_transmit(&mut self, out: &mut [u8]) -> Option<Transmit> {
        while let Some((dst, bytes)) = self.dtls.poll_transmit() {
            // rtc-dtls fragments to its MTU, so a datagram larger than `out` is never queued.
            if let Some(slot) = out.get_mut(..bytes.len()) {
                slot.copy_from_slice(&bytes);
                return Some(Transmit {
                    dst,
                    len: bytes.len(),
                });
            }
        }
        None
    }
}
