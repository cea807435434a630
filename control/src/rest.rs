//! The WCS REST API subset under `/rest-api/`: `stream/find_all`, `stream/find`,
//! `stream/terminate`, `connection/find_all` and `cdn/show_routes`, as WCS answers them (GET
//! or POST, a JSON body, 200 with JSON, 404 when nothing matches), protected by
//! `rest_api_allowed_ips` (403) and `rest_api_key` (401).
//!
//! Owns request parsing, access checks and the answers' JSON shape. The streams and
//! connections are the hub's: it is asked through [`HubHandle`] and never locked here.
//!
//! [`HubHandle`]: crate::wcs::connection::HubHandle

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use serde_json::{json, Value};

use crate::config::{Config, IpNet, RelaySecret};
use crate::respond::{json_response, preflight_allowing};
use crate::wcs::connection::HubHandle;
use crate::wcs::hub::{ConnectionInfo, StreamFilter, StreamInfo};

/// The path prefix of every REST endpoint.
pub const PREFIX: &str = "/rest-api/";

/// The header that carries the key (or `Authorization: Bearer <key>`).
const KEY_HEADER: &str = "x-api-key";

/// What the REST handlers need of the node (built from the router's state).
#[derive(Clone, Debug)]
pub struct RestState {
    /// The signalling hub, which finds and ends streams.
    pub hub: HubHandle,
    /// Who may use the API.
    pub access: Arc<RestAccess>,
    /// Whether the node is a CDN origin (`cdn/show_routes` answers only there).
    pub origin: bool,
}

/// Who may use the REST API: `rest_api_allowed_ips` and, when set, `rest_api_key`.
#[derive(Clone, Debug)]
pub struct RestAccess {
    key: Option<RelaySecret>,
    allowed: Vec<IpNet>,
}

/// Why a request was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The client's address is not in `rest_api_allowed_ips` (403).
    Address,
    /// A key is configured and the request presents none or another one (401).
    Key,
}

impl RestAccess {
    /// The access rules of `cfg`.
    pub fn new(cfg: &Config) -> Self {
        Self {
            key: cfg.rest_api_key.clone(),
            allowed: cfg.rest_api_allowed_ips.clone(),
        }
    }

    /// Admits a request from `client` with `headers`: its address first, then its key.
    pub fn check(&self, client: IpAddr, headers: &HeaderMap) -> Result<(), Refusal> {
        if !self.allowed.iter().any(|net| net.contains(client)) {
            return Err(Refusal::Address);
        }
        let Some(key) = &self.key else {
            return Ok(());
        };
        let presented = headers
            .get(KEY_HEADER)
            .and_then(|v| v.to_str().ok())
            .or_else(|| {
                let auth = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
                let (scheme, token) = auth.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            });
        match presented {
            Some(p) if key.matches(p) => Ok(()),
            _ => Err(Refusal::Key),
        }
    }
}

/// The endpoints under [`PREFIX`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// `stream/find_all`: every stream.
    FindAll,
    /// `stream/find`: the streams a body's filter selects.
    Find,
    /// `stream/terminate`: end the streams a body's filter selects.
    Terminate,
    /// `connection/find_all`: every websocket connection.
    Connections,
    /// `cdn/show_routes`: the origin's relay routes.
    ShowRoutes,
}

impl Endpoint {
    /// The endpoint at `path` (a trailing `/` is allowed), if any.
    pub fn from_path(path: &str) -> Option<Endpoint> {
        let rest = path.strip_prefix(PREFIX)?;
        Some(match rest.strip_suffix('/').unwrap_or(rest) {
            "stream/find_all" => Endpoint::FindAll,
            "stream/find" => Endpoint::Find,
            "stream/terminate" => Endpoint::Terminate,
            "connection/find_all" => Endpoint::Connections,
            "cdn/show_routes" => Endpoint::ShowRoutes,
            _ => return None,
        })
    }
}

