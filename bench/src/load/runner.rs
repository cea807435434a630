//! The event loop of a load run: one thread, one mio `Poll` over every client's UDP socket,
//! publishers paced by their schedule, transport timers, a once-a-second tick (signalling
//! keep-alives, progress line, samples) and the steps of a ramp.
//!
//! Owns: the clock (`Instant::now()` is read here and passed down) and the measuring windows.
//! Must not parse media: that is [`super::peer`].

use std::io::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use dataplane::dtls::DtlsCertificate;
use dataplane::transmit::earliest;
use mio::{Events, Interest, Poll, Token};

use super::config::LoadConfig;
use super::error::LoadError;
use super::histogram::Histogram;
use super::impair::ImpairStats;
use super::media::epoch;
use super::peer::{Counters, Io, Peer};
use super::procstat;
use super::receiver::RepairTotals;
use super::report::{LoadReport, Percentiles, Sample, StepReport};
use super::signalling::Role;
use super::wcs::WcsSignalling;

/// Most errors kept in the report.
const MAX_ERRORS: usize = 8;
/// Longest sleep of the loop (bounds tick jitter).
const MAX_WAIT: Duration = Duration::from_millis(50);
/// How long the video packets up to a window's edge may still be repaired before those still
/// missing count as residual loss: as long as the server (its upstream NACKs) and the
/// generator's viewers (their NACK deadline) keep asking. Without it, a packet lost in the last
/// round trip of a window counted as residual loss for every viewer while its repair was on its
/// way, and one lost in the last round trip before the window counted as repaired inside it.
const REPAIR_GRACE: Duration = Duration::from_secs(1);

/// What the counters were at some instant (for window deltas).
#[derive(Clone, Copy, Default)]
struct Snapshot {
    at: Option<Instant>,
    sent: u64,
    received: u64,
    verified: u64,
    auth_failures: u64,
    srtp_replays: u64,
    corrupt: u64,
    send_errors: u64,
    keyframe_requests: u64,
    /// PLIs, FIRs and NACKs publishers received, retransmissions they sent.
    publisher_feedback: [u64; 4],
    seq: [u64; 5],
    repair: RepairTotals,
    impair: (ImpairStats, ImpairStats),
    cpu: Option<Duration>,
}

/// One load run in progress.
pub struct Runner<'a> {
    cfg: &'a LoadConfig,
    progress: bool,
    cert: DtlsCertificate,
    poll: Poll,
    events: Events,
    peers: Vec<Peer>,
    counters: Counters,
    buf: Vec<u8>,
    out: Vec<u8>,
    scratch: Vec<u8>,
    started: Instant,
    next_tick: Instant,
    last_tick: Snapshot,
    samples: Vec<Sample>,
    errors: Vec<String>,
    subscribers_wanted: usize,
}

impl<'a> Runner<'a> {
    /// Prepares a run (generates the client certificate).
    pub fn new(cfg: &'a LoadConfig, progress: bool) -> Result<Self, LoadError> {
        let now = Instant::now();
        let _ = epoch();
        Ok(Runner {
            cfg,
            progress,
            cert: DtlsCertificate::generate()
                .map_err(|e| LoadError::Answer(format!("certificate: {e}")))?,
            poll: Poll::new()?,
            events: Events::with_capacity(1024),
            peers: Vec::new(),
            counters: Counters::default(),
            buf: vec![0; 2048],
            out: vec![0; 2048],
            scratch: vec![0; 2048],
            started: now,
            next_tick: now + Duration::from_secs(1),
            last_tick: Snapshot::default(),
            samples: Vec::new(),
            errors: Vec::new(),
            subscribers_wanted: 0,
        })
    }

