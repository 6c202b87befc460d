#![no_main]
//! The server-side request parser: no panic, and feeding the bytes in pieces (as a socket
//! would deliver them) gives the same outcome as feeding them at once.
use libfuzzer_sys::fuzz_target;
use wslens::handshake::{RequestParser, Status};

fn outcome(data: &[u8], chunk: usize) -> String {
    let mut parser = RequestParser::new();
    let mut buf = Vec::new();
    for piece in data.chunks(chunk.max(1)) {
        buf.extend_from_slice(piece);
        match parser.parse(&buf) {
            Ok(Status::Partial) => continue,
            Ok(Status::Complete(req, used)) => return format!("ok {used} {req:?}"),
            Err(e) => return format!("err {e:?}"),
        }
    }
    "partial".into()
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else { return };
    assert_eq!(outcome(rest, rest.len()), outcome(rest, usize::from(first % 29) + 1));
});
