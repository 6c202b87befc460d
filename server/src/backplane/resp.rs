//! RESP2, the Redis protocol, on a blocking socket: commands encoded and replies decoded by
//! the `redis-protocol` crate, in a buffer this module owns and bounds, so that a read timeout
//! never loses a half-read reply and a peer sending garbage or an endless reply costs at most
//! `max_reply` bytes.

use redis_protocol::resp2::{
    decode::decode,
    encode::encode_borrowed,
    types::{BorrowedFrame, OwnedFrame},
};
use std::io::{self, Read, Write};
use std::net::TcpStream;

/// Appends the command `args` (an array of bulk strings) to `out`.
pub(crate) fn command(out: &mut Vec<u8>, args: &[&[u8]]) {
    let parts: Vec<BorrowedFrame<'_>> = args.iter().map(|a| BorrowedFrame::BulkString(a)).collect();
    let frame = BorrowedFrame::Array(&parts);
    let at = out.len();
    out.resize(at + frame.encode_len(false), 0);
    // The buffer was sized by `encode_len`, so encoding cannot run out of room.
    let n = encode_borrowed(&mut out[at..], &frame, false).unwrap_or(0);
    out.truncate(at + n);
}

/// One connection's read side: bytes read so far and not yet decoded.
#[derive(Debug)]
pub(crate) struct Replies {
    buf: Vec<u8>,
    max_reply: usize,
}

impl Replies {
    pub(crate) fn new(max_reply: usize) -> Self {
        Replies {
            buf: Vec::new(),
            max_reply,
        }
    }

    /// The next complete reply in the buffer, if there is one.
    pub(crate) fn next_buffered(&mut self) -> io::Result<Option<OwnedFrame>> {
        if self.buf.is_empty() {
            return Ok(None);
        }
        match decode(&self.buf) {
            Ok(Some((frame, used))) => {
                self.buf.drain(..used);
                Ok(Some(frame))
            }
            Ok(None) if self.buf.len() > self.max_reply => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("a reply from Redis over {} bytes", self.max_reply),
            )),
            Ok(None) => Ok(None),
            Err(e) => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("not RESP from Redis: {e}"),
            )),
        }
    }

    /// Reads once (up to the socket's read timeout) and returns the next complete reply, or
    /// `None` if none is complete yet. EOF is an error.
    pub(crate) fn read(&mut self, stream: &mut TcpStream) -> io::Result<Option<OwnedFrame>> {
        if let Some(frame) = self.next_buffered()? {
            return Ok(Some(frame));
        }
        let mut chunk = [0u8; 16 * 1024];
        match stream.read(&mut chunk) {
            Ok(0) => Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                self.next_buffered()
            }
            Err(e) if is_timeout(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Waits for the next reply, failing after `tries` read timeouts with nothing complete.
    pub(crate) fn wait(&mut self, stream: &mut TcpStream, tries: u32) -> io::Result<OwnedFrame> {
        for _ in 0..tries.max(1) {
            if let Some(frame) = self.read(stream)? {
                return Ok(frame);
            }
        }
        Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "Redis did not answer",
        ))
    }
}

/// Whether the peer has closed `stream` (or reset it), without waiting or consuming data.
pub(crate) fn closed_by_peer(stream: &TcpStream) -> io::Result<bool> {
    stream.set_nonblocking(true)?;
    let mut b = [0u8; 1];
    let result = match stream.peek(&mut b) {
        Ok(0) => Ok(true),
        Ok(_) => Ok(false),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(false),
        Err(_) => Ok(true),
    };
    stream.set_nonblocking(false)?;
    result
}

/// A read timed out (`WouldBlock` on Unix, `TimedOut` on Windows).
pub(crate) fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Sends `bytes` whole.
pub(crate) fn send(stream: &mut TcpStream, bytes: &[u8]) -> io::Result<()> {
    stream.write_all(bytes)
}

