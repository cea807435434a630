//! The one HTTP listener: websocket upgrades on any path (WCS signalling), `GET /health`, and
//! static files (first `web_dir`, then the demo pages embedded from `../web` at build time).
//!
//! Owns routing, path sanitising and content types. It must not hold signalling state (that is
//! the hub's, reached through [`HubHandle`]).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{ConnectInfo, State, WebSocketUpgrade};
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;

use crate::wcs::connection::{self, HubHandle};

/// Largest accepted websocket message (and frame), in bytes.
pub const MAX_WS_MESSAGE: usize = 64 * 1024;

/// The demo pages, embedded at build time.
#[derive(rust_embed::RustEmbed)]
#[folder = "../web"]
#[exclude = "test/*"]
struct WebAssets;

/// What every request handler needs.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The signalling hub.
    pub hub: HubHandle,
    /// Our listening address (the second half of WCS `sessionId`).
    pub local_addr: SocketAddr,
    /// Optional directory served before the embedded pages.
    pub web_dir: Option<Arc<PathBuf>>,
}

/// The router; serve it with `into_make_service_with_connect_info::<SocketAddr>()`.
pub fn router(state: AppState) -> Router {
    Router::new().fallback(handle).with_state(state)
}

async fn handle(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    method: Method,
    uri: Uri,
) -> Response {
    if let Ok(ws) = ws {
        let hub = state.hub.clone();
        let server = state.local_addr;
        return ws
            .max_message_size(MAX_WS_MESSAGE)
            .max_frame_size(MAX_WS_MESSAGE)
            .on_upgrade(move |socket| connection::serve_socket(socket, hub, client, server));
    }
    if method != Method::GET && method != Method::HEAD {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    if uri.path() == "/health" {
        return health(&state).await;
    }
    static_file(state.web_dir.as_deref().map(PathBuf::as_path), uri.path())
}

async fn health(state: &AppState) -> Response {
    let Some(stats) = state.hub.stats().await else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    let body = serde_json::json!({"status": "ok", "streams": stats.streams, "peers": stats.peers});
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body.to_string(),
    )
        .into_response()
}

fn hex_value(b: u8) -> Option<u8> {
    (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hi = hex_value(*bytes.get(i + 1)?)?;
            let lo = hex_value(*bytes.get(i + 2)?)?;
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Turns a request path into a relative file path, or `None` if it tries to leave the root
/// (`..`, `.`, backslashes, NUL, drive letters) or is not valid percent-encoded UTF-8.
/// A directory path (empty or ending in `/`) maps to its `index.html`.
pub fn sanitize_path(path: &str) -> Option<String> {
    let mut parts = Vec::new();
    for raw in path.split('/') {
        let seg = percent_decode(raw)?;
        if seg.is_empty() {
            continue;
        }
        if seg == "." || seg == ".." || seg.contains(['/', '\\', '\0', ':']) {
            return None;
        }
        parts.push(seg);
    }
    if parts.is_empty() || path.ends_with('/') {
        parts.push("index.html".to_owned());
    }
    Some(parts.join("/"))
}

/// The Content-Type for a file name.
pub fn content_type(name: &str) -> &'static str {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "svg" => "image/svg+xml",
        "json" => "application/json",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "ttf" => "font/ttf",
        "mp4" => "video/mp4",
        "ico" => "image/x-icon",
        _ => "application/octet-stream",
    }
}

fn file_response(name: &str, body: Vec<u8>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(content_type(name)),
        )],
        body,
    )
        .into_response()
}

fn static_file(web_dir: Option<&Path>, path: &str) -> Response {
    let Some(rel) = sanitize_path(path) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if let Some(dir) = web_dir {
        let mut full = dir.join(&rel);
        if full.is_dir() {
            full.push("index.html");
        }
        // Files are small demo assets; reading them inline keeps the control plane on one thread.
        if let Ok(body) = std::fs::read(&full) {
            return file_response(&rel, body);
        }
    }
    match WebAssets::get(&rel) {
        Some(file) => file_response(&rel, file.data.into_owned()),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_rejects_traversal_and_maps_directories() {
        assert_eq!(sanitize_path("/").as_deref(), Some("index.html"));
        assert_eq!(sanitize_path("").as_deref(), Some("index.html"));
        assert_eq!(sanitize_path("/a/b.js").as_deref(), Some("a/b.js"));
        assert_eq!(sanitize_path("/a//b/").as_deref(), Some("a/b/index.html"));
        assert_eq!(
            sanitize_path("/my%20file.css").as_deref(),
            Some("my file.css")
        );
        for bad in [
            "/../etc/passwd",
            "/a/../../x",
            "/%2e%2e/x",
            "/a%2f..%2fb",
            "/a\\b",
            "/%00",
            "/./x",
            "/%zz",
            "/%e2",
        ] {
            assert_eq!(sanitize_path(bad), None, "{bad}");
        }
    }

    #[test]
    fn content_types() {
        assert_eq!(content_type("a/index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("x.CSS"), "text/css; charset=utf-8");
        assert_eq!(content_type("x.mjs"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("f.woff2"), "font/woff2");
        assert_eq!(content_type("noext"), "application/octet-stream");
    }

    #[test]
    fn web_dir_first_then_embedded_index() {
        let dir = std::env::temp_dir().join(format!("rtcdn-http-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("only-here.txt"), b"hello").unwrap();
        let r = static_file(Some(&dir), "/only-here.txt");
        assert_eq!(r.status(), StatusCode::OK);
        let r = static_file(Some(&dir), "/");
        assert_eq!(
            r.status(),
            StatusCode::OK,
            "falls back to the embedded index.html"
        );
        assert_eq!(
            r.headers()[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
        assert_eq!(
            static_file(Some(&dir), "/missing.js").status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            static_file(Some(&dir), "/../x").status(),
            StatusCode::NOT_FOUND
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
