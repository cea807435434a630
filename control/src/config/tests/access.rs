//! Who may do what: the REST API's key and addresses, REST hooks, admission limits,
//! `cdn_allowed_ips`, WHIP/WHEP tokens and ICE servers.

use super::*;

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
