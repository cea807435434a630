//! The SDP grammar, delegated to `rtc-sdp`: bounds the input, drops blank lines and line-ending
//! noise, hands the rest to [`SessionDescription::unmarshal`] and maps its errors (which carry no
//! position) back to the 1-based line of the input. Owns no attribute semantics: what an
//! `a=` line means is [`super::parse`]'s business.

use std::io::Cursor;

use rtc_sdp::description::common::Attribute;
use rtc_sdp::SessionDescription;
use rtc_shared::error::Error as CrateError;

use super::error::{SdpError, MAX_LINE_LEN, MAX_SDP_LEN, MAX_SECTIONS};

/// An SDP the crate accepted, with the input line number of every `a=` line.
pub(super) struct Parsed {
    /// The crate's description: session fields, m-sections, untyped attributes.
    pub(super) desc: SessionDescription,
    /// Input line numbers of the `a=` lines: `[0]` session level, `[i + 1]` m-section `i`.
    attribute_lines: Vec<Vec<usize>>,
}

impl Parsed {
    /// The attributes of level `level` (0 = session, `i + 1` = m-section `i`) with their lines.
    fn numbered<'a>(
        &'a self,
        attributes: &'a [Attribute],
        level: usize,
    ) -> impl Iterator<Item = (&'a Attribute, usize)> {
        let lines = self
            .attribute_lines
            .get(level)
            .map_or(&[][..], Vec::as_slice);
        // Every a= line of a level becomes one attribute, in order (see `frame`); 0 is only a
        // fallback should the crate ever merge or drop one.
        attributes
            .iter()
            .enumerate()
            .map(move |(i, a)| (a, lines.get(i).copied().unwrap_or(0)))
    }

    /// Session-level attributes with their input line numbers.
    pub(super) fn session_attributes(&self) -> impl Iterator<Item = (&Attribute, usize)> {
        self.numbered(&self.desc.attributes, 0)
    }

    /// The attributes of m-section `index` with their input line numbers.
    pub(super) fn media_attributes(
        &self,
        index: usize,
    ) -> impl Iterator<Item = (&Attribute, usize)> {
        let attributes = self
            .desc
            .media_descriptions
            .get(index)
            .map_or(&[][..], |m| m.attributes.as_slice());
        self.numbered(attributes, index + 1)
    }
}

/// The input as the crate gets it: trimmed non-empty lines joined with CRLF.
struct Framed {
    text: String,
    /// The input line number of each line of `text`.
    lines: Vec<usize>,
    attribute_lines: Vec<Vec<usize>>,
}

/// Checks the bounds and the `<type>=<value>` shape of every line, drops blank lines.
fn frame(sdp: &str) -> Result<Framed, SdpError> {
    if sdp.len() > MAX_SDP_LEN {
        return Err(SdpError::TooLarge);
    }
    let mut framed = Framed {
        text: String::with_capacity(sdp.len() + 64),
        lines: Vec::new(),
        attribute_lines: vec![Vec::new()],
    };
    for (index, raw) in sdp.split('\n').enumerate() {
        let line_no = index + 1;
        if raw.len() > MAX_LINE_LEN {
            return Err(SdpError::LineTooLong { line: line_no });
        }
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        let bytes = line.as_bytes();
        if bytes.len() < 2 || !bytes[0].is_ascii_alphabetic() || bytes[1] != b'=' {
            return Err(SdpError::malformed(line_no, "expected <type>=<value>"));
        }
        match bytes[0] {
            b'm' if framed.attribute_lines.len() > MAX_SECTIONS => {
                return Err(SdpError::TooManySections)
            }
            b'm' => framed.attribute_lines.push(Vec::new()),
            b'a' => {
                if let Some(level) = framed.attribute_lines.last_mut() {
                    level.push(line_no);
                }
            }
            _ => {}
        }
        framed.text.push_str(line);
        framed.text.push_str("\r\n");
        framed.lines.push(line_no);
    }
    Ok(framed)
}

/// Parses `sdp` with the crate; errors name the input line where the crate stopped.
pub(super) fn read(sdp: &str) -> Result<Parsed, SdpError> {
    let framed = frame(sdp)?;
    if framed.text.is_empty() {
        return Err(SdpError::NoMedia);
    }
    let mut cursor = Cursor::new(framed.text.as_bytes());
    match SessionDescription::unmarshal(&mut cursor) {
        Ok(desc) => Ok(Parsed {
            desc,
            attribute_lines: framed.attribute_lines,
        }),
        Err(e) => Err(grammar_error(&framed, cursor.position(), &e)),
    }
}

/// Maps a crate error to the line the crate was reading when it stopped: it stops right after
/// the `x=` of a line type it did not expect, or after the newline of a line whose value it
/// could not read.
fn grammar_error(framed: &Framed, position: u64, error: &CrateError) -> SdpError {
    let text = framed.text.as_bytes();
    let end = usize::try_from(position)
        .unwrap_or(usize::MAX)
        .clamp(1, text.len());
    let index = text[..end - 1].iter().filter(|&&b| b == b'\n').count();
    let line = framed
        .lines
        .get(index)
        .or(framed.lines.last())
        .copied()
        .unwrap_or(1);
    let reason = match error {
        CrateError::SdpInvalidSyntax(key) if key.is_empty() => {
            "SDP ends early: v=, o=, s= and t= lines are required"
        }
        CrateError::SdpInvalidSyntax(key) if key.len() == 2 && key.ends_with('=') => {
            "line type unknown or out of order (RFC 8866: v, o, s, t, then a and m)"
        }
        _ => value_reason(framed, index),
    };
    SdpError::malformed(line, reason)
}

/// Why the value of framed line `index` was refused, by its line type.
fn value_reason(framed: &Framed, index: usize) -> &'static str {
    let start = framed
        .text
        .split("\r\n")
        .nth(index)
        .and_then(|l| l.bytes().next());
    match start {
        Some(b'v') => "bad v= line (version 0 expected)",
        Some(b'o') => "bad o= line (6 fields, numeric session id and version)",
        Some(b's') => "bad s= line",
        Some(b't') => "bad t= line",
        Some(b'm') => "bad m= line (media, port, protocol and formats expected)",
        Some(b'c') => "bad c= line",
        Some(b'b') => "bad b= line",
        _ => "line not understood",
    }
}
