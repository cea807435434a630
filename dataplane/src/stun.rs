//! STUN messages (RFC 5389) with the ICE attributes of RFC 8445, without allocation.
//!
//! Owns the wire format only: a borrowed, validated view of a received message
//! ([`StunMessage`]), its MESSAGE-INTEGRITY and FINGERPRINT checks, and writers that build
//! Binding requests and responses into a caller-provided buffer. It keeps no state and knows
//! nothing of peers, credentials or timers (that is [`crate::ice`]).
//!
//! Parsing is strict about framing (header, magic cookie, length, attribute bounds, lengths of
//! the attributes it understands) and lenient about content: unknown attributes, including
//! comprehension-required ones, are skipped; of a repeated attribute the first one counts;
//! attributes after MESSAGE-INTEGRITY other than FINGERPRINT are ignored (§15.4); nothing may
//! follow FINGERPRINT (§15.5).

#![forbid(unsafe_code)]

mod write;

#[cfg(test)]
pub(crate) mod tests;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use hmac::{Hmac, Mac};
use sha1::Sha1;

pub use write::{
    write_binding_error, write_binding_request, write_binding_success,
    write_controlled_binding_request, MAX_USERNAME_LEN,
};

/// Length of the STUN header.
pub const HEADER_LEN: usize = 20;
/// The fixed magic cookie of RFC 5389.
pub const MAGIC_COOKIE: u32 = 0x2112_A442;
/// The Binding method.
pub const METHOD_BINDING: u16 = 0x001;

const FINGERPRINT_XOR: u32 = 0x5354_554E;
const HMAC_LEN: usize = 20;

// Attribute types used here.
const ATTR_USERNAME: u16 = 0x0006;
const ATTR_MESSAGE_INTEGRITY: u16 = 0x0008;
const ATTR_ERROR_CODE: u16 = 0x0009;
const ATTR_XOR_MAPPED_ADDRESS: u16 = 0x0020;
const ATTR_PRIORITY: u16 = 0x0024;
const ATTR_USE_CANDIDATE: u16 = 0x0025;
const ATTR_FINGERPRINT: u16 = 0x8028;
const ATTR_ICE_CONTROLLED: u16 = 0x8029;
const ATTR_ICE_CONTROLLING: u16 = 0x802A;

const FAMILY_IPV4: u8 = 0x01;
const FAMILY_IPV6: u8 = 0x02;

/// Why a datagram is not an acceptable STUN message, or a message could not be written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StunError {
    /// Shorter than the 20-byte header.
    #[error("shorter than a STUN header")]
    TooShort,
    /// The two most significant bits of the message type are not zero.
    #[error("not a STUN message type")]
    BadType,
    /// The magic cookie is not 0x2112A442 (e.g. a classic RFC 3489 message).
    #[error("bad magic cookie")]
    BadMagicCookie,
    /// The length field is not a multiple of 4.
    #[error("message length is not a multiple of 4")]
    UnalignedLength,
    /// The length field disagrees with the datagram size.
    #[error("message length does not match the datagram")]
    LengthMismatch,
    /// An attribute (with its padding) runs past the end of the message.
    #[error("attribute overruns the message")]
    AttributeOverrun,
    /// An attribute this module understands has a malformed value; carries the attribute type.
    #[error("malformed attribute {0:#06x}")]
    BadAttribute(u16),
    /// An attribute follows FINGERPRINT, which must be last.
    #[error("attribute after FINGERPRINT")]
    AttributeAfterFingerprint,
    /// The output buffer is too small for the message being written.
    #[error("output buffer too small")]
    BufferTooSmall,
    /// A USERNAME to write is longer than 513 bytes.
    #[error("username too long")]
    UsernameTooLong,
}

/// The class of a STUN message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StunClass {
    /// A request (expects a response).
    Request,
    /// An indication (no response).
    Indication,
    /// A success response.
    SuccessResponse,
    /// An error response.
    ErrorResponse,
}

impl StunClass {
    fn from_type(ty: u16) -> Self {
        match ((ty >> 7) & 0b10) | ((ty >> 4) & 0b01) {
            0b00 => StunClass::Request,
            0b01 => StunClass::Indication,
            0b10 => StunClass::SuccessResponse,
            _ => StunClass::ErrorResponse,
        }
    }

    /// The class bits (C1 at bit 8, C0 at bit 4) of a message type.
    fn type_bits(self) -> u16 {
        match self {
            StunClass::Request => 0x0000,
            StunClass::Indication => 0x0010,
            StunClass::SuccessResponse => 0x0100,
            StunClass::ErrorResponse => 0x0110,
        }
    }
}

/// The 16-bit message type of `method` in `class` (RFC 5389 §6).
fn message_type(class: StunClass, method: u16) -> u16 {
    let m = method & 0x0FFF;
    (m & 0x000F) | ((m & 0x0070) << 1) | ((m & 0x0F80) << 2) | class.type_bits()
}

