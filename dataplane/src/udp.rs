//! Batched UDP I/O for a worker: `recvmmsg` into a per-worker arena and `sendmmsg` of the
//! datagrams queued during one loop iteration (Linux), one syscall per datagram elsewhere.
//!
//! Owns the receive arena and the send queue (their buffers are allocated once, when the
//! worker starts), worker thread pinning, and the only `unsafe` code of the data plane. It knows nothing about
//! protocols, peers or routing, and never reads the clock.

use std::io;
use std::net::SocketAddr;

use mio::net::UdpSocket;
use socket2::SockAddr;

/// Datagrams per `recvmmsg`/`sendmmsg` call.
pub(crate) const BATCH: usize = 32;

/// Space for `BATCH` received datagrams and their source addresses.
pub(crate) struct RecvBatch {
    /// `BATCH` slots of `slot_len` bytes each.
    arena: Box<[u8]>,
    slot_len: usize,
    lens: [usize; BATCH],
    addrs: [Option<SocketAddr>; BATCH],
    count: usize,
}

impl RecvBatch {
    /// An arena for `BATCH` datagrams of at most `slot_len` bytes (longer ones are truncated).
    pub(crate) fn new(slot_len: usize) -> Self {
        Self {
            arena: vec![0; slot_len * BATCH].into_boxed_slice(),
            slot_len,
            lens: [0; BATCH],
            addrs: [None; BATCH],
            count: 0,
        }
    }

    /// Receives up to [`BATCH`] datagrams without blocking. Returns how many arrived (at
    /// least one); `WouldBlock` when none is waiting.
    pub(crate) fn recv(&mut self, socket: &UdpSocket) -> io::Result<usize> {
        self.count = 0;
        #[cfg(target_os = "linux")]
        {
            self.recv_mmsg(socket)
        }
        #[cfg(not(target_os = "linux"))]
        {
            let (len, from) = socket.recv_from(&mut self.arena[..self.slot_len])?;
            self.lens[0] = len;
            self.addrs[0] = Some(from);
            self.count = 1;
            Ok(1)
        }
    }

    #[cfg(target_os = "linux")]
    fn recv_mmsg(&mut self, socket: &UdpSocket) -> io::Result<usize> {
        use std::os::fd::AsRawFd;
        // SAFETY: all-zero bytes are a valid `sockaddr_storage`, `iovec` and `mmsghdr` (plain
        // integers and null pointers).
        let mut names: [libc::sockaddr_storage; BATCH] = unsafe { std::mem::zeroed() };
        let mut iovs: [libc::iovec; BATCH] = unsafe { std::mem::zeroed() };
        let mut hdrs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
        for (i, slot) in self.arena.chunks_exact_mut(self.slot_len).enumerate() {
            iovs[i].iov_base = slot.as_mut_ptr().cast();
            iovs[i].iov_len = slot.len();
        }
        for (i, hdr) in hdrs.iter_mut().enumerate() {
            hdr.msg_hdr.msg_name = std::ptr::from_mut(&mut names[i]).cast();
            hdr.msg_hdr.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            hdr.msg_hdr.msg_iov = &mut iovs[i];
            hdr.msg_hdr.msg_iovlen = 1;
        }
        // SAFETY: `hdrs` holds BATCH headers, each pointing at its own live name buffer and one
        // iovec that covers one distinct slot of `self.arena`; all outlive the call, which
        // writes only within those lengths. MSG_DONTWAIT: never blocks.
        let n = unsafe {
            libc::recvmmsg(
                socket.as_raw_fd(),
                hdrs.as_mut_ptr(),
                BATCH as _,
                libc::MSG_DONTWAIT as _,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = usize::try_from(n).unwrap_or(0).min(BATCH);
        for i in 0..n {
            self.lens[i] = (hdrs[i].msg_len as usize).min(self.slot_len);
            // SAFETY: the kernel initialised `names[i]` for the `msg_namelen` bytes it reports.
            let addr = unsafe { SockAddr::new(names[i], hdrs[i].msg_hdr.msg_namelen) };
            self.addrs[i] = addr.as_socket();
        }
        self.count = n;
        Ok(n)
    }

    /// Datagram `i` of the last [`Self::recv`]: its source and bytes. `None` past the count or
    /// for a source that is not an IP address.
    pub(crate) fn get(&self, i: usize) -> Option<(SocketAddr, &[u8])> {
        if i >= self.count {
            return None;
        }
        let from = self.addrs[i]?;
        let start = i * self.slot_len;
        Some((from, &self.arena[start..start + self.lens[i]]))
    }
}

/// What a [`SendQueue::flush`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FlushOutcome {
    /// Datagrams the kernel accepted.
    pub sent: u64,
    /// Datagrams lost because the socket buffer was full (`EAGAIN`).
    pub dropped_full: u64,
    /// Datagrams the kernel refused for another reason (unreachable, bad address…).
    pub errors: u64,
}

/// Datagrams waiting for one `sendmmsg`, each in its own reusable buffer with its destination.
pub(crate) struct SendQueue {
    slots: Vec<Vec<u8>>,
    dsts: Vec<SockAddr>,
    len: usize,
}

impl SendQueue {
    /// A queue of [`BATCH`] slots of `capacity` bytes each.
    pub(crate) fn new(capacity: usize) -> Self {
        let unspecified = SockAddr::from(SocketAddr::from(([0, 0, 0, 0], 0)));
        Self {
            slots: (0..BATCH).map(|_| Vec::with_capacity(capacity)).collect(),
            dsts: vec![unspecified; BATCH],
            len: 0,
        }
    }

