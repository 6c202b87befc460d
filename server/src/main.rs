//! `wslens`: the server (`wslens serve`) and, in the same binary, the command-line client.

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;
use wslens::OwnedEvent;
use wslens_server::client::Client;
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
    /// Connect, send each MESSAGE (or each line of stdin), print the replies, close cleanly.
    Send(SendArgs),
    /// Print every message received, one per line, until Ctrl-C or the server closes.
    Listen(ListenArgs),
    /// Explain frames (or an opening handshake) byte by byte, from hex, base64 or raw bytes.
    Inspect(InspectArgs),
    /// Load-generate against an echo endpoint (msg/s, MB/s, round-trip latency), or with
    /// --fanout against a broadcast room (deliveries/s, send → last receiver latency).
    Bench(BenchArgs),
}

/// How a client trusts a wss:// server.
#[derive(clap::Args)]
struct TlsArgs {
    /// Trust the certificates in this PEM file (a CA, or the server's own self-signed
    /// certificate) instead of the built-in roots, for wss://.
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,
    /// Do not verify the server's certificate (development only: anyone on the path could
    /// read and change the connection).
    #[arg(long, conflicts_with = "ca")]
    insecure: bool,
}

impl TlsArgs {
    /// The TLS configuration for `url` (`None` for ws://).
    fn config(&self, url: &str) -> Result<Option<std::sync::Arc<rustls::ClientConfig>>, String> {
        if !url.to_ascii_lowercase().starts_with("wss:") {
            return Ok(None);
        }
        if self.insecure {
            eprintln!(
                "wslens: WARNING: --insecure: the server's certificate is NOT verified; \
                 anyone on the path can read and change this connection"
            );
        }
        wslens_server::tls::client_config(self.ca.as_deref(), self.insecure).map(Some)
    }
}

#[derive(clap::Args)]
struct BenchArgs {
    /// ws:// or wss:// URL of an echo endpoint.
    url: String,
    #[command(flatten)]
    tls: TlsArgs,
    /// Connections.
    #[arg(long, default_value_t = 100)]
    connections: usize,
    /// Messages each connection keeps in flight.
    #[arg(long, default_value_t = 1)]
    in_flight: usize,
    /// Payload bytes per message.
    #[arg(long, default_value_t = 20)]
    size: usize,
    /// Text messages (UTF-8 validated on both ends).
    #[arg(long, conflicts_with = "binary")]
    text: bool,
    /// Binary messages (the default).
    #[arg(long)]
    binary: bool,
    /// Measure for this long after the warm-up.
    #[arg(long, value_parser = duration, default_value = "10s", conflicts_with = "messages")]
    duration: Duration,
    /// Stop after this many echoes instead.
    #[arg(long)]
    messages: Option<u64>,
    /// Warm-up excluded from the statistics.
    #[arg(long, value_parser = duration, default_value = "1s")]
    warmup: Duration,
    /// Generator threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Offer permessage-deflate (RFC 7692) on every connection.
    #[arg(long)]
    deflate: bool,
    /// Broadcast mode: this many receivers and one sender join the room at URL (e.g.
    /// /broadcast); --in-flight bounds the messages not yet received by every receiver.
    #[arg(long, conflicts_with_all = ["text", "connections"])]
    fanout: Option<usize>,
    /// Broadcast mode: of the receivers, this many connect but never read.
    #[arg(long, default_value_t = 0, requires = "fanout")]
    stalled: usize,
    /// The server's process id (same machine), to report its CPU use and messages (or, with
    /// --fanout, deliveries) per server CPU-second.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Fixed offered load: send this many messages per second in total (open loop, paced
    /// over the connections with a free slot) instead of one per echo received.
    #[arg(long, value_parser = positive_rate, conflicts_with = "fanout")]
    rate: Option<f64>,
}

