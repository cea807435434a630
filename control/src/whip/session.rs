//! One WHIP publish or WHEP play, run as a WCS session of the hub: the same `connection` and
//! `publishStream`/`playStream` a browser with the Web SDK sends, so REST hooks, admission
//! limits, the CDN relay, `/health` and the REST API see it like any other client, and a
//! stream published over WHIP is played over the websocket and the other way round.
//!
//! [`start`] opens the session and waits for its answer; a task per session then answers the
//! hub's keep-alive `ping`s and notices when the hub ends the stream (publisher gone, REST
//! terminate, ICE or DTLS failure). [`Sessions`] holds the live ones by their unguessable id
//! (for `DELETE` and `PATCH`). Must not parse SDP beyond what the hub needs to be told (that
//! is the hub's and `crate::sdp`'s) or touch sockets.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};

use super::refusal::Refusal;
use crate::wcs::client::{self, Hello, ServerEvent, StreamDesc};
use crate::wcs::connection::{HubHandle, OUTGOING_QUEUE};
use crate::wcs::hub::ConnId;
use crate::wcs::queue::{HubInput, Outgoing};

/// What a session does with its stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// WHIP: publish.
    Publish,
    /// WHEP: play.
    Play,
}

impl Kind {
    /// The protocol's name (`custom.rtcdnProtocol` of the session, log lines).
    pub fn protocol(self) -> &'static str {
        match self {
            Kind::Publish => "whip",
            Kind::Play => "whep",
        }
    }
}

/// A client's request for a session.
#[derive(Clone, Debug)]
pub struct Request {
    /// Publish or play.
    pub kind: Kind,
    /// The stream name.
    pub name: String,
    /// The client's SDP offer.
    pub offer: String,
    /// The client's address (admission limits, `cdn_allowed_ips`).
    pub client: SocketAddr,
    /// Our listening address (the session id's second half, as for websockets).
    pub server: SocketAddr,
    /// The bearer token the client presented, if any (`custom.token` for the REST hooks).
    pub token: Option<String>,
}

/// A session the hub took.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Started {
    /// The session's id (32 hex digits, 128 random bits): its resource URL.
    pub id: String,
    /// The resource's entity tag (for `If-Match` on `PATCH`).
    pub etag: String,
    /// Our SDP answer.
    pub answer: String,
}

/// A live session as `DELETE` and `PATCH` need it.
#[derive(Debug)]
struct Entry {
    kind: Kind,
    etag: String,
    ufrag: String,
    stop: oneshot::Sender<()>,
}

/// What `PATCH` needs to know of a session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionView {
    /// Publish or play.
    pub kind: Kind,
    /// Its entity tag.
    pub etag: String,
    /// The ICE username fragment of the client's offer.
    pub ufrag: String,
}

/// How long an ended session's `DELETE` still answers 200: clients often close their
/// PeerConnection first, and the node may end the session on that before the `DELETE` comes.
pub const ENDED_KEPT: Duration = Duration::from_secs(60);
/// At most this many ended sessions are remembered (the oldest are forgotten first).
pub const MAX_ENDED: usize = 4096;

/// The live sessions by id, and the recently ended ones. The live ones are bounded by the hub:
/// every entry is a hub session, and the hub refuses beyond its limits (`max_peers`,
/// `max_connections_per_ip`); the ended ones by [`MAX_ENDED`] and [`ENDED_KEPT`].
#[derive(Debug, Default)]
pub struct Sessions {
    live: Mutex<HashMap<String, Entry>>,
    ended: Mutex<VecDeque<(String, Kind, Instant)>>,
}

impl Sessions {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        // A panic while holding this lock cannot leave the map half-updated (single calls).
        self.live
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The session `id`, if live.
    pub fn view(&self, id: &str) -> Option<SessionView> {
        self.map().get(id).map(|e| SessionView {
            kind: e.kind,
            etag: e.etag.clone(),
            ufrag: e.ufrag.clone(),
        })
    }

