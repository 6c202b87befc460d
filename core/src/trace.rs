//! The byte-level trace: how every input byte was read.
//!
//! The decoder and the connection report what they read through a [`Tracer`]. Production code
//! uses [`NoTrace`], whose methods are empty and `#[inline(always)]`, and whose
//! [`Tracer::ENABLED`] is `false`, so the compiler removes the calls and the one copy that
//! tracing needs: the fast path and the traced path are the *same* code. The inspector (CLI
//! and browser) uses [`Recorder`], which keeps every report in order.
//!
//! Offsets are positions in the byte stream fed to the decoder, counting from 0.

use crate::error::ProtocolError;
use crate::frame::{opcode_meaning, FrameHeader, OpCode};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// A header field of a frame (RFC 6455 §5.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    /// FIN bit (bit 7 of byte 0).
    Fin,
    /// RSV1 bit (bit 6 of byte 0).
    Rsv1,
    /// RSV2 bit (bit 5 of byte 0).
    Rsv2,
    /// RSV3 bit (bit 4 of byte 0).
    Rsv3,
    /// Opcode (low nibble of byte 0).
    Opcode,
    /// MASK bit (bit 7 of byte 1).
    Mask,
    /// 7-bit payload length (low 7 bits of byte 1).
    PayloadLen,
    /// 16-bit extended payload length (when the 7-bit length is 126).
    ExtendedLen16,
    /// 64-bit extended payload length (when the 7-bit length is 127).
    ExtendedLen64,
    /// Masking key byte 0..=3.
    MaskingKey(u8),
}

impl Field {
    /// The field's name as the RFC's diagram labels it.
    pub const fn name(self) -> &'static str {
        match self {
            Field::Fin => "FIN",
            Field::Rsv1 => "RSV1",
            Field::Rsv2 => "RSV2",
            Field::Rsv3 => "RSV3",
            Field::Opcode => "opcode",
            Field::Mask => "MASK",
            Field::PayloadLen => "payload len",
            Field::ExtendedLen16 => "extended payload length (16-bit)",
            Field::ExtendedLen64 => "extended payload length (64-bit)",
            Field::MaskingKey(_) => "masking-key",
        }
    }

    /// The RFC 6455 section that defines the field.
    pub const fn rfc_section(self) -> &'static str {
        match self {
            Field::MaskingKey(_) => "§5.3",
            _ => "§5.2",
        }
    }

    /// Which bits of the field's first byte belong to it (0xFF for whole-byte fields).
    pub const fn bit_mask(self) -> u8 {
        match self {
            Field::Fin | Field::Mask => 0x80,
            Field::Rsv1 => 0x40,
            Field::Rsv2 => 0x20,
            Field::Rsv3 => 0x10,
            Field::Opcode => 0x0F,
            Field::PayloadLen => 0x7F,
            _ => 0xFF,
        }
    }

    /// A one-line meaning of `value` in this field.
    pub fn meaning(self, value: u64) -> String {
        match self {
            Field::Fin if value == 1 => "final fragment of a message".into(),
            Field::Fin => "more fragments follow".into(),
            Field::Rsv1 | Field::Rsv2 | Field::Rsv3 if value == 0 => "not set".into(),
            Field::Rsv1 => "set: reserved for a negotiated extension (RFC 7692: compressed)".into(),
            Field::Rsv2 | Field::Rsv3 => "set: reserved for a negotiated extension".into(),
            Field::Opcode => format!("0x{value:X}: {}", opcode_meaning(value as u8)),
            Field::Mask if value == 1 => "payload is masked (a masking key follows)".into(),
            Field::Mask => "payload is not masked".into(),
            Field::PayloadLen if value == 126 => "126: a 16-bit length follows".into(),
            Field::PayloadLen if value == 127 => "127: a 64-bit length follows".into(),
            Field::PayloadLen => format!("payload is {value} bytes"),
            Field::ExtendedLen16 | Field::ExtendedLen64 => format!("payload is {value} bytes"),
            Field::MaskingKey(i) => {
                format!("key byte {i}: XORs payload bytes i where i mod 4 = {i}")
            }
        }
    }
}

/// One header field read from the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldRead {
    /// The field.
    pub field: Field,
    /// Stream offset of its first byte.
    pub offset: u64,
    /// How many bytes it spans (1 for the bit fields, which share a byte).
    pub len: u8,
    /// Its decoded value.
    pub value: u64,
    /// Something noteworthy that is not an error (e.g. a non-minimal length encoding).
    pub remark: Option<&'static str>,
}

/// Payload bytes read from the stream (after unmasking).
#[derive(Clone, Copy, Debug)]
pub struct PayloadRead<'a> {
    /// Stream offset of the first byte.
    pub offset: u64,
    /// Offset of the first byte within the frame's payload (the key index is this mod 4).
    pub payload_offset: u64,
    /// The frame's masking key, if masked.
    pub key: Option<[u8; 4]>,
    /// The bytes after unmasking.
    pub plain: &'a [u8],
}

