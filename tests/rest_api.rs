//! The WCS REST API of a real `rtcdn` process, through plain HTTP/1.1: finds, terminate (the
//! websocket clients get the statuses an unpublish gives), connections, show_routes, and every
//! status code, refused requests included.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use common::{fixture, ServerProcess, WcsClient, REPLY_TIMEOUT};
use serde_json::{json, Value};

const KEY: &str = "t0p-s3cret";

/// A raw HTTP/1.1 exchange: status, the `WWW-Authenticate` and CORS headers, body as JSON
/// (`Null` when empty).
struct Answer {
    status: u16,
    head: String,
    body: Value,
}

fn request(addr: SocketAddr, method: &str, path: &str, headers: &str, body: &str) -> Answer {
    let mut s = TcpStream::connect_timeout(&addr, REPLY_TIMEOUT).expect("connect");
    s.set_read_timeout(Some(REPLY_TIMEOUT)).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}\
         Content-Type: application/json;charset=UTF-8\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).expect("read response");
    let (head, text) = raw.split_once("\r\n\r\n").expect("complete response");
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(text).unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {text}"))
    };
    Answer {
        status,
        head: head.to_ascii_lowercase(),
        body,
    }
}

/// A POST with the key.
fn post(server: &ServerProcess, path: &str, body: &str) -> Answer {
    let key = format!("X-Api-Key: {KEY}\r\n");
    request(server.http_addr(), "POST", path, &key, body)
}

fn ids(answer: &Answer) -> Vec<&str> {
    answer
        .body
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {}", answer.body))
        .iter()
        .map(|s| s["mediaSessionId"].as_str().unwrap())
        .collect()
}

