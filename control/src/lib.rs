//! rtcdn control plane.
//!
//! Runs on one thread: WCS websocket signalling, WHIP/WHEP, SDP negotiation, configuration and HTTP. It
//! tells the data-plane workers what to do through `dataplane::api` and never touches media.

pub mod cdn;
pub mod config;
pub mod counters;
pub mod events;
pub mod hooks;
pub mod http;
pub mod ice;
pub mod lifecycle;
pub mod metrics;
pub mod percent;
pub mod reload;
pub mod respond;
pub mod rest;
pub mod sdp;
pub mod server;
pub mod tls;
pub mod wcs;
pub mod whip;
