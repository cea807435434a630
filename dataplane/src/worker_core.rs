//! The sans-IO worker core: everything a data-plane worker decides, without a socket, a
//! poller or a clock.
//!
//! A [`WorkerCore`] owns the peers of one worker (a slab), the routing tables (by address,
//! ufrag, id and local socket), the streams its peers take part in, the timer queue, the held
//! fan-out and the send queue. Its inputs are datagrams with the local socket they arrived on
//! ([`WorkerCore::handle_input`]), control-plane commands ([`WorkerCore::handle_command`]),
//! the worker's cross-worker mailbox ([`WorkerCore::handle_mailbox`]) and timeouts
//! ([`WorkerCore::handle_timeout`]); `now` is always passed in. Its outputs are polled:
//!
//! - [`WorkerCore::poll_transmit`]: the send queue, filled with the held fan-out as far as it
//!   fits. The caller sends (or, in the simulated network, carries) every datagram in it,
//!   clears it and polls again until `None`.
//! - [`WorkerCore::poll_event`]: events for the control plane.
//! - [`WorkerCore::poll_wake`]: other workers whose mailbox got messages.
//! - [`WorkerCore::poll_released_socket`]: relay-leg sockets no peer uses any more.
//! - [`WorkerCore::poll_timeout`]: when to call [`WorkerCore::handle_timeout`].
//!
//! The core never writes into a full send queue: between two inputs the caller checks
//! [`WorkerCore::wants_flush`] and, when it says so, drains `poll_transmit` first. The I/O
//! shell (`crate::worker`) and the simulated network (`crate::sim`) are its two drivers.
//!
//! A datagram is routed by local socket (a relay leg's own socket), else by source address
//! (ICE-validated addresses only: the few each peer's ICE agent remembers, dropped from the
//! routes when it forgets them), else — a STUN check only — by our ICE ufrag. SRTP of an
//! SSRC the peer's role has no use for (not announced, learnt or learnable by a publisher;
//! any from a subscriber) is dropped before it is decrypted, so a peer cannot make its SRTP
//! state grow. A DTLS datagram that would start a handshake (a ClientHello to a passive peer
//! still waiting for one) is dropped while the core already serves
//! `CoreConfig::max_handshakes` handshakes: the peer's ICE goes on being answered and its DTLS
//! client resends, so it gets in once a handshake ends (completed, failed or timed out). A
//! publisher's packet is decrypted once, shared as a reference-counted buffer
//! with the local subscribers and, through the lock-free mailboxes, with the other workers
//! that host subscribers of the stream.

#![forbid(unsafe_code)]

mod admission;
mod cache;
mod config;
mod held;
mod outbox;
mod peer;
mod repair;
mod routes;
mod streams;
mod timers;
mod viewers;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use bytes::BytesMut;
use slab::Slab;

use crate::api::{CloseReason, Event, PeerId, PeerRole, PeerSpec, StreamId, WorkerId};
use crate::demux::{classify, PacketClass};
use crate::fanout::{FanoutMsg, Mailboxes, PendingWakes, SenderInfo};
use crate::nack::Arrival;
use crate::publisher::{Publisher, PublisherError};
use crate::rng::SplitMix64;
use crate::rtcp::{RtcpCompound, RtcpPacket};
use crate::send_queue::{SendQueue, SocketId};
use crate::stats::WorkerStats;
use crate::subscriber::Subscriber;
use crate::transport::{ConnectionEvent, Received, Transport};

use admission::WebRtcSettings;
use held::HeldFanout;
use outbox::Outbox;
use peer::{is_keyframe_request, keyframe_request_ssrc, Peer, PeerAddrs, Role};
use routes::Routes;
use streams::Streams;
use timers::Timers;

pub use admission::PLAIN_KEEPALIVE;
pub use config::{CoreCommand, CoreConfig};
pub use outbox::{MAX_DATAGRAM, SRTP_OVERHEAD};

/// Free send-queue slots the core keeps for what one input, command or timer writes outside
/// the fan-out (ICE responses, a DTLS flight, RTCP).
const RESERVE: usize = 16;

