//! The node's own keys: addresses, ports, worker threads, codecs, durations and counts.

use super::*;

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
fn video_codec_names() {
    for c in VideoCodec::ALL {
        assert_eq!(VideoCodec::from_name(c.sdp_name()), Some(c));
        assert_eq!(VideoCodec::from_name(&c.sdp_name().to_lowercase()), Some(c));
    }
    assert_eq!(VideoCodec::from_name("opus"), None);
}
