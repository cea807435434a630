//! Unit tests of configuration loading: every key, every bad value, warnings, properties
//! syntax, and the messages an operator reads.

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
fn every_key_is_applied() {
    let dir = temp_dir();
    let web = dir.join("www");
    std::fs::create_dir(&web).unwrap();
    let text = format!(
        "ip=192.0.2.10\nws.port=9080\nmedia_port_from=40000\nmedia_port_to=40099\n\
         worker_threads=3\ncodecs=opus,vp8,h264\nkeep_alive.server_interval=2500\n\
         keep_alive.probes=4\nice_consent_timeout=12000\ndtls_handshake_timeout=2500\n\
         max_handshakes_per_worker=16\nweb_dir={}\n",
        web.display()
    );
    let cfg = ok(&text);
    assert_eq!(cfg.ip, "192.0.2.10".parse::<IpAddr>().unwrap());
    assert_eq!(cfg.ws_port, 9080);
    assert_eq!((cfg.media_port_from, cfg.media_port_to), (40000, 40099));
    assert_eq!(cfg.worker_threads, 3);
    assert_eq!(cfg.video_codecs, vec![VideoCodec::Vp8, VideoCodec::H264]);
    assert_eq!(cfg.keep_alive_interval, Duration::from_millis(2500));
    assert_eq!(cfg.keep_alive_probes, 4);
    assert_eq!(cfg.ice_consent_timeout, Duration::from_millis(12000));
    assert_eq!(cfg.dtls_handshake_timeout, Duration::from_millis(2500));
    assert_eq!(cfg.max_handshakes_per_worker, 16);
    assert_eq!(cfg.web_dir, Some(web));
}

#[test]
fn ipv6_address_is_accepted() {
    assert_eq!(ok("ip=::1").ip, "::1".parse::<IpAddr>().unwrap());
}

#[test]
fn relative_web_dir_is_relative_to_the_file() {
    let dir = temp_dir();
    std::fs::create_dir(dir.join("site")).unwrap();
    std::fs::write(dir.join(FILE_NAME), "web_dir = site\n").unwrap();
    let (cfg, _) = Config::load(Some(&dir)).unwrap();
    assert_eq!(cfg.web_dir, Some(dir.join("site")));
}

#[test]
fn tls_self_signed_dir_is_a_path_relative_to_the_file() {
    assert_eq!(Config::default().tls_self_signed_dir, None);
    let dir = temp_dir();
    std::fs::write(dir.join(FILE_NAME), "tls_self_signed_dir = generated\n").unwrap();
    let (cfg, _) = Config::load(Some(&dir)).unwrap();
    assert_eq!(cfg.tls_self_signed_dir, Some(dir.join("generated")));
    let absolute = ok("tls_self_signed_dir=/var/lib/rtcdn/tls");
    assert_eq!(
        absolute.tls_self_signed_dir,
        Some(PathBuf::from("/var/lib/rtcdn/tls"))
    );
    let (cfg, w) = parse("tls_self_signed_dir=/srv/a\ntls_self_signed_dir=\n").unwrap();
    assert_eq!(cfg.tls_self_signed_dir, None);
    assert_eq!(
        w.last().map(|w| w.kind.clone()),
        Some(WarningKind::EmptyValue)
    );
}

#[test]
fn empty_web_dir_means_none_without_warning() {
    assert_eq!(ok("web_dir=\n").web_dir, None);
}

#[test]
fn codecs_keep_order_dedup_and_ignore_case() {
    let cfg = ok("codecs = opus , AV1,vp9, H264,av1,,vp8");
    assert_eq!(
        cfg.video_codecs,
        vec![
            VideoCodec::Av1,
            VideoCodec::Vp9,
            VideoCodec::H264,
            VideoCodec::Vp8
        ]
    );
}

#[test]
fn wcs_default_codec_list_is_accepted_silently() {
    let cfg = ok(
        "codecs=opus,alaw,ulaw,g729,speex16,g722,mpeg4-generic,telephone-event,h264,vp8,flv,mpv",
    );
    assert_eq!(cfg.video_codecs, vec![VideoCodec::H264, VideoCodec::Vp8]);
}

