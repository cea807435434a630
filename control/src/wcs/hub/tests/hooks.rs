//! REST hooks in the hub: calls held until the backend's verdict, WCS's failures, the
//! operator's fail-closed and on-error settings, the backend's `restClientConfig`, and the
//! notifications.

use std::time::Duration;

use serde_json::{json, Map, Value};

use super::*;
use crate::hooks::{HookAnswer, HookCallId, HookMethod, HookRequest, OnError};

fn hooked(fail_closed: bool, on_error: OnError) -> Harness {
    let cfg = Config {
        rest_hook_url: Some("http://127.0.0.1:9/apps/test".into()),
        rest_hook_fail_closed: fail_closed,
        rest_hook_on_error: on_error,
        ..config()
    };
    harness_with(&cfg, 1)
}

/// Everything the hub output: client frames (with their connection), closes, hook calls.
#[derive(Debug, Default)]
struct Drained {
    frames: Vec<(ConnId, Value)>,
    hooks: Vec<HookRequest>,
    refused: Vec<(ConnId, String)>,
}

impl Drained {
    fn decision(&self, method: HookMethod) -> HookCallId {
        let calls: Vec<_> = self
            .hooks
            .iter()
            .filter(|h| h.method == method && h.call.is_some())
            .collect();
        assert_eq!(calls.len(), 1, "{method:?}: {:?}", self.hooks);
        calls[0].call.unwrap()
    }

    fn notified(&self, method: HookMethod) -> Vec<&Value> {
        self.hooks
            .iter()
            .filter(|h| h.method == method && h.call.is_none())
            .map(|h| &h.body)
            .collect()
    }

    fn body(&self, method: HookMethod) -> &Value {
        &self
            .hooks
            .iter()
            .find(|h| h.method == method)
            .unwrap_or_else(|| panic!("no {method:?} in {:?}", self.hooks))
            .body
    }

    fn messages(&self) -> Vec<&str> {
        self.frames
            .iter()
            .map(|(_, v)| v["message"].as_str().unwrap())
            .collect()
    }
}

impl Harness {
    fn drain_all(&mut self) -> Drained {
        let mut d = Drained::default();
        while let Some(o) = self.hub.poll_output() {
            match o {
                Output::Send(c, m) => d
                    .frames
                    .push((c, serde_json::from_str(&m.to_json()).unwrap())),
                Output::Hook(h) => d.hooks.push(h),
                Output::Refuse(c, reason) => d.refused.push((c, reason)),
                other => panic!("unexpected output {other:?}"),
            }
        }
        d
    }

    fn input(&mut self, conn: ConnId, text: &str) -> Drained {
        self.hub.handle_text(self.now, conn, text);
        self.drain_all()
    }

    fn answer(&mut self, call: HookCallId, method: HookMethod, answer: HookAnswer) -> Drained {
        self.hub.hook_done(
            self.now,
            Some(call),
            method,
            answer,
            Duration::from_millis(2),
        );
        self.drain_all()
    }

    /// Opens a connection and gets its `connect` allowed with `answer_body`.
    fn connected(&mut self, answer_body: Option<Value>) -> ConnId {
        let conn = self.open();
        let d = self.input(conn, &hello());
        let call = d.decision(HookMethod::Connect);
        let body = answer_body.map(|b| match b {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        });
        let d = self.answer(call, HookMethod::Connect, HookAnswer::Allowed(body));
        assert_eq!(d.messages(), ["getUserData"], "{d:?}");
        conn
    }

    fn publish_text(&mut self, conn: ConnId, id: &str, name: &str) -> Drained {
        let publish = client::publish_stream(&StreamDesc::av(id, name), PUBLISH_OFFER, None);
        self.input(conn, &publish)
    }
}

fn hello() -> String {
    client::frame(
        "connection",
        &json!({"appKey": "myApp", "custom": {"token": "secret-1"}, "clientVersion": "2.0"}),
    )
}

fn refused(reason: &str) -> HookAnswer {
    HookAnswer::Refused {
        status: 403,
        reason: reason.into(),
    }
}

