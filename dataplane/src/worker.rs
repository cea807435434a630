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
use std::time::Instant;

use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token};
use slab::Slab;

use crate::api::{
    CloseReason, Command, Event, PeerId, PeerRole, PeerSpec, SharedEventSink, StreamId, WorkerId,
};
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

pub(crate) const SOCKET: Token = Token(0);
pub(crate) const WAKER: Token = Token(1);

/// Largest datagram we receive; anything longer is truncated and fails authentication.
const MAX_DATAGRAM: usize = 2048;

/// Settings every worker shares.
#[derive(Clone)]
pub(crate) struct WorkerSettings {
    pub ice: IceConfig,
    pub srtp_profiles: Vec<SrtpProfile>,
    pub certificate: DtlsCertificate,
}

/// Counters of one worker (read in tests and logs).
#[derive(Debug, Default, Clone, Copy)]
pub struct WorkerStats {
    pub datagrams_in: u64,
    pub dropped_unknown_source: u64,
    pub dropped_invalid: u64,
    pub rtp_forwarded: u64,
    pub send_errors: u64,
}

enum Role {
    Publisher(Publisher),
    Subscriber { sub: Subscriber, source: WorkerId },
}

struct PeerEntry {
    id: PeerId,
    stream: StreamId,
    ufrag: String,
    conn: Connection,
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

/// Socket and reusable buffers, split from the routing state so both can be borrowed at once.
struct Io {
    socket: UdpSocket,
    scratch: Vec<u8>,
    out: Box<[u8; MAX_DATAGRAM]>,
    stats: WorkerStats,
}

impl Io {
    fn send(&mut self, dst: SocketAddr, bytes: &[u8]) {
        if self.socket.send_to(bytes, dst).is_err() {
            // UDP: a full socket buffer or an unreachable peer loses this datagram only.
            self.stats.send_errors += 1;
        }
    }

    /// Sends the first `len` bytes of the `out` buffer.
    fn send_out(&mut self, dst: SocketAddr, len: usize) {
        if self.socket.send_to(&self.out[..len], dst).is_err() {
            self.stats.send_errors += 1;
        }
    }
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
    peers: Slab<PeerEntry>,
    by_id: HashMap<PeerId, usize>,
    by_addr: HashMap<SocketAddr, usize>,
    by_ufrag: HashMap<String, usize>,
    streams: HashMap<StreamId, LocalStream>,
    timers: BinaryHeap<Reverse<(Instant, usize)>>,
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
        Ok(Self {
            id,
            poll,
            io: Io {
                socket,
                scratch: Vec::with_capacity(MAX_DATAGRAM),
                out: Box::new([0; MAX_DATAGRAM]),
                stats: WorkerStats::default(),
            },
            settings,
            commands,
            events,
            mailboxes,
            wakes: PendingWakes::new(n),
            peers: Slab::new(),
            by_id: HashMap::new(),
            by_addr: HashMap::new(),
            by_ufrag: HashMap::new(),
            streams: HashMap::new(),
            timers: BinaryHeap::new(),
        })
    }

