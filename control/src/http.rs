//! The one HTTP listener: websocket upgrades on any path (WCS signalling; 503 while the node
//! drains), `GET /health`,
//! `GET /metrics` (Prometheus, see [`crate::metrics`]), the
//! WCS stat page `GET /?action=stat`, on a CDN origin the balancer (`GET /?action=balance` and
//! `GET /balancer`), the WCS REST API under `/rest-api/` ([`crate::rest`]), WHIP and WHEP
//! under `/whip/` and `/whep/` ([`crate::whip`]), and static files
//! (first `web_dir`, then the demo pages embedded from `../web` at build time).
//!
//! Owns routing, path sanitising and content types. It must not hold signalling state (that is
//! the hub's, reached through [`HubHandle`]).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{ConnectInfo, State, WebSocketUpgrade};
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use dataplane::api::WorkerHandle;

use crate::cdn::stats::{CpuSampler, CpuTicks, StatPage};
use crate::cdn::CdnHandle;
use crate::lifecycle::NodeStatus;
use crate::respond::{cors_response, json_response, preflight_allowing};
use crate::rest::{self, RestAccess, RestState};
use crate::wcs::connection::{self, HubHandle};
use crate::whip::{self, Endpoints, WhipState};

/// Largest accepted websocket message (and frame), in bytes: room for an SDP offer of up to
/// `sdp::MAX_SDP_LEN` (256 KiB; a larger one fails its stream only) and the message around it.
/// A larger message closes the connection (1009).
pub const MAX_WS_MESSAGE: usize = 512 * 1024;
/// Initial read buffer of a websocket connection (bytes).
const WS_READ_BUFFER: usize = 4 * 1024;

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
    /// The CDN task on an origin (`load_balancing_enabled=true`); `None` elsewhere.
    pub cdn: Option<CdnHandle>,
    /// CPU load over the interval between stat requests.
    pub cpu: Arc<Mutex<CpuSampler>>,
    /// The data-plane workers, for their counters in `/health`.
    pub workers: Arc<[WorkerHandle]>,
    /// Who may use the REST API.
    pub rest: Arc<RestAccess>,
    /// Draining (SIGTERM) and the open websockets.
    pub node: NodeStatus,
    /// WHIP/WHEP configuration and sessions.
    pub whip: Arc<Endpoints>,
}

/// The router; serve it with `into_make_service_with_connect_info::<SocketAddr>()`.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/rest-api/{*method}", any(rest::handle))
        .route("/whip/{*rest}", any(whip::whip))
        .route("/whep/{*rest}", any(whip::whep))
        .fallback(handle)
        .with_state(state)
}

async fn handle(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    method: Method,
    uri: Uri,
) -> Response {
    if let Ok(ws) = ws {
        if state.node.is_draining() {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "the node is shutting down\n",
            )
                .into_response();
        }
        let open = state.node.track_socket();
        let hub = state.hub.clone();
        let server = state.local_addr;
        return ws
            .max_message_size(MAX_WS_MESSAGE)
            .max_frame_size(MAX_WS_MESSAGE)
            // Signalling messages are small: tungstenite's 128 KiB default read buffer would
            // be most of a player's memory (it grows for a large SDP when needed).
            .read_buffer_size(WS_READ_BUFFER)
            .on_upgrade(move |socket| async move {
                let _open = open;
                connection::serve_socket(socket, hub, client, server).await;
            });
    }
    let action = crate::percent::query_param(uri.query().unwrap_or(""), "action");
    let is_balance = uri.path() == "/balancer" || (uri.path() == "/" && action == Some("balance"));
    if is_balance && method == Method::OPTIONS {
        return preflight();
    }
    if method != Method::GET && method != Method::HEAD {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    if is_balance {
        return balance(&state).await;
    }
    if uri.path() == "/" && action == Some("stat") {
        return stat(&state).await;
    }
    if uri.path() == "/health" {
        return health(&state).await;
    }
    if uri.path() == "/metrics" {
        return metrics(&state).await;
    }
    static_file(state.web_dir.as_deref().map(PathBuf::as_path), uri.path())
}

