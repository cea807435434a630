//! Batched UDP I/O for a worker's I/O shell: `recvmmsg` into a per-worker arena, and
//! `sendmmsg` (with UDP GSO) of the groups a [`SendQueue`] planned (Linux), one syscall per
//! datagram elsewhere; and worker thread pinning. A refused send is classified
//! ([`classify_send_error`]): only errors that mean "no GSO here" turn GSO off for good, an
//! error about one destination costs that message only.
//!
//! Owns the receive arena (allocated once, when the worker starts) and the only `unsafe` code
//! of the data plane. It knows nothing about protocols, peers or routing, and never reads the
//! clock.

use std::io;
use std::net::SocketAddr;

use mio::net::UdpSocket;
use socket2::SockAddr;

use crate::send_queue::{FlushOutcome, Group, SendQueue, SocketId, BATCH, MAX_SEGMENTS};

/// Datagrams (iovecs) handed to one `sendmmsg` call.
const IOV_PER_CALL: usize = 256;
const _: () = assert!(MAX_SEGMENTS <= IOV_PER_CALL);

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

/// What a refused send means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SendFailure {
    /// Interrupted by a signal (`EINTR`): send it again.
    Retry,
    /// The socket buffer is full (`EAGAIN`).
    Full,
    /// This host cannot do UDP GSO: `EIO` (a device without checksum offload, an IPsec
    /// route), `EOPNOTSUPP`, or `ENOPROTOOPT` (no `UDP_SEGMENT` option). Off for good.
    NoGso,
    /// `EINVAL` or `EMSGSIZE` on a GSO send: the segmentation may be at fault (a segment
    /// larger than the route's MTU — `EMSGSIZE` since Linux 6.14, `EINVAL` before —, a socket
    /// without checksums, too many segments) or the message itself (port 0, a datagram too
    /// big to send at all). Its datagrams are sent one by one to tell: if the first goes, GSO
    /// was at fault.
    Ambiguous,
    /// The message's own fault (unreachable network or host, a firewall's `EPERM`, a
    /// broadcast's `EACCES`, a leg's `ECONNREFUSED`, no buffer memory…): its datagrams count
    /// as send errors, GSO stays on.
    Message,
}

/// What the error of a send that carried several datagrams (`gso`) or one means.
pub(crate) fn classify_send_error(err: &io::Error, gso: bool) -> SendFailure {
    match err.kind() {
        io::ErrorKind::Interrupted => return SendFailure::Retry,
        io::ErrorKind::WouldBlock => return SendFailure::Full,
        _ => {}
    }
    if !gso {
        return SendFailure::Message;
    }
    #[cfg(target_os = "linux")]
    match err.raw_os_error() {
        Some(libc::EIO | libc::EOPNOTSUPP | libc::ENOPROTOOPT) => SendFailure::NoGso,
        Some(libc::EINVAL | libc::EMSGSIZE) => SendFailure::Ambiguous,
        _ => SendFailure::Message,
    }
    #[cfg(not(target_os = "linux"))]
    SendFailure::Message
}

