//! How a load client gets its SDP answer: the [`Signalling`] seam and its WCS implementation
//! ([`WcsSignalling`]: the Flashphoner Web SDK's websocket messages over blocking tungstenite).
//!
//! Owns: one signalling session per client. Must not touch media sockets or SRTP. Setup is
//! blocking (bounded by [`REPLY_TIMEOUT`]); afterwards [`Signalling::service`] only reads what
//! is already there (answering keep-alive pings) and never blocks.

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tungstenite::{Message, WebSocket};

/// Bound for connecting and for each reply during setup.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// The `host:port` of a server URL (`scheme://host:port/path`; scheme and path optional).
pub fn authority(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split('/').next().unwrap_or_default()
}

/// The first address `host_port` resolves to; the error names it.
pub fn resolve(host_port: &str) -> Result<SocketAddr, String> {
    host_port
        .to_socket_addrs()
        .map_err(|e| format!("{host_port}: {e}"))?
        .next()
        .ok_or_else(|| format!("{host_port}: no address"))
}

/// What a client does with a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Sends media under the stream name.
    Publish,
    /// Receives the stream.
    Play,
}

/// Which server API the load speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    /// rtcdn or a real WCS: the Flashphoner websocket protocol.
    Wcs,
    /// Janus VideoRoom over HTTP/JSON ([`super::janus`]).
    Janus,
    /// `rtcdn-floor`: no signalling, plain RTP in, AES-GCM sealed datagrams out
    /// ([`super::floor`]).
    Floor,
}

/// Why signalling failed. Setup path only: strings are fine here.
#[derive(Debug, thiserror::Error)]
pub enum SignalError {
    /// Could not open the connection.
    #[error("connect: {0}")]
    Connect(String),
    /// The server sent something we cannot use or nothing in time.
    #[error("protocol: {0}")]
    Protocol(String),
    /// The server refused the publish or play.
    #[error("refused: {0}")]
    Refused(String),
    /// The server closed the session.
    #[error("session closed by the server")]
    Closed,
    /// The target is not implemented yet.
    #[error("target {0:?} is not implemented")]
    Unsupported(TargetKind),
}

/// One client's signalling session.
pub trait Signalling: Send {
    /// Sends `offer_sdp` to publish or play `stream`; blocks until the answer SDP arrives and
    /// the server reports the stream running.
    fn negotiate(
        &mut self,
        role: Role,
        stream: &str,
        offer_sdp: &str,
    ) -> Result<String, SignalError>;

    /// Reads whatever arrived without blocking and answers keep-alives. `Err` when the server
    /// ended the session or the stream.
    fn service(&mut self) -> Result<(), SignalError>;

    /// Ends the session politely.
    fn close(&mut self);
}

/// Opens a signalling session of `target` toward `server` (a `ws://host:port` URL for WCS,
/// `http://host:port/janus` for Janus).
pub fn connect(target: TargetKind, server: &str) -> Result<Box<dyn Signalling>, SignalError> {
    match target {
        TargetKind::Wcs => Ok(Box::new(WcsSignalling::connect(server)?)),
        TargetKind::Janus => Ok(Box::new(super::janus::JanusSignalling::connect(server)?)),
        TargetKind::Floor => Err(SignalError::Unsupported(target)),
    }
}

/// What one websocket read gave.
enum Read {
    /// A JSON message other than a ping.
    Message(Value),
    /// A ping (answered) or a control frame.
    Skipped,
    /// Nothing before the timeout (or nothing ready in non-blocking mode).
    Nothing,
}

/// The WCS websocket protocol as the Web SDK speaks it.
pub struct WcsSignalling {
    ws: WebSocket<TcpStream>,
    media_session_id: Option<String>,
    nonblocking: bool,
}

impl WcsSignalling {
    /// Opens the websocket and runs `connection` → `getUserData`.
    pub fn connect(url: &str) -> Result<Self, SignalError> {
        if !url.starts_with("ws://") {
            return Err(SignalError::Connect(format!("not a ws:// URL: {url}")));
        }
        let addr = resolve(authority(url)).map_err(SignalError::Connect)?;
        let stream = TcpStream::connect_timeout(&addr, REPLY_TIMEOUT)
            .map_err(|e| SignalError::Connect(format!("{addr}: {e}")))?;
        stream
            .set_nodelay(true)
            .map_err(|e| SignalError::Connect(e.to_string()))?;
        let (ws, _) = tungstenite::client(url, stream)
            .map_err(|e| SignalError::Connect(format!("websocket handshake: {e}")))?;
        let mut this = WcsSignalling {
            ws,
            media_session_id: None,
            nonblocking: false,
        };
        this.send(
            "connection",
            json!({
                "appKey": "defaultApp",
                "mediaProviders": ["WebRTC"],
                "clientVersion": "2.0",
                "clientOSVersion": "5.0 (X11; Linux x86_64)",
                "clientBrowserVersion": "Mozilla/5.0 (X11; Linux x86_64) rtcdn-load",
                "msePacketizationVersion": 2,
                "clientInfo": {},
            }),
        )?;
        let deadline = Instant::now() + REPLY_TIMEOUT;
        loop {
            let msg = this.recv_until(deadline)?;
            if msg["message"] == "getUserData" {
                return Ok(this);
            }
        }
    }

    /// Asks `availableStream` for `stream`: whether it can be played here now.
    pub fn is_available(&mut self, stream: &str) -> Result<bool, SignalError> {
        let id = uuid::Uuid::new_v4().to_string();
        self.send(
            "availableStream",
            json!({ "mediaSessionId": id, "name": stream }),
        )?;
        let deadline = Instant::now() + REPLY_TIMEOUT;
        loop {
            let msg = self.recv_until(deadline)?;
            if msg["message"] == "availableStream" {
                return Ok(msg["data"][0]["status"] == "true");
            }
        }
    }

