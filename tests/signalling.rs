//! WCS signalling through the real `rtcdn` binary: bad input, stream-name rules and the
//! publisher → player stop notifications, with a blocking websocket client and real Chrome offers
//! (no media flows here; the browser tests in `tests/browser/` cover media).

mod common;

use std::time::Duration;

use common::{fixture, stream_status, ServerProcess, WcsClient, REPLY_TIMEOUT};
use serde_json::json;

const STOPPED_BY_PUBLISHER: &str = "Stopped by publisher stop";

fn publish_offer() -> String {
    fixture("chrome_publish_offer.sdp")
}

fn play_offer() -> String {
    fixture("chrome_play_offer.sdp")
}

/// A server plus one client that already has an ESTABLISHED session.
fn server_and_session() -> (ServerProcess, WcsClient) {
    let server = ServerProcess::start(&[]);
    let mut client = WcsClient::connect(&server.ws_url());
    client.create_session();
    (server, client)
}

fn expect_fail(client: &mut WcsClient, what: &str) {
    client.expect("fail", |_| true, REPLY_TIMEOUT);
    assert!(
        !client.seen.iter().any(|v| v["data"].as_array().is_none()),
        "{what}: a server message without a data array breaks the SDK: {}",
        client.seen_summary()
    );
}

#[test]
fn health_answers_200() {
    let server = ServerProcess::start(&[]);
    let (status, _) = server.http_get("/health");
    assert_eq!(status, 200);
}

#[test]
fn connection_gets_user_data() {
    let (_server, client) = server_and_session();
    let user_data = client
        .seen
        .last()
        .expect("getUserData was received")
        .clone();
    assert!(
        user_data["data"].is_array(),
        "getUserData needs a data array: {user_data}"
    );
    assert!(
        user_data["data"][0].is_object(),
        "getUserData data[0] must be the session object: {user_data}"
    );
}

#[test]
fn malformed_json_gets_fail_and_connection_still_works() {
    let server = ServerProcess::start(&[]);
    let mut client = WcsClient::connect(&server.ws_url());
    client.send_raw("{\"message\": \"connection\", \"data\": [");
    expect_fail(&mut client, "truncated JSON");
    client.send_raw("\u{0}\u{1}garbage\u{7f}");
    expect_fail(&mut client, "garbage");
    client.create_session();
}

#[test]
fn non_object_json_gets_fail_and_connection_still_works() {
    let server = ServerProcess::start(&[]);
    let mut client = WcsClient::connect(&server.ws_url());
    for text in ["[1,2,3]", "42", "\"connection\"", "null", "{\"data\":[{}]}"] {
        client.send_raw(text);
        expect_fail(&mut client, text);
    }
    client.create_session();
}

#[test]
fn unknown_message_gets_fail_and_connection_still_works() {
    let (_server, mut client) = server_and_session();
    client.send("noSuchMessage", json!({"x": 1}));
    expect_fail(&mut client, "unknown message");
    // A known message with a payload of the wrong shape must not kill the connection either.
    client.send("publishStream", json!("not an object"));
    expect_fail(&mut client, "publishStream with a string payload");
    client.create_session();
}

#[test]
fn oversized_frame_closes_only_that_connection() {
    let server = ServerProcess::start(&[]);
    let mut big = WcsClient::connect(&server.ws_url());
    big.create_session();
    let filler = "x".repeat(1024 * 1024);
    let text = json!({"message": "connection", "data": [{"appKey": filler}]}).to_string();
    // The server may close while we are still writing; both outcomes are fine.
    let _ = big.try_send_raw(&text);
    assert!(
        big.wait_closed(Duration::from_secs(5)),
        "a 1 MiB frame must close the connection; seen: {}",
        big.seen_summary()
    );

    let mut other = WcsClient::connect(&server.ws_url());
    other.create_session();
    let (status, _) = server.http_get("/health");
    assert_eq!(status, 200, "/health after an oversized frame");
}

