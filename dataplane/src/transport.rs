//! A peer's transport, behind one input path: a WebRTC [`Connection`] (ICE, DTLS, SRTP, in
//! the passive role for browsers and other nodes' relay legs, in the active role for our relay
//! legs toward other nodes), or the [`PlainTransport`] of the `stream_distribution="rtp"`
//! relay (no ICE, no DTLS, no SRTP: packets are used and sent as they are).
//!
//! Sans-IO like its parts: the worker core passes datagrams and `now` in and drains transmits
//! and events; the I/O shell owns the sockets. Owns nothing about streams or routing.

#![forbid(unsafe_code)]

mod connection;
mod plain;
mod secure;

use std::net::SocketAddr;
use std::time::Instant;

pub use connection::{
    Connection, ConnectionError, ConnectionEvent, LocalParams, Received, RemoteParams,
    DTLS_HANDSHAKE_TIMEOUT,
};
pub use plain::{PlainError, PlainTransport, KEEPALIVE_LEN};

use crate::srtp::{SrtpError, SrtpProfile};
use crate::transmit::Transmit;

/// Why a transport did not accept a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    #[error(transparent)]
    Connection(#[from] ConnectionError),
    #[error(transparent)]
    Plain(#[from] PlainError),
}

impl TransportError {
    /// The datagram came from an address the transport does not accept input from (as opposed
    /// to a malformed or unauthenticated one).
    pub fn is_unknown_source(self) -> bool {
        matches!(
            self,
            TransportError::Connection(ConnectionError::NotValidated)
                | TransportError::Plain(PlainError::UnknownSource)
        )
    }

    /// The datagram was an SRTP/SRTCP packet of a new SSRC beyond what the session admits.
    pub fn is_unknown_ssrc(self) -> bool {
        matches!(
            self,
            TransportError::Connection(ConnectionError::Srtp(SrtpError::TooManySsrcs))
        )
    }

    /// The datagram was an SRTP/SRTCP packet already received (a duplicate on the path, or a
    /// retransmission of a packet that had only been late): valid, but nothing new.
    pub fn is_replay(self) -> bool {
        matches!(
            self,
            TransportError::Connection(ConnectionError::Srtp(SrtpError::Replay))
        )
    }
}

/// A peer's transport.
// Inline on purpose: the fan-out seals every subscriber's packet through it, and a box would
// cost a pointer chase (a cache miss) per subscriber per packet.
#[allow(clippy::large_enum_variant)]
pub enum Transport {
    /// ICE + DTLS + SRTP (either role).
    WebRtc(Connection),
    /// Plain RTP/RTCP with one fixed remote (the rtp relay, both ends).
    Plain(PlainTransport),
}

impl Transport {
    /// One datagram from `from`: what it carried, decrypted.
    pub fn handle_input(
        &mut self,
        now: Instant,
        from: SocketAddr,
        buf: &[u8],
    ) -> Result<Received, TransportError> {
        match self {
            Transport::WebRtc(c) => Ok(c.handle_input(now, from, buf)?),
            Transport::Plain(p) => Ok(p.handle_input(now, from, buf)?),
        }
    }

    /// Where media goes (the ICE-selected address, or the fixed remote).
    pub fn remote(&self) -> Option<SocketAddr> {
        match self {
            Transport::WebRtc(c) => c.remote(),
            Transport::Plain(p) => Some(p.remote()),
        }
    }

    /// True once media can flow (SRTP keys installed; a plain transport until it failed).
    pub fn is_connected(&self) -> bool {
        match self {
            Transport::WebRtc(c) => c.is_connected(),
            Transport::Plain(p) => p.is_connected(),
        }
    }

    /// Whether it is a DTLS server in a handshake (see [`Connection::serves_handshake`]).
    pub fn serves_handshake(&self) -> bool {
        matches!(self, Transport::WebRtc(c) if c.serves_handshake())
    }

    /// Whether it is a DTLS server waiting for a ClientHello (see
    /// [`Connection::awaits_client_hello`]).
    pub fn awaits_client_hello(&self) -> bool {
        matches!(self, Transport::WebRtc(c) if c.awaits_client_hello())
    }

    /// The negotiated SRTP profile once connected (`None` for a plain transport).
    pub fn srtp_profile(&self) -> Option<SrtpProfile> {
        match self {
            Transport::WebRtc(c) => c.srtp_profile(),
            Transport::Plain(_) => None,
        }
    }

    /// Makes the plain RTP packet in `buf` ready to send, in place: encrypted on a WebRTC
    /// transport, as it is on a plain one. False if it cannot be sent (not connected, invalid).
    pub fn seal_rtp(&mut self, buf: &mut Vec<u8>) -> bool {
        match self {
            Transport::WebRtc(c) => c.protect_rtp_in_place(buf).is_ok(),
            Transport::Plain(p) => p.is_connected(),
        }
    }

    /// Writes the plain RTCP packet `plain` ready to send into `out`: encrypted on a WebRTC
    /// transport, as it is on a plain one. False if it cannot be sent.
    pub fn seal_rtcp(&mut self, plain: &[u8], out: &mut Vec<u8>) -> bool {
        out.clear();
        match self {
            Transport::WebRtc(c) => match c.protect_rtcp(plain) {
                Ok(enc) => {
                    out.extend_from_slice(&enc);
                    true
                }
                Err(_) => false,
            },
            Transport::Plain(p) => {
                out.extend_from_slice(plain);
                p.is_connected()
            }
        }
    }

    /// Ends the transport from our side at `now` (the server ended the session): a WebRTC
    /// peer is sent a DTLS close_notify (drain [`Transport::poll_transmit`]) so it learns at
    /// once instead of by consent expiry; a plain one has nothing to say.
    pub fn close(&mut self, now: Instant) {
        if let Transport::WebRtc(c) = self {
            c.close(now);
        }
    }

    /// Writes the next transport datagram (ICE, DTLS, a plain keep-alive) into `out`.
    #[must_use]
    pub fn poll_transmit(&mut self, out: &mut [u8]) -> Option<Transmit> {
        match self {
            Transport::WebRtc(c) => c.poll_transmit(out),
            Transport::Plain(p) => p.poll_transmit(out),
        }
    }

    /// The next event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<ConnectionEvent> {
        match self {
            Transport::WebRtc(c) => c.poll_event(),
            Transport::Plain(p) => p.poll_event(),
        }
    }

    /// When [`Transport::handle_timeout`] is next due.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self {
            Transport::WebRtc(c) => c.poll_timeout(),
            Transport::Plain(p) => p.poll_timeout(),
        }
    }

    /// Runs the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self {
            Transport::WebRtc(c) => c.handle_timeout(now),
            Transport::Plain(p) => p.handle_timeout(now),
        }
    }
}
