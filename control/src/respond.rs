//! The JSON and CORS answers the HTTP endpoints share (`/health`, the balancer, the REST API):
//! bodies any page may read (`Access-Control-Allow-Origin: *`), never cached, and CORS
//! preflight answers.
//!
//! A leaf: routing (`crate::http`) and the REST API (`crate::rest`) build on it.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// A JSON response with CORS and no caching.
pub fn json_response(status: StatusCode, body: &serde_json::Value) -> Response {
    cors_response(status, "application/json", body.to_string())
}

/// A response any page may read (`Access-Control-Allow-Origin: *`), never cached.
pub fn cors_response(status: StatusCode, content_type: &'static str, body: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response()
}

/// A CORS preflight answer that allows request headers `headers` (any origin, GET and POST).
pub fn preflight_allowing(headers: &'static str) -> Response {
    (
        StatusCode::NO_CONTENT,
        [
            (
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            ),
            (
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET, POST, OPTIONS"),
            ),
            (
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static(headers),
            ),
            (
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static("86400"),
            ),
        ],
    )
        .into_response()
}
