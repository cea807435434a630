//! One WebRTC transport on a worker: ICE-lite, then DTLS, then SRTP, composed as one sans-IO
//! machine.
//!
//! Owns the transport state of a single peer and nothing about streams or routing. It never
//! touches sockets or the clock: the worker passes datagrams and `now` in and drains
//! [`Connection::poll_transmit`] and [`Connection::poll_event`] after every call.
//! Media (SRTP/SRTCP) is only accepted from, and only sent to, the ICE-selected address.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use bytes::BytesMut;

use crate::api::{CloseReason, PeerSpec};
use crate::dtls::{DtlsCertificate, DtlsError, DtlsSession};
use crate::ice::{IceConfig, IceEvent, IceFailure, IceLite};
use crate::secure::{DtlsSrtp, Outcome};
use crate::srtp::{SrtpError, SrtpProfile, SrtpSession};

/// Where and how long a datagram written into the caller's buffer is (one type for every
/// sans-IO machine of the data plane).
pub use crate::ice::Transmit;

/// What a [`Connection`] reports to its worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionEvent {
    /// ICE selected (or switched to) this remote address.
    Selected(SocketAddr),
    /// DTLS completed on the selected address: SRTP is ready.
    Connected(SocketAddr),
    /// The transport failed; the worker removes the peer.
    Failed(CloseReason),
}

/// Why one datagram was not accepted. Cheap to construct: a counter and a drop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ConnectionError {
    #[error("ICE check rejected")]
    Ice,
    #[error("datagram from an address that did not pass ICE")]
    NotValidated,
    #[error("DTLS record rejected")]
    Dtls,
    #[error("SRTP not ready (DTLS not complete)")]
    NotReady,
    #[error("SRTP: {0}")]
    Srtp(SrtpError),
    #[error("connection closed")]
    Closed,
}

/// ICE-lite + DTLS server + SRTP for one peer.
pub struct Connection {
    ice: IceLite,
    secure: DtlsSrtp,
    selected: Option<SocketAddr>,
    closed: bool,
    events: VecDeque<ConnectionEvent>,
}

impl Connection {
    /// A passive (ICE-lite, DTLS server) transport for `spec`.
    pub fn new(
        spec: &PeerSpec,
        cert: &DtlsCertificate,
        profiles: &[SrtpProfile],
        ice: IceConfig,
        now: Instant,
    ) -> Result<Self, DtlsError> {
        let ice = IceLite::new(
            ice,
            &spec.local_ufrag,
            &spec.local_pwd,
            &spec.remote_ufrag,
            now,
        );
        let dtls = DtlsSession::server(cert, spec.remote_fingerprint.clone(), profiles)?;
        Ok(Self {
            ice,
            secure: DtlsSrtp::new(dtls),
            selected: None,
            closed: false,
            events: VecDeque::new(),
        })
    }

    /// The ICE-selected remote address, where media goes.
    pub fn remote(&self) -> Option<SocketAddr> {
        self.selected
    }

    /// True once DTLS completed and SRTP keys are installed.
    pub fn is_connected(&self) -> bool {
        self.secure.is_ready() && !self.closed
    }

    /// The negotiated SRTP profile once connected.
    pub fn srtp_profile(&self) -> Option<SrtpProfile> {
        self.secure.profile()
    }

    /// Whether `addr` passed an ICE connectivity check.
    pub fn is_validated(&self, addr: SocketAddr) -> bool {
        self.ice.is_validated(addr)
    }

    /// A STUN datagram from `from`.
    pub fn handle_stun(
        &mut self,
        now: Instant,
        from: SocketAddr,
        buf: &[u8],
    ) -> Result<(), ConnectionError> {
        if self.closed {
            return Err(ConnectionError::Closed);
        }
        let res = self.ice.handle_input(now, from, buf);
        self.drain_ice();
        res.map_err(|_| ConnectionError::Ice)
    }

    /// A DTLS datagram from `from`; accepted only from an ICE-validated address.
    pub fn handle_dtls(
        &mut self,
        now: Instant,
        from: SocketAddr,
        buf: &[u8],
    ) -> Result<(), ConnectionError> {
        if self.closed {
            return Err(ConnectionError::Closed);
        }
        if !self.ice.is_validated(from) {
            return Err(ConnectionError::NotValidated);
        }
        let res = self.secure.dtls().handle_input(now, from, buf);
        self.drain_dtls();
        match res {
            Ok(()) => Ok(()),
            Err(e) => {
                // A handshake that cannot complete ends the peer; a stray bad record does not.
                if let Some(reason) = e.close_reason() {
                    self.fail(reason);
                }
                Err(ConnectionError::Dtls)
            }
        }
    }

