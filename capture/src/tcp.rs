//! TCP segments out of captured packets (the link and IP headers read by `etherparse`), and
//! their reassembly into each direction's byte stream: out-of-order segments are held (up to
//! a bound) until the bytes before them arrive, retransmitted bytes are dropped, and bytes
//! that never arrive are reported as a gap, never guessed.

use etherparse::{EtherType, LaxNetSlice, LaxSlicedPacket, TransportSlice};
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

/// The link types read (<https://www.tcpdump.org/linktypes.html>).
pub mod linktype {
    /// BSD loopback: a 4-byte address family in the host's byte order, then IP.
    pub const NULL: i32 = 0;
    /// Ethernet II.
    pub const ETHERNET: i32 = 1;
    /// Raw IPv4 or IPv6.
    pub const RAW: i32 = 101;
    /// OpenBSD loopback: a 4-byte address family in network byte order, then IP.
    pub const LOOP: i32 = 108;
    /// Linux "cooked" capture (`tcpdump -i any`), version 1.
    pub const LINUX_SLL: i32 = 113;
    /// Raw IPv4.
    pub const IPV4: i32 = 228;
    /// Raw IPv6.
    pub const IPV6: i32 = 229;
    /// Linux "cooked" capture, version 2.
    pub const LINUX_SLL2: i32 = 276;
}

/// One TCP segment as captured.
#[derive(Debug)]
pub struct Segment<'a> {
    /// Sender.
    pub src: SocketAddr,
    /// Receiver.
    pub dst: SocketAddr,
    /// Sequence number of the first byte (of the SYN, for a SYN).
    pub seq: u32,
    /// SYN flag.
    pub syn: bool,
    /// ACK flag.
    pub ack: bool,
    /// FIN flag.
    pub fin: bool,
    /// RST flag.
    pub rst: bool,
    /// The payload bytes captured.
    pub payload: &'a [u8],
    /// Payload bytes the packet carried but the capture did not keep (snaplen).
    pub missing: u32,
}

/// The TCP segment in one packet of link type `linktype`, or `None` (not TCP over IP, or
/// too short to say).
pub fn segment(linktype: i32, data: &[u8]) -> Option<Segment<'_>> {
    let packet = match linktype {
        linktype::ETHERNET => LaxSlicedPacket::from_ethernet(data).ok()?,
        linktype::RAW | linktype::IPV4 | linktype::IPV6 => LaxSlicedPacket::from_ip(data).ok()?,
        linktype::NULL | linktype::LOOP => LaxSlicedPacket::from_ip(data.get(4..)?).ok()?,
        linktype::LINUX_SLL => {
            let proto = u16::from_be_bytes([*data.get(14)?, *data.get(15)?]);
            LaxSlicedPacket::from_ether_type(EtherType(proto), data.get(16..)?)
        }
        linktype::LINUX_SLL2 => {
            let proto = u16::from_be_bytes([*data.first()?, *data.get(1)?]);
            LaxSlicedPacket::from_ether_type(EtherType(proto), data.get(20..)?)
        }
        _ => return None,
    };
    let (src_ip, dst_ip, expected_ip_payload, ip_payload_len): (IpAddr, IpAddr, usize, usize) =
        match packet.net.as_ref()? {
            LaxNetSlice::Ipv4(ip) => {
                let h = ip.header();
                let expected = usize::from(h.total_len()).saturating_sub(usize::from(h.ihl()) * 4);
                (
                    h.source_addr().into(),
                    h.destination_addr().into(),
                    expected,
                    ip.payload().payload.len(),
                )
            }
            LaxNetSlice::Ipv6(ip) => {
                let h = ip.header();
                let ext = ip.extensions().slice().len();
                let expected = usize::from(h.payload_length()).saturating_sub(ext);
                (
                    h.source_addr().into(),
                    h.destination_addr().into(),
                    expected,
                    ip.payload().payload.len(),
                )
            }
            _ => return None,
        };
    let TransportSlice::Tcp(tcp) = packet.transport.as_ref()? else {
        return None;
    };
    let missing = expected_ip_payload.saturating_sub(ip_payload_len);
    Some(Segment {
        src: SocketAddr::new(src_ip, tcp.source_port()),
        dst: SocketAddr::new(dst_ip, tcp.destination_port()),
        seq: tcp.sequence_number(),
        syn: tcp.syn(),
        ack: tcp.ack(),
        fin: tcp.fin(),
        rst: tcp.rst(),
        payload: tcp.payload(),
        missing: u32::try_from(missing).unwrap_or(u32::MAX),
    })
}

/// What reassembly hands on, in stream order.
#[derive(Debug, PartialEq, Eq)]
pub enum Piece {
    /// The next bytes of the stream.
    Bytes(Vec<u8>),
    /// Bytes that never arrived: how many.
    Gap(u64),
}

