//! Async glue between axum websockets, the [`Hub`] and the data-plane event channel.
//!
//! One hub task owns the [`Hub`] and is the only place it is touched: websocket tasks send it
//! [`HubInput`]s and receive their frames through a bounded per-connection queue (a client that
//! does not read is disconnected instead of buffering without limit). Owns no protocol logic.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::ws::{close_code, CloseFrame, Message, Utf8Bytes, WebSocket};
use tokio::sync::mpsc;

use super::lifecycle::HubOps;
pub use super::queue::HubHandle;
use super::queue::{HubInput, Outgoing};

use super::hub::{ConnId, Hub, Output};
use crate::cdn::relay::RelayConnId;
use crate::cdn::relay_socket;
use crate::events::EventReceiver;
use crate::hooks::HookClient;

/// Frames queued for one connection before it is considered stuck and dropped.
pub const OUTGOING_QUEUE: usize = 1024;

/// The hub task's outgoing queues: browser websockets and relay websockets.
struct Queues {
    outs: HashMap<ConnId, mpsc::Sender<Outgoing>>,
    relays: HashMap<RelayConnId, mpsc::Sender<Outgoing>>,
    /// Where relay socket tasks report (weak: the hub task must not keep itself alive).
    inputs: mpsc::WeakSender<HubInput>,
    /// The TLS client of relay legs over `wss://` (`cdn_relay_tls`).
    relay_tls: Option<Arc<rustls::ClientConfig>>,
    /// The REST hook backend (`rest_hook_url`).
    hooks: Option<HookClient>,
}

