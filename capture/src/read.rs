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

/// Calls `f` for each packet of the pcap or pcapng data in `input`, in file order.
pub fn for_each_packet(input: impl Read, mut f: impl FnMut(Packet<'_>)) -> Result<Summary, String> {
    let mut reader = open(input)?;
    let mut summary = Summary::default();
    let mut interfaces: Vec<Interface> = Vec::new();
    let mut legacy: Option<(i32, bool)> = None;
    let mut size = BUFFER;
    loop {
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
