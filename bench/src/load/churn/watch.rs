//! Watching the server processes during a churn run: for each ([`Watched`]) its resident memory
//! and open descriptors from `/proc` ([`super::super::procstat`]) and its own counters from
//! `GET /health` (`peers`, `streams`, `players`, `connected_peers`, `connections`) and
//! `GET /metrics` (`rtcdn_relay_legs`), as one [`ServerReading`]; a thread ([`Watcher`]) takes a
//! [`Sample`] of every process every few seconds, with the client side's [`Gauges`].
//!
//! Owns: that thread and a minimal blocking HTTP/1.1 GET. Must not touch the clients.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::super::procstat;
use super::super::signalling::{authority, resolve};

/// Bound on one HTTP request (connect, send, whole answer).
const HTTP_TIMEOUT: Duration = Duration::from_secs(3);

/// One server process watched.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Watched {
    /// `node` (one node), `origin` or `edge`.
    pub role: String,
    /// Its `host:port` (HTTP and websocket).
    pub addr: String,
    /// Its pid, given or found from the listening port (`None`: `/proc` figures unavailable).
    pub pid: Option<u32>,
}

impl Watched {
    /// The server at `url` (`ws://host:port/...`) in `role`, with `pid` if given, else the
    /// process listening on its port. `Err` if the process listening there is another one than
    /// `pid` (a stale server still holding the port while the one meant failed to start).
    pub fn new(role: &str, url: &str, pid: Option<u32>) -> Result<Watched, String> {
        let addr = authority(url).to_owned();
        let listener = addr
            .rsplit_once(':')
            .and_then(|(_, port)| port.parse().ok())
            .and_then(procstat::pid_listening_on);
        if let (Some(given), Some(found)) = (pid, listener) {
            if given != found {
                return Err(format!(
                    "{role} {addr} is served by pid {found}, not by the given pid {given}"
                ));
            }
        }
        Ok(Watched {
            role: role.to_owned(),
            addr,
            pid: pid.or(listener),
        })
    }

    /// Reads `/proc` first (so that our own HTTP request is not among the descriptors), then
    /// `/health` and `/metrics`.
    pub fn read(&self) -> ServerReading {
        let mut r = ServerReading {
            role: self.role.clone(),
            ..ServerReading::default()
        };
        if let Some(pid) = self.pid {
            r.rss_kib = procstat::rss_kib(pid);
            if let Some((fds, sockets)) = procstat::fd_counts(pid) {
                r.fds = Some(fds);
                r.sockets = Some(sockets);
            }
        }
        match http_get(&self.addr, "/health").and_then(|body| {
            serde_json::from_str::<serde_json::Value>(&body).map_err(|e| e.to_string())
        }) {
            Ok(health) => {
                let n = |k: &str| health.get(k).and_then(serde_json::Value::as_u64);
                r.peers = n("peers");
                r.streams = n("streams");
                r.players = n("players");
                r.connected_peers = n("connected_peers");
                r.connections = n("connections");
            }
            Err(e) => r.error = Some(format!("/health: {e}")),
        }
        match http_get(&self.addr, "/metrics") {
            Ok(text) => r.relay_legs = metric(&text, "rtcdn_relay_legs"),
            Err(e) => r.error = Some(format!("/metrics: {e}")),
        }
        r
    }
}

/// What one server process looked like at one instant (`None`: could not be read).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct ServerReading {
    /// `node`, `origin` or `edge`.
    pub role: String,
    /// VmRSS, KiB.
    pub rss_kib: Option<u64>,
    /// Open file descriptors.
    pub fds: Option<usize>,
    /// Of them, sockets.
    pub sockets: Option<usize>,
    /// `/health` `peers`: publishers' and players' peer connections (relay legs included).
    pub peers: Option<u64>,
    /// `/health` `streams`: published streams.
    pub streams: Option<u64>,
    /// `/health` `players`.
    pub players: Option<u64>,
    /// `/health` `connected_peers`.
    pub connected_peers: Option<u64>,
    /// `/health` `connections`: open signalling websockets (relay legs' included).
    pub connections: Option<u64>,
    /// `/metrics` `rtcdn_relay_legs`: origin → edge legs whose edge publishes.
    pub relay_legs: Option<u64>,
    /// Why `/health` or `/metrics` could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What the run is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Viewers join and leave, publishers restart.
    Churn,
    /// Everyone leaves.
    Drain,
    /// Nobody is left: waiting for the server to free what it still holds.
    Settle,
}

