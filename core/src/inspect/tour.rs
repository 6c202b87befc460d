//! "Life of a WebSocket": one whole session, recorded through the real core, for the page's
//! guided tour.
//!
//! Nothing here is hand-typed bytes. A client [`Connection`] and a server [`Connection`]
//! talk to each other: the client's request goes through the server's handshake parser,
//! the server's 101 through the client's, and every frame is written by one side's
//! [`Sender`](crate::Sender) and read by the other's decoder. The randomness a client needs
//! is fixed so the tour is the same every time: the RFC's sample nonce (RFC 6455 §1.3, whose
//! accept key the RFC gives) and the masking key of the RFC's examples (§5.7), counted up by
//! one for each further frame.

use crate::connection::{Connection, OwnedEvent, Role};
use crate::handshake::{AcceptOptions, ClientRequest};
use crate::{CloseCode, OpCode};
#[cfg(test)]
use alloc::string::String;
use alloc::vec::Vec;
use core::ops::Range;

/// One step of the tour: the bytes one side wrote, in the order they were written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TourStep {
    /// A stable name for the step (`"request"`, `"accept"`, `"response"`, `"masked-text"`,
    /// `"server-text"`, `"fragments"`, `"pong"`, `"compressed"`, `"compressed-again"`,
    /// `"close"`, `"close-reply"`); the page's prose is keyed on it.
    pub id: &'static str,
    /// Who wrote the bytes.
    pub from: Role,
    /// The bytes written (for `"accept"`, the request again: the step is about its key).
    pub bytes: Vec<u8>,
    /// The part of `bytes` the step is about, when not all of it (the key's header line).
    pub focus: Option<Range<usize>>,
    /// For frames: the offset of `bytes` in the writer's frame stream (the bytes after its
    /// handshake head). A compressed message may refer back to earlier ones (context
    /// takeover, RFC 7692 §7.2.3.2), so it is read with the stream before it. `None` for the
    /// handshake's heads.
    pub stream_offset: Option<u64>,
}

/// The masking key of RFC 6455 §5.7's examples; the tour's n-th client frame uses it with
/// its first byte plus n.
pub const TOUR_FIRST_KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// Records the tour's session: handshake (with permessage-deflate offered and accepted
/// when the `deflate` feature is on), a masked text, the server's text, a message in two
/// fragments with a ping between them, the automatic pong, the same compressed message
/// twice (the second shrunk by context takeover), and the closing handshake.
pub fn record_tour() -> Vec<TourStep> {
    let deflate = crate::deflate::DeflateConfig::default();
    let mut next_key = 0u8;
    let mut client = Connection::client(
        crate::Config::default(),
        &ClientRequest {
            host: "localhost:8765",
            path: "/echo",
            nonce: *b"the sample nonce",
            protocols: &[],
            extensions: None,
            origin: Some("http://localhost:8765"),
            extra_headers: &[],
            deflate: Some(&deflate),
        },
        move || {
            let mut key = TOUR_FIRST_KEY;
            key[0] = key[0].wrapping_add(next_key);
            next_key = next_key.wrapping_add(1);
            key
        },
    );
    let mut server = Connection::server(crate::Config::default());
    let mut tour = Tour::default();

    let request = client.take_output();
    let key_line = find_line(&request, b"Sec-WebSocket-Key:");
    tour.head("request", Role::Client, request.clone(), None);
    tour.head("accept", Role::Server, request.clone(), key_line);
    let events = deliver(&mut server, &request);
    debug_assert!(matches!(events.first(), Some(OwnedEvent::Request(_))));
    let accepted = server.accept(&AcceptOptions {
        protocol: None,
        extensions: None,
        extra_headers: &[],
        deflate: Some(&deflate),
    });
    debug_assert!(accepted.is_ok());
    let response = server.take_output();
    tour.head("response", Role::Server, response.clone(), None);
    deliver(&mut client, &response);

    // Every send below is to an open connection with a short payload: none can fail, and
    // each step's bytes are what the other side then reads.
    let _ = client.send_uncompressed(OpCode::Text, b"Hello");
    tour.frames("masked-text", Role::Client, &mut client, &mut server);
    let _ = server.send_uncompressed(OpCode::Text, b"Hello from the server");
    tour.frames("server-text", Role::Server, &mut server, &mut client);
    let _ = server.send_frame_uncompressed(OpCode::Text, b"Hel", false);
    let _ = server.ping(b"ping!");
    let _ = server.send_frame_uncompressed(OpCode::Continuation, b"lo", true);
    tour.frames("fragments", Role::Server, &mut server, &mut client);
    // The client answered the ping by itself (RFC 6455 §5.5.2).
    tour.frames("pong", Role::Client, &mut client, &mut server);
    if cfg!(feature = "deflate") {
        let _ = server.send_text("Hello");
        tour.frames("compressed", Role::Server, &mut server, &mut client);
        let _ = server.send_text("Hello");
        tour.frames("compressed-again", Role::Server, &mut server, &mut client);
    }
    let _ = client.close(CloseCode::NORMAL, "bye");
    tour.frames("close", Role::Client, &mut client, &mut server);
    // The server echoed the close (RFC 6455 §5.5.1).
    tour.frames("close-reply", Role::Server, &mut server, &mut client);
    tour.steps
}

#[derive(Default)]
struct Tour {
    steps: Vec<TourStep>,
    /// Frame bytes written so far by the client and by the server.
    written: [u64; 2],
}

