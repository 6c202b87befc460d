//! `wslens bench`: the load generator. N connections spread over threads, each thread a
//! `polling` loop; every connection keeps D messages in flight against an echo endpoint and
//! checks each echo byte for byte. Reports messages/s, MB/s, round-trip latency percentiles
//! (`hdrhistogram`) and the generator's own CPU use, so a saturated generator is not mistaken
//! for a slow server.
//!
//! Two ways to load the server:
//! - **closed loop** (the default): each echo sends the next message at once, so the rate is
//!   whatever the slower of server and generator allows;
//! - **fixed rate** (`rate`): messages leave on a schedule (open loop, paced across the
//!   connections with a free slot), so a server below its capacity shows what the load costs
//!   it. With `server_pid` the report gives the server's CPU use and messages per server
//!   CPU-second: on a machine where the generator saturates first, that is the figure that
//!   tells servers apart.

use super::report::{latency_us, measure, warm_up, Mode, Report};
use crate::cli::client::{Client, ClientOptions};
use crate::transport::Transport;
use hdrhistogram::Histogram;
use polling::{Event, Events, PollMode, Poller};
use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};
use wslens::{Event as WsEvent, OpCode};

/// What to measure.
#[derive(Clone, Debug)]
pub struct BenchConfig {
    /// ws:// or wss:// URL of an echo endpoint.
    pub url: String,
    /// TLS settings for wss:// (`None`: Mozilla's roots).
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// Connections in total.
    pub connections: usize,
    /// Messages each connection keeps in flight.
    pub in_flight: usize,
    /// Payload size in bytes.
    pub size: usize,
    /// Text (validated UTF-8 on both ends) instead of binary.
    pub text: bool,
    /// Measure for this long (after the warm-up) …
    pub duration: Duration,
    /// … or until this many messages have been echoed in total.
    pub messages: Option<u64>,
    /// Discarded from the statistics at the start.
    pub warmup: Duration,
    /// Generator threads.
    pub threads: usize,
    /// Offer permessage-deflate (RFC 7692) on every connection.
    pub deflate: Option<wslens::deflate::DeflateConfig>,
    /// Fixed offered load in messages per second over all connections (open loop), instead
    /// of sending the next message as soon as an echo arrives.
    pub rate: Option<f64>,
    /// The server's process id, when it runs on this machine: its CPU time is then measured
    /// over the same period (Linux `/proc`).
    pub server_pid: Option<u32>,
}

/// Shared among generator threads.
struct Shared {
    echoed: AtomicU64,
    late: AtomicU64,
    measuring: AtomicBool,
    stop: AtomicBool,
}

struct BenchConn {
    stream: Transport,
    ws: wslens::Connection,
    sent_at: VecDeque<Instant>,
    want_write: bool,
}

