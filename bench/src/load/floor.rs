//! `--target floor`: the same media workload pointed at `rtcdn-floor`. No signalling, no ICE,
//! DTLS or SRTP setup: each subscriber registers its UDP socket with one `FLOORSUB` datagram
//! and learns its key index; the publisher sends the same synthetic plain RTP ([`Synth`]) to
//! the floor; subscribers open the AES-GCM-sealed packets ([`crate::floor`]) per
//! [`Verify`](super::config::Verify), account sequence numbers and measure one-way latency from
//! the payload's send timestamp.
//!
//! Owns: this mode's loop and its one-step report. Must not assume anything of the floor
//! beyond its wire format. Bounded: every wait has a deadline.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token};

use super::config::LoadConfig;
use super::error::LoadError;
use super::histogram::Histogram;
use super::media::epoch;
use super::media::{SeqStats, Synth, Tail, AUDIO_INTERVAL};
use super::peer::FRAME_INTERVAL;
use super::procstat;
use super::report::{LoadReport, Percentiles, StepReport};
use crate::floor::{parse_welcome, SubscriberKey, HELLO};

/// Token of the publisher's socket (subscribers use their index).
const PUBLISHER: Token = Token(usize::MAX);

struct Sub {
    socket: UdpSocket,
    key: SubscriberKey,
    streams: Vec<(u32, SeqStats)>,
    received: u64,
    verified: u64,
}

#[derive(Default, Clone, Copy)]
struct Totals {
    sent: u64,
    send_errors: u64,
    received: u64,
    verified: u64,
    auth_failures: u64,
    corrupt: u64,
}

/// The floor's address from `udp://host:port` or `host:port`.
pub fn floor_addr(server: &str) -> Result<SocketAddr, LoadError> {
    let hp = server.strip_prefix("udp://").unwrap_or(server);
    super::signalling::resolve(hp).map_err(|e| LoadError::Config(format!("floor address {e}")))
}

fn bind() -> Result<UdpSocket, LoadError> {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None)?;
    let _ = s.set_recv_buffer_size(4 << 20);
    let _ = s.set_send_buffer_size(4 << 20);
    s.set_nonblocking(true)?;
    s.bind(&SocketAddr::from(([0, 0, 0, 0], 0)).into())?;
    Ok(UdpSocket::from_std(s.into()))
}

