//! Churn soak (`rtcdn-load --churn`): viewers join and leave at given rates around a steady
//! population while every publisher unpublishes and publishes again now and then, and the
//! server processes are watched ([`watch`]) so that whatever they fail to free shows: peers,
//! streams, players, websocket connections and relay legs left once every client is gone, file
//! descriptors above the baseline, memory that grows ([`report`]).
//!
//! What the clients do:
//! - a **join** is a new viewer: its own websocket, `playStream`, ICE, DTLS, SRTP (the same
//!   client as every `rtcdn-load` subscriber, [`Peer`]); on `--play-server` (an edge) when
//!   given. A join that finds no stream (`Stream not found`: a restart is under way, or the
//!   edge has not got the relay yet) waits with its websocket open and plays once the stream is
//!   back;
//! - a **leave** picks a playing viewer at random: most send `stopStream` and close the
//!   websocket with its closing handshake; `vanish` percent just drop their UDP socket and
//!   keep the websocket open without ever answering again (no pong), so the server must find
//!   out by ICE consent expiry and then by its websocket keep-alive;
//! - a **publisher restart** sends `unPublishStream` and `publishStream` again on the same
//!   websocket, or every other time closes the websocket and publishes on a new one. Its
//!   viewers get STOPPED "Stopped by publisher stop" and play the new stream again **on their
//!   own websocket** (a new `playStream`, a new peer), as a Web SDK page does; they are not
//!   counted as joins or leaves. Whether the stream is back is asked with `availableStream`
//!   on one probe session per stream (on an edge it is back once the origin's relay published
//!   it there).
//!
//! Blocking signalling runs in a pool of threads ([`jobs`]); this module is the event loop
//! (one mio `Poll` over every client's UDP socket, as in [`super::runner`]) and the scheduler.
//! Must not reach into the server: everything goes through the network and `/proc`.

pub mod jobs;
mod outcomes;
pub mod report;
pub mod spec;
pub mod watch;

use std::io::Write as _;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dataplane::dtls::DtlsCertificate;
use dataplane::transmit::earliest;
use mio::{Events, Interest, Poll, Token};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use slab::Slab;

use super::config::LoadConfig;
use super::error::LoadError;
use super::histogram::Histogram;
use super::media::epoch;
use super::peer::{Counters, Io, Peer};
use super::report::Percentiles;
use super::signalling::{Role as SignalRole, Signalling};
use jobs::{stream_name, Job, JobPool, ViewerId};
use report::{ClientTotals, FD_SLACK, RSS_GROWTH_LIMIT_PCT};
use watch::{Gauges, Phase, ServerReading, Watched, Watcher};

pub use report::ChurnReport;
pub use spec::ChurnSpec;

/// How often every client's signalling is serviced (pings answered, STOPPED noticed) and
/// joins, failures and vanished websockets are checked.
const SERVICE_EVERY: Duration = Duration::from_millis(250);
/// Shortest interval between two `availableStream` probes of one stream.
const PROBE_EVERY: Duration = Duration::from_millis(200);
/// Longest sleep of the loop.
const MAX_WAIT: Duration = Duration::from_millis(50);
/// Most errors kept in the report.
const MAX_ERRORS: usize = 20;
/// Readings before the run and after the settle time (the fewest descriptors count).
const ROUNDS: usize = 3;
/// Bound on each wait for the signalling jobs while draining.
const DRAIN_LIMIT: Duration = Duration::from_secs(60);
/// A failed restart is tried again after this long.
const RESTART_RETRY: Duration = Duration::from_secs(1);

/// Runs the churn soak `cfg.churn` describes; `progress` prints a refreshed line on stderr.
pub fn run(cfg: &LoadConfig, progress: bool) -> Result<ChurnReport, LoadError> {
    cfg.validate().map_err(LoadError::Config)?;
    let spec = cfg
        .churn
        .ok_or_else(|| LoadError::Config("no churn spec".into()))?;
    Churn::new(cfg, spec, progress)?.run()
}

/// A viewer in the event loop.
struct Viewer {
    id: ViewerId,
    stream: usize,
    /// When this play began: the join's start, or the STOPPED of the stream it plays again.
    started: Instant,
    replay: bool,
    /// Its first RTP has been counted.
    playing: bool,
}

enum Role {
    Viewer(Viewer),
    Publisher(usize),
}

struct Client {
    peer: Peer,
    role: Role,
}

/// A viewer whose stream is not there, with its open session.
struct Waiting {
    id: ViewerId,
    stream: usize,
    client: u64,
    started: Instant,
    replay: bool,
    sig: Box<dyn Signalling>,
}