/// `GET /metrics`: 200 with the Prometheus text format, 503 while the hub is down.
async fn metrics(state: &AppState) -> Response {
    let Some(hub) = state.hub.metrics().await else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    let scrape = crate::metrics::Scrape {
        hub,
        workers: state.workers.iter().map(|w| (w.id.0, w.stats())).collect(),
        balancer: state.cdn.as_ref().map(|c| c.counters().clone()),
        whip: (state.whip.counters().clone(), state.whip.sessions().len()),
    };
    match crate::metrics::render(&scrape) {
        Ok(body) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(crate::metrics::CONTENT_TYPE),
            )],
            body,
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// What the REST API needs of the node's state.
impl axum::extract::FromRef<AppState> for RestState {
    fn from_ref(state: &AppState) -> Self {
        RestState {
            hub: state.hub.clone(),
            access: state.rest.clone(),
            origin: state.cdn.is_some(),
        }
    }
}

/// What the WHIP/WHEP endpoints need of the node's state.
impl axum::extract::FromRef<AppState> for WhipState {
    fn from_ref(state: &AppState) -> Self {
        WhipState {
            hub: state.hub.clone(),
            cdn: state.cdn.clone(),
            local_addr: state.local_addr,
            endpoints: state.whip.clone(),
        }
    }
}

async fn health(state: &AppState) -> Response {
    let Some(hub) = state.hub.health().await else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    let viewers: Vec<serde_json::Value> = hub
        .viewers
        .iter()
        .map(|v| {
            serde_json::json!({
                "stream": v.stream,
                "mediaSessionId": v.media_session_id,
                "sending_bps": v.sending_bps,
                "estimate_bps": v.estimate_bps,
                "layer": v.layer,
                "layer_index": v.layer_index,
                "video_paused": v.video_paused,
            })
        })
        .collect();
    let simulcast: Vec<serde_json::Value> = hub
        .simulcast
        .iter()
        .map(|s| serde_json::json!({"stream": s.stream, "layers": s.layers}))
        .collect();
    let workers: Vec<serde_json::Value> = state
        .workers
        .iter()
        .map(|w| {
            let s = w.stats();
            serde_json::json!({
                "id": w.id.0,
                "datagrams_in": s.datagrams_in,
                "bytes_in": s.bytes_in,
                "datagrams_out": s.datagrams_out,
                "bytes_out": s.bytes_out,
                "rtp_forwarded": s.rtp_forwarded,
                "dropped_unknown_source": s.dropped_unknown_source,
                "dropped_unknown_ssrc": s.dropped_unknown_ssrc,
                "dropped_handshake_busy": s.dropped_handshake_busy,
                "dropped_invalid": s.dropped_invalid,
                "dropped_duplicate": s.dropped_duplicate,
                "dropped_send_full": s.dropped_send_full,
                "dropped_fanout_full": s.dropped_fanout_full,
                "send_errors": s.send_errors,
                "gso_sends": s.gso_sends,
                "gso_datagrams": s.gso_datagrams,
                "nack_requested": s.nack_requested,
                "retransmitted": s.retransmitted,
                "retransmit_missed": s.retransmit_missed,
                "retransmit_over_budget": s.retransmit_over_budget,
                "retransmit_deferred": s.retransmit_deferred,
                "retransmit_suppressed": s.retransmit_suppressed,
                "nack_sent": s.nack_sent,
                "rtx_received": s.rtx_received,
                "upstream_repaired": s.upstream_repaired,
                "upstream_given_up": s.upstream_given_up,
                "transport_feedback_sent": s.transport_feedback_sent,
                "transport_feedback_received": s.transport_feedback_received,
                "padding_sent": s.padding_sent,
                "layer_switches": s.layer_switches,
                "remb_sent": s.remb_sent,
                "paced": s.paced,
            })
        })
        .collect();
    let published: Vec<serde_json::Value> = hub
        .streams
        .iter()
        .map(|s| {
            serde_json::json!({
                "stream": s.stream,
                "mediaSessionId": s.media_session_id,
                "connected": s.connected,
                "has_audio": s.has_audio,
                "has_video": s.has_video,
                "video_bps": s.video_bps,
                "viewers": s.viewers,
                "relayed_to": s.relayed_to,
            })
        })
        .collect();
    let cpu = cpu_loads(state);
    let mut body = serde_json::json!({
        "status": "ok",
        "streams": hub.stats.streams,
        "peers": hub.stats.peers,
        "players": hub.stats.players,
        "connected_peers": hub.stats.connected_peers,
        "connections": hub.stats.connections,
        "system_cpu_load": cpu.map(|(system, _)| system),
        "process_cpu_load": cpu.map(|(_, process)| process),
        "workers": workers,
        "published": published,
        "viewers": viewers,
        "simulcast": simulcast,
    });
    if let Some(cdn) = &state.cdn {
        let edges: Vec<serde_json::Value> = cdn
            .edges()
            .await
            .unwrap_or_default()
            .iter()
            .map(|e| {
                let mut edge = e.to_json();
                let relayed = hub
                    .streams
                    .iter()
                    .filter(|s| s.relayed_to.contains(&e.node.id))
                    .count();
                edge["relayed_streams"] = relayed.into();
                edge
            })
            .collect();
        body["edges"] = edges.into();
    }
    json_response(StatusCode::OK, &body)
}

