//! Origin → edge relay legs on the simulated network: two nodes' workers in one network.

mod common;

use std::time::Duration;

use dataplane::api::{CloseReason, Event, WorkerId};
use dataplane::ice::IceConfig;
use dataplane::sim::{LinkConfig, Sim};

use common::*;

const MS: Duration = Duration::from_millis(1);
const SECOND: Duration = Duration::from_secs(1);

#[test]
fn a_relay_leg_carries_the_stream_byte_exact_to_viewers_on_two_edge_workers() {
    // Origin: workers 0 (publisher) and 1 (the leg). Edge: workers 2 (relayed publisher) and 3.
    let mut sim = Sim::new(4, 8);
    let (publisher, _) = publisher(&mut sim, WorkerId(0), STREAM);
    relay(&mut sim, WorkerId(1), WorkerId(2));
    let edge_viewers = viewers(&mut sim, (EDGE_STREAM, WorkerId(2)), 4, 8)
        .into_iter()
        .enumerate()
        .filter(|(i, _)| i % 4 >= 2) // viewers on the edge's workers 2 and 3
        .collect::<Vec<_>>();
    assert_eq!(edge_viewers.len(), 4);
    publish(&mut sim, publisher, 0..100, 30, 10 * MS);
    sim.run_for(200 * MS);
    let sent: Vec<Vec<u8>> = (0..100).map(|s| video_packet(s, 30)).collect();
    for (i, v) in edge_viewers {
        assert_forwarded(&sim, v, i, &sent);
    }
    assert_eq!(
        sim.worker(WorkerId(1)).legs().len(),
        1,
        "the leg has its own socket"
    );
}

#[test]
fn a_leg_whose_edge_goes_silent_expires_by_consent_and_frees_its_socket() {
    let ice = IceConfig {
        consent_timeout: 5 * SECOND,
        ..IceConfig::default()
    };
    let mut sim = Sim::with_config(3, 9, ice, true);
    let (publisher, _) = publisher(&mut sim, WorkerId(0), STREAM);
    let (leg, edge) = relay(&mut sim, WorkerId(0), WorkerId(2));
    let viewer = add_viewer(&mut sim, WorkerId(2), (EDGE_STREAM, WorkerId(2)), 0);
    let viewer = connected(&mut sim, viewer);
    publish(&mut sim, publisher, 0..50, 30, 10 * MS);
    assert_eq!(sim.client(viewer).rtp.len(), 50);

    // The edge stops answering (its process is frozen): nothing from it reaches the leg.
    let leg_addr = sim.worker(WorkerId(0)).legs()[0].1;
    let edge_addr = sim.worker(WorkerId(2)).addr;
    sim.set_link(edge_addr, leg_addr, LinkConfig::lossy(1.0));
    let silent_at = sim.now();
    publish(&mut sim, publisher, 50..60, 30, 10 * MS);
    let closed = |s: &Sim, peer| {
        s.events.iter().any(|(_, e)| {
            *e == Event::PeerClosed {
                peer,
                reason: CloseReason::ConsentExpired,
            }
        })
    };
    assert!(sim.run_until_true(20 * SECOND, |s| closed(s, leg)));
    let after = sim.now().duration_since(silent_at);
    // The last answer came at most one consent interval (2 s, +20 % jitter) before the edge
    // went silent; the leg gives up one consent timeout (5 s) after it.
    assert!(
        after > 5 * SECOND - 2400 * MS && after <= 5 * SECOND,
        "the leg expires one consent timeout after the last answer: {after:?}"
    );
    assert!(
        sim.worker(WorkerId(0)).legs().is_empty(),
        "its socket was released"
    );
    assert_eq!(
        sim.worker(WorkerId(0)).core.peer_count(),
        1,
        "only the publisher is left"
    );
    // Without the leg's checks the edge's relayed publisher expires too, freeing the name.
    assert!(sim.run_until_true(20 * SECOND, |s| closed(s, edge)));
}
