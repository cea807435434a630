//! Stop, unpublish, disconnect, data-plane events, keep-alive and malformed input.

use super::*;
#[test]
fn stop_stream_removes_peer_and_last_fanout_target() {
    let mut h = harness(1);
    let (a, b) = (h.open(), h.open());
    h.publish(a, "pub", "cam");
    h.play(b, "p1", "cam");
    h.play(b, "p2", "cam");
    h.commands(0);
    let out = h.stop(b, "stopStream", "p1", "cam");
    assert_eq!(only_status(&out, b), ("STOPPED".into(), String::new()));
    let cmds = h.commands(0);
    assert!(matches!(&cmds[..], [Command::RemovePeer(_)]), "{cmds:?}");
    let out = h.stop(b, "stopStream", "p2", "cam");
    assert_eq!(only_status(&out, b).0, "STOPPED");
    let cmds = h.commands(0);
    assert!(
        matches!(
            &cmds[..],
            [
                Command::RemovePeer(_),
                Command::RemoveFanoutTarget {
                    worker: WorkerId(0),
                    ..
                }
            ]
        ),
        "{cmds:?}"
    );
    assert_eq!(h.hub.stats().peers, 1);
    // Stopping twice: unknown now, the connection stays usable.
    let out = h.stop(b, "stopStream", "p2", "cam");
    assert_eq!(only_status(&out, b), failed("Stream not found"));
    let out = h.send(
        b,
        "availableStream",
        json!({"mediaSessionId": "probe", "name": "cam"}),
    );
    assert_eq!(out[0].1["data"][0]["status"], "true");
}

#[test]
fn unpublish_stops_players_and_frees_the_name() {
    let mut h = harness(1);
    let (a, b, c) = (h.open(), h.open(), h.open());
    h.publish(a, "pub", "cam");
    h.play(b, "p1", "cam");
    h.play(c, "p2", "cam");
    h.commands(0);
    let out = h.stop(a, "unPublishStream", "pub", "cam");
    assert_eq!(out.len(), 3, "{out:?}");
    assert_eq!(out[0].0, a);
    assert_eq!(status_of(&out[0].1), ("UNPUBLISHED", ""));
    let mut players: Vec<(ConnId, String, String)> = out[1..]
        .iter()
        .map(|(to, v)| {
            (
                *to,
                v["data"][0]["mediaSessionId"].as_str().unwrap().to_owned(),
                status_of(v).1.to_owned(),
            )
        })
        .collect();
    players.sort();
    assert_eq!(
        players,
        vec![
            (b, "p1".into(), "Stopped by publisher stop".into()),
            (c, "p2".into(), "Stopped by publisher stop".into())
        ]
    );
    for (_, v) in &out[1..] {
        assert_eq!(status_of(v).0, "STOPPED");
    }
    let cmds = h.commands(0);
    assert_eq!(
        cmds.iter()
            .filter(|c| matches!(c, Command::RemovePeer(_)))
            .count(),
        3
    );
    assert_eq!(
        cmds.iter()
            .filter(|c| matches!(c, Command::RemoveFanoutTarget { .. }))
            .count(),
        1
    );
    assert_eq!(
        h.hub.stats(),
        crate::wcs::hub::HubStats {
            connections: 3,
            ..Default::default()
        }
    );
    // The name is free again.
    assert_eq!(status_of(&h.publish(b, "pub2", "cam")[1].1).0, "PUBLISHING");
}

#[test]
fn only_the_owning_connection_can_stop_a_stream() {
    let mut h = harness(1);
    let (a, b) = (h.open(), h.open());
    h.publish(a, "pub", "cam");
    h.commands(0);
    let out = h.stop(b, "unPublishStream", "pub", "cam");
    assert_eq!(only_status(&out, b), failed("Stream not found"));
    assert!(h.commands(0).is_empty());
    assert_eq!(h.hub.stats().streams, 1);
}