/// Runs the hub until `stop` resolves or every [`HubHandle`] is dropped, then sends
/// `Command::Shutdown` to every worker. `relay_inputs` is a weak sender of `inputs`, handed
/// to the relay websocket tasks the hub starts, which connect `wss://` edges with `relay_tls`,
/// and to the REST hook calls it makes with `hooks`.
pub async fn run_hub(
    mut hub: Hub,
    mut inputs: mpsc::Receiver<HubInput>,
    relay_inputs: mpsc::WeakSender<HubInput>,
    relay_tls: Option<Arc<rustls::ClientConfig>>,
    hooks: Option<HookClient>,
    mut events: EventReceiver,
    stop: impl Future<Output = ()>,
) {
    let mut queues = Queues {
        outs: HashMap::new(),
        relays: HashMap::new(),
        inputs: relay_inputs,
        relay_tls,
        hooks,
    };
    let mut events_open = true;
    let mut ops = HubOps::default();
    tokio::pin!(stop);
    loop {
        let deadline = hub.poll_timeout();
        let timer = async move {
            match deadline {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = &mut stop => break,
            input = inputs.recv() => match input {
                None => break,
                Some(HubInput::Open { conn, client, server, out }) => {
                    queues.outs.insert(conn, out);
                    hub.open(Instant::now(), conn, client, server);
                }
                Some(HubInput::Text { conn, text }) => hub.handle_text(Instant::now(), conn, text.as_str()),
                Some(HubInput::Binary { conn }) => hub.handle_binary(Instant::now(), conn),
                Some(HubInput::Closed { conn }) => {
                    queues.outs.remove(&conn);
                    hub.close(Instant::now(), conn);
                }
                Some(HubInput::Stats(reply)) => {
                    // The requester may have gone away; nothing to do then.
                    let _ = reply.send(hub.stats());
                }
                Some(HubInput::Health(reply)) => {
                    let _ = reply.send(hub.health());
                }
                Some(HubInput::Metrics(reply)) => {
                    let _ = reply.send(hub.metrics());
                }
                Some(HubInput::Routes(reply)) => {
                    let _ = reply.send(hub.relay_routes());
                }
                Some(HubInput::FindStreams(filter, reply)) => {
                    let _ = reply.send(hub.find_streams(&filter));
                }
                Some(HubInput::Terminate(filter, reply)) => {
                    // The streams end even if the requester went away.
                    let _ = reply.send(hub.terminate(&filter));
                }
                Some(HubInput::Connections(reply)) => {
                    let _ = reply.send(hub.connections());
                }
                Some(HubInput::RelayOpened { conn }) => hub.relay_opened(Instant::now(), conn),
                Some(HubInput::RelayText { conn, text }) => hub.relay_text(Instant::now(), conn, &text),
                Some(HubInput::HookDone { call, method, answer, took }) => {
                    hub.hook_done(Instant::now(), call, method, answer, took);
                }
                Some(HubInput::RelayClosed { conn }) => {
                    queues.relays.remove(&conn);
                    hub.relay_closed(Instant::now(), conn);
                }
                Some(HubInput::Ops(op)) => ops.handle(&mut hub, op),
            },
            event = events.recv(), if events_open => match event {
                Some(event) => hub.handle_event(Instant::now(), event),
                None => events_open = false,
            },
            () = timer => hub.handle_timeout(Instant::now()),
        }
        drain(&mut hub, &mut queues);
        ops.after_input(&hub);
    }
    hub.shutdown_workers();
}

/// Delivers the hub's output; connections whose queue is full are dropped (and cleaned up).
fn drain(hub: &mut Hub, queues: &mut Queues) {
    loop {
        let mut stuck = Vec::new();
        let mut stuck_relays = Vec::new();
        let outs = &mut queues.outs;
        while let Some(output) = hub.poll_output() {
            match output {
                Output::Send(conn, message) => {
                    let Some(tx) = outs.get(&conn) else { continue };
                    match tx.try_send(Outgoing::Text(message.to_json())) {
                        Ok(()) => {}
                        Err(mpsc::error::TrySendError::Full(_)) => {
                            tracing::warn!(conn = conn.0, "client does not read: disconnecting");
                            outs.remove(&conn);
                            stuck.push(conn);
                        }
                        Err(mpsc::error::TrySendError::Closed(_)) => {
                            outs.remove(&conn);
                        }
                    }
                }
                Output::Close(conn) => {
                    if let Some(tx) = outs.remove(&conn) {
                        // Dropping the sender closes the socket even if this does not fit.
                        let _ = tx.try_send(Outgoing::Close);
                    }
                }
                Output::RelayConnect { conn, url } => {
                    let Some(input) = queues.inputs.upgrade() else {
                        // The hub task is stopping: nobody would read the relay's reports.
                        continue;
                    };
                    let (tx, rx) = mpsc::channel(OUTGOING_QUEUE);
                    queues.relays.insert(conn, tx);
                    let tls = queues.relay_tls.clone();
                    tokio::spawn(relay_socket::run_relay_socket(url, conn, input, rx, tls));
                }
                Output::RelaySend(conn, text) => {
                    let Some(tx) = queues.relays.get(&conn) else {
                        continue;
                    };
                    if tx.try_send(Outgoing::Text(text)).is_err() {
                        tracing::warn!(conn = conn.0, "relay websocket stuck: dropping it");
                        queues.relays.remove(&conn);
                        stuck_relays.push(conn);
                    }
                }
                Output::Refuse(conn, reason) => {
                    if let Some(tx) = outs.remove(&conn) {
                        let _ = tx.try_send(Outgoing::Refuse(reason));
                    }
                }
                Output::Hook(request) => {
                    let (Some(client), Some(input)) = (&queues.hooks, queues.inputs.upgrade())
                    else {
                        continue;
                    };
                    let client = client.clone();
                    tokio::spawn(async move {
                        let started = Instant::now();
                        let answer = client.call(&request).await;
                        input
                            .send(HubInput::HookDone {
                                call: request.call,
                                method: request.method,
                                answer,
                                took: started.elapsed(),
                            })
                            .await
                    });
                }
                Output::RelayClose(conn) => {
                    if let Some(tx) = queues.relays.remove(&conn) {
                        let _ = tx.try_send(Outgoing::Close);
                    }
                }
            }
        }
        if stuck.is_empty() && stuck_relays.is_empty() {
            return;
        }
        for conn in stuck {
            hub.close(Instant::now(), conn);
        }
        for conn in stuck_relays {
            hub.relay_closed(Instant::now(), conn);
        }
    }
}

/// Serves one upgraded websocket until either side closes it.
pub async fn serve_socket(
    mut socket: WebSocket,
    hub: HubHandle,
    client: SocketAddr,
    server: SocketAddr,
) {
    let conn = hub.next_conn_id();
    let (out, mut out_rx) = mpsc::channel(OUTGOING_QUEUE);
    let open = HubInput::Open {
        conn,
        client,
        server,
        out,
    };
    if !hub.send(open).await {
        return;
    }
    tracing::debug!(conn = conn.0, %client, "websocket open");
    loop {
        tokio::select! {
            frame = socket.recv() => match frame {
                Some(Ok(Message::Text(text))) => {
                    // Waits while the hub's queue is full: this socket is not read meanwhile.
                    hub.send(HubInput::Text { conn, text }).await;
                }
                Some(Ok(Message::Binary(_))) => {
                    hub.send(HubInput::Binary { conn }).await;
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(Message::Close(_))) | None => break,
                Some(Err(e)) => {
                    tracing::info!(conn = conn.0, error = %e, "websocket error: closing");
                    let frame = CloseFrame {
                        code: close_code::SIZE,
                        reason: Utf8Bytes::from_static("Message too big or malformed frame"),
                    };
                    // The socket may already be unusable; closing is best effort.
                    let _ = socket.send(Message::Close(Some(frame))).await;
                    break;
                }
            },
            outgoing = out_rx.recv() => match outgoing {
                Some(Outgoing::Text(text)) => {
                    if socket.send(Message::Text(text.into())).await.is_err() {
                        break;
                    }
                }
                Some(Outgoing::Refuse(reason)) => {
                    let frame = CloseFrame {
                        code: close_code::POLICY,
                        reason: Utf8Bytes::from(refusal_reason(&reason)),
                    };
                    let _ = socket.send(Message::Close(Some(frame))).await;
                    break;
                }
                Some(Outgoing::Close) | None => {
                    let reason = if outgoing.is_some() {
                        "Terminated by keep-alive"
                    } else {
                        "Closed by server"
                    };
                    let frame = CloseFrame {
                        code: close_code::AWAY,
                        reason: Utf8Bytes::from_static(reason),
                    };
                    let _ = socket.send(Message::Close(Some(frame))).await;
                    break;
                }
            },
        }
    }
    hub.send(HubInput::Closed { conn }).await;
    tracing::debug!(conn = conn.0, "websocket closed");
}

/// A close frame's reason is at most 123 bytes: the refusal's reason cut at a character
/// boundary.
fn refusal_reason(reason: &str) -> String {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    reason[..end].to_owned()
}