    /// Ends the session `id` of `kind` at `now` (`DELETE`); true also if it ended less than
    /// [`ENDED_KEPT`] ago, false if there is no such session.
    pub fn stop(&self, now: Instant, id: &str, kind: Kind) -> bool {
        let entry = {
            let mut map = self.map();
            match map.get(id) {
                Some(e) if e.kind == kind => map.remove(id),
                _ => None,
            }
        };
        match entry {
            Some(entry) => {
                // The task may have ended on its own just now; then there is nothing to stop.
                let _ = entry.stop.send(());
                self.ended(now, id, kind);
                true
            }
            None => self.recently_ended(now, id, kind),
        }
    }

    fn ended_list(&self) -> std::sync::MutexGuard<'_, VecDeque<(String, Kind, Instant)>> {
        self.ended
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Remembers that `id` ended at `now`, forgetting what is too old or too many.
    fn ended(&self, now: Instant, id: &str, kind: Kind) {
        let mut ended = self.ended_list();
        while ended
            .front()
            .is_some_and(|(_, _, at)| now.saturating_duration_since(*at) > ENDED_KEPT)
            || ended.len() >= MAX_ENDED
        {
            ended.pop_front();
        }
        ended.push_back((id.to_owned(), kind, now));
    }

    fn recently_ended(&self, now: Instant, id: &str, kind: Kind) -> bool {
        self.ended_list().iter().any(|(i, k, at)| {
            i == id && *k == kind && now.saturating_duration_since(*at) <= ENDED_KEPT
        })
    }

    /// How many sessions are live.
    pub fn len(&self) -> usize {
        self.map().len()
    }

    /// Whether none is live.
    pub fn is_empty(&self) -> bool {
        self.map().is_empty()
    }

    fn insert(&self, id: &str, entry: Entry) {
        self.map().insert(id.to_owned(), entry);
    }

    /// The session `id`'s task has ended at `now`.
    fn remove(&self, now: Instant, id: &str) {
        if let Some(entry) = self.map().remove(id) {
            self.ended(now, id, entry.kind);
        }
    }
}

/// Opens a session for `req` and waits (at most `wait`) until the hub has answered it.
pub async fn start(
    hub: &HubHandle,
    sessions: &Arc<Sessions>,
    req: Request,
    wait: Duration,
) -> Result<Started, Refusal> {
    let conn = hub.next_conn_id();
    let (out, out_rx) = mpsc::channel(OUTGOING_QUEUE);
    let open = HubInput::Open {
        conn,
        client: req.client,
        server: req.server,
        out,
    };
    if !hub.send(open).await {
        return Err(Refusal::Stopped);
    }
    let (ready_tx, ready_rx) = oneshot::channel();
    let task = Task {
        hub: hub.clone(),
        conn,
        out: out_rx,
        sessions: Arc::clone(sessions),
        media_session_id: uuid::Uuid::new_v4().to_string(),
    };
    tokio::spawn(task.run(req, ready_tx));
    match tokio::time::timeout(wait, ready_rx).await {
        Ok(Ok(result)) => result,
        Ok(Err(_)) => Err(Refusal::Stopped),
        // Dropping the receiver tells the task to give up and close the session.
        Err(_) => Err(Refusal::Timeout),
    }
}

/// 128 random bits as hex: a resource id or entity tag nobody can guess.
fn random_hex() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// The task of one session.
struct Task {
    hub: HubHandle,
    conn: ConnId,
    out: mpsc::Receiver<Outgoing>,
    sessions: Arc<Sessions>,
    media_session_id: String,
}

/// What one frame from the hub meant while a session starts.
enum Step {
    Wait,
    Done(Result<Option<String>, Refusal>),
}

