//! DTLS-SRTP handshakes (RFC 5764, RFC 8842) for one peer connection, on top of the sans-IO
//! `rtc-dtls` crate.
//!
//! Owns the process certificate ([`DtlsCertificate`]) and one [`DtlsSession`] per peer: the
//! handshake, the check of the peer certificate against the SDP `a=fingerprint`, the SRTP
//! profile choice and the export of the SRTP keying material. It does not touch sockets or the
//! clock (`now` is always passed in), does not run ICE (the caller only hands it datagrams from
//! an ICE-validated address) and does not protect media (that is [`crate::srtp`]).
//!
//! # Driving a session
//!
//! After every `handle_input`, `handle_timeout`, `start` or `close`: drain
//! [`DtlsSession::poll_transmit`] and [`DtlsSession::poll_event`], then re-arm the timer from
//! [`DtlsSession::poll_timeout`]. An error for which [`DtlsError::is_fatal`] holds means the
//! session is dead (still drain its transmits: they may carry an alert); other errors mean
//! "drop this datagram".
//!
//! # Lost flights
//!
//! rtc-dtls 0.21 does not always repeat a flight the peer missed: a server whose client repeats
//! its ClientHello before the server's own retransmission timer fires drops that timer, and a
//! client does not retransmit its last flight. Over a lossy path with reordering about 5 in
//! 100 handshakes stalled (`dataplane/tests/sim_network.rs`). The session therefore keeps a copy
//! of its last flight and sends it again itself when the peer repeats its own flight and the
//! endpoint stays silent (RFC 6347 §4.2.4), and a client resends it after a silence (1 s,
//! doubling, at most 7 times).
//!
//! # What a peer can make it buffer
//!
//! rtc-dtls queues records it cannot read yet without a limit, and keeps stale handshake
//! fragments for the association's life; the session feeds it only what a genuine peer could
//! need (see `budget`) and drops the rest with [`DtlsError::OverBudget`].

#![forbid(unsafe_code)]

mod budget;
mod client_hello;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::fmt::{self, Write as _};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rtc_dtls::config::{
    ClientAuthType, ConfigBuilder, ExtendedMasterSecretType, HandshakeConfig,
    VerifyPeerCertificateFn,
};
use rtc_dtls::crypto::Certificate;
use rtc_dtls::crypto_provider::RTCCryptoProvider;
use rtc_dtls::endpoint::{Endpoint, EndpointEvent};
use rtc_dtls::extension::extension_use_srtp::SrtpProtectionProfile;
use rtc_shared::error::Error as CrateError;
use rtc_shared::TransportProtocol;
use sha2::{Digest, Sha256, Sha384, Sha512};

use self::budget::InputBudget;
use self::client_hello::{ClientHelloSniffer, Sniff};
use crate::api::{CloseReason, Fingerprint};
use crate::srtp::{SrtpKeys, SrtpProfile};

/// The RFC 5764 §4.2 exporter label for SRTP keying material.
const SRTP_EXPORTER_LABEL: &str = "EXTRACTOR-dtls_srtp";
/// Datagrams held while waiting to see the client's `use_srtp` offer.
const MAX_PENDING_DATAGRAMS: usize = 4;
/// How long held ClientHello fragments wait for the rest before we configure blind.
const PENDING_FLUSH: Duration = Duration::from_millis(500);
/// A client resends its last handshake flight after this long without an answer (doubling).
const RESEND_AFTER: Duration = Duration::from_millis(1000);
/// Resends before the client gives the handshake up.
const MAX_RESENDS: u32 = 7;

