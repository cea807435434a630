//! Process harness for integration tests of the `rtcdn` binary.
//!
//! Owns: starting the real binary with a temporary `flashphoner.properties`, waiting for its
//! listening line, killing it on drop, and a blocking WCS websocket client (tungstenite) that
//! speaks the Flashphoner Web SDK's messages, built and read by `control::wcs::client` (the wire
//! format only). It must not reach into the server's state: everything goes through the process
//! boundary (stdout, HTTP, websocket), like a browser would.
//!
//! Every wait is bounded; a timeout panics with what was seen so far.

// Each integration-test crate includes this module and uses a different subset of it.
#![allow(dead_code)]

pub mod backend;
pub mod media;
pub mod source;

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use control::wcs::client::{self, Hello, ServerEvent, StreamDesc};
use serde_json::Value;
use tungstenite::{Message, WebSocket};

/// How long the server may take to print its listening line.
pub const START_TIMEOUT: Duration = Duration::from_secs(20);
/// Default bound for one signalling reply.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// The stdout line prefix the server prints once HTTP and websocket are listening.
const LISTENING_PREFIX: &str = "rtcdn listening on http://";

static UNIQUE: AtomicU32 = AtomicU32::new(0);

/// A process-unique, uuid-shaped string (mediaSessionIds, temp dir names).
pub fn unique_id() -> String {
    let n = UNIQUE.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{:08x}-{:04x}-1000-8000-{:012x}",
        std::process::id(),
        n & 0xffff,
        nanos & 0xffff_ffff_ffff
    )
}

/// The binary under test: `$RTCDN_BIN` if set (e.g. a release build), else the `rtcdn` binary
/// cargo built for this test run.
pub fn server_binary() -> PathBuf {
    std::env::var_os("RTCDN_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_rtcdn")))
}

/// Reads `tests/fixtures/<name>` and restores the CRLF line endings a browser sends.
pub fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", path.display()));
    text.lines().fold(String::new(), |mut out, line| {
        out.push_str(line);
        out.push_str("\r\n");
        out
    })
}

/// A running `rtcdn` binary with its own temporary configuration directory.
///
/// Dropping it kills the process, waits for it and removes the directory.
pub struct ServerProcess {
    child: Child,
    config_dir: PathBuf,
    http_addr: SocketAddr,
    /// The TLS listener's address (`wss.port`), from its listening line.
    tls_addr: SocketAddr,
    stderr: Arc<Mutex<String>>,
}

impl ServerProcess {
    /// Writes `flashphoner.properties` (defaults: `ip=127.0.0.1`, `ws.port=0`,
    /// `media_port_from=0`, `worker_threads=2`; `props` override or add keys), starts
    /// [`server_binary`] with `--config-dir` and waits up to [`START_TIMEOUT`] for its listening line.
    ///
    /// Panics with the process output if it exits or stays silent.
    pub fn start(props: &[(&str, &str)]) -> ServerProcess {
        Self::start_with_files(props, &[])
    }

