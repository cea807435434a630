//! `rtcdn-floor`: the unavoidable work of an SFU fan-out and nothing else, as the yardstick of
//! `bench/compare.sh`. One UDP socket receives the publisher's plain RTP in batches
//! (`recvmmsg`); every packet is copied once per subscriber into a reused batch buffer,
//! AES-128-GCM-sealed there in place with that subscriber's key ([`bench::floor`], SRTP AEAD
//! layout) and the batch goes out with `sendmmsg`. No sessions, no ICE/DTLS, no routing, no
//! RTCP, no header rewriting: subscribers register with one `FLOORSUB` datagram.
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
/// Datagrams written per `sendmmsg`.
const SEND_BATCH: usize = 64;
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

/// The batch buffers of `sendmmsg`: slots, their iovecs and headers, reused forever.
struct SendBatch {
    bufs: Vec<[u8; SLOT]>,
    iov: Vec<libc::iovec>,
    hdrs: Vec<libc::mmsghdr>,
    addrs: Vec<libc::sockaddr_in>,
    len: usize,
    sent: u64,
    dropped: u64,
}

impl SendBatch {
    fn new() -> Self {
        // SAFETY: all-zero mmsghdr/iovec/sockaddr_in are valid values (null pointers, 0 lengths).
        let zero_hdr: libc::mmsghdr = unsafe { std::mem::zeroed() };
        let zero_addr: libc::sockaddr_in = unsafe { std::mem::zeroed() };
        SendBatch {
            bufs: vec![[0; SLOT]; SEND_BATCH],
            iov: vec![
                libc::iovec {
                    iov_base: std::ptr::null_mut(),
                    iov_len: 0
                };
                SEND_BATCH
            ],
            hdrs: vec![zero_hdr; SEND_BATCH],
            addrs: vec![zero_addr; SEND_BATCH],
            len: 0,
            sent: 0,
            dropped: 0,
        }
    }

    /// Seals `packet` for `sub` into the next slot; sends the batch when full.
    fn push(&mut self, fd: i32, packet: &[u8], sub: &Sub) {
        let i = self.len;
        let slot = &mut self.bufs[i];
        slot[..packet.len()].copy_from_slice(packet);
        let Ok(n) = sub.key.seal(slot, packet.len()) else {
            self.dropped += 1;
            return;
        };
        self.addrs[i] = sub.addr;
        self.iov[i].iov_len = n;
        self.len += 1;
        if self.len == SEND_BATCH {
            self.flush(fd);
        }
    }

    fn flush(&mut self, fd: i32) {
        for i in 0..self.len {
            self.iov[i].iov_base = self.bufs[i].as_mut_ptr().cast();
            let h = &mut self.hdrs[i].msg_hdr;
            h.msg_name = (&mut self.addrs[i] as *mut libc::sockaddr_in).cast();
            h.msg_namelen = size_of::<libc::sockaddr_in>() as u32;
            h.msg_iov = &mut self.iov[i];
            h.msg_iovlen = 1;
        }
        let mut done = 0;
        while done < self.len {
            // SAFETY: hdrs[done..len] point at live buffers, iovecs and addresses owned by self.
            let r = unsafe {
                libc::sendmmsg(
                    fd,
                    self.hdrs[done..].as_mut_ptr(),
                    (self.len - done) as u32,
                    0,
                )
            };
            if r <= 0 {
                // Buffer full or an ICMP error: this datagram is lost, go on with the rest.
                self.dropped += 1;
                done += 1;
            } else {
                self.sent += r as u64;
                done += r as usize;
            }
        }
        self.len = 0;
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
            for sub in &subs {
                batch.push(fd, data, sub);
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