/// Why a DTLS operation failed. Small and `Copy`; see [`DtlsError::is_fatal`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DtlsError {
    /// Generating the certificate (or loading the crypto backend) failed.
    #[error("DTLS certificate generation failed")]
    Certificate,
    /// The handshake configuration could not be built.
    #[error("DTLS configuration rejected")]
    Config,
    /// The peer's fingerprint uses a hash we do not implement.
    #[error("unsupported fingerprint algorithm")]
    UnsupportedFingerprint,
    /// A client session got input before [`DtlsSession::start`].
    #[error("DTLS client not started")]
    NotStarted,
    /// The datagram came from an address other than the session's peer.
    #[error("DTLS datagram from an unexpected address")]
    WrongRemote,
    /// The datagram is not a sequence of DTLS records (or, before the handshake, no ClientHello).
    #[error("malformed DTLS datagram")]
    Malformed,
    /// Every record of the datagram was beyond what the peer may make the crate buffer
    /// (records for a later epoch before the handshake completed, or handshake records).
    #[error("DTLS records beyond the peer's budget")]
    OverBudget,
    /// The peer's certificate does not match the fingerprint from its SDP.
    #[error("DTLS fingerprint mismatch")]
    FingerprintMismatch,
    /// The peer sent a fatal alert (for example because it rejected our certificate).
    #[error("DTLS fatal alert")]
    Alert,
    /// The handshake failed (bad message, no common cipher suite or SRTP profile, ...).
    #[error("DTLS handshake failed")]
    Handshake,
    /// The retransmission limit was reached without an answer.
    #[error("DTLS handshake timed out")]
    Timeout,
    /// The handshake completed but the SRTP keys could not be exported.
    #[error("DTLS-SRTP key export failed")]
    KeyExport,
    /// The session already ended (closed, or failed earlier).
    #[error("DTLS session closed")]
    Closed,
}

impl DtlsError {
    /// Whether the session is dead after this error (the caller drops the peer).
    pub fn is_fatal(self) -> bool {
        !matches!(
            self,
            DtlsError::NotStarted
                | DtlsError::WrongRemote
                | DtlsError::Malformed
                | DtlsError::OverBudget
        )
    }

    /// The reason to report when this error ends a peer connection; `None` if it does not.
    pub fn close_reason(self) -> Option<CloseReason> {
        match self {
            DtlsError::FingerprintMismatch => Some(CloseReason::DtlsFingerprint),
            DtlsError::Timeout => Some(CloseReason::DtlsTimeout),
            e if e.is_fatal() => Some(CloseReason::DtlsError),
            _ => None,
        }
    }
}

/// What a session reports to its owner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DtlsEvent {
    /// The handshake completed and the peer's fingerprint matched: build the SRTP session.
    Connected(SrtpKeys),
    /// The peer sent close_notify (our reply is queued); the session is over.
    Closed,
}

struct CertificateInner {
    certificate: Certificate,
    provider: Arc<dyn RTCCryptoProvider>,
    sha256: [u8; 32],
}

/// The process's self-signed DTLS certificate (ECDSA P-256). Cheap to clone (an `Arc`).
#[derive(Clone)]
pub struct DtlsCertificate {
    inner: Arc<CertificateInner>,
}

impl fmt::Debug for DtlsCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DtlsCertificate")
            .field("fingerprint", &self.fingerprint_sdp())
            .finish()
    }
}

impl DtlsCertificate {
    /// Generates a fresh self-signed certificate. Done once per process.
    pub fn generate() -> Result<Self, DtlsError> {
        let provider =
            rtc_dtls::crypto_provider::default_provider().map_err(|_| DtlsError::Certificate)?;
        let certificate =
            Certificate::generate_self_signed(vec!["rtcdn".to_owned()], provider.crypto())
                .map_err(|_| DtlsError::Certificate)?;
        let der = certificate
            .certificate
            .first()
            .ok_or(DtlsError::Certificate)?;
        let sha256 = Sha256::digest(der.as_ref()).into();
        Ok(Self {
            inner: Arc::new(CertificateInner {
                certificate,
                provider,
                sha256,
            }),
        })
    }

