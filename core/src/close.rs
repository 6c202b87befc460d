//! Close codes and close-frame payloads — RFC 6455 §5.5.1 and §7.4.

use crate::error::ProtocolError;
use core::fmt;

/// A status code carried by a close frame (RFC 6455 §7.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CloseCode(pub u16);

impl CloseCode {
    /// 1000: normal closure.
    pub const NORMAL: CloseCode = CloseCode(1000);
    /// 1001: endpoint going away (server shutdown, page navigation).
    pub const GOING_AWAY: CloseCode = CloseCode(1001);
    /// 1002: protocol error.
    pub const PROTOCOL_ERROR: CloseCode = CloseCode(1002);
    /// 1003: data type the endpoint cannot accept.
    pub const UNSUPPORTED_DATA: CloseCode = CloseCode(1003);
    /// 1005: no status code was present. Reserved: never sent on the wire.
    pub const NO_STATUS: CloseCode = CloseCode(1005);
    /// 1006: closed without a close frame. Reserved: never sent on the wire.
    pub const ABNORMAL: CloseCode = CloseCode(1006);
    /// 1007: data inconsistent with the message type (e.g. invalid UTF-8 in text).
    pub const INVALID_PAYLOAD: CloseCode = CloseCode(1007);
    /// 1008: policy violation.
    pub const POLICY_VIOLATION: CloseCode = CloseCode(1008);
    /// 1009: message too big to process.
    pub const TOO_BIG: CloseCode = CloseCode(1009);
    /// 1010: the client expected an extension the server did not negotiate.
    pub const MANDATORY_EXTENSION: CloseCode = CloseCode(1010);
    /// 1011: unexpected condition in the server.
    pub const INTERNAL_ERROR: CloseCode = CloseCode(1011);
    /// 1012: service restart (IANA registry).
    pub const SERVICE_RESTART: CloseCode = CloseCode(1012);
    /// 1013: try again later (IANA registry).
    pub const TRY_AGAIN_LATER: CloseCode = CloseCode(1013);
    /// 1014: bad gateway (IANA registry).
    pub const BAD_GATEWAY: CloseCode = CloseCode(1014);
    /// 1015: TLS handshake failure. Reserved: never sent on the wire.
    pub const TLS_HANDSHAKE: CloseCode = CloseCode(1015);

    /// Whether this code may appear in a close frame on the wire (§7.4.1, §7.4.2, IANA).
    ///
    /// Allowed: 1000-1003, 1007-1014 (1012-1014 from the IANA registry), and 3000-4999
    /// (registered and private use). Everything else — below 1000, 1004-1006, 1015,
    /// 1016-2999 and 5000 and up — is a protocol error when received.
    pub const fn is_allowed_on_wire(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }

    /// A short name for the code, as in the RFC's §7.4.1 list.
    pub const fn meaning(self) -> &'static str {
        match self.0 {
            1000 => "normal closure",
            1001 => "going away",
            1002 => "protocol error",
            1003 => "unsupported data",
            1004 => "reserved",
            1005 => "no status received (reserved, never sent)",
            1006 => "abnormal closure (reserved, never sent)",
            1007 => "invalid frame payload data",
            1008 => "policy violation",
            1009 => "message too big",
            1010 => "mandatory extension",
            1011 => "internal server error",
            1012 => "service restart",
            1013 => "try again later",
            1014 => "bad gateway",
            1015 => "TLS handshake failure (reserved, never sent)",
            3000..=3999 => "registered for libraries and frameworks",
            4000..=4999 => "private use",
            _ => "not a valid close code",
        }
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.0, self.meaning())
    }
}

impl From<u16> for CloseCode {
    fn from(code: u16) -> Self {
        CloseCode(code)
    }
}

/// Why a close payload was refused: the error and the payload offset of the offending byte.
pub type ClosePayloadError = (ProtocolError, usize);

/// Parses a close frame's payload (RFC 6455 §5.5.1): empty, or a 2-byte big-endian code
/// followed by a UTF-8 reason. Returns the code (`None` for an empty payload) and the reason.
pub fn parse_close_payload(payload: &[u8]) -> Result<(Option<CloseCode>, &str), ClosePayloadError> {
    match payload {
        [] => Ok((None, "")),
        [_] => Err((ProtocolError::CloseFrameOneByte, 0)),
        [hi, lo, reason @ ..] => {
            let code = CloseCode(u16::from_be_bytes([*hi, *lo]));
            if !code.is_allowed_on_wire() {
                return Err((ProtocolError::InvalidCloseCode, 0));
            }
            match core::str::from_utf8(reason) {
                Ok(reason) => Ok((Some(code), reason)),
                Err(e) => Err((ProtocolError::InvalidCloseReason, 2 + e.valid_up_to())),
            }
        }
    }
}

/// The longest close reason that fits a control frame: 125 - 2 bytes of code (§5.5).
pub const MAX_REASON_LEN: usize = 123;

/// Cuts `reason` to at most [`MAX_REASON_LEN`] bytes on a character boundary.
pub fn truncate_reason(reason: &str) -> &str {
    if reason.len() <= MAX_REASON_LEN {
        return reason;
    }
    let mut end = MAX_REASON_LEN;
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    &reason[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_rules_match_rfc_7_4() {
        for code in 0u16..=u16::MAX {
            let allowed = CloseCode(code).is_allowed_on_wire();
            let expected = (1000..=1003).contains(&code)
                || (1007..=1014).contains(&code)
                || (3000..=4999).contains(&code);
            assert_eq!(allowed, expected, "code {code}");
        }
        for bad in [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535] {
            assert!(!CloseCode(bad).is_allowed_on_wire(), "{bad}");
        }
    }

    #[test]
    fn empty_payload_is_no_status() {
        assert_eq!(parse_close_payload(&[]), Ok((None, "")));
    }

    #[test]
    fn one_byte_payload_is_protocol_error() {
        assert_eq!(
            parse_close_payload(&[3]),
            Err((ProtocolError::CloseFrameOneByte, 0))
        );
    }

    #[test]
    fn code_and_reason() {
        let p = [0x03, 0xE8, b'b', b'y', b'e'];
        assert_eq!(
            parse_close_payload(&p),
            Ok((Some(CloseCode::NORMAL), "bye"))
        );
    }

    #[test]
    fn invalid_reason_utf8_points_at_byte() {
        let p = [0x03, 0xE8, b'o', b'k', 0xFF];
        assert_eq!(
            parse_close_payload(&p),
            Err((ProtocolError::InvalidCloseReason, 4))
        );
        assert_eq!(
            ProtocolError::InvalidCloseReason.rfc_section(),
            "RFC 6455 §5.5.1"
        );
        assert_eq!(
            ProtocolError::InvalidCloseReason.close_code(),
            CloseCode(1007)
        );
    }

    #[test]
    fn reserved_code_refused() {
        let p = 1005u16.to_be_bytes();
        assert_eq!(
            parse_close_payload(&p),
            Err((ProtocolError::InvalidCloseCode, 0))
        );
    }

    #[test]
    fn truncate_on_char_boundary() {
        let s = "é".repeat(100); // 200 bytes
        let t = truncate_reason(&s);
        assert!(t.len() <= MAX_REASON_LEN);
        assert_eq!(t.len(), 122);
        assert_eq!(truncate_reason("short"), "short");
    }
}
