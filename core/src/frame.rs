//! Opcodes and the frame header codec — RFC 6455 §5.2.
//!
//! ```text
//!   0                   1                   2                   3
//!   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//!  +-+-+-+-+-------+-+-------------+-------------------------------+
//!  |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//!  |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//!  |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//!  | |1|2|3|       |K|             |                               |
//!  +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//!  |     Extended payload length continued, if payload len == 127  |
//!  + - - - - - - - - - - - - - - - +-------------------------------+
//!  |                               |Masking-key, if MASK set to 1  |
//!  +-------------------------------+-------------------------------+
//!  | Masking-key (continued)       |          Payload Data         |
//!  +-------------------------------- - - - - - - - - - - - - - - - +
//! ```
//!
//! Decoding lives in [`crate::decoder`], which reads these fields incrementally and traces
//! each one; this module holds the types and the encoder.

use alloc::vec::Vec;

/// The 4-bit opcode (RFC 6455 §5.2, §11.8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum OpCode {
    /// 0x0: continuation of a fragmented message (§5.4).
    Continuation = 0x0,
    /// 0x1: text (UTF-8) message (§5.6).
    Text = 0x1,
    /// 0x2: binary message (§5.6).
    Binary = 0x2,
    /// 0x8: connection close (§5.5.1).
    Close = 0x8,
    /// 0x9: ping (§5.5.2).
    Ping = 0x9,
    /// 0xA: pong (§5.5.3).
    Pong = 0xA,
}

impl OpCode {
    /// Decodes the low nibble; `None` for the reserved opcodes 0x3-0x7 and 0xB-0xF.
    pub const fn from_u8(v: u8) -> Option<OpCode> {
        Some(match v {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xA => OpCode::Pong,
            _ => return None,
        })
    }

    /// Control frames have the high bit of the opcode set (§5.5).
    pub const fn is_control(self) -> bool {
        (self as u8) & 0x8 != 0
    }

    /// What the opcode means, as the RFC names it.
    pub const fn meaning(self) -> &'static str {
        match self {
            OpCode::Continuation => "continuation frame",
            OpCode::Text => "text frame",
            OpCode::Binary => "binary frame",
            OpCode::Close => "connection close",
            OpCode::Ping => "ping",
            OpCode::Pong => "pong",
        }
    }
}

/// Describes any 4-bit opcode value, reserved ones included.
pub const fn opcode_meaning(v: u8) -> &'static str {
    match OpCode::from_u8(v) {
        Some(op) => op.meaning(),
        None if v < 0x8 => "reserved for further non-control frames",
        None => "reserved for further control frames",
    }
}

/// A decoded or to-be-encoded frame header (RFC 6455 §5.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// FIN: this is the final fragment of a message.
    pub fin: bool,
    /// RSV1..RSV3 as the top three bits of a nibble: RSV1 = 0b100, RSV2 = 0b010, RSV3 = 0b001.
    pub rsv: u8,
    /// The opcode.
    pub opcode: OpCode,
    /// The masking key, if MASK is set.
    pub mask: Option<[u8; 4]>,
    /// The payload length.
    pub payload_len: u64,
}

impl FrameHeader {
    /// RSV1 bit in [`FrameHeader::rsv`] (used by permessage-deflate, RFC 7692).
    pub const RSV1: u8 = 0b100;
    /// RSV2 bit in [`FrameHeader::rsv`].
    pub const RSV2: u8 = 0b010;
    /// RSV3 bit in [`FrameHeader::rsv`].
    pub const RSV3: u8 = 0b001;
    /// The longest possible header: 2 + 8 (64-bit length) + 4 (masking key).
    pub const MAX_LEN: usize = 14;

    /// A final, unmasked frame with no RSV bits.
    pub const fn new(opcode: OpCode, payload_len: u64) -> Self {
        FrameHeader {
            fin: true,
            rsv: 0,
            opcode,
            mask: None,
            payload_len,
        }
    }

    /// Number of bytes [`FrameHeader::encode`] writes: 2, plus 2 or 8 for the extended length,
    /// plus 4 for the masking key.
    pub const fn encoded_len(&self) -> usize {
        2 + extended_len_bytes(self.payload_len) + if self.mask.is_some() { 4 } else { 0 }
    }