/// Packets one RTCP compound may NACK; more are not answered (and counted as missed).
const MAX_NACKED: usize = 128;

/// The forwarding state of one worker. See the module documentation for the drive loop.
pub struct WorkerCore {
    config: CoreConfig,
    rng: SplitMix64,
    mailboxes: Mailboxes,
    wakes: PendingWakes,
    peers: Slab<Peer>,
    routes: Routes,
    streams: Streams,
    timers: Timers,
    held: HeldFanout,
    outbox: Outbox,
    events: VecDeque<Event>,
    released: Vec<SocketId>,
    /// Peers whose DTLS server is in a handshake (those with `Peer::handshaking`).
    handshakes: usize,
}

impl WorkerCore {
    /// A core with no peers; `mailboxes` are all workers' (this one's is `config.id`).
    pub fn new(config: CoreConfig, mailboxes: Mailboxes) -> Self {
        let n = mailboxes.len();
        Self {
            rng: SplitMix64(config.seed),
            outbox: Outbox::new(config.gso),
            config,
            mailboxes,
            wakes: PendingWakes::new(n),
            peers: Slab::new(),
            routes: Routes::default(),
            streams: Streams::default(),
            timers: Timers::default(),
            held: HeldFanout::new(),
            events: VecDeque::new(),
            released: Vec::new(),
            handshakes: 0,
        }
    }

    /// This core's worker id.
    pub fn id(&self) -> WorkerId {
        self.config.id
    }

    /// The worker's counters.
    pub fn stats(&self) -> WorkerStats {
        let mut stats = self.outbox.stats;
        if let Some(mb) = self.mailboxes.get(self.config.id.0) {
            stats.dropped_fanout_full = mb.dropped();
        }
        stats
    }

    /// Adds what one send of the queue did to the counters.
    pub fn count_flush(&mut self, out: crate::send_queue::FlushOutcome) {
        self.outbox.stats.count_flush(out);
    }

    /// The bandwidth estimate toward subscriber `peer` (bits/s), when it negotiated
    /// transport-wide congestion control.
    pub fn bandwidth_estimate(&self, peer: PeerId) -> Option<u64> {
        match &self.peers.get(self.routes.by_id(peer)?)?.role {
            Role::Subscriber { sub, .. } => sub.bandwidth_estimate(),
            Role::Publisher(_) => None,
        }
    }

    /// Peers on this worker.
    pub fn peer_count(&self) -> usize {
        self.peers.len()
    }

    /// DTLS handshakes this worker serves now (at most `CoreConfig::max_handshakes`).
    pub fn handshakes_in_flight(&self) -> usize {
        self.handshakes
    }

    /// Streams with a member on this worker.
    pub fn stream_count(&self) -> usize {
        self.streams.len()
    }

    /// Source addresses routed to peers of this worker (each peer has at most
    /// [`crate::ice::MAX_VALIDATED`]).
    pub fn routed_addrs(&self) -> usize {
        self.routes.addr_count()
    }

    /// True when the caller must drain [`Self::poll_transmit`] before the next input: the held
    /// fan-out is full or half delivered, or the send queue is nearly full.
    pub fn wants_flush(&self) -> bool {
        self.held.is_full() || self.held.in_progress() || self.outbox.queue.free() < RESERVE
    }

    /// A datagram arrived whose source is not an IP address: counted and dropped.
    pub fn count_unroutable(&mut self) {
        self.outbox.stats.datagrams_in += 1;
        self.outbox.stats.dropped_unknown_source += 1;
    }

