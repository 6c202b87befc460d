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
//!
//! The whole sans-IO loop, with a client and a server fed each other's bytes (in a real
//! program the bytes go through a socket; nothing here does I/O, reads a clock or draws
//! randomness — the masking key comes from the caller):
//!
//! ```
//! use wslens::handshake::{AcceptOptions, ClientRequest};
//! use wslens::{CloseCode, Config, Connection, OwnedEvent, State};
//!
//! /// Moves what `from` has to send into `to`, returning the events `to` reports.
//! fn deliver(from: &mut Connection, to: &mut Connection) -> Vec<OwnedEvent> {
//!     let bytes = from.pending_output().to_vec();
//!     from.consume_output(bytes.len()); // as a socket write that took every byte
//!     let mut events = Vec::new();
//!     to.receive(&bytes, &mut events).expect("valid input");
//!     events
//! }
//!
//! let request = ClientRequest {
//!     host: "example.com",
//!     path: "/chat",
//!     nonce: *b"the sample nonce", // RFC 6455 §1.3's key, dGhlIHNhbXBsZSBub25jZQ==
//!     protocols: &[],
//!     extensions: None,
//!     origin: None,
//!     extra_headers: &[],
//!     deflate: None,
//! };
//! let mut client = Connection::client(Config::default(), &request, || [1, 2, 3, 4]);
//! let mut server = Connection::server(Config::default());
//!
//! // The opening handshake (§4): the server sees the request and decides.
//! let events = deliver(&mut client, &mut server);
//! assert!(matches!(&events[..], [OwnedEvent::Request(r)] if r.path == "/chat"));
//! server.accept(&AcceptOptions::default()).unwrap();
//! let events = deliver(&mut server, &mut client);
//! assert!(matches!(&events[..], [OwnedEvent::Connected(_)]));
//! assert_eq!((client.state(), server.state()), (State::Open, State::Open));
//!
//! // A message each way: masked from the client (§5.3), plain from the server.
//! client.send_text("Hello").unwrap();
//! assert_eq!(client.pending_output()[1], 0x80 | 5, "MASK bit and length 5");
//! assert_eq!(deliver(&mut client, &mut server), [OwnedEvent::Text("Hello".into())]);
//! server.send_binary(&[1, 2, 3]).unwrap();
//! assert_eq!(server.pending_output(), [0x82, 0x03, 1, 2, 3]);
//! assert_eq!(deliver(&mut server, &mut client), [OwnedEvent::Binary(vec![1, 2, 3])]);
//!
//! // A ping is answered by the core itself: the pong is simply more output (§5.5.2).
//! client.ping(b"are you there").unwrap();
//! assert_eq!(deliver(&mut client, &mut server), [OwnedEvent::Ping(b"are you there".to_vec())]);
//! assert_eq!(deliver(&mut server, &mut client), [OwnedEvent::Pong(b"are you there".to_vec())]);
//!
//! // The closing handshake (§7): the server's reply is queued as it reads the close.
//! client.close(CloseCode::NORMAL, "bye").unwrap();
//! let events = deliver(&mut client, &mut server);
//! assert!(matches!(&events[..], [OwnedEvent::Close { code: Some(CloseCode::NORMAL), .. }]));
//! deliver(&mut server, &mut client);
//! assert_eq!((client.state(), server.state()), (State::Closed, State::Closed));
//! assert!(server.should_close_transport() && !server.has_output());
//! ```

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

mod events;
mod handshake;
mod idle;
mod receive;
mod sender;

use events::*;
pub use events::{Event, OwnedEvent};
use handshake::*;
pub use sender::Sender;

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
        Self::server_with(config, None)
    }

    /// Server role, for a request whose head the caller already read and validated (with
    /// [`Head::parse`](crate::handshake::Head::parse) and
    /// [`Request::from_head`](crate::handshake::Request::from_head)): the connection starts
    /// where [`Connection::server`] would be after its [`Event::Request`], waiting for
    /// [`Connection::accept`] or [`Connection::reject`]. The head is not parsed again.
    pub fn from_request(config: Config, request: Request) -> Self {
        Self::server_with(config, Some(request))
    }

    /// Server role in the handshake phase, with its request already read or still to come.
    fn server_with(config: Config, request: Option<Request>) -> Self {
        let parser = RequestParser::with_max_header_bytes(config.max_header_bytes);
        let mut c = Self::build(Role::Server, State::Connecting, config, None);
        c.handshake = Some(Box::new(Handshake::Server {
            parser,
            buf: Vec::new(),
            request,
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
                fragmented_plain: false,
                mask_source,
                pmd: None,
                fragment_size: config.fragment_size,
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

    /// The sending half: everything that queues output. [`Connection::read_with`] lends it
    /// to the callback together with the event, so a message can be answered while it is
    /// still borrowed.
    pub fn sender(&mut self) -> &mut Sender {
        &mut self.out
    }

    /// Sends a text message, fragmented per [`Config::fragment_size`]; the same as
    /// [`Sender::send_text`] (one sending API: each name means the same on both).
    pub fn send_text(&mut self, text: &str) -> Result<(), Error> {
        self.out.send_text(text)
    }

    /// Sends a binary message, fragmented per [`Config::fragment_size`].
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), Error> {
        self.out.send_binary(data)
    }

    /// See [`Sender::send`].
    pub fn send(&mut self, opcode: OpCode, payload: &[u8]) -> Result<(), Error> {
        self.out.send(opcode, payload)
    }

    /// See [`Sender::send_uncompressed`].
    pub fn send_uncompressed(&mut self, opcode: OpCode, payload: &[u8]) -> Result<(), Error> {
        self.out.send_uncompressed(opcode, payload)
    }

    /// See [`Sender::send_frame`].
    pub fn send_frame(&mut self, opcode: OpCode, payload: &[u8], fin: bool) -> Result<(), Error> {
        self.out.send_frame(opcode, payload, fin)
    }

    /// See [`Sender::send_frame_uncompressed`].
    pub fn send_frame_uncompressed(
        &mut self,
        opcode: OpCode,
        payload: &[u8],
        fin: bool,
    ) -> Result<(), Error> {
        self.out.send_frame_uncompressed(opcode, payload, fin)
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
}
