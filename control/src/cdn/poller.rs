//! The CDN task on the control thread: polls every edge's `/?action=stat` once per
//! [`POLL_PERIOD`] with a tiny HTTP/1.1 client, feeds the [`LoadBalancer`], answers the
//! balance and edge-listing requests of [`CdnHandle`] and takes a re-read `loadbalancing.xml` (SIGHUP): removed
//! nodes are no longer polled or chosen, new ones are polled from the next tick.
//!
//! Owns the I/O around the sans-IO balancer (sockets, the clock, the random source). It must
//! not block the control thread: every poll is its own task with a [`POLL_TIMEOUT`].

use std::collections::HashSet;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;

use super::balancer::{Availability, LoadBalancer, NodeUpdate};
use super::config::{LoadBalancingConfig, NodeConfig};
use super::stats::{parse_stat_page, StatParseError};
use super::{CdnHandle, CdnInput, Choice};

/// How often each edge is polled.
pub const POLL_PERIOD: Duration = Duration::from_secs(1);
/// How long one poll (connect, request, whole response) may take.
pub const POLL_TIMEOUT: Duration = Duration::from_secs(1);
/// Stats older than this make a node unreachable (three missed polls).
pub const STALE_AFTER: Duration = Duration::from_secs(3);
/// The largest stat page accepted.
const MAX_RESPONSE: u64 = 64 * 1024;

/// Why polling a node failed.
#[derive(Debug, thiserror::Error)]
pub enum PollError {
    /// Connecting, writing or reading failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The whole exchange took longer than allowed.
    #[error("timed out")]
    Timeout,
    /// The response is not HTTP/1.x we understand.
    #[error("malformed HTTP response")]
    BadResponse,
    /// The node answered with a status other than 200.
    #[error("HTTP status {0}")]
    Status(u16),
    /// The body is not a stat page.
    #[error("bad stat page: {0}")]
    Stat(#[from] StatParseError),
}

/// Starts the CDN task for `cfg` on the current tokio runtime. The task stops when every
/// clone of the returned handle is dropped.
pub fn spawn(cfg: &LoadBalancingConfig) -> CdnHandle {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(run(cfg.clone(), rx));
    CdnHandle::new(tx)
}

async fn run(cfg: LoadBalancingConfig, mut rx: mpsc::UnboundedReceiver<CdnInput>) {
    let mut lb = LoadBalancer::new(&cfg, STALE_AFTER);
    let mut rng = StdRng::from_entropy();
    let (poll_tx, mut poll_rx) = mpsc::unbounded_channel::<(NodeConfig, NodeUpdate, Instant)>();
    // Node ids with a poll under way (at most one per node).
    let mut in_flight: HashSet<String> = HashSet::new();
    let mut tick = tokio::time::interval(POLL_PERIOD);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                for node in lb.nodes() {
                    if !in_flight.insert(node.id.clone()) {
                        continue;
                    }
                    let node = node.clone();
                    let tx = poll_tx.clone();
                    tokio::spawn(async move {
                        let update = match poll(&node).await {
                            Ok(stats) => NodeUpdate::Stats(stats),
                            Err(e) => {
                                tracing::debug!(node = %node.id, host = %node.host, error = %e, "edge poll failed");
                                NodeUpdate::Unreachable
                            }
                        };
                        let _ = tx.send((node, update, Instant::now()));
                    });
                }
            }
            Some((node, update, at)) = poll_rx.recv() => {
                in_flight.remove(&node.id);
                let was = lb.availability(&node.id, at);
                // A node a reload removed or moved meanwhile: the result is dropped.
                if lb.update_node(&node, update, at) {
                    let is = lb.availability(&node.id, at);
                    if was != is {
                        tracing::info!(node = %node.id, host = %node.host, was = ?was, now = ?is, "edge availability changed");
                    }
                }
            }
            input = rx.recv() => {
                let Some(input) = input else { break };
                handle(input, &mut lb, &mut rng);
            }
        }
    }
}

fn handle(input: CdnInput, lb: &mut LoadBalancer, rng: &mut StdRng) {
    match input {
        CdnInput::Reload(cfg) => {
            lb.reload(&cfg);
            let now = Instant::now();
            let up = lb
                .nodes()
                .filter(|n| lb.availability(&n.id, now) == Availability::Up)
                .count();
            tracing::info!(nodes = lb.nodes().count(), up, mode = ?cfg.mode, "balancer reloaded");
        }
        CdnInput::Balance(reply) => {
            let choice = lb.choose(Instant::now(), rng).map(|n| Choice {
                server: n.url_host(),
                ws: n.ws,
                wss: n.wss,
            });
            let _ = reply.send(choice);
        }
        CdnInput::Edges(reply) => {
            let _ = reply.send(lb.edges(Instant::now()));
        }
    }
}

