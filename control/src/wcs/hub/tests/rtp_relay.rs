//! `stream_distribution="rtp"`: an edge accepts an origin's plain relay publish only with the
//! shared secret and starts a plain publisher bound to the announced source; an origin
//! announces its leg socket's address and hands that socket to the worker.

use super::*;
use crate::cdn::config::{LoadBalancingConfig, Mode, NodeConfig, StreamDistribution};
use crate::config::RelaySecret;

const SECRET: &str = "s3cret";
const SOURCE: &str = "10.1.2.3:40123";

fn with_config(workers: usize, cfg: &Config) -> Harness {
    let mut h = harness(workers);
    let handles = h.hub.workers.iter().map(|w| w.handle.clone()).collect();
    let fingerprint = Fingerprint {
        algorithm: "sha-256".into(),
        digest: vec![0xAB; 32],
    };
    h.hub = Hub::new(cfg, handles, fingerprint);
    h
}

fn edge(secret: Option<&str>) -> Harness {
    let mut cfg = config();
    cfg.cdn_relay_secret = secret.map(RelaySecret::new);
    with_config(1, &cfg)
}

fn relay_publish(h: &mut Harness, conn: ConnId, marker: Value) -> Vec<(ConnId, Value)> {
    h.send(
        conn,
        "publishStream",
        json!({"mediaSessionId": "relay-1", "name": "cam", "published": true, "hasVideo": true,
               "hasAudio": true, "sdp": PUBLISH_OFFER, "custom": {"rtcdnRelay": marker}}),
    )
}

fn marker(secret: &str) -> Value {
    json!({"distribution": "rtp", "secret": secret, "source": SOURCE})
}

fn assert_refused(h: &mut Harness, out: &[(ConnId, Value)]) {
    assert_eq!(out.len(), 1, "{out:?}");
    let st = &out[0].1["data"][0];
    assert_eq!(out[0].1["message"], "notifyStreamStatusEvent");
    assert_eq!(
        (st["status"].as_str(), st["info"].as_str()),
        (Some("FAILED"), Some("Restricted access"))
    );
    assert!(h.all_commands().is_empty(), "nothing allocated");
    assert_eq!(h.hub.stats().streams, 0);
}

#[test]
fn matching_secret_starts_a_plain_publisher_bound_to_the_source() {
    let mut h = edge(Some(SECRET));
    let c = h.open();
    let out = relay_publish(&mut h, c, marker(SECRET));
    assert_eq!(out.len(), 2, "{out:?}");
    assert_eq!(out[0].1["message"], "setRemoteSDP");
    let answer = out[0].1["data"][1].as_str().unwrap();
    assert!(
        answer.contains("127.0.0.1 31001"),
        "the worker's address: {answer}"
    );
    assert_eq!(out[1].1["data"][0]["status"], "PUBLISHING");
    let cmds = h.commands(0);
    let [Command::AddPlainPeer {
        spec,
        remote,
        socket,
    }] = &cmds[..]
    else {
        panic!("{cmds:?}")
    };
    assert!(matches!(spec.role, PeerRole::Publisher { .. }));
    assert_eq!(*remote, SOURCE.parse::<SocketAddr>().unwrap());
    assert!(socket.is_none(), "an edge publisher uses the worker socket");
    assert_eq!(spec.tracks.len(), 2);
    assert_eq!(h.hub.stats().streams, 1);
}

#[test]
fn wrong_missing_or_malformed_secret_is_restricted_access() {
    let bad = [
        marker("s3cres"),
        marker("s3cret "),
        marker(""),
        json!({"distribution": "rtp", "source": SOURCE}),
        json!({"distribution": "rtp", "secret": 7, "source": SOURCE}),
        json!({"distribution": "rtp", "secret": SECRET, "source": "nowhere"}),
        json!({"distribution": "webrtc", "secret": SECRET, "source": SOURCE}),
        json!({"secret": SECRET, "source": SOURCE}),
        json!(true),
        json!([SECRET]),
    ];
    for m in bad {
        let mut h = edge(Some(SECRET));
        let c = h.open();
        let out = relay_publish(&mut h, c, m);
        assert_refused(&mut h, &out);
    }
}