#[derive(clap::Args)]
struct ConnectArgs {
    /// ws://host[:port]/path or wss://…
    url: String,
    #[command(flatten)]
    tls: TlsArgs,
    /// Extra request header "Name: value" (repeatable).
    #[arg(long = "header", short = 'H')]
    header: Vec<String>,
    /// Subprotocol to offer (repeatable).
    #[arg(long = "subprotocol")]
    subprotocol: Vec<String>,
    /// Origin header.
    #[arg(long)]
    origin: Option<String>,
    /// Connect/handshake timeout, and how long `send` waits for replies.
    #[arg(long, value_parser = duration, default_value = "5s")]
    timeout: Duration,
    /// Offer permessage-deflate (RFC 7692): messages are compressed both ways if the server
    /// agrees.
    #[arg(long)]
    deflate: bool,
}

impl ConnectArgs {
    fn options(&self) -> Result<wslens_server::client::ClientOptions, String> {
        let mut headers = Vec::new();
        for h in &self.header {
            let (k, v) = h
                .split_once(':')
                .ok_or_else(|| format!("--header {h:?}: expected \"Name: value\""))?;
            headers.push((k.trim().to_owned(), v.trim().to_owned()));
        }
        Ok(wslens_server::client::ClientOptions {
            headers,
            protocols: self.subprotocol.clone(),
            origin: self.origin.clone(),
            timeout: self.timeout,
            deflate: self.deflate.then(wslens::deflate::DeflateConfig::default),
            tls: self.tls.config(&self.url)?,
        })
    }
}

#[derive(clap::Args)]
struct SendArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    /// Messages to send; none: read lines from stdin.
    message: Vec<String>,
    /// Send binary messages (the message's bytes) instead of text.
    #[arg(long)]
    binary: bool,
}

#[derive(clap::Args)]
struct ListenArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    /// One JSON object per event: type, opcode, length, time, data.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct InspectArgs {
    /// Hex bytes (spaces allowed), base64 with --base64, or `-` (or nothing) to read stdin.
    input: Vec<String>,
    /// The input is base64.
    #[arg(long, conflicts_with = "raw")]
    base64: bool,
    /// Read raw bytes from stdin.
    #[arg(long)]
    raw: bool,
    /// Who received the bytes: server (frames must be masked) or client; default: guessed
    /// from the first frame's mask bit.
    #[arg(long, value_parser = ["server", "client"])]
    role: Option<String>,
    /// Colour: auto (on a terminal), always, never.
    #[arg(long, default_value = "auto", value_parser = ["auto", "always", "never"])]
    color: String,
    /// Read the frames as if permessage-deflate (RFC 7692) was negotiated: RSV1 means
    /// "compressed", and compressed messages are shown inflated.
    #[arg(long)]
    deflate: bool,
}

fn duration(s: &str) -> Result<Duration, String> {
    if let Ok(secs) = s.parse::<f64>() {
        if secs >= 0.0 && secs.is_finite() {
            return Ok(Duration::from_secs_f64(secs));
        }
    }
    humantime::parse_duration(s).map_err(|e| format!("{e} (examples: 30s, 500ms, 2m, 1.5)"))
}

