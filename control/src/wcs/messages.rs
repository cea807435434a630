//! WCS signalling message types: the `{"message": name, "data": [..]}` envelope both ways.
//!
//! Owns parsing of client text frames into [`ClientMessage`] (tolerant of absent optional
//! fields, numbers sent as strings, unknown extra fields) and the builders of every
//! [`ServerMessage`] we send. It must not hold state or decide anything: that is the hub's job.

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{json, Map, Value};

/// Fields shared by `publishStream`, `playStream`, `unPublishStream`, `stopStream` and
/// `availableStream` (the SDK's stream object). Everything is optional on the wire.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct StreamRequest {
    /// The client-generated stream id (uuid); the key of everything after.
    pub media_session_id: String,
    /// The stream name.
    pub name: String,
    /// `true` for a publisher.
    pub published: bool,
    /// Whether the client sends/wants audio.
    pub has_audio: Option<bool>,
    /// Whether the client sends/wants video.
    pub has_video: Option<bool>,
    /// Recording requested (not supported; echoed as `false`).
    #[serde(deserialize_with = "lenient_bool")]
    pub record: bool,
    /// The SDP offer (publish/play only).
    pub sdp: Option<String>,
    /// Requested width (the SDK may send it as a string such as "640").
    #[serde(deserialize_with = "number_or_string")]
    pub width: u32,
    /// Requested height (number or string).
    #[serde(deserialize_with = "number_or_string")]
    pub height: u32,
    /// Application data of the stream; `custom.rtcdnRelay` marks an origin's rtp relay.
    pub custom: Option<Value>,
}

/// `sendStreamEvent`: data or mute events from a publisher.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct StreamEventRequest {
    /// The publisher's mediaSessionId.
    pub media_session_id: String,
    /// `data`, `audioMuted`, `audioUnmuted`, `videoMuted`, `videoUnmuted`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The payload of a `data` event.
    pub payload: Option<Value>,
}

/// `sendData`: application data to the server.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct SendDataRequest {
    /// The id the client waits for in `DataStatusEvent`.
    pub operation_id: String,
    /// Application payload.
    pub payload: Option<Value>,
}

/// One client → server message.
#[derive(Clone, Debug, PartialEq)]
pub enum ClientMessage {
    /// `connection`: the session object, echoed back in `getUserData`.
    Connection(Map<String, Value>),
    /// `publishStream`.
    PublishStream(StreamRequest),
    /// `playStream`.
    PlayStream(StreamRequest),
    /// `unPublishStream`.
    UnPublishStream(StreamRequest),
    /// `stopStream`.
    StopStream(StreamRequest),
    /// `availableStream`.
    AvailableStream(StreamRequest),
    /// `sendStreamEvent`.
    SendStreamEvent(StreamEventRequest),
    /// `sendData`.
    SendData(SendDataRequest),
    /// `pong`, `ping`, `pushLogs`, `submitBugReport`: accepted, nothing to answer.
    Ignored(&'static str),
}

/// Why a client text frame was rejected. The connection stays usable.
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    /// Not JSON at all.
    #[error("Malformed JSON: {0}")]
    Json(#[source] serde_json::Error),
    /// JSON, but not an object.
    #[error("Message is not a JSON object")]
    NotObject,
    /// No string `message` field.
    #[error("Missing message name")]
    MissingName,
    /// No `data` array (or an empty one where a payload is needed).
    #[error("Missing data for {0}")]
    MissingData(String),
    /// `data[0]` does not have the expected shape.
    #[error("Bad payload for {name}: {source}")]
    BadPayload {
        /// The message name.
        name: String,
        /// What serde did not like.
        #[source]
        source: serde_json::Error,
    },
    /// A message name we do not implement.
    #[error("Unknown message {0}")]
    Unknown(String),
    /// A `publishStream` or `playStream` that names its stream (`mediaSessionId`) but has a
    /// field of the wrong type (e.g. an `sdp` that is not a string): that stream fails.
    #[error("Bad {name}: {source}")]
    BadStream {
        /// The message name.
        name: String,
        /// The stream's request as far as it could be read (`mediaSessionId`, `name`).
        stream: Box<StreamRequest>,
        /// What serde did not like.
        #[source]
        source: serde_json::Error,
    },
}

impl MessageError {
    /// The `apiMethod` to put into the `fail` reply: the message name when it is known.
    pub fn api_method(&self) -> &str {
        match self {
            MessageError::MissingData(name)
            | MessageError::BadPayload { name, .. }
            | MessageError::BadStream { name, .. }
            | MessageError::Unknown(name) => name,
            _ => "unknown",
        }
    }
}

fn payload<T: for<'de> Deserialize<'de>>(
    name: &str,
    data: Option<Value>,
) -> Result<T, MessageError> {
    let value = data.ok_or_else(|| MessageError::MissingData(name.to_owned()))?;
    T::deserialize(value).map_err(|source| MessageError::BadPayload {
        name: name.to_owned(),
        source,
    })
}

/// A publish or play request; when it does not read but names its stream, the error carries
/// the stream so that the client can be told FAILED for it (the SDK's stream would otherwise
/// wait in PENDING for ever).
fn stream_payload(
    name: &str,
    data: Option<Value>,
    published: bool,
) -> Result<StreamRequest, MessageError> {
    let Some(value) = data else {
        return Err(MessageError::MissingData(name.to_owned()));
    };
    let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_owned);
    let (id, stream_name) = (text("mediaSessionId"), text("name"));
    StreamRequest::deserialize(&value).map_err(|source| match id {
        Some(media_session_id) => MessageError::BadStream {
            name: name.to_owned(),
            stream: Box::new(StreamRequest {
                media_session_id,
                name: stream_name.unwrap_or_default(),
                published,
                ..StreamRequest::default()
            }),
            source,
        },
        None => MessageError::BadPayload {
            name: name.to_owned(),
            source,
        },
    })
}

