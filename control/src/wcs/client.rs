//! The client side of the WCS websocket protocol, as the Flashphoner Web SDK 2.0 speaks it: the
//! text frames a client sends ([`connection`], [`publish_stream`], [`play_stream`],
//! [`unpublish_stream`], [`stop_stream`], [`available_stream`], [`pong`]) and a typed reading
//! of what a server sends back ([`parse_server`] → [`ServerEvent`]).
//!
//! One implementation for every client we have: the origin's relay legs toward its edges
//! (`crate::cdn::relay`), the load generator (`bench`) and the integration tests. The payloads
//! keep the SDK's field set (wcs-protocol.md §2), so a real WCS takes them like a browser's.
//!
//! Transport-agnostic and stateless: it builds and reads text frames only. It must not own a
//! socket, a clock or any stream state; each user keeps its own websocket and its own waiting.

use serde::Serialize;
use serde_json::{json, Map, Value};

/// The only media provider our clients offer.
const WEBRTC: &str = "WebRTC";

/// The `connection` payload: who the client says it is.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Hello<'a> {
    /// The server application (`defaultApp` in the SDK).
    pub app_key: &'a str,
    /// Media providers the client supports.
    pub media_providers: [&'a str; 1],
    /// The SDK's protocol version, `2.0`.
    pub client_version: &'a str,
    /// What a browser adds about itself (absent for the relay).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub browser: Option<BrowserInfo<'a>>,
    /// Application data (`{"rtcdnRelay": true}` for an origin's relay).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom: Option<Value>,
}

/// The fields a browser's `connection` carries about its platform.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BrowserInfo<'a> {
    /// `navigator.appVersion`.
    #[serde(rename = "clientOSVersion")]
    pub client_os_version: &'a str,
    /// `navigator.userAgent`.
    pub client_browser_version: String,
    /// The MSE packetizer version the SDK announces, 2.
    pub mse_packetization_version: u32,
    /// UA client hints (`{}` on http pages).
    pub client_info: Map<String, Value>,
}

impl<'a> Hello<'a> {
    /// A browser on Linux whose user agent ends with `product` (e.g. `rtcdn-load`).
    pub fn browser(product: &str) -> Self {
        Self {
            browser: Some(BrowserInfo {
                client_os_version: "5.0 (X11; Linux x86_64)",
                client_browser_version: format!("Mozilla/5.0 (X11; Linux x86_64) {product}"),
                mse_packetization_version: 2,
                client_info: Map::new(),
            }),
            ..Self::minimal()
        }
    }

    /// An origin's relay leg: the minimal session plus `custom.rtcdnRelay`.
    pub fn relay() -> Self {
        Self {
            custom: Some(json!({"rtcdnRelay": true})),
            ..Self::minimal()
        }
    }

    /// A session opened for a client of another protocol (WHIP, WHEP): no browser details,
    /// `custom` as given (the REST hooks see it in `connect`).
    pub fn with_custom(custom: Value) -> Self {
        Self {
            custom: Some(custom),
            ..Self::minimal()
        }
    }

    fn minimal() -> Self {
        Self {
            app_key: "defaultApp",
            media_providers: [WEBRTC],
            client_version: "2.0",
            browser: None,
            custom: None,
        }
    }
}

/// One stream as a client names it in every message about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamDesc<'a> {
    /// The client-generated id (a uuid), the key of everything after.
    pub media_session_id: &'a str,
    /// The stream name.
    pub name: &'a str,
    /// Whether the stream has (or the player wants) audio.
    pub has_audio: bool,
    /// Whether the stream has (or the player wants) video.
    pub has_video: bool,
}

impl<'a> StreamDesc<'a> {
    /// A stream with audio and video, as the SDK describes every player and most publishers.
    pub fn av(media_session_id: &'a str, name: &'a str) -> Self {
        Self {
            media_session_id,
            name,
            has_audio: true,
            has_video: true,
        }
    }
}

/// The SDK's stream object in the order it writes the fields; what a message leaves out is
/// `None` and absent on the wire (`JSON.stringify` drops undefined fields).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StreamPayload<'a> {
    media_session_id: &'a str,
    name: &'a str,
    published: bool,
    has_video: bool,
    has_audio: bool,
    status: &'a str,
    record: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    width: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    height: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    media_provider: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sdp: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    custom: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bitrate: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    min_bitrate: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_bitrate: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    quality: Option<u32>,
}

