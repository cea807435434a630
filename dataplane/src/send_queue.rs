//! The worker's send queue: datagrams written in place into reusable slots while the worker
//! core handles input, each with the local socket it leaves from and its destination, and the
//! plan that groups them into messages for one `sendmmsg` per flush: with UDP GSO
//! (`UDP_SEGMENT`), a run of consecutive datagrams from one socket to one destination leaves as
//! one message (the core queues each subscriber's packets of a receive batch next to each
//! other).
//!
//! Owns the slots, their addresses and the per-flush message groups; allocates only when the
//! worker starts. Socket-free: the I/O shell sends the planned groups (`crate::udp`), the
//! simulated network reads the datagrams one by one. Knows nothing about what they are.

#![forbid(unsafe_code)]

use std::net::SocketAddr;

/// Datagrams per `recvmmsg`/`sendmmsg` call, and the slots of a queue without GSO.
pub const BATCH: usize = 32;
/// Slots of a queue with GSO (about 384 KiB per worker): a flush forced by a full queue cuts at
/// most one subscriber's run in two.
pub const GSO_SLOTS: usize = 256;
/// Most datagrams in one GSO send (the kernel's `UDP_MAX_SEGMENTS` is 64 before Linux 6.9).
pub const MAX_SEGMENTS: usize = 64;
/// Most bytes in one GSO send (an IP datagram's payload).
const MAX_GSO_BYTES: usize = 65_000;

/// A local socket of a worker: the worker socket every browser-facing peer shares, or the own
/// socket of a relay leg (numbered by the I/O shell).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SocketId(pub u32);

impl SocketId {
    /// The worker socket (the address SDP answers announce).
    pub const WORKER: SocketId = SocketId(0);
}

/// What sending a queue did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FlushOutcome {
    /// Datagrams the kernel accepted.
    pub sent: u64,
    /// Bytes of the datagrams the kernel accepted (UDP payloads).
    pub sent_bytes: u64,
    /// Datagrams lost because the socket buffer was full (`EAGAIN`).
    pub dropped_full: u64,
    /// Datagrams the kernel refused for another reason (unreachable, bad address…).
    pub errors: u64,
    /// Messages handed to the kernel that carried several datagrams (GSO sends).
    pub gso_sends: u64,
    /// Datagrams that left inside GSO sends.
    pub gso_datagrams: u64,
}

/// A run of queued datagrams that leaves as one message: `count` slots from `start`, every one
/// `segment` bytes long except a shorter last one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Group {
    pub start: u16,
    pub count: u16,
    pub segment: u16,
}

impl Group {
    /// Slot `start` alone.
    fn single(start: u16) -> Self {
        Group {
            start,
            count: 1,
            segment: 0,
        }
    }
}

/// Datagrams waiting for one flush, each in its own reusable buffer with its addresses.
pub struct SendQueue {
    slots: Vec<Vec<u8>>,
    /// Each slot's local socket and destination.
    addrs: Vec<(SocketId, SocketAddr)>,
    len: usize,
    /// Whether to group datagrams into GSO sends (cleared when the kernel shows it cannot do
    /// GSO; a destination it refuses does not clear it).
    gso: bool,
    /// The messages of the current flush (see [`Self::plan`]).
    groups: Vec<Group>,
}

impl SendQueue {
    /// A queue of slots of `capacity` bytes each: [`BATCH`] of them, or [`GSO_SLOTS`] with
    /// `gso` (Linux only).
    pub fn new(capacity: usize, gso: bool) -> Self {
        let gso = gso && cfg!(target_os = "linux");
        let slots = if gso { GSO_SLOTS } else { BATCH };
        let unspecified = (SocketId::WORKER, SocketAddr::from(([0, 0, 0, 0], 0)));
        Self {
            slots: (0..slots).map(|_| Vec::with_capacity(capacity)).collect(),
            addrs: vec![unspecified; slots],
            len: 0,
            gso,
            groups: Vec::with_capacity(slots),
        }
    }

    /// Datagrams queued.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Slots left before the queue must be sent.
    pub fn free(&self) -> usize {
        self.slots.len() - self.len
    }

    /// Whether the next [`Self::slot`] returns `None`.
    pub fn is_full(&self) -> bool {
        self.len == self.slots.len()
    }

    /// Whether GSO sends are (still) used.
    pub fn uses_gso(&self) -> bool {
        self.gso
    }