/// One direction of a TCP connection, put back in order.
#[derive(Debug)]
pub struct Reassembler {
    /// The sequence number of the next byte expected (`None` until the first segment).
    next: Option<u32>,
    /// Segments ahead of `next`, keyed by their distance from it when they came.
    /// Each with how many bytes after it the capture cut off (snaplen).
    ahead: BTreeMap<u64, (Vec<u8>, u64)>,
    /// The stream offset of `next`.
    offset: u64,
    held: usize,
    /// Most bytes held out of order before the missing ones are declared a gap.
    pub max_held: usize,
    /// Whether a FIN has been seen (and where: its sequence number).
    fin: Option<u32>,
}

impl Default for Reassembler {
    fn default() -> Self {
        Reassembler {
            next: None,
            ahead: BTreeMap::new(),
            offset: 0,
            held: 0,
            max_held: 4 << 20,
            fin: None,
        }
    }
}

impl Reassembler {
    /// Bytes handed on so far (gaps included).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Takes one segment; what it (and segments held before it) completed is appended to
    /// `out`. A SYN sets where the stream starts; without one, the first segment seen does.
    pub fn push(&mut self, seg: &Segment<'_>, out: &mut Vec<Piece>) {
        let data_seq = if seg.syn {
            seg.seq.wrapping_add(1)
        } else {
            seg.seq
        };
        let next = *self.next.get_or_insert(data_seq);
        if seg.fin {
            let end = data_seq
                .wrapping_add(seg.payload.len() as u32)
                .wrapping_add(seg.missing);
            self.fin = Some(end);
        }
        let total = seg.payload.len() as u64 + u64::from(seg.missing);
        if total == 0 {
            return;
        }
        // Where the segment starts relative to `next`, as a signed distance (RFC 9293 §3.4:
        // sequence numbers compare modulo 2^32).
        let delta = data_seq.wrapping_sub(next) as i32;
        let (mut bytes, mut missing) = (seg.payload, u64::from(seg.missing));
        if delta < 0 {
            // Starts before `next`: a retransmission, wholly or in part.
            let old = u64::from(delta.unsigned_abs());
            if old >= total {
                return;
            }
            let cut = old.min(bytes.len() as u64) as usize;
            bytes = &bytes[cut..];
            missing -= old - cut as u64;
            self.insert(0, bytes, missing, out);
        } else {
            self.insert(delta as u64, bytes, missing, out);
        }
    }

    fn insert(&mut self, at: u64, bytes: &[u8], missing: u64, out: &mut Vec<Piece>) {
        if at == 0 {
            self.deliver(bytes, missing, out);
            self.drain(out);
            return;
        }
        // Held: a segment ahead of what is expected. A snaplen-cut tail is held as what it
        // is; the gap shows when it is reached.
        if let Some((existing, _)) = self.ahead.get(&at) {
            if existing.len() >= bytes.len() {
                return;
            }
        }
        self.held += bytes.len();
        if let Some((old, _)) = self.ahead.insert(at, (bytes.to_vec(), missing)) {
            self.held -= old.len();
        }
        while self.held > self.max_held {
            // Too much held: what is before the first held segment is declared missing.
            let Some((&first, _)) = self.ahead.iter().next() else {
                break;
            };
            self.skip(first, out);
            self.drain(out);
        }
    }

    /// Hands on `bytes`, then `missing` bytes as a gap; advances `next`.
    fn deliver(&mut self, bytes: &[u8], missing: u64, out: &mut Vec<Piece>) {
        if !bytes.is_empty() {
            out.push(Piece::Bytes(bytes.to_vec()));
        }
        if missing > 0 {
            out.push(Piece::Gap(missing));
        }
        self.advance(bytes.len() as u64 + missing);
    }

    fn skip(&mut self, len: u64, out: &mut Vec<Piece>) {
        out.push(Piece::Gap(len));
        self.advance(len);
    }

    fn advance(&mut self, n: u64) {
        self.offset += n;
        if let Some(next) = &mut self.next {
            *next = next.wrapping_add(n as u32);
        }
        // Re-key what is held: distances shrink by `n`.
        if !self.ahead.is_empty() {
            let held = std::mem::take(&mut self.ahead);
            for (at, (bytes, missing)) in held {
                if at >= n {
                    self.ahead.insert(at - n, (bytes, missing));
                } else {
                    let overlap = n - at;
                    let total = bytes.len() as u64 + missing;
                    if overlap < total {
                        let cut = overlap.min(bytes.len() as u64) as usize;
                        let rest = (bytes[cut..].to_vec(), missing - (overlap - cut as u64));
                        self.ahead.insert(0, rest);
                    }
                }
            }
            self.held = self.ahead.values().map(|(b, _)| b.len()).sum();
        }
    }

    /// Hands on held segments that are now next.
    fn drain(&mut self, out: &mut Vec<Piece>) {
        while let Some((bytes, missing)) = self.ahead.remove(&0) {
            self.held -= bytes.len();
            self.deliver(&bytes, missing, out);
        }
    }