/// Runs the floor workload of `cfg` (one publisher, `cfg.subscribers` subscribers, one step).
pub fn run(cfg: &LoadConfig, progress: bool) -> Result<LoadReport, LoadError> {
    let floor = floor_addr(&cfg.server)?;
    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(1024);
    let mut buf = vec![0u8; 2048];
    let mut errors = Vec::new();
    let t0 = Instant::now();
    let epoch = epoch();

    // Register subscribers (bounded by the join timeout, resending the hello every 200 ms).
    let mut subs = Vec::with_capacity(cfg.subscribers);
    for i in 0..cfg.subscribers {
        let mut socket = bind()?;
        poll.registry()
            .register(&mut socket, Token(i), Interest::READABLE)?;
        subs.push((socket, None::<u32>));
    }
    let deadline = t0 + cfg.join_timeout;
    while subs.iter().any(|(_, k)| k.is_none()) && Instant::now() < deadline {
        for (s, k) in &subs {
            if k.is_none() {
                let _ = s.send_to(HELLO, floor);
            }
        }
        poll.poll(&mut events, Some(Duration::from_millis(200)))?;
        for ev in &events {
            let Some((s, k)) = subs.get_mut(ev.token().0) else {
                continue;
            };
            while let Ok((n, from)) = s.recv_from(&mut buf) {
                if from == floor {
                    if let Some(index) = parse_welcome(&buf[..n]) {
                        *k = Some(index);
                    }
                }
            }
        }
    }
    let joined_at = Instant::now();
    let mut subs: Vec<Sub> = subs
        .into_iter()
        .filter_map(|(socket, k)| {
            Some(Sub {
                socket,
                key: SubscriberKey::for_index(k?),
                streams: Vec::new(),
                received: 0,
                verified: 0,
            })
        })
        .collect();
    let failed_joins = cfg.subscribers - subs.len();
    if failed_joins > 0 {
        errors.push(format!("{failed_joins} subscribers got no welcome"));
    }

    let mut publisher = bind()?;
    poll.registry()
        .register(&mut publisher, PUBLISHER, Interest::READABLE)?;
    let mut synth = Synth::new(rand::random(), rand::random(), cfg.bitrate, cfg.packet_size);
    let (mut next_audio, mut next_frame) = (Instant::now(), Instant::now());
    let mut totals = Totals::default();
    let mut latency = Histogram::new();
    let mut scratch = vec![0u8; 2048];
    // Warm-up (until everyone has audio and video, bounded), then the measuring window.
    let warm_end = Instant::now() + cfg.join_timeout;
    let mut window: Option<(Instant, Totals, [u64; 3], Option<Duration>)> = None;
    let mut end = warm_end;
    // Each subscriber's packet count when the window opened.
    let mut received_at_window: Vec<u64> = Vec::new();
    let mut last_progress = Instant::now();
    loop {
        let now = Instant::now();
        if window.is_none() && (now >= warm_end || subs.iter().all(|s| s.streams.len() >= 2)) {
            latency.clear();
            let cpu = procstat::cpu_time_all(&cfg.server_pids);
            window = Some((now, totals, seq_totals(&subs), cpu));
            received_at_window = subs.iter().map(|s| s.received).collect();
            end = now + cfg.duration;
        }
        if window.is_some() && now >= end {
            break;
        }
        let sent_ns = now.saturating_duration_since(epoch).as_nanos() as u64;
        while next_audio <= now {
            let n = synth.audio_packet(sent_ns, &mut scratch);
            send(&publisher, &scratch[..n], floor, &mut totals);
            next_audio += AUDIO_INTERVAL;
        }
        while next_frame <= now {
            synth.video_frame(sent_ns, &mut scratch, |p| {
                send(&publisher, p, floor, &mut totals)
            });
            next_frame += FRAME_INTERVAL;
        }
        let due = next_audio.min(next_frame).min(end);
        poll.poll(&mut events, Some(due.saturating_duration_since(now)))?;
        let now = Instant::now();
        let now_ns = now.saturating_duration_since(epoch).as_nanos() as u64;
        for ev in &events {
            if let Some(sub) = subs.get_mut(ev.token().0) {
                receive(sub, cfg, now_ns, &mut buf, &mut totals, &mut latency);
            }
        }
        if progress && now.duration_since(last_progress) >= Duration::from_secs(1) {
            last_progress = now;
            eprint!(
                "\r[{:6.1}s] floor subs {}  sent {}  received {}   ",
                now.duration_since(t0).as_secs_f64(),
                subs.len(),
                totals.sent,
                totals.received
            );
        }
    }
    if progress {
        eprintln!();
    }
    let (start, a, seq_a, cpu_a) = window.expect("window opened before the loop ends");
    let secs = start.elapsed().as_secs_f64().max(1e-9);
    let seq_b = seq_totals(&subs);
    let cpu = procstat::cpu_time_all(&cfg.server_pids)
        .zip(cpu_a)
        .map(|(b, a)| b.saturating_sub(a));
    let received = totals.received - a.received;
    let (expected, lost) = (seq_b[0] - seq_a[0], seq_b[1].saturating_sub(seq_a[1]));
    let step = StepReport {
        subscribers: cfg.subscribers,
        receiving_subscribers: subs
            .iter()
            .zip(&received_at_window)
            .filter(|(s, &before)| s.received > before)
            .count(),
        duration_s: secs,
        packets_sent: totals.sent - a.sent,
        packets_received: received,
        packets_verified: totals.verified - a.verified,
        auth_failures: totals.auth_failures - a.auth_failures,
        corrupt: totals.corrupt - a.corrupt,
        pps_out: (totals.sent - a.sent) as f64 / secs,
        pps_in: received as f64 / secs,
        expected,
        lost,
        loss_pct: if expected == 0 {
            0.0
        } else {
            100.0 * lost as f64 / expected as f64
        },
        reordered: seq_b[2] - seq_a[2],
        send_errors: totals.send_errors - a.send_errors,
        latency_us: Percentiles::of(&latency, 1e3),
        server_cpu_s: cpu.map(|c| c.as_secs_f64()),
        server_cpu_pct: cpu.map(|c| 100.0 * c.as_secs_f64() / secs),
        cpu_us_per_forwarded_packet: cpu
            .filter(|_| received > 0)
            .map(|c| c.as_secs_f64() * 1e6 / received as f64),
        server_rss_kib: procstat::rss_kib_all(&cfg.server_pids),
        joins: cfg.subscribers,
        failed_joins,
        joins_per_s: subs.len() as f64 / joined_at.duration_since(t0).as_secs_f64().max(1e-9),
        ..StepReport::default()
    };
    Ok(LoadReport {
        completed: LoadReport::went_as_asked(cfg.subscribers, &step, &errors),
        config: cfg.clone(),
        totals: step.clone(),
        steps: vec![step],
        received_per_subscriber: subs
            .iter()
            .map(|s| s.streams.iter().map(|(_, st)| st.received).sum())
            .collect(),
        rtp_per_subscriber: subs.iter().map(|s| s.received).collect(),
        verified_per_subscriber: subs.iter().map(|s| s.verified).collect(),
        video_expected_per_subscriber: Vec::new(),
        residual_lost_per_subscriber: Vec::new(),
        impaired_video_per_subscriber: Vec::new(),
        nacks_per_subscriber: Vec::new(),
        repaired_per_subscriber: Vec::new(),
        freezes_per_subscriber: Vec::new(),
        timeseries: Vec::new(),
        errors,
    })
}