/// A reply as an error if it is one.
pub(crate) fn check(frame: OwnedFrame) -> io::Result<OwnedFrame> {
    match frame {
        OwnedFrame::Error(e) => Err(io::Error::other(format!("Redis: {e}"))),
        f => Ok(f),
    }
}

/// The bytes of a bulk or simple string.
pub(crate) fn bytes(frame: &OwnedFrame) -> Option<&[u8]> {
    match frame {
        OwnedFrame::BulkString(b) | OwnedFrame::SimpleString(b) => Some(b),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_arrays_of_bulk_strings() {
        let mut out = Vec::new();
        command(&mut out, &[b"PUBLISH", b"ch", b"a\r\nb"]);
        assert_eq!(out, b"*3\r\n$7\r\nPUBLISH\r\n$2\r\nch\r\n$4\r\na\r\nb\r\n");
    }

    fn fed(bytes: &[u8], max: usize) -> Replies {
        let mut r = Replies::new(max);
        r.buf.extend_from_slice(bytes);
        r
    }

    #[test]
    fn replies_split_anywhere_decode_once_complete() {
        let wire = b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$3\r\nabc\r\n:1\r\n";
        for cut in 0..wire.len() {
            let mut r = fed(&wire[..cut], 1 << 10);
            let mut got = Vec::new();
            while let Some(f) = r.next_buffered().unwrap() {
                got.push(f);
            }
            r.buf.extend_from_slice(&wire[cut..]);
            while let Some(f) = r.next_buffered().unwrap() {
                got.push(f);
            }
            assert_eq!(got.len(), 2, "cut at {cut}");
            assert_eq!(got[1], OwnedFrame::Integer(1));
        }
    }

    #[test]
    fn garbage_and_oversized_replies_are_errors_not_growth() {
        assert!(fed(b"HTTP/1.1 200 OK\r\n", 1 << 10)
            .next_buffered()
            .is_err());
        // A bulk string announcing more than the cap: an error once the cap is passed.
        let mut r = fed(b"$999999999\r\n", 64);
        assert!(r.next_buffered().unwrap().is_none());
        r.buf.extend_from_slice(&[b'x'; 100]);
        assert!(r.next_buffered().is_err());
        assert!(check(OwnedFrame::Error("ERR nope".into())).is_err());
    }

    proptest::proptest! {
        /// Pushes as Redis sends them, cut into chunks anywhere, come out whole and in order.
        #[test]
        fn pushes_survive_any_chunking(
            payloads in proptest::collection::vec(proptest::collection::vec(proptest::num::u8::ANY, 0..300), 1..8),
            cuts in proptest::collection::vec(1usize..64, 1..40),
        ) {
            let mut wire = Vec::new();
            for p in &payloads {
                command(&mut wire, &[b"message", b"wslens:room:r", p]);
            }
            let mut r = Replies::new(1 << 20);
            let mut got = Vec::new();
            let mut at = 0;
            for cut in cuts.iter().cycle() {
                if at >= wire.len() {
                    break;
                }
                let end = (at + cut).min(wire.len());
                r.buf.extend_from_slice(&wire[at..end]);
                at = end;
                while let Some(f) = r.next_buffered().unwrap() {
                    got.push(f);
                }
            }
            proptest::prop_assert_eq!(got.len(), payloads.len());
            for (f, p) in got.iter().zip(&payloads) {
                let OwnedFrame::Array(parts) = f else { panic!("not an array") };
                proptest::prop_assert_eq!(bytes(&parts[2]), Some(&p[..]));
            }
        }

        /// Whatever arrives, decoding never panics and never holds more than the cap.
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(proptest::num::u8::ANY, 0..2000)) {
            let mut r = Replies::new(512);
            r.buf.extend_from_slice(&data);
            loop {
                match r.next_buffered() {
                    Ok(Some(_)) => continue,
                    Ok(None) => {
                        proptest::prop_assert!(r.buf.len() <= 512);
                        break;
                    }
                    Err(_) => break,
                }
            }
        }
    }
}
