//! What a `wslens bench` run measured — one report for the echo and the broadcast generators
//! (their own figures in [`Mode`]) — and the CPU meters both use.

use hdrhistogram::Histogram;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The outcome of a run.
#[derive(Clone, Debug)]
pub struct Report {
    /// The endpoint.
    pub url: String,
    /// Generator threads.
    pub threads: usize,
    /// Messages in flight (per connection for echo; in all for broadcast).
    pub in_flight: usize,
    /// Payload bytes per message.
    pub size: usize,
    /// Messages completed (echoed, or received by every reading receiver) and checked in
    /// the measured period.
    pub messages: u64,
    /// Measured wall time.
    pub seconds: f64,
    /// Messages per second.
    pub msgs_per_s: f64,
    /// Payload bytes per second, in millions (echoed, or delivered to receivers).
    pub mb_per_s: f64,
    /// Latency percentiles in microseconds (round trip, or send → last receiver): p50, p90,
    /// p99, p99.9, max.
    pub latency_us: [f64; 5],
    /// Messages whose bytes were not what was sent (or, for broadcast, out of order).
    pub mismatches: u64,
    /// The generator's CPU time / (wall time × threads), if the OS tells.
    pub generator_cpu: Option<f64>,
    /// With a server pid: the server's CPU time / wall time (1.0 = one core busy).
    pub server_cpu: Option<f64>,
    /// With a server pid: the share of the server's CPU time spent in user space (the rest
    /// is the kernel's: system calls, TCP, wake-ups).
    pub server_user: Option<f64>,
    /// What only one of the two modes measures.
    pub mode: Mode,
}

/// The figures of one mode.
#[derive(Clone, Debug)]
pub enum Mode {
    /// Against an echo endpoint.
    Echo {
        /// Connections in total.
        connections: usize,
        /// Text (UTF-8 validated on both ends) instead of binary.
        text: bool,
        /// The fixed offered load, if one was set (messages per second).
        rate: Option<f64>,
        /// With `rate`: scheduled sends that found every connection's slots still busy.
        late: u64,
    },
    /// One sender and `fanout` receivers in a broadcast room.
    Broadcast {
        /// Receivers, stalled ones included.
        fanout: usize,
        /// Receivers that connect but never read.
        stalled: usize,
        /// Messages received (and checked) by reading receivers.
        deliveries: u64,
        /// Deliveries per second.
        deliveries_per_s: f64,
        /// Messages a reading receiver never got (it saw a later one first).
        lost: u64,
        /// Deliveries per receiver `read`, on average (more than 1: frames coalesced).
        deliveries_per_read: f64,
    },
}

/// A figure rounded to `places` decimals, for the JSON report.
fn round(v: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (v * f).round() / f
}

fn opt(v: Option<f64>, places: i32) -> Value {
    v.map_or(Value::Null, |v| json!(round(v, places)))
}

impl Report {
    /// Whether the generator itself was (nearly) saturated.
    pub fn generator_saturated(&self) -> bool {
        self.generator_cpu.is_some_and(|c| c > 0.9)
    }

    /// The headline rate (echoes, or deliveries) per second of server CPU time: what one
    /// fully busy server core would do at this cost, kernel included.
    pub fn per_server_cpu_s(&self) -> Option<f64> {
        let rate = match self.mode {
            Mode::Echo { .. } => self.msgs_per_s,
            Mode::Broadcast {
                deliveries_per_s, ..
            } => deliveries_per_s,
        };
        self.server_cpu.filter(|&c| c > 0.0).map(|c| rate / c)
    }

    /// Whether the run found the server at fault (a wrong or lost message).
    pub fn failure(&self) -> Option<String> {
        let lost = match self.mode {
            Mode::Broadcast { lost, .. } => lost,
            Mode::Echo { .. } => 0,
        };
        (self.mismatches > 0 || lost > 0).then(|| match self.mode {
            Mode::Echo { .. } => format!("{} echoes did not match what was sent", self.mismatches),
            Mode::Broadcast { .. } => format!(
                "{} messages did not match what was sent, {lost} were lost",
                self.mismatches
            ),
        })
    }

