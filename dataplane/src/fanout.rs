//! Cross-worker fan-out: the lock-free mailboxes workers use to hand each other decrypted
//! media, sender reports and keyframe requests.
//!
//! A packet is decrypted once on the publisher's worker and shared as [`Bytes`]
//! (reference-counted): every worker that hosts subscribers of the stream receives the same
//! buffer through its bounded [`ArrayQueue`] and is woken at most once per loop iteration of the
//! sender. A full queue drops the message and counts it; it never blocks the sender.
//! This module owns no sockets and no peers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use crossbeam_queue::ArrayQueue;

use crate::api::{MediaKind, StreamId, WorkerId};

/// Header-extension ids on the fan-out path. The publisher's worker rewrites each packet's
/// extension ids to these once (elements not listed are blanked); each subscriber maps them to
/// the ids it negotiated. Transport-level extensions (mid, transport-cc) are not forwarded.
pub const CANONICAL_EXTENSIONS: &[(u8, &str)] = &[
    (1, "urn:ietf:params:rtp-hdrext:ssrc-audio-level"),
    (
        2,
        "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
    ),
    (3, "urn:ietf:params:rtp-hdrext:toffset"),
    (4, "urn:3gpp:video-orientation"),
];

/// Messages between workers.
#[derive(Debug, Clone)]
pub enum FanoutMsg {
    /// A decrypted RTP packet of `stream`, header extensions already in canonical ids.
    Media {
        stream: StreamId,
        kind: MediaKind,
        /// The packet starts a keyframe (new subscribers start their video here).
        keyframe: bool,
        packet: Bytes,
    },
    /// The publisher's sender report for the `kind` track, to be re-sent under each
    /// subscriber's SSRC.
    SenderReport {
        stream: StreamId,
        kind: MediaKind,
        report: SenderInfo,
    },
    /// A subscriber asks the publisher's worker for a keyframe.
    KeyframeRequest { stream: StreamId },
}

/// The sender-info part of an RTCP sender report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderInfo {
    pub ntp: u64,
    pub rtp_timestamp: u32,
    pub packet_count: u32,
    pub octet_count: u32,
}

/// One worker's inbox: a bounded lock-free queue plus the waker of its `Poll`.
pub struct Mailbox {
    queue: ArrayQueue<FanoutMsg>,
    waker: Arc<mio::Waker>,
    dropped: AtomicU64,
}

impl Mailbox {
    /// A mailbox holding at most `capacity` messages.
    pub fn new(capacity: usize, waker: Arc<mio::Waker>) -> Self {
        Self {
            queue: ArrayQueue::new(capacity.max(1)),
            waker,
            dropped: AtomicU64::new(0),
        }
    }

    /// Queues `msg`; a full queue drops it (and counts the drop). Does not wake.
    pub fn push(&self, msg: FanoutMsg) -> bool {
        if self.queue.push(msg).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        true
    }

    /// Takes the next queued message.
    pub fn pop(&self) -> Option<FanoutMsg> {
        self.queue.pop()
    }

    /// Wakes the owning worker.
    pub fn wake(&self) {
        // A failed wake means the worker's Poll is gone (shutting down): nothing to do.
        let _ = self.waker.wake();
    }

    /// The waker of the owning worker (shared with its control-plane `WorkerHandle`).
    pub fn waker(&self) -> &Arc<mio::Waker> {
        &self.waker
    }

    /// Messages dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// All workers' mailboxes, shared by every worker.
pub type Mailboxes = Arc<[Mailbox]>;

/// Remembers which workers were sent something during one loop iteration, so each is woken
/// once per batch rather than once per packet.
#[derive(Debug, Default)]
pub struct PendingWakes {
    workers: Vec<bool>,
    any: bool,
}

impl PendingWakes {
    /// Tracks wake-ups for `n` workers.
    pub fn new(n: usize) -> Self {
        Self {
            workers: vec![false; n],
            any: false,
        }
    }

    /// Marks `worker` to be woken at the end of the batch.
    pub fn mark(&mut self, worker: WorkerId) {
        if let Some(w) = self.workers.get_mut(worker.0) {
            *w = true;
            self.any = true;
        }
    }

    /// Wakes every marked worker once and clears the marks.
    pub fn flush(&mut self, mailboxes: &[Mailbox]) {
        if !self.any {
            return;
        }
        for (i, marked) in self.workers.iter_mut().enumerate() {
            if std::mem::take(marked) {
                if let Some(m) = mailboxes.get(i) {
                    m.wake();
                }
            }
        }
        self.any = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mailbox(poll: &mio::Poll, cap: usize) -> Mailbox {
        let waker = mio::Waker::new(poll.registry(), mio::Token(0)).unwrap();
        Mailbox::new(cap, Arc::new(waker))
    }

    #[test]
    fn full_queue_drops_and_counts_without_blocking() {
        let poll = mio::Poll::new().unwrap();
        let m = mailbox(&poll, 2);
        let msg = FanoutMsg::KeyframeRequest {
            stream: StreamId(1),
        };
        assert!(m.push(msg.clone()));
        assert!(m.push(msg.clone()));
        assert!(!m.push(msg));
        assert_eq!(m.dropped(), 1);
        assert!(m.pop().is_some());
        assert!(m.pop().is_some());
        assert!(m.pop().is_none());
    }

    #[test]
    fn shared_packet_is_not_copied() {
        let (pa, pb) = (mio::Poll::new().unwrap(), mio::Poll::new().unwrap());
        let a = mailbox(&pa, 4);
        let b = mailbox(&pb, 4);
        let packet = Bytes::from(vec![0x80u8, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 0xAA]);
        for m in [&a, &b] {
            m.push(FanoutMsg::Media {
                stream: StreamId(7),
                kind: MediaKind::Video,
                keyframe: true,
                packet: packet.clone(),
            });
        }
        let got: Vec<Bytes> = [a.pop(), b.pop()]
            .into_iter()
            .map(|m| match m {
                Some(FanoutMsg::Media { packet, .. }) => packet,
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(got[0].as_ptr(), packet.as_ptr());
        assert_eq!(got[1].as_ptr(), packet.as_ptr());
    }

    #[test]
    fn pending_wakes_marks_each_worker_once() {
        let mut w = PendingWakes::new(3);
        w.mark(WorkerId(1));
        w.mark(WorkerId(1));
        w.mark(WorkerId(9)); // out of range: ignored
        assert_eq!(w.workers, vec![false, true, false]);
        let polls: Vec<mio::Poll> = (0..3).map(|_| mio::Poll::new().unwrap()).collect();
        let boxes: Vec<Mailbox> = polls.iter().map(|p| mailbox(p, 1)).collect();
        w.flush(&boxes);
        assert_eq!(w.workers, vec![false, false, false]);
        assert!(!w.any);
    }
}
