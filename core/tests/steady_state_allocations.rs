//! The server's steady state allocates nothing per message: after a warm-up, reading frames
//! zero-copy, echoing them through the `Sender` and draining the output costs no allocation.
//! Proven with a counting global allocator (this test binary only).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use wslens::frame::{encode_frame, FrameHeader, OpCode};
use wslens::{Config, Connection, Event};

thread_local! {
    /// Allocations made by this thread while counting is on (const-initialised: reading it
    /// never allocates).
    static COUNT: Cell<Option<usize>> = const { Cell::new(None) };
}

struct Counting;

// SAFETY: every method forwards its arguments unchanged to `System`, which upholds the
// `GlobalAlloc` contract; the only addition is a thread-local counter update, which neither
// allocates nor touches the memory being managed.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        COUNT.with(|c| c.set(c.get().map(|n| n + 1)));
        // SAFETY: same contract as ours, forwarded.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` via `alloc`/`realloc` above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        COUNT.with(|c| c.set(c.get().map(|n| n + 1)));
        // SAFETY: `ptr` came from `System`; the caller upholds `realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn counting<R>(f: impl FnOnce() -> R) -> (R, usize) {
    COUNT.with(|c| c.set(Some(0)));
    let r = f();
    let n = COUNT.with(|c| c.replace(None)).unwrap_or(0);
    (r, n)
}

/// Client frames: small binary, text, and a fragmented text message with a ping inside.
fn traffic(rounds: usize) -> Vec<u8> {
    let mut wire = Vec::new();
    for i in 0..rounds {
        let key = (i as u32).wrapping_mul(2_654_435_761).to_le_bytes();
        let mut frame = |fin, op, payload: &[u8]| {
            let h = FrameHeader {
                fin,
                mask: Some(key),
                ..FrameHeader::new(op, payload.len() as u64)
            };
            encode_frame(&mut wire, &h, payload);
        };
        frame(true, OpCode::Binary, &[7u8; 20]);
        frame(true, OpCode::Text, "héllo wslens".as_bytes());
        frame(false, OpCode::Text, b"frag");
        frame(true, OpCode::Ping, b"p");
        frame(true, OpCode::Continuation, b"mented");
    }
    wire
}

/// Reads everything in `wire` the way the server does, echoing each message.
fn echo_all(conn: &mut Connection, wire: &mut [u8]) -> usize {
    let mut pos = 0;
    let mut messages = 0;
    while pos < wire.len() {
        let (used, done) = conn
            .read_with(&mut wire[pos..], |event, tx| match event {
                Event::Text(t) => tx.send_text(t).is_ok(),
                Event::Binary(b) => tx.send_binary(b).is_ok(),
                _ => false,
            })
            .expect("valid traffic");
        pos += used;
        match done {
            None => break,
            Some(true) => messages += 1,
            Some(false) => {}
        }
        // The socket took everything.
        let n = conn.pending_output().len();
        conn.consume_output(n);
    }
    messages
}

#[test]
fn reading_and_echoing_allocates_nothing_after_warm_up() {
    let mut conn = Connection::accepted(Config::default());
    let mut warm = traffic(10);
    assert_eq!(echo_all(&mut conn, &mut warm), 30);
    let mut steady = traffic(1000);
    let (messages, allocations) = counting(|| echo_all(&mut conn, &mut steady));
    assert_eq!(messages, 3000);
    assert_eq!(allocations, 0, "allocations in the steady state");
}

#[test]
fn the_counter_counts() {
    let (_, n) = counting(|| vec![0u8; 100]);
    assert_eq!(n, 1, "a test that could not fail would prove nothing");
}
