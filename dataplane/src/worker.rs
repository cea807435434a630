//! A data-plane worker thread: the only code that touches a socket, the clock or the poller.
//!
//! Each worker owns one mio `Poll`, one UDP socket and every peer whose answer named that
//! socket's address, so all of a peer's state lives on one thread without locks. Datagrams are
//! demultiplexed by first byte (RFC 7983) and routed by source address (ICE-validated only) or,
//! for a first STUN check, by our ICE ufrag. A publisher's packet is decrypted once, shared as a
//! reference-counted buffer with local subscribers and, through the lock-free [`fanout`]
//! mailboxes, with the other workers that host subscribers of the stream.
//!
//! [`fanout`]: crate::fanout

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token};
use slab::Slab;

use crate::api::{
    CloseReason, Command, Event, PeerId, PeerRole, PeerSpec, SharedEventSink, StreamId, WorkerId,
};
use crate::client::{ClientConnection, ClientInput, LocalParams, RemoteParams};
use crate::connection::{Connection, ConnectionEvent};
use crate::demux::{classify, PacketClass};
use crate::dtls::DtlsCertificate;
use crate::fanout::{FanoutMsg, Mailboxes, PendingWakes, SenderInfo};
use crate::ice::IceConfig;
use crate::publisher::Publisher;
use crate::rtcp::{RtcpCompound, RtcpPacket};
use crate::srtp::SrtpProfile;
use crate::stun::{local_ufrag, StunMessage};
use crate::subscriber::Subscriber;
use crate::transport::Transport;
use crate::udp::{RecvBatch, SendQueue};

#[path = "worker_fanout.rs"]
mod fanout_held;
#[path = "worker_plain.rs"]
mod plain_peers;
#[path = "worker_send.rs"]
mod send;
#[path = "worker_stats.rs"]
mod stats;

pub use stats::{SharedStats, WorkerStats};

use fanout_held::HeldFanout;
use send::{
    is_keyframe_request, requests_keyframe, send_keyframe_request, send_receiver_report, Io,
};

pub(crate) const SOCKET: Token = Token(0);
pub(crate) const WAKER: Token = Token(1);
/// Relay legs' own sockets use `Token(RELAY_TOKEN_BASE + slab key)`.
const RELAY_TOKEN_BASE: usize = 2;

/// Largest datagram we receive; anything longer is truncated and fails authentication.
const MAX_DATAGRAM: usize = 2048;
/// Room for the SRTP tag (and the HMAC profile's) that protecting in place appends.
const SRTP_OVERHEAD: usize = 64;

/// Settings every worker shares.
#[derive(Clone)]
pub(crate) struct WorkerSettings {
    pub ice: IceConfig,
    /// Kernel buffer size requested for relay sockets.
    pub socket_buffer: usize,
    /// Send several datagrams to one destination as one UDP GSO send.
    pub gso: bool,
    pub srtp_profiles: Vec<SrtpProfile>,
    pub certificate: DtlsCertificate,
}

// The subscriber variant is large on purpose: its tracks are inline so the fan-out, which
// visits every subscriber per packet, does not chase a pointer (and miss the cache) for each.
#[allow(clippy::large_enum_variant)]
enum Role {
    Publisher(Publisher),
    Subscriber { sub: Subscriber, source: WorkerId },
}

struct PeerEntry {
    id: PeerId,
    stream: StreamId,
    ufrag: String,
    transport: Transport,
    /// A relay leg's own socket (registered with token `RELAY_TOKEN_BASE + slab key`).
    socket: Option<UdpSocket>,
    role: Role,
    /// Addresses registered in `by_addr` for this peer.
    addrs: Vec<SocketAddr>,
    /// The deadline currently in the timer heap.
    armed: Option<Instant>,
}

#[derive(Default)]
struct LocalStream {
    publisher: Option<usize>,
    subscribers: Vec<usize>,
    /// Other workers hosting subscribers (only on the publisher's worker).
    targets: Vec<WorkerId>,
}

