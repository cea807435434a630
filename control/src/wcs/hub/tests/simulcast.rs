//! Simulcast in the hub: a viewer's layer chosen by a name suffix (on an origin and on an
//! edge that got the stream through a relay leg), and what `/health` shows of viewers and
//! layers.

use dataplane::api::{LayerChoice, LayerSpec, MediaKind, PeerSpec};

use super::super::{LayeredStream, ViewerReport};

use super::relay::{origin, relayed_with};
use super::*;
use crate::wcs::info;

/// The real Chromium three-rid simulcast offer (`l`, `m`, `h`) of the SDP fixtures, as
/// Chrome sends it.
fn simulcast_offer() -> String {
    include_str!("../../../../../tests/fixtures/chrome_simulcast_offer.sdp").replace('\n', "\r\n")
}

/// The specs of every `AddPeer` queued on any worker, in order.
fn added(h: &Harness) -> Vec<PeerSpec> {
    h.all_commands()
        .into_iter()
        .filter_map(|(_, cmd)| match cmd {
            Command::AddPeer(spec) => Some(*spec),
            _ => None,
        })
        .collect()
}

/// The stream a subscriber spec plays.
fn played(spec: &PeerSpec) -> StreamId {
    match spec.role {
        PeerRole::Subscriber { stream, .. } => stream,
        ref other => panic!("not a subscriber: {other:?}"),
    }
}

fn rids(layers: &[LayerSpec]) -> Vec<&str> {
    layers.iter().map(|l| l.rid.as_str()).collect()
}

#[test]
fn a_layer_suffix_plays_the_base_stream_with_that_layer() {
    let mut h = harness(1);
    let c = h.open();
    h.publish_with(c, "pub-1", "cam", &simulcast_offer());
    let [publisher] = added(&h).try_into().unwrap();
    let video = publisher.track(MediaKind::Video).unwrap();
    assert_eq!(rids(&video.layers), ["l", "m", "h"]);
    let PeerRole::Publisher { stream } = publisher.role else {
        panic!("{publisher:?}")
    };

    for (name, choice) in [
        ("cam", LayerChoice::Auto),
        ("cam-low", LayerChoice::Lowest),
        ("cam-mid", LayerChoice::Middle),
        ("cam-high", LayerChoice::Highest),
    ] {
        let id = format!("play-{name}");
        let out = h.play(c, &id, name);
        assert_eq!(out.len(), 2, "{name}: {out:?}");
        let (status, info) = status_of(&out[1].1);
        assert_eq!((status, info), ("PLAYING", ""), "{name}");
        assert_eq!(
            out[1].1["data"][0]["name"], name,
            "the name the player asked for"
        );
        let [spec] = added(&h).try_into().unwrap();
        assert_eq!(
            (played(&spec), spec.layer_choice),
            (stream, choice),
            "{name}"
        );
        assert!(spec.tracks.iter().all(|t| t.layers.is_empty()));
    }
    assert_eq!(h.hub.stats().players, 4);
}

#[test]
fn an_exact_name_wins_over_a_suffix_and_unknown_bases_are_not_found() {
    let mut h = harness(1);
    let c = h.open();
    h.publish(c, "pub-1", "cam");
    h.publish(c, "pub-2", "cam-low");
    let publishers = added(&h);
    let stream_of = |i: usize| publishers[i].stream();

    h.play(c, "p1", "cam-low");
    let [spec] = added(&h).try_into().unwrap();
    assert_eq!(
        (played(&spec), spec.layer_choice),
        (stream_of(1), LayerChoice::Auto)
    );
    h.play(c, "p2", "cam-low-low");
    let [spec] = added(&h).try_into().unwrap();
    assert_eq!(
        (played(&spec), spec.layer_choice),
        (stream_of(1), LayerChoice::Lowest)
    );
    // A stream without simulcast still plays under a suffix (the choice is then ignored).
    h.play(c, "p3", "cam-high");
    let [spec] = added(&h).try_into().unwrap();
    assert_eq!(
        (played(&spec), spec.layer_choice),
        (stream_of(0), LayerChoice::Highest)
    );

    for name in ["other-low", "cam-LOW", "cam-lowest", "cam-"] {
        let out = h.play(c, &format!("x-{name}"), name);
        assert_eq!(
            only_status(&out, c),
            failed(info::STREAM_NOT_FOUND),
            "{name}"
        );
    }
    assert!(added(&h).is_empty());
}

#[test]
fn available_stream_knows_layer_suffixes() {
    let mut h = harness(1);
    let c = h.open();
    h.publish(c, "pub-1", "cam");
    for (name, available) in [("cam", true), ("cam-mid", true), ("cam-middle", false)] {
        let out = h.send(
            c,
            "availableStream",
            json!({"mediaSessionId": "a", "name": name}),
        );
        let status = out[0].1["data"][0]["status"].as_str().unwrap();
        assert_eq!(status, available.to_string(), "{name}: {out:?}");
    }
}

