//! Writers of the STUN messages ICE needs, into a caller-provided buffer.
//!
//! Every writer returns the message length or [`StunError::BufferTooSmall`]; nothing is
//! allocated. MESSAGE-INTEGRITY and FINGERPRINT are computed in place over what was written.

use std::net::{IpAddr, SocketAddr};

use hmac::Mac;

use super::{
    fingerprint, hmac_sha1, message_type, set_length, xor_ipv6, StunClass, StunError,
    ATTR_ERROR_CODE, ATTR_FINGERPRINT, ATTR_ICE_CONTROLLED, ATTR_ICE_CONTROLLING,
    ATTR_MESSAGE_INTEGRITY, ATTR_PRIORITY, ATTR_USERNAME, ATTR_USE_CANDIDATE,
    ATTR_XOR_MAPPED_ADDRESS, FAMILY_IPV4, FAMILY_IPV6, HMAC_LEN, MAGIC_COOKIE, METHOD_BINDING,
};

/// Longest USERNAME allowed by RFC 5389 §15.3.
pub const MAX_USERNAME_LEN: usize = 513;

/// A bounds-checked cursor over the output buffer.
struct Writer<'b> {
    out: &'b mut [u8],
    len: usize,
}

impl<'b> Writer<'b> {
    /// Starts a message: header with a zero length, magic cookie and `txid`.
    fn start(out: &'b mut [u8], ty: u16, txid: &[u8; 12]) -> Result<Self, StunError> {
        let mut w = Writer { out, len: 0 };
        w.put(&ty.to_be_bytes())?;
        w.put(&[0, 0])?;
        w.put(&MAGIC_COOKIE.to_be_bytes())?;
        w.put(txid)?;
        Ok(w)
    }

    fn put(&mut self, bytes: &[u8]) -> Result<(), StunError> {
        let end = self.len + bytes.len();
        let dst = self
            .out
            .get_mut(self.len..end)
            .ok_or(StunError::BufferTooSmall)?;
        dst.copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }

    /// Appends one attribute with zero padding and updates the header length.
    fn attr(&mut self, ty: u16, value: &[u8]) -> Result<(), StunError> {
        let pad = (4 - value.len() % 4) % 4;
        if self.len + 4 + value.len() + pad > self.out.len() {
            return Err(StunError::BufferTooSmall);
        }
        self.put(&ty.to_be_bytes())?;
        self.put(&(value.len() as u16).to_be_bytes())?;
        self.put(value)?;
        self.put(&[0u8; 3][..pad])?;
        set_length(self.out, self.len);
        Ok(())
    }

    /// Appends MESSAGE-INTEGRITY keyed with `key` (RFC 5389 §15.4).
    fn integrity(&mut self, key: &[u8]) -> Result<(), StunError> {
        let end = self.len + 4 + HMAC_LEN;
        if end > self.out.len() {
            return Err(StunError::BufferTooSmall);
        }
        set_length(self.out, end);
        let mut mac = hmac_sha1(key);
        mac.update(&self.out[..self.len]);
        let tag = mac.finalize().into_bytes();
        self.attr(ATTR_MESSAGE_INTEGRITY, &tag)
    }

    /// Appends FINGERPRINT (must be last) and returns the final length.
    fn finish_with_fingerprint(mut self) -> Result<usize, StunError> {
        let end = self.len + 8;
        if end > self.out.len() {
            return Err(StunError::BufferTooSmall);
        }
        set_length(self.out, end);
        let crc = fingerprint(&self.out[..self.len]);
        self.attr(ATTR_FINGERPRINT, &crc.to_be_bytes())?;
        Ok(self.len)
    }
}

