//! [`Relays::reload_nodes`]: the edges change while streams are live.

use super::*;

const OTHER: StreamId = StreamId(8);

fn ids(diff: &crate::cdn::config::NodesDiff) -> (Vec<&str>, Vec<&str>) {
    (
        diff.added.iter().map(String::as_str).collect(),
        diff.removed.iter().map(String::as_str).collect(),
    )
}

/// Two streams relayed to one node `n0`, both legs live.
fn two_live_streams() -> (Relays, Instant, [(RelayConnId, Signalled); 2]) {
    let mut r = relays(1);
    let now = Instant::now();
    let mut legs = Vec::new();
    for stream in [STREAM, OTHER] {
        r.stream_started(now, stream, "cam", &media());
        let conn = connects(&drain(&mut r))[0].0;
        let s = signal(&mut r, now, conn);
        publishing(&mut r, now, conn, &s.id);
        legs.push((conn, s));
    }
    let legs: [(RelayConnId, Signalled); 2] = legs.try_into().ok().unwrap();
    (r, now, legs)
}

#[test]
fn a_new_node_gets_every_live_stream_and_unchanged_legs_are_left_alone() {
    let (mut r, now, legs) = two_live_streams();
    let diff = r.reload_nodes(now, &[node("n0", 9000), node("n1", 9001)]);
    assert_eq!(ids(&diff), (vec!["n1"], vec![]));
    assert_eq!(diff.unchanged, ["n0"]);
    let out = drain(&mut r);
    let new = connects(&out);
    assert_eq!(out.len(), 2, "only the new legs' connects: {out:?}");
    assert!(
        new.iter().all(|(_, url)| url == "ws://127.0.0.1:9001/"),
        "{out:?}"
    );
    // The new legs signal like any other; the old ones stay live.
    for (conn, _) in &new {
        let s = signal(&mut r, now, *conn);
        publishing(&mut r, now, *conn, &s.id);
    }
    let routes: Vec<String> = r.routes().into_iter().map(|route| route.node_id).collect();
    assert_eq!(routes, ["n0", "n0", "n1", "n1"]);
    assert_eq!(r.live_legs(), 4);
    // A stream published after the reload is relayed to both nodes.
    r.stream_started(now, StreamId(9), "late", &media());
    let urls: Vec<String> = connects(&drain(&mut r)).into_iter().map(|c| c.1).collect();
    assert_eq!(urls, ["ws://127.0.0.1:9000/", "ws://127.0.0.1:9001/"]);
    // Nothing happened to the first legs' sockets.
    for (conn, _) in &legs {
        assert!(r.conns.contains_key(conn));
    }
}

#[test]
fn a_removed_node_is_unpublished_closed_and_forgotten() {
    let mut r = relays(2);
    let now = Instant::now();
    r.stream_started(now, STREAM, "cam", &media());
    let c = connects(&drain(&mut r));
    let (gone, kept) = (c[0].0, c[1].0);
    let s = signal(&mut r, now, gone);
    publishing(&mut r, now, gone, &s.id);
    let k = signal(&mut r, now, kept);
    publishing(&mut r, now, kept, &k.id);

    let diff = r.reload_nodes(now, &[node("n1", 9001)]);
    assert_eq!(ids(&diff), (vec![], vec!["n0"]));
    let out = drain(&mut r);
    assert_eq!(out.len(), 3, "{out:?}");
    let unpublish = sent(&out, gone);
    assert_eq!(unpublish[0]["message"], "unPublishStream");
    assert_eq!(unpublish[0]["data"][0]["mediaSessionId"], s.id.as_str());
    assert_eq!(out[1], RelayOutput::Close { conn: gone });
    assert_eq!(out[2], RelayOutput::RemovePeer { peer: s.peer.id });
    let routes = r.routes();
    assert_eq!(routes.len(), 1);
    assert_eq!(routes[0].node_id, "n1");
    // Late events of the removed leg find nothing: no retry, no timer.
    r.handle_closed(now, gone);
    r.peer_closed(now, s.peer.id);
    r.handle_timeout(now + BACKOFF_MAX);
    assert!(drain(&mut r).is_empty());
    assert_eq!(r.poll_timeout(), None);
    // New streams go to the remaining node only.
    r.stream_started(now, OTHER, "other", &media());
    let urls: Vec<String> = connects(&drain(&mut r)).into_iter().map(|c| c.1).collect();
    assert_eq!(urls, ["ws://127.0.0.1:9001/"]);
}

#[test]
fn a_leg_still_connecting_or_waiting_to_retry_is_just_dropped() {
    let mut r = relays(2);
    let now = Instant::now();
    r.stream_started(now, STREAM, "cam", &media());
    let c = connects(&drain(&mut r));
    // Leg to n0 failed and waits for its retry; leg to n1 is still connecting.
    r.handle_closed(now, c[0].0);
    assert!(drain(&mut r).is_empty());
    let diff = r.reload_nodes(now, &[node("n2", 9002)]);
    assert_eq!(ids(&diff), (vec!["n2"], vec!["n0", "n1"]));
    let out = drain(&mut r);
    assert_eq!(
        out,
        [
            RelayOutput::Close { conn: c[1].0 },
            RelayOutput::Connect {
                conn: RelayConnId(c[1].0 .0 + 1),
                url: "ws://127.0.0.1:9002/".into()
            }
        ],
        "no unPublishStream before the edge could publish"
    );
    // The waiting leg's retry is gone with its node; the new leg is the only timer.
    assert_eq!(r.poll_timeout(), Some(now + SIGNALLING_TIMEOUT));
    r.handle_timeout(now + BACKOFF_INITIAL);
    assert!(drain(&mut r).is_empty());
}

#[test]
fn a_node_with_a_new_address_starts_over_there() {
    let (mut r, now, legs) = two_live_streams();
    let diff = r.reload_nodes(now, &[node("n0", 9500)]);
    assert_eq!(ids(&diff), (vec!["n0"], vec!["n0"]));
    let out = drain(&mut r);
    for (conn, s) in &legs {
        assert_eq!(sent(&out, *conn)[0]["message"], "unPublishStream");
        assert!(out.contains(&RelayOutput::Close { conn: *conn }));
        assert!(out.contains(&RelayOutput::RemovePeer { peer: s.peer.id }));
    }
    let urls: Vec<String> = connects(&out).into_iter().map(|c| c.1).collect();
    assert_eq!(urls, ["ws://127.0.0.1:9500/", "ws://127.0.0.1:9500/"]);
    // The same list again changes nothing.
    let again = r.reload_nodes(now, &[node("n0", 9500)]);
    assert!(again.is_empty());
    assert!(drain(&mut r).is_empty());
}
