//! Publish and play rules.

use super::*;
#[test]
fn connection_gets_user_data_echo_with_token_and_session_id() {
    let mut h = harness(1);
    let c = h.open();
    let out = h.send(
        c,
        "connection",
        json!({"appKey": "defaultApp", "mediaProviders": ["WebRTC"], "clientVersion": "2.0"}),
    );
    assert_eq!(out.len(), 1);
    let (to, v) = &out[0];
    assert_eq!(*to, c);
    assert_eq!(v["message"], "getUserData");
    let d = &v["data"][0];
    assert_eq!(d["appKey"], "defaultApp");
    assert_eq!(d["mediaProviders"], json!(["WebRTC"]));
    assert_eq!(d["sessionId"], "/10.0.0.1:50001/127.0.0.1:8080");
    assert!(uuid::Uuid::parse_str(d["authToken"].as_str().unwrap()).is_ok());
}

#[test]
fn publish_adds_a_publisher_peer_and_answers_sdp_then_publishing() {
    let mut h = harness(1);
    let c = h.open();
    let out = h.publish(c, "pub-1", "cam");
    assert_eq!(out.len(), 2, "{out:?}");
    assert_eq!(out[0].1["message"], "setRemoteSDP");
    assert_eq!(out[0].1["data"][0], "pub-1");
    let answer = out[0].1["data"][1].as_str().unwrap();
    assert!(answer.contains("a=ice-ufrag:"), "{answer}");
    let st = &out[1].1["data"][0];
    assert_eq!(status_of(&out[1].1), ("PUBLISHING", ""));
    assert_eq!(st["mediaSessionId"], "pub-1");
    assert_eq!(st["name"], "cam");
    assert_eq!(st["published"], true);
    assert_eq!(
        (st["hasAudio"].as_bool(), st["hasVideo"].as_bool()),
        (Some(true), Some(true))
    );
    assert_eq!(st["record"], false);
    let cmds = h.commands(0);
    assert_eq!(cmds.len(), 1);
    let Command::AddPeer(spec) = &cmds[0] else {
        panic!("{cmds:?}")
    };
    assert!(matches!(spec.role, PeerRole::Publisher { .. }));
    assert_eq!(spec.local_ufrag.len(), 8);
    assert_eq!(spec.local_pwd.len(), 24);
    assert!(spec
        .local_ufrag
        .chars()
        .chain(spec.local_pwd.chars())
        .all(|c| c.is_ascii_alphanumeric()));
    assert!(answer.contains(&spec.local_ufrag) && answer.contains(&spec.local_pwd));
    assert_eq!(spec.remote_ufrag, "Tq3x");
    assert_eq!(spec.remote_pwd, "Hx1dOqO1V7MNg4c0Qx7pQmHZ");
    assert_eq!(spec.remote_fingerprint.algorithm, "sha-256");
    assert_eq!(spec.remote_fingerprint.digest.len(), 32);
    assert_eq!(spec.tracks.len(), 2);
    assert_eq!(h.hub.stats().streams, 1);
    assert_eq!(h.hub.stats().peers, 1);
}

#[test]
fn ice_credentials_are_fresh_per_peer() {
    let mut h = harness(1);
    let c = h.open();
    h.publish(c, "a", "one");
    h.publish(c, "b", "two");
    let cmds = h.commands(0);
    let creds: Vec<(String, String)> = cmds
        .iter()
        .map(|c| match c {
            Command::AddPeer(s) => (s.local_ufrag.clone(), s.local_pwd.clone()),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(creds.len(), 2);
    assert_ne!(creds[0].0, creds[1].0);
    assert_ne!(creds[0].1, creds[1].1);
}

#[test]
fn duplicate_live_name_fails_and_cannot_hijack() {
    let mut h = harness(1);
    let (a, b) = (h.open(), h.open());
    h.publish(a, "a-1", "cam");
    h.commands(0);
    let out = h.publish(b, "b-1", "cam");
    assert_eq!(
        only_status(&out, b),
        failed("Stream name is already in use")
    );
    assert!(h.commands(0).is_empty());
    // The original publisher is untouched: players still reach it.
    let c = h.open();
    let out = h.play(c, "p-1", "cam");
    assert_eq!(status_of(&out[1].1).0, "PLAYING");
}

#[test]
fn duplicate_media_session_id_fails() {
    let mut h = harness(1);
    let (a, b) = (h.open(), h.open());
    h.publish(a, "same", "cam");
    let out = h.publish(b, "same", "other");
    assert_eq!(
        only_status(&out, b),
        failed("MediaSessionId is already in use")
    );
    let out = h.play(b, "same", "cam");
    assert_eq!(
        only_status(&out, b),
        failed("MediaSessionId is already in use")
    );
}

#[test]
fn name_and_id_limits() {
    let mut h = harness(1);
    let c = h.open();
    assert_eq!(
        only_status(&h.publish(c, "x1", ""), c),
        failed("Invalid stream name")
    );
    let long = "n".repeat(257);
    assert_eq!(
        only_status(&h.publish(c, "x2", &long), c),
        failed("Invalid stream name")
    );
    let max = "n".repeat(256);
    assert_eq!(status_of(&h.publish(c, "x3", &max)[1].1).0, "PUBLISHING");
    let out = h.publish(c, "", "cam");
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].1["message"], "fail");
    assert_eq!(out[0].1["data"][0]["apiMethod"], "publishStream");
    assert_eq!(out[0].1["data"][0]["info"], "MediaSessionId is null");
}

