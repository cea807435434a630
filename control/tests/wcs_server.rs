//! In-process server test: `server::serve` on 127.0.0.1:0 with fake workers, driven by a
//! tungstenite client and raw HTTP requests.

// The exact `/health` document is one `json!` literal, deeper than the default limit allows.
#![recursion_limit = "256"]

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use control::config::{Config, VideoCodec};
use control::events::event_channel;
use control::server;
use dataplane::api::{
    Command, Event, Fingerprint, LayerChoice, PeerRole, SharedEventSink, WorkerHandle, WorkerId,
};
use serde_json::{json, Value};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

type Client = WebSocket<MaybeTlsStream<TcpStream>>;

const OFFER: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n\
a=fingerprint:sha-256 AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99\r\n\
a=setup:actpass\r\na=mid:0\r\na=sendonly\r\na=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\n\
m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n\
a=fingerprint:sha-256 AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99\r\n\
a=setup:actpass\r\na=mid:1\r\na=sendonly\r\na=rtcp-mux\r\na=rtpmap:96 VP8/90000\r\n";

struct Server {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Result<(), server::ServerError>>>,
    worker_rx: crossbeam_channel::Receiver<Command>,
    /// Where the fake workers' events go (into the hub).
    events: SharedEventSink,
    _poll: mio::Poll,
}

fn start() -> Server {
    let poll = mio::Poll::new().unwrap();
    let waker = Arc::new(mio::Waker::new(poll.registry(), mio::Token(0)).unwrap());
    let (tx, worker_rx) = crossbeam_channel::unbounded();
    let worker = WorkerHandle::new(WorkerId(0), "127.0.0.1:31001".parse().unwrap(), tx, waker);
    let cfg = Config {
        ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
        ws_port: 0,
        media_port_from: 31001,
        media_port_to: 32000,
        worker_threads: 1,
        video_codecs: vec![VideoCodec::Vp8],
        keep_alive_interval: Duration::from_secs(5),
        keep_alive_probes: 10,
        ice_consent_timeout: Duration::from_secs(30),
        web_dir: None,
        load_balancing: None,
        cdn_relay_secret: None,
        ..Config::default()
    };
    let fingerprint = Fingerprint {
        algorithm: "sha-256".into(),
        digest: vec![1; 32],
    };
    let (sink, events) = event_channel();
    let worker_events = sink.clone();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            addr_tx.send(listener.local_addr().unwrap()).unwrap();
            let _sink = sink;
            server::serve(
                listener,
                cfg,
                vec![worker],
                fingerprint,
                events,
                async move {
                    let _ = stop_rx.await;
                },
            )
            .await
        })
    });
    Server {
        addr: addr_rx.recv().unwrap(),
        stop: Some(stop_tx),
        thread: Some(thread),
        worker_rx,
        events: worker_events,
        _poll: poll,
    }
}

fn connect(addr: SocketAddr, path: &str) -> Client {
    let (ws, _) = tungstenite::connect(format!("ws://{addr}{path}")).unwrap();
    if let MaybeTlsStream::Plain(s) = ws.get_ref() {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    }
    ws
}

fn send(ws: &mut Client, message: &str, data: Value) {
    let text = json!({"message": message, "data": [data]}).to_string();
    ws.send(Message::text(text)).unwrap();
}

