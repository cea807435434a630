//! Admission limits in the hub: connections per address, streams per connection, peers per
//! node, and wrong relay secrets per address; each refusal is a WCS answer with an info.

use serde_json::json;

use super::*;

fn limited(connections_per_ip: usize, streams: usize, peers: usize) -> Harness {
    let cfg = Config {
        max_connections_per_ip: connections_per_ip,
        max_streams_per_connection: streams,
        max_peers: peers,
        ..config()
    };
    harness_with(&cfg, 1)
}

impl Harness {
    /// Opens a connection from `client`; what the hub output (frames and refusals).
    fn open_from(&mut self, client: &str) -> (ConnId, Vec<Output>) {
        let conn = ConnId(self.next_conn);
        self.next_conn += 1;
        self.hub.open(
            self.now,
            conn,
            client.parse().unwrap(),
            "127.0.0.1:8080".parse().unwrap(),
        );
        let mut out = Vec::new();
        while let Some(o) = self.hub.poll_output() {
            out.push(o);
        }
        (conn, out)
    }
}

#[test]
fn an_address_holds_a_bounded_number_of_connections() {
    let mut h = limited(2, 32, 100);
    let (a, out) = h.open_from("10.1.1.1:1000");
    assert!(out.is_empty());
    let (_, out) = h.open_from("10.1.1.1:1001");
    assert!(out.is_empty());
    let (third, out) = h.open_from("10.1.1.1:1002");
    assert_eq!(out.len(), 2, "{out:?}");
    let Output::Send(c, m) = &out[0] else {
        panic!("{out:?}")
    };
    let v: Value = serde_json::from_str(&m.to_json()).unwrap();
    assert_eq!((*c, v["message"].as_str()), (third, Some("fail")));
    assert_eq!(
        v["data"][0]["info"],
        "Too many connections from this address"
    );
    assert_eq!(v["data"][0]["status"], "FAILED");
    assert!(matches!(&out[1], Output::Refuse(c, _) if *c == third));
    // Another address is not affected; a closed connection frees a place.
    assert!(h.open_from("10.1.1.2:1000").1.is_empty());
    h.hub.close(h.now, a);
    assert!(h.open_from("10.1.1.1:1003").1.is_empty());
    assert_eq!(h.hub.stats().connections, 3);
}

#[test]
fn a_connection_holds_a_bounded_number_of_streams_and_the_node_of_peers() {
    let mut h = limited(100, 2, 3);
    let c = h.open();
    assert_eq!(status_of(&h.publish(c, "p1", "a")[1].1), ("PUBLISHING", ""));
    assert_eq!(status_of(&h.play(c, "v1", "a")[1].1), ("PLAYING", ""));
    let out = h.play(c, "v2", "a");
    assert_eq!(
        only_status(&out, c),
        failed("Too many streams on this connection")
    );
    // Stopping one frees a place on the connection.
    h.stop(c, "stopStream", "v1", "a");
    assert_eq!(status_of(&h.play(c, "v3", "a")[1].1), ("PLAYING", ""));
    // The node: 2 peers so far, one more fits, then it is full.
    let d = h.open();
    assert_eq!(status_of(&h.play(d, "v4", "a")[1].1), ("PLAYING", ""));
    let e = h.open();
    let out = h.play(e, "v5", "a");
    assert_eq!(only_status(&out, e), failed("Server is full"));
}

#[test]
fn wrong_relay_secrets_lock_the_address_out() {
    let cfg = Config {
        cdn_relay_secret: Some(crate::config::RelaySecret::new("right")),
        ..config()
    };
    let mut h = harness_with(&cfg, 1);
    let c = h.open();
    let relay = |secret: &str, id: &str| {
        json!({"mediaSessionId": id, "name": format!("relayed-{id}"), "published": true,
               "hasAudio": true, "sdp": PUBLISH_OFFER,
               "custom": {"rtcdnRelay": {"distribution": "rtp", "secret": secret,
                                         "source": "127.0.0.1:40000"}}})
    };
    for i in 0..super::super::admission::SECRET_GUESSES {
        let out = h.send(c, "publishStream", relay("wrong", &format!("g{i}")));
        assert_eq!(only_status(&out, c), failed("Restricted access"));
    }
    // Locked out: even the right secret is refused for the rest of the minute.
    let out = h.send(c, "publishStream", relay("right", "late"));
    assert_eq!(only_status(&out, c), failed("Restricted access"));
    h.now += super::super::admission::SECRET_WINDOW;
    let out = h.send(c, "publishStream", relay("right", "later"));
    assert_eq!(status_of(&out[1].1), ("PUBLISHING", ""));
}

#[test]
fn with_cdn_allowed_ips_only_those_addresses_publish() {
    let cfg = Config {
        cdn_allowed_ips: Some(vec![crate::config::IpNet::parse("192.0.2.0/24").unwrap()]),
        ..config()
    };
    let mut h = harness_with(&cfg, 1);
    let (stranger, _) = h.open_from("198.51.100.7:5000");
    let out = h.publish(stranger, "s1", "cam");
    assert_eq!(only_status(&out, stranger), failed("Restricted access"));
    let (origin, _) = h.open_from("192.0.2.1:5000");
    assert_eq!(
        status_of(&h.publish(origin, "o1", "cam")[1].1),
        ("PUBLISHING", "")
    );
    // Anyone may still play.
    assert_eq!(
        status_of(&h.play(stranger, "v1", "cam")[1].1),
        ("PLAYING", "")
    );
}