/// Runs the benchmark; `progress` is called about every 250 ms with (echoes so far, elapsed).
pub fn run(config: BenchConfig, progress: &(dyn Fn(u64, Duration) + Sync)) -> io::Result<Report> {
    let threads = config.threads.clamp(1, config.connections.max(1));
    let payload: Arc<[u8]> = if config.text {
        (0..config.size).map(|i| b'a' + (i % 26) as u8).collect()
    } else {
        (0..config.size).map(|i| (i * 31 + 7) as u8).collect()
    };
    let shared = Arc::new(Shared {
        echoed: AtomicU64::new(0),
        late: AtomicU64::new(0),
        measuring: AtomicBool::new(false),
        stop: AtomicBool::new(false),
    });
    let barrier = Arc::new(Barrier::new(threads + 1));
    let mut handles = Vec::new();
    for t in 0..threads {
        let n = config.connections / threads + usize::from(t < config.connections % threads);
        // Each thread offers its connections' share of a fixed rate.
        let rate = config
            .rate
            .map(|r| r * n as f64 / config.connections.max(1) as f64);
        let (config, payload, shared, barrier) = (
            config.clone(),
            payload.clone(),
            shared.clone(),
            barrier.clone(),
        );
        handles.push(
            std::thread::Builder::new()
                .name(format!("wslens-bench-{t}"))
                .spawn(move || {
                    let conns = connect_all(&config, n);
                    barrier.wait();
                    let result = conns.and_then(|c| drive(c, &config, rate, &payload, &shared));
                    if result.is_err() {
                        shared.stop.store(true, Ordering::Release);
                    }
                    result
                })?,
        );
    }
    barrier.wait();
    let meters = warm_up(config.warmup, &shared.stop, config.server_pid);
    shared.echoed.store(0, Ordering::Release);
    shared.late.store(0, Ordering::Release);
    shared.measuring.store(true, Ordering::Release);
    let (seconds, _) = measure(
        config.duration,
        config.messages,
        &shared.stop,
        progress,
        || {
            let echoed = shared.echoed.load(Ordering::Acquire);
            Some((echoed, echoed))
        },
    );
    shared.measuring.store(false, Ordering::Release);
    let (generator_cpu, server_cpu, server_user) = meters.stop(seconds, threads);
    let late = shared.late.load(Ordering::Acquire);
    shared.stop.store(true, Ordering::Release);
    let mut histogram = Histogram::<u64>::new(3).map_err(io::Error::other)?;
    let mut mismatches = 0;
    let mut messages = 0;
    for h in handles {
        let (hist, bad, count) = h
            .join()
            .map_err(|_| io::Error::other("a generator thread panicked"))??;
        histogram.add(hist).map_err(io::Error::other)?;
        mismatches += bad;
        messages += count;
    }
    Ok(Report {
        url: config.url,
        threads,
        in_flight: config.in_flight,
        size: config.size,
        messages,
        seconds,
        msgs_per_s: messages as f64 / seconds,
        mb_per_s: (messages as f64 * config.size as f64) / seconds / 1e6,
        latency_us: latency_us(&histogram),
        mismatches,
        generator_cpu,
        server_cpu,
        server_user,
        mode: Mode::Echo {
            connections: config.connections,
            text: config.text,
            rate: config.rate,
            late,
        },
    })
}

fn connect_all(config: &BenchConfig, n: usize) -> io::Result<Vec<BenchConn>> {
    let opts = ClientOptions {
        deflate: config.deflate,
        tls: config.tls.clone(),
        ..ClientOptions::default()
    };
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        let (client, _) =
            Client::connect(&config.url, &opts).map_err(|e| io::Error::other(e.to_string()))?;
        let (mut stream, ws) = client.into_parts();
        stream.set_nonblocking(true)?;
        conns.push(BenchConn {
            stream,
            ws,
            sent_at: VecDeque::new(),
            want_write: false,
        });
    }
    Ok(conns)
}

type ThreadResult = io::Result<(Histogram<u64>, u64, u64)>;

/// Paces sends at a fixed rate (open loop): a send is due every `1 / rate` seconds and goes
/// out on the first connection with a free slot; when none has one, the send is late.
struct Pacer {
    rate: f64,
    start: Instant,
    /// Sends made (or given up as late) so far.
    sent: u64,
    /// Connections with a free slot, once per free slot.
    free: VecDeque<usize>,
}

impl Pacer {
    /// Sends due by now that have not gone out.
    fn due(&self, now: Instant) -> u64 {
        let due = (now.duration_since(self.start).as_secs_f64() * self.rate) as u64;
        due.saturating_sub(self.sent)
    }

    /// How long to wait for the next due send (at least 100 µs, so a fast rate is served in
    /// small batches rather than one wake-up per message).
    fn wait(&self, now: Instant) -> Duration {
        if self.free.is_empty() {
            return Duration::from_millis(50);
        }
        let next = self.start + Duration::from_secs_f64((self.sent + 1) as f64 / self.rate);
        next.saturating_duration_since(now)
            .clamp(Duration::from_micros(100), Duration::from_millis(50))
    }
}