    /// One JSON object (keys in alphabetical order).
    pub fn to_json(&self) -> String {
        let l = &self.latency_us;
        let mut j = json!({
            "url": self.url,
            "threads": self.threads,
            "in_flight": self.in_flight,
            "size": self.size,
            "messages": self.messages,
            "seconds": round(self.seconds, 3),
            "msgs_per_s": round(self.msgs_per_s, 1),
            "mb_per_s": round(self.mb_per_s, 3),
            "latency_us": {
                "p50": round(l[0], 1), "p90": round(l[1], 1), "p99": round(l[2], 1),
                "p999": round(l[3], 1), "max": round(l[4], 1),
            },
            "mismatches": self.mismatches,
            "generator_cpu": opt(self.generator_cpu, 3),
            "generator_saturated": self.generator_saturated(),
            "server_cpu": opt(self.server_cpu, 3),
            "server_user": opt(self.server_user, 3),
        });
        let extra = match &self.mode {
            Mode::Echo {
                connections,
                text,
                rate,
                late,
            } => json!({
                "connections": connections,
                "text": text,
                "rate": opt(*rate, 1),
                "late": late,
                "msgs_per_server_cpu_s": opt(self.per_server_cpu_s(), 1),
            }),
            Mode::Broadcast {
                fanout,
                stalled,
                deliveries,
                deliveries_per_s,
                lost,
                deliveries_per_read,
            } => json!({
                "mode": "broadcast",
                "fanout": fanout,
                "stalled": stalled,
                "deliveries": deliveries,
                "deliveries_per_s": round(*deliveries_per_s, 1),
                "lost": lost,
                "deliveries_per_read": round(*deliveries_per_read, 2),
                "deliveries_per_server_cpu_s": self.per_server_cpu_s().map(|v| v.round() as u64),
            }),
        };
        if let (Value::Object(all), Value::Object(extra)) = (&mut j, extra) {
            all.extend(extra);
        }
        j.to_string()
    }

    /// A few human-readable lines.
    pub fn to_text(&self) -> String {
        let l = &self.latency_us;
        let mut s = match &self.mode {
            Mode::Echo {
                connections, text, ..
            } => format!(
                "{connections} connections × {} in flight, {} B {} messages, {} thread(s), {:.1} s\n\
                 {:.0} msg/s, {:.2} MB/s\n\
                 latency µs: ",
                self.in_flight,
                self.size,
                if *text { "text" } else { "binary" },
                self.threads,
                self.seconds,
                self.msgs_per_s,
                self.mb_per_s,
            ),
            Mode::Broadcast {
                fanout,
                stalled,
                deliveries_per_s,
                ..
            } => format!(
                "broadcast: 1 sender, {fanout} receivers ({stalled} stalled), {} in flight, {} B binary, {} thread(s), {:.1} s\n\
                 {deliveries_per_s:.0} deliveries/s, {:.0} msg/s, {:.2} MB/s delivered\n\
                 send → last receiver µs: ",
                self.in_flight, self.size, self.threads, self.seconds, self.msgs_per_s, self.mb_per_s,
            ),
        };
        s.push_str(&format!(
            "p50 {:.0}  p90 {:.0}  p99 {:.0}  p99.9 {:.0}  max {:.0}\n",
            l[0], l[1], l[2], l[3], l[4]
        ));
        if let Mode::Broadcast {
            deliveries_per_read,
            ..
        } = self.mode
        {
            s.push_str(&format!(
                "{deliveries_per_read:.1} deliveries per receiver read\n"
            ));
        }
        if let Some(cpu) = self.generator_cpu {
            s.push_str(&format!(
                "generator CPU: {:.0}% of {} thread(s)\n",
                cpu * 100.0,
                self.threads
            ));
            if self.generator_saturated() {
                s.push_str("warning: the generator itself is saturated: these numbers measure it, not the server\n");
            }
        }
        if let Mode::Echo {
            rate: Some(rate),
            late,
            ..
        } = self.mode
        {
            s.push_str(&format!(
                "offered {rate:.0} msg/s; {late} scheduled sends found no free connection\n"
            ));
        }
        if let (Some(cpu), Some(per)) = (self.server_cpu, self.per_server_cpu_s()) {
            let what = match self.mode {
                Mode::Echo { .. } => "msg",
                Mode::Broadcast { .. } => "deliveries",
            };
            s.push_str(&format!(
                "server CPU: {:.0}% of a core ({:.0}% of it in user space), {per:.0} {what} per server CPU-second\n",
                cpu * 100.0,
                self.server_user.unwrap_or(0.0) * 100.0
            ));
        }
        if let Some(failure) = self.failure() {
            s.push_str(&format!("ERROR: {failure}\n"));
        }
        s
    }
}

/// The latency percentiles of a histogram of nanoseconds, in microseconds (see
/// [`Report::latency_us`]).
pub(crate) fn latency_us(histogram: &Histogram<u64>) -> [f64; 5] {
    let q = |p: f64| histogram.value_at_quantile(p) as f64 / 1000.0;
    [
        q(0.5),
        q(0.9),
        q(0.99),
        q(0.999),
        histogram.max() as f64 / 1000.0,
    ]
}

