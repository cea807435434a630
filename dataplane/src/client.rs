//! The active side of a WebRTC transport, as a browser runs it: ICE controlling agent, DTLS
//! client, SRTP. Used by the integration tests' client, the load generator and (later) the
//! origin → edge relay.
//!
//! Sans-IO like [`crate::connection`]: datagrams and `now` come in, transmits and events go
//! out; no sockets, no clock.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use bytes::BytesMut;

use crate::api::{CloseReason, Fingerprint};
use crate::connection::Transmit;
use crate::demux::{classify, PacketClass};
use crate::dtls::{DtlsCertificate, DtlsError, DtlsSession};
use crate::ice::{IceConfig, IceControlling, IceEvent, IceFailure};
use crate::secure::{DtlsSrtp, Outcome};
use crate::srtp::{SrtpError, SrtpProfile};

/// What the remote (answering) side told us in its SDP answer.
#[derive(Clone, Debug)]
pub struct RemoteParams {
    pub ufrag: String,
    pub pwd: String,
    pub fingerprint: Fingerprint,
    pub candidate: SocketAddr,
}

/// Our own ICE credentials (from our offer).
#[derive(Clone, Debug)]
pub struct LocalParams {
    pub ufrag: String,
    pub pwd: String,
}

/// Events of a [`ClientConnection`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientEvent {
    /// ICE succeeded and DTLS completed: media can flow.
    Connected,
    /// The transport failed.
    Failed(CloseReason),
}

/// A datagram received on a connected client, decrypted.
#[derive(Debug)]
pub enum ClientInput {
    /// Transport-level input (STUN, DTLS): nothing for the application.
    None,
    Rtp(BytesMut),
    Rtcp(BytesMut),
}

/// Why an input datagram was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    #[error("datagram from an unexpected address")]
    WrongSource,
    #[error("ICE response rejected")]
    Ice,
    #[error("DTLS record rejected")]
    Dtls,
    #[error("SRTP not ready")]
    NotReady,
    #[error("SRTP: {0}")]
    Srtp(SrtpError),
    #[error("unrecognised datagram")]
    Unknown,
}

/// ICE controlling + DTLS client + SRTP toward one ICE-lite server candidate.
pub struct ClientConnection {
    ice: IceControlling,
    secure: DtlsSrtp,
    remote: SocketAddr,
    dtls_started: bool,
    failed: bool,
    events: VecDeque<ClientEvent>,
}

impl ClientConnection {
    /// Starts connectivity checks toward `remote.candidate`.
    pub fn new(
        local: &LocalParams,
        remote: &RemoteParams,
        cert: &DtlsCertificate,
        profiles: &[SrtpProfile],
        now: Instant,
    ) -> Result<Self, DtlsError> {
        let ice = IceControlling::new(
            IceConfig::default(),
            &local.ufrag,
            &local.pwd,
            &remote.ufrag,
            &remote.pwd,
            remote.candidate,
            rand::random(),
            now,
        );
        Ok(Self {
            ice,
            secure: DtlsSrtp::new(DtlsSession::client(
                cert,
                remote.fingerprint.clone(),
                profiles,
            )?),
            remote: remote.candidate,
            dtls_started: false,
            failed: false,
            events: VecDeque::new(),
        })
    }

    /// True once SRTP keys are installed.
    pub fn is_connected(&self) -> bool {
        self.secure.is_ready() && !self.failed
    }

    /// The negotiated SRTP profile once connected.
    pub fn srtp_profile(&self) -> Option<SrtpProfile> {
        self.secure.profile()
    }

    /// The server address media goes to.
    pub fn remote(&self) -> SocketAddr {
        self.remote
    }

