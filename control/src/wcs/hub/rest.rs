//! What the WCS REST API (`/rest-api/stream/*`, `/rest-api/connection/find_all`) sees of the hub
//! and does to it: a snapshot of the streams (publishers and players) matching a
//! [`StreamFilter`], of the connections, and `terminate`, which ends the matching streams as
//! their own clients' stop would, with WCS's "Stopped by rest /terminate" info. Built on request
//! from the hub's records; like the rest of the hub it must not touch sockets or the clock.

use super::state::{Hub, Role, Session};
use crate::sdp::NegotiatedCodec;
use crate::wcs::info;

/// One publisher or player as the REST API shows it (WCS's stream object, the fields we have).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamInfo {
    /// The client's mediaSessionId.
    pub media_session_id: String,
    /// The stream name the client published or asked for (a layer suffix included).
    pub name: String,
    /// A publisher (`true`) or a player.
    pub published: bool,
    /// `PUBLISHING` or `PLAYING` (the hub keeps no session in another state).
    pub status: &'static str,
    /// Whether the negotiated session has audio.
    pub has_audio: bool,
    /// Whether the negotiated session has video.
    pub has_video: bool,
    /// The published stream's audio codec as WCS writes it: `opus/48000/2`.
    pub audio_codec: Option<String>,
    /// The published stream's video codec: `H264/90000`.
    pub video_codec: Option<String>,
    /// The WCS `sessionId` of the client's connection: `/<client>/<server>`.
    pub session_id: String,
}

/// Which streams a find or a terminate selects: every given field must match (none given:
/// every stream).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamFilter {
    /// Exactly this mediaSessionId.
    pub media_session_id: Option<String>,
    /// Exactly this name.
    pub name: Option<String>,
    /// Publishers (`true`) or players (`false`).
    pub published: Option<bool>,
}

impl StreamFilter {
    /// Whether `stream` is selected.
    pub fn matches(&self, stream: &StreamInfo) -> bool {
        self.media_session_id
            .as_ref()
            .is_none_or(|id| *id == stream.media_session_id)
            && self.name.as_ref().is_none_or(|n| *n == stream.name)
            && self.published.is_none_or(|p| p == stream.published)
    }
}

/// One websocket connection as `/rest-api/connection/find_all` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionInfo {
    /// The WCS `sessionId`: `/<client>/<server>`.
    pub session_id: String,
    /// The mediaSessionIds of its publishers and players, sorted.
    pub media_session_ids: Vec<String>,
}

/// A codec as WCS names it in a stream object: `name/clock[/channels]`.
fn codec_name(codec: &NegotiatedCodec) -> String {
    match codec.channels {
        Some(channels) => format!("{}/{}/{channels}", codec.name, codec.clock_rate),
        None => format!("{}/{}", codec.name, codec.clock_rate),
    }
}

impl Hub {
    /// The streams `filter` selects, ordered by name, publisher first, then mediaSessionId.
    pub fn find_streams(&self, filter: &StreamFilter) -> Vec<StreamInfo> {
        let mut found: Vec<StreamInfo> = self
            .sessions
            .iter()
            .map(|(id, s)| self.stream_info(id, s))
            .filter(|s| filter.matches(s))
            .collect();
        found.sort_by(|a, b| {
            (&a.name, !a.published, &a.media_session_id).cmp(&(
                &b.name,
                !b.published,
                &b.media_session_id,
            ))
        });
        found
    }

    /// Every open websocket connection, ordered by sessionId.
    pub fn connections(&self) -> Vec<ConnectionInfo> {
        let mut all: Vec<ConnectionInfo> = self
            .conns
            .values()
            .map(|c| {
                let mut media_session_ids: Vec<String> = c.sessions.iter().cloned().collect();
                media_session_ids.sort();
                ConnectionInfo {
                    session_id: format!("/{}/{}", c.client, c.server),
                    media_session_ids,
                }
            })
            .collect();
        all.sort_by(|a, b| a.session_id.cmp(&b.session_id));
        all
    }

    /// Ends the streams `filter` selects and returns them as they were. A publisher is told
    /// UNPUBLISHED and a player STOPPED, both with "Stopped by rest /terminate"; a publisher's
    /// players are stopped as on `unPublishStream` ("Stopped by publisher stop").
    pub fn terminate(&mut self, filter: &StreamFilter) -> Vec<StreamInfo> {
        let found = self.find_streams(filter);
        for stream in &found {
            let status = if stream.published {
                "UNPUBLISHED"
            } else {
                "STOPPED"
            };
            tracing::info!(name = %stream.name, id = %stream.media_session_id, "terminated by REST");
            // A player of a publisher ended just before is already gone: a no-op then.
            self.end_session(
                &stream.media_session_id,
                Some((status, info::REST_TERMINATED)),
                true,
            );
        }
        found
    }

    fn stream_info(&self, id: &str, s: &Session) -> StreamInfo {
        let media = self.streams.get(&s.stream).map(|st| &st.media);
        StreamInfo {
            media_session_id: id.to_owned(),
            name: s.name.clone(),
            published: s.role == Role::Publisher,
            status: match s.role {
                Role::Publisher => "PUBLISHING",
                Role::Player => "PLAYING",
            },
            has_audio: s.has_audio,
            has_video: s.has_video,
            audio_codec: media
                .and_then(|m| m.audio.as_ref())
                .filter(|_| s.has_audio)
                .map(codec_name),
            video_codec: media
                .and_then(|m| m.video.as_ref())
                .filter(|_| s.has_video)
                .map(codec_name),
            session_id: self
                .conns
                .get(&s.conn)
                .map(|c| format!("/{}/{}", c.client, c.server))
                .unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(id: &str, name: &str, published: bool) -> StreamInfo {
        StreamInfo {
            media_session_id: id.into(),
            name: name.into(),
            published,
            status: if published { "PUBLISHING" } else { "PLAYING" },
            has_audio: true,
            has_video: true,
            audio_codec: None,
            video_codec: None,
            session_id: String::new(),
        }
    }

    #[test]
    fn every_given_field_must_match() {
        let s = stream("a1", "cam", true);
        assert!(StreamFilter::default().matches(&s));
        let by_id = |id: &str| StreamFilter {
            media_session_id: Some(id.into()),
            ..Default::default()
        };
        assert!(by_id("a1").matches(&s));
        assert!(!by_id("a2").matches(&s));
        let by_name = |name: &str, published| StreamFilter {
            name: Some(name.into()),
            published,
            ..Default::default()
        };
        assert!(by_name("cam", None).matches(&s));
        assert!(by_name("cam", Some(true)).matches(&s));
        assert!(!by_name("cam", Some(false)).matches(&s));
        assert!(
            !by_name("Cam", None).matches(&s),
            "names are case-sensitive"
        );
        let player = stream("p1", "cam", false);
        assert!(by_name("cam", Some(false)).matches(&player));
        let both = StreamFilter {
            media_session_id: Some("a1".into()),
            name: Some("other".into()),
            published: None,
        };
        assert!(!both.matches(&s));
    }

    #[test]
    fn codecs_are_named_as_wcs_writes_them() {
        let mut codec = NegotiatedCodec {
            name: "opus".into(),
            payload_type: 111,
            clock_rate: 48_000,
            channels: Some(2),
            fmtp: None,
            extensions: Vec::new(),
        };
        assert_eq!(codec_name(&codec), "opus/48000/2");
        codec.name = "H264".into();
        codec.clock_rate = 90_000;
        codec.channels = None;
        assert_eq!(codec_name(&codec), "H264/90000");
    }
}