/// A message rate: a positive, finite number of messages per second.
fn positive_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(r) if r > 0.0 && r.is_finite() => Ok(r),
        _ => Err("a positive number of messages per second (e.g. 50000)".into()),
    }
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
    /// Decline permessage-deflate (RFC 7692); by default it is negotiated with clients that
    /// offer it.
    #[arg(long)]
    no_deflate: bool,
    /// Largest LZ77 window, as log2 bytes (8-15), for the server's compressor and, when the
    /// client lets the server choose, the client's: smaller saves memory, compresses less.
    #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u8).range(8..=15))]
    deflate_window_bits: u8,
    /// No context takeover either way: compression state lives for one message, so idle
    /// connections hold none (compresses repetitive traffic less well). By default only the
    /// server's side has none; the client's window is kept.
    #[arg(long, conflicts_with = "deflate_context_takeover")]
    deflate_no_context_takeover: bool,
    /// Context takeover both ways: the best ratio on small repetitive messages, at ~430 KB per
    /// connection, idle or not.
    #[arg(long)]
    deflate_context_takeover: bool,
    /// Compression level 0-9 (1: fastest, 9: smallest).
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u8).range(0..=9))]
    deflate_level: u8,
    /// zlib memLevel 1-9 for the compressor's buffers (1: 512 bytes, 8: 64 KiB).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u8).range(1..=9))]
    deflate_mem_level: u8,
    /// Serve wss:// and https:// too, with this certificate chain (PEM, leaf first).
    #[arg(long, requires = "tls_key", conflicts_with = "tls_self_signed")]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Serve wss:// and https:// with a development certificate made at start-up for
    /// localhost, 127.0.0.1 and ::1; prints its SHA-256 fingerprint and where its PEM is.
    #[arg(long)]
    tls_self_signed: bool,
    /// Where --tls-self-signed writes the certificate (PEM), for clients' --ca
    /// [default: wslens-dev-cert-<TLS port>.pem in the temporary directory].
    #[arg(long, requires = "tls_self_signed")]
    tls_cert_out: Option<PathBuf>,
    /// Port of the TLS listener (wss://, https://).
    #[arg(long, default_value_t = 8766)]
    tls_port: u16,
    /// Only the TLS listener: no plain ws:// and http://.
    #[arg(long)]
    tls_only: bool,
}

impl ServeArgs {
    /// The TLS listener, if asked for; with `--tls-self-signed`, makes the certificate,
    /// writes its PEM and prints where, with the fingerprint.
    fn tls(&self) -> Result<(Option<wslens_server::TlsListen>, Option<DevCert>), String> {
        use wslens_server::tls;
        let mut dev_cert = None;
        let config = match (&self.tls_cert, &self.tls_key, self.tls_self_signed) {
            (Some(cert), Some(key), _) => tls::server_config_from_pem(cert, key)?,
            (_, _, true) => {
                let dev = tls::self_signed()?;
                dev_cert = Some(DevCert {
                    pem: dev.cert_pem,
                    fingerprint: dev.fingerprint,
                    out: self.tls_cert_out.clone(),
                });
                dev.config
            }
            _ if self.tls_only => {
                return Err(
                    "--tls-only needs --tls-cert and --tls-key, or --tls-self-signed".into(),
                )
            }
            _ => return Ok((None, None)),
        };
        let listen = wslens_server::TlsListen {
            port: self.tls_port,
            config,
        };
        Ok((Some(listen), dev_cert))
    }

    fn config(self) -> Result<(ServerConfig, Option<DevCert>), String> {
        let nonzero = |d: Duration| (!d.is_zero()).then_some(d);
        let defaults = ServerConfig::default();
        let (tls, dev_cert) = self.tls()?;
        if tls.is_some() && !self.tls_only && self.tls_port == self.port && self.port != 0 {
            return Err(format!(
                "--tls-port {} is also the plain --port: pick another, or --tls-only",
                self.port
            ));
        }
        let config = ServerConfig {
            host: self.host,
            port: self.port,
            plain: !self.tls_only,
            tls,
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
            deflate: (!self.no_deflate).then_some(wslens::deflate::DeflateConfig {
                server_no_context_takeover: !self.deflate_context_takeover,
                client_no_context_takeover: self.deflate_no_context_takeover,
                server_max_window_bits: self.deflate_window_bits,
                client_max_window_bits: self.deflate_window_bits,
                level: self.deflate_level,
                mem_level: self.deflate_mem_level,
            }),
            ..defaults
        };
        Ok((config, dev_cert))
    }
}

/// The `--tls-self-signed` certificate, written (and announced) once the listeners are
/// bound, so that a server that fails to start leaves a running one's file alone.
struct DevCert {
    pem: String,
    fingerprint: String,
    out: Option<PathBuf>,
}