#[test]
fn codec_warnings() {
    assert_eq!(
        warnings("codecs=opus,h264,h246"),
        vec![(1, "codecs".into(), WarningKind::UnknownCodec("h246".into()))]
    );
    assert_eq!(
        warnings("codecs=pcmu,vp8"),
        vec![(1, "codecs".into(), WarningKind::NoOpus)]
    );
}

#[test]
fn bad_ports() {
    let (line, key, value, shown) = bad("# c\nip=127.0.0.1\nws.port=80x0\n");
    assert_eq!((line, key.as_str(), value.as_str()), (3, "ws.port", "80x0"));
    assert!(
        shown.contains("flashphoner.properties:3: ws.port: \"80x0\" is not a port number"),
        "{shown}"
    );
    for text in [
        "ws.port=65536",
        "ws.port=-1",
        "ws.port=1.5",
        "media_port_to=0",
    ] {
        let key = text.split('=').next().unwrap();
        assert_eq!(bad(text).1, key, "{text}");
    }
    // 0 asks the OS for a free port (tests, several nodes on one machine).
    let cfg = ok("ws.port=0\nmedia_port_from=0\n");
    assert_eq!((cfg.ws_port, cfg.media_port_from), (0, 0));
    assert_eq!(bad("ws.port=x").1, "ws.port");
    assert_eq!(bad("media_port_from=70000").1, "media_port_from");
    assert_eq!(bad("media_port_to=abc").1, "media_port_to");
}

#[test]
fn from_above_to_is_an_error_at_the_line() {
    let (line, key, value, shown) =
        bad("media_port_from=33000\nworker_threads=1\nmedia_port_to=32000\n");
    assert_eq!(
        (line, key.as_str(), value.as_str()),
        (1, "media_port_from", "33000")
    );
    assert!(shown.contains("is above media_port_to (32000)"), "{shown}");
}

#[test]
fn range_too_small_for_workers() {
    let (line, key, value, shown) =
        bad("worker_threads=8\nmedia_port_from=31001\nmedia_port_to=31004\n");
    assert_eq!(
        (line, key.as_str(), value.as_str()),
        (1, "worker_threads", "8")
    );
    assert!(shown.contains("holds only 4"), "{shown}");
    // Only the range is in the file: the error points at it.
    let text = format!(
        "media_port_from=31001\nmedia_port_to=31001\n{}",
        if Config::default().worker_threads == 1 {
            "worker_threads=2\n"
        } else {
            ""
        }
    );
    let (line, key, _, _) = bad(&text);
    assert_eq!(key, "worker_threads");
    assert!(line == 2 || line == 3, "line {line}");
}

#[test]
fn bad_worker_threads() {
    for v in ["0", "257", "x", "-2", "1e3"] {
        let (_, key, value, shown) = bad(&format!("worker_threads={v}"));
        assert_eq!((key.as_str(), value.as_str()), ("worker_threads", v));
        assert!(shown.contains("from 1 to 256"), "{shown}");
    }
    let cfg = ok("worker_threads=256\nmedia_port_from=10000\nmedia_port_to=20000");
    assert_eq!(cfg.worker_threads, 256);
}

#[test]
fn bad_ip() {
    for v in [
        "1.2.3",
        "localhost",
        "256.1.1.1",
        "0.0.0.0",
        "::",
        "224.0.0.1",
    ] {
        let (_, key, value, shown) = bad(&format!("ip={v}"));
        assert_eq!((key.as_str(), value.as_str()), ("ip", v), "{shown}");
    }
}

#[test]
fn codecs_without_supported_video_is_an_error() {
    let (_, key, value, shown) = bad("codecs=opus,alaw,h265,flv");
    assert_eq!(
        (key.as_str(), value.as_str()),
        ("codecs", "opus,alaw,h265,flv")
    );
    assert!(shown.contains("names no video codec"), "{shown}");
    assert_eq!(bad("codecs=,").1, "codecs");
}

#[test]
fn bad_durations_and_counts() {
    for (text, key) in [
        (
            "keep_alive.server_interval=5s",
            "keep_alive.server_interval",
        ),
        ("keep_alive.server_interval=0", "keep_alive.server_interval"),
        ("ice_consent_timeout=-5", "ice_consent_timeout"),
        ("ice_consent_timeout=0", "ice_consent_timeout"),
        ("dtls_handshake_timeout=0", "dtls_handshake_timeout"),
        ("dtls_handshake_timeout=5s", "dtls_handshake_timeout"),
        ("keep_alive.probes=0", "keep_alive.probes"),
        ("keep_alive.probes=ten", "keep_alive.probes"),
        ("keep_alive.probes=99999999999", "keep_alive.probes"),
    ] {
        assert_eq!(bad(text).1, key, "{text}");
    }
}

