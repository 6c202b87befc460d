//! `wslens bench`: the load generators, against an echo endpoint ([`echo`]) or a broadcast
//! room ([`broadcast`]), with a progress spinner and a text or JSON report.

pub mod broadcast;
pub mod echo;
pub mod report;

use super::args::BenchArgs;
use std::time::Duration;

/// `wslens bench`.
pub(crate) fn bench(args: BenchArgs) -> Result<(), String> {
    if args.fanout.is_some() {
        return bench_broadcast(args);
    }
    let config = echo::BenchConfig {
        tls: args.tls.config(&args.url)?,
        url: args.url,
        connections: args.connections.max(1),
        in_flight: args.in_flight.max(1),
        size: args.size,
        text: args.text,
        duration: args.duration,
        messages: args.messages,
        warmup: args.warmup,
        threads: generator_threads(args.threads),
        deflate: args.deflate.then(wslens::deflate::DeflateConfig::default),
        rate: args.rate,
        server_pid: args.server_pid,
    };
    with_spinner("echoes", "msg/s", args.json, |progress| {
        echo::run(config, progress)
    })
}

/// Runs a generator with a progress spinner on stderr (when it is a terminal) counting
/// `what` at `rate_unit`, then prints its report.
fn with_spinner(
    what: &str,
    rate_unit: &str,
    json: bool,
    run: impl FnOnce(&(dyn Fn(u64, Duration) + Sync)) -> std::io::Result<report::Report>,
) -> Result<(), String> {
    let bar = spinner();
    let progress = |done: u64, elapsed: Duration| {
        if let Some(bar) = &bar {
            let rate = done as f64 / elapsed.as_secs_f64().max(1e-9);
            bar.set_message(format!(
                "{done} {what}, {rate:.0} {rate_unit}, {:.1} s",
                elapsed.as_secs_f64()
            ));
            bar.tick();
        }
    };
    let report = run(&progress);
    print_report(report, bar, json)
}

/// `--threads`, or one per core.
fn generator_threads(threads: Option<usize>) -> usize {
    threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Prints the report (JSON or text); a wrong or lost message fails the run (exit 1).
fn print_report(
    report: std::io::Result<report::Report>,
    bar: Option<indicatif::ProgressBar>,
    json: bool,
) -> Result<(), String> {
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let report = report.map_err(|e| format!("bench failed: {e}"))?;
    if json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.to_text());
    }
    report.failure().map_or(Ok(()), Err)
}

/// A progress spinner on stderr when it is a terminal.
fn spinner() -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal as _;
    std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        bar
    })
}

/// `wslens bench --fanout`.
fn bench_broadcast(args: BenchArgs) -> Result<(), String> {
    let tls = args.tls.config(&args.url)?;
    let config = broadcast::BroadcastConfig {
        url: args.url,
        receiver_urls: args.receivers_url,
        fanout: args.fanout.unwrap_or(1).max(1),
        stalled: args.stalled,
        in_flight: args.in_flight.max(1),
        size: args.size,
        duration: args.duration,
        messages: args.messages,
        warmup: args.warmup,
        threads: generator_threads(args.threads),
        server_pid: args.server_pid,
        tls,
    };
    with_spinner("deliveries", "/s", args.json, |progress| {
        broadcast::run(config, progress)
    })
}
