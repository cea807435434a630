//! A worker's counters: the plain struct the worker increments on its own thread, and the
//! atomic copy it publishes once per loop iteration for other threads (the control plane) to
//! read. No I/O, no clock.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::send_queue::FlushOutcome;

/// Counters of one worker (read in tests and logs).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WorkerStats {
    /// Datagrams received on the worker socket and relay sockets.
    pub datagrams_in: u64,
    /// Dropped: not from an ICE-validated address and not a routable first check.
    pub dropped_unknown_source: u64,
    /// Dropped: failed to parse, authenticate or decrypt.
    pub dropped_invalid: u64,
    /// Dropped: an SRTP or SRTCP packet received before (duplicated on the path, or resent
    /// after it had only been late).
    pub dropped_duplicate: u64,
    /// RTP packets handed to the kernel (or queued for it) for subscribers.
    pub rtp_forwarded: u64,
    /// Datagrams the kernel refused (unreachable destination, bad address…).
    pub send_errors: u64,
    /// Datagrams dropped because the socket's send buffer was full.
    pub dropped_send_full: u64,
    /// Messages for this worker that other workers dropped because its fan-out queue was full.
    pub dropped_fanout_full: u64,
    /// Sends that carried several datagrams to one destination (UDP GSO).
    pub gso_sends: u64,
    /// Datagrams that left inside GSO sends.
    pub gso_datagrams: u64,
    /// Packets subscribers asked for in NACKs.
    pub nack_requested: u64,
    /// Retransmissions sent from the cache (plain or RTX).
    pub retransmitted: u64,
    /// Requested packets that were not in the cache (too old, never received, or a track
    /// without NACK).
    pub retransmit_missed: u64,
    /// Requested packets not sent because the subscriber's retransmission budget was spent
    /// and too many were already deferred.
    pub retransmit_over_budget: u64,
    /// Requests deferred because the budget was spent at the time: sent later, paced, as it
    /// refills (then counted in `retransmitted`), or missed once no longer cached.
    pub retransmit_deferred: u64,
    /// Repeated requests not answered because the packet was resent to that subscriber less
    /// than its round trip before (the retransmission was still on its way).
    pub retransmit_suppressed: u64,
    /// Packets asked of publishers (and of origins over relay legs) in NACKs, each try.
    pub nack_sent: u64,
    /// RTX packets from publishers unwrapped to the packets they repair.
    pub rtx_received: u64,
    /// Transport-wide congestion control feedback messages sent to publishers.
    pub transport_feedback_sent: u64,
    /// Transport-wide feedback messages received from players (their bandwidth estimates).
    pub transport_feedback_received: u64,
    /// Padding packets of bandwidth probes sent to viewers.
    pub padding_sent: u64,
    /// Simulcast layer changes decided for viewers (each asks the new layer for a keyframe).
    pub layer_switches: u64,
    /// REMB messages sent to publishers without transport-wide congestion control.
    pub remb_sent: u64,
    /// Video packets a viewer's pacer held and sent later (at most 2.5 times its estimate).
    pub paced: u64,
}

/// A worker's counters as other threads read them: written with relaxed stores once per loop
/// iteration by the worker, read with relaxed loads by anyone (e.g. the control plane).
#[derive(Debug, Default)]
pub struct SharedStats {
    counters: [AtomicU64; 24],
}

impl SharedStats {
    /// The counters as last published.
    pub fn snapshot(&self) -> WorkerStats {
        let c = |i: usize| self.counters[i].load(Ordering::Relaxed);
        WorkerStats {
            datagrams_in: c(0),
            dropped_unknown_source: c(1),
            dropped_invalid: c(2),
            rtp_forwarded: c(3),
            send_errors: c(4),
            dropped_send_full: c(5),
            dropped_fanout_full: c(6),
            gso_sends: c(7),
            gso_datagrams: c(8),
            nack_requested: c(9),
            retransmitted: c(10),
            retransmit_missed: c(11),
            retransmit_over_budget: c(12),
            nack_sent: c(13),
            rtx_received: c(14),
            retransmit_deferred: c(15),
            retransmit_suppressed: c(16),
            dropped_duplicate: c(17),
            transport_feedback_sent: c(18),
            transport_feedback_received: c(19),
            padding_sent: c(20),
            layer_switches: c(21),
            remb_sent: c(22),
            paced: c(23),
        }
    }

    /// Stores `s` for other threads to read.
    pub fn publish(&self, s: &WorkerStats) {
        let values = [
            s.datagrams_in,
            s.dropped_unknown_source,
            s.dropped_invalid,
            s.rtp_forwarded,
            s.send_errors,
            s.dropped_send_full,
            s.dropped_fanout_full,
            s.gso_sends,
            s.gso_datagrams,
            s.nack_requested,
            s.retransmitted,
            s.retransmit_missed,
            s.retransmit_over_budget,
            s.nack_sent,
            s.rtx_received,
            s.retransmit_deferred,
            s.retransmit_suppressed,
            s.dropped_duplicate,
            s.transport_feedback_sent,
            s.transport_feedback_received,
            s.padding_sent,
            s.layer_switches,
            s.remb_sent,
            s.paced,
        ];
        for (c, v) in self.counters.iter().zip(values) {
            c.store(v, Ordering::Relaxed);
        }
    }
}

impl WorkerStats {
    /// Adds the outcome of one send-queue flush.
    pub fn count_flush(&mut self, out: FlushOutcome) {
        self.send_errors += out.errors;
        self.dropped_send_full += out.dropped_full;
        self.gso_sends += out.gso_sends;
        self.gso_datagrams += out.gso_datagrams;
    }
}
