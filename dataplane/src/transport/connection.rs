//! One WebRTC transport: ICE, then DTLS, then SRTP, composed as one sans-IO machine with an
//! ICE role and a DTLS role.
//!
//! - [`Connection::passive`]: what a worker runs for browsers and for other nodes' relay legs:
//!   ICE-lite (answers checks, accepts any address that passes one, sends media only to an
//!   address that answered a check of ours or completed DTLS) and the DTLS server.
//! - [`Connection::active`]: what a browser runs, and what our relay leg toward another node,
//!   the test client and the load generator run: the ICE controlling agent toward one remote
//!   candidate and the DTLS client (started once ICE selected the path).
//!
//! Owns the transport state of a single peer and nothing about streams or routing. It never
//! touches sockets or the clock. One input path: [`Connection::handle_input`] takes any
//! datagram (STUN, DTLS, SRTP, SRTCP) and returns what it carried for the application; after
//! every input or timeout the owner drains [`Connection::poll_transmit`] until `None`, then
//! [`Connection::poll_event`] until `None`, then re-arms with [`Connection::poll_timeout`].
//! DTLS and media are only accepted from ICE-validated addresses; media is only sent to the
//! selected address once it has consent (RFC 7675, see [`IceLite`]): a valid check from a new
//! address — which anyone holding the session's credentials can send with a spoofed source —
//! does not redirect the media before that address answered us. [`ConnectionEvent::Connected`]
//! comes once DTLS completed and media has somewhere to go.
//!
//! Deadlines: ICE fails the connection when no valid check arrives within its connect timeout
//! of creation, and when the selected path goes silent for the consent timeout
//! ([`IceConfig`]); between the two, DTLS must complete within the handshake timeout
//! ([`Connection::with_dtls_timeout`], [`DTLS_HANDSHAKE_TIMEOUT`] by default) of ICE's first
//! selection, or the connection fails with [`CloseReason::DtlsTimeout`]. Without it a peer
//! that keeps ICE alive but never starts or finishes its handshake (a ClientHello and then
//! silence: the DTLS server, after its stateless HelloVerifyRequest, waits without end) would
//! hold its state for as long as it sends checks.

#![forbid(unsafe_code)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::BytesMut;

use super::secure::{DtlsSrtp, Outcome};
use crate::api::{CloseReason, Fingerprint};
use crate::demux::{classify, PacketClass};
use crate::dtls::{DtlsCertificate, DtlsError, DtlsSession};
use crate::ice::{IceConfig, IceControlling, IceEvent, IceFailure, IceLite};
use crate::srtp::{SrtpError, SrtpProfile, SrtpSession};
use crate::transmit::{earliest, Transmit};

/// How long DTLS may take after ICE first selected a path, unless
/// [`Connection::with_dtls_timeout`] says otherwise.
pub const DTLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// Our own ICE credentials (from our offer or answer).
#[derive(Clone, Debug)]
pub struct LocalParams {
    pub ufrag: String,
    pub pwd: String,
}

/// What the other side told us in its SDP: its ICE credentials, its certificate fingerprint
/// and (for the active role) the candidate checks go to.
#[derive(Clone, Debug)]
pub struct RemoteParams {
    pub ufrag: String,
    pub pwd: String,
    pub fingerprint: Fingerprint,
    pub candidate: SocketAddr,
}

/// What a [`Connection`] reports to its owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionEvent {
    /// A new address passed an ICE check: DTLS and media are accepted from it.
    Validated(SocketAddr),
    /// A validated address was forgotten (the agent keeps a few, see
    /// [`crate::ice::MAX_VALIDATED`]): nothing is accepted from it any more. Reported before
    /// the [`Self::Validated`] of the address that took its place.
    Forgotten(SocketAddr),
    /// ICE selected (or switched to) this remote address: media goes there.
    Selected(SocketAddr),
    /// DTLS completed and media can go to this address: SRTP is ready.
    Connected(SocketAddr),
    /// The transport failed; the owner removes the peer.
    Failed(CloseReason),
}

/// What one accepted datagram carried.
#[derive(Debug, PartialEq, Eq)]
pub enum Received {
    /// Transport-level input (STUN, DTLS, a keep-alive): nothing for the application.
    Transport,
    /// A decrypted RTP packet.
    Rtp(BytesMut),
    /// A decrypted RTCP compound packet.
    Rtcp(BytesMut),
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
    #[error("not STUN, DTLS, RTP or RTCP")]
    Unknown,
    #[error("connection closed")]
    Closed,
}

/// The ICE role: which agent answers or sends the connectivity checks.
enum Agent {
    /// ICE-lite: every address that passes a check is validated; the first is selected.
    Lite(IceLite),
    /// Controlling: checks go to one remote candidate, which is the only valid address.
    Controlling {
        ice: IceControlling,
        candidate: SocketAddr,
    },
}