    /// [`ServerProcess::start`] that also writes `files` (`(name, contents)`, e.g.
    /// `loadbalancing.xml`) into the configuration directory.
    pub fn start_with_files(props: &[(&str, &str)], files: &[(&str, &str)]) -> ServerProcess {
        Self::try_start(props, files).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Starts on a fixed `ws.port` (e.g. the port of a killed server), retrying for up to
    /// `retry_for` while the port is not free yet.
    pub fn start_on_port(
        props: &[(&str, &str)],
        files: &[(&str, &str)],
        port: u16,
        retry_for: Duration,
    ) -> ServerProcess {
        let port = port.to_string();
        let mut all: Vec<(&str, &str)> = props.to_vec();
        all.push(("ws.port", &port));
        // The TLS listener would default to 8443 beside a fixed ws.port: keep it ephemeral.
        if !props.iter().any(|(k, _)| *k == "wss.port") {
            all.push(("wss.port", "0"));
        }
        let deadline = Instant::now() + retry_for;
        loop {
            match Self::try_start(&all, files) {
                Ok(server) => return server,
                Err(e) if Instant::now() >= deadline => panic!("{e}"),
                Err(_) => thread::sleep(Duration::from_millis(200)),
            }
        }
    }

    /// Kills the process with SIGKILL (no cleanup on its side) and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Like [`ServerProcess::start_with_files`] but returns the failure with the process output.
    pub fn try_start(
        props: &[(&str, &str)],
        files: &[(&str, &str)],
    ) -> Result<ServerProcess, String> {
        let config_dir = std::env::temp_dir().join(format!("rtcdn-test-{}", unique_id()));
        std::fs::create_dir_all(&config_dir).expect("create temp config dir");
        let mut entries: Vec<(&str, &str)> = vec![
            ("ip", "127.0.0.1"),
            ("ws.port", "0"),
            ("media_port_from", "0"),
            ("worker_threads", "2"),
        ];
        for &(key, value) in props {
            match entries.iter_mut().find(|(k, _)| *k == key) {
                Some(entry) => entry.1 = value,
                None => entries.push((key, value)),
            }
        }
        let text = entries.iter().fold(String::new(), |mut out, (k, v)| {
            let _ = writeln!(out, "{k}={v}");
            out
        });
        std::fs::write(config_dir.join("flashphoner.properties"), text)
            .expect("write flashphoner.properties");
        for (name, contents) in files {
            std::fs::write(config_dir.join(name), contents)
                .unwrap_or_else(|e| panic!("write {name}: {e}"));
        }

        let mut child = Command::new(server_binary())
            .arg("--config-dir")
            .arg(&config_dir)
            .env("RUST_LOG", std::env::var("RUST_LOG").unwrap_or_default())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", server_binary().display()));

        let stderr = Arc::new(Mutex::new(String::new()));
        let stderr_pipe = child.stderr.take().expect("stderr is piped");
        let sink = Arc::clone(&stderr);
        thread::spawn(move || {
            for line in BufReader::new(stderr_pipe).lines().map_while(Result::ok) {
                let mut all = sink.lock().expect("stderr lock");
                all.push_str(&line);
                all.push('\n');
            }
        });

        // Stdout is drained by a thread for the whole life of the process so that the server
        // never blocks on a full pipe; the lines come back through a channel.
        let (tx, rx) = mpsc::channel::<String>();
        let stdout_pipe = child.stdout.take().expect("stdout is piped");
        thread::spawn(move || {
            for line in BufReader::new(stdout_pipe).lines().map_while(Result::ok) {
                // The receiver is gone after startup; later lines are just dropped.
                let _ = tx.send(line);
            }
        });

        let mut server = ServerProcess {
            child,
            config_dir,
            http_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            tls_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            stderr,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        let mut stdout_seen = String::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left.min(Duration::from_millis(200))) {
                Ok(line) => {
                    // The plain listener's line, then the TLS listener's.
                    if let Some(addr) = parse_listening_line(&line) {
                        server.http_addr = addr;
                        continue;
                    }
                    if let Some(addr) = parse_tls_listening_line(&line) {
                        server.tls_addr = addr;
                        return Ok(server);
                    }
                    stdout_seen.push_str(&line);
                    stdout_seen.push('\n');
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = server.child.wait().ok();
                    return Err(server.fail_start(&format!("exited ({status:?})"), &stdout_seen));
                }
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(server.fail_start(&format!("exited ({status})"), &stdout_seen));
            }
            if Instant::now() >= deadline {
                return Err(server.fail_start(
                    &format!("printed no listening line within {START_TIMEOUT:?}"),
                    &stdout_seen,
                ));
            }
        }
    }

    fn fail_start(&self, what: &str, stdout: &str) -> String {
        // Give the stderr thread a moment to collect the last lines of a crashed process.
        thread::sleep(Duration::from_millis(100));
        format!(
            "rtcdn {what}\n--- stdout ---\n{stdout}--- stderr ---\n{}",
            self.stderr_output()
        )
    }

    /// The TLS listener's address (`wss://`, `https://`).
    pub fn tls_addr(&self) -> SocketAddr {
        self.tls_addr
    }

    /// The self-signed certificate the node generated (no `tls_certificate` configured).
    pub fn self_signed_certificate(&self) -> PathBuf {
        self.config_dir.join("tls").join("self-signed.crt")
    }

