//! Unit tests of configuration loading: every key, every bad value, warnings, properties
//! syntax, and the messages an operator reads. This file holds the shared helpers, loading from
//! a directory and `--validate`; the keys and the syntax are in the files below by concept.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::*;

fn parse(text: &str) -> Result<(Config, Vec<ConfigWarning>), ConfigError> {
    Config::from_properties(Path::new(FILE_NAME), text.as_bytes())
}

fn ok(text: &str) -> Config {
    let (cfg, warnings) = parse(text).expect("valid config");
    assert_eq!(warnings, vec![], "unexpected warnings");
    cfg
}

fn warnings(text: &str) -> Vec<(usize, String, WarningKind)> {
    let (_, w) = parse(text).expect("valid config");
    w.into_iter().map(|w| (w.line, w.key, w.kind)).collect()
}

/// The `(line, key, value)` of a `BadValue`, and its Display text.
fn bad(text: &str) -> (usize, String, String, String) {
    match parse(text) {
        Err(e @ ConfigError::BadValue { .. }) => {
            let shown = e.to_string();
            let ConfigError::BadValue {
                line, key, value, ..
            } = e
            else {
                unreachable!()
            };
            (line, key, value, shown)
        }
        other => panic!("expected BadValue, got {other:?}"),
    }
}

/// A fresh empty directory under the system temp dir.
fn temp_dir() -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "rtcdn-config-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

mod access;
mod network;
mod syntax;
mod tuning;

#[test]
fn defaults_run_a_single_local_node() {
    let cfg = Config::default();
    assert_eq!(cfg.ip, "127.0.0.1".parse::<IpAddr>().unwrap());
    assert_eq!(cfg.ws_port, 8080);
    assert_eq!((cfg.media_port_from, cfg.media_port_to), (31001, 32000));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert_eq!(cfg.worker_threads, cores.min(MAX_WORKER_THREADS));
    assert_eq!(cfg.video_codecs, VideoCodec::ALL.to_vec());
    assert_eq!(cfg.keep_alive_interval, Duration::from_millis(5000));
    assert_eq!(cfg.keep_alive_probes, 10);
    assert_eq!(cfg.ice_consent_timeout, Duration::from_secs(30));
    assert_eq!(cfg.dtls_handshake_timeout, Duration::from_secs(5));
    assert_eq!(cfg.max_handshakes_per_worker, 256);
    assert_eq!(cfg.web_dir, None);
    cfg.validate().expect("defaults are valid");
    assert_eq!(Config::load(None).unwrap(), (cfg.clone(), vec![]));
    assert_eq!(ok(""), cfg);
    assert_eq!(ok("# only a comment\n\n! another\n"), cfg);
}

#[test]
fn missing_file_in_existing_dir_gives_defaults() {
    let dir = temp_dir();
    let (cfg, warnings) = Config::load(Some(&dir)).unwrap();
    let expected = Config {
        config_dir: Some(dir.clone()),
        ..Config::default()
    };
    assert_eq!(cfg, expected);
    assert!(warnings.is_empty());
}

#[test]
fn missing_dir_is_an_io_error_naming_it() {
    let dir = temp_dir().join("nope");
    let err = Config::load(Some(&dir)).unwrap_err();
    assert!(matches!(err, ConfigError::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("nope"), "{err}");
}

#[test]
fn load_reads_the_file_in_the_dir() {
    let dir = temp_dir();
    std::fs::write(dir.join(FILE_NAME), "ws.port=9000\nfoo=1\n").unwrap();
    let (cfg, warnings) = Config::load(Some(&dir)).unwrap();
    assert_eq!(cfg.ws_port, 9000);
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0].file, dir.join(FILE_NAME));
    assert_eq!(warnings[0].kind, WarningKind::Unknown);
}

#[test]
fn validate_reports_overrides_without_a_file() {
    let invalid = |cfg: Config| match cfg.validate() {
        Err(ConfigError::Invalid { key, .. }) => key,
        other => panic!("expected Invalid, got {other:?}"),
    };
    let d = Config::default;
    let err = Config {
        worker_threads: 0,
        ..d()
    }
    .validate()
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "worker_threads: \"0\" must be a number of threads from 1 to 256"
    );
    assert_eq!(
        invalid(Config {
            media_port_to: 0,
            ..d()
        }),
        "media_port_to"
    );
    assert_eq!(
        invalid(Config {
            ws_port: 31002,
            ..d()
        }),
        "ws.port"
    );
    let codecs = Config {
        video_codecs: vec![],
        ..d()
    };
    assert_eq!(invalid(codecs), "codecs");
    let probes = Config {
        keep_alive_probes: 0,
        ..d()
    };
    assert_eq!(invalid(probes), "keep_alive.probes");
    let consent = Config {
        ice_consent_timeout: Duration::ZERO,
        ..d()
    };
    assert_eq!(invalid(consent), "ice_consent_timeout");
    let dtls = Config {
        dtls_handshake_timeout: Duration::ZERO,
        ..d()
    };
    assert_eq!(invalid(dtls), "dtls_handshake_timeout");
    let ip = Config {
        ip: "0.0.0.0".parse().unwrap(),
        ..d()
    };
    assert_eq!(invalid(ip), "ip");
}
