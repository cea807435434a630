//! A relay leg whose media path dies while its websocket stays up, through the real binaries:
//! an origin relays a stream to one edge (`stream_distribution="webrtc"`), then the edge process
//! is stopped with SIGSTOP. The kernel keeps the leg's TCP websocket established, but nobody
//! answers the relay peer's ICE consent checks any more, so the origin's worker closes the leg's
//! peer after `ice_consent_timeout` (reason `ConsentExpired`) and the origin drops the route.
//! While the edge stays stopped the origin's retries hang in the websocket handshake (the kernel
//! accepts the TCP connection) until the connect timeout, with a doubling backoff between
//! attempts. After SIGCONT the origin relays the stream again and a new player on the edge gets
//! every packet byte-exact; the origin's publisher is never disturbed.

mod common;

use std::process::Command;
use std::time::Duration;

use common::media::{join, pump_until};
use common::source::{check_byte_exact, play_on_edge, stream_until, Source};
use common::{ServerProcess, WcsClient};
use dataplane::dtls::DtlsCertificate;

const STREAM: &str = "dead-media";
/// The origin's consent timeout: longer than the consent-check interval (2 s ± 20 %).
const CONSENT_TIMEOUT_MS: &str = "4000";
/// Bound on the wait for the leg's expiry: generous for the configured 4 s, but shorter than
/// the 30 s default, so a relay leg that ignored `ice_consent_timeout` fails the test.
const EXPIRY_WAIT: Duration = Duration::from_secs(20);
/// Bound on any other wait for the relay (backoff is at most 10 s, a hung connect 5 s).
const RELAY_WAIT: Duration = Duration::from_secs(40);
const PROPS: [(&str, &str); 2] = [
    ("codecs", "opus,vp8,h264"),
    ("ice_consent_timeout", CONSENT_TIMEOUT_MS),
];

/// Sends `signal` (`STOP`, `CONT`) to `pid` with kill(1).
fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{signal} {pid}: {status}");
}

/// A process stopped with SIGSTOP; continued on [`Stopped::resume`] or drop.
struct Stopped(Option<u32>);

impl Stopped {
    fn new(pid: u32) -> Self {
        signal(pid, "STOP");
        Stopped(Some(pid))
    }

    fn resume(mut self) {
        if let Some(pid) = self.0.take() {
            signal(pid, "CONT");
        }
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        if let Some(pid) = self.0.take() {
            let _ = Command::new("kill")
                .arg("-CONT")
                .arg(pid.to_string())
                .status();
        }
    }
}

/// The origin's live relay routes (`/rest-api/cdn/show_routes`: route id -> stream name).
fn routes(origin: &ServerProcess) -> Vec<(String, String)> {
    let (code, body) = origin.http_get("/rest-api/cdn/show_routes");
    assert_eq!(code, 200, "show_routes: {body}");
    let value: serde_json::Value = serde_json::from_str(&body).expect("show_routes is JSON");
    value
        .as_object()
        .expect("show_routes is an object")
        .iter()
        .map(|(id, name)| (id.clone(), name.as_str().unwrap_or_default().to_owned()))
        .collect()
}

/// Whether `edge` has `STREAM` (asked on a fresh websocket).
fn available(edge: &ServerProcess) -> bool {
    let mut wcs = WcsClient::connect(&edge.ws_url());
    wcs.create_session();
    wcs.is_available(STREAM)
}

