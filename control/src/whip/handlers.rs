//! The HTTP side of WHIP and WHEP: routing of `/whip/...` and `/whep/...`, content types,
//! bearer tokens, conditional `PATCH`, CORS, and the status code of every outcome.

use std::net::SocketAddr;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};

use super::refusal::HttpRefusal;
use super::sdpfrag::{self, FragRequest, MAX_SDPFRAG_LEN};
use super::session::{self, Kind, Request as SessionRequest};
use super::ticket;
use super::WhipState;
use crate::respond::cors_response;
use crate::sdp::MAX_SDP_LEN;
use crate::tls::TlsPeer;

const SDP: &str = "application/sdp";
const SDPFRAG: &str = "application/trickle-ice-sdpfrag";
const EXPOSED: &str =
    "Location, ETag, Link, Accept-Patch, Accept-Post, Retry-After, WWW-Authenticate";
const ALLOWED_HEADERS: &str = "Authorization, Content-Type, If-Match";
const ENDPOINT_METHODS: &str = "POST, OPTIONS";
/// What a CORS preflight allows on any WHIP/WHEP URL: some clients look for `PATCH` in the
/// endpoint's answer to decide whether to trickle.
const CORS_METHODS: &str = "POST, PATCH, DELETE, OPTIONS";
const RESOURCE_METHODS: &str = "PATCH, DELETE, OPTIONS";

/// `/whip/...`: publish.
pub async fn whip(
    State(state): State<WhipState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    handle(state, client, Kind::Publish, request).await
}

/// `/whep/...`: play.
pub async fn whep(
    State(state): State<WhipState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    handle(state, client, Kind::Play, request).await
}

/// What a path under `/whip/` or `/whep/` names.
#[derive(Debug, PartialEq, Eq)]
enum Target {
    /// `/<kind>/<name>`: the endpoint of a stream.
    Endpoint(String),
    /// `/<kind>/session/<id>`: a session.
    Resource(String),
}

fn target(path: &str) -> Option<Target> {
    let rest = path
        .strip_prefix("/whip/")
        .or_else(|| path.strip_prefix("/whep/"))?;
    match rest.split('/').collect::<Vec<_>>().as_slice() {
        [name] if !name.is_empty() => crate::percent::decode(name).map(Target::Endpoint),
        ["session", id] if !id.is_empty() => Some(Target::Resource((*id).to_owned())),
        _ => None,
    }
}

async fn handle(state: WhipState, client: SocketAddr, kind: Kind, request: Request) -> Response {
    let secure = request.extensions().get::<ConnectInfo<TlsPeer>>().is_some();
    let (parts, body) = request.into_parts();
    let Some(target) = target(parts.uri.path()) else {
        return plain(StatusCode::NOT_FOUND, "No such WHIP/WHEP resource");
    };
    let preflight = parts
        .headers
        .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let response = match (target, &parts.method) {
        (Target::Endpoint(_), &Method::OPTIONS) => options(&state, ENDPOINT_METHODS, preflight),
        (Target::Resource(id), &Method::OPTIONS) => {
            if state.endpoints.sessions().view(&id).is_none() {
                plain(StatusCode::NOT_FOUND, "No such session")
            } else {
                options(&state, RESOURCE_METHODS, preflight)
            }
        }
        (Target::Endpoint(name), &Method::POST) => {
            let ctx = Post {
                state: &state,
                client,
                kind,
                secure,
                headers: &parts.headers,
                query: parts.uri.query().unwrap_or(""),
            };
            ctx.run(name, body).await
        }
        (Target::Resource(id), &Method::DELETE) => delete(&state, kind, &parts.headers, &id),
        (Target::Resource(id), &Method::PATCH) => {
            patch(&state, kind, &parts.headers, &id, body).await
        }
        (Target::Endpoint(_), _) => not_allowed(ENDPOINT_METHODS),
        (Target::Resource(_), _) => not_allowed(RESOURCE_METHODS),
    };
    state.endpoints.counters.answered(
        kind.protocol(),
        method_label(&parts.method),
        response.status().as_u16(),
    );
    with_cors(response)
}

/// The request method as a metric label.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::POST => "POST",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::GET => "GET",
        _ => "other",
    }
}

/// Every answer may be read by a page of another origin.
fn with_cors(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSED),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn plain(status: StatusCode, reason: &str) -> Response {
    cors_response(status, "text/plain; charset=utf-8", format!("{reason}\n"))
}