/// Receives the decoder's reports. Every method has an empty default, so a tracer implements
/// only what it wants.
pub trait Tracer {
    /// Whether reports are wanted. When `false` the decoder skips the work of preparing them
    /// (such as keeping a copy of masked bytes).
    const ENABLED: bool = true;
    /// A header field was read.
    #[inline(always)]
    fn field(&mut self, _read: FieldRead) {}
    /// Payload bytes as they arrived, before unmasking. Only called when `ENABLED`.
    #[inline(always)]
    fn payload_masked(&mut self, _offset: u64, _masked: &[u8]) {}
    /// The same payload bytes after unmasking.
    #[inline(always)]
    fn payload(&mut self, _read: PayloadRead<'_>) {}
    /// A complete header was read; the frame's payload starts at `payload_offset`.
    #[inline(always)]
    fn header(&mut self, _header: &FrameHeader, _start: u64, _payload_offset: u64) {}
    /// The frame ended at stream offset `end` (exclusive).
    #[inline(always)]
    fn frame_end(&mut self, _header: &FrameHeader, _end: u64) {}
    /// A message was completed (all fragments) ending at stream offset `end`.
    #[inline(always)]
    fn message_end(&mut self, _opcode: OpCode, _len: usize, _end: u64) {}
    /// permessage-deflate: `data` was inflated from the compressed message's payload read up
    /// to stream offset `offset` (RFC 7692 §7.2.2). Only called when `ENABLED`.
    #[inline(always)]
    fn inflated(&mut self, _offset: u64, _data: &[u8]) {}
    /// The input ran out; at least `more` further bytes are needed to make progress.
    #[inline(always)]
    fn need_more(&mut self, _offset: u64, _more: usize) {}
    /// The peer broke a rule at stream offset `offset`.
    #[inline(always)]
    fn error(&mut self, _offset: u64, _error: ProtocolError) {}
}

/// The tracer that traces nothing and costs nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoTrace;

impl Tracer for NoTrace {
    const ENABLED: bool = false;
}

/// One entry of a recorded trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TraceItem {
    /// A header field.
    Field(FieldRead),
    /// A complete header.
    Header {
        /// The decoded header.
        header: FrameHeader,
        /// Stream offset of the frame's first byte.
        start: u64,
        /// Stream offset of the payload's first byte.
        payload_offset: u64,
    },
    /// Payload bytes: masked as received and unmasked.
    Payload {
        /// Stream offset of the first byte.
        offset: u64,
        /// Offset within the frame's payload.
        payload_offset: u64,
        /// The masking key.
        key: Option<[u8; 4]>,
        /// Bytes as received.
        masked: Vec<u8>,
        /// Bytes after unmasking.
        plain: Vec<u8>,
    },
    /// End of a frame.
    FrameEnd {
        /// The frame's header.
        header: FrameHeader,
        /// Stream offset just past its last byte.
        end: u64,
    },
    /// End of a message.
    MessageEnd {
        /// Text or binary (or a control opcode for control messages).
        opcode: OpCode,
        /// Length of the reassembled payload.
        len: usize,
        /// Stream offset just past its last byte.
        end: u64,
    },
    /// Bytes inflated from a compressed message (RFC 7692 §7.2.2).
    Inflated {
        /// Stream offset up to which the compressed payload had been read.
        offset: u64,
        /// The inflated bytes (up to the recorder's limit).
        data: Vec<u8>,
    },
    /// More input needed.
    NeedMore {
        /// Stream offset where input ran out.
        offset: u64,
        /// At least this many more bytes.
        more: usize,
    },
    /// A protocol error.
    Error {
        /// The offending byte's stream offset.
        offset: u64,
        /// What was wrong.
        error: ProtocolError,
    },
}

/// A tracer that records everything, in order. Payload bytes beyond `payload_limit` per
/// report are not kept (the rest of the trace still is), so memory stays bounded.
#[derive(Clone, Debug)]
pub struct Recorder {
    /// The recorded items.
    pub items: Vec<TraceItem>,
    /// Most payload bytes kept per payload report.
    pub payload_limit: usize,
    masked: Vec<u8>,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            items: Vec::new(),
            payload_limit: 64 * 1024,
            masked: Vec::new(),
        }
    }
}

impl Recorder {
    /// An empty recorder.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Tracer for Recorder {
    fn field(&mut self, read: FieldRead) {
        self.items.push(TraceItem::Field(read));
    }
    fn payload_masked(&mut self, _offset: u64, masked: &[u8]) {
        self.masked.clear();
        self.masked
            .extend_from_slice(&masked[..masked.len().min(self.payload_limit)]);
    }
    fn payload(&mut self, read: PayloadRead<'_>) {
        let keep = read.plain.len().min(self.payload_limit);
        self.items.push(TraceItem::Payload {
            offset: read.offset,
            payload_offset: read.payload_offset,
            key: read.key,
            masked: core::mem::take(&mut self.masked),
            plain: read.plain[..keep].to_vec(),
        });
    }
    fn header(&mut self, header: &FrameHeader, start: u64, payload_offset: u64) {
        self.items.push(TraceItem::Header {
            header: *header,
            start,
            payload_offset,
        });
    }
    fn frame_end(&mut self, header: &FrameHeader, end: u64) {
        self.items.push(TraceItem::FrameEnd {
            header: *header,
            end,
        });
    }
    fn message_end(&mut self, opcode: OpCode, len: usize, end: u64) {
        self.items.push(TraceItem::MessageEnd { opcode, len, end });
    }
    fn need_more(&mut self, offset: u64, more: usize) {
        self.items.push(TraceItem::NeedMore { offset, more });
    }
    fn inflated(&mut self, offset: u64, data: &[u8]) {
        let keep = data.len().min(self.payload_limit);
        self.items.push(TraceItem::Inflated {
            offset,
            data: data[..keep].to_vec(),
        });
    }
    fn error(&mut self, offset: u64, error: ProtocolError) {
        self.items.push(TraceItem::Error { offset, error });
    }
}
