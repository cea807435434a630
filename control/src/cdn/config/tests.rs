//! Tests of `loadbalancing.xml` parsing and of its loading through `flashphoner.properties`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use super::*;
use crate::config::{Config, ConfigError, RelaySecret};

const SEED: &str = r#"<loadbalancer stream_distribution="webrtc"><node id="1"><ip>edge.example</ip></node></loadbalancer>"#;

fn ok(text: &str) -> LoadBalancingConfig {
    let (cfg, warnings) = parse(Path::new(FILE_NAME), text).expect("valid loadbalancing.xml");
    assert_eq!(warnings, vec![], "unexpected warnings");
    cfg
}

/// The error, checking that its message starts with `loadbalancing.xml:<line>: <what>: `.
fn err(text: &str) -> (Option<u32>, String, LbErrorKind, String) {
    let e = parse(Path::new(FILE_NAME), text).expect_err("invalid loadbalancing.xml");
    let shown = e.to_string();
    let line = e.line.map_or("?".to_string(), |l| l.to_string());
    assert!(
        shown.starts_with(&format!("{FILE_NAME}:{line}: {}: ", e.what)),
        "{shown}"
    );
    (e.line, e.what, e.kind, shown)
}

fn node_xml(inner: &str) -> String {
    format!("<loadbalancer>\n<node id=\"1\">\n{inner}\n</node>\n</loadbalancer>")
}

#[test]
fn the_seed_example_parses_as_is() {
    let cfg = ok(SEED);
    assert_eq!(cfg.mode, Mode::FewestCalls, "WCS default mode");
    assert!(!cfg.randomize);
    assert_eq!(cfg.distribution, StreamDistribution::WebRtc);
    assert_eq!(
        cfg.nodes,
        vec![NodeConfig {
            id: "1".into(),
            host: "edge.example".into(),
            ws: 8080,
            wss: 8443,
            http: 8080,
            line: 1,
        }]
    );
}