/// `text` without ANSI colour sequences (the server's log is coloured).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn stopped_edge_expires_by_consent_and_is_re_relayed() {
    let edge = ServerProcess::start(&PROPS);
    let xml = common::loadbalancing_xml(&[&edge], "webrtc");
    let mut origin_props = PROPS.to_vec();
    origin_props.push(("load_balancing_enabled", "true"));
    let origin = ServerProcess::start_with_files(&origin_props, &[("loadbalancing.xml", &xml)]);
    let cert = DtlsCertificate::generate().expect("client certificate");
    let mut source = Source::new("before", 0x7171_0001, 0x7171_0002);
    let mut publisher = join(&origin, STREAM, &source.publish_spec(&cert), &cert, true);
    let publisher_connected =
        pump_until(&mut [&mut publisher.peer], Duration::from_secs(10), |ps| {
            ps[0].conn.is_connected()
        });
    assert!(publisher_connected, "publisher ICE+DTLS with the origin");

    // The leg works: the edge has the stream and a player there gets it byte-exact.
    stream_until(
        &mut publisher.peer,
        &mut source,
        ("relayed to the edge", RELAY_WAIT),
        || available(&edge),
    );
    let mut first = play_on_edge(&edge, STREAM, "first", &mut publisher, &mut source, &cert);
    check_byte_exact(&mut publisher, &mut [&mut first], &mut source, 60);
    let route = routes(&origin);
    assert_eq!(route.len(), 1, "one live route: {route:?}");
    assert_eq!(route[0].1, STREAM);
    // That player leaves before the edge stops (its own consent is not what this tests).
    let first_id = first.negotiated.clone();
    let (status, _) = first.wcs.stop(&first_id);
    assert_eq!(status, "STOPPED");
    drop(first);

    // The edge stops: its websocket stays established, its media path answers nothing.
    let edge_pid = edge.pid().expect("edge pid");
    let stopped = Stopped::new(edge_pid);
    let mut source = source.retagged("while-stopped");
    stream_until(
        &mut publisher.peer,
        &mut source,
        (
            "the origin dropped the route to the stopped edge",
            EXPIRY_WAIT,
        ),
        // The log line is written before the route goes; the test reads the log via a pipe.
        || routes(&origin).is_empty() && origin.stderr_output().contains("relay leg failed"),
    );
    let log = strip_ansi(&origin.stderr_output());
    let lines: Vec<&str> = log.lines().collect();
    let closed: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].contains("relay peer closed by worker"))
        .collect();
    assert_eq!(
        closed.len(),
        1,
        "one relay peer closed on the origin:\n{log}"
    );
    assert!(
        lines[closed[0]].contains("reason=ConsentExpired"),
        "closed by consent expiry: {}",
        lines[closed[0]]
    );
    assert!(
        !lines[..closed[0]]
            .iter()
            .any(|l| l.contains("relay websocket closed") || l.contains("relay leg failed")),
        "the leg and its websocket were up until its peer expired:\n{log}"
    );

    // While the edge stays stopped the origin keeps retrying: the kernel accepts the TCP
    // connection, the websocket handshake hangs until the origin gives up, and the next
    // attempt waits twice as long.
    stream_until(
        &mut publisher.peer,
        &mut source,
        ("a retry toward the stopped edge timed out", RELAY_WAIT),
        || {
            let log = origin.stderr_output();
            log.contains("relay: connect to edge timed out")
                && log.matches("relay leg failed; retrying").count() >= 2
        },
    );
    let log = strip_ansi(&origin.stderr_output());
    let delays: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("relay leg failed; retrying"))
        .filter_map(|l| l.split_whitespace().find(|w| w.starts_with("delay=")))
        .collect();
    // A third retry may already be logged if polling was slow: the first two are the backoff.
    assert_eq!(
        delays.get(..2),
        Some(&["delay=500ms", "delay=1s"][..]),
        "backoff after the consent expiry, then after the hung connect:\n{log}"
    );
    assert!(
        routes(&origin).is_empty(),
        "no route while the edge is stopped"
    );

    // The edge continues: the origin relays the stream again after its backoff.
    stopped.resume();
    let mut source = source.retagged("after");
    stream_until(
        &mut publisher.peer,
        &mut source,
        ("re-relayed to the edge after SIGCONT", RELAY_WAIT),
        || !routes(&origin).is_empty() && available(&edge),
    );
    let route = routes(&origin);
    assert_eq!(route.len(), 1, "one live route again: {route:?}");
    let mut second = play_on_edge(&edge, STREAM, "second", &mut publisher, &mut source, &cert);
    check_byte_exact(&mut publisher, &mut [&mut second], &mut source, 60);

    // The origin's own publisher never noticed.
    let id = publisher.negotiated.media_session_id.clone();
    let statuses: Vec<(String, String)> = publisher
        .wcs
        .seen
        .iter()
        .filter_map(|v| common::stream_status(v, &id))
        .collect();
    assert_eq!(
        statuses,
        [("PUBLISHING".to_owned(), String::new())],
        "the publisher's statuses"
    );
}