#[derive(Default)]
struct PublisherState {
    /// Its key in the event loop, while it publishes.
    key: Option<usize>,
    /// A restart job is under way.
    busy: bool,
    next_restart: Option<Instant>,
    restarts: u64,
    /// It has no session (a restart failed): publish afresh at this time.
    retry_at: Option<Instant>,
}

#[derive(Default)]
struct StreamState {
    probe: Option<Box<dyn Signalling>>,
    probing: bool,
    last_probe: Option<Instant>,
}

/// A vanished viewer's websocket, left open.
struct Ghost {
    sig: Box<dyn Signalling>,
    since: Instant,
}

struct Churn<'a> {
    cfg: &'a LoadConfig,
    spec: ChurnSpec,
    progress: bool,
    cert: DtlsCertificate,
    poll: Poll,
    events: Events,
    clients: Slab<Client>,
    counters: Counters,
    buf: Vec<u8>,
    out: Vec<u8>,
    scratch: Vec<u8>,
    pool: JobPool,
    gauges: Arc<Gauges>,
    started: Instant,
    waiting: Vec<Waiting>,
    ghosts: Vec<Ghost>,
    publishers: Vec<PublisherState>,
    streams: Vec<StreamState>,
    totals: ClientTotals,
    join_ms: Histogram,
    gap_ms: Histogram,
    rng: StdRng,
    next_client: u64,
    next_viewer: ViewerId,
    /// Join and re-play jobs under way.
    viewer_jobs: usize,
    next_join: Instant,
    /// Leaves began once the population was first reached.
    next_leave: Option<Instant>,
    next_service: Instant,
    next_progress: Instant,
    errors: Vec<String>,
    watcher: Option<Watcher>,
    servers: Vec<Watched>,
}

impl<'a> Churn<'a> {
    fn new(cfg: &'a LoadConfig, spec: ChurnSpec, progress: bool) -> Result<Self, LoadError> {
        let _ = epoch();
        let cert = DtlsCertificate::generate()
            .map_err(|e| LoadError::Answer(format!("certificate: {e}")))?;
        let pid = |i: usize| cfg.server_pids.get(i).copied();
        let servers = match &cfg.play_server {
            Some(edge) => vec![
                Watched::new("origin", &cfg.server, pid(0)),
                Watched::new("edge", edge, pid(1)),
            ],
            None => vec![Watched::new("node", &cfg.server, pid(0))],
        };
        let servers = servers
            .into_iter()
            .collect::<Result<Vec<_>, _>>()
            .map_err(LoadError::Config)?;
        let now = Instant::now();
        Ok(Churn {
            cfg,
            spec,
            progress,
            pool: JobPool::new(cfg, &cert, cfg.join_parallel),
            cert,
            poll: Poll::new()?,
            events: Events::with_capacity(1024),
            clients: Slab::new(),
            counters: Counters::default(),
            buf: vec![0; 2048],
            out: vec![0; 2048],
            scratch: vec![0; 2048],
            gauges: Arc::new(Gauges::default()),
            started: now,
            waiting: Vec::new(),
            ghosts: Vec::new(),
            publishers: (0..cfg.publishers)
                .map(|_| PublisherState::default())
                .collect(),
            streams: (0..cfg.publishers)
                .map(|_| StreamState::default())
                .collect(),
            totals: ClientTotals::default(),
            join_ms: Histogram::new(),
            gap_ms: Histogram::new(),
            rng: StdRng::seed_from_u64(cfg.impair.seed),
            next_client: 0,
            next_viewer: 0,
            viewer_jobs: 0,
            next_join: now,
            next_leave: None,
            next_service: now,
            next_progress: now,
            errors: Vec::new(),
            watcher: None,
            servers,
        })
    }