/// Sends every datagram queued in `queue` from its local socket (`sockets` finds it; a
/// datagram whose socket is gone is counted as an error), in queue order, and empties the
/// queue. Never blocks: what the kernel cannot take is dropped and counted. With GSO, each
/// group the queue planned leaves as one message. A GSO send refused because of GSO
/// ([`classify_send_error`]) turns GSO off: the rest is sent one datagram per message, and so
/// is everything after. One refused for a reason that may be the message's is resent one
/// datagram per message; GSO goes off only if the first of them is then accepted. Any other
/// error counts that message's datagrams as errors and changes nothing else.
pub(crate) fn send<'s>(
    queue: &mut SendQueue,
    sockets: impl Fn(SocketId) -> Option<&'s UdpSocket>,
) -> FlushOutcome {
    queue.plan();
    let mut out = FlushOutcome::default();
    let mut next = 0;
    // The group that is the first datagram of a split GSO send, whose fate tells whether
    // the segmentation was at fault.
    let mut telling = None;
    while next < queue.groups().len() {
        let group = queue.groups()[next];
        let Some(socket) = sockets(queue.group_addrs(group).0) else {
            out.errors += u64::from(group.count);
            next += 1;
            continue;
        };
        match send_groups(queue, socket, next) {
            Ok(n) => {
                if telling.take() == Some(next) {
                    // Alone it went: the kernel refused the segmentation, not the datagram.
                    queue.fall_back_to_single(next + n);
                }
                for g in &queue.groups()[next..next + n] {
                    out.sent += u64::from(g.count);
                    out.sent_bytes += queue.group_bytes(*g);
                    if g.count > 1 {
                        out.gso_sends += 1;
                        out.gso_datagrams += u64::from(g.count);
                    }
                }
                next += n;
            }
            Err(e) => match classify_send_error(&e, group.count > 1) {
                SendFailure::Retry => {}
                SendFailure::Full => {
                    // What was for this socket in this flush is lost.
                    telling = None;
                    let id = queue.group_addrs(group).0;
                    while let Some(g) = queue.groups().get(next) {
                        if queue.group_addrs(*g).0 != id {
                            break;
                        }
                        out.dropped_full += u64::from(g.count);
                        next += 1;
                    }
                }
                // From now on one datagram per message, starting with this group's.
                SendFailure::NoGso => queue.fall_back_to_single(next),
                SendFailure::Ambiguous => {
                    queue.split_group(next);
                    telling = Some(next);
                }
                SendFailure::Message => {
                    // That message only (e.g. ICMP unreachable): skip it.
                    telling = None;
                    out.errors += u64::from(group.count);
                    next += 1;
                }
            },
        }
    }
    queue.clear();
    out
}