#[test]
fn disconnect_cleans_up_like_unpublish_and_stop() {
    let mut h = harness(1);
    let (a, b) = (h.open(), h.open());
    h.publish(a, "pub", "cam");
    h.play(b, "p1", "cam");
    h.commands(0);
    // The player disconnects: its peer and the fanout target go, nobody is notified.
    h.hub.close(h.now, b);
    assert!(h.drain().is_empty());
    let cmds = h.commands(0);
    assert!(
        matches!(
            &cmds[..],
            [Command::RemovePeer(_), Command::RemoveFanoutTarget { .. }]
        ),
        "{cmds:?}"
    );

    let c = h.open();
    h.play(c, "p2", "cam");
    h.commands(0);
    // The publisher disconnects: its player gets STOPPED, every peer is removed.
    h.hub.close(h.now, a);
    let out = h.drain();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].0, c);
    assert_eq!(
        status_of(&out[0].1),
        ("STOPPED", "Stopped by publisher stop")
    );
    assert_eq!(
        h.commands(0)
            .iter()
            .filter(|c| matches!(c, Command::RemovePeer(_)))
            .count(),
        2
    );
    assert_eq!(
        h.hub.stats(),
        crate::wcs::hub::HubStats {
            connections: 1,
            ..Default::default()
        }
    );
    // Closing twice is harmless.
    h.hub.close(h.now, a);
    assert!(h.drain().is_empty());
}

#[test]
fn malformed_and_unknown_messages_get_fail_and_connection_stays_usable() {
    let mut h = harness(1);
    let c = h.open();
    for (text, api) in [
        ("{not json", "unknown"),
        ("42", "unknown"),
        (r#"{"data":[{}]}"#, "unknown"),
        (r#"{"message":"publishStream"}"#, "publishStream"),
        (r#"{"message":"playStream","data":"x"}"#, "playStream"),
        (r#"{"message":"frobnicate","data":[{}]}"#, "frobnicate"),
    ] {
        let out = h.text(c, text);
        assert_eq!(out.len(), 1, "{text}: {out:?}");
        assert_eq!(out[0].1["message"], "fail", "{text}");
        assert_eq!(out[0].1["data"][0]["apiMethod"], api, "{text}");
        assert!(!out[0].1["data"][0]["info"].as_str().unwrap().is_empty());
    }
    for text in [
        r#"{"message":"pong","data":[null]}"#,
        r#"{"message":"ping","data":[null]}"#,
        r#"{"message":"pushLogs","data":[{"logs":"x"}]}"#,
        r#"{"message":"submitBugReport","data":[{"text":"x"}]}"#,
    ] {
        assert!(h.text(c, text).is_empty(), "{text}");
    }
    h.hub.handle_binary(h.now, c);
    assert!(h.drain().is_empty());
    let out = h.send(c, "connection", json!({}));
    assert_eq!(out[0].1["message"], "getUserData");
}

#[test]
fn available_stream_answers_string_status() {
    let mut h = harness(1);
    let c = h.open();
    let out = h.send(
        c,
        "availableStream",
        json!({"mediaSessionId": "probe", "name": "cam"}),
    );
    assert_eq!(out[0].1["message"], "availableStream");
    assert_eq!(
        out[0].1["data"][0],
        json!({"id": "probe", "status": "false", "info": "Stream not found"})
    );
    h.publish(c, "pub", "cam");
    let out = h.send(
        c,
        "availableStream",
        json!({"mediaSessionId": "probe2", "name": "cam"}),
    );
    assert_eq!(out[0].1["data"][0]["id"], "probe2");
    assert_eq!(out[0].1["data"][0]["status"], "true");
}

#[test]
fn stream_data_is_relayed_to_every_player() {
    let mut h = harness(1);
    let (a, b, c) = (h.open(), h.open(), h.open());
    h.publish(a, "pub", "cam");
    h.play(b, "p1", "cam");
    h.play(c, "p2", "cam");
    let out = h.send(
        a,
        "sendStreamEvent",
        json!({"mediaSessionId": "pub", "type": "data", "payload": {"count": 23}}),
    );
    let mut got: Vec<(ConnId, Value)> = out;
    got.sort_by_key(|(c, _)| *c);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].0, b);
    assert_eq!(
        got[0].1,
        json!({"message": "notifyStreamEvent", "data": [{"mediaSessionId": "p1", "type": "data", "payload": {"count": 23}}]})
    );
    assert_eq!(got[1].1["data"][0]["mediaSessionId"], "p2");
    let out = h.send(
        a,
        "sendStreamEvent",
        json!({"mediaSessionId": "pub", "type": "audioMuted"}),
    );
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].1["data"][0]["type"], "audioMuted");
    assert!(out[0].1["data"][0].get("payload").is_none());
    // A player cannot inject events, and unknown types are refused.
    let out = h.send(
        b,
        "sendStreamEvent",
        json!({"mediaSessionId": "p1", "type": "data", "payload": 1}),
    );
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].0, out[0].1["message"].as_str()), (b, Some("fail")));
    let out = h.send(
        a,
        "sendStreamEvent",
        json!({"mediaSessionId": "pub", "type": "resize"}),
    );
    assert_eq!(out[0].1["message"], "fail");
    let out = h.send(
        a,
        "sendData",
        json!({"operationId": "op-1", "payload": {"x": 1}}),
    );
    assert_eq!(
        out,
        vec![(
            a,
            json!({"message": "DataStatusEvent", "data": [{"operationId": "op-1", "status": "ACCEPTED"}]})
        )]
    );
}