/// Why a request body was not understood (400).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// Not JSON.
    #[error("the body is not JSON")]
    NotJson,
    /// JSON, but not an object.
    #[error("the body is not a JSON object")]
    NotObject,
    /// A field has the wrong type.
    #[error("{0} must be a {1}")]
    BadField(&'static str, &'static str),
    /// `stream/terminate` without `mediaSessionId` or `name`.
    #[error("terminate needs mediaSessionId or name")]
    NoSelector,
}

/// Reads a `stream/find` or `stream/terminate` body: `mediaSessionId` and `name` (strings) and
/// `published` (a boolean, or `"true"`/`"false"` as a page's form may send it); other fields
/// (`display`, `status`, …) are ignored. An empty body selects everything.
pub fn parse_filter(body: &[u8]) -> Result<StreamFilter, BodyError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(StreamFilter::default());
    }
    let value: Value = serde_json::from_slice(body).map_err(|_| BodyError::NotJson)?;
    let Value::Object(map) = value else {
        return Err(BodyError::NotObject);
    };
    let string = |field: &'static str| match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(BodyError::BadField(field, "string")),
    };
    let published = match map.get("published") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(Value::String(s)) if s == "true" => Some(true),
        Some(Value::String(s)) if s == "false" => Some(false),
        Some(_) => return Err(BodyError::BadField("published", "boolean")),
    };
    Ok(StreamFilter {
        media_session_id: string("mediaSessionId")?,
        name: string("name")?,
        published,
    })
}

/// A stream as WCS's REST API shows it (the fields we have; see README).
pub fn stream_json(s: &StreamInfo) -> Value {
    let mut v = json!({
        "mediaSessionId": s.media_session_id,
        "name": s.name,
        "published": s.published,
        "status": s.status,
        "hasAudio": s.has_audio,
        "hasVideo": s.has_video,
        "mediaProvider": "WebRTC",
        "mediaType": if s.published { "publish" } else { "play" },
        "record": false,
        "sessionId": s.session_id,
    });
    for (field, codec) in [
        ("audioCodec", &s.audio_codec),
        ("videoCodec", &s.video_codec),
    ] {
        if let Some(codec) = codec {
            v[field] = Value::String(codec.clone());
        }
    }
    v
}

/// A connection as `connection/find_all` shows it.
pub fn connection_json(c: &ConnectionInfo) -> Value {
    json!({"sessionId": c.session_id, "mediaSessionIds": c.media_session_ids})
}

fn error(status: StatusCode, text: &str) -> Response {
    json_response(status, &json!({ "error": text }))
}

/// 200 with the array, or 404 when it is empty (WCS: nothing found).
fn found(items: Vec<Value>, what: &str) -> Response {
    if items.is_empty() {
        return error(StatusCode::NOT_FOUND, &format!("no {what} found"));
    }
    json_response(StatusCode::OK, &Value::Array(items))
}

fn hub_stopped() -> Response {
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "the signalling hub stopped",
    )
}

/// The answer to a CORS preflight: the SDK's REST client POSTs JSON cross-origin, and a page
/// may send the key.
fn preflight() -> Response {
    preflight_allowing("Content-Type, Authorization, X-Api-Key")
}