/// A legal offer of 200 KiB publishes; one over the SDP limit (256 KiB, inside the 512 KiB
/// message limit) fails that stream only, and the session goes on.
#[test]
fn large_offers_publish_and_larger_ones_fail_only_their_stream() {
    let (_server, mut client) = server_and_session();
    let grow = |target: usize| {
        let offer = publish_offer();
        let mut lines = String::new();
        let mut i = 0;
        while offer.len() + lines.len() < target {
            lines.push_str(&format!(
                "a=ssrc:{} msid:stream-{i} track-{i}\r\n",
                1000 + i % 8
            ));
            i += 1;
        }
        offer.replacen("a=rtcp-mux\r\n", &format!("a=rtcp-mux\r\n{lines}"), 1)
    };
    let large = grow(200 * 1024);
    client
        .publish("large-offer", &large)
        .expect("a 200 KiB offer of legal lines publishes");
    let info = client
        .publish("too-large-offer", &grow(300 * 1024))
        .map(|n| n.answer_sdp)
        .expect_err("a 300 KiB offer fails");
    assert_eq!(info, "Invalid SDP: SDP too large");
    client
        .publish("after-too-large", &publish_offer())
        .expect("the session goes on after a refused offer");
}

/// `max_connections_per_ip`: the connection over the limit is told why and closed; the others
/// and the node are unaffected.
#[test]
fn connections_over_the_per_address_limit_are_refused_with_a_reason() {
    let server = ServerProcess::start(&[("max_connections_per_ip", "2")]);
    let mut first = WcsClient::connect(&server.ws_url());
    first.create_session();
    let mut second = WcsClient::connect(&server.ws_url());
    second.create_session();
    let mut third = WcsClient::connect(&server.ws_url());
    let fail = third
        .recv_timeout(Duration::from_secs(5))
        .expect("the refused connection is told why");
    assert_eq!(fail["message"], "fail", "{fail}");
    assert_eq!(
        fail["data"][0]["info"],
        "Too many connections from this address"
    );
    assert!(third.wait_closed(Duration::from_secs(5)));
    first
        .publish("still-fine", &publish_offer())
        .expect("the connections within the limit work");
    first.close();
    let mut fourth = WcsClient::connect(&server.ws_url());
    fourth.create_session();
}

/// A publish whose `sdp` is not a string fails that stream with FAILED (the SDK's stream would
/// otherwise stay PENDING), not only with a `fail`.
#[test]
fn publish_with_a_non_string_sdp_fails_its_stream() {
    let (_server, mut client) = server_and_session();
    client.send(
        "publishStream",
        json!({"mediaSessionId": "bad-sdp-1", "name": "bad-sdp", "published": true, "sdp": 5}),
    );
    let (status, info) = client.expect_status("bad-sdp-1", |_| true, Duration::from_secs(5));
    assert_eq!(status, "FAILED");
    assert!(
        info.starts_with("Bad publishStream: invalid type"),
        "{info}"
    );
    client
        .publish("bad-sdp", &publish_offer())
        .expect("the name is free and the session usable");
}

#[test]
fn publish_without_media_sections_fails() {
    let (_server, mut client) = server_and_session();
    let no_media = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n";
    let info = client
        .publish("nomedia", no_media)
        .map(|n| n.answer_sdp)
        .expect_err("an offer without m= sections must fail");
    assert_eq!(info, "Invalid SDP: no audio or video media section");
}

#[test]
fn publish_with_garbage_sdp_fails() {
    let (_server, mut client) = server_and_session();
    let info = client
        .publish("garbage", "this is not SDP\r\n\u{1}\u{2}m=\r\n")
        .map(|n| n.answer_sdp)
        .expect_err("garbage SDP must fail");
    assert_eq!(info, "Invalid SDP: line 1: expected <type>=<value>");
    // The session keeps working: a real offer still publishes afterwards.
    client
        .publish("garbage", &publish_offer())
        .expect("a valid publish after a failed one");
}

