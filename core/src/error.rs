//! Errors: protocol violations carry the close code that must follow (RFC 6455 §7.4.1).

use crate::close::CloseCode;
use core::fmt;

/// What rule the peer broke. Each kind maps to exactly one close code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProtocolError {
    /// RSV1-3 set without a negotiated extension that defines it (§5.2).
    ReservedBitsSet,
    /// Opcode 0x3-0x7 or 0xB-0xF (§5.2).
    ReservedOpcode,
    /// A control frame with FIN = 0 (§5.5).
    FragmentedControlFrame,
    /// A control frame whose payload is longer than 125 bytes (§5.5).
    ControlFrameTooLong,
    /// A client frame without the mask bit: servers must close (§5.1).
    UnmaskedClientFrame,
    /// A server frame with the mask bit set: clients must close (§5.1).
    MaskedServerFrame,
    /// A 64-bit payload length with the most significant bit set (§5.2).
    LengthMsbSet,
    /// A continuation frame with no message in progress (§5.4).
    UnexpectedContinuation,
    /// A new text or binary frame while a fragmented message is in progress (§5.4).
    ExpectedContinuation,
    /// Text payload that is not valid UTF-8 (§5.6, §8.1).
    InvalidUtf8,
    /// A close frame's reason that is not valid UTF-8 (§5.5.1: "the data ... MUST be
    /// UTF-8-encoded"; failed with 1007 like invalid text).
    InvalidCloseReason,
    /// A close frame with a 1-byte payload (§5.5.1).
    CloseFrameOneByte,
    /// A close code that may not appear on the wire (§7.4.1, §7.4.2).
    InvalidCloseCode,
    /// A frame longer than the configured maximum frame size.
    FrameTooBig,
    /// A message longer than the configured maximum message size.
    MessageTooBig,
    /// The transport ended without a close frame (§7.1.5: reported as 1006, never sent).
    AbnormalClosure,
    /// permessage-deflate: RSV1 ("compressed") on a control frame or on a frame that is not
    /// the first of its message (RFC 7692 §6.1).
    MisplacedCompressionBit,
    /// permessage-deflate: the payload of a compressed message is not valid DEFLATE data
    /// (RFC 7692 §7.2.2; closed with 1007, as data inconsistent with the message's type).
    InvalidCompressedData,
}

impl ProtocolError {
    /// The close code to send when failing the connection for this reason (§7.4.1).
    pub const fn close_code(self) -> CloseCode {
        match self {
            ProtocolError::InvalidUtf8
            | ProtocolError::InvalidCloseReason
            | ProtocolError::InvalidCompressedData => CloseCode::INVALID_PAYLOAD,
            ProtocolError::FrameTooBig | ProtocolError::MessageTooBig => CloseCode::TOO_BIG,
            ProtocolError::AbnormalClosure => CloseCode::ABNORMAL,
            _ => CloseCode::PROTOCOL_ERROR,
        }
    }