/// One data-plane worker.
pub(crate) struct Worker {
    id: WorkerId,
    poll: Poll,
    io: Io,
    settings: WorkerSettings,
    commands: crossbeam_channel::Receiver<Command>,
    events: SharedEventSink,
    mailboxes: Mailboxes,
    wakes: PendingWakes,
    /// Local deliveries of the current receive batch or mailbox drain.
    held: HeldFanout,
    peers: Slab<PeerEntry>,
    by_id: HashMap<PeerId, usize>,
    by_addr: HashMap<SocketAddr, usize>,
    by_ufrag: HashMap<String, usize>,
    streams: HashMap<StreamId, LocalStream>,
    timers: BinaryHeap<Reverse<(Instant, usize)>>,
    shared_stats: Arc<SharedStats>,
}

impl Worker {
    pub(crate) fn new(
        id: WorkerId,
        poll: Poll,
        mut socket: UdpSocket,
        settings: WorkerSettings,
        commands: crossbeam_channel::Receiver<Command>,
        events: SharedEventSink,
        mailboxes: Mailboxes,
    ) -> io::Result<Self> {
        poll.registry()
            .register(&mut socket, SOCKET, Interest::READABLE)?;
        let n = mailboxes.len();
        let local_ip = socket.local_addr()?.ip();
        Ok(Self {
            id,
            poll,
            io: Io {
                socket,
                local_ip,
                scratch: Vec::with_capacity(MAX_DATAGRAM + SRTP_OVERHEAD),
                out: Box::new([0; MAX_DATAGRAM]),
                queue: SendQueue::new(MAX_DATAGRAM + SRTP_OVERHEAD, settings.gso),
                stats: WorkerStats::default(),
            },
            settings,
            commands,
            events,
            mailboxes,
            wakes: PendingWakes::new(n),
            held: HeldFanout::new(),
            peers: Slab::new(),
            by_id: HashMap::new(),
            by_addr: HashMap::new(),
            by_ufrag: HashMap::new(),
            streams: HashMap::new(),
            timers: BinaryHeap::new(),
            shared_stats: Arc::default(),
        })
    }

    /// The counters this worker publishes once per loop iteration.
    pub(crate) fn shared_stats(&self) -> Arc<SharedStats> {
        self.shared_stats.clone()
    }

