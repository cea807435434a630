//! Target `wcs`: one websocket text frame from a WCS client (the Web SDK, or anything that
//! connected to the signalling port).
//!
//! The frame is parsed as the connection does; a rejected frame's `fail` reply is built, a
//! `connection` object is echoed back in `getUserData`, event and data payloads are echoed in
//! the messages that carry them to other clients, and the SDP offer of a publish or play
//! request is parsed and answered as in the sdp target. Replies must serialise to JSON that
//! parses back.

use control::wcs::messages::{
    data_status, fail, get_user_data, parse_client, stream_event, ClientMessage, ServerMessage,
};

pub fn run(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse_client(text) {
        Err(e) => check(&fail(e.api_method(), &e.to_string())),
        Ok(ClientMessage::Connection(map)) => check(&get_user_data(map, "token", "session")),
        Ok(
            ClientMessage::PublishStream(req)
            | ClientMessage::PlayStream(req)
            | ClientMessage::UnPublishStream(req)
            | ClientMessage::StopStream(req)
            | ClientMessage::AvailableStream(req),
        ) => {
            if let Some(sdp) = &req.sdp {
                crate::sdp::offer(sdp);
            }
            if let Some(custom) = &req.custom {
                let _ = custom.get("rtcdnRelay").and_then(|v| v.as_bool());
            }
        }
        Ok(ClientMessage::SendStreamEvent(ev)) => check(&stream_event(
            &ev.media_session_id,
            &ev.kind,
            ev.payload.as_ref(),
        )),
        Ok(ClientMessage::SendData(req)) => {
            let _ = req.payload.as_ref().map(|p| p.to_string());
            check(&data_status(&req.operation_id, "ACCEPTED"));
        }
        Ok(ClientMessage::Ignored(_)) => {}
    }
}

/// A reply serialises to a frame that is a WCS message again.
fn check(reply: &ServerMessage) {
    let json = reply.to_json();
    let value: serde_json::Value = serde_json::from_str(&json).expect("our reply is JSON");
    assert_eq!(value["message"], reply.name);
}