#[test]
fn find_terminate_and_connections_with_a_key() {
    let server = ServerProcess::start(&[("rest_api_key", KEY)]);
    let addr = server.http_addr();

    // Nothing yet: 404 with a JSON body, for GET and POST alike.
    let none = request(
        addr,
        "GET",
        "/rest-api/stream/find_all",
        &format!("Authorization: Bearer {KEY}\r\n"),
        "",
    );
    assert_eq!(none.status, 404, "{}", none.body);
    assert!(none.body["error"].is_string());
    assert!(none.head.contains("access-control-allow-origin: *"));
    assert_eq!(
        post(&server, "/rest-api/connection/find_all", "").status,
        404
    );

    let mut publisher = WcsClient::connect(&server.ws_url());
    publisher.create_session();
    let cam = publisher
        .publish("cam", &fixture("chrome_publish_offer.sdp"))
        .unwrap();
    let mut viewer = WcsClient::connect(&server.ws_url());
    viewer.create_session();
    let play = viewer
        .play("cam", &fixture("chrome_play_offer.sdp"))
        .unwrap();
    let play2 = viewer
        .play("cam", &fixture("chrome_play_offer.sdp"))
        .unwrap();

    let all = post(&server, "/rest-api/stream/find_all", "");
    assert_eq!(all.status, 200, "{}", all.body);
    assert_eq!(all.body.as_array().unwrap().len(), 3, "{}", all.body);
    let first = &all.body[0];
    assert_eq!(first["mediaSessionId"], cam.media_session_id.as_str());
    assert_eq!(first["name"], "cam");
    assert_eq!(first["published"], true);
    assert_eq!(first["status"], "PUBLISHING");
    assert_eq!(first["mediaType"], "publish");
    assert_eq!(first["mediaProvider"], "WebRTC");
    assert_eq!(
        (first["hasAudio"].as_bool(), first["hasVideo"].as_bool()),
        (Some(true), Some(true))
    );
    assert_eq!(first["audioCodec"], "opus/48000/2");
    assert!(
        first["videoCodec"]
            .as_str()
            .is_some_and(|c| c.ends_with("/90000")),
        "{first}"
    );
    assert!(first["sessionId"]
        .as_str()
        .unwrap()
        .starts_with("/127.0.0.1:"));

    // Find by each field; the SDK sends find as a JSON POST.
    let by_id = post(
        &server,
        "/rest-api/stream/find",
        &json!({"mediaSessionId": play.media_session_id}).to_string(),
    );
    assert_eq!(
        (by_id.status, ids(&by_id)),
        (200, vec![play.media_session_id.as_str()])
    );
    assert_eq!(by_id.body[0]["status"], "PLAYING");
    let players = post(
        &server,
        "/rest-api/stream/find",
        r#"{"name":"cam","published":false,"display":["metrics"]}"#,
    );
    let mut expected = vec![
        play.media_session_id.as_str(),
        play2.media_session_id.as_str(),
    ];
    expected.sort();
    assert_eq!((players.status, ids(&players)), (200, expected));
    assert_eq!(
        post(&server, "/rest-api/stream/find", r#"{"name":"other"}"#).status,
        404
    );
    // Malformed bodies.
    for bad in ["{name:", "[1]", r#"{"name":5}"#, r#"{"published":"maybe"}"#] {
        let a = post(&server, "/rest-api/stream/find", bad);
        assert_eq!(a.status, 400, "{bad}: {}", a.body);
        assert!(a.body["error"].is_string(), "{bad}");
    }
    assert_eq!(
        post(&server, "/rest-api/stream/terminate", "{}").status,
        400,
        "terminate needs a selector"
    );

    let conns = request(
        addr,
        "GET",
        "/rest-api/connection/find_all",
        &format!("X-Api-Key: {KEY}\r\n"),
        "",
    );
    assert_eq!(conns.status, 200, "{}", conns.body);
    let conns = conns.body.as_array().unwrap().clone();
    assert_eq!(conns.len(), 2);
    assert!(
        conns
            .iter()
            .any(|c| c["mediaSessionIds"] == json!([cam.media_session_id])),
        "{conns:?}"
    );

    // Terminating a player stops it alone.
    let t = post(
        &server,
        "/rest-api/stream/terminate",
        &json!({"mediaSessionId": play2.media_session_id}).to_string(),
    );
    assert_eq!(
        (t.status, ids(&t)),
        (200, vec![play2.media_session_id.as_str()])
    );
    assert_eq!(
        viewer.expect_status(&play2.media_session_id, |_| true, REPLY_TIMEOUT),
        ("STOPPED".into(), "Stopped by rest /terminate".into())
    );
    // Terminating the publisher: it is told UNPUBLISHED, its player STOPPED as on unpublish.
    let t = post(
        &server,
        "/rest-api/stream/terminate",
        &json!({"mediaSessionId": cam.media_session_id}).to_string(),
    );
    assert_eq!(
        (t.status, ids(&t)),
        (200, vec![cam.media_session_id.as_str()])
    );
    assert_eq!(
        publisher.expect_status(&cam.media_session_id, |_| true, REPLY_TIMEOUT),
        ("UNPUBLISHED".into(), "Stopped by rest /terminate".into())
    );
    assert_eq!(
        viewer.expect_status(&play.media_session_id, |_| true, REPLY_TIMEOUT),
        ("STOPPED".into(), "Stopped by publisher stop".into())
    );
    assert_eq!(post(&server, "/rest-api/stream/find_all", "").status, 404);
    let again = post(
        &server,
        "/rest-api/stream/terminate",
        &json!({"name": "cam"}).to_string(),
    );
    assert_eq!(again.status, 404, "{}", again.body);
    // The name is free again.
    publisher
        .publish("cam", &fixture("chrome_publish_offer.sdp"))
        .unwrap();
    assert_eq!(
        post(&server, "/rest-api/stream/find", r#"{"name":"cam"}"#).status,
        200
    );

    // Not an origin: no routes. Unknown methods and paths.
    assert_eq!(post(&server, "/rest-api/cdn/show_routes", "").status, 404);
    assert_eq!(post(&server, "/rest-api/pull/find_all", "").status, 404);
    let put = request(
        addr,
        "PUT",
        "/rest-api/stream/find_all",
        &format!("X-Api-Key: {KEY}\r\n"),
        "",
    );
    assert_eq!(put.status, 405);

    // Without the key or with another: 401 with a JSON body; the preflight needs none.
    for headers in [
        "",
        "X-Api-Key: wrong\r\n",
        "Authorization: Bearer wrong\r\n",
        "Authorization: Basic dDA=\r\n",
    ] {
        let a = request(addr, "POST", "/rest-api/stream/find_all", headers, "");
        assert_eq!(a.status, 401, "{headers:?}");
        assert!(a.body["error"].is_string());
        assert!(a.head.contains("www-authenticate: bearer"), "{}", a.head);
        let t = request(
            addr,
            "POST",
            "/rest-api/stream/terminate",
            headers,
            r#"{"name":"cam"}"#,
        );
        assert_eq!(t.status, 401);
    }
    assert_eq!(
        post(&server, "/rest-api/stream/find", r#"{"name":"cam"}"#).status,
        200,
        "the refused terminate did nothing"
    );
    let pre = request(
        addr,
        "OPTIONS",
        "/rest-api/stream/find",
        "Origin: http://page.example\r\n",
        "",
    );
    assert_eq!(pre.status, 204);
    assert!(
        pre.head
            .contains("access-control-allow-headers: content-type, authorization, x-api-key"),
        "{}",
        pre.head
    );
    // Other routes are not protected.
    assert_eq!(server.http_get("/health").0, 200);
}

#[test]
fn a_client_outside_the_allowed_addresses_is_refused() {
    let server = ServerProcess::start(&[("rest_api_allowed_ips", "192.0.2.0/24, 2001:db8::/32")]);
    for path in [
        "/rest-api/stream/find_all",
        "/rest-api/stream/find",
        "/rest-api/stream/terminate",
        "/rest-api/connection/find_all",
        "/rest-api/cdn/show_routes",
    ] {
        for method in ["GET", "POST"] {
            let a = request(server.http_addr(), method, path, "", "{}");
            assert_eq!(a.status, 403, "{method} {path}");
            assert!(a.body["error"].is_string(), "{method} {path}");
        }
    }
    assert_eq!(server.http_get("/health").0, 200);
}

#[test]
fn the_default_admits_the_local_host_without_a_key() {
    let server = ServerProcess::start(&[]);
    let a = request(
        server.http_addr(),
        "GET",
        "/rest-api/stream/find_all",
        "",
        "",
    );
    assert_eq!(a.status, 404, "nothing published: {}", a.body);
    let mut client = WcsClient::connect(&server.ws_url());
    client.create_session();
    let a = request(
        server.http_addr(),
        "GET",
        "/rest-api/connection/find_all",
        "",
        "",
    );
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body[0]["mediaSessionIds"], json!([]));
}