/// Parses one client text frame.
pub fn parse_client(text: &str) -> Result<ClientMessage, MessageError> {
    let value: Value = serde_json::from_str(text).map_err(MessageError::Json)?;
    let Value::Object(mut envelope) = value else {
        return Err(MessageError::NotObject);
    };
    let name = match envelope.remove("message") {
        Some(Value::String(name)) => name,
        _ => return Err(MessageError::MissingName),
    };
    // `data` is an array whose first element is the payload; `null` is allowed for ping/pong.
    let first = match envelope.remove("data") {
        Some(Value::Array(items)) => items.into_iter().next().filter(|v| !v.is_null()),
        _ => None,
    };
    let n = name.as_str();
    Ok(match n {
        "connection" => match first {
            Some(Value::Object(map)) => ClientMessage::Connection(map),
            Some(_) => {
                return Err(MessageError::BadPayload {
                    name,
                    source: de::Error::custom("expected an object"),
                })
            }
            None => return Err(MessageError::MissingData(name)),
        },
        "publishStream" => ClientMessage::PublishStream(stream_payload(n, first, true)?),
        "playStream" => ClientMessage::PlayStream(stream_payload(n, first, false)?),
        "unPublishStream" => ClientMessage::UnPublishStream(payload(n, first)?),
        "stopStream" => ClientMessage::StopStream(payload(n, first)?),
        "availableStream" => ClientMessage::AvailableStream(payload(n, first)?),
        "sendStreamEvent" => ClientMessage::SendStreamEvent(payload(n, first)?),
        "sendData" => ClientMessage::SendData(payload(n, first)?),
        "pong" => ClientMessage::Ignored("pong"),
        "ping" => ClientMessage::Ignored("ping"),
        "pushLogs" => ClientMessage::Ignored("pushLogs"),
        "submitBugReport" => ClientMessage::Ignored("submitBugReport"),
        _ => return Err(MessageError::Unknown(name)),
    })
}

fn number_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()).unwrap_or(0),
        Value::String(s) => s.trim().parse().unwrap_or(0),
        _ => 0,
    })
}

fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Bool(b) => b,
        Value::String(s) => s == "true",
        _ => false,
    })
}

/// One server → client message. `data` is always an array (the SDK reads `data[0]`).
#[derive(Clone, Debug, PartialEq)]
pub struct ServerMessage {
    /// The message name.
    pub name: &'static str,
    /// The positional payload.
    pub data: Vec<Value>,
}

impl Serialize for ServerMessage {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        json!({"message": self.name, "data": self.data}).serialize(s)
    }
}

impl ServerMessage {
    /// The text frame.
    pub fn to_json(&self) -> String {
        // Serializing a `Value` tree to a String cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The object in `data[0]`, if any.
    pub fn first(&self) -> Option<&Value> {
        self.data.first()
    }
}

/// The fields of a `notifyStreamStatusEvent` (the ones WCS sends for WebRTC streams).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamStatus<'a> {
    /// The stream the status is for.
    pub media_session_id: &'a str,
    /// The stream name.
    pub name: &'a str,
    /// `true` for a publisher.
    pub published: bool,
    /// Whether audio is negotiated.
    pub has_audio: bool,
    /// Whether video is negotiated.
    pub has_video: bool,
    /// `PUBLISHING`, `PLAYING`, `UNPUBLISHED`, `STOPPED`, `FAILED`.
    pub status: &'a str,
    /// Reason for FAILED/STOPPED, otherwise empty.
    pub info: &'a str,
}