impl<'a> StreamPayload<'a> {
    /// The fields of `unPublishStream`/`stopStream`: the stream as it is now.
    fn current(stream: &StreamDesc<'a>, published: bool, status: &'a str) -> Self {
        Self {
            media_session_id: stream.media_session_id,
            name: stream.name,
            published,
            has_video: stream.has_video,
            has_audio: stream.has_audio,
            status,
            record: false,
            width: None,
            height: None,
            media_provider: None,
            sdp: None,
            bitrate: None,
            min_bitrate: None,
            max_bitrate: None,
            quality: None,
            custom: None,
        }
    }

    /// The fields of `publishStream`/`playStream`: a new stream with its offer.
    fn offer(stream: &StreamDesc<'a>, published: bool, sdp: &'a str) -> Self {
        Self {
            media_provider: Some(WEBRTC),
            sdp: Some(sdp),
            bitrate: Some(0),
            min_bitrate: Some(0),
            max_bitrate: Some(0),
            ..Self::current(stream, published, "PENDING")
        }
    }
}

/// The envelope, serialized in the SDK's order (`message`, then `data`).
#[derive(Serialize)]
struct Envelope<'a, T: Serialize> {
    message: &'a str,
    data: [&'a T; 1],
}

/// One client text frame: `{"message": name, "data": [payload]}` (the SDK always sends a
/// one-element array; `null` for ping and pong). Fields keep the order of their struct.
pub fn frame(name: &str, payload: &impl Serialize) -> String {
    let envelope = Envelope {
        message: name,
        data: [payload],
    };
    // Plain data (strings, numbers, maps with string keys) always serializes.
    serde_json::to_string(&envelope).unwrap_or_default()
}

/// `connection`, the first message after the websocket opens.
pub fn connection(hello: &Hello<'_>) -> String {
    frame("connection", hello)
}

/// `publishStream` with `sdp`, the offer; `custom` is the stream's application data.
pub fn publish_stream(stream: &StreamDesc<'_>, sdp: &str, custom: Option<&Value>) -> String {
    let payload = StreamPayload {
        custom,
        ..StreamPayload::offer(stream, true, sdp)
    };
    frame("publishStream", &payload)
}

/// `playStream` with `sdp`, the offer (no requested size or quality: zeros, as the SDK sends
/// by default).
pub fn play_stream(stream: &StreamDesc<'_>, sdp: &str) -> String {
    let payload = StreamPayload {
        width: Some(0),
        height: Some(0),
        quality: Some(0),
        ..StreamPayload::offer(stream, false, sdp)
    };
    frame("playStream", &payload)
}

/// `unPublishStream` of a publisher whose status is `status` (e.g. `PUBLISHING`).
pub fn unpublish_stream(stream: &StreamDesc<'_>, status: &str) -> String {
    frame(
        "unPublishStream",
        &StreamPayload::current(stream, true, status),
    )
}

/// `stopStream` of a player whose status is `status` (e.g. `PLAYING`).
pub fn stop_stream(stream: &StreamDesc<'_>, status: &str) -> String {
    frame("stopStream", &StreamPayload::current(stream, false, status))
}

/// `availableStream`: can `name` be played here? `media_session_id` is that of a fresh probe.
pub fn available_stream(media_session_id: &str, name: &str) -> String {
    frame(
        "availableStream",
        &json!({"mediaSessionId": media_session_id, "name": name}),
    )
}

/// `pong`, the answer to a server `ping`.
pub fn pong() -> String {
    frame("pong", &Value::Null)
}

/// A `notifyStreamStatusEvent` for one stream.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamStatusEvent {
    /// The stream it is about.
    pub media_session_id: String,
    /// `PUBLISHING`, `PLAYING`, `UNPUBLISHED`, `STOPPED`, `FAILED`, …
    pub status: String,
    /// Why (for FAILED and STOPPED); empty when absent.
    pub info: String,
}

impl StreamStatusEvent {
    /// FAILED, STOPPED or UNPUBLISHED: the server is done with the stream (the SDK forgets it).
    pub fn is_final(&self) -> bool {
        matches!(self.status.as_str(), "FAILED" | "STOPPED" | "UNPUBLISHED")
    }
}