    /// Runs until a `Shutdown` command arrives or the control plane is gone.
    pub(crate) fn run(mut self) {
        let mut events = Events::with_capacity(64);
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
                    SOCKET => self.read_socket(now, &mut recv),
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
            self.wakes.flush(&self.mailboxes);
        }
    }

    fn read_socket(&mut self, now: Instant, recv: &mut [u8]) {
        loop {
            match self.io.socket.recv_from(recv) {
                Ok((len, from)) => {
                    self.io.stats.datagrams_in += 1;
                    self.on_datagram(now, from, &recv[..len]);
                    if self.io.stats.datagrams_in.is_multiple_of(64) {
                        self.wakes.flush(&self.mailboxes);
                    }
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
                let peer = &mut self.peers[key];
                if peer.conn.handle_dtls(now, from, buf).is_err() {
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
        if peer.conn.handle_stun(now, from, buf).is_err() {
            self.io.stats.dropped_invalid += 1;
        } else if peer.conn.is_validated(from) && !peer.addrs.contains(&from) {
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
        let mut plain = match peer.conn.unprotect_rtp(from, buf) {
            Ok(p) => p,
            Err(e) => {
                tracing::trace!(peer = %peer.id, %from, "RTP dropped: {e}");
                self.io.stats.dropped_invalid += 1;
                return;
            }
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
        let Ok(plain) = peer.conn.unprotect_rtcp(from, buf) else {
            self.io.stats.dropped_invalid += 1;
            return;
        };
        let stream = peer.stream;
        let mut reports = [None; 4];
        let mut n_reports = 0;
        let mut keyframe_wanted = false;
        for pkt in RtcpCompound::iter(&plain) {
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
                (Role::Subscriber { .. }, RtcpPacket::Pli(_) | RtcpPacket::Fir(_)) => {
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

    /// Delivers `msg` to the local subscribers of `stream` and queues it for the other workers
    /// that host subscribers.
    fn fan_out(&mut self, stream: StreamId, msg: FanoutMsg) {
        let Some(local) = self.streams.get(&stream) else {
            return;
        };
        for &w in &local.targets {
            if let Some(mb) = self.mailboxes.get(w.0) {
                if mb.push(msg.clone()) {
                    self.wakes.mark(w);
                }
            }
        }
        for &key in &local.subscribers {
            deliver(&mut self.peers, &mut self.io, key, &msg);
        }
    }

    /// A subscriber (peer `key`) wants a keyframe: ask the publisher, here or on its worker.
    fn request_keyframe(&mut self, now: Instant, key: usize) {
        let Some(peer) = self.peers.get(key) else {
            return;
        };
        let stream = peer.stream;
        match peer.role {
            Role::Subscriber { source, .. } if source != self.id => {
                if let Some(mb) = self.mailboxes.get(source.0) {
                    if mb.push(FanoutMsg::KeyframeRequest { stream }) {
                        self.wakes.mark(source);
                    }
                }
            }
            _ => self.keyframe_for_stream(now, stream),
        }
    }

    /// On the publisher's worker: send (or merge) a keyframe request to the publisher.
    fn keyframe_for_stream(&mut self, now: Instant, stream: StreamId) {
        let Some(key) = self.streams.get(&stream).and_then(|s| s.publisher) else {
            return;
        };
        let peer = &mut self.peers[key];
        if let Role::Publisher(p) = &mut peer.role {
            if p.keyframes.request(now) {
                send_keyframe_request(&mut self.io, peer);
            }
        }
        self.rearm(key);
    }

    fn drain_mailbox(&mut self, now: Instant) {
        let mailboxes = self.mailboxes.clone();
        let Some(mb) = mailboxes.get(self.id.0) else {
            return;
        };
        while let Some(msg) = mb.pop() {
            match msg {
                FanoutMsg::KeyframeRequest { stream } => self.keyframe_for_stream(now, stream),
                FanoutMsg::Media { stream, .. } | FanoutMsg::SenderReport { stream, .. } => {
                    let Some(local) = self.streams.get(&stream) else {
                        continue;
                    };
                    for &key in &local.subscribers {
                        deliver(&mut self.peers, &mut self.io, key, &msg);
                    }
                }
            }
        }
    }

    /// Applies queued control-plane commands; returns false on shutdown.
    fn drain_commands(&mut self, now: Instant) -> bool {
        loop {
            match self.commands.try_recv() {
                Ok(Command::AddPeer(spec)) => self.add_peer(now, *spec),
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
        if let PeerRole::Relay { .. } = spec.role {
            // Relay legs are being implemented (origin -> edge issue).
            self.events.send(Event::PeerClosed {
                peer: spec.id,
                reason: CloseReason::DtlsError,
            });
            return;
        }
        if self.by_id.contains_key(&spec.id) || self.by_ufrag.contains_key(&spec.local_ufrag) {
            tracing::warn!(peer = %spec.id, "duplicate peer id or ufrag: ignored");
            return;
        }
        let conn = match Connection::new(
            &spec,
            &self.settings.certificate,
            &self.settings.srtp_profiles,
            self.settings.ice,
            now,
        ) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(peer = %spec.id, "cannot create the peer's DTLS session: {e}");
                self.events.send(Event::PeerClosed {
                    peer: spec.id,
                    reason: e.close_reason().unwrap_or(CloseReason::DtlsError),
                });
                return;
            }
        };
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
        let key = self.peers.insert(PeerEntry {
            id: spec.id,
            stream,
            ufrag: spec.local_ufrag.clone(),
            conn,
            role,
            addrs: Vec::new(),
            armed: None,
        });
        self.by_id.insert(spec.id, key);
        self.by_ufrag.insert(spec.local_ufrag, key);
        let local = self.streams.entry(stream).or_default();
        match self.peers[key].role {
            Role::Publisher(_) => local.publisher = Some(key),
            Role::Subscriber { .. } => local.subscribers.push(key),
        }
        self.rearm(key);
    }

    fn remove_peer(&mut self, key: usize) {
        if !self.peers.contains(key) {
            return;
        }
        let peer = self.peers.remove(key);
        self.by_id.remove(&peer.id);
        self.by_ufrag.remove(&peer.ufrag);
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
        while let Some(t) = peer.conn.poll_transmit(&mut self.io.out[..]) {
            self.io.send_out(t.dst, t.len);
        }
        let mut failed = None;
        let mut connected = false;
        while let Some(ev) = peer.conn.poll_event() {
            match ev {
                ConnectionEvent::Selected(addr) => {
                    if !peer.addrs.contains(&addr) {
                        peer.addrs.push(addr);
                        self.by_addr.insert(addr, key);
                    }
                }
                ConnectionEvent::Connected(remote) => {
                    connected = true;
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
        if connected && matches!(self.peers[key].role, Role::Subscriber { .. }) {
            // A new viewer needs a keyframe to show anything.
            self.request_keyframe(now, key);
        }
        self.rearm(key);
    }

    /// Puts the peer's next deadline into the timer heap if it changed.
    fn rearm(&mut self, key: usize) {
        let Some(peer) = self.peers.get_mut(key) else {
            return;
        };
        let mut next = peer.conn.poll_timeout();
        // Receiver reports and merged keyframe requests run only once media can flow.
        if let (Role::Publisher(p), true) = (&peer.role, peer.conn.is_connected()) {
            next = match (next, p.poll_timeout()) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
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
            peer.conn.handle_timeout(now);
            if let Role::Publisher(p) = &mut peer.role {
                if peer.conn.is_connected() {
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

/// Sends `msg` to one local subscriber: rewrite into the scratch buffer, encrypt, send.
fn deliver(peers: &mut Slab<PeerEntry>, io: &mut Io, key: usize, msg: &FanoutMsg) {
    let Some(peer) = peers.get_mut(key) else {
        return;
    };
    let Role::Subscriber { sub, .. } = &mut peer.role else {
        return;
    };
    let (Some(dst), true) = (peer.conn.remote(), peer.conn.is_connected()) else {
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
            if let Ok(enc) = peer.conn.protect_rtp(&io.scratch) {
                io.send(dst, &enc);
                io.stats.rtp_forwarded += 1;
            }
        }
        FanoutMsg::SenderReport { kind, report, .. } => {
            let Some(len) = sub.write_sender_report(*kind, report, &mut io.out[..]) else {
                return;
            };
            if let Ok(enc) = peer.conn.protect_rtcp(&io.out[..len]) {
                io.send(dst, &enc);
            }
        }
        FanoutMsg::KeyframeRequest { .. } => {}
    }
}

fn send_keyframe_request(io: &mut Io, peer: &mut PeerEntry) {
    let (Role::Publisher(p), Some(dst)) = (&mut peer.role, peer.conn.remote()) else {
        return;
    };
    let Some(len) = p.write_keyframe_request(&mut io.out[..]) else {
        return;
    };
    if let Ok(enc) = peer.conn.protect_rtcp(&io.out[..len]) {
        io.send(dst, &enc);
    }
}

fn send_receiver_report(now: Instant, io: &mut Io, peer: &mut PeerEntry) {
    let (Role::Publisher(p), Some(dst)) = (&mut peer.role, peer.conn.remote()) else {
        return;
    };
    let Some(len) = p.write_receiver_report(now, &mut io.out[..]) else {
        return;
    };
    if let Ok(enc) = peer.conn.protect_rtcp(&io.out[..len]) {
        io.send(dst, &enc);
    }
}