fn not_allowed(allow: &'static str) -> Response {
    let mut r = plain(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed");
    r.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    r
}

fn options(state: &WhipState, methods: &'static str, preflight: bool) -> Response {
    let mut r = StatusCode::NO_CONTENT.into_response();
    let h = r.headers_mut();
    h.insert(header::ALLOW, HeaderValue::from_static(methods));
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(CORS_METHODS),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(ALLOWED_HEADERS),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    if methods == ENDPOINT_METHODS {
        h.insert(accept_post(), HeaderValue::from_static(SDP));
        // RFC 9725 §4.4: ICE servers on a plain OPTIONS, never on a CORS preflight.
        if !preflight {
            add_links(h, state);
        }
    } else {
        h.insert(accept_patch(), HeaderValue::from_static(SDPFRAG));
    }
    r
}

fn accept_post() -> HeaderName {
    HeaderName::from_static("accept-post")
}

fn accept_patch() -> HeaderName {
    HeaderName::from_static("accept-patch")
}

fn add_links(h: &mut HeaderMap, state: &WhipState) {
    for link in &state.endpoints.ice_links {
        if let Ok(v) = HeaderValue::from_str(link) {
            h.append(header::LINK, v);
        }
    }
}

/// Whether the request's `Content-Type` is `want` (parameters and case ignored).
fn content_type_is(headers: &HeaderMap, want: &str) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(want))
}

/// The bearer token of `Authorization`, if any.
fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
        .filter(|t| !t.is_empty())
}

/// The 401 answer unless the configured token of `kind` (if any) is presented.
fn check_token(state: &WhipState, kind: Kind, headers: &HeaderMap) -> Option<Response> {
    let secret = state.endpoints.token(kind)?;
    if bearer(headers).is_some_and(|t| secret.matches(&t)) {
        return None;
    }
    let mut r = plain(StatusCode::UNAUTHORIZED, "A valid bearer token is required");
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"rtcdn\""),
    );
    Some(r)
}

fn refused(r: &HttpRefusal) -> Response {
    let mut response = plain(r.status, &r.reason);
    if let Some(secs) = r.retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

/// A `POST` to a stream's endpoint.
struct Post<'a> {
    state: &'a WhipState,
    client: SocketAddr,
    kind: Kind,
    secure: bool,
    headers: &'a HeaderMap,
    query: &'a str,
}

impl Post<'_> {
    async fn run(&self, name: String, body: Body) -> Response {
        if !content_type_is(self.headers, SDP) {
            let mut r = plain(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "The offer must be application/sdp",
            );
            r.headers_mut()
                .insert(accept_post(), HeaderValue::from_static(SDP));
            return r;
        }
        let ticket = self.ticket(&name);
        if let Some(r) = check_token(self.state, self.kind, self.headers) {
            if ticket.is_none() {
                return r;
            }
        }
        let Ok(bytes) = axum::body::to_bytes(body, MAX_SDP_LEN).await else {
            return plain(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("The offer is larger than {MAX_SDP_LEN} bytes"),
            );
        };
        let Ok(offer) = String::from_utf8(bytes.to_vec()) else {
            return plain(StatusCode::BAD_REQUEST, "The offer is not UTF-8 text");
        };
        if let Some(r) = self.redirect(&name).await {
            return r;
        }
        let request = SessionRequest {
            kind: self.kind,
            name,
            offer,
            client: self.client,
            server: self.state.local_addr,
            // The header's token, else the one the origin's ticket carried here.
            token: bearer(self.headers).or_else(|| ticket.and_then(|t| t.token)),
        };
        let endpoints = &self.state.endpoints;
        match session::start(
            &self.state.hub,
            &endpoints.sessions,
            request,
            endpoints.wait,
        )
        .await
        {
            Ok(started) => self.created(&started),
            Err(refusal) => refused(&refusal.to_http()),
        }
    }

    /// What the query's ticket of an origin's redirect says, if it is valid for playing
    /// `name` (sealed with any of the secrets this node shares with its origins).
    fn ticket(&self, name: &str) -> Option<ticket::Opened> {
        if self.kind != Kind::Play {
            return None;
        }
        let t = crate::percent::query_param(self.query, "ticket")?;
        let now = unix_now();
        self.state
            .endpoints
            .ticket_secrets()
            .find_map(|secret| ticket::open(secret, name, t, now))
    }

    /// On an origin with edges, a WHEP play goes to the edge the balancer chooses (307, the
    /// method and body kept), unless `?direct=1` asks for this node. `None`: play here (no
    /// edge is up, or this is not an origin).
    async fn redirect(&self, name: &str) -> Option<Response> {
        if self.kind != Kind::Play || query_flag(self.query, "direct") {
            return None;
        }
        let choice = self.state.cdn.as_ref()?.balance().await??;
        let (scheme, port) = if self.secure && choice.wss != 0 {
            ("https", choice.wss)
        } else {
            ("http", choice.ws)
        };
        let mut location = format!(
            "{scheme}://{}:{port}/whep/{}",
            choice.server,
            crate::percent::encode_segment(name)
        );
        // The browser drops `Authorization` on the way to another origin: the edge takes this
        // ticket instead (and the token in it for its REST hooks). A token too long to carry
        // plays here.
        if let Some(secret) = self.state.endpoints.ticket_secrets().next() {
            let token = bearer(self.headers);
            let ticket = ticket::issue(secret, name, token.as_deref(), unix_now())?;
            location.push_str("?ticket=");
            location.push_str(&ticket);
        }
        let value = HeaderValue::from_str(&location).ok()?;
        tracing::debug!(%location, "whep redirected to an edge");
        let mut r = plain(StatusCode::TEMPORARY_REDIRECT, "Play on the edge");
        r.headers_mut().insert(header::LOCATION, value);
        Some(r)
    }

    /// 201 with the answer and the session's resource.
    fn created(&self, started: &session::Started) -> Response {
        let path = match self.kind {
            Kind::Publish => "whip",
            Kind::Play => "whep",
        };
        // Absolute when the request said which host it asked, so a client that followed a
        // redirect to an edge deletes the session there.
        let location = match self.headers.get(header::HOST).and_then(|h| h.to_str().ok()) {
            Some(host) if HeaderValue::from_str(host).is_ok() => {
                // Behind a proxy that terminates TLS the client's scheme is the proxy's.
                let forwarded_https = self
                    .headers
                    .get("x-forwarded-proto")
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"));
                let scheme = if self.secure || forwarded_https {
                    "https"
                } else {
                    "http"
                };
                format!("{scheme}://{host}/{path}/session/{}", started.id)
            }
            _ => format!("/{path}/session/{}", started.id),
        };
        let mut r = (
            StatusCode::CREATED,
            [(header::CONTENT_TYPE, SDP)],
            started.answer.clone(),
        )
            .into_response();
        let h = r.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&location) {
            h.insert(header::LOCATION, v);
        }
        if let Ok(v) = HeaderValue::from_str(&started.etag) {
            h.insert(header::ETAG, v);
        }
        h.insert(accept_patch(), HeaderValue::from_static(SDPFRAG));
        add_links(h, self.state);
        r
    }
}

