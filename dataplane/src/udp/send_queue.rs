//! The worker's send queue: datagrams written in place into reusable slots during one loop
//! iteration, sent with `sendmmsg`, and with UDP GSO (`UDP_SEGMENT`) where consecutive
//! datagrams go to the same destination (the worker queues each subscriber's packets of a
//! receive batch next to each other).
//!
//! Owns the slots, their destinations and the per-flush message groups; allocates only when
//! the worker starts. Knows nothing about what the datagrams are.

use std::io;
use std::net::SocketAddr;

use mio::net::UdpSocket;
use socket2::SockAddr;

use super::BATCH;

/// Slots of a queue with GSO (about 384 KiB per worker): a flush forced by a full queue cuts at
/// most one subscriber's run in two.
pub(crate) const GSO_SLOTS: usize = 256;
/// Datagrams (iovecs) handed to one `sendmmsg` call.
const IOV_PER_CALL: usize = 256;
const _: () = assert!(MAX_SEGMENTS <= IOV_PER_CALL);
/// Most datagrams in one GSO send (the kernel's `UDP_MAX_SEGMENTS` is 64 before Linux 6.9).
const MAX_SEGMENTS: usize = 64;
/// Most bytes in one GSO send (an IP datagram's payload).
const MAX_GSO_BYTES: usize = 65_000;

/// What a [`SendQueue::flush`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FlushOutcome {
    /// Datagrams the kernel accepted.
    pub sent: u64,
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
struct Group {
    start: u16,
    count: u16,
    segment: u16,
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

/// Datagrams waiting for one flush, each in its own reusable buffer with its destination.
pub(crate) struct SendQueue {
    slots: Vec<Vec<u8>>,
    /// Each slot's destination (converted to a C socket address once per message, at send).
    dsts: Vec<SocketAddr>,
    len: usize,
    /// Whether to group datagrams into GSO sends (cleared if the kernel refuses one).
    gso: bool,
    /// Scratch of [`Self::flush`]: the messages.
    groups: Vec<Group>,
}

impl SendQueue {
    /// A queue of slots of `capacity` bytes each: [`BATCH`] of them, or [`GSO_SLOTS`] with
    /// `gso`.
    pub(crate) fn new(capacity: usize, gso: bool) -> Self {
        let gso = gso && cfg!(target_os = "linux");
        let slots = if gso { GSO_SLOTS } else { BATCH };
        let unspecified = SocketAddr::from(([0, 0, 0, 0], 0));
        Self {
            slots: (0..slots).map(|_| Vec::with_capacity(capacity)).collect(),
            dsts: vec![unspecified; slots],
            len: 0,
            gso,
            groups: Vec::with_capacity(slots),
        }
    }

    /// Datagrams queued.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Whether GSO sends are (still) used.
    pub(crate) fn uses_gso(&self) -> bool {
        self.gso
    }

    /// Whether nothing is queued.
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the next [`Self::slot`] needs a [`Self::flush`] first.
    pub(crate) fn is_full(&self) -> bool {
        self.len == self.slots.len()
    }

    /// The next free buffer, cleared; fill it, then [`Self::commit`] it (or leave it, and it is
    /// reused). `None` when the queue is full.
    pub(crate) fn slot(&mut self) -> Option<&mut Vec<u8>> {
        let slot = self.slots.get_mut(self.len)?;
        slot.clear();
        Some(slot)
    }

    /// Queues the buffer last returned by [`Self::slot`] for `dst`.
    pub(crate) fn commit(&mut self, dst: SocketAddr) {
        if let Some(d) = self.dsts.get_mut(self.len) {
            *d = dst;
            self.len += 1;
        }
    }

    /// Queues a copy of `bytes` for `dst`, flushing first when full.
    pub(crate) fn push(
        &mut self,
        socket: &UdpSocket,
        dst: SocketAddr,
        bytes: &[u8],
    ) -> FlushOutcome {
        let out = if self.is_full() {
            self.flush(socket)
        } else {
            FlushOutcome::default()
        };
        if let Some(slot) = self.slot() {
            slot.extend_from_slice(bytes);
            self.commit(dst);
        }
        out
    }

    /// Sends every queued datagram from `socket`, in queue order, and empties the queue. Never
    /// blocks: what the kernel cannot take is dropped and counted. With GSO, a run of
    /// consecutive datagrams to one destination, all of one size but the last (which may be
    /// shorter), leaves as one send.
    pub(crate) fn flush(&mut self, socket: &UdpSocket) -> FlushOutcome {
        self.plan();
        let mut out = FlushOutcome::default();
        let mut next = 0;
        while next < self.groups.len() {
            match self.send_groups(socket, next) {
                Ok(n) => {
                    for g in &self.groups[next..next + n] {
                        out.sent += u64::from(g.count);
                        if g.count > 1 {
                            out.gso_sends += 1;
                            out.gso_datagrams += u64::from(g.count);
                        }
                    }
                    next += n;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    // The socket buffer is full: the rest of this flush is lost.
                    let rest: u64 = self.groups[next..].iter().map(|g| u64::from(g.count)).sum();
                    out.dropped_full += rest;
                    break;
                }
                Err(_) if self.groups[next].count > 1 => {
                    // The kernel or the route refuses GSO: from now on one datagram per
                    // message, starting with this group's.
                    self.gso = false;
                    let first = self.groups[next].start;
                    self.groups.truncate(next);
                    self.groups
                        .extend((first..self.len as u16).map(Group::single));
                }
                Err(_) => {
                    // The first datagram was refused (e.g. ICMP unreachable): skip it only.
                    out.errors += 1;
                    next += 1;
                }
            }
        }
        self.len = 0;
        out
    }

