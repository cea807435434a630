//! A simulated network for tests: worker cores (the real [`WorkerCore`]) and clients (the
//! project's own client transport, [`SimClient`]) at fake addresses, connected by links with
//! per-direction loss, delay, jitter, reordering, duplication and a rate limit
//! ([`LinkConfig`]), all driven by a virtual clock and one seeded generator. Nothing sleeps and
//! no socket is opened, so a test of a minute of protocol time runs in a fraction of a second
//! and fails the same way every time.
//!
//! [`Sim`] plays the I/O shell for every core (it opens "sockets" for relay legs, delivers
//! mailbox messages between cores at once and hands datagrams to the network) and the control
//! plane's part that tests need (peer specs, ICE credentials, fan-out targets). A run is
//! [`Sim::run_until`]: jump the clock to the next arrival or deadline, deliver and fire what is
//! due, drain every core and client, repeat.
//!
//! What does not repeat exactly: DTLS handshakes use real cryptography, so the sizes of their
//! flights (ECDSA signatures) may differ by a byte between runs; only a rate-limited link
//! during the handshake can turn that into a difference in timing.

#![forbid(unsafe_code)]

mod client;
mod link;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::api::{
    Command, Event, LayerChoice, MediaKind, PeerId, PeerRole, PeerSpec, StreamId, TrackSpec,
    WorkerId,
};
use crate::dtls::DtlsCertificate;
use crate::fanout::{self, Mailboxes};
use crate::ice::IceConfig;
use crate::rng::SplitMix64;
use crate::send_queue::SocketId;
use crate::srtp::SrtpProfile;
use crate::transport::{Connection, LocalParams, RemoteParams};
use crate::worker_core::{CoreCommand, CoreConfig, WorkerCore};

pub use client::SimClient;
pub use link::{DropCause, Dropped, Link, LinkConfig};

/// Steps a single [`Sim::run_until`] may take before the simulation is declared stuck (a
/// livelock fails the test instead of hanging it).
const MAX_STEPS: u64 = 50_000_000;

/// A datagram as it was put on a link: when, from, to, its bytes.
pub type Captured = (Instant, SocketAddr, SocketAddr, Vec<u8>);

/// A client's index in the simulation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientId(pub usize);

/// One worker core and its addresses.
pub struct SimWorker {
    pub core: WorkerCore,
    /// The worker socket's address.
    pub addr: SocketAddr,
    /// Relay legs' sockets: id and address.
    legs: Vec<(SocketId, SocketAddr)>,
    next_leg: u32,
    /// Other cores put messages in this core's mailbox.
    woken: bool,
}

impl SimWorker {
    /// Its relay legs' sockets: id and address.
    pub fn legs(&self) -> &[(SocketId, SocketAddr)] {
        &self.legs
    }
}

/// Where an address leads.
#[derive(Clone, Copy, Debug)]
enum Endpoint {
    Worker(usize, SocketId),
    Client(usize),
}

/// A datagram in flight.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct InFlight {
    arrival: Instant,
    /// Sending order, so simultaneous arrivals keep it.
    seq: u64,
    from: SocketAddr,
    to: SocketAddr,
    bytes: Vec<u8>,
}

/// The simulated world: a clock, the network, worker cores and clients.
pub struct Sim {
    now: Instant,
    rng: SplitMix64,
    default_link: LinkConfig,
    links: HashMap<(SocketAddr, SocketAddr), Link>,
    in_flight: BinaryHeap<Reverse<InFlight>>,
    seq: u64,
    endpoints: HashMap<SocketAddr, Endpoint>,
    workers: Vec<SimWorker>,
    clients: Vec<SimClient>,
    mailboxes: Mailboxes,
    /// Events the cores reported to the control plane, in order.
    pub events: Vec<(WorkerId, Event)>,
    /// Datagrams sent to an address nobody has.
    pub undeliverable: u64,
    /// When set, every datagram put on a link, in sending order (`(time, from, to, bytes)`),
    /// for tests that look at the wire.
    pub capture: Option<Vec<Captured>>,
    server_cert: DtlsCertificate,
    client_cert: DtlsCertificate,
    client_profiles: Vec<SrtpProfile>,
    next_peer: u64,
    out: Vec<u8>,
}

impl Sim {
    /// `workers` cores (one node; worker `i` at `192.0.2.1:30000+i`) with the default
    /// settings, and every generator seeded from `seed`.
    pub fn new(workers: usize, seed: u64) -> Self {
        Self::with_config(workers, seed, IceConfig::default(), true)
    }

