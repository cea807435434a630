//! The WCS implementation of the [`Signalling`] seam ([`WcsSignalling`]): the Flashphoner Web
//! SDK's websocket messages, built and read by `control::wcs::client`, over blocking tungstenite.
//!
//! Owns: one signalling session per client and its socket. Must not touch media sockets or
//! SRTP. Setup is blocking (bounded by [`REPLY_TIMEOUT`]); afterwards [`Signalling::service`]
//! only reads what is already there (answering keep-alive pings) and never blocks. A session
//! may stop its stream and negotiate another (`stopStream`/`unPublishStream`, then
//! `playStream`/`publishStream` again, as a Web SDK page does): those calls block again.

use std::io::{ErrorKind, Read as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use control::wcs::client::{self, Hello, ServerEvent, ServerMessageError, StreamDesc};
use tungstenite::{Message, WebSocket};

use super::signalling::{authority, resolve, Role, SignalError, Signalling, REPLY_TIMEOUT};

/// How long a close waits for the server's close frame.
pub const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// What one websocket read gave.
enum Read {
    /// A server message other than a ping.
    Event(ServerEvent),
    /// A ping (answered), a control frame or a message we cannot read.
    Skipped,
    /// Nothing before the timeout (or nothing ready in non-blocking mode).
    Nothing,
}

/// The WCS websocket protocol as the Web SDK speaks it.
pub struct WcsSignalling {
    ws: WebSocket<TcpStream>,
    media_session_id: Option<String>,
    /// What the current stream is: publish or play, and its name (for the stop message).
    current: Option<(Role, String)>,
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
            current: None,
            nonblocking: false,
        };
        this.send(
            "connection",
            client::connection(&Hello::browser("rtcdn-load")),
        )?;
        let deadline = Instant::now() + REPLY_TIMEOUT;
        loop {
            if let ServerEvent::UserData(_) = this.recv_until(deadline)? {
                return Ok(this);
            }
        }
    }

    /// Asks `availableStream` for `stream`: whether it can be played here now.
    pub fn is_available(&mut self, stream: &str) -> Result<bool, SignalError> {
        self.set_blocking()?;
        let id = uuid::Uuid::new_v4().to_string();
        self.send("availableStream", client::available_stream(&id, stream))?;
        let deadline = Instant::now() + REPLY_TIMEOUT;
        loop {
            if let ServerEvent::Available { available, .. } = self.recv_until(deadline)? {
                return Ok(available);
            }
        }
    }

    /// Sends the offer `text` (`message`) of stream `id` and waits for its answer SDP and
    /// the status `success`.
    fn offer(
        &mut self,
        id: &str,
        message: &str,
        text: String,
        success: &str,
    ) -> Result<String, SignalError> {
        self.send(message, text)?;
        let deadline = Instant::now() + REPLY_TIMEOUT;
        let (mut answer, mut running) = (None, false);
        while answer.is_none() || !running {
            match self.recv_until(deadline)? {
                ServerEvent::RemoteSdp {
                    media_session_id,
                    sdp,
                } if media_session_id == *id => answer = Some(sdp),
                event => {
                    // A final status before the stream ran: the server refused it.
                    let status = self.check_status(&event).map_err(|e| match e {
                        SignalError::Ended { status, info } => {
                            SignalError::Refused(format!("{status} {info}"))
                        }
                        e => e,
                    })?;
                    running |= status == Some(success);
                }
            }
        }
        answer.ok_or_else(|| SignalError::Protocol("no answer".into()))
    }

    /// Back to blocking reads after [`Signalling::service`] made the socket non-blocking.
    fn set_blocking(&mut self) -> Result<(), SignalError> {
        if self.nonblocking {
            self.ws
                .get_mut()
                .set_nonblocking(false)
                .map_err(|e| SignalError::Protocol(e.to_string()))?;
            self.nonblocking = false;
        }
        Ok(())
    }

    /// Writes one text frame; `what` names it in errors.
    fn send(&mut self, what: &str, text: String) -> Result<(), SignalError> {
        match self.ws.send(Message::text(text)) {
            Ok(()) => Ok(()),
            // Non-blocking after setup: the frame is queued and flushed by `service`.
            Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => Ok(()),
            Err(e) => Err(SignalError::Protocol(format!("send {what}: {e}"))),
        }
    }

    /// The next server message before `deadline` (blocking); pings are answered and skipped.
    fn recv_until(&mut self, deadline: Instant) -> Result<ServerEvent, SignalError> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(SignalError::Protocol("no reply in time".into()));
            }
            self.ws
                .get_mut()
                .set_read_timeout(Some(left))
                .map_err(|e| SignalError::Protocol(e.to_string()))?;
            if let Read::Event(event) = self.read_one()? {
                return Ok(event);
            }
        }
    }

    /// Reads one frame; a ping is answered here.
    fn read_one(&mut self) -> Result<Read, SignalError> {
        match self.ws.read() {
            Ok(Message::Text(text)) => match client::parse_server(text.as_str()) {
                Ok(ServerEvent::Ping) => {
                    self.send("pong", client::pong())?;
                    Ok(Read::Skipped)
                }
                Ok(event) => Ok(Read::Event(event)),
                Err(e @ ServerMessageError::Json(_)) => Err(SignalError::Protocol(e.to_string())),
                // A known message without its fields: nothing we could act on.
                Err(_) => Ok(Read::Skipped),
            },
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

    /// `Err` if `event` ends our stream (a FAILED, STOPPED or UNPUBLISHED status); else the
    /// status of our stream it reports, if it is one.
    fn check_status<'e>(&self, event: &'e ServerEvent) -> Result<Option<&'e str>, SignalError> {
        let (ServerEvent::StreamStatus(st), Some(id)) = (event, &self.media_session_id) else {
            return Ok(None);
        };
        if st.media_session_id != *id {
            return Ok(None);
        }
        if st.is_final() {
            return Err(SignalError::Ended {
                status: st.status.clone(),
                info: st.info.clone(),
            });
        }
        Ok(Some(&st.status))
    }
}

