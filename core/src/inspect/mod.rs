//! The annotated trace of a byte buffer, for people: what the CLI's `inspect` prints and the
//! browser inspector draws.
//!
//! Nothing here parses frames: [`inspect_frames`] feeds the bytes to a real [`Connection`]
//! with a [`Recorder`] attached and arranges what the decoder reported. What you see is what
//! the parser did. [`inspect_handshake`] does the same for an opening-handshake head, and
//! [`decode_input`] turns what a person pasted (hex, base64, text, a typed head) into bytes.
//!
//! | module | what it holds |
//! |---|---|
//! | this one | frames, fields, payload bytes and messages ([`inspect_frames`]) |
//! | `bits` | a field's bits and a header's sixteen bit cells ([`FrameView::header_bits`]) |
//! | `handshake` | the opening handshake, parsed once ([`inspect_handshake`]) |
//! | `input` | reading pasted input ([`decode_input`]) |
//! | `compressed` | a permessage-deflate message's first block header and stripped tail |
//! | `tour` | the guided tour's session, recorded through two real connections ([`record_tour`]) |
//! | `learn` | each field and handshake line explained, with the RFC's sentence ([`Lesson`]) |

mod bits;
pub mod compressed;
mod handshake;
mod input;
mod learn;
pub mod session;
mod tour;

pub use bits::HeaderBit;
pub use handshake::{inspect_handshake, HandshakeInspection};
pub use input::{decode_input, InputError, InputFormat};
pub use learn::{field_lesson, header_lesson, start_line_lesson, Lesson};
pub use tour::{record_tour, TourStep, TOUR_FIRST_KEY};

use crate::close::CloseCode;
use crate::connection::{Config, Connection, OwnedEvent, Role};
use crate::error::{Error, ProtocolError};
use crate::frame::{FrameHeader, OpCode};
use crate::trace::{Field, Recorder, TraceItem};
use alloc::string::String;
use alloc::vec::Vec;

/// One header field, ready to print.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldRow {
    /// The field.
    pub field: Field,
    /// Stream offset of its first byte.
    pub offset: u64,
    /// Bytes it spans.
    pub len: u8,
    /// The bits of its first byte that belong to it, e.g. `1.......` for FIN or `....0001`
    /// for the opcode; for whole-byte fields, the byte(s) in binary.
    pub bits: String,
    /// Decoded value.
    pub value: u64,
    /// What the value means.
    pub meaning: String,
    /// RFC 6455 section.
    pub rfc: &'static str,
    /// A remark that is not an error (e.g. non-minimal length encoding).
    pub remark: Option<&'static str>,
}

/// One payload byte and how it was unmasked: `masked XOR key[key_index] = plain`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PayloadByte {
    /// Stream offset.
    pub offset: u64,
    /// Index within the frame's payload.
    pub index: u64,
    /// The byte as it arrived.
    pub masked: u8,
    /// `index mod 4`, the masking-key byte used (when masked).
    pub key_index: u8,
    /// The key byte (0 when unmasked).
    pub key_byte: u8,
    /// The byte after unmasking.
    pub plain: u8,
}

/// One frame as the decoder read it (possibly incomplete).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameView {
    /// Stream offset of the frame's first byte.
    pub start: u64,
    /// Stream offset just past the last byte read of it.
    pub end: u64,
    /// The header, once complete.
    pub header: Option<FrameHeader>,
    /// Header fields read, in order.
    pub fields: Vec<FieldRow>,
    /// Payload bytes read (up to the recorder's limit).
    pub payload: Vec<PayloadByte>,
    /// Whether the whole frame was read.
    pub complete: bool,
}

/// The error that stopped the parser, pinned to its byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ErrorView {
    /// Stream offset of the offending byte.
    pub offset: u64,
    /// The rule broken.
    pub kind: ProtocolError,
    /// The close code a server would send.
    pub close_code: CloseCode,
}

/// A message assembled from one or more frames.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageView {
    /// Text, binary, or the control opcode.
    pub opcode: OpCode,
    /// Indexes into [`Inspection::frames`] of the frames that carried it.
    pub frames: Vec<usize>,
    /// Its payload length (inflated, when compressed).
    pub len: usize,
    /// Its payload bytes on the wire: the sum of its frames' payload lengths (compressed,
    /// when compressed).
    pub wire_len: u64,
    /// permessage-deflate: RSV1 was set on its first frame (RFC 7692 §6).
    pub compressed: bool,
    /// The inflated payload of a compressed message (RFC 7692 §7.2.2), up to the recorder's
    /// limit; `None` for uncompressed messages.
    pub inflated: Option<Vec<u8>>,
    /// The event the connection delivered for it: its text, data, or close code and reason.
    /// `None` when the message broke a rule as it completed (invalid UTF-8, say).
    pub event: Option<OwnedEvent>,
}