#[test]
fn bad_offers_fail_with_sdp_info() {
    let mut h = harness(1);
    let c = h.open();
    let no_sdp = h.send(
        c,
        "publishStream",
        json!({"mediaSessionId": "m1", "name": "cam"}),
    );
    assert!(only_status(&no_sdp, c).1.starts_with("Invalid SDP"));
    let garbage = h.send(
        c,
        "publishStream",
        json!({"mediaSessionId": "m2", "name": "cam", "sdp": "\u{0}garbage"}),
    );
    assert!(only_status(&garbage, c).1.starts_with("Invalid SDP"));
    let no_fp = PUBLISH_OFFER.replace("a=fingerprint:", "a=x-fingerprint:");
    let out = h.send(
        c,
        "publishStream",
        json!({"mediaSessionId": "m3", "name": "cam", "sdp": no_fp}),
    );
    assert!(only_status(&out, c).1.starts_with("Invalid SDP"));
    assert!(h.all_commands().is_empty());
    assert_eq!(h.hub.stats().streams, 0);

    // A malformed offer is refused as such even for a taken name or a missing stream.
    assert_eq!(status_of(&h.publish(c, "m4", "cam")[1].1).0, "PUBLISHING");
    let taken = h.send(
        c,
        "publishStream",
        json!({"mediaSessionId": "m5", "name": "cam", "sdp": "v=0"}),
    );
    assert!(only_status(&taken, c).1.starts_with("Invalid SDP"));
    let missing = h.send(
        c,
        "playStream",
        json!({"mediaSessionId": "m6", "name": "nobody", "sdp": "v=0"}),
    );
    assert!(only_status(&missing, c).1.starts_with("Invalid SDP"));
}

#[test]
fn play_unknown_name_is_stream_not_found() {
    let mut h = harness(1);
    let c = h.open();
    assert_eq!(
        only_status(&h.play(c, "p", "nope"), c),
        failed("Stream not found")
    );
    assert!(h.commands(0).is_empty());
}

#[test]
fn play_with_no_common_codecs_fails() {
    let mut h = harness(1);
    let (a, b) = (h.open(), h.open());
    h.publish(a, "pub", "cam");
    h.commands(0);
    // Neither the publisher's Opus nor its video codec is offered: nothing can be played.
    let offer = play_offer("a=rtpmap:98 VP9/90000\r\n")
        .replace("SAVPF 111 0\r\n", "SAVPF 0\r\n")
        .replace(
            "a=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n",
            "",
        );
    let out = h.play_with(b, "p", "cam", &offer);
    assert_eq!(only_status(&out, b), failed("No common codecs"));
    assert!(h.commands(0).is_empty());
    assert_eq!(h.hub.stats().peers, 1);
}

#[test]
fn play_adds_subscriber_and_fanout_once_per_worker() {
    let mut h = harness(2);
    let (a, b) = (h.open(), h.open());
    h.publish(a, "pub", "cam");
    let pub_cmds = h.all_commands();
    let (pub_worker, stream) = match &pub_cmds[..] {
        [(w, Command::AddPeer(s))] => (*w, s.stream()),
        other => panic!("{other:?}"),
    };
    let other = 1 - pub_worker;

    // First player goes to the idle worker (fewest peers).
    let out = h.play(b, "p1", "cam");
    assert_eq!(out[0].1["message"], "setRemoteSDP");
    assert_eq!(out[0].1["data"][0], "p1");
    assert_eq!(status_of(&out[1].1), ("PLAYING", ""));
    assert_eq!(out[1].1["data"][0]["published"], false);
    let sub = h.commands(other);
    let [Command::AddPeer(spec)] = &sub[..] else {
        panic!("{sub:?}")
    };
    assert_eq!(
        spec.role,
        PeerRole::Subscriber {
            stream,
            source: WorkerId(pub_worker)
        }
    );
    assert_eq!(spec.remote_ufrag, "pl4Y");
    let fan = h.commands(pub_worker);
    assert!(
        matches!(&fan[..], [Command::AddFanoutTarget { stream: s, worker }] if *s == stream && *worker == WorkerId(other)),
        "{fan:?}"
    );

    // Second player: tie (1 peer each) → round-robin moves on to the publisher's worker,
    // which becomes a fanout target of itself.
    h.play(b, "p2", "cam");
    let cmds = h.commands(pub_worker);
    assert!(
        matches!(&cmds[..], [Command::AddPeer(_), Command::AddFanoutTarget { worker, .. }] if *worker == WorkerId(pub_worker)),
        "{cmds:?}"
    );

    // Third player lands on a worker that already has a player: no second AddFanoutTarget.
    h.play(b, "p3", "cam");
    let all = h.all_commands();
    assert_eq!(
        all.iter()
            .filter(|(_, c)| matches!(c, Command::AddPeer(_)))
            .count(),
        1
    );
    assert!(
        !all.iter()
            .any(|(_, c)| matches!(c, Command::AddFanoutTarget { .. })),
        "{all:?}"
    );
    assert_eq!(h.hub.stats().peers, 4);
}