/// `getUserData`: the connection object echoed back with `authToken` and `sessionId`.
pub fn get_user_data(
    mut connection: Map<String, Value>,
    auth_token: &str,
    session_id: &str,
) -> ServerMessage {
    connection.insert("authToken".into(), auth_token.into());
    connection.insert("sessionId".into(), session_id.into());
    ServerMessage {
        name: "getUserData",
        data: vec![Value::Object(connection)],
    }
}

/// `setRemoteSDP [mediaSessionId, answer]`.
pub fn set_remote_sdp(media_session_id: &str, sdp: &str) -> ServerMessage {
    ServerMessage {
        name: "setRemoteSDP",
        data: vec![media_session_id.into(), sdp.into()],
    }
}

/// `notifyStreamStatusEvent`.
pub fn stream_status(status: &StreamStatus<'_>) -> ServerMessage {
    let mut value = serde_json::to_value(status).unwrap_or_default();
    if let Value::Object(map) = &mut value {
        map.insert("record".into(), false.into());
        map.insert("mediaProvider".into(), "WebRTC".into());
    }
    ServerMessage {
        name: "notifyStreamStatusEvent",
        data: vec![value],
    }
}

/// `notifyStreamEvent {mediaSessionId, type, payload}`.
pub fn stream_event(media_session_id: &str, kind: &str, payload: Option<&Value>) -> ServerMessage {
    let mut map = Map::new();
    map.insert("mediaSessionId".into(), media_session_id.into());
    map.insert("type".into(), kind.into());
    if let Some(p) = payload {
        map.insert("payload".into(), p.clone());
    }
    ServerMessage {
        name: "notifyStreamEvent",
        data: vec![Value::Object(map)],
    }
}

/// `inboundVideoRate` (to a publisher: the video the node receives from it) or
/// `outboundVideoRate` (to a player: the video it is sent): `{mediaSessionId, videoRate}`,
/// bits/s.
pub fn video_rate(inbound: bool, media_session_id: &str, bps: u64) -> ServerMessage {
    ServerMessage {
        name: if inbound {
            "inboundVideoRate"
        } else {
            "outboundVideoRate"
        },
        data: vec![json!({"mediaSessionId": media_session_id, "videoRate": bps})],
    }
}

/// `availableStream {id, status:"true"|"false", info}` (status is a string on purpose).
pub fn available_stream(id: &str, available: bool, info: &str) -> ServerMessage {
    ServerMessage {
        name: "availableStream",
        data: vec![
            json!({"id": id, "status": if available { "true" } else { "false" }, "info": info}),
        ],
    }
}

/// `fail {apiMethod, info}` (fires the session's WARN callback).
pub fn fail(api_method: &str, info: &str) -> ServerMessage {
    ServerMessage {
        name: "fail",
        data: vec![json!({"apiMethod": api_method, "info": info})],
    }
}

/// `fail {status: FAILED, info, apiMethod: ConnectionStatusEvent}`: the session was refused
/// (WCS's answer when the backend refuses `connect`; the SDK fires its WARN callback).
pub fn connection_failed(info: &str) -> ServerMessage {
    ServerMessage {
        name: "fail",
        data: vec![json!({"status": "FAILED", "info": info, "apiMethod": "ConnectionStatusEvent"})],
    }
}

/// `ping` with an empty data array (the SDK answers `pong`).
pub fn ping() -> ServerMessage {
    ServerMessage {
        name: "ping",
        data: Vec::new(),
    }
}