    fn run(mut self) -> Result<ChurnReport, LoadError> {
        let baseline = self.readings();
        // A soak that cannot see the servers' processes would report nothing.
        if let Some(r) = baseline
            .iter()
            .find(|r| r.fds.is_none() || r.rss_kib.is_none())
        {
            let pid = self
                .servers
                .iter()
                .find(|w| w.role == r.role)
                .and_then(|w| w.pid);
            return Err(LoadError::Config(format!(
                "cannot read /proc of the {} (pid {pid:?}): give --server-pid",
                r.role
            )));
        }
        self.started = Instant::now();
        self.watcher = Some(Watcher::spawn(
            self.servers.clone(),
            self.spec.sample,
            self.gauges.clone(),
            self.started,
        ));
        self.start_publishers()?;
        let churn_end = self.started + self.cfg.duration;
        self.next_join = Instant::now();
        while Instant::now() < churn_end {
            self.turn(Some(churn_end))?;
            self.schedule(Instant::now());
        }
        let churn_s = self.started.elapsed().as_secs_f64();
        let drain_from = Instant::now();
        self.drain()?;
        let drain_s = drain_from.elapsed().as_secs_f64();
        self.gauges.set_phase(Phase::Settle);
        let settle_end = Instant::now() + self.spec.settle;
        while Instant::now() < settle_end {
            self.turn(Some(settle_end))?;
        }
        let settle_s = self.spec.settle.as_secs_f64();
        let end = self.readings();
        self.service(Instant::now());
        self.totals.vanished_left_open = self.ghosts.len() as u64;
        self.ghosts.clear();
        if self.progress {
            eprintln!();
        }
        let samples = self.watcher.take().map(Watcher::finish).unwrap_or_default();
        Ok(self.report(baseline, end, samples, (churn_s, drain_s, settle_s)))
    }

    /// [`ROUNDS`] readings of every server half a second apart, merged.
    fn readings(&mut self) -> Vec<ServerReading> {
        let mut rounds = Vec::new();
        for i in 0..ROUNDS {
            if i > 0 {
                let until = Instant::now() + Duration::from_millis(500);
                while Instant::now() < until {
                    let _ = self.turn(Some(until));
                }
            }
            rounds.push(self.servers.iter().map(Watched::read).collect());
        }
        report::merge_rounds(&rounds)
    }

    fn start_publishers(&mut self) -> Result<(), LoadError> {
        for i in 0..self.cfg.publishers {
            let client = self.new_client();
            let peer = Peer::join(
                self.cfg,
                &self.cfg.server,
                SignalRole::Publish,
                &stream_name(i),
                client,
                &self.cert,
                Instant::now(),
                Instant::now,
            )?;
            let key = self.add(peer, Role::Publisher(i))?;
            let p = &mut self.publishers[i];
            p.key = Some(key);
            // Staggered: publisher i first restarts (i + 1) / n of a period in.
            p.next_restart = self.spec.publisher_restart.map(|every| {
                self.started + every.mul_f64((i + 1) as f64 / self.cfg.publishers as f64)
            });
        }
        let deadline = Instant::now() + self.cfg.join_timeout;
        while Instant::now() < deadline {
            let connected = self.clients.iter().all(|(_, c)| c.peer.conn.is_connected());
            if connected {
                return Ok(());
            }
            if let Some(f) = self.clients.iter().find_map(|(_, c)| c.peer.failed.clone()) {
                return Err(LoadError::Publisher(f));
            }
            self.turn(Some(deadline))?;
        }
        Err(LoadError::Publisher(
            "ICE/DTLS did not complete in time".into(),
        ))
    }

    fn new_client(&mut self) -> u64 {
        self.next_client += 1;
        self.next_client - 1
    }

    /// Everyone leaves: jobs under way finish, viewers stop and close, then publishers
    /// unpublish and close, then the probe sessions close.
    fn drain(&mut self) -> Result<(), LoadError> {
        self.gauges.set_phase(Phase::Drain);
        self.wait_jobs()?;
        for w in std::mem::take(&mut self.waiting) {
            self.pool.send(Job::Leave { sig: w.sig });
        }
        let viewers: Vec<usize> = self
            .clients
            .iter()
            .filter(|(_, c)| matches!(c.role, Role::Viewer(_)))
            .map(|(k, _)| k)
            .collect();
        for key in viewers {
            let sig = self.take(key).peer.signalling;
            self.pool.send(Job::Leave { sig });
        }
        self.wait_jobs()?;
        let keys: Vec<usize> = self.clients.iter().map(|(k, _)| k).collect();
        for key in keys {
            let sig = self.take(key).peer.signalling;
            self.pool.send(Job::Leave { sig });
        }
        for s in &mut self.streams {
            if let Some(sig) = s.probe.take() {
                self.pool.send(Job::Leave { sig });
            }
        }
        for p in &mut self.publishers {
            p.key = None;
        }
        self.wait_jobs()
    }

    /// Runs the loop until every job is back (bounded by [`DRAIN_LIMIT`]).
    fn wait_jobs(&mut self) -> Result<(), LoadError> {
        let deadline = Instant::now() + DRAIN_LIMIT;
        while self.pool.in_flight > 0 && Instant::now() < deadline {
            self.turn(Some(Instant::now() + MAX_WAIT))?;
        }
        if self.pool.in_flight > 0 {
            self.error(format!(
                "{} signalling jobs still under way after {DRAIN_LIMIT:?}",
                self.pool.in_flight
            ));
        }
        Ok(())
    }

