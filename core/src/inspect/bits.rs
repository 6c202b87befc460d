//! The bits of a frame header, drawn as RFC 6455 §5.2 draws them: the string of a field's
//! bits (`1.......` for FIN = 1) and the sixteen cells of a header's first two bytes.
//!
//! Both are read off what the decoder reported (the field values of the trace), never off the
//! input bytes: a bit the decoder has not read yet has no value.

use super::{FieldRow, FrameView};
use crate::trace::Field;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// One bit of a frame header's first two bytes, as a cell of the RFC's diagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeaderBit {
    /// Stream offset of the byte the bit is in.
    pub offset: u64,
    /// The field it belongs to.
    pub field: Field,
    /// The diagram's label for it: `FIN`, `RSV1`-`RSV3`, `op`, `MASK` or `len`.
    pub label: &'static str,
    /// The bit, once the decoder has read its byte.
    pub bit: Option<u8>,
}

/// The field bit `i` (0 = most significant) of header byte `byte` (0 or 1) belongs to, and
/// the diagram's label for it (RFC 6455 §5.2).
const fn cell(byte: u64, i: u32) -> (Field, &'static str) {
    match (byte, i) {
        (0, 0) => (Field::Fin, "FIN"),
        (0, 1) => (Field::Rsv1, "RSV1"),
        (0, 2) => (Field::Rsv2, "RSV2"),
        (0, 3) => (Field::Rsv3, "RSV3"),
        (0, _) => (Field::Opcode, "op"),
        (_, 0) => (Field::Mask, "MASK"),
        _ => (Field::PayloadLen, "len"),
    }
}

impl FrameView {
    /// The sixteen bits of the header's first two bytes (RFC 6455 §5.2: FIN, RSV1-3, the
    /// 4-bit opcode; MASK, the 7-bit payload len), most significant first, each with the
    /// field it belongs to and its value from the decoder's report.
    pub fn header_bits(&self) -> Vec<HeaderBit> {
        let mut cells = Vec::with_capacity(16);
        for (byte, offset) in [(0u64, self.start), (1, self.start + 1)] {
            for i in 0..8u32 {
                let (field, label) = cell(byte, i);
                let bit_mask = 0x80u8 >> i;
                let row = self.fields.iter().find(|r| r.field == field);
                let bit = row.map(|r| u8::from(field_byte(field, r.value) & bit_mask != 0));
                cells.push(HeaderBit {
                    offset,
                    field,
                    label,
                    bit,
                });
            }
        }
        cells
    }
}

/// A one-byte field's value placed at its bits within its byte.
fn field_byte(field: Field, value: u64) -> u8 {
    let mask = field.bit_mask();
    ((value as u8) << mask.trailing_zeros()) & mask
}

impl FieldRow {
    /// The field's name for a row: the RFC's label, with the byte's index for the masking
    /// key (`masking-key[2]`).
    pub fn label(&self) -> String {
        match self.field {
            Field::MaskingKey(i) => format!("masking-key[{i}]"),
            f => f.name().into(),
        }
    }

    /// The value as a person reads it: hex for the opcode and masking-key bytes (`0x1`,
    /// `0x37`), decimal for bits and lengths.
    pub fn value_text(&self) -> String {
        match self.field {
            Field::Opcode | Field::MaskingKey(_) => format!("0x{:X}", self.value),
            _ => format!("{}", self.value),
        }
    }
}

/// The bits of a field, as the RFC draws them: `1.......` for FIN = 1, `....0001` for opcode
/// 1, `0.......`/`.0000101` for MASK/payload len, binary bytes for multi-byte fields.
pub(super) fn bits(field: Field, value: u64, len: u8) -> String {
    let mask = field.bit_mask();
    if mask == 0xFF {
        let bytes = value.to_be_bytes();
        let n = usize::from(len).min(8);
        let parts: Vec<String> = bytes[8 - n..].iter().map(|b| format!("{b:08b}")).collect();
        return parts.join(" ");
    }
    let byte = field_byte(field, value);
    (0..8)
        .map(|i| {
            let bit = 0x80 >> i;
            match (mask & bit != 0, byte & bit != 0) {
                (false, _) => '.',
                (true, true) => '1',
                (true, false) => '0',
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::inspect_frames;
    use super::*;
    use crate::Role;

    fn cells(bytes: &[u8], role: Role) -> Vec<(u64, &'static str, Option<u8>)> {
        let ins = inspect_frames(bytes, role);
        ins.frames[0]
            .header_bits()
            .iter()
            .map(|c| (c.offset, c.label, c.bit))
            .collect()
    }

    #[test]
    fn the_rfc_masked_hello_bit_by_bit() {
        // 0x81 = 1000 0001: FIN, text; 0x85 = 1 000 0101: MASK, length 5 (RFC 6455 §5.7).
        let hello = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        let got = cells(&hello, Role::Server);
        let labels: Vec<&str> = got.iter().map(|c| c.1).collect();
        assert_eq!(
            labels,
            [
                "FIN", "RSV1", "RSV2", "RSV3", "op", "op", "op", "op", "MASK", "len", "len", "len",
                "len", "len", "len", "len"
            ]
        );
        let bits: Vec<u8> = got.iter().map(|c| c.2.unwrap()).collect();
        assert_eq!(bits, [1, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 1, 0, 1]);
        assert!(got[..8].iter().all(|c| c.0 == 0) && got[8..].iter().all(|c| c.0 == 1));
    }

    #[test]
    fn every_first_two_bytes_are_drawn_as_they_are() {
        // Unmasked server frames (read by a client) with every opcode that decodes and
        // lengths 0..=125, RSV bits clear: the cells spell the two bytes.
        for b0 in [0x00u8, 0x01, 0x02, 0x81, 0x82, 0x88, 0x89, 0x8A] {
            for len in [0u8, 1, 5, 64, 125] {
                let mut frame = alloc::vec![b0, len];
                frame.resize(2 + usize::from(len), 0);
                if b0 == 0x88 && len == 1 {
                    continue; // a 1-byte close payload is an error before byte 1's cells differ
                }
                let got = cells(&frame, Role::Client);
                let want = (u16::from(b0) << 8) | u16::from(len);
                for (i, c) in got.iter().enumerate() {
                    assert_eq!(
                        c.2,
                        Some(((want >> (15 - i)) & 1) as u8),
                        "{b0:02x} {len} bit {i}"
                    );
                }
            }
        }
    }

    #[test]
    fn bits_not_read_yet_have_no_value() {
        let got = cells(&[0x81], Role::Server);
        assert!(got[..8].iter().all(|c| c.2.is_some()));
        assert!(got[8..].iter().all(|c| c.2.is_none()));
    }

    #[test]
    fn labels_and_values_as_a_person_reads_them() {
        let hello = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        let ins = inspect_frames(&hello, Role::Server);
        let rows: Vec<(String, String)> = ins.frames[0]
            .fields
            .iter()
            .map(|r| (r.label(), r.value_text()))
            .collect();
        assert_eq!(rows[0], ("FIN".into(), "1".into()));
        assert_eq!(rows[4], ("opcode".into(), "0x1".into()));
        assert_eq!(rows[6], ("payload len".into(), "5".into()));
        assert_eq!(rows[8], ("masking-key[1]".into(), "0xFA".into()));
    }
}