/// `DataStatusEvent {operationId, status}` settling `session.sendData()`.
pub fn data_status(operation_id: &str, status: &str) -> ServerMessage {
    ServerMessage {
        name: "DataStatusEvent",
        data: vec![json!({"operationId": operation_id, "status": status})],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_play_with_string_dimensions_and_absent_fields() {
        let text = r#"{"message":"playStream","data":[{"mediaSessionId":"m1","name":"s",
            "width":"640","height":480,"extra":{"x":1}}]}"#;
        let ClientMessage::PlayStream(req) = parse_client(text).unwrap() else {
            panic!("not a playStream");
        };
        assert_eq!(
            (req.media_session_id.as_str(), req.name.as_str()),
            ("m1", "s")
        );
        assert_eq!((req.width, req.height), (640, 480));
        assert_eq!(req.sdp, None);
        assert!(!req.record);
    }

    #[test]
    fn a_stream_request_with_a_bad_field_names_its_stream() {
        let e = parse_client(
            r#"{"message":"publishStream","data":[{"mediaSessionId":"m1","name":"cam","sdp":5}]}"#,
        )
        .unwrap_err();
        let MessageError::BadStream { name, stream, .. } = &e else {
            panic!("{e:?}");
        };
        assert_eq!(
            (name.as_str(), stream.media_session_id.as_str()),
            ("publishStream", "m1")
        );
        assert_eq!((stream.name.as_str(), stream.published), ("cam", true));
        assert_eq!(e.api_method(), "publishStream");
        // Without a mediaSessionId there is no stream to fail: a plain `fail`.
        let e = parse_client(r#"{"message":"playStream","data":[{"sdp":[]}]}"#).unwrap_err();
        assert!(matches!(e, MessageError::BadPayload { .. }), "{e:?}");
    }

    #[test]
    fn parses_ping_pong_with_null_data_and_connection_object() {
        assert_eq!(
            parse_client(r#"{"message":"pong","data":[null]}"#).unwrap(),
            ClientMessage::Ignored("pong")
        );
        assert_eq!(
            parse_client(r#"{"message":"ping"}"#).unwrap(),
            ClientMessage::Ignored("ping")
        );
        let ClientMessage::Connection(map) =
            parse_client(r#"{"message":"connection","data":[{"appKey":"defaultApp"}]}"#).unwrap()
        else {
            panic!("not a connection");
        };
        assert_eq!(map["appKey"], "defaultApp");
    }

    #[test]
    fn rejects_bad_input_with_typed_errors() {
        assert!(matches!(parse_client("{nope"), Err(MessageError::Json(_))));
        assert!(matches!(parse_client(""), Err(MessageError::Json(_))));
        assert!(matches!(
            parse_client("[1,2]"),
            Err(MessageError::NotObject)
        ));
        assert!(matches!(
            parse_client(r#"{"data":[]}"#),
            Err(MessageError::MissingName)
        ));
        assert!(matches!(
            parse_client(r#"{"message":5,"data":[]}"#),
            Err(MessageError::MissingName)
        ));
        let e = parse_client(r#"{"message":"publishStream"}"#).unwrap_err();
        assert!(matches!(e, MessageError::MissingData(_)));
        assert_eq!(e.api_method(), "publishStream");
        let e = parse_client(r#"{"message":"publishStream","data":[{"name":7}]}"#).unwrap_err();
        assert!(matches!(e, MessageError::BadPayload { .. }));
        let e = parse_client(r#"{"message":"connection","data":["x"]}"#).unwrap_err();
        assert!(matches!(e, MessageError::BadPayload { .. }));
        let e = parse_client(r#"{"message":"teleport","data":[{}]}"#).unwrap_err();
        assert!(matches!(e, MessageError::Unknown(ref n) if n == "teleport"));
        assert_eq!(e.api_method(), "teleport");
    }

    #[test]
    fn server_messages_always_carry_a_data_array() {
        let v: Value = serde_json::from_str(&ping().to_json()).unwrap();
        assert_eq!(v, json!({"message":"ping","data":[]}));
        let v: Value = serde_json::from_str(&set_remote_sdp("id", "v=0").to_json()).unwrap();
        assert_eq!(v, json!({"message":"setRemoteSDP","data":["id","v=0"]}));
        let v: Value = serde_json::from_str(&available_stream("a", true, "").to_json()).unwrap();
        assert_eq!(v["data"][0]["status"], "true");
        let st = StreamStatus {
            media_session_id: "m",
            name: "n",
            published: true,
            has_audio: true,
            has_video: false,
            status: "PUBLISHING",
            info: "",
        };
        let v: Value = serde_json::from_str(&stream_status(&st).to_json()).unwrap();
        assert_eq!(v["message"], "notifyStreamStatusEvent");
        assert_eq!(v["data"][0]["mediaSessionId"], "m");
        assert_eq!(v["data"][0]["hasVideo"], false);
        assert_eq!(v["data"][0]["record"], false);
        let v: Value =
            serde_json::from_str(&get_user_data(Map::new(), "t", "/a/b").to_json()).unwrap();
        assert_eq!(v["data"][0]["authToken"], "t");
        assert_eq!(v["data"][0]["sessionId"], "/a/b");
    }
}
