//! Properties syntax (separators, escapes, continuations, encodings), warnings for unknown,
//! WCS and repeated keys, and an operator's real WCS file.

use super::*;

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
