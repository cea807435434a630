//! `--log-format json`: the real binary writes one JSON object per log line on stderr (for log
//! collectors), with the level, the target and the event's fields; text stays the default.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// Starts the binary with `args` and free ports, returns its first stderr lines (until the
/// self-signed certificate warning, which follows the workers' lines) and stops it.
fn first_log_lines(args: &[&str]) -> Vec<String> {
    let dir = std::env::temp_dir().join(format!("rtcdn-json-logs-{}", common::unique_id()));
    std::fs::create_dir_all(&dir).expect("config dir");
    let mut child = Command::new(common::server_binary())
        .arg("--config-dir")
        .arg(&dir)
        .args([
            "--ws-port",
            "0",
            "--wss-port",
            "0",
            "--media-port-from",
            "0",
        ])
        .args(args)
        .env_remove("RTCDN_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn rtcdn");
    let (tx, rx) = mpsc::channel();
    let stderr = child.stderr.take().expect("stderr is piped");
    thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut lines = Vec::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(10)) {
        let done = line.contains("self-signed certificate");
        lines.push(line);
        if done {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    lines
}

#[test]
fn json_log_lines_are_objects_with_level_target_and_fields() {
    let lines = first_log_lines(&["--log-format", "json"]);
    assert!(lines.len() >= 2, "{lines:?}");
    for line in &lines {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(v["level"].is_string(), "{line}");
        assert!(v["target"].is_string(), "{line}");
        assert!(v["timestamp"].is_string(), "{line}");
        assert!(v["fields"]["message"].is_string(), "{line}");
    }
    let worker = lines
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| {
            v["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("worker 0 on udp"))
        })
        .expect("the worker's line");
    assert_eq!(worker["level"], "INFO");
    // Structured fields stay fields: the certificate warning carries its path.
    let warning: serde_json::Value = serde_json::from_str(lines.last().unwrap()).unwrap();
    assert_eq!(warning["level"], "WARN");
    assert!(warning["fields"]["certificate"]
        .as_str()
        .is_some_and(|c| c.ends_with("self-signed.crt")));

    let text = first_log_lines(&[]);
    assert!(
        !text.is_empty() && text.iter().all(|l| !l.starts_with('{')),
        "{text:?}"
    );
}