    /// The SHA-256 fingerprint of the certificate's DER encoding.
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint {
            algorithm: "sha-256".to_owned(),
            digest: self.inner.sha256.to_vec(),
        }
    }

    /// The fingerprint as written after `a=fingerprint:`, e.g. `sha-256 AB:CD:...`.
    pub fn fingerprint_sdp(&self) -> String {
        let mut s = String::with_capacity(8 + 3 * self.inner.sha256.len());
        s.push_str("sha-256 ");
        for (i, b) in self.inner.sha256.iter().enumerate() {
            if i > 0 {
                s.push(':');
            }
            let _ = write!(s, "{b:02X}");
        }
        s
    }
}

/// Hashes `der` with the fingerprint's algorithm; `None` if we do not implement it.
fn fingerprint_digest(algorithm: &str, der: &[u8]) -> Option<Vec<u8>> {
    let digest = match algorithm.to_ascii_lowercase().as_str() {
        "sha-1" => sha1::Sha1::digest(der).to_vec(),
        "sha-256" => Sha256::digest(der).to_vec(),
        "sha-384" => Sha384::digest(der).to_vec(),
        "sha-512" => Sha512::digest(der).to_vec(),
        _ => return None,
    };
    Some(digest)
}

fn srtp_protection_profile(profile: SrtpProfile) -> SrtpProtectionProfile {
    match profile {
        SrtpProfile::AeadAes128Gcm => SrtpProtectionProfile::Srtp_Aead_Aes_128_Gcm,
        SrtpProfile::Aes128CmHmacSha1_80 => SrtpProtectionProfile::Srtp_Aes128_Cm_Hmac_Sha1_80,
    }
}

/// Where a session is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Client: before `start`. Server: before its configuration is chosen from the ClientHello.
    Idle,
    Handshaking,
    Connected,
    /// close_notify sent or received.
    Closed,
    /// A fatal error happened; only the queued transmits remain.
    Failed,
}

/// One DTLS association with one peer, as client or server.
///
/// Sans-IO: feed datagrams with [`Self::handle_input`] and timer expiries with
/// [`Self::handle_timeout`]; after each call drain [`Self::poll_transmit`] and
/// [`Self::poll_event`] and re-read [`Self::poll_timeout`]. The first datagram (server) or
/// [`Self::start`] (client) binds the session to one remote address; datagrams from any other
/// address are refused with [`DtlsError::WrongRemote`].
pub struct DtlsSession {
    is_client: bool,
    certificate: DtlsCertificate,
    /// The profiles we accept, in our order of preference.
    profiles: Vec<SrtpProfile>,
    verify: VerifyPeerCertificateFn,
    /// Set by the certificate callback when the peer's fingerprint did not match.
    mismatch: Arc<AtomicBool>,
    endpoint: Endpoint,
    remote: Option<SocketAddr>,
    phase: Phase,
    /// Server, before configuration: reads the client's `use_srtp` offer.
    sniffer: ClientHelloSniffer,
    /// Server, before configuration: the datagrams held meanwhile, and when the first came.
    pending: Vec<BytesMut>,
    pending_since: Option<Instant>,
    /// The profile set the server was configured with (for tests and diagnostics).
    configured_profiles: Vec<SrtpProfile>,
    events: VecDeque<DtlsEvent>,
    /// Datagrams to send, drained from the endpoint (and our own resends).
    outbox: VecDeque<(SocketAddr, BytesMut)>,
    /// Copies of the datagrams of our last handshake flight, and whether the next datagram
    /// the endpoint sends starts a new one.
    last_flight: Vec<BytesMut>,
    new_flight: bool,
    /// The highest handshake message sequence number the peer sent (epoch 0).
    peer_message_seq: Option<u16>,
    /// Client: when its last flight is resent if nothing came back, and how often it was.
    resend_at: Option<Instant>,
    resends: u32,
    /// What the endpoint was fed of what it would buffer.
    budget: InputBudget,
}

impl fmt::Debug for DtlsSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DtlsSession")
            .field("is_client", &self.is_client)
            .field("remote", &self.remote)
            .field("phase", &self.phase)
            .finish_non_exhaustive()
    }
}

