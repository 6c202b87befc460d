//! Reading pcap and pcapng files (the `pcap-parser` crate), packet by packet, in a buffer of
//! bounded size whatever the file's.

use pcap_parser::pcapng::Block;
use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{LegacyPcapReader, PcapBlockOwned, PcapError, PcapNGReader};
use std::io::Read;

/// One captured packet.
#[derive(Debug)]
pub struct Packet<'a> {
    /// When it was captured: seconds since the Unix epoch.
    pub time: f64,
    /// Its link type (see [`super::tcp::linktype`]).
    pub linktype: i32,
    /// The bytes captured (perhaps fewer than were sent: snaplen).
    pub data: &'a [u8],
}

/// What reading a file found besides its packets.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// "pcap" or "pcapng".
    pub format: &'static str,
    /// Packets read.
    pub packets: u64,
    /// The file ends in the middle of a block (a capture cut short): what came before was
    /// read.
    pub truncated: bool,
}

/// The reader's buffer: it must hold one whole block. Grown (four times at a step) up to
/// [`MAX_BLOCK`] for a bigger one.
const BUFFER: usize = 64 << 10;
/// The largest block read (16 MiB; captures keep at most 256 KiB per packet).
pub const MAX_BLOCK: usize = 16 << 20;

struct Interface {
    linktype: i32,
    /// Units per second of its timestamps.
    resolution: u64,
    offset: i64,
}

/// Opens a pcap or pcapng stream: its first four bytes say which (RFC-style magic numbers:
/// pcapng's Section Header Block type, or one of the four pcap magics).
fn open<'r, R: Read + 'r>(mut input: R) -> Result<Box<dyn PcapReaderIterator + 'r>, String> {
    // The readers parse the file header from their first read: it is read whole here first
    // (up to a buffer's worth), then handed on ahead of the rest.
    let mut head = vec![0u8; BUFFER];
    let mut got = 0;
    while got < head.len() {
        match input.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("reading the capture: {e}")),
        }
    }
    head.truncate(got);
    if got == 0 {
        return Err("the file is empty".into());
    }
    let magic: [u8; 4] = match head.get(..4) {
        Some(m) => m.try_into().expect("four bytes"),
        None => [0; 4],
    };
    let not_capture =
        || "not a pcap or pcapng file (its first bytes are neither header)".to_string();
    let unreadable = |e: PcapError<&[u8]>| match e {
        PcapError::Incomplete(_) | PcapError::Eof | PcapError::UnexpectedEof => {
            "the capture ends inside its file header".to_string()
        }
        e => format!("not a readable capture: {e}"),
    };
    let input = std::io::Cursor::new(head).chain(input);
    match magic {
        [0x0a, 0x0d, 0x0d, 0x0a] => PcapNGReader::new(BUFFER, input)
            .map(|r| Box::new(r) as Box<dyn PcapReaderIterator>)
            .map_err(unreadable),
        [0xd4, 0xc3, 0xb2, 0xa1]
        | [0xa1, 0xb2, 0xc3, 0xd4]
        | [0x4d, 0x3c, 0xb2, 0xa1]
        | [0xa1, 0xb2, 0x3c, 0x4d] => LegacyPcapReader::new(BUFFER, input)
            .map(|r| Box::new(r) as Box<dyn PcapReaderIterator>)
            .map_err(unreadable),
        _ => Err(not_capture()),
    }
}

/// pcapng's Section Header Block type, which starts every section.
const SHB_TYPE: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];

/// The length of the pcapng block at the start of `data` when it is shorter than any block
/// can be (12 bytes: type, length, length). pcap-parser 0.17 subtracts 12 from it unchecked
/// (`pcapng/block.rs`: a panic with overflow checks, a wait for 4 GiB of input without), so
/// it is checked here first. `big_endian` is the section's byte order, updated at each
/// Section Header Block from its byte-order magic.
fn short_block(data: &[u8], big_endian: &mut bool) -> Option<u32> {
    if data.starts_with(&SHB_TYPE) {
        match data.get(8..12) {
            Some([0x1a, 0x2b, 0x3c, 0x4d]) => *big_endian = true,
            Some([0x4d, 0x3c, 0x2b, 0x1a]) => *big_endian = false,
            _ => {}
        }
    }
    let len: [u8; 4] = data.get(4..8)?.try_into().ok()?;
    let len = if *big_endian {
        u32::from_be_bytes(len)
    } else {
        u32::from_le_bytes(len)
    };
    (len < 12).then_some(len)
}