#[test]
fn publish_without_fingerprint_fails() {
    let (_server, mut client) = server_and_session();
    let offer: String = publish_offer()
        .split_inclusive("\r\n")
        .filter(|line| !line.starts_with("a=fingerprint:"))
        .collect();
    assert!(!offer.contains("fingerprint"));
    let info = client
        .publish("nofp", &offer)
        .map(|n| n.answer_sdp)
        .expect_err("an offer without a DTLS fingerprint must fail");
    assert_eq!(info, "Invalid SDP: no DTLS fingerprint");
}

#[test]
fn publish_answer_is_ice_lite_recvonly_with_candidates() {
    let (_server, mut client) = server_and_session();
    let published = client
        .publish("answer-check", &publish_offer())
        .expect("publish of a Chrome offer");
    let sdp = &published.answer_sdp;
    for needle in [
        "a=ice-lite",
        "a=fingerprint:sha-256 ",
        "a=rtcp-mux",
        "a=recvonly",
        "a=candidate:",
        "a=end-of-candidates",
        "a=mid:0",
        "a=mid:1",
    ] {
        assert!(sdp.contains(needle), "answer lacks {needle:?}:\n{sdp}");
    }
    assert!(
        sdp.contains("a=setup:passive") || sdp.contains("a=setup:active"),
        "answer needs an explicit DTLS role:\n{sdp}"
    );
    assert!(
        !sdp.contains("a=sendrecv"),
        "publish answer must be recvonly:\n{sdp}"
    );
}

#[test]
fn duplicate_publish_name_fails_and_first_keeps_publishing() {
    let server = ServerProcess::start(&[]);
    let mut first = WcsClient::connect(&server.ws_url());
    first.create_session();
    let published = first
        .publish("dup", &publish_offer())
        .expect("first publish");

    let mut second = WcsClient::connect(&server.ws_url());
    second.create_session();
    let info = second
        .publish("dup", &publish_offer())
        .map(|n| n.answer_sdp)
        .expect_err("a second publisher of the same name must fail");
    assert_eq!(info, "Stream name is already in use");

    let events = first.drain_for(Duration::from_millis(500));
    assert!(
        events
            .iter()
            .all(|v| stream_status(v, &published.media_session_id).is_none()),
        "the first publisher must not get a status change: {events:?}"
    );
    let mut player = WcsClient::connect(&server.ws_url());
    player.create_session();
    player
        .play("dup", &play_offer())
        .expect("the first publisher's stream is still playable");
}

#[test]
fn play_of_unknown_name_fails_with_stream_not_found() {
    let (_server, mut client) = server_and_session();
    let info = client
        .play("no-such-stream", &play_offer())
        .map(|n| n.answer_sdp)
        .expect_err("play of an unknown name must fail");
    assert_eq!(info, "Stream not found");
}

#[test]
fn play_answer_is_sendonly_with_one_msid() {
    let server = ServerProcess::start(&[]);
    let mut publisher = WcsClient::connect(&server.ws_url());
    publisher.create_session();
    publisher
        .publish("msid", &publish_offer())
        .expect("publish");
    let mut player = WcsClient::connect(&server.ws_url());
    player.create_session();
    let played = player.play("msid", &play_offer()).expect("play");
    let sdp = &played.answer_sdp;
    assert!(
        sdp.contains("a=sendonly"),
        "play answer must be sendonly:\n{sdp}"
    );
    assert!(
        !sdp.contains("a=recvonly"),
        "play answer must be sendonly:\n{sdp}"
    );
    let stream_ids: Vec<&str> = sdp
        .lines()
        .filter_map(|l| l.strip_prefix("a=msid:"))
        .filter_map(|rest| rest.split_whitespace().next())
        .collect();
    // One a=msid per m-section (audio and video), both naming the same stream id.
    assert_eq!(
        stream_ids.len(),
        2,
        "one a=msid line per m-section (audio, video):\n{sdp}"
    );
    assert_eq!(
        stream_ids[0], stream_ids[1],
        "audio and video must share one msid stream id: {stream_ids:?}"
    );
}