impl DevCert {
    fn publish(self, tls_port: u16) -> Result<(), String> {
        let path = self.out.unwrap_or_else(|| {
            std::env::temp_dir().join(format!("wslens-dev-cert-{tls_port}.pem"))
        });
        std::fs::write(&path, &self.pem)
            .map_err(|e| format!("writing the certificate to {}: {e}", path.display()))?;
        println!(
            "TLS: self-signed development certificate for {}\n  SHA-256 fingerprint: {}\n  certificate (PEM, for clients' --ca): {}",
            wslens_server::tls::SELF_SIGNED_NAMES.join(", "),
            self.fingerprint,
            path.display()
        );
        use std::io::Write as _;
        let _ = std::io::stdout().flush();
        Ok(())
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
    let code = match cli.command {
        Command::Serve(args) => cli_result(args.config().and_then(|(c, d)| serve(c, d))),
        Command::Send(args) => cli_result(send(args)),
        Command::Listen(args) => cli_result(listen(args)),
        Command::Inspect(args) => inspect(args),
        Command::Bench(args) => cli_result(bench(args)),
    };
    std::process::exit(code);
}

fn fail(reason: &str) -> i32 {
    eprintln!("wslens: {reason}");
    1
}

fn cli_result(r: Result<(), String>) -> i32 {
    match r {
        Ok(()) => 0,
        Err(e) => fail(&e),
    }
}

/// Prints one received message; false for events that end the conversation.
fn print_event(event: &OwnedEvent, json: bool, started: std::time::Instant) -> bool {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let t = started.elapsed().as_secs_f64();
    let _ = match (event, json) {
        (OwnedEvent::Text(s), false) => writeln!(out, "{s}"),
        (OwnedEvent::Binary(b), false) => writeln!(out, "{}", hex(b)),
        (OwnedEvent::Text(s), true) => writeln!(
            out,
            r#"{{"type":"text","opcode":1,"length":{},"time":{t:.6},"data":{}}}"#,
            s.len(),
            wslens_server::apps::json_string(s)
        ),
        (OwnedEvent::Binary(b), true) => writeln!(
            out,
            r#"{{"type":"binary","opcode":2,"length":{},"time":{t:.6},"hex":"{}"}}"#,
            b.len(),
            hex(b).replace(' ', "")
        ),
        (OwnedEvent::Ping(b), true) => writeln!(
            out,
            r#"{{"type":"ping","opcode":9,"length":{},"time":{t:.6}}}"#,
            b.len()
        ),
        (OwnedEvent::Pong(b), true) => writeln!(
            out,
            r#"{{"type":"pong","opcode":10,"length":{},"time":{t:.6}}}"#,
            b.len()
        ),
        (OwnedEvent::Close { code, reason }, true) => writeln!(
            out,
            r#"{{"type":"close","opcode":8,"code":{},"reason":{},"time":{t:.6}}}"#,
            code.map_or("null".into(), |c| c.0.to_string()),
            wslens_server::apps::json_string(reason)
        ),
        _ => Ok(()),
    };
    !matches!(event, OwnedEvent::Close { .. })
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Reports how the server closed: Ok for 1000/1001, Err otherwise.
fn closed(code: Option<wslens::CloseCode>, reason: &str) -> Result<(), String> {
    match code {
        Some(c) if c.0 == 1000 || c.0 == 1001 => {
            eprintln!(
                "closed: {} ({}){}",
                c.0,
                c.meaning(),
                if reason.is_empty() {
                    String::new()
                } else {
                    format!(" {reason:?}")
                }
            );
            Ok(())
        }
        Some(c) => Err(format!(
            "closed abnormally: {} ({}) {reason:?}",
            c.0,
            c.meaning()
        )),
        None => Err("closed without a status code".into()),
    }
}

fn send(args: SendArgs) -> Result<(), String> {
    use std::io::BufRead as _;
    let opts = args.connect.options()?;
    let messages: Vec<String> = if args.message.is_empty() {
        std::io::stdin()
            .lock()
            .lines()
            .collect::<Result<_, _>>()
            .map_err(|e| e.to_string())?
    } else {
        args.message.clone()
    };
    let (mut client, _) = Client::connect(&args.connect.url, &opts).map_err(|e| e.to_string())?;
    let started = std::time::Instant::now();
    let mut replies = 0;
    for m in &messages {
        let sent = if args.binary {
            client.send_binary(m.as_bytes())
        } else {
            client.send_text(m)
        };
        sent.map_err(|e| e.to_string())?;
    }
    // Replies: until as many as were sent have arrived, or `--timeout` of silence.
    while replies < messages.len() {
        match client
            .next_event(Some(args.connect.timeout))
            .map_err(|e| e.to_string())?
        {
            None => break,
            Some(OwnedEvent::Close { code, reason }) => return closed(code, &reason),
            Some(e @ (OwnedEvent::Text(_) | OwnedEvent::Binary(_))) => {
                print_event(&e, false, started);
                replies += 1;
            }
            Some(_) => {}
        }
    }
    client
        .close(wslens::CloseCode::NORMAL, "")
        .map_err(|e| e.to_string())?;
    loop {
        match client
            .next_event(Some(args.connect.timeout))
            .map_err(|e| e.to_string())?
        {
            Some(OwnedEvent::Close { code, .. }) => {
                return if code.is_none_or(|c| c.0 == 1000) {
                    Ok(())
                } else {
                    Err(format!("close answered with {code:?}"))
                };
            }
            Some(_) => {}
            None => return Err("no close reply from the server".into()),
        }
    }
}

fn listen(args: ListenArgs) -> Result<(), String> {
    let opts = args.connect.options()?;
    let (mut client, resp) =
        Client::connect(&args.connect.url, &opts).map_err(|e| e.to_string())?;
    eprintln!(
        "connected to {}{}",
        args.connect.url,
        resp.protocol
            .map(|p| format!(" (subprotocol {p})"))
            .unwrap_or_default()
    );
    let started = std::time::Instant::now();
    let interrupted = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = interrupted.clone();
    on_termination(move || flag.store(true, std::sync::atomic::Ordering::Release))
        .map_err(|e| e.to_string())?;
    let mut closing = false;
    loop {
        if !closing && interrupted.load(std::sync::atomic::Ordering::Acquire) {
            // Ctrl-C: close cleanly (1000) and wait for the server's reply.
            client
                .close(wslens::CloseCode::NORMAL, "")
                .map_err(|e| e.to_string())?;
            closing = true;
        }
        match client
            .next_event(Some(Duration::from_millis(200)))
            .map_err(|e| e.to_string())?
        {
            Some(OwnedEvent::Close { code, reason }) => {
                let event = OwnedEvent::Close {
                    code,
                    reason: reason.clone(),
                };
                print_event(&event, args.json, started);
                return closed(code, &reason);
            }
            Some(e) => {
                print_event(&e, args.json, started);
            }
            None if closing && client.state() == wslens::State::Closed => return Ok(()),
            None => {}
        }
    }
}

fn bench(args: BenchArgs) -> Result<(), String> {
    if args.fanout.is_some() {
        return bench_broadcast(args);
    }
    let config = wslens_server::bench::BenchConfig {
        tls: args.tls.config(&args.url)?,
        url: args.url,
        connections: args.connections.max(1),
        in_flight: args.in_flight.max(1),
        size: args.size,
        text: args.text,
        duration: args.duration,
        messages: args.messages,
        warmup: args.warmup,
        threads: args
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
        deflate: args.deflate.then(wslens::deflate::DeflateConfig::default),
        rate: args.rate,
        server_pid: args.server_pid,
    };
    let bar = spinner();
    let progress = |echoed: u64, elapsed: Duration| {
        if let Some(bar) = &bar {
            let rate = echoed as f64 / elapsed.as_secs_f64().max(1e-9);
            bar.set_message(format!(
                "{echoed} echoes, {rate:.0} msg/s, {:.1} s",
                elapsed.as_secs_f64()
            ));
            bar.tick();
        }
    };
    let report =
        wslens_server::bench::run(config, &progress).map_err(|e| format!("bench failed: {e}"))?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if args.json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.to_text());
    }
    if report.mismatches > 0 {
        return Err(format!(
            "{} echoes did not match what was sent",
            report.mismatches
        ));
    }
    Ok(())
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

fn bench_broadcast(args: BenchArgs) -> Result<(), String> {
    let tls = args.tls.config(&args.url)?;
    let config = wslens_server::bench_broadcast::BroadcastConfig {
        url: args.url,
        fanout: args.fanout.unwrap_or(1).max(1),
        stalled: args.stalled,
        in_flight: args.in_flight.max(1),
        size: args.size,
        duration: args.duration,
        messages: args.messages,
        warmup: args.warmup,
        threads: args
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
        server_pid: args.server_pid,
        tls,
    };
    let bar = spinner();
    let progress = |delivered: u64, elapsed: Duration| {
        if let Some(bar) = &bar {
            let rate = delivered as f64 / elapsed.as_secs_f64().max(1e-9);
            bar.set_message(format!(
                "{delivered} deliveries, {rate:.0}/s, {:.1} s",
                elapsed.as_secs_f64()
            ));
            bar.tick();
        }
    };
    let report = wslens_server::bench_broadcast::run(config, &progress)
        .map_err(|e| format!("bench failed: {e}"))?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if args.json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.to_text());
    }
    if report.mismatches > 0 || report.lost > 0 {
        return Err(format!(
            "{} messages did not match what was sent, {} were lost",
            report.mismatches, report.lost
        ));
    }
    Ok(())
}