#[test]
fn an_edge_viewer_picks_a_layer_of_the_relayed_stream() {
    // The origin relays the simulcast stream; its relay peer sends every layer.
    let mut o = origin(1);
    let publisher = o.open();
    let (_, _, relay_offer) = relayed_with(&mut o, publisher, &simulcast_offer());
    // Draining the output starts the relay peer.
    let _ = std::iter::from_fn(|| o.hub.poll_output()).count();
    let specs = added(&o);
    let relay = specs
        .iter()
        .find(|s| matches!(s.role, PeerRole::Relay { .. }))
        .unwrap_or_else(|| panic!("no relay peer: {specs:?}"));
    let relay_layers = &relay.track(MediaKind::Video).unwrap().layers;
    assert_eq!(relay_layers.len(), 3);
    assert!(relay_layers
        .iter()
        .all(|l| l.ssrc.is_some() && l.rtx_ssrc.is_some()));

    // The edge takes the relay's publish like any other; its stream has the same layers.
    let mut edge = harness(1);
    let leg = edge.open();
    let out = edge.publish_with(leg, "leg-1", "cam", &relay_offer);
    assert_eq!(status_of(&out[1].1), ("PUBLISHING", ""));
    let [edge_publisher] = added(&edge).try_into().unwrap();
    let edge_layers = &edge_publisher.track(MediaKind::Video).unwrap().layers;
    let ssrcs = |layers: &[LayerSpec]| -> Vec<(Option<u32>, Option<u32>)> {
        layers.iter().map(|l| (l.ssrc, l.rtx_ssrc)).collect()
    };
    assert_eq!(ssrcs(edge_layers), ssrcs(relay_layers));

    let viewer = edge.open();
    let out = edge.play(viewer, "v-1", "cam-low");
    assert_eq!(status_of(&out[1].1), ("PLAYING", ""));
    let [spec] = added(&edge).try_into().unwrap();
    assert_eq!(
        (played(&spec), spec.layer_choice),
        (edge_publisher.stream(), LayerChoice::Lowest)
    );

    // SSRC-group layers have no rid: operators see their indexes.
    edge.hub
        .handle_event(edge.now, viewer_stats(spec.id, Some(2), 90_000));
    let health = edge.hub.health();
    assert_eq!(
        health.simulcast,
        [LayeredStream {
            stream: "cam".into(),
            layers: vec!["0".into(), "1".into(), "2".into()],
        }]
    );
    assert_eq!(health.viewers[0].layer.as_deref(), Some("2"));
    let origin_health = o.hub.health();
    assert_eq!(origin_health.simulcast[0].layers, ["l", "m", "h"]);
}

fn viewer_stats(peer: PeerId, layer: Option<u8>, sending_bps: u64) -> Event {
    Event::ViewerStats {
        peer,
        sending_bps,
        video_bps: sending_bps * 9 / 10,
        estimate_bps: layer.map(|_| sending_bps * 2),
        layer,
        video_paused: false,
    }
}

#[test]
fn health_shows_each_players_latest_stats_and_the_streams_layers() {
    let mut h = harness(1);
    let c = h.open();
    h.publish_with(c, "pub-1", "cam", &simulcast_offer());
    h.publish(c, "pub-2", "plain");
    for (id, name) in [("v1", "cam-low"), ("v2", "cam"), ("v3", "plain")] {
        h.play(c, id, name);
    }
    let peers: Vec<PeerId> = added(&h).iter().map(|s| s.id).collect();
    let [cam_publisher, _, v1, _, v3] = peers[..] else {
        panic!("{peers:?}")
    };
    let health = h.hub.health();
    assert!(health.viewers.is_empty(), "no report yet");
    assert_eq!(
        health.simulcast,
        [LayeredStream {
            stream: "cam".into(),
            layers: vec!["l".into(), "m".into(), "h".into()],
        }]
    );
    assert_eq!((health.stats.streams, health.stats.players), (2, 3));

    for event in [
        viewer_stats(v1, Some(0), 100_000),
        viewer_stats(v3, None, 700_000),
        viewer_stats(v1, Some(1), 300_000),
        // Neither a publisher nor an unknown peer is a viewer.
        viewer_stats(cam_publisher, Some(2), 1),
        viewer_stats(PeerId(999), Some(2), 1),
    ] {
        h.hub.handle_event(h.now, event);
    }
    let paused = Event::ViewerStats {
        peer: v3,
        sending_bps: 20_000,
        video_bps: 0,
        estimate_bps: Some(15_000),
        layer: None,
        video_paused: true,
    };
    h.hub.handle_event(h.now, paused);
    assert_eq!(
        h.hub.health().viewers,
        [
            ViewerReport {
                stream: "cam-low".into(),
                media_session_id: "v1".into(),
                sending_bps: 300_000,
                estimate_bps: Some(600_000),
                layer: Some("m".into()),
                layer_index: Some(1),
                video_paused: false,
            },
            ViewerReport {
                stream: "plain".into(),
                media_session_id: "v3".into(),
                sending_bps: 20_000,
                estimate_bps: Some(15_000),
                layer: None,
                layer_index: None,
                video_paused: true,
            },
        ]
    );

    // A stopped player and an unpublished stream are gone.
    h.stop(c, "stopStream", "v1", "cam-low");
    let health = h.hub.health();
    assert_eq!(health.viewers.len(), 1);
    assert_eq!(health.viewers[0].media_session_id, "v3");
    h.stop(c, "unPublishStream", "pub-1", "cam");
    assert!(h.hub.health().simulcast.is_empty());
}