impl Tour {
    fn head(&mut self, id: &'static str, from: Role, bytes: Vec<u8>, focus: Option<Range<usize>>) {
        self.steps.push(TourStep {
            id,
            from,
            bytes,
            focus,
            stream_offset: None,
        });
    }

    /// Takes what `writer` queued as the step `id`, and has `reader` read it.
    fn frames(
        &mut self,
        id: &'static str,
        from: Role,
        writer: &mut Connection,
        reader: &mut Connection,
    ) {
        let bytes = writer.take_output();
        deliver(reader, &bytes);
        let written = &mut self.written[usize::from(from == Role::Server)];
        let stream_offset = Some(*written);
        *written += bytes.len() as u64;
        self.steps.push(TourStep {
            id,
            from,
            bytes,
            focus: None,
            stream_offset,
        });
    }
}

fn deliver(conn: &mut Connection, bytes: &[u8]) -> Vec<OwnedEvent> {
    let mut events = Vec::new();
    let read = conn.receive(bytes, &mut events);
    debug_assert!(read.is_ok(), "{read:?}");
    events
}

/// The byte range of the header line starting with `prefix`, CRLF excluded.
fn find_line(head: &[u8], prefix: &[u8]) -> Option<Range<usize>> {
    let start = head.windows(prefix.len()).position(|w| w == prefix)?;
    let len = head[start..].windows(2).position(|w| w == b"\r\n")?;
    Some(start..start + len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::{inspect_frames_with, inspect_handshake};

    fn step<'a>(tour: &'a [TourStep], id: &str) -> &'a TourStep {
        tour.iter().find(|s| s.id == id).unwrap()
    }

    #[test]
    fn the_tour_is_a_whole_session_read_back_by_the_inspector() {
        let tour = record_tour();
        let ids: Vec<&str> = tour.iter().map(|s| s.id).collect();
        assert_eq!(
            ids,
            [
                "request",
                "accept",
                "response",
                "masked-text",
                "server-text",
                "fragments",
                "pong",
                "compressed",
                "compressed-again",
                "close",
                "close-reply"
            ]
        );
        // RFC 6455 §1.3: the sample nonce's accept key.
        let request = inspect_handshake(&step(&tour, "request").bytes);
        assert_eq!(request.error, None);
        let accept = request.accept.unwrap();
        assert_eq!(accept.key, "dGhlIHNhbXBsZSBub25jZQ==");
        assert_eq!(accept.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        let a = step(&tour, "accept");
        let focus = a.focus.clone().unwrap();
        assert_eq!(
            &a.bytes[focus],
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="
        );
        let response = String::from_utf8(step(&tour, "response").bytes.clone()).unwrap();
        assert!(response.starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
        assert!(response.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
        assert!(response.contains("permessage-deflate"));
        // RFC 6455 §5.7: a single-frame masked text "Hello", byte for byte.
        assert_eq!(
            step(&tour, "masked-text").bytes,
            [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]
        );
        // RFC 6455 §5.7: "Hel", a ping, "lo".
        let fragments = &step(&tour, "fragments").bytes;
        assert_eq!(&fragments[..5], [0x01, 0x03, b'H', b'e', b'l']);
        assert_eq!(&fragments[12..], [0x80, 0x02, b'l', b'o']);
        // RFC 7692 §7.2.3.1 and §7.2.3.2: "Hello" compressed, then again sharing the window.
        assert_eq!(
            step(&tour, "compressed").bytes,
            [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]
        );
        assert_eq!(
            step(&tour, "compressed-again").bytes,
            [0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00]
        );
        let pong = &step(&tour, "pong").bytes;
        assert_eq!(
            &pong[..2],
            [0x8a, 0x85],
            "a masked pong of the ping's 5 bytes"
        );
        assert_eq!(&pong[2..6], [0x38, 0xfa, 0x21, 0x3d], "the second key");
        // Each direction's stream, read as the other side reads it.
        for (from, reader) in [(Role::Client, Role::Server), (Role::Server, Role::Client)] {
            let mut stream = Vec::new();
            for s in tour
                .iter()
                .filter(|s| s.from == from && s.stream_offset.is_some())
            {
                assert_eq!(s.stream_offset, Some(stream.len() as u64), "{}", s.id);
                stream.extend_from_slice(&s.bytes);
            }
            let config = crate::Config {
                deflate: Some(crate::deflate::DeflateParams::default()),
                ..crate::Config::default()
            };
            let ins = inspect_frames_with(&stream, reader, config);
            assert_eq!(ins.error, None, "{from:?}");
            assert_eq!(ins.need_more, None, "{from:?}");
            if from == Role::Server {
                let texts: Vec<&OwnedEvent> = ins.events.iter().collect();
                assert_eq!(texts[0], &OwnedEvent::Text("Hello from the server".into()));
                assert_eq!(texts[1], &OwnedEvent::Ping(b"ping!".to_vec()));
                assert_eq!(texts[2], &OwnedEvent::Text("Hello".into()));
                let compressed: Vec<_> = ins.messages.iter().filter(|m| m.compressed).collect();
                assert_eq!(compressed.len(), 2);
                assert_eq!(compressed[0].inflated.as_deref(), Some(&b"Hello"[..]));
                assert_eq!(compressed[1].inflated.as_deref(), Some(&b"Hello"[..]));
                assert!(
                    compressed[1].wire_len < compressed[0].wire_len,
                    "context takeover shrinks the second copy"
                );
            }
        }
    }

    #[test]
    fn the_tour_is_the_same_every_time() {
        assert_eq!(record_tour(), record_tour());
    }
}
