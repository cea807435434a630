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
    /// Bytes of those datagrams (UDP payloads; a datagram without an IP source is not counted).
    pub bytes_in: u64,
    /// Datagrams the kernel accepted from the worker socket and relay sockets.
    pub datagrams_out: u64,
    /// Bytes of those datagrams (UDP payloads).
    pub bytes_out: u64,
    /// Dropped: not from an ICE-validated address and not a routable first check.
    pub dropped_unknown_source: u64,
    /// Dropped: failed to parse, authenticate or decrypt, or DTLS records beyond what a peer
    /// may make the handshake buffer.
    pub dropped_invalid: u64,
    /// Dropped before decryption: SRTP of an SSRC the peer did not announce and that names
    /// no encoding still to be learnt (or a subscriber's media), or of a new SSRC beyond what
    /// one SRTP session admits.
    pub dropped_unknown_ssrc: u64,
    /// Dropped: DTLS that would have started a handshake while the worker already served its
    /// `max_handshakes` (the peer's DTLS client resends it; one gets in once a handshake ends).
    pub dropped_handshake_busy: u64,
    /// Dropped: an SRTP or SRTCP packet received before (duplicated on the path, or resent
    /// after it had only been late), or a publisher's RTX resend of a packet that had arrived
    /// (libwebrtc pads its bandwidth probes with such resends).
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
    /// Packets missing from publishers (and origins over relay legs) that arrived later:
    /// repaired by a NACK's retransmission, or only late.
    pub upstream_repaired: u64,
    /// Packets missing from publishers (and origins) given up: still missing after the NACK
    /// deadline or tries, or in a gap too large to repair (a keyframe is asked for instead).
    pub upstream_given_up: u64,
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
    counters: [AtomicU64; 31],
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
            bytes_in: c(24),
            datagrams_out: c(25),
            bytes_out: c(26),
            dropped_unknown_ssrc: c(27),
            dropped_handshake_busy: c(28),
            upstream_repaired: c(29),
            upstream_given_up: c(30),
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
            s.bytes_in,
            s.datagrams_out,
            s.bytes_out,
            s.dropped_unknown_ssrc,
            s.dropped_handshake_busy,
            s.upstream_repaired,
            s.upstream_given_up,
        ];
        for (c, v) in self.counters.iter().zip(values) {
            c.store(v, Ordering::Relaxed);
        }
    }
}

impl WorkerStats {
    /// Adds the outcome of one send-queue flush.
    pub fn count_flush(&mut self, out: FlushOutcome) {
        self.datagrams_out += out.sent;
        self.bytes_out += out.sent_bytes;
        self.send_errors += out.errors;
        self.dropped_send_full += out.dropped_full;
        self.gso_sends += out.gso_sends;
        self.gso_datagrams += out.gso_datagrams;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_counters_read_back_field_by_field() {
        let s = WorkerStats {
            datagrams_in: 1,
            bytes_in: 2,
            datagrams_out: 3,
            bytes_out: 4,
            dropped_unknown_source: 5,
            dropped_invalid: 6,
            dropped_duplicate: 7,
            rtp_forwarded: 8,
            send_errors: 9,
            dropped_send_full: 10,
            dropped_fanout_full: 11,
            gso_sends: 12,
            gso_datagrams: 13,
            nack_requested: 14,
            retransmitted: 15,
            retransmit_missed: 16,
            retransmit_over_budget: 17,
            retransmit_deferred: 18,
            retransmit_suppressed: 19,
            nack_sent: 20,
            rtx_received: 21,
            transport_feedback_sent: 22,
            transport_feedback_received: 23,
            padding_sent: 24,
            layer_switches: 25,
            remb_sent: 26,
            paced: 27,
            dropped_unknown_ssrc: 28,
            dropped_handshake_busy: 29,
            upstream_repaired: 30,
            upstream_given_up: 31,
        };
        let shared = SharedStats::default();
        shared.publish(&s);
        assert_eq!(shared.snapshot(), s);
    }

    #[test]
    fn a_flush_adds_what_left_and_what_was_lost() {
        let mut s = WorkerStats::default();
        s.count_flush(FlushOutcome {
            sent: 3,
            sent_bytes: 3000,
            dropped_full: 2,
            errors: 1,
            gso_sends: 1,
            gso_datagrams: 3,
        });
        assert_eq!((s.datagrams_out, s.bytes_out), (3, 3000));
        assert_eq!((s.dropped_send_full, s.send_errors), (2, 1));
        assert_eq!((s.gso_sends, s.gso_datagrams), (1, 3));
    }
}
