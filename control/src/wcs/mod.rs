//! WCS (Flashphoner Web SDK) websocket signalling.
//!
//! [`messages`] is the wire format of the server side, [`client`] the client side (builders of
//! what a Web SDK client sends and a typed reader of what a server answers; the CDN relay, the
//! load generator and the tests speak through it), [`info`] the status texts, [`hub`] the
//! sans-IO signalling core, [`queue`] what the hub task and the websocket tasks exchange and
//! [`connection`] the thin async glue between axum websockets, the hub and the data-plane event
//! channel; [`lifecycle`] carries the operator's reload and drain requests to the hub task.

pub mod client;
pub mod connection;
pub mod hub;
pub mod info;
pub mod lifecycle;
pub mod messages;
pub mod queue;