fn peer_of(cmds: &[Command]) -> PeerId {
    cmds.iter()
        .find_map(|c| match c {
            Command::AddPeer(s) => Some(s.id),
            _ => None,
        })
        .expect("an AddPeer")
}

/// A hub with "pub" publishing "cam" on connection `a` and "p1" playing it on `b`:
/// `(hub, (a, b), publisher's peer, player's peer)`.
fn publisher_and_player() -> (Harness, (ConnId, ConnId), PeerId, PeerId) {
    let mut h = harness(1);
    let (a, b) = (h.open(), h.open());
    h.publish(a, "pub", "cam");
    let publisher = peer_of(&h.commands(0));
    h.play(b, "p1", "cam");
    let player = peer_of(&h.commands(0));
    (h, (a, b), publisher, player)
}

#[test]
fn worker_closing_a_publisher_fails_it_and_stops_players() {
    let (mut h, (a, b), publisher, player) = publisher_and_player();
    h.hub.handle_event(
        h.now,
        Event::PeerConnected {
            peer: player,
            remote: "10.0.0.2:4000".parse().unwrap(),
        },
    );
    assert_eq!(h.hub.stats().connected_peers, 1);
    assert!(h.drain().is_empty());
    h.hub.handle_event(
        h.now,
        Event::PeerClosed {
            peer: publisher,
            reason: CloseReason::IceTimeout,
        },
    );
    let out = h.drain();
    assert_eq!(out.len(), 2, "{out:?}");
    assert_eq!(out[0].0, a);
    assert_eq!(status_of(&out[0].1), ("FAILED", "Failed by ICE timeout"));
    assert_eq!(out[1].0, b);
    assert_eq!(
        status_of(&out[1].1),
        ("STOPPED", "Stopped by publisher stop")
    );
    let cmds = h.commands(0);
    // The publisher is already gone from its worker: only the player is removed.
    let removed: Vec<PeerId> = cmds
        .iter()
        .filter_map(|c| match c {
            Command::RemovePeer(p) => Some(*p),
            _ => None,
        })
        .collect();
    assert_eq!(removed, vec![player]);
    assert_eq!(h.hub.stats().streams, 0);
    assert_eq!(status_of(&h.publish(b, "pub2", "cam")[1].1).0, "PUBLISHING");
    // Events for unknown peers are ignored.
    h.hub.handle_event(
        h.now,
        Event::PeerClosed {
            peer: publisher,
            reason: CloseReason::DtlsError,
        },
    );
    assert!(h.drain().is_empty());
}

#[test]
fn worker_closing_a_player_fails_only_that_player() {
    let mut h = harness(1);
    let (a, b) = (h.open(), h.open());
    h.publish(a, "pub", "cam");
    h.play(b, "p1", "cam");
    let player = peer_of(&h.commands(0)[1..]);
    h.hub.handle_event(
        h.now,
        Event::PeerClosed {
            peer: player,
            reason: CloseReason::DtlsFingerprint,
        },
    );
    let out = h.drain();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].0, b);
    assert_eq!(
        status_of(&out[0].1),
        ("FAILED", "Failed by DTLS fingerprint error")
    );
    let cmds = h.commands(0);
    assert!(
        matches!(&cmds[..], [Command::RemoveFanoutTarget { .. }]),
        "{cmds:?}"
    );
    assert_eq!(h.hub.stats().streams, 1);
    assert_eq!(h.hub.stats().peers, 1);
}

