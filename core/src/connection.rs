//! Message assembly and the connection state machine — RFC 6455 §4-§7.
//!
//! ```text
//!                 server: Request event, then accept()        close() sent
//!  ┌────────────┐  client: Connected event     ┌──────┐ ───────────────────► ┌─────────┐
//!  │ Connecting │ ───────────────────────────► │ Open │                      │ Closing │
//!  └────────────┘                              └──────┘                      └─────────┘
//!        │ handshake error / reject()              │ close received: reply sent      │ peer's close
//!        ▼                                         ▼ protocol error: close sent      ▼ received
//!  ┌────────────────────────────────────────────────────────────────────────────────────┐
//!  │                                      Closed                                        │
//!  └────────────────────────────────────────────────────────────────────────────────────┘
//! ```
//!
//! A [`Connection`] is fed bytes with [`Connection::read`] (zero-copy: payload is unmasked in
//! place and events borrow the input) or [`Connection::receive`] (owned events, for
//! convenience). What it has to send — handshake responses, frames, automatic pongs, close
//! replies — accumulates in an output buffer the caller drains with
//! [`Connection::pending_output`] and [`Connection::consume_output`].

use crate::close::{parse_close_payload, truncate_reason, CloseCode};
use crate::decoder::{Decoded, FrameDecoder};
use crate::deflate::DeflateParams;
#[cfg(feature = "deflate")]
use crate::deflate::{Compressor, Decompressor, InflateFail};
use crate::error::{Error, ProtocolError};
use crate::frame::{FrameHeader, OpCode};
use crate::handshake::{
    accept_response, reject_response, AcceptOptions, ClientHandshake, ClientRequest,
    HandshakeError, Request, RequestParser, Response, Status,
};
use crate::mask::apply_mask;
use crate::trace::{NoTrace, Tracer};
use crate::utf8::Utf8Validator;
use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

pub use crate::decoder::Role;

/// Limits and behaviour of a connection. The defaults are safe for a public server and let a
/// 16 MiB message through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Largest frame payload accepted, in bytes (larger: close 1009). Default 16 MiB.
    pub max_frame_size: u64,
    /// Largest message accepted after reassembly, in bytes (larger: close 1009). Default 64 MiB.
    pub max_message_size: usize,
    /// Split outgoing messages into frames of at most this many payload bytes (`None`: one
    /// frame per message).
    pub fragment_size: Option<usize>,
    /// Deliver data as [`Event::Fragment`]s as it arrives instead of whole messages, so large
    /// messages need not be buffered (as wsproto does). Limits still apply.
    pub deliver_fragments: bool,
    /// Reply to pings automatically (RFC 6455 §5.5.2). Default true.
    pub auto_pong: bool,
    /// RSV bits that a negotiated extension has claimed (see [`FrameHeader::RSV1`]).
    pub reserved_bits: u8,
    /// Cap on the size of the handshake's HTTP head (431 past it). Default 8 KiB.
    pub max_header_bytes: usize,
    /// permessage-deflate (RFC 7692) in effect from the start, with these parameters: for a
    /// connection whose handshake was done elsewhere, and for the inspector. A handshake
    /// run by the connection negotiates instead ([`AcceptOptions::deflate`],
    /// [`ClientRequest::deflate`]). Needs the `deflate` feature (ignored without it).
    /// Limits apply to the inflated size.
    pub deflate: Option<DeflateParams>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_frame_size: 16 << 20,
            max_message_size: 64 << 20,
            fragment_size: None,
            deliver_fragments: false,
            auto_pong: true,
            reserved_bits: 0,
            max_header_bytes: crate::handshake::DEFAULT_MAX_HEADER_BYTES,
            deflate: None,
        }
    }
}

/// The connection state of RFC 6455 §4 and §7.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// The opening handshake is in progress.
    Connecting,
    /// Messages flow both ways.
    Open,
    /// We sent a close frame and wait for the peer's.
    Closing,
    /// The close handshake is complete or the connection was failed: send nothing more; the
    /// server closes the TCP connection once the output is flushed (§7.1.1).
    Closed,
}

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
enum Ready {
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
enum Kind {
    Text,
    Binary,
    Fragment { text: bool, fin: bool },
    Ping,
    Pong,
    Close,
}

/// The opening-handshake phase (boxed: an open connection does not carry it).
enum Handshake {
    Server {
        parser: RequestParser,
        buf: Vec<u8>,
        request: Option<Request>,
    },
    Client {
        handshake: ClientHandshake,
        buf: Vec<u8>,
        response: Option<Response>,
    },
}

impl Handshake {
    /// Feeds handshake bytes: copies at most what the header cap allows into the head buffer
    /// and parses. Returns the bytes of `input` used and whether the head is complete (its
    /// request or response is then stored).
    fn feed(
        &mut self,
        input: &[u8],
        max_header_bytes: usize,
    ) -> Result<(usize, bool), HandshakeError> {
        let buf = match self {
            Handshake::Server { buf, .. } | Handshake::Client { buf, .. } => buf,
        };
        let before = buf.len();
        // One byte past the cap lets the parser see that the head is too long (431).
        let room = max_header_bytes.saturating_add(1).saturating_sub(before);
        let take = input.len().min(room.max(1));
        buf.extend_from_slice(&input[..take]);
        match self {
            Handshake::Server {
                parser,
                buf,
                request,
            } => match parser.parse(buf)? {
                Status::Partial => Ok((take, false)),
                Status::Complete(parsed, used) => {
                    *buf = Vec::new();
                    *request = Some(parsed);
                    Ok((used - before, true))
                }
            },
            Handshake::Client {
                handshake,
                buf,
                response,
            } => match handshake.parse_response(buf)? {
                Status::Partial => Ok((take, false)),
                Status::Complete(parsed, used) => {
                    *buf = Vec::new();
                    *response = Some(parsed);
                    Ok((used - before, true))
                }
            },
        }
    }
}

/// Builds the event for `ready` from the places its data can live: the input, the
/// reassembly buffer, the control-frame buffer, or the handshake.
///
/// Text that arrived whole in one frame is validated here, once, as it becomes a `&str`;
/// `Err(index)` gives the first invalid byte's index in the text.
#[inline]
fn make_event<'a>(
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
fn first_invalid_utf8(data: &[u8]) -> usize {
    match Utf8Validator::new().feed(data, true) {
        Err(e) => e.index,
        Ok(()) => 0,
    }
}

/// Fails the connection for a whole text frame found invalid when its event was made; the
/// frame's payload ended at stream offset `end_offset`.
fn fail_invalid_text<T: Tracer>(
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

/// An event with the sending half borrowed alongside it.
type EventAndSender<'a> = (Event<'a>, &'a mut Sender);

/// Source of client masking keys (RFC 6455 §5.3: each key must be unpredictable; use a
/// cryptographically strong source).
pub type MaskSource = Box<dyn FnMut() -> [u8; 4] + Send>;

/// One WebSocket connection, either role, as a sans-IO state machine.
pub struct Connection<T: Tracer = NoTrace> {
    out: Sender,
    config: Config,
    decoder: FrameDecoder,
    tracer: T,
    handshake: Option<Box<Handshake>>,
    // Receive side.
    frame: FrameHeader,
    message: Option<OpCode>,
    message_len: usize,
    buffer: Vec<u8>,
    control: Vec<u8>,
    utf8: Utf8Validator,
    /// The reassembly buffer was lent out by the last event: clear it on the next read.
    release_message: bool,
    early: Vec<u8>,
}

/// permessage-deflate state, once agreed: one box (kept by the [`Sender`], which compresses),
/// so a connection without it pays one pointer.
#[cfg_attr(not(feature = "deflate"), allow(dead_code))]
struct Pmd {
    params: DeflateParams,
    /// RFC 7692 §7.2.1.
    #[cfg(feature = "deflate")]
    compressor: Compressor,
    /// RFC 7692 §7.2.2.
    #[cfg(feature = "deflate")]
    decompressor: Decompressor,
    /// The message being received is compressed (RSV1 on its first frame).
    compressed: bool,
    /// Wire payload bytes of the compressed message being received.
    wire_len: u64,
}

impl core::fmt::Debug for Connection<NoTrace> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Connection")
            .field("role", &self.out.role)
            .field("state", &self.out.state)
            .field("pending_output", &self.pending_output().len())
            .finish_non_exhaustive()
    }
}

