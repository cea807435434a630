//! What `/health` lists of published streams: publisher, received video rate, players, and on
//! an origin the edges a stream is relayed to; a viewer of a stream without layers has none.

use super::super::StreamReport;
use super::relay::{origin, relayed_with};
use super::*;

/// The peer ids of every `AddPeer` queued, worker by worker.
fn added_peers(h: &Harness) -> Vec<PeerId> {
    h.all_commands()
        .into_iter()
        .filter_map(|(_, cmd)| match cmd {
            Command::AddPeer(spec) => Some(spec.id),
            _ => None,
        })
        .collect()
}

#[test]
fn health_lists_each_published_stream_with_its_rate_and_players() {
    // One worker: the peers are added in the order of the requests.
    let mut h = harness(1);
    let c = h.open();
    h.publish(c, "pub-b", "b-cam");
    h.publish(c, "pub-a", "a-cam");
    h.play(c, "v1", "a-cam");
    h.play(c, "v2", "a-cam");
    let peers = added_peers(&h);
    let [pub_b, pub_a, v1, _] = peers[..] else {
        panic!("{peers:?}")
    };
    let report = |stream: &str, id: &str, video_bps, viewers, connected| StreamReport {
        stream: stream.into(),
        media_session_id: id.into(),
        connected,
        has_audio: true,
        has_video: true,
        video_bps,
        viewers,
        relayed_to: vec![],
    };
    assert_eq!(
        h.hub.health().streams,
        [
            report("a-cam", "pub-a", None, 2, false),
            report("b-cam", "pub-b", None, 0, false)
        ],
        "ordered by name, no rate before the first report"
    );

    for event in [
        Event::PeerConnected {
            peer: pub_a,
            remote: "10.0.0.1:5000".parse().unwrap(),
        },
        Event::PublisherStats {
            peer: pub_a,
            video_bps: 900_000,
        },
        Event::PublisherStats {
            peer: pub_a,
            video_bps: 1_200_000,
        },
        Event::PublisherStats {
            peer: pub_b,
            video_bps: 0,
        },
        // A player's or an unknown peer's report is not a publisher's rate.
        Event::PublisherStats {
            peer: v1,
            video_bps: 5,
        },
        Event::PublisherStats {
            peer: PeerId(999),
            video_bps: 5,
        },
    ] {
        h.hub.handle_event(h.now, event);
    }
    h.drain();
    assert_eq!(
        h.hub.health().streams,
        [
            report("a-cam", "pub-a", Some(1_200_000), 2, true),
            report("b-cam", "pub-b", Some(0), 0, false)
        ]
    );

    // Workers report layer 0 for a stream without simulcast layers: /health shows none.
    h.hub.handle_event(
        h.now,
        Event::ViewerStats {
            peer: v1,
            sending_bps: 800_000,
            video_bps: 700_000,
            estimate_bps: None,
            layer: Some(0),
            video_paused: false,
        },
    );
    let viewers = h.hub.health().viewers;
    assert_eq!(
        (
            viewers[0].sending_bps,
            &viewers[0].layer,
            viewers[0].layer_index
        ),
        (800_000, &None, None)
    );

    h.stop(c, "stopStream", "v1", "a-cam");
    assert_eq!(h.hub.health().streams[0].viewers, 1);
    h.stop(c, "unPublishStream", "pub-a", "a-cam");
    let names: Vec<_> = h
        .hub
        .health()
        .streams
        .into_iter()
        .map(|s| s.stream)
        .collect();
    assert_eq!(names, ["b-cam"]);
}

#[test]
fn an_origin_lists_the_edges_that_publish_a_stream() {
    let mut h = origin(2);
    let c = h.open();
    let (conn, id, _) = relayed_with(&mut h, c, PUBLISH_OFFER);
    while h.hub.poll_output().is_some() {}
    assert_eq!(
        h.hub.health().streams[0].relayed_to,
        Vec::<String>::new(),
        "not until the edge publishes"
    );
    let status = json!({"message": "notifyStreamStatusEvent",
        "data": [{"mediaSessionId": id, "name": "cam", "status": "PUBLISHING"}]});
    h.hub.relay_text(h.now, conn, &status.to_string());
    let health = h.hub.health();
    assert_eq!(health.streams.len(), 1);
    assert_eq!(
        (
            health.streams[0].stream.as_str(),
            &health.streams[0].relayed_to
        ),
        ("cam", &vec!["e1".to_owned()])
    );
    assert_eq!(health.streams[0].viewers, 0, "a relay leg is not a player");
}