    /// The HTTP (and websocket) address from the listening line.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// `ws://127.0.0.1:<port>/`, the URL the Web SDK would use.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/", self.http_addr)
    }

    /// Everything the server wrote to stderr so far (its logs).
    pub fn stderr_output(&self) -> String {
        self.stderr.lock().expect("stderr lock").clone()
    }

    /// The server's process id (for `/proc` readings).
    pub fn pid(&self) -> Option<u32> {
        Some(self.child.id())
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// A blocking `GET <path>` with `Connection: close`; returns the status code and body.
    pub fn http_get(&self, path: &str) -> (u16, String) {
        http_get(self.http_addr, path)
    }

    /// The node's configuration directory (where `loadbalancing.xml` and certificates go).
    pub fn config_dir(&self) -> &Path {
        &self.config_dir
    }

    /// Writes `contents` to `name` in the configuration directory (before a SIGHUP).
    pub fn write_config_file(&self, name: &str, contents: &str) {
        std::fs::write(self.config_dir.join(name), contents)
            .unwrap_or_else(|e| panic!("write {name}: {e}"));
    }

    /// Sends the signal `name` (`HUP`, `TERM`, `INT`) to the process with `kill(1)`.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args(["-s", name, &self.child.id().to_string()])
            .status()
            .unwrap_or_else(|e| panic!("run kill -s {name}: {e}"));
        assert!(status.success(), "kill -s {name} failed: {status}");
    }

    /// Waits up to `timeout` for the process to exit by itself; its status, or `None` if it
    /// is still running.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits up to `timeout` until the logs hold `needle` at least `count` times; panics with
    /// the logs otherwise. Returns the logs.
    pub fn wait_log(&self, needle: &str, count: usize, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let logs = self.stderr_output();
            if logs.matches(needle).count() >= count {
                return logs;
            }
            assert!(
                Instant::now() < deadline,
                "{needle:?} not logged {count} time(s) within {timeout:?}:\n{logs}"
            );
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.config_dir);
    }
}

/// Extracts the address from `rtcdn listening on http://127.0.0.1:<port>`.
fn parse_tls_listening_line(line: &str) -> Option<SocketAddr> {
    let rest = line.trim().strip_prefix("rtcdn listening on https://")?;
    rest.trim_end_matches('/').parse().ok()
}

fn parse_listening_line(line: &str) -> Option<SocketAddr> {
    let rest = line.trim().strip_prefix(LISTENING_PREFIX)?;
    rest.trim_end_matches('/').parse().ok()
}