    /// Like [`Sim::new`], with the cores' ICE timers and whether their send queues group for
    /// GSO.
    pub fn with_config(workers: usize, seed: u64, ice: IceConfig, gso: bool) -> Self {
        Self::with_core_config(workers, seed, |c| {
            c.ice = ice;
            c.gso = gso;
        })
    }

    /// Like [`Sim::new`], with every core's configuration changed by `tweak` (its id and
    /// certificate stay the simulation's).
    pub fn with_core_config(workers: usize, seed: u64, tweak: impl Fn(&mut CoreConfig)) -> Self {
        let server_cert = DtlsCertificate::generate().expect("a DTLS certificate");
        let client_cert = DtlsCertificate::generate().expect("a DTLS certificate");
        let mailboxes = fanout::mailboxes(workers, 64 * 1024);
        let mut rng = SplitMix64(seed);
        let mut sim = Self {
            now: Instant::now(),
            rng: SplitMix64(rng.next_u64()),
            default_link: LinkConfig::default(),
            links: HashMap::new(),
            in_flight: BinaryHeap::new(),
            seq: 0,
            endpoints: HashMap::new(),
            workers: Vec::new(),
            clients: Vec::new(),
            mailboxes: mailboxes.clone(),
            events: Vec::new(),
            undeliverable: 0,
            capture: None,
            server_cert: server_cert.clone(),
            client_cert,
            client_profiles: SrtpProfile::ALL.to_vec(),
            next_peer: 1,
            out: vec![0; 2048],
        };
        for i in 0..workers {
            let addr = SocketAddr::from(([192, 0, 2, 1], 30000 + i as u16));
            let mut config = CoreConfig {
                id: WorkerId(i),
                ice: IceConfig::default(),
                dtls_timeout: CoreConfig::DTLS_TIMEOUT,
                max_handshakes: CoreConfig::MAX_HANDSHAKES,
                srtp_profiles: SrtpProfile::ALL.to_vec(),
                certificate: server_cert.clone(),
                gso: true,
                seed: rng.next_u64(),
                retransmit_cache: CoreConfig::RETRANSMIT_CACHE,
                retransmit_share: CoreConfig::RETRANSMIT_SHARE,
            };
            tweak(&mut config);
            (config.id, config.certificate) = (WorkerId(i), server_cert.clone());
            let core = WorkerCore::new(config, mailboxes.clone());
            sim.endpoints
                .insert(addr, Endpoint::Worker(i, SocketId::WORKER));
            sim.workers.push(SimWorker {
                core,
                addr,
                legs: Vec::new(),
                next_leg: 1,
                woken: false,
            });
        }
        sim
    }

    /// The virtual time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Worker `i`.
    pub fn worker(&self, id: WorkerId) -> &SimWorker {
        &self.workers[id.0]
    }

    /// Worker `i`, to drive its core directly (benches feed it datagrams themselves).
    pub fn worker_mut(&mut self, id: WorkerId) -> &mut SimWorker {
        &mut self.workers[id.0]
    }

    /// The SRTP profiles clients added from now on offer, in order (default: both, GCM first).
    pub fn set_client_profiles(&mut self, profiles: &[SrtpProfile]) {
        self.client_profiles = profiles.to_vec();
    }

    /// Client `id`.
    pub fn client(&self, id: ClientId) -> &SimClient {
        &self.clients[id.0]
    }

    /// Client `id`, to change.
    pub fn client_mut(&mut self, id: ClientId) -> &mut SimClient {
        &mut self.clients[id.0]
    }

    /// How datagrams from `from` to `to` travel (one direction) from now on.
    pub fn set_link(&mut self, from: SocketAddr, to: SocketAddr, config: LinkConfig) {
        self.links.insert((from, to), Link::new(config));
    }

    /// The link from `from` to `to`, if one was set.
    pub fn link(&self, from: SocketAddr, to: SocketAddr) -> Option<&Link> {
        self.links.get(&(from, to))
    }