#[test]
fn unpublish_stops_players_with_publisher_stop() {
    let server = ServerProcess::start(&[]);
    let mut publisher = WcsClient::connect(&server.ws_url());
    publisher.create_session();
    let published = publisher
        .publish("unpub", &publish_offer())
        .expect("publish");

    let mut players: Vec<(WcsClient, String)> = (0..2)
        .map(|_| {
            let mut player = WcsClient::connect(&server.ws_url());
            player.create_session();
            let played = player.play("unpub", &play_offer()).expect("play");
            (player, played.media_session_id)
        })
        .collect();

    let (status, _) = publisher.unpublish(&published);
    assert_eq!(status, "UNPUBLISHED");
    for (player, id) in &mut players {
        // The first status the player gets after the unpublish, whatever it is.
        let (status, info) = player.expect_status(id, |_| true, REPLY_TIMEOUT);
        assert_eq!(
            (status.as_str(), info.as_str()),
            ("STOPPED", STOPPED_BY_PUBLISHER)
        );
    }

    // The name is free again and unknown to players.
    let mut late = WcsClient::connect(&server.ws_url());
    late.create_session();
    let info = late
        .play("unpub", &play_offer())
        .map(|n| n.answer_sdp)
        .expect_err("play after unpublish");
    assert_eq!(info, "Stream not found");
    publisher
        .publish("unpub", &publish_offer())
        .expect("the name can be published again");
}

#[test]
fn publisher_disconnect_stops_players_with_publisher_stop() {
    let server = ServerProcess::start(&[]);
    let mut publisher = WcsClient::connect(&server.ws_url());
    publisher.create_session();
    publisher
        .publish("gone", &publish_offer())
        .expect("publish");
    let mut player = WcsClient::connect(&server.ws_url());
    player.create_session();
    let played = player.play("gone", &play_offer()).expect("play");

    publisher.close();
    // The first status the player gets after the publisher left, whatever it is.
    let (status, info) = player.expect_status(&played.media_session_id, |_| true, REPLY_TIMEOUT);
    assert_eq!(
        (status.as_str(), info.as_str()),
        ("STOPPED", STOPPED_BY_PUBLISHER)
    );

    // The disconnected publisher's name is released.
    let mut next = WcsClient::connect(&server.ws_url());
    next.create_session();
    next.publish("gone", &publish_offer())
        .expect("the name is free after the publisher disconnected");
}

#[test]
fn stop_of_a_player_answers_stopped_and_keeps_the_publisher() {
    let server = ServerProcess::start(&[]);
    let mut publisher = WcsClient::connect(&server.ws_url());
    publisher.create_session();
    let published = publisher
        .publish("stopme", &publish_offer())
        .expect("publish");
    let mut player = WcsClient::connect(&server.ws_url());
    player.create_session();
    let played = player.play("stopme", &play_offer()).expect("play");

    let (status, _) = player.stop(&played);
    assert_eq!(status, "STOPPED");
    let events = publisher.drain_for(Duration::from_millis(300));
    assert!(
        events
            .iter()
            .all(|v| stream_status(v, &published.media_session_id).is_none()),
        "a player stopping must not change the publisher: {events:?}"
    );
}

#[test]
fn server_survives_abrupt_client_drops() {
    let mut server = ServerProcess::start(&[]);
    for _ in 0..5 {
        let mut client = WcsClient::connect(&server.ws_url());
        client.create_session();
        client
            .publish(&format!("abrupt-{}", common::unique_id()), &publish_offer())
            .expect("publish");
        drop(client); // TCP reset without a close frame
    }
    let mut client = WcsClient::connect(&server.ws_url());
    client.create_session();
    client
        .publish("after-abrupt", &publish_offer())
        .expect("publish after abrupt drops");
    assert!(server.is_running());
}