impl Connection<NoTrace> {
    /// Buffer capacity a recycled connection keeps (see [`Connection::recycle`]).
    pub const RECYCLE_KEEP: usize = 64 * 1024;

    /// Server role, starting with the opening handshake: feed it the client's request.
    pub fn server(config: Config) -> Self {
        let parser = RequestParser::with_max_header_bytes(config.max_header_bytes);
        let mut c = Self::build(Role::Server, State::Connecting, config, None);
        c.handshake = Some(Box::new(Handshake::Server {
            parser,
            buf: Vec::new(),
            request: None,
        }));
        c
    }

    /// Client role, starting with the opening handshake: the request is queued as output.
    /// `mask_source` supplies a fresh masking key for every frame sent.
    pub fn client(
        config: Config,
        request: &ClientRequest<'_>,
        mask_source: impl FnMut() -> [u8; 4] + Send + 'static,
    ) -> Self {
        let (handshake, bytes) = ClientHandshake::new(request);
        let mut c = Self::build(
            Role::Client,
            State::Connecting,
            config,
            Some(Box::new(mask_source)),
        );
        c.out.output = bytes;
        c.handshake = Some(Box::new(Handshake::Client {
            handshake,
            buf: Vec::new(),
            response: None,
        }));
        c
    }

    /// Server role, already open (the handshake was done elsewhere).
    pub fn accepted(config: Config) -> Self {
        Self::build(Role::Server, State::Open, config, None)
    }

    /// Client role, already open (the handshake was done elsewhere).
    pub fn connected(
        config: Config,
        mask_source: impl FnMut() -> [u8; 4] + Send + 'static,
    ) -> Self {
        Self::build(
            Role::Client,
            State::Open,
            config,
            Some(Box::new(mask_source)),
        )
    }

    fn build(role: Role, state: State, config: Config, mask_source: Option<MaskSource>) -> Self {
        #[allow(unused_mut)]
        let mut c = Connection {
            out: Sender {
                role,
                state,
                output: Vec::new(),
                output_pos: 0,
                sending_fragmented: false,
                mask_source,
                pmd: None,
            },
            decoder: FrameDecoder::new(role, config.max_frame_size, config.reserved_bits),
            config,
            tracer: NoTrace,
            handshake: None,
            frame: FrameHeader::new(OpCode::Continuation, 0),
            message: None,
            message_len: 0,
            buffer: Vec::new(),
            control: Vec::new(),
            utf8: Utf8Validator::new(),
            release_message: false,
            early: Vec::new(),
        };
        #[cfg(feature = "deflate")]
        if let Some(params) = c.config.deflate {
            c.enable_deflate(params);
        }
        c
    }

    /// The same connection, reporting what it reads to `tracer`.
    pub fn with_tracer<U: Tracer>(self, tracer: U) -> Connection<U> {
        Connection {
            out: self.out,
            config: self.config,
            decoder: self.decoder,
            tracer,
            handshake: self.handshake,
            frame: self.frame,
            message: self.message,
            message_len: self.message_len,
            buffer: self.buffer,
            control: self.control,
            utf8: self.utf8,
            release_message: self.release_message,
            early: self.early,
        }
    }
}

impl<T: Tracer> Connection<T> {
    /// Our role.
    pub const fn role(&self) -> Role {
        self.out.role
    }

    /// The state (RFC 6455 §4, §7).
    pub const fn state(&self) -> State {
        self.out.state
    }

    /// The configuration.
    pub const fn config(&self) -> &Config {
        &self.config
    }

    /// The tracer.
    pub fn tracer(&self) -> &T {
        &self.tracer
    }

    /// The tracer, mutably (e.g. to take what it recorded).
    pub fn tracer_mut(&mut self) -> &mut T {
        &mut self.tracer
    }