    /// One datagram that arrived on local socket `socket` from `from`.
    pub fn handle_input(&mut self, now: Instant, socket: SocketId, from: SocketAddr, buf: &[u8]) {
        self.outbox.now = Some(now);
        self.outbox.stats.datagrams_in += 1;
        self.outbox.stats.bytes_in += buf.len() as u64;
        let Some(key) = self.route(socket, from, buf) else {
            // Media and DTLS only ever come from ICE-validated addresses.
            self.outbox.stats.dropped_unknown_source += 1;
            return;
        };
        let peer = &mut self.peers[key];
        if !peer.admits(buf) {
            // SRTP of an SSRC the peer's role has no use for: never decrypted, so it creates
            // no SRTP state (see `Peer::admits`).
            self.outbox.stats.dropped_unknown_ssrc += 1;
            return;
        }
        if self.handshakes >= self.config.max_handshakes && peer.starts_handshake(buf) {
            // No slot: its DTLS client resends the ClientHello, and one gets in once a
            // handshake ends. ICE goes on answering it meanwhile.
            self.outbox.stats.dropped_handshake_busy += 1;
            return;
        }
        match peer.transport.handle_input(now, from, buf) {
            Ok(Received::Rtp(packet)) => self.on_rtp(now, key, packet),
            Ok(Received::Rtcp(packet)) => self.on_rtcp(now, key, &packet),
            Ok(Received::Transport) => self.after_peer_io(now, key),
            Err(e) => {
                if e.is_unknown_source() {
                    self.outbox.stats.dropped_unknown_source += 1;
                } else if e.is_unknown_ssrc() {
                    self.outbox.stats.dropped_unknown_ssrc += 1;
                } else if e.is_replay() {
                    self.outbox.stats.dropped_duplicate += 1;
                } else {
                    self.outbox.stats.dropped_invalid += 1;
                }
                // A rejected record may still have ended the transport (a failed handshake).
                self.after_peer_io(now, key);
            }
        }
    }

    fn route(&self, socket: SocketId, from: SocketAddr, buf: &[u8]) -> Option<usize> {
        if socket != SocketId::WORKER {
            return self.routes.by_socket(socket);
        }
        self.routes.by_addr(from).or_else(|| {
            (classify(buf) == PacketClass::Stun)
                .then(|| self.routes.first_check(buf))
                .flatten()
        })
    }

    fn on_rtp(&mut self, now: Instant, key: usize, mut packet: BytesMut) {
        let peer = &mut self.peers[key];
        let Role::Publisher(publisher) = &mut peer.role else {
            return; // Subscribers send no media we use.
        };
        let received = publisher.on_rtp(now, &mut packet);
        // Transport-wide feedback became due: the peer's deadline moved.
        let rearm = publisher.take_feedback_armed();
        let stream = peer.stream;
        if rearm {
            self.rearm(key);
        }
        let rx = match received {
            Ok(rx) => rx,
            Err(PublisherError::RtxDuplicate) => {
                self.outbox.stats.dropped_duplicate += 1;
                return;
            }
            Err(_) => return, // FEC, RED, RTX padding or an unannounced SSRC: not forwarded.
        };
        if rx.unwrapped {
            self.outbox.stats.rtx_received += 1;
        }
        self.fan_out(
            now,
            stream,
            FanoutMsg::Media {
                stream,
                kind: rx.kind,
                layer: rx.layer,
                keyframe: rx.keyframe,
                packet: packet.freeze(),
            },
        );
        self.outbox.stats.upstream_given_up += rx.given_up;
        match rx.arrival {
            // A new gap: its NACK is due soon.
            Arrival::Gap => self.rearm(key),
            // Too much is missing to repair: only a keyframe helps.
            Arrival::TooLarge => self.keyframe_for_stream(now, stream, Some(rx.layer)),
            Arrival::Repaired => self.outbox.stats.upstream_repaired += 1,
            Arrival::InOrder | Arrival::Old => {}
        }
    }

