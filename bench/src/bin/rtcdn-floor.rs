//! `rtcdn-floor`: the unavoidable work of an SFU fan-out and nothing else, as the yardstick of
//! `bench/compare.sh`. One UDP socket receives the publisher's plain RTP in batches
//! (`recvmmsg`); every packet is copied once per subscriber into a reused batch buffer,
//! AES-128-GCM-sealed there in place with that subscriber's key ([`bench::floor`], SRTP AEAD
//! layout) and the batch goes out with `sendmmsg`. No sessions, no ICE/DTLS, no routing, no
//! RTCP, no header rewriting: subscribers register with one `FLOORSUB` datagram.
//!
//! With `--gso` the fan-out goes subscriber by subscriber over each received batch and a
//! subscriber's run of equal-sized packets (the last may be shorter) leaves as one UDP GSO
//! send: the floor for a server that uses GSO as rtcdn does.
//!
//! Linux only (recvmmsg/sendmmsg). Runs until `--run-for` elapses.

use std::net::{SocketAddr, SocketAddrV4, UdpSocket};
use std::os::fd::AsRawFd;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use bench::floor::{SubscriberKey, HELLO, TAG_LEN, WELCOME};
use clap::Parser;

/// Datagrams read per `recvmmsg`.
const RECV_BATCH: usize = 32;
/// Messages written per `sendmmsg`.
const SEND_BATCH: usize = 64;
/// Datagram buffers of the send batch (several per message with GSO).
const SEND_SLOTS: usize = 256;
/// Most datagrams in one GSO message (the kernel's limit before Linux 6.9).
const MAX_SEGMENTS: usize = 64;
/// Buffer size of one datagram.
const SLOT: usize = 1536;

/// The hardware floor of a fan-out.
#[derive(Parser, Debug)]
#[command(name = "rtcdn-floor", version)]
struct Args {
    /// UDP address to listen on (IPv4).
    #[arg(long, default_value = "127.0.0.1:9000")]
    bind: SocketAddrV4,
    /// Stop after this many seconds.
    #[arg(long, default_value_t = 600)]
    run_for: u64,
    /// Send each subscriber's packets of one received batch as UDP GSO sends.
    #[arg(long)]
    gso: bool,
}

/// One subscriber: where to and with which key.
struct Sub {
    addr: libc::sockaddr_in,
    key: SubscriberKey,
}

fn from_sockaddr(s: &libc::sockaddr_in) -> SocketAddrV4 {
    SocketAddrV4::new(
        u32::from_be(s.sin_addr.s_addr).into(),
        u16::from_be(s.sin_port),
    )
}

/// The batch buffers of `sendmmsg`: datagram slots and messages (a message covers a run of
/// consecutive slots: one datagram, or several as one GSO send), reused forever.
struct SendBatch {
    bufs: Vec<[u8; SLOT]>,
    lens: Vec<usize>,
    iov: Vec<libc::iovec>,
    hdrs: Vec<libc::mmsghdr>,
    addrs: Vec<libc::sockaddr_in>,
    /// Per message: first slot, slots, GSO segment size.
    msgs: Vec<(usize, usize, usize)>,
    /// Per message: room for one `UDP_SEGMENT` control message (8-byte aligned).
    controls: Vec<[u64; 4]>,
    slots: usize,
    sent: u64,
    dropped: u64,
}

impl SendBatch {
    fn new() -> Self {
        // SAFETY: all-zero mmsghdr/iovec/sockaddr_in are valid values (null pointers, 0 lengths).
        let zero_hdr: libc::mmsghdr = unsafe { std::mem::zeroed() };
        let zero_addr: libc::sockaddr_in = unsafe { std::mem::zeroed() };
        SendBatch {
            bufs: vec![[0; SLOT]; SEND_SLOTS],
            lens: vec![0; SEND_SLOTS],
            iov: vec![
                libc::iovec {
                    iov_base: std::ptr::null_mut(),
                    iov_len: 0
                };
                SEND_SLOTS
            ],
            hdrs: vec![zero_hdr; SEND_BATCH],
            addrs: vec![zero_addr; SEND_BATCH],
            msgs: Vec::with_capacity(SEND_BATCH),
            controls: vec![[0; 4]; SEND_BATCH],
            slots: 0,
            sent: 0,
            dropped: 0,
        }
    }