    /// The capture ended: anything still held lies beyond bytes that never came; the
    /// missing stretch is reported as a gap and the held bytes handed on after it. Bytes
    /// announced (by the FIN's position) but never seen are a gap too.
    pub fn finish(&mut self, out: &mut Vec<Piece>) {
        while let Some((&first, _)) = self.ahead.iter().next() {
            self.skip(first, out);
            self.drain(out);
        }
        if let (Some(fin), Some(next)) = (self.fin, self.next) {
            let left = fin.wrapping_sub(next) as i32;
            if left > 0 {
                self.skip(left as u64, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(seq: u32, payload: &[u8]) -> Segment<'_> {
        Segment {
            src: "127.0.0.1:1".parse().unwrap(),
            dst: "127.0.0.1:2".parse().unwrap(),
            seq,
            syn: false,
            ack: true,
            fin: false,
            rst: false,
            payload,
            missing: 0,
        }
    }

    fn bytes(out: &[Piece]) -> Vec<u8> {
        out.iter()
            .flat_map(|p| match p {
                Piece::Bytes(b) => b.clone(),
                Piece::Gap(n) => vec![b'?'; *n as usize],
            })
            .collect()
    }

    #[test]
    fn in_order_out_of_order_and_retransmitted() {
        let mut r = Reassembler::default();
        let mut out = Vec::new();
        let mut syn = seg(999, b"");
        syn.syn = true;
        r.push(&syn, &mut out);
        r.push(&seg(1000, b"abc"), &mut out);
        r.push(&seg(1006, b"ghi"), &mut out); // ahead
        r.push(&seg(1000, b"abc"), &mut out); // retransmitted
        r.push(&seg(1002, b"cdef"), &mut out); // overlaps both sides
        r.finish(&mut out);
        assert_eq!(bytes(&out), b"abcdefghi");
        assert!(!out.iter().any(|p| matches!(p, Piece::Gap(_))));
    }

    #[test]
    fn sequence_numbers_wrap() {
        let mut r = Reassembler::default();
        let mut out = Vec::new();
        r.push(&seg(u32::MAX - 1, b"ab"), &mut out);
        r.push(&seg(2, b"ef"), &mut out);
        r.push(&seg(0, b"cd"), &mut out);
        assert_eq!(bytes(&out), b"abcdef");
    }

    #[test]
    fn a_missing_segment_is_a_gap_not_a_guess() {
        let mut r = Reassembler::default();
        let mut out = Vec::new();
        r.push(&seg(0, b"ab"), &mut out);
        r.push(&seg(5, b"fg"), &mut out);
        r.finish(&mut out);
        assert_eq!(
            out,
            [
                Piece::Bytes(b"ab".to_vec()),
                Piece::Gap(3),
                Piece::Bytes(b"fg".to_vec())
            ]
        );
    }

    #[test]
    fn holding_is_bounded() {
        let mut r = Reassembler {
            max_held: 10,
            ..Reassembler::default()
        };
        let mut out = Vec::new();
        r.push(&seg(0, b"a"), &mut out);
        for i in 0..100u32 {
            r.push(&seg(2 + i * 8, b"xxxxxxx"), &mut out);
            assert!(r.held <= 10);
        }
        assert!(out.iter().any(|p| matches!(p, Piece::Gap(1))));
    }

    #[test]
    fn snaplen_cut_payload_is_a_gap() {
        let mut r = Reassembler::default();
        let mut out = Vec::new();
        let mut s = seg(0, b"abc");
        s.missing = 4;
        r.push(&s, &mut out);
        r.push(&seg(7, b"h"), &mut out);
        assert_eq!(
            out,
            [
                Piece::Bytes(b"abc".to_vec()),
                Piece::Gap(4),
                Piece::Bytes(b"h".to_vec())
            ]
        );
    }

    #[test]
    fn reads_ipv4_and_ipv6_packets() {
        for (src, dst) in [("10.0.0.1:5000", "10.0.0.2:80"), ("[::1]:5000", "[::1]:80")] {
            let (src, dst): (SocketAddr, SocketAddr) = (src.parse().unwrap(), dst.parse().unwrap());
            let builder = match (src.ip(), dst.ip()) {
                (IpAddr::V4(a), IpAddr::V4(b)) => {
                    etherparse::PacketBuilder::ipv4(a.octets(), b.octets(), 64)
                }
                (IpAddr::V6(a), IpAddr::V6(b)) => {
                    etherparse::PacketBuilder::ipv6(a.octets(), b.octets(), 64)
                }
                _ => unreachable!(),
            };
            let mut data = Vec::new();
            builder
                .tcp(src.port(), dst.port(), 77, 1000)
                .ack(1)
                .write(&mut data, b"hello")
                .unwrap();
            let s = segment(linktype::RAW, &data).unwrap();
            assert_eq!((s.src, s.dst, s.seq), (src, dst, 77));
            assert_eq!(s.payload, b"hello");
            assert_eq!(s.missing, 0);
            let cut = segment(linktype::RAW, &data[..data.len() - 2]).unwrap();
            assert_eq!((cut.payload, cut.missing), (&b"hel"[..], 2));
            // The same packet behind a BSD loopback header.
            let mut null = vec![2, 0, 0, 0];
            null.extend_from_slice(&data);
            assert_eq!(segment(linktype::NULL, &null).unwrap().payload, b"hello");
        }
        assert!(segment(linktype::ETHERNET, b"short").is_none());
        assert!(segment(999, b"").is_none());
    }
}