    fn on_rtcp(&mut self, now: Instant, key: usize, plain: &[u8]) {
        let peer = &mut self.peers[key];
        let stream = peer.stream;
        let mut reports = [None; 4];
        let mut n_reports = 0;
        // A keyframe is wanted (of one layer, or of every layer).
        let mut keyframe_wanted: Option<Option<u8>> = None;
        let mut feedback = false;
        // The packets NACKed in this compound (more than fit are counted as missed).
        let mut nacked = [(0u32, 0u16); MAX_NACKED];
        let mut n_nacked = 0;
        for pkt in RtcpCompound::iter(plain) {
            let Ok(pkt) = pkt else {
                self.outbox.stats.dropped_invalid += 1;
                break;
            };
            match (&mut peer.role, pkt) {
                (Role::Publisher(p), RtcpPacket::SenderReport(sr)) => {
                    let info = SenderInfo {
                        ntp: sr.ntp(),
                        received_at: now,
                        rtp_timestamp: sr.rtp_timestamp(),
                        packet_count: sr.packet_count(),
                        octet_count: sr.octet_count(),
                    };
                    if let Some((kind, layer)) = p.on_sender_report(now, sr.sender_ssrc(), info) {
                        if n_reports < reports.len() {
                            reports[n_reports] = Some((kind, layer, info));
                            n_reports += 1;
                        }
                    }
                }
                (Role::Subscriber { sub, .. }, p) if is_keyframe_request(&p) => {
                    let layer = keyframe_request_ssrc(&p).and_then(|ssrc| sub.keyframe_layer(ssrc));
                    // Two requests about different layers: ask every layer.
                    keyframe_wanted = match keyframe_wanted {
                        Some(l) if l != layer => Some(None),
                        _ => Some(layer),
                    };
                }
                (Role::Subscriber { sub, .. }, RtcpPacket::Twcc(fb)) => {
                    self.outbox.stats.transport_feedback_received += 1;
                    sub.on_transport_feedback(now, &fb);
                    feedback = true;
                }
                (Role::Subscriber { sub, .. }, RtcpPacket::ReceiverReport(rr)) => {
                    for block in rr.report_blocks() {
                        sub.on_report_block(now, &block);
                    }
                }
                (Role::Subscriber { sub, .. }, RtcpPacket::SenderReport(sr)) => {
                    for block in sr.report_blocks() {
                        sub.on_report_block(now, &block);
                    }
                }
                (Role::Subscriber { .. }, RtcpPacket::Nack(n)) => {
                    for seq in n.lost() {
                        match nacked.get_mut(n_nacked) {
                            Some(slot) => *slot = (n.media_ssrc, seq),
                            None => {
                                self.outbox.stats.nack_requested += 1;
                                self.outbox.stats.retransmit_missed += 1;
                            }
                        }
                        n_nacked += 1;
                    }
                }
                _ => {}
            }
        }
        for (kind, layer, report) in reports.into_iter().flatten() {
            self.fan_out(
                now,
                stream,
                FanoutMsg::SenderReport {
                    stream,
                    kind,
                    layer,
                    report,
                },
            );
        }
        if n_nacked > 0 {
            self.answer_nack(now, key, &nacked[..n_nacked.min(MAX_NACKED)]);
        }
        if let Some(layer) = keyframe_wanted {
            // A viewer, or the other node's viewers up a relay leg, want a keyframe.
            self.request_keyframe(now, key, layer);
        }
        if matches!(self.peers[key].role, Role::Subscriber { .. }) {
            self.after_viewer_report(now, key, feedback);
        }
    }

    /// Applies one control-plane command.
    pub fn handle_command(&mut self, now: Instant, cmd: CoreCommand) {
        self.outbox.now = Some(now);
        match cmd {
            CoreCommand::AddPeer { spec, leg } => self.add_peer(now, *spec, leg),
            CoreCommand::AddPlainPeer { spec, remote, leg } => {
                self.add_plain_peer(now, *spec, remote, leg)
            }
            CoreCommand::RemovePeer(id) => {
                if let Some(key) = self.routes.by_id(id) {
                    // The control plane ended the session: tell the peer before it goes.
                    if let Some(peer) = self.peers.get_mut(key) {
                        peer.transport.close(now);
                        peer.queue_transmits(&mut self.outbox);
                    }
                    self.remove_peer(key);
                }
            }
            CoreCommand::AddFanoutTarget { stream, worker } => {
                if worker != self.config.id {
                    self.streams.add_target(stream, worker);
                }
            }
            CoreCommand::RemoveFanoutTarget { stream, worker } => {
                self.streams.remove_target(stream, worker)
            }
        }
    }