fn query_flag(query: &str, name: &str) -> bool {
    crate::percent::query_param(query, name).is_some_and(|v| matches!(v, "" | "1" | "true"))
}

/// Seconds since the Unix epoch (tickets are checked on another node: wall-clock time).
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `DELETE` of a session: 200, or 404 if there is no such session of this kind.
fn delete(state: &WhipState, kind: Kind, headers: &HeaderMap, id: &str) -> Response {
    if let Some(r) = check_token(state, kind, headers) {
        return r;
    }
    if state.endpoints.sessions().stop(Instant::now(), id, kind) {
        plain(StatusCode::OK, "Session ended")
    } else {
        plain(StatusCode::NOT_FOUND, "No such session")
    }
}

/// `PATCH` of a session (RFC 9725 §4.3): trickled candidates are taken (204; the node is
/// ICE-lite and learns the client's addresses from its checks), an ICE restart is not
/// supported (422), an `If-Match` that is not the session's entity tag fails (412).
async fn patch(
    state: &WhipState,
    kind: Kind,
    headers: &HeaderMap,
    id: &str,
    body: Body,
) -> Response {
    let Some(view) = state
        .endpoints
        .sessions()
        .view(id)
        .filter(|v| v.kind == kind)
    else {
        return plain(StatusCode::NOT_FOUND, "No such session");
    };
    if let Some(r) = check_token(state, kind, headers) {
        return r;
    }
    if !content_type_is(headers, SDPFRAG) {
        let mut r = plain(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "The body must be application/trickle-ice-sdpfrag",
        );
        r.headers_mut()
            .insert(accept_patch(), HeaderValue::from_static(SDPFRAG));
        return r;
    }
    if let Some(tag) = headers.get(header::IF_MATCH) {
        let tag = tag.to_str().unwrap_or_default().trim();
        if tag != "*" && !tag.split(',').any(|t| t.trim() == view.etag) {
            return plain(
                StatusCode::PRECONDITION_FAILED,
                "If-Match does not match the session",
            );
        }
    }
    let Ok(bytes) = axum::body::to_bytes(body, MAX_SDPFRAG_LEN).await else {
        return plain(StatusCode::PAYLOAD_TOO_LARGE, "The fragment is too large");
    };
    match sdpfrag::read(&bytes, &view.ufrag) {
        Ok(FragRequest::Trickle { .. }) => StatusCode::NO_CONTENT.into_response(),
        Ok(FragRequest::Restart) => plain(
            StatusCode::UNPROCESSABLE_ENTITY,
            "ICE restarts are not supported: start a new session",
        ),
        Err(e) => plain(StatusCode::BAD_REQUEST, &e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(target("/whip/cam1"), Some(Target::Endpoint("cam1".into())));
        assert_eq!(target("/whep/a%20b"), Some(Target::Endpoint("a b".into())));
        assert_eq!(
            target("/whip/session/00ff"),
            Some(Target::Resource("00ff".into()))
        );
        assert_eq!(target("/whip/"), None);
        assert_eq!(target("/whip/a/b"), None);
        assert_eq!(target("/whip/%zz"), None);
        assert_eq!(target("/other/x"), None);
    }

    #[test]
    fn bearer_tokens() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer abc"),
        );
        assert_eq!(bearer(&h).as_deref(), Some("abc"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer(&h), None);
    }

    #[test]
    fn content_types() {
        let mut h = HeaderMap::new();
        assert!(!content_type_is(&h, SDP));
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("Application/SDP; charset=utf-8"),
        );
        assert!(content_type_is(&h, SDP));
        assert!(query_flag("a=1&direct=1", "direct"));
        assert!(!query_flag("direct=0", "direct"));
    }
}
