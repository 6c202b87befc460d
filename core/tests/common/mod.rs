//! Helpers shared by the integration tests.
#![allow(dead_code)]

use wslens::frame::{encode_frame, FrameHeader, OpCode};
use wslens::{Config, Connection, Error, OwnedEvent};

pub const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// A frame as a client sends it (masked with `KEY`).
pub fn client_frame(fin: bool, opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    frame(fin, 0, opcode, Some(KEY), payload)
}

/// A frame as a server sends it (unmasked).
pub fn server_frame(fin: bool, opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    frame(fin, 0, opcode, None, payload)
}

pub fn frame(fin: bool, rsv: u8, opcode: OpCode, mask: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let header = FrameHeader {
        fin,
        rsv,
        opcode,
        mask,
        payload_len: payload.len() as u64,
    };
    encode_frame(&mut out, &header, payload);
    out
}

pub fn server() -> Connection {
    Connection::accepted(Config::default())
}

pub fn client() -> Connection {
    Connection::connected(Config::default(), || KEY)
}

/// Feeds `bytes` and returns the events and the error, if any.
pub fn feed(conn: &mut Connection, bytes: &[u8]) -> (Vec<OwnedEvent>, Option<Error>) {
    let mut events = Vec::new();
    let err = conn.receive(bytes, &mut events).err();
    (events, err)
}

/// Feeds `bytes` one byte at a time.
pub fn feed_bytewise(conn: &mut Connection, bytes: &[u8]) -> (Vec<OwnedEvent>, Option<Error>) {
    let mut events = Vec::new();
    for b in bytes {
        if let Err(e) = conn.receive(core::slice::from_ref(b), &mut events) {
            return (events, Some(e));
        }
    }
    (events, None)
}

/// The close code in the close frame at the start of `out` (unmasked, server output).
pub fn close_code_sent(out: &[u8]) -> Option<u16> {
    let len = (out.get(1)? & 0x7F) as usize;
    if out[0] != 0x88 || len < 2 {
        return None;
    }
    Some(u16::from_be_bytes([out[2], out[3]]))
}
