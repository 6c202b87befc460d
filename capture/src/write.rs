//! Writing a pcapng file of synthesised TCP/IP packets that carry real bytes: what
//! `wslens proxy --record` makes of both legs of each connection, so that Wireshark and
//! tshark open it and decode WebSocket. Blocks are serialised by `pcap-parser`, IP and TCP
//! headers (with checksums) built by `etherparse`. Each packet is written and flushed whole,
//! so the file is valid at every moment, whenever the proxy stops.

use pcap_parser::pcapng::{
    EnhancedPacketBlock, InterfaceDescriptionBlock, SectionHeaderBlock, BOM_MAGIC, EPB_MAGIC,
    IDB_MAGIC, SHB_MAGIC,
};
use pcap_parser::{Linktype, ToVec};
use std::fs::File;
use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// Most payload bytes per synthesised segment: an IPv6 payload length (and an IPv4 total
/// length) must fit 16 bits, with room for the headers.
pub const MAX_SEGMENT: usize = 65_000;

/// A pcapng file being written: one section, one interface of link type RAW (IPv4 and IPv6
/// packets without a link header), microsecond timestamps.
pub struct PcapngWriter {
    file: File,
}

fn gen_error(e: impl std::fmt::Debug) -> io::Error {
    io::Error::other(format!("pcapng: {e:?}"))
}

impl PcapngWriter {
    /// Creates (or truncates) `path` and writes the section and interface headers.
    pub fn create(path: &Path) -> io::Result<PcapngWriter> {
        let mut file = File::create(path)?;
        let mut shb = SectionHeaderBlock {
            block_type: SHB_MAGIC,
            block_len1: 0,
            bom: BOM_MAGIC,
            major_version: 1,
            minor_version: 0,
            section_len: -1,
            options: Vec::new(),
            block_len2: 0,
        };
        let mut idb = InterfaceDescriptionBlock {
            block_type: IDB_MAGIC,
            block_len1: 0,
            linktype: Linktype::RAW,
            reserved: 0,
            snaplen: 0,
            options: Vec::new(),
            block_len2: 0,
            if_tsresol: 6,
            if_tsoffset: 0,
        };
        let mut head = shb.to_vec().map_err(gen_error)?;
        head.extend(idb.to_vec().map_err(gen_error)?);
        file.write_all(&head)?;
        file.flush()?;
        Ok(PcapngWriter { file })
    }

    /// Writes one packet (an IP packet) captured at `time`.
    pub fn packet(&mut self, time: SystemTime, data: &[u8]) -> io::Result<()> {
        let micros = time
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as u64);
        let len = u32::try_from(data.len()).map_err(gen_error)?;
        let mut epb = EnhancedPacketBlock {
            block_type: EPB_MAGIC,
            block_len1: 0,
            if_id: 0,
            ts_high: (micros >> 32) as u32,
            ts_low: micros as u32,
            caplen: len,
            origlen: len,
            data,
            options: Vec::new(),
            block_len2: 0,
        };
        let block = epb.to_vec().map_err(gen_error)?;
        self.file.write_all(&block)?;
        self.file.flush()
    }
}

/// One TCP connection as packets: the three-way handshake, data segments each way with
/// sequence and acknowledgment numbers that add up, and the FIN exchange.
#[derive(Clone, Debug)]
pub struct TcpLeg {
    client: SocketAddr,
    server: SocketAddr,
    /// Next sequence number of the client and of the server.
    seq: [u32; 2],
}

impl TcpLeg {
    /// A connection from `client` to `server`.
    pub fn new(client: SocketAddr, server: SocketAddr) -> TcpLeg {
        TcpLeg {
            client,
            server,
            seq: [1_000, 500_000],
        }
    }

