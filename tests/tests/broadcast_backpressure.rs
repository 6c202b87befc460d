//! Broadcast with receivers that stop reading: the server's memory stays bounded (a slow
//! receiver is closed with 1008 past `--max-backpressure`, or misses messages with
//! `--drop-on-backpressure`) while the receivers that read get every message, in order.

use std::time::{Duration, Instant};
use wslens::{CloseCode, OwnedEvent};
use wslens_e2e::{Client, Server};

const STALLED: usize = 10;
const READING: usize = 5;
/// 1,024 messages of 16 KiB: 16 MiB per receiver, well past what the kernel buffers for a
/// socket that is never read (about 4 MiB here), so an unbounded server would hold
/// ~120 MiB more for the stalled receivers.
const MESSAGES: usize = 1024;
const SIZE: usize = 16 * 1024;
/// Growth allowed: 10 × 64 KiB of queues plus allocator slack; unbounded queues would be ~10×.
const BOUND_KIB: u64 = 16 * 1024;

fn message(i: usize) -> Vec<u8> {
    let mut m = vec![(i % 251) as u8; SIZE];
    m[..8].copy_from_slice(&(i as u64).to_le_bytes());
    m
}

/// Opens the room (stalled receivers first, then readers, then the sender), sends
/// `MESSAGES` in lockstep (each reaches every reader and the sender before the next leaves)
/// and checks every delivery. Returns the server, every client (kept open) and the RSS growth
/// in KiB.
fn run(extra: &[&str]) -> (Server, Vec<Client>, u64) {
    let mut args = vec![
        "--threads",
        "1",
        "--ping-interval",
        "0",
        "--max-backpressure",
        "65536",
    ];
    args.extend_from_slice(extra);
    let server = Server::start(&args);
    let stalled: Vec<Client> = (0..STALLED).map(|_| server.connect("/broadcast")).collect();
    let mut readers: Vec<Client> = (0..READING).map(|_| server.connect("/broadcast")).collect();
    let mut sender = server.connect("/broadcast");
    std::thread::sleep(Duration::from_millis(200));
    let before = server.rss_kib();
    for i in 0..MESSAGES {
        let m = message(i);
        sender.send_binary(&m);
        for (r, c) in readers
            .iter_mut()
            .chain(std::iter::once(&mut sender))
            .enumerate()
        {
            match c.recv() {
                Ok(OwnedEvent::Binary(b)) if b == m => {}
                Ok(OwnedEvent::Binary(b)) => panic!(
                    "receiver {r}, message {i}: got message {:?} of {} bytes",
                    b.get(..8),
                    b.len()
                ),
                other => panic!("receiver {r}, message {i}: {other:?}"),
            }
        }
    }
    // Let the server finish writing what it can.
    std::thread::sleep(Duration::from_millis(300));
    let growth = server.rss_kib().saturating_sub(before);
    let mut clients = stalled;
    clients.extend(readers);
    clients.push(sender);
    (server, clients, growth)
}

#[test]
fn stalled_broadcast_receivers_are_closed_with_1008_and_memory_stays_bounded() {
    let (server, mut clients, growth) = run(&[]);
    assert!(
        growth < BOUND_KIB,
        "server RSS grew by {growth} KiB for {STALLED} stalled receivers"
    );
    assert!(server.metric("wslens_backpressure_events_total") >= STALLED as u64);
    // What a stalled receiver finds when it reads at last (within the close timeout, 5 s): a
    // prefix of the messages, in order, then the server's close 1008.
    for (s, c) in clients.iter_mut().take(STALLED).enumerate() {
        let mut got = 0;
        let end = loop {
            match c.recv() {
                Ok(OwnedEvent::Binary(b)) => {
                    assert_eq!(b, message(got), "stalled receiver {s}, message {got}");
                    got += 1;
                }
                other => break other,
            }
        };
        assert!(
            got < MESSAGES,
            "stalled receiver {s} got all {got} messages"
        );
        match end {
            Ok(OwnedEvent::Close { code, .. }) => {
                assert_eq!(
                    code,
                    Some(CloseCode::POLICY_VIOLATION),
                    "stalled receiver {s}"
                )
            }
            other => panic!("stalled receiver {s}, after {got} messages: {other:?}"),
        }
    }
    // Once they have answered the close (the client replies as it reads it), only the
    // readers and the sender are left.
    let deadline = Instant::now() + Duration::from_secs(10);
    let open = || server.metric("wslens_open_websockets");
    while open() > (READING + 1) as u64 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        open(),
        (READING + 1) as u64,
        "the stalled receivers are gone; the readers and the sender are still open"
    );
}

#[test]
fn with_drop_on_backpressure_stalled_receivers_miss_messages_but_stay_open() {
    let (server, mut clients, growth) = run(&["--drop-on-backpressure"]);
    assert!(
        growth < BOUND_KIB,
        "server RSS grew by {growth} KiB for {STALLED} stalled receivers"
    );
    assert!(server.metric("wslens_backpressure_events_total") > 0);
    assert_eq!(server.metric("wslens_closes_total{code=\"1008\"}"), 0);
    assert_eq!(
        server.metric("wslens_open_websockets"),
        (STALLED + READING + 1) as u64
    );
    // What a stalled receiver finds when it reads at last: whole messages with increasing
    // indices and gaps where frames were dropped, and no close.
    for (s, c) in clients.iter_mut().take(STALLED).enumerate() {
        c.stream()
            .set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let mut indices = Vec::new();
        loop {
            match c.recv() {
                Ok(OwnedEvent::Binary(b)) => {
                    let i = u64::from_le_bytes(b[..8].try_into().unwrap()) as usize;
                    assert_eq!(b, message(i), "stalled receiver {s}: message {i} not whole");
                    if let Some(&last) = indices.last() {
                        assert!(i > last, "stalled receiver {s}: {i} after {last}");
                    }
                    indices.push(i);
                }
                Ok(other) => panic!("stalled receiver {s}: {other:?}"),
                Err(_) => break, // drained: nothing more within the read timeout
            }
        }
        assert!(!indices.is_empty(), "stalled receiver {s} got nothing");
        assert!(
            indices.len() < MESSAGES,
            "stalled receiver {s} got all {} messages: nothing was dropped",
            indices.len()
        );
        c.stream()
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
    }
    // Now that they read, the next message reaches every one of them.
    let last = message(MESSAGES);
    clients.last_mut().unwrap().send_binary(&last);
    for (s, c) in clients.iter_mut().take(STALLED).enumerate() {
        assert_eq!(
            c.recv().unwrap(),
            OwnedEvent::Binary(last.clone()),
            "stalled receiver {s}"
        );
    }
}