    /// The frame decoder (read-only; for step-through displays).
    pub const fn decoder(&self) -> &FrameDecoder {
        &self.decoder
    }

    /// The permessage-deflate parameters in force (RFC 7692), if it was agreed.
    pub fn deflate_params(&self) -> Option<&DeflateParams> {
        self.out.pmd.as_ref().map(|p| &p.params)
    }

    /// Turns permessage-deflate on with the agreed `params` (RFC 7692): RSV1 is accepted on
    /// the first frame of a data message and means "compressed"; messages sent from now on
    /// are compressed (control frames never are). The handshake calls this itself when it
    /// negotiated the extension; call it directly when the handshake was done elsewhere.
    /// Takes effect at the next message boundary in each direction.
    #[cfg(feature = "deflate")]
    pub fn enable_deflate(&mut self, params: DeflateParams) {
        let server = self.out.role == Role::Server;
        self.decoder
            .set_allowed_rsv(self.config.reserved_bits | FrameHeader::RSV1);
        self.out.pmd = Some(Box::new(Pmd {
            params,
            compressor: Compressor::new(&params, server),
            decompressor: Decompressor::new(&params, server),
            compressed: false,
            wire_len: 0,
        }));
    }

    /// Reads from `input` until one event is ready or the input is used up. Returns how many
    /// bytes were consumed and the event, if any; call again with the rest of the input.
    /// Without an event, all of the input was consumed (it is buffered if incomplete).
    ///
    /// Payload bytes are unmasked in place, and a message that arrives whole in one frame is
    /// delivered straight from `input` without a copy.
    ///
    /// On a protocol violation the connection is failed (§7.1.7): a close frame with the
    /// right code is queued, the state becomes [`State::Closed`] and the error is returned.
    /// Input that arrives after [`State::Closed`] is discarded.
    pub fn read<'a>(
        &'a mut self,
        input: &'a mut [u8],
    ) -> Result<(usize, Option<Event<'a>>), Error> {
        let (used, ready) = self.next(input)?;
        Ok((used, ready.map(|(event, _)| event)))
    }

    /// Like [`Connection::read`], but hands the event to `f` together with the [`Sender`], so
    /// the message can be answered (echoed, say) while it is still borrowed, without a copy.
    /// Returns the bytes consumed and what `f` returned, if an event was ready.
    pub fn read_with<R>(
        &mut self,
        input: &mut [u8],
        f: impl FnOnce(Event<'_>, &mut Sender) -> R,
    ) -> Result<(usize, Option<R>), Error> {
        let (used, ready) = self.next(input)?;
        Ok((used, ready.map(|(event, sender)| f(event, sender))))
    }

    /// The next event and, borrowed alongside it, the sending half.
    fn next<'a>(
        &'a mut self,
        input: &'a mut [u8],
    ) -> Result<(usize, Option<EventAndSender<'a>>), Error> {
        let (used, ready) = self.advance(input)?;
        let Some(ready) = ready else {
            return Ok((used, None));
        };
        self.release_message = matches!(ready, Ready::Message(_));
        let end_offset = self.decoder.offset();
        let Connection {
            out,
            tracer,
            buffer,
            control,
            handshake,
            ..
        } = self;
        match make_event(ready, input, buffer, control, handshake.as_deref()) {
            Ok(event) => Ok((used, Some((event, out)))),
            Err(index) => Err(fail_invalid_text(out, tracer, ready, index, end_offset)),
        }
    }

    /// Runs the state machine over `input` until an event is ready or the input is used up.
    #[inline]
    fn advance(&mut self, input: &mut [u8]) -> Result<(usize, Option<Ready>), Error> {
        if self.release_message {
            self.release_message = false;
            self.buffer.clear();
        }
        match self.out.state {
            State::Connecting => return self.read_handshake(input),
            State::Closed => return Ok((input.len(), None)),
            State::Open | State::Closing => {}
        }
        if self.handshake.is_some() {
            self.handshake = None;
        }
        let mut pos = 0;
        loop {
            let (used, decoded) = match self.decoder.decode(&mut input[pos..], &mut self.tracer) {
                Ok(r) => r,
                Err(e) => return Err(self.fail(e)),
            };
            pos += used;
            match decoded {
                Decoded::NeedMore(_) => return Ok((pos, None)),
                Decoded::Header(header) => self.on_header(header)?,
                Decoded::Payload { len, last } => {
                    let start = pos - len;
                    if let Some(ready) = self.on_payload(&mut input[start..pos], start, last)? {
                        return Ok((pos, Some(ready)));
                    }
                }
            }
        }
    }

    /// Convenience over [`Connection::read`]: feeds all of `input` and appends owned events to
    /// `events`. On error, the events before it are in `events`.
    pub fn receive(&mut self, input: &[u8], events: &mut Vec<OwnedEvent>) -> Result<(), Error> {
        let mut buf = core::mem::take(&mut self.early);
        buf.extend_from_slice(input);
        let mut pos = 0;
        while pos < buf.len() || buf.is_empty() {
            if self.awaiting_decision() {
                self.early = buf.split_off(pos);
                return Ok(());
            }
            let (used, event) = self.read(&mut buf[pos..])?;
            pos += used;
            match event {
                Some(e) => events.push(e.to_owned()),
                None => break,
            }
        }
        Ok(())
    }

    /// Server role: a request was delivered and neither accept nor reject was called yet.
    fn awaiting_decision(&self) -> bool {
        matches!(
            self.handshake.as_deref(),
            Some(Handshake::Server {
                request: Some(_),
                ..
            })
        ) && self.out.state == State::Connecting
    }

    /// The transport reached end-of-file (§7.1.5). Returns `Some(1006)` if the connection
    /// was not closed cleanly, and moves to [`State::Closed`].
    pub fn receive_eof(&mut self) -> Option<CloseCode> {
        let clean = self.out.state == State::Closed;
        self.out.state = State::Closed;
        (!clean).then_some(CloseCode::ABNORMAL)
    }

    fn read_handshake(&mut self, input: &[u8]) -> Result<(usize, Option<Ready>), Error> {
        if self.awaiting_decision() {
            return Err(Error::InvalidState("call accept() or reject() first"));
        }
        let Some(handshake) = self.handshake.as_deref_mut() else {
            return Err(Error::InvalidState("no handshake in progress"));
        };
        match handshake.feed(input, self.config.max_header_bytes) {
            Ok((used, false)) => Ok((used, None)),
            Ok((used, true)) => {
                if self.out.role == Role::Client {
                    self.out.state = State::Open;
                    #[cfg(feature = "deflate")]
                    if let Some(Handshake::Client {
                        response:
                            Some(Response {
                                deflate: Some(params),
                                ..
                            }),
                        ..
                    }) = self.handshake.as_deref()
                    {
                        let params = *params;
                        self.enable_deflate(params);
                    }
                }
                Ok((used, Some(Ready::Handshake)))
            }
            Err(e) => {
                self.out.state = State::Closed;
                if self.out.role == Role::Server {
                    self.out.output.extend_from_slice(&e.response());
                }
                self.handshake = None;
                Err(Error::Handshake(e))
            }
        }
    }

    /// Server role: accepts the request delivered in [`Event::Request`], queuing the 101
    /// response (RFC 6455 §4.2.2). The connection is then [`State::Open`].
    pub fn accept(&mut self, options: &AcceptOptions<'_>) -> Result<(), Error> {
        match self.handshake.as_deref() {
            Some(Handshake::Server {
                request: Some(request),
                ..
            }) if self.out.state == State::Connecting => {
                #[cfg(feature = "deflate")]
                let agreement = options
                    .deflate
                    .and_then(|cfg| crate::deflate::negotiate(&request.extensions, cfg));
                #[cfg(not(feature = "deflate"))]
                let agreement: Option<crate::deflate::Agreement> = None;
                let response = match &agreement {
                    Some(a) => {
                        let extensions = match options.extensions {
                            Some(other) => alloc::format!("{other}, {}", a.response),
                            None => a.response.clone(),
                        };
                        let opts = AcceptOptions {
                            extensions: Some(&extensions),
                            ..*options
                        };
                        accept_response(request, &opts)
                    }
                    None => accept_response(request, options),
                };
                self.out.output.extend_from_slice(&response);
                self.out.state = State::Open;
                self.handshake = None;
                #[cfg(feature = "deflate")]
                if let Some(a) = agreement {
                    self.enable_deflate(a.params);
                }
                Ok(())
            }
            _ => Err(Error::InvalidState(
                "accept() needs a received, undecided request",
            )),
        }
    }

    /// Server role: refuses the handshake with an HTTP `status` and a plain-text `body` saying
    /// why (§4.2.2). The connection is then [`State::Closed`].
    pub fn reject(&mut self, status: u16, body: &str) -> Result<(), Error> {
        if self.out.state != State::Connecting || self.out.role != Role::Server {
            return Err(Error::InvalidState(
                "reject() is only for a server handshake",
            ));
        }
        self.out
            .output
            .extend_from_slice(&reject_response(status, body));
        self.out.state = State::Closed;
        self.handshake = None;
        Ok(())
    }

    /// Validates a frame header against the message in progress (§5.4) and the limits.
    #[inline]
    fn on_header(&mut self, header: FrameHeader) -> Result<(), Error> {
        self.frame = header;
        let at = self.decoder.frame_start();
        match header.opcode {
            OpCode::Continuation => {
                if self.message.is_none() {
                    return Err(self.fail_at(ProtocolError::UnexpectedContinuation, at));
                }
                if header.rsv != 0 {
                    // Per-message extensions (RFC 7692 §6) set RSV bits on the first frame only.
                    return Err(self.fail_at(self.rsv_error(header.rsv), at));
                }
            }
            OpCode::Text | OpCode::Binary => {
                if self.message.is_some() {
                    return Err(self.fail_at(ProtocolError::ExpectedContinuation, at));
                }
                self.message = Some(header.opcode);
                self.message_len = 0;
                self.utf8.reset();
                if let Some(p) = self.out.pmd.as_deref_mut() {
                    p.compressed = header.rsv & FrameHeader::RSV1 != 0;
                    p.wire_len = 0;
                }
            }
            OpCode::Close | OpCode::Ping | OpCode::Pong => {
                if self.out.pmd.is_some() && header.rsv & FrameHeader::RSV1 != 0 {
                    // RFC 7692 §6.1: control frames are never compressed.
                    return Err(self.fail_at(ProtocolError::MisplacedCompressionBit, at));
                }
                self.control.clear();
                return Ok(());
            }
        }
        if let Some(p) = self.out.pmd.as_deref_mut().filter(|p| p.compressed) {
            // The limit applies to the inflated size (checked as it is produced). The
            // compressed bytes are never buffered, but they are bounded too, with room for
            // DEFLATE's worst-case growth on incompressible data (9 bits per byte with fixed
            // Huffman codes), so an endless message of empty blocks cannot go on forever.
            p.wire_len = p.wire_len.saturating_add(header.payload_len);
            let max = self.config.max_message_size as u64;
            if p.wire_len > max.saturating_add(max / 8).saturating_add(1024) {
                return Err(self.fail_at(ProtocolError::MessageTooBig, at + 1));
            }
            return Ok(());
        }
        let total = (self.message_len as u64).saturating_add(header.payload_len);
        if total > self.config.max_message_size as u64 {
            return Err(self.fail_at(ProtocolError::MessageTooBig, at + 1));
        }
        Ok(())
    }

    /// RSV bits on a continuation frame: RSV1 with permessage-deflate in force is the
    /// compression bit out of place (RFC 7692 §6.1).
    fn rsv_error(&self, rsv: u8) -> ProtocolError {
        if self.out.pmd.is_some() && rsv & FrameHeader::RSV1 != 0 {
            ProtocolError::MisplacedCompressionBit
        } else {
            ProtocolError::ReservedBitsSet
        }
    }

    /// Handles a run of (unmasked) payload bytes, `chunk`, which sits at `input[start..]`.
    #[inline]
    fn on_payload(
        &mut self,
        chunk: &mut [u8],
        start: usize,
        last: bool,
    ) -> Result<Option<Ready>, Error> {
        let end = start + chunk.len();
        let whole = last && chunk.len() as u64 == self.frame.payload_len;
        let stream_offset = self.decoder.offset() - chunk.len() as u64;
        let opcode = self.frame.opcode;
        if opcode.is_control() {
            let kind = match opcode {
                OpCode::Ping => Kind::Ping,
                OpCode::Pong => Kind::Pong,
                _ => Kind::Close,
            };
            if !whole {
                self.control.extend_from_slice(chunk);
                if !last {
                    return Ok(None);
                }
            }
            let payload_offset = self.decoder.offset() - self.frame.payload_len;
            match kind {
                Kind::Ping if self.config.auto_pong && self.out.state == State::Open => {
                    if whole {
                        self.out.write_frame(true, OpCode::Pong, chunk);
                    } else {
                        let payload = core::mem::take(&mut self.control);
                        self.out.write_frame(true, OpCode::Pong, &payload);
                        self.control = payload;
                    }
                }
                Kind::Close => {
                    let data: &[u8] = if whole { chunk } else { &self.control };
                    if let Err((kind, at)) = parse_close_payload(data) {
                        return Err(self.fail_at(kind, payload_offset + at as u64));
                    }
                    self.on_close_received(whole.then_some(&*chunk));
                }
                _ => {}
            }
            self.tracer.message_end(
                opcode,
                self.frame.payload_len as usize,
                self.decoder.offset(),
            );
            return Ok(Some(if whole {
                Ready::Input(kind, start, end)
            } else {
                Ready::Control(kind)
            }));
        }

        let text = self.message == Some(OpCode::Text);
        let fin = last && self.frame.fin;
        if self.out.pmd.as_deref().is_some_and(|p| p.compressed) {
            return self.on_compressed_payload(chunk, text, fin);
        }
        self.message_len += chunk.len();
        let single_frame = whole && self.frame.fin && self.frame.opcode != OpCode::Continuation;
        // A text message that arrived whole is validated in one pass below instead.
        let validate_whole = single_frame && !self.config.deliver_fragments;
        if text && !validate_whole {
            if let Err(e) = self.utf8.feed(chunk, fin) {
                return Err(
                    self.fail_at(ProtocolError::InvalidUtf8, stream_offset + e.index as u64)
                );
            }
        }
        if fin {
            self.message = None;
            self.tracer.message_end(
                if text { OpCode::Text } else { OpCode::Binary },
                self.message_len,
                self.decoder.offset(),
            );
        }
        if self.config.deliver_fragments {
            if chunk.is_empty() && !fin {
                return Ok(None);
            }
            return Ok(Some(Ready::Input(Kind::Fragment { text, fin }, start, end)));
        }
        let kind = if text { Kind::Text } else { Kind::Binary };
        if validate_whole {
            // A whole text frame is validated once, when its event is made (`make_event`).
            return Ok(Some(Ready::Input(kind, start, end)));
        }
        self.buffer.extend_from_slice(chunk);
        Ok(fin.then_some(Ready::Message(kind)))
    }

    /// A run of a compressed message's payload (RFC 7692 §7.2.2): inflated into the
    /// reassembly buffer (or, delivering fragments, into it as a scratch buffer lent to the
    /// event), never past the message size limit; at the message's end `00 00 ff ff` is
    /// appended. Errors are pinned to the first byte of the frame being inflated.
    #[cfg(feature = "deflate")]
    fn on_compressed_payload(
        &mut self,
        chunk: &[u8],
        text: bool,
        fin: bool,
    ) -> Result<Option<Ready>, Error> {
        let at = self.decoder.frame_start();
        let fragments = self.config.deliver_fragments;
        if fragments {
            self.buffer.clear();
        }
        let before = self.buffer.len();
        let limit = if fragments {
            self.config
                .max_message_size
                .saturating_sub(self.message_len)
        } else {
            self.config.max_message_size
        };
        let Some(pmd) = self.out.pmd.as_deref_mut() else {
            return Err(self.fail_at(ProtocolError::InvalidCompressedData, at));
        };
        let inflater = &mut pmd.decompressor;
        let mut result = inflater.inflate(chunk, &mut self.buffer, limit);
        if fin && result.is_ok() {
            result = inflater.finish(&mut self.buffer, limit);
        }
        if fin {
            pmd.compressed = false;
        }
        let produced = self.buffer.len() - before;
        self.message_len += produced;
        if T::ENABLED && produced > 0 {
            self.tracer
                .inflated(self.decoder.offset(), &self.buffer[before..]);
        }
        // The bytes inflated before a failure came first in the stream: their UTF-8 is
        // checked first, so the error does not depend on how the input was chunked.
        let last = fin && result.is_ok();
        if text && self.utf8.feed(&self.buffer[before..], last).is_err() {
            return Err(self.fail_at(ProtocolError::InvalidUtf8, at));
        }
        if let Err(fail) = result {
            let kind = match fail {
                InflateFail::Corrupt => ProtocolError::InvalidCompressedData,
                InflateFail::TooBig => ProtocolError::MessageTooBig,
            };
            return Err(self.fail_at(kind, at));
        }
        if fin {
            self.message = None;
            self.tracer.message_end(
                if text { OpCode::Text } else { OpCode::Binary },
                self.message_len,
                self.decoder.offset(),
            );
        }
        if fragments {
            if produced == 0 && !fin {
                return Ok(None);
            }
            return Ok(Some(Ready::Message(Kind::Fragment { text, fin })));
        }
        let kind = if text { Kind::Text } else { Kind::Binary };
        Ok(fin.then_some(Ready::Message(kind)))
    }

    #[cfg(not(feature = "deflate"))]
    fn on_compressed_payload(
        &mut self,
        _chunk: &[u8],
        _text: bool,
        _fin: bool,
    ) -> Result<Option<Ready>, Error> {
        let at = self.decoder.frame_start();
        Err(self.fail_at(ProtocolError::InvalidCompressedData, at))
    }

    /// The peer's close frame arrived (and was valid): reply unless we already sent ours.
    fn on_close_received(&mut self, whole: Option<&[u8]>) {
        if self.out.state == State::Open {
            let payload = whole.map_or_else(|| self.control.clone(), <[u8]>::to_vec);
            // §5.5.1: echo the status code (not the reason); an empty close gets an empty one.
            let reply_len = payload.len().min(2);
            self.out
                .write_frame(true, OpCode::Close, &payload[..reply_len]);
        }
        self.out.state = State::Closed;
    }

    fn fail_at(&mut self, kind: ProtocolError, offset: u64) -> Error {
        self.tracer.error(offset, kind);
        self.out.fail(Error::Protocol { kind, offset })
    }

    fn fail(&mut self, error: Error) -> Error {
        self.out.fail(error)
    }

    // ---- Sending (see [`Sender`]) -----------------------------------------------------

    /// The sending half: everything that queues output. [`Connection::read_with`] lends it
    /// to the callback together with the event, so a message can be answered while it is
    /// still borrowed.
    pub fn sender(&mut self) -> &mut Sender {
        &mut self.out
    }

    /// Sends a text message, fragmented per [`Config::fragment_size`].
    pub fn send_text(&mut self, text: &str) -> Result<(), Error> {
        self.out
            .send(OpCode::Text, text.as_bytes(), self.config.fragment_size)
    }

    /// Sends a binary message, fragmented per [`Config::fragment_size`].
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), Error> {
        self.out
            .send(OpCode::Binary, data, self.config.fragment_size)
    }

    /// See [`Sender::send`].
    pub fn send(&mut self, opcode: OpCode, payload: &[u8]) -> Result<(), Error> {
        self.out.send(opcode, payload, self.config.fragment_size)
    }

    /// See [`Sender::send_frame`].
    pub fn send_frame(&mut self, opcode: OpCode, payload: &[u8], fin: bool) -> Result<(), Error> {
        self.out.send_frame(opcode, payload, fin)
    }

    /// See [`Sender::send_direct`] (one frame, whatever [`Config::fragment_size`] says).
    pub fn send_direct(
        &mut self,
        opcode: OpCode,
        payload: &[u8],
        write: impl FnOnce(&[u8], &[u8]) -> usize,
    ) -> Result<(), Error> {
        self.out.send_direct(opcode, payload, write)
    }

    /// See [`Sender::ping`].
    pub fn ping(&mut self, payload: &[u8]) -> Result<(), Error> {
        self.out.ping(payload)
    }

    /// See [`Sender::pong`].
    pub fn pong(&mut self, payload: &[u8]) -> Result<(), Error> {
        self.out.pong(payload)
    }

    /// See [`Sender::close`].
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.out.close(code, reason)
    }

    /// See [`Sender::pending_output`].
    pub fn pending_output(&self) -> &[u8] {
        self.out.pending_output()
    }

    /// See [`Sender::has_output`].
    pub fn has_output(&self) -> bool {
        self.out.has_output()
    }

    /// See [`Sender::consume_output`].
    pub fn consume_output(&mut self, n: usize) {
        self.out.consume_output(n)
    }

    /// See [`Sender::take_output`].
    pub fn take_output(&mut self) -> Vec<u8> {
        self.out.take_output()
    }

    /// Whether the transport should now be closed: the connection is closed and everything
    /// queued has been written (§7.1.1: the server closes the TCP connection first).
    pub fn should_close_transport(&self) -> bool {
        self.out.state == State::Closed && !self.out.has_output()
    }

    /// Frees buffer capacity that is not in use (call when a connection goes idle, to keep
    /// idle connections small). Costs a reallocation the next time a buffer is needed.
    pub fn shrink_buffers(&mut self) {
        if !self.has_output() {
            self.out.output = Vec::new();
            self.out.output_pos = 0;
        }
        if self.message.is_none() {
            self.buffer = Vec::new();
            self.release_message = false;
        }
        if self.decoder.at_frame_boundary() {
            self.control = Vec::new();
        }
        // Without context takeover, compression state lives for one message only.
        #[cfg(feature = "deflate")]
        {
            let idle_out = !self.out.sending_fragmented;
            if let Some(p) = self.out.pmd.as_deref_mut() {
                if p.compressor.stateless_between_messages() && idle_out {
                    p.compressor.release_or_reset(true);
                }
                if self.message.is_none() {
                    p.decompressor.release();
                }
            }
        }
    }

    /// Whether the connection holds nothing that depends on the bytes seen so far: open,
    /// between frames, no message half received, no fragmented message half sent, no output
    /// waiting, no handshake in progress.
    ///
    /// Two idle connections with the same role and [`Config`] behave the same on any future
    /// input, so a server may drop an idle connection's state (or lend it to another socket,
    /// after [`Connection::recycle`]) and pick up an equivalent one when bytes arrive. That
    /// is how `wslens serve` keeps an idle WebSocket to a few hundred bytes.
    ///
    /// permessage-deflate is state too: a connection is idle only if its deflate settings are
    /// the ones its [`Config`] would give a new connection (so one negotiated by the handshake
    /// never is) and it holds no LZ77 context (RFC 7692 §7.2.3.2: none is kept without
    /// context takeover, once [`Connection::shrink_buffers`] has run).
    pub fn is_idle(&self) -> bool {
        self.out.state == State::Open
            && !self.out.has_output()
            && !self.out.sending_fragmented
            && self.handshake.is_none()
            && self.early.is_empty()
            && self.message.is_none()
            && self.decoder.at_frame_boundary()
            && !self.utf8.is_incomplete()
            && self.deflate_as_configured()
    }

    /// Whether the deflate state is what [`Config::deflate`] gives a new connection.
    fn deflate_as_configured(&self) -> bool {
        #[cfg(feature = "deflate")]
        {
            match (self.out.pmd.as_deref(), self.config.deflate) {
                (None, None) => true,
                (Some(p), Some(c)) => {
                    p.params == c
                        && !p.compressor.holds_context()
                        && !p.decompressor.holds_context()
                }
                _ => false,
            }
        }
        #[cfg(not(feature = "deflate"))]
        {
            self.out.pmd.is_none()
        }
    }

    /// Makes an idle connection (see [`Connection::is_idle`]) as good as new: stream offsets
    /// start again at 0 and buffers keep at most [`Connection::RECYCLE_KEEP`] bytes of
    /// capacity each (so a pool of recycled connections is small, and reusing one for a
    /// small message allocates nothing). Returns `false`, changing nothing, if the
    /// connection is not idle.
    pub fn recycle(&mut self) -> bool {
        if !self.is_idle() {
            return false;
        }
        self.decoder = FrameDecoder::new(
            self.out.role,
            self.config.max_frame_size,
            self.config.reserved_bits,
        );
        #[cfg(feature = "deflate")]
        if let Some(p) = self.out.pmd.as_deref_mut() {
            // As configured (is_idle checked): RSV1 allowed, no context held; free the rest.
            self.decoder
                .set_allowed_rsv(self.config.reserved_bits | FrameHeader::RSV1);
            p.compressor.release_or_reset(true);
            p.decompressor.release();
        }
        self.frame = FrameHeader::new(OpCode::Continuation, 0);
        self.message_len = 0;
        self.utf8.reset();
        self.release_message = false;
        for buf in [&mut self.out.output, &mut self.buffer, &mut self.control] {
            if buf.capacity() > Connection::<NoTrace>::RECYCLE_KEEP {
                *buf = Vec::new();
            } else {
                buf.clear();
            }
        }
        self.out.output_pos = 0;
        true
    }
}