impl Agent {
    fn is_validated(&self, addr: SocketAddr) -> bool {
        match self {
            Agent::Lite(ice) => ice.is_validated(addr),
            Agent::Controlling { ice, .. } => ice.selected() == Some(addr),
        }
    }
}

/// ICE + DTLS + SRTP for one peer.
pub struct Connection {
    ice: Agent,
    secure: DtlsSrtp,
    selected: Option<SocketAddr>,
    /// Where media goes (passive role): the selected address once it has consent.
    media_to: Option<SocketAddr>,
    /// The DTLS server waits for the client from the start; the client starts once ICE
    /// selected the path.
    dtls_started: bool,
    /// `Connected` was reported.
    connected: bool,
    closed: bool,
    /// How long DTLS may take after ICE's first selection, and the deadline that set.
    dtls_timeout: Duration,
    dtls_deadline: Option<Instant>,
    events: VecDeque<ConnectionEvent>,
}

impl Connection {
    /// The passive role: ICE-lite with our `local` credentials toward a peer with ICE
    /// credentials `remote_ufrag`/`remote_pwd` (its password keys our consent checks) and
    /// certificate `remote_fingerprint`, DTLS server. `seed` makes the consent checks'
    /// transaction ids repeatable (pass a random one).
    #[allow(clippy::too_many_arguments)]
    pub fn passive(
        local: &LocalParams,
        (remote_ufrag, remote_pwd): (&str, &str),
        remote_fingerprint: Fingerprint,
        cert: &DtlsCertificate,
        profiles: &[SrtpProfile],
        ice: IceConfig,
        seed: u64,
        now: Instant,
    ) -> Result<Self, DtlsError> {
        let ice = IceLite::new(ice, &local.ufrag, &local.pwd, remote_ufrag, now)
            .with_remote_password(remote_pwd, seed);
        let dtls = DtlsSession::server(cert, remote_fingerprint, profiles)?;
        Ok(Self::new(Agent::Lite(ice), dtls, true))
    }

    /// The active role: connectivity checks toward `remote.candidate` as the controlling agent
    /// (`seed` makes its transaction ids and tie-breaker repeatable), then the DTLS client.
    pub fn active(
        local: &LocalParams,
        remote: &RemoteParams,
        cert: &DtlsCertificate,
        profiles: &[SrtpProfile],
        ice: IceConfig,
        seed: u64,
        now: Instant,
    ) -> Result<Self, DtlsError> {
        let agent = IceControlling::new(
            ice,
            &local.ufrag,
            &local.pwd,
            &remote.ufrag,
            &remote.pwd,
            remote.candidate,
            seed,
            now,
        );
        let dtls = DtlsSession::client(cert, remote.fingerprint.clone(), profiles)?;
        let agent = Agent::Controlling {
            ice: agent,
            candidate: remote.candidate,
        };
        Ok(Self::new(agent, dtls, false))
    }

    fn new(ice: Agent, dtls: DtlsSession, dtls_started: bool) -> Self {
        Self {
            ice,
            secure: DtlsSrtp::new(dtls),
            selected: None,
            media_to: None,
            dtls_started,
            connected: false,
            closed: false,
            dtls_timeout: DTLS_HANDSHAKE_TIMEOUT,
            dtls_deadline: None,
            events: VecDeque::new(),
        }
    }

    /// The connection with `timeout` for DTLS to complete once ICE selected a path (see the
    /// module documentation).
    #[must_use]
    pub fn with_dtls_timeout(mut self, timeout: Duration) -> Self {
        self.dtls_timeout = timeout;
        self
    }

    /// Where media goes: (passive role) the ICE-selected address once it has consent, or
    /// (active role) the selected address, the remote candidate before the selection.
    pub fn remote(&self) -> Option<SocketAddr> {
        match &self.ice {
            Agent::Lite(_) => self.media_to,
            Agent::Controlling { candidate, .. } => Some(self.selected.unwrap_or(*candidate)),
        }
    }

    /// True once DTLS completed and SRTP keys are installed (and the transport has not failed).
    pub fn is_connected(&self) -> bool {
        self.secure.is_ready() && !self.closed
    }

    /// Passive role: whether our DTLS server is in a handshake (it took a ClientHello and has
    /// neither completed nor failed). The active role's own client never is.
    pub fn serves_handshake(&self) -> bool {
        matches!(self.ice, Agent::Lite(_))
            && !self.closed
            && self.secure.dtls_ref().is_handshaking()
    }

    /// Passive role: whether our DTLS server still waits for a ClientHello (the next DTLS
    /// datagram would start a handshake).
    pub fn awaits_client_hello(&self) -> bool {
        matches!(self.ice, Agent::Lite(_))
            && !self.closed
            && !self.secure.is_ready()
            && !self.secure.dtls_ref().is_handshaking()
    }