    /// The next free buffer, cleared; fill it, then [`Self::commit`] it (or leave it, and it is
    /// reused). `None` when the queue is full.
    pub fn slot(&mut self) -> Option<&mut Vec<u8>> {
        let slot = self.slots.get_mut(self.len)?;
        slot.clear();
        Some(slot)
    }

    /// Queues the buffer last returned by [`Self::slot`], to leave `socket` for `dst`.
    pub fn commit(&mut self, socket: SocketId, dst: SocketAddr) {
        if let Some(a) = self.addrs.get_mut(self.len) {
            *a = (socket, dst);
            self.len += 1;
        }
    }

    /// Queues a copy of `bytes`; false (nothing queued) when the queue is full.
    #[must_use]
    pub fn push(&mut self, socket: SocketId, dst: SocketAddr, bytes: &[u8]) -> bool {
        let Some(slot) = self.slot() else {
            return false;
        };
        slot.extend_from_slice(bytes);
        self.commit(socket, dst);
        true
    }

    /// Datagram `i`: its local socket, destination and bytes.
    pub fn get(&self, i: usize) -> Option<(SocketId, SocketAddr, &[u8])> {
        if i >= self.len {
            return None;
        }
        let (socket, dst) = self.addrs[i];
        Some((socket, dst, &self.slots[i]))
    }

