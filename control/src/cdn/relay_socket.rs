//! The websocket client of one relay leg attempt: connects to an edge, forwards its text
//! frames to the hub task and writes what the hub queues.
//!
//! Owns only I/O (tokio-tungstenite on the control thread's runtime); every decision is in
//! [`super::relay::Relays`], reached through the hub task's input queue. A connect that fails
//! or hangs, and any socket error, is reported as [`HubInput::RelayClosed`].

use std::time::Duration;

use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::relay::RelayConnId;
use crate::wcs::queue::{HubInput, Outgoing};

/// Bound on TCP connect plus the websocket handshake.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest frame accepted from an edge.
const MAX_FRAME: usize = 1 << 20;

/// Runs one relay websocket until either side closes it; always ends with `RelayClosed`
/// unless the hub itself dropped `out` (then it already forgot the connection). A `wss://`
/// URL is connected with `tls` (the edge's certificate verified against its roots).
pub async fn run_relay_socket(
    url: String,
    conn: RelayConnId,
    hub: mpsc::Sender<HubInput>,
    out: mpsc::Receiver<Outgoing>,
    tls: Option<Arc<rustls::ClientConfig>>,
) {
    let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .max_message_size(Some(MAX_FRAME))
        .max_frame_size(Some(MAX_FRAME));
    let connected = tokio::time::timeout(CONNECT_TIMEOUT, async {
        match (url.strip_prefix("wss://"), tls) {
            (Some(rest), Some(tls)) => {
                let stream = connect_tls(rest, tls).await?;
                let (ws, _) =
                    tokio_tungstenite::client_async_with_config(url.as_str(), stream, Some(config))
                        .await
                        .map_err(|e| e.to_string())?;
                Ok(Socket::Tls(Box::new(ws)))
            }
            (Some(_), None) => Err("wss:// without a TLS client configuration".to_owned()),
            (None, _) => {
                let connect =
                    tokio_tungstenite::connect_async_with_config(url.as_str(), Some(config), true);
                let (ws, _) = connect.await.map_err(|e| e.to_string())?;
                Ok(Socket::Plain(Box::new(ws)))
            }
        }
    })
    .await;
    let ws = match connected {
        Ok(Ok(ws)) => ws,
        Ok(Err(e)) => {
            tracing::info!(conn = conn.0, %url, error = %e, "relay: cannot connect to edge");
            let _ = hub.send(HubInput::RelayClosed { conn }).await;
            return;
        }
        Err(_) => {
            tracing::info!(conn = conn.0, %url, "relay: connect to edge timed out");
            let _ = hub.send(HubInput::RelayClosed { conn }).await;
            return;
        }
    };
    match ws {
        Socket::Plain(ws) => pump(*ws, conn, hub, out).await,
        Socket::Tls(ws) => pump(*ws, conn, hub, out).await,
    }
}

/// A connected relay websocket, plain or over TLS.
enum Socket {
    Plain(Box<WebSocketStream<MaybeTlsStream<TcpStream>>>),
    Tls(Box<WebSocketStream<TlsStream<TcpStream>>>),
}

/// TCP and TLS to `host:port/...` (the rest of a `wss://` URL), verifying the certificate
/// for `host` (a name or an IP address).
async fn connect_tls(
    rest: &str,
    tls: Arc<rustls::ClientConfig>,
) -> Result<TlsStream<TcpStream>, String> {
    let authority = rest.split('/').next().unwrap_or_default();
    let (host, port) = authority
        .rsplit_once(':')
        .ok_or_else(|| format!("no port in {authority}"))?;
    let port: u16 = port
        .parse()
        .map_err(|_| format!("bad port in {authority}"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let name = ServerName::try_from(host.to_owned()).map_err(|e| e.to_string())?;
    let tcp = TcpStream::connect((host, port))
        .await
        .map_err(|e| e.to_string())?;
    let _ = tcp.set_nodelay(true);
    TlsConnector::from(tls)
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS: {e}"))
}

/// Forwards frames both ways until either side closes.
async fn pump<S>(
    mut ws: WebSocketStream<S>,
    conn: RelayConnId,
    hub: mpsc::Sender<HubInput>,
    mut out: mpsc::Receiver<Outgoing>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    if hub.send(HubInput::RelayOpened { conn }).await.is_err() {
        return;
    }
    loop {
        tokio::select! {
            frame = ws.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    let _ = hub.send(HubInput::RelayText { conn, text: text.as_str().to_owned() }).await;
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
                Some(Outgoing::Close | Outgoing::Refuse(_)) | None => {
                    // Best effort: the edge may be gone already.
                    let _ = ws.close(None).await;
                    return;
                }
            },
        }
    }
    let _ = hub.send(HubInput::RelayClosed { conn }).await;
}
