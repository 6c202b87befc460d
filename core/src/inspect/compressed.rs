//! A permessage-deflate message opened up for people (RFC 7692 §7.2): what the sender
//! stripped, and how the DEFLATE data (RFC 1951) begins.

pub use crate::deflate::SYNC_TAIL;

/// The header of a DEFLATE block: its first three bits (RFC 1951 §3.2.3), read from the
/// least significant bit of the first byte up, as DEFLATE packs bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockHeader {
    /// BFINAL, bit 0: this is the last block of the data. A permessage-deflate sender ends
    /// each message with a sync flush instead, so its blocks have BFINAL = 0 unless it
    /// reset its compressor.
    pub bfinal: bool,
    /// BTYPE, bits 1-2: 0 stored, 1 fixed Huffman codes, 2 dynamic Huffman codes, 3 reserved.
    pub btype: u8,
}

impl BlockHeader {
    /// What BTYPE says about the block.
    pub const fn btype_meaning(self) -> &'static str {
        match self.btype {
            0 => "00: stored, no compression (LEN and NLEN follow, then the bytes as they are)",
            1 => "01: compressed with the fixed Huffman codes of RFC 1951 §3.2.6",
            2 => "10: compressed with dynamic Huffman codes, whose tables come first",
            _ => "11: reserved (an error)",
        }
    }
}

/// The header of the first block of a compressed message's payload (as received: the
/// sender removed the trailing [`SYNC_TAIL`], RFC 7692 §7.2.1). `None` for an empty payload.
pub fn first_block(payload: &[u8]) -> Option<BlockHeader> {
    payload.first().map(|&b| BlockHeader {
        bfinal: b & 1 == 1,
        btype: (b >> 1) & 0b11,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_7692_hello_starts_a_fixed_huffman_block_that_is_not_final() {
        // RFC 7692 §7.2.3.1: "Hello" compressed is f2 48 cd c9 c9 07 00. 0xf2 = 1111 0010:
        // bit 0 (BFINAL) 0, bits 1-2 (BTYPE) 01.
        let hello = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        let block = first_block(&hello).unwrap();
        assert_eq!(
            block,
            BlockHeader {
                bfinal: false,
                btype: 1
            }
        );
        assert!(block.btype_meaning().starts_with("01: "));
        // §7.2.3.3: the same data with BFINAL set, as a sender that resets may produce it.
        let fin = [0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        assert!(first_block(&fin).unwrap().bfinal);
        // §7.2.3.4: a stored block (BTYPE 00).
        assert_eq!(first_block(&[0x00, 0x05, 0x00]).unwrap().btype, 0);
        assert_eq!(first_block(&[0x04]).unwrap().btype, 2);
        assert_eq!(first_block(&[0x06]).unwrap().btype, 3);
        assert_eq!(first_block(&[]), None);
        assert_eq!(SYNC_TAIL, [0x00, 0x00, 0xff, 0xff]);
    }
}