impl Task {
    async fn run(mut self, req: Request, mut ready: oneshot::Sender<Result<Started, Refusal>>) {
        let negotiated = tokio::select! {
            result = self.negotiate(&req) => result,
            // The waiting request gave up (timeout, client gone).
            () = ready.closed() => Err(Refusal::Timeout),
        };
        match negotiated {
            Ok(answer) => {
                let id = random_hex();
                let started = Started {
                    id: id.clone(),
                    etag: format!("\"{}\"", &random_hex()[..16]),
                    answer,
                };
                let (stop_tx, stop_rx) = oneshot::channel();
                self.sessions.insert(
                    &id,
                    Entry {
                        kind: req.kind,
                        etag: started.etag.clone(),
                        ufrag: super::sdpfrag::ice_ufrag(&req.offer)
                            .unwrap_or_default()
                            .to_owned(),
                        stop: stop_tx,
                    },
                );
                tracing::info!(conn = self.conn.0, name = %req.name, session = %id, "{} session started", req.kind.protocol());
                if ready.send(Ok(started)).is_ok() {
                    self.serve(stop_rx).await;
                }
                self.sessions.remove(Instant::now(), &id);
                tracing::info!(conn = self.conn.0, name = %req.name, session = %id, "{} session ended", req.kind.protocol());
            }
            Err(refusal) => {
                tracing::debug!(conn = self.conn.0, name = %req.name, ?refusal, "{} refused", req.kind.protocol());
                let _ = ready.send(Err(refusal));
            }
        }
        self.hub.send(HubInput::Closed { conn: self.conn }).await;
    }

    async fn send(&self, text: String) -> Result<(), Refusal> {
        let input = HubInput::Text {
            conn: self.conn,
            text: text.into(),
        };
        if self.hub.send(input).await {
            Ok(())
        } else {
            Err(Refusal::Stopped)
        }
    }

    /// `connection` then the stream's request; our answer once the stream is PUBLISHING or
    /// PLAYING.
    async fn negotiate(&mut self, req: &Request) -> Result<String, Refusal> {
        let mut custom = json!({ "rtcdnProtocol": req.kind.protocol() });
        if let Some(token) = &req.token {
            custom["token"] = Value::String(token.clone());
        }
        self.send(client::connection(&Hello::with_custom(custom.clone())))
            .await?;
        self.until(|event| match event {
            ServerEvent::UserData(_) => Step::Done(Ok(None)),
            ServerEvent::Fail { info, .. } => Step::Done(Err(Refusal::ConnectionRefused(info))),
            _ => Step::Wait,
        })
        .await?;
        let desc = StreamDesc {
            media_session_id: &self.media_session_id,
            name: &req.name,
            has_audio: has_media(&req.offer, "audio"),
            has_video: has_media(&req.offer, "video"),
        };
        let (request, wanted) = match req.kind {
            Kind::Publish => (
                client::publish_stream(&desc, &req.offer, Some(&custom)),
                "PUBLISHING",
            ),
            Kind::Play => (client::play_stream(&desc, &req.offer), "PLAYING"),
        };
        self.send(request).await?;
        let mut answer = None;
        let id = self.media_session_id.clone();
        let done = self
            .until(move |event| match event {
                ServerEvent::RemoteSdp {
                    media_session_id,
                    sdp,
                } if media_session_id == id => {
                    answer = Some(sdp);
                    Step::Wait
                }
                ServerEvent::StreamStatus(s) if s.media_session_id == id => {
                    if s.status == wanted {
                        Step::Done(Ok(answer.take()))
                    } else if s.is_final() {
                        Step::Done(Err(Refusal::Failed(s.info)))
                    } else {
                        Step::Wait
                    }
                }
                ServerEvent::Fail { info, .. } => Step::Done(Err(Refusal::Failed(info))),
                _ => Step::Wait,
            })
            .await?;
        done.ok_or_else(|| Refusal::Failed(crate::wcs::info::FAILED_BY_ERROR.to_owned()))
    }

    /// Reads the hub's frames (answering pings) until `step` is done with one.
    async fn until(
        &mut self,
        mut step: impl FnMut(ServerEvent) -> Step,
    ) -> Result<Option<String>, Refusal> {
        loop {
            let text = match self.out.recv().await {
                Some(Outgoing::Text(text)) => text,
                Some(Outgoing::Refuse(reason)) => return Err(Refusal::ConnectionRefused(reason)),
                Some(Outgoing::Close) | None => {
                    return Err(Refusal::ConnectionRefused("Connection closed".to_owned()))
                }
            };
            let Ok(event) = client::parse_server(&text) else {
                continue;
            };
            if event == ServerEvent::Ping {
                self.send(client::pong()).await?;
                continue;
            }
            if let Step::Done(result) = step(event) {
                return result;
            }
        }
    }

