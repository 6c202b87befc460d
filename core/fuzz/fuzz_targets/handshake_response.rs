#![no_main]
//! The client-side response parser: no panic, same outcome in any chunking.
use libfuzzer_sys::fuzz_target;
use wslens::handshake::{ClientHandshake, ClientRequest, Status};

fn outcome(data: &[u8], chunk: usize) -> String {
    let request = ClientRequest {
        host: "example.com",
        path: "/chat",
        nonce: *b"the sample nonce",
        protocols: &["chat", "superchat"],
        extensions: Some("permessage-deflate"),
        origin: None,
        extra_headers: &[],
        deflate: None,
    };
    let (mut handshake, _) = ClientHandshake::new(&request);
    let mut buf = Vec::new();
    for piece in data.chunks(chunk.max(1)) {
        buf.extend_from_slice(piece);
        match handshake.parse_response(&buf) {
            Ok(Status::Partial) => continue,
            Ok(Status::Complete(resp, used)) => return format!("ok {used} {resp:?}"),
            Err(e) => return format!("err {e:?}"),
        }
    }
    "partial".into()
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else { return };
    assert_eq!(outcome(rest, rest.len()), outcome(rest, usize::from(first % 29) + 1));
});
