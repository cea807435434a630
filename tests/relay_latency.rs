//! Measures (does not assert) the latency one origin → edge relay hop adds, with real processes
//! on loopback: one edge, one origin whose `loadbalancing.xml` names it
//! (`stream_distribution="webrtc"`). The Rust client publishes on the origin; one player plays
//! on the origin directly and one on the edge. Each measured packet carries its send time (ns
//! since the test's start `Instant`) in its payload; each player runs on its own thread and
//! stamps a datagram when it reaches its socket. Prints p50/p99 one-way latency of both paths
//! and their difference ("added latency of one relay hop"); asserts only that every packet
//! arrived on both paths.
//!
//! Run: `cargo test --release --test relay_latency -- --nocapture` (a debug build measures the
//! debug server).

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::media::{join, parse_rtp, pump_until, rtp_packet, Joined, MediaPeer};
use common::{ServerProcess, WcsClient};
use control::sdp::{Codec, OfferSpec};
use dataplane::dtls::DtlsCertificate;

const STREAM: &str = "latency-cam";
const VIDEO_SSRC: u32 = 0x5151_5151;
const AUDIO_SSRC: u32 = 0x6161_6161;
const PROPS: [(&str, &str); 1] = [("codecs", "opus,vp8,h264")];
/// Measured packets per path.
const N: u32 = 500;
/// Spacing of the measured packets.
const SPACING: Duration = Duration::from_millis(2);
/// Marks a measured payload: `MAGIC`, index (u32 BE), send time in ns since start (u64 BE).
const MAGIC: &[u8; 4] = b"LAT!";
const TRAILER: usize = 16;
/// How long the origin may take to relay a new stream to the edge.
const RELAY_WAIT: Duration = Duration::from_secs(30);

/// VP8 video from the publisher: a keyframe every 10th packet, sequence numbers continuing.
struct Sender {
    n: u32,
    start: Instant,
}

impl Sender {
    /// Sends one VP8 packet; `measured` appends the trailer with index and send time.
    fn send(&mut self, publisher: &mut MediaPeer, measured: Option<u32>) {
        let mut payload = if self.n.is_multiple_of(10) {
            vec![0x10, 0x00, 0x9d, 0x01, 0x2a]
        } else {
            vec![0x00, 0x01]
        };
        payload.extend_from_slice(&[0xab; 200]);
        let seq = (self.n & 0xffff) as u16;
        let ts = 3000 * self.n;
        if let Some(i) = measured {
            payload.extend_from_slice(MAGIC);
            payload.extend_from_slice(&i.to_be_bytes());
            let sent = self.start.elapsed().as_nanos() as u64;
            payload.extend_from_slice(&sent.to_be_bytes());
        }
        publisher.send_rtp(&rtp_packet(96, seq, ts, VIDEO_SSRC, true, &payload));
        if self.n.is_multiple_of(10) {
            let audio = [0xf8, 0xff, 0xfe];
            publisher.send_rtp(&rtp_packet(
                111,
                seq,
                960 * self.n,
                AUDIO_SSRC,
                false,
                &audio,
            ));
        }
        self.n += 1;
    }
}

/// `(index, sent ns)` of a measured payload.
fn trailer(payload: &[u8]) -> Option<(u32, u64)> {
    let t = payload.get(payload.len().checked_sub(TRAILER)?..)?;
    if &t[..4] != MAGIC {
        return None;
    }
    let i = u32::from_be_bytes(t[4..8].try_into().ok()?);
    let sent = u64::from_be_bytes(t[8..16].try_into().ok()?);
    Some((i, sent))
}

fn connect_all(peers: &mut [&mut MediaPeer]) {
    let ok = pump_until(peers, Duration::from_secs(10), |ps| {
        ps.iter().all(|p| p.conn.is_connected())
    });
    assert!(ok, "ICE+DTLS did not complete");
}

/// Streams until the edge reports `STREAM` available (the origin relayed it there).
fn wait_relayed(edge: &ServerProcess, publisher: &mut MediaPeer, sender: &mut Sender) {
    let mut wcs = WcsClient::connect(&edge.ws_url());
    wcs.create_session();
    let deadline = Instant::now() + RELAY_WAIT;
    loop {
        if wcs.is_available(STREAM) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "not relayed within {RELAY_WAIT:?}"
        );
        for _ in 0..20 {
            sender.send(publisher, None);
            pump_until(&mut [&mut *publisher], Duration::from_millis(10), |_| false);
        }
    }
}

