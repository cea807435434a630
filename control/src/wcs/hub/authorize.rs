//! The hub's side of the REST hooks: with `rest_hook_url` set, a `connection` is established,
//! and a `publishStream` or `playStream` goes ahead, only after the backend allowed it; stops
//! and status changes are posted to it as notifications.
//!
//! Sans-IO like the rest of the hub: a call is an [`Output::Hook`] and its verdict comes back
//! through [`Hub::hook_done`]. While a verdict is pending the request is held here (bounded
//! per connection); a stop of a held stream cancels it, a closed connection drops its calls.
//! What an HTTP answer means is `crate::hooks`'; this file only decides what it does to the
//! client (WCS's behaviour: a refused `connect` gets `fail` with the reason and the socket is
//! closed; a refused publish or play gets FAILED with the reason).

use std::time::Duration;

use serde_json::{json, Map, Value};

use super::state::{Auth, ConnId, Hooks, Hub, Output, PendingCall};
use crate::config::Config;
use crate::hooks::{HookAnswer, HookCallId, HookMethod, HookRequest, OnError, RestClientConfig};
use crate::wcs::info;
use crate::wcs::messages::{self as msg, StreamRequest, StreamStatus};

/// Publishes and plays one connection may have waiting for the backend at once.
pub const MAX_PENDING_PER_CONNECTION: usize = 16;
pub use crate::wcs::info::BACKEND_UNAVAILABLE;
/// The `appKey` of a session that named none (the SDK's default).
const DEFAULT_APP: &str = "defaultApp";

/// The `appKey` a session object names (`defaultApp` when none).
fn app_key_of(object: &Map<String, Value>) -> String {
    object
        .get("appKey")
        .and_then(Value::as_str)
        .filter(|k| !k.is_empty())
        .unwrap_or(DEFAULT_APP)
        .to_owned()
}

impl Hooks {
    /// The hooks `cfg` asks for, or `None` without `rest_hook_url`.
    pub(super) fn from_config(cfg: &Config) -> Option<Self> {
        cfg.rest_hook_url.as_ref()?;
        Some(Self {
            fail_closed: cfg.rest_hook_fail_closed,
            on_error: cfg.rest_hook_on_error,
            node_id: format!("{}@{}", uuid::Uuid::new_v4().simple(), cfg.ip),
            pending: Default::default(),
            next_call: 1,
        })
    }
}

impl Hub {
    /// `connection`: established at once without hooks, else once the backend allows it.
    pub(super) fn connect(&mut self, conn: ConnId, object: Map<String, Value>) {
        let Some(state) = self.conns.get(&conn) else {
            return;
        };
        let session_id = format!("/{}/{}", state.client, state.server);
        let app_key = app_key_of(&object);
        let Some(hooks) = &mut self.hooks else {
            if let Some(state) = self.conns.get_mut(&conn) {
                state.auth = Auth::Established {
                    app_key,
                    rest: RestClientConfig::default(),
                };
            }
            let token = uuid::Uuid::new_v4().to_string();
            return self.send(conn, msg::get_user_data(object, &token, &session_id));
        };
        if !matches!(state.auth, Auth::None) {
            return self.send(
                conn,
                msg::fail("ConnectionStatusEvent", "Session already connected"),
            );
        }
        let call = HookCallId(hooks.next_call);
        hooks.next_call += 1;
        let mut body = object.clone();
        body.insert("nodeId".into(), hooks.node_id.clone().into());
        body.insert("sessionId".into(), session_id.into());
        body.insert("appKey".into(), app_key.into());
        hooks
            .pending
            .insert(call, PendingCall::Connect { conn, object });
        if let Some(state) = self.conns.get_mut(&conn) {
            state.auth = Auth::Pending(call);
        }
        self.out.push_back(Output::Hook(HookRequest {
            call: Some(call),
            method: HookMethod::Connect,
            body: Value::Object(body),
        }));
    }