#[test]
fn keep_alive_pings_and_closes_after_missed_probes() {
    let mut h = harness(1);
    let c = h.open();
    let quiet = h.open();
    h.publish(quiet, "pub", "cam");
    h.drain();
    let interval = Duration::from_secs(5);
    assert_eq!(h.hub.poll_timeout(), Some(h.now + interval));
    for round in 1..=3 {
        h.now += interval;
        h.hub.handle_timeout(h.now);
        let out = h.drain();
        assert_eq!(out.len(), 2, "round {round}: {out:?}");
        assert!(out
            .iter()
            .all(|(_, v)| *v == json!({"message": "ping", "data": []})));
        // `c` answers every ping; `quiet` never does.
        assert!(h.text(c, r#"{"message":"pong","data":[null]}"#).is_empty());
    }
    h.now += interval;
    h.hub.handle_timeout(h.now);
    let out = h.drain();
    assert!(out.contains(&(quiet, json!({"closed": true}))), "{out:?}");
    assert!(
        out.contains(&(c, json!({"message": "ping", "data": []}))),
        "{out:?}"
    );
    assert_eq!(h.hub.stats().connections, 1);
    assert_eq!(
        h.hub.stats().streams,
        0,
        "the quiet publisher was cleaned up"
    );
    assert!(h
        .commands(0)
        .iter()
        .any(|c| matches!(c, Command::RemovePeer(_))));
    // Nothing is due before the next interval.
    h.hub.handle_timeout(h.now + Duration::from_secs(1));
    assert!(h.drain().is_empty());
}

#[test]
fn a_dead_worker_fails_the_publish() {
    let mut h = harness(1);
    let c = h.open();
    h.workers.clear();
    let out = h.publish(c, "pub", "cam");
    assert_eq!(only_status(&out, c), failed("Failed by error"));
    assert_eq!(h.hub.stats().streams, 0);
    // Shutting down dead workers is harmless too.
    h.hub.shutdown_workers();
}

#[test]
fn shutdown_reaches_every_worker() {
    let h = harness(2);
    h.hub.shutdown_workers();
    for w in 0..2 {
        assert!(matches!(&h.commands(w)[..], [Command::Shutdown]));
    }
    let _ = StreamId(0);
}

#[test]
fn a_player_short_of_bandwidth_gets_not_enough_bandwidth_with_both_rates() {
    let (mut h, (_, b), publisher, player) = publisher_and_player();
    let short = |peer| Event::BandwidthShort {
        peer,
        sending_bps: 470_000,
        estimate_bps: 281_000,
    };
    h.hub.handle_event(h.now, short(player));
    assert_eq!(
        h.drain(),
        vec![(
            b,
            json!({"message": "notifyStreamEvent", "data": [{"mediaSessionId": "p1",
                "type": "notEnoughBandwidth", "payload": {"info": "470000/281000"}}]})
        )]
    );
    // Only players are told.
    h.hub.handle_event(h.now, short(publisher));
    assert!(h.drain().is_empty());
}

#[test]
fn players_and_publishers_are_told_their_video_rate_each_second() {
    let (mut h, (a, b), publisher, player) = publisher_and_player();
    let viewer = |peer| Event::ViewerStats {
        peer,
        sending_bps: 520_000,
        video_bps: 480_000,
        estimate_bps: Some(900_000),
        layer: None,
        video_paused: false,
    };
    h.hub.handle_event(h.now, viewer(player));
    h.hub.handle_event(
        h.now,
        Event::PublisherStats {
            peer: publisher,
            video_bps: 495_000,
        },
    );
    assert_eq!(
        h.drain(),
        vec![
            (
                b,
                json!({"message": "outboundVideoRate",
                    "data": [{"mediaSessionId": "p1", "videoRate": 480_000}]})
            ),
            (
                a,
                json!({"message": "inboundVideoRate",
                    "data": [{"mediaSessionId": "pub", "videoRate": 495_000}]})
            ),
        ]
    );
    // Each only in its own role (a relay leg's stats reach nobody either).
    h.hub.handle_event(h.now, viewer(publisher));
    h.hub.handle_event(
        h.now,
        Event::PublisherStats {
            peer: player,
            video_bps: 1,
        },
    );
    assert!(h.drain().is_empty());
}
