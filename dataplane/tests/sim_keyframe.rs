//! Keyframe gating and keyframe-request aggregation on the simulated network.

mod common;

use std::time::Duration;

use dataplane::api::WorkerId;
use dataplane::publisher::KEYFRAME_REQUEST_INTERVAL;
use dataplane::rtcp;
use dataplane::sim::{LinkConfig, Sim};

use common::*;

const MS: Duration = Duration::from_millis(1);

#[test]
fn a_viewer_joining_mid_stream_starts_at_a_keyframe_after_one_request() {
    let mut sim = Sim::new(2, 3);
    let (publisher, first) = stream_with_viewers(&mut sim, 1, 1);
    let first = first[0];
    // The first viewer's request is answered; then deltas flow for 2 s (the interval of the
    // publisher's keyframe requests has long passed).
    let kf1 = publish_on_request(&mut sim, publisher, 0..200, 10 * MS, true);
    assert_eq!(kf1, [0], "one keyframe: the stream's first packet");
    let requests_before = keyframe_requests(&sim, publisher).len();

    // A viewer joins on the other worker while deltas flow.
    let late = add_viewer(&mut sim, WorkerId(1), (STREAM, WorkerId(0)), 1);
    let kf2 = publish_on_request(&mut sim, publisher, 200..400, 10 * MS, false);
    let requests = &keyframe_requests(&sim, publisher)[requests_before..];
    assert_eq!(
        requests.len(),
        1,
        "exactly one request for the new viewer: {requests:?}"
    );
    assert!(!requests[0].1, "a PLI");
    assert_eq!(kf2.len(), 1, "the publisher sent one keyframe for it");

    // The late viewer's first packet is that keyframe; every packet from it on arrived;
    // nothing before it (the deltas it could not decode) did.
    assert!(
        kf2[0] > 200,
        "deltas were sent while the viewer waited: {kf2:?}"
    );
    let got = published_seqs(&sim, late);
    assert_eq!(got.first(), Some(&kf2[0]));
    assert_eq!(got, (kf2[0]..400).collect::<Vec<_>>());
    // The first viewer saw everything, in order.
    assert_eq!(published_seqs(&sim, first), (0..400).collect::<Vec<_>>());
}

#[test]
fn a_burst_of_pli_and_fir_from_viewers_and_an_edge_reaches_the_publisher_once_per_interval() {
    // Origin: workers 0 and 1. Edge: worker 2 (another node in the same network).
    let mut sim = Sim::new(3, 4);
    let (publisher, viewers) = stream_with_viewers(&mut sim, 2, 10);
    relay(&mut sim, WorkerId(1), WorkerId(2));
    let edge_viewer = add_viewer(&mut sim, WorkerId(2), (EDGE_STREAM, WorkerId(2)), 99);
    let edge_viewer = connected(&mut sim, edge_viewer);
    let (_, ssrc) = viewer_track(99);
    publish_on_request(&mut sim, publisher, 0..300, 10 * MS, true);
    assert!(
        !sim.client(edge_viewer).rtp.is_empty(),
        "the edge viewer gets the stream through the relay leg"
    );
    let before = keyframe_requests(&sim, publisher).len();
    let burst_at = sim.now();

    // Every viewer sends a PLI and a FIR at once; the edge viewer too (its request goes up the
    // relay leg as the edge's own PLI).
    for (i, &v) in viewers.iter().enumerate() {
        let (_, ssrc) = viewer_track(i);
        let mut buf = [0u8; 64];
        let n = rtcp::write_pli(&mut buf, ssrc, PUB_SSRC).unwrap();
        sim.send_rtcp(v, &buf[..n]);
        let n = rtcp::write_fir(&mut buf, ssrc, PUB_SSRC, 1).unwrap();
        sim.send_rtcp(v, &buf[..n]);
    }
    let mut buf = [0u8; 64];
    let n = rtcp::write_pli(&mut buf, ssrc, PUB_SSRC).unwrap();
    sim.send_rtcp(edge_viewer, &buf[..n]);
    // And again 300 ms later: still inside the interval.
    sim.run_for(300 * MS);
    for (i, &v) in viewers.iter().enumerate() {
        let (_, ssrc) = viewer_track(i);
        let n = rtcp::write_pli(&mut buf, ssrc, PUB_SSRC).unwrap();
        sim.send_rtcp(v, &buf[..n]);
    }
    // The publisher answers each request with a keyframe.
    publish_on_request(&mut sim, publisher, 300..600, 10 * MS, false);

    let requests = &keyframe_requests(&sim, publisher)[before..];
    let times: Vec<Duration> = requests
        .iter()
        .map(|(t, _)| t.duration_since(burst_at))
        .collect();
    // 43 requests became two: one at once, and the merged rest when the interval ended; each
    // was answered, so none is repeated.
    assert_eq!(requests.len(), 2, "{times:?}");
    assert!(times[0] < 10 * MS, "the first goes at once: {times:?}");
    assert_eq!(
        times[1] - times[0],
        KEYFRAME_REQUEST_INTERVAL,
        "the merged one when the interval ends"
    );
}