/// One server → client message, with the fields a client acts on.
#[derive(Clone, Debug, PartialEq)]
pub enum ServerEvent {
    /// `getUserData`: the session is ESTABLISHED; `data[0]`, the session object (`Null` when
    /// absent).
    UserData(Value),
    /// `setRemoteSDP [mediaSessionId, sdp]`: the answer to a stream's offer.
    RemoteSdp {
        /// The stream.
        media_session_id: String,
        /// The answer SDP.
        sdp: String,
    },
    /// `notifyStreamStatusEvent`.
    StreamStatus(StreamStatusEvent),
    /// `notifyStreamEvent`: data or mute events relayed from a publisher.
    StreamEvent {
        /// The player's stream.
        media_session_id: String,
        /// `data`, `audioMuted`, …
        kind: String,
        /// The event's payload, if any.
        payload: Option<Value>,
    },
    /// The answer to `availableStream`.
    Available {
        /// The probe's mediaSessionId.
        id: String,
        /// Whether `status` was the string `"true"` (a JSON `true` is not, as in the SDK).
        available: bool,
        /// Why not, or `Available`.
        info: String,
    },
    /// `fail`: a request was refused (the SDK's session WARN).
    Fail {
        /// The refused request (empty when absent).
        api_method: String,
        /// Why (empty when absent).
        info: String,
    },
    /// `ping`: answer with [`pong`].
    Ping,
    /// Any other message (its name): nothing a client of ours acts on.
    Other(String),
}

/// Why a server text frame could not be read. A client ignores or reports it; the session
/// itself may go on.
#[derive(Debug, thiserror::Error)]
pub enum ServerMessageError {
    /// Not JSON at all.
    #[error("not JSON: {0}")]
    Json(#[source] serde_json::Error),
    /// JSON, but not an object with a string `message`.
    #[error("not a WCS message (no message name)")]
    NoName,
    /// A known message without the fields the SDK reads.
    #[error("{0} without the fields a client reads")]
    BadPayload(&'static str),
}

/// Reads one server text frame.
pub fn parse_server(text: &str) -> Result<ServerEvent, ServerMessageError> {
    let value: Value = serde_json::from_str(text).map_err(ServerMessageError::Json)?;
    parse_server_value(&value)
}

/// [`parse_server`] of a frame already parsed as JSON.
pub fn parse_server_value(value: &Value) -> Result<ServerEvent, ServerMessageError> {
    let name = value["message"]
        .as_str()
        .ok_or(ServerMessageError::NoName)?;
    // `value[..]` of anything missing is `Null`, so absent data reads as absent fields.
    let data = &value["data"];
    let first = &data[0];
    let text = |v: &Value| v.as_str().map(str::to_owned);
    let text_or_empty = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    Ok(match name {
        "getUserData" => ServerEvent::UserData(first.clone()),
        "setRemoteSDP" => {
            let (Some(media_session_id), Some(sdp)) = (text(first), text(&data[1])) else {
                return Err(ServerMessageError::BadPayload("setRemoteSDP"));
            };
            ServerEvent::RemoteSdp {
                media_session_id,
                sdp,
            }
        }
        "notifyStreamStatusEvent" => {
            let (Some(media_session_id), Some(status)) =
                (text(&first["mediaSessionId"]), text(&first["status"]))
            else {
                return Err(ServerMessageError::BadPayload("notifyStreamStatusEvent"));
            };
            ServerEvent::StreamStatus(StreamStatusEvent {
                media_session_id,
                status,
                info: text_or_empty(&first["info"]),
            })
        }
        "notifyStreamEvent" => {
            let (Some(media_session_id), Some(kind)) =
                (text(&first["mediaSessionId"]), text(&first["type"]))
            else {
                return Err(ServerMessageError::BadPayload("notifyStreamEvent"));
            };
            ServerEvent::StreamEvent {
                media_session_id,
                kind,
                payload: first.get("payload").cloned(),
            }
        }
        "availableStream" => ServerEvent::Available {
            id: text_or_empty(&first["id"]),
            available: first["status"] == "true",
            info: text_or_empty(&first["info"]),
        },
        "fail" => ServerEvent::Fail {
            api_method: text_or_empty(&first["apiMethod"]),
            info: text_or_empty(&first["info"]),
        },
        "ping" => ServerEvent::Ping,
        other => ServerEvent::Other(other.to_owned()),
    })
}

#[cfg(test)]
mod tests;
