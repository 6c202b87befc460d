//! `wslens bench --fanout N`: the broadcast benchmark. One sender and N receivers join a
//! broadcast room (the server sends every message to every member, the sender included);
//! `stalled` of the receivers connect but never read. The sender keeps at most `in_flight`
//! messages that have not yet reached every reading receiver (1: the next message leaves when
//! the previous one reached the last receiver; more: pipelined, for throughput, refilled in
//! bursts whenever half of the window has arrived everywhere). Receivers
//! check every message byte for byte and in order; a message's latency is the time from its
//! send to its arrival at the last receiver.
//!
//! Each message is `size` bytes (at least 8): its sequence number (u64, little endian), then a
//! fixed pattern. Receivers are spread over the generator threads; thread 0 also drives the
//! sender. A message's slot (`seq % in_flight`) holds its send time and the count of receivers
//! still to get it; the receiver that takes the count to zero records the latency and wakes the
//! sender.

use super::report::{latency_us, measure, warm_up, Mode, Report};
use crate::cli::client::{Client, ClientOptions};
use crate::transport::Transport;
use hdrhistogram::Histogram;
use polling::{Event, Events, PollMode, Poller};
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};
use wslens::{Event as WsEvent, OpCode};

/// Give up when no message has reached every receiver for this long.
const STUCK: Duration = Duration::from_secs(10);

/// What to measure.
#[derive(Clone, Debug)]
pub struct BroadcastConfig {
    /// ws:// URL of a broadcast room (every message goes to every member).
    pub url: String,
    /// The receivers connect to these in turn (empty: to `url`); the sender to `url`.
    pub receiver_urls: Vec<String>,
    /// Receivers, stalled ones included.
    pub fanout: usize,
    /// Receivers that connect but never read.
    pub stalled: usize,
    /// Messages in flight: sent but not yet received by every reading receiver.
    pub in_flight: usize,
    /// Payload size in bytes (at least 8).
    pub size: usize,
    /// Measure for this long (after the warm-up) …
    pub duration: Duration,
    /// … or until this many messages have reached every receiver.
    pub messages: Option<u64>,
    /// Discarded from the statistics at the start.
    pub warmup: Duration,
    /// Generator threads.
    pub threads: usize,
    /// TLS settings for wss:// (None: ws://).
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// The server's process id, when it runs on this machine: its CPU time is then measured
    /// over the same period, giving deliveries per server CPU-second.
    pub server_pid: Option<u32>,
}

/// Shared among generator threads.
struct Shared {
    start: Instant,
    /// Per slot: send time, in nanoseconds since `start`.
    sent_at: Box<[AtomicU64]>,
    /// Per slot: reading receivers that have not yet got the message.
    remaining: Box<[AtomicU32]>,
    /// Messages that reached every reading receiver (since the start).
    completed: AtomicU64,
    /// Of those, the ones in the measured period.
    measured_messages: AtomicU64,
    /// Deliveries in the measured period.
    deliveries: AtomicU64,
    /// Receivers' reads in the measured period.
    reads: AtomicU64,
    measuring: AtomicBool,
    stop: AtomicBool,
    /// The sender's thread's poller, woken when a message completes.
    sender_poller: Arc<Poller>,
}

impl Shared {
    /// Message `seq` reached one more receiver; the last one records the latency.
    fn arrived(&self, seq: u64, hist: &mut Histogram<u64>, on_sender_thread: bool) {
        let slot = (seq % self.remaining.len() as u64) as usize;
        if self.remaining[slot].fetch_sub(1, Ordering::AcqRel) == 1 {
            if self.measuring.load(Ordering::Relaxed) {
                let now = self.start.elapsed().as_nanos() as u64;
                let sent = self.sent_at[slot].load(Ordering::Relaxed);
                let _ = hist.record(now.saturating_sub(sent));
                self.measured_messages.fetch_add(1, Ordering::Relaxed);
            }
            self.completed.fetch_add(1, Ordering::AcqRel);
            if !on_sender_thread {
                let _ = self.sender_poller.notify();
            }
        }
    }
}

struct Conn {
    stream: Transport,
    ws: wslens::Connection,
    /// The next sequence number this receiver expects.
    expect: u64,
    want_write: bool,
}

