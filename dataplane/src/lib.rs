//! rtcdn data plane.
//!
//! Owns the media path: N worker threads, each an I/O shell ([`worker`]: one mio `Poll`, one
//! UDP socket plus the relay legs' own sockets, `recvmmsg`/`sendmmsg`, the clock) around a
//! sans-IO [`worker_core::WorkerCore`] that owns the peers, routing, streams, timers and
//! fan-out. Every protocol (STUN/ICE, DTLS, SRTP, RTP/RTCP) is a sans-IO state machine in its
//! own module that takes `now: Instant` as an argument; only the worker shell touches sockets,
//! the clock and the poller, so the same core also runs on the in-memory [`sim`] network in
//! tests. The control plane talks to workers only through [`api`] (commands in, events out)
//! and never blocks them.

pub mod api;
pub mod bwe;
pub mod demux;
pub mod dtls;
pub mod fanout;
pub mod ice;
pub mod nack;
pub mod publisher;
pub mod remb;
mod rng;
pub mod rtcp;
pub mod rtp;
pub mod send_queue;
pub mod sim;
pub mod simulcast;
pub mod srtp;
pub mod stats;
pub mod stun;
pub mod subscriber;
pub mod transmit;
pub mod transport;
pub mod twcc;
mod udp;
mod worker;
pub mod worker_core;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use api::{Fingerprint, SharedEventSink, WorkerHandle, WorkerId};
use dtls::DtlsCertificate;
use fanout::{Mailbox, Mailboxes};
use ice::IceConfig;
use srtp::SrtpProfile;
use worker_core::{CoreConfig, WorkerCore};

pub use stats::{SharedStats, WorkerStats};

/// Which cores the worker threads run on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum CpuAffinity {
    /// Let the scheduler move them (the default).
    #[default]
    None,
    /// Pin worker `i` to core `i` (modulo the number of cores).
    Auto,
    /// Pin worker `i` to core `list[i % list.len()]`.
    Cores(Vec<usize>),
}

impl CpuAffinity {
    /// The core worker `i` is pinned to, if any.
    pub fn core_for(&self, worker: usize) -> Option<usize> {
        match self {
            CpuAffinity::None => None,
            CpuAffinity::Auto => {
                let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
                Some(worker % cores)
            }
            CpuAffinity::Cores(list) if list.is_empty() => None,
            CpuAffinity::Cores(list) => Some(list[worker % list.len()]),
        }
    }
}

/// How the data plane is started.
#[derive(Clone, Debug)]
pub struct DataplaneConfig {
    /// Address every worker socket binds (and the answers announce).
    pub ip: IpAddr,
    /// Worker `i` binds `port_from + i`; 0 lets the OS pick each port.
    pub port_from: u16,
    /// Number of worker threads (at least 1).
    pub workers: usize,
    /// Close a peer whose connectivity checks stop for this long.
    pub consent_timeout: Duration,
    /// Close a peer whose DTLS handshake did not complete this long after ICE selected its
    /// path.
    pub dtls_handshake_timeout: Duration,
    /// DTLS handshakes each worker serves at once; further peers wait (their ClientHellos are
    /// dropped and counted in `dropped_handshake_busy` until a handshake ends).
    pub max_handshakes_per_worker: usize,
    /// SRTP profiles in order of preference.
    pub srtp_profiles: Vec<SrtpProfile>,
    /// Capacity of each worker's cross-worker mailbox (messages); when full, messages for that
    /// worker are dropped and counted, never waited for.
    pub mailbox_capacity: usize,
    /// Requested SO_RCVBUF/SO_SNDBUF of each worker socket in bytes (the kernel caps it at
    /// `net.core.rmem_max`/`wmem_max`). Bursts beyond it are dropped by the kernel.
    pub socket_buffer: usize,
    /// Core pinning of the worker threads.
    pub cpu_affinity: CpuAffinity,
    /// Send runs of datagrams to one destination as one UDP GSO send (Linux 4.18 or later;
    /// falls back to one datagram per send by itself if the kernel or the device refuses GSO,
    /// not for a refused destination).
    pub gso: bool,
    /// How long forwarded video packets are kept to answer viewers' NACKs.
    pub retransmit_cache: Duration,
    /// Share of the bytes forwarded to a viewer that retransmissions to it may add.
    pub retransmit_share: f32,
}

impl Default for DataplaneConfig {
    fn default() -> Self {
        Self {
            ip: IpAddr::from([127, 0, 0, 1]),
            port_from: 0,
            workers: 1,
            consent_timeout: Duration::from_secs(30),
            dtls_handshake_timeout: CoreConfig::DTLS_TIMEOUT,
            max_handshakes_per_worker: CoreConfig::MAX_HANDSHAKES,
            srtp_profiles: vec![SrtpProfile::AeadAes128Gcm, SrtpProfile::Aes128CmHmacSha1_80],
            mailbox_capacity: 16 * 1024,
            socket_buffer: 4 * 1024 * 1024,
            cpu_affinity: CpuAffinity::None,
            gso: true,
            retransmit_cache: CoreConfig::RETRANSMIT_CACHE,
            retransmit_share: CoreConfig::RETRANSMIT_SHARE,
        }
    }
}