    /// `publishStream` (`published`) or `playStream`: at once without hooks, else once the
    /// backend allows it. Requests that would fail anyway fail before asking.
    pub(super) fn request_stream(&mut self, conn: ConnId, req: StreamRequest, published: bool) {
        if self.hooks.is_none() {
            return self.start_stream(conn, req, published);
        }
        let api = if published {
            "publishStream"
        } else {
            "playStream"
        };
        if !self.check_new_session(conn, api, &req, published) {
            return;
        }
        let Some(state) = self.conns.get(&conn) else {
            return;
        };
        let problem = if !matches!(state.auth, Auth::Established { .. }) {
            Some(info::SESSION_NOT_READY)
        } else if state.pending_streams.contains_key(&req.media_session_id) {
            Some("MediaSessionId is already in use")
        } else if state.pending_streams.len() >= MAX_PENDING_PER_CONNECTION {
            Some("Too many pending requests")
        } else if published && !self.may_publish(conn) {
            Some(super::relay::RESTRICTED_ACCESS)
        } else if published && self.names.contains_key(&req.name) {
            Some(info::NAME_IN_USE)
        } else if !published && self.play_target(&req.name).is_none() {
            Some(info::STREAM_NOT_FOUND)
        } else {
            None
        };
        if let Some(problem) = problem {
            return self.send_status(conn, &req, published, "FAILED", problem);
        }
        let method = if published {
            HookMethod::PublishStream
        } else {
            HookMethod::PlayStream
        };
        let Some(body) = self.stream_body(conn, &req, published, "PENDING", "") else {
            return;
        };
        let Some(hooks) = &mut self.hooks else { return };
        let call = HookCallId(hooks.next_call);
        hooks.next_call += 1;
        let id = req.media_session_id.clone();
        hooks.pending.insert(
            call,
            PendingCall::Stream {
                conn,
                req,
                published,
            },
        );
        if let Some(state) = self.conns.get_mut(&conn) {
            state.pending_streams.insert(id, call);
        }
        self.out.push_back(Output::Hook(HookRequest {
            call: Some(call),
            method,
            body,
        }));
    }

    /// A hook call finished after `took`: counted, and a pending call is decided.
    pub fn hook_done(
        &mut self,
        now: std::time::Instant,
        call: Option<HookCallId>,
        method: HookMethod,
        answer: HookAnswer,
        took: Duration,
    ) {
        self.now = Some(now);
        self.counters.hook_called(method, &answer, took);
        let Some(call) = call else {
            if !matches!(answer, HookAnswer::Allowed(_)) {
                tracing::debug!(
                    method = method.as_str(),
                    ?answer,
                    "hook notification not accepted"
                );
            }
            return;
        };
        let Some(pending) = self.hooks.as_mut().and_then(|h| h.pending.remove(&call)) else {
            return;
        };
        match pending {
            PendingCall::Connect { conn, object } => self.connect_decided(conn, object, answer),
            PendingCall::Stream {
                conn,
                req,
                published,
            } => {
                let Some(state) = self.conns.get_mut(&conn) else {
                    return;
                };
                if state.pending_streams.get(&req.media_session_id) != Some(&call) {
                    return;
                }
                state.pending_streams.remove(&req.media_session_id);
                self.stream_decided(conn, req, published, method, answer);
            }
        }
    }

