//! The operator's actions: the drain before the node stops (SIGTERM) and the edges reloaded
//! (SIGHUP) on an origin.

use super::relay::{origin, relayed_with};
use super::*;
use crate::cdn::config::NodeConfig;
use crate::wcs::info::SHUTTING_DOWN;

fn outputs(h: &mut Harness) -> Vec<Output> {
    std::iter::from_fn(|| h.hub.poll_output()).collect()
}

#[test]
fn a_draining_node_refuses_new_sessions_and_keeps_the_running_ones() {
    let mut h = harness(1);
    let (a, b, c) = (h.open(), h.open(), h.open());
    h.publish(a, "pub", "cam");
    h.play(b, "p1", "cam");
    h.commands(0);
    assert_eq!(h.hub.busy_sessions(), 2);
    assert!(!h.hub.is_draining());

    h.hub.start_drain(h.now);
    assert!(h.hub.is_draining());
    assert!(h.drain().is_empty(), "nobody is told anything yet");
    let out = h.play(c, "p2", "cam");
    assert_eq!(only_status(&out, c), failed(SHUTTING_DOWN));
    let out = h.publish(c, "pub2", "other");
    assert_eq!(only_status(&out, c), failed(SHUTTING_DOWN));
    assert!(h.commands(0).is_empty(), "no peer started");
    // What runs goes on: streams are still found and a player can still stop.
    let out = h.send(
        c,
        "availableStream",
        json!({"mediaSessionId": "probe", "name": "cam"}),
    );
    assert_eq!(out[0].1["data"][0]["status"], "true");
    let out = h.stop(b, "stopStream", "p1", "cam");
    assert_eq!(only_status(&out, b), ("STOPPED".into(), String::new()));
    assert_eq!(h.hub.busy_sessions(), 1);
    let out = h.stop(a, "unPublishStream", "pub", "cam");
    assert_eq!(only_status(&out, a).0, "UNPUBLISHED");
    assert_eq!(h.hub.busy_sessions(), 0);
}

#[test]
fn finishing_the_drain_stops_players_then_publishers_with_the_info() {
    let mut h = harness(2);
    let (a, b, c) = (h.open(), h.open(), h.open());
    h.publish(a, "pub", "cam");
    h.play(b, "p1", "cam");
    h.play(c, "p2", "cam");
    h.all_commands();
    h.hub.start_drain(h.now);
    assert_eq!(h.hub.finish_drain(h.now), 3);
    let out = h.drain();
    let told: Vec<(ConnId, &str, &str)> = out
        .iter()
        .map(|(to, v)| {
            let (status, info) = status_of(v);
            (*to, status, info)
        })
        .collect();
    assert_eq!(
        told,
        [
            (b, "STOPPED", SHUTTING_DOWN),
            (c, "STOPPED", SHUTTING_DOWN),
            (a, "UNPUBLISHED", SHUTTING_DOWN)
        ],
        "players first, so that none hears 'Stopped by publisher stop'"
    );
    let removed = h
        .all_commands()
        .into_iter()
        .filter(|(_, cmd)| matches!(cmd, Command::RemovePeer(_)))
        .count();
    assert_eq!(removed, 3, "every peer leaves its worker");
    assert_eq!(h.hub.stats().peers, 0);
    assert_eq!(h.hub.busy_sessions(), 0);
    // Nothing left: a second finish tells nobody.
    assert_eq!(h.hub.finish_drain(h.now), 0);
    assert!(h.drain().is_empty());
}

#[test]
fn an_origins_relay_publish_counts_only_while_it_has_players() {
    let mut h = harness(1);
    let (relay, other, viewer) = (h.open(), h.open(), h.open());
    h.send(
        relay,
        "connection",
        json!({"appKey": "defaultApp", "mediaProviders": ["WebRTC"], "clientVersion": "2.0",
               "custom": {"rtcdnRelay": true}}),
    );
    h.send(other, "connection", json!({"appKey": "defaultApp"}));
    h.publish(relay, "relayed", "cam");
    h.publish(other, "local", "own");
    assert_eq!(
        h.hub.busy_sessions(),
        1,
        "the idle relay publish serves nobody here"
    );
    h.play(viewer, "v", "cam");
    assert_eq!(h.hub.busy_sessions(), 3);
    h.stop(viewer, "stopStream", "v", "cam");
    assert_eq!(h.hub.busy_sessions(), 1);
    h.stop(other, "unPublishStream", "local", "own");
    assert_eq!(h.hub.busy_sessions(), 0);
    // The marker goes with its connection.
    h.hub.close(h.now, relay);
    assert!(h.hub.drain.relay_conns.is_empty());
    // A `connection` without the marker (or with a false one) is an ordinary client.
    let d = h.open();
    h.send(d, "connection", json!({"custom": {"rtcdnRelay": false}}));
    h.publish(d, "x", "x");
    assert_eq!(h.hub.busy_sessions(), 1);
}

#[test]
fn finishing_on_an_origin_unpublishes_the_relay_legs() {
    let mut h = origin(2);
    let c = h.open();
    let (conn, _, _) = relayed_with(&mut h, c, PUBLISH_OFFER);
    outputs(&mut h);
    h.hub.start_drain(h.now);
    assert_eq!(h.hub.finish_drain(h.now), 1);
    let out = outputs(&mut h);
    assert!(
        matches!(&out[0], Output::Send(to, m) if *to == c && m.first().unwrap()["info"] == SHUTTING_DOWN),
        "{out:?}"
    );
    assert!(
        out.iter().any(|o| matches!(o, Output::RelaySend(x, text) if *x == conn && text.contains("unPublishStream"))),
        "{out:?}"
    );
    assert!(out.contains(&Output::RelayClose(conn)), "{out:?}");
}

#[test]
fn reloaded_edges_move_the_relay_legs() {
    let mut h = origin(2);
    let c = h.open();
    let (old, _, _) = relayed_with(&mut h, c, PUBLISH_OFFER);
    outputs(&mut h);
    let relay_peer = h
        .all_commands()
        .into_iter()
        .find_map(|(w, cmd)| match cmd {
            Command::AddPeer(spec) if matches!(spec.role, PeerRole::Relay { .. }) => {
                Some((w, spec.id))
            }
            _ => None,
        })
        .expect("a relay peer");
    let e2 = NodeConfig {
        id: "e2".into(),
        host: "127.0.0.1".into(),
        ws: 9200,
        wss: 8443,
        http: 9200,
        line: 1,
    };
    let diff = h.hub.reload_nodes(h.now, &[e2]);
    assert_eq!(
        (diff.added, diff.removed),
        (vec!["e2".into()], vec!["e1".into()])
    );
    let out = outputs(&mut h);
    assert!(
        matches!(&out[0], Output::RelaySend(x, text) if *x == old && text.contains("unPublishStream")),
        "{out:?}"
    );
    assert_eq!(out[1], Output::RelayClose(old));
    assert!(
        matches!(&out[2], Output::RelayConnect { url, .. } if url == "ws://127.0.0.1:9200/"),
        "{out:?}"
    );
    let cmds = h.all_commands();
    assert!(
        cmds.iter().any(|(w, cmd)| *w == relay_peer.0
            && matches!(cmd, Command::RemovePeer(p) if *p == relay_peer.1)),
        "the old leg's peer leaves its worker: {cmds:?}"
    );
    assert!(
        cmds.iter()
            .any(|(_, cmd)| matches!(cmd, Command::RemoveFanoutTarget { .. })),
        "{cmds:?}"
    );
    // The publisher itself is untouched.
    assert_eq!(h.hub.stats().peers, 1);
}