    /// Decrypts an SRTP packet from `from` into a new buffer.
    pub fn unprotect_rtp(
        &mut self,
        from: SocketAddr,
        buf: &[u8],
    ) -> Result<BytesMut, ConnectionError> {
        let srtp = self.media_session(from)?;
        srtp.unprotect_rtp(buf).map_err(ConnectionError::Srtp)
    }

    /// Decrypts an SRTCP packet from `from` into a new buffer.
    pub fn unprotect_rtcp(
        &mut self,
        from: SocketAddr,
        buf: &[u8],
    ) -> Result<BytesMut, ConnectionError> {
        let srtp = self.media_session(from)?;
        srtp.unprotect_rtcp(buf).map_err(ConnectionError::Srtp)
    }

    /// Encrypts a plain RTP packet for the selected address.
    pub fn protect_rtp(&mut self, plain: &[u8]) -> Result<BytesMut, ConnectionError> {
        let srtp = self.secure.srtp().ok_or(ConnectionError::NotReady)?;
        srtp.protect_rtp(plain).map_err(ConnectionError::Srtp)
    }

    /// Encrypts the plain RTP packet in `buf` in place for the selected address (see
    /// [`SrtpSession::protect_rtp_in_place`]).
    pub fn protect_rtp_in_place(&mut self, buf: &mut Vec<u8>) -> Result<(), ConnectionError> {
        let srtp = self.secure.srtp().ok_or(ConnectionError::NotReady)?;
        srtp.protect_rtp_in_place(buf)
            .map_err(ConnectionError::Srtp)
    }

    /// Encrypts a plain RTCP packet for the selected address.
    pub fn protect_rtcp(&mut self, plain: &[u8]) -> Result<BytesMut, ConnectionError> {
        let srtp = self.secure.srtp().ok_or(ConnectionError::NotReady)?;
        srtp.protect_rtcp(plain).map_err(ConnectionError::Srtp)
    }

    fn media_session(&mut self, from: SocketAddr) -> Result<&mut SrtpSession, ConnectionError> {
        if self.closed {
            return Err(ConnectionError::Closed);
        }
        if Some(from) != self.selected && !self.ice.is_validated(from) {
            return Err(ConnectionError::NotValidated);
        }
        self.secure.srtp().ok_or(ConnectionError::NotReady)
    }

    /// Writes the next ICE response or DTLS flight datagram into `out`.
    #[must_use]
    pub fn poll_transmit(&mut self, out: &mut [u8]) -> Option<Transmit> {
        if let Some(t) = self.ice.poll_transmit(out) {
            return Some(t);
        }
        self.secure.pop_transmit(out)
    }

    /// The next event for the worker.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<ConnectionEvent> {
        self.events.pop_front()
    }

    /// The earliest time [`Connection::handle_timeout`] must be called.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.closed {
            return None;
        }
        crate::earliest(
            self.ice.poll_timeout(),
            self.secure.dtls_ref().poll_timeout(),
        )
    }

    /// Runs the ICE and DTLS timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.closed {
            return;
        }
        self.ice.handle_timeout(now);
        self.drain_ice();
        if self.closed {
            return;
        }
        let res = self.secure.dtls().handle_timeout(now);
        self.drain_dtls();
        if let Err(e) = res {
            self.fail(e.close_reason().unwrap_or(CloseReason::DtlsError));
        }
    }

    fn drain_ice(&mut self) {
        while let Some(ev) = self.ice.poll_event() {
            match ev {
                IceEvent::Selected(addr) => {
                    self.selected = Some(addr);
                    self.events.push_back(ConnectionEvent::Selected(addr));
                }
                IceEvent::Failed(IceFailure::Timeout) => self.fail(CloseReason::IceTimeout),
                IceEvent::Failed(IceFailure::ConsentExpired) => {
                    self.fail(CloseReason::ConsentExpired)
                }
            }
        }
    }

    fn drain_dtls(&mut self) {
        match self.secure.drain() {
            Some(Outcome::Connected) => {
                if let Some(addr) = self.selected {
                    self.events.push_back(ConnectionEvent::Connected(addr));
                }
            }
            Some(Outcome::Failed(reason)) => self.fail(reason),
            None => {}
        }
    }

    fn fail(&mut self, reason: CloseReason) {
        if !self.closed {
            self.closed = true;
            self.events.push_back(ConnectionEvent::Failed(reason));
        }
    }
}