/// A validated, borrowed view of one STUN message.
///
/// [`parse`](Self::parse) checks the framing once and records where the attributes of interest
/// are; the accessors are then cheap. Integrity and fingerprint are checked only on request.
#[derive(Clone, Copy, Debug)]
pub struct StunMessage<'a> {
    buf: &'a [u8],
    ty: u16,
    username: Option<&'a [u8]>,
    priority: Option<u32>,
    ice_controlling: Option<u64>,
    ice_controlled: Option<u64>,
    use_candidate: bool,
    xor_mapped: Option<&'a [u8]>,
    error_code: Option<u16>,
    /// Offset of the MESSAGE-INTEGRITY attribute header.
    integrity: Option<usize>,
    /// Offset of the FINGERPRINT attribute header.
    fingerprint: Option<usize>,
}

impl<'a> StunMessage<'a> {
    /// Parses a whole datagram as one STUN message.
    pub fn parse(buf: &'a [u8]) -> Result<StunMessage<'a>, StunError> {
        let header = buf.get(..HEADER_LEN).ok_or(StunError::TooShort)?;
        let ty = be16(&header[0..2]);
        if ty & 0xC000 != 0 {
            return Err(StunError::BadType);
        }
        if be32(&header[4..8]) != MAGIC_COOKIE {
            return Err(StunError::BadMagicCookie);
        }
        let len = usize::from(be16(&header[2..4]));
        if len % 4 != 0 {
            return Err(StunError::UnalignedLength);
        }
        if HEADER_LEN + len != buf.len() {
            return Err(StunError::LengthMismatch);
        }
        let mut msg = StunMessage {
            buf,
            ty,
            username: None,
            priority: None,
            ice_controlling: None,
            ice_controlled: None,
            use_candidate: false,
            xor_mapped: None,
            error_code: None,
            integrity: None,
            fingerprint: None,
        };
        let mut pos = HEADER_LEN;
        while pos < buf.len() {
            if msg.fingerprint.is_some() {
                return Err(StunError::AttributeAfterFingerprint);
            }
            let attr_header = buf.get(pos..pos + 4).ok_or(StunError::AttributeOverrun)?;
            let attr = be16(&attr_header[0..2]);
            let attr_len = usize::from(be16(&attr_header[2..4]));
            let start = pos + 4;
            let padded_end = start + attr_len.next_multiple_of(4);
            if padded_end > buf.len() {
                return Err(StunError::AttributeOverrun);
            }
            let value = &buf[start..start + attr_len];
            if attr == ATTR_FINGERPRINT {
                if attr_len != 4 {
                    return Err(StunError::BadAttribute(attr));
                }
                msg.fingerprint = Some(pos);
            } else if msg.integrity.is_none() {
                msg.read_attribute(pos, attr, value)?;
            }
            pos = padded_end;
        }
        Ok(msg)
    }

    /// Records one attribute that precedes MESSAGE-INTEGRITY (first occurrence wins).
    fn read_attribute(&mut self, pos: usize, attr: u16, value: &'a [u8]) -> Result<(), StunError> {
        let bad = StunError::BadAttribute(attr);
        match attr {
            ATTR_USERNAME => {
                if value.len() > MAX_USERNAME_LEN {
                    return Err(bad);
                }
                self.username.get_or_insert(value);
            }
            ATTR_MESSAGE_INTEGRITY => {
                if value.len() != HMAC_LEN {
                    return Err(bad);
                }
                self.integrity = Some(pos);
            }
            ATTR_ERROR_CODE => {
                if value.len() < 4 || value[2] & 0x07 < 3 || value[2] & 0x07 > 6 || value[3] > 99 {
                    return Err(bad);
                }
                let code = u16::from(value[2] & 0x07) * 100 + u16::from(value[3]);
                self.error_code.get_or_insert(code);
            }
            ATTR_XOR_MAPPED_ADDRESS => {
                let ok = matches!(
                    (value.len(), value.get(1)),
                    (8, Some(&FAMILY_IPV4)) | (20, Some(&FAMILY_IPV6))
                );
                if !ok {
                    return Err(bad);
                }
                self.xor_mapped.get_or_insert(value);
            }
            ATTR_PRIORITY => {
                let v = <[u8; 4]>::try_from(value).map_err(|_| bad)?;
                self.priority.get_or_insert(u32::from_be_bytes(v));
            }
            ATTR_USE_CANDIDATE => {
                if !value.is_empty() {
                    return Err(bad);
                }
                self.use_candidate = true;
            }
            ATTR_ICE_CONTROLLING => {
                let v = <[u8; 8]>::try_from(value).map_err(|_| bad)?;
                self.ice_controlling.get_or_insert(u64::from_be_bytes(v));
            }
            ATTR_ICE_CONTROLLED => {
                let v = <[u8; 8]>::try_from(value).map_err(|_| bad)?;
                self.ice_controlled.get_or_insert(u64::from_be_bytes(v));
            }
            _ => {}
        }
        Ok(())
    }

    /// The whole message as received.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }

    /// The message class.
    pub fn class(&self) -> StunClass {
        StunClass::from_type(self.ty)
    }

    /// The 12-bit method (e.g. [`METHOD_BINDING`]).
    pub fn method(&self) -> u16 {
        (self.ty & 0x000F) | ((self.ty >> 1) & 0x0070) | ((self.ty >> 2) & 0x0F80)
    }

    /// True for a Binding request.
    pub fn is_binding_request(&self) -> bool {
        self.method() == METHOD_BINDING && self.class() == StunClass::Request
    }

    /// The 96-bit transaction id.
    pub fn transaction_id(&self) -> [u8; 12] {
        let mut id = [0u8; 12];
        id.copy_from_slice(&self.buf[8..HEADER_LEN]);
        id
    }

    /// The USERNAME attribute (`<receiver ufrag>:<sender ufrag>` in ICE checks).
    pub fn username(&self) -> Option<&'a [u8]> {
        self.username
    }

