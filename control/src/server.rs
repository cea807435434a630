//! Process-level serving: the tokio current-thread runtime (the control thread), the listener,
//! the hub task, the operator's signals (SIGHUP reload, SIGTERM/SIGINT drain, see
//! [`crate::lifecycle`]) and worker shutdown.
//!
//! Owns startup and shutdown order only; routing is [`crate::http`], signalling [`crate::wcs`].

use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::ListenerExt as _;
use dataplane::api::{Fingerprint, WorkerHandle};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

use crate::cdn;
use crate::config::Config;
use crate::events::EventReceiver;
use crate::hooks::{HookClient, HookError};
use crate::http::{self, AppState};
use crate::lifecycle::{self, Lifecycle, NodeStatus, Signal};
use crate::reload::Reloader;
use crate::rest::RestAccess;
use crate::tls::{self, TlsListener};
use crate::wcs::connection::{self, HubHandle};
use crate::wcs::hub::Hub;

/// `wss.port` when the configuration does not set it (WCS's).
pub const DEFAULT_WSS_PORT: u16 = 8443;
/// How long the websockets may take to write their last statuses and close, at the end.
const SOCKETS_CLOSE_TIMEOUT: Duration = Duration::from_secs(3);
/// How long the HTTP listeners may take to finish the requests under way, at the end.
const HTTP_STOP_TIMEOUT: Duration = Duration::from_secs(3);

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The tokio runtime could not be built.
    #[error("cannot start the control runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// The listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address we tried.
        addr: SocketAddr,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Accepting or serving failed.
    #[error("http server failed: {0}")]
    Serve(#[source] std::io::Error),
    /// The TLS certificate or key could not be loaded or generated.
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    /// The REST hook client could not be set up.
    #[error(transparent)]
    Hooks(#[from] HookError),
}

/// Runs the control plane on the calling thread: binds `cfg.ip:cfg.ws_port` (0 = ephemeral),
/// prints `rtcdn listening on http://<ip>:<port>` to stdout, serves (reloading on SIGHUP)
/// until SIGTERM/SIGINT, drains, then sends `Command::Shutdown` to every worker.
pub fn run(
    cfg: Config,
    workers: Vec<WorkerHandle>,
    fingerprint: Fingerprint,
    events: EventReceiver,
) -> Result<(), ServerError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(ServerError::Runtime)?;
    runtime.block_on(async move {
        // Before the listening line: a SIGHUP right after it must not kill the process.
        let signals = lifecycle::os_signals();
        let addr = SocketAddr::new(cfg.ip, cfg.ws_port);
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| ServerError::Bind { addr, source })?;
        let local = listener.local_addr().map_err(ServerError::Serve)?;
        let tls = tls_listener(&cfg).await?;
        println!("rtcdn listening on http://{local}");
        if let Some(tls) = &tls {
            let addr = axum::serve::Listener::local_addr(tls).map_err(ServerError::Serve)?;
            println!("rtcdn listening on https://{addr}");
        }
        // Tests read these lines through a pipe; make sure they are not stuck in a buffer.
        let _ = std::io::stdout().flush();
        serve_signalled(listener, tls, cfg, workers, fingerprint, events, signals).await
    })
}

/// Binds `wss.port` (8443; ephemeral when `ws.port` is 0 and `wss.port` is not set) with the
/// node's certificate, logging where a generated one is and its fingerprint.
async fn tls_listener(cfg: &Config) -> Result<Option<TlsListener>, ServerError> {
    let port = cfg.wss_port.unwrap_or(if cfg.ws_port == 0 {
        0
    } else {
        DEFAULT_WSS_PORT
    });
    let tls = tls::load(cfg)?;
    if tls.self_signed {
        tracing::warn!(
            certificate = %tls.certificate.display(),
            fingerprint = %tls.fingerprint,
            "no tls_certificate configured: serving wss/https with a self-signed certificate \
             (development only; browsers must be told to trust it)"
        );
    } else {
        tracing::info!(certificate = %tls.certificate.display(), fingerprint = %tls.fingerprint, "TLS");
    }
    let addr = SocketAddr::new(cfg.ip, port);
    let tcp = TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Bind { addr, source })?;
    let listener = TlsListener::new(tcp, tls.server).map_err(ServerError::Serve)?;
    Ok(Some(listener.reloadable(tls.resolver)))
}

/// Serves on an already bound `listener` until `shutdown` resolves, then tells every client,
/// stops the hub and sends `Command::Shutdown` to every worker (no drain). Must run inside a
/// tokio runtime.
pub async fn serve(
    listener: TcpListener,
    cfg: Config,
    workers: Vec<WorkerHandle>,
    fingerprint: Fingerprint,
    events: EventReceiver,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    serve_tls(listener, None, cfg, workers, fingerprint, events, shutdown).await
}

/// [`serve`], and the same routes over TLS on `tls` (`wss://`, `https://`) when given.
pub async fn serve_tls(
    listener: TcpListener,
    tls: Option<TlsListener>,
    cfg: Config,
    workers: Vec<WorkerHandle>,
    fingerprint: Fingerprint,
    events: EventReceiver,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let signals = lifecycle::stop_on(shutdown);
    serve_signalled(listener, tls, cfg, workers, fingerprint, events, signals).await
}