/// The sending half of a [`Connection`]: the state machine's view of what may still be sent,
/// and the output buffer.
pub struct Sender {
    role: Role,
    state: State,
    output: Vec<u8>,
    output_pos: usize,
    sending_fragmented: bool,
    mask_source: Option<MaskSource>,
    /// permessage-deflate, once agreed (the receive side uses it too).
    pmd: Option<Box<Pmd>>,
}

impl Sender {
    #[cfg(feature = "deflate")]
    fn out_compressor(&mut self) -> Option<&mut Compressor> {
        self.pmd.as_deref_mut().map(|p| &mut p.compressor)
    }

    /// Fails the connection (§7.1.7): queue a close frame with the error's code unless one was
    /// already sent, and stop.
    fn fail(&mut self, error: Error) -> Error {
        if let Error::Protocol { kind, .. } = &error {
            if self.state == State::Open {
                let mut payload = Vec::with_capacity(2 + 64);
                payload.extend_from_slice(&kind.close_code().0.to_be_bytes());
                payload.extend_from_slice(truncate_reason(kind.description()).as_bytes());
                self.write_frame(true, OpCode::Close, &payload);
            }
        }
        self.state = State::Closed;
        error
    }

    /// The connection state.
    pub const fn state(&self) -> State {
        self.state
    }