fn drive(
    mut conns: Vec<BenchConn>,
    config: &BenchConfig,
    rate: Option<f64>,
    payload: &[u8],
    shared: &Shared,
) -> ThreadResult {
    let poller = Poller::new()?;
    for (key, c) in conns.iter().enumerate() {
        // SAFETY: every stream stays in `conns` until after the loop below, and is deleted
        // from the poller before `conns` is dropped (end of this function).
        unsafe { poller.add_with_mode(&c.stream, Event::readable(key), PollMode::Level)? };
    }
    let opcode = if config.text {
        OpCode::Text
    } else {
        OpCode::Binary
    };
    let mut hist = Histogram::<u64>::new(3).map_err(io::Error::other)?;
    let (mut mismatches, mut counted, mut published) = (0u64, 0u64, 0u64);
    let now = Instant::now();
    let mut pacer = rate.filter(|&r| r > 0.0).map(|rate| Pacer {
        rate,
        start: now,
        sent: 0,
        free: (0..config.in_flight).flat_map(|_| 0..conns.len()).collect(),
    });
    if pacer.is_none() {
        for (key, c) in conns.iter_mut().enumerate() {
            for _ in 0..config.in_flight {
                c.ws.send(opcode, payload).map_err(io::Error::other)?;
                c.sent_at.push_back(now);
            }
            flush(&poller, key, c)?;
        }
    }
    let mut events = Events::new();
    let mut buf = vec![0u8; 256 * 1024];
    while !shared.stop.load(Ordering::Acquire) {
        if let Some(p) = &mut pacer {
            let now = Instant::now();
            let mut due = p.due(now);
            while due > 0 {
                let Some(key) = p.free.pop_front() else {
                    // Every slot is busy: these sends are late. Give them up rather than
                    // bursting later, and count them.
                    if shared.measuring.load(Ordering::Relaxed) {
                        shared.late.fetch_add(due, Ordering::Relaxed);
                    }
                    p.sent += due;
                    break;
                };
                let c = &mut conns[key];
                c.ws.send(opcode, payload).map_err(io::Error::other)?;
                c.sent_at.push_back(now);
                flush(&poller, key, c)?;
                p.sent += 1;
                due -= 1;
            }
        }
        let timeout = pacer
            .as_ref()
            .map_or(Duration::from_millis(50), |p| p.wait(Instant::now()));
        events.clear();
        poller.wait(&mut events, Some(timeout))?;
        for ev in events.iter() {
            let key = ev.key;
            let c = &mut conns[key];
            if ev.readable {
                let n = read_link(&mut c.stream, &mut buf, "server closed a connection")?;
                let mut pos = 0;
                let measuring = shared.measuring.load(Ordering::Relaxed);
                let closed_loop = pacer.is_none();
                while pos < n {
                    let BenchConn { ws, sent_at, .. } = c;
                    let (used, got) = ws
                        .read_with(&mut buf[pos..n], |event, sender| {
                            let data = match event {
                                WsEvent::Text(t) => t.as_bytes(),
                                WsEvent::Binary(b) => b,
                                _ => return None,
                            };
                            let ok = data == payload;
                            // Closed loop: one message out for each echo in.
                            if closed_loop {
                                let _ = sender.send(opcode, payload);
                            }
                            Some(ok)
                        })
                        .map_err(io::Error::other)?;
                    pos += used;
                    match got {
                        None => break,
                        Some(None) => {}
                        Some(Some(ok)) => {
                            let t = Instant::now();
                            if let Some(sent) = sent_at.pop_front() {
                                if measuring {
                                    let _ = hist.record(t.duration_since(sent).as_nanos() as u64);
                                }
                            }
                            match &mut pacer {
                                None => sent_at.push_back(t),
                                // The slot is free for the next scheduled send.
                                Some(p) => p.free.push_back(key),
                            }
                            if measuring {
                                counted += 1;
                                if !ok {
                                    mismatches += 1;
                                }
                            }
                        }
                    }
                }
            }
            flush(&poller, key, c)?;
        }
        shared
            .echoed
            .fetch_add(counted - published, Ordering::AcqRel);
        published = counted;
    }
    for c in &mut conns {
        close_link(&poller, &mut c.stream, &mut c.ws);
    }
    Ok((hist, mismatches, counted))
}

