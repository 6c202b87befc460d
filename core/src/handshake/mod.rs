//! The opening handshake — RFC 6455 §4 (and the accept key of §1.3).
//!
//! Server side ([`RequestParser`], [`accept_response`], [`reject_response`]) and client side
//! ([`ClientHandshake`]). Both parse incrementally: the caller passes everything received so
//! far, each byte is scanned once across calls, and the head is capped (8 KiB by default, 431
//! past it). Lines must end in CRLF; a head whose lines end in bare LF is refused with 400.

mod accept;
mod client;
mod head;
pub mod headers;
mod request;

pub use accept::{accept_key, accept_key_steps, AcceptKeySteps, GUID};
pub use client::{ClientHandshake, ClientRequest, Response};
pub(crate) use head::split_head;
pub use head::{Head, HeadScanner, Header, Target};
pub use headers::ExtensionOffer;
pub use request::{
    accept_response, negotiate_protocol, reason_phrase, reject_response, AcceptOptions, Request,
    RequestParser,
};

use alloc::vec::Vec;
use core::fmt;

/// See [`HeadScanner::room`] (for a head buffered by the connection).
pub(crate) const fn head_room(max: usize, buffered: usize) -> usize {
    head::room(max, buffered)
}

/// Default cap on the size of an HTTP head.
pub const DEFAULT_MAX_HEADER_BYTES: usize = 8 * 1024;

/// Result of an incremental parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status<T> {
    /// The head has not ended yet: feed more bytes.
    Partial,
    /// The head is complete: the parsed value and the head's length in bytes (anything after
    /// it is WebSocket data).
    Complete(T, usize),
}

/// Why a handshake failed. On the server side, `status` is the HTTP status to answer with
/// ([`HandshakeError::response`]); on the client side, the status the server sent (0 if the
/// response was not HTTP).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HandshakeError {
    /// HTTP status.
    pub status: u16,
    /// One line saying exactly what was wrong.
    pub reason: &'static str,
    /// Byte offset in the input where it went wrong, when known.
    pub offset: Option<usize>,
}

impl HandshakeError {
    pub(crate) const fn new(status: u16, reason: &'static str, offset: Option<usize>) -> Self {
        HandshakeError {
            status,
            reason,
            offset,
        }
    }

    /// The same error with its offset moved `by` bytes on (a part's error, placed in the whole).
    pub(crate) const fn shifted(self, by: usize) -> Self {
        HandshakeError {
            offset: match self.offset {
                Some(at) => Some(at + by),
                None => None,
            },
            ..self
        }
    }

    /// The HTTP rejection to send for this error (server side).
    pub fn response(&self) -> Vec<u8> {
        reject_response(self.status, self.reason)
    }
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (HTTP {})", self.reason, self.status)
    }
}

#[cfg(feature = "std")]
impl std::error::Error for HandshakeError {}
