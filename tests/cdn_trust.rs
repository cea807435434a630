//! An edge that names its origins in `cdn_allowed_ips` takes publishes from them only: a
//! stranger (here a client from another loopback address, 127.0.0.2) who publishes a name
//! first gets FAILED `Restricted access`, the origin's relay publishes it and viewers (from any
//! address) play the origin's stream.

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use common::media::{join, pump_until};
use common::source::{stream_until, Source};
use common::{fixture, ServerProcess, WcsClient};
use dataplane::dtls::DtlsCertificate;

const STRANGER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

#[test]
fn an_edge_takes_publishes_only_from_its_origins() {
    let edge = ServerProcess::start(&[
        ("codecs", "opus,vp8,h264"),
        ("cdn_allowed_ips", "127.0.0.1"),
    ]);
    // The stranger comes first, for the name the origin will relay.
    let mut stranger = WcsClient::connect_from(&edge.ws_url(), STRANGER);
    stranger.create_session();
    let refused = stranger
        .publish("trusted-cam", &fixture("chrome_publish_offer.sdp"))
        .map(|n| n.answer_sdp)
        .expect_err("a publish from outside cdn_allowed_ips");
    assert_eq!(refused, "Restricted access");

    let xml = common::loadbalancing_xml(&[&edge], "webrtc");
    let origin = ServerProcess::start_with_files(
        &[
            ("load_balancing_enabled", "true"),
            ("codecs", "opus,vp8,h264"),
        ],
        &[("loadbalancing.xml", &xml)],
    );
    let cert = DtlsCertificate::generate().expect("client certificate");
    let mut source = Source::new("trust", 0x3333_3333, 0x4444_4444);
    let mut publisher = join(
        &origin,
        "trusted-cam",
        &source.publish_spec(&cert),
        &cert,
        true,
    );
    assert!(pump_until(
        &mut [&mut publisher.peer],
        Duration::from_secs(10),
        |ps| ps[0].conn.is_connected()
    ));
    // The origin's relay (from 127.0.0.1) publishes it on the edge; the stranger may watch it.
    stream_until(
        &mut publisher.peer,
        &mut source,
        ("relayed to the trusting edge", Duration::from_secs(30)),
        || stranger.is_available("trusted-cam"),
    );
    stranger
        .play("trusted-cam", &fixture("chrome_play_offer.sdp"))
        .expect("anyone may play");
}