fn inspect(args: InspectArgs) -> i32 {
    use std::io::{IsTerminal as _, Read as _};
    use wslens_server::inspect_cmd::{decode_input, report_with, InputFormat, Palette};
    let format = if args.raw {
        InputFormat::Raw
    } else if args.base64 {
        InputFormat::Base64
    } else {
        InputFormat::Hex
    };
    let text: Vec<u8> = if args.input.is_empty() || args.input == ["-"] || args.raw {
        let mut buf = Vec::new();
        if let Err(e) = std::io::stdin().lock().read_to_end(&mut buf) {
            return fail(&format!("reading stdin: {e}"));
        }
        buf
    } else {
        args.input.join(" ").into_bytes()
    };
    let bytes = match decode_input(&text, format) {
        Ok(b) if b.is_empty() => return fail("no bytes to inspect"),
        Ok(b) => b,
        Err(e) => return fail(&e),
    };
    let role = match args.role.as_deref() {
        Some("server") => Some(wslens::Role::Server),
        Some("client") => Some(wslens::Role::Client),
        _ => None,
    };
    let color = match args.color.as_str() {
        "always" => true,
        "never" => false,
        _ => std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    let (text, broken) = report_with(&bytes, role, Palette::new(color), args.deflate);
    print!("{text}");
    i32::from(broken)
}

fn serve(config: ServerConfig, dev_cert: Option<DevCert>) -> Result<(), String> {
    let server = Server::builder(config)
        .standard_routes()
        .build()
        .map_err(|e| e.to_string())?;
    if let (Some(dev), Some(addr)) = (dev_cert, server.tls_local_addr()) {
        dev.publish(addr.port())?;
    }
    let handle = server.shutdown_handle();
    on_termination(move || handle.shutdown()).map_err(|e| e.to_string())?;
    server.run().map_err(|e| e.to_string())
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