fn status(d: &Drained) -> (String, String) {
    only_status(&d.frames, d.frames[0].0)
}

#[test]
fn connect_waits_for_the_backend_and_carries_the_wcs_fields() {
    let mut h = hooked(true, OnError::Fail);
    let conn = h.open();
    let d = h.input(conn, &hello());
    assert!(d.frames.is_empty(), "nothing before the verdict: {d:?}");
    let body = d.body(HookMethod::Connect);
    assert_eq!(body["appKey"], "myApp");
    assert_eq!(body["custom"]["token"], "secret-1");
    assert_eq!(body["sessionId"], "/10.0.0.1:50001/127.0.0.1:8080");
    assert!(body["nodeId"].as_str().unwrap().ends_with("@127.0.0.1"));
    let call = d.decision(HookMethod::Connect);
    let d = h.answer(call, HookMethod::Connect, HookAnswer::Allowed(None));
    assert_eq!(d.messages(), ["getUserData"]);
    let user = &d.frames[0].1["data"][0];
    assert_eq!(user["appKey"], "myApp");
    assert!(user["authToken"].is_string());
    let established = d.notified(HookMethod::ConnectionStatusEvent);
    assert_eq!(established.len(), 1);
    assert_eq!(established[0]["status"], "ESTABLISHED");
}

#[test]
fn a_refused_connect_gets_fail_with_the_reason_and_is_closed() {
    let mut h = hooked(true, OnError::Fail);
    let conn = h.open();
    let call = h.input(conn, &hello()).decision(HookMethod::Connect);
    let d = h.answer(call, HookMethod::Connect, refused("Wrong credentials"));
    assert_eq!(d.messages(), ["fail"]);
    let fail = &d.frames[0].1["data"][0];
    assert_eq!(fail["status"], "FAILED");
    assert_eq!(fail["info"], "Wrong credentials");
    assert_eq!(fail["apiMethod"], "ConnectionStatusEvent");
    assert_eq!(d.refused, [(conn, "Wrong credentials".to_owned())]);
    assert_eq!(h.hub.stats().connections, 0, "the connection is forgotten");
    // Nothing more reaches a refused connection.
    assert!(h.publish_text(conn, "p1", "s").frames.is_empty());
}

#[test]
fn an_unavailable_backend_fails_closed_or_open_as_configured() {
    let mut h = hooked(true, OnError::Fail);
    let conn = h.open();
    let call = h.input(conn, &hello()).decision(HookMethod::Connect);
    let d = h.answer(
        call,
        HookMethod::Connect,
        HookAnswer::Unavailable("timed out".into()),
    );
    assert_eq!(d.frames[0].1["data"][0]["info"], BACKEND);
    assert_eq!(d.refused.len(), 1);

    let mut h = hooked(false, OnError::Fail);
    let conn = h.open();
    let call = h.input(conn, &hello()).decision(HookMethod::Connect);
    let d = h.answer(
        call,
        HookMethod::Connect,
        HookAnswer::Unavailable("connection refused".into()),
    );
    assert_eq!(d.messages(), ["getUserData"]);
    let call = h
        .publish_text(conn, "p1", "s")
        .decision(HookMethod::PublishStream);
    let d = h.answer(
        call,
        HookMethod::PublishStream,
        HookAnswer::Unavailable("timed out".into()),
    );
    assert_eq!(d.messages(), ["setRemoteSDP", "notifyStreamStatusEvent"]);
}

const BACKEND: &str = super::super::authorize::BACKEND_UNAVAILABLE;

