//! The command line: clap's types for every subcommand and its flags.

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "wslens",
    version,
    about = "A see-through WebSocket server and client"
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Serve /echo, /chat/<room>, /broadcast, /metrics, /healthz and static files.
    Serve(Box<ServeArgs>),
    /// Connect, send each MESSAGE (or each line of stdin), print the replies, close cleanly.
    Send(SendArgs),
    /// Print every message received, one per line, until Ctrl-C or the server closes.
    Listen(ListenArgs),
    /// Explain frames (or an opening handshake) byte by byte, from hex, base64 or raw bytes.
    Inspect(InspectArgs),
    /// Load-generate against an echo endpoint (msg/s, MB/s, round-trip latency), or with
    /// --fanout against a broadcast room (deliveries/s, send → last receiver latency).
    Bench(BenchArgs),
    /// Relay clients to a ws:// or wss:// upstream, printing every frame of both legs, and
    /// record the sessions: pcapng (--record), HAR (--har), TLS key log (--keylog).
    Proxy(Box<ProxyArgs>),
    /// Replay the client side of a recorded session (pcap, pcapng or HAR) against a server,
    /// with its original timing, and report where the replies differ.
    Replay(ReplayArgs),
}

/// `wslens proxy`.
#[derive(clap::Args)]
pub(crate) struct ProxyArgs {
    /// The upstream: ws://host[:port][/path] or wss://…. A path other than / replaces the
    /// one each client asks for; otherwise the client's path (and query) is forwarded.
    pub(crate) upstream: String,
    /// Where clients connect.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9000")]
    pub(crate) listen: String,
    /// Record both legs of every connection to this pcapng file: synthesised TCP/IP packets
    /// carrying the real bytes (TLS legs in plaintext) with their times, for Wireshark,
    /// tshark and `wslens inspect --pcap`.
    #[arg(long, value_name = "FILE.pcapng")]
    pub(crate) record: Option<PathBuf>,
    /// Record every session to this HAR file in Chrome DevTools' shape
    /// (`_webSocketMessages`).
    #[arg(long, value_name = "FILE.har")]
    pub(crate) har: Option<PathBuf>,
    /// Append the TLS secrets of both legs to this file (NSS key log format, as
    /// SSLKEYLOGFILE), so a capture of the encrypted traffic can be decrypted.
    #[arg(long, value_name = "FILE")]
    pub(crate) keylog: Option<PathBuf>,
    /// One JSON object per line instead of text.
    #[arg(long)]
    pub(crate) json: bool,
    /// Listen with TLS (wss://) with this certificate chain (PEM, leaf first).
    #[arg(long, requires = "tls_key", conflicts_with = "tls_self_signed")]
    pub(crate) tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, requires = "tls_cert")]
    pub(crate) tls_key: Option<PathBuf>,
    /// Listen with TLS (wss://) with a development certificate made at start-up for
    /// localhost, 127.0.0.1 and ::1.
    #[arg(long)]
    pub(crate) tls_self_signed: bool,
    /// Where --tls-self-signed writes its certificate (PEM, for clients' --ca)
    /// [default: wslens-proxy-cert-<port>.pem in the temporary directory].
    #[arg(long, requires = "tls_self_signed")]
    pub(crate) tls_cert_out: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) tls: TlsArgs,
    /// Most connections relayed at once; more are refused.
    #[arg(long, default_value_t = 64)]
    pub(crate) max_connections: usize,
    /// Time allowed for a client's request head, and for connecting to the upstream.
    #[arg(long, default_value = "10s", value_parser = duration)]
    pub(crate) timeout: Duration,
}

/// `wslens replay`.
#[derive(clap::Args)]
pub(crate) struct ReplayArgs {
    /// A capture (.pcap, .pcapng) or a HAR (.har) holding the session.
    pub(crate) file: PathBuf,
    /// The server to replay against: ws://… or wss://….
    #[arg(long, value_name = "URL")]
    pub(crate) to: String,
    /// Which session of the file (numbered from 1, as `inspect --pcap` and `--har` list them).
    #[arg(long, default_value_t = 1)]
    pub(crate) session: usize,
    /// Replay this many times faster than recorded (0.5: half as fast); 0 sends at once.
    #[arg(long, default_value_t = 1.0)]
    pub(crate) speed: f64,
    /// How long to wait for the remaining replies after the last message is sent.
    #[arg(long, default_value = "2s", value_parser = duration)]
    pub(crate) wait: Duration,
    /// One JSON object per line instead of text.
    #[arg(long)]
    pub(crate) json: bool,
    #[command(flatten)]
    pub(crate) tls: TlsArgs,
}