/// The client side's figures the sampler records with each sample, set by the run.
#[derive(Debug, Default)]
pub struct Gauges {
    /// Viewers in the event loop (playing or handshaking).
    pub viewers: AtomicUsize,
    /// Viewers whose stream stopped, waiting for it to come back.
    pub waiting: AtomicUsize,
    /// Signalling jobs (joins, re-plays, leaves, restarts) under way.
    pub jobs: AtomicUsize,
    /// Vanished viewers' websockets the server has not closed yet.
    pub ghosts: AtomicUsize,
    /// Joins that reached media so far.
    pub joins: AtomicU64,
    /// Leaves so far (clean and vanished).
    pub leaves: AtomicU64,
    /// 0 churn, 1 drain, 2 settle.
    pub phase: AtomicU8,
}

impl Gauges {
    /// The current phase.
    pub fn phase(&self) -> Phase {
        match self.phase.load(Ordering::Relaxed) {
            0 => Phase::Churn,
            1 => Phase::Drain,
            _ => Phase::Settle,
        }
    }

    /// Sets the phase.
    pub fn set_phase(&self, phase: Phase) {
        let v = match phase {
            Phase::Churn => 0,
            Phase::Drain => 1,
            Phase::Settle => 2,
        };
        self.phase.store(v, Ordering::Relaxed);
    }
}

/// One sample: every watched server and the client side at `t_s` seconds into the run.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Sample {
    /// Seconds since the run started.
    pub t_s: f64,
    /// What the run was doing.
    pub phase: Phase,
    /// Viewers in the event loop.
    pub viewers: usize,
    /// Viewers waiting for their stream to come back.
    pub waiting: usize,
    /// Signalling jobs under way.
    pub jobs: usize,
    /// Vanished viewers' websockets still open.
    pub ghosts: usize,
    /// Joins that reached media so far.
    pub joins: u64,
    /// Leaves so far.
    pub leaves: u64,
    /// One reading per watched server, in [`Watcher::spawn`]'s order.
    pub servers: Vec<ServerReading>,
}

/// The sampling thread.
pub struct Watcher {
    stop: Arc<AtomicBool>,
    samples: Arc<Mutex<Vec<Sample>>>,
    thread: Option<JoinHandle<()>>,
}

impl Watcher {
    /// Samples `servers` and `gauges` every `every` from now on (times relative to `started`).
    pub fn spawn(
        servers: Vec<Watched>,
        every: Duration,
        gauges: Arc<Gauges>,
        started: Instant,
    ) -> Watcher {
        let stop = Arc::new(AtomicBool::new(false));
        let samples = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let (stop, samples) = (stop.clone(), samples.clone());
            std::thread::spawn(move || {
                let mut next = Instant::now();
                while !stop.load(Ordering::Relaxed) {
                    let now = Instant::now();
                    if now < next {
                        std::thread::sleep((next - now).min(Duration::from_millis(100)));
                        continue;
                    }
                    next += every;
                    let sample = take(&servers, &gauges, started);
                    samples.lock().expect("samples lock").push(sample);
                }
            })
        };
        Watcher {
            stop,
            samples,
            thread: Some(thread),
        }
    }

    /// The latest sample, if any.
    pub fn latest(&self) -> Option<Sample> {
        self.samples.lock().expect("samples lock").last().cloned()
    }

    /// Stops the thread and returns every sample.
    pub fn finish(mut self) -> Vec<Sample> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        std::mem::take(&mut *self.samples.lock().expect("samples lock"))
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// One sample now.
pub fn take(servers: &[Watched], gauges: &Gauges, started: Instant) -> Sample {
    let servers = servers.iter().map(Watched::read).collect();
    Sample {
        t_s: started.elapsed().as_secs_f64(),
        phase: gauges.phase(),
        viewers: gauges.viewers.load(Ordering::Relaxed),
        waiting: gauges.waiting.load(Ordering::Relaxed),
        jobs: gauges.jobs.load(Ordering::Relaxed),
        ghosts: gauges.ghosts.load(Ordering::Relaxed),
        joins: gauges.joins.load(Ordering::Relaxed),
        leaves: gauges.leaves.load(Ordering::Relaxed),
        servers,
    }
}