/// Polls one node's stat page, within [`POLL_TIMEOUT`].
pub async fn poll(node: &NodeConfig) -> Result<super::balancer::NodeStats, PollError> {
    let body = http_get(&node.host, node.http, "/?action=stat", POLL_TIMEOUT).await?;
    Ok(parse_stat_page(&body)?)
}

/// A minimal HTTP/1.1 `GET` with `Connection: close`: the body of a 200 answer (read as
/// UTF-8, lossy), de-chunked if needed. The whole exchange is bounded by `timeout`, the
/// response by 64 KiB.
pub async fn http_get(
    host: &str,
    port: u16,
    path: &str,
    timeout: Duration,
) -> Result<String, PollError> {
    tokio::time::timeout(timeout, async {
        let mut stream = TcpStream::connect((host, port)).await?;
        let host_header = match host.parse::<std::net::Ipv6Addr>() {
            Ok(v6) => format!("[{v6}]:{port}"),
            Err(_) => format!("{host}:{port}"),
        };
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: rtcdn\r\n\
             Accept: text/plain\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await?;
        let mut raw = Vec::new();
        stream.take(MAX_RESPONSE).read_to_end(&mut raw).await?;
        parse_response(&raw)
    })
    .await
    .map_err(|_| PollError::Timeout)?
}

