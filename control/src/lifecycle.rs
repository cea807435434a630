//! The node's life after startup, driven by the operator's signals.
//!
//! * SIGHUP reloads `loadbalancing.xml` and the TLS certificate ([`crate::reload`]).
//! * The first SIGTERM or SIGINT drains: new websockets are refused with HTTP 503, new
//!   publishes and plays on open ones get FAILED, the stat page says `draining=true` so that
//!   origins send the node no more viewers; what runs goes on (on an origin the balancer and
//!   the relay legs keep serving).
//! * The drain ends when no session is left, when `shutdown_grace_period` is over, or at once
//!   on a second SIGTERM/SIGINT. Then every remaining player gets STOPPED and every publisher
//!   UNPUBLISHED ("Server is shutting down") before [`crate::server`] closes the sockets and
//!   stops the workers.
//!
//! Owns the sequence, its timers and its log lines; what each session gets is the hub's
//! ([`crate::wcs::lifecycle`]), and the listeners are the server's. [`NodeStatus`] is what the
//! HTTP side sees of it.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::reload::Reloader;
use crate::wcs::connection::HubHandle;
use crate::wcs::lifecycle as hub_ops;

/// How often a draining node logs how many sessions it still waits for.
pub const PROGRESS_PERIOD: Duration = Duration::from_secs(5);
/// The longest the hub may take to tell every session that the node stops.
const FINISH_TIMEOUT: Duration = Duration::from_secs(5);

/// What the operator asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    /// SIGHUP: read `loadbalancing.xml` and the certificate again.
    Reload,
    /// SIGTERM or SIGINT: drain, or stop at once when already draining.
    Stop,
    /// Stop without draining (clients are still told): an embedding's own shutdown.
    StopNow,
}

/// SIGHUP, SIGTERM and SIGINT as [`Signal`]s, from now on (must run inside a tokio runtime;
/// call it before the node says it listens, so that an early SIGHUP does not kill it).
pub fn os_signals() -> mpsc::UnboundedReceiver<Signal> {
    let (tx, rx) = mpsc::unbounded_channel();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        for (kind, what, name) in [
            (SignalKind::hangup(), Signal::Reload, "SIGHUP"),
            (SignalKind::terminate(), Signal::Stop, "SIGTERM"),
            (SignalKind::interrupt(), Signal::Stop, "SIGINT"),
        ] {
            match signal(kind) {
                Ok(mut stream) => {
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        while stream.recv().await.is_some() {
                            tracing::info!("{name} received");
                            if tx.send(what).is_err() {
                                return;
                            }
                        }
                    });
                }
                Err(e) => tracing::error!(error = %e, "cannot listen for {name}"),
            }
        }
    }
    #[cfg(not(unix))]
    tokio::spawn(async move {
        while tokio::signal::ctrl_c().await.is_ok() {
            if tx.send(Signal::Stop).is_err() {
                return;
            }
        }
    });
    rx
}

/// A [`Signal::StopNow`] when `shutdown` resolves (must run inside a tokio runtime).
pub fn stop_on(
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> mpsc::UnboundedReceiver<Signal> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        shutdown.await;
        let _ = tx.send(Signal::StopNow);
    });
    rx
}

/// What the HTTP side sees of the lifecycle: whether the node drains, and its open
/// websockets (waited for before the process exits). Cheap to clone.
#[derive(Clone, Debug)]
pub struct NodeStatus {
    draining: Arc<AtomicBool>,
    sockets: Arc<watch::Sender<usize>>,
}

impl Default for NodeStatus {
    fn default() -> Self {
        Self {
            draining: Arc::default(),
            sockets: Arc::new(watch::Sender::new(0)),
        }
    }
}

impl NodeStatus {
    /// Whether the node drains (new websockets refused, `draining=true` on the stat page).
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    fn set_draining(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }

    /// Counts a websocket as open until the guard is dropped.
    pub fn track_socket(&self) -> SocketGuard {
        self.sockets.send_modify(|n| *n += 1);
        SocketGuard(self.sockets.clone())
    }

    /// Resolves once no websocket is open.
    pub async fn sockets_closed(&self) {
        let mut open = self.sockets.subscribe();
        let _ = open.wait_for(|n| *n == 0).await;
    }
}

/// One open websocket, for [`NodeStatus::sockets_closed`].
#[derive(Debug)]
pub struct SocketGuard(Arc<watch::Sender<usize>>);

impl Drop for SocketGuard {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// The serving node between startup and stop.
pub(crate) struct Lifecycle {
    pub(crate) signals: mpsc::UnboundedReceiver<Signal>,
    pub(crate) hub: HubHandle,
    pub(crate) node: NodeStatus,
    pub(crate) reloader: Reloader,
    /// `shutdown_grace_period`.
    pub(crate) grace: Duration,
}

impl Lifecycle {
    /// Serves (reloading on SIGHUP) until a stop, drains, then tells every session that the
    /// node stops. Returns when the sockets may be closed.
    pub(crate) async fn run(mut self) {
        let drain = loop {
            match self.signals.recv().await {
                Some(Signal::Reload) => self.reloader.reload(&self.hub).await,
                Some(Signal::Stop) => break true,
                Some(Signal::StopNow) | None => break false,
            }
        };
        self.node.set_draining();
        if drain {
            self.drain().await;
        }
        match tokio::time::timeout(FINISH_TIMEOUT, hub_ops::finish(&self.hub)).await {
            Ok(Some(ended)) => tracing::info!(sessions = ended, "stopping: every client told"),
            Ok(None) => tracing::warn!("stopping: the hub task is already gone"),
            Err(_) => tracing::warn!("stopping: the hub did not answer in time"),
        }
    }

    /// Waits for the sessions to end, the grace period or a second signal.
    async fn drain(&mut self) {
        let Some(mut busy) = hub_ops::drain(&self.hub).await else {
            return;
        };
        let started = Instant::now();
        let deadline = started + self.grace;
        tracing::info!(
            grace_period_s = self.grace.as_secs(),
            "draining: new sessions are refused; the node stops when no session is left or \
             after the grace period (signal again to stop now)"
        );
        let mut progress = tokio::time::interval_at(started + PROGRESS_PERIOD, PROGRESS_PERIOD);
        let reason = loop {
            tokio::select! {
                changed = busy.changed() => {
                    if changed.is_err() {
                        break "the hub stopped";
                    }
                    if *busy.borrow_and_update() == 0 {
                        break "no session left";
                    }
                }
                () = tokio::time::sleep_until(deadline) => break "grace period over",
                signal = self.signals.recv() => match signal {
                    Some(Signal::Reload) => self.reloader.reload(&self.hub).await,
                    Some(Signal::Stop | Signal::StopNow) | None => break "second signal",
                },
                _ = progress.tick() => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    tracing::info!(
                        sessions = *busy.borrow(),
                        grace_left_s = left.as_secs(),
                        "draining"
                    );
                }
            }
        };
        let sessions = *busy.borrow();
        tracing::info!(
            sessions = if sessions == usize::MAX { 0 } else { sessions },
            took_ms = started.elapsed().as_millis() as u64,
            "drain over: {reason}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn open_sockets_are_counted_until_their_guards_drop() {
        let node = NodeStatus::default();
        assert!(!node.is_draining());
        node.sockets_closed().await;
        let a = node.track_socket();
        let b = node.track_socket();
        let clone = node.clone();
        let waiter = tokio::spawn(async move { clone.sockets_closed().await });
        drop(a);
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "one socket is still open");
        drop(b);
        waiter.await.unwrap();
        node.set_draining();
        assert!(node.clone().is_draining(), "clones share the state");
    }
}
