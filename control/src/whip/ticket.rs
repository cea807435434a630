//! Tickets that carry a WHEP player's authorization across the origin's 307 to an edge.
//!
//! A browser drops `Authorization` when it follows a redirect to another origin (another host
//! or port), so a player with `whep_token` would reach the edge without it. The origin, which
//! has checked the token, puts a ticket in the redirect's query instead: the stream name and an
//! expiry, signed with HMAC-SHA256 keyed by `whep_token`. An edge configured with the same
//! `whep_token` takes it in place of the header, for that name, until it expires
//! ([`TICKET_LIFETIME`]; the nodes' clocks must agree within that).
//!
//! Pure: the caller passes the time (seconds since the Unix epoch).

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::RelaySecret;

/// How long a ticket is good for, in seconds: the client follows the redirect at once.
pub const TICKET_LIFETIME: u64 = 60;

fn mac(secret: &RelaySecret, name: &str, expires: u64) -> Hmac<Sha256> {
    // HMAC takes a key of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes())
        .expect("HMAC accepts any key length");
    mac.update(b"rtcdn-whep-ticket\n");
    mac.update(name.as_bytes());
    mac.update(b"\n");
    mac.update(expires.to_string().as_bytes());
    mac
}

/// A ticket for playing `name`, issued at `now` (Unix seconds): `<expiry>.<64 hex digits>`.
pub fn issue(secret: &RelaySecret, name: &str, now: u64) -> String {
    let expires = now.saturating_add(TICKET_LIFETIME);
    let tag = mac(secret, name, expires).finalize().into_bytes();
    let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
    format!("{expires}.{hex}")
}

/// Whether `ticket` lets its holder play `name` at `now`.
pub fn is_valid(secret: &RelaySecret, name: &str, ticket: &str, now: u64) -> bool {
    let Some((expires, hex)) = ticket.split_once('.') else {
        return false;
    };
    let Ok(expires) = expires.parse::<u64>() else {
        return false;
    };
    if now > expires || expires > now.saturating_add(TICKET_LIFETIME) || hex.len() != 64 {
        return false;
    }
    let Some(tag) = (0..32)
        .map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()
    else {
        return false;
    };
    // Constant-time comparison.
    mac(secret, name, expires).verify_slice(&tag).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ticket_is_good_for_its_name_and_lifetime_only() {
        let key = RelaySecret::new("play-secret");
        let t = issue(&key, "cam 1", 1_000);
        assert!(is_valid(&key, "cam 1", &t, 1_000));
        assert!(is_valid(&key, "cam 1", &t, 1_000 + TICKET_LIFETIME));
        assert!(
            !is_valid(&key, "cam 1", &t, 1_001 + TICKET_LIFETIME),
            "expired"
        );
        assert!(!is_valid(&key, "cam 2", &t, 1_000), "another name");
        assert!(
            !is_valid(&RelaySecret::new("other"), "cam 1", &t, 1_000),
            "another key"
        );
        // Tampered expiry, tag, shape.
        let (_, tag) = t.split_once('.').unwrap();
        assert!(!is_valid(&key, "cam 1", &format!("99999.{tag}"), 1_000));
        let mut bad = t.clone();
        bad.replace_range(t.len() - 1.., if t.ends_with('0') { "1" } else { "0" });
        assert!(!is_valid(&key, "cam 1", &bad, 1_000));
        for junk in ["", ".", "1060", "1060.zz", "x.00", &t[..t.len() - 2]] {
            assert!(!is_valid(&key, "cam 1", junk, 1_000), "{junk:?}");
        }
        // A ticket that claims a longer life than we issue is not taken.
        let long = issue(&key, "cam 1", 5_000);
        assert!(!is_valid(&key, "cam 1", &long, 1_000));
    }
}
