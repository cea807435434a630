//! What the worker core writes while it handles input: the send queue (datagrams in place,
//! each with its local socket and destination), the buffer RTCP and transport messages are
//! written into before they are sealed, and the worker's counters.
//!
//! Socket-free: the I/O shell or the simulated network sends what is queued. A datagram that
//! finds the queue full is dropped and counted (the core keeps room, see
//! `WorkerCore::wants_flush`, so that happens only if a caller ignores it).

#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::time::Instant;

use crate::send_queue::{SendQueue, SocketId};
use crate::stats::WorkerStats;
use crate::transport::Transport;

/// Largest datagram a worker receives or builds; anything longer is truncated on receive and
/// fails authentication.
pub const MAX_DATAGRAM: usize = 2048;
/// Room for the SRTP tag (and the HMAC profile's) that protecting in place appends.
pub const SRTP_OVERHEAD: usize = 64;

/// The send queue, the build buffer and the counters of one worker core.
pub struct Outbox {
    pub queue: SendQueue,
    /// Where RTCP and transport messages are written before they are queued.
    pub out: Box<[u8; MAX_DATAGRAM]>,
    pub stats: WorkerStats,
    /// The time of the core's latest input (what is queued now is sent about then).
    pub now: Option<Instant>,
    /// Peers whose timer must be re-armed after a delivery (their pacer started holding).
    pub rearm: Vec<usize>,
}

impl Outbox {
    /// An empty outbox; `gso` chooses the queue's size and grouping (see [`SendQueue::new`]).
    pub fn new(gso: bool) -> Self {
        Self {
            queue: SendQueue::new(MAX_DATAGRAM + SRTP_OVERHEAD, gso),
            out: Box::new([0; MAX_DATAGRAM]),
            stats: WorkerStats::default(),
            now: None,
            rearm: Vec::new(),
        }
    }

    /// Queues the first `len` bytes of the build buffer.
    pub fn queue_out(&mut self, socket: SocketId, dst: SocketAddr, len: usize) {
        if !self.queue.push(socket, dst, &self.out[..len]) {
            self.stats.dropped_send_full += 1;
        }
    }

    /// Seals the plain RTCP packet in the first `len` bytes of the build buffer for
    /// `transport` (SRTCP, or as it is on a plain transport) and queues it.
    pub fn queue_rtcp(
        &mut self,
        transport: &mut Transport,
        socket: SocketId,
        dst: SocketAddr,
        len: usize,
    ) {
        let Some(slot) = self.queue.slot() else {
            self.stats.dropped_send_full += 1;
            return;
        };
        if transport.seal_rtcp(&self.out[..len], slot) {
            self.queue.commit(socket, dst);
        }
    }
}
