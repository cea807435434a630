//! Synthetic publisher media for the CDN tests: VP8-shaped video (a keyframe every
//! `key_every` packets) and Opus-sized audio, each payload unique and tagged, and the checks
//! that players received exactly what was sent.
#![allow(dead_code)] // not every test binary uses every helper

use std::time::{Duration, Instant};

use control::sdp::{Codec, OfferSpec};
use dataplane::dtls::DtlsCertificate;

use super::media::{join, parse_rtp, pump_until, rtp_packet, Joined, MediaPeer};
use super::ServerProcess;

/// A packet pair factory: `next` gives the `n`-th video and audio packet.
pub struct Source {
    /// The next packet number (sequence numbers and timestamps follow it).
    pub n: u32,
    /// Every `key_every`-th video packet starts a VP8 keyframe.
    pub key_every: u32,
    /// Written into every payload, so packets of two sources can be told apart.
    pub tag: &'static str,
    pub audio_ssrc: u32,
    pub video_ssrc: u32,
}

impl Source {
    pub fn new(tag: &'static str, audio_ssrc: u32, video_ssrc: u32) -> Self {
        Source {
            n: 0,
            key_every: 10,
            tag,
            audio_ssrc,
            video_ssrc,
        }
    }

    /// A browser-like publish offer announcing this source's SSRCs (VP8 96, Opus 111).
    pub fn publish_spec(&self, cert: &DtlsCertificate) -> OfferSpec {
        OfferSpec::publish(
            "pubufrag",
            "publisher-password-0123456789",
            cert.fingerprint(),
            Codec::vp8(96),
            self.audio_ssrc,
            self.video_ssrc,
        )
    }

    /// The same stream continued (sequence numbers go on) under another tag.
    pub fn retagged(&self, tag: &'static str) -> Self {
        Source { tag, ..*self }
    }

    /// The next video and audio packet (full RTP, `[video, audio]`) and their payloads.
    pub fn next(&mut self) -> ([Vec<u8>; 2], [Vec<u8>; 2]) {
        let n = self.n;
        self.n += 1;
        let mut video = if n.is_multiple_of(self.key_every) {
            vec![0x10, 0x00, 0x9d, 0x01, 0x2a]
        } else {
            vec![0x00, 0x01]
        };
        video.extend_from_slice(format!("{}-video-{n}", self.tag).as_bytes());
        let audio = format!("{}-audio-{n}", self.tag).into_bytes();
        let seq = (n & 0xffff) as u16;
        let v = rtp_packet(96, seq, 3000 * n, self.video_ssrc, true, &video);
        let a = rtp_packet(111, seq, 960 * n, self.audio_ssrc, false, &audio);
        ([v, a], [video, audio])
    }

    /// Sends one packet pair over a WebRTC publisher; returns the payloads `[video, audio]`.
    pub fn send(&mut self, publisher: &mut MediaPeer) -> [Vec<u8>; 2] {
        let (packets, payloads) = self.next();
        for p in &packets {
            publisher.send_rtp(p);
        }
        payloads
    }
}

/// Whether `player` received a video packet (video starts at a keyframe; audio does not wait).
pub fn has_video(player: &Joined) -> bool {
    let pt = player.answer.video.as_ref().map(|v| v.codec.payload_type);
    player.peer.rtp.iter().any(|p| Some(parse_rtp(p).pt) == pt)
}