    /// True when the USE-CANDIDATE attribute is present.
    pub fn has_use_candidate(&self) -> bool {
        self.use_candidate
    }

    /// The PRIORITY attribute.
    pub fn priority(&self) -> Option<u32> {
        self.priority
    }

    /// The tie-breaker of the ICE-CONTROLLING attribute.
    pub fn ice_controlling(&self) -> Option<u64> {
        self.ice_controlling
    }

    /// The tie-breaker of the ICE-CONTROLLED attribute.
    pub fn ice_controlled(&self) -> Option<u64> {
        self.ice_controlled
    }

    /// The error code (300–699) of an ERROR-CODE attribute.
    pub fn error_code(&self) -> Option<u16> {
        self.error_code
    }

    /// True when a MESSAGE-INTEGRITY attribute is present.
    pub fn has_integrity(&self) -> bool {
        self.integrity.is_some()
    }

    /// True when a FINGERPRINT attribute is present.
    pub fn has_fingerprint(&self) -> bool {
        self.fingerprint.is_some()
    }

    /// The decoded XOR-MAPPED-ADDRESS attribute.
    pub fn xor_mapped_address(&self) -> Option<SocketAddr> {
        let v = self.xor_mapped?;
        let port = be16(&v[2..4]) ^ (MAGIC_COOKIE >> 16) as u16;
        let ip = match v[1] {
            FAMILY_IPV4 => {
                let x = be32(&v[4..8]) ^ MAGIC_COOKIE;
                IpAddr::V4(Ipv4Addr::from(x))
            }
            _ => {
                let mut a = [0u8; 16];
                a.copy_from_slice(&v[4..20]);
                xor_ipv6(&mut a, &self.buf[4..HEADER_LEN]);
                IpAddr::V6(Ipv6Addr::from(a))
            }
        };
        Some(SocketAddr::new(ip, port))
    }

    /// Checks MESSAGE-INTEGRITY with the short-term credential `key` (the ICE password).
    ///
    /// HMAC-SHA1 over the message up to the attribute, with the header length field counting
    /// up to and including MESSAGE-INTEGRITY (RFC 5389 §15.4); compared in constant time.
    /// False when the attribute is absent.
    pub fn verify_integrity(&self, key: &[u8]) -> bool {
        let Some(pos) = self.integrity else {
            return false;
        };
        let mut header = [0u8; HEADER_LEN];
        header.copy_from_slice(&self.buf[..HEADER_LEN]);
        set_length(&mut header, pos + 4 + HMAC_LEN);
        let mut mac = hmac_sha1(key);
        mac.update(&header);
        mac.update(&self.buf[HEADER_LEN..pos]);
        mac.verify_slice(&self.buf[pos + 4..pos + 4 + HMAC_LEN])
            .is_ok()
    }

    /// Checks the FINGERPRINT attribute (CRC-32 of the message before it, xor 0x5354554E).
    /// False when the attribute is absent.
    pub fn verify_fingerprint(&self) -> bool {
        let Some(pos) = self.fingerprint else {
            return false;
        };
        // FINGERPRINT is last, so the length field already covers it.
        fingerprint(&self.buf[..pos]) == be32(&self.buf[pos + 4..pos + 8])
    }
}

/// The local (receiver's) ufrag of a check's USERNAME: the part before the first ':'.
///
/// The worker uses it to route the first check from an unknown address to a peer. `None` when
/// there is no ':' or the part before it is empty.
pub fn local_ufrag(username: &[u8]) -> Option<&[u8]> {
    let colon = username.iter().position(|&b| b == b':')?;
    let ufrag = &username[..colon];
    (!ufrag.is_empty()).then_some(ufrag)
}

fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// Sets the header length field so that the message ends at `end` (an offset).
fn set_length(header: &mut [u8], end: usize) {
    let len = (end - HEADER_LEN) as u16;
    header[2..4].copy_from_slice(&len.to_be_bytes());
}

/// Xors an IPv6 address with the magic cookie and transaction id (`cookie_and_id`, 16 bytes).
fn xor_ipv6(addr: &mut [u8; 16], cookie_and_id: &[u8]) {
    for (a, k) in addr.iter_mut().zip(cookie_and_id) {
        *a ^= k;
    }
}

fn hmac_sha1(key: &[u8]) -> Hmac<Sha1> {
    <Hmac<Sha1> as Mac>::new_from_slice(key).expect("HMAC accepts keys of any length")
}

fn fingerprint(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes) ^ FINGERPRINT_XOR
}
