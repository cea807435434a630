//! Performance and behaviour keys: socket buffers, GSO, queues, CPU affinity, retransmission,
//! congestion-control bounds, the drain's grace period.

use super::*;

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
fn the_publishers_start_bitrate_defaults_to_800_kbits_and_0_unsets_it() {
    assert_eq!(Config::default().webrtc_cc_start_bitrate, Some(800_000));
    assert_eq!(
        ok("webrtc_cc_start_bitrate=1500000").webrtc_cc_start_bitrate,
        Some(1_500_000)
    );
    assert_eq!(
        ok("webrtc_cc_start_bitrate=0").webrtc_cc_start_bitrate,
        None
    );
    let (line, key, _, _) = bad("\nwebrtc_cc_start_bitrate=fast");
    assert_eq!((line, key.as_str()), (2, "webrtc_cc_start_bitrate"));
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
