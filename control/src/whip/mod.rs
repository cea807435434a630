//! WHIP ingest (RFC 9725) and WHEP playback (draft-ietf-wish-whep) on the node's HTTP(S)
//! listener: `POST /whip/<name>` publishes, `POST /whep/<name>` plays, each session a resource
//! `/whip/session/<id>` or `/whep/session/<id>` that `DELETE` ends and `PATCH` trickles to.
//!
//! A WHIP/WHEP session is a WCS session of the hub ([`session`]), so everything the websocket
//! clients get applies unchanged: REST hooks (the bearer token is `custom.token`), admission
//! limits, the data plane's loss repair and congestion control, the CDN relay to edges. On an
//! origin with edges a WHEP `POST` is redirected (307) to the edge the balancer chooses, as
//! the Web SDK's `lbUrl` is.
//!
//! Owns the HTTP side (routing, status codes, headers) and the live sessions' table. Must not
//! touch the hub's state or media; every decision about a stream is the hub's.

mod handlers;
pub mod refusal;
pub mod sdpfrag;
pub mod session;
pub mod ticket;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub use handlers::{whep, whip};
pub use session::{Kind, Sessions};

use crate::cdn::CdnHandle;
use crate::config::{Config, RelaySecret};
use crate::counters::WhipCounters;
use crate::wcs::connection::HubHandle;

/// How long a `POST` waits for the hub beyond the REST hooks' own time (two calls:
/// `connect`, then `publishStream`/`playStream`).
const HUB_WAIT: Duration = Duration::from_secs(5);

/// The node's WHIP/WHEP configuration and live sessions.
#[derive(Debug)]
pub struct Endpoints {
    sessions: Arc<Sessions>,
    whip_token: Option<RelaySecret>,
    whep_token: Option<RelaySecret>,
    relay_secret: Option<RelaySecret>,
    ice_links: Vec<String>,
    wait: Duration,
    counters: WhipCounters,
}

impl Endpoints {
    /// From `whip_token`, `whep_token`, `cdn_relay_secret` (WHEP redirect tickets),
    /// `ice_servers*` and the hook timeout.
    pub fn from_config(cfg: &Config) -> Self {
        let hooks = if cfg.rest_hook_url.is_some() {
            cfg.rest_hook_timeout * 2
        } else {
            Duration::ZERO
        };
        Self {
            sessions: Arc::default(),
            whip_token: cfg.whip_token.clone(),
            whep_token: cfg.whep_token.clone(),
            relay_secret: cfg.cdn_relay_secret.clone(),
            ice_links: ice_links(cfg),
            wait: HUB_WAIT + hooks,
            counters: WhipCounters::default(),
        }
    }

    /// The live sessions.
    pub fn sessions(&self) -> &Sessions {
        &self.sessions
    }

    /// The answers given so far (for `/metrics`).
    pub fn counters(&self) -> &WhipCounters {
        &self.counters
    }

    /// The secrets a WHEP redirect's ticket is sealed with, the one an origin uses first:
    /// `whep_token`, then `cdn_relay_secret`.
    fn ticket_secrets(&self) -> impl Iterator<Item = &RelaySecret> {
        self.whep_token.iter().chain(&self.relay_secret)
    }

    fn token(&self, kind: Kind) -> Option<&RelaySecret> {
        match kind {
            Kind::Publish => self.whip_token.as_ref(),
            Kind::Play => self.whep_token.as_ref(),
        }
    }
}

/// What the WHIP/WHEP handlers need of the node (built from the router's state).
#[derive(Clone, Debug)]
pub struct WhipState {
    /// The signalling hub.
    pub hub: HubHandle,
    /// On an origin, the CDN balancer (WHEP redirects).
    pub cdn: Option<CdnHandle>,
    /// Our listening address.
    pub local_addr: SocketAddr,
    /// Configuration and sessions.
    pub endpoints: Arc<Endpoints>,
}

/// One `Link: <url>; rel="ice-server"` value per configured server (RFC 9725 §4.4), with the
/// TURN credentials on `turn:`/`turns:` ones.
fn ice_links(cfg: &Config) -> Vec<String> {
    cfg.ice_servers
        .iter()
        .map(|url| {
            let mut link = format!("<{url}>; rel=\"ice-server\"");
            let turn = url.to_ascii_lowercase().starts_with("turn");
            if let (true, Some(user), Some(secret)) =
                (turn, &cfg.ice_servers_username, &cfg.ice_servers_credential)
            {
                link.push_str(&format!(
                    "; username=\"{}\"; credential=\"{}\"; credential-type=\"password\"",
                    quoted(user),
                    quoted(secret.expose())
                ));
            }
            link
        })
        .collect()
}

/// `s` inside a quoted-string (RFC 9110 §5.6.4).
fn quoted(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control())
        .flat_map(|c| match c {
            '"' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_of_the_configured_servers() {
        let cfg = Config {
            ice_servers: vec![
                "stun:stun.example.net:3478".into(),
                "turn:turn.example.net?transport=udp".into(),
            ],
            ice_servers_username: Some("us\"er".into()),
            ice_servers_credential: Some(RelaySecret::new("pw")),
            ..Config::default()
        };
        assert_eq!(
            ice_links(&cfg),
            [
                "<stun:stun.example.net:3478>; rel=\"ice-server\"",
                "<turn:turn.example.net?transport=udp>; rel=\"ice-server\"; username=\"us\\\"er\"; credential=\"pw\"; credential-type=\"password\"",
            ]
        );
        assert!(ice_links(&Config::default()).is_empty());
    }
}
