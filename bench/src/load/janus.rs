//! The Janus VideoRoom seam of [`super::signalling`]: Janus's HTTP/JSON API spoken over plain
//! blocking HTTP/1.1 (one short connection per request, `Connection: close`).
//!
//! A publisher creates (or reuses) the room of its stream, joins it as `publisher` with our
//! offer (`joinandconfigure` with jsep) and long-polls the session for the answer. A
//! subscriber looks up the room's publisher (`listparticipants`), joins as `subscriber` with
//! `streams: [{feed}]`, receives an **offer** from Janus and answers it ([`answer_for`]) with
//! our ICE credentials and fingerprint and `a=setup:active` (we stay the DTLS client and the
//! ICE controlling agent: Janus must run with `ice_lite = true`, which `bench/compare.sh`
//! configures). Janus's offer is then handed to the caller in place of an answer: the caller
//! only reads the ICE/DTLS parameters and candidates from it.
//!
//! Owns: one Janus session and handle per client and its keep-alive. Must not touch media
//! sockets or SRTP. Setup blocks (bounded by [`REPLY_TIMEOUT`]); [`Signalling::service`] only
//! sends a keep-alive every [`KEEPALIVE`].

use std::fmt::Write as _;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use control::sdp::{parse_offer, MediaSection, Offer};
use serde_json::{json, Value};

use super::signalling::{resolve, Role, SignalError, Signalling, REPLY_TIMEOUT};

/// Interval of session keep-alives (Janus drops a session after 60 s of silence).
pub const KEEPALIVE: Duration = Duration::from_secs(15);
/// Largest HTTP response read (long-poll batches included).
const MAX_RESPONSE: usize = 1 << 20;
/// The "room already exists" error of the VideoRoom plugin.
const ROOM_EXISTS: i64 = 427;

/// One client's Janus session with one VideoRoom handle.
pub struct JanusSignalling {
    addr: SocketAddr,
    host: String,
    path: String,
    session: u64,
    handle: u64,
    last_keepalive: Instant,
}

/// `http://host:port/path` split into the authority and the path (without trailing `/`).
pub fn split_url(url: &str) -> Result<(&str, &str), SignalError> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| SignalError::Connect(format!("not an http:// URL: {url}")))?;
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = path.trim_end_matches('/');
    Ok((host, if path.is_empty() { "/janus" } else { path }))
}

/// The VideoRoom room number of a stream name (stable, positive, fits Janus's integers).
pub fn room_for(stream: &str) -> u64 {
    // FNV-1a, 32 bits, offset so it never collides with the demo room 1234.
    let mut h: u32 = 0x811c_9dc5;
    for b in stream.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    1_000_000 + u64::from(h)
}

/// The body of an HTTP/1.1 response, de-chunked; `Err` unless the status is 200.
pub fn http_body(response: &[u8]) -> Result<Vec<u8>, SignalError> {
    let bad = |why: &str| SignalError::Protocol(format!("HTTP: {why}"));
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no header end"))?;
    let head = std::str::from_utf8(&response[..split]).map_err(|_| bad("header not UTF-8"))?;
    let body = &response[split + 4..];
    let status = head.lines().next().unwrap_or_default();
    if status.split_whitespace().nth(1) != Some("200") {
        return Err(bad(status));
    }
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    if !chunked {
        return Ok(body.to_vec());
    }
    let mut out = Vec::with_capacity(body.len());
    let mut rest = body;
    loop {
        let line_end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or_else(|| bad("truncated chunk size"))?;
        let size_text = std::str::from_utf8(&rest[..line_end]).map_err(|_| bad("chunk size"))?;
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| bad("chunk size"))?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        let chunk = rest.get(..size).ok_or_else(|| bad("truncated chunk"))?;
        out.extend_from_slice(chunk);
        rest = rest.get(size + 2..).ok_or_else(|| bad("truncated chunk"))?;
    }
}

/// Our offer with `a=setup:active`: Janus answering `actpass` would take the DTLS client role,
/// which our client keeps for itself.
pub fn offer_as_active(offer_sdp: &str) -> String {
    offer_sdp.replace("a=setup:actpass", "a=setup:active")
}

