//! Origin role: a publish starts relay legs, the edge's answer starts a relay peer placed and
//! fanned out like a player, unpublish and worker events tear it down.

use super::*;
use crate::cdn::config::{LoadBalancingConfig, Mode, NodeConfig, StreamDistribution};
use crate::cdn::relay::RelayConnId;

pub(super) fn origin(workers: usize) -> Harness {
    let mut h = harness(workers);
    let mut cfg = config();
    cfg.load_balancing = Some(LoadBalancingConfig {
        file: "loadbalancing.xml".into(),
        mode: Mode::RoundRobin,
        randomize: false,
        distribution: StreamDistribution::WebRtc,
        nodes: vec![NodeConfig {
            id: "e1".into(),
            host: "127.0.0.1".into(),
            ws: 9100,
            wss: 8443,
            http: 9100,
            line: 1,
        }],
    });
    let fingerprint = Fingerprint {
        algorithm: "sha-256".into(),
        digest: vec![0xAB; 32],
    };
    let handles = h.hub.workers.iter().map(|w| w.handle.clone()).collect();
    h.hub = Hub::new(&cfg, handles, fingerprint);
    h
}

fn relay_outputs(h: &mut Harness) -> Vec<Output> {
    std::iter::from_fn(|| h.hub.poll_output()).collect()
}

/// Publishes `cam` on the origin and runs the edge's side; returns the relay connection and
/// the edge-side mediaSessionId.
fn relayed(h: &mut Harness, publisher: ConnId) -> (RelayConnId, String) {
    let (conn, id, _) = relayed_with(h, publisher, PUBLISH_OFFER);
    (conn, id)
}