    /// One datagram from the network.
    pub fn handle_input(
        &mut self,
        now: Instant,
        from: SocketAddr,
        buf: &[u8],
    ) -> Result<ClientInput, ClientError> {
        if from != self.remote {
            return Err(ClientError::WrongSource);
        }
        match classify(buf) {
            PacketClass::Stun => {
                let res = self.ice.handle_input(now, from, buf);
                self.drain(now);
                res.map(|_| ClientInput::None).map_err(|_| ClientError::Ice)
            }
            PacketClass::Dtls => {
                let res = self.secure.dtls().handle_input(now, from, buf);
                self.drain(now);
                res.map(|_| ClientInput::None)
                    .map_err(|_| ClientError::Dtls)
            }
            PacketClass::Rtp => {
                let srtp = self.secure.srtp().ok_or(ClientError::NotReady)?;
                srtp.unprotect_rtp(buf)
                    .map(ClientInput::Rtp)
                    .map_err(ClientError::Srtp)
            }
            PacketClass::Rtcp => {
                let srtp = self.secure.srtp().ok_or(ClientError::NotReady)?;
                srtp.unprotect_rtcp(buf)
                    .map(ClientInput::Rtcp)
                    .map_err(ClientError::Srtp)
            }
            PacketClass::Unknown => Err(ClientError::Unknown),
        }
    }

    /// Encrypts a plain RTP packet.
    pub fn protect_rtp(&mut self, plain: &[u8]) -> Result<BytesMut, ClientError> {
        let srtp = self.secure.srtp().ok_or(ClientError::NotReady)?;
        srtp.protect_rtp(plain).map_err(ClientError::Srtp)
    }

    /// Encrypts the plain RTP packet in `buf` in place (see [`SrtpSession::protect_rtp_in_place`]).
    ///
    /// [`SrtpSession::protect_rtp_in_place`]: crate::srtp::SrtpSession::protect_rtp_in_place
    pub fn protect_rtp_in_place(&mut self, buf: &mut Vec<u8>) -> Result<(), ClientError> {
        let srtp = self.secure.srtp().ok_or(ClientError::NotReady)?;
        srtp.protect_rtp_in_place(buf).map_err(ClientError::Srtp)
    }

    /// Encrypts a plain RTCP packet.
    pub fn protect_rtcp(&mut self, plain: &[u8]) -> Result<BytesMut, ClientError> {
        let srtp = self.secure.srtp().ok_or(ClientError::NotReady)?;
        srtp.protect_rtcp(plain).map_err(ClientError::Srtp)
    }

    /// Writes the next check or DTLS datagram into `out`.
    #[must_use]
    pub fn poll_transmit(&mut self, out: &mut [u8]) -> Option<Transmit> {
        if let Some(t) = self.ice.poll_transmit(out) {
            return Some(t);
        }
        self.secure.pop_transmit(out)
    }

    /// The next event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    /// When [`ClientConnection::handle_timeout`] is next due.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.failed {
            return None;
        }
        let dtls = if self.dtls_started {
            self.secure.dtls_ref().poll_timeout()
        } else {
            None
        };
        crate::earliest(self.ice.poll_timeout(), dtls)
    }

    /// Runs the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.failed {
            return;
        }
        self.ice.handle_timeout(now);
        if self.dtls_started && self.secure.dtls().handle_timeout(now).is_err() {
            self.fail(CloseReason::DtlsError);
        }
        self.drain(now);
    }

    fn drain(&mut self, now: Instant) {
        while let Some(ev) = self.ice.poll_event() {
            match ev {
                IceEvent::Selected(addr) => {
                    if !self.dtls_started {
                        self.dtls_started = true;
                        if self.secure.dtls().start(now, addr).is_err() {
                            self.fail(CloseReason::DtlsError);
                        }
                    }
                }
                IceEvent::Failed(IceFailure::Timeout) => self.fail(CloseReason::IceTimeout),
                IceEvent::Failed(IceFailure::ConsentExpired) => {
                    self.fail(CloseReason::ConsentExpired)
                }
            }
        }
        match self.secure.drain() {
            Some(Outcome::Connected) => self.events.push_back(ClientEvent::Connected),
            Some(Outcome::Failed(reason)) => self.fail(reason),
            None => {}
        }
    }

    fn fail(&mut self, reason: CloseReason) {
        if !self.failed {
            self.failed = true;
            self.events.push_back(ClientEvent::Failed(reason));
        }
    }
}