    fn send(&mut self, message: &str, payload: Value) -> Result<(), SignalError> {
        let text = json!({ "message": message, "data": [payload] }).to_string();
        match self.ws.send(Message::text(text)) {
            Ok(()) => Ok(()),
            // Non-blocking after setup: the frame is queued and flushed by `service`.
            Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => Ok(()),
            Err(e) => Err(SignalError::Protocol(format!("send {message}: {e}"))),
        }
    }

    /// The next JSON message before `deadline` (blocking); pings are answered and skipped.
    fn recv_until(&mut self, deadline: Instant) -> Result<Value, SignalError> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(SignalError::Protocol("no reply in time".into()));
            }
            self.ws
                .get_mut()
                .set_read_timeout(Some(left))
                .map_err(|e| SignalError::Protocol(e.to_string()))?;
            if let Read::Message(v) = self.read_one()? {
                return Ok(v);
            }
        }
    }

    /// Reads one frame; a ping is answered here.
    fn read_one(&mut self) -> Result<Read, SignalError> {
        match self.ws.read() {
            Ok(Message::Text(text)) => {
                let value: Value = serde_json::from_str(text.as_str())
                    .map_err(|e| SignalError::Protocol(format!("not JSON: {e}")))?;
                if value["message"] == "ping" {
                    self.send("pong", Value::Null)?;
                    return Ok(Read::Skipped);
                }
                Ok(Read::Message(value))
            }
            Ok(Message::Close(_)) => Err(SignalError::Closed),
            Ok(_) => Ok(Read::Skipped),
            Err(tungstenite::Error::Io(e))
                if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
            {
                Ok(Read::Nothing)
            }
            Err(_) => Err(SignalError::Closed),
        }
    }

    /// `Err` if `value` ends our stream (a FAILED, STOPPED or UNPUBLISHED status).
    fn check_status(&self, value: &Value) -> Result<Option<String>, SignalError> {
        if value["message"] != "notifyStreamStatusEvent" {
            return Ok(None);
        }
        let data = &value["data"][0];
        let Some(id) = &self.media_session_id else {
            return Ok(None);
        };
        if data["mediaSessionId"] != id.as_str() {
            return Ok(None);
        }
        let status = data["status"].as_str().unwrap_or_default().to_owned();
        if matches!(status.as_str(), "FAILED" | "STOPPED" | "UNPUBLISHED") {
            let info = data["info"].as_str().unwrap_or_default();
            return Err(SignalError::Refused(format!("{status} {info}")));
        }
        Ok(Some(status))
    }
}

impl Signalling for WcsSignalling {
    fn negotiate(
        &mut self,
        role: Role,
        stream: &str,
        offer_sdp: &str,
    ) -> Result<String, SignalError> {
        let id = uuid::Uuid::new_v4().to_string();
        self.media_session_id = Some(id.clone());
        let (message, published, success) = match role {
            Role::Publish => ("publishStream", true, "PUBLISHING"),
            Role::Play => ("playStream", false, "PLAYING"),
        };
        self.send(
            message,
            json!({
                "mediaSessionId": id,
                "name": stream,
                "published": published,
                "hasVideo": true,
                "hasAudio": true,
                "status": "PENDING",
                "record": false,
                "width": 0,
                "height": 0,
                "mediaProvider": "WebRTC",
                "sdp": offer_sdp,
                "bitrate": 0,
                "minBitrate": 0,
                "maxBitrate": 0,
                "quality": 0,
            }),
        )?;
        let deadline = Instant::now() + REPLY_TIMEOUT;
        let (mut answer, mut running) = (None, false);
        while answer.is_none() || !running {
            let value = self.recv_until(deadline)?;
            if value["message"] == "setRemoteSDP" && value["data"][0] == id.as_str() {
                let sdp = value["data"][1]
                    .as_str()
                    .ok_or_else(|| SignalError::Protocol("setRemoteSDP without SDP".into()))?;
                answer = Some(sdp.to_owned());
            } else if self.check_status(&value)?.as_deref() == Some(success) {
                running = true;
            }
        }
        answer.ok_or_else(|| SignalError::Protocol("no answer".into()))
    }

    fn service(&mut self) -> Result<(), SignalError> {
        if !self.nonblocking {
            self.ws
                .get_mut()
                .set_nonblocking(true)
                .map_err(|e| SignalError::Protocol(e.to_string()))?;
            self.nonblocking = true;
        }
        // Bounded: a flood of messages must not starve the media loop.
        for _ in 0..16 {
            match self.read_one()? {
                Read::Message(value) => {
                    self.check_status(&value)?;
                }
                Read::Skipped => {}
                Read::Nothing => break,
            }
        }
        // A pong queued while the socket was full goes out now.
        match self.ws.flush() {
            Ok(()) => Ok(()),
            Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => Ok(()),
            Err(_) => Err(SignalError::Closed),
        }
    }

    fn close(&mut self) {
        let _ = self.ws.close(None);
        let _ = self.ws.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorities_and_addresses_of_server_urls() {
        assert_eq!(authority("ws://10.0.0.1:8080"), "10.0.0.1:8080");
        assert_eq!(authority("http://h:8088/janus/1"), "h:8088");
        assert_eq!(authority("udp://127.0.0.1:9000"), "127.0.0.1:9000");
        assert_eq!(authority("127.0.0.1:9000"), "127.0.0.1:9000");
        assert_eq!(
            resolve("127.0.0.1:9000"),
            Ok("127.0.0.1:9000".parse().unwrap())
        );
        let err = resolve("no-port").unwrap_err();
        assert!(err.starts_with("no-port:"), "{err}");
    }
}