    fn add_peer(&mut self, now: Instant, spec: PeerSpec, leg: Option<SocketId>) {
        if self.routes.by_id(spec.id).is_some() || self.routes.has_ufrag(&spec.local_ufrag) {
            tracing::warn!(peer = %spec.id, "duplicate peer id or ufrag: ignored");
            self.released.extend(leg);
            return;
        }
        let settings = WebRtcSettings {
            certificate: &self.config.certificate,
            srtp_profiles: &self.config.srtp_profiles,
            ice: self.config.ice,
            dtls_timeout: self.config.dtls_timeout,
        };
        match admission::webrtc(&settings, &spec, leg, self.rng.next_u64(), now) {
            Ok((transport, socket)) => {
                // A leg given to a peer that does not use one is closed again.
                self.released.extend(leg.filter(|l| *l != socket));
                self.insert_peer(now, spec, transport, socket, Vec::new())
            }
            Err(reason) => {
                tracing::warn!(peer = %spec.id, "cannot start the peer's transport: {reason:?}");
                self.released.extend(leg);
                self.events.push_back(Event::PeerClosed {
                    peer: spec.id,
                    reason,
                });
            }
        }
    }

    /// Starts a plain peer (see `api::Command::AddPlainPeer`); refuses it with a `PeerClosed`
    /// event.
    fn add_plain_peer(
        &mut self,
        now: Instant,
        spec: PeerSpec,
        remote: SocketAddr,
        leg: Option<SocketId>,
    ) {
        let id = spec.id;
        let created = if self.routes.by_id(spec.id).is_some() {
            Err("duplicate peer id")
        } else {
            let routed = self.routes.by_addr(remote).is_some();
            let idle = self.config.ice.consent_timeout;
            admission::plain(&spec, remote, leg, routed, idle, now)
        };
        match created {
            Ok((transport, socket, addrs)) => self.insert_peer(now, spec, transport, socket, addrs),
            Err(why) => {
                tracing::warn!(peer = %id, %remote, "plain peer refused: {why}");
                self.released.extend(leg);
                self.events.push_back(Event::PeerClosed {
                    peer: id,
                    reason: CloseReason::Refused,
                });
            }
        }
    }

    /// Registers a peer with `addrs` routed to it already, and runs its first I/O.
    fn insert_peer(
        &mut self,
        now: Instant,
        spec: PeerSpec,
        transport: Transport,
        socket: SocketId,
        addrs: Vec<SocketAddr>,
    ) {
        let stream = spec.stream();
        let role = match spec.role {
            PeerRole::Publisher { .. } => {
                Role::Publisher(Publisher::new(&spec, self.rng.next_u64() as u32, now))
            }
            PeerRole::Subscriber { source, .. } | PeerRole::Relay { source, .. } => {
                Role::Subscriber {
                    sub: Subscriber::new(&spec, self.rng.next_u64(), self.config.retransmit_share),
                    source,
                }
            }
        };
        // Only passive transports on the worker socket receive first checks by ufrag.
        let passive = socket == SocketId::WORKER && matches!(transport, Transport::WebRtc(_));
        let publisher = matches!(role, Role::Publisher(_));
        let mut routed = PeerAddrs::default();
        for &a in &addrs {
            routed.insert(a);
        }
        let key = self.peers.insert(Peer {
            id: spec.id,
            stream,
            ufrag: spec.local_ufrag.clone(),
            transport,
            socket,
            role,
            addrs: routed,
            handshaking: false,
        });
        for a in routed.iter() {
            self.routes.insert_addr(a, key);
        }
        self.routes.insert_id(spec.id, key);
        if passive {
            self.routes.insert_ufrag(spec.local_ufrag, key);
        }
        if socket != SocketId::WORKER {
            self.routes.insert_socket(socket, key);
        }
        if publisher {
            self.streams.set_publisher(stream, key);
        } else {
            self.streams.add_subscriber(stream, key);
        }
        // A relay leg has its first connectivity check to send right away.
        self.after_peer_io(now, key);
    }

    fn remove_peer(&mut self, key: usize) {
        if !self.peers.contains(key) {
            return;
        }
        let peer = self.peers.remove(key);
        if peer.handshaking {
            self.handshakes -= 1;
        }
        self.timers.set(key, None);
        self.routes
            .remove(key, peer.id, &peer.ufrag, peer.addrs.iter(), peer.socket);
        if peer.socket != SocketId::WORKER {
            self.released.push(peer.socket);
        }
        self.streams.remove_peer(peer.stream, key);
    }