#[test]
fn every_mode_and_attribute() {
    for (mode, name) in Mode::ALL {
        let text =
            format!(r#"<loadbalancer mode="{name}"><node id="a"><ip>h</ip></node></loadbalancer>"#);
        assert_eq!(ok(&text).mode, mode);
        let lower = text.replace(name, &name.to_ascii_lowercase());
        assert_eq!(ok(&lower).mode, mode, "case-insensitive");
    }
    let cfg = ok(r#"<?xml version="1.0" encoding="UTF-8"?>
<!-- origin -->
<loadbalancer mode="ROUNDROBIN" randomize="TRUE" stream_distribution="rtp">
  <node id="1">
    <ip> 10.0.0.1 </ip>
    <ws>9080</ws>
    <wss>9443</wss>
  </node>
  <node id="edge-2"><ip>[::1]</ip><ws>8080</ws><http>8081</http></node>
</loadbalancer>
"#);
    assert_eq!(cfg.mode, Mode::RoundRobin);
    assert!(cfg.randomize);
    assert_eq!(cfg.distribution, StreamDistribution::Rtp);
    let n = &cfg.nodes;
    assert_eq!(
        (n[0].host.as_str(), n[0].ws, n[0].wss, n[0].http),
        ("10.0.0.1", 9080, 9443, 9080)
    );
    assert_eq!(n[0].line, 4);
    assert_eq!((n[1].host.as_str(), n[1].http), ("::1", 8081));
    assert_eq!(n[1].url_host(), "[::1]");
    assert_eq!(n[0].url_host(), "10.0.0.1");
    assert!(
        !ok(r#"<loadbalancer randomize="false"><node id="1"><ip>h</ip></node></loadbalancer>"#)
            .randomize
    );
}

#[test]
fn the_real_ephemeral_ports_of_a_test_are_accepted() {
    let cfg = ok(&node_xml("<ip>127.0.0.1</ip><ws>45123</ws>"));
    assert_eq!((cfg.nodes[0].ws, cfg.nodes[0].http), (45123, 45123));
}

#[test]
fn malformed_xml_names_the_line() {
    let (line, what, kind, _) =
        err("<loadbalancer>\n<node id=\"1\">\n<ip>h</ip>\n</nod>\n</loadbalancer>");
    assert_eq!(line, Some(4));
    assert_eq!(what, FILE_NAME);
    assert!(matches!(kind, LbErrorKind::Malformed(_)), "{kind:?}");
    for text in [
        "",
        "not xml",
        "<loadbalancer>",
        "<a/><b/>",
        "<loadbalancer mode='x' mode='y'/>",
    ] {
        let e = parse(Path::new(FILE_NAME), text).expect_err(text);
        assert!(matches!(e.kind, LbErrorKind::Malformed(_)), "{text}: {e}");
    }
}

#[test]
fn a_node_without_ip_is_an_error_on_its_line() {
    let (line, what, kind, shown) = err(&node_xml("<ws>8080</ws>"));
    assert_eq!(
        (line, what.as_str(), kind),
        (Some(2), "<node>", LbErrorKind::MissingIp)
    );
    assert_eq!(shown, "loadbalancing.xml:2: <node>: missing <ip>");
    assert_eq!(err(&node_xml("<ip>  </ip>")).2, LbErrorKind::MissingIp);
    assert_eq!(err(&node_xml("<ip/>")).2, LbErrorKind::MissingIp);
}

#[test]
fn bad_values_name_line_and_element() {
    for (inner, what, kind) in [
        (
            "<ip>h</ip>\n<ws>80x0</ws>",
            "<ws>",
            LbErrorKind::BadPort("80x0".into()),
        ),
        (
            "<ip>h</ip>\n<wss>0</wss>",
            "<wss>",
            LbErrorKind::BadPort("0".into()),
        ),
        (
            "<ip>h</ip>\n<http>65536</http>",
            "<http>",
            LbErrorKind::BadPort("65536".into()),
        ),
        (
            "<ip>h</ip>\n<ws/>",
            "<ws>",
            LbErrorKind::BadPort(String::new()),
        ),
        (
            "<ip>h</ip>\n<ws>-1</ws>",
            "<ws>",
            LbErrorKind::BadPort("-1".into()),
        ),
        (
            "<ip>h</ip>\n<ip>g</ip>",
            "<ip>",
            LbErrorKind::Repeated { previous_line: 3 },
        ),
        (
            "<ip>http://h/</ip>",
            "<ip>",
            LbErrorKind::BadHost("http://h/".into()),
        ),
        ("<ip>a..b</ip>", "<ip>", LbErrorKind::BadHost("a..b".into())),
        (
            "<ip>h o st</ip>",
            "<ip>",
            LbErrorKind::BadHost("h o st".into()),
        ),
    ] {
        let (line, got_what, got_kind, shown) = err(&node_xml(inner));
        let want_line = 3 + inner.matches('\n').count() as u32;
        assert_eq!(
            (line, got_what.as_str(), got_kind),
            (Some(want_line), what, kind),
            "{shown}"
        );
    }
}

#[test]
fn root_attribute_errors() {
    let (line, what, kind, _) =
        err("<loadbalancer\n mode=\"LEAST\">\n<node id=\"1\"><ip>h</ip></node></loadbalancer>");
    assert_eq!((line, what.as_str()), (Some(2), "mode"));
    assert_eq!(kind, LbErrorKind::UnknownMode("LEAST".into()));
    let (_, what, kind, shown) = err(
        r#"<loadbalancer stream_distribution="rtmp"><node id="1"><ip>h</ip></node></loadbalancer>"#,
    );
    assert_eq!(
        (what.as_str(), kind),
        ("stream_distribution", LbErrorKind::RtmpNotSupported)
    );
    assert!(shown.contains("not supported"), "{shown}");
    let (_, _, kind, _) = err(
        r#"<loadbalancer stream_distribution="srt"><node id="1"><ip>h</ip></node></loadbalancer>"#,
    );
    assert_eq!(kind, LbErrorKind::UnknownDistribution("srt".into()));
    let (_, what, kind, _) =
        err(r#"<loadbalancer randomize="yes"><node id="1"><ip>h</ip></node></loadbalancer>"#);
    assert_eq!(
        (what.as_str(), kind),
        ("randomize", LbErrorKind::NotABool("yes".into()))
    );
}

#[test]
fn structure_errors() {
    let (line, what, kind, _) = err("<loadbalancer mode=\"RANDOM\">\n</loadbalancer>");
    assert_eq!(
        (line, what.as_str(), kind),
        (Some(1), "<loadbalancer>", LbErrorKind::NoNodes)
    );
    assert_eq!(err("<loadbalancer/>").2, LbErrorKind::NoNodes);
    let (line, what, kind, _) = err("<?xml version=\"1.0\"?>\n<balancer/>");
    assert_eq!(
        (line, what.as_str(), kind),
        (Some(2), "<balancer>", LbErrorKind::WrongRoot)
    );
    let (line, _, kind, _) = err("<loadbalancer>\n<node><ip>h</ip></node>\n</loadbalancer>");
    assert_eq!((line, kind), (Some(2), LbErrorKind::MissingId));
    assert_eq!(
        err("<loadbalancer><node id=' '><ip>h</ip></node></loadbalancer>").2,
        LbErrorKind::MissingId
    );
    let (line, _, kind, shown) = err(
        "<loadbalancer>\n<node id=\"1\"><ip>a</ip></node>\n<node id=\"2\"><ip>b</ip></node>\n<node id=\"1\"><ip>c</ip></node>\n</loadbalancer>",
    );
    assert_eq!(line, Some(4));
    assert_eq!(
        kind,
        LbErrorKind::DuplicateId {
            id: "1".into(),
            previous_line: 2
        }
    );
    assert_eq!(
        shown,
        "loadbalancing.xml:4: <node>: id \"1\" is already used on line 2"
    );
}

#[test]
fn unknown_elements_and_attributes_warn() {
    let text = "<loadbalancer colour=\"red\">\n<node id=\"1\" weight=\"3\">\n<ip>h</ip>\n<rtmp>1935</rtmp>\n</node>\n<backup/>\n</loadbalancer>";
    let (cfg, w) = parse(Path::new(FILE_NAME), text).unwrap();
    assert_eq!(cfg.nodes.len(), 1);
    let got: Vec<(usize, &str)> = w.iter().map(|w| (w.line, w.key.as_str())).collect();
    assert_eq!(
        got,
        [
            (1, "<loadbalancer> colour"),
            (2, "<node> weight"),
            (4, "<node> <rtmp>"),
            (6, "<backup>")
        ]
    );
    assert_eq!(
        w[3].to_string(),
        "loadbalancing.xml:6: <backup>: unknown setting; ignored"
    );
}

/// A fresh directory with the given files.
fn dir_with(files: &[(&str, &str)]) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "rtcdn-lb-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    dir
}

#[test]
fn load_balancing_enabled_reads_the_file_next_to_the_properties() {
    let dir = dir_with(&[
        ("flashphoner.properties", "load_balancing_enabled=true\n"),
        (FILE_NAME, "<loadbalancer mode=\"ROUNDROBIN\">\n<node id=\"1\"><ip>e1</ip><foo/></node></loadbalancer>"),
    ]);
    let (cfg, w) = Config::load(Some(&dir)).unwrap();
    let lb = cfg.load_balancing.expect("origin role");
    assert_eq!(lb.mode, Mode::RoundRobin);
    assert_eq!(lb.file, dir.join(FILE_NAME));
    assert_eq!(
        (w.len(), w[0].line, w[0].file.clone()),
        (1, 2, dir.join(FILE_NAME))
    );
    std::fs::remove_dir_all(&dir).unwrap();

    for off in [
        "",
        "load_balancing_enabled=false\n",
        "load_balancing_enabled=FALSE\n",
    ] {
        let dir = dir_with(&[("flashphoner.properties", off), (FILE_NAME, "garbage")]);
        let (cfg, _) = Config::load(Some(&dir)).unwrap();
        assert_eq!(cfg.load_balancing, None, "{off:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn load_balancing_errors() {
    let dir = dir_with(&[(
        "flashphoner.properties",
        "ws.port=8080\nload_balancing_enabled=true\n",
    )]);
    let e = Config::load(Some(&dir)).unwrap_err().to_string();
    let props = dir.join("flashphoner.properties");
    assert!(
        e.starts_with(&format!(
            "{}:2: load_balancing_enabled: \"true\" needs {}",
            props.display(),
            dir.join(FILE_NAME).display()
        )),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();

    let dir = dir_with(&[
        ("flashphoner.properties", "load_balancing_enabled=true\n"),
        (
            FILE_NAME,
            "<loadbalancer>\n<node id=\"1\"/>\n</loadbalancer>",
        ),
    ]);
    let e = Config::load(Some(&dir)).unwrap_err();
    assert!(matches!(e, ConfigError::LoadBalancing(_)), "{e:?}");
    assert_eq!(
        e.to_string(),
        format!("{}:2: <node>: missing <ip>", dir.join(FILE_NAME).display())
    );
    std::fs::remove_dir_all(&dir).unwrap();

    let dir = dir_with(&[("flashphoner.properties", "load_balancing_enabled=yes\n")]);
    let e = Config::load(Some(&dir)).unwrap_err().to_string();
    assert!(
        e.ends_with("load_balancing_enabled: \"yes\" is not true or false"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn rtp_distribution_needs_the_relay_secret() {
    let rtp =
        "<loadbalancer stream_distribution=\"rtp\"><node id=\"1\"><ip>e</ip></node></loadbalancer>";
    let dir = dir_with(&[
        ("flashphoner.properties", "load_balancing_enabled=true\n"),
        (FILE_NAME, rtp),
    ]);
    let e = Config::load(Some(&dir)).unwrap_err().to_string();
    assert!(e.contains(":1: cdn_relay_secret: \"\" must be set"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();

    let props = "load_balancing_enabled=true\ncdn_relay_secret = s3cret \n";
    let dir = dir_with(&[("flashphoner.properties", props), (FILE_NAME, rtp)]);
    let (cfg, w) = Config::load(Some(&dir)).unwrap();
    assert_eq!(w, vec![]);
    let secret = cfg.cdn_relay_secret.clone().unwrap();
    assert_eq!(secret.expose(), "s3cret");
    assert!(secret.matches("s3cret") && !secret.matches("s3cres") && !secret.matches("s3cret!"));
    assert!(
        !format!("{cfg:?}").contains("s3cret"),
        "the secret stays out of Debug"
    );
    std::fs::remove_dir_all(&dir).unwrap();

    let edge = Config::from_properties(
        Path::new("f"),
        &b"cdn_relay_secret=x\ncdn_relay_secret=\n"[..],
    )
    .unwrap();
    assert_eq!(
        edge.0.cdn_relay_secret, None,
        "an empty value means no secret"
    );
    assert_eq!(RelaySecret::new("a"), RelaySecret::new("a"));
}

#[test]
fn the_number_of_nodes_is_bounded() {
    let nodes = |n: usize| {
        let list: String = (1..=n)
            .map(|i| {
                format!(
                    "<node id=\"{i}\"><ip>10.0.{}.{}</ip></node>\n",
                    i / 250,
                    i % 250
                )
            })
            .collect();
        format!("<loadbalancer>\n{list}</loadbalancer>")
    };
    let (cfg, _) = parse(Path::new("loadbalancing.xml"), &nodes(MAX_NODES)).unwrap();
    assert_eq!(cfg.nodes.len(), MAX_NODES);
    let e = parse(Path::new("loadbalancing.xml"), &nodes(MAX_NODES + 1)).unwrap_err();
    assert_eq!(
        (e.line, e.what.as_str(), e.kind),
        (
            Some(MAX_NODES as u32 + 2),
            "<node>",
            LbErrorKind::TooManyNodes
        )
    );
}