    /// A control-plane command to worker `worker` (a relay leg gets its own socket address).
    pub fn command(&mut self, worker: WorkerId, cmd: Command) {
        let w = worker.0;
        let leg = |sim: &mut Sim| {
            let sw = &mut sim.workers[w];
            let id = SocketId(sw.next_leg);
            sw.next_leg += 1;
            let addr = SocketAddr::new(sw.addr.ip(), 40000 + (w as u16) * 1000 + id.0 as u16);
            sw.legs.push((id, addr));
            sim.endpoints.insert(addr, Endpoint::Worker(w, id));
            id
        };
        let cmd = match cmd {
            Command::AddPeer(spec) => {
                let leg = matches!(spec.role, PeerRole::Relay { .. }).then(|| leg(self));
                CoreCommand::AddPeer { spec, leg }
            }
            Command::AddPlainPeer { spec, remote, .. } => {
                let leg = matches!(spec.role, PeerRole::Relay { .. }).then(|| leg(self));
                CoreCommand::AddPlainPeer { spec, remote, leg }
            }
            Command::Shutdown => return,
            other => CoreCommand::try_from(other).expect("only peers need sockets"),
        };
        let now = self.now;
        self.workers[w].core.handle_command(now, cmd);
        self.drain();
    }

    /// Has worker `source` (where `stream` is published) fan it out to `worker`, as the
    /// control plane does for a subscriber or a relay leg on another worker.
    fn fan_out_to(&mut self, stream: StreamId, source: WorkerId, worker: WorkerId) {
        if source != worker {
            self.command(source, Command::AddFanoutTarget { stream, worker });
        }
    }

    /// A new peer id.
    pub fn peer_id(&mut self) -> PeerId {
        let id = PeerId(self.next_peer);
        self.next_peer += 1;
        id
    }

    /// A browser-like client on worker `worker`: the control plane's `AddPeer` (as signalling
    /// would send it after the offer/answer) and the client's transport at a new address,
    /// starting ICE toward the worker. A subscriber on another worker than its stream's
    /// publisher also gets the publisher's worker to fan out to it.
    pub fn add_client(
        &mut self,
        worker: WorkerId,
        role: PeerRole,
        tracks: Vec<TrackSpec>,
    ) -> (ClientId, PeerId) {
        self.add_client_with_choice(worker, role, tracks, LayerChoice::Auto)
    }

    /// [`Self::add_client`] for a viewer that asked for simulcast layer `choice`.
    pub fn add_client_with_choice(
        &mut self,
        worker: WorkerId,
        role: PeerRole,
        tracks: Vec<TrackSpec>,
        choice: LayerChoice,
    ) -> (ClientId, PeerId) {
        let id = self.peer_id();
        let n = id.0;
        let addr = SocketAddr::from((
            [198, 51, 100, (n % 250) as u8 + 1],
            50000 + (n / 250) as u16,
        ));
        let server = LocalParams {
            ufrag: format!("srv{n}"),
            pwd: format!("server-password-{n:08}"),
        };
        let client = LocalParams {
            ufrag: format!("cli{n}"),
            pwd: format!("client-password-{n:08}"),
        };
        if let PeerRole::Subscriber { stream, source } = role {
            self.fan_out_to(stream, source, worker);
        }
        let spec = PeerSpec {
            layer_choice: choice,
            id,
            role,
            local_ufrag: server.ufrag.clone(),
            local_pwd: server.pwd.clone(),
            remote_ufrag: client.ufrag.clone(),
            remote_pwd: client.pwd.clone(),
            remote_fingerprint: self.client_cert.fingerprint(),
            tracks,
        };
        self.command(worker, Command::AddPeer(Box::new(spec)));
        let remote = RemoteParams {
            ufrag: server.ufrag,
            pwd: server.pwd,
            fingerprint: self.server_cert.fingerprint(),
            candidate: self.workers[worker.0].addr,
        };
        let conn = Connection::active(
            &client,
            &remote,
            &self.client_cert,
            &self.client_profiles,
            IceConfig::default(),
            self.rng.next_u64(),
            self.now,
        )
        .expect("a client DTLS session");
        let cid = ClientId(self.clients.len());
        self.endpoints.insert(addr, Endpoint::Client(cid.0));
        self.clients
            .push(SimClient::new(addr, conn, client, remote));
        self.drain();
        (cid, id)
    }