/// `(systemCpuLoad, processCpuLoad)` over the interval since the previous reading (shared by
/// the stat page and `/health`; see [`CpuSampler`]); `None` when `/proc` is unreadable or
/// before a first interval.
fn cpu_loads(state: &AppState) -> Option<(f64, f64)> {
    // procfs reads do not wait on a disk; they are as cheap as a syscall.
    let ticks = std::fs::read_to_string("/proc/stat")
        .ok()
        .zip(std::fs::read_to_string("/proc/self/stat").ok())
        .and_then(|(all, me)| CpuTicks::parse(&all, &me));
    let (ticks, mut sampler) = (ticks?, state.cpu.lock().ok()?);
    sampler.sample(Instant::now(), ticks);
    sampler.loads()
}

/// The answer to a CORS preflight (the SDK's REST client POSTs JSON cross-origin).
fn preflight() -> Response {
    preflight_allowing("Content-Type")
}

/// The SDK's `lbUrl`: `{"server", "ws", "wss", "flash"}` of the chosen edge, or 503 JSON.
/// 404 on a node that is not an origin.
async fn balance(state: &AppState) -> Response {
    let Some(cdn) = &state.cdn else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match cdn.balance().await {
        Some(Some(choice)) => json_response(StatusCode::OK, &choice.to_json()),
        _ => json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &serde_json::json!({"error": "no edge available"}),
        ),
    }
}

/// The WCS stat page (plain text, see [`StatPage`]).
async fn stat(state: &AppState) -> Response {
    let Some(hub) = state.hub.stats().await else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    let (system_cpu_load, process_cpu_load) = cpu_loads(state).unwrap_or((0.0, 0.0));
    let page = StatPage {
        connections: hub.connections,
        streams_in: hub.streams,
        players: hub.players,
        calls: hub.peers,
        available_processors: std::thread::available_parallelism().map_or(1, |n| n.get()),
        system_cpu_load,
        process_cpu_load,
        draining: state.node.is_draining(),
    };
    cors_response(StatusCode::OK, "text/plain; charset=utf-8", page.render())
}

/// Turns a request path into a relative file path, or `None` if it tries to leave the root
/// (`..`, `.`, backslashes, NUL, drive letters) or is not valid percent-encoded UTF-8.
/// A directory path (empty or ending in `/`) maps to its `index.html`.
pub fn sanitize_path(path: &str) -> Option<String> {
    let mut parts = Vec::new();
    for raw in path.split('/') {
        let seg = crate::percent::decode(raw)?;
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