/// CPU time of process `pid` split into (user, system), from Linux `/proc`.
fn cpu_split_of(pid: &str) -> Option<(Duration, Duration)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which is in parentheses and may contain spaces).
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    // Linux reports in clock ticks of USER_HZ, which is 100 on every Linux ABI.
    Some((
        Duration::from_millis(utime * 10),
        Duration::from_millis(stime * 10),
    ))
}

/// The CPU time a process spends over a measured period, from Linux `/proc`: the server's
/// (given its pid) or the generator's own.
pub(crate) struct CpuMeter {
    pid: String,
    start: (Duration, Duration),
}

impl CpuMeter {
    /// Starts measuring process `pid` (None: no pid given, or no `/proc`).
    pub(crate) fn start(pid: Option<u32>) -> Option<Self> {
        Self::start_named(pid?.to_string())
    }

    /// Starts measuring this process (the generator).
    pub(crate) fn start_self() -> Option<Self> {
        Self::start_named("self".into())
    }

    fn start_named(pid: String) -> Option<Self> {
        let start = cpu_split_of(&pid)?;
        Some(CpuMeter { pid, start })
    }

    /// Over the `seconds` since the start: (CPU time ÷ wall time, the share of that CPU time
    /// spent in user space, if there was any CPU time).
    pub(crate) fn stop(self, seconds: f64) -> Option<(f64, Option<f64>)> {
        let (u1, s1) = cpu_split_of(&self.pid)?;
        let (u0, s0) = self.start;
        let (user, total) = (u1 - u0, (u1 + s1) - (u0 + s0));
        let share = (!total.is_zero()).then(|| user.as_secs_f64() / total.as_secs_f64());
        Some((total.as_secs_f64() / seconds, share))
    }
}

/// The warm-up (excluded from the statistics: it ends early if a thread gave up, `stop`),
/// then the meters of the measured period that starts.
pub(crate) fn warm_up(warmup: Duration, stop: &AtomicBool, server_pid: Option<u32>) -> Meters {
    let start = Instant::now();
    while start.elapsed() < warmup && !stop.load(Ordering::Acquire) {
        std::thread::sleep(Duration::from_millis(10));
    }
    Meters::start(server_pid)
}

/// The measured period. Every 5 ms `poll` gives (what the spinner counts, what `messages`
/// counts), or `None` to give up (a stall); `progress` is called every 250 ms. It ends when
/// `messages` are done, after `duration` (without `messages`), or when `stop` is set.
/// Returns the seconds measured and `false` if `poll` gave up.
pub(crate) fn measure(
    duration: Duration,
    messages: Option<u64>,
    stop: &AtomicBool,
    progress: &(dyn Fn(u64, Duration) + Sync),
    mut poll: impl FnMut() -> Option<(u64, u64)>,
) -> (f64, bool) {
    let t0 = Instant::now();
    let mut last_report = t0;
    let finished = loop {
        std::thread::sleep(Duration::from_millis(5));
        let Some((shown, counted)) = poll() else {
            break false;
        };
        if last_report.elapsed() >= Duration::from_millis(250) {
            progress(shown, t0.elapsed());
            last_report = Instant::now();
        }
        let done = match messages {
            Some(m) => counted >= m,
            None => t0.elapsed() >= duration,
        };
        if done || stop.load(Ordering::Acquire) {
            break true;
        }
    };
    (t0.elapsed().as_secs_f64(), finished)
}

/// The generator's and the server's meters over one measured period.
pub(crate) struct Meters {
    generator: Option<CpuMeter>,
    server: Option<CpuMeter>,
}

/// What [`Meters::stop`] read: (generator CPU per thread, server CPU, server user share).
pub(crate) type CpuFigures = (Option<f64>, Option<f64>, Option<f64>);

impl Meters {
    pub(crate) fn start(server_pid: Option<u32>) -> Self {
        Meters {
            server: CpuMeter::start(server_pid),
            generator: CpuMeter::start_self(),
        }
    }

    pub(crate) fn stop(self, seconds: f64, threads: usize) -> CpuFigures {
        let generator = self
            .generator
            .and_then(|m| m.stop(seconds))
            .map(|(cpu, _)| cpu / threads.max(1) as f64);
        let (server_cpu, server_user) = self
            .server
            .and_then(|m| m.stop(seconds))
            .map_or((None, None), |(cpu, user)| (Some(cpu), user));
        (generator, server_cpu, server_user)
    }
}