/// A receive-only answer to Janus's subscriber `offer`: the first codec of every audio/video
/// section, our ICE credentials, fingerprint and host candidate (from our own offer `ours`),
/// `a=setup:active`, every other section rejected.
pub fn answer_for(offer: &Offer, ours: &Offer) -> String {
    let mut out = String::with_capacity(1024);
    out.push_str("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n");
    let accepted: Vec<&MediaSection> = offer
        .sections
        .iter()
        .filter(|s| accept(s).is_some())
        .collect();
    let mids: Vec<&str> = accepted.iter().filter_map(|s| s.mid.as_deref()).collect();
    if !mids.is_empty() {
        let _ = write!(out, "a=group:BUNDLE {}\r\n", mids.join(" "));
    }
    let fingerprint: String = ours
        .fingerprint
        .digest
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":");
    for section in &offer.sections {
        let Some(codec) = accept(section) else {
            let formats = section.formats.join(" ");
            let _ = write!(
                out,
                "m={} 0 {} {formats}\r\nc=IN IP4 0.0.0.0\r\n",
                section.media, section.protocol
            );
            if let Some(mid) = &section.mid {
                let _ = write!(out, "a=mid:{mid}\r\n");
            }
            continue;
        };
        let _ = write!(
            out,
            "m={} 9 {} {}\r\nc=IN IP4 0.0.0.0\r\n",
            section.media, section.protocol, codec.payload_type
        );
        let _ = write!(
            out,
            "a=ice-ufrag:{}\r\na=ice-pwd:{}\r\na=fingerprint:{} {fingerprint}\r\na=setup:active\r\n",
            ours.ufrag, ours.pwd, ours.fingerprint.algorithm
        );
        if let Some(mid) = &section.mid {
            let _ = write!(out, "a=mid:{mid}\r\n");
        }
        out.push_str("a=recvonly\r\na=rtcp-mux\r\n");
        let _ = write!(
            out,
            "a=rtpmap:{} {}/{}",
            codec.payload_type, codec.name, codec.clock_rate
        );
        if let Some(ch) = codec.channels {
            let _ = write!(out, "/{ch}");
        }
        out.push_str("\r\n");
        if let Some(fmtp) = &codec.fmtp {
            let _ = write!(out, "a=fmtp:{} {fmtp}\r\n", codec.payload_type);
        }
        if let Some(c) = ours.sections.iter().flat_map(|s| &s.candidates).next() {
            control::sdp::candidate_lines(&mut out, c.addr);
        }
    }
    out
}

/// The codec we accept in `section`: its first one, for an active audio or video section.
fn accept(section: &MediaSection) -> Option<&control::sdp::Codec> {
    section.kind()?;
    if !section.is_active() {
        return None;
    }
    section
        .formats
        .iter()
        .find_map(|f| section.codec(f.parse().ok()?))
}

fn transaction() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// `Err` for a Janus `error` reply, else the reply.
fn janus_ok(reply: Value) -> Result<Value, SignalError> {
    if reply["janus"] == "error" {
        return Err(SignalError::Refused(format!(
            "janus error {}: {}",
            reply["error"]["code"], reply["error"]["reason"]
        )));
    }
    Ok(reply)
}

/// The VideoRoom plugin's payload of an event or synchronous reply; `Err` for its errors
/// other than `tolerated`.
fn plugin_data(reply: &Value, tolerated: Option<i64>) -> Result<&Value, SignalError> {
    let data = &reply["plugindata"]["data"];
    if data["videoroom"] == "event" && !data["error_code"].is_null() {
        if data["error_code"].as_i64() == tolerated && tolerated.is_some() {
            return Ok(data);
        }
        return Err(SignalError::Refused(format!(
            "videoroom {}: {}",
            data["error_code"], data["error"]
        )));
    }
    Ok(data)
}

impl JanusSignalling {
    /// Creates a session at `url` (`http://host:port/janus`) and attaches the VideoRoom
    /// plugin.
    pub fn connect(url: &str) -> Result<Self, SignalError> {
        let (host, path) = split_url(url)?;
        let addr = resolve(host).map_err(SignalError::Connect)?;
        let mut this = JanusSignalling {
            addr,
            host: host.to_owned(),
            path: path.to_owned(),
            session: 0,
            handle: 0,
            last_keepalive: Instant::now(),
        };
        let path = this.path.clone();
        let created = this.post(&path, json!({ "janus": "create" }))?;
        this.session = created["data"]["id"]
            .as_u64()
            .ok_or_else(|| SignalError::Protocol("create: no session id".into()))?;
        let attached = this.post(
            &this.session_path(),
            json!({ "janus": "attach", "plugin": "janus.plugin.videoroom" }),
        )?;
        this.handle = attached["data"]["id"]
            .as_u64()
            .ok_or_else(|| SignalError::Protocol("attach: no handle id".into()))?;
        Ok(this)
    }

    fn session_path(&self) -> String {
        format!("{}/{}", self.path, self.session)
    }

