//! The worker's plain peers (`stream_distribution="rtp"`): starting them and reading an origin
//! leg's own socket. Media of a plain peer otherwise takes the same paths as any other peer
//! (the send side skips encryption, the receive side decryption).
//!
//! Owns no protocol state: liveness is [`PlainTransport`]'s, routing the worker's.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::UdpSocket;
use mio::{Interest, Token};

use super::{requests_keyframe, Worker, RELAY_TOKEN_BASE};
use crate::api::{CloseReason, Event, PeerRole, PeerSpec};
use crate::demux::PacketClass;
use crate::plain::PlainTransport;
use crate::transport::Transport;

/// How often an origin's plain leg sends its keep-alive, so an edge tells an idle stream from a
/// dead origin (the edge closes after the consent timeout of silence).
pub(crate) const PLAIN_KEEPALIVE: Duration = Duration::from_secs(2);

impl Worker {
    /// Starts a plain peer (see `Command::AddPlainPeer`); refuses it with a `PeerClosed` event.
    pub(super) fn add_plain_peer(
        &mut self,
        now: Instant,
        spec: PeerSpec,
        remote: SocketAddr,
        socket: Option<std::net::UdpSocket>,
    ) {
        let id = spec.id;
        match self.plain_transport(now, &spec, remote, socket) {
            Ok((transport, socket, addrs)) => self.insert_peer(now, spec, transport, socket, addrs),
            Err(why) => {
                tracing::warn!(peer = %id, %remote, "plain peer refused: {why}");
                self.events.send(Event::PeerClosed {
                    peer: id,
                    reason: CloseReason::Refused,
                });
            }
        }
    }

    /// The transport, the leg's registered socket and the addresses to route to the peer.
    #[allow(clippy::type_complexity)]
    fn plain_transport(
        &mut self,
        now: Instant,
        spec: &PeerSpec,
        remote: SocketAddr,
        socket: Option<std::net::UdpSocket>,
    ) -> Result<(Transport, Option<UdpSocket>, Vec<SocketAddr>), &'static str> {
        if self.by_id.contains_key(&spec.id) {
            return Err("duplicate peer id");
        }
        match (spec.role, socket) {
            (PeerRole::Publisher { .. }, None) => {
                if self.by_addr.contains_key(&remote) {
                    return Err("source address already routed on this worker");
                }
                let idle = self.settings.ice.consent_timeout;
                let transport = Transport::Plain(PlainTransport::receiver(remote, idle, now));
                Ok((transport, None, vec![remote]))
            }
            (PeerRole::Relay { .. }, Some(socket)) => {
                let key = self.peers.vacant_key();
                let socket = self.register_leg_socket(socket, key)?;
                let ssrc = spec.tracks.iter().find_map(|t| t.ssrc).unwrap_or(1);
                let plain = PlainTransport::sender(remote, PLAIN_KEEPALIVE, ssrc, now);
                if let Err(e) = socket.connect(remote) {
                    // Not fatal: only filtering by the kernel is lost; input is checked anyway.
                    tracing::debug!(peer = %spec.id, "cannot connect the leg socket: {e}");
                }
                Ok((Transport::Plain(plain), Some(socket), Vec::new()))
            }
            (PeerRole::Publisher { .. }, Some(_)) => {
                Err("a plain publisher uses the worker socket")
            }
            (PeerRole::Relay { .. }, None) => Err("a plain relay leg needs its socket"),
            (PeerRole::Subscriber { .. }, _) => Err("a player cannot be plain"),
        }
    }

    /// Makes the control plane's bound socket a non-blocking mio socket of this worker.
    fn register_leg_socket(
        &mut self,
        socket: std::net::UdpSocket,
        key: usize,
    ) -> Result<UdpSocket, &'static str> {
        let sock = socket2::SockRef::from(&socket);
        // Best effort, like the worker socket: the kernel caps the sizes.
        let _ = sock.set_recv_buffer_size(self.settings.socket_buffer);
        let _ = sock.set_send_buffer_size(self.settings.socket_buffer);
        socket
            .set_nonblocking(true)
            .map_err(|_| "cannot make the leg socket non-blocking")?;
        let mut socket = UdpSocket::from_std(socket);
        self.poll
            .registry()
            .register(
                &mut socket,
                Token(RELAY_TOKEN_BASE + key),
                Interest::READABLE,
            )
            .map_err(|_| "cannot register the leg socket")?;
        Ok(socket)
    }

    /// Reads a plain leg's socket until it would block: keyframe requests from the edge go to
    /// our publisher; anything else (receiver reports, strangers) is dropped.
    pub(super) fn read_plain_relay(&mut self, now: Instant, key: usize, recv: &mut [u8]) {
        loop {
            let Some(peer) = self.peers.get_mut(key) else {
                return;
            };
            let (Some(socket), Transport::Plain(plain)) =
                (peer.socket.as_ref(), &mut peer.transport)
            else {
                return;
            };
            let (len, from) = match socket.recv_from(recv) {
                Ok(r) => r,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // WouldBlock, or an ICMP error surfacing (the edge is down): done for now.
                Err(_) => return,
            };
            self.io.stats.datagrams_in += 1;
            let buf = &recv[..len];
            match plain.handle_input(now, from, buf) {
                Ok(PacketClass::Rtcp) if requests_keyframe(buf) => {
                    self.request_keyframe(now, key);
                    self.rearm(key);
                }
                Ok(_) => {}
                Err(_) => self.io.stats.dropped_unknown_source += 1,
            }
        }
    }
}