/// Writes a Binding success response: XOR-MAPPED-ADDRESS (`mapped`, IPv4 or IPv6),
/// MESSAGE-INTEGRITY keyed with `integrity_key` (our ICE password) and FINGERPRINT.
///
/// At most 76 bytes (IPv6); returns the length written.
pub fn write_binding_success(
    out: &mut [u8],
    txid: &[u8; 12],
    mapped: SocketAddr,
    integrity_key: &[u8],
) -> Result<usize, StunError> {
    let ty = message_type(StunClass::SuccessResponse, METHOD_BINDING);
    let mut w = Writer::start(out, ty, txid)?;
    let port = mapped.port() ^ (MAGIC_COOKIE >> 16) as u16;
    let mut value = [0u8; 20];
    value[2..4].copy_from_slice(&port.to_be_bytes());
    let value_len = match mapped.ip() {
        IpAddr::V4(ip) => {
            value[1] = FAMILY_IPV4;
            let x = u32::from(ip) ^ MAGIC_COOKIE;
            value[4..8].copy_from_slice(&x.to_be_bytes());
            8
        }
        IpAddr::V6(ip) => {
            value[1] = FAMILY_IPV6;
            let mut a = ip.octets();
            let mut key = [0u8; 16];
            key[..4].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
            key[4..].copy_from_slice(txid);
            xor_ipv6(&mut a, &key);
            value[4..20].copy_from_slice(&a);
            20
        }
    };
    w.attr(ATTR_XOR_MAPPED_ADDRESS, &value[..value_len])?;
    w.integrity(integrity_key)?;
    w.finish_with_fingerprint()
}

/// Writes an ICE connectivity check from the controlling agent: USERNAME, PRIORITY,
/// ICE-CONTROLLING (`tiebreaker`), USE-CANDIDATE when `use_candidate`, MESSAGE-INTEGRITY keyed
/// with `integrity_key` (the remote ICE password) and FINGERPRINT.
///
/// Returns the length written.
pub fn write_binding_request(
    out: &mut [u8],
    txid: &[u8; 12],
    username: &[u8],
    integrity_key: &[u8],
    priority: u32,
    tiebreaker: u64,
    use_candidate: bool,
) -> Result<usize, StunError> {
    let role = (ATTR_ICE_CONTROLLING, tiebreaker);
    write_check(
        out,
        txid,
        username,
        integrity_key,
        priority,
        role,
        use_candidate,
    )
}

/// Writes an ICE connectivity check from a controlled agent (a full agent such as Janus's
/// sends these back to its controlling peer): as [`write_binding_request`] with ICE-CONTROLLED
/// and never USE-CANDIDATE.
pub fn write_controlled_binding_request(
    out: &mut [u8],
    txid: &[u8; 12],
    username: &[u8],
    integrity_key: &[u8],
    priority: u32,
    tiebreaker: u64,
) -> Result<usize, StunError> {
    let role = (ATTR_ICE_CONTROLLED, tiebreaker);
    write_check(out, txid, username, integrity_key, priority, role, false)
}

fn write_check(
    out: &mut [u8],
    txid: &[u8; 12],
    username: &[u8],
    integrity_key: &[u8],
    priority: u32,
    (role_attr, tiebreaker): (u16, u64),
    use_candidate: bool,
) -> Result<usize, StunError> {
    if username.len() > MAX_USERNAME_LEN {
        return Err(StunError::UsernameTooLong);
    }
    let ty = message_type(StunClass::Request, METHOD_BINDING);
    let mut w = Writer::start(out, ty, txid)?;
    w.attr(ATTR_USERNAME, username)?;
    w.attr(ATTR_PRIORITY, &priority.to_be_bytes())?;
    w.attr(role_attr, &tiebreaker.to_be_bytes())?;
    if use_candidate {
        w.attr(ATTR_USE_CANDIDATE, &[])?;
    }
    w.integrity(integrity_key)?;
    w.finish_with_fingerprint()
}

/// Writes a Binding error response with ERROR-CODE `code` (300–699) and FINGERPRINT, plus
/// MESSAGE-INTEGRITY when `integrity_key` is given (a 401 must not carry one, RFC 5389
/// §10.1.2). The reason phrase is empty.
///
/// Not used by [`crate::ice::IceLite`], which drops bad checks silently (see its docs).
pub fn write_binding_error(
    out: &mut [u8],
    txid: &[u8; 12],
    code: u16,
    integrity_key: Option<&[u8]>,
) -> Result<usize, StunError> {
    if !(300..700).contains(&code) {
        return Err(StunError::BadAttribute(ATTR_ERROR_CODE));
    }
    let ty = message_type(StunClass::ErrorResponse, METHOD_BINDING);
    let mut w = Writer::start(out, ty, txid)?;
    w.attr(
        ATTR_ERROR_CODE,
        &[0, 0, (code / 100) as u8, (code % 100) as u8],
    )?;
    if let Some(key) = integrity_key {
        w.integrity(key)?;
    }
    w.finish_with_fingerprint()
}
