//! The plain transport of the `stream_distribution="rtp"` relay: RTP/RTCP over UDP with one
//! fixed remote address, no ICE, no DTLS, no SRTP (a private network, authorised by the shared
//! relay secret during signalling).
//!
//! [`PlainTransport`] owns only the liveness rules: it is connected from the start, accepts
//! input from exactly its remote address, fails with [`CloseReason::ConsentExpired`] when the
//! remote is silent for the idle timeout (the edge side, so a dead origin frees the name), and
//! can emit a small RTCP keep-alive (the origin side, so an idle stream does not look dead).
//! It is sans-IO: the worker owns the socket and passes `now` in.

#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::api::CloseReason;
use bytes::BytesMut;

use super::connection::{ConnectionEvent, Received};
use crate::demux::{classify, PacketClass};
use crate::transmit::{earliest, Transmit};

/// Length of the keep-alive: an RTCP receiver report with no report blocks (RFC 3550 §6.4.2).
pub const KEEPALIVE_LEN: usize = 8;

/// Why a datagram was not accepted by a plain transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlainError {
    /// It came from another address than the announced remote.
    #[error("datagram from an address other than the relay source")]
    UnknownSource,
    /// It is not RTP or RTCP (STUN, DTLS, garbage or truncated).
    #[error("not an RTP or RTCP packet")]
    NotRtp,
    /// The transport already failed.
    #[error("transport closed")]
    Closed,
}

/// A plain RTP peer's transport state. Drain order after any input or timeout:
/// [`PlainTransport::poll_transmit`] and [`PlainTransport::poll_event`] until `None`, then re-arm
/// with [`PlainTransport::poll_timeout`].
#[derive(Debug)]
pub struct PlainTransport {
    remote: SocketAddr,
    /// Fail when nothing arrived from `remote` this long (receiving side).
    idle_timeout: Option<Duration>,
    last_rx: Instant,
    /// Keep-alive interval and the SSRC it carries (sending side).
    keepalive: Option<(Duration, u32)>,
    next_keepalive: Option<Instant>,
    keepalive_due: bool,
    connected_pending: bool,
    failed: bool,
    failed_pending: bool,
}

impl PlainTransport {
    /// The receiving end (an edge's relayed publisher): closes after `idle_timeout` of silence
    /// from `remote`, counted from `now`.
    pub fn receiver(remote: SocketAddr, idle_timeout: Duration, now: Instant) -> Self {
        Self::new(remote, Some(idle_timeout), None, now)
    }

    /// The sending end (an origin's relay leg): sends an RTCP keep-alive with `ssrc` every
    /// `interval`, first at `now`, and never times out on its own (signalling ends it).
    pub fn sender(remote: SocketAddr, interval: Duration, ssrc: u32, now: Instant) -> Self {
        Self::new(remote, None, Some((interval, ssrc)), now)
    }

    fn new(
        remote: SocketAddr,
        idle_timeout: Option<Duration>,
        keepalive: Option<(Duration, u32)>,
        now: Instant,
    ) -> Self {
        Self {
            remote,
            idle_timeout,
            last_rx: now,
            keepalive,
            next_keepalive: keepalive.map(|_| now),
            keepalive_due: false,
            connected_pending: true,
            failed: false,
            failed_pending: false,
        }
    }

    /// The only address datagrams go to and are accepted from.
    pub fn remote(&self) -> SocketAddr {
        self.remote
    }

    /// True until the transport failed: there is no handshake to wait for.
    pub fn is_connected(&self) -> bool {
        !self.failed
    }

    /// Checks a received datagram and counts it as a sign of life. `Ok` holds the packet as it
    /// came, in a buffer of its own (one copy into a shareable buffer, as decryption makes one).
    pub fn handle_input(
        &mut self,
        now: Instant,
        from: SocketAddr,
        buf: &[u8],
    ) -> Result<Received, PlainError> {
        if self.failed {
            return Err(PlainError::Closed);
        }
        if from != self.remote {
            return Err(PlainError::UnknownSource);
        }
        let received = match classify(buf) {
            PacketClass::Rtp => Received::Rtp(BytesMut::from(buf)),
            PacketClass::Rtcp => Received::Rtcp(BytesMut::from(buf)),
            _ => return Err(PlainError::NotRtp),
        };
        self.last_rx = self.last_rx.max(now);
        Ok(received)
    }

    /// Writes a due keep-alive into `out` (at least [`KEEPALIVE_LEN`] bytes).
    #[must_use]
    pub fn poll_transmit(&mut self, out: &mut [u8]) -> Option<Transmit> {
        if !self.keepalive_due || self.failed {
            return None;
        }
        let (_, ssrc) = self.keepalive?;
        let out = out.get_mut(..KEEPALIVE_LEN)?;
        self.keepalive_due = false;
        // V=2, P=0, RC=0; PT=201 (RR); length 1 (in 32-bit words minus one); sender SSRC.
        out[..4].copy_from_slice(&[0x80, 201, 0, 1]);
        out[4..].copy_from_slice(&ssrc.to_be_bytes());
        Some(Transmit {
            dst: self.remote,
            len: KEEPALIVE_LEN,
        })
    }

