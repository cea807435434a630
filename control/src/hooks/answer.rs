//! What a backend's answer means, without any I/O: an HTTP status and body become a
//! [`HookAnswer`], and the `restClientConfig` object a backend may return from `connect`
//! becomes a [`RestClientConfig`] that tunes the session's later calls (as in WCS).
//!
//! The rules (WCS's): a 2xx allows the call; a 4xx refuses it, and the client is told the
//! response's reason phrase — or the backend's own `reason` when the body is exactly
//! `{"status": <code>, "reason": "<text>"}`; anything else (5xx, a redirect, no answer) means
//! the backend is unavailable, which the operator's `rest_hook_fail_closed` decides.

use serde_json::{Map, Value};

use super::HookMethod;

/// The largest backend answer read, in bytes; a longer one is unavailable.
pub const MAX_ANSWER: usize = 64 * 1024;
/// Fields listed in one `restOverwrite`, at most.
const MAX_OVERWRITE_FIELDS: usize = 32;

/// The verdict of one hook call.
#[derive(Clone, Debug, PartialEq)]
pub enum HookAnswer {
    /// A 2xx: allowed. The body when it is a JSON object.
    Allowed(Option<Map<String, Value>>),
    /// A 4xx: refused; `reason` is what the client is told.
    Refused {
        /// The HTTP status.
        status: u16,
        /// The reason phrase, or the backend's own `reason`.
        reason: String,
    },
    /// No usable answer (unreachable, timed out, 5xx, a redirect, too large): what happened.
    Unavailable(String),
}

/// Reads a backend's answer: `status`, the reason phrase the response carried (the canonical
/// one when the client library does not expose it), and the body.
pub fn read_answer(status: u16, reason_phrase: Option<&str>, body: &[u8]) -> HookAnswer {
    let phrase = || reason_phrase.unwrap_or("").trim().to_owned();
    match status {
        200..=299 => {
            let object = match serde_json::from_slice::<Value>(body) {
                Ok(Value::Object(map)) => Some(map),
                _ => None,
            };
            HookAnswer::Allowed(object)
        }
        400..=499 => {
            let reason = custom_reason(status, body)
                .or_else(|| Some(phrase()).filter(|p| !p.is_empty()))
                .unwrap_or_else(|| format!("Refused by the backend ({status})"));
            HookAnswer::Refused { status, reason }
        }
        _ => {
            let phrase = phrase();
            HookAnswer::Unavailable(
                format!("backend answered {status} {phrase}")
                    .trim()
                    .to_owned(),
            )
        }
    }
}

/// The backend's own reason: the body is an object with exactly `status` (this status) and a
/// string `reason`; any other shape falls back to the reason phrase, as in WCS.
fn custom_reason(status: u16, body: &[u8]) -> Option<String> {
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
        return None;
    };
    if map.len() != 2 || map.get("status")?.as_u64()? != u64::from(status) {
        return None;
    }
    let reason = map.get("reason")?.as_str()?.trim();
    // The reason goes into a WCS `info`; keep it a line of reasonable length.
    (!reason.is_empty()).then(|| reason.chars().take(256).collect())
}

/// What to do when the backend refuses a call other than `connect` (`restOnError`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnError {
    /// Refuse the client's call and tell it why.
    Fail,
    /// Log the refusal and go ahead (WCS's default for its apps).
    Log,
}

impl OnError {
    /// `FAIL` or `LOG`, any case.
    pub fn parse(text: &str) -> Option<Self> {
        if text.eq_ignore_ascii_case("FAIL") {
            Some(OnError::Fail)
        } else if text.eq_ignore_ascii_case("LOG") {
            Some(OnError::Log)
        } else {
            None
        }
    }
}

/// The backend's `restClientConfig` from its `connect` answer: per method, how a refusal is
/// handled and which session fields the backend may overwrite. Unknown methods and fields are
/// ignored; absent settings fall back to the node's configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RestClientConfig {
    on_error: Vec<(HookMethod, OnError)>,
    /// `ConnectionStatusEvent` with `restPolicy: OVERWRITE`: the fields of the `connect`
    /// answer that replace the client's (`restOverwrite`).
    connection_overwrite: Vec<String>,
}

impl RestClientConfig {
    /// Reads `restClientConfig` from a `connect` answer body (absent or malformed: defaults).
    pub fn from_connect_answer(body: Option<&Map<String, Value>>) -> Self {
        let mut cfg = Self::default();
        let Some(Value::Object(methods)) = body.and_then(|b| b.get("restClientConfig")) else {
            return cfg;
        };
        for method in HookMethod::ALL {
            let Some(Value::Object(settings)) = methods.get(method.as_str()) else {
                continue;
            };
            if let Some(on_error) = settings
                .get("restOnError")
                .and_then(Value::as_str)
                .and_then(OnError::parse)
            {
                cfg.on_error.push((method, on_error));
            }
            let overwrite = settings
                .get("restPolicy")
                .and_then(Value::as_str)
                .is_some_and(|p| p.eq_ignore_ascii_case("OVERWRITE"));
            if method == HookMethod::ConnectionStatusEvent && overwrite {
                cfg.connection_overwrite = settings
                    .get("restOverwrite")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .split(',')
                    .map(str::trim)
                    .filter(|f| !f.is_empty())
                    .take(MAX_OVERWRITE_FIELDS)
                    .map(str::to_owned)
                    .collect();
            }
        }
        cfg
    }

