//! Cross-worker fan-out: the lock-free mailboxes workers use to hand each other decrypted
//! media, sender reports and keyframe requests.
//!
//! A packet is decrypted once on the publisher's worker and shared as [`Bytes`]
//! (reference-counted): every worker that hosts subscribers of the stream receives the same
//! buffer through its bounded [`ArrayQueue`] and is woken at most once per batch of the sender
//! (the sender's core reports whom to wake; its I/O shell wakes them). A full queue drops the message and counts it; it never blocks the sender.
//! This module owns no sockets and no peers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

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
    (5, crate::rtcp::TWCC_URI),
];

/// Messages between workers.
#[derive(Debug, Clone)]
pub enum FanoutMsg {
    /// A decrypted RTP packet of `stream`, header extensions already in canonical ids.
    Media {
        stream: StreamId,
        kind: MediaKind,
        /// The simulcast layer of a video packet (0 without simulcast).
        layer: u8,
        /// The packet starts a keyframe (new subscribers start their video here, and a viewer
        /// switches to this layer here).
        keyframe: bool,
        packet: Bytes,
    },
    /// The publisher's sender report for the `kind` track, to be re-sent under each
    /// subscriber's SSRC.
    SenderReport {
        stream: StreamId,
        kind: MediaKind,
        /// The layer whose SSRC sent it (0 for audio and without simulcast).
        layer: u8,
        report: SenderInfo,
    },
    /// A subscriber asks the publisher's worker for a keyframe of video layer `layer` (of
    /// every layer with `None`).
    KeyframeRequest { stream: StreamId, layer: Option<u8> },
}

/// The sender-info part of an RTCP sender report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderInfo {
    pub ntp: u64,
    /// When this node received the report (its NTP stamp's moment on our clock): round trips
    /// to subscribers are measured from it.
    pub received_at: Instant,
    pub rtp_timestamp: u32,
    pub packet_count: u32,
    pub octet_count: u32,
}

/// One worker's inbox: a bounded lock-free queue. Waking the owner is the I/O shell's job
/// (the core reports whom to wake through [`PendingWakes`]).
pub struct Mailbox {
    queue: ArrayQueue<FanoutMsg>,
    dropped: AtomicU64,
}

impl Mailbox {
    /// A mailbox holding at most `capacity` messages.
    pub fn new(capacity: usize) -> Self {
        Self {
            queue: ArrayQueue::new(capacity.max(1)),
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

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Messages dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// All workers' mailboxes, shared by every worker.
pub type Mailboxes = Arc<[Mailbox]>;

/// Builds `n` mailboxes of `capacity` messages each.
pub fn mailboxes(n: usize, capacity: usize) -> Mailboxes {
    (0..n).map(|_| Mailbox::new(capacity)).collect()
}

/// Remembers which workers were sent something since the last drain, so each is woken once
/// per batch rather than once per packet.
#[derive(Debug, Default)]
pub struct PendingWakes {
    workers: Vec<bool>,
    any: bool,
    cursor: usize,
}

impl PendingWakes {
    /// Tracks wake-ups for `n` workers.
    pub fn new(n: usize) -> Self {
        Self {
            workers: vec![false; n],
            any: false,
            cursor: 0,
        }
    }

    /// Marks `worker` to be woken.
    pub fn mark(&mut self, worker: WorkerId) {
        if let Some(w) = self.workers.get_mut(worker.0) {
            *w = true;
            self.any = true;
        }
    }

    /// The next marked worker (each once), clearing its mark.
    pub fn poll(&mut self) -> Option<WorkerId> {
        if !self.any {
            return None;
        }
        while self.cursor < self.workers.len() {
            let i = self.cursor;
            self.cursor += 1;
            if std::mem::take(&mut self.workers[i]) {
                return Some(WorkerId(i));
            }
        }
        self.cursor = 0;
        self.any = false;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_queue_drops_and_counts_without_blocking() {
        let m = Mailbox::new(2);
        let msg = FanoutMsg::KeyframeRequest {
            stream: StreamId(1),
            layer: None,
        };
        assert!(m.push(msg.clone()));
        assert!(m.push(msg.clone()));
        assert!(!m.push(msg));
        assert_eq!(m.dropped(), 1);
        assert!(m.pop().is_some());
        assert!(m.pop().is_some());
        assert!(m.pop().is_none());
        assert!(m.is_empty());
    }

    #[test]
    fn shared_packet_is_not_copied() {
        let boxes = mailboxes(2, 4);
        let packet = Bytes::from(vec![0x80u8, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 0xAA]);
        for m in boxes.iter() {
            m.push(FanoutMsg::Media {
                stream: StreamId(7),
                kind: MediaKind::Video,
                layer: 0,
                keyframe: true,
                packet: packet.clone(),
            });
        }
        let got: Vec<Bytes> = boxes
            .iter()
            .map(|m| match m.pop() {
                Some(FanoutMsg::Media { packet, .. }) => packet,
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(got[0].as_ptr(), packet.as_ptr());
        assert_eq!(got[1].as_ptr(), packet.as_ptr());
    }

    #[test]
    fn pending_wakes_yields_each_marked_worker_once() {
        let mut w = PendingWakes::new(3);
        assert_eq!(w.poll(), None);
        w.mark(WorkerId(2));
        w.mark(WorkerId(1));
        w.mark(WorkerId(1));
        w.mark(WorkerId(9)); // out of range: ignored
        assert_eq!(w.poll(), Some(WorkerId(1)));
        assert_eq!(w.poll(), Some(WorkerId(2)));
        assert_eq!(w.poll(), None);
        assert_eq!(w.poll(), None);
        w.mark(WorkerId(0));
        assert_eq!(w.poll(), Some(WorkerId(0)));
        assert_eq!(w.poll(), None);
    }
}