    /// A relay leg from worker `from` (publishing `stream`, whose publisher is on worker
    /// `source`) to worker `to` of another node, which receives it as the publisher of
    /// `to_stream`: both ends' `AddPeer`, as the origin's and the edge's control planes would
    /// send them after their offer/answer. Returns the leg's and the edge publisher's ids.
    pub fn add_relay(
        &mut self,
        from: WorkerId,
        stream: StreamId,
        source: WorkerId,
        to: WorkerId,
        to_stream: StreamId,
        tracks: Vec<TrackSpec>,
    ) -> (PeerId, PeerId) {
        let leg = self.peer_id();
        let edge = self.peer_id();
        let origin_ice = (
            format!("leg{}", leg.0),
            format!("leg-password-{:08}", leg.0),
        );
        let edge_ice = (
            format!("edg{}", edge.0),
            format!("edge-password-{:08}", edge.0),
        );
        let fingerprint = self.server_cert.fingerprint();
        self.fan_out_to(stream, source, from);
        let edge_spec = PeerSpec {
            layer_choice: Default::default(),
            id: edge,
            role: PeerRole::Publisher { stream: to_stream },
            local_ufrag: edge_ice.0.clone(),
            local_pwd: edge_ice.1.clone(),
            remote_ufrag: origin_ice.0.clone(),
            remote_pwd: origin_ice.1.clone(),
            remote_fingerprint: fingerprint.clone(),
            tracks: tracks.clone(),
        };
        self.command(to, Command::AddPeer(Box::new(edge_spec)));
        let leg_spec = PeerSpec {
            layer_choice: Default::default(),
            id: leg,
            role: PeerRole::Relay {
                stream,
                source,
                remote: self.workers[to.0].addr,
            },
            local_ufrag: origin_ice.0,
            local_pwd: origin_ice.1,
            remote_ufrag: edge_ice.0,
            remote_pwd: edge_ice.1,
            remote_fingerprint: fingerprint,
            tracks,
        };
        self.command(from, Command::AddPeer(Box::new(leg_spec)));
        (leg, edge)
    }

    /// A plain RTP relay leg (`stream_distribution="rtp"`) of `stream` (published on worker
    /// `source`) from worker `from` to worker `to`, published there as `to_stream`: the
    /// origin's leg first (its socket, as the control plane binds it), then the edge's
    /// publisher accepting exactly that socket's address. Returns the leg's and the edge
    /// publisher's ids; both are connected at once.
    pub fn add_plain_relay(
        &mut self,
        from: WorkerId,
        (stream, source): (StreamId, WorkerId),
        to: WorkerId,
        to_stream: StreamId,
        tracks: Vec<TrackSpec>,
    ) -> (PeerId, PeerId) {
        let plain = |id, role| PeerSpec {
            layer_choice: Default::default(),
            id,
            role,
            local_ufrag: String::new(),
            local_pwd: String::new(),
            remote_ufrag: String::new(),
            remote_pwd: String::new(),
            remote_fingerprint: crate::api::Fingerprint {
                algorithm: String::new(),
                digest: Vec::new(),
            },
            tracks: tracks.clone(),
        };
        let (leg, edge) = (self.peer_id(), self.peer_id());
        self.fan_out_to(stream, source, from);
        let remote = self.workers[to.0].addr;
        let role = PeerRole::Relay {
            stream,
            source,
            remote,
        };
        let spec = Box::new(plain(leg, role));
        self.command(
            from,
            Command::AddPlainPeer {
                spec,
                remote,
                socket: None,
            },
        );
        let Some(&(_, leg_addr)) = self.workers[from.0].legs.last() else {
            return (leg, edge);
        };
        let role = PeerRole::Publisher { stream: to_stream };
        let spec = Box::new(plain(edge, role));
        self.command(
            to,
            Command::AddPlainPeer {
                spec,
                remote: leg_addr,
                socket: None,
            },
        );
        (leg, edge)
    }

    /// Moves client `id` to address `to` (a NAT rebinding, or a new network): from now on its
    /// datagrams leave from `to`, and what is sent to `to` reaches it; its old address leads
    /// nowhere.
    pub fn move_client(&mut self, id: ClientId, to: SocketAddr) {
        let c = &mut self.clients[id.0];
        self.endpoints.remove(&c.addr);
        c.addr = to;
        self.endpoints.insert(to, Endpoint::Client(id.0));
    }

    /// Sends a plain RTP packet from client `id` (encrypted with its SRTP session) now.
    pub fn send_rtp(&mut self, id: ClientId, plain: &[u8]) {
        let sealed = self.clients[id.0].conn.protect_rtp(plain).ok();
        self.send_sealed(id, sealed.map(|b| b.to_vec()));
    }

    /// Sends a plain RTCP packet from client `id` (encrypted) now.
    pub fn send_rtcp(&mut self, id: ClientId, plain: &[u8]) {
        let sealed = self.clients[id.0].conn.protect_rtcp(plain).ok();
        self.send_sealed(id, sealed.map(|b| b.to_vec()));
    }

