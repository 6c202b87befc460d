//! What permessage-deflate costs per connection, in heap bytes, measured with a counting global
//! allocator (this test binary only): the compressor and the decompressor of one connection
//! after it has sent and received one compressed message, for the default settings and the
//! low-memory preset, and what the low-memory preset keeps once the connection is idle.
//! `cargo test -p wslens --test deflate_memory -- --nocapture` prints the table the README
//! quotes.
#![cfg(feature = "deflate")]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering::Relaxed};
use wslens::deflate::{DeflateConfig, DeflateParams};
use wslens::{Config, Connection, OwnedEvent};

static LIVE: AtomicIsize = AtomicIsize::new(0);

struct Counting;

// SAFETY: every method forwards its arguments unchanged to `System`, which upholds the
// `GlobalAlloc` contract; the only addition is an atomic counter update, which neither
// allocates nor touches the memory being managed.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Relaxed);
        // SAFETY: same contract as ours, forwarded.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Relaxed);
        // SAFETY: same contract as ours, forwarded.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Relaxed);
        // SAFETY: `ptr` came from `System` via the methods above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as isize - layout.size() as isize, Relaxed);
        // SAFETY: `ptr` came from `System`; the caller upholds `realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Heap bytes per server connection: (open after one message each way, after
/// `shrink_buffers`), with the buffers of an uncompressed connection subtracted.
fn per_connection(params: Option<DeflateParams>) -> (isize, isize) {
    const N: usize = 50;
    let message = "a message that is compressed both ways ".repeat(10);
    let wire = {
        let mut c = Connection::connected(
            Config {
                deflate: params,
                ..Config::default()
            },
            || [1, 2, 3, 4],
        );
        c.send_text(&message).unwrap();
        c.take_output()
    };
    let before = LIVE.load(Relaxed);
    let mut conns = Vec::with_capacity(N);
    let vec_bytes = LIVE.load(Relaxed) - before;
    let mut events = Vec::new();
    for _ in 0..N {
        let mut s = Connection::accepted(Config {
            deflate: params,
            ..Config::default()
        });
        events.clear();
        s.receive(&wire, &mut events).unwrap();
        assert_eq!(events, [OwnedEvent::Text(message.clone())]);
        s.send_text(&message).unwrap();
        let _ = s.take_output();
        conns.push(s);
    }
    events = Vec::new();
    drop(events);
    let open = (LIVE.load(Relaxed) - before - vec_bytes) / N as isize;
    for c in &mut conns {
        c.shrink_buffers();
    }
    let idle = (LIVE.load(Relaxed) - before - vec_bytes) / N as isize;
    drop(conns);
    (open, idle)
}

#[test]
fn compression_memory_per_connection() {
    let (plain_open, plain_idle) = per_connection(None);
    let default = DeflateParams::default();
    let low = {
        let c = DeflateConfig::low_memory();
        DeflateParams {
            server_no_context_takeover: c.server_no_context_takeover,
            client_no_context_takeover: c.client_no_context_takeover,
            server_max_window_bits: c.server_max_window_bits,
            client_max_window_bits: c.client_max_window_bits,
            level: c.level,
            mem_level: c.mem_level,
        }
    };
    let (d_open, d_idle) = per_connection(Some(default));
    let (l_open, l_idle) = per_connection(Some(low));
    println!("heap bytes per connection, beyond an uncompressed one ({plain_open} B open, {plain_idle} B idle):");
    println!(
        "  default (takeover, 15-bit windows, memLevel 8): {} B active, {} B idle",
        d_open - plain_open,
        d_idle - plain_idle
    );
    println!(
        "  low memory (no takeover, 9-bit windows, memLevel 1): {} B active, {} B idle",
        l_open - plain_open,
        l_idle - plain_idle
    );
    let server = DeflateParams {
        server_no_context_takeover: true,
        ..default
    };
    let (s_open, s_idle) = per_connection(Some(server));
    println!(
        "  wslens serve's default (server_no_context_takeover, 15-bit windows): {} B active, {} B idle",
        s_open - plain_open,
        s_idle - plain_idle
    );
    assert!(
        s_idle - plain_idle < 64 * 1024,
        "only the decompressor's window stays"
    );
    // The default keeps both windows for context takeover, idle or not.
    assert!(d_idle - plain_idle > 200_000, "{}", d_idle - plain_idle);
    // The low-memory preset needs far less while active, and nothing beyond the box when idle.
    assert!(l_open - plain_open < (d_open - plain_open) / 2);
    assert!(l_idle - plain_idle < 512, "{}", l_idle - plain_idle);
}