#[test]
fn web_dir_must_be_a_directory() {
    let dir = temp_dir();
    let (line, key, _, shown) = bad(&format!(
        "ws.port=8080\nweb_dir={}",
        dir.join("missing").display()
    ));
    assert_eq!((line, key.as_str()), (2, "web_dir"));
    assert!(shown.contains("is not a directory"), "{shown}");
}

#[test]
fn ws_port_inside_worker_ports_is_an_error() {
    let (line, key, _, shown) = bad("worker_threads=2\nws.port=31002\n");
    assert_eq!((line, key.as_str()), (2, "ws.port"));
    assert!(shown.contains("media port of worker 1"), "{shown}");
    // Inside the range but above the ports the workers use: fine.
    assert_eq!(ok("worker_threads=2\nws.port=31500").ws_port, 31500);
}

#[test]
fn unknown_and_wcs_keys_warn() {
    assert_eq!(
        warnings("rtmp.port=1935\nfrobnicate=1\nice_tcp_transport=true\nip_local=10.0.0.1"),
        vec![
            (1, "rtmp.port".into(), WarningKind::NotImplemented),
            (2, "frobnicate".into(), WarningKind::Unknown),
            (3, "ice_tcp_transport".into(), WarningKind::NotImplemented),
            (4, "ip_local".into(), WarningKind::NotImplemented),
        ]
    );
    // Keys are case-sensitive, as in WCS.
    assert_eq!(
        warnings("WS.PORT=1"),
        vec![(1, "WS.PORT".into(), WarningKind::Unknown)]
    );
}

#[test]
fn keep_alive_algorithm() {
    assert!(warnings("keep_alive.algorithm=HIGH_LEVEL").is_empty());
    assert_eq!(
        warnings("keep_alive.algorithm = INTERNAL"),
        vec![(
            1,
            "keep_alive.algorithm".into(),
            WarningKind::UnsupportedValue("INTERNAL".into())
        )]
    );
}

#[test]
fn duplicate_key_last_wins_with_warning() {
    let (cfg, w) = parse("ws.port=9000\n\nws.port=9001\n").unwrap();
    assert_eq!(cfg.ws_port, 9001);
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].line, 3);
    assert_eq!(w[0].kind, WarningKind::Duplicate { previous_line: 1 });
    assert!(
        w[0].to_string()
            .starts_with("flashphoner.properties:3: ws.port: also set on line 1"),
        "{}",
        w[0]
    );
}

#[test]
fn empty_value_resets_to_default_with_warning() {
    let (cfg, w) = parse("ws.port=9000\nws.port=\nip=\n").unwrap();
    assert_eq!(cfg.ws_port, 8080);
    assert_eq!(cfg.ip, Config::default().ip);
    let kinds: Vec<_> = w.iter().map(|w| (w.line, w.kind.clone())).collect();
    assert_eq!(
        kinds,
        vec![
            (2, WarningKind::Duplicate { previous_line: 1 }),
            (2, WarningKind::EmptyValue),
            (3, WarningKind::EmptyValue),
        ]
    );
}

#[test]
fn properties_syntax_separators_escapes_continuations() {
    let text = "ws.port: 9090\n\
                media_port_from 40000\n\
                \t media_port_to\t=\t40010   \n\
                ! bang comment\n\
                codecs = opus,\\\n    vp9,\\\n    h264\n\
                keep_alive.probes = \\u0037\n\
                keep_alive\\.server_interval=1000\n\
                worker_threads=2\r\n";
    let cfg = ok(text);
    assert_eq!(cfg.ws_port, 9090);
    assert_eq!((cfg.media_port_from, cfg.media_port_to), (40000, 40010));
    assert_eq!(cfg.video_codecs, vec![VideoCodec::Vp9, VideoCodec::H264]);
    assert_eq!(cfg.keep_alive_probes, 7);
    assert_eq!(cfg.keep_alive_interval, Duration::from_millis(1000));
    assert_eq!(cfg.worker_threads, 2);
}

