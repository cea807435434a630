//! Simulcast signalling through the real `rtcdn` binary: a real Chromium three-rid offer is
//! published, a viewer asks for one layer with a name suffix, and `/health` lists the
//! stream's layers (no media flows here; per-viewer reports need connected players).

mod common;

use common::{fixture, unique_id, ServerProcess, WcsClient};
use serde_json::{json, Value};

#[test]
fn simulcast_publish_layer_suffix_play_and_health() {
    let server = ServerProcess::start(&[]);
    let mut client = WcsClient::connect(&server.ws_url());
    client.create_session();
    let name = format!("sim-{}", unique_id());

    let published = client
        .publish(&name, &fixture("chrome_simulcast_offer.sdp"))
        .expect("the simulcast publish is accepted");
    let answer = &published.answer_sdp;
    for line in [
        "a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id\r\n",
        "a=extmap:11 urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id\r\n",
        "a=rid:l recv\r\na=rid:m recv\r\na=rid:h recv\r\na=simulcast:recv l;m;h\r\n",
    ] {
        assert!(answer.contains(line), "{line:?} missing from\n{answer}");
    }

    let play = fixture("chrome_play_offer.sdp");
    let low = client
        .play(&format!("{name}-low"), &play)
        .expect("a layer suffix plays the stream");
    assert!(!low.answer_sdp.contains("a=rid") && !low.answer_sdp.contains("stream-id"));
    let missing = client.play(&format!("{name}-lowest"), &play);
    assert_eq!(missing.unwrap_err(), "Stream not found");
    assert!(client.is_available(&format!("{name}-high")));

    let (status, body) = server.http_get("/health");
    assert_eq!(status, 200);
    let health: Value = serde_json::from_str(&body).expect("JSON health");
    assert_eq!(
        health["simulcast"],
        json!([{"stream": name, "layers": ["l", "m", "h"]}]),
        "{body}"
    );
    assert!(health["viewers"].is_array(), "{body}");
}
