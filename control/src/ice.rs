//! Random ICE credentials (RFC 8839 `ice-ufrag`/`ice-pwd`) and the alphanumeric tokens our SDP
//! carries besides them (cname, msid ids), and SSRCs. One generator for the hub's answers,
//! the relay's offers and the load generator's clients.
//!
//! Owns randomness of identifiers only: it must not build SDP or keep state.

use rand::distributions::Alphanumeric;
use rand::Rng;

/// Length of our ufrags (RFC 8839: at least 4 characters).
pub const UFRAG_LEN: usize = 8;
/// Length of our passwords (RFC 8839: at least 22 characters).
pub const PWD_LEN: usize = 24;

/// One side's ICE credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IceCredentials {
    /// `a=ice-ufrag`.
    pub ufrag: String,
    /// `a=ice-pwd`.
    pub pwd: String,
}

impl IceCredentials {
    /// Fresh credentials of [`UFRAG_LEN`] and [`PWD_LEN`] characters.
    pub fn random() -> Self {
        Self {
            ufrag: random_token(UFRAG_LEN),
            pwd: random_token(PWD_LEN),
        }
    }
}

/// `len` random ASCII letters and digits (all valid ice-chars, RFC 8839 §5.4).
pub fn random_token(len: usize) -> String {
    // ThreadRng is a CSPRNG (ChaCha, seeded and reseeded from the OS): fine for passwords.
    random_token_with(&mut rand::thread_rng(), len)
}

/// [`random_token`] from the given source (tests pass a seeded one).
pub fn random_token_with(rng: &mut impl Rng, len: usize) -> String {
    rng.sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// A random SSRC that is not 0 and not in `used`.
pub fn random_ssrc(rng: &mut impl Rng, used: &[u32]) -> u32 {
    loop {
        let ssrc = rng.gen::<u32>();
        if ssrc != 0 && !used.contains(&ssrc) {
            return ssrc;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_have_the_rfc_lengths_and_differ() {
        let a = IceCredentials::random();
        let b = IceCredentials::random();
        assert_eq!((a.ufrag.len(), a.pwd.len()), (8, 24));
        assert!(a
            .ufrag
            .bytes()
            .chain(a.pwd.bytes())
            .all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
        assert_eq!(random_token(16).len(), 16);
    }

    #[test]
    fn a_seeded_source_gives_the_same_token() {
        use rand::SeedableRng;
        let token = |seed| random_token_with(&mut rand::rngs::StdRng::seed_from_u64(seed), 12);
        assert_eq!(token(7), token(7));
        assert_ne!(token(7), token(8));
        assert_eq!(token(7).len(), 12);
    }
}
