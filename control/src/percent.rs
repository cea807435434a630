//! The URL pieces our handlers read and write: percent-encoding of path segments (RFC 3986
//! §2.1: request paths of static files, WHIP/WHEP stream names, a stream name in a redirect's
//! `Location`) and query parameters (`?action=stat`, `?direct=1`, `?ticket=`).
//!
//! A leaf with no state.

fn hex_value(b: u8) -> Option<u8> {
    (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

/// Decodes `%XX` escapes; `None` if an escape is broken or the result is not UTF-8.
pub fn decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hi = hex_value(*bytes.get(i + 1)?)?;
            let lo = hex_value(*bytes.get(i + 2)?)?;
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Encodes everything but RFC 3986's unreserved characters, so the result is one path segment.
pub fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The value of `name` in a query string (`a=1&action=stat&preventCache=..`), not decoded;
/// `""` for a bare `name`.
pub fn query_param<'q>(query: &'q str, name: &str) -> Option<&'q str> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then_some(v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_params() {
        let q = "preventCache=Mon%20Jan&action=stat&x";
        assert_eq!(query_param(q, "action"), Some("stat"));
        assert_eq!(query_param(q, "x"), Some(""));
        assert_eq!(query_param(q, "y"), None);
        assert_eq!(query_param("", "action"), None);
        assert_eq!(query_param("actions=stat", "action"), None);
    }

    #[test]
    fn round_trip() {
        for name in ["stream1", "a b/c?d#e", "поток", "100%"] {
            let enc = encode_segment(name);
            assert!(!enc.contains(['/', '?', '#', ' ']), "{enc}");
            assert_eq!(decode(&enc).as_deref(), Some(name));
        }
        assert_eq!(decode("%zz"), None);
        assert_eq!(decode("%4"), None);
        assert_eq!(decode("%ff"), None);
    }
}
