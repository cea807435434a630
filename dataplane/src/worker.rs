//! A data-plane worker thread: the I/O shell around one [`WorkerCore`], and the only code of
//! the data plane that touches a socket, the clock or the poller.
//!
//! Each worker owns one mio `Poll`, the worker socket (the address answers announce), the own
//! sockets of its relay legs, and the waker of every worker. Its loop: wait for readiness or
//! the core's next deadline, read the clock once, read every ready socket in `recvmmsg`
//! batches into the core, apply control-plane commands and the cross-worker mailbox, run the
//! due timers, and after each batch send what the core queued (`sendmmsg`, UDP GSO), wake the
//! workers it sent messages to, close the leg sockets it released and hand its events to the
//! control plane. All forwarding decisions are the core's.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token};
use slab::Slab;

use crate::api::{Command, PeerRole, SharedEventSink, WorkerId};
use crate::send_queue::SocketId;
use crate::stats::SharedStats;
use crate::udp::RecvBatch;
use crate::worker_core::{CoreCommand, WorkerCore, MAX_DATAGRAM};

pub(crate) const SOCKET: Token = Token(0);
pub(crate) const WAKER: Token = Token(1);
/// Relay legs' own sockets use `Token(LEG_TOKEN_BASE + slab key)` and `SocketId(1 + key)`.
const LEG_TOKEN_BASE: usize = 2;

/// One data-plane worker: a core and its I/O.
pub(crate) struct Worker {
    core: WorkerCore,
    poll: Poll,
    socket: UdpSocket,
    /// The worker socket's IP; relay legs bind it too.
    local_ip: IpAddr,
    legs: Slab<UdpSocket>,
    /// Kernel buffer size requested for leg sockets.
    socket_buffer: usize,
    commands: crossbeam_channel::Receiver<Command>,
    events: SharedEventSink,
    /// Every worker's waker, by worker id.
    wakers: Arc<[Arc<mio::Waker>]>,
    shared_stats: Arc<SharedStats>,
}

/// What a worker is made of besides its core.
pub(crate) struct WorkerIo {
    pub poll: Poll,
    pub socket: UdpSocket,
    pub socket_buffer: usize,
    pub commands: crossbeam_channel::Receiver<Command>,
    pub events: SharedEventSink,
    pub wakers: Arc<[Arc<mio::Waker>]>,
}

impl Worker {
    pub(crate) fn new(core: WorkerCore, io: WorkerIo) -> io::Result<Self> {
        let WorkerIo {
            poll,
            mut socket,
            socket_buffer,
            commands,
            events,
            wakers,
        } = io;
        poll.registry()
            .register(&mut socket, SOCKET, Interest::READABLE)?;
        let local_ip = socket.local_addr()?.ip();
        Ok(Self {
            core,
            poll,
            socket,
            local_ip,
            legs: Slab::new(),
            socket_buffer,
            commands,
            events,
            wakers,
            shared_stats: Arc::default(),
        })
    }

    /// The counters this worker publishes once per loop iteration.
    pub(crate) fn shared_stats(&self) -> Arc<SharedStats> {
        self.shared_stats.clone()
    }

    fn id(&self) -> WorkerId {
        self.core.id()
    }