    /// A running session: pings answered until the client deletes it or the hub ends it.
    async fn serve(&mut self, mut stop: oneshot::Receiver<()>) {
        let id = self.media_session_id.clone();
        loop {
            let frame = tokio::select! {
                // DELETE, or the entry dropped: either way the session ends.
                _ = &mut stop => return,
                frame = self.out.recv() => frame,
            };
            let Some(Outgoing::Text(text)) = frame else {
                return;
            };
            let go_on = match client::parse_server(&text) {
                Ok(ServerEvent::Ping) => self.send(client::pong()).await.is_ok(),
                Ok(ServerEvent::StreamStatus(s)) if s.media_session_id == id && s.is_final() => {
                    tracing::debug!(conn = self.conn.0, status = %s.status, info = %s.info, "stream ended by the server");
                    false
                }
                _ => true,
            };
            if !go_on {
                return;
            }
        }
    }
}

/// Whether `sdp` has a media section of `kind` (`audio`, `video`) with a port (a rejected
/// section has port 0).
fn has_media(sdp: &str, kind: &str) -> bool {
    sdp.lines().any(|l| {
        l.strip_prefix("m=")
            .and_then(|m| m.strip_prefix(kind))
            .and_then(|rest| rest.split_whitespace().next())
            .is_some_and(|port| port != "0")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_sections_of_an_offer() {
        let sdp = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nm=video 0 UDP/TLS/RTP/SAVPF 96\r\n";
        assert!(has_media(sdp, "audio"));
        assert!(!has_media(sdp, "video"));
        assert!(!has_media("v=0\r\n", "audio"));
    }

    fn entry(kind: Kind) -> (Entry, oneshot::Receiver<()>) {
        let (stop, rx) = oneshot::channel();
        let e = Entry {
            kind,
            etag: "\"e\"".into(),
            ufrag: "u".into(),
            stop,
        };
        (e, rx)
    }

    #[test]
    fn delete_of_a_session_that_just_ended_is_still_ok() {
        let sessions = Sessions::default();
        let t0 = Instant::now();
        let (e, mut stopped) = entry(Kind::Publish);
        sessions.insert("a", e);
        assert!(!sessions.stop(t0, "a", Kind::Play), "another kind's id");
        assert!(sessions.stop(t0, "a", Kind::Publish));
        assert_eq!(stopped.try_recv(), Ok(()));
        // Ended by the node (the client closed its PeerConnection), then DELETE.
        let (e, _rx) = entry(Kind::Play);
        sessions.insert("b", e);
        sessions.remove(t0, "b");
        assert!(sessions.view("b").is_none());
        assert!(sessions.stop(t0 + ENDED_KEPT, "b", Kind::Play));
        assert!(!sessions.stop(t0 + ENDED_KEPT, "b", Kind::Publish));
        assert!(!sessions.stop(t0 + ENDED_KEPT + Duration::from_secs(1), "b", Kind::Play));
        assert!(!sessions.stop(t0, "never", Kind::Play));
    }

    #[test]
    fn ended_sessions_are_bounded() {
        let sessions = Sessions::default();
        let t0 = Instant::now();
        for i in 0..MAX_ENDED + 10 {
            sessions.ended(t0, &i.to_string(), Kind::Publish);
        }
        assert_eq!(sessions.ended_list().len(), MAX_ENDED);
        assert!(
            !sessions.stop(t0, "0", Kind::Publish),
            "the oldest are forgotten"
        );
        assert!(sessions.stop(t0, &(MAX_ENDED + 9).to_string(), Kind::Publish));
        sessions.ended(t0 + ENDED_KEPT * 2, "late", Kind::Publish);
        assert_eq!(sessions.ended_list().len(), 1, "old ones expire");
    }

    #[test]
    fn ids_are_128_random_bits() {
        let (a, b) = (random_hex(), random_hex());
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