/// [`serve_tls`] driven by the operator's [`Signal`]s (see [`crate::lifecycle`]).
async fn serve_signalled(
    listener: TcpListener,
    tls: Option<TlsListener>,
    cfg: Config,
    workers: Vec<WorkerHandle>,
    fingerprint: Fingerprint,
    events: EventReceiver,
    signals: mpsc::UnboundedReceiver<Signal>,
) -> Result<(), ServerError> {
    let local_addr = listener.local_addr().map_err(ServerError::Serve)?;
    let (tx, rx) = crate::wcs::queue::hub_queue();
    let worker_handles: Arc<[WorkerHandle]> = workers.clone().into();
    let hub = Hub::new(&cfg, workers, fingerprint);
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let relay_inputs = tx.downgrade();
    let relay_tls = tls::relay_client(&cfg)?;
    let hooks = match &cfg.rest_hook_url {
        Some(url) => {
            let client =
                HookClient::new(url, cfg.rest_hook_timeout, cfg.rest_hook_ca_file.as_deref())?;
            tracing::info!(
                url,
                fail_closed = cfg.rest_hook_fail_closed,
                "REST hooks: clients are authorized by the backend"
            );
            Some(client)
        }
        None => None,
    };
    let hub_task = tokio::spawn(connection::run_hub(
        hub,
        rx,
        relay_inputs,
        relay_tls,
        hooks,
        events,
        async move {
            // A dropped sender also means stop.
            let _ = stop_rx.await;
        },
    ));
    let cdn = cfg.load_balancing.as_ref().map(|lb| {
        tracing::info!(
            nodes = lb.nodes.len(),
            mode = ?lb.mode,
            distribution = ?lb.distribution,
            "CDN origin: balancing viewers over the edges of {}",
            lb.file.display()
        );
        cdn::poller::spawn(lb)
    });
    let rest = Arc::new(RestAccess::new(&cfg));
    let node = NodeStatus::default();
    let hub = HubHandle::new(tx);
    let lifecycle = Lifecycle {
        signals,
        hub: hub.clone(),
        node: node.clone(),
        reloader: Reloader::new(
            cfg.load_balancing.clone(),
            cdn.clone(),
            tls.as_ref().and_then(TlsListener::certificates),
        ),
        grace: cfg.shutdown_grace_period,
    };
    let whip = Arc::new(crate::whip::Endpoints::from_config(&cfg));
    let state = AppState {
        hub,
        local_addr,
        web_dir: cfg.web_dir.map(Arc::new),
        cdn,
        cpu: Arc::default(),
        workers: worker_handles,
        rest,
        node: node.clone(),
        whip,
    };
    let router = http::router(state);
    let app = router
        .clone()
        .into_make_service_with_connect_info::<SocketAddr>();
    // Signalling is request/response of small messages: without TCP_NODELAY a reply can sit
    // behind the peer's delayed ACK (40 ms on Linux), which capped joins at about 20/s.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    // One stop for both listeners, once the lifecycle is over: they serve the stat page,
    // the balancer and the relays' edges while the node drains.
    let (stop_all, stopping) = tokio::sync::watch::channel(false);
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let plain =
        axum::serve(listener, app.clone()).with_graceful_shutdown(stopped(stopping.clone()));
    let mut servers = tokio::spawn(async move {
        match tls {
            None => plain.await,
            Some(tls) => {
                let secure_app = router
                    .layer(axum::middleware::map_request(tls::peer_address))
                    .into_make_service_with_connect_info::<tls::TlsPeer>();
                let secure = axum::serve(tls, secure_app).with_graceful_shutdown(stopped(stopping));
                let (a, b) = tokio::join!(plain, secure);
                a.and(b)
            }
        }
    });
    let early = tokio::select! {
        () = lifecycle.run() => None,
        // The listeners never end on their own; if they do, the node stops.
        ended = &mut servers => Some(ended),
    };
    // Every client was told; the websockets close once the hub task drops their queues.
    let _ = stop_tx.send(());
    if let Err(e) = hub_task.await {
        tracing::error!(error = %e, "hub task failed");
    }
    if tokio::time::timeout(SOCKETS_CLOSE_TIMEOUT, node.sockets_closed())
        .await
        .is_err()
    {
        tracing::warn!("websockets still open after {SOCKETS_CLOSE_TIMEOUT:?}: dropping them");
    }
    let _ = stop_all.send(true);
    let ended = match early {
        Some(ended) => ended,
        None => match tokio::time::timeout(HTTP_STOP_TIMEOUT, servers).await {
            Ok(ended) => ended,
            Err(_) => {
                tracing::warn!("HTTP requests still under way after {HTTP_STOP_TIMEOUT:?}");
                Ok(Ok(()))
            }
        },
    };
    match ended {
        Ok(result) => result.map_err(ServerError::Serve),
        Err(e) => {
            tracing::error!(error = %e, "HTTP listeners failed");
            Ok(())
        }
    }
}