#[test]
fn publish_and_play_go_ahead_only_when_allowed() {
    let mut h = hooked(true, OnError::Fail);
    let conn = h.connected(None);
    let d = h.publish_text(conn, "p1", "cam");
    assert!(d.frames.is_empty(), "held: {d:?}");
    assert!(h.all_commands().is_empty(), "no peer before the verdict");
    let body = d.body(HookMethod::PublishStream);
    assert_eq!(
        (&body["name"], &body["mediaSessionId"], &body["published"]),
        (&json!("cam"), &json!("p1"), &json!(true))
    );
    assert_eq!(body["appKey"], "myApp");
    assert_eq!(body["mediaProvider"], "WebRTC");
    let call = d.decision(HookMethod::PublishStream);
    let d = h.answer(call, HookMethod::PublishStream, HookAnswer::Allowed(None));
    assert_eq!(d.messages(), ["setRemoteSDP", "notifyStreamStatusEvent"]);
    assert_eq!(status_of(&d.frames[1].1), ("PUBLISHING", ""));
    let publishing = d.notified(HookMethod::StreamStatusEvent);
    assert_eq!(publishing[0]["status"], "PUBLISHING");
    assert_eq!(publishing[0]["name"], "cam");

    let viewer = h.connected(None);
    let offer = play_offer_vp8();
    let d = h.input(
        viewer,
        &client::frame(
            "playStream",
            &json!({"mediaSessionId": "v1", "name": "cam", "hasVideo": true, "hasAudio": true, "sdp": offer}),
        ),
    );
    let call = d.decision(HookMethod::PlayStream);
    assert_eq!(d.body(HookMethod::PlayStream)["published"], false);
    let d = h.answer(call, HookMethod::PlayStream, refused("Forbidden"));
    assert_eq!(status(&d), failed("Forbidden"));
    assert_eq!(h.hub.stats().players, 0);
}

#[test]
fn rest_on_error_log_lets_a_refused_publish_through() {
    // The node's default is FAIL; the backend says LOG for publishStream.
    let mut h = hooked(true, OnError::Fail);
    let conn = h.connected(Some(json!({"restClientConfig": {
        "publishStream": {"restOnError": "LOG"}}})));
    let call = h
        .publish_text(conn, "p1", "cam")
        .decision(HookMethod::PublishStream);
    let d = h.answer(call, HookMethod::PublishStream, refused("Forbidden"));
    assert_eq!(status_of(&d.frames[1].1), ("PUBLISHING", ""));

    // And the node's LOG default is WCS's behaviour.
    let mut h = hooked(true, OnError::Log);
    let conn = h.connected(None);
    let call = h
        .publish_text(conn, "p1", "cam")
        .decision(HookMethod::PublishStream);
    let d = h.answer(call, HookMethod::PublishStream, refused("Forbidden"));
    assert_eq!(status_of(&d.frames[1].1), ("PUBLISHING", ""));
}

#[test]
fn overwrite_policy_changes_what_get_user_data_echoes() {
    let mut h = hooked(true, OnError::Fail);
    let conn = h.open();
    let call = h.input(conn, &hello()).decision(HookMethod::Connect);
    let answer: Map<String, Value> = match json!({
        "custom": {"role": "viewer"},
        "restClientConfig": {"ConnectionStatusEvent": {
            "restPolicy": "OVERWRITE", "restOverwrite": "custom"}}})
    {
        Value::Object(m) => m,
        _ => unreachable!(),
    };
    let d = h.answer(call, HookMethod::Connect, HookAnswer::Allowed(Some(answer)));
    assert_eq!(
        d.frames[0].1["data"][0]["custom"],
        json!({"role": "viewer"})
    );
}

#[test]
fn requests_before_an_established_session_or_while_held_are_refused_clearly() {
    let mut h = hooked(true, OnError::Fail);
    let conn = h.open();
    // No `connection` yet.
    let d = h.publish_text(conn, "p0", "cam");
    assert_eq!(status(&d), failed("Session not ready"));
    assert!(d.hooks.iter().all(|c| c.call.is_none()), "{:?}", d.hooks);
    // A second `connection` while the first is with the backend.
    let first = h.input(conn, &hello()).decision(HookMethod::Connect);
    let d = h.input(conn, &hello());
    assert_eq!(d.messages(), ["fail"]);
    assert!(d.hooks.is_empty());
    h.answer(first, HookMethod::Connect, HookAnswer::Allowed(None));
    // The same mediaSessionId twice while held; a name in use fails without asking.
    let held = h
        .publish_text(conn, "p1", "cam")
        .decision(HookMethod::PublishStream);
    let d = h.publish_text(conn, "p1", "cam");
    assert_eq!(status(&d), failed("MediaSessionId is already in use"));
    h.answer(held, HookMethod::PublishStream, HookAnswer::Allowed(None));
    let d = h.publish_text(conn, "p2", "cam");
    assert_eq!(status(&d), failed("Stream name is already in use"));
    assert!(d.hooks.iter().all(|c| c.call.is_none()), "{:?}", d.hooks);
}