#[test]
fn edge_without_a_secret_refuses_every_relay_but_not_ordinary_publishers() {
    let mut h = edge(None);
    let c = h.open();
    let out = relay_publish(&mut h, c, marker(SECRET));
    assert_refused(&mut h, &out);
    // The name stays free for an ordinary publisher (no marker: no secret needed).
    let out = h.publish(c, "pub-2", "cam");
    assert_eq!(status_of(&out[1].1), ("PUBLISHING", ""));
}

#[test]
fn rtp_origin_announces_its_leg_socket_and_hands_it_to_the_worker() {
    let mut cfg = config();
    cfg.cdn_relay_secret = Some(RelaySecret::new(SECRET));
    cfg.load_balancing = Some(LoadBalancingConfig {
        file: "loadbalancing.xml".into(),
        mode: Mode::RoundRobin,
        randomize: false,
        distribution: StreamDistribution::Rtp,
        nodes: vec![NodeConfig {
            id: "e1".into(),
            host: "127.0.0.1".into(),
            ws: 9100,
            wss: 8443,
            http: 9100,
            line: 1,
        }],
    });
    let mut h = with_config(2, &cfg);
    let c = h.open();
    let publish = json!({"message": "publishStream", "data": [{"mediaSessionId": "pub-1",
        "name": "cam", "published": true, "hasAudio": true, "hasVideo": true, "sdp": PUBLISH_OFFER}]});
    h.hub.handle_text(h.now, c, &publish.to_string());
    let outputs: Vec<Output> = std::iter::from_fn(|| h.hub.poll_output()).collect();
    let conn = outputs
        .iter()
        .find_map(|o| match o {
            Output::RelayConnect { conn, .. } => Some(*conn),
            _ => None,
        })
        .unwrap_or_else(|| panic!("{outputs:?}"));
    h.hub.relay_opened(h.now, conn);
    h.hub
        .relay_text(h.now, conn, r#"{"message":"getUserData","data":[{}]}"#);
    let outputs: Vec<Output> = std::iter::from_fn(|| h.hub.poll_output()).collect();
    let publish: Value = outputs
        .iter()
        .find_map(|o| match o {
            Output::RelaySend(_, text) if text.contains("publishStream") => {
                serde_json::from_str(text).ok()
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("{outputs:?}"));
    let data = &publish["data"][0];
    let relay = &data["custom"]["rtcdnRelay"];
    assert_eq!(relay["distribution"], "rtp");
    assert_eq!(relay["secret"], SECRET);
    let source: SocketAddr = relay["source"].as_str().unwrap().parse().unwrap();
    assert_eq!(source.ip(), cfg.ip, "bound on the media IP");
    assert_ne!(source.port(), 0);

    let answer = edge_answer(data["sdp"].as_str().unwrap());
    let id = data["mediaSessionId"].as_str().unwrap();
    let text = json!({"message": "setRemoteSDP", "data": [id, answer]}).to_string();
    h.hub.relay_text(h.now, conn, &text);
    let _ = std::iter::from_fn(|| h.hub.poll_output()).count();
    let cmds = h.all_commands();
    let (spec, remote, socket) = cmds
        .iter()
        .find_map(|(_, cmd)| match cmd {
            Command::AddPlainPeer {
                spec,
                remote,
                socket,
            } => Some((spec, remote, socket)),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no AddPlainPeer: {cmds:?}"));
    assert!(matches!(spec.role, PeerRole::Relay { remote: r, .. } if r == *remote));
    assert_eq!(*remote, "127.0.0.1:40000".parse::<SocketAddr>().unwrap());
    let socket = socket.as_ref().expect("the leg socket");
    assert_eq!(
        socket.local_addr().unwrap(),
        source,
        "the socket of the announced source"
    );
}