/// Everything the inspector knows about a buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inspection {
    /// The role that received the bytes (server: frames must be masked).
    pub role: Role,
    /// Frames, in order.
    pub frames: Vec<FrameView>,
    /// Messages completed.
    pub messages: Vec<MessageView>,
    /// The events the connection reported.
    pub events: Vec<OwnedEvent>,
    /// The error, if the bytes broke the protocol.
    pub error: Option<ErrorView>,
    /// If the input ended mid-frame: at least this many more bytes are needed.
    pub need_more: Option<usize>,
    /// What the decoder waits for next.
    pub waiting_for: &'static str,
    /// Bytes the receiving end would send in reply (pongs, close frames).
    pub reply: Vec<u8>,
}

/// Guesses who received `bytes`: a masked first frame was sent by a client, so the receiver
/// is a server; otherwise a client.
pub fn guess_role(bytes: &[u8]) -> Role {
    match bytes.get(1) {
        Some(b) if b & 0x80 != 0 => Role::Server,
        _ => Role::Client,
    }
}

/// Runs `bytes` through a real connection of `role` with a [`Recorder`], and arranges the
/// trace by frame.
pub fn inspect_frames(bytes: &[u8], role: Role) -> Inspection {
    inspect_frames_with(bytes, role, Config::default())
}

/// [`inspect_frames`] with a given configuration: e.g. `Config::deflate` set to
/// `Some(DeflateParams::default())` reads RSV1 as "compressed (permessage-deflate)" and
/// shows each compressed message inflated.
pub fn inspect_frames_with(bytes: &[u8], role: Role, config: Config) -> Inspection {
    let deflate = config.deflate.is_some() && cfg!(feature = "deflate");
    let conn = match role {
        Role::Server => Connection::accepted(config),
        // The reply to a server's frames would be masked; the inspector uses a fixed key so
        // the output is reproducible.
        Role::Client => Connection::connected(config, || [0; 4]),
    };
    let mut conn = conn.with_tracer(Recorder::new());
    let mut events = Vec::new();
    let error = match conn.receive(bytes, &mut events) {
        Err(Error::Protocol { kind, offset }) => Some(ErrorView {
            offset,
            kind,
            close_code: kind.close_code(),
        }),
        _ => None,
    };
    let waiting_for = conn.decoder().waiting_for();
    let reply = conn.take_output();
    let items = core::mem::take(&mut conn.tracer_mut().items);
    let mut inspection = Inspection {
        role,
        frames: Vec::new(),
        messages: Vec::new(),
        events,
        error,
        need_more: None,
        waiting_for,
        reply,
    };
    arrange(&mut inspection, items, deflate);
    // Each message's event, in order: the connection delivers one per completed message
    // (after the opening handshake's own), except for a last one that broke a rule.
    let delivered = inspection
        .events
        .iter()
        .filter(|e| !matches!(e, OwnedEvent::Request(_) | OwnedEvent::Connected(_)));
    for (message, event) in inspection.messages.iter_mut().zip(delivered) {
        message.event = Some(event.clone());
    }
    inspection
}

/// What RSV1 = 1 means with permessage-deflate in force.
pub const RSV1_COMPRESSED: &str = "set: compressed (permessage-deflate, RFC 7692 §6)";

/// Arranges trace items into frames and messages. It keeps its place between calls, so a
/// stream can be arranged as it arrives (see [`session`]): frames are numbered from `base`
/// (the frames already handed out and removed from `out.frames`), and a message's frames
/// may have been read in earlier calls.
#[derive(Clone, Debug, Default)]
pub(crate) struct Arranger {
    /// The frames of the message being assembled, by number.
    message_frames: Vec<usize>,
    /// The bytes inflated so far for the message being assembled.
    inflated: Option<Vec<u8>>,
    /// Whether the message being assembled has RSV1 set on its first frame.
    rsv1: bool,
    /// The payload bytes on the wire of the message being assembled.
    wire_len: u64,
    /// The number of the first frame in `out.frames`.
    pub(crate) base: usize,
    /// Most payload bytes shown one by one per frame (the rest are read and counted).
    pub(crate) payload_detail: usize,
}

fn arrange(out: &mut Inspection, items: Vec<TraceItem>, deflate: bool) {
    let mut arranger = Arranger {
        payload_detail: usize::MAX,
        ..Arranger::default()
    };
    arranger.arrange(out, items, deflate);
}

