//! The events a connection reports, and where their data lives until they are made.

use super::*;

/// What the peer sent, borrowed from the input or the connection.
#[derive(Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// Server role: the opening handshake request arrived. Call [`Connection::accept`] or
    /// [`Connection::reject`].
    Request(&'a Request),
    /// Client role: the server accepted the opening handshake.
    Connected(&'a Response),
    /// A complete text message.
    Text(&'a str),
    /// A complete binary message.
    Binary(&'a [u8]),
    /// With [`Config::deliver_fragments`]: the next piece of a data message. Text pieces are
    /// validated UTF-8 so far but may end inside a character.
    Fragment {
        /// The bytes.
        data: &'a [u8],
        /// Whether the message is text.
        text: bool,
        /// Whether this piece completes the message.
        fin: bool,
    },
    /// A ping (already answered when [`Config::auto_pong`] is on).
    Ping(&'a [u8]),
    /// A pong.
    Pong(&'a [u8]),
    /// The peer's close frame (already answered). `code` is `None` for an empty payload.
    Close {
        /// The status code.
        code: Option<CloseCode>,
        /// The reason.
        reason: &'a str,
    },
}

/// An [`Event`] that owns its data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OwnedEvent {
    /// See [`Event::Request`] (boxed: it is large and rare).
    Request(Box<Request>),
    /// See [`Event::Connected`] (boxed: it is large and rare).
    Connected(Box<Response>),
    /// See [`Event::Text`].
    Text(String),
    /// See [`Event::Binary`].
    Binary(Vec<u8>),
    /// See [`Event::Fragment`].
    Fragment {
        /// The bytes.
        data: Vec<u8>,
        /// Whether the message is text.
        text: bool,
        /// Whether this piece completes the message.
        fin: bool,
    },
    /// See [`Event::Ping`].
    Ping(Vec<u8>),
    /// See [`Event::Pong`].
    Pong(Vec<u8>),
    /// See [`Event::Close`].
    Close {
        /// The status code.
        code: Option<CloseCode>,
        /// The reason.
        reason: String,
    },
}

impl Event<'_> {
    /// Copies the event's data.
    pub fn to_owned(&self) -> OwnedEvent {
        match *self {
            Event::Request(r) => OwnedEvent::Request(Box::new(r.clone())),
            Event::Connected(r) => OwnedEvent::Connected(Box::new(r.clone())),
            Event::Text(s) => OwnedEvent::Text(s.into()),
            Event::Binary(b) => OwnedEvent::Binary(b.to_vec()),
            Event::Fragment { data, text, fin } => OwnedEvent::Fragment {
                data: data.to_vec(),
                text,
                fin,
            },
            Event::Ping(b) => OwnedEvent::Ping(b.to_vec()),
            Event::Pong(b) => OwnedEvent::Pong(b.to_vec()),
            Event::Close { code, reason } => OwnedEvent::Close {
                code,
                reason: reason.into(),
            },
        }
    }
}

/// Where a ready event's data lives, decided inside the read loop and turned into an
/// [`Event`] after it (so the loop holds no borrow across iterations).
#[derive(Clone, Copy)]
pub(super) enum Ready {
    /// `input[start..end]`.
    Input(Kind, usize, usize),
    /// The reassembly buffer.
    Message(Kind),
    /// The control-frame buffer.
    Control(Kind),
    /// The handshake's request or response.
    Handshake,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Text,
    Binary,
    Fragment { text: bool, fin: bool },
    Ping,
    Pong,
    Close,
}

/// Builds the event for `ready` from the places its data can live: the input, the
/// reassembly buffer, the control-frame buffer, or the handshake.
///
/// Text that arrived whole in one frame is validated here, once, as it becomes a `&str`;
/// `Err(index)` gives the first invalid byte's index in the text.
#[inline]
pub(super) fn make_event<'a>(
    ready: Ready,
    input: &'a [u8],
    buffer: &'a [u8],
    control: &'a [u8],
    handshake: Option<&'a Handshake>,
) -> Result<Event<'a>, usize> {
    let (kind, data): (Kind, &'a [u8]) = match ready {
        Ready::Input(kind, start, end) => (kind, &input[start..end]),
        Ready::Message(kind) => (kind, buffer),
        // Cleared when the next control frame starts.
        Ready::Control(kind) => (kind, control),
        Ready::Handshake => {
            return Ok(match handshake {
                Some(Handshake::Server {
                    request: Some(r), ..
                }) => Event::Request(r),
                Some(Handshake::Client {
                    response: Some(r), ..
                }) => Event::Connected(r),
                // Unreachable: Ready::Handshake is produced only once one of them is stored.
                _ => Event::Close {
                    code: None,
                    reason: "",
                },
            });
        }
    };
    Ok(match kind {
        Kind::Text => match simdutf8::basic::from_utf8(data) {
            Ok(text) => Event::Text(text),
            Err(_) => return Err(first_invalid_utf8(data)),
        },
        Kind::Binary => Event::Binary(data),
        Kind::Fragment { text, fin } => Event::Fragment { data, text, fin },
        Kind::Ping => Event::Ping(data),
        Kind::Pong => Event::Pong(data),
        Kind::Close => match parse_close_payload(data) {
            Ok((code, reason)) => Event::Close { code, reason },
            Err(_) => Event::Close {
                code: None,
                reason: "",
            },
        },
    })
}

/// Index of the first byte of `data` that makes it invalid UTF-8 (fail-fast position).
pub(super) fn first_invalid_utf8(data: &[u8]) -> usize {
    match Utf8Validator::new().feed(data, true) {
        Err(e) => e.index,
        Ok(()) => 0,
    }
}

/// Fails the connection for a whole text frame found invalid when its event was made; the
/// frame's payload ended at stream offset `end_offset`.
pub(super) fn fail_invalid_text<T: Tracer>(
    out: &mut Sender,
    tracer: &mut T,
    ready: Ready,
    index: usize,
    end_offset: u64,
) -> Error {
    let len = match ready {
        Ready::Input(_, start, end) => end - start,
        _ => 0,
    };
    let offset = end_offset - len as u64 + index as u64;
    tracer.error(offset, ProtocolError::InvalidUtf8);
    out.fail(Error::Protocol {
        kind: ProtocolError::InvalidUtf8,
        offset,
    })
}