fn recv(ws: &mut Client) -> Value {
    loop {
        match ws.read().unwrap() {
            Message::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

fn http_get(addr: SocketAddr, path: &str) -> (String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    s.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    (head.to_ascii_lowercase(), body.to_owned())
}

fn health(addr: SocketAddr) -> Value {
    let (head, body) = http_get(addr, "/health");
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("access-control-allow-origin: *"), "{head}");
    assert!(head.contains("content-type: application/json"), "{head}");
    serde_json::from_str(&body).unwrap()
}

#[test]
fn signalling_http_and_limits() {
    let mut srv = start();
    let addr = srv.addr;

    // connection → getUserData on any path.
    let mut ws = connect(addr, "/any/path?x=1");
    send(
        &mut ws,
        "connection",
        json!({"appKey": "defaultApp", "mediaProviders": ["WebRTC"]}),
    );
    let v = recv(&mut ws);
    assert_eq!(v["message"], "getUserData");
    assert_eq!(v["data"][0]["appKey"], "defaultApp");
    let session = v["data"][0]["sessionId"].as_str().unwrap();
    assert!(session.ends_with(&format!("/{addr}")), "{session}");

    // A malformed frame → fail, and the connection keeps working; binary frames are ignored.
    ws.send(Message::text("{garbage")).unwrap();
    let v = recv(&mut ws);
    assert_eq!(v["message"], "fail");
    ws.send(Message::binary(vec![1, 2, 3])).unwrap();
    send(
        &mut ws,
        "publishStream",
        json!({"mediaSessionId": "m1", "name": "cam", "sdp": OFFER}),
    );
    assert_eq!(recv(&mut ws)["message"], "setRemoteSDP");
    let v = recv(&mut ws);
    assert_eq!(v["data"][0]["status"], "PUBLISHING");
    assert!(matches!(srv.worker_rx.try_recv(), Ok(Command::AddPeer(_))));
    let mut h = health(addr);
    // CPU loads depend on the machine: fractions (null before a first interval), then left
    // out of the comparison.
    for key in ["system_cpu_load", "process_cpu_load"] {
        if let Some(load) = h[key].as_f64() {
            assert!((0.0..=1.0).contains(&load), "{key}={load}");
        } else {
            assert!(h[key].is_null(), "{key}: {h}");
        }
        h.as_object_mut().unwrap().remove(key);
    }
    assert_eq!(
        h,
        json!({"status": "ok", "streams": 1, "peers": 1, "players": 0, "connected_peers": 0,
            "connections": 1, "viewers": [], "simulcast": [],
            "published": [{"stream": "cam", "mediaSessionId": "m1", "connected": false,
                "has_audio": true, "has_video": true, "video_bps": null, "viewers": 0,
                "relayed_to": []}],
            "workers": [{
            "id": 0, "datagrams_in": 0, "bytes_in": 0, "datagrams_out": 0, "bytes_out": 0,
            "rtp_forwarded": 0, "dropped_unknown_source": 0, "dropped_unknown_ssrc": 0,
            "dropped_handshake_busy": 0,
            "dropped_invalid": 0, "dropped_duplicate": 0, "dropped_send_full": 0, "dropped_fanout_full": 0,
            "send_errors": 0, "gso_sends": 0, "gso_datagrams": 0, "nack_requested": 0,
            "retransmitted": 0, "retransmit_missed": 0, "retransmit_over_budget": 0,
            "retransmit_deferred": 0, "retransmit_suppressed": 0,
            "nack_sent": 0, "rtx_received": 0, "upstream_repaired": 0, "upstream_given_up": 0,
            "transport_feedback_sent": 0,
            "transport_feedback_received": 0, "padding_sent": 0, "layer_switches": 0,
            "remb_sent": 0, "paced": 0,
        }]})
    );

    // An oversized frame closes that connection; its stream is cleaned up.
    let big = format!(
        r#"{{"message":"pushLogs","data":[{{"logs":"{}"}}]}}"#,
        "x".repeat(control::http::MAX_WS_MESSAGE + 1024)
    );
    let _ = ws.send(Message::text(big));
    let closed = loop {
        match ws.read() {
            Ok(Message::Close(_)) | Err(_) => break true,
            Ok(Message::Text(t)) => panic!("unexpected reply {t}"),
            Ok(_) => continue,
        }
    };
    assert!(closed);

    // The server is unaffected: a second connection works and the stream is gone.
    let mut ws2 = connect(addr, "/");
    send(&mut ws2, "connection", json!({}));
    assert_eq!(recv(&mut ws2)["message"], "getUserData");
    let mut cleaned = false;
    for _ in 0..100 {
        if health(addr)["streams"] == 0 {
            cleaned = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(cleaned, "the closed connection's stream was not cleaned up");
    assert!(matches!(
        srv.worker_rx.try_recv(),
        Ok(Command::RemovePeer(_))
    ));
    send(
        &mut ws2,
        "availableStream",
        json!({"mediaSessionId": "probe", "name": "cam"}),
    );
    assert_eq!(recv(&mut ws2)["data"][0]["status"], "false");

    // Static files: the embedded index for `/`, 404 otherwise, traversal refused.
    let (head, _) = http_get(addr, "/");
    assert!(
        head.starts_with("http/1.1 200") && head.contains("content-type: text/html"),
        "{head}"
    );
    assert!(http_get(addr, "/missing.js").0.starts_with("http/1.1 404"));
    assert!(http_get(addr, "/../Cargo.toml")
        .0
        .starts_with("http/1.1 404"));

    // Shutdown stops serving and shuts the workers down.
    // An open websocket must not hold the shutdown up.
    srv.stop.take().unwrap().send(()).unwrap();
    srv.thread.take().unwrap().join().unwrap().unwrap();
    let rest: Vec<Command> = srv.worker_rx.try_iter().collect();
    assert!(matches!(rest.last(), Some(Command::Shutdown)), "{rest:?}");
    drop(ws2);
}

#[test]
fn health_shows_a_viewers_latest_report() {
    let mut srv = start();
    let addr = srv.addr;
    let mut ws = connect(addr, "/");
    send(
        &mut ws,
        "publishStream",
        json!({"mediaSessionId": "m1", "name": "cam", "sdp": OFFER}),
    );
    assert_eq!(recv(&mut ws)["message"], "setRemoteSDP");
    assert_eq!(recv(&mut ws)["data"][0]["status"], "PUBLISHING");
    let play_offer = OFFER.replace("a=sendonly", "a=recvonly");
    send(
        &mut ws,
        "playStream",
        json!({"mediaSessionId": "v1", "name": "cam-low", "sdp": play_offer}),
    );
    assert_eq!(recv(&mut ws)["message"], "setRemoteSDP");
    assert_eq!(recv(&mut ws)["data"][0]["status"], "PLAYING");
    let player = srv
        .worker_rx
        .try_iter()
        .find_map(|cmd| match cmd {
            Command::AddPeer(spec) if matches!(spec.role, PeerRole::Subscriber { .. }) => {
                Some(spec)
            }
            _ => None,
        })
        .expect("the player was started");
    assert_eq!(player.layer_choice, LayerChoice::Lowest);

    srv.events.send(Event::ViewerStats {
        peer: player.id,
        sending_bps: 250_000,
        video_bps: 210_000,
        estimate_bps: None,
        layer: None,
        video_paused: false,
    });
    // The event and the request reach the hub task through different queues.
    let mut viewers = Value::Null;
    for _ in 0..100 {
        viewers = health(addr)["viewers"].clone();
        if viewers.as_array().is_some_and(|v| !v.is_empty()) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        viewers,
        json!([{"stream": "cam-low", "mediaSessionId": "v1", "sending_bps": 250_000,
                "estimate_bps": null, "layer": null, "layer_index": null, "video_paused": false}])
    );
    srv.stop.take().unwrap().send(()).unwrap();
    srv.thread.take().unwrap().join().unwrap().unwrap();
}
