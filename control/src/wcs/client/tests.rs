//! The client frames field by field against what the Web SDK sends (wcs-protocol.md §2), and the
//! reading of every server message a client acts on, including the malformed ones.

use super::*;
use crate::wcs::messages::{self, ClientMessage};

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).expect("a client frame is JSON")
}

const CAM: StreamDesc<'static> = StreamDesc {
    media_session_id: "m-1",
    name: "cam",
    has_audio: true,
    has_video: false,
};

#[test]
fn browser_connection_has_the_sdk_fields() {
    assert_eq!(
        json_of(&connection(&Hello::browser("rtcdn-tests"))),
        json!({"message": "connection", "data": [{
            "appKey": "defaultApp",
            "mediaProviders": ["WebRTC"],
            "clientVersion": "2.0",
            "clientOSVersion": "5.0 (X11; Linux x86_64)",
            "clientBrowserVersion": "Mozilla/5.0 (X11; Linux x86_64) rtcdn-tests",
            "msePacketizationVersion": 2,
            "clientInfo": {},
        }]})
    );
}

#[test]
fn relay_connection_is_minimal_and_marked() {
    assert_eq!(
        json_of(&connection(&Hello::relay())),
        json!({"message": "connection", "data": [{
            "appKey": "defaultApp",
            "mediaProviders": ["WebRTC"],
            "clientVersion": "2.0",
            "custom": {"rtcdnRelay": true},
        }]})
    );
}