    fn send_sealed(&mut self, id: ClientId, sealed: Option<Vec<u8>>) {
        let c = &self.clients[id.0];
        let (Some(bytes), Some(dst)) = (sealed, c.conn.remote()) else {
            panic!("client {id:?} cannot send SRTP yet");
        };
        self.send(c.addr, dst, bytes);
    }

    /// Puts a datagram on the link from `from` to `to`.
    pub fn send(&mut self, from: SocketAddr, to: SocketAddr, bytes: Vec<u8>) {
        if let Some(capture) = &mut self.capture {
            capture.push((self.now, from, to, bytes.clone()));
        }
        let default = self.default_link;
        let link = self
            .links
            .entry((from, to))
            .or_insert_with(|| Link::new(default));
        let arrivals = link.arrivals(self.now, &bytes, &mut self.rng);
        for arrival in arrivals.into_iter().flatten() {
            self.seq += 1;
            self.in_flight.push(Reverse(InFlight {
                arrival,
                seq: self.seq,
                from,
                to,
                bytes: bytes.clone(),
            }));
        }
    }

    /// Runs the world for `d` of virtual time.
    pub fn run_for(&mut self, d: Duration) {
        self.run_until(self.now + d);
    }

    /// Runs the world until `t`: every arrival and deadline up to `t` is handled in time
    /// order, then the clock stands at `t`.
    pub fn run_until(&mut self, t: Instant) {
        let _ = self.run_until_true(t.saturating_duration_since(self.now), |_| false);
    }

    /// Runs until `done` holds, checking after every step; false if `limit` of virtual time
    /// passed first (then the clock stands at the end of `limit`).
    pub fn run_until_true(&mut self, limit: Duration, mut done: impl FnMut(&Sim) -> bool) -> bool {
        let end = self.now + limit;
        for _ in 0..MAX_STEPS {
            if done(self) {
                return true;
            }
            match self.next_wakeup() {
                Some(next) if next <= end => self.step(next),
                _ => {
                    self.now = self.now.max(end);
                    return done(self);
                }
            }
        }
        panic!("the simulation did not settle within {MAX_STEPS} steps");
    }

    fn next_wakeup(&mut self) -> Option<Instant> {
        let mut next = self.in_flight.peek().map(|Reverse(d)| d.arrival);
        for w in &mut self.workers {
            next = crate::transmit::earliest(next, w.core.poll_timeout());
        }
        for c in &self.clients {
            next = crate::transmit::earliest(next, c.conn.poll_timeout());
        }
        next
    }

    fn step(&mut self, at: Instant) {
        self.now = self.now.max(at);
        let now = self.now;
        while self
            .in_flight
            .peek()
            .is_some_and(|Reverse(d)| d.arrival <= now)
        {
            let Some(Reverse(d)) = self.in_flight.pop() else {
                break;
            };
            self.deliver(d);
        }
        let due = |t: Option<Instant>| t.is_some_and(|t| t <= now);
        for w in 0..self.workers.len() {
            while due(self.workers[w].core.poll_timeout()) {
                self.workers[w].core.handle_timeout(now);
                self.flush_worker(w);
            }
        }
        for c in 0..self.clients.len() {
            if due(self.clients[c].conn.poll_timeout()) {
                self.clients[c].handle_timeout(now);
                self.flush_client(c);
            }
        }
        self.drain();
    }

    fn deliver(&mut self, d: InFlight) {
        let now = self.now;
        match self.endpoints.get(&d.to).copied() {
            Some(Endpoint::Worker(w, socket)) => {
                self.workers[w]
                    .core
                    .handle_input(now, socket, d.from, &d.bytes);
                if self.workers[w].core.wants_flush() {
                    self.flush_worker(w);
                }
            }
            Some(Endpoint::Client(c)) => {
                self.clients[c].handle_input(now, d.from, &d.bytes);
                self.flush_client(c);
            }
            None => self.undeliverable += 1,
        }
    }

    /// Drains every core (woken mailboxes included) and client until nothing is left to do at
    /// this instant.
    fn drain(&mut self) {
        let now = self.now;
        loop {
            for w in 0..self.workers.len() {
                if std::mem::take(&mut self.workers[w].woken) {
                    while !self.workers[w].core.handle_mailbox(now) {
                        self.flush_worker(w);
                    }
                }
                self.flush_worker(w);
            }
            if !self.workers.iter().any(|w| w.woken) {
                break;
            }
        }
        for c in 0..self.clients.len() {
            self.flush_client(c);
        }
    }

