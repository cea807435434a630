//! The HTTP side of the hooks: POSTs a [`HookRequest`]'s JSON to `<rest_hook_url>/<method>`
//! with a deadline and reads at most [`MAX_ANSWER`] bytes of the answer (`reqwest` over rustls
//! with our ring provider; redirects are not followed).
//!
//! Owns the connection pool to the backend and nothing else: what an answer means is
//! [`super::answer`]'s, what it does to a client is the hub's.

use std::path::Path;
use std::time::Duration;

use super::answer::{read_answer, HookAnswer, MAX_ANSWER};
use super::HookRequest;
use crate::tls::{self, TlsError};

/// Why the hook client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    /// `rest_hook_url` is not an http(s) URL.
    #[error("rest_hook_url {0:?} is not an http:// or https:// URL")]
    BadUrl(String),
    /// The CA file for an https backend could not be read.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The HTTP client could not be set up.
    #[error("cannot build the hook HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

/// Calls the backend; cheap to clone (one pool).
#[derive(Clone, Debug)]
pub struct HookClient {
    http: reqwest::Client,
    base: String,
}

impl HookClient {
    /// A client for the backend application at `url` (methods are appended as path
    /// segments), giving up on a call after `timeout`; https backends are verified against
    /// `ca_file` when given, else the system's roots.
    pub fn new(url: &str, timeout: Duration, ca_file: Option<&Path>) -> Result<Self, HookError> {
        let base = url.trim().trim_end_matches('/').to_owned();
        let parsed = reqwest::Url::parse(&base).map_err(|_| HookError::BadUrl(url.to_owned()))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
            return Err(HookError::BadUrl(url.to_owned()));
        }
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("rtcdn/", env!("CARGO_PKG_VERSION")));
        // reqwest needs a TLS client even for an http:// backend; that one trusts nothing.
        let tls = if parsed.scheme() == "https" {
            (*tls::client_config(ca_file, "REST hooks")?).clone()
        } else {
            let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
            rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(TlsError::from)?
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth()
        };
        builder = builder.use_preconfigured_tls(tls);
        Ok(Self {
            http: builder.build()?,
            base,
        })
    }

    /// The URL `method` is POSTed to.
    pub fn url(&self, request: &HookRequest) -> String {
        format!("{}/{}", self.base, request.method.as_str())
    }

    /// Performs the call; every failure is an [`HookAnswer::Unavailable`].
    pub async fn call(&self, request: &HookRequest) -> HookAnswer {
        let sent = self
            .http
            .post(self.url(request))
            .json(&request.body)
            .send()
            .await;
        let mut response = match sent {
            Ok(r) => r,
            Err(e) if e.is_timeout() => return HookAnswer::Unavailable("timed out".into()),
            Err(e) => return HookAnswer::Unavailable(describe(&e)),
        };
        let status = response.status();
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) if body.len() + chunk.len() <= MAX_ANSWER => {
                    body.extend_from_slice(&chunk)
                }
                Ok(Some(_)) => return HookAnswer::Unavailable("answer too large".into()),
                Ok(None) => break,
                Err(e) if e.is_timeout() => return HookAnswer::Unavailable("timed out".into()),
                Err(e) => return HookAnswer::Unavailable(describe(&e)),
            }
        }
        read_answer(status.as_u16(), status.canonical_reason(), &body)
    }
}

/// The innermost cause of a client error (reqwest's own text says only "error sending
/// request").
fn describe(e: &reqwest::Error) -> String {
    let mut source: &dyn std::error::Error = e;
    while let Some(inner) = source.source() {
        source = inner;
    }
    source.to_string()
}