fn send(socket: &UdpSocket, data: &[u8], to: SocketAddr, totals: &mut Totals) {
    match socket.send_to(data, to) {
        Ok(_) => totals.sent += 1,
        Err(_) => totals.send_errors += 1,
    }
}

/// `[expected, lost, reordered]` over all subscribers.
fn seq_totals(subs: &[Sub]) -> [u64; 3] {
    let mut t = [0; 3];
    for (_, st) in subs.iter().flat_map(|s| &s.streams) {
        t[0] += st.expected();
        t[1] += st.lost();
        t[2] += st.reordered;
    }
    t
}

fn receive(
    sub: &mut Sub,
    cfg: &LoadConfig,
    now_ns: u64,
    buf: &mut [u8],
    totals: &mut Totals,
    latency: &mut Histogram,
) {
    loop {
        let n = match sub.socket.recv_from(buf) {
            Ok((n, _)) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        let pkt = &mut buf[..n];
        if n < 12 || pkt[0] >> 6 != 2 {
            continue;
        }
        totals.received += 1;
        let seq = u16::from_be_bytes([pkt[2], pkt[3]]);
        let ssrc = u32::from_be_bytes([pkt[8], pkt[9], pkt[10], pkt[11]]);
        match sub.streams.iter_mut().find(|(s, _)| *s == ssrc) {
            Some((_, st)) => st.record(seq),
            None => {
                let mut st = SeqStats::default();
                st.record(seq);
                sub.streams.push((ssrc, st));
            }
        }
        let k = sub.received;
        sub.received += 1;
        if !cfg.verify.checks(k) {
            continue;
        }
        match sub.key.open(pkt) {
            Ok(len) => {
                totals.verified += 1;
                sub.verified += 1;
                match Tail::parse(&pkt[..len]) {
                    Some(t) => latency.record(now_ns.saturating_sub(t.sent_ns)),
                    None => totals.corrupt += 1,
                }
            }
            Err(_) => totals.auth_failures += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(
            floor_addr("udp://127.0.0.1:9000").unwrap(),
            "127.0.0.1:9000".parse::<SocketAddr>().unwrap()
        );
        assert_eq!(
            floor_addr("10.0.0.1:1").unwrap(),
            "10.0.0.1:1".parse::<SocketAddr>().unwrap()
        );
        assert!(floor_addr("nowhere").is_err());
    }
}
