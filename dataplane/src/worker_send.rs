//! The worker's send side: its socket and reusable buffers ([`Io`]), and the functions that
//! write media, sender reports, keyframe requests and receiver reports to one peer.
//!
//! A media packet is rewritten and sealed in place in a slot of the worker's send queue (one
//! `sendmmsg` per flush); RTCP is built in the out buffer and encrypted from there. A plain
//! transport (the rtp relay) sends its rewritten packet as it is. Nothing here reads the
//! clock or routes input.

use std::net::SocketAddr;
use std::time::Instant;

use mio::net::UdpSocket;
use slab::Slab;

use super::{PeerEntry, Role, WorkerStats, MAX_DATAGRAM};
use crate::fanout::FanoutMsg;
use crate::rtcp::{RtcpCompound, RtcpPacket};
use crate::udp::SendQueue;

/// Socket and reusable buffers, split from the routing state so both can be borrowed at once.
///
/// Datagrams for the worker socket are queued and leave in one `sendmmsg` per [`Io::flush`]
/// (the worker flushes after every receive batch and at the end of every loop iteration); a
/// relay leg's own socket sends at once.
pub(super) struct Io {
    pub(super) socket: UdpSocket,
    /// The worker socket's address; relay sockets bind the same IP.
    pub(super) local_ip: std::net::IpAddr,
    pub(super) scratch: Vec<u8>,
    pub(super) out: Box<[u8; MAX_DATAGRAM]>,
    pub(super) queue: SendQueue,
    pub(super) stats: WorkerStats,
}

impl Io {
    /// Sends `bytes` from the peer's own socket if it has one, else queues them for the worker
    /// socket.
    pub(super) fn send(&mut self, own: Option<&UdpSocket>, dst: SocketAddr, bytes: &[u8]) {
        send_or_queue(
            &self.socket,
            &mut self.queue,
            &mut self.stats,
            own,
            dst,
            bytes,
        );
    }

    /// Sends the first `len` bytes of the `out` buffer.
    pub(super) fn send_out(&mut self, own: Option<&UdpSocket>, dst: SocketAddr, len: usize) {
        send_or_queue(
            &self.socket,
            &mut self.queue,
            &mut self.stats,
            own,
            dst,
            &self.out[..len],
        );
    }

    /// Sends everything queued for the worker socket.
    pub(super) fn flush(&mut self) {
        if !self.queue.is_empty() {
            let gso = self.queue.uses_gso();
            let out = self.queue.flush(&self.socket);
            self.stats.count_flush(out);
            if gso && !self.queue.uses_gso() {
                tracing::warn!(
                    "the kernel refused a UDP GSO send: one datagram per send from now on"
                );
            }
        }
    }

    /// Sends the first `len` bytes of `out` to `peer`: as they are on a plain transport,
    /// encrypted as SRTCP otherwise.
    fn send_rtcp_out(&mut self, peer: &mut PeerEntry, dst: SocketAddr, len: usize) {
        if peer.transport.is_plain() {
            self.send_out(peer.socket.as_ref(), dst, len);
        } else if let Some(enc) = peer.transport.protect_rtcp(&self.out[..len]) {
            self.send(peer.socket.as_ref(), dst, &enc);
        }
    }
}

/// Sends `bytes` from `own` at once, or queues them for the worker `socket`.
fn send_or_queue(
    socket: &UdpSocket,
    queue: &mut SendQueue,
    stats: &mut WorkerStats,
    own: Option<&UdpSocket>,
    dst: SocketAddr,
    bytes: &[u8],
) {
    match own {
        Some(own) => {
            if own.send_to(bytes, dst).is_err() {
                // UDP: a full socket buffer or an unreachable peer loses this datagram only.
                stats.send_errors += 1;
            }
        }
        None => stats.count_flush(queue.push(socket, dst, bytes)),
    }
}

/// Sends `msg` to one local subscriber: rewrite into the scratch buffer, encrypt (unless the
/// transport is plain), send.
pub(super) fn deliver(peers: &mut Slab<PeerEntry>, io: &mut Io, key: usize, msg: &FanoutMsg) {
    let Some(peer) = peers.get_mut(key) else {
        return;
    };
    let Role::Subscriber { sub, .. } = &mut peer.role else {
        return;
    };
    let (Some(dst), true) = (peer.transport.remote(), peer.transport.is_connected()) else {
        return;
    };
    match msg {
        FanoutMsg::Media {
            kind,
            keyframe,
            packet,
            ..
        } => {
            // The packet is rewritten and sealed where it leaves from: a send queue slot (or,
            // for a relay leg's own socket, the scratch buffer).
            if io.queue.is_full() && peer.socket.is_none() {
                io.flush();
            }
            let buf = match (&peer.socket, io.queue.slot()) {
                (None, Some(slot)) => slot,
                _ => &mut io.scratch,
            };
            if !sub.prepare_rtp(*kind, *keyframe, packet, buf) {
                return;
            }
            // A plain transport (the rtp relay) sends the rewritten packet as it is.
            if !peer.transport.is_plain() && !peer.transport.protect_rtp_in_place(buf) {
                return;
            }
            io.stats.rtp_forwarded += 1;
            match &peer.socket {
                None => io.queue.commit(dst),
                Some(own) => {
                    if own.send_to(&io.scratch, dst).is_err() {
                        io.stats.send_errors += 1;
                    }
                }
            }
        }
        FanoutMsg::SenderReport { kind, report, .. } => {
            let Some(len) = sub.write_sender_report(*kind, report, &mut io.out[..]) else {
                return;
            };
            io.send_rtcp_out(peer, dst, len);
        }
        FanoutMsg::KeyframeRequest { .. } => {}
    }
}

/// Whether an RTCP packet asks for a keyframe (PLI or FIR).
pub(super) fn is_keyframe_request(p: &RtcpPacket<'_>) -> bool {
    matches!(p, RtcpPacket::Pli(_) | RtcpPacket::Fir(_))
}

/// Whether a plain RTCP compound contains a keyframe request.
pub(super) fn requests_keyframe(compound: &[u8]) -> bool {
    RtcpCompound::iter(compound)
        .map_while(Result::ok)
        .any(|p| is_keyframe_request(&p))
}

/// Sends the publisher's merged keyframe request (PLI/FIR) to it.
pub(super) fn send_keyframe_request(io: &mut Io, peer: &mut PeerEntry) {
    let (Role::Publisher(p), Some(dst)) = (&mut peer.role, peer.transport.remote()) else {
        return;
    };
    let Some(len) = p.write_keyframe_request(&mut io.out[..]) else {
        return;
    };
    io.send_rtcp_out(peer, dst, len);
}

/// Sends the publisher a receiver report.
pub(super) fn send_receiver_report(now: Instant, io: &mut Io, peer: &mut PeerEntry) {
    let (Role::Publisher(p), Some(dst)) = (&mut peer.role, peer.transport.remote()) else {
        return;
    };
    let Some(len) = p.write_receiver_report(now, &mut io.out[..]) else {
        return;
    };
    io.send_rtcp_out(peer, dst, len);
}