#[test]
fn a_connection_holds_a_bounded_number_of_requests() {
    let mut h = hooked(true, OnError::Fail);
    let conn = h.connected(None);
    for i in 0..super::super::authorize::MAX_PENDING_PER_CONNECTION {
        let d = h.publish_text(conn, &format!("p{i}"), &format!("cam{i}"));
        assert!(d.frames.is_empty());
    }
    let d = h.publish_text(conn, "one-more", "camx");
    assert_eq!(status(&d), failed("Too many pending requests"));
}

#[test]
fn a_stop_cancels_a_held_publish_and_a_late_verdict_is_ignored() {
    let mut h = hooked(true, OnError::Fail);
    let conn = h.connected(None);
    let call = h
        .publish_text(conn, "p1", "cam")
        .decision(HookMethod::PublishStream);
    let d = h.input(
        conn,
        &client::frame(
            "unPublishStream",
            &json!({"mediaSessionId": "p1", "name": "cam"}),
        ),
    );
    assert_eq!(status(&d), ("UNPUBLISHED".into(), String::new()));
    assert_eq!(d.notified(HookMethod::UnPublishStream).len(), 1);
    let d = h.answer(call, HookMethod::PublishStream, HookAnswer::Allowed(None));
    assert!(d.frames.is_empty() && d.hooks.is_empty(), "{d:?}");
    assert!(h.all_commands().is_empty(), "no peer was started");
    assert_eq!(h.hub.stats().streams, 0);
}

#[test]
fn a_closed_connection_drops_its_calls_and_notifies_disconnected() {
    let mut h = hooked(true, OnError::Fail);
    let conn = h.connected(None);
    let call = h
        .publish_text(conn, "p1", "cam")
        .decision(HookMethod::PublishStream);
    h.hub.close(h.now, conn);
    let d = h.drain_all();
    let gone = d.notified(HookMethod::ConnectionStatusEvent);
    assert_eq!(gone.len(), 1);
    assert_eq!(gone[0]["status"], "DISCONNECTED");
    let d = h.answer(call, HookMethod::PublishStream, HookAnswer::Allowed(None));
    assert!(d.frames.is_empty() && d.hooks.is_empty());
    assert!(h.all_commands().is_empty());
}

#[test]
fn without_hooks_nothing_is_asked_and_no_connection_is_needed() {
    let mut h = harness(1);
    let conn = h.open();
    let d = h.publish_text(conn, "p1", "cam");
    assert!(d.hooks.is_empty());
    assert_eq!(status_of(&d.frames[1].1), ("PUBLISHING", ""));
}

#[test]
fn hook_calls_are_counted_by_method_and_result() {
    let mut h = hooked(true, OnError::Fail);
    let conn = h.connected(None);
    let call = h
        .publish_text(conn, "p1", "cam")
        .decision(HookMethod::PublishStream);
    h.answer(call, HookMethod::PublishStream, refused("Forbidden"));
    let text = crate::metrics::render(&crate::metrics::Scrape {
        hub: h.hub.metrics(),
        ..Default::default()
    })
    .unwrap();
    assert!(
        text.contains(r#"rtcdn_hook_calls_total{method="publishStream",result="refused"} 1"#),
        "{text}"
    );
    assert!(text.contains(r#"rtcdn_hook_calls_total{method="connect",result="allowed"} 1"#));
    assert!(text.contains(r#"rtcdn_hook_duration_seconds_count{method="connect"} 1"#));
}