    /// Fills `groups` for the queued datagrams.
    fn plan(&mut self) {
        self.groups.clear();
        if !self.gso {
            self.groups.extend((0..self.len as u16).map(Group::single));
            return;
        }
        let mut i = 0;
        while i < self.len {
            let segment = self.slots[i].len();
            let mut count = 1;
            let mut bytes = segment;
            while i + count < self.len && count < MAX_SEGMENTS {
                let next = i + count;
                let len = self.slots[next].len();
                if self.dsts[next] != self.dsts[i]
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
    }

    /// Sends up to [`BATCH`] groups from `from`; returns how many the kernel took (at least
    /// one).
    #[cfg(target_os = "linux")]
    fn send_groups(&mut self, socket: &UdpSocket, from: usize) -> io::Result<usize> {
        use std::os::fd::AsRawFd;
        /// `CMSG_SPACE(sizeof(u16))` on every Linux ABI fits in 32 bytes (8-byte aligned).
        type Control = [u64; 4];
        // As many groups as fit BATCH messages and IOV_PER_CALL datagrams (a group has at most
        // MAX_SEGMENTS < IOV_PER_CALL, so at least one).
        let mut count = 0;
        let mut datagrams = 0;
        for g in self.groups[from..].iter().take(BATCH) {
            if datagrams + usize::from(g.count) > IOV_PER_CALL {
                break;
            }
            datagrams += usize::from(g.count);
            count += 1;
        }
        // SAFETY: all-zero bytes are a valid `iovec`, `mmsghdr` and control buffer.
        let mut iovs: [libc::iovec; IOV_PER_CALL] = unsafe { std::mem::zeroed() };
        let mut hdrs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
        let mut controls: [Control; BATCH] = [[0; 4]; BATCH];
        // One C socket address per message, not per datagram.
        let mut names: [Option<SockAddr>; BATCH] = [const { None }; BATCH];
        let mut firsts = [0usize; BATCH];
        let mut iov_at = 0;
        for (i, g) in self.groups[from..from + count].iter().enumerate() {
            firsts[i] = iov_at;
            for k in 0..usize::from(g.count) {
                let slot = &mut self.slots[usize::from(g.start) + k];
                iovs[iov_at].iov_base = slot.as_mut_ptr().cast();
                iovs[iov_at].iov_len = slot.len();
                iov_at += 1;
            }
        }
        let iov_base = iovs.as_mut_ptr();
        let control_base = controls.as_mut_ptr();
        for (i, g) in self.groups[from..from + count].iter().enumerate() {
            let dst = names[i].insert(SockAddr::from(self.dsts[usize::from(g.start)]));
            let hdr = &mut hdrs[i].msg_hdr;
            hdr.msg_name = dst.as_ptr().cast_mut().cast();
            hdr.msg_namelen = dst.len();
            // SAFETY: `firsts[i] < iov_at <= IOV_PER_CALL`: inside `iovs`.
            hdr.msg_iov = unsafe { iov_base.add(firsts[i]) };
            hdr.msg_iovlen = usize::from(g.count) as _;
            if g.count > 1 {
                // SAFETY: `i < BATCH`: inside `controls`. CMSG_SPACE only computes a size.
                hdr.msg_control = unsafe { control_base.add(i) }.cast();
                hdr.msg_controllen = unsafe { libc::CMSG_SPACE(2) } as _;
                // SAFETY: `hdr` points at its own 32 zeroed, 8-aligned control bytes, at least
                // CMSG_SPACE(2) long, so the first header and its 2 data bytes lie inside.
                unsafe {
                    let cmsg = libc::CMSG_FIRSTHDR(hdr);
                    (*cmsg).cmsg_level = libc::SOL_UDP;
                    (*cmsg).cmsg_type = libc::UDP_SEGMENT;
                    (*cmsg).cmsg_len = libc::CMSG_LEN(2) as _;
                    std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<u16>(), g.segment);
                }
            }
        }
        // SAFETY: the first `count` headers point at live, initialised buffers (slot bytes up
        // to their length through `iovs`, a socket address of its stated length in `names`, a
        // control message of its stated length) that outlive the call; the kernel only reads them and
        // writes `msg_len`. MSG_DONTWAIT: never blocks.
        let n = unsafe {
            libc::sendmmsg(
                socket.as_raw_fd(),
                hdrs.as_mut_ptr(),
                count as _,
                libc::MSG_DONTWAIT as _,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(usize::try_from(n).unwrap_or(0).max(1))
    }

    #[cfg(not(target_os = "linux"))]
    fn send_groups(&mut self, socket: &UdpSocket, from: usize) -> io::Result<usize> {
        // GSO is Linux-only (`new` turns it off elsewhere), so every group is one datagram.
        let i = usize::from(self.groups[from].start);
        socket.send_to(&self.slots[i], self.dsts[i])?;
        Ok(1)
    }
}