    /// Seals `packet` for `sub` into the next slot. With `join`, the packet joins the previous
    /// message when that one goes to the same subscriber and GSO allows it (every datagram of
    /// the message `segment` bytes, the last may be shorter); else it starts a message. Sends
    /// the batch when full.
    fn push(&mut self, fd: i32, packet: &[u8], sub: &Sub, join: bool) {
        if self.slots == SEND_SLOTS || self.msgs.len() == SEND_BATCH {
            // A run cut here continues as a new message after the flush.
            self.flush(fd);
        }
        let i = self.slots;
        let slot = &mut self.bufs[i];
        slot[..packet.len()].copy_from_slice(packet);
        let Ok(n) = sub.key.seal(slot, packet.len()) else {
            self.dropped += 1;
            return;
        };
        self.lens[i] = n;
        self.slots += 1;
        if let (true, Some(last)) = (join, self.msgs.last_mut()) {
            let (first, count, segment) = *last;
            let closed = self.lens[first + count - 1] < segment;
            if !closed && n <= segment && count < MAX_SEGMENTS && first + count == i {
                last.1 += 1;
                return;
            }
        }
        self.addrs[self.msgs.len()] = sub.addr;
        self.msgs.push((self.slots - 1, 1, n));
    }

    fn flush(&mut self, fd: i32) {
        for i in 0..self.slots {
            self.iov[i].iov_base = self.bufs[i].as_mut_ptr().cast();
            self.iov[i].iov_len = self.lens[i];
        }
        let iov = self.iov.as_mut_ptr();
        let controls = self.controls.as_mut_ptr();
        for (m, &(first, count, segment)) in self.msgs.iter().enumerate() {
            let h = &mut self.hdrs[m].msg_hdr;
            h.msg_name = (&mut self.addrs[m] as *mut libc::sockaddr_in).cast();
            h.msg_namelen = size_of::<libc::sockaddr_in>() as u32;
            // SAFETY: `first + count <= slots <= SEND_SLOTS`: inside `iov`.
            h.msg_iov = unsafe { iov.add(first) };
            h.msg_iovlen = count;
            h.msg_control = std::ptr::null_mut();
            h.msg_controllen = 0;
            if count > 1 {
                // SAFETY: `m < SEND_BATCH`: inside `controls`; the buffer is 32 aligned bytes,
                // more than CMSG_SPACE(2), so the header and its 2 data bytes fit.
                unsafe {
                    h.msg_control = controls.add(m).cast();
                    h.msg_controllen = libc::CMSG_SPACE(2) as _;
                    let c = libc::CMSG_FIRSTHDR(h);
                    (*c).cmsg_level = libc::SOL_UDP;
                    (*c).cmsg_type = libc::UDP_SEGMENT;
                    (*c).cmsg_len = libc::CMSG_LEN(2) as _;
                    std::ptr::write_unaligned(libc::CMSG_DATA(c).cast::<u16>(), segment as u16);
                }
            }
        }
        let mut done = 0;
        while done < self.msgs.len() {
            // SAFETY: hdrs[done..msgs] point at live buffers, iovecs, addresses and control
            // messages owned by self.
            let r = unsafe {
                libc::sendmmsg(
                    fd,
                    self.hdrs[done..].as_mut_ptr(),
                    (self.msgs.len() - done) as u32,
                    0,
                )
            };
            if r <= 0 {
                // Buffer full or an ICMP error: this message is lost, go on with the rest.
                self.dropped += self.msgs[done].1 as u64;
                done += 1;
            } else {
                let r = r as usize;
                self.sent += self.msgs[done..done + r]
                    .iter()
                    .map(|m| m.1 as u64)
                    .sum::<u64>();
                done += r;
            }
        }
        self.msgs.clear();
        self.slots = 0;
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let socket = match UdpSocket::bind(args.bind) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("rtcdn-floor: bind {}: {e}", args.bind);
            return ExitCode::FAILURE;
        }
    };
    let sock2 = socket2::SockRef::from(&socket);
    let _ = sock2.set_recv_buffer_size(8 << 20);
    let _ = sock2.set_send_buffer_size(8 << 20);
    // Wake up now and then to honour --run-for.
    let _ = socket.set_read_timeout(Some(Duration::from_millis(200)));
    let fd = socket.as_raw_fd();
    let end = Instant::now() + Duration::from_secs(args.run_for);

    let mut subs: Vec<Sub> = Vec::new();
    let mut batch = SendBatch::new();
    let mut rbufs = vec![[0u8; SLOT - TAG_LEN]; RECV_BATCH];
    // SAFETY: all-zero values are valid for these C structs.
    let mut riov: Vec<libc::iovec> = vec![unsafe { std::mem::zeroed() }; RECV_BATCH];
    let mut rhdrs: Vec<libc::mmsghdr> = vec![unsafe { std::mem::zeroed() }; RECV_BATCH];
    let mut raddrs: Vec<libc::sockaddr_in> = vec![unsafe { std::mem::zeroed() }; RECV_BATCH];
    let mut received: u64 = 0;
    eprintln!("rtcdn-floor: listening on {}", args.bind);
    while Instant::now() < end {
        for i in 0..RECV_BATCH {
            riov[i].iov_base = rbufs[i].as_mut_ptr().cast();
            riov[i].iov_len = rbufs[i].len();
            let h = &mut rhdrs[i].msg_hdr;
            h.msg_name = (&mut raddrs[i] as *mut libc::sockaddr_in).cast();
            h.msg_namelen = size_of::<libc::sockaddr_in>() as u32;
            h.msg_iov = &mut riov[i];
            h.msg_iovlen = 1;
        }
        // SAFETY: every header points at live buffers of the lengths given.
        let n = unsafe {
            libc::recvmmsg(
                fd,
                rhdrs.as_mut_ptr(),
                RECV_BATCH as u32,
                libc::MSG_WAITFORONE,
                std::ptr::null_mut(),
            )
        };
        if n <= 0 {
            continue;
        }
        let mut rtp = [0usize; RECV_BATCH];
        let mut rtp_count = 0;
        for i in 0..n as usize {
            let len = rhdrs[i].msg_len as usize;
            let data = &rbufs[i][..len];
            if data == HELLO {
                let from = from_sockaddr(&raddrs[i]);
                let index = match subs.iter().position(|s| from_sockaddr(&s.addr) == from) {
                    Some(k) => k,
                    None => {
                        subs.push(Sub {
                            addr: raddrs[i],
                            key: SubscriberKey::for_index(subs.len() as u32),
                        });
                        subs.len() - 1
                    }
                };
                let mut reply = [0u8; 12];
                reply[..8].copy_from_slice(WELCOME);
                reply[8..].copy_from_slice(&(index as u32).to_be_bytes());
                let _ = socket.send_to(&reply, SocketAddr::V4(from));
                continue;
            }
            if bench::floor::rtp_header_len(data).is_err() {
                continue;
            }
            received += 1;
            if args.gso {
                rtp[rtp_count] = i;
                rtp_count += 1;
                continue;
            }
            for sub in &subs {
                batch.push(fd, data, sub, false);
            }
        }
        // With GSO: subscriber by subscriber, so each one's packets are adjacent.
        for sub in &subs {
            for (k, &i) in rtp[..rtp_count].iter().enumerate() {
                let len = rhdrs[i].msg_len as usize;
                batch.push(fd, &rbufs[i][..len], sub, k > 0);
            }
        }
        batch.flush(fd);
    }
    eprintln!(
        "rtcdn-floor: {} subscribers, {received} packets in, {} out, {} dropped",
        subs.len(),
        batch.sent,
        batch.dropped
    );
    ExitCode::SUCCESS
}