    /// The negotiated SRTP profile once connected.
    pub fn srtp_profile(&self) -> Option<SrtpProfile> {
        self.secure.profile()
    }

    /// Whether `addr` passed an ICE connectivity check.
    pub fn is_validated(&self, addr: SocketAddr) -> bool {
        self.ice.is_validated(addr)
    }

    /// One datagram from `from`, of any kind: STUN goes to ICE, DTLS to the handshake (from a
    /// validated address only), SRTP/SRTCP is decrypted into a new buffer (from a validated
    /// address only, once connected).
    pub fn handle_input(
        &mut self,
        now: Instant,
        from: SocketAddr,
        buf: &[u8],
    ) -> Result<Received, ConnectionError> {
        if self.closed {
            return Err(ConnectionError::Closed);
        }
        if let Agent::Controlling { candidate, .. } = self.ice {
            // The controlling agent talks to exactly one address.
            if from != candidate {
                return Err(ConnectionError::NotValidated);
            }
        }
        match classify(buf) {
            PacketClass::Stun => self.handle_stun(now, from, buf),
            PacketClass::Dtls => self.handle_dtls(now, from, buf),
            PacketClass::Rtp => {
                let srtp = self.media_session(from)?;
                srtp.unprotect_rtp(buf)
                    .map(Received::Rtp)
                    .map_err(ConnectionError::Srtp)
            }
            PacketClass::Rtcp => {
                let srtp = self.media_session(from)?;
                srtp.unprotect_rtcp(buf)
                    .map(Received::Rtcp)
                    .map_err(ConnectionError::Srtp)
            }
            PacketClass::Unknown => Err(ConnectionError::Unknown),
        }
    }

    fn handle_stun(
        &mut self,
        now: Instant,
        from: SocketAddr,
        buf: &[u8],
    ) -> Result<Received, ConnectionError> {
        let (res, validated) = match &mut self.ice {
            Agent::Lite(ice) => {
                let known = ice.is_validated(from);
                let res = ice.handle_input(now, from, buf);
                (res, !known && ice.is_validated(from))
            }
            Agent::Controlling { ice, .. } => (ice.handle_input(now, from, buf), false),
        };
        // The address the new one evicted (if any) is reported forgotten first.
        self.drain_ice(now);
        if validated {
            self.events.push_back(ConnectionEvent::Validated(from));
        }
        res.map(|()| Received::Transport)
            .map_err(|_| ConnectionError::Ice)
    }

    fn handle_dtls(
        &mut self,
        now: Instant,
        from: SocketAddr,
        buf: &[u8],
    ) -> Result<Received, ConnectionError> {
        if !self.ice.is_validated(from) {
            return Err(ConnectionError::NotValidated);
        }
        let res = self.secure.dtls().handle_input(now, from, buf);
        self.drain_dtls(now);
        match res {
            Ok(()) => Ok(Received::Transport),
            Err(e) => {
                // A handshake that cannot complete ends the peer; a stray bad record does not.
                if let Some(reason) = e.close_reason() {
                    self.fail(reason);
                }
                Err(ConnectionError::Dtls)
            }
        }
    }

    /// Encrypts a plain RTP packet for the selected address into a new buffer.
    pub fn protect_rtp(&mut self, plain: &[u8]) -> Result<BytesMut, ConnectionError> {
        self.outbound()?
            .protect_rtp(plain)
            .map_err(ConnectionError::Srtp)
    }

    /// Encrypts the plain RTP packet in `buf` in place for the selected address (see
    /// [`SrtpSession::protect_rtp_in_place`]).
    pub fn protect_rtp_in_place(&mut self, buf: &mut Vec<u8>) -> Result<(), ConnectionError> {
        self.outbound()?
            .protect_rtp_in_place(buf)
            .map_err(ConnectionError::Srtp)
    }

    /// Encrypts a plain RTCP packet for the selected address into a new buffer.
    pub fn protect_rtcp(&mut self, plain: &[u8]) -> Result<BytesMut, ConnectionError> {
        self.outbound()?
            .protect_rtcp(plain)
            .map_err(ConnectionError::Srtp)
    }

    fn outbound(&mut self) -> Result<&mut SrtpSession, ConnectionError> {
        if self.closed {
            return Err(ConnectionError::Closed);
        }
        self.secure.srtp().ok_or(ConnectionError::NotReady)
    }

    fn media_session(&mut self, from: SocketAddr) -> Result<&mut SrtpSession, ConnectionError> {
        if Some(from) != self.selected && !self.ice.is_validated(from) {
            return Err(ConnectionError::NotValidated);
        }
        self.secure.srtp().ok_or(ConnectionError::NotReady)
    }