/// The value of the unlabelled sample `name` in a Prometheus text exposition.
pub fn metric(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| {
            let (n, v) = l.split_once(' ')?;
            (n == name).then(|| v.trim().parse::<f64>().ok())?
        })
        .map(|v| v as u64)
}

/// `GET path` on `addr` (`host:port`) with `Connection: close`; the body of a 200 answer.
pub fn http_get(addr: &str, path: &str) -> Result<String, String> {
    let sock = resolve(addr)?;
    let mut stream =
        TcpStream::connect_timeout(&sock, HTTP_TIMEOUT).map_err(|e| format!("{addr}: {e}"))?;
    stream
        .set_read_timeout(Some(HTTP_TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(HTTP_TIMEOUT)))
        .map_err(|e| e.to_string())?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| format!("send: {e}"))?;
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .map_err(|e| format!("read: {e}"))?;
    parse_response(&String::from_utf8_lossy(&raw))
}

/// The body of an HTTP/1.1 200 response (plain or chunked).
pub fn parse_response(text: &str) -> Result<String, String> {
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| "no end of headers".to_string())?;
    let status = head.split(' ').nth(1).unwrap_or_default();
    if status != "200" {
        return Err(format!("status {status}"));
    }
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    if !chunked {
        return Ok(body.to_owned());
    }
    let mut out = String::new();
    let mut rest = body;
    loop {
        let (size, after) = rest
            .split_once("\r\n")
            .ok_or_else(|| "truncated chunk".to_string())?;
        let size = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| format!("bad chunk size {size:?}"))?;
        if size == 0 {
            return Ok(out);
        }
        let chunk = after
            .get(..size)
            .ok_or_else(|| "truncated chunk".to_string())?;
        out.push_str(chunk);
        rest = after[size..].trim_start_matches("\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_metrics_and_responses() {
        let text = "# HELP rtcdn_relay_legs x\n# TYPE rtcdn_relay_legs gauge\nrtcdn_relay_legs 3\nrtcdn_relay_legs_other 9\n";
        assert_eq!(metric(text, "rtcdn_relay_legs"), Some(3));
        assert_eq!(metric(text, "rtcdn_peers"), None);
        let plain = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}";
        assert_eq!(parse_response(plain), Ok("{}".into()));
        let chunked =
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n3\r\n\":1\r\n1\r\n}\r\n0\r\n\r\n";
        assert_eq!(parse_response(chunked), Ok("{\"a\":1}".into()));
        assert!(parse_response("HTTP/1.1 503 Unavailable\r\n\r\n").is_err());
        assert!(parse_response("garbage").is_err());
    }

    #[test]
    fn a_given_pid_must_be_the_listener() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("ws://{}/", listener.local_addr().unwrap());
        let me = std::process::id();
        let found = Watched::new("node", &url, None).unwrap();
        assert_eq!(found.pid, Some(me), "found from the port");
        assert_eq!(Watched::new("node", &url, Some(me)).unwrap().pid, Some(me));
        let err = Watched::new("edge", &url, Some(me + 1)).unwrap_err();
        assert!(err.contains(&format!("served by pid {me}")), "{err}");
    }

    #[test]
    fn an_unreachable_server_reads_as_errors() {
        // A port nobody listens on: bind one, note it, close it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let w = Watched::new("node", &format!("ws://127.0.0.1:{port}/"), None).unwrap();
        assert_eq!(w.pid, None);
        let r = w.read();
        assert!(r.error.is_some() && r.peers.is_none() && r.rss_kib.is_none());
    }
}