/// How a client trusts a wss:// server.
#[derive(clap::Args)]
pub(crate) struct TlsArgs {
    /// Trust the certificates in this PEM file (a CA, or the server's own self-signed
    /// certificate) instead of the built-in roots, for wss://.
    #[arg(long, value_name = "FILE")]
    pub(crate) ca: Option<PathBuf>,
    /// Do not verify the server's certificate (development only: anyone on the path could
    /// read and change the connection).
    #[arg(long, conflicts_with = "ca")]
    pub(crate) insecure: bool,
}

impl TlsArgs {
    /// The TLS configuration for `url` (`None` for ws://).
    pub(crate) fn config(
        &self,
        url: &str,
    ) -> Result<Option<std::sync::Arc<rustls::ClientConfig>>, String> {
        if !url.to_ascii_lowercase().starts_with("wss:") {
            return Ok(None);
        }
        if self.insecure {
            eprintln!(
                "wslens: WARNING: --insecure: the server's certificate is NOT verified; \
                 anyone on the path can read and change this connection"
            );
        }
        crate::tls::client_config(self.ca.as_deref(), self.insecure).map(Some)
    }
}

#[derive(clap::Args)]
pub(crate) struct BenchArgs {
    /// ws:// or wss:// URL of an echo endpoint.
    pub(crate) url: String,
    #[command(flatten)]
    pub(crate) tls: TlsArgs,
    /// Connections.
    #[arg(long, default_value_t = 100)]
    pub(crate) connections: usize,
    /// Messages each connection keeps in flight.
    #[arg(long, default_value_t = 1)]
    pub(crate) in_flight: usize,
    /// Payload bytes per message.
    #[arg(long, default_value_t = 20)]
    pub(crate) size: usize,
    /// Text messages (UTF-8 validated on both ends).
    #[arg(long, conflicts_with = "binary")]
    pub(crate) text: bool,
    /// Binary messages (the default).
    #[arg(long)]
    pub(crate) binary: bool,
    /// Measure for this long after the warm-up.
    #[arg(long, value_parser = duration, default_value = "10s", conflicts_with = "messages")]
    pub(crate) duration: Duration,
    /// Stop after this many echoes instead.
    #[arg(long)]
    pub(crate) messages: Option<u64>,
    /// Warm-up excluded from the statistics.
    #[arg(long, value_parser = duration, default_value = "1s")]
    pub(crate) warmup: Duration,
    /// Generator threads (default: all cores).
    #[arg(long)]
    pub(crate) threads: Option<usize>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub(crate) json: bool,
    /// Offer permessage-deflate (RFC 7692) on every connection.
    #[arg(long)]
    pub(crate) deflate: bool,
    /// Broadcast mode: this many receivers and one sender join the room at URL (e.g.
    /// /broadcast); --in-flight bounds the messages not yet received by every receiver.
    #[arg(long, conflicts_with_all = ["text", "connections"])]
    pub(crate) fanout: Option<usize>,
    /// Broadcast mode: of the receivers, this many connect but never read.
    #[arg(long, default_value_t = 0, requires = "fanout")]
    pub(crate) stalled: usize,
    /// Broadcast mode: connect the receivers to these URLs in turn (repeatable; e.g. the
    /// same room on each node of a --backplane cluster) while the sender uses URL.
    #[arg(long = "receivers-url", value_name = "URL", requires = "fanout")]
    pub(crate) receivers_url: Vec<String>,
    /// The server's process id (same machine), to report its CPU use and messages (or, with
    /// --fanout, deliveries) per server CPU-second.
    #[arg(long)]
    pub(crate) server_pid: Option<u32>,
    /// Fixed offered load: send this many messages per second in total (open loop, paced
    /// over the connections with a free slot) instead of one per echo received.
    #[arg(long, value_parser = positive_rate, conflicts_with = "fanout")]
    pub(crate) rate: Option<f64>,
}

