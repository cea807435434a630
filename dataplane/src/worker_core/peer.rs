//! One peer as the worker core holds it: its transport, its media role (publisher or
//! subscriber), the local socket it uses and the addresses routed to it; and the writes that
//! go to one peer: a fanned-out packet or sender report rewritten for a subscriber, keyframe
//! requests and receiver reports for a publisher, the transport's own datagrams.
//!
//! A media packet is rewritten and sealed in place in a slot of the send queue; RTCP is built
//! in the outbox's buffer and sealed from there. Nothing here routes input, reads the clock or
//! touches a socket.

#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::time::Instant;

use super::outbox::Outbox;
use crate::api::{MediaKind, PeerId, StreamId, WorkerId};
use crate::demux::{classify, PacketClass};
use crate::fanout::FanoutMsg;
use crate::publisher::Publisher;
use crate::rtcp::RtcpPacket;
use crate::send_queue::SocketId;
use crate::subscriber::{Delivery, RetransmitError, Subscriber};
use crate::transmit::earliest;
use crate::transport::Transport;

/// Padding packets one probe tick sends at most (about 2.2 kB: 1.7 Mbit/s of padding).
const MAX_PADDING_PACKETS: usize = 8;
/// Padding leaves this many send-queue slots free.
const MIN_FREE_FOR_PADDING: usize = 4;

/// What a peer does in its stream.
// The subscriber variant is large on purpose: its tracks are inline so the fan-out, which
// visits every subscriber per packet, does not chase a pointer (and miss the cache) for each.
#[allow(clippy::large_enum_variant)]
pub enum Role {
    /// Sends the stream's media to us.
    Publisher(Publisher),
    /// Receives the stream's media (a viewer, or a relay leg toward another node), published
    /// on worker `source`.
    Subscriber { sub: Subscriber, source: WorkerId },
}

/// Most addresses routed to one peer: those its ICE agent remembers as validated.
pub const MAX_PEER_ADDRS: usize = crate::ice::MAX_VALIDATED;

/// The addresses routed to one peer on the worker socket, inline and bounded: the core keeps
/// them in step with its ICE agent's validated addresses (added when validated, removed when
/// forgotten) and with the routes by address.
#[derive(Clone, Copy, Debug, Default)]
pub struct PeerAddrs([Option<SocketAddr>; MAX_PEER_ADDRS]);

impl PeerAddrs {
    pub fn contains(&self, addr: SocketAddr) -> bool {
        self.0.contains(&Some(addr))
    }

    /// Adds `addr`; false when it is there already or there is no room (it is not routed).
    pub fn insert(&mut self, addr: SocketAddr) -> bool {
        if self.contains(addr) {
            return false;
        }
        match self.0.iter_mut().find(|a| a.is_none()) {
            Some(slot) => {
                *slot = Some(addr);
                true
            }
            None => false,
        }
    }

    /// Removes `addr`; false when it was not there.
    pub fn remove(&mut self, addr: SocketAddr) -> bool {
        match self.0.iter_mut().find(|a| **a == Some(addr)) {
            Some(slot) => {
                *slot = None;
                true
            }
            None => false,
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = SocketAddr> + '_ {
        self.0.iter().flatten().copied()
    }
}

/// One peer connection on a worker.
pub struct Peer {
    pub id: PeerId,
    pub stream: StreamId,
    /// Our ICE ufrag (routes a passive peer's first check).
    pub ufrag: String,
    pub transport: Transport,
    /// The local socket the peer's datagrams leave from (and arrive on).
    pub socket: SocketId,
    pub role: Role,
    /// Addresses routed to this peer on the worker socket.
    pub addrs: PeerAddrs,
    /// Its DTLS server is in a handshake: it holds one of the worker's handshake slots.
    pub handshaking: bool,
}

impl Peer {
    /// Whether datagram `buf` is worth handing to the transport. SRTP is decrypted only when
    /// its SSRC is one the peer's role uses: a publisher's announced, learnt or still
    /// learnable encodings ([`Publisher::admits`]); a subscriber sends no media we use. The
    /// SRTP context keeps state for every SSRC it decrypts, so this bounds what a peer (or
    /// anyone spoofing its address) can make it hold. Everything else goes on.
    pub fn admits(&self, buf: &[u8]) -> bool {
        if !matches!(self.transport, Transport::WebRtc(_)) || classify(buf) != PacketClass::Rtp {
            return true;
        }
        match &self.role {
            Role::Publisher(p) => p.admits(buf),
            Role::Subscriber { .. } => false,
        }
    }

    /// Whether datagram `buf` would start a DTLS handshake (a ClientHello to a passive
    /// transport still waiting for one): it needs a free handshake slot.
    pub fn starts_handshake(&self, buf: &[u8]) -> bool {
        !self.handshaking
            && classify(buf) == PacketClass::Dtls
            && self.transport.awaits_client_hello()
    }

