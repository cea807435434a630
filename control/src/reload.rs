//! SIGHUP: the parts of the configuration a running node takes again without a restart.
//!
//! * On an origin, `loadbalancing.xml` (the file it started with): the relay legs follow the
//!   new edges (the hub's [`crate::wcs::lifecycle::reload_nodes`]) and the balancer chooses
//!   from them ([`crate::cdn::CdnHandle::reload`]); `mode` and `randomize` apply too, a changed
//!   `stream_distribution` needs a restart and is kept.
//! * The TLS certificate chain and key (the same files as at startup), for new handshakes.
//!
//! A part that cannot be read is logged with its file, line and key, and what runs is kept;
//! nothing here stops the node. One summary line says what the reload changed. Owns reading
//! and reporting only: the decisions are the hub's, the balancer's and [`crate::tls`]'s.

use std::sync::Arc;

use crate::cdn::config::{self as lb_config, LoadBalancingConfig};
use crate::cdn::CdnHandle;
use crate::tls::CertResolver;
use crate::wcs::connection::HubHandle;
use crate::wcs::lifecycle as hub_ops;

/// What a SIGHUP reloads, and what runs now.
pub(crate) struct Reloader {
    /// The load balancing in effect (an origin only).
    balancing: Option<LoadBalancingConfig>,
    /// The origin's balancer.
    cdn: Option<CdnHandle>,
    /// The TLS listener's certificate.
    certificates: Option<Arc<CertResolver>>,
}

impl Reloader {
    pub(crate) fn new(
        balancing: Option<LoadBalancingConfig>,
        cdn: Option<CdnHandle>,
        certificates: Option<Arc<CertResolver>>,
    ) -> Self {
        Self {
            balancing,
            cdn,
            certificates,
        }
    }

    /// Reloads every part and logs one line with the outcome.
    pub(crate) async fn reload(&mut self, hub: &HubHandle) {
        let edges = self.reload_edges(hub).await;
        let certificate = self.reload_certificate();
        tracing::info!("SIGHUP reload: edges {edges}; certificate {certificate}");
    }

    /// Re-reads `loadbalancing.xml`; the summary of what changed.
    async fn reload_edges(&mut self, hub: &HubHandle) -> String {
        let Some(running) = &self.balancing else {
            return "not reloaded (not an origin)".to_owned();
        };
        let (mut next, warnings) = match lb_config::load(&running.file) {
            Ok(loaded) => loaded,
            Err(e) => {
                tracing::error!("{e} (SIGHUP: the running edges are kept)");
                return format!("kept ({e})");
            }
        };
        for w in &warnings {
            tracing::warn!("{w}");
        }
        if next.distribution != running.distribution {
            tracing::warn!(
                file = %running.file.display(),
                "stream_distribution changed: that takes a restart; keeping {:?}",
                running.distribution
            );
            next.distribution = running.distribution;
        }
        let Some(diff) = hub_ops::reload_nodes(hub, next.nodes.clone()).await else {
            return "kept (the hub is stopping)".to_owned();
        };
        if let Some(cdn) = &self.cdn {
            cdn.reload(next.clone());
        }
        let mode = if (next.mode, next.randomize) != (running.mode, running.randomize) {
            format!(", mode {:?} randomize {}", next.mode, next.randomize)
        } else {
            String::new()
        };
        self.balancing = Some(next);
        format!("{diff}{mode}")
    }

    /// Re-reads the certificate chain and key; the summary.
    fn reload_certificate(&self) -> String {
        let Some(certificates) = &self.certificates else {
            return "none".to_owned();
        };
        match certificates.reload() {
            Ok(change) if change.previous == change.current => {
                format!("unchanged ({})", change.current)
            }
            Ok(change) => {
                tracing::info!(
                    certificate = %certificates.certificate().display(),
                    previous = %change.previous,
                    fingerprint = %change.current,
                    "TLS certificate replaced: new connections get it"
                );
                format!("replaced ({})", change.current)
            }
            Err(e) => {
                tracing::error!(
                    certificate = %certificates.certificate().display(),
                    fingerprint = %certificates.fingerprint(),
                    "{e} (SIGHUP: the running certificate is kept)"
                );
                format!("kept ({e})")
            }
        }
    }
}