    /// Runs every step and returns the report.
    pub fn run(mut self) -> Result<LoadReport, LoadError> {
        self.last_tick = self.snapshot(Instant::now());
        self.join_publishers()?;
        let mut steps = Vec::new();
        for count in self.cfg.steps() {
            let (joins, failed, joins_per_s, join_ms) = self.join_subscribers(count);
            let mut step = self.measure(count);
            step.joins = joins;
            step.failed_joins = failed;
            step.joins_per_s = joins_per_s;
            step.join_ms = join_ms;
            steps.push(step);
        }
        if self.progress {
            eprintln!();
        }
        for p in &mut self.peers {
            p.signalling.close();
        }
        let subscribers: Vec<&Peer> = self.peers.iter().filter(|p| p.is_subscriber()).collect();
        let end = Instant::now();
        let repair: Vec<RepairTotals> = subscribers.iter().map(|p| p.repair_totals(end)).collect();
        let received_per_subscriber = subscribers.iter().map(|p| p.seq_totals()[1]).collect();
        let (rtp_per_subscriber, verified_per_subscriber) =
            subscribers.iter().map(|p| p.rtp_verified()).unzip();
        let totals = steps.last().cloned().unwrap_or_default();
        let completed = LoadReport::went_as_asked(self.cfg.subscribers, &totals, &self.errors)
            && self.peers.iter().all(|p| p.failed.is_none());
        Ok(LoadReport {
            completed,
            config: self.cfg.clone(),
            totals,
            steps,
            received_per_subscriber,
            rtp_per_subscriber,
            verified_per_subscriber,
            video_expected_per_subscriber: repair.iter().map(|r| r.video_expected).collect(),
            residual_lost_per_subscriber: repair.iter().map(|r| r.residual_lost).collect(),
            impaired_video_per_subscriber: repair.iter().map(|r| r.impaired_video).collect(),
            nacks_per_subscriber: repair.iter().map(|r| r.nacks_sent).collect(),
            repaired_per_subscriber: repair.iter().map(|r| r.retransmissions_useful).collect(),
            freezes_per_subscriber: repair.iter().map(|r| r.freezes).collect(),
            timeseries: self.samples,
            errors: self.errors,
        })
    }

    fn join_publishers(&mut self) -> Result<(), LoadError> {
        for i in 0..self.cfg.publishers {
            let started = Instant::now();
            let peer = Peer::join(
                self.cfg,
                &self.cfg.server,
                Role::Publish,
                &stream_name(i),
                i as u64,
                &self.cert,
                started,
                Instant::now,
            )?;
            self.add(peer)?;
        }
        let deadline = Instant::now() + self.cfg.join_timeout;
        while Instant::now() < deadline {
            if self.peers.iter().all(|p| p.conn.is_connected()) {
                return Ok(());
            }
            if let Some(f) = self.peers.iter().find_map(|p| p.failed.clone()) {
                return Err(LoadError::Publisher(f));
            }
            self.turn(Some(deadline))?;
        }
        Err(LoadError::Publisher(
            "ICE/DTLS did not complete in time".into(),
        ))
    }

    /// Waits (up to the join timeout, keeping the publishers going) until `stream` can be
    /// played at `server`: on an edge it appears once the origin's relay has published it.
    fn wait_relayed(&mut self, server: &str, stream: &str) {
        let deadline = Instant::now() + self.cfg.join_timeout;
        while Instant::now() < deadline {
            let available = WcsSignalling::connect(server).and_then(|mut s| s.is_available(stream));
            if available.unwrap_or(false) {
                return;
            }
            let pause = Instant::now() + Duration::from_millis(100);
            while Instant::now() < pause {
                let _ = self.turn(Some(pause));
            }
        }
    }