#[derive(clap::Args)]
pub(crate) struct ConnectArgs {
    /// ws://host[:port]/path or wss://…
    pub(crate) url: String,
    #[command(flatten)]
    pub(crate) tls: TlsArgs,
    /// Extra request header "Name: value" (repeatable).
    #[arg(long = "header", short = 'H')]
    pub(crate) header: Vec<String>,
    /// Subprotocol to offer (repeatable).
    #[arg(long = "subprotocol")]
    pub(crate) subprotocol: Vec<String>,
    /// Origin header.
    #[arg(long)]
    pub(crate) origin: Option<String>,
    /// Connect/handshake timeout, and how long `send` waits for replies.
    #[arg(long, value_parser = duration, default_value = "5s")]
    pub(crate) timeout: Duration,
    /// Offer permessage-deflate (RFC 7692): messages are compressed both ways if the server
    /// agrees.
    #[arg(long)]
    pub(crate) deflate: bool,
}

impl ConnectArgs {
    pub(crate) fn options(&self) -> Result<crate::cli::client::ClientOptions, String> {
        let mut headers = Vec::new();
        for h in &self.header {
            let (k, v) = h
                .split_once(':')
                .ok_or_else(|| format!("--header {h:?}: expected \"Name: value\""))?;
            headers.push((k.trim().to_owned(), v.trim().to_owned()));
        }
        Ok(crate::cli::client::ClientOptions {
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
pub(crate) struct SendArgs {
    #[command(flatten)]
    pub(crate) connect: ConnectArgs,
    /// Messages to send; none: read lines from stdin.
    pub(crate) message: Vec<String>,
    /// Send binary messages (the message's bytes) instead of text.
    #[arg(long)]
    pub(crate) binary: bool,
}

#[derive(clap::Args)]
pub(crate) struct ListenArgs {
    #[command(flatten)]
    pub(crate) connect: ConnectArgs,
    /// One JSON object per event: type, opcode, length, time, data.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(clap::Args)]
pub(crate) struct InspectArgs {
    /// Hex bytes (spaces allowed), base64 with --base64, or `-` (or nothing) to read stdin.
    pub(crate) input: Vec<String>,
    /// The input is base64.
    #[arg(long, conflicts_with = "raw")]
    pub(crate) base64: bool,
    /// Read raw bytes from stdin.
    #[arg(long)]
    pub(crate) raw: bool,
    /// Who received the bytes: server (frames must be masked) or client; default: guessed
    /// from the first frame's mask bit.
    #[arg(long, value_enum)]
    pub(crate) role: Option<RoleArg>,
    /// Colour: auto (on a terminal), always, never.
    #[arg(long, value_enum, default_value_t = ColorArg::Auto)]
    pub(crate) color: ColorArg,
    /// Read the frames as if permessage-deflate (RFC 7692) was negotiated: RSV1 means
    /// "compressed", and compressed messages are shown inflated.
    #[arg(long)]
    pub(crate) deflate: bool,
    /// Read a capture (pcap or pcapng: Ethernet, Linux cooked, loopback or raw IP; IPv4 and
    /// IPv6): each TCP connection is reassembled both ways and every WebSocket session in it
    /// is read by the core, handshake, frames, messages and errors.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["input", "base64", "raw", "har", "deflate", "role"])]
    pub(crate) pcap: Option<PathBuf>,
    /// Read the WebSocket sessions of a HAR file (Chrome DevTools' shape). A HAR keeps
    /// payloads, not frames: the frames shown are reconstructed.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["input", "base64", "raw", "deflate", "role"])]
    pub(crate) har: Option<PathBuf>,
    /// With --pcap or --har: one JSON object per line instead of text.
    #[arg(long)]
    pub(crate) json: bool,
    /// With --pcap or --har: only session N (numbered from 1 in the order they began).
    #[arg(long, value_name = "N")]
    pub(crate) session: Option<usize>,
}

/// `inspect --role`: which end received the bytes.
#[derive(Clone, Copy, PartialEq, Eq, Debug, ValueEnum)]
pub(crate) enum RoleArg {
    Server,
    Client,
}

impl From<RoleArg> for wslens::Role {
    fn from(r: RoleArg) -> Self {
        match r {
            RoleArg::Server => wslens::Role::Server,
            RoleArg::Client => wslens::Role::Client,
        }
    }
}

/// `inspect --color`: when to colour the report.
#[derive(Clone, Copy, PartialEq, Eq, Debug, ValueEnum)]
pub(crate) enum ColorArg {
    Auto,
    Always,
    Never,
}

/// A duration flag: plain seconds (`1.5`) or humantime (`30s`, `500ms`, `2m`).
pub(crate) fn duration(s: &str) -> Result<Duration, String> {
    if let Ok(secs) = s.parse::<f64>() {
        if secs >= 0.0 && secs.is_finite() {
            return Ok(Duration::from_secs_f64(secs));
        }
    }
    humantime::parse_duration(s).map_err(|e| format!("{e} (examples: 30s, 500ms, 2m, 1.5)"))
}

/// A message rate: a positive, finite number of messages per second.
pub(crate) fn positive_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(r) if r > 0.0 && r.is_finite() => Ok(r),
        _ => Err("a positive number of messages per second (e.g. 50000)".into()),
    }
}

#[derive(clap::Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub(crate) host: String,
    /// Port to listen on.
    #[arg(long, default_value_t = 8765)]
    pub(crate) port: u16,
    /// Event loops (threads); default: all cores.
    #[arg(long)]
    pub(crate) threads: Option<usize>,
    /// Directory of static files for plain HTTP GETs.
    #[arg(long, default_value = "www")]
    pub(crate) www: PathBuf,
    /// Most bytes queued per connection before backpressure (echo: stop reading; broadcast:
    /// close 1008, or drop with --drop-on-backpressure).
    #[arg(long, default_value_t = 1 << 20)]
    pub(crate) max_backpressure: usize,
    /// Drop broadcast messages for slow receivers instead of closing them with 1008.
    #[arg(long)]
    pub(crate) drop_on_backpressure: bool,
    /// Ping after this much silence (0 disables).
    #[arg(long, value_parser = duration, default_value = "30s")]
    pub(crate) ping_interval: Duration,
    /// Close if the peer stays silent this long after a ping.
    #[arg(long, value_parser = duration, default_value = "10s")]
    pub(crate) ping_timeout: Duration,
    /// Close after this long without a data message (0 disables).
    #[arg(long, value_parser = duration, default_value = "0")]
    pub(crate) idle_timeout: Duration,
    /// Drop connections that have not sent a complete request head by then (slowloris).
    #[arg(long, value_parser = duration, default_value = "10s")]
    pub(crate) handshake_timeout: Duration,
    /// How long to wait for clients' close frames on SIGINT/SIGTERM.
    #[arg(long, value_parser = duration, default_value = "5s")]
    pub(crate) shutdown_timeout: Duration,
    /// On SIGINT/SIGTERM, stop accepting at once but keep serving open connections this long
    /// before closing them with 1001 (0: close at once).
    #[arg(long, value_parser = duration, default_value = "0")]
    pub(crate) drain_timeout: Duration,
    /// Share the port with other servers (SO_REUSEPORT; Unix): a new `wslens serve
    /// --reuse-port` on the same port takes every new connection (Linux) while this one,
    /// stopped with SIGTERM, drains.
    #[arg(long)]
    pub(crate) reuse_port: bool,
    /// Origin allowed to open WebSockets (repeatable; default: any). Others get 403.
    #[arg(long = "allow-origin")]
    pub(crate) allow_origin: Vec<String>,
    /// Token required to open WebSockets (?token= or Authorization: Bearer); 401 otherwise.
    #[arg(long)]
    pub(crate) token: Option<String>,
    /// Largest message accepted, in bytes (close 1009 past it).
    #[arg(long, default_value_t = 64 << 20)]
    pub(crate) max_message: usize,
    /// Largest frame accepted, in bytes (close 1009 past it).
    #[arg(long, default_value_t = 16 << 20)]
    pub(crate) max_frame: u64,
    /// Most open connections (503 past it).
    #[arg(long, default_value_t = 100_000)]
    pub(crate) max_connections: usize,
    /// Cap on an HTTP request head, in bytes (431 past it).
    #[arg(long, default_value_t = 8192)]
    pub(crate) max_header_bytes: usize,
    /// Most open connections from one client address (IPv6: per /64); past it, 503 (TLS: a
    /// close). 0: no limit. Browsers open at most 255 (Chromium) or 200 (Firefox) in all.
    #[arg(long, default_value_t = 1024)]
    pub(crate) max_connections_per_ip: usize,
    /// Most new connections a second from one client address (a bucket of one second's
    /// worth); past it, 503 (TLS: a close). 0: no limit.
    #[arg(long, default_value_t = 50)]
    pub(crate) handshakes_per_ip_per_second: u32,
    /// Apply the per-address limits to loopback clients too (by default they are exempt:
    /// local tools, and a reverse proxy on the same machine).
    #[arg(long)]
    pub(crate) limit_loopback: bool,
    /// Most messages a second one connection may send; past it, close 1008 "rate limit"
    /// (or, with --drop-over-rate, drop the messages over it). 0: no limit.
    #[arg(long, default_value_t = 0)]
    pub(crate) max_messages_per_second: u16,
    /// Drop messages over --max-messages-per-second instead of closing the connection.
    #[arg(long, requires = "max_messages_per_second")]
    pub(crate) drop_over_rate: bool,
    /// Decline permessage-deflate (RFC 7692); by default it is negotiated with clients that
    /// offer it.
    #[arg(long)]
    pub(crate) no_deflate: bool,
    /// The wire tap: record bytes kept per session for `GET /wire/<session>` (oldest dropped).
    #[arg(long, default_value_t = 256 << 10)]
    pub(crate) tap_transcript_bytes: usize,
    /// The wire tap: how long a session's transcript is kept after it opened.
    #[arg(long, value_parser = duration, default_value = "10m")]
    pub(crate) tap_transcript_ttl: Duration,
    /// The wire tap: transcripts kept at once (the oldest go first).
    #[arg(long, default_value_t = 64)]
    pub(crate) tap_sessions: usize,
    /// Share rooms (/chat/<room>, /broadcast, every publish) with the other `wslens serve`
    /// processes on this Redis: redis://[[USER]:PASSWORD@]HOST[:PORT][/DB].
    #[arg(long, value_name = "URL")]
    pub(crate) backplane: Option<crate::backplane::RedisUrl>,
    /// The backplane's channel prefix (`<prefix>:room:<room>`): nodes share rooms only
    /// when they share it.
    #[arg(long, default_value = "wslens", requires = "backplane")]
    pub(crate) backplane_prefix: String,
    /// The backplane: bytes of publications held while Redis is slow or away; past it new
    /// ones are dropped and counted (wslens_backplane_lost_total).
    #[arg(long, default_value_t = 16 << 20, requires = "backplane")]
    pub(crate) backplane_queue: usize,
    /// The backplane: keep each room's last N messages in a Redis Stream, so that clients
    /// resume with ?since=<offset>&epoch=<epoch> on any node (0: no history).
    #[arg(long, default_value_t = 0, requires = "backplane")]
    pub(crate) history: usize,
    /// The backplane: how long Redis may take to answer before the connection is made again.
    #[arg(long, value_parser = duration, default_value = "5s", requires = "backplane")]
    pub(crate) backplane_timeout: Duration,
    /// Largest LZ77 window, as log2 bytes (8-15), for the server's compressor and, when the
    /// client lets the server choose, the client's: smaller saves memory, compresses less.
    #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u8).range(8..=15))]
    pub(crate) deflate_window_bits: u8,
    /// No context takeover either way: compression state lives for one message, so idle
    /// connections hold none (compresses repetitive traffic less well). By default only the
    /// server's side has none; the client's window is kept.
    #[arg(long, conflicts_with = "deflate_context_takeover")]
    pub(crate) deflate_no_context_takeover: bool,
    /// Context takeover both ways: the best ratio on small repetitive messages, at ~430 KB per
    /// connection, idle or not.
    #[arg(long)]
    pub(crate) deflate_context_takeover: bool,
    /// Compression level 0-9 (1: fastest, 9: smallest).
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u8).range(0..=9))]
    pub(crate) deflate_level: u8,
    /// zlib memLevel 1-9 for the compressor's buffers (1: 512 bytes, 8: 64 KiB).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u8).range(1..=9))]
    pub(crate) deflate_mem_level: u8,
    /// Serve wss:// and https:// too, with this certificate chain (PEM, leaf first).
    #[arg(long, requires = "tls_key", conflicts_with = "tls_self_signed")]
    pub(crate) tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, requires = "tls_cert")]
    pub(crate) tls_key: Option<PathBuf>,
    /// Serve wss:// and https:// with a development certificate made at start-up for
    /// localhost, 127.0.0.1 and ::1; prints its SHA-256 fingerprint and where its PEM is.
    #[arg(long)]
    pub(crate) tls_self_signed: bool,
    /// Where --tls-self-signed writes the certificate (PEM), for clients' --ca
    /// [default: wslens-dev-cert-<TLS port>.pem in the temporary directory].
    #[arg(long, requires = "tls_self_signed")]
    pub(crate) tls_cert_out: Option<PathBuf>,
    /// Port of the TLS listener (wss://, https://).
    #[arg(long, default_value_t = 8766)]
    pub(crate) tls_port: u16,
    /// Only the TLS listener: no plain ws:// and http://.
    #[arg(long)]
    pub(crate) tls_only: bool,
}