/// Calls `f` for each packet of the pcap or pcapng data in `input`, in file order.
pub fn for_each_packet(input: impl Read, mut f: impl FnMut(Packet<'_>)) -> Result<Summary, String> {
    let mut reader = open(input)?;
    let pcapng = reader.data().starts_with(&SHB_TYPE);
    let mut big_endian = false;
    let mut summary = Summary::default();
    let mut interfaces: Vec<Interface> = Vec::new();
    let mut legacy: Option<(i32, bool)> = None;
    let mut size = BUFFER;
    loop {
        if pcapng {
            if let Some(len) = short_block(reader.data(), &mut big_endian) {
                return Err(format!(
                    "the capture is damaged after {} packets: a pcapng block of {len} bytes (a \
                     block has at least 12: its type and its length twice)",
                    summary.packets
                ));
            }
        }
        match reader.next() {
            Ok((used, block)) => {
                match block {
                    PcapBlockOwned::LegacyHeader(h) => {
                        summary.format = "pcap";
                        legacy = Some((h.network.0, h.is_nanosecond_precision()));
                    }
                    PcapBlockOwned::Legacy(b) => {
                        let (linktype, nanos) = legacy.unwrap_or((1, false));
                        let frac = if nanos { 1e-9 } else { 1e-6 };
                        summary.packets += 1;
                        f(Packet {
                            time: f64::from(b.ts_sec) + f64::from(b.ts_usec) * frac,
                            linktype,
                            data: b.data,
                        });
                    }
                    PcapBlockOwned::NG(Block::SectionHeader(_)) => {
                        summary.format = "pcapng";
                        interfaces.clear();
                    }
                    PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                        interfaces.push(Interface {
                            linktype: idb.linktype.0,
                            resolution: idb.ts_resolution().unwrap_or(1_000_000),
                            offset: idb.ts_offset(),
                        });
                    }
                    PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                        if let Some(i) = interfaces.get(epb.if_id as usize) {
                            let raw = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                            let time = raw as f64 / i.resolution.max(1) as f64 + i.offset as f64;
                            let len = (epb.caplen as usize).min(epb.data.len());
                            summary.packets += 1;
                            f(Packet {
                                time,
                                linktype: i.linktype,
                                data: &epb.data[..len],
                            });
                        }
                    }
                    PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                        if let Some(i) = interfaces.first() {
                            summary.packets += 1;
                            f(Packet {
                                time: 0.0,
                                linktype: i.linktype,
                                data: spb.data,
                            });
                        }
                    }
                    PcapBlockOwned::NG(_) => {}
                }
                reader.consume(used);
            }
            Err(PcapError::Eof) => return Ok(summary),
            Err(PcapError::UnexpectedEof) => {
                summary.truncated = true;
                return Ok(summary);
            }
            Err(PcapError::Incomplete(_)) => {
                if reader.reader_exhausted() {
                    summary.truncated = true;
                    return Ok(summary);
                }
                reader
                    .refill()
                    .map_err(|e| format!("reading the capture: {e}"))?;
            }
            Err(PcapError::BufferTooSmall) => {
                if size >= MAX_BLOCK {
                    return Err(format!(
                        "a block larger than {} MiB at packet {}: not a capture this reads",
                        MAX_BLOCK >> 20,
                        summary.packets + 1
                    ));
                }
                size = (size * 4).min(MAX_BLOCK);
                reader.grow(size);
                reader
                    .refill()
                    .map_err(|e| format!("reading the capture: {e}"))?;
            }
            Err(e) => {
                return Err(format!(
                    "the capture is damaged after {} packets: {e}",
                    summary.packets
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Section Header Block (little-endian, version 1.0, section length unknown).
    const SHB: [u8; 28] = [
        0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 28, 0, 0, 0,
    ];

    #[test]
    fn a_block_shorter_than_12_bytes_is_an_error_not_a_panic() {
        // Found by the capture_pcap fuzz target: a Process Information Block (0x80000001,
        // whose parser's header is 4 bytes) claiming 4 bytes made pcap-parser subtract 12.
        for len in [0u32, 4, 8, 11] {
            let mut file = SHB.to_vec();
            file.extend_from_slice(&[1, 0, 0, 0x80]);
            file.extend_from_slice(&len.to_le_bytes());
            file.extend_from_slice(&[0x65, 1, 0x51, 0, 0, 0, 0x48, 0x4b]);
            let err = for_each_packet(&file[..], |_| {}).unwrap_err();
            assert!(
                err.contains(&format!("a pcapng block of {len} bytes")),
                "{err}"
            );
        }
        // Big-endian sections are read in their own byte order.
        let mut file = SHB.to_vec();
        file[8..12].copy_from_slice(&[0x1a, 0x2b, 0x3c, 0x4d]);
        file[4..8].copy_from_slice(&28u32.to_be_bytes());
        file[24..28].copy_from_slice(&28u32.to_be_bytes());
        file[12..16].copy_from_slice(&[0, 1, 0, 0]);
        file.extend_from_slice(&[0x80, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 0]);
        let err = for_each_packet(&file[..], |_| {}).unwrap_err();
        assert!(err.contains("a pcapng block of 4 bytes"), "{err}");
        // A well-formed section alone is read, with no packets.
        let summary = for_each_packet(&SHB[..], |_| {}).unwrap();
        assert_eq!((summary.format, summary.packets), ("pcapng", 0));
    }
}
