//! Target `sdp`: an SDP offer as a client sends it in `publishStream`/`playStream`, and an
//! answer as another node returns it to the relay.
//!
//! The text is parsed as an offer and answered every way the server answers one: as a
//! publisher's (with each video codec preference, with and without transport-wide feedback,
//! with bitrate bounds), then the media that publisher negotiated is offered to a real Chrome
//! player; as a player's of the real Chrome, Chrome simulcast and Firefox publishers. Every
//! answer we produce must parse again as an answer. The text is also parsed as an answer.

use std::sync::OnceLock;

use control::config::VideoCodec;
use control::sdp::{
    answer_play, answer_publish_with_policy, parse_answer, parse_offer, Offer, PublishPolicy,
    PublishedMedia,
};

use crate::world;

pub fn run(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    offer(text);
    let _ = parse_answer(text);
}

/// Parses `text` as an offer and answers it every way we answer offers.
pub(crate) fn offer(text: &str) {
    let Ok(offer) = parse_offer(text) else {
        return;
    };
    let local = world::local();
    let bounded = PublishPolicy {
        transport_cc: false,
        remb: true,
        min_bitrate: Some(300_000),
        max_bitrate: Some(2_500_000),
        start_bitrate: Some(800_000),
    };
    let preferences: [(&[VideoCodec], PublishPolicy); 3] = [
        (&VideoCodec::ALL, PublishPolicy::default()),
        (&[VideoCodec::Vp8, VideoCodec::Av1], bounded),
        (
            &[VideoCodec::Vp9, VideoCodec::H264],
            PublishPolicy::default(),
        ),
    ];
    for (prefs, policy) in preferences {
        if let Ok(n) = answer_publish_with_policy(&offer, prefs, &policy, &local) {
            check_answer(&n.answer);
            if let Ok(play) = answer_play(chrome_player(), &n.media, &local) {
                check_answer(&play.answer);
            }
        }
    }
    for media in published() {
        if let Ok(n) = answer_play(&offer, media, &local) {
            check_answer(&n.answer);
        }
    }
}

/// An answer we wrote must read back.
fn check_answer(answer: &str) {
    if let Err(e) = parse_answer(answer) {
        panic!("our answer does not parse ({e}):\n{answer}");
    }
}

fn chrome_player() -> &'static Offer {
    static OFFER: OnceLock<Offer> = OnceLock::new();
    OFFER.get_or_init(|| parse_offer(world::CHROME_PLAY).expect("fixture play offer"))
}

/// What the real publishers of the fixtures send.
fn published() -> &'static [PublishedMedia] {
    static MEDIA: OnceLock<Vec<PublishedMedia>> = OnceLock::new();
    MEDIA.get_or_init(|| {
        [
            (world::CHROME_PUBLISH, VideoCodec::H264),
            (world::CHROME_SIMULCAST, VideoCodec::Vp8),
            (world::FIREFOX_PUBLISH, VideoCodec::Vp8),
        ]
        .into_iter()
        .map(|(sdp, codec)| {
            let offer = parse_offer(sdp).expect("fixture offer");
            answer_publish_with_policy(&offer, &[codec], &PublishPolicy::default(), &world::local())
                .expect("fixture answer")
                .media
        })
        .collect()
    })
}
