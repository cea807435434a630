//! The origin ↔ edge path cut for 10 s and restored, in a network namespace of its own (the
//! test re-runs itself under `unshare --net`, so its nftables rules touch nothing else):
//! origin on 127.0.0.2, edge on 127.0.0.3, publisher and viewer on 127.0.0.9; an nftables rule
//! drops everything between the edge and anything but the clients (the relay's media, its
//! websocket, the origin's stat polls). The viewer stays PLAYING through the cut (no silent
//! end), and once the path is back the relay resumes: the viewer gets media again within 5 s.
//! Needs root, `unshare` and `nft` (scripts/test.sh installs nftables).

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::process::Command;
use std::time::{Duration, Instant};

use common::media::{join_from, pump_until, Joined};
use common::source::{stream_until, warm_up, Source};
use common::{ServerProcess, WcsClient};
use control::sdp::OfferSpec;
use dataplane::dtls::DtlsCertificate;

const STREAM: &str = "cut-path";
const ORIGIN: &str = "127.0.0.2";
const EDGE: &str = "127.0.0.3";
const CLIENTS: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 9));
const CUT: Duration = Duration::from_secs(10);
const RESUME_BOUND: Duration = Duration::from_secs(5);
const INSIDE: &str = "RTCDN_PATH_CUT_NETNS";

fn run(program: &str, args: &[&str]) {
    let status = Command::new(program)
        .args(args)
        .status()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(status.success(), "{program} {args:?}: {status}");
}

fn cut_path() {
    run("nft", &["add", "table", "inet", "rtcdn_cut"]);
    run(
        "nft",
        &[
            "add",
            "chain",
            "inet",
            "rtcdn_cut",
            "input",
            "{ type filter hook input priority 0; policy accept; }",
        ],
    );
    for rule in [
        format!("ip daddr {EDGE} ip saddr != {CLIENTS} drop"),
        format!("ip saddr {EDGE} ip daddr != {CLIENTS} drop"),
    ] {
        let mut args = vec!["add", "rule", "inet", "rtcdn_cut", "input"];
        args.extend(rule.split(' '));
        run("nft", &args);
    }
}

fn restore_path() {
    run("nft", &["delete", "table", "inet", "rtcdn_cut"]);
}

#[test]
fn a_cut_origin_edge_path_resumes_within_seconds_of_its_restore() {
    if std::env::var_os(INSIDE).is_none() {
        let exe = std::env::current_exe().expect("the test binary");
        let status = Command::new("unshare")
            .args(["--net", "--"])
            .arg(exe)
            .args([
                "--exact",
                "a_cut_origin_edge_path_resumes_within_seconds_of_its_restore",
                "--nocapture",
            ])
            .env(INSIDE, "1")
            .status()
            .expect("unshare (needs root and util-linux)");
        assert!(status.success(), "the test in its namespace: {status}");
        return;
    }
    run("ip", &["link", "set", "lo", "up"]);
    let props = |ip: &'static str| vec![("codecs", "opus,vp8,h264"), ("ip", ip)];
    let edge = ServerProcess::start(&props(EDGE));
    let xml = common::loadbalancing_xml(&[&edge], "webrtc");
    let mut origin_props = props(ORIGIN);
    origin_props.push(("load_balancing_enabled", "true"));
    let origin = ServerProcess::start_with_files(&origin_props, &[("loadbalancing.xml", &xml)]);
    let cert = DtlsCertificate::generate().expect("client certificate");
    let mut source = Source::new("before", 0x7373_0001, 0x7373_0002);
    let mut publisher = join_from(
        &origin,
        STREAM,
        &source.publish_spec(&cert),
        &cert,
        true,
        CLIENTS,
    );
    assert!(pump_until(
        &mut [&mut publisher.peer],
        Duration::from_secs(10),
        |ps| ps[0].conn.is_connected()
    ));
    let mut probe = WcsClient::connect_from(&edge.ws_url(), CLIENTS);
    probe.create_session();
    stream_until(
        &mut publisher.peer,
        &mut source,
        ("relayed to the edge", Duration::from_secs(30)),
        || probe.is_available(STREAM),
    );
    let spec = OfferSpec::play("cutviewr", "cut-viewer-password-0123", cert.fingerprint());
    let mut viewer: Joined = join_from(&edge, STREAM, &spec, &cert, false, CLIENTS);
    assert!(pump_until(
        &mut [&mut viewer.peer, &mut publisher.peer],
        Duration::from_secs(10),
        |ps| ps.iter().all(|p| p.conn.is_connected())
    ));
    warm_up(&mut publisher.peer, &mut [&mut viewer], &mut source);

    // The cut: the publisher keeps streaming, the viewer keeps its consent fresh.
    cut_path();
    let viewer_id = viewer.negotiated.media_session_id.clone();
    let cut_at = Instant::now();
    let mut during = 0;
    let mut told = None;
    while cut_at.elapsed() < CUT {
        let before = viewer.peer.rtp.len();
        source.send(&mut publisher.peer);
        pump_until(
            &mut [&mut publisher.peer, &mut viewer.peer],
            Duration::from_millis(20),
            |_| false,
        );
        during += viewer.peer.rtp.len() - before;
        if let Some(v) = viewer.wcs.recv_timeout(Duration::from_millis(1)) {
            told = told.or(common::stream_status(&v, &viewer_id));
        }
    }
    restore_path();
    let restored = Instant::now();
    // The cut was real: at most what was already on its way got through.
    assert!(during <= 10, "{during} packets crossed the cut path");
    // Either media comes back within the bound, or the viewer was told the stream ended.
    let mut source = source.retagged("after");
    let base = viewer.peer.rtp.len();
    let mut resumed = None;
    while restored.elapsed() < RESUME_BOUND + Duration::from_secs(5) && resumed.is_none() {
        source.send(&mut publisher.peer);
        pump_until(
            &mut [&mut publisher.peer, &mut viewer.peer],
            Duration::from_millis(20),
            |_| false,
        );
        if viewer.peer.rtp.len() > base + 5 {
            resumed = Some(restored.elapsed());
        }
        if let Some(v) = viewer.wcs.recv_timeout(Duration::from_millis(1)) {
            told = told.or(common::stream_status(&v, &viewer_id));
        }
    }
    println!(
        "[path cut] {CUT:?} cut: {during} packets reached the viewer during it; after the restore: \
         media again after {resumed:?}; statuses told: {told:?}"
    );
    match (resumed, told) {
        (Some(after), _) => assert!(after <= RESUME_BOUND, "media resumed only after {after:?}"),
        (None, Some((status, _))) => assert_ne!(status, "PLAYING", "told something final"),
        (None, None) => {
            panic!("a silent, frozen PLAYING: no media and no status after the restore")
        }
    }
}