    /// Runs until a `Shutdown` command arrives or the control plane is gone.
    pub(crate) fn run(mut self) {
        let mut events = Events::with_capacity(64);
        let mut batch = RecvBatch::new(MAX_DATAGRAM);
        let mut recv = vec![0u8; MAX_DATAGRAM];
        loop {
            let timeout = self
                .next_deadline()
                .map(|t| t.saturating_duration_since(Instant::now()));
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                tracing::error!(worker = self.id.0, "poll failed: {e}");
                return;
            }
            let now = Instant::now();
            for ev in events.iter() {
                match ev.token() {
                    SOCKET => self.read_socket(now, &mut batch),
                    Token(t) if t >= RELAY_TOKEN_BASE => {
                        self.read_relay(now, t - RELAY_TOKEN_BASE, &mut recv)
                    }
                    WAKER => {
                        if !self.drain_commands(now) {
                            tracing::debug!(worker = self.id.0, stats = ?self.io.stats, "stopped");
                            return;
                        }
                        self.drain_mailbox(now);
                    }
                    _ => {}
                }
            }
            self.handle_timers(now);
            self.flush();
            self.wakes.flush(&self.mailboxes);
            if let Some(mb) = self.mailboxes.get(self.id.0) {
                self.io.stats.dropped_fanout_full = mb.dropped();
            }
            self.shared_stats.publish(&self.io.stats);
        }
    }

    /// Reads the worker socket in batches until it would block; what each batch produced is
    /// sent (and other workers woken) before the next batch is read.
    fn read_socket(&mut self, now: Instant, batch: &mut RecvBatch) {
        loop {
            match batch.recv(&self.io.socket) {
                Ok(n) => {
                    for i in 0..n {
                        self.io.stats.datagrams_in += 1;
                        match batch.get(i) {
                            Some((from, buf)) => self.on_datagram(now, from, buf),
                            None => self.io.stats.dropped_unknown_source += 1,
                        }
                    }
                    self.flush();
                    self.wakes.flush(&self.mailboxes);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // ICMP errors surface here on Linux (ECONNREFUSED): ignore and keep reading.
                Err(_) => continue,
            }
        }
    }

    fn on_datagram(&mut self, now: Instant, from: SocketAddr, buf: &[u8]) {
        let class = classify(buf);
        let key = match self.by_addr.get(&from) {
            Some(&k) => k,
            None if class == PacketClass::Stun => match self.route_first_check(buf) {
                Some(k) => k,
                None => {
                    self.io.stats.dropped_unknown_source += 1;
                    return;
                }
            },
            None => {
                // Media and DTLS only ever come from ICE-validated addresses.
                self.io.stats.dropped_unknown_source += 1;
                return;
            }
        };
        match class {
            PacketClass::Stun => self.on_stun(now, key, from, buf),
            PacketClass::Dtls => {
                let Transport::Passive(conn) = &mut self.peers[key].transport else {
                    return;
                };
                if conn.handle_dtls(now, from, buf).is_err() {
                    self.io.stats.dropped_invalid += 1;
                }
                self.after_peer_io(now, key);
            }
            PacketClass::Rtp => self.on_rtp(now, key, from, buf),
            PacketClass::Rtcp => self.on_rtcp(now, key, from, buf),
            PacketClass::Unknown => self.io.stats.dropped_invalid += 1,
        }
    }

    /// Finds the peer a STUN check from a new address is meant for, by our ICE ufrag.
    fn route_first_check(&self, buf: &[u8]) -> Option<usize> {
        let msg = StunMessage::parse(buf).ok()?;
        let ufrag = local_ufrag(msg.username()?)?;
        let ufrag = std::str::from_utf8(ufrag).ok()?;
        self.by_ufrag.get(ufrag).copied()
    }

    fn on_stun(&mut self, now: Instant, key: usize, from: SocketAddr, buf: &[u8]) {
        let peer = &mut self.peers[key];
        let Transport::Passive(conn) = &mut peer.transport else {
            return;
        };
        if conn.handle_stun(now, from, buf).is_err() {
            self.io.stats.dropped_invalid += 1;
        } else if conn.is_validated(from) && !peer.addrs.contains(&from) {
            peer.addrs.push(from);
            self.by_addr.insert(from, key);
        }
        self.after_peer_io(now, key);
    }

    fn on_rtp(&mut self, now: Instant, key: usize, from: SocketAddr, buf: &[u8]) {
        let peer = &mut self.peers[key];
        let Role::Publisher(publisher) = &mut peer.role else {
            return; // Subscribers send no media we use.
        };
        let id = peer.id;
        let unprotected = match &mut peer.transport {
            Transport::Passive(conn) => conn
                .unprotect_rtp(from, buf)
                .map_err(|e| tracing::trace!(peer = %id, %from, "RTP dropped: {e}"))
                .ok(),
            // The rtp relay: the packet is used as it came (one copy into a shareable buffer,
            // as decryption makes one).
            Transport::Plain(p) => p
                .handle_input(now, from, buf)
                .map(|_| bytes::BytesMut::from(buf))
                .map_err(|e| tracing::trace!(peer = %id, %from, "RTP dropped: {e}"))
                .ok(),
            Transport::Active(_) => return,
        };
        let Some(mut plain) = unprotected else {
            self.io.stats.dropped_invalid += 1;
            return;
        };
        let Ok(rx) = publisher.on_rtp(now, &mut plain) else {
            return; // RTX, FEC, RED or an unannounced SSRC: not forwarded.
        };
        let stream = peer.stream;
        self.fan_out(
            stream,
            FanoutMsg::Media {
                stream,
                kind: rx.kind,
                keyframe: rx.keyframe,
                packet: plain.freeze(),
            },
        );
    }

    fn on_rtcp(&mut self, now: Instant, key: usize, from: SocketAddr, buf: &[u8]) {
        let peer = &mut self.peers[key];
        let decrypted;
        let plain: &[u8] = match &mut peer.transport {
            Transport::Passive(conn) => {
                let Ok(p) = conn.unprotect_rtcp(from, buf) else {
                    self.io.stats.dropped_invalid += 1;
                    return;
                };
                decrypted = p;
                &decrypted
            }
            Transport::Plain(p) => {
                if p.handle_input(now, from, buf).is_err() {
                    self.io.stats.dropped_invalid += 1;
                    return;
                }
                buf
            }
            Transport::Active(_) => return,
        };
        let stream = peer.stream;
        let mut reports = [None; 4];
        let mut n_reports = 0;
        let mut keyframe_wanted = false;
        for pkt in RtcpCompound::iter(plain) {
            let Ok(pkt) = pkt else {
                self.io.stats.dropped_invalid += 1;
                break;
            };
            match (&mut peer.role, pkt) {
                (Role::Publisher(p), RtcpPacket::SenderReport(sr)) => {
                    let info = SenderInfo {
                        ntp: sr.ntp(),
                        rtp_timestamp: sr.rtp_timestamp(),
                        packet_count: sr.packet_count(),
                        octet_count: sr.octet_count(),
                    };
                    if let Some(kind) = p.on_sender_report(now, sr.sender_ssrc(), info) {
                        if n_reports < reports.len() {
                            reports[n_reports] = Some((kind, info));
                            n_reports += 1;
                        }
                    }
                }
                (Role::Subscriber { .. }, p) if is_keyframe_request(&p) => {
                    keyframe_wanted = true;
                }
                _ => {}
            }
        }
        for (kind, report) in reports.into_iter().flatten() {
            self.fan_out(
                stream,
                FanoutMsg::SenderReport {
                    stream,
                    kind,
                    report,
                },
            );
        }
        if keyframe_wanted {
            self.request_keyframe(now, key);
        }
    }

    /// Applies queued control-plane commands; returns false on shutdown.
    fn drain_commands(&mut self, now: Instant) -> bool {
        loop {
            match self.commands.try_recv() {
                Ok(Command::AddPeer(spec)) => self.add_peer(now, *spec),
                Ok(Command::AddPlainPeer {
                    spec,
                    remote,
                    socket,
                }) => self.add_plain_peer(now, *spec, remote, socket),
                Ok(Command::RemovePeer(id)) => {
                    if let Some(&key) = self.by_id.get(&id) {
                        self.remove_peer(key);
                    }
                }
                Ok(Command::AddFanoutTarget { stream, worker }) => {
                    if worker != self.id {
                        let s = self.streams.entry(stream).or_default();
                        if !s.targets.contains(&worker) {
                            s.targets.push(worker);
                        }
                    }
                }
                Ok(Command::RemoveFanoutTarget { stream, worker }) => {
                    if let Some(s) = self.streams.get_mut(&stream) {
                        s.targets.retain(|w| *w != worker);
                    }
                    self.forget_stream_if_empty(stream);
                }
                Ok(Command::Shutdown) => return false,
                Err(crossbeam_channel::TryRecvError::Empty) => return true,
                Err(crossbeam_channel::TryRecvError::Disconnected) => return false,
            }
        }
    }

    fn add_peer(&mut self, now: Instant, spec: PeerSpec) {
        if self.by_id.contains_key(&spec.id) || self.by_ufrag.contains_key(&spec.local_ufrag) {
            tracing::warn!(peer = %spec.id, "duplicate peer id or ufrag: ignored");
            return;
        }
        let key = self.peers.vacant_key();
        let created = match spec.role {
            PeerRole::Relay { remote, .. } => self.relay_transport(now, &spec, remote, key),
            _ => Connection::new(
                &spec,
                &self.settings.certificate,
                &self.settings.srtp_profiles,
                self.settings.ice,
                now,
            )
            .map(|c| (Transport::Passive(c), None))
            .map_err(|e| e.close_reason().unwrap_or(CloseReason::DtlsError)),
        };
        let (transport, socket) = match created {
            Ok(t) => t,
            Err(reason) => {
                tracing::warn!(peer = %spec.id, "cannot start the peer's transport: {reason:?}");
                self.events.send(Event::PeerClosed {
                    peer: spec.id,
                    reason,
                });
                return;
            }
        };
        self.insert_peer(now, spec, transport, socket, Vec::new());
    }

    /// Registers a peer whose transport was created for slab slot `self.peers.vacant_key()`,
    /// with `addrs` routed to it already, and runs its first I/O.
    fn insert_peer(
        &mut self,
        now: Instant,
        spec: PeerSpec,
        transport: Transport,
        socket: Option<UdpSocket>,
        addrs: Vec<SocketAddr>,
    ) {
        let stream = spec.stream();
        let role = match spec.role {
            PeerRole::Publisher { .. } => {
                Role::Publisher(Publisher::new(&spec, rand::random(), now))
            }
            PeerRole::Subscriber { source, .. } | PeerRole::Relay { source, .. } => {
                Role::Subscriber {
                    sub: Subscriber::new(&spec),
                    source,
                }
            }
        };
        let passive = matches!(transport, Transport::Passive(_));
        let key = self.peers.insert(PeerEntry {
            id: spec.id,
            stream,
            ufrag: spec.local_ufrag.clone(),
            transport,
            socket,
            role,
            addrs: addrs.clone(),
            armed: None,
        });
        for a in addrs {
            self.by_addr.insert(a, key);
        }
        self.by_id.insert(spec.id, key);
        if passive {
            // Only passive transports receive first checks on the worker socket.
            self.by_ufrag.insert(spec.local_ufrag, key);
        }
        let local = self.streams.entry(stream).or_default();
        match self.peers[key].role {
            Role::Publisher(_) => local.publisher = Some(key),
            Role::Subscriber { .. } => local.subscribers.push(key),
        }
        // A relay leg has its first connectivity check to send right away.
        self.after_peer_io(now, key);
    }

    /// An active transport toward another node, on its own socket registered under `key`.
    fn relay_transport(
        &mut self,
        now: Instant,
        spec: &PeerSpec,
        remote: SocketAddr,
        key: usize,
    ) -> Result<(Transport, Option<UdpSocket>), CloseReason> {
        let local = SocketAddr::new(self.io.local_ip, 0);
        let mut socket = crate::bind_udp(local, self.settings.socket_buffer).map_err(|e| {
            tracing::warn!(peer = %spec.id, "cannot bind a relay socket on {local}: {e}");
            CloseReason::IceTimeout
        })?;
        self.poll
            .registry()
            .register(
                &mut socket,
                Token(RELAY_TOKEN_BASE + key),
                Interest::READABLE,
            )
            .map_err(|_| CloseReason::IceTimeout)?;
        let conn = ClientConnection::new(
            &LocalParams {
                ufrag: spec.local_ufrag.clone(),
                pwd: spec.local_pwd.clone(),
            },
            &RemoteParams {
                ufrag: spec.remote_ufrag.clone(),
                pwd: spec.remote_pwd.clone(),
                fingerprint: spec.remote_fingerprint.clone(),
                candidate: remote,
            },
            &self.settings.certificate,
            &self.settings.srtp_profiles,
            now,
        )
        .map_err(|e| e.close_reason().unwrap_or(CloseReason::DtlsError))?;
        Ok((Transport::Active(conn), Some(socket)))
    }

    /// Reads a relay leg's own socket until it would block.
    fn read_relay(&mut self, now: Instant, key: usize, recv: &mut [u8]) {
        loop {
            let Some(peer) = self.peers.get_mut(key) else {
                return;
            };
            if peer.transport.is_plain() {
                return self.read_plain_relay(now, key, recv);
            }
            let (Some(socket), Transport::Active(conn)) =
                (peer.socket.as_ref(), &mut peer.transport)
            else {
                return;
            };
            let (len, from) = match socket.recv_from(recv) {
                Ok(r) => r,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // WouldBlock, or an ICMP error surfacing: done for now.
                Err(_) => return,
            };
            self.io.stats.datagrams_in += 1;
            let keyframe = match conn.handle_input(now, from, &recv[..len]) {
                Ok(ClientInput::Rtcp(plain)) => requests_keyframe(&plain),
                Ok(_) => false,
                Err(_) => {
                    self.io.stats.dropped_invalid += 1;
                    false
                }
            };
            if keyframe {
                // The other node's players want a keyframe: ask our publisher.
                self.request_keyframe(now, key);
            }
            self.after_peer_io(now, key);
        }
    }

    fn remove_peer(&mut self, key: usize) {
        if !self.peers.contains(key) {
            return;
        }
        let mut peer = self.peers.remove(key);
        if let Some(socket) = peer.socket.as_mut() {
            let _ = self.poll.registry().deregister(socket);
        }
        self.by_id.remove(&peer.id);
        if self.by_ufrag.get(&peer.ufrag) == Some(&key) {
            self.by_ufrag.remove(&peer.ufrag);
        }
        for a in &peer.addrs {
            if self.by_addr.get(a) == Some(&key) {
                self.by_addr.remove(a);
            }
        }
        if let Some(s) = self.streams.get_mut(&peer.stream) {
            if s.publisher == Some(key) {
                s.publisher = None;
            }
            s.subscribers.retain(|k| *k != key);
        }
        self.forget_stream_if_empty(peer.stream);
    }

    fn forget_stream_if_empty(&mut self, stream: StreamId) {
        if let Some(s) = self.streams.get(&stream) {
            if s.publisher.is_none() && s.subscribers.is_empty() && s.targets.is_empty() {
                self.streams.remove(&stream);
            }
        }
    }

    /// Drains a peer's transmits and events after it took input or a timeout.
    fn after_peer_io(&mut self, now: Instant, key: usize) {
        let Some(peer) = self.peers.get_mut(key) else {
            return;
        };
        while let Some(t) = peer.transport.poll_transmit(&mut self.io.out[..]) {
            self.io.send_out(peer.socket.as_ref(), t.dst, t.len);
        }
        let mut failed = None;
        let mut connected = false;
        while let Some(ev) = peer.transport.poll_event() {
            match ev {
                ConnectionEvent::Selected(addr) => {
                    if !peer.addrs.contains(&addr) {
                        peer.addrs.push(addr);
                        self.by_addr.insert(addr, key);
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
                    self.events.send(Event::PeerConnected {
                        peer: peer.id,
                        remote,
                    });
                }
                ConnectionEvent::Failed(reason) => failed = Some(reason),
            }
        }
        let id = peer.id;
        if let Some(reason) = failed {
            self.events.send(Event::PeerClosed { peer: id, reason });
            self.remove_peer(key);
            return;
        }
        let peer = &self.peers[key];
        if connected
            && matches!(peer.role, Role::Subscriber { .. })
            && matches!(peer.transport, Transport::Passive(_))
        {
            // A new viewer needs a keyframe to show anything. A relay leg does not ask: the
            // other node has no viewers yet, and its viewers' own requests come up the leg;
            // asking now would only spend the publisher's one request per interval.
            self.request_keyframe(now, key);
        }
        self.rearm(key);
    }

    /// Puts the peer's next deadline into the timer heap if it changed.
    fn rearm(&mut self, key: usize) {
        let Some(peer) = self.peers.get_mut(key) else {
            return;
        };
        let mut next = peer.transport.poll_timeout();
        // Receiver reports and merged keyframe requests run only once media can flow.
        if let (Role::Publisher(p), true) = (&peer.role, peer.transport.is_connected()) {
            next = crate::earliest(next, p.poll_timeout());
        }
        if next != peer.armed {
            peer.armed = next;
            if let Some(t) = next {
                self.timers.push(Reverse((t, key)));
            }
        }
    }

    fn next_deadline(&mut self) -> Option<Instant> {
        // Drop stale heap entries (peer gone or re-armed) lazily.
        while let Some(&Reverse((t, key))) = self.timers.peek() {
            match self.peers.get(key) {
                Some(p) if p.armed == Some(t) => return Some(t),
                _ => {
                    self.timers.pop();
                }
            }
        }
        None
    }

    fn handle_timers(&mut self, now: Instant) {
        while let Some(t) = self.next_deadline() {
            if t > now {
                return;
            }
            let Some(Reverse((_, key))) = self.timers.pop() else {
                return;
            };
            let peer = &mut self.peers[key];
            peer.armed = None;
            peer.transport.handle_timeout(now);
            if let Role::Publisher(p) = &mut peer.role {
                if peer.transport.is_connected() {
                    if p.keyframes.handle_timeout(now) {
                        send_keyframe_request(&mut self.io, peer);
                    }
                    send_receiver_report(now, &mut self.io, peer);
                }
            }
            self.after_peer_io(now, key);
        }
    }
}