    fn handle_path(&self) -> String {
        format!("{}/{}/{}", self.path, self.session, self.handle)
    }

    /// One HTTP request; the parsed JSON reply (`Err` for a Janus error reply).
    fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        timeout: Duration,
    ) -> Result<Value, SignalError> {
        let io = |e: std::io::Error| SignalError::Connect(format!("{}: {e}", self.addr));
        let mut stream = TcpStream::connect_timeout(&self.addr, REPLY_TIMEOUT).map_err(io)?;
        stream.set_read_timeout(Some(timeout)).map_err(io)?;
        stream.set_write_timeout(Some(REPLY_TIMEOUT)).map_err(io)?;
        let body = body.map(Value::to_string).unwrap_or_default();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.host,
            body.len()
        );
        stream.write_all(head.as_bytes()).map_err(io)?;
        stream.write_all(body.as_bytes()).map_err(io)?;
        let mut response = Vec::with_capacity(4096);
        (&mut stream)
            .take(MAX_RESPONSE as u64)
            .read_to_end(&mut response)
            .map_err(io)?;
        let body = http_body(&response)?;
        let value: Value = serde_json::from_slice(&body)
            .map_err(|e| SignalError::Protocol(format!("not JSON: {e}")))?;
        janus_ok(value)
    }

    fn post(&self, path: &str, mut body: Value) -> Result<Value, SignalError> {
        body["transaction"] = Value::String(transaction());
        self.request("POST", path, Some(&body), REPLY_TIMEOUT)
    }

    /// A plugin message (with an optional jsep); the synchronous reply.
    fn message(&self, body: Value, jsep: Option<Value>) -> Result<Value, SignalError> {
        let mut msg = json!({ "janus": "message", "body": body });
        if let Some(jsep) = jsep {
            msg["jsep"] = jsep;
        }
        self.post(&self.handle_path(), msg)
    }

    /// Long-polls the session until `pick` accepts an event (before `deadline`).
    fn wait_event<T>(
        &self,
        deadline: Instant,
        mut pick: impl FnMut(&Value) -> Result<Option<T>, SignalError>,
    ) -> Result<T, SignalError> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(SignalError::Protocol("no Janus event in time".into()));
            }
            let path = format!("{}?maxev=10&rid={}", self.session_path(), transaction());
            let reply = match self.request("GET", &path, None, left) {
                Ok(v) => v,
                Err(SignalError::Connect(e)) if e.contains("timed out") => continue,
                Err(SignalError::Connect(e)) if e.contains("would block") => continue,
                Err(e) => return Err(e),
            };
            let events = match reply {
                Value::Array(v) => v,
                one => vec![one],
            };
            for ev in &events {
                if ev["janus"] == "hangup" || ev["janus"] == "detached" {
                    return Err(SignalError::Closed);
                }
                if let Some(t) = pick(ev)? {
                    return Ok(t);
                }
            }
        }
    }

    /// The id of the first publisher in `room`, waiting for one until `deadline`.
    fn publisher_in(&self, room: u64, deadline: Instant) -> Result<u64, SignalError> {
        loop {
            let reply =
                self.message(json!({ "request": "listparticipants", "room": room }), None)?;
            let data = plugin_data(&reply, None)?;
            let found = data["participants"].as_array().and_then(|ps| {
                ps.iter()
                    .find(|p| p["publisher"].as_bool().unwrap_or(false))
                    .and_then(|p| p["id"].as_u64())
            });
            if let Some(id) = found {
                return Ok(id);
            }
            if Instant::now() >= deadline {
                return Err(SignalError::Refused(format!("no publisher in room {room}")));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn publish(&mut self, room: u64, stream: &str, offer_sdp: &str) -> Result<String, SignalError> {
        let deadline = Instant::now() + REPLY_TIMEOUT;
        let created = self.message(
            json!({
                "request": "create",
                "room": room,
                "publishers": 4,
                "audiocodec": "opus",
                "videocodec": "vp8",
                "notify_joining": false,
            }),
            None,
        )?;
        plugin_data(&created, Some(ROOM_EXISTS))?;
        let reply = self.message(
            json!({
                "request": "joinandconfigure",
                "room": room,
                "ptype": "publisher",
                "display": stream,
                "audio": true,
                "video": true,
            }),
            Some(json!({ "type": "offer", "sdp": offer_as_active(offer_sdp) })),
        )?;
        let answer = match reply["jsep"]["sdp"].as_str() {
            Some(sdp) => sdp.to_owned(),
            None => self.wait_event(deadline, |ev| {
                plugin_data(ev, None)?;
                Ok(ev["jsep"]["sdp"].as_str().map(str::to_owned))
            })?,
        };
        if std::env::var_os("RTCDN_LOAD_DEBUG").is_some() {
            eprintln!("janus answer:\n{answer}");
        }
        self.trickle_done()?;
        Ok(answer)
    }

    fn play(&mut self, room: u64, offer_sdp: &str) -> Result<String, SignalError> {
        let deadline = Instant::now() + REPLY_TIMEOUT;
        let ours = parse_offer(offer_sdp)
            .map_err(|e| SignalError::Protocol(format!("our own offer: {e}")))?;
        let feed = self.publisher_in(room, deadline)?;
        let reply = self.message(
            json!({
                "request": "join",
                "room": room,
                "ptype": "subscriber",
                "streams": [{ "feed": feed }],
            }),
            None,
        )?;
        let janus_offer = match reply["jsep"]["sdp"].as_str() {
            Some(sdp) => sdp.to_owned(),
            None => self.wait_event(deadline, |ev| {
                plugin_data(ev, None)?;
                Ok(ev["jsep"]["sdp"].as_str().map(str::to_owned))
            })?,
        };
        let offer = parse_offer(&janus_offer)
            .map_err(|e| SignalError::Protocol(format!("Janus offer: {e}")))?;
        let answer = answer_for(&offer, &ours);
        let started = self.message(
            json!({ "request": "start" }),
            Some(json!({ "type": "answer", "sdp": answer })),
        )?;
        if plugin_data(&started, None)?["started"].is_null() {
            self.wait_event(deadline, |ev| {
                let data = plugin_data(ev, None)?;
                Ok((!data["started"].is_null()).then_some(()))
            })?;
        }
        self.trickle_done()?;
        Ok(janus_offer)
    }

    /// Tells Janus we have no more candidates (it learns ours peer-reflexively).
    fn trickle_done(&self) -> Result<(), SignalError> {
        self.post(
            &self.handle_path(),
            json!({ "janus": "trickle", "candidate": { "completed": true } }),
        )
        .map(drop)
    }
}

impl Signalling for JanusSignalling {
    fn negotiate(
        &mut self,
        role: Role,
        stream: &str,
        offer_sdp: &str,
    ) -> Result<String, SignalError> {
        let room = room_for(stream);
        let sdp = match role {
            Role::Publish => self.publish(room, stream, offer_sdp)?,
            Role::Play => self.play(room, offer_sdp)?,
        };
        self.last_keepalive = Instant::now();
        Ok(sdp)
    }

    fn service(&mut self) -> Result<(), SignalError> {
        if self.last_keepalive.elapsed() < KEEPALIVE {
            return Ok(());
        }
        self.last_keepalive = Instant::now();
        match self.post(&self.session_path(), json!({ "janus": "keepalive" })) {
            Ok(_) => Ok(()),
            Err(SignalError::Refused(_)) => Err(SignalError::Closed),
            Err(e) => Err(e),
        }
    }

    fn close(&mut self) {
        let _ = self.post(&self.session_path(), json!({ "janus": "destroy" }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JANUS_OFFER: &str = "v=0\r\no=- 1 1 IN IP4 10.99.0.1\r\ns=VideoRoom 1\r\nt=0 0\r\n\
a=group:BUNDLE 0 1 2\r\na=ice-lite\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 10.99.0.1\r\na=sendonly\r\na=mid:0\r\na=rtcp-mux\r\n\
a=ice-ufrag:Jx1f\r\na=ice-pwd:abcdefghijklmnopqrstuv\r\n\
a=fingerprint:sha-256 AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99\r\n\
a=setup:actpass\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 useinbandfec=1\r\na=ssrc:11 cname:janus\r\n\
a=candidate:1 1 udp 2015363327 10.99.0.1 40000 typ host\r\n\
m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 10.99.0.1\r\na=sendonly\r\na=mid:1\r\na=rtcp-mux\r\n\
a=ice-ufrag:Jx1f\r\na=ice-pwd:abcdefghijklmnopqrstuv\r\n\
a=fingerprint:sha-256 AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99\r\n\
a=setup:actpass\r\na=rtpmap:96 VP8/90000\r\na=ssrc:22 cname:janus\r\n\
m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 10.99.0.1\r\na=mid:2\r\n\
a=ice-ufrag:Jx1f\r\na=ice-pwd:abcdefghijklmnopqrstuv\r\n\
a=fingerprint:sha-256 AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99\r\n\
a=setup:actpass\r\na=sctp-port:5000\r\n";

    fn our_offer() -> Offer {
        use control::sdp::{build_offer, OfferSpec};
        let fp = dataplane::api::Fingerprint {
            algorithm: "sha-256".into(),
            digest: (0u8..32).collect(),
        };
        let mut spec = OfferSpec::play("ourufrag", "ourpasswordourpassword", fp);
        spec.candidate = Some("10.99.0.2:40123".parse().unwrap());
        parse_offer(&build_offer(&spec)).expect("our offer parses")
    }

    #[test]
    fn answer_mirrors_janus_offer() {
        let offer = parse_offer(JANUS_OFFER).expect("Janus offer parses");
        let answer = answer_for(&offer, &our_offer());
        let parsed = parse_offer(&answer).expect("answer parses as SDP");
        assert_eq!(parsed.sections.len(), 3, "one section per offered section");
        assert_eq!(parsed.ufrag, "ourufrag");
        assert_eq!(parsed.fingerprint.digest, (0u8..32).collect::<Vec<_>>());
        assert_eq!(
            parsed.bundle.as_deref(),
            Some(&["0".into(), "1".into()][..])
        );
        let audio = &parsed.sections[0];
        assert_eq!(audio.codecs[0].name, "opus");
        assert_eq!(audio.codecs[0].channels, Some(2));
        assert_eq!(audio.setup.as_deref(), Some("active"));
        assert_eq!(audio.direction.as_str(), "recvonly");
        assert_eq!(parsed.sections[1].codecs[0].name, "VP8");
        assert_eq!(parsed.sections[2].port, 0, "data channel rejected");
        let ours: Vec<_> = parsed.sections[1]
            .candidates
            .iter()
            .map(|c| c.addr)
            .collect();
        assert_eq!(ours, vec!["10.99.0.2:40123".parse::<SocketAddr>().unwrap()]);
        assert_eq!(parsed.sections[2].mid.as_deref(), Some("2"));
        // The caller reads Janus's parameters from its offer.
        let remote = control::sdp::parse_answer(JANUS_OFFER).expect("readable as answer");
        assert_eq!(remote.ufrag, "Jx1f");
        assert_eq!(
            remote.candidates,
            vec!["10.99.0.1:40000".parse::<SocketAddr>().unwrap()]
        );
    }

    #[test]
    fn publisher_offer_becomes_active() {
        let sdp = "a=setup:actpass\r\nm=video\r\na=setup:actpass\r\n";
        assert_eq!(
            offer_as_active(sdp),
            "a=setup:active\r\nm=video\r\na=setup:active\r\n"
        );
    }

    #[test]
    fn http_bodies() {
        let plain = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
        assert_eq!(http_body(plain).unwrap(), b"{}");
        let chunked =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n4\r\n\":1}\r\n0\r\n\r\n";
        assert_eq!(http_body(chunked).unwrap(), b"{\"a\":1}");
        assert!(http_body(b"HTTP/1.1 404 Not Found\r\n\r\n").is_err());
        assert!(http_body(b"HTTP/1.1 200 OK\r\n").is_err(), "no header end");
        let truncated = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nff\r\nab";
        assert!(http_body(truncated).is_err());
        let garbage = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
        assert!(http_body(garbage).is_err());
        assert!(http_body(b"").is_err());
    }

    #[test]
    fn urls_and_rooms() {
        assert_eq!(
            split_url("http://10.0.0.1:8088/janus").unwrap(),
            ("10.0.0.1:8088", "/janus")
        );
        assert_eq!(
            split_url("http://h:1").unwrap(),
            ("h:1", "/janus"),
            "default path"
        );
        assert!(split_url("ws://h:1").is_err());
        assert_eq!(room_for("load-0"), room_for("load-0"));
        assert_ne!(room_for("load-0"), room_for("load-1"));
        assert!(room_for("x") > 1234);
    }

    #[test]
    fn janus_errors() {
        let err = json!({"janus": "error", "error": {"code": 458, "reason": "No such session"}});
        assert!(matches!(janus_ok(err), Err(SignalError::Refused(_))));
        let exists = json!({"plugindata": {"data": {"videoroom": "event", "error_code": 427, "error": "exists"}}});
        assert!(plugin_data(&exists, Some(ROOM_EXISTS)).is_ok());
        assert!(plugin_data(&exists, None).is_err());
        let ok = json!({"plugindata": {"data": {"videoroom": "joined", "id": 5}}});
        assert_eq!(plugin_data(&ok, None).unwrap()["id"], 5);
    }
}