    fn add(&mut self, mut peer: Peer, role: Role) -> Result<usize, LoadError> {
        let key = self.clients.vacant_key();
        self.poll
            .registry()
            .register(&mut peer.link.socket, Token(key), Interest::READABLE)?;
        peer.flush(Instant::now(), &mut self.out, &mut self.counters);
        self.clients.insert(Client { peer, role });
        Ok(key)
    }

    /// Takes client `key` out of the loop (its UDP socket deregistered).
    fn take(&mut self, key: usize) -> Client {
        let mut c = self.clients.remove(key);
        let _ = self.poll.registry().deregister(&mut c.peer.link.socket);
        c
    }

    fn error(&mut self, e: String) {
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(e);
        }
    }

    /// One loop turn: what is due is sent, input is read, timers run; finished jobs are
    /// taken in and, every [`SERVICE_EVERY`], the clients' signalling is serviced.
    fn turn(&mut self, until: Option<Instant>) -> Result<(), LoadError> {
        let now = Instant::now();
        let epoch = epoch();
        let mut due = Some(self.next_service.min(self.next_progress));
        let mut io = Io {
            epoch,
            verify: self.cfg.verify,
            buf: &mut self.buf,
            out: &mut self.out,
            counters: &mut self.counters,
        };
        for (_, c) in &mut self.clients {
            c.peer
                .publish_due(epoch, now, &mut self.scratch, io.counters);
            c.peer.handle_timeout(now, &mut io);
            due = earliest(due, c.peer.next_due());
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
            if let Some(c) = self.clients.get_mut(ev.token().0) {
                c.peer.receive(now, &mut io);
            }
        }
        while let Some(done) = self.pool.try_done() {
            self.finished(done, now);
        }
        if now >= self.next_service {
            self.next_service = now + SERVICE_EVERY;
            self.service(now);
        }
        if now >= self.next_progress {
            self.next_progress = now + Duration::from_secs(1);
            self.show_progress(now);
        }
        Ok(())
    }

    /// Joins, leaves, restarts and probes that are due (churn phase only).
    fn schedule(&mut self, now: Instant) {
        let interval = self.spec.join_interval();
        if now.saturating_duration_since(self.next_join) > Duration::from_secs(1) {
            // The loop fell behind: do not burst the lost joins.
            self.next_join = now;
        }
        while self.next_join <= now {
            self.next_join += interval;
            let (viewer, client) = (self.next_viewer, self.new_client());
            self.next_viewer += 1;
            let stream = (viewer % self.cfg.publishers as u64) as usize;
            self.totals.joins_started += 1;
            self.viewer_jobs += 1;
            self.pool.send(Job::Join {
                viewer,
                stream,
                client,
                started: now,
            });
        }
        let population = self.viewers() + self.waiting.len() + self.viewer_jobs;
        if self.next_leave.is_none() && population >= self.cfg.subscribers {
            self.next_leave = self.spec.leave_interval().map(|_| now);
        }
        if let (Some(mut at), Some(every)) = (self.next_leave, self.spec.leave_interval()) {
            if now.saturating_duration_since(at) > Duration::from_secs(1) {
                at = now;
            }
            while at <= now {
                at += every;
                self.leave_one(now);
            }
            self.next_leave = Some(at);
        }
        for i in 0..self.publishers.len() {
            self.maybe_restart(i, now);
        }
        for s in 0..self.streams.len() {
            let wanted = self.waiting.iter().any(|w| w.stream == s);
            let st = &self.streams[s];
            let due = st.last_probe.is_none_or(|t| now >= t + PROBE_EVERY);
            if wanted && !st.probing && due && !self.publishers[s].busy {
                let sig = self.streams[s].probe.take();
                self.streams[s].probing = true;
                self.pool.send(Job::Probe { stream: s, sig });
            }
        }
    }

    fn viewers(&self) -> usize {
        self.clients
            .iter()
            .filter(|(_, c)| matches!(c.role, Role::Viewer(_)))
            .count()
    }

    /// A random playing viewer leaves, cleanly or vanishing.
    fn leave_one(&mut self, now: Instant) {
        let playing: Vec<usize> = self
            .clients
            .iter()
            .filter(|(_, c)| matches!(&c.role, Role::Viewer(v) if v.playing))
            .map(|(k, _)| k)
            .collect();
        if playing.is_empty() {
            self.totals.leaves_skipped += 1;
            return;
        }
        let key = playing[self.rng.gen_range(0..playing.len())];
        let sig = self.take(key).peer.signalling;
        self.gauges.leaves.fetch_add(1, Ordering::Relaxed);
        if self.rng.gen_bool(self.spec.vanish_pct / 100.0) {
            // Its UDP socket is gone with the peer; the websocket stays open, unanswered.
            self.totals.leaves_vanished += 1;
            self.ghosts.push(Ghost { sig, since: now });
        } else {
            self.totals.leaves_clean += 1;
            self.pool.send(Job::Leave { sig });
        }
    }

    fn maybe_restart(&mut self, i: usize, now: Instant) {
        let p = &mut self.publishers[i];
        if p.busy {
            return;
        }
        if p.key.is_none() {
            if p.retry_at.is_some_and(|t| now >= t) {
                p.retry_at = None;
                p.busy = true;
                let client = self.new_client();
                self.pool.send(Job::Restart {
                    publisher: i,
                    client,
                    sig: None,
                    reconnect: true,
                });
            }
            return;
        }
        let (Some(at), Some(every)) = (p.next_restart, self.spec.publisher_restart) else {
            return;
        };
        if now < at {
            return;
        }
        p.next_restart = Some(at + every);
        p.restarts += 1;
        let reconnect = p.restarts.is_multiple_of(2);
        let key = p.key.take().expect("checked above");
        p.busy = true;
        let sig = self.take(key).peer.signalling;
        let client = self.new_client();
        self.pool.send(Job::Restart {
            publisher: i,
            client,
            sig: Some(sig),
            reconnect,
        });
    }

    fn show_progress(&mut self, now: Instant) {
        if !self.progress {
            return;
        }
        let server = self
            .watcher
            .as_ref()
            .and_then(Watcher::latest)
            .map(|s| {
                s.servers
                    .iter()
                    .map(|r| {
                        format!(
                            "{}: peers {} fds {} rss {}",
                            r.role,
                            r.peers.map_or("-".into(), |v| v.to_string()),
                            r.fds.map_or("-".into(), |v| v.to_string()),
                            r.rss_kib
                                .map_or("-".into(), |k| format!("{:.1}M", k as f64 / 1024.0))
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("  ")
            })
            .unwrap_or_default();
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r[{:6.1}s {:?}] viewers {} (waiting {}, jobs {}, ghosts {})  joins {} leaves {}  restarts {}  {}   ",
            now.saturating_duration_since(self.started).as_secs_f64(),
            self.gauges.phase(),
            self.viewers(),
            self.waiting.len(),
            self.pool.in_flight,
            self.ghosts.len(),
            self.totals.joins_playing,
            self.totals.leaves_clean + self.totals.leaves_vanished,
            self.totals.restarts,
            server
        );
        let _ = err.flush();
    }

    fn report(
        mut self,
        baseline: Vec<ServerReading>,
        end: Vec<ServerReading>,
        samples: Vec<watch::Sample>,
        (churn_s, drain_s, settle_s): (f64, f64, f64),
    ) -> ChurnReport {
        let c = &self.counters;
        self.totals.packets_sent = c.sent;
        self.totals.packets_received = c.received;
        self.totals.auth_failures = c.auth_failures;
        self.totals.foreign_packets = c.foreign;
        self.totals.join_ms = Percentiles::of(&self.join_ms, 1e6);
        self.totals.replay_gap_ms = Percentiles::of(&self.gap_ms, 1e6);
        let leaks = report::leftovers(&baseline, &end, FD_SLACK);
        let (rss, rss_growth_pct) = report::rss_growth(&samples, &end);
        let t = &self.totals;
        let failures = t.joins_failed
            + t.replays_failed
            + t.viewers_failed
            + t.restarts_failed
            + t.publishers_failed
            + t.auth_failures;
        let leak_free = leaks.is_empty();
        let rss_ok = rss_growth_pct.is_none_or(|g| g < RSS_GROWTH_LIMIT_PCT);
        ChurnReport {
            completed: leak_free && rss_ok && failures == 0,
            leak_free,
            config: self.cfg.clone(),
            peaks: report::peaks(&samples, &self.servers),
            servers: self.servers,
            churn_s,
            drain_s,
            settle_s,
            clients: self.totals,
            baseline,
            end,
            rss,
            rss_growth_pct,
            fd_slack: FD_SLACK,
            leaks,
            errors: self.errors,
            samples,
        }
    }
}
