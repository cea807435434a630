//! The worker's send side: its socket and reusable buffers ([`Io`]), and the functions that
//! write media, sender reports, keyframe requests and receiver reports to one peer.
//!
//! Every packet is built in the worker's scratch or out buffer; a secure transport encrypts it
//! from there, a plain one (the rtp relay) sends that buffer as it is. Nothing here reads the
//! clock or routes input.

use std::net::SocketAddr;
use std::time::Instant;

use mio::net::UdpSocket;
use slab::Slab;

use super::{PeerEntry, Role, WorkerStats, MAX_DATAGRAM};
use crate::fanout::FanoutMsg;
use crate::rtcp::{RtcpCompound, RtcpPacket};

/// Socket and reusable buffers, split from the routing state so both can be borrowed at once.
pub(super) struct Io {
    pub(super) socket: UdpSocket,
    /// The worker socket's address; relay sockets bind the same IP.
    pub(super) local_ip: std::net::IpAddr,
    pub(super) scratch: Vec<u8>,
    pub(super) out: Box<[u8; MAX_DATAGRAM]>,
    pub(super) stats: WorkerStats,
}

impl Io {
    /// Sends `bytes` from the peer's own socket if it has one, else from the worker socket.
    pub(super) fn send(&mut self, own: Option<&UdpSocket>, dst: SocketAddr, bytes: &[u8]) {
        let socket = own.unwrap_or(&self.socket);
        if socket.send_to(bytes, dst).is_err() {
            // UDP: a full socket buffer or an unreachable peer loses this datagram only.
            self.stats.send_errors += 1;
        }
    }

    /// Sends the first `len` bytes of the `out` buffer.
    pub(super) fn send_out(&mut self, own: Option<&UdpSocket>, dst: SocketAddr, len: usize) {
        let socket = own.unwrap_or(&self.socket);
        if socket.send_to(&self.out[..len], dst).is_err() {
            self.stats.send_errors += 1;
        }
    }

    /// Sends the scratch buffer as it is (a plain transport's rewritten packet).
    fn send_scratch(&mut self, own: Option<&UdpSocket>, dst: SocketAddr) {
        let socket = own.unwrap_or(&self.socket);
        if socket.send_to(&self.scratch, dst).is_err() {
            self.stats.send_errors += 1;
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
            if !sub.prepare_rtp(*kind, *keyframe, packet, &mut io.scratch) {
                return;
            }
            // A plain transport (the rtp relay) sends the rewritten packet as it is.
            if peer.transport.is_plain() || peer.transport.protect_rtp_in_place(&mut io.scratch) {
                io.send_scratch(peer.socket.as_ref(), dst);
                io.stats.rtp_forwarded += 1;
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