    /// How a refusal of `method` is handled: the backend's setting, else `default`.
    pub fn on_error(&self, method: HookMethod, default: OnError) -> OnError {
        self.on_error
            .iter()
            .find(|(m, _)| *m == method)
            .map_or(default, |&(_, e)| e)
    }

    /// Copies the fields the backend may overwrite from its `connect` answer into the session
    /// object the client gets back in `getUserData`.
    pub fn overwrite_connection(
        &self,
        answer: Option<&Map<String, Value>>,
        session: &mut Map<String, Value>,
    ) {
        let Some(answer) = answer else { return };
        for field in &self.connection_overwrite {
            if let Some(value) = answer.get(field) {
                session.insert(field.clone(), value.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    #[test]
    fn a_2xx_allows_and_keeps_an_object_body() {
        assert_eq!(read_answer(200, Some("OK"), b""), HookAnswer::Allowed(None));
        assert_eq!(
            read_answer(204, None, br#"{"a":1}"#),
            HookAnswer::Allowed(Some(object(json!({"a": 1}))))
        );
        assert_eq!(read_answer(200, None, b"[1]"), HookAnswer::Allowed(None));
    }

    #[test]
    fn a_4xx_refuses_with_the_reason_phrase() {
        assert_eq!(
            read_answer(403, Some("Forbidden"), b"<html>no</html>"),
            HookAnswer::Refused {
                status: 403,
                reason: "Forbidden".into()
            }
        );
        // No phrase at all still gives the client a reason.
        let HookAnswer::Refused { reason, .. } = read_answer(401, None, b"") else {
            panic!("not refused");
        };
        assert!(reason.contains("401"), "{reason}");
    }

    #[test]
    fn the_backend_may_give_its_own_reason_only_in_the_exact_shape() {
        let own = read_answer(
            403,
            Some("Forbidden"),
            br#"{"status":403,"reason":"Wrong credentials"}"#,
        );
        assert_eq!(
            own,
            HookAnswer::Refused {
                status: 403,
                reason: "Wrong credentials".into()
            }
        );
        for body in [
            r#"{"status":403,"reason":"x","extra":1}"#,
            r#"{"reason":"x"}"#,
            r#"{"status":401,"reason":"x"}"#,
            r#"{"status":403,"reason":5}"#,
        ] {
            assert_eq!(
                read_answer(403, Some("Forbidden"), body.as_bytes()),
                HookAnswer::Refused {
                    status: 403,
                    reason: "Forbidden".into()
                },
                "{body}"
            );
        }
    }

    #[test]
    fn a_5xx_or_a_redirect_is_unavailable() {
        assert!(matches!(
            read_answer(503, Some("Service Unavailable"), b""),
            HookAnswer::Unavailable(why) if why.contains("503")
        ));
        assert!(matches!(
            read_answer(302, None, b""),
            HookAnswer::Unavailable(_)
        ));
    }

    #[test]
    fn rest_client_config_sets_on_error_per_method() {
        let body = object(json!({"restClientConfig": {
            "publishStream": {"restOnError": "LOG"},
            "playStream": {"restOnError": "fail"},
            "stopStream": {"restOnError": "bogus"},
        }}));
        let cfg = RestClientConfig::from_connect_answer(Some(&body));
        assert_eq!(
            cfg.on_error(HookMethod::PublishStream, OnError::Fail),
            OnError::Log
        );
        assert_eq!(
            cfg.on_error(HookMethod::PlayStream, OnError::Log),
            OnError::Fail
        );
        assert_eq!(
            cfg.on_error(HookMethod::StopStream, OnError::Fail),
            OnError::Fail
        );
        let none = RestClientConfig::from_connect_answer(None);
        assert_eq!(
            none.on_error(HookMethod::PlayStream, OnError::Log),
            OnError::Log
        );
        let bad = object(json!({"restClientConfig": "x"}));
        assert_eq!(
            RestClientConfig::from_connect_answer(Some(&bad)),
            RestClientConfig::default()
        );
    }

    #[test]
    fn only_overwrite_policy_replaces_listed_connection_fields() {
        let answer = object(json!({
            "custom": {"role": "viewer"},
            "authToken": "forged",
            "restClientConfig": {"ConnectionStatusEvent": {
                "restPolicy": "OVERWRITE", "restOverwrite": "custom, sipLogin"}}
        }));
        let cfg = RestClientConfig::from_connect_answer(Some(&answer));
        let mut session = object(json!({"appKey": "defaultApp", "custom": {"role": "admin"}}));
        cfg.overwrite_connection(Some(&answer), &mut session);
        assert_eq!(session["custom"], json!({"role": "viewer"}));
        assert!(session.get("authToken").is_none(), "not listed: not copied");
        assert!(
            session.get("sipLogin").is_none(),
            "listed but absent: untouched"
        );

        let notify = object(json!({
            "custom": {"role": "viewer"},
            "restClientConfig": {"ConnectionStatusEvent": {
                "restPolicy": "NOTIFY", "restOverwrite": "custom"}}
        }));
        let cfg = RestClientConfig::from_connect_answer(Some(&notify));
        let mut session = object(json!({"custom": {"role": "admin"}}));
        cfg.overwrite_connection(Some(&notify), &mut session);
        assert_eq!(session["custom"], json!({"role": "admin"}));
    }
}