#[test]
fn continued_value_errors_at_its_first_line() {
    let (line, key, value, _) = bad("ip=127.0.0.1\ncodecs=opus,\\\n  alaw\n");
    assert_eq!(
        (line, key.as_str(), value.as_str()),
        (2, "codecs", "opus,alaw")
    );
}

#[test]
fn broken_escape_is_a_syntax_error_with_line() {
    let err = parse("ip=127.0.0.1\nws.port=\\u12G4\n").unwrap_err();
    assert!(
        matches!(err, ConfigError::Syntax { line: Some(2), .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().starts_with("flashphoner.properties:2: "),
        "{err}"
    );
}

#[test]
fn garbage_input_never_panics() {
    let inputs: [&[u8]; 8] = [
        b"\xff\xfe\x00garbage=\x00\x01",
        b"\xEF\xBB\xBFws.port=1\xE2\x82",
        b"\xfe\xff\x00a",
        b"=\n:\n \\\n",
        b"\\",
        b"ws.port=\\",
        b"\\u",
        b"key\\u00",
    ];
    for input in inputs {
        let _ = Config::from_properties(Path::new(FILE_NAME), input);
    }
}

#[test]
fn utf8_bom_and_latin1_files() {
    let (cfg, w) = Config::from_properties(
        Path::new(FILE_NAME),
        &b"\xEF\xBB\xBFws.port=9001\ncaf\xC3\xA9=1\n"[..],
    )
    .unwrap();
    assert_eq!(cfg.ws_port, 9001);
    assert_eq!(w[0].key, "caf\u{e9}");
    let (_, w) =
        Config::from_properties(Path::new(FILE_NAME), &b"caf\xE9=1\nws.port=9002\n"[..]).unwrap();
    assert_eq!(w[0].key, "caf\u{e9}");
}

#[test]
fn operators_wcs_file_only_warns() {
    let text = r"# Flashphoner Web Call Server settings
ip = 127.0.0.1
ip_local = 127.0.0.1
domain =
http.port=8081
https.port=8444
ws.port=8080
wss.port=8443
rtmp.port=1935
rtsp.port=554
media_port_from=31001
media_port_to=32000
codecs=opus,alaw,ulaw,g729,speex16,g722,mpeg4-generic,telephone-event,h264,vp8,flv,mpv
codecs_exclude_sip=mpeg4-generic,flv,mpv
codecs_exclude_streaming=flv,telephone-event
rtp_bundle=true
keep_alive.algorithm=HIGH_LEVEL
keep_alive.server_interval=5000
keep_alive.probes=10
keep_alive.peer_interval=2000
stream_record_policy_template={streamName}
record_formats=mp4
hls_auto_start=false
cdn_enabled=false
cdn_role=origin
rtp_activity_detecting=true,30
ice_tcp_transport=false
load_balancing_enabled=false
webrtc_cc_min_bitrate=100000
sip_add_contact_id=true
global_bandwidth_check_enabled=false
";
    let (cfg, w) = parse(text).unwrap();
    assert_eq!(cfg.ws_port, 8080);
    assert_eq!(cfg.wss_port, Some(8443));
    assert_eq!(cfg.video_codecs, vec![VideoCodec::H264, VideoCodec::Vp8]);
    // webrtc_cc_min_bitrate is read (bits/s), not warned about.
    assert_eq!(cfg.webrtc_cc_min_bitrate, Some(100_000));
    assert_eq!(w.len(), 19, "{w:#?}");
    assert!(
        w.iter().all(|w| w.kind == WarningKind::NotImplemented),
        "{w:#?}"
    );
    let first = w[0].to_string();
    assert_eq!(
        first,
        "flashphoner.properties:3: ip_local: WCS setting not implemented by rtcdn; ignored"
    );
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

#[test]
fn video_codec_names() {
    for c in VideoCodec::ALL {
        assert_eq!(VideoCodec::from_name(c.sdp_name()), Some(c));
        assert_eq!(VideoCodec::from_name(&c.sdp_name().to_lowercase()), Some(c));
    }
    assert_eq!(VideoCodec::from_name("opus"), None);
}

#[test]
fn performance_keys_parse_and_reject_bad_values() {
    use dataplane::CpuAffinity;
    let d = Config::default();
    assert_eq!(d.worker_cpu_affinity, CpuAffinity::None);
    assert_eq!(d.media_socket_buffer, 4 * 1024 * 1024);
    assert_eq!(d.fanout_queue_capacity, 16 * 1024);
    assert!(d.media_gso);
    assert!(!ok("media_gso=false").media_gso);
    assert!(ok("media_gso=TRUE").media_gso);
    assert!(d.transport_cc);
    assert!(!ok("transport_cc=false").transport_cc);
    assert!(d.remb);
    assert!(!ok("remb=false").remb);
    assert_eq!(d.wss_port, None);
    assert!(!d.cdn_relay_tls && d.cdn_relay_ca_file.is_none());
    let relay = ok("cdn_relay_tls=true\ncdn_relay_ca_file=edges.pem");
    assert!(relay.cdn_relay_tls);
    assert!(relay.cdn_relay_ca_file.unwrap().ends_with("edges.pem"));
    assert_eq!(ok("wss.port=9443").wss_port, Some(9443));
    let tls = ok("tls_certificate=certs/chain.pem\ntls_private_key=/etc/rtcdn/key.pem");
    assert!(tls.tls_certificate.unwrap().ends_with("certs/chain.pem"));
    assert_eq!(
        tls.tls_private_key.unwrap(),
        PathBuf::from("/etc/rtcdn/key.pem")
    );

    let cfg =
        ok("worker_cpu_affinity=AUTO\nmedia_socket_buffer=8388608\nfanout_queue_capacity=4096");
    assert_eq!(cfg.worker_cpu_affinity, CpuAffinity::Auto);
    assert_eq!(cfg.media_socket_buffer, 8 * 1024 * 1024);
    assert_eq!(cfg.fanout_queue_capacity, 4096);
    assert_eq!(
        ok("worker_cpu_affinity= 2, 3 ,0").worker_cpu_affinity,
        CpuAffinity::Cores(vec![2, 3, 0])
    );
    assert_eq!(
        ok("worker_cpu_affinity=none").worker_cpu_affinity,
        CpuAffinity::None
    );

    for (text, key) in [
        ("worker_cpu_affinity=all", "worker_cpu_affinity"),
        ("worker_cpu_affinity=1,,2", "worker_cpu_affinity"),
        ("worker_cpu_affinity=-1", "worker_cpu_affinity"),
        ("media_socket_buffer=4MiB", "media_socket_buffer"),
        ("media_socket_buffer=1000", "media_socket_buffer"),
        ("fanout_queue_capacity=0", "fanout_queue_capacity"),
        ("fanout_queue_capacity=lots", "fanout_queue_capacity"),
        ("media_gso=yes", "media_gso"),
        ("transport_cc=maybe", "transport_cc"),
        ("remb=sometimes", "remb"),
        ("wss.port=99999", "wss.port"),
        ("cdn_relay_tls=sure", "cdn_relay_tls"),
        ("tls_certificate=a.pem", "tls_private_key"),
        ("tls_private_key=k.pem", "tls_certificate"),
        ("wss.port=9000\nws.port=9000", "wss.port"),
    ] {
        let (line, k, _, _) = bad(text);
        assert_eq!((line, k.as_str()), (1, key), "{text}");
    }

    // An empty value goes back to the default, with a warning.
    let w = warnings("media_socket_buffer=\n");
    assert_eq!(
        w,
        vec![(1, "media_socket_buffer".into(), WarningKind::EmptyValue)]
    );
}

#[test]
fn cpu_affinity_maps_workers_to_cores() {
    use dataplane::CpuAffinity;
    assert_eq!(CpuAffinity::None.core_for(3), None);
    let list = CpuAffinity::Cores(vec![4, 6]);
    assert_eq!(
        (0..3).map(|i| list.core_for(i)).collect::<Vec<_>>(),
        [Some(4), Some(6), Some(4)]
    );
    assert_eq!(CpuAffinity::Auto.core_for(0), Some(0));
}

#[test]
fn retransmission_keys() {
    let d = Config::default();
    assert_eq!(d.retransmit_cache, Duration::from_millis(1000));
    assert_eq!(d.retransmit_share, 50);
    let cfg = ok("retransmit_cache=2500\nretransmit_share=0");
    assert_eq!(cfg.retransmit_cache, Duration::from_millis(2500));
    assert_eq!(cfg.retransmit_share, 0);
    for (text, key) in [
        ("retransmit_cache=99", "retransmit_cache"),
        ("retransmit_cache=10001", "retransmit_cache"),
        ("retransmit_cache=1s", "retransmit_cache"),
        ("retransmit_share=101", "retransmit_share"),
        ("retransmit_share=-1", "retransmit_share"),
        ("retransmit_share=0.5", "retransmit_share"),
    ] {
        let (line, k, _, _) = bad(text);
        assert_eq!((line, k.as_str()), (1, key), "{text}");
    }
}

#[test]
fn shutdown_grace_period_is_whole_seconds() {
    assert_eq!(
        Config::default().shutdown_grace_period,
        Duration::from_secs(30)
    );
    assert_eq!(
        ok("shutdown_grace_period=2").shutdown_grace_period,
        Duration::from_secs(2)
    );
    assert_eq!(
        ok("shutdown_grace_period=0").shutdown_grace_period,
        Duration::ZERO,
        "0: stop the sessions at once"
    );
    for text in [
        "shutdown_grace_period=86401",
        "shutdown_grace_period=-1",
        "shutdown_grace_period=2.5",
        "shutdown_grace_period=30s",
    ] {
        let (line, key, _, shown) = bad(text);
        assert_eq!((line, key.as_str()), (1, "shutdown_grace_period"), "{text}");
        assert!(shown.contains("whole number of seconds"), "{shown}");
    }
    let (cfg, w) = parse("shutdown_grace_period=5\nshutdown_grace_period=\n").unwrap();
    assert_eq!(cfg.shutdown_grace_period, Duration::from_secs(30));
    assert!(w.iter().any(|w| w.kind == WarningKind::EmptyValue));
}

#[test]
fn publisher_bitrate_bounds_are_read_in_bits_per_second_and_checked() {
    let d = Config::default();
    assert_eq!(
        (d.webrtc_cc_min_bitrate, d.webrtc_cc_max_bitrate),
        (None, None)
    );
    let cfg = ok("webrtc_cc_min_bitrate=100000\nwebrtc_cc_max_bitrate=2500000");
    assert_eq!(
        (cfg.webrtc_cc_min_bitrate, cfg.webrtc_cc_max_bitrate),
        (Some(100_000), Some(2_500_000))
    );
    for (text, key) in [
        ("webrtc_cc_max_bitrate=2.5M", "webrtc_cc_max_bitrate"),
        ("webrtc_cc_max_bitrate=1000", "webrtc_cc_max_bitrate"),
        ("webrtc_cc_min_bitrate=-1", "webrtc_cc_min_bitrate"),
    ] {
        let (line, k, _, _) = bad(text);
        assert_eq!((line, k.as_str()), (1, key), "{text}");
    }
    let (line, key, value, shown) =
        bad("webrtc_cc_max_bitrate=500000\nwebrtc_cc_min_bitrate=900000\n");
    assert_eq!(
        (line, key.as_str(), value.as_str()),
        (2, "webrtc_cc_min_bitrate", "900000")
    );
    assert!(
        shown.contains("is above webrtc_cc_max_bitrate (500000)"),
        "{shown}"
    );
}

#[test]
fn rest_api_key_and_allowed_addresses() {
    let d = Config::default();
    assert_eq!(d.rest_api_key, None);
    let shown: Vec<String> = d
        .rest_api_allowed_ips
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(shown, ["127.0.0.1/32", "::1/128"]);

    let cfg = ok("rest_api_key=s3cret\nrest_api_allowed_ips=10.0.0.0/8, 192.0.2.7 ,fd00::/8,\n");
    assert!(cfg
        .rest_api_key
        .as_ref()
        .is_some_and(|k| k.matches("s3cret")));
    assert!(
        !format!("{cfg:?}").contains("s3cret"),
        "the key is never shown"
    );
    let nets = &cfg.rest_api_allowed_ips;
    assert_eq!(nets.len(), 3);
    assert!(nets.iter().any(|n| n.contains("10.9.8.7".parse().unwrap())));
    assert!(nets
        .iter()
        .any(|n| n.contains("192.0.2.7".parse().unwrap())));
    assert!(!nets
        .iter()
        .any(|n| n.contains("127.0.0.1".parse().unwrap())));

    // Empty values: no key (silently, like cdn_relay_secret), the default addresses (warned).
    let (cfg, w) = parse("rest_api_key=\nrest_api_allowed_ips=\n").unwrap();
    assert_eq!(cfg.rest_api_key, None);
    assert_eq!(cfg.rest_api_allowed_ips, d.rest_api_allowed_ips);
    assert_eq!(
        w.into_iter()
            .map(|w| (w.line, w.key, w.kind))
            .collect::<Vec<_>>(),
        [(
            2,
            "rest_api_allowed_ips".to_string(),
            WarningKind::EmptyValue
        )]
    );

    for (text, value) in [
        ("rest_api_allowed_ips=localhost", "localhost"),
        ("rest_api_allowed_ips=10.0.0.0/33", "10.0.0.0/33"),
        ("rest_api_allowed_ips=127.0.0.1,any", "127.0.0.1,any"),
        ("rest_api_allowed_ips=,", ","),
    ] {
        let (line, key, v, shown) = bad(&format!("ip=127.0.0.1\n{text}\n"));
        assert_eq!(
            (line, key.as_str(), v.as_str()),
            (2, "rest_api_allowed_ips", value),
            "{shown}"
        );
        assert!(
            shown.starts_with("flashphoner.properties:2: rest_api_allowed_ips: ")
                && shown.ends_with("must be a comma-separated list of IP addresses or CIDR ranges like 10.0.0.0/8, ::1"),
            "{shown}"
        );
    }
}

#[test]
fn rest_hook_keys() {
    let d = Config::default();
    assert_eq!(d.rest_hook_url, None);
    assert_eq!(d.rest_hook_timeout, Duration::from_millis(3000));
    assert!(d.rest_hook_fail_closed);
    assert_eq!(d.rest_hook_on_error, crate::hooks::OnError::Fail);

    let cfg = ok(
        "rest_hook_url=https://auth.example.com/apps/live/\nrest_hook_timeout=1500\n\
                  rest_hook_fail_closed=false\nrest_hook_on_error=log\nrest_hook_ca_file=ca.pem\n",
    );
    assert_eq!(
        cfg.rest_hook_url.as_deref(),
        Some("https://auth.example.com/apps/live/")
    );
    assert_eq!(cfg.rest_hook_timeout, Duration::from_millis(1500));
    assert!(!cfg.rest_hook_fail_closed);
    assert_eq!(cfg.rest_hook_on_error, crate::hooks::OnError::Log);
    assert!(cfg.rest_hook_ca_file.unwrap().ends_with("ca.pem"));

    // An empty URL is "no hooks", silently.
    let (cfg, w) = parse("rest_hook_url=\n").unwrap();
    assert_eq!(cfg.rest_hook_url, None);
    assert!(w.is_empty(), "{w:?}");

    for (text, key, value, reason) in [
        (
            "rest_hook_url=ftp://x/apps",
            "rest_hook_url",
            "ftp://x/apps",
            "must be an http:// or https:// URL of the backend application",
        ),
        (
            "rest_hook_url=http://",
            "rest_hook_url",
            "http://",
            "must be an http:// or https:// URL of the backend application",
        ),
        (
            // A multi-byte character across the scheme's end (found by fuzzing: it panicked).
            "rest_hook_url=http:/\u{e9}",
            "rest_hook_url",
            "http:/\u{e9}",
            "must be an http:// or https:// URL of the backend application",
        ),
        (
            "rest_hook_url=https:/\u{e9}\u{e9}",
            "rest_hook_url",
            "https:/\u{e9}\u{e9}",
            "must be an http:// or https:// URL of the backend application",
        ),
        (
            "rest_hook_url=http://a b/",
            "rest_hook_url",
            "http://a b/",
            "must be an http:// or https:// URL of the backend application",
        ),
        (
            "rest_hook_timeout=0",
            "rest_hook_timeout",
            "0",
            "must be more than 0 ms",
        ),
        (
            "rest_hook_fail_closed=maybe",
            "rest_hook_fail_closed",
            "maybe",
            "is not true or false",
        ),
        (
            "rest_hook_on_error=IGNORE",
            "rest_hook_on_error",
            "IGNORE",
            "must be FAIL or LOG",
        ),
    ] {
        let (line, k, v, shown) = bad(&format!("ip=127.0.0.1\n{text}\n"));
        assert_eq!((line, k.as_str(), v.as_str()), (2, key, value), "{shown}");
        assert!(
            shown.starts_with(&format!("flashphoner.properties:2: {key}: "))
                && shown.ends_with(reason),
            "{shown}"
        );
    }
}

#[test]
fn admission_limit_keys() {
    let d = Config::default();
    assert_eq!(
        (
            d.max_connections_per_ip,
            d.max_streams_per_connection,
            d.max_peers
        ),
        (1000, 32, 10_000)
    );
    let cfg = ok("max_connections_per_ip=5\nmax_streams_per_connection=2\nmax_peers=300\n");
    assert_eq!(
        (
            cfg.max_connections_per_ip,
            cfg.max_streams_per_connection,
            cfg.max_peers
        ),
        (5, 2, 300)
    );
    for (key, value) in [
        ("max_connections_per_ip", "0"),
        ("max_streams_per_connection", "many"),
        ("max_peers", "1000001"),
        ("max_handshakes_per_worker", "0"),
    ] {
        let (line, k, v, shown) = bad(&format!("ip=127.0.0.1\n{key}={value}\n"));
        assert_eq!((line, k.as_str(), v.as_str()), (2, key, value), "{shown}");
        assert!(
            shown.ends_with("must be a count from 1 to 1000000"),
            "{shown}"
        );
    }
}

#[test]
fn cdn_allowed_ips_key() {
    assert_eq!(Config::default().cdn_allowed_ips, None);
    let cfg = ok("cdn_allowed_ips=10.0.0.5, 192.0.2.0/24\n");
    let nets = cfg.cdn_allowed_ips.unwrap();
    assert!(nets
        .iter()
        .any(|n| n.contains("192.0.2.77".parse().unwrap())));
    assert!(!nets.iter().any(|n| n.contains("10.0.0.6".parse().unwrap())));
    let (cfg, _) = parse("cdn_allowed_ips=\n").unwrap();
    assert_eq!(cfg.cdn_allowed_ips, None);
    let (line, key, _, _) = bad("ip=127.0.0.1\ncdn_allowed_ips=origin.example\n");
    assert_eq!((line, key.as_str()), (2, "cdn_allowed_ips"));
}

#[test]
fn whip_keys() {
    let d = Config::default();
    assert!(d.whip_token.is_none() && d.whep_token.is_none() && d.ice_servers.is_empty());
    let cfg = ok("whip_token=pub-secret\nwhep_token=play-secret\n\
                  ice_servers=stun:stun.example.net:3478, turns:turn.example.net:5349?transport=tcp\n\
                  ice_servers_username=user\nice_servers_credential=pass\n");
    assert!(cfg.whip_token.unwrap().matches("pub-secret"));
    assert!(cfg.whep_token.unwrap().matches("play-secret"));
    assert_eq!(
        cfg.ice_servers,
        [
            "stun:stun.example.net:3478",
            "turns:turn.example.net:5349?transport=tcp"
        ]
    );
    assert_eq!(cfg.ice_servers_username.as_deref(), Some("user"));
    assert_eq!(cfg.ice_servers_credential.unwrap().expose(), "pass");
    // The credential never shows in Debug output.
    let (cfg, _) = parse("ice_servers_credential=hidden-pw\n").unwrap();
    assert!(!format!("{cfg:?}").contains("hidden-pw"));
    let (cfg, _) = parse("whip_token=\nice_servers=\n").unwrap();
    assert!(cfg.whip_token.is_none() && cfg.ice_servers.is_empty());
    for value in [
        "http://stun.example.net",
        "stun:",
        "stun:a>b",
        "stun:a\"b",
        "stun:ok, turn:has space",
        ",",
    ] {
        let (line, key, _, shown) = bad(&format!("ip=127.0.0.1\nice_servers={value}\n"));
        assert_eq!((line, key.as_str()), (2, "ice_servers"), "{value}");
        assert!(
            shown.contains("stun:, stuns:, turn: or turns: URLs"),
            "{shown}"
        );
    }
}
