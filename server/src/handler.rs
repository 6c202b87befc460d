//! The library face: a [`Handler`] decides what a WebSocket route does. Echo, rooms and
//! broadcast (in [`crate::apps`]) are handlers like any other.

use std::net::SocketAddr;
use std::sync::Arc;
use wslens::frame::{FrameHeader, OpCode};
use wslens::{CloseCode, Sender};

/// A complete message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Message<'a> {
    /// Text (valid UTF-8).
    Text(&'a str),
    /// Binary.
    Binary(&'a [u8]),
}

impl Message<'_> {
    fn opcode_and_bytes(&self) -> (OpCode, &[u8]) {
        match self {
            Message::Text(t) => (OpCode::Text, t.as_bytes()),
            Message::Binary(b) => (OpCode::Binary, b),
        }
    }
}

/// What a WebSocket route does. All methods have empty defaults.
pub trait Handler: Send + Sync + 'static {
    /// Subprotocols this route speaks, in order of preference; the first one the client
    /// offered is selected (RFC 6455 §4.2.2).
    fn protocols(&self) -> &[&'static str] {
        &[]
    }
    /// The connection is open.
    fn on_open(&self, _ctx: &mut Ctx<'_>) {}
    /// A message arrived.
    fn on_message(&self, _ctx: &mut Ctx<'_>, _msg: Message<'_>) {}
    /// The connection is closing or closed; `code` is the peer's close code (1006 if the
    /// connection dropped without one). Rooms are left automatically afterwards.
    fn on_close(&self, _ctx: &mut Ctx<'_>, _code: CloseCode) {}
}

/// Facts about one connection.
#[derive(Debug)]
pub struct ConnInfo {
    /// Server-wide unique id.
    pub id: u64,
    /// The peer's address.
    pub peer: SocketAddr,
    /// The request path (shared with the route when it is the route's path exactly).
    pub path: Arc<str>,
    /// What the route matched after its prefix (the room name in `/chat/<room>`).
    pub param: Box<str>,
    /// The selected subprotocol: one of the route's [`Handler::protocols`].
    pub protocol: Option<&'static str>,
}

/// Work a handler asks of the event loop, done after the handler returns.
#[derive(Debug)]
pub(crate) enum Action {
    Join(String),
    Leave(String),
    Publish {
        room: String,
        frame: Arc<[u8]>,
        skip_self: bool,
    },
}

/// What a handler can do with its connection.
pub struct Ctx<'a> {
    pub(crate) sender: &'a mut Sender,
    pub(crate) info: &'a ConnInfo,
    pub(crate) actions: &'a mut Vec<Action>,
    /// Messages sent through this context (for the metrics).
    pub(crate) sent: u64,
}

impl Ctx<'_> {
    /// This connection's facts.
    pub fn info(&self) -> &ConnInfo {
        self.info
    }

    /// Sends a message to this connection.
    pub fn send(&mut self, msg: Message<'_>) {
        let (op, bytes) = msg.opcode_and_bytes();
        // Refused only after a close was sent, when there is nothing useful to do.
        if self.sender.send(op, bytes, None).is_ok() {
            self.sent += 1;
        }
    }

    /// Sends text.
    pub fn send_text(&mut self, text: &str) {
        self.send(Message::Text(text));
    }

    /// Starts the closing handshake.
    pub fn close(&mut self, code: CloseCode, reason: &str) {
        let _ = self.sender.close(code, reason);
    }

    /// Joins `room` (idempotent).
    pub fn join(&mut self, room: &str) {
        self.actions.push(Action::Join(room.into()));
    }

    /// Leaves `room`.
    pub fn leave(&mut self, room: &str) {
        self.actions.push(Action::Leave(room.into()));
    }

    /// Sends `msg` to every member of `room` (this connection included unless `skip_self`).
    /// The frame is encoded once and its bytes are shared by all receivers.
    pub fn publish(&mut self, room: &str, msg: Message<'_>, skip_self: bool) {
        let (op, bytes) = msg.opcode_and_bytes();
        let header = FrameHeader::new(op, bytes.len() as u64);
        let mut frame = Vec::with_capacity(header.encoded_len() + bytes.len());
        header.encode_into(&mut frame);
        frame.extend_from_slice(bytes);
        self.actions.push(Action::Publish {
            room: room.into(),
            frame: frame.into(),
            skip_self,
        });
    }
}