    /// `Connected` once at the start, `Failed(ConsentExpired)` once after the idle timeout.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<ConnectionEvent> {
        if self.connected_pending {
            self.connected_pending = false;
            return Some(ConnectionEvent::Connected(self.remote));
        }
        if self.failed_pending {
            self.failed_pending = false;
            return Some(ConnectionEvent::Failed(CloseReason::ConsentExpired));
        }
        None
    }

    /// When [`PlainTransport::handle_timeout`] is next due.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.failed {
            return None;
        }
        let idle = self.idle_timeout.map(|t| self.last_rx + t);
        earliest(idle, self.next_keepalive)
    }

    /// Runs the idle check and the keep-alive timer.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.failed {
            return;
        }
        if let Some(t) = self.idle_timeout {
            if now >= self.last_rx + t {
                self.failed = true;
                self.failed_pending = true;
                return;
            }
        }
        if let (Some(at), Some((interval, _))) = (self.next_keepalive, self.keepalive) {
            if now >= at {
                self.keepalive_due = true;
                // Skip missed intervals rather than bursting after a stall.
                let mut next = at + interval;
                while next <= now {
                    next += interval;
                }
                self.next_keepalive = Some(next);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtcp::{RtcpCompound, RtcpPacket};

    const SECOND: Duration = Duration::from_secs(1);

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([10, 0, 0, 1], port))
    }

    fn rtp() -> Vec<u8> {
        let mut p = vec![0u8; 20];
        p[0] = 0x80;
        p[1] = 96;
        p
    }

    #[test]
    fn connected_at_once_then_nothing() {
        let now = Instant::now();
        let mut t = PlainTransport::receiver(addr(1), 30 * SECOND, now);
        assert!(t.is_connected());
        assert_eq!(t.poll_event(), Some(ConnectionEvent::Connected(addr(1))));
        assert_eq!(t.poll_event(), None);
        let mut out = [0u8; 64];
        assert!(
            t.poll_transmit(&mut out).is_none(),
            "a receiver sends no keep-alive"
        );
    }

    #[test]
    fn accepts_only_rtp_and_rtcp_from_the_remote() {
        let now = Instant::now();
        let mut t = PlainTransport::receiver(addr(1), 30 * SECOND, now);
        assert_eq!(
            t.handle_input(now, addr(1), &rtp()),
            Ok(Received::Rtp(BytesMut::from(&rtp()[..])))
        );
        let rr = [0x80, 201, 0, 1, 1, 2, 3, 4];
        assert_eq!(
            t.handle_input(now, addr(1), &rr),
            Ok(Received::Rtcp(BytesMut::from(&rr[..])))
        );
        assert_eq!(
            t.handle_input(now, addr(2), &rtp()),
            Err(PlainError::UnknownSource)
        );
        let stun = [0u8; 20];
        assert_eq!(t.handle_input(now, addr(1), &stun), Err(PlainError::NotRtp));
        let dtls = [22u8; 13];
        assert_eq!(t.handle_input(now, addr(1), &dtls), Err(PlainError::NotRtp));
        for junk in [&[][..], &[0x80][..], &[0x80, 96, 0][..], &[0xFF; 40][..]] {
            assert_eq!(t.handle_input(now, addr(1), junk), Err(PlainError::NotRtp));
        }
    }

    #[test]
    fn silence_closes_the_receiver_and_input_defers_it() {
        let start = Instant::now();
        let mut t = PlainTransport::receiver(addr(1), 10 * SECOND, start);
        let _ = t.poll_event();
        assert_eq!(t.poll_timeout(), Some(start + 10 * SECOND));
        let later = start + 6 * SECOND;
        assert!(t.handle_input(later, addr(1), &rtp()).is_ok());
        // Spoofed input does not keep it alive.
        let _ = t.handle_input(start + 9 * SECOND, addr(2), &rtp());
        assert_eq!(t.poll_timeout(), Some(later + 10 * SECOND));
        t.handle_timeout(start + 10 * SECOND);
        assert!(t.is_connected());
        assert_eq!(t.poll_event(), None);
        t.handle_timeout(later + 10 * SECOND);
        assert!(!t.is_connected());
        assert_eq!(
            t.poll_event(),
            Some(ConnectionEvent::Failed(CloseReason::ConsentExpired))
        );
        assert_eq!(t.poll_event(), None);
        assert_eq!(t.poll_timeout(), None);
        assert_eq!(
            t.handle_input(later + 11 * SECOND, addr(1), &rtp()),
            Err(PlainError::Closed)
        );
    }

    #[test]
    fn sender_keepalive_is_an_empty_receiver_report_per_interval() {
        let start = Instant::now();
        let mut t = PlainTransport::sender(addr(7), 2 * SECOND, 0xDEAD_BEEF, start);
        let mut out = [0u8; 64];
        assert!(
            t.poll_transmit(&mut out).is_none(),
            "nothing before the timer ran"
        );
        assert_eq!(t.poll_timeout(), Some(start));
        t.handle_timeout(start);
        let tx = t.poll_transmit(&mut out).unwrap();
        assert_eq!((tx.dst, tx.len), (addr(7), KEEPALIVE_LEN));
        let packets: Vec<_> = RtcpCompound::iter(&out[..tx.len]).collect();
        assert_eq!(packets.len(), 1);
        assert!(
            matches!(packets[0], Ok(RtcpPacket::ReceiverReport(_))),
            "{packets:?}"
        );
        assert_eq!(&out[4..8], &0xDEAD_BEEFu32.to_be_bytes());
        assert!(t.poll_transmit(&mut out).is_none(), "one per interval");
        assert_eq!(t.poll_timeout(), Some(start + 2 * SECOND));
        // A stall of several intervals yields one keep-alive, not a burst.
        t.handle_timeout(start + 7 * SECOND);
        assert!(t.poll_transmit(&mut out).is_some());
        assert!(t.poll_transmit(&mut out).is_none());
        assert_eq!(t.poll_timeout(), Some(start + 8 * SECOND));
        // A sender never times out on its own.
        t.handle_timeout(start + 3600 * SECOND);
        assert!(t.is_connected());
        let short = &mut [0u8; 4];
        assert!(
            t.poll_transmit(short).is_none(),
            "too small a buffer writes nothing"
        );
    }
}