/// Splits a complete HTTP/1.x response; the body of a 200, else the status as an error.
fn parse_response(raw: &[u8]) -> Result<String, PollError> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or(PollError::BadResponse)?;
    let head = std::str::from_utf8(&raw[..split]).map_err(|_| PollError::BadResponse)?;
    let body = &raw[split + 4..];
    let mut lines = head.split("\r\n");
    let status_line = lines.next().ok_or(PollError::BadResponse)?;
    let mut parts = status_line.split(' ');
    if !parts.next().is_some_and(|v| v.starts_with("HTTP/1.")) {
        return Err(PollError::BadResponse);
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or(PollError::BadResponse)?;
    if status != 200 {
        return Err(PollError::Status(status));
    }
    let mut chunked = false;
    let mut length = None;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            return Err(PollError::BadResponse);
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        } else if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse::<usize>().map_err(|_| PollError::BadResponse)?);
        }
    }
    let body = if chunked {
        dechunk(body).ok_or(PollError::BadResponse)?
    } else if let Some(len) = length {
        body.get(..len).ok_or(PollError::BadResponse)?.to_vec()
    } else {
        body.to_vec()
    };
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// Decodes a complete chunked body (extensions and trailers ignored); `None` if truncated
/// or malformed.
fn dechunk(mut body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = body.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&body[..eol]).ok()?;
        let size_text = size_text.split(';').next()?.trim();
        let size = usize::from_str_radix(size_text, 16).ok()?;
        body = &body[eol + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(body.get(..size)?);
        body = body.get(size..)?.strip_prefix(b"\r\n")?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    #[test]
    fn responses_parse() {
        let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX: y\r\n\r\nhello, extra";
        assert_eq!(parse_response(ok).unwrap(), "hello");
        let close = b"HTTP/1.0 200 OK\r\n\r\nall of it";
        assert_eq!(parse_response(close).unwrap(), "all of it");
        let chunked =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n5;x=1\r\npedia\r\n0\r\n\r\n";
        assert_eq!(parse_response(chunked).unwrap(), "Wikipedia");
        assert!(matches!(
            parse_response(b"HTTP/1.1 404 Not Found\r\n\r\n"),
            Err(PollError::Status(404))
        ));
    }

    #[test]
    fn bad_responses_are_errors() {
        for raw in [
            &b""[..],
            b"HTTP/1.1 200 OK\r\n",
            b"SSH-2.0-OpenSSH\r\n\r\n",
            b"HTTP/1.1 abc OK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\nshort",
            b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWi",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n",
            b"\xff\xfe\r\n\r\n",
        ] {
            assert!(
                matches!(parse_response(raw), Err(PollError::BadResponse)),
                "{:?}",
                String::from_utf8_lossy(raw)
            );
        }
    }

    /// Serves one canned answer per connection, forever.
    async fn canned(answer: &'static [u8]) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                let _ = s.write_all(answer).await;
            }
        });
        port
    }

    fn node(port: u16) -> NodeConfig {
        NodeConfig {
            id: "1".into(),
            host: "127.0.0.1".into(),
            ws: port,
            wss: 8443,
            http: port,
            line: 1,
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn polls_a_stat_page_over_tcp() {
        let port = canned(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n\
              -----Connection Stats-----\ncalls=7\nsystemCpuLoad=0.5\n",
        )
        .await;
        let stats = poll(&node(port)).await.unwrap();
        assert_eq!(stats.calls, 7);
        assert_eq!(stats.system_cpu_load, 0.5);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn failing_nodes_are_errors() {
        let html = canned(b"HTTP/1.1 200 OK\r\n\r\n<html></html>").await;
        assert!(matches!(poll(&node(html)).await, Err(PollError::Stat(_))));
        let missing = canned(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n").await;
        assert!(matches!(
            poll(&node(missing)).await,
            Err(PollError::Status(404))
        ));
        // A listener that never answers: the timeout ends the poll.
        let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = silent.local_addr().unwrap().port();
        let r = http_get("127.0.0.1", port, "/", Duration::from_millis(50)).await;
        assert!(matches!(r, Err(PollError::Timeout)), "{r:?}");
        drop(silent);
        // Nothing listens any more.
        assert!(matches!(poll(&node(port)).await, Err(PollError::Io(_))));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_task_balances_over_polled_nodes_and_keeps_routes() {
        let a = canned(b"HTTP/1.1 200 OK\r\n\r\n-----C-----\ncalls=0\n").await;
        let b = canned(b"HTTP/1.1 200 OK\r\n\r\n-----C-----\ncalls=0\n").await;
        let mut cfg = super::super::config::parse(
            std::path::Path::new("loadbalancing.xml"),
            "<loadbalancer mode=\"ROUNDROBIN\"><node id=\"a\"><ip>127.0.0.1</ip></node>\
             <node id=\"b\"><ip>127.0.0.1</ip></node></loadbalancer>",
        )
        .unwrap()
        .0;
        cfg.nodes[0].ws = a;
        cfg.nodes[0].http = a;
        cfg.nodes[1].ws = b;
        cfg.nodes[1].http = b;
        let handle = spawn(&cfg);
        // Bounded wait for the first polls.
        let mut first = None;
        for _ in 0..100 {
            first = handle.balance().await.unwrap();
            if first.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let first = first.expect("a node comes up");
        // Once both are up, they alternate.
        let mut seen = vec![first.ws];
        for _ in 0..200 {
            if let Some(c) = handle.balance().await.unwrap() {
                seen.push(c.ws);
            }
            if seen.contains(&a) && seen.contains(&b) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(seen.contains(&a) && seen.contains(&b), "{seen:?}");
        let edges = handle.edges().await.unwrap();
        let ids: Vec<_> = edges.iter().map(|e| e.node.id.as_str()).collect();
        assert_eq!(ids, ["a", "b"]);
        assert!(edges.iter().all(|e| e.reachable), "{edges:?}");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_reload_drops_removed_nodes_at_once_and_polls_new_ones() {
        let a = canned(b"HTTP/1.1 200 OK\r\n\r\n-----C-----\ncalls=0\n").await;
        let b = canned(b"HTTP/1.1 200 OK\r\n\r\n-----C-----\ncalls=0\n").await;
        let draining =
            canned(b"HTTP/1.1 200 OK\r\n\r\n-----C-----\ncalls=0\n-----N-----\ndraining=true\n")
                .await;
        let lb = |nodes: &[(&str, u16)]| {
            let xml: String = nodes
                .iter()
                .map(|(id, _)| format!("<node id=\"{id}\"><ip>127.0.0.1</ip></node>"))
                .collect();
            let mut cfg = super::super::config::parse(
                std::path::Path::new("loadbalancing.xml"),
                &format!("<loadbalancer>{xml}</loadbalancer>"),
            )
            .unwrap()
            .0;
            for (node, (_, port)) in cfg.nodes.iter_mut().zip(nodes) {
                node.ws = *port;
                node.http = *port;
            }
            cfg
        };
        let handle = spawn(&lb(&[("a", a)]));
        let mut first = None;
        for _ in 0..100 {
            first = handle.balance().await.unwrap();
            if first.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(first.map(|c| c.ws), Some(a));
        assert!(handle.reload(lb(&[("b", b), ("d", draining)])));
        // Inputs are handled in order: the reload is in effect for the next answer.
        let next = handle.balance().await.unwrap();
        assert!(
            next.is_none(),
            "a is removed at once, b not polled yet: {next:?}"
        );
        let mut seen = Vec::new();
        for _ in 0..100 {
            if let Some(c) = handle.balance().await.unwrap() {
                seen.push(c.ws);
            }
            if seen.len() >= 5 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(
            seen.len() >= 5 && seen.iter().all(|&p| p == b),
            "only b: the draining node is polled but never chosen: {seen:?}"
        );
    }
}