    /// Queues the transport's pending datagrams (ICE, DTLS, keep-alives).
    pub fn queue_transmits(&mut self, outbox: &mut Outbox) {
        while let Some(t) = self.transport.poll_transmit(&mut outbox.out[..]) {
            outbox.queue_out(self.socket, t.dst, t.len);
        }
    }

    /// When the peer's next timer is due: its transport's, and once media flows a
    /// publisher's receiver reports, NACKs and keyframe requests, or a subscriber's deferred
    /// retransmissions.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let next = self.transport.poll_timeout();
        match (&self.role, self.transport.is_connected()) {
            (Role::Publisher(p), true) => earliest(next, p.poll_timeout()),
            (Role::Subscriber { sub, .. }, true) => earliest(next, sub.poll_timeout()),
            _ => next,
        }
    }

    /// Runs the peer's timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant, outbox: &mut Outbox) {
        self.transport.handle_timeout(now);
        if !self.transport.is_connected() {
            return;
        }
        match &mut self.role {
            Role::Publisher(_) => {
                self.send_nack(now, outbox);
                self.send_transport_feedback(now, outbox);
                self.send_remb(now, outbox);
                let Role::Publisher(p) = &mut self.role else {
                    return;
                };
                // Merged and repeated requests, and layers whose loss was given up.
                if p.handle_keyframe_timers(now) {
                    self.send_keyframe_request(outbox);
                }
                self.send_receiver_report(now, outbox);
            }
            Role::Subscriber { sub, .. } => {
                sub.handle_timeout(now);
                self.send_paced(now, outbox);
                self.send_padding(now, outbox);
            }
        }
    }

    /// Sends a viewer the padding a running bandwidth probe wants at `now` (a few packets
    /// per tick at most).
    fn send_padding(&mut self, now: Instant, outbox: &mut Outbox) {
        let (Role::Subscriber { sub, .. }, Some(dst)) = (&mut self.role, self.transport.remote())
        else {
            return;
        };
        let mut owed = sub.padding_due(now);
        for _ in 0..MAX_PADDING_PACKETS {
            if owed == 0 || outbox.queue.free() <= MIN_FREE_FOR_PADDING {
                return;
            }
            let Some(buf) = outbox.queue.slot() else {
                return;
            };
            let carried = sub.write_padding(now, owed, buf);
            if carried == 0 {
                return;
            }
            if self.transport.seal_rtp(buf) {
                outbox.stats.padding_sent += 1;
                outbox.queue.commit(self.socket, dst);
            }
            owed = owed.saturating_sub(carried);
        }
    }

    /// Sends `msg` to this peer if it is a connected subscriber: media rewritten and sealed in
    /// a queue slot (or held by its pacer), a sender report under the subscriber's SSRC. Needs
    /// one free slot. Returns true when the pacer started holding packets: the peer's timer
    /// must be re-armed.
    pub fn deliver(&mut self, msg: &FanoutMsg, outbox: &mut Outbox) -> bool {
        let Role::Subscriber { sub, .. } = &mut self.role else {
            return false;
        };
        let (Some(dst), true) = (self.transport.remote(), self.transport.is_connected()) else {
            return false;
        };
        match msg {
            FanoutMsg::Media {
                kind,
                layer,
                keyframe,
                packet,
                ..
            } => {
                let switching = match sub.decide(outbox.now, *kind, *layer, *keyframe, packet) {
                    Delivery::Skip => return false,
                    Delivery::Held { first } => return first,
                    Delivery::Send { switching } => switching,
                };
                let Some(buf) = outbox.queue.slot() else {
                    outbox.stats.dropped_send_full += 1;
                    return false;
                };
                let (now, kind, layer, keyframe) = (outbox.now, *kind, *layer, *keyframe);
                if !sub.write_rtp(now, kind, layer, keyframe, switching, packet, buf)
                    || !self.transport.seal_rtp(buf)
                {
                    return false;
                }
                outbox.stats.rtp_forwarded += 1;
                outbox.queue.commit(self.socket, dst);
            }
            FanoutMsg::SenderReport {
                kind,
                layer,
                report,
                ..
            } => {
                let out = &mut outbox.out[..];
                let Some(len) = sub.write_sender_report(*kind, *layer, report, out) else {
                    return false;
                };
                outbox.queue_rtcp(&mut self.transport, self.socket, dst, len);
            }
            FanoutMsg::KeyframeRequest { .. } => {}
        }
        false
    }

    /// Sends a viewer the video its pacer held whose turn came at `now`, as far as the send
    /// queue keeps room.
    fn send_paced(&mut self, now: Instant, outbox: &mut Outbox) {
        let (Role::Subscriber { sub, .. }, Some(dst)) = (&mut self.role, self.transport.remote())
        else {
            return;
        };
        while outbox.queue.free() > MIN_FREE_FOR_PADDING {
            let Some(held) = sub.pop_paced(now) else {
                return;
            };
            let Some(buf) = outbox.queue.slot() else {
                return;
            };
            let (layer, key, switching) = (held.layer, held.keyframe, held.switching);
            if sub.write_rtp(
                Some(now),
                MediaKind::Video,
                layer,
                key,
                switching,
                &held.packet,
                buf,
            ) && self.transport.seal_rtp(buf)
            {
                outbox.stats.rtp_forwarded += 1;
                outbox.stats.paced += 1;
                outbox.queue.commit(self.socket, dst);
            }
        }
    }

    /// Sends a subscriber the retransmission of `packet` (a cached video packet of simulcast
    /// layer `layer`, in canonical form), as it was sent or in RTX, if its budget allows and it
    /// was not resent less than a round trip ago. Needs one free slot. Counts every outcome
    /// but `OverBudget`, which the caller defers or counts.
    pub fn retransmit(
        &mut self,
        now: Instant,
        layer: u8,
        packet: &[u8],
        outbox: &mut Outbox,
    ) -> Result<(), RetransmitError> {
        let Role::Subscriber { sub, .. } = &mut self.role else {
            return Err(RetransmitError::NotNegotiated);
        };
        let (Some(dst), true) = (self.transport.remote(), self.transport.is_connected()) else {
            return Err(RetransmitError::NotNegotiated);
        };
        let Some(buf) = outbox.queue.slot() else {
            outbox.stats.dropped_send_full += 1;
            return Ok(());
        };
        let result = sub.prepare_retransmission(now, layer, packet, buf);
        match result {
            Ok(()) if self.transport.seal_rtp(buf) => {
                outbox.stats.retransmitted += 1;
                outbox.queue.commit(self.socket, dst);
            }
            Ok(()) | Err(RetransmitError::OverBudget) => {}
            Err(RetransmitError::Recent) => outbox.stats.retransmit_suppressed += 1,
            Err(RetransmitError::NotNegotiated | RetransmitError::Malformed) => {
                outbox.stats.retransmit_missed += 1
            }
        }
        result
    }

    /// Sends a publisher its merged keyframe request (PLI).
    pub fn send_keyframe_request(&mut self, outbox: &mut Outbox) {
        let (Role::Publisher(p), Some(dst)) = (&mut self.role, self.transport.remote()) else {
            return;
        };
        let Some(len) = p.write_keyframe_request(&mut outbox.out[..]) else {
            return;
        };
        outbox.queue_rtcp(&mut self.transport, self.socket, dst, len);
    }

    /// Sends a publisher the NACK due at `now`, if any.
    fn send_nack(&mut self, now: Instant, outbox: &mut Outbox) {
        let (Role::Publisher(p), Some(dst)) = (&mut self.role, self.transport.remote()) else {
            return;
        };
        let w = p.write_nack(now, &mut outbox.out[..]);
        outbox.stats.upstream_given_up += w.given_up;
        if w.len == 0 {
            return;
        }
        outbox.stats.nack_sent += w.requested;
        outbox.queue_rtcp(&mut self.transport, self.socket, dst, w.len);
    }

    /// Sends a publisher the transport-wide feedback due at `now`, if any.
    fn send_transport_feedback(&mut self, now: Instant, outbox: &mut Outbox) {
        let (Role::Publisher(p), Some(dst)) = (&mut self.role, self.transport.remote()) else {
            return;
        };
        while let Some(len) = p.write_transport_feedback(now, &mut outbox.out[..]) {
            outbox.stats.transport_feedback_sent += 1;
            outbox.queue_rtcp(&mut self.transport, self.socket, dst, len);
        }
    }

    /// Sends a publisher the REMB due at `now`, if any.
    fn send_remb(&mut self, now: Instant, outbox: &mut Outbox) {
        let (Role::Publisher(p), Some(dst)) = (&mut self.role, self.transport.remote()) else {
            return;
        };
        let Some(len) = p.write_remb(now, &mut outbox.out[..]) else {
            return;
        };
        outbox.stats.remb_sent += 1;
        outbox.queue_rtcp(&mut self.transport, self.socket, dst, len);
    }

    /// Sends a publisher a receiver report if one is due at `now`.
    fn send_receiver_report(&mut self, now: Instant, outbox: &mut Outbox) {
        let (Role::Publisher(p), Some(dst)) = (&mut self.role, self.transport.remote()) else {
            return;
        };
        let Some(len) = p.write_receiver_report(now, &mut outbox.out[..]) else {
            return;
        };
        outbox.queue_rtcp(&mut self.transport, self.socket, dst, len);
    }
}

/// The SSRC a keyframe request (PLI or FIR) is about (a FIR's first entry).
pub fn keyframe_request_ssrc(p: &RtcpPacket<'_>) -> Option<u32> {
    match p {
        RtcpPacket::Pli(pli) => Some(pli.media_ssrc),
        RtcpPacket::Fir(fir) => fir.entries().next().map(|e| e.ssrc),
        _ => None,
    }
}

/// Whether an RTCP packet asks for a keyframe (PLI or FIR).
pub fn is_keyframe_request(p: &RtcpPacket<'_>) -> bool {
    matches!(p, RtcpPacket::Pli(_) | RtcpPacket::Fir(_))
}