    /// Sends a text message in one frame.
    pub fn send_text(&mut self, text: &str) -> Result<(), Error> {
        self.send(OpCode::Text, text.as_bytes(), None)
    }

    /// Sends a binary message in one frame.
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), Error> {
        self.send(OpCode::Binary, data, None)
    }

    /// Sends a message of type `opcode` (`Text` or `Binary`), in frames of at most
    /// `fragment_size` payload bytes if given (§5.4). Text must be valid UTF-8: use [`Connection::send_text`].
    pub fn send(
        &mut self,
        opcode: OpCode,
        payload: &[u8],
        fragment_size: Option<usize>,
    ) -> Result<(), Error> {
        self.check_can_start_message(opcode)?;
        #[cfg(feature = "deflate")]
        if let Some(c) = self.out_compressor() {
            // RFC 7692 §7.2.1: compress the whole message, then frame the compressed bytes;
            // RSV1 on the first frame only (§6.1).
            let mut data = core::mem::take(&mut c.scratch);
            data.clear();
            let result = c.compress(payload, &mut data, true);
            if result.is_ok() {
                self.write_message(opcode, FrameHeader::RSV1, &data, fragment_size);
            }
            if let Some(c) = self.out_compressor() {
                // Keep a modest buffer for the next message; give big ones back.
                if data.capacity() <= 64 * 1024 {
                    c.scratch = data;
                }
            }
            return result.map_err(Error::InvalidState);
        }
        self.write_message(opcode, 0, payload, fragment_size);
        Ok(())
    }

    /// Sends a message in one frame (§5.2) without copying the payload into the output when
    /// it can go straight to the transport: `write` is handed the frame header and the payload
    /// (for one vectored write, say) and returns how many of their bytes it wrote; whatever
    /// it did not write is queued as output, exactly as [`Sender::send`] would have.
    ///
    /// `write` is called only when the bytes may leave first and unchanged: in the server
    /// role (a client masks, §5.3, which needs a copy), with nothing already pending (order),
    /// and without permessage-deflate. Otherwise this is [`Sender::send`] with no
    /// fragmentation, and `write` is not called.
    pub fn send_direct(
        &mut self,
        opcode: OpCode,
        payload: &[u8],
        write: impl FnOnce(&[u8], &[u8]) -> usize,
    ) -> Result<(), Error> {
        let direct = self.role == Role::Server && !self.has_output() && self.pmd.is_none();
        if !direct {
            return self.send(opcode, payload, None);
        }
        self.check_can_start_message(opcode)?;
        let header = FrameHeader::new(opcode, payload.len() as u64);
        let mut bytes = [0u8; FrameHeader::MAX_LEN];
        let Some(len) = header.encode(&mut bytes) else {
            return self.send(opcode, payload, None);
        };
        let head = &bytes[..len];
        let written = write(head, payload).min(len + payload.len());
        // Queue what the transport did not take.
        if written < len {
            self.output.extend_from_slice(&head[written..]);
            self.output.extend_from_slice(payload);
        } else {
            self.output.extend_from_slice(&payload[written - len..]);
        }
        Ok(())
    }

    /// Frames a message's payload (already compressed when `rsv` has RSV1).
    fn write_message(
        &mut self,
        opcode: OpCode,
        rsv: u8,
        payload: &[u8],
        fragment_size: Option<usize>,
    ) {
        match fragment_size {
            Some(size) if size > 0 && payload.len() > size => {
                let mut chunks = payload.chunks(size).peekable();
                let (mut op, mut rsv) = (opcode, rsv);
                while let Some(chunk) = chunks.next() {
                    self.write_frame_rsv(chunks.peek().is_none(), rsv, op, chunk);
                    (op, rsv) = (OpCode::Continuation, 0);
                }
            }
            _ => self.write_frame_rsv(true, rsv, opcode, payload),
        }
    }

    /// Sends one frame of a message the caller fragments itself: the first with `Text` or
    /// `Binary`, the rest with `Continuation`, the last with `fin` (§5.4). Control frames may
    /// be sent in between.
    pub fn send_frame(&mut self, opcode: OpCode, payload: &[u8], fin: bool) -> Result<(), Error> {
        self.check_can_send()?;
        let ok = match opcode {
            OpCode::Text | OpCode::Binary => !self.sending_fragmented,
            OpCode::Continuation => self.sending_fragmented,
            _ => false,
        };
        if !ok {
            return Err(Error::InvalidInput(
                "frame does not fit the message being sent",
            ));
        }
        self.sending_fragmented = !fin;
        #[cfg(feature = "deflate")]
        if let Some(c) = self.out_compressor() {
            // A compressed message sent piece by piece: each piece is compressed and
            // sync-flushed as it comes (so it is delivered promptly), the last one loses the
            // 00 00 ff ff tail (RFC 7692 §7.2.1); RSV1 on the first frame only (§6.1).
            let first = opcode != OpCode::Continuation;
            let mut data = core::mem::take(&mut c.scratch);
            data.clear();
            let result = c.compress(payload, &mut data, fin);
            if result.is_ok() {
                let rsv = if first { FrameHeader::RSV1 } else { 0 };
                self.write_frame_rsv(fin, rsv, opcode, &data);
            }
            if let Some(c) = self.out_compressor() {
                if data.capacity() <= 64 * 1024 {
                    c.scratch = data;
                }
            }
            return result.map_err(Error::InvalidState);
        }
        self.write_frame(fin, opcode, payload);
        Ok(())
    }

    /// Sends a ping (§5.5.2); at most 125 bytes.
    pub fn ping(&mut self, payload: &[u8]) -> Result<(), Error> {
        self.send_control(OpCode::Ping, payload)
    }

    /// Sends an unsolicited pong (§5.5.3); at most 125 bytes.
    pub fn pong(&mut self, payload: &[u8]) -> Result<(), Error> {
        self.send_control(OpCode::Pong, payload)
    }

    fn send_control(&mut self, opcode: OpCode, payload: &[u8]) -> Result<(), Error> {
        self.check_can_send()?;
        if payload.len() > 125 {
            return Err(Error::InvalidInput("control frame payload over 125 bytes"));
        }
        self.write_frame(true, opcode, payload);
        Ok(())
    }

    /// Starts the closing handshake (§5.5.1, §7.1.2) with `code` and a reason (cut to 123
    /// bytes on a character boundary). The state becomes [`State::Closing`].
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.check_can_send()?;
        if !code.is_allowed_on_wire() {
            return Err(Error::InvalidInput(
                "close code may not be sent (RFC 6455 §7.4)",
            ));
        }
        let reason = truncate_reason(reason);
        let mut payload = [0u8; 125];
        payload[..2].copy_from_slice(&code.0.to_be_bytes());
        payload[2..2 + reason.len()].copy_from_slice(reason.as_bytes());
        self.write_frame(true, OpCode::Close, &payload[..2 + reason.len()]);
        self.state = State::Closing;
        Ok(())
    }

    /// Whether a whole message of type `opcode` may be sent now: open, `Text` or `Binary`,
    /// and no fragmented message in progress.
    fn check_can_start_message(&self, opcode: OpCode) -> Result<(), Error> {
        self.check_can_send()?;
        if !matches!(opcode, OpCode::Text | OpCode::Binary) {
            return Err(Error::InvalidInput("a message is Text or Binary"));
        }
        if self.sending_fragmented {
            return Err(Error::InvalidState("a fragmented message is being sent"));
        }
        Ok(())
    }

    fn check_can_send(&self) -> Result<(), Error> {
        match self.state {
            State::Open => Ok(()),
            State::Connecting => Err(Error::InvalidState("the handshake is not complete")),
            State::Closing | State::Closed => Err(Error::SendAfterClose),
        }
    }

    /// Encodes one frame into the output, masking it in the client role (§5.3).
    fn write_frame(&mut self, fin: bool, opcode: OpCode, payload: &[u8]) {
        self.write_frame_rsv(fin, 0, opcode, payload);
    }

    /// [`Sender::write_frame`] with RSV bits (RSV1: compressed, RFC 7692 §6).
    fn write_frame_rsv(&mut self, fin: bool, rsv: u8, opcode: OpCode, payload: &[u8]) {
        let mask = match self.role {
            Role::Client => Some(self.mask_source.as_mut().map_or([0; 4], |f| f())),
            Role::Server => None,
        };
        let header = FrameHeader {
            fin,
            rsv,
            opcode,
            mask,
            payload_len: payload.len() as u64,
        };
        header.encode_into(&mut self.output);
        let start = self.output.len();
        self.output.extend_from_slice(payload);
        if let Some(key) = mask {
            apply_mask(&mut self.output[start..], key, 0);
        }
    }

    /// Bytes waiting to be written to the transport.
    pub fn pending_output(&self) -> &[u8] {
        &self.output[self.output_pos..]
    }

    /// Whether there is anything to write.
    pub fn has_output(&self) -> bool {
        self.output_pos < self.output.len()
    }

    /// Marks the first `n` bytes of [`Connection::pending_output`] as written.
    pub fn consume_output(&mut self, n: usize) {
        self.output_pos = (self.output_pos + n).min(self.output.len());
        if self.output_pos == self.output.len() {
            self.output.clear();
            self.output_pos = 0;
        }
    }

    /// Takes all pending output.
    pub fn take_output(&mut self) -> Vec<u8> {
        let mut out = core::mem::take(&mut self.output);
        out.drain(..self.output_pos);
        self.output_pos = 0;
        out
    }
}
