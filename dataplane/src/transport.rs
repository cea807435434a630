//! The kinds of transport a worker runs, behind one interface: the passive
//! ICE-lite/DTLS-server [`Connection`] of browsers and other nodes that connect to us, the
//! active ICE-controlling/DTLS-client [`ClientConnection`] of a relay leg we open toward another
//! node, and the [`PlainTransport`] of the `stream_distribution="rtp"` relay (no ICE, no DTLS,
//! no SRTP: the worker sends and uses its packets as they are).
//!
//! Sans-IO like both of them; the worker owns the sockets (a relay leg has its own).

use std::net::SocketAddr;
use std::time::Instant;

use bytes::BytesMut;

use crate::client::{ClientConnection, ClientEvent};
use crate::connection::{Connection, ConnectionEvent, Transmit};
use crate::plain::PlainTransport;
use crate::srtp::SrtpProfile;

/// A peer's transport.
pub enum Transport {
    /// Browsers, and relay legs of other nodes: ICE-lite, DTLS server, on the worker socket.
    Passive(Connection),
    /// Our relay leg toward another node: ICE controlling, DTLS client, on its own socket.
    Active(ClientConnection),
    /// Plain RTP/RTCP with one fixed remote (the rtp relay, both ends).
    Plain(PlainTransport),
}

impl Transport {
    /// Where media goes (the ICE-selected address, or the relay's remote candidate).
    pub fn remote(&self) -> Option<SocketAddr> {
        match self {
            Transport::Passive(c) => c.remote(),
            Transport::Active(c) => Some(c.remote()),
            Transport::Plain(p) => Some(p.remote()),
        }
    }

    /// True once media can flow (SRTP keys installed; a plain transport until it failed).
    pub fn is_connected(&self) -> bool {
        match self {
            Transport::Passive(c) => c.is_connected(),
            Transport::Active(c) => c.is_connected(),
            Transport::Plain(p) => p.is_connected(),
        }
    }

    /// True for the plain transport: packets go to the socket as they are.
    pub fn is_plain(&self) -> bool {
        matches!(self, Transport::Plain(_))
    }

    /// The negotiated SRTP profile once connected.
    pub fn srtp_profile(&self) -> Option<SrtpProfile> {
        match self {
            Transport::Passive(c) => c.srtp_profile(),
            Transport::Active(c) => c.srtp_profile(),
            Transport::Plain(_) => None,
        }
    }

    /// Encrypts a plain RTP packet; `None` if not connected, the packet is invalid or the
    /// transport is plain (send the packet as it is, see [`Transport::is_plain`]).
    pub fn protect_rtp(&mut self, plain: &[u8]) -> Option<BytesMut> {
        match self {
            Transport::Passive(c) => c.protect_rtp(plain).ok(),
            Transport::Active(c) => c.protect_rtp(plain).ok(),
            Transport::Plain(_) => None,
        }
    }

    /// Encrypts the plain RTP packet in `buf` in place; false if not connected, the packet is
    /// invalid or the transport is plain (then `buf` still holds the plain packet).
    pub fn protect_rtp_in_place(&mut self, buf: &mut Vec<u8>) -> bool {
        match self {
            Transport::Passive(c) => c.protect_rtp_in_place(buf).is_ok(),
            Transport::Active(c) => c.protect_rtp_in_place(buf).is_ok(),
            Transport::Plain(_) => false,
        }
    }

    /// Encrypts a plain RTCP packet; `None` if not connected, the packet is invalid or the
    /// transport is plain.
    pub fn protect_rtcp(&mut self, plain: &[u8]) -> Option<BytesMut> {
        match self {
            Transport::Passive(c) => c.protect_rtcp(plain).ok(),
            Transport::Active(c) => c.protect_rtcp(plain).ok(),
            Transport::Plain(_) => None,
        }
    }

    /// Writes the next transport datagram (ICE, DTLS, a plain keep-alive) into `out`.
    #[must_use]
    pub fn poll_transmit(&mut self, out: &mut [u8]) -> Option<Transmit> {
        match self {
            Transport::Passive(c) => c.poll_transmit(out),
            Transport::Active(c) => c.poll_transmit(out),
            Transport::Plain(p) => p.poll_transmit(out),
        }
    }

    /// The next event, in the passive transport's vocabulary.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<ConnectionEvent> {
        match self {
            Transport::Passive(c) => c.poll_event(),
            Transport::Active(c) => {
                let remote = c.remote();
                c.poll_event().map(|ev| match ev {
                    ClientEvent::Connected => ConnectionEvent::Connected(remote),
                    ClientEvent::Failed(r) => ConnectionEvent::Failed(r),
                })
            }
            Transport::Plain(p) => p.poll_event(),
        }
    }

    /// When [`Transport::handle_timeout`] is next due.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self {
            Transport::Passive(c) => c.poll_timeout(),
            Transport::Active(c) => c.poll_timeout(),
            Transport::Plain(p) => p.poll_timeout(),
        }
    }

    /// Runs the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self {
            Transport::Passive(c) => c.handle_timeout(now),
            Transport::Active(c) => c.handle_timeout(now),
            Transport::Plain(p) => p.handle_timeout(now),
        }
    }
}