/// Serves every request under [`PREFIX`].
pub async fn handle(
    State(state): State<RestState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // A preflight carries no credentials; the request it announces is checked.
    if method == Method::OPTIONS {
        return preflight();
    }
    match state.access.check(client.ip(), &headers) {
        Ok(()) => {}
        Err(Refusal::Address) => {
            tracing::info!(%client, path = uri.path(), "REST request from a refused address");
            return error(StatusCode::FORBIDDEN, "address not allowed");
        }
        Err(Refusal::Key) => {
            tracing::info!(%client, path = uri.path(), "REST request without the right key");
            let mut r = error(StatusCode::UNAUTHORIZED, "missing or wrong API key");
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return r;
        }
    }
    let Some(endpoint) = Endpoint::from_path(uri.path()) else {
        return error(StatusCode::NOT_FOUND, "no such REST method");
    };
    if method != Method::GET && method != Method::POST && method != Method::HEAD {
        return error(StatusCode::METHOD_NOT_ALLOWED, "use GET or POST");
    }
    let hub = &state.hub;
    match endpoint {
        Endpoint::FindAll | Endpoint::Find => {
            let filter = match endpoint {
                Endpoint::Find => match parse_filter(&body) {
                    Ok(f) => f,
                    Err(e) => return error(StatusCode::BAD_REQUEST, &e.to_string()),
                },
                _ => StreamFilter::default(),
            };
            match hub.find_streams(filter).await {
                Some(streams) => found(streams.iter().map(stream_json).collect(), "stream"),
                None => hub_stopped(),
            }
        }
        Endpoint::Terminate => {
            let filter = match parse_filter(&body) {
                Ok(f) if f.media_session_id.is_none() && f.name.is_none() => {
                    return error(StatusCode::BAD_REQUEST, &BodyError::NoSelector.to_string())
                }
                Ok(f) => f,
                Err(e) => return error(StatusCode::BAD_REQUEST, &e.to_string()),
            };
            match hub.terminate(filter).await {
                Some(ended) => found(ended.iter().map(stream_json).collect(), "stream"),
                None => hub_stopped(),
            }
        }
        Endpoint::Connections => match hub.connections().await {
            Some(conns) => found(conns.iter().map(connection_json).collect(), "connection"),
            None => hub_stopped(),
        },
        Endpoint::ShowRoutes => {
            // Only an origin relays.
            if !state.origin {
                return error(StatusCode::NOT_FOUND, "not a CDN origin");
            }
            match hub.relay_routes().await {
                Some(routes) => {
                    let map: serde_json::Map<String, Value> = routes
                        .into_iter()
                        .map(|r| (r.id, Value::String(r.stream)))
                        .collect();
                    json_response(StatusCode::OK, &Value::Object(map))
                }
                None => hub_stopped(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(key: Option<&str>, allowed: &[&str]) -> RestAccess {
        RestAccess {
            key: key.map(RelaySecret::new),
            allowed: allowed.iter().map(|a| IpNet::parse(a).unwrap()).collect(),
        }
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn defaults_admit_only_the_local_host_without_a_key() {
        let a = RestAccess::new(&Config::default());
        assert_eq!(a.check(ip("127.0.0.1"), &HeaderMap::new()), Ok(()));
        assert_eq!(a.check(ip("::1"), &HeaderMap::new()), Ok(()));
        assert_eq!(a.check(ip("::ffff:127.0.0.1"), &HeaderMap::new()), Ok(()));
        assert_eq!(
            a.check(ip("192.0.2.1"), &HeaderMap::new()),
            Err(Refusal::Address)
        );
    }

    #[test]
    fn a_configured_key_is_required_in_either_header() {
        let a = access(Some("k3y"), &["10.0.0.0/8"]);
        let local = ip("10.1.1.1");
        assert_eq!(a.check(local, &HeaderMap::new()), Err(Refusal::Key));
        assert_eq!(a.check(local, &headers(&[("x-api-key", "k3y")])), Ok(()));
        assert_eq!(
            a.check(local, &headers(&[("authorization", "Bearer k3y")])),
            Ok(())
        );
        assert_eq!(
            a.check(local, &headers(&[("authorization", "bearer  k3y ")])),
            Ok(())
        );
        for bad in [
            ("x-api-key", "k3"),
            ("x-api-key", "k3yy"),
            ("authorization", "Basic k3y"),
            ("authorization", "Bearerk3y"),
            ("authorization", "k3y"),
        ] {
            assert_eq!(
                a.check(local, &headers(&[bad])),
                Err(Refusal::Key),
                "{bad:?}"
            );
        }
        // The address is checked first: a good key from elsewhere is still refused.
        assert_eq!(
            a.check(ip("192.0.2.1"), &headers(&[("x-api-key", "k3y")])),
            Err(Refusal::Address)
        );
    }

    #[test]
    fn endpoints_by_path() {
        assert_eq!(
            Endpoint::from_path("/rest-api/stream/find_all"),
            Some(Endpoint::FindAll)
        );
        assert_eq!(
            Endpoint::from_path("/rest-api/stream/find/"),
            Some(Endpoint::Find)
        );
        assert_eq!(
            Endpoint::from_path("/rest-api/stream/terminate"),
            Some(Endpoint::Terminate)
        );
        assert_eq!(
            Endpoint::from_path("/rest-api/connection/find_all"),
            Some(Endpoint::Connections)
        );
        assert_eq!(
            Endpoint::from_path("/rest-api/cdn/show_routes"),
            Some(Endpoint::ShowRoutes)
        );
        for other in [
            "/rest-api/stream/find_al",
            "/rest-api/stream",
            "/rest-api/",
            "/stream/find",
            "/rest-api/pull/find_all",
        ] {
            assert_eq!(Endpoint::from_path(other), None, "{other}");
        }
    }

    #[test]
    fn filters_from_bodies() {
        assert_eq!(parse_filter(b""), Ok(StreamFilter::default()));
        assert_eq!(parse_filter(b" \r\n"), Ok(StreamFilter::default()));
        assert_eq!(parse_filter(b"{}"), Ok(StreamFilter::default()));
        assert_eq!(
            parse_filter(br#"{"mediaSessionId":"a-1","name":"cam","published":true}"#),
            Ok(StreamFilter {
                media_session_id: Some("a-1".into()),
                name: Some("cam".into()),
                published: Some(true),
            })
        );
        assert_eq!(
            parse_filter(br#"{"name":"cam","published":"false","display":["metrics"]}"#),
            Ok(StreamFilter {
                name: Some("cam".into()),
                published: Some(false),
                ..Default::default()
            })
        );
        assert_eq!(
            parse_filter(br#"{"name":null}"#),
            Ok(StreamFilter::default())
        );
        assert_eq!(parse_filter(b"{name:"), Err(BodyError::NotJson));
        assert_eq!(parse_filter(b"\xff"), Err(BodyError::NotJson));
        assert_eq!(parse_filter(b"[]"), Err(BodyError::NotObject));
        assert_eq!(parse_filter(b"\"cam\""), Err(BodyError::NotObject));
        assert_eq!(
            parse_filter(br#"{"name":7}"#),
            Err(BodyError::BadField("name", "string"))
        );
        assert_eq!(
            parse_filter(br#"{"mediaSessionId":["a"]}"#),
            Err(BodyError::BadField("mediaSessionId", "string"))
        );
        assert_eq!(
            parse_filter(br#"{"published":"yes"}"#),
            Err(BodyError::BadField("published", "boolean"))
        );
    }

    #[test]
    fn stream_objects_carry_wcs_field_names() {
        let s = StreamInfo {
            media_session_id: "p-1".into(),
            name: "cam".into(),
            published: false,
            status: "PLAYING",
            has_audio: true,
            has_video: false,
            audio_codec: Some("opus/48000/2".into()),
            video_codec: None,
            session_id: "/10.0.0.1:5000/127.0.0.1:8080".into(),
        };
        assert_eq!(
            stream_json(&s),
            json!({"mediaSessionId": "p-1", "name": "cam", "published": false,
                   "status": "PLAYING", "hasAudio": true, "hasVideo": false,
                   "mediaProvider": "WebRTC", "mediaType": "play", "record": false,
                   "sessionId": "/10.0.0.1:5000/127.0.0.1:8080", "audioCodec": "opus/48000/2"})
        );
        let c = ConnectionInfo {
            session_id: "/a/b".into(),
            media_session_ids: vec!["p-1".into()],
        };
        assert_eq!(
            connection_json(&c),
            json!({"sessionId": "/a/b", "mediaSessionIds": ["p-1"]})
        );
    }
}
