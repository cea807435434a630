//! A client's network path as the client sees it ([`Link`]): its UDP socket behind the two
//! impairments of [`super::impair`]. Every datagram the client sends goes through
//! [`Link::send`]; the client passes every datagram it reads through [`Link::admit`] and takes
//! held ones back with [`Link::pop_received`].
//!
//! Owns: the socket and the held datagrams. Must not read the clock (`now` comes in) nor know
//! what the datagrams are.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::Instant;

use dataplane::transmit::earliest;

use super::impair::{Admit, ImpairStats, Impairment, Released};

/// A client's socket and impairments.
#[derive(Debug)]
pub struct Link {
    /// The media socket (mio-registered by the runner).
    pub socket: mio::net::UdpSocket,
    send: Impairment,
    recv: Impairment,
}

impl Link {
    /// `socket` behind the `(send, receive)` impairments.
    pub fn new(socket: mio::net::UdpSocket, (send, recv): (Impairment, Impairment)) -> Self {
        Link { socket, send, recv }
    }

    /// Sends `data` to `to` at `now` through the send impairment (now, later, or never);
    /// false if the kernel refused it.
    pub fn send(&mut self, now: Instant, data: &[u8], to: SocketAddr) -> bool {
        match self.send.admit(now, data, to) {
            Admit::Now => self.socket.send_to(data, to).is_ok(),
            Admit::Held | Admit::Dropped => true,
        }
    }

    /// Sends the held datagrams due at `now` (through `scratch`); returns how many the kernel
    /// refused.
    pub fn release_sends(&mut self, now: Instant, scratch: &mut [u8]) -> u64 {
        let mut refused = 0;
        while let Some(r) = self.send.pop_due(now, scratch) {
            if self.socket.send_to(&scratch[..r.len], r.addr).is_err() {
                refused += 1;
            }
        }
        refused
    }

    /// Reads one datagram from the socket into `buf`: its length and sender, `None` once the
    /// socket is empty (or reports an error such as an ICMP port unreachable).
    pub fn read(&mut self, buf: &mut [u8]) -> Option<(usize, SocketAddr)> {
        loop {
            match self.socket.recv_from(buf) {
                Ok(r) => return Some(r),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => return None,
            }
        }
    }

    /// Passes a datagram just read through the receive impairment.
    pub fn admit(&mut self, now: Instant, data: &[u8], from: SocketAddr) -> Admit {
        self.recv.admit(now, data, from)
    }

    /// The next held received datagram due at `now`, copied into `buf`.
    pub fn pop_received(&mut self, now: Instant, buf: &mut [u8]) -> Option<Released> {
        self.recv.pop_due(now, buf)
    }

    /// When the next held datagram (either way) is due.
    pub fn next_release(&self) -> Option<Instant> {
        earliest(self.send.next_release(), self.recv.next_release())
    }

    /// `(send, receive)` counters.
    pub fn stats(&self) -> (ImpairStats, ImpairStats) {
        (self.send.stats, self.recv.stats)
    }
}
