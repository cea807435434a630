//! Why the hub did not take a WHIP publish or WHEP play, and the HTTP answer for each reason
//! (RFC 9725 §4.2 and the WHEP draft name the codes; the WCS `info` text becomes the body, so
//! a client sees the same reason an SDK user would).
//!
//! Pure: the wording is `crate::wcs::info`'s, the decision to refuse the hub's.

use axum::http::StatusCode;

use crate::wcs::info;

/// How long a client is asked to wait before it tries again (`Retry-After`, seconds).
pub const RETRY_AFTER_SECS: u32 = 5;
/// `Retry-After` of a WHEP play of a stream not published yet: it may appear any moment.
pub const RETRY_AFTER_NOT_PUBLISHED_SECS: u32 = 2;

/// Why a session did not start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The stream got FAILED with this WCS info.
    Failed(String),
    /// The session (`connection`) was refused with this reason (REST hook, address limit).
    ConnectionRefused(String),
    /// The hub did not answer in time.
    Timeout,
    /// The hub task has stopped (the node is stopping).
    Stopped,
}

/// The HTTP answer to a refusal: status, `Retry-After` if any, and the reason for the body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpRefusal {
    /// The status code.
    pub status: StatusCode,
    /// Seconds for `Retry-After`.
    pub retry_after: Option<u32>,
    /// The reason (text/plain body).
    pub reason: String,
}

impl Refusal {
    /// The answer to send for this refusal.
    pub fn to_http(&self) -> HttpRefusal {
        let (status, retry_after, reason) = match self {
            Refusal::Failed(why) | Refusal::ConnectionRefused(why) => {
                let (status, retry) = status_of(why);
                (status, retry, why.clone())
            }
            Refusal::Timeout => (
                StatusCode::SERVICE_UNAVAILABLE,
                Some(RETRY_AFTER_SECS),
                "The server did not answer in time".to_owned(),
            ),
            Refusal::Stopped => (
                StatusCode::SERVICE_UNAVAILABLE,
                Some(RETRY_AFTER_SECS),
                info::SHUTTING_DOWN.to_owned(),
            ),
        };
        HttpRefusal {
            status,
            retry_after,
            reason,
        }
    }
}

fn status_of(why: &str) -> (StatusCode, Option<u32>) {
    let busy = (StatusCode::SERVICE_UNAVAILABLE, Some(RETRY_AFTER_SECS));
    match why {
        info::NAME_IN_USE => (StatusCode::CONFLICT, None),
        info::STREAM_NOT_FOUND => (StatusCode::CONFLICT, Some(RETRY_AFTER_NOT_PUBLISHED_SECS)),
        info::NODE_FULL
        | info::TOO_MANY_CONNECTIONS
        | info::TOO_MANY_STREAMS
        | info::SHUTTING_DOWN
        | info::BACKEND_UNAVAILABLE => busy,
        info::FAILED_BY_ERROR | info::SESSION_NOT_READY => {
            (StatusCode::INTERNAL_SERVER_ERROR, None)
        }
        "No common codecs" => (StatusCode::NOT_ACCEPTABLE, None),
        info::RESTRICTED_ACCESS => (StatusCode::FORBIDDEN, None),
        w if w.starts_with("Invalid SDP")
            || w.starts_with("Bad ")
            || w == "Invalid stream name" =>
        {
            (StatusCode::BAD_REQUEST, None)
        }
        // Anything else is the REST hook backend's own reason for saying no.
        _ => (StatusCode::FORBIDDEN, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(r: Refusal) -> (u16, Option<u32>) {
        let h = r.to_http();
        (h.status.as_u16(), h.retry_after)
    }

    #[test]
    fn each_reason_has_its_status() {
        let failed = |s: &str| code(Refusal::Failed(s.to_owned()));
        assert_eq!(failed(info::NAME_IN_USE), (409, None));
        assert_eq!(failed(info::STREAM_NOT_FOUND), (409, Some(2)));
        assert_eq!(failed(info::NODE_FULL), (503, Some(5)));
        assert_eq!(failed(info::SHUTTING_DOWN), (503, Some(5)));
        assert_eq!(failed(info::BACKEND_UNAVAILABLE), (503, Some(5)));
        assert_eq!(failed("Invalid SDP: no ICE credentials"), (400, None));
        assert_eq!(failed("No common codecs"), (406, None));
        assert_eq!(failed(info::RESTRICTED_ACCESS), (403, None));
        assert_eq!(failed("Forbidden"), (403, None));
        assert_eq!(failed(info::FAILED_BY_ERROR), (500, None));
        assert_eq!(
            code(Refusal::ConnectionRefused(
                info::TOO_MANY_CONNECTIONS.into()
            )),
            (503, Some(5))
        );
        assert_eq!(
            code(Refusal::ConnectionRefused("Invalid token".into())),
            (403, None)
        );
        assert_eq!(code(Refusal::Timeout), (503, Some(5)));
        assert_eq!(code(Refusal::Stopped), (503, Some(5)));
    }
}