impl Signalling for WcsSignalling {
    fn negotiate(
        &mut self,
        role: Role,
        stream: &str,
        offer_sdp: &str,
    ) -> Result<String, SignalError> {
        self.set_blocking()?;
        let id = uuid::Uuid::new_v4().to_string();
        self.media_session_id = Some(id.clone());
        self.current = Some((role, stream.to_owned()));
        let desc = StreamDesc::av(&id, stream);
        let (message, text, success) = match role {
            Role::Publish => (
                "publishStream",
                client::publish_stream(&desc, offer_sdp, None),
                "PUBLISHING",
            ),
            Role::Play => (
                "playStream",
                client::play_stream(&desc, offer_sdp),
                "PLAYING",
            ),
        };
        let answer = self.offer(&id, message, text, success);
        if answer.is_err() {
            // Refused or broken: there is no stream of ours to stop.
            self.media_session_id = None;
            self.current = None;
        }
        answer
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
                Read::Event(event) => {
                    if let Err(e) = self.check_status(&event) {
                        // The server is done with the stream: nothing left to stop.
                        self.media_session_id = None;
                        self.current = None;
                        return Err(e);
                    }
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

    /// Sends the close frame. In blocking mode (after a [`Signalling::stop_stream`]) it also
    /// waits, bounded by [`CLOSE_WAIT`], for the server's close frame, so that the TCP
    /// connection ends with the closing handshake; a session left non-blocking by
    /// [`Signalling::service`] does not wait.
    fn close(&mut self) {
        let _ = self.ws.close(None);
        let _ = self.ws.flush();
        if self.nonblocking {
            return;
        }
        let deadline = Instant::now() + CLOSE_WAIT;
        while let Some(left) = deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
        {
            if self.ws.get_mut().set_read_timeout(Some(left)).is_err() {
                return;
            }
            match self.ws.read() {
                Ok(_) => {}
                Err(tungstenite::Error::Io(e))
                    if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
                {
                    return;
                }
                // ConnectionClosed once the server's close frame arrived, or any error.
                Err(_) => return,
            }
        }
    }

    fn stop_stream(&mut self) -> Result<(), SignalError> {
        let (Some(id), Some((role, name))) = (self.media_session_id.take(), self.current.take())
        else {
            return Ok(());
        };
        self.set_blocking()?;
        let desc = StreamDesc::av(&id, &name);
        let (what, text) = match role {
            Role::Publish => (
                "unPublishStream",
                client::unpublish_stream(&desc, "PUBLISHING"),
            ),
            Role::Play => ("stopStream", client::stop_stream(&desc, "PLAYING")),
        };
        self.send(what, text)?;
        let deadline = Instant::now() + REPLY_TIMEOUT;
        loop {
            if let ServerEvent::StreamStatus(st) = self.recv_until(deadline)? {
                if st.media_session_id == id && st.is_final() {
                    return Ok(());
                }
            }
        }
    }

    fn is_available(&mut self, stream: &str) -> Result<bool, SignalError> {
        WcsSignalling::is_available(self, stream)
    }

    fn poll_closed_silently(&mut self) -> bool {
        let socket = self.ws.get_mut();
        if !self.nonblocking {
            if socket.set_nonblocking(true).is_err() {
                return true;
            }
            self.nonblocking = true;
        }
        // Raw reads: this session will never speak again, so its frames need no parsing.
        let mut buf = [0u8; 4096];
        loop {
            match socket.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => return false,
                Err(_) => return true,
            }
        }
    }
}