    /// Drains a peer's transmits and events after it took input or a timeout, and re-arms its
    /// timer.
    fn after_peer_io(&mut self, now: Instant, key: usize) {
        let Some(peer) = self.peers.get_mut(key) else {
            return;
        };
        peer.queue_transmits(&mut self.outbox);
        let handshaking = peer.transport.serves_handshake();
        if handshaking != peer.handshaking {
            peer.handshaking = handshaking;
            if handshaking {
                self.handshakes += 1;
            } else {
                self.handshakes -= 1;
            }
        }
        let mut failed = None;
        let mut connected = false;
        while let Some(ev) = peer.transport.poll_event() {
            match ev {
                ConnectionEvent::Validated(addr) | ConnectionEvent::Selected(addr) => {
                    // Only the worker socket is shared and routed by address.
                    if peer.socket == SocketId::WORKER && peer.addrs.insert(addr) {
                        self.routes.insert_addr(addr, key);
                    }
                }
                ConnectionEvent::Forgotten(addr) => {
                    if peer.addrs.remove(addr) {
                        self.routes.remove_addr(addr, key);
                    }
                }
                ConnectionEvent::Connected(remote) => {
                    connected = true;
                    tracing::debug!(
                        peer = %peer.id,
                        %remote,
                        profile = ?peer.transport.srtp_profile(),
                        "connected"
                    );
                    self.events.push_back(Event::PeerConnected {
                        peer: peer.id,
                        remote,
                    });
                }
                ConnectionEvent::Failed(reason) => failed = Some(reason),
            }
        }
        let id = peer.id;
        if let Some(reason) = failed {
            self.events
                .push_back(Event::PeerClosed { peer: id, reason });
            self.remove_peer(key);
            return;
        }
        let viewer =
            matches!(peer.role, Role::Subscriber { .. }) && peer.socket == SocketId::WORKER;
        if connected && viewer && !matches!(peer.transport, Transport::Plain(_)) {
            // A new viewer needs a keyframe to show anything. A relay leg does not ask: the
            // other node has no viewers yet, and its viewers' own requests come up the leg;
            // asking now would only spend the publisher's one request per interval.
            self.request_keyframe(now, key, None);
        }
        self.rearm(key);
    }

    /// Arms the peer's timer for its next deadline.
    fn rearm(&mut self, key: usize) {
        let Some(peer) = self.peers.get(key) else {
            return;
        };
        self.timers.set(key, peer.poll_timeout());
    }