/// Why the data plane could not start.
#[derive(Debug, thiserror::Error)]
pub enum DataplaneError {
    #[error("cannot bind media port {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot create poller: {0}")]
    Poll(std::io::Error),
    #[error("cannot create the DTLS certificate: {0}")]
    Certificate(#[from] dtls::DtlsError),
    #[error("cannot start worker thread: {0}")]
    Thread(std::io::Error),
    #[error("media port range overflows at worker {0}")]
    PortRange(usize),
}

/// The running data plane: worker handles for the control plane, and the process certificate.
pub struct Dataplane {
    pub workers: Vec<WorkerHandle>,
    pub certificate: DtlsCertificate,
    /// Live counters of each worker (index = worker id), updated once per loop iteration.
    pub stats: Vec<Arc<SharedStats>>,
    mailboxes: Mailboxes,
    threads: Vec<JoinHandle<()>>,
}

impl Dataplane {
    /// The certificate fingerprint every answer announces.
    pub fn fingerprint(&self) -> Fingerprint {
        self.certificate.fingerprint()
    }

    /// Packets dropped because worker `worker`'s cross-worker fan-out queue was full.
    pub fn fanout_dropped(&self, worker: WorkerId) -> u64 {
        self.mailboxes.get(worker.0).map_or(0, Mailbox::dropped)
    }

    /// Waits for every worker thread to end (after `Command::Shutdown`).
    pub fn join(self) {
        for t in self.threads {
            let _ = t.join();
        }
    }
}

/// Binds one socket per worker, then starts the worker threads.
pub fn start(cfg: &DataplaneConfig, events: SharedEventSink) -> Result<Dataplane, DataplaneError> {
    let certificate = DtlsCertificate::generate()?;
    let n = cfg.workers.max(1);
    let mut polls = Vec::with_capacity(n);
    let mut sockets = Vec::with_capacity(n);
    let mut wakers = Vec::with_capacity(n);
    for i in 0..n {
        let port = if cfg.port_from == 0 {
            0
        } else {
            u16::try_from(usize::from(cfg.port_from) + i)
                .map_err(|_| DataplaneError::PortRange(i))?
        };
        let addr = SocketAddr::new(cfg.ip, port);
        let socket = bind_udp(addr, cfg.socket_buffer)
            .map_err(|source| DataplaneError::Bind { addr, source })?;
        let poll = mio::Poll::new().map_err(DataplaneError::Poll)?;
        let waker =
            mio::Waker::new(poll.registry(), worker::WAKER).map_err(DataplaneError::Poll)?;
        wakers.push(Arc::new(waker));
        polls.push(poll);
        sockets.push(socket);
    }
    let wakers: Arc<[Arc<mio::Waker>]> = wakers.into();
    let mailboxes = fanout::mailboxes(n, cfg.mailbox_capacity);
    let ice = IceConfig {
        consent_timeout: cfg.consent_timeout,
        ..IceConfig::default()
    };
    let mut handles = Vec::with_capacity(n);
    let mut threads = Vec::with_capacity(n);
    let mut stats = Vec::with_capacity(n);
    for (i, (poll, socket)) in polls.into_iter().zip(sockets).enumerate() {
        let id = WorkerId(i);
        let addr = socket.local_addr().map_err(|source| DataplaneError::Bind {
            addr: SocketAddr::new(cfg.ip, 0),
            source,
        })?;
        let gso = cfg.gso && cfg!(target_os = "linux") && udp::supports_gso(&socket);
        if cfg.gso && cfg!(target_os = "linux") && !gso {
            tracing::warn!(
                worker = i,
                "the kernel has no UDP GSO: one datagram per send"
            );
        }
        let core = WorkerCore::new(
            CoreConfig {
                id,
                ice,
                dtls_timeout: cfg.dtls_handshake_timeout,
                max_handshakes: cfg.max_handshakes_per_worker,
                srtp_profiles: cfg.srtp_profiles.clone(),
                certificate: certificate.clone(),
                gso,
                seed: rand::random(),
                retransmit_cache: cfg.retransmit_cache,
                retransmit_share: cfg.retransmit_share,
            },
            mailboxes.clone(),
        );
        let (tx, rx) = crossbeam_channel::unbounded();
        let w = worker::Worker::new(
            core,
            worker::WorkerIo {
                poll,
                socket,
                socket_buffer: cfg.socket_buffer,
                commands: rx,
                events: events.clone(),
                wakers: wakers.clone(),
            },
        )
        .map_err(DataplaneError::Poll)?;
        stats.push(w.shared_stats());
        handles
            .push(WorkerHandle::new(id, addr, tx, wakers[i].clone()).with_stats(w.shared_stats()));
        let core = cfg.cpu_affinity.core_for(i);
        let t = std::thread::Builder::new()
            .name(format!("rtcdn-worker-{i}"))
            .spawn(move || {
                if let Some(core) = core {
                    if let Err(e) = udp::pin_current_thread(core) {
                        tracing::warn!(worker = i, core, "cannot pin the worker thread: {e}");
                    }
                }
                w.run()
            })
            .map_err(DataplaneError::Thread)?;
        threads.push(t);
    }
    Ok(Dataplane {
        workers: handles,
        certificate,
        stats,
        mailboxes,
        threads,
    })
}

/// A non-blocking UDP socket on `addr` with the requested kernel buffer sizes.
pub(crate) fn bind_udp(addr: SocketAddr, buffer: usize) -> std::io::Result<mio::net::UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    // Best effort: a smaller kernel limit only means smaller buffers.
    let _ = socket.set_recv_buffer_size(buffer);
    let _ = socket.set_send_buffer_size(buffer);
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    Ok(mio::net::UdpSocket::from_std(socket.into()))
}