/// A minimal blocking HTTP/1.1 GET (the tests need no HTTP client crate for one status code).
pub fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect_timeout(&addr, REPLY_TIMEOUT)
        .unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    stream
        .set_read_timeout(Some(REPLY_TIMEOUT))
        .expect("set read timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("send HTTP request");
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .unwrap_or_else(|e| panic!("read HTTP response for {path}: {e}"));
    let text = String::from_utf8_lossy(&raw);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status line in response to {path}: {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// One thing read from the websocket.
#[derive(Debug)]
pub enum Incoming {
    /// A text frame parsed as JSON (any JSON, the server's envelope is checked by the caller).
    Json(Value),
    /// The server closed the connection (close frame, reset or EOF).
    Closed,
    /// Nothing arrived in time.
    Timeout,
}

/// The result of a successful publish or play: the ids to stop it later and the SDP answer.
#[derive(Clone, Debug)]
pub struct Negotiated {
    /// The client-generated `mediaSessionId`.
    pub media_session_id: String,
    /// The stream name.
    pub name: String,
    /// The SDP the server sent in `setRemoteSDP`.
    pub answer_sdp: String,
}

/// A blocking WCS websocket client with the Web SDK's envelope
/// (`{"message": name, "data": [payload]}`).
///
/// Server pings are answered with `pong` and skipped by [`WcsClient::expect`] and the
/// publish/play helpers. Every message received is kept in [`WcsClient::seen`] for failure
/// messages.
pub struct WcsClient {
    ws: WebSocket<TcpStream>,
    /// Every JSON message received so far, in order.
    pub seen: Vec<Value>,
}

impl WcsClient {
    /// Opens the websocket (no subprotocol, like the SDK). Panics if the handshake fails.
    pub fn connect(url: &str) -> WcsClient {
        Self::try_connect(url).unwrap_or_else(|e| panic!("websocket connect to {url}: {e}"))
    }

    /// Opens the websocket from the local address `from` (e.g. `127.0.0.2`, another loopback
    /// address, to look like another client host). Panics if the handshake fails.
    pub fn connect_from(url: &str, from: std::net::IpAddr) -> WcsClient {
        let authority = url.strip_prefix("ws://").expect("a ws:// URL");
        let addr: SocketAddr = authority.split('/').next().unwrap().parse().unwrap();
        let socket = socket2::Socket::new(
            socket2::Domain::for_address(addr),
            socket2::Type::STREAM,
            None,
        )
        .unwrap();
        socket
            .bind(&SocketAddr::new(from, 0).into())
            .unwrap_or_else(|e| panic!("bind {from}: {e}"));
        socket
            .connect_timeout(&addr.into(), REPLY_TIMEOUT)
            .unwrap_or_else(|e| panic!("connect from {from}: {e}"));
        let stream: TcpStream = socket.into();
        stream.set_read_timeout(Some(REPLY_TIMEOUT)).unwrap();
        stream.set_nodelay(true).unwrap();
        let (ws, _response) = tungstenite::client(url, stream)
            .unwrap_or_else(|e| panic!("websocket handshake from {from}: {e}"));
        WcsClient {
            ws,
            seen: Vec::new(),
        }
    }

    /// Opens the websocket, returning the error text instead of panicking.
    pub fn try_connect(url: &str) -> Result<WcsClient, String> {
        let authority = url
            .strip_prefix("ws://")
            .ok_or_else(|| format!("not a ws:// URL: {url}"))?;
        let host_port = authority.split('/').next().unwrap_or(authority);
        let addr: SocketAddr = host_port
            .parse()
            .map_err(|e| format!("bad address {host_port}: {e}"))?;
        let stream = TcpStream::connect_timeout(&addr, REPLY_TIMEOUT).map_err(|e| e.to_string())?;
        stream
            .set_read_timeout(Some(REPLY_TIMEOUT))
            .map_err(|e| e.to_string())?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let (ws, _response) = tungstenite::client(url, stream).map_err(|e| e.to_string())?;
        Ok(WcsClient {
            ws,
            seen: Vec::new(),
        })
    }

    /// Sends `{"message": message, "data": [payload]}`.
    pub fn send(&mut self, message: &str, payload: Value) {
        self.send_raw(&client::frame(message, &payload));
    }

    /// Sends one text frame exactly as given (for malformed input).
    pub fn send_raw(&mut self, text: &str) {
        self.ws
            .send(Message::text(text))
            .unwrap_or_else(|e| panic!("websocket send failed: {e}"));
    }

    /// Sends one text frame, returning the error instead of panicking (the server may already
    /// have closed the connection).
    pub fn try_send_raw(&mut self, text: &str) -> Result<(), String> {
        self.ws.send(Message::text(text)).map_err(|e| e.to_string())
    }

    /// Reads the next text frame within `timeout`; answers server pings (JSON and control frames)
    /// but still returns JSON pings to the caller.
    pub fn next(&mut self, timeout: Duration) -> Incoming {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Incoming::Timeout;
            }
            if self.ws.get_mut().set_read_timeout(Some(left)).is_err() {
                return Incoming::Closed;
            }
            match self.ws.read() {
                Ok(Message::Text(text)) => {
                    let Ok(value) = serde_json::from_str::<Value>(text.as_str()) else {
                        panic!("server sent a text frame that is not JSON: {text:?}");
                    };
                    if message_name(&value) == Some("ping") {
                        self.send_raw(&client::pong());
                    }
                    self.seen.push(value.clone());
                    return Incoming::Json(value);
                }
                Ok(Message::Close(_)) => return Incoming::Closed,
                Ok(_) => {}
                Err(tungstenite::Error::Io(e))
                    if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
                {
                    return Incoming::Timeout;
                }
                Err(_) => return Incoming::Closed,
            }
        }
    }

    /// The next JSON message within `timeout`, or `None` on timeout or close.
    pub fn recv_timeout(&mut self, timeout: Duration) -> Option<Value> {
        match self.next(timeout) {
            Incoming::Json(value) => Some(value),
            Incoming::Closed | Incoming::Timeout => None,
        }
    }

    /// Waits up to `timeout` for the server to close the connection, discarding messages.
    pub fn wait_closed(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left) {
                Incoming::Closed => return true,
                Incoming::Timeout => return false,
                Incoming::Json(_) => {}
            }
        }
    }

    /// Waits for a message named `message_name` for which `pred` (given the whole message)
    /// holds, skipping pings and other messages. Panics on timeout or close with what was seen.
    pub fn expect(
        &mut self,
        message_name: &str,
        pred: impl Fn(&Value) -> bool,
        timeout: Duration,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left) {
                Incoming::Json(value) => {
                    if message_name_is(&value, message_name) && pred(&value) {
                        return value;
                    }
                }
                Incoming::Timeout => panic!(
                    "no matching {message_name:?} within {timeout:?}; seen: {}",
                    self.seen_summary()
                ),
                Incoming::Closed => panic!(
                    "connection closed while waiting for {message_name:?}; seen: {}",
                    self.seen_summary()
                ),
            }
        }
    }

    /// Collects every non-ping message that arrives within `window` (for asserting that
    /// something did NOT happen).
    pub fn drain_for(&mut self, window: Duration) -> Vec<Value> {
        let deadline = Instant::now() + window;
        let mut out = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left) {
                Incoming::Json(value) if message_name(&value) != Some("ping") => out.push(value),
                Incoming::Json(_) => {}
                Incoming::Closed | Incoming::Timeout => return out,
            }
        }
    }

    /// Asks `availableStream` for `name`; true when the server answers the string "true".
    #[allow(dead_code)] // not every test binary asks
    pub fn is_available(&mut self, name: &str) -> bool {
        self.send_raw(&client::available_stream(&unique_id(), name));
        let reply = self.expect("availableStream", |_| true, REPLY_TIMEOUT);
        matches!(
            client::parse_server_value(&reply),
            Ok(ServerEvent::Available {
                available: true,
                ..
            })
        )
    }

    /// Sends `connection` like the SDK does and waits for `getUserData`; returns its `data[0]`.
    pub fn create_session(&mut self) -> Value {
        self.send_raw(&client::connection(&Hello::browser("rtcdn-tests")));
        let reply = self.expect("getUserData", |_| true, REPLY_TIMEOUT);
        reply["data"][0].clone()
    }

    /// Sends `publishStream` with `sdp` and waits for the outcome: `Ok` once both `setRemoteSDP`
    /// and status PUBLISHING arrived, `Err(info)` on status FAILED.
    pub fn publish(&mut self, name: &str, sdp: &str) -> Result<Negotiated, String> {
        let id = unique_id();
        self.send_raw(&client::publish_stream(
            &StreamDesc::av(&id, name),
            sdp,
            None,
        ));
        self.negotiate(id, name, "PUBLISHING")
    }

    /// Sends `playStream` with `sdp` and waits for the outcome: `Ok` once both `setRemoteSDP`
    /// and status PLAYING arrived, `Err(info)` on status FAILED.
    pub fn play(&mut self, name: &str, sdp: &str) -> Result<Negotiated, String> {
        let id = unique_id();
        self.send_raw(&client::play_stream(&StreamDesc::av(&id, name), sdp));
        self.negotiate(id, name, "PLAYING")
    }

    fn negotiate(&mut self, id: String, name: &str, success: &str) -> Result<Negotiated, String> {
        let deadline = Instant::now() + REPLY_TIMEOUT;
        let mut answer: Option<String> = None;
        let mut succeeded = false;
        loop {
            if succeeded {
                if let Some(answer_sdp) = answer.take() {
                    return Ok(Negotiated {
                        media_session_id: id,
                        name: name.to_owned(),
                        answer_sdp,
                    });
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let value = match self.next(left) {
                Incoming::Json(value) => value,
                other => panic!(
                    "{name}: no {success}/FAILED for {id} ({other:?}); seen: {}",
                    self.seen_summary()
                ),
            };
            match client::parse_server_value(&value) {
                Ok(ServerEvent::RemoteSdp {
                    media_session_id,
                    sdp,
                }) if media_session_id == id => answer = Some(sdp),
                Ok(ServerEvent::StreamStatus(st)) if st.media_session_id == id => {
                    if st.status == success {
                        succeeded = true;
                    } else if st.status == "FAILED" {
                        return Err(st.info);
                    }
                }
                Err(e) => panic!("{name}: unreadable server message ({e}): {value}"),
                Ok(_) => {}
            }
        }
    }

    /// Sends `unPublishStream` for `stream` and returns the `(status, info)` the server answers
    /// for it (expected: UNPUBLISHED).
    pub fn unpublish(&mut self, stream: &Negotiated) -> (String, String) {
        let desc = StreamDesc::av(&stream.media_session_id, &stream.name);
        self.send_raw(&client::unpublish_stream(&desc, "PUBLISHING"));
        self.expect_status(&stream.media_session_id, |_| true, REPLY_TIMEOUT)
    }

    /// Sends `stopStream` for `stream` and returns the `(status, info)` the server answers for it
    /// (expected: STOPPED).
    pub fn stop(&mut self, stream: &Negotiated) -> (String, String) {
        let desc = StreamDesc::av(&stream.media_session_id, &stream.name);
        self.send_raw(&client::stop_stream(&desc, "PLAYING"));
        self.expect_status(&stream.media_session_id, |_| true, REPLY_TIMEOUT)
    }

    /// Waits for a `notifyStreamStatusEvent` for `media_session_id` whose status satisfies
    /// `pred`; returns `(status, info)`.
    pub fn expect_status(
        &mut self,
        media_session_id: &str,
        pred: impl Fn(&str) -> bool,
        timeout: Duration,
    ) -> (String, String) {
        let value = self.expect(
            "notifyStreamStatusEvent",
            |v| stream_status(v, media_session_id).is_some_and(|(status, _)| pred(&status)),
            timeout,
        );
        stream_status(&value, media_session_id).expect("matched above")
    }

    /// Closes the websocket politely (the server should treat it like a disconnect).
    pub fn close(mut self) {
        let _ = self.ws.close(None);
        let _ = self.ws.flush();
        // Read until the server's close reply or EOF, bounded.
        let _ = self.wait_closed(Duration::from_secs(2));
    }

    /// Short names and statuses of everything received, for failure messages.
    pub fn seen_summary(&self) -> String {
        let parts: Vec<String> = self
            .seen
            .iter()
            .filter(|v| message_name(v) != Some("ping"))
            .map(|v| {
                let name = message_name(v).unwrap_or("?");
                let data = &v["data"][0];
                match (data["status"].as_str(), data["info"].as_str()) {
                    (Some(status), Some(info)) => format!("{name}({status}, {info:?})"),
                    (Some(status), None) => format!("{name}({status})"),
                    _ => name.to_owned(),
                }
            })
            .collect();
        format!("[{}]", parts.join(", "))
    }
}

/// The `message` field of a server message.
pub fn message_name(value: &Value) -> Option<&str> {
    value["message"].as_str()
}

fn message_name_is(value: &Value, name: &str) -> bool {
    message_name(value) == Some(name)
}

/// `(status, info)` if `value` is a `notifyStreamStatusEvent` for `media_session_id`.
pub fn stream_status(value: &Value, media_session_id: &str) -> Option<(String, String)> {
    match client::parse_server_value(value) {
        Ok(ServerEvent::StreamStatus(st)) if st.media_session_id == media_session_id => {
            Some((st.status, st.info))
        }
        _ => None,
    }
}

/// A `loadbalancing.xml` naming edges on 127.0.0.1 at their websocket ports, ROUNDROBIN, with
/// `distribution` (`webrtc` or `rtp`).
#[allow(dead_code)] // not every test binary starts an origin
pub fn loadbalancing_xml(edges: &[&ServerProcess], distribution: &str) -> String {
    let nodes: String = edges
        .iter()
        .enumerate()
        .map(|(i, e)| {
            format!(
                "  <node id=\"{}\">\n    <ip>{}</ip>\n    <ws>{}</ws>\n  </node>\n",
                i + 1,
                e.http_addr().ip(),
                e.http_addr().port()
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <loadbalancer mode=\"ROUNDROBIN\" randomize=\"false\" stream_distribution=\"{distribution}\">\n\
         {nodes}</loadbalancer>\n"
    )
}