    /// Runs until a `Shutdown` command arrives or the control plane is gone.
    pub(crate) fn run(mut self) {
        let mut events = Events::with_capacity(64);
        let mut batch = RecvBatch::new(MAX_DATAGRAM);
        loop {
            let timeout = self
                .core
                .poll_timeout()
                .map(|t| t.saturating_duration_since(Instant::now()));
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                tracing::error!(worker = self.id().0, "poll failed: {e}");
                return;
            }
            let now = Instant::now();
            for ev in events.iter() {
                match ev.token() {
                    SOCKET => self.read(now, SocketId::WORKER, &mut batch),
                    Token(t) if t >= LEG_TOKEN_BASE => {
                        self.read(now, leg_socket_id(t - LEG_TOKEN_BASE), &mut batch)
                    }
                    WAKER => {
                        if !self.apply_commands(now) {
                            tracing::debug!(worker = self.id().0, stats = ?self.core.stats(), "stopped");
                            return;
                        }
                        while !self.core.handle_mailbox(now) {
                            self.flush();
                        }
                    }
                    _ => {}
                }
            }
            while self.core.poll_timeout().is_some_and(|t| t <= now) {
                self.core.handle_timeout(now);
                self.flush();
            }
            self.flush();
            self.shared_stats.publish(&self.core.stats());
        }
    }

    /// Reads `socket` in batches until it would block; what each batch produced is sent (and
    /// other workers woken) before the next batch is read.
    fn read(&mut self, now: Instant, socket: SocketId, batch: &mut RecvBatch) {
        loop {
            let received = match self.socket_for(socket) {
                Some(s) => batch.recv(s),
                None => return, // a leg closed in the meantime
            };
            match received {
                Ok(n) => {
                    for i in 0..n {
                        match batch.get(i) {
                            Some((from, buf)) => self.core.handle_input(now, socket, from, buf),
                            None => self.core.count_unroutable(),
                        }
                        if self.core.wants_flush() {
                            self.flush();
                        }
                    }
                    self.flush();
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // ICMP errors surface here on Linux (ECONNREFUSED): ignore and keep reading,
                // except on a leg (a connected socket keeps reporting its dead remote).
                Err(_) if socket != SocketId::WORKER => return,
                Err(_) => continue,
            }
        }
    }

    /// Applies queued control-plane commands; returns false on shutdown.
    fn apply_commands(&mut self, now: Instant) -> bool {
        loop {
            let cmd = match self.commands.try_recv() {
                Ok(Command::Shutdown) => return false,
                Ok(cmd) => cmd,
                Err(crossbeam_channel::TryRecvError::Empty) => return true,
                Err(crossbeam_channel::TryRecvError::Disconnected) => return false,
            };
            let cmd = self.open_sockets(cmd);
            self.core.handle_command(now, cmd);
            if self.core.wants_flush() {
                self.flush();
            }
        }
    }

    /// The command for the core, with the sockets it needs opened: a WebRTC relay leg gets a
    /// new socket on the worker's IP, a plain relay leg registers the socket the control plane
    /// bound. A socket that cannot be set up is left out (the core refuses the peer).
    fn open_sockets(&mut self, cmd: Command) -> CoreCommand {
        match cmd {
            Command::AddPeer(spec) => {
                let leg = match spec.role {
                    PeerRole::Relay { .. } => {
                        let local = SocketAddr::new(self.local_ip, 0);
                        crate::bind_udp(local, self.socket_buffer)
                            .map_err(|e| {
                                tracing::warn!(peer = %spec.id, "cannot bind a relay socket on {local}: {e}")
                            })
                            .ok()
                            .and_then(|s| self.add_leg(s, None))
                    }
                    _ => None,
                };
                CoreCommand::AddPeer { spec, leg }
            }
            Command::AddPlainPeer {
                spec,
                remote,
                socket,
            } => {
                let leg = socket.and_then(|s| {
                    let sock = socket2::SockRef::from(&s);
                    // Best effort, like the worker socket: the kernel caps the sizes.
                    let _ = sock.set_recv_buffer_size(self.socket_buffer);
                    let _ = sock.set_send_buffer_size(self.socket_buffer);
                    s.set_nonblocking(true).ok()?;
                    self.add_leg(UdpSocket::from_std(s), Some(remote))
                });
                CoreCommand::AddPlainPeer { spec, remote, leg }
            }
            other => CoreCommand::try_from(other)
                .expect("only peers need sockets, and apply_commands took Shutdown"),
        }
    }

    /// Registers a leg socket with the poller; `connect` limits it to one remote (the kernel
    /// then filters; input is checked anyway).
    fn add_leg(&mut self, mut socket: UdpSocket, connect: Option<SocketAddr>) -> Option<SocketId> {
        let entry = self.legs.vacant_entry();
        let key = entry.key();
        if let Err(e) = self.poll.registry().register(
            &mut socket,
            Token(LEG_TOKEN_BASE + key),
            Interest::READABLE,
        ) {
            tracing::warn!("cannot register a relay socket: {e}");
            return None;
        }
        if let Some(remote) = connect {
            if let Err(e) = socket.connect(remote) {
                // Not fatal: only filtering by the kernel is lost.
                tracing::debug!(%remote, "cannot connect the leg socket: {e}");
            }
        }
        entry.insert(socket);
        Some(leg_socket_id(key))
    }

    fn socket_for(&self, id: SocketId) -> Option<&UdpSocket> {
        match id {
            SocketId::WORKER => Some(&self.socket),
            SocketId(n) => self.legs.get(n as usize - 1),
        }
    }

    /// Sends what the core queued, wakes the workers it sent messages to, closes the sockets it
    /// released and passes its events on.
    fn flush(&mut self) {
        let (socket, legs) = (&self.socket, &self.legs);
        while let Some(queue) = self.core.poll_transmit() {
            let gso = queue.uses_gso();
            let out = crate::udp::send(queue, |id| match id {
                SocketId::WORKER => Some(socket),
                SocketId(n) => legs.get(n as usize - 1),
            });
            if gso && !queue.uses_gso() {
                tracing::warn!(
                    "the kernel refused a UDP GSO send: one datagram per send from now on"
                );
            }
            self.core.count_flush(out);
        }
        while let Some(w) = self.core.poll_wake() {
            if let Some(waker) = self.wakers.get(w.0) {
                // A failed wake means that worker's Poll is gone (shutting down).
                let _ = waker.wake();
            }
        }
        while let Some(SocketId(n)) = self.core.poll_released_socket() {
            if let Some(mut s) = self.legs.try_remove(n as usize - 1) {
                let _ = self.poll.registry().deregister(&mut s);
            }
        }
        while let Some(ev) = self.core.poll_event() {
            self.events.send(ev);
        }
    }
}

/// The socket id of leg slab key `key`.
fn leg_socket_id(key: usize) -> SocketId {
    SocketId(u32::try_from(key + 1).unwrap_or(u32::MAX))
}
