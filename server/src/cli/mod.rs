//! The `wslens` command line (the `cli` feature): the server (`wslens serve`) and, in the same
//! binary, the client subcommands `send`, `listen`, `inspect` and `bench`. The library itself
//! does not need any of it; `wslens-server = { default-features = false }` leaves it out.

mod args;
pub mod bench;
pub mod client;
pub mod inspect;
mod listen;
mod proxy;
mod recorded;
mod replay;
mod send;
mod serve;

use args::{Cli, Command};
use clap::Parser as _;

/// The `wslens` binary: parses the command line, runs the subcommand, exits with its code.
pub fn main() -> ! {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        // A log line that cannot be written (stderr is a pipe whose reader is gone) is lost,
        // not reported with `eprintln!`, which panics on a closed stderr: that killed the
        // thread that had logged, the signal handler's among them, and SIGTERM went unheard.
        .log_internal_errors(false)
        .init();
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Serve(args) => cli_result(serve::serve(*args)),
        Command::Send(args) => cli_result(send::send(args)),
        Command::Listen(args) => cli_result(listen::listen(args)),
        Command::Inspect(args) => inspect::inspect(args),
        Command::Bench(args) => cli_result(bench::bench(args)),
        Command::Proxy(args) => cli_result(proxy::proxy(*args)),
        Command::Replay(args) => replay::replay(args),
    };
    std::process::exit(code);
}

/// Prints `wslens: <reason>` on stderr; exit code 1.
fn fail(reason: &str) -> i32 {
    eprintln!("wslens: {reason}");
    1
}

/// The exit code of a subcommand's result (printing the error).
fn cli_result(r: Result<(), String>) -> i32 {
    match r {
        Ok(()) => 0,
        Err(e) => fail(&e),
    }
}

/// Calls `f` (once) on SIGINT or SIGTERM.
#[cfg(unix)]
pub(crate) fn on_termination(f: impl FnOnce() + Send + 'static) -> std::io::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
    std::thread::Builder::new()
        .name("wslens-signals".into())
        .spawn(move || {
            if signals.forever().next().is_some() {
                tracing::info!("termination signal: closing connections with 1001");
                f();
            }
        })?;
    Ok(())
}

/// Calls `f` on every SIGHUP (the conventional "reload" signal).
#[cfg(unix)]
pub(crate) fn on_hangup(f: impl Fn() + Send + 'static) -> std::io::Result<()> {
    let mut signals = signal_hook::iterator::Signals::new([signal_hook::consts::SIGHUP])?;
    std::thread::Builder::new()
        .name("wslens-sighup".into())
        .spawn(move || {
            for _ in signals.forever() {
                f();
            }
        })?;
    Ok(())
}

/// Windows has no SIGHUP: reloading is not offered there.
#[cfg(windows)]
pub(crate) fn on_hangup(_f: impl Fn() + Send + 'static) -> std::io::Result<()> {
    Ok(())
}

/// Calls `f` (once) on Ctrl-C.
#[cfg(windows)]
pub(crate) fn on_termination(f: impl FnOnce() + Send + 'static) -> std::io::Result<()> {
    let f = std::sync::Mutex::new(Some(f));
    ctrlc::set_handler(move || {
        if let Some(f) = f.lock().ok().and_then(|mut g| g.take()) {
            f();
        }
    })
    .map_err(std::io::Error::other)
}