/// Sends up to [`BATCH`] consecutive groups from `from` that leave `socket`; returns how many
/// the kernel took (at least one).
#[cfg(target_os = "linux")]
fn send_groups(queue: &mut SendQueue, socket: &UdpSocket, from: usize) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    /// `CMSG_SPACE(sizeof(u16))` on every Linux ABI fits in 32 bytes (8-byte aligned).
    type Control = [u64; 4];
    let socket_id = queue.group_addrs(queue.groups()[from]).0;
    // As many groups as fit BATCH messages and IOV_PER_CALL datagrams (a group has at most
    // MAX_SEGMENTS < IOV_PER_CALL, so at least one), all from one socket.
    let mut groups = [Group::default(); BATCH];
    let mut count = 0;
    let mut datagrams = 0;
    for g in queue.groups()[from..].iter().take(BATCH) {
        if datagrams + usize::from(g.count) > IOV_PER_CALL || queue.group_addrs(*g).0 != socket_id {
            break;
        }
        datagrams += usize::from(g.count);
        groups[count] = *g;
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
    for (i, g) in groups[..count].iter().enumerate() {
        firsts[i] = iov_at;
        for slot in queue.group_slots(*g) {
            iovs[iov_at].iov_base = slot.as_mut_ptr().cast();
            iovs[iov_at].iov_len = slot.len();
            iov_at += 1;
        }
    }
    let iov_base = iovs.as_mut_ptr();
    let control_base = controls.as_mut_ptr();
    for (i, g) in groups[..count].iter().enumerate() {
        let dst = names[i].insert(SockAddr::from(queue.group_addrs(*g).1));
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
    // SAFETY: the first `count` headers point at live, initialised buffers (slot bytes up to
    // their length through `iovs`, a socket address of its stated length in `names`, a
    // control message of its stated length) that outlive the call; the kernel only reads them
    // and writes `msg_len`. MSG_DONTWAIT: never blocks.
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
fn send_groups(queue: &mut SendQueue, socket: &UdpSocket, from: usize) -> io::Result<usize> {
    // GSO is Linux-only (the queue turns it off elsewhere), so every group is one datagram.
    let g = queue.groups()[from];
    let dst = queue.group_addrs(g).1;
    socket.send_to(&queue.group_slots(g)[0], dst)?;
    Ok(1)
}

/// Whether the kernel offers UDP GSO on `socket` (the `UDP_SEGMENT` option, Linux 4.18):
/// an older kernel would ignore the segment size and send a message's datagrams as one.
pub(crate) fn supports_gso(socket: &UdpSocket) -> bool {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let mut segment: libc::c_int = 0;
        let mut len = size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: a valid socket, and an option buffer of the length passed.
        let rc = unsafe {
            libc::getsockopt(
                socket.as_raw_fd(),
                libc::SOL_UDP,
                libc::UDP_SEGMENT,
                std::ptr::from_mut(&mut segment).cast(),
                &mut len,
            )
        };
        rc == 0
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = socket;
        false
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

    fn add(total: &mut FlushOutcome, o: FlushOutcome) {
        total.sent += o.sent;
        total.sent_bytes += o.sent_bytes;
        total.errors += o.errors;
        total.dropped_full += o.dropped_full;
        total.gso_sends += o.gso_sends;
        total.gso_datagrams += o.gso_datagrams;
    }

    /// Sends everything queued from `tx`.
    fn flush(q: &mut SendQueue, tx: &UdpSocket) -> FlushOutcome {
        send(q, |_| Some(tx))
    }

    /// Queues `bytes` for the worker socket `tx`, sending the queue first when it is full (as
    /// the worker does); what that send did is added to `total`.
    fn push(
        q: &mut SendQueue,
        tx: &UdpSocket,
        dst: SocketAddr,
        bytes: &[u8],
        total: &mut FlushOutcome,
    ) {
        if q.is_full() {
            add(total, flush(q, tx));
        }
        assert!(q.push(SocketId::WORKER, dst, bytes));
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
        let mut q = SendQueue::new(64, false);
        let mut sent = FlushOutcome::default();
        // More than one batch: the queue is sent whenever it is full.
        for i in 0..(BATCH as u8 + 5) {
            push(&mut q, &tx, dst, &[i, i, i], &mut sent);
        }
        assert_eq!(q.len(), 5);
        add(&mut sent, flush(&mut q, &tx));
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
        let mut q = SendQueue::new(64, false);
        q.slot()
            .unwrap()
            .extend_from_slice(b"dropped, never committed");
        q.slot().unwrap().extend_from_slice(b"kept");
        q.commit(SocketId::WORKER, dst);
        assert_eq!(flush(&mut q, &tx).sent, 1);
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
        let mut q = SendQueue::new(64, false);
        // Port 0 is not a valid destination: the kernel refuses that datagram.
        let mut out = FlushOutcome::default();
        push(
            &mut q,
            &tx,
            SocketAddr::from(([127, 0, 0, 1], 0)),
            b"bad",
            &mut out,
        );
        push(&mut q, &tx, rx.local_addr().unwrap(), b"good", &mut out);
        let out = flush(&mut q, &tx);
        assert_eq!(out.errors, 1);
        assert_eq!(out.sent, 1);
        let mut batch = RecvBatch::new(64);
        assert_eq!(recv_all(&mut batch, &rx, 1)[0].1, b"good");
    }

    /// Datagrams received on `rx` per source, in arrival order.
    fn by_destination(got: &[(SocketAddr, Vec<u8>)]) -> Vec<Vec<u8>> {
        got.iter().map(|(_, b)| b.clone()).collect()
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn gso_groups_runs_to_one_destination_and_every_datagram_arrives_whole() {
        let tx = socket();
        let (a, b) = (socket(), socket());
        let (dst_a, dst_b) = (a.local_addr().unwrap(), b.local_addr().unwrap());
        let mut q = SendQueue::new(256, true);
        assert!(q.uses_gso());
        // As the worker queues a batch subscriber by subscriber: A gets 100,100,100,40,100
        // (the shorter one ends a send), B 70,70, then A once more, B and A alternating.
        let plan: [(SocketAddr, u8, usize); 11] = [
            (dst_a, 1, 100),
            (dst_a, 2, 100),
            (dst_a, 3, 100),
            (dst_a, 4, 40),
            (dst_a, 5, 100),
            (dst_b, 6, 70),
            (dst_b, 7, 70),
            (dst_a, 8, 100),
            (dst_b, 9, 70),
            (dst_a, 10, 100),
            (dst_b, 11, 70),
        ];
        let mut out = FlushOutcome::default();
        for (dst, tag, len) in plan {
            push(&mut q, &tx, dst, &vec![tag; len], &mut out);
        }
        let out = flush(&mut q, &tx);
        assert_eq!(out.sent, 11);
        let bytes: usize = plan.iter().map(|p| p.2).sum();
        assert_eq!(
            out.sent_bytes, bytes as u64,
            "GSO sends count every datagram's bytes"
        );
        assert_eq!((out.dropped_full, out.errors), (0, 0));
        // Only adjacent datagrams merge: [1-4], [5], [6,7], then singles for the alternating
        // tail (8 is not merged with 5).
        assert_eq!(out.gso_sends, 2, "{out:?}");
        assert_eq!(out.gso_datagrams, 6);
        assert!(q.uses_gso(), "the kernel took GSO sends");

        let mut batch = RecvBatch::new(256);
        let got_a = by_destination(&recv_all(&mut batch, &a, 7));
        let want_a: Vec<Vec<u8>> = [
            (1, 100),
            (2, 100),
            (3, 100),
            (4, 40),
            (5, 100),
            (8, 100),
            (10, 100),
        ]
        .iter()
        .map(|&(t, l)| vec![t; l])
        .collect();
        assert_eq!(got_a, want_a, "each datagram whole, in queue order");
        let got_b = by_destination(&recv_all(&mut batch, &b, 4));
        assert_eq!(
            got_b,
            vec![vec![6; 70], vec![7; 70], vec![9; 70], vec![11; 70]]
        );
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn gso_sends_hold_at_most_64_datagrams() {
        let tx = socket();
        let rx = socket();
        let dst = rx.local_addr().unwrap();
        let mut q = SendQueue::new(64, true);
        let mut out = FlushOutcome::default();
        for i in 0..130u8 {
            push(&mut q, &tx, dst, &[i; 20], &mut out);
        }
        let out = flush(&mut q, &tx);
        assert_eq!(out.sent, 130);
        assert_eq!(out.gso_sends, 3, "64 + 64 + 2");
        let mut batch = RecvBatch::new(64);
        let got = by_destination(&recv_all(&mut batch, &rx, 130));
        assert_eq!(got.len(), 130);
        for (i, d) in got.iter().enumerate() {
            assert_eq!(d, &vec![i as u8; 20]);
        }
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn a_flush_larger_than_one_call_sends_everything_in_order() {
        let tx = socket();
        let rxs = [socket(), socket(), socket()];
        let mut q = SendQueue::new(64, true);
        let mut out = FlushOutcome::default();
        for rx in &rxs {
            for i in 0..120u8 {
                push(&mut q, &tx, rx.local_addr().unwrap(), &[i; 10], &mut out);
            }
        }
        add(&mut out, flush(&mut q, &tx));
        assert_eq!(out.sent, 360);
        // The queue (256 slots) is sent when full: 360 datagrams in 120-runs become
        // sends of at most 64, one run cut by the full queue.
        assert!(out.gso_sends >= 6, "{out:?}");
        let mut batch = RecvBatch::new(64);
        for rx in &rxs {
            let got = by_destination(&recv_all(&mut batch, rx, 120));
            let want: Vec<Vec<u8>> = (0..120u8).map(|i| vec![i; 10]).collect();
            assert_eq!(got, want);
        }
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn a_refused_gso_send_falls_back_to_single_datagrams_and_loses_nothing() {
        use std::os::fd::AsRawFd;
        let tx = socket();
        let rx = socket();
        let dst = rx.local_addr().unwrap();
        // Linux refuses UDP_SEGMENT on a socket without transmit checksums (EINVAL).
        let one: libc::c_int = 1;
        // SAFETY: a valid socket, option and option length.
        let r = unsafe {
            libc::setsockopt(
                tx.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_NO_CHECK,
                std::ptr::from_ref(&one).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        assert_eq!(r, 0, "SO_NO_CHECK: {}", io::Error::last_os_error());
        let mut q = SendQueue::new(64, true);
        let mut out = FlushOutcome::default();
        for i in 0..6u8 {
            push(&mut q, &tx, dst, &[i; 40], &mut out);
        }
        let out = flush(&mut q, &tx);
        assert!(!q.uses_gso(), "GSO is off after the refusal");
        assert_eq!((out.sent, out.errors, out.gso_sends), (6, 0, 0), "{out:?}");
        let mut batch = RecvBatch::new(64);
        let got = by_destination(&recv_all(&mut batch, &rx, 6));
        let want: Vec<Vec<u8>> = (0..6u8).map(|i| vec![i; 40]).collect();
        assert_eq!(got, want, "every datagram, in order");
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn only_errors_that_mean_no_gso_here_turn_gso_off() {
        use SendFailure::*;
        let os = io::Error::from_raw_os_error;
        for (errno, on_gso_send) in [
            (libc::EIO, NoGso),
            (libc::EOPNOTSUPP, NoGso),
            (libc::ENOPROTOOPT, NoGso),
            (libc::EINVAL, Ambiguous),
            (libc::EMSGSIZE, Ambiguous),
            (libc::ENETUNREACH, Message),
            (libc::EHOSTUNREACH, Message),
            (libc::EPERM, Message),
            (libc::EACCES, Message),
            (libc::ECONNREFUSED, Message),
            (libc::EADDRNOTAVAIL, Message),
            (libc::ENOBUFS, Message),
            (libc::EINTR, Retry),
            (libc::EAGAIN, Full),
        ] {
            assert_eq!(
                classify_send_error(&os(errno), true),
                on_gso_send,
                "errno {errno}"
            );
            let alone = match on_gso_send {
                Retry | Full => on_gso_send,
                _ => Message,
            };
            assert_eq!(
                classify_send_error(&os(errno), false),
                alone,
                "errno {errno}"
            );
        }
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn this_kernel_offers_gso() {
        assert!(supports_gso(&socket()));
    }

    /// Queues a run of `n` datagrams (one GSO send) to `dst`, tagged from `tag`.
    fn run_to(q: &mut SendQueue, dst: SocketAddr, tag: u8, n: u8) {
        for i in 0..n {
            assert!(q.push(SocketId::WORKER, dst, &[tag + i; 40]));
        }
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn a_gso_send_refused_for_its_destination_counts_errors_and_keeps_gso() {
        let tx = socket();
        let rx = socket();
        // EACCES (a broadcast address without SO_BROADCAST), then EINVAL (port 0: the single
        // datagrams are refused too, so the segmentation was not at fault).
        let broadcast = SocketAddr::from(([127, 255, 255, 255], 9));
        let port_zero = SocketAddr::from(([127, 0, 0, 1], 0));
        let mut q = SendQueue::new(64, true);
        run_to(&mut q, broadcast, 0, 3);
        run_to(&mut q, rx.local_addr().unwrap(), 10, 4);
        run_to(&mut q, port_zero, 20, 2);
        run_to(&mut q, rx.local_addr().unwrap(), 30, 3);
        let out = flush(&mut q, &tx);
        assert!(q.uses_gso(), "GSO stays on: {out:?}");
        assert_eq!((out.errors, out.sent), (5, 7), "{out:?}");
        assert_eq!((out.gso_sends, out.gso_datagrams), (2, 7), "{out:?}");
        let mut batch = RecvBatch::new(64);
        let got = by_destination(&recv_all(&mut batch, &rx, 7));
        let want: Vec<Vec<u8>> = [10, 11, 12, 13, 30, 31, 32]
            .iter()
            .map(|&t| vec![t; 40])
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn without_gso_every_datagram_is_its_own_send() {
        let tx = socket();
        let rx = socket();
        let dst = rx.local_addr().unwrap();
        let mut q = SendQueue::new(64, false);
        let mut out = FlushOutcome::default();
        for i in 0..5u8 {
            push(&mut q, &tx, dst, &[i; 30], &mut out);
        }
        let out = flush(&mut q, &tx);
        assert_eq!((out.sent, out.gso_sends, out.gso_datagrams), (5, 0, 0));
        let mut batch = RecvBatch::new(64);
        assert_eq!(recv_all(&mut batch, &rx, 5).len(), 5);
    }

    #[test]
    fn each_datagram_leaves_from_its_own_socket() {
        let worker = socket();
        let leg = socket();
        let rx = socket();
        let dst = rx.local_addr().unwrap();
        let mut q = SendQueue::new(64, true);
        let leg_id = SocketId(1);
        for (i, id) in [
            SocketId::WORKER,
            leg_id,
            leg_id,
            SocketId::WORKER,
            SocketId(9),
        ]
        .into_iter()
        .enumerate()
        {
            assert!(q.push(id, dst, &[i as u8; 8]));
        }
        let out = send(&mut q, |id| match id {
            SocketId::WORKER => Some(&worker),
            id if id == leg_id => Some(&leg),
            _ => None,
        });
        assert_eq!((out.sent, out.errors), (4, 1), "socket 9 is gone: {out:?}");
        let mut batch = RecvBatch::new(64);
        let got = recv_all(&mut batch, &rx, 4);
        let from: Vec<(SocketAddr, u8)> = got.iter().map(|(f, b)| (*f, b[0])).collect();
        let (w, l) = (worker.local_addr().unwrap(), leg.local_addr().unwrap());
        assert_eq!(from, [(w, 0), (l, 1), (l, 2), (w, 3)]);
    }
}