/// Streams from `source` until every player got a video packet (at most 10 s).
pub fn warm_up(publisher: &mut MediaPeer, players: &mut [&mut Joined], source: &mut Source) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !players.iter().all(|p| has_video(p)) {
        assert!(
            Instant::now() < deadline,
            "no video on the players: {:?}",
            players.iter().map(|p| p.peer.rtp.len()).collect::<Vec<_>>()
        );
        source.send(publisher);
        publisher.pump();
        for p in players.iter_mut() {
            p.peer.pump();
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Checks that player `i` got exactly `sent` (`[video, audio]` payload pairs, in order) under
/// its own payload types and SSRCs, and nothing else.
pub fn assert_byte_exact(i: usize, player: &Joined, sent: &[[Vec<u8>; 2]]) {
    let a = player.answer.audio.as_ref().expect("audio answered");
    let v = player.answer.video.as_ref().expect("video answered");
    let (mut video, mut audio) = (Vec::new(), Vec::new());
    for p in &player.peer.rtp {
        let rtp = parse_rtp(p);
        if rtp.pt == v.codec.payload_type {
            assert_eq!(Some(rtp.ssrc), v.ssrc, "player {i}: its own video SSRC");
            video.push(rtp.payload);
        } else if rtp.pt == a.codec.payload_type {
            assert_eq!(Some(rtp.ssrc), a.ssrc, "player {i}: its own audio SSRC");
            audio.push(rtp.payload);
        } else {
            panic!("player {i}: unexpected payload type {}", rtp.pt);
        }
    }
    let want_video: Vec<_> = sent.iter().map(|[v, _]| v.clone()).collect();
    let want_audio: Vec<_> = sent.iter().map(|[_, a]| a.clone()).collect();
    assert_eq!(
        video, want_video,
        "player {i}: every video packet, byte-exact"
    );
    assert_eq!(
        audio, want_audio,
        "player {i}: every audio packet, byte-exact"
    );
}

/// Streams from `source` over `publisher` (which keeps its ICE consent fresh meanwhile) until
/// `done` holds, asking it every 200 ms; panics with `what` after `bound`.
pub fn stream_until(
    publisher: &mut MediaPeer,
    source: &mut Source,
    (what, bound): (&str, Duration),
    mut done: impl FnMut() -> bool,
) {
    let deadline = Instant::now() + bound;
    loop {
        if done() {
            return;
        }
        assert!(Instant::now() < deadline, "{what} within {bound:?}");
        let until = Instant::now() + Duration::from_millis(200);
        while Instant::now() < until {
            source.send(publisher);
            pump_until(&mut [&mut *publisher], Duration::from_millis(20), |_| false);
        }
    }
}

/// Sends `count` more packet pairs from `source` (sequence numbers continue) and checks that
/// every player receives exactly them, byte-exact, in order, with its own payload types and
/// SSRCs.
pub fn check_byte_exact(
    publisher: &mut Joined,
    players: &mut [&mut Joined],
    source: &mut Source,
    count: u32,
) {
    // Let warm-up packets drain, then start from a clean slate.
    {
        let mut all: Vec<&mut MediaPeer> = players.iter_mut().map(|p| &mut p.peer).collect();
        all.push(&mut publisher.peer);
        pump_until(&mut all, Duration::from_millis(300), |_| false);
    }
    for p in players.iter_mut() {
        p.peer.rtp.clear();
    }
    let mut sent = Vec::new();
    for _ in 0..count {
        sent.push(source.send(&mut publisher.peer));
        publisher.peer.pump();
        for p in players.iter_mut() {
            p.peer.pump();
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let want = 2 * count as usize;
    let mut all: Vec<&mut MediaPeer> = players.iter_mut().map(|p| &mut p.peer).collect();
    let got = pump_until(&mut all, Duration::from_secs(5), |ps| {
        ps.iter().all(|p| p.rtp.len() >= want)
    });
    assert!(
        got,
        "players received {:?} of {want} packets: {:?}",
        all.iter().map(|p| p.rtp.len()).collect::<Vec<_>>(),
        all.iter()
            .map(|p| p
                .rtp
                .iter()
                .map(|r| String::from_utf8_lossy(&parse_rtp(r).payload).into_owned())
                .collect::<Vec<_>>())
            .collect::<Vec<_>>()
    );
    for (i, player) in players.iter().enumerate() {
        assert_byte_exact(i, player, &sent);
    }
}

/// A player of `name` on `edge` (`tag` names its ICE credentials) that connected and received
/// video from `source`; returns it.
pub fn play_on_edge(
    edge: &ServerProcess,
    name: &str,
    tag: &str,
    publisher: &mut Joined,
    source: &mut Source,
    cert: &DtlsCertificate,
) -> Joined {
    let spec = OfferSpec::play(
        &format!("{tag}ufr"),
        &format!("{tag}-player-password-012345"),
        cert.fingerprint(),
    );
    let mut player = join(edge, name, &spec, cert, false);
    let connected = pump_until(
        &mut [&mut player.peer, &mut publisher.peer],
        Duration::from_secs(10),
        |ps| ps.iter().all(|p| p.conn.is_connected()),
    );
    assert!(connected, "{tag}: ICE+DTLS with the edge did not complete");
    warm_up(&mut publisher.peer, &mut [&mut player], source);
    player
}
