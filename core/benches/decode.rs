//! Decoding masked client frames (the server's receive path: parse, unmask, validate UTF-8,
//! deliver messages) with wslens's `Connection::read` and with tungstenite's `WebSocket::read`
//! on the same bytes. Both do the same work per message: header parsing, unmasking, UTF-8
//! validation for text, and handing over a complete message. tungstenite reads from an
//! in-memory stream, so no system call is involved on either side.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::io::{Cursor, Read, Write};
use std::time::Duration;
use wslens::frame::{encode_frame, FrameHeader, OpCode};
use wslens::{Config, Connection, Event};

/// `n` masked frames of `payload` with varying keys, as a client sends them.
fn client_frames(n: usize, opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    let mut wire = Vec::with_capacity(n * (payload.len() + 14));
    for i in 0..n {
        let key = (i as u32).wrapping_mul(2_654_435_761).to_le_bytes();
        let header = FrameHeader {
            mask: Some(key),
            ..FrameHeader::new(opcode, payload.len() as u64)
        };
        encode_frame(&mut wire, &header, payload);
    }
    wire
}

/// wslens: returns (messages, payload bytes) so the work cannot be optimised away.
fn wslens_decode(mut wire: Vec<u8>) -> (usize, usize) {
    let mut conn = Connection::accepted(Config::default());
    let (mut pos, mut messages, mut bytes) = (0, 0, 0);
    loop {
        let (used, event) = conn.read(&mut wire[pos..]).expect("valid input");
        pos += used;
        match event {
            Some(Event::Text(t)) => bytes += t.len(),
            Some(Event::Binary(b)) => bytes += b.len(),
            Some(_) => {}
            None => break,
        }
        messages += 1;
    }
    (messages, bytes)
}

/// A stream that reads the prepared bytes and swallows writes.
struct Input(Cursor<Vec<u8>>);
impl Read for Input {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}
impl Write for Input {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn tungstenite_decode(wire: Vec<u8>) -> (usize, usize) {
    use tungstenite::protocol::{Role, WebSocket};
    let mut ws = WebSocket::from_raw_socket(Input(Cursor::new(wire)), Role::Server, None);
    let (mut messages, mut bytes) = (0, 0);
    while let Ok(msg) = ws.read() {
        bytes += msg.len();
        messages += 1;
    }
    (messages, bytes)
}

fn decode(c: &mut Criterion) {
    let text = "κόσμε wslens ✓ 🎉 ".repeat(8);
    let text100 = &text[..text
        .char_indices()
        .take_while(|(i, _)| *i < 100)
        .last()
        .unwrap()
        .0];
    let big_text = "Grüße, κόσμε! ".repeat(16 * 1024 / 16);
    let cases: Vec<(&str, usize, OpCode, Vec<u8>)> = vec![
        (
            "100k x 16 B binary",
            100_000,
            OpCode::Binary,
            vec![0xAB; 16],
        ),
        (
            "100k x 16 B text",
            100_000,
            OpCode::Text,
            b"hello, wslens!!!".to_vec(),
        ),
        (
            "100k x ~100 B UTF-8 text",
            100_000,
            OpCode::Text,
            text100.as_bytes().to_vec(),
        ),
        ("1k x 1 KiB binary", 1_000, OpCode::Binary, vec![7; 1024]),
        (
            "100 x 16 KiB binary",
            100,
            OpCode::Binary,
            vec![9; 16 * 1024],
        ),
        (
            "100 x 16 KiB UTF-8 text",
            100,
            OpCode::Text,
            big_text.as_bytes().to_vec(),
        ),
    ];
    let mut group = c.benchmark_group("decode");
    group
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500))
        .sample_size(20);
    for (name, n, opcode, payload) in cases {
        let wire = client_frames(n, opcode, &payload);
        // Both must deliver the same messages, or the comparison means nothing.
        let expected = (n, n * payload.len());
        assert_eq!(wslens_decode(wire.clone()), expected, "{name}");
        assert_eq!(tungstenite_decode(wire.clone()), expected, "{name}");
        group.throughput(Throughput::Bytes(wire.len() as u64));
        group.bench_function(format!("wslens/{name}"), |b| {
            b.iter_batched(|| wire.clone(), wslens_decode, BatchSize::LargeInput)
        });
        group.bench_function(format!("tungstenite/{name}"), |b| {
            b.iter_batched(|| wire.clone(), tungstenite_decode, BatchSize::LargeInput)
        });
    }
    group.finish();
}

criterion_group!(benches, decode);
criterion_main!(benches);