    /// When [`Self::handle_timeout`] is next due.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        self.timers.peek().map(|(t, _)| t)
    }

    /// Entries in the timer queue (for tests: it stays within about twice the peers).
    pub fn timer_queue_len(&self) -> usize {
        self.timers.len()
    }

    /// Runs the timers due at `now`. Stops early to keep room in the send queue; then
    /// [`Self::poll_timeout`] is still due: drain [`Self::poll_transmit`] and call again.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.outbox.now = Some(now);
        loop {
            let Some((t, key)) = self.timers.peek() else {
                return;
            };
            if t > now || self.outbox.queue.free() < RESERVE {
                return;
            }
            self.timers.pop();
            let peer = &mut self.peers[key];
            peer.handle_timeout(now, &mut self.outbox);
            if let Role::Publisher(p) = &mut peer.role {
                if let Some(video_bps) = p.poll_stats(now) {
                    let peer = peer.id;
                    self.events
                        .push_back(Event::PublisherStats { peer, video_bps });
                }
            }
            self.send_deferred_retransmissions(now, key);
            self.after_peer_io(now, key);
        }
    }

    /// Queues `msg` for the other workers that host subscribers of `stream` and holds it for
    /// the local ones.
    fn fan_out(&mut self, now: Instant, stream: StreamId, msg: FanoutMsg) {
        let Some(local) = self.streams.get(stream) else {
            return;
        };
        for &w in &local.targets {
            if let Some(mb) = self.mailboxes.get(w.0) {
                if mb.push(msg.clone()) {
                    self.wakes.mark(w);
                }
            }
        }
        if !local.subscribers.is_empty() {
            self.keep_for_retransmission(now, stream, &msg);
            self.hold(stream, msg);
        }
    }

    /// Holds `msg` for the local subscribers of `stream`. If the caller ignored
    /// [`Self::wants_flush`], what is held is delivered as far as the queue has room, and a
    /// message that still finds no room is dropped and counted.
    fn hold(&mut self, stream: StreamId, msg: FanoutMsg) {
        if self.held.is_full() && !self.held.in_progress() {
            self.deliver_held();
        }
        if !self.held.hold(stream, msg) {
            self.outbox.stats.dropped_send_full += 1;
        }
    }

    /// A subscriber (peer `key`) wants a keyframe of simulcast layer `layer` (of every layer
    /// with `None`): ask the publisher, here or on its worker.
    fn request_keyframe(&mut self, now: Instant, key: usize, layer: Option<u8>) {
        let Some(peer) = self.peers.get(key) else {
            return;
        };
        let stream = peer.stream;
        match peer.role {
            Role::Subscriber { source, .. } if source != self.config.id => {
                if let Some(mb) = self.mailboxes.get(source.0) {
                    if mb.push(FanoutMsg::KeyframeRequest { stream, layer }) {
                        self.wakes.mark(source);
                    }
                }
            }
            _ => self.keyframe_for_stream(now, stream, layer),
        }
    }

    /// On the publisher's worker: send (or merge) a keyframe request for `layer` (every
    /// layer with `None`) to the publisher.
    fn keyframe_for_stream(&mut self, now: Instant, stream: StreamId, layer: Option<u8>) {
        let Some(key) = self.streams.get(stream).and_then(|s| s.publisher) else {
            return;
        };
        let peer = &mut self.peers[key];
        if let Role::Publisher(p) = &mut peer.role {
            if p.request_keyframe(now, layer) {
                peer.send_keyframe_request(&mut self.outbox);
            }
        }
        self.rearm(key);
    }

    /// Takes messages from this worker's mailbox: keyframe requests go to the local publisher,
    /// media and sender reports are held for the local subscribers. Returns true when the
    /// mailbox is empty; false when it stopped to let the caller drain
    /// [`Self::poll_transmit`] (then call again).
    pub fn handle_mailbox(&mut self, now: Instant) -> bool {
        self.outbox.now = Some(now);
        let mailboxes = self.mailboxes.clone();
        let Some(mb) = mailboxes.get(self.config.id.0) else {
            return true;
        };
        while !self.wants_flush() {
            match mb.pop() {
                None => return true,
                Some(FanoutMsg::KeyframeRequest { stream, layer }) => {
                    self.keyframe_for_stream(now, stream, layer)
                }
                Some(
                    msg
                    @ (FanoutMsg::Media { stream, .. } | FanoutMsg::SenderReport { stream, .. }),
                ) => {
                    self.keep_for_retransmission(now, stream, &msg);
                    self.hold(stream, msg)
                }
            }
        }
        false
    }

    /// The send queue with datagrams to send, after delivering the held fan-out into it as
    /// far as it fits. The caller sends every datagram in it and clears it
    /// ([`SendQueue::clear`]), then polls again until `None`.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<&mut SendQueue> {
        if !self.held.is_empty() {
            self.deliver_held();
        }
        (!self.outbox.queue.is_empty()).then_some(&mut self.outbox.queue)
    }

    /// Delivers the held fan-out (as far as the send queue has room) and arms the timers of
    /// the viewers whose pacers started holding packets.
    fn deliver_held(&mut self) {
        self.held
            .deliver(&self.streams, &mut self.peers, &mut self.outbox);
        while let Some(key) = self.outbox.rearm.pop() {
            self.rearm(key);
        }
    }

    /// The next event for the control plane.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The next other worker to wake: its mailbox got messages since the last drain.
    #[must_use]
    pub fn poll_wake(&mut self) -> Option<WorkerId> {
        self.wakes.poll()
    }

    /// The next relay-leg socket no peer uses any more (close it).
    #[must_use]
    pub fn poll_released_socket(&mut self) -> Option<SocketId> {
        self.released.pop()
    }
}