    /// One line saying which rule was broken.
    pub const fn description(self) -> &'static str {
        match self {
            ProtocolError::ReservedBitsSet => "reserved bit set without a negotiated extension",
            ProtocolError::ReservedOpcode => "reserved opcode",
            ProtocolError::FragmentedControlFrame => "control frame with FIN = 0 (fragmented)",
            ProtocolError::ControlFrameTooLong => "control frame payload longer than 125 bytes",
            ProtocolError::UnmaskedClientFrame => "client frame is not masked",
            ProtocolError::MaskedServerFrame => "server frame is masked",
            ProtocolError::LengthMsbSet => "64-bit payload length has its most significant bit set",
            ProtocolError::UnexpectedContinuation => {
                "continuation frame without a message to continue"
            }
            ProtocolError::ExpectedContinuation => {
                "new data frame while a fragmented message is in progress"
            }
            ProtocolError::InvalidUtf8 => "invalid UTF-8 in text",
            ProtocolError::InvalidCloseReason => "invalid UTF-8 in a close reason",
            ProtocolError::CloseFrameOneByte => "close frame payload of exactly 1 byte",
            ProtocolError::InvalidCloseCode => "close code not allowed on the wire",
            ProtocolError::FrameTooBig => "frame exceeds the maximum frame size",
            ProtocolError::MessageTooBig => "message exceeds the maximum message size",
            ProtocolError::AbnormalClosure => "connection ended without a close frame",
            ProtocolError::MisplacedCompressionBit => {
                "RSV1 (compressed) on a control frame or a continuation frame"
            }
            ProtocolError::InvalidCompressedData => "compressed payload is not valid DEFLATE data",
        }
    }

    /// The RFC and section that state the rule, e.g. `"RFC 6455 §5.2"` or
    /// `"RFC 7692 §7.2.2"`.
    pub const fn rfc_section(self) -> &'static str {
        match self {
            ProtocolError::ReservedBitsSet
            | ProtocolError::ReservedOpcode
            | ProtocolError::LengthMsbSet => "RFC 6455 §5.2",
            ProtocolError::FragmentedControlFrame | ProtocolError::ControlFrameTooLong => {
                "RFC 6455 §5.5"
            }
            ProtocolError::UnmaskedClientFrame | ProtocolError::MaskedServerFrame => {
                "RFC 6455 §5.1"
            }
            ProtocolError::UnexpectedContinuation | ProtocolError::ExpectedContinuation => {
                "RFC 6455 §5.4"
            }
            ProtocolError::InvalidUtf8 => "RFC 6455 §8.1",
            ProtocolError::CloseFrameOneByte | ProtocolError::InvalidCloseReason => {
                "RFC 6455 §5.5.1"
            }
            ProtocolError::InvalidCloseCode => "RFC 6455 §7.4.1",
            ProtocolError::FrameTooBig | ProtocolError::MessageTooBig => "RFC 6455 §10.4",
            ProtocolError::AbnormalClosure => "RFC 6455 §7.1.5",
            ProtocolError::MisplacedCompressionBit => "RFC 7692 §6.1",
            ProtocolError::InvalidCompressedData => "RFC 7692 §7.2.2",
        }
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}, close {})",
            self.description(),
            self.rfc_section(),
            self.close_code().0
        )
    }
}

/// Everything [`Connection`](crate::Connection) can refuse.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The peer broke the protocol at stream byte `offset`; the connection has been failed and
    /// a close frame with `kind.close_code()` is queued (§7.1.7).
    Protocol {
        /// Which rule.
        kind: ProtocolError,
        /// Offset in the received byte stream (counting from the first frame byte) of the
        /// byte that broke it.
        offset: u64,
    },
    /// The opening handshake failed (§4).
    Handshake(crate::handshake::HandshakeError),
    /// The application tried to send after a close frame was sent or the connection ended.
    SendAfterClose,
    /// The application called something that the current state does not allow.
    InvalidState(&'static str),
    /// The application passed an argument the protocol forbids (e.g. a 126-byte ping).
    InvalidInput(&'static str),
    /// Our own permessage-deflate compressor failed (RFC 7692 §7.2.1): the message was not
    /// sent, and nothing of it was queued. The connection itself is unharmed.
    Compression(&'static str),
}

impl Error {
    /// The close code that goes with this error, if it is a protocol violation.
    pub fn close_code(&self) -> Option<CloseCode> {
        match self {
            Error::Protocol { kind, .. } => Some(kind.close_code()),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Protocol { kind, offset } => write!(f, "{kind} at byte {offset}"),
            Error::Handshake(e) => write!(f, "handshake failed: {e}"),
            Error::SendAfterClose => f.write_str("cannot send: the close handshake has started"),
            Error::InvalidState(s) => write!(f, "invalid state: {s}"),
            Error::InvalidInput(s) => write!(f, "invalid input: {s}"),
            Error::Compression(s) => write!(f, "permessage-deflate: {s}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ProtocolError {}
#[cfg(feature = "std")]
impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn a_compressor_failure_is_its_own_error_with_no_close_code() {
        // The peer did nothing wrong: no close code goes with it (unlike a protocol error).
        let e = Error::Compression("the compressor failed");
        assert_eq!(e.close_code(), None);
        assert_eq!(e.to_string(), "permessage-deflate: the compressor failed");
        assert_ne!(e, Error::InvalidState("the compressor failed"));
    }
}