/// [`relayed`] for a publish with `sdp`; also returns the relay leg's offer to the edge.
pub(super) fn relayed_with(
    h: &mut Harness,
    publisher: ConnId,
    sdp: &str,
) -> (RelayConnId, String, String) {
    h.hub.handle_text(
        h.now,
        publisher,
        &json!({"message": "publishStream", "data": [{"mediaSessionId": "pub-1", "name": "cam",
            "published": true, "hasAudio": true, "hasVideo": true, "sdp": sdp}]})
        .to_string(),
    );
    let out = relay_outputs(h);
    let conn = out
        .iter()
        .find_map(|o| match o {
            Output::RelayConnect { conn, url } => {
                assert_eq!(url, "ws://127.0.0.1:9100/");
                Some(*conn)
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("no relay connect: {out:?}"));
    h.hub.relay_opened(h.now, conn);
    h.hub
        .relay_text(h.now, conn, r#"{"message":"getUserData","data":[{}]}"#);
    let out = relay_outputs(h);
    let publish: Value = out
        .iter()
        .filter_map(|o| match o {
            Output::RelaySend(c, text) if *c == conn => serde_json::from_str(text).ok(),
            _ => None,
        })
        .find(|v: &Value| v["message"] == "publishStream")
        .unwrap_or_else(|| panic!("no publishStream: {out:?}"));
    let id = publish["data"][0]["mediaSessionId"]
        .as_str()
        .unwrap()
        .to_owned();
    let offer = publish["data"][0]["sdp"].as_str().unwrap().to_owned();
    let answer = edge_answer(&offer);
    let text = json!({"message": "setRemoteSDP", "data": [id, answer]}).to_string();
    h.hub.relay_text(h.now, conn, &text);
    (conn, id, offer)
}

#[test]
fn relay_peer_is_placed_like_a_player_and_removed_on_unpublish() {
    let mut h = origin(2);
    let c = h.open();
    let (conn, _id) = relayed(&mut h, c);
    assert!(relay_outputs(&mut h).is_empty());
    // Publisher on worker 0, relay peer on worker 1 (fewest peers), fan-out 0 -> 1.
    let cmds = h.all_commands();
    let relay = cmds
        .iter()
        .find_map(|(w, cmd)| match cmd {
            Command::AddPeer(spec) if matches!(spec.role, PeerRole::Relay { .. }) => {
                Some((*w, spec.clone()))
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("no relay AddPeer: {cmds:?}"));
    assert_eq!(relay.0, 1);
    let PeerRole::Relay {
        source,
        remote,
        stream,
    } = relay.1.role
    else {
        unreachable!()
    };
    assert_eq!(source, WorkerId(0));
    assert_eq!(remote, "127.0.0.1:40000".parse::<SocketAddr>().unwrap());
    assert_eq!(relay.1.remote_ufrag, "edgeufrg");
    assert!(cmds.iter().any(|(w, cmd)| *w == 0
        && matches!(cmd, Command::AddFanoutTarget { stream: s, worker } if *s == stream && *worker == WorkerId(1))));

    // Unpublish: the edge hears unPublishStream, the socket closes, the peer and fan-out go.
    let text =
        json!({"message": "unPublishStream", "data": [{"mediaSessionId": "pub-1", "name": "cam"}]});
    h.hub.handle_text(h.now, c, &text.to_string());
    let mut relay_out = relay_outputs(&mut h);
    let Output::Send(to, status) = relay_out.remove(0) else {
        panic!("{relay_out:?}");
    };
    assert_eq!(to, c);
    assert_eq!(status.first().unwrap()["status"], "UNPUBLISHED");
    assert!(
        matches!(&relay_out[0], Output::RelaySend(x, text) if *x == conn && text.contains("unPublishStream")),
        "{relay_out:?}"
    );
    assert_eq!(relay_out[1], Output::RelayClose(conn));
    let cmds = h.all_commands();
    assert!(cmds
        .iter()
        .any(|(w, cmd)| *w == 1 && matches!(cmd, Command::RemovePeer(p) if *p == relay.1.id)));
    assert!(cmds.iter().any(|(w, cmd)| *w == 0
        && matches!(cmd, Command::RemoveFanoutTarget { worker, .. } if *worker == WorkerId(1))));
}

#[test]
fn relay_peer_closed_by_worker_is_retried_without_touching_the_publisher() {
    let mut h = origin(2);
    let c = h.open();
    let (conn, _) = relayed(&mut h, c);
    assert!(relay_outputs(&mut h).is_empty());
    let peer = h
        .all_commands()
        .into_iter()
        .find_map(|(_, cmd)| match cmd {
            Command::AddPeer(spec) if matches!(spec.role, PeerRole::Relay { .. }) => Some(spec.id),
            _ => None,
        })
        .unwrap();
    h.hub.handle_event(
        h.now,
        Event::PeerClosed {
            peer,
            reason: CloseReason::IceTimeout,
        },
    );
    assert_eq!(relay_outputs(&mut h), [Output::RelayClose(conn)]);
    let cmds = h.all_commands();
    assert!(
        cmds.iter()
            .all(|(_, cmd)| !matches!(cmd, Command::RemovePeer(_))),
        "the worker already dropped it; the publisher stays: {cmds:?}"
    );
    assert!(cmds
        .iter()
        .any(|(_, cmd)| matches!(cmd, Command::RemoveFanoutTarget { .. })));
    assert_eq!(h.hub.stats().streams, 1);
    let retry = h.hub.poll_timeout().unwrap();
    h.hub.handle_timeout(retry);
    let out = relay_outputs(&mut h);
    assert!(
        matches!(&out[..], [Output::RelayConnect { conn: c2, .. }] if *c2 != conn),
        "{out:?}"
    );
}

#[test]
fn a_node_without_load_balancing_relays_nothing() {
    let mut h = harness(1);
    let c = h.open();
    let out = h.publish(c, "pub-1", "cam");
    assert_eq!(out.len(), 2);
    assert!(h.hub.poll_timeout().is_some(), "only the keep-alive timer");
    assert!(h.hub.relay_routes().is_empty());
}
