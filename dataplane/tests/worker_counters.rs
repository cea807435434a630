//! A worker's live counters through the real socket path: every datagram of a burst larger
//! than one `recvmmsg` batch is received, routed (here: refused, unknown source) and counted,
//! and the counters reach another thread through `Dataplane::stats`. The workers are pinned
//! (`CpuAffinity::Auto`), so pinning is exercised too.

use std::net::UdpSocket;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dataplane::api::{Command, Event, EventSink, WorkerId};
use dataplane::{CpuAffinity, DataplaneConfig, WorkerStats};

struct NoEvents;

impl EventSink for NoEvents {
    fn send(&self, _event: Event) {}
}

/// Polls `read` until `done` holds; gives up after 10 s (a hang guard, not a timing check).
fn wait_for(read: impl Fn() -> WorkerStats, done: impl Fn(&WorkerStats) -> bool) -> WorkerStats {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let s = read();
        if done(&s) || Instant::now() > deadline {
            return s;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_burst_from_an_unknown_source_is_received_and_counted_datagram_by_datagram() {
    let dp = dataplane::start(
        &DataplaneConfig {
            workers: 2,
            cpu_affinity: CpuAffinity::Auto,
            ..DataplaneConfig::default()
        },
        Arc::new(NoEvents),
    )
    .expect("starts");
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    let target = dp.workers[1].addr;
    // 40 > one batch of 32; STUN-, RTP- and DTLS-looking first bytes and garbage.
    let mut sent = 0u64;
    for i in 0..40u8 {
        let first = [0x80, 0x00, 0x16, 0xFF][usize::from(i % 4)];
        client
            .send_to(&[first, i, 0, 0, 0, 0, 0, 0], target)
            .unwrap();
        sent += 1;
    }
    let stats = &dp.stats[1];
    let s = wait_for(|| stats.snapshot(), |s| s.datagrams_in >= sent);
    assert_eq!(s.datagrams_in, sent);
    assert_eq!(s.bytes_in, sent * 8, "8-byte datagrams");
    assert_eq!((s.datagrams_out, s.bytes_out), (0, 0), "nothing answered");
    assert_eq!(s.dropped_unknown_source, sent);
    assert_eq!(
        (s.rtp_forwarded, s.send_errors, s.dropped_send_full),
        (0, 0, 0)
    );
    // The control plane reads the same counters through the worker's handle.
    assert_eq!(dp.workers[1].stats(), s);
    // The other worker saw nothing, and nobody's fan-out queue overflowed.
    assert_eq!(dp.stats[0].snapshot().datagrams_in, 0);
    assert_eq!(dp.fanout_dropped(WorkerId(0)), 0);

    for w in &dp.workers {
        w.send(Command::Shutdown).unwrap();
    }
    dp.join();
}