/// Streams until both players received video (relay leg and players started).
fn warm_up(publisher: &mut MediaPeer, players: &mut [&mut Joined], sender: &mut Sender) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ready = players.iter().all(|p| {
            let pt = p.answer.video.as_ref().map(|v| v.codec.payload_type);
            p.peer.rtp.iter().any(|r| Some(parse_rtp(r).pt) == pt)
        });
        if ready {
            return;
        }
        assert!(Instant::now() < deadline, "no video reached the players");
        sender.send(publisher, None);
        publisher.pump();
        for p in players.iter_mut() {
            p.peer.pump();
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Receives on `peer` until every measured packet arrived or `done` is set; returns the one-way
/// latency in ns of each measured packet, by index. A datagram is stamped when the blocking
/// `peek` sees it, before decryption.
fn receive(peer: &mut MediaPeer, start: Instant, done: &AtomicBool) -> Vec<Option<u64>> {
    let mut latency = vec![None; N as usize];
    let mut got = 0;
    let mut probe = [0u8; 1];
    peer.rtp.clear();
    while got < N as usize && !done.load(Ordering::Relaxed) {
        peer.socket.set_nonblocking(false).expect("blocking");
        peer.socket
            .set_read_timeout(Some(Duration::from_millis(5)))
            .expect("read timeout");
        let arrived = peer.socket.peek_from(&mut probe).is_ok();
        let at = start.elapsed().as_nanos() as u64;
        peer.socket.set_nonblocking(true).expect("nonblocking");
        if !arrived {
            peer.pump();
            continue;
        }
        peer.pump();
        for p in peer.rtp.drain(..) {
            if let Some((i, sent)) = trailer(&parse_rtp(&p).payload) {
                let slot = &mut latency[i as usize];
                if slot.is_none() {
                    got += 1;
                }
                *slot = Some(at.saturating_sub(sent));
            }
        }
    }
    latency
}

/// `(p50, p99, max)` in microseconds.
fn percentiles(latency: &[Option<u64>]) -> (f64, f64, f64) {
    let mut v: Vec<u64> = latency.iter().flatten().copied().collect();
    v.sort_unstable();
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize] as f64 / 1000.0;
    (at(0.5), at(0.99), at(1.0))
}

#[test]
fn added_latency_of_one_relay_hop() {
    let edge = ServerProcess::start(&PROPS);
    let xml = format!(
        "<loadbalancer mode=\"ROUNDROBIN\" stream_distribution=\"webrtc\">\n\
         <node id=\"1\"><ip>127.0.0.1</ip><ws>{}</ws></node>\n</loadbalancer>\n",
        edge.http_addr().port()
    );
    let mut props = PROPS.to_vec();
    props.push(("load_balancing_enabled", "true"));
    let origin = ServerProcess::start_with_files(&props, &[("loadbalancing.xml", &xml)]);

    let cert = DtlsCertificate::generate().expect("client certificate");
    let pub_spec = OfferSpec::publish(
        "latpub",
        "latency-publisher-password-01",
        cert.fingerprint(),
        Codec::vp8(96),
        AUDIO_SSRC,
        VIDEO_SSRC,
    );
    let mut publisher = join(&origin, STREAM, &pub_spec, &cert, true);
    connect_all(&mut [&mut publisher.peer]);
    let start = Instant::now();
    let mut sender = Sender { n: 0, start };
    wait_relayed(&edge, &mut publisher.peer, &mut sender);

    let play = |i: &str| {
        OfferSpec::play(
            &format!("lat{i}"),
            &format!("latency-{i}-player-password-0"),
            cert.fingerprint(),
        )
    };
    let mut direct = join(&origin, STREAM, &play("origin"), &cert, false);
    let mut relayed = join(&edge, STREAM, &play("edge"), &cert, false);
    connect_all(&mut [&mut direct.peer, &mut relayed.peer, &mut publisher.peer]);
    warm_up(
        &mut publisher.peer,
        &mut [&mut direct, &mut relayed],
        &mut sender,
    );

    let done = AtomicBool::new(false);
    let (direct_lat, relayed_lat) = std::thread::scope(|s| {
        let d = s.spawn(|| receive(&mut direct.peer, start, &done));
        let r = s.spawn(|| receive(&mut relayed.peer, start, &done));
        let mut next = Instant::now();
        for i in 0..N {
            sender.send(&mut publisher.peer, Some(i));
            publisher.peer.pump();
            next += SPACING;
            std::thread::sleep(next.saturating_duration_since(Instant::now()));
        }
        // Bounded: the receivers stop after every packet or this grace period.
        let deadline = Instant::now() + Duration::from_secs(5);
        while !(d.is_finished() && r.is_finished()) && Instant::now() < deadline {
            publisher.peer.pump();
            std::thread::sleep(Duration::from_millis(5));
        }
        done.store(true, Ordering::Relaxed);
        (
            d.join().expect("origin player thread"),
            r.join().expect("edge player thread"),
        )
    });

    let lost = |l: &[Option<u64>]| l.iter().filter(|x| x.is_none()).count();
    assert_eq!(
        (lost(&direct_lat), lost(&relayed_lat)),
        (0, 0),
        "measured packets lost on (origin player, edge player)"
    );
    let (d50, d99, dmax) = percentiles(&direct_lat);
    let (r50, r99, rmax) = percentiles(&relayed_lat);
    println!(
        "one-way latency over {N} packets at {SPACING:?} spacing (publisher -> player, µs):\n  \
         origin player (no relay):    p50 {d50:8.0}  p99 {d99:8.0}  max {dmax:8.0}\n  \
         edge player (one relay hop): p50 {r50:8.0}  p99 {r99:8.0}  max {rmax:8.0}\n\
         added latency of one relay hop: p50 {:+.0} µs, p99 {:+.0} µs",
        r50 - d50,
        r99 - d99
    );
}
