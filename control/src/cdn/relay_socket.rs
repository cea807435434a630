//! The websocket client of one relay leg attempt: connects to an edge, forwards its text
//! frames to the hub task and writes what the hub queues.
//!
//! Owns only I/O (tokio-tungstenite on the control thread's runtime); every decision is in
//! [`super::relay::Relays`], reached through the hub task's input queue. A connect that fails
//! or hangs, and any socket error, is reported as [`HubInput::RelayClosed`].

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use super::relay::RelayConnId;
use crate::wcs::queue::{HubInput, Outgoing};

/// Bound on TCP connect plus the websocket handshake.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest frame accepted from an edge.
const MAX_FRAME: usize = 1 << 20;

/// Runs one relay websocket until either side closes it; always ends with `RelayClosed`
/// unless the hub itself dropped `out` (then it already forgot the connection).
pub async fn run_relay_socket(
    url: String,
    conn: RelayConnId,
    hub: mpsc::UnboundedSender<HubInput>,
    mut out: mpsc::Receiver<Outgoing>,
) {
    let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .max_message_size(Some(MAX_FRAME))
        .max_frame_size(Some(MAX_FRAME));
    let connect = tokio_tungstenite::connect_async_with_config(url.as_str(), Some(config), true);
    let mut ws = match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
        Ok(Ok((ws, _response))) => ws,
        Ok(Err(e)) => {
            tracing::info!(conn = conn.0, %url, error = %e, "relay: cannot connect to edge");
            let _ = hub.send(HubInput::RelayClosed { conn });
            return;
        }
        Err(_) => {
            tracing::info!(conn = conn.0, %url, "relay: connect to edge timed out");
            let _ = hub.send(HubInput::RelayClosed { conn });
            return;
        }
    };
    if hub.send(HubInput::RelayOpened { conn }).is_err() {
        return;
    }
    loop {
        tokio::select! {
            frame = ws.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    let _ = hub.send(HubInput::RelayText { conn, text: text.as_str().to_owned() });
                }
                Some(Ok(Message::Close(_))) | None => break,
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    tracing::info!(conn = conn.0, error = %e, "relay websocket error");
                    break;
                }
            },
            outgoing = out.recv() => match outgoing {
                Some(Outgoing::Text(text)) => {
                    if ws.send(Message::text(text)).await.is_err() {
                        break;
                    }
                }
                Some(Outgoing::Close) | None => {
                    // Best effort: the edge may be gone already.
                    let _ = ws.close(None).await;
                    return;
                }
            },
        }
    }
    let _ = hub.send(HubInput::RelayClosed { conn });
}