fn payload_for(seq: u64, size: usize, out: &mut [u8]) {
    out[..8].copy_from_slice(&seq.to_le_bytes());
    for (i, b) in out[8..size].iter_mut().enumerate() {
        *b = (i * 31 + 7) as u8;
    }
}

fn connect(config: &BroadcastConfig) -> io::Result<(Transport, wslens::Connection)> {
    connect_to(config, &config.url)
}

/// The `n`th receiver's URL.
fn receiver_url(config: &BroadcastConfig, n: usize) -> &str {
    match config.receiver_urls.len() {
        0 => &config.url,
        len => &config.receiver_urls[n % len],
    }
}

fn connect_to(config: &BroadcastConfig, url: &str) -> io::Result<(Transport, wslens::Connection)> {
    let opts = ClientOptions {
        tls: config.tls.clone(),
        ..ClientOptions::default()
    };
    let (client, _) = Client::connect(url, &opts).map_err(|e| io::Error::other(e.to_string()))?;
    Ok(client.into_parts())
}

/// Runs the benchmark; `progress` is called about every 250 ms with (deliveries so far,
/// elapsed).
pub fn run(
    config: BroadcastConfig,
    progress: &(dyn Fn(u64, Duration) + Sync),
) -> io::Result<Report> {
    if config.size < 8 {
        return Err(io::Error::other(
            "broadcast messages carry an 8-byte sequence number: --size must be at least 8",
        ));
    }
    let stalled = config.stalled.min(config.fanout);
    let reading = config.fanout - stalled;
    if reading == 0 {
        return Err(io::Error::other(
            "every receiver is stalled: nothing to measure",
        ));
    }
    let threads = config.threads.clamp(1, reading);
    let in_flight = config.in_flight.max(1);
    let pollers: Vec<Arc<Poller>> = (0..threads)
        .map(|_| Poller::new().map(Arc::new))
        .collect::<io::Result<_>>()?;
    let shared = Arc::new(Shared {
        start: Instant::now(),
        sent_at: (0..in_flight).map(|_| AtomicU64::new(0)).collect(),
        remaining: (0..in_flight).map(|_| AtomicU32::new(0)).collect(),
        completed: AtomicU64::new(0),
        measured_messages: AtomicU64::new(0),
        deliveries: AtomicU64::new(0),
        reads: AtomicU64::new(0),
        measuring: AtomicBool::new(false),
        stop: AtomicBool::new(false),
        sender_poller: pollers[0].clone(),
    });
    // The stalled receivers: connected (so members of the room), never read.
    let stalled_conns = (0..stalled)
        .map(|i| connect_to(&config, receiver_url(&config, i)))
        .collect::<io::Result<Vec<_>>>()?;
    let barrier = Arc::new(Barrier::new(threads + 1));
    let mut handles = Vec::new();
    for (t, poller) in pollers.into_iter().enumerate() {
        let n = reading / threads + usize::from(t < reading % threads);
        let (config, shared, barrier) = (config.clone(), shared.clone(), barrier.clone());
        handles.push(
            std::thread::Builder::new()
                .name(format!("wslens-bench-{t}"))
                .spawn(move || {
                    // Receiver numbers: the stalled ones first, then thread by thread.
                    let first = stalled + t * (reading / threads) + t.min(reading % threads);
                    let mut conns = (0..n)
                        .map(|i| connect_to(&config, receiver_url(&config, first + i)))
                        .collect::<io::Result<Vec<_>>>();
                    if t == 0 {
                        if let Ok(c) = conns.as_mut() {
                            match connect(&config) {
                                Ok(sender) => c.push(sender),
                                Err(e) => conns = Err(e),
                            }
                        }
                    }
                    barrier.wait();
                    if t == 0 && !config.receiver_urls.is_empty() {
                        // Receivers on other nodes of a cluster get what is published only
                        // once their node has subscribed to the room (within milliseconds of
                        // their join): the sender gives it time. (Inside the warm-up.)
                        std::thread::sleep(Duration::from_millis(500));
                    }
                    let result = conns.and_then(|c| {
                        let ctx = Thread {
                            reading: reading as u32,
                            in_flight,
                            poller: &poller,
                            config: &config,
                            shared: &shared,
                        };
                        drive(c, t == 0, ctx)
                    });
                    if result.is_err() {
                        shared.stop.store(true, Ordering::Release);
                        let _ = shared.sender_poller.notify();
                    }
                    result
                })?,
        );
    }
    barrier.wait();
    let meters = warm_up(config.warmup, &shared.stop, config.server_pid);
    shared.measuring.store(true, Ordering::Release);
    let mut last = (0, Instant::now());
    let (seconds, finished) = measure(
        config.duration,
        config.messages,
        &shared.stop,
        progress,
        || {
            let completed = shared.completed.load(Ordering::Acquire);
            if completed != last.0 {
                last = (completed, Instant::now());
            } else if last.1.elapsed() >= STUCK {
                return None;
            }
            Some((
                shared.deliveries.load(Ordering::Acquire),
                shared.measured_messages.load(Ordering::Acquire),
            ))
        },
    );
    let stuck = !finished;
    shared.measuring.store(false, Ordering::Release);
    let (generator_cpu, server_cpu, server_user) = meters.stop(seconds, threads);
    shared.stop.store(true, Ordering::Release);
    let _ = shared.sender_poller.notify();
    let mut histogram = Histogram::<u64>::new(3).map_err(io::Error::other)?;
    let (mut mismatches, mut lost, mut deliveries) = (0, 0, 0);
    for h in handles {
        let (hist, bad, gone, count) = h
            .join()
            .map_err(|_| io::Error::other("a generator thread panicked"))??;
        histogram.add(hist).map_err(io::Error::other)?;
        mismatches += bad;
        lost += gone;
        deliveries += count;
    }
    drop(stalled_conns);
    if stuck {
        return Err(io::Error::other(format!(
            "no message reached every receiver for {} s: is {} a broadcast room?",
            STUCK.as_secs(),
            config.url
        )));
    }
    let messages = shared.measured_messages.load(Ordering::Acquire);
    let reads = shared.reads.load(Ordering::Acquire);
    Ok(Report {
        url: config.url,
        threads,
        in_flight,
        size: config.size,
        messages,
        seconds,
        msgs_per_s: messages as f64 / seconds,
        mb_per_s: deliveries as f64 * config.size as f64 / seconds / 1e6,
        latency_us: latency_us(&histogram),
        mismatches,
        generator_cpu,
        server_cpu,
        server_user,
        mode: Mode::Broadcast {
            fanout: config.fanout,
            stalled,
            deliveries,
            deliveries_per_s: deliveries as f64 / seconds,
            lost,
            deliveries_per_read: deliveries as f64 / reads.max(1) as f64,
        },
    })
}