impl Arranger {
    pub(crate) fn arrange(&mut self, out: &mut Inspection, items: Vec<TraceItem>, deflate: bool) {
        let base = self.base;
        let detail = self.payload_detail;
        let message_frames = &mut self.message_frames;
        let inflated = &mut self.inflated;
        let rsv1 = &mut self.rsv1;
        let wire = &mut self.wire_len;
        for item in items {
            out.need_more = None;
            match item {
                TraceItem::Field(read) => {
                    if read.field == Field::Fin {
                        out.frames.push(FrameView {
                            start: read.offset,
                            end: read.offset,
                            header: None,
                            fields: Vec::new(),
                            payload: Vec::new(),
                            complete: false,
                        });
                    }
                    if let Some(frame) = out.frames.last_mut() {
                        frame.end = frame.end.max(read.offset + u64::from(read.len));
                        frame.fields.push(FieldRow {
                            field: read.field,
                            offset: read.offset,
                            len: read.len,
                            bits: bits::bits(read.field, read.value, read.len),
                            value: read.value,
                            meaning: if deflate && read.field == Field::Rsv1 && read.value == 1 {
                                RSV1_COMPRESSED.into()
                            } else {
                                read.field.meaning(read.value)
                            },
                            rfc: read.field.rfc_section(),
                            remark: read.remark,
                        });
                    }
                }
                TraceItem::Header {
                    header,
                    payload_offset,
                    ..
                } => {
                    if let Some(frame) = out.frames.last_mut() {
                        frame.header = Some(header);
                        frame.end = payload_offset;
                    }
                }
                TraceItem::Payload {
                    offset,
                    payload_offset,
                    key,
                    masked,
                    plain,
                } => {
                    if let Some(frame) = out.frames.last_mut() {
                        let room = detail.saturating_sub(frame.payload.len());
                        for (i, (m, p)) in masked.iter().zip(plain.iter()).enumerate().take(room) {
                            let index = payload_offset + i as u64;
                            let key_index = (index % 4) as u8;
                            frame.payload.push(PayloadByte {
                                offset: offset + i as u64,
                                index,
                                masked: *m,
                                key_index,
                                key_byte: key.map_or(0, |k| k[key_index as usize]),
                                plain: *p,
                            });
                        }
                        frame.end = offset + plain.len() as u64;
                    }
                }
                TraceItem::FrameEnd { header, end } => {
                    if let Some(frame) = out.frames.last_mut() {
                        frame.complete = true;
                        frame.end = end;
                        if !header.opcode.is_control() {
                            if message_frames.is_empty() {
                                *rsv1 = header.rsv & FrameHeader::RSV1 != 0;
                            }
                            *wire += header.payload_len;
                            message_frames.push(base + out.frames.len() - 1);
                        }
                    }
                }
                TraceItem::MessageEnd { opcode, len, .. } => {
                    let frames = if opcode.is_control() {
                        alloc::vec![base + out.frames.len().saturating_sub(1)]
                    } else {
                        core::mem::take(message_frames)
                    };
                    let compressed = deflate && !opcode.is_control() && core::mem::take(rsv1);
                    let inflated = if opcode.is_control() {
                        None
                    } else {
                        inflated.take()
                    };
                    let wire_len = if opcode.is_control() {
                        out.frames
                            .last()
                            .and_then(|f| f.header)
                            .map_or(0, |h| h.payload_len)
                    } else {
                        core::mem::take(wire)
                    };
                    out.messages.push(MessageView {
                        opcode,
                        frames,
                        len,
                        wire_len,
                        compressed,
                        inflated: if compressed {
                            Some(inflated.unwrap_or_default())
                        } else {
                            None
                        },
                        event: None,
                    });
                }
                TraceItem::Inflated { data, .. } => {
                    inflated
                        .get_or_insert_with(Vec::new)
                        .extend_from_slice(&data);
                }
                TraceItem::NeedMore { more, .. } => out.need_more = Some(more),
                TraceItem::Error { .. } => {}
            }
        }
        if out.error.is_some() {
            out.need_more = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6455 §5.7: a single-frame masked text message "Hello".
    const MASKED_HELLO: [u8; 11] = [
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];

    #[test]
    fn masked_hello_field_by_field() {
        let ins = inspect_frames(&MASKED_HELLO, guess_role(&MASKED_HELLO));
        assert_eq!(ins.role, Role::Server);
        assert_eq!(ins.error, None);
        assert_eq!(ins.need_more, None);
        assert_eq!(ins.events, [OwnedEvent::Text("Hello".into())]);
        let [frame] = &ins.frames[..] else {
            panic!("{:?}", ins.frames)
        };
        assert!(frame.complete);
        assert_eq!((frame.start, frame.end), (0, 11));
        let rows: Vec<(Field, u64, u64, &str)> = frame
            .fields
            .iter()
            .map(|r| (r.field, r.offset, r.value, r.bits.as_str()))
            .collect();
        assert_eq!(
            rows,
            [
                (Field::Fin, 0, 1, "1......."),
                (Field::Rsv1, 0, 0, ".0......"),
                (Field::Rsv2, 0, 0, "..0....."),
                (Field::Rsv3, 0, 0, "...0...."),
                (Field::Opcode, 0, 1, "....0001"),
                (Field::Mask, 1, 1, "1......."),
                (Field::PayloadLen, 1, 5, ".0000101"),
                (Field::MaskingKey(0), 2, 0x37, "00110111"),
                (Field::MaskingKey(1), 3, 0xfa, "11111010"),
                (Field::MaskingKey(2), 4, 0x21, "00100001"),
                (Field::MaskingKey(3), 5, 0x3d, "00111101"),
            ]
        );
        assert_eq!(frame.fields[4].meaning, "0x1: text frame");
        assert_eq!(frame.fields[4].rfc, "§5.2");
        let plain: Vec<u8> = frame.payload.iter().map(|b| b.plain).collect();
        assert_eq!(plain, b"Hello");
        // masked[i] XOR key[i mod 4] = plain[i], byte by byte.
        for b in &frame.payload {
            assert_eq!(b.masked ^ b.key_byte, b.plain);
            assert_eq!(b.offset, 6 + b.index);
            assert_eq!(usize::from(b.key_index), (b.index % 4) as usize);
        }
        assert_eq!(frame.payload[4].key_byte, 0x37, "byte 4 reuses key byte 0");
        assert_eq!(
            ins.messages,
            [MessageView {
                opcode: OpCode::Text,
                frames: alloc::vec![0],
                len: 5,
                wire_len: 5,
                compressed: false,
                inflated: None,
                event: Some(OwnedEvent::Text("Hello".into())),
            }]
        );
    }

    #[test]
    fn fragments_and_control_frames_become_messages() {
        // RFC 6455 §5.7 "Hel" + ping + "lo", unmasked (received by a client).
        let bytes = [
            0x01, 0x03, 0x48, 0x65, 0x6c, 0x89, 0x00, 0x80, 0x02, 0x6c, 0x6f,
        ];
        let ins = inspect_frames(&bytes, Role::Client);
        assert_eq!(ins.frames.len(), 3);
        assert_eq!(
            ins.messages,
            [
                MessageView {
                    opcode: OpCode::Ping,
                    frames: alloc::vec![1],
                    len: 0,
                    wire_len: 0,
                    compressed: false,
                    inflated: None,
                    event: Some(OwnedEvent::Ping(Vec::new())),
                },
                MessageView {
                    opcode: OpCode::Text,
                    frames: alloc::vec![0, 2],
                    len: 5,
                    wire_len: 5,
                    compressed: false,
                    inflated: None,
                    event: Some(OwnedEvent::Text("Hello".into())),
                },
            ]
        );
        assert!(!ins.reply.is_empty(), "the ping is answered");
    }

    #[test]
    fn partial_input_says_how_much_more() {
        let ins = inspect_frames(&MASKED_HELLO[..1], Role::Server);
        assert_eq!(ins.need_more, Some(1 + 4));
        let ins = inspect_frames(&MASKED_HELLO[..4], Role::Server);
        assert_eq!(ins.need_more, Some(2));
        assert_eq!(ins.waiting_for, "the masking key");
        let ins = inspect_frames(&MASKED_HELLO[..8], Role::Server);
        assert_eq!(ins.need_more, Some(3));
        assert_eq!(ins.frames[0].payload.len(), 2);
        assert!(!ins.frames[0].complete);
    }

    #[test]
    fn error_is_pinned_with_close_code() {
        // Reserved opcode 0x3 in the second frame.
        let mut bytes = MASKED_HELLO.to_vec();
        bytes.extend_from_slice(&[0x83, 0x80, 0, 0, 0, 0]);
        let ins = inspect_frames(&bytes, Role::Server);
        assert_eq!(
            ins.error,
            Some(ErrorView {
                offset: 11,
                kind: ProtocolError::ReservedOpcode,
                close_code: CloseCode(1002)
            })
        );
        assert_eq!(ins.frames.len(), 2);
        // The close frame a server sends: FIN + close, then code 1002 and the reason.
        assert_eq!(ins.reply[0], 0x88);
        assert_eq!(ins.reply[2..4], [0x03, 0xEA]);
        assert_eq!(&ins.reply[4..], b"reserved opcode");
    }

    #[test]
    fn non_minimal_length_is_flagged() {
        let bytes = [0x82, 0x7E, 0x00, 0x01, 0xAA];
        let ins = inspect_frames(&bytes, Role::Client);
        let ext = &ins.frames[0].fields[7];
        assert_eq!(ext.field, Field::ExtendedLen16);
        assert_eq!(ext.bits, "00000000 00000001");
        assert!(ext.remark.is_some_and(|r| r.contains("non-minimal")));
        assert_eq!(ins.events, [OwnedEvent::Binary(alloc::vec![0xAA])]);
    }
}
