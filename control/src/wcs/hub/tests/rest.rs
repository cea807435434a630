//! What the REST API finds and terminates.

use super::*;
use crate::wcs::hub::{StreamFilter, StreamInfo};

fn by_id(id: &str) -> StreamFilter {
    StreamFilter {
        media_session_id: Some(id.into()),
        ..Default::default()
    }
}

fn by_name(name: &str) -> StreamFilter {
    StreamFilter {
        name: Some(name.into()),
        ..Default::default()
    }
}

fn ids(found: &[StreamInfo]) -> Vec<&str> {
    found.iter().map(|s| s.media_session_id.as_str()).collect()
}

/// A publisher of `cam` on one connection, two players on another, a publisher of `desk`.
fn two_streams(h: &mut Harness) -> (ConnId, ConnId, ConnId) {
    let (p, v, d) = (h.open(), h.open(), h.open());
    h.publish(p, "pub-cam", "cam");
    h.play(v, "play-1", "cam");
    h.play(v, "play-2", "cam");
    h.publish(d, "pub-desk", "desk");
    h.all_commands();
    (p, v, d)
}

#[test]
fn find_lists_publishers_and_players_with_their_fields() {
    let mut h = harness(2);
    assert!(h.hub.find_streams(&StreamFilter::default()).is_empty());
    two_streams(&mut h);
    let all = h.hub.find_streams(&StreamFilter::default());
    assert_eq!(ids(&all), ["pub-cam", "play-1", "play-2", "pub-desk"]);
    let publisher = &all[0];
    assert_eq!(publisher.name, "cam");
    assert!(publisher.published);
    assert_eq!(publisher.status, "PUBLISHING");
    assert!(publisher.has_audio && publisher.has_video);
    assert_eq!(publisher.audio_codec.as_deref(), Some("opus/48000/2"));
    assert_eq!(publisher.video_codec.as_deref(), Some("VP8/90000"));
    assert_eq!(publisher.session_id, "/10.0.0.1:50001/127.0.0.1:8080");
    let player = &all[1];
    assert!(!player.published);
    assert_eq!(player.status, "PLAYING");
    assert_eq!(player.session_id, "/10.0.0.2:50002/127.0.0.1:8080");
    assert_eq!(player.video_codec.as_deref(), Some("VP8/90000"));

    assert_eq!(ids(&h.hub.find_streams(&by_id("play-2"))), ["play-2"]);
    assert_eq!(
        ids(&h.hub.find_streams(&by_name("cam"))),
        ["pub-cam", "play-1", "play-2"]
    );
    let players = StreamFilter {
        published: Some(false),
        ..Default::default()
    };
    assert_eq!(ids(&h.hub.find_streams(&players)), ["play-1", "play-2"]);
    let publishers_of_cam = StreamFilter {
        name: Some("cam".into()),
        published: Some(true),
        ..Default::default()
    };
    assert_eq!(ids(&h.hub.find_streams(&publishers_of_cam)), ["pub-cam"]);
    assert!(h.hub.find_streams(&by_name("nothing")).is_empty());
    assert!(h.drain().is_empty(), "finding sends nothing");
}

#[test]
fn connections_list_their_streams() {
    let mut h = harness(1);
    let (p, v, _) = two_streams(&mut h);
    let idle = h.open();
    let conns = h.hub.connections();
    assert_eq!(conns.len(), 4);
    assert_eq!(conns[0].session_id, "/10.0.0.1:50001/127.0.0.1:8080");
    assert_eq!(conns[0].media_session_ids, ["pub-cam"]);
    assert_eq!(conns[1].media_session_ids, ["play-1", "play-2"]);
    assert_eq!(conns[2].media_session_ids, ["pub-desk"]);
    assert!(conns[3].media_session_ids.is_empty());
    h.hub.close(h.now, idle);
    h.hub.close(h.now, v);
    h.hub.close(h.now, p);
    h.drain();
    assert_eq!(h.hub.connections().len(), 1);
}

#[test]
fn terminating_a_publisher_stops_its_players_as_an_unpublish_does() {
    let mut h = harness(2);
    let (p, v, d) = two_streams(&mut h);
    let ended = h.hub.terminate(&by_id("pub-cam"));
    assert_eq!(ids(&ended), ["pub-cam"]);
    let out = h.drain();
    let statuses: Vec<(ConnId, &str, (&str, &str))> = out
        .iter()
        .map(|(c, v)| {
            (
                *c,
                v["data"][0]["mediaSessionId"].as_str().unwrap(),
                status_of(v),
            )
        })
        .collect();
    assert_eq!(statuses.len(), 3, "{out:?}");
    assert_eq!(
        statuses[0],
        (p, "pub-cam", ("UNPUBLISHED", "Stopped by rest /terminate"))
    );
    let mut players: Vec<_> = statuses[1..].to_vec();
    players.sort_by_key(|s| s.1);
    assert_eq!(
        players,
        [
            (v, "play-1", ("STOPPED", "Stopped by publisher stop")),
            (v, "play-2", ("STOPPED", "Stopped by publisher stop")),
        ]
    );
    // The peers are removed from the workers and the name is free again.
    let removed = h
        .all_commands()
        .into_iter()
        .filter(|(_, c)| matches!(c, Command::RemovePeer(_)))
        .count();
    assert_eq!(removed, 3);
    assert_eq!(
        ids(&h.hub.find_streams(&StreamFilter::default())),
        ["pub-desk"]
    );
    let out = h.publish(p, "pub-cam-2", "cam");
    assert_eq!(status_of(&out[1].1), ("PUBLISHING", ""));
    // The other stream's publisher heard nothing.
    assert!(out.iter().all(|(c, _)| *c != d));
}

#[test]
fn terminating_a_player_stops_only_it() {
    let mut h = harness(1);
    let (_, v, _) = two_streams(&mut h);
    let ended = h.hub.terminate(&by_id("play-1"));
    assert_eq!(ids(&ended), ["play-1"]);
    assert_eq!(
        only_status(&h.drain(), v),
        ("STOPPED".into(), "Stopped by rest /terminate".into())
    );
    assert_eq!(
        ids(&h.hub.find_streams(&by_name("cam"))),
        ["pub-cam", "play-2"]
    );
}

#[test]
fn terminating_by_name_ends_the_publisher_and_every_player_once() {
    let mut h = harness(2);
    two_streams(&mut h);
    let ended = h.hub.terminate(&by_name("cam"));
    assert_eq!(ids(&ended), ["pub-cam", "play-1", "play-2"]);
    let out = h.drain();
    assert_eq!(out.len(), 3, "one status per stream: {out:?}");
    assert_eq!(
        ids(&h.hub.find_streams(&StreamFilter::default())),
        ["pub-desk"]
    );
    assert!(h.hub.terminate(&by_name("cam")).is_empty());
    assert!(h.drain().is_empty());
}