    /// Encodes the header with the minimal length encoding (§5.2: "the minimal number of bytes
    /// MUST be used") into `out`, returning the number of bytes written.
    ///
    /// Returns `None` if `out` is shorter than [`FrameHeader::encoded_len`] or the length has
    /// its most significant bit set (not representable on the wire).
    pub fn encode(&self, out: &mut [u8]) -> Option<usize> {
        let n = self.encoded_len();
        if out.len() < n || self.payload_len >> 63 != 0 {
            return None;
        }
        out[0] = (u8::from(self.fin) << 7) | ((self.rsv & 0x7) << 4) | self.opcode as u8;
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let mut i = 2;
        match self.payload_len {
            len @ 0..=125 => out[1] = mask_bit | len as u8,
            len @ 126..=0xFFFF => {
                out[1] = mask_bit | 126;
                out[2..4].copy_from_slice(&(len as u16).to_be_bytes());
                i = 4;
            }
            len => {
                out[1] = mask_bit | 127;
                out[2..10].copy_from_slice(&len.to_be_bytes());
                i = 10;
            }
        }
        if let Some(key) = self.mask {
            out[i..i + 4].copy_from_slice(&key);
        }
        Some(n)
    }

    /// Appends the encoded header to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let mut buf = [0u8; Self::MAX_LEN];
        if let Some(n) = self.encode(&mut buf) {
            out.extend_from_slice(&buf[..n]);
        }
    }
}

/// Extended-length bytes used by the minimal encoding of `len`: 0, 2 or 8 (§5.2).
pub const fn extended_len_bytes(len: u64) -> usize {
    match len {
        0..=125 => 0,
        126..=0xFFFF => 2,
        _ => 8,
    }
}

/// Appends a whole frame (header, then payload masked with the header's key if any) to `out`.
pub fn encode_frame(out: &mut Vec<u8>, header: &FrameHeader, payload: &[u8]) {
    debug_assert_eq!(header.payload_len, payload.len() as u64);
    header.encode_into(out);
    let start = out.len();
    out.extend_from_slice(payload);
    if let Some(key) = header.mask {
        crate::mask::apply_mask(&mut out[start..], key, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn encode(h: FrameHeader) -> Vec<u8> {
        let mut v = Vec::new();
        h.encode_into(&mut v);
        v
    }

    #[test]
    fn opcodes_round_trip_and_reserved_are_none() {
        for v in 0u8..16 {
            match OpCode::from_u8(v) {
                Some(op) => assert_eq!(op as u8, v),
                None => assert!(matches!(v, 0x3..=0x7 | 0xB..=0xF), "{v}"),
            }
        }
        assert!(OpCode::Ping.is_control() && !OpCode::Binary.is_control());
    }

    /// RFC 6455 §5.7: "256 bytes binary message in a single unmasked frame".
    #[test]
    fn rfc_5_7_256_byte_header() {
        assert_eq!(
            encode(FrameHeader::new(OpCode::Binary, 256)),
            [0x82, 0x7E, 0x01, 0x00]
        );
    }

    /// RFC 6455 §5.7: "64KiB binary message in a single unmasked frame".
    #[test]
    fn rfc_5_7_64k_header() {
        assert_eq!(
            encode(FrameHeader::new(OpCode::Binary, 65536)),
            [0x82, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00]
        );
    }

    /// RFC 6455 §5.7: a single-frame unmasked and masked text "Hello".
    #[test]
    fn rfc_5_7_hello_frames() {
        let mut v = Vec::new();
        encode_frame(&mut v, &FrameHeader::new(OpCode::Text, 5), b"Hello");
        assert_eq!(v, [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
        let mut v = Vec::new();
        let h = FrameHeader {
            mask: Some([0x37, 0xfa, 0x21, 0x3d]),
            ..FrameHeader::new(OpCode::Text, 5)
        };
        encode_frame(&mut v, &h, b"Hello");
        assert_eq!(
            v,
            [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]
        );
    }

    #[test]
    fn length_boundaries_are_minimal() {
        for (len, n) in [
            (0u64, 2),
            (125, 2),
            (126, 4),
            (65535, 4),
            (65536, 10),
            (u64::MAX >> 1, 10),
        ] {
            let h = FrameHeader::new(OpCode::Binary, len);
            assert_eq!(h.encoded_len(), n, "{len}");
            assert_eq!(encode(h).len(), n, "{len}");
        }
    }

    #[test]
    fn refuses_msb_length_and_short_buffer() {
        let h = FrameHeader::new(OpCode::Binary, 1 << 63);
        assert_eq!(h.encode(&mut [0; 14]), None);
        assert_eq!(
            FrameHeader::new(OpCode::Binary, 300).encode(&mut [0; 3]),
            None
        );
    }

    #[test]
    fn rsv_and_fin_bits() {
        let h = FrameHeader {
            fin: false,
            rsv: FrameHeader::RSV1,
            ..FrameHeader::new(OpCode::Text, 0)
        };
        assert_eq!(encode(h), vec![0x41, 0x00]);
    }
}
