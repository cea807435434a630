//! Tickets that carry a WHEP player's authorization across the origin's 307 to an edge.
//!
//! A browser drops `Authorization` when it follows a redirect to another origin (another host
//! or port), so a player's bearer token would not reach the edge. The origin puts a ticket in
//! the redirect's query instead: the stream name and an expiry, and the player's bearer token
//! if it sent one, sealed with ChaCha20-Poly1305 under a key derived from a secret the nodes
//! share (`whep_token`, else `cdn_relay_secret`). An edge with the same secret takes the ticket
//! for that name until it expires ([`TICKET_LIFETIME`]; the nodes' clocks must agree within
//! that): in place of its own `whep_token` check, and with the token inside handed to its REST
//! hooks as if the player had sent the header. The token is encrypted, so it shows in no URL,
//! log or browser history.
//!
//! Pure but for the nonce's randomness: the caller passes the time (seconds since the Unix
//! epoch).

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use sha2::{Digest, Sha256};

use crate::config::RelaySecret;

/// How long a ticket is good for, in seconds: the client follows the redirect at once.
pub const TICKET_LIFETIME: u64 = 60;
/// The longest bearer token a ticket carries (the redirect's URL stays under ~2.2 KB); a
/// player with a longer one plays on the origin.
pub const MAX_CARRIED_TOKEN: usize = 1024;
const TAG_LEN: usize = 16;

/// What a valid ticket says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opened {
    /// The bearer token the player showed the origin, if any.
    pub token: Option<String>,
}

fn key(secret: &RelaySecret) -> LessSafeKey {
    let mut h = Sha256::new();
    h.update(b"rtcdn-whep-ticket-key\n");
    h.update(secret.expose().as_bytes());
    let bytes = h.finalize();
    LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, &bytes).expect("a 32-byte key"))
}

/// What the seal binds besides its content: the name and the expiry.
fn aad(name: &str, expires: u64) -> Vec<u8> {
    format!("rtcdn-whep-ticket\n{name}\n{expires}").into_bytes()
}

/// A ticket for playing `name`, issued at `now` (Unix seconds), carrying `token`:
/// `<expiry>.<hex of nonce, sealed token and tag>`. `None` if the token is longer than
/// [`MAX_CARRIED_TOKEN`].
pub fn issue(secret: &RelaySecret, name: &str, token: Option<&str>, now: u64) -> Option<String> {
    let token = token.unwrap_or_default();
    if token.len() > MAX_CARRIED_TOKEN {
        return None;
    }
    let expires = now.saturating_add(TICKET_LIFETIME);
    let nonce: [u8; NONCE_LEN] = rand::random();
    let mut sealed = token.as_bytes().to_vec();
    key(secret)
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad(name, expires)),
            &mut sealed,
        )
        .ok()?;
    let hex: String = nonce
        .iter()
        .chain(&sealed)
        .map(|b| format!("{b:02x}"))
        .collect();
    Some(format!("{expires}.{hex}"))
}

/// What `ticket` says, if it lets its holder play `name` at `now`.
pub fn open(secret: &RelaySecret, name: &str, ticket: &str, now: u64) -> Option<Opened> {
    let (expires, hex) = ticket.split_once('.')?;
    let expires = expires.parse::<u64>().ok()?;
    let longest = 2 * (NONCE_LEN + MAX_CARRIED_TOKEN + TAG_LEN);
    if now > expires
        || expires > now.saturating_add(TICKET_LIFETIME)
        || hex.len() % 2 != 0
        || hex.len() < 2 * (NONCE_LEN + TAG_LEN)
        || hex.len() > longest
    {
        return None;
    }
    let mut bytes = (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    let (nonce, sealed) = bytes.split_at_mut(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
    let token = key(secret)
        .open_in_place(nonce, Aad::from(aad(name, expires)), sealed)
        .ok()?;
    let token = String::from_utf8(token.to_vec()).ok()?;
    Some(Opened {
        token: (!token.is_empty()).then_some(token),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ticket_is_good_for_its_name_and_lifetime_only() {
        let key = RelaySecret::new("play-secret");
        let t = issue(&key, "cam 1", None, 1_000).unwrap();
        let empty = Some(Opened { token: None });
        assert_eq!(open(&key, "cam 1", &t, 1_000), empty);
        assert_eq!(open(&key, "cam 1", &t, 1_000 + TICKET_LIFETIME), empty);
        assert_eq!(
            open(&key, "cam 1", &t, 1_001 + TICKET_LIFETIME),
            None,
            "expired"
        );
        assert_eq!(open(&key, "cam 2", &t, 1_000), None, "another name");
        assert_eq!(
            open(&RelaySecret::new("other"), "cam 1", &t, 1_000),
            None,
            "another key"
        );
        // Tampered expiry, content, shape.
        let (_, sealed) = t.split_once('.').unwrap();
        assert_eq!(open(&key, "cam 1", &format!("1059.{sealed}"), 1_000), None);
        let mut bad = t.clone();
        bad.replace_range(t.len() - 1.., if t.ends_with('0') { "1" } else { "0" });
        assert_eq!(open(&key, "cam 1", &bad, 1_000), None);
        for junk in [
            "",
            ".",
            "1060",
            "1060.zz",
            "x.00",
            &t[..t.len() - 2],
            &t[..t.len() - 1],
        ] {
            assert_eq!(open(&key, "cam 1", junk, 1_000), None, "{junk:?}");
        }
        // A ticket that claims a longer life than we issue is not taken.
        let long = issue(&key, "cam 1", None, 5_000).unwrap();
        assert_eq!(open(&key, "cam 1", &long, 1_000), None);
    }

    #[test]
    fn the_bearer_token_travels_sealed() {
        let key = RelaySecret::new("relay-key");
        let t = issue(&key, "cam", Some("user-token-42"), 1_000).unwrap();
        assert!(!t.contains("user-token-42"));
        assert_eq!(
            open(&key, "cam", &t, 1_010),
            Some(Opened {
                token: Some("user-token-42".into())
            })
        );
        // Two tickets for the same token differ (a fresh nonce each).
        assert_ne!(t, issue(&key, "cam", Some("user-token-42"), 1_000).unwrap());
        // The longest token travels; a longer one does not.
        let longest = "t".repeat(MAX_CARRIED_TOKEN);
        let t = issue(&key, "cam", Some(&longest), 1_000).unwrap();
        assert_eq!(open(&key, "cam", &t, 1_000).unwrap().token, Some(longest));
        assert_eq!(
            issue(&key, "cam", Some(&"t".repeat(MAX_CARRIED_TOKEN + 1)), 1_000),
            None
        );
    }
}