#[test]
fn publish_has_the_sdk_fields_in_its_order() {
    let text = publish_stream(&CAM, "v=0\r\n", None);
    assert_eq!(
        text,
        "{\"message\":\"publishStream\",\"data\":[{\"mediaSessionId\":\"m-1\",\"name\":\"cam\",\
         \"published\":true,\"hasVideo\":false,\"hasAudio\":true,\"status\":\"PENDING\",\
         \"record\":false,\"mediaProvider\":\"WebRTC\",\"sdp\":\"v=0\\r\\n\",\"bitrate\":0,\
         \"minBitrate\":0,\"maxBitrate\":0}]}"
    );
    // `custom` follows the SDP, as in the SDK.
    let custom = json!({"rtcdnRelay": {"distribution": "rtp"}});
    let text = publish_stream(&CAM, "v=0", Some(&custom));
    assert!(
        text.contains(r#""sdp":"v=0","custom":{"rtcdnRelay":{"distribution":"rtp"}},"bitrate":0,"#),
        "{text}"
    );
    let v = json_of(&text);
    assert_eq!(v["data"][0]["custom"], custom);
    assert_eq!(v["data"].as_array().map(Vec::len), Some(1));
}

#[test]
fn play_adds_size_and_quality() {
    let player = StreamDesc::av("p-1", "cam");
    assert_eq!(
        json_of(&play_stream(&player, "v=0")),
        json!({"message": "playStream", "data": [{
            "mediaSessionId": "p-1",
            "name": "cam",
            "published": false,
            "hasVideo": true,
            "hasAudio": true,
            "status": "PENDING",
            "record": false,
            "width": 0,
            "height": 0,
            "mediaProvider": "WebRTC",
            "sdp": "v=0",
            "bitrate": 0,
            "minBitrate": 0,
            "maxBitrate": 0,
            "quality": 0,
        }]})
    );
}

#[test]
fn stop_messages_carry_the_current_status() {
    assert_eq!(
        json_of(&unpublish_stream(&CAM, "PUBLISHING")),
        json!({"message": "unPublishStream", "data": [{
            "mediaSessionId": "m-1", "name": "cam", "published": true,
            "hasVideo": false, "hasAudio": true, "status": "PUBLISHING", "record": false,
        }]})
    );
    assert_eq!(
        json_of(&stop_stream(&StreamDesc::av("p-1", "cam"), "PLAYING")),
        json!({"message": "stopStream", "data": [{
            "mediaSessionId": "p-1", "name": "cam", "published": false,
            "hasVideo": true, "hasAudio": true, "status": "PLAYING", "record": false,
        }]})
    );
}

#[test]
fn probe_and_pong_frames() {
    assert_eq!(
        json_of(&available_stream("probe", "cam")),
        json!({"message": "availableStream", "data": [{"mediaSessionId": "probe", "name": "cam"}]})
    );
    assert_eq!(pong(), r#"{"message":"pong","data":[null]}"#);
    assert_eq!(
        json_of(&frame("sendStreamEvent", &json!({"type": "data"}))),
        json!({"message": "sendStreamEvent", "data": [{"type": "data"}]})
    );
}

#[test]
fn our_server_reads_every_client_frame() {
    let Ok(ClientMessage::PublishStream(p)) =
        messages::parse_client(&publish_stream(&CAM, "v=0", None))
    else {
        panic!("publishStream not understood");
    };
    assert_eq!(
        (p.media_session_id.as_str(), p.name.as_str(), p.published),
        ("m-1", "cam", true)
    );
    assert_eq!(
        (p.has_audio, p.has_video, p.sdp.as_deref()),
        (Some(true), Some(false), Some("v=0"))
    );
    let Ok(ClientMessage::PlayStream(p)) =
        messages::parse_client(&play_stream(&StreamDesc::av("p", "cam"), "v=0"))
    else {
        panic!("playStream not understood");
    };
    assert!(!p.published);
    assert!(matches!(
        messages::parse_client(&unpublish_stream(&CAM, "PUBLISHING")),
        Ok(ClientMessage::UnPublishStream(_))
    ));
    assert!(matches!(
        messages::parse_client(&stop_stream(&CAM, "PLAYING")),
        Ok(ClientMessage::StopStream(_))
    ));
    assert!(matches!(
        messages::parse_client(&available_stream("a", "cam")),
        Ok(ClientMessage::AvailableStream(_))
    ));
    assert_eq!(
        messages::parse_client(&pong()).unwrap(),
        ClientMessage::Ignored("pong")
    );
    let Ok(ClientMessage::Connection(hello)) = messages::parse_client(&connection(&Hello::relay()))
    else {
        panic!("connection not understood");
    };
    assert_eq!(hello["custom"]["rtcdnRelay"], true);
}

#[test]
fn reads_what_our_server_sends() {
    let read = |m: messages::ServerMessage| parse_server(&m.to_json()).unwrap();
    assert_eq!(read(messages::ping()), ServerEvent::Ping);
    assert_eq!(
        read(messages::set_remote_sdp("m-1", "v=0")),
        ServerEvent::RemoteSdp {
            media_session_id: "m-1".into(),
            sdp: "v=0".into()
        }
    );
    let status = messages::StreamStatus {
        media_session_id: "m-1",
        name: "cam",
        published: false,
        has_audio: true,
        has_video: true,
        status: "FAILED",
        info: "Stream not found",
    };
    let ServerEvent::StreamStatus(st) = read(messages::stream_status(&status)) else {
        panic!("not a status");
    };
    assert_eq!(
        st,
        StreamStatusEvent {
            media_session_id: "m-1".into(),
            status: "FAILED".into(),
            info: "Stream not found".into()
        }
    );
    assert!(st.is_final());
    assert_eq!(
        read(messages::available_stream("probe", true, "Available")),
        ServerEvent::Available {
            id: "probe".into(),
            available: true,
            info: "Available".into()
        }
    );
    assert_eq!(
        read(messages::fail("publishStream", "Bad payload")),
        ServerEvent::Fail {
            api_method: "publishStream".into(),
            info: "Bad payload".into()
        }
    );
    let user = read(messages::get_user_data(Map::new(), "token", "/a/b"));
    assert_eq!(
        user,
        ServerEvent::UserData(json!({"authToken": "token", "sessionId": "/a/b"}))
    );
    assert_eq!(
        read(messages::stream_event("p", "data", Some(&json!({"n": 1})))),
        ServerEvent::StreamEvent {
            media_session_id: "p".into(),
            kind: "data".into(),
            payload: Some(json!({"n": 1}))
        }
    );
}

#[test]
fn tolerates_what_the_sdk_tolerates_and_rejects_the_rest() {
    // A JSON `true` is not available: the SDK compares with the string "true".
    let v = parse_server(r#"{"message":"availableStream","data":[{"id":"a","status":true}]}"#);
    assert!(matches!(
        v,
        Ok(ServerEvent::Available {
            available: false,
            ..
        })
    ));
    // Absent info reads as empty; the status is not final.
    let v = parse_server(
        r#"{"message":"notifyStreamStatusEvent","data":[{"mediaSessionId":"m","status":"PLAYING"}]}"#,
    )
    .unwrap();
    let ServerEvent::StreamStatus(st) = v else {
        panic!("not a status: {v:?}");
    };
    assert_eq!((st.info.as_str(), st.is_final()), ("", false));
    assert_eq!(
        parse_server(r#"{"message":"getUserData"}"#).unwrap(),
        ServerEvent::UserData(Value::Null)
    );
    assert_eq!(
        parse_server(r#"{"message":"notifyVideoFormat","data":[]}"#).unwrap(),
        ServerEvent::Other("notifyVideoFormat".into())
    );
    assert!(matches!(
        parse_server("{nope"),
        Err(ServerMessageError::Json(_))
    ));
    assert!(matches!(
        parse_server("[1]"),
        Err(ServerMessageError::NoName)
    ));
    assert!(matches!(
        parse_server(r#"{"message":7,"data":[]}"#),
        Err(ServerMessageError::NoName)
    ));
    assert!(matches!(
        parse_server(r#"{"message":"setRemoteSDP","data":["m"]}"#),
        Err(ServerMessageError::BadPayload("setRemoteSDP"))
    ));
    assert!(matches!(
        parse_server(r#"{"message":"notifyStreamStatusEvent","data":[{"status":"FAILED"}]}"#),
        Err(ServerMessageError::BadPayload("notifyStreamStatusEvent"))
    ));
}