fn flush(poller: &Poller, key: usize, c: &mut BenchConn) -> io::Result<()> {
    flush_link(poller, key, &mut c.stream, &mut c.ws, &mut c.want_write)
}

/// Writes what the protocol has to send (and TLS records waiting for the socket) without
/// blocking, and keeps the poller's write interest (`want_write`) in step with what is left.
/// Shared by the echo and broadcast generators.
/// One non-blocking read of a link: the bytes read (0: none yet); the server closing it is an
/// error (`closed` says which link).
pub(crate) fn read_link(stream: &mut Transport, buf: &mut [u8], closed: &str) -> io::Result<usize> {
    match stream.read(buf) {
        Ok(0) => Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            closed.to_owned(),
        )),
        Ok(n) => Ok(n),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(0),
        Err(e) => Err(e),
    }
}

pub(crate) fn flush_link(
    poller: &Poller,
    key: usize,
    stream: &mut Transport,
    ws: &mut wslens::Connection,
    want_write: &mut bool,
) -> io::Result<()> {
    while ws.has_output() {
        match stream.write(ws.pending_output()) {
            Ok(n) => ws.consume_output(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => return Err(e),
        }
    }
    // TLS records still waiting for the socket.
    stream.write_pending()?;
    let want = ws.has_output() || stream.wants_write();
    if want != *want_write {
        *want_write = want;
        poller.modify_with_mode(&*stream, Event::new(key, true, want), PollMode::Level)?;
    }
    Ok(())
}

/// Ends a generator connection at the end of a run: off the poller, a 1000 close written
/// with a short blocking timeout, then shutdown. Errors are ignored: the run is over.
pub(crate) fn close_link(poller: &Poller, stream: &mut Transport, ws: &mut wslens::Connection) {
    let _ = poller.delete(&*stream);
    let _ = ws.close(wslens::CloseCode::NORMAL, "");
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_write_timeout(Some(Duration::from_millis(200)));
    let _ = stream.write_all(ws.pending_output());
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pacer(rate: f64, free: usize) -> Pacer {
        Pacer {
            rate,
            start: Instant::now(),
            sent: 0,
            free: (0..free).collect(),
        }
    }

    #[test]
    fn pacer_makes_due_what_the_rate_allows_by_now() {
        let mut p = pacer(1000.0, 4);
        assert_eq!(p.due(p.start), 0);
        assert_eq!(p.due(p.start + Duration::from_millis(10)), 10);
        p.sent = 7;
        assert_eq!(p.due(p.start + Duration::from_millis(10)), 3);
        p.sent = 12;
        assert_eq!(
            p.due(p.start + Duration::from_millis(10)),
            0,
            "never negative"
        );
    }

    #[test]
    fn pacer_waits_for_the_next_send_but_batches_fast_rates() {
        let mut p = pacer(1000.0, 1);
        p.sent = 10;
        // The 11th send is due 11 ms after the start.
        assert_eq!(
            p.wait(p.start + Duration::from_millis(5)),
            Duration::from_millis(6)
        );
        // Overdue: no shorter than 100 µs.
        assert_eq!(
            p.wait(p.start + Duration::from_millis(20)),
            Duration::from_micros(100)
        );
        // Nothing free to send on: wait for echoes.
        p.free.clear();
        assert_eq!(p.wait(p.start), Duration::from_millis(50));
        // A slow rate: no longer than 50 ms per wait.
        let p = pacer(1.0, 1);
        assert_eq!(p.wait(p.start), Duration::from_millis(50));
    }
}