impl DtlsSession {
    /// A server session (the browser is the DTLS client). `profiles` are the SRTP profiles we
    /// accept, in our order of preference; the first one the client offers is chosen.
    pub fn server(
        certificate: &DtlsCertificate,
        remote_fingerprint: Fingerprint,
        profiles: &[SrtpProfile],
    ) -> Result<Self, DtlsError> {
        Self::new(false, certificate, remote_fingerprint, profiles)
    }

    /// A client session (origin→edge relay, test client); call [`Self::start`] to send the
    /// ClientHello. `profiles` are offered in this order.
    pub fn client(
        certificate: &DtlsCertificate,
        remote_fingerprint: Fingerprint,
        profiles: &[SrtpProfile],
    ) -> Result<Self, DtlsError> {
        Self::new(true, certificate, remote_fingerprint, profiles)
    }

    fn new(
        is_client: bool,
        certificate: &DtlsCertificate,
        remote_fingerprint: Fingerprint,
        profiles: &[SrtpProfile],
    ) -> Result<Self, DtlsError> {
        if profiles.is_empty() {
            return Err(DtlsError::Config);
        }
        if fingerprint_digest(&remote_fingerprint.algorithm, &[]).is_none() {
            return Err(DtlsError::UnsupportedFingerprint);
        }
        let mismatch = Arc::new(AtomicBool::new(false));
        let flag = mismatch.clone();
        let verify: VerifyPeerCertificateFn = Arc::new(move |certs, _chains| {
            let matches = certs.first().is_some_and(|der| {
                fingerprint_digest(&remote_fingerprint.algorithm, der).as_deref()
                    == Some(remote_fingerprint.digest.as_slice())
            });
            if matches {
                Ok(())
            } else {
                flag.store(true, Ordering::Relaxed);
                Err(CrateError::Other(
                    "certificate fingerprint mismatch".to_owned(),
                ))
            }
        });
        let local = SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0));
        Ok(Self {
            is_client,
            certificate: certificate.clone(),
            profiles: profiles.to_vec(),
            verify,
            mismatch,
            endpoint: Endpoint::new(local, TransportProtocol::UDP, None),
            remote: None,
            phase: Phase::Idle,
            sniffer: ClientHelloSniffer::default(),
            pending: Vec::new(),
            pending_since: None,
            configured_profiles: Vec::new(),
            events: VecDeque::new(),
            outbox: VecDeque::new(),
            last_flight: Vec::new(),
            new_flight: false,
            peer_message_seq: None,
            resend_at: None,
            resends: 0,
            budget: InputBudget::default(),
        })
    }

    /// Whether we are the DTLS client.
    pub fn is_client(&self) -> bool {
        self.is_client
    }

    /// The peer's address, once bound.
    pub fn remote(&self) -> Option<SocketAddr> {
        self.remote
    }

    /// Records dropped because the peer's budget of what the crate buffers was spent.
    pub fn records_over_budget(&self) -> u64 {
        self.budget.dropped()
    }

    /// Whether a handshake is under way: the server took (the start of) a ClientHello, or the
    /// client started, and it has neither completed nor ended.
    pub fn is_handshaking(&self) -> bool {
        self.remote.is_some() && matches!(self.phase, Phase::Idle | Phase::Handshaking)
    }

    /// Whether the handshake completed and the session is not closed.
    pub fn is_connected(&self) -> bool {
        self.phase == Phase::Connected
    }

    fn config(
        &self,
        profiles: &[SrtpProfile],
        remote: SocketAddr,
    ) -> Result<Arc<HandshakeConfig>, DtlsError> {
        let inner = &self.certificate.inner;
        let mut builder = ConfigBuilder::default()
            .with_crypto_provider(inner.provider.clone())
            .with_certificates(vec![inner.certificate.clone()])
            .with_srtp_protection_profiles(
                profiles
                    .iter()
                    .copied()
                    .map(srtp_protection_profile)
                    .collect(),
            )
            .with_extended_master_secret(ExtendedMasterSecretType::Require)
            // WebRTC authenticates by fingerprint, not by CA chain: the callback checks it.
            .with_insecure_skip_verify(true)
            .with_verify_peer_certificate(Some(self.verify.clone()));
        if !self.is_client {
            builder = builder.with_client_auth(ClientAuthType::RequireAnyClientCert);
        }
        builder
            .build(self.is_client, Some(remote))
            .map(Arc::new)
            .map_err(|e| {
                tracing::debug!(error = %e, "DTLS config rejected");
                DtlsError::Config
            })
    }

    /// Client role: binds the session to `remote` and queues the ClientHello.
    pub fn start(&mut self, now: Instant, remote: SocketAddr) -> Result<(), DtlsError> {
        if !self.is_client || self.phase != Phase::Idle {
            return Err(DtlsError::Config);
        }
        let config = self.config(&self.profiles, remote)?;
        self.new_flight = true;
        self.endpoint
            .connect(now, remote, config, None)
            .map_err(|e| self.fail(&e))?;
        self.remote = Some(remote);
        self.phase = Phase::Handshaking;
        self.resend_at = Some(now + RESEND_AFTER);
        Ok(())
    }

    /// Feeds one datagram from `from` (already demultiplexed as DTLS, RFC 7983).
    pub fn handle_input(
        &mut self,
        now: Instant,
        from: SocketAddr,
        buf: &[u8],
    ) -> Result<(), DtlsError> {
        if matches!(self.phase, Phase::Closed | Phase::Failed) {
            return Err(DtlsError::Closed);
        }
        if self.remote.is_some_and(|remote| remote != from) {
            return Err(DtlsError::WrongRemote);
        }
        if self.is_client && self.phase == Phase::Idle {
            return Err(DtlsError::NotStarted);
        }
        if !client_hello::well_formed_records(buf) {
            return Err(DtlsError::Malformed);
        }
        if self.phase == Phase::Idle {
            return self.sniff(now, from, buf);
        }
        self.read(now, from, BytesMut::from(buf))
    }

    /// Server before configuration: hold ClientHello datagrams until the `use_srtp` offer is
    /// known, then configure the server and replay them.
    fn sniff(&mut self, now: Instant, from: SocketAddr, buf: &[u8]) -> Result<(), DtlsError> {
        let offer = match self.sniffer.push(buf) {
            Sniff::NotClientHello => return Err(DtlsError::Malformed),
            Sniff::Pending => None,
            Sniff::Offered(offer) => Some(Some(offer)),
            Sniff::Absent => Some(None),
        };
        self.remote = Some(from);
        self.pending.push(BytesMut::from(buf));
        self.pending_since.get_or_insert(now);
        match offer {
            Some(offer) => {
                let chosen = self.choose_profiles(offer.as_ref().map(|o| o.ids()));
                self.configure(now, chosen)
            }
            None if self.pending.len() >= MAX_PENDING_DATAGRAMS => {
                self.configure(now, self.profiles.clone())
            }
            None => Ok(()),
        }
    }

    /// The server's profile list: the first of ours the client offers, alone (rtc-dtls would
    /// otherwise follow the client's order); all of ours when the offer is unknown or disjoint.
    fn choose_profiles(&self, offered: Option<&[u16]>) -> Vec<SrtpProfile> {
        let Some(offered) = offered else {
            return self.profiles.clone();
        };
        match self.profiles.iter().find(|p| offered.contains(&p.id())) {
            Some(p) => vec![*p],
            None => self.profiles.clone(),
        }
    }

    fn configure(&mut self, now: Instant, profiles: Vec<SrtpProfile>) -> Result<(), DtlsError> {
        let remote = self.remote.ok_or(DtlsError::Config)?;
        let config = self.config(&profiles, remote)?;
        self.configured_profiles = profiles;
        self.endpoint.set_server_config(Some(config));
        self.phase = Phase::Handshaking;
        self.sniffer = ClientHelloSniffer::default();
        self.pending_since = None;
        for datagram in std::mem::take(&mut self.pending) {
            match self.read(now, remote, datagram) {
                Err(e) if e.is_fatal() => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }

    fn read(&mut self, now: Instant, from: SocketAddr, data: BytesMut) -> Result<(), DtlsError> {
        let completed = matches!(self.phase, Phase::Connected | Phase::Closed);
        let data = self
            .budget
            .admit(data, completed)
            .ok_or(DtlsError::OverBudget)?;
        // A side that sees the other repeat its flight must repeat its own (RFC 6347 §4.2.4):
        // the other side missed it. rtc-dtls 0.21 does not always: a server whose client's
        // repeat arrives before its own retransmission timer fires drops that timer, and a
        // client whose last flight was lost does not retransmit it — the handshake stalls.
        // So the session resends its last flight itself when the endpoint stays silent.
        let seq = handshake_message_seq(&data);
        let repeated = matches!(self.phase, Phase::Handshaking | Phase::Connected)
            && seq.is_some_and(|s| self.peer_message_seq.is_some_and(|max| s <= max));
        if let Some(s) = seq {
            self.peer_message_seq = Some(self.peer_message_seq.map_or(s, |m| m.max(s)));
        }
        self.pull();
        let queued = self.outbox.len();
        self.new_flight = true;
        if self.is_client {
            self.resend_at = Some(now + RESEND_AFTER);
            self.resends = 0;
        }
        let result = self.endpoint.read(now, from, None, data);
        self.pull();
        if repeated && self.outbox.len() == queued {
            for datagram in &self.last_flight {
                self.outbox.push_back((from, datagram.clone()));
            }
        }
        let events = result.map_err(|e| self.fail(&e))?;
        for event in events {
            match event {
                EndpointEvent::HandshakeComplete => self.on_connected(from)?,
                EndpointEvent::PeerClosed => {
                    self.phase = Phase::Closed;
                    self.events.push_back(DtlsEvent::Closed);
                }
                // No data channels: application data is dropped.
                _ => {}
            }
        }
        Ok(())
    }

    fn on_connected(&mut self, remote: SocketAddr) -> Result<(), DtlsError> {
        let keys = self.export_keys(remote);
        match keys {
            Ok(keys) => {
                self.phase = Phase::Connected;
                self.resend_at = None;
                self.events.push_back(DtlsEvent::Connected(keys));
                Ok(())
            }
            Err(e) => {
                self.phase = Phase::Failed;
                Err(e)
            }
        }
    }

    fn export_keys(&self, remote: SocketAddr) -> Result<SrtpKeys, DtlsError> {
        let state = self
            .endpoint
            .get_connection_state(remote)
            .ok_or(DtlsError::KeyExport)?;
        let profile = match state.srtp_protection_profile() {
            SrtpProtectionProfile::Srtp_Aead_Aes_128_Gcm => SrtpProfile::AeadAes128Gcm,
            SrtpProtectionProfile::Srtp_Aes128_Cm_Hmac_Sha1_80 => SrtpProfile::Aes128CmHmacSha1_80,
            _ => return Err(DtlsError::KeyExport),
        };
        if !self.profiles.contains(&profile) {
            return Err(DtlsError::KeyExport);
        }
        let material = state
            .export_keying_material(SRTP_EXPORTER_LABEL, &[], profile.keying_material_len())
            .map_err(|_| DtlsError::KeyExport)?;
        Ok(SrtpKeys {
            profile,
            keying_material: material.as_ref().to_vec(),
            is_client: state.is_client(),
        })
    }

    /// Marks the session failed and classifies the crate's error.
    fn fail(&mut self, err: &CrateError) -> DtlsError {
        self.phase = Phase::Failed;
        let kind = if self.mismatch.load(Ordering::Relaxed) {
            DtlsError::FingerprintMismatch
        } else if matches!(err, CrateError::ErrAlertFatalOrClose) {
            DtlsError::Alert
        } else {
            DtlsError::Handshake
        };
        tracing::debug!(error = %err, ?kind, remote = ?self.remote, "DTLS session failed");
        kind
    }

    /// The next datagram to send and its destination. Drain after every call into the session.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<(SocketAddr, BytesMut)> {
        self.pull();
        self.outbox.pop_front()
    }

    /// Moves the endpoint's datagrams into the outbox, keeping a copy of our last handshake
    /// flight.
    fn pull(&mut self) {
        while let Some(t) = self.endpoint.poll_transmit() {
            if self.phase == Phase::Handshaking {
                if std::mem::take(&mut self.new_flight) {
                    self.last_flight.clear();
                }
                self.last_flight.push(t.message.clone());
            }
            self.outbox.push_back((t.transport.peer_addr, t.message));
        }
    }

    /// The next event. Drain after every call into the session.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<DtlsEvent> {
        self.events.pop_front()
    }

    /// When [`Self::handle_timeout`] must next be called, if at all.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.phase {
            Phase::Idle => self.pending_since.map(|t| t + PENDING_FLUSH),
            Phase::Handshaking => {
                let endpoint = self.remote.and_then(|r| self.endpoint.poll_timeout(&r));
                crate::transmit::earliest(endpoint, self.resend_at)
            }
            Phase::Connected => self.remote.and_then(|r| self.endpoint.poll_timeout(&r)),
            Phase::Closed | Phase::Failed => None,
        }
    }

    /// Drives retransmissions. [`DtlsError::Timeout`] means the peer stopped answering: drop
    /// the session.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), DtlsError> {
        match self.phase {
            Phase::Idle => {
                if self.pending_since.is_some_and(|t| now >= t + PENDING_FLUSH) {
                    // The offer never became visible: configure with our whole list.
                    return self.configure(now, self.profiles.clone());
                }
                Ok(())
            }
            Phase::Handshaking | Phase::Connected => {
                let Some(remote) = self.remote else {
                    return Ok(());
                };
                self.pull();
                if self.phase == Phase::Handshaking && self.resend_at.is_some_and(|t| now >= t) {
                    // The client heard nothing since its last flight: send it again, backing
                    // off, as long as rtc-dtls would retransmit.
                    if self.resends >= MAX_RESENDS {
                        self.phase = Phase::Failed;
                        return Err(DtlsError::Timeout);
                    }
                    self.resends += 1;
                    self.resend_at = Some(now + RESEND_AFTER * (1 << self.resends.min(3)));
                    for datagram in &self.last_flight {
                        self.outbox.push_back((remote, datagram.clone()));
                    }
                }
                self.new_flight = true;
                self.endpoint.handle_timeout(remote, now).map_err(|e| {
                    let kind = self.fail(&e);
                    if kind == DtlsError::Handshake {
                        DtlsError::Timeout
                    } else {
                        kind
                    }
                })
            }
            Phase::Closed | Phase::Failed => Ok(()),
        }
    }

    /// Sends close_notify (drain [`Self::poll_transmit`]) and ends the session.
    pub fn close(&mut self, now: Instant) {
        if let (Some(remote), Phase::Handshaking | Phase::Connected) = (self.remote, self.phase) {
            let _ = self.endpoint.stop(now, remote);
        }
        if self.phase != Phase::Failed {
            self.phase = Phase::Closed;
        }
    }
}

/// The highest handshake message sequence number of the epoch-0 handshake records in a
/// datagram (RFC 6347 §4.2.2), if it has any.
fn handshake_message_seq(datagram: &[u8]) -> Option<u16> {
    let mut max = None;
    let mut at = 0;
    while let Some(header) = datagram.get(at..at + 13) {
        let len = usize::from(u16::from_be_bytes([header[11], header[12]]));
        let epoch = u16::from_be_bytes([header[3], header[4]]);
        if header[0] == 22 && epoch == 0 {
            if let Some(body) = datagram
                .get(at + 13..at + 13 + len)
                .filter(|b| b.len() >= 12)
            {
                let seq = u16::from_be_bytes([body[4], body[5]]);
                max = Some(max.map_or(seq, |m: u16| m.max(seq)));
            }
        }
        at += 13 + len;
    }
    max
}