    fn connect_decided(
        &mut self,
        conn: ConnId,
        mut object: Map<String, Value>,
        answer: HookAnswer,
    ) {
        let Some(state) = self.conns.get(&conn) else {
            return;
        };
        let session_id = format!("/{}/{}", state.client, state.server);
        let fail_closed = self.hooks.as_ref().is_none_or(|h| h.fail_closed);
        let (allowed, rest) = match &answer {
            HookAnswer::Allowed(body) => {
                let rest = RestClientConfig::from_connect_answer(body.as_ref());
                rest.overwrite_connection(body.as_ref(), &mut object);
                (Ok(()), rest)
            }
            HookAnswer::Refused { reason, .. } => (Err(reason.clone()), Default::default()),
            HookAnswer::Unavailable(why) if fail_closed => {
                tracing::warn!(
                    conn = conn.0,
                    why,
                    "connect refused: the backend is unavailable"
                );
                (Err(BACKEND_UNAVAILABLE.to_owned()), Default::default())
            }
            HookAnswer::Unavailable(why) => {
                tracing::warn!(
                    conn = conn.0,
                    why,
                    "connect allowed: the backend is unavailable"
                );
                (Ok(()), Default::default())
            }
        };
        match allowed {
            Ok(()) => {
                let app_key = app_key_of(&object);
                if let Some(state) = self.conns.get_mut(&conn) {
                    state.auth = Auth::Established { app_key, rest };
                }
                let token = uuid::Uuid::new_v4().to_string();
                self.send(conn, msg::get_user_data(object, &token, &session_id));
                self.notify_connection(conn, "ESTABLISHED", "");
            }
            Err(reason) => {
                tracing::info!(conn = conn.0, %reason, "connect refused by the backend");
                self.send(conn, msg::connection_failed(&reason));
                self.out.push_back(Output::Refuse(conn, reason));
                if let Some(now) = self.now {
                    self.close(now, conn);
                }
            }
        }
    }

    fn stream_decided(
        &mut self,
        conn: ConnId,
        req: StreamRequest,
        published: bool,
        method: HookMethod,
        answer: HookAnswer,
    ) {
        let (on_error, fail_closed) = match (&self.hooks, self.conns.get(&conn).map(|c| &c.auth)) {
            (Some(h), Some(Auth::Established { rest, .. })) => {
                (rest.on_error(method, h.on_error), h.fail_closed)
            }
            _ => (OnError::Fail, true),
        };
        let refusal = match answer {
            HookAnswer::Allowed(_) => None,
            HookAnswer::Refused { reason, .. } if on_error == OnError::Fail => Some(reason),
            HookAnswer::Refused { reason, .. } => {
                tracing::info!(conn = conn.0, name = %req.name, %reason,
                    "{} refused by the backend: only logged (restOnError LOG)", method.as_str());
                None
            }
            HookAnswer::Unavailable(why) if fail_closed => {
                tracing::warn!(conn = conn.0, name = %req.name, why,
                    "{} refused: the backend is unavailable", method.as_str());
                Some(BACKEND_UNAVAILABLE.to_owned())
            }
            HookAnswer::Unavailable(why) => {
                tracing::warn!(conn = conn.0, name = %req.name, why,
                    "{} allowed: the backend is unavailable", method.as_str());
                None
            }
        };
        match refusal {
            Some(reason) => self.send_status(conn, &req, published, "FAILED", &reason),
            None => self.start_stream(conn, req, published),
        }
    }

    fn start_stream(&mut self, conn: ConnId, req: StreamRequest, published: bool) {
        if published {
            self.publish(conn, req);
        } else {
            self.play(conn, req);
        }
    }

    /// A stop of a stream still waiting for the backend: forgets it and confirms the stop.
    /// False when the stream is not pending.
    pub(super) fn cancel_pending(&mut self, conn: ConnId, req: &StreamRequest) -> bool {
        let Some(state) = self.conns.get_mut(&conn) else {
            return false;
        };
        let Some(call) = state.pending_streams.remove(&req.media_session_id) else {
            return false;
        };
        let published = match self.hooks.as_mut().and_then(|h| h.pending.remove(&call)) {
            Some(PendingCall::Stream { published, .. }) => published,
            _ => req.published,
        };
        let status = if published { "UNPUBLISHED" } else { "STOPPED" };
        self.send_status(conn, req, published, status, "");
        true
    }

