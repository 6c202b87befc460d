//! The library face: a [`Handler`] decides what a WebSocket route does. Echo, rooms and
//! broadcast (in [`crate::apps`]) are handlers like any other.

use std::io::{IoSlice, Write};
use std::net::{SocketAddr, TcpStream};
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
    /// The plain TCP socket, when a large message may be written straight to it instead of
    /// being copied into the output first (see [`Ctx::send`]).
    pub(crate) direct: Option<&'a TcpStream>,
    /// Bytes written straight to the socket (for the metrics).
    pub(crate) written: u64,
}

/// Messages at least this large are written straight from where they lie (the read buffer,
/// or the message assembled from fragments) when nothing else is waiting to be sent: one
/// `writev` of header and payload instead of a copy into the output. Smaller ones are cheaper
/// to copy than a system call of their own (a few more messages may follow in the same read
/// and leave together).
pub const DIRECT_WRITE_MIN: usize = 4 * 1024;

impl<'a> Ctx<'a> {
    /// A context whose messages are always queued (no direct writes).
    pub(crate) fn new(
        sender: &'a mut Sender,
        info: &'a ConnInfo,
        actions: &'a mut Vec<Action>,
    ) -> Self {
        Ctx {
            sender,
            info,
            actions,
            sent: 0,
            direct: None,
            written: 0,
        }
    }
}

/// Writes `head` then `body` with vectored writes until both are out or the socket would
/// block (or fails: the error comes back on the next flush); returns the bytes written.
fn write_direct(mut stream: &TcpStream, head: &[u8], body: &[u8]) -> usize {
    let total = head.len() + body.len();
    let mut done = 0;
    while done < total {
        let (h, b) = if done < head.len() {
            (&head[done..], body)
        } else {
            (&[][..], &body[done - head.len()..])
        };
        match stream.write_vectored(&[IoSlice::new(h), IoSlice::new(b)]) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    done
}

impl Ctx<'_> {
    /// This connection's facts.
    pub fn info(&self) -> &ConnInfo {
        self.info
    }

    /// Sends a message to this connection.
    pub fn send(&mut self, msg: Message<'_>) {
        let (op, bytes) = msg.opcode_and_bytes();
        let result = match self.direct {
            Some(stream) if bytes.len() >= DIRECT_WRITE_MIN => {
                // One direct write per handler call: anything more it sends queues behind it.
                // (The loop offers the socket only for the first message of each read, so
                // the messages after it in the same read queue and leave together.)
                self.direct = None;
                let written = &mut self.written;
                self.sender.send_direct(op, bytes, |head, body| {
                    let n = write_direct(stream, head, body);
                    *written += n as u64;
                    n
                })
            }
            _ => self.sender.send(op, bytes),
        };
        // Refused only after a close was sent, when there is nothing useful to do.
        if result.is_ok() {
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