    /// Datagrams queued.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is queued.
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the next [`Self::slot`] needs a [`Self::flush`] first.
    pub(crate) fn is_full(&self) -> bool {
        self.len == BATCH
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
            *d = SockAddr::from(dst);
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

    /// Sends every queued datagram from `socket` and empties the queue. Never blocks: what the
    /// kernel cannot take is dropped and counted.
    pub(crate) fn flush(&mut self, socket: &UdpSocket) -> FlushOutcome {
        let mut out = FlushOutcome::default();
        let mut next = 0;
        while next < self.len {
            match self.send_from(socket, next) {
                Ok(n) => {
                    out.sent += n as u64;
                    next += n;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    // The socket buffer is full: the rest of this batch is lost.
                    out.dropped_full += (self.len - next) as u64;
                    break;
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

    /// Sends datagrams `from..len`; returns how many the kernel took (at least one).
    #[cfg(target_os = "linux")]
    fn send_from(&mut self, socket: &UdpSocket, from: usize) -> io::Result<usize> {
        use std::os::fd::AsRawFd;
        // SAFETY: all-zero bytes are a valid `iovec` and `mmsghdr`.
        let mut iovs: [libc::iovec; BATCH] = unsafe { std::mem::zeroed() };
        let mut hdrs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
        let count = self.len - from;
        for i in 0..count {
            let slot = &mut self.slots[from + i];
            iovs[i].iov_base = slot.as_mut_ptr().cast();
            iovs[i].iov_len = slot.len();
            let dst = &self.dsts[from + i];
            hdrs[i].msg_hdr.msg_name = dst.as_ptr().cast_mut().cast();
            hdrs[i].msg_hdr.msg_namelen = dst.len();
            hdrs[i].msg_hdr.msg_iov = &mut iovs[i];
            hdrs[i].msg_hdr.msg_iovlen = 1;
        }
        // SAFETY: the first `count` headers point at live, initialised buffers (slot bytes up
        // to their length, a socket address of its stated length) that outlive the call; the
        // kernel only reads them and writes `msg_len`. MSG_DONTWAIT: never blocks.
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
    fn send_from(&mut self, socket: &UdpSocket, from: usize) -> io::Result<usize> {
        let dst = self.dsts[from]
            .as_socket()
            .ok_or(io::ErrorKind::InvalidInput)?;
        socket.send_to(&self.slots[from], dst)?;
        Ok(1)
    }
}

/// Pins the calling thread to one core (Linux `sched_setaffinity`); elsewhere `Unsupported`.
pub(crate) fn pin_current_thread(core: usize) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        if core >= libc::CPU_SETSIZE as usize {
            return Err(io::ErrorKind::InvalidInput.into());
        }
        // SAFETY: an all-zero `cpu_set_t` is the empty set; CPU_SET writes bit `core`, which is
        // below CPU_SETSIZE (checked above); sched_setaffinity(0, ..) only reads the set.
        let rc = unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(core, &mut set);
            libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set)
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = core;
        Err(io::ErrorKind::Unsupported.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn socket() -> UdpSocket {
        UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap()
    }

    /// Receives until `want` datagrams arrived (the kernel delivers loopback datagrams
    /// synchronously, so one or two calls suffice; bounded so a bug cannot hang the test).
    fn recv_all(batch: &mut RecvBatch, rx: &UdpSocket, want: usize) -> Vec<(SocketAddr, Vec<u8>)> {
        let mut got = Vec::new();
        for _ in 0..1000 {
            if got.len() >= want {
                break;
            }
            match batch.recv(rx) {
                Ok(n) => {
                    for i in 0..n {
                        let (from, bytes) = batch.get(i).unwrap();
                        got.push((from, bytes.to_vec()));
                    }
                    assert!(batch.get(n).is_none());
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::yield_now(),
                Err(e) => panic!("recv: {e}"),
            }
        }
        got
    }

    #[test]
    fn pinning_to_an_impossible_core_fails_cleanly() {
        assert!(pin_current_thread(usize::MAX).is_err());
    }

    #[test]
    fn queued_datagrams_arrive_in_order_with_their_source() {
        let tx = socket();
        let rx = socket();
        let dst = rx.local_addr().unwrap();
        let mut q = SendQueue::new(64);
        let mut sent = FlushOutcome::default();
        // More than one batch: the queue flushes itself when full.
        for i in 0..(BATCH as u8 + 5) {
            let o = q.push(&tx, dst, &[i, i, i]);
            sent.sent += o.sent;
        }
        assert_eq!(q.len(), 5);
        sent.sent += q.flush(&tx).sent;
        assert!(q.is_empty());
        assert_eq!(sent.sent, BATCH as u64 + 5);

        let mut batch = RecvBatch::new(16);
        let got = recv_all(&mut batch, &rx, BATCH + 5);
        assert_eq!(got.len(), BATCH + 5);
        for (i, (from, bytes)) in got.iter().enumerate() {
            assert_eq!(*from, tx.local_addr().unwrap());
            assert_eq!(bytes, &vec![i as u8; 3]);
        }
        assert_eq!(
            batch.recv(&rx).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
    }

    #[test]
    fn slot_and_commit_send_in_place_and_uncommitted_slots_are_not_sent() {
        let tx = socket();
        let rx = socket();
        let dst = rx.local_addr().unwrap();
        let mut q = SendQueue::new(64);
        q.slot()
            .unwrap()
            .extend_from_slice(b"dropped, never committed");
        q.slot().unwrap().extend_from_slice(b"kept");
        q.commit(dst);
        assert_eq!(q.flush(&tx).sent, 1);
        let mut batch = RecvBatch::new(64);
        let got = recv_all(&mut batch, &rx, 1);
        assert_eq!(got[0].1, b"kept");
    }

    #[test]
    fn long_datagrams_are_truncated_to_the_slot() {
        let tx = socket();
        let rx = socket();
        tx.send_to(&[7; 100], rx.local_addr().unwrap()).unwrap();
        let mut batch = RecvBatch::new(40);
        let got = recv_all(&mut batch, &rx, 1);
        assert_eq!(got[0].1, vec![7; 40]);
    }

    #[test]
    fn a_refused_destination_counts_an_error_and_the_rest_still_go() {
        let tx = socket();
        let rx = socket();
        let mut q = SendQueue::new(64);
        // Port 0 is not a valid destination: the kernel refuses that datagram.
        q.push(&tx, SocketAddr::from(([127, 0, 0, 1], 0)), b"bad");
        q.push(&tx, rx.local_addr().unwrap(), b"good");
        let out = q.flush(&tx);
        assert_eq!(out.errors, 1);
        assert_eq!(out.sent, 1);
        let mut batch = RecvBatch::new(64);
        assert_eq!(recv_all(&mut batch, &rx, 1)[0].1, b"good");
    }
}