    /// Every queued datagram in queue order.
    pub fn iter(&self) -> impl Iterator<Item = (SocketId, SocketAddr, &[u8])> + '_ {
        (0..self.len).filter_map(|i| self.get(i))
    }

    /// Empties the queue (its buffers are kept).
    pub fn clear(&mut self) {
        self.len = 0;
        self.groups.clear();
    }

    /// Groups the queued datagrams into messages, in queue order: without GSO one datagram
    /// each; with GSO a run of consecutive datagrams from one socket to one destination, all
    /// of one size but the last (which may be shorter), at most [`MAX_SEGMENTS`] and 65,000
    /// bytes.
    pub fn plan(&mut self) -> &[Group] {
        self.groups.clear();
        if !self.gso {
            self.groups.extend((0..self.len as u16).map(Group::single));
            return &self.groups;
        }
        let mut i = 0;
        while i < self.len {
            let segment = self.slots[i].len();
            let mut count = 1;
            let mut bytes = segment;
            while i + count < self.len && count < MAX_SEGMENTS {
                let next = i + count;
                let len = self.slots[next].len();
                if self.addrs[next] != self.addrs[i]
                    || len > segment
                    || len == 0
                    || bytes + len > MAX_GSO_BYTES
                {
                    break;
                }
                count += 1;
                bytes += len;
                if len < segment {
                    break; // a shorter datagram can only end a GSO send
                }
            }
            self.groups.push(Group {
                start: i as u16,
                count: count as u16,
                segment: segment as u16,
            });
            i += count;
        }
        &self.groups
    }

    /// The messages of the last [`Self::plan`].
    pub fn groups(&self) -> &[Group] {
        &self.groups
    }

    /// The kernel refused a GSO send at group `from`: from now on one datagram per message,
    /// and the rest of this flush (from that group's first datagram) is planned again that way.
    pub fn fall_back_to_single(&mut self, from: usize) {
        self.gso = false;
        let Some(first) = self.groups.get(from).map(|g| g.start) else {
            return;
        };
        self.groups.truncate(from);
        self.groups
            .extend((first..self.len as u16).map(Group::single));
    }

    /// Group `at` (a GSO send the kernel refused for a reason that may be the message's) is
    /// sent one datagram per message instead; GSO stays on for the rest.
    pub fn split_group(&mut self, at: usize) {
        let Some(g) = self.groups.get(at).copied() else {
            return;
        };
        let singles = (g.start..g.start + g.count).map(Group::single);
        self.groups.splice(at..=at, singles);
    }

    /// The bytes of group `g`'s datagrams (UDP payloads).
    pub fn group_bytes(&self, g: Group) -> u64 {
        let start = usize::from(g.start);
        self.slots[start..start + usize::from(g.count)]
            .iter()
            .map(|s| s.len() as u64)
            .sum()
    }

    /// The slots of group `g`, for the I/O shell to point its iovecs at.
    pub fn group_slots(&mut self, g: Group) -> &mut [Vec<u8>] {
        let start = usize::from(g.start);
        &mut self.slots[start..start + usize::from(g.count)]
    }

    /// The local socket and destination of group `g`.
    pub fn group_addrs(&self, g: Group) -> (SocketId, SocketAddr) {
        self.addrs[usize::from(g.start)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dst(port: u16) -> SocketAddr {
        SocketAddr::from(([10, 0, 0, 1], port))
    }

    fn queue(gso: bool, items: &[(SocketId, SocketAddr, usize)]) -> SendQueue {
        let mut q = SendQueue::new(128, gso);
        for (i, &(socket, dst, len)) in items.iter().enumerate() {
            assert!(q.push(socket, dst, &vec![i as u8; len]));
        }
        q
    }

    fn shape(groups: &[Group]) -> Vec<(u16, u16)> {
        groups.iter().map(|g| (g.start, g.count)).collect()
    }

    #[test]
    fn without_gso_every_datagram_is_its_own_message() {
        let w = SocketId::WORKER;
        let mut q = queue(false, &[(w, dst(1), 10), (w, dst(1), 10), (w, dst(1), 10)]);
        assert_eq!(shape(q.plan()), [(0, 1), (1, 1), (2, 1)]);
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn gso_groups_adjacent_runs_per_socket_and_destination() {
        let (w, leg) = (SocketId::WORKER, SocketId(3));
        let mut q = queue(
            true,
            &[
                (w, dst(1), 100),
                (w, dst(1), 100),
                (w, dst(1), 40), // a shorter datagram ends a run
                (w, dst(1), 100),
                (leg, dst(1), 100), // same destination, other socket: a new run
                (leg, dst(1), 100),
                (w, dst(2), 100),
                (w, dst(1), 100), // not merged with the first run: not adjacent
            ],
        );
        assert_eq!(
            shape(q.plan()),
            [(0, 3), (3, 1), (4, 2), (6, 1), (7, 1)],
            "{:?}",
            q.groups()
        );
        assert_eq!(q.group_addrs(q.groups()[2]), (leg, dst(1)));
        assert_eq!(q.groups()[0].segment, 100);
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn gso_runs_hold_at_most_64_datagrams_and_65000_bytes() {
        let w = SocketId::WORKER;
        let items: Vec<_> = (0..130).map(|_| (w, dst(1), 20)).collect();
        let mut q = queue(true, &items);
        assert_eq!(shape(q.plan()), [(0, 64), (64, 64), (128, 2)]);
        let mut q = SendQueue::new(1500, true);
        for _ in 0..60 {
            assert!(q.push(w, dst(1), &[0; 1200]));
        }
        // 54 * 1200 = 64,800 bytes; one more would pass 65,000.
        assert_eq!(shape(q.plan()), [(0, 54), (54, 6)]);
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn falling_back_replans_the_rest_as_single_datagrams() {
        let w = SocketId::WORKER;
        let mut q = queue(true, &[(w, dst(1), 10), (w, dst(2), 10), (w, dst(2), 10)]);
        assert_eq!(shape(q.plan()), [(0, 1), (1, 2)]);
        q.fall_back_to_single(1);
        assert!(!q.uses_gso());
        assert_eq!(shape(q.groups()), [(0, 1), (1, 1), (2, 1)]);
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn splitting_a_group_sends_it_as_single_datagrams_and_keeps_gso_for_the_rest() {
        let w = SocketId::WORKER;
        let mut q = queue(
            true,
            &[
                (w, dst(1), 10),
                (w, dst(1), 10),
                (w, dst(1), 10),
                (w, dst(2), 10),
                (w, dst(2), 10),
            ],
        );
        assert_eq!(shape(q.plan()), [(0, 3), (3, 2)]);
        q.split_group(0);
        assert!(q.uses_gso());
        assert_eq!(shape(q.groups()), [(0, 1), (1, 1), (2, 1), (3, 2)]);
        q.split_group(9); // no such group
        assert_eq!(q.groups().len(), 4);
    }

    #[test]
    fn a_full_queue_refuses_and_uncommitted_slots_are_not_queued() {
        let mut q = SendQueue::new(16, false);
        q.slot().unwrap().extend_from_slice(b"never committed");
        assert!(q.is_empty());
        for i in 0..BATCH {
            assert!(q.push(SocketId::WORKER, dst(1), &[i as u8]));
        }
        assert!(q.is_full());
        assert_eq!(q.free(), 0);
        assert!(!q.push(SocketId::WORKER, dst(1), b"x"));
        assert!(q.slot().is_none());
        let got: Vec<u8> = q.iter().map(|(_, _, b)| b[0]).collect();
        assert_eq!(got, (0..BATCH as u8).collect::<Vec<_>>());
        q.clear();
        assert!(q.is_empty());
        assert_eq!(q.free(), BATCH);
    }
}