    /// Puts what core `w` queued on the network and takes its wakes, events and released
    /// sockets.
    fn flush_worker(&mut self, w: usize) {
        let mut sent = Vec::new();
        let sw = &mut self.workers[w];
        while let Some(queue) = sw.core.poll_transmit() {
            for (socket, dst, bytes) in queue.iter() {
                let from = if socket == SocketId::WORKER {
                    Some(sw.addr)
                } else {
                    sw.legs
                        .iter()
                        .find(|(id, _)| *id == socket)
                        .map(|(_, a)| *a)
                };
                if let Some(from) = from {
                    sent.push((from, dst, bytes.to_vec()));
                }
            }
            let n = queue.len() as u64;
            let bytes = queue.iter().map(|(_, _, b)| b.len() as u64).sum();
            queue.clear();
            sw.core.count_flush(crate::send_queue::FlushOutcome {
                sent: n,
                sent_bytes: bytes,
                ..Default::default()
            });
        }
        let id = WorkerId(w);
        while let Some(ev) = sw.core.poll_event() {
            self.events.push((id, ev));
        }
        while let Some(socket) = sw.core.poll_released_socket() {
            if let Some(i) = sw.legs.iter().position(|(s, _)| *s == socket) {
                let (_, addr) = sw.legs.remove(i);
                self.endpoints.remove(&addr);
            }
        }
        while let Some(other) = self.workers[w].core.poll_wake() {
            if let Some(o) = self.workers.get_mut(other.0) {
                o.woken = true;
            }
        }
        for (from, to, bytes) in sent {
            self.send(from, to, bytes);
        }
    }

    fn flush_client(&mut self, c: usize) {
        let mut sent = Vec::new();
        let client = &mut self.clients[c];
        while let Some(t) = client.conn.poll_transmit(&mut self.out) {
            sent.push((client.addr, t.dst, self.out[..t.len].to_vec()));
        }
        for (from, to, bytes) in sent {
            self.send(from, to, bytes);
        }
    }

    /// The mailboxes the cores share (their drop counters tell fan-out overflow).
    pub fn mailboxes(&self) -> &Mailboxes {
        &self.mailboxes
    }
}

/// A video track as signalling negotiates it: VP8 with payload type `pt`, SSRC `ssrc`, NACK
/// (no RTX).
pub fn video_track(pt: u8, ssrc: u32) -> TrackSpec {
    TrackSpec {
        remb: false,
        layers: Vec::new(),
        kind: MediaKind::Video,
        codec: "VP8".to_owned(),
        payload_type: pt,
        clock_rate: 90_000,
        ssrc: Some(ssrc),
        extensions: Vec::new(),
        nack: true,
        rtx: None,
    }
}

/// An audio track as signalling negotiates it: Opus with payload type `pt`, SSRC `ssrc`.
pub fn audio_track(pt: u8, ssrc: u32) -> TrackSpec {
    TrackSpec {
        remb: false,
        layers: Vec::new(),
        kind: MediaKind::Audio,
        codec: "opus".to_owned(),
        payload_type: pt,
        clock_rate: 48_000,
        ssrc: Some(ssrc),
        extensions: Vec::new(),
        nack: false,
        rtx: None,
    }
}

/// A plain RTP packet: version 2, no extensions, `payload` after the 12-byte header.
pub fn rtp_packet(pt: u8, seq: u16, timestamp: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(12 + payload.len());
    p.extend_from_slice(&[0x80, pt & 0x7F]);
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&timestamp.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// The start of a VP8 keyframe (RFC 7741: S=1, PID=0, P bit clear) followed by `len` filler
/// bytes that encode `tag`.
pub fn vp8_keyframe(tag: u16, len: usize) -> Vec<u8> {
    vp8_payload(0x00, tag, len)
}

/// The start of a VP8 delta frame (P bit set).
pub fn vp8_delta(tag: u16, len: usize) -> Vec<u8> {
    vp8_payload(0x01, tag, len)
}

fn vp8_payload(frame_flags: u8, tag: u16, len: usize) -> Vec<u8> {
    let mut p = vec![0x10, frame_flags];
    p.extend_from_slice(&tag.to_be_bytes());
    p.extend((0..len).map(|i| (i as u16 ^ tag) as u8));
    p
}