    /// Ends the connection from our side at `now`: a DTLS close_notify to the peer once DTLS
    /// has started (drain [`Connection::poll_transmit`]), no event. Nothing after it.
    pub fn close(&mut self, now: Instant) {
        if self.closed {
            return;
        }
        self.closed = true;
        if self.dtls_started {
            self.secure.dtls().close(now);
        }
    }

    /// Writes the next ICE message or DTLS flight datagram into `out`.
    #[must_use]
    pub fn poll_transmit(&mut self, out: &mut [u8]) -> Option<Transmit> {
        let ice = match &mut self.ice {
            Agent::Lite(ice) => ice.poll_transmit(out),
            Agent::Controlling { ice, .. } => ice.poll_transmit(out),
        };
        ice.or_else(|| self.secure.pop_transmit(out))
    }

    /// The next event for the owner.
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
        let ice = match &self.ice {
            Agent::Lite(ice) => ice.poll_timeout(),
            Agent::Controlling { ice, .. } => ice.poll_timeout(),
        };
        let dtls = self
            .dtls_started
            .then(|| self.secure.dtls_ref().poll_timeout())
            .flatten();
        earliest(earliest(ice, dtls), self.pending_dtls_deadline())
    }

    /// The handshake deadline while DTLS has not completed.
    fn pending_dtls_deadline(&self) -> Option<Instant> {
        self.dtls_deadline.filter(|_| !self.secure.is_ready())
    }

    /// Runs the ICE and DTLS timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.closed {
            return;
        }
        match &mut self.ice {
            Agent::Lite(ice) => ice.handle_timeout(now),
            Agent::Controlling { ice, .. } => ice.handle_timeout(now),
        }
        self.drain_ice(now);
        if self.pending_dtls_deadline().is_some_and(|t| now >= t) {
            tracing::debug!(remote = ?self.selected, "DTLS did not complete in time");
            self.fail(CloseReason::DtlsTimeout);
        }
        if self.closed || !self.dtls_started {
            return;
        }
        let res = self.secure.dtls().handle_timeout(now);
        self.drain_dtls(now);
        if let Err(e) = res {
            self.fail(e.close_reason().unwrap_or(CloseReason::DtlsError));
        }
    }

    fn drain_ice(&mut self, now: Instant) {
        loop {
            let ev = match &mut self.ice {
                Agent::Lite(ice) => ice.poll_event(),
                Agent::Controlling { ice, .. } => ice.poll_event(),
            };
            let Some(ev) = ev else {
                self.update_path();
                return;
            };
            match ev {
                IceEvent::Selected(addr) => {
                    self.selected = Some(addr);
                    self.dtls_deadline.get_or_insert(now + self.dtls_timeout);
                    self.events.push_back(ConnectionEvent::Selected(addr));
                    if !self.dtls_started {
                        // The DTLS client starts on the path ICE selected.
                        self.dtls_started = true;
                        let res = self.secure.dtls().start(now, addr);
                        self.drain_dtls(now);
                        if res.is_err() {
                            self.fail(CloseReason::DtlsError);
                        }
                    }
                }
                IceEvent::Forgotten(addr) => {
                    self.events.push_back(ConnectionEvent::Forgotten(addr))
                }
                IceEvent::Failed(IceFailure::Timeout) => self.fail(CloseReason::IceTimeout),
                IceEvent::Failed(IceFailure::ConsentExpired) => {
                    self.fail(CloseReason::ConsentExpired)
                }
            }
        }
    }

    fn drain_dtls(&mut self, now: Instant) {
        match self.secure.drain() {
            Some(Outcome::Connected) => {
                // The address DTLS completed with received our flights: it wants our media.
                let dtls_remote = self.secure.dtls_ref().remote();
                if let (Agent::Lite(ice), Some(addr)) = (&mut self.ice, dtls_remote) {
                    ice.confirm(now, addr);
                    self.drain_ice(now);
                }
            }
            Some(Outcome::Failed(reason)) => self.fail(reason),
            None => {}
        }
        self.update_path();
    }

    /// Follows where media may go, and reports `Connected` once DTLS completed and it has
    /// somewhere to go.
    fn update_path(&mut self) {
        if let Agent::Lite(ice) = &self.ice {
            self.media_to = ice.media_target();
        }
        if self.connected || self.closed || !self.secure.is_ready() {
            return;
        }
        if let Some(addr) = self.remote() {
            self.connected = true;
            self.events.push_back(ConnectionEvent::Connected(addr));
        }
    }

    fn fail(&mut self, reason: CloseReason) {
        if !self.closed {
            self.closed = true;
            self.events.push_back(ConnectionEvent::Failed(reason));
        }
    }
}