#[test]
fn an_unanswered_keyframe_request_is_repeated_each_interval_until_a_keyframe_arrives() {
    let mut sim = Sim::new(1, 5);
    let (publisher, _) = publisher(&mut sim, WorkerId(0), STREAM);
    // Media flows (the stream's first keyframe), then a viewer joins.
    publish(&mut sim, publisher, 0..50, 1000, 10 * MS);
    let before = keyframe_requests(&sim, publisher).len();
    let viewer = add_viewer(&mut sim, WorkerId(0), (STREAM, WorkerId(0)), 0);
    let viewer = connected(&mut sim, viewer);
    let joined = sim.now();
    // The publisher ignores the requests (they were lost, or its encoder was busy) for 3.5 s.
    publish(&mut sim, publisher, 50..400, 1000, 10 * MS);
    let unanswered: Vec<Duration> = keyframe_requests(&sim, publisher)[before..]
        .iter()
        .map(|(t, _)| t.duration_since(joined))
        .collect();
    assert_eq!(
        unanswered.len(),
        4,
        "the request and 3 repeats: {unanswered:?}"
    );
    for pair in unanswered.windows(2) {
        assert_eq!(
            pair[1] - pair[0],
            KEYFRAME_REQUEST_INTERVAL,
            "{unanswered:?}"
        );
    }
    assert!(
        published_seqs(&sim, viewer).is_empty(),
        "no picture without a keyframe"
    );

    // It answers the next repeat; then no more requests although deltas go on for 3 s.
    let kf = publish_on_request(&mut sim, publisher, 400..500, 10 * MS, false);
    assert_eq!(kf.len(), 1, "{kf:?}");
    let answered = keyframe_requests(&sim, publisher).len();
    publish(&mut sim, publisher, 500..800, 1000, 10 * MS);
    assert_eq!(
        keyframe_requests(&sim, publisher).len(),
        answered,
        "answered: not repeated"
    );
    assert_eq!(
        published_seqs(&sim, viewer),
        (kf[0]..800).collect::<Vec<_>>()
    );
}

#[test]
fn an_edge_viewer_gets_a_picture_when_the_requests_up_the_chain_are_lost() {
    // Origin: worker 0 (publisher) and 1 (relay leg). Edge: worker 2.
    let mut sim = Sim::new(3, 6);
    let (publisher, _) = publisher(&mut sim, WorkerId(0), STREAM);
    relay(&mut sim, WorkerId(1), WorkerId(2));
    publish(&mut sim, publisher, 0..50, 1000, 10 * MS);
    // Everything the origin sends the publisher is lost for 2.5 s: the PLIs of the edge
    // viewer that joins now (the edge's PLI up the leg arrives; the origin's does not).
    let (to_publisher, from_origin) = (sim.client(publisher).addr, sim.worker(WorkerId(0)).addr);
    sim.set_link(from_origin, to_publisher, LinkConfig::lossy(1.0));
    let viewer = add_viewer(&mut sim, WorkerId(2), (EDGE_STREAM, WorkerId(2)), 7);
    let viewer = connected(&mut sim, viewer);
    let before = keyframe_requests(&sim, publisher).len();
    publish(&mut sim, publisher, 50..300, 1000, 10 * MS);
    assert_eq!(keyframe_requests(&sim, publisher).len(), before, "all lost");
    assert!(published_seqs(&sim, viewer).is_empty());

    sim.set_link(from_origin, to_publisher, LinkConfig::default());
    let kf = publish_on_request(&mut sim, publisher, 300..450, 10 * MS, false);
    assert_eq!(kf.len(), 1, "a repeat got through and was answered: {kf:?}");
    assert_eq!(
        published_seqs(&sim, viewer),
        (kf[0]..450).collect::<Vec<_>>()
    );
}
