//! A decompression bomb: a compressed message of ~64 KiB that inflates to 64 MiB, against a
//! 1 MiB message limit. The connection must close with 1009 without ever holding more than
//! the limit (plus one inflate step and the decompressor's state). Peak heap use is measured
//! with a counting global allocator (this test binary only).
#![cfg(feature = "deflate")]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use wslens::deflate::DeflateParams;
use wslens::{Config, Connection, Error, ProtocolError};

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

struct Counting;

fn grew(n: usize) {
    let live = LIVE.fetch_add(n, Relaxed) + n;
    PEAK.fetch_max(live, Relaxed);
}

// SAFETY: every method forwards its arguments unchanged to `System`, which upholds the
// `GlobalAlloc` contract; the only addition is atomic counter updates, which neither allocate
// nor touch the memory being managed.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        // SAFETY: same contract as ours, forwarded.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        // SAFETY: same contract as ours, forwarded.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Relaxed);
        // SAFETY: `ptr` came from `System` via the methods above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_sub(layout.size(), Relaxed);
        grew(new_size);
        // SAFETY: `ptr` came from `System`; the caller upholds `realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[test]
fn a_64_mib_bomb_against_a_1_mib_limit_closes_with_1009_holding_at_most_the_limit() {
    const INFLATED: usize = 64 << 20;
    const LIMIT: usize = 1 << 20;
    // The bomb, made by our own client: 64 MiB of zeros, compressed.
    let wire = {
        let mut c = Connection::connected(
            Config {
                deflate: Some(DeflateParams::default()),
                ..Config::default()
            },
            || [7, 7, 7, 7],
        );
        c.send_binary(&vec![0u8; INFLATED]).unwrap();
        c.take_output()
    };
    assert!(
        wire.len() < 128 * 1024,
        "compressed to {} bytes",
        wire.len()
    );

    let mut s = Connection::accepted(Config {
        deflate: Some(DeflateParams::default()),
        max_message_size: LIMIT,
        ..Config::default()
    });
    let mut events = Vec::new();
    let base = LIVE.load(Relaxed);
    PEAK.store(base, Relaxed);
    let mut result = Ok(());
    for piece in wire.chunks(16 * 1024) {
        result = s.receive(piece, &mut events);
        if result.is_err() {
            break;
        }
    }
    let peak = PEAK.load(Relaxed) - base;
    assert_eq!(
        result,
        Err(Error::Protocol {
            kind: ProtocolError::MessageTooBig,
            offset: 0
        })
    );
    assert!(events.is_empty());
    let out = s.take_output();
    assert_eq!(out[..4], [0x88, out[1], 0x03, 0xf1], "close 1009");
    // The limit, one inflate step, the decompressor's ~40 KiB of state and the input copy
    // `receive` keeps: well under 1.25 MiB. Without the limit on inflated bytes it would be
    // 64 MiB.
    println!("peak heap growth while reading the bomb: {peak} bytes");
    assert!(peak < LIMIT + 256 * 1024, "peak {peak}");
    assert!(
        peak > LIMIT,
        "the limit's worth was inflated before refusing: {peak}"
    );
}