    /// A connection is closing: drops the calls it was waiting for and notifies
    /// DISCONNECTED if its session was established. Call before forgetting the connection.
    pub(super) fn forget_hooks(&mut self, conn: ConnId) {
        let (Some(_), Some(state)) = (&self.hooks, self.conns.get(&conn)) else {
            return;
        };
        let mut calls: Vec<HookCallId> = state.pending_streams.values().copied().collect();
        if let Auth::Pending(call) = state.auth {
            calls.push(call);
        }
        if matches!(state.auth, Auth::Established { .. }) {
            self.notify_connection(conn, "DISCONNECTED", "");
        }
        if let Some(hooks) = &mut self.hooks {
            for call in calls {
                hooks.pending.remove(&call);
            }
        }
    }

    /// Posts a stop the client asked for (`stopStream` or `unPublishStream`).
    pub(super) fn notify_stop(&mut self, conn: ConnId, api: &str, req: &StreamRequest) {
        if self.hooks.is_none() {
            return;
        }
        let method = if api == "unPublishStream" {
            HookMethod::UnPublishStream
        } else {
            HookMethod::StopStream
        };
        let published = method == HookMethod::UnPublishStream;
        if let Some(body) = self.stream_body(conn, req, published, "", "") {
            self.notify(method, body);
        }
    }

    /// Posts a stream's new status (`StreamStatusEvent`).
    pub(super) fn notify_stream_status(&mut self, conn: ConnId, st: &StreamStatus) {
        if self.hooks.is_none() {
            return;
        }
        let req = StreamRequest {
            media_session_id: st.media_session_id.to_owned(),
            name: st.name.to_owned(),
            published: st.published,
            has_audio: Some(st.has_audio),
            has_video: Some(st.has_video),
            ..Default::default()
        };
        if let Some(body) = self.stream_body(conn, &req, st.published, st.status, st.info) {
            self.notify(HookMethod::StreamStatusEvent, body);
        }
    }

    /// Posts a session's new status (`ConnectionStatusEvent`).
    pub(super) fn notify_connection(&mut self, conn: ConnId, status: &str, info: &str) {
        let (Some(hooks), Some(state)) = (&self.hooks, self.conns.get(&conn)) else {
            return;
        };
        let app_key = match &state.auth {
            Auth::Established { app_key, .. } => app_key.as_str(),
            _ => DEFAULT_APP,
        };
        let body = json!({
            "nodeId": hooks.node_id,
            "appKey": app_key,
            "sessionId": format!("/{}/{}", state.client, state.server),
            "status": status,
            "info": info,
        });
        self.notify(HookMethod::ConnectionStatusEvent, body);
    }

    fn notify(&mut self, method: HookMethod, body: Value) {
        self.out.push_back(Output::Hook(HookRequest {
            call: None,
            method,
            body,
        }));
    }

    /// The WCS stream object a hook receives.
    fn stream_body(
        &self,
        conn: ConnId,
        req: &StreamRequest,
        published: bool,
        status: &str,
        info: &str,
    ) -> Option<Value> {
        let hooks = self.hooks.as_ref()?;
        let state = self.conns.get(&conn)?;
        let app_key = match &state.auth {
            Auth::Established { app_key, .. } => app_key.as_str(),
            _ => DEFAULT_APP,
        };
        Some(json!({
            "nodeId": hooks.node_id,
            "appKey": app_key,
            "sessionId": format!("/{}/{}", state.client, state.server),
            "mediaSessionId": req.media_session_id,
            "name": req.name,
            "published": published,
            "hasVideo": req.has_video.unwrap_or(false),
            "hasAudio": req.has_audio.unwrap_or(false),
            "status": status,
            "info": info,
            "record": req.record,
            "width": req.width,
            "height": req.height,
            "bitrate": 0,
            "quality": 0,
            "mediaProvider": "WebRTC",
            "custom": req.custom.clone().unwrap_or(Value::Object(Map::new())),
        }))
    }
}
