//! `wslens`: the server (`wslens serve`) and, in the same binary, the command-line client.

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;
use wslens_server::{Server, ServerConfig};

#[derive(Parser)]
#[command(
    name = "wslens",
    version,
    about = "A see-through WebSocket server and client"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve /echo, /chat/<room>, /broadcast, /metrics, /healthz and static files.
    Serve(ServeArgs),
}

fn duration(s: &str) -> Result<Duration, String> {
    if let Ok(secs) = s.parse::<f64>() {
        if secs >= 0.0 && secs.is_finite() {
            return Ok(Duration::from_secs_f64(secs));
        }
    }
    humantime::parse_duration(s).map_err(|e| format!("{e} (examples: 30s, 500ms, 2m, 1.5)"))
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on.
    #[arg(long, default_value_t = 8765)]
    port: u16,
    /// Event loops (threads); default: all cores.
    #[arg(long)]
    threads: Option<usize>,
    /// Directory of static files for plain HTTP GETs.
    #[arg(long, default_value = "www")]
    www: PathBuf,
    /// Most bytes queued per connection before backpressure (echo: stop reading; broadcast:
    /// close 1008, or drop with --drop-on-backpressure).
    #[arg(long, default_value_t = 1 << 20)]
    max_backpressure: usize,
    /// Drop broadcast messages for slow receivers instead of closing them with 1008.
    #[arg(long)]
    drop_on_backpressure: bool,
    /// Ping after this much silence (0 disables).
    #[arg(long, value_parser = duration, default_value = "30s")]
    ping_interval: Duration,
    /// Close if the peer stays silent this long after a ping.
    #[arg(long, value_parser = duration, default_value = "10s")]
    ping_timeout: Duration,
    /// Close after this long without a data message (0 disables).
    #[arg(long, value_parser = duration, default_value = "0")]
    idle_timeout: Duration,
    /// Drop connections that have not sent a complete request head by then (slowloris).
    #[arg(long, value_parser = duration, default_value = "10s")]
    handshake_timeout: Duration,
    /// How long to wait for clients' close frames on SIGINT/SIGTERM.
    #[arg(long, value_parser = duration, default_value = "5s")]
    shutdown_timeout: Duration,
    /// Origin allowed to open WebSockets (repeatable; default: any). Others get 403.
    #[arg(long = "allow-origin")]
    allow_origin: Vec<String>,
    /// Token required to open WebSockets (?token= or Authorization: Bearer); 401 otherwise.
    #[arg(long)]
    token: Option<String>,
    /// Largest message accepted, in bytes (close 1009 past it).
    #[arg(long, default_value_t = 64 << 20)]
    max_message: usize,
    /// Largest frame accepted, in bytes (close 1009 past it).
    #[arg(long, default_value_t = 16 << 20)]
    max_frame: u64,
    /// Most open connections (503 past it).
    #[arg(long, default_value_t = 100_000)]
    max_connections: usize,
    /// Cap on an HTTP request head, in bytes (431 past it).
    #[arg(long, default_value_t = 8192)]
    max_header_bytes: usize,
}

impl ServeArgs {
    fn config(self) -> ServerConfig {
        let nonzero = |d: Duration| (!d.is_zero()).then_some(d);
        let defaults = ServerConfig::default();
        ServerConfig {
            host: self.host,
            port: self.port,
            threads: self.threads.unwrap_or(defaults.threads).max(1),
            www: Some(self.www),
            max_backpressure: self.max_backpressure,
            drop_on_backpressure: self.drop_on_backpressure,
            ping_interval: nonzero(self.ping_interval),
            ping_timeout: self.ping_timeout,
            idle_timeout: nonzero(self.idle_timeout),
            handshake_timeout: self.handshake_timeout,
            shutdown_timeout: self.shutdown_timeout,
            allow_origins: self.allow_origin,
            token: self.token,
            max_message: self.max_message,
            max_frame: self.max_frame,
            max_connections: self.max_connections,
            max_header_bytes: self.max_header_bytes,
            ..defaults
        }
    }
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve(args.config()),
    };
    if let Err(e) = result {
        eprintln!("wslens: {e}");
        std::process::exit(1);
    }
}

fn serve(config: ServerConfig) -> std::io::Result<()> {
    let server = Server::builder(config).standard_routes().build()?;
    let handle = server.shutdown_handle();
    on_termination(move || handle.shutdown())?;
    server.run()
}

/// Calls `f` (once) on SIGINT or SIGTERM.
#[cfg(unix)]
fn on_termination(f: impl FnOnce() + Send + 'static) -> std::io::Result<()> {
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

/// Calls `f` (once) on Ctrl-C.
#[cfg(windows)]
fn on_termination(f: impl FnOnce() + Send + 'static) -> std::io::Result<()> {
    let f = std::sync::Mutex::new(Some(f));
    ctrlc::set_handler(move || {
        if let Some(f) = f.lock().ok().and_then(|mut g| g.take()) {
            f();
        }
    })
    .map_err(std::io::Error::other)
}