/// (latency histogram, mismatches, lost, measured deliveries)
type ThreadResult = io::Result<(Histogram<u64>, u64, u64, u64)>;

/// What every generator thread works with.
#[derive(Clone, Copy)]
struct Thread<'a> {
    /// Receivers that read (each message must reach them all).
    reading: u32,
    in_flight: usize,
    poller: &'a Poller,
    config: &'a BroadcastConfig,
    shared: &'a Shared,
}

/// One generator thread: its receivers, and on thread 0 also the sender (the last connection).
fn drive(
    streams: Vec<(Transport, wslens::Connection)>,
    is_sender_thread: bool,
    ctx: Thread<'_>,
) -> ThreadResult {
    let poller = ctx.poller;
    let mut conns = Vec::with_capacity(streams.len());
    for (key, (mut stream, ws)) in streams.into_iter().enumerate() {
        stream.set_nonblocking(true)?;
        // SAFETY: every stream stays in `conns` until the end of this function and is deleted
        // from the poller before `conns` is dropped.
        unsafe { poller.add_with_mode(&stream, Event::readable(key), PollMode::Level)? };
        conns.push(Conn {
            stream,
            ws,
            expect: 0,
            want_write: false,
        });
    }
    let sender_key = is_sender_thread.then(|| conns.len() - 1);
    let result = drive_loop(&mut conns, sender_key, ctx);
    for c in &mut conns {
        super::echo::close_link(poller, &mut c.stream, &mut c.ws);
    }
    result
}

