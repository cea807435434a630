//! The origin dies and comes back, through the real binaries: an origin relays a stream to an
//! edge (`stream_distribution="webrtc"`) where a player watches it; the origin is killed with
//! SIGKILL. The edge frees the name at once (its relay session's websocket is gone) and tells
//! its player STOPPED — never a silent, frozen PLAYING. The origin restarts on the same port,
//! the publisher publishes again, and the edge gets the stream and a new player its media.

mod common;

use std::time::{Duration, Instant};

use common::media::{join, pump_until, Joined};
use common::source::{check_byte_exact, play_on_edge, stream_until, Source};
use common::{ServerProcess, WcsClient};
use dataplane::dtls::DtlsCertificate;

const STREAM: &str = "restarted-origin";
const PROPS: [(&str, &str); 1] = [("codecs", "opus,vp8,h264")];
/// Bound on a relay to the edge (first leg at once; the edge's name is free at once).
const RELAY_WAIT: Duration = Duration::from_secs(30);

fn available(edge: &ServerProcess) -> bool {
    let mut wcs = WcsClient::connect(&edge.ws_url());
    wcs.create_session();
    wcs.is_available(STREAM)
}

fn publish(origin: &ServerProcess, source: &Source, cert: &DtlsCertificate) -> Joined {
    let mut publisher = join(origin, STREAM, &source.publish_spec(cert), cert, true);
    assert!(
        pump_until(&mut [&mut publisher.peer], Duration::from_secs(10), |ps| {
            ps[0].conn.is_connected()
        }),
        "publisher ICE+DTLS with the origin"
    );
    publisher
}

#[test]
fn a_killed_origin_frees_the_edges_names_and_a_restarted_one_relays_again() {
    let edge = ServerProcess::start(&PROPS);
    let xml = common::loadbalancing_xml(&[&edge], "webrtc");
    let mut origin_props = PROPS.to_vec();
    origin_props.push(("load_balancing_enabled", "true"));
    let files = [("loadbalancing.xml", xml.as_str())];
    let mut origin = ServerProcess::start_with_files(&origin_props, &files);
    let origin_port = origin.http_addr().port();
    let cert = DtlsCertificate::generate().expect("client certificate");
    let mut source = Source::new("first", 0x7272_0001, 0x7272_0002);
    let mut publisher = publish(&origin, &source, &cert);
    stream_until(
        &mut publisher.peer,
        &mut source,
        ("relayed to the edge", RELAY_WAIT),
        || available(&edge),
    );
    let mut player = play_on_edge(&edge, STREAM, "first", &mut publisher, &mut source, &cert);
    check_byte_exact(&mut publisher, &mut [&mut player], &mut source, 30);

    // SIGKILL: no goodbye from the origin; the kernel closes its sockets.
    let killed = Instant::now();
    origin.kill();
    let player_id = player.negotiated.media_session_id.clone();
    let (status, info) =
        player
            .wcs
            .expect_status(&player_id, |s| s != "PLAYING", Duration::from_secs(10));
    let told_after = killed.elapsed();
    assert_eq!(
        (status.as_str(), info.as_str()),
        ("STOPPED", "Stopped by publisher stop"),
        "the edge's player is told"
    );
    assert!(!available(&edge), "the edge freed the name");
    println!("[origin restart] edge player told {status} {told_after:?} after the SIGKILL");

    // The origin comes back on its port; the publisher publishes again.
    drop(publisher);
    let origin =
        ServerProcess::start_on_port(&origin_props, &files, origin_port, Duration::from_secs(10));
    let mut source = source.retagged("second");
    let restarted = Instant::now();
    let mut publisher = publish(&origin, &source, &cert);
    stream_until(
        &mut publisher.peer,
        &mut source,
        ("relayed again after the restart", RELAY_WAIT),
        || available(&edge),
    );
    println!(
        "[origin restart] relayed again {:?} after the new publish",
        restarted.elapsed()
    );
    let mut again = play_on_edge(&edge, STREAM, "again", &mut publisher, &mut source, &cert);
    check_byte_exact(&mut publisher, &mut [&mut again], &mut source, 30);
}