    /// Joins subscribers up to `count`; returns (joins, failed, joins/s, join time).
    fn join_subscribers(&mut self, count: usize) -> (usize, usize, f64, Percentiles) {
        let first = self.peers.len();
        let have = first - self.cfg.publishers;
        let t0 = Instant::now();
        let mut failed = 0;
        let server = self.cfg.play_server.as_deref().unwrap_or(&self.cfg.server);
        let server = server.to_owned();
        let jobs: Vec<(usize, String)> = (have..count)
            .map(|i| (i, stream_name(i % self.cfg.publishers)))
            .collect();
        if self.cfg.play_server.is_some() {
            for (_, stream) in jobs.iter().filter(|(i, _)| *i < self.cfg.publishers) {
                self.wait_relayed(&server, stream);
            }
        }
        // Signalling blocks, so it runs in `join_parallel` threads; each joined client comes
        // back over a channel and the event loop keeps every handshake and stream going.
        let (cfg, cert, parallel) = (self.cfg, self.cert.clone(), self.cfg.join_parallel);
        let next = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            let (tx, rx) = mpsc::channel();
            for _ in 0..parallel.clamp(1, jobs.len().max(1)) {
                let (tx, jobs, next, cert, server) = (tx.clone(), &jobs, &next, &cert, &server);
                scope.spawn(move || {
                    while let Some((i, stream)) = jobs.get(next.fetch_add(1, Ordering::Relaxed)) {
                        let started = Instant::now();
                        let joined = Peer::join(
                            cfg,
                            server,
                            Role::Play,
                            stream,
                            (cfg.publishers + i) as u64,
                            cert,
                            started,
                            Instant::now,
                        );
                        if tx.send((*i, joined)).is_err() {
                            return;
                        }
                    }
                });
            }
            drop(tx);
            loop {
                match rx.try_recv() {
                    Ok((i, joined)) => {
                        self.subscribers_wanted = self.subscribers_wanted.max(i + 1);
                        if let Err(e) = joined.and_then(|p| self.add(p)) {
                            failed += 1;
                            self.error(format!("subscriber {i}: {e}"));
                        }
                    }
                    Err(mpsc::TryRecvError::Empty) => {
                        let _ = self.turn(Some(Instant::now() + Duration::from_millis(1)));
                    }
                    Err(mpsc::TryRecvError::Disconnected) => break,
                }
            }
        });
        let deadline = Instant::now() + self.cfg.join_timeout;
        while Instant::now() < deadline {
            // Measuring starts once audio and video (from a keyframe) reach everyone.
            let waiting = self.peers[first..]
                .iter()
                .any(|p| p.tracks_receiving() < 2 && p.failed.is_none());
            if !waiting {
                break;
            }
            let _ = self.turn(Some(deadline));
        }
        let mut hist = Histogram::new();
        let mut last = t0;
        for p in &self.peers[first..] {
            match p.first_media {
                Some(t) => {
                    hist.record(t.saturating_duration_since(p.join_started).as_nanos() as u64);
                    last = last.max(t);
                }
                None => failed += 1,
            }
        }
        let stalled: Vec<String> = self.peers[first..]
            .iter()
            .filter(|p| p.first_media.is_none())
            .map(|p| {
                p.failed
                    .clone()
                    .unwrap_or_else(|| "no media in time".into())
            })
            .collect();
        for why in stalled {
            self.error(format!("subscriber: {why}"));
        }
        let joined = hist.count();
        let secs = last.saturating_duration_since(t0).as_secs_f64();
        let rate = if secs > 0.0 {
            joined as f64 / secs
        } else {
            0.0
        };
        (count - have, failed, rate, Percentiles::of(&hist, 1e6))
    }

    /// Every peer's video cuts now.
    fn video_cuts(&self) -> Vec<Vec<(u32, u64)>> {
        self.peers.iter().map(Peer::video_cuts).collect()
    }

    /// Video packets up to `cuts` summed over the peers: `(expected, still missing)`.
    fn settled(&self, cuts: &[Vec<(u32, u64)>]) -> (u64, u64) {
        self.peers
            .iter()
            .zip(cuts)
            .map(|(p, c)| p.settled(c))
            .fold((0, 0), |(e, l), (e2, l2)| (e + e2, l + l2))
    }

    /// Turns the loop until `until`.
    fn run_until(&mut self, until: Instant) {
        while Instant::now() < until {
            let _ = self.turn(Some(until));
        }
    }

    fn measure(&mut self, count: usize) -> StepReport {
        let start = Instant::now();
        let mut a = self.snapshot(start);
        let start_cuts = self.video_cuts();
        let rtp_before: Vec<u64> = self.peers.iter().map(|p| p.rtp_verified().0).collect();
        self.counters.latency.clear();
        let end = start + self.cfg.duration;
        // The window's residual loss: video packets after the start's cut and up to the end's
        // still missing REPAIR_GRACE after each cut (the media goes on meanwhile).
        let start_settles = start + REPAIR_GRACE;
        let mut start_settled = None;
        if start_settles < end {
            self.run_until(start_settles);
            start_settled = Some(self.settled(&start_cuts));
        }
        self.run_until(end);
        let mut b = self.snapshot(Instant::now());
        let end_cuts = self.video_cuts();
        let end_settles = Instant::now() + REPAIR_GRACE;
        self.run_until(end_settles.max(start_settles));
        let start_settled = start_settled.unwrap_or_else(|| self.settled(&start_cuts));
        let end_settled = self.settled(&end_cuts);
        (a.repair.video_expected, a.repair.residual_lost) = start_settled;
        (b.repair.video_expected, b.repair.residual_lost) = end_settled;
        let secs =
            b.at.zip(a.at)
                .map_or(0.0, |(b, a)| b.saturating_duration_since(a).as_secs_f64())
                .max(1e-9);
        let received = b.received - a.received;
        let expected = b.seq[0] - a.seq[0];
        let lost = b.seq[2].saturating_sub(a.seq[2]);
        let cpu = b.cpu.zip(a.cpu).map(|(b, a)| b.saturating_sub(a));
        let r = b.repair.since(&a.repair);
        // Subscribers that got RTP during this window (not merely at some time before it).
        let receiving = self
            .peers
            .iter()
            .zip(rtp_before)
            .filter(|(p, before)| {
                p.is_subscriber() && p.failed.is_none() && p.rtp_verified().0 > *before
            })
            .count();
        StepReport {
            subscribers: count,
            receiving_subscribers: receiving,
            duration_s: secs,
            packets_sent: b.sent - a.sent,
            packets_received: received,
            packets_verified: b.verified - a.verified,
            auth_failures: b.auth_failures - a.auth_failures,
            srtp_replays: b.srtp_replays - a.srtp_replays,
            corrupt: b.corrupt - a.corrupt,
            pps_out: (b.sent - a.sent) as f64 / secs,
            pps_in: received as f64 / secs,
            expected,
            lost,
            loss_pct: percent(lost, expected),
            reordered: b.seq[3] - a.seq[3],
            duplicates: b.seq[4] - a.seq[4],
            send_errors: b.send_errors - a.send_errors,
            keyframe_requests: b.keyframe_requests - a.keyframe_requests,
            latency_us: Percentiles::of(&self.counters.latency, 1e3),
            server_cpu_s: cpu.map(|c| c.as_secs_f64()),
            server_cpu_pct: cpu.map(|c| 100.0 * c.as_secs_f64() / secs),
            cpu_us_per_forwarded_packet: cpu
                .filter(|_| received > 0)
                .map(|c| c.as_secs_f64() * 1e6 / received as f64),
            server_rss_kib: procstat::rss_kib_all(&self.cfg.server_pids),
            video_expected: r.video_expected,
            residual_lost: r.residual_lost,
            residual_loss_pct: percent(r.residual_lost, r.video_expected),
            retransmissions_received: r.retransmissions,
            retransmissions_useful: r.retransmissions_useful,
            retransmissions_duplicate: r.retransmissions_duplicate,
            rtx_received: r.rtx,
            nacks_sent: r.nacks_sent,
            nack_requests: r.nack_requests,
            nack_given_up: r.nack_given_up,
            plis_sent: r.plis_sent,
            plis_received: b.publisher_feedback[0] - a.publisher_feedback[0],
            firs_received: b.publisher_feedback[1] - a.publisher_feedback[1],
            nacks_received: b.publisher_feedback[2] - a.publisher_feedback[2],
            retransmissions_sent: b.publisher_feedback[3] - a.publisher_feedback[3],
            frames_completed: r.frames,
            freezes: r.freezes,
            freeze_ms: r.freeze_ns as f64 / 1e6,
            impaired_video: r.impaired_video,
            impair_send: b.impair.0.since(&a.impair.0),
            impair_recv: b.impair.1.since(&a.impair.1),
            ..StepReport::default()
        }
    }

    fn snapshot(&self, at: Instant) -> Snapshot {
        let mut seq = [0u64; 5];
        let mut repair = RepairTotals::default();
        let mut impair = (ImpairStats::default(), ImpairStats::default());
        for p in &self.peers {
            for (s, v) in seq.iter_mut().zip(p.seq_totals()) {
                *s += v;
            }
            repair.add(&p.repair_totals(at));
            let (send, recv) = p.impair_stats();
            impair.0 += send;
            impair.1 += recv;
        }
        let c = &self.counters;
        Snapshot {
            at: Some(at),
            sent: c.sent,
            received: c.received,
            verified: c.verified,
            auth_failures: c.auth_failures,
            srtp_replays: c.srtp_replays,
            corrupt: c.corrupt,
            send_errors: c.send_errors,
            keyframe_requests: c.keyframe_requests,
            publisher_feedback: [
                c.plis_received,
                c.firs_received,
                c.nacks_received,
                c.retransmissions_sent,
            ],
            seq,
            repair,
            impair,
            cpu: procstat::cpu_time_all(&self.cfg.server_pids),
        }
    }

    fn add(&mut self, mut peer: Peer) -> Result<(), LoadError> {
        let token = Token(self.peers.len());
        self.poll
            .registry()
            .register(&mut peer.link.socket, token, Interest::READABLE)?;
        peer.flush(Instant::now(), &mut self.out, &mut self.counters);
        self.peers.push(peer);
        Ok(())
    }

    fn error(&mut self, e: String) {
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(e);
        }
    }

    /// One loop turn: send what is due, wait for input until the next due time (at most until
    /// `until`), read it, run timers, tick.
    fn turn(&mut self, until: Option<Instant>) -> Result<(), LoadError> {
        let now = Instant::now();
        let epoch = epoch();
        let mut due = Some(self.next_tick);
        let mut io = Io {
            epoch,
            verify: self.cfg.verify,
            buf: &mut self.buf,
            out: &mut self.out,
            counters: &mut self.counters,
        };
        for p in &mut self.peers {
            p.publish_due(epoch, now, &mut self.scratch, io.counters);
            p.handle_timeout(now, &mut io);
            due = earliest(due, p.next_due());
        }
        let due = earliest(due, until).unwrap_or(now + MAX_WAIT);
        let wait = due.saturating_duration_since(now).min(MAX_WAIT);
        if let Err(e) = self.poll.poll(&mut self.events, Some(wait)) {
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(e.into());
            }
        }
        let now = Instant::now();
        for ev in &self.events {
            if let Some(p) = self.peers.get_mut(ev.token().0) {
                p.receive(now, &mut io);
            }
        }
        if now >= self.next_tick {
            self.tick(now);
        }
        Ok(())
    }

    /// Once a second: signalling keep-alives, a sample and the progress line.
    fn tick(&mut self, now: Instant) {
        self.next_tick = now + Duration::from_secs(1);
        for p in &mut self.peers {
            if p.failed.is_none() {
                if let Err(e) = p.signalling.service() {
                    p.failed = Some(format!("signalling: {e}"));
                }
            }
        }
        let snap = self.snapshot(now);
        let last = std::mem::replace(&mut self.last_tick, snap);
        let secs = last
            .at
            .map_or(1.0, |a| now.saturating_duration_since(a).as_secs_f64())
            .max(1e-3);
        let cpu = snap
            .cpu
            .zip(last.cpu)
            .map(|(b, a)| 100.0 * b.saturating_sub(a).as_secs_f64() / secs);
        let expected = snap.seq[0].saturating_sub(last.seq[0]);
        let lost = snap.seq[2].saturating_sub(last.seq[2]);
        let r = snap.repair.since(&last.repair);
        let sample = Sample {
            t_s: now.saturating_duration_since(self.started).as_secs_f64(),
            subscribers: self.peers.len() - self.cfg.publishers.min(self.peers.len()),
            pps_out: (snap.sent - last.sent) as f64 / secs,
            pps_in: (snap.received - last.received) as f64 / secs,
            loss_pct: percent(lost, expected),
            residual_loss_pct: percent(r.residual_lost, r.video_expected),
            latency_p50_us: self.counters.latency_tick.quantile(0.5) as f64 / 1e3,
            latency_p99_us: self.counters.latency_tick.quantile(0.99) as f64 / 1e3,
            server_cpu_pct: cpu,
        };
        self.counters.latency_tick.clear();
        if self.progress {
            let mut err = std::io::stderr().lock();
            let _ = write!(
                err,
                "\r[{:6.1}s] subs {}/{}  out {:.0} pps  in {:.0} pps  loss {:.2}% (after repair {:.2}%)  p99 {:.0} us  server cpu {}   ",
                sample.t_s,
                sample.subscribers,
                self.subscribers_wanted.max(self.cfg.subscribers),
                sample.pps_out,
                sample.pps_in,
                sample.loss_pct,
                sample.residual_loss_pct,
                sample.latency_p99_us,
                cpu.map_or("-".to_owned(), |c| format!("{c:.1}%"))
            );
            let _ = err.flush();
        }
        self.samples.push(sample);
    }
}

fn stream_name(i: usize) -> String {
    format!("load-{i}")
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        100.0 * part as f64 / whole as f64
    }
}