fn drive_loop(conns: &mut [Conn], sender_key: Option<usize>, ctx: Thread<'_>) -> ThreadResult {
    let Thread {
        reading,
        in_flight,
        poller,
        config,
        shared,
    } = ctx;
    let size = config.size;
    let on_sender_thread = sender_key.is_some();
    let mut hist = Histogram::<u64>::new(3).map_err(io::Error::other)?;
    let (mut mismatches, mut lost, mut counted, mut published) = (0u64, 0u64, 0u64, 0u64);
    let mut reads = 0u64;
    let mut expected = vec![0u8; size];
    payload_for(0, size, &mut expected);
    let mut message = expected.clone();
    let mut next_seq = 0u64;
    let mut events = Events::new();
    let mut buf = vec![0u8; 256 * 1024];
    while !shared.stop.load(Ordering::Acquire) {
        if let Some(key) = sender_key {
            let sender = &mut conns[key];
            // Refill the window once half of it has arrived everywhere: the messages leave in
            // bursts, which the server can write to each receiver in one go.
            let outstanding = next_seq - shared.completed.load(Ordering::Acquire);
            let refill = if outstanding <= in_flight as u64 / 2 {
                in_flight as u64 - outstanding
            } else {
                0
            };
            for _ in 0..refill {
                let slot = (next_seq % in_flight as u64) as usize;
                shared.sent_at[slot]
                    .store(shared.start.elapsed().as_nanos() as u64, Ordering::Relaxed);
                shared.remaining[slot].store(reading, Ordering::Release);
                payload_for(next_seq, 8, &mut message);
                sender
                    .ws
                    .send(OpCode::Binary, &message)
                    .map_err(io::Error::other)?;
                next_seq += 1;
            }
            flush(poller, key, sender)?;
        }
        events.clear();
        poller.wait(&mut events, Some(Duration::from_millis(50)))?;
        let measuring = shared.measuring.load(Ordering::Relaxed);
        for ev in events.iter() {
            let key = ev.key;
            let is_sender = Some(key) == sender_key;
            let c = &mut conns[key];
            if ev.readable {
                let n = super::echo::read_link(
                    &mut c.stream,
                    &mut buf,
                    "the server closed a reading connection",
                )?;
                if n > 0 && measuring && !is_sender {
                    reads += 1;
                }
                let mut pos = 0;
                while pos < n {
                    let (used, got) =
                        c.ws.read_with(&mut buf[pos..n], |event, _| match event {
                            WsEvent::Binary(b) => {
                                let seq = (b.len() == size).then(|| {
                                    u64::from_le_bytes(b[..8].try_into().unwrap_or([0; 8]))
                                });
                                Some(seq.filter(|_| b[8..] == expected[8..]))
                            }
                            _ => None,
                        })
                        .map_err(io::Error::other)?;
                    pos += used;
                    let Some(got) = got else { break };
                    let Some(checked) = got else { continue };
                    if is_sender {
                        // The sender's own copy: checked, not counted.
                        if checked.is_none() {
                            mismatches += 1;
                        }
                        continue;
                    }
                    match checked {
                        Some(seq) if seq >= c.expect => {
                            for skipped in c.expect..seq {
                                lost += 1;
                                shared.arrived(skipped, &mut hist, on_sender_thread);
                            }
                            c.expect = seq + 1;
                            shared.arrived(seq, &mut hist, on_sender_thread);
                            if measuring {
                                counted += 1;
                            }
                        }
                        _ => mismatches += 1,
                    }
                }
                if c.ws.state() == wslens::State::Closed {
                    return Err(io::Error::other("the server closed a reading connection"));
                }
            }
            flush(poller, key, c)?;
        }
        shared
            .deliveries
            .fetch_add(counted - published, Ordering::AcqRel);
        published = counted;
    }
    shared.reads.fetch_add(reads, Ordering::AcqRel);
    Ok((hist, mismatches, lost, counted))
}

fn flush(poller: &Poller, key: usize, c: &mut Conn) -> io::Result<()> {
    super::echo::flush_link(poller, key, &mut c.stream, &mut c.ws, &mut c.want_write)
}