    fn build(&self, from_client: bool, flags: Flags, payload: &[u8]) -> io::Result<Vec<u8>> {
        let (src, dst) = if from_client {
            (self.client, self.server)
        } else {
            (self.server, self.client)
        };
        let (seq, ack) = if from_client {
            (self.seq[0], self.seq[1])
        } else {
            (self.seq[1], self.seq[0])
        };
        let ip = match (src.ip(), dst.ip()) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                etherparse::PacketBuilder::ipv4(a.octets(), b.octets(), 64)
            }
            (IpAddr::V6(a), IpAddr::V6(b)) => {
                etherparse::PacketBuilder::ipv6(a.octets(), b.octets(), 64)
            }
            _ => {
                return Err(io::Error::other(
                    "a leg with an IPv4 and an IPv6 end cannot be written",
                ))
            }
        };
        let mut tcp = ip.tcp(src.port(), dst.port(), seq, 65_535);
        if flags.syn {
            tcp = tcp.syn();
        }
        if flags.ack {
            tcp = tcp.ack(ack);
        }
        if flags.fin {
            tcp = tcp.fin();
        }
        if !payload.is_empty() {
            tcp = tcp.psh();
        }
        let mut out = Vec::with_capacity(tcp.size(payload.len()));
        tcp.write(&mut out, payload).map_err(gen_error)?;
        Ok(out)
    }

    /// SYN, SYN-ACK, ACK.
    pub fn open(&mut self, w: &mut PcapngWriter, time: SystemTime) -> io::Result<()> {
        let syn = Flags {
            syn: true,
            ..Flags::default()
        };
        w.packet(time, &self.build(true, syn, &[])?)?;
        self.seq[0] = self.seq[0].wrapping_add(1);
        let syn_ack = Flags {
            syn: true,
            ack: true,
            ..Flags::default()
        };
        // The SYN-ACK acknowledges the client's SYN.
        w.packet(time, &self.build(false, syn_ack, &[])?)?;
        self.seq[1] = self.seq[1].wrapping_add(1);
        w.packet(time, &self.build(true, Flags::ack(), &[])?)
    }

    /// `bytes` sent by the client (`from_client`) or the server, in segments of at most
    /// [`MAX_SEGMENT`] bytes.
    pub fn data(
        &mut self,
        w: &mut PcapngWriter,
        from_client: bool,
        time: SystemTime,
        bytes: &[u8],
    ) -> io::Result<()> {
        for chunk in bytes.chunks(MAX_SEGMENT) {
            w.packet(time, &self.build(from_client, Flags::ack(), chunk)?)?;
            let i = usize::from(!from_client);
            self.seq[i] = self.seq[i].wrapping_add(chunk.len() as u32);
        }
        Ok(())
    }

    /// FIN from one side, FIN from the other, the last ACK.
    pub fn close(&mut self, w: &mut PcapngWriter, time: SystemTime) -> io::Result<()> {
        let fin = Flags {
            fin: true,
            ..Flags::ack()
        };
        w.packet(time, &self.build(true, fin, &[])?)?;
        self.seq[0] = self.seq[0].wrapping_add(1);
        w.packet(time, &self.build(false, fin, &[])?)?;
        self.seq[1] = self.seq[1].wrapping_add(1);
        w.packet(time, &self.build(true, Flags::ack(), &[])?)
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct Flags {
    syn: bool,
    ack: bool,
    fin: bool,
}

impl Flags {
    fn ack() -> Flags {
        Flags {
            ack: true,
            ..Flags::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::for_each_packet;
    use crate::tcp::{segment, Piece, Reassembler};

    #[test]
    fn what_is_written_reads_back_byte_exact() {
        let dir = std::env::temp_dir().join(format!("wslens-pcapng-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("leg.pcapng");
        let mut w = PcapngWriter::create(&path).unwrap();
        let mut leg = TcpLeg::new(
            "[::1]:40000".parse().unwrap(),
            "[::1]:8765".parse().unwrap(),
        );
        let t = SystemTime::now();
        leg.open(&mut w, t).unwrap();
        let big: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
        leg.data(&mut w, true, t, b"GET / HTTP/1.1\r\n\r\n")
            .unwrap();
        leg.data(&mut w, false, t, &big).unwrap();
        leg.close(&mut w, t).unwrap();
        drop(w);
        let mut streams = [Reassembler::default(), Reassembler::default()];
        let mut got: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
        let summary = for_each_packet(File::open(&path).unwrap(), |p| {
            let s = segment(p.linktype, p.data).unwrap();
            assert!((p.time - t.duration_since(UNIX_EPOCH).unwrap().as_secs_f64()).abs() < 1e-3);
            let i = usize::from(s.src.port() == 8765);
            let mut out = Vec::new();
            streams[i].push(&s, &mut out);
            for piece in out {
                match piece {
                    Piece::Bytes(b) => got[i].extend(b),
                    Piece::Gap(n) => panic!("gap of {n}"),
                }
            }
        })
        .unwrap();
        assert_eq!(summary.format, "pcapng");
        assert!(!summary.truncated);
        assert_eq!(summary.packets, 3 + 1 + 4 + 3);
        assert_eq!(got[0], b"GET / HTTP/1.1\r\n\r\n");
        assert_eq!(got[1], big);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
