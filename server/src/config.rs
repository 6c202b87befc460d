//! Server settings. Every limit has a safe default and a command-line flag (see `main.rs`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Everything `wslens serve` can be told.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Address to listen on (default 127.0.0.1).
    pub host: String,
    /// Port of the plain (`ws://`, `http://`) listener (default 8765).
    pub port: u16,
    /// Whether the plain listener runs (default true; off for TLS only).
    pub plain: bool,
    /// The TLS (`wss://`, `https://`) listener, if any.
    pub tls: Option<TlsListen>,
    /// Event loops, one thread each (default: all cores).
    pub threads: usize,
    /// Directory of static files served over plain HTTP (default `www/`); `None` serves none.
    pub www: Option<PathBuf>,
    /// Most bytes queued for one connection before backpressure applies (default 1 MiB): an
    /// echo client that does not read is no longer read from; a broadcast receiver is closed
    /// with 1008 (or, with `drop_on_backpressure`, misses messages).
    pub max_backpressure: usize,
    /// Drop broadcast messages for a slow receiver instead of closing it.
    pub drop_on_backpressure: bool,
    /// Ping after this much silence from the peer (default 30 s; `None` disables).
    pub ping_interval: Option<Duration>,
    /// Close if no pong (or anything else) arrives this long after a ping (default 10 s).
    pub ping_timeout: Duration,
    /// Close a connection after this long without a data message (default: off).
    pub idle_timeout: Option<Duration>,
    /// Drop a connection that has not completed its HTTP head by then (default 10 s).
    pub handshake_timeout: Duration,
    /// After sending a close frame, wait this long for the peer's before dropping (5 s).
    pub close_timeout: Duration,
    /// On SIGINT/SIGTERM, wait this long for clients to answer the 1001 close (5 s).
    pub shutdown_timeout: Duration,
    /// On SIGINT/SIGTERM, stop accepting at once but go on serving open connections this
    /// long before closing them with 1001 (default 0: close them at once).
    pub drain_timeout: Duration,
    /// Bind with `SO_REUSEPORT`, so that another server can listen on the same port (Unix;
    /// on Linux the newest one gets every new connection): start the new server, then stop
    /// the old one, which drains (see `drain_timeout`).
    pub reuse_port: bool,
    /// Origins allowed to open WebSockets (empty: any); others get 403.
    pub allow_origins: Vec<String>,
    /// Token required to open WebSockets (`?token=` or `Authorization: Bearer`); 401 otherwise.
    pub token: Option<String>,
    /// Largest message accepted (1009 past it; default 64 MiB).
    pub max_message: usize,
    /// Largest frame accepted (1009 past it; default 16 MiB).
    pub max_frame: u64,
    /// Most open connections (503 past it; default 100,000, bounded by the open-file limit).
    pub max_connections: usize,
    /// Cap on an HTTP request head (431 past it; default 8 KiB).
    pub max_header_bytes: usize,
    /// Open connections and new connections per second from one client address (IPv6: per
    /// /64), refused at accept before any work: plain clients get 503, TLS clients a close.
    /// Default: 1,024 open and 50 new a second, loopback exempt (see [`crate::limits`]).
    pub ip_limits: crate::IpLimitConfig,
    /// Most messages a second one connection may send (0, the default: no limit); past it
    /// the connection is closed with 1008 "rate limit", or with `drop_over_rate` the
    /// messages over the limit are dropped (not given to the handler).
    pub max_messages_per_second: u16,
    /// Drop messages over `max_messages_per_second` instead of closing.
    pub drop_over_rate: bool,
    /// permessage-deflate (RFC 7692), negotiated with clients that offer it; `None` declines
    /// every offer. Default: [`ServerConfig::default_deflate`]. Broadcast frames are encoded
    /// once and shared, so they go out uncompressed (RSV1 is per message: always legal).
    pub deflate: Option<wslens::deflate::DeflateConfig>,
    /// Bounds of the wire tap's transcripts (see [`crate::tap`]): 256 KiB and 10 minutes per
    /// session, 64 sessions.
    pub tap_transcripts: crate::tap::TranscriptLimits,
    /// Share rooms with the other nodes on this Redis (`--backplane`); `None`: rooms stay in
    /// this process.
    pub backplane: Option<crate::backplane::BackplaneConfig>,
}

/// Where and with what the TLS listener serves.
#[derive(Clone, Debug)]
pub struct TlsListen {
    /// Its port (the command line's default: 8766).
    pub port: u16,
    /// Certificate, key and protocol settings (see [`crate::tls`]).
    pub config: Arc<rustls::ServerConfig>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            host: "127.0.0.1".into(),
            port: 8765,
            plain: true,
            tls: None,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            www: Some(PathBuf::from("www")),
            max_backpressure: 1 << 20,
            drop_on_backpressure: false,
            ping_interval: Some(Duration::from_secs(30)),
            ping_timeout: Duration::from_secs(10),
            idle_timeout: None,
            handshake_timeout: Duration::from_secs(10),
            close_timeout: Duration::from_secs(5),
            shutdown_timeout: Duration::from_secs(5),
            drain_timeout: Duration::ZERO,
            reuse_port: false,
            allow_origins: Vec::new(),
            token: None,
            max_message: 64 << 20,
            max_frame: 16 << 20,
            max_connections: 100_000,
            max_header_bytes: wslens::handshake::DEFAULT_MAX_HEADER_BYTES,
            ip_limits: crate::IpLimitConfig {
                max_connections: 1024,
                handshakes_per_second: 50,
                limit_loopback: false,
            },
            max_messages_per_second: 0,
            drop_over_rate: false,
            deflate: Some(Self::default_deflate()),
            tap_transcripts: crate::tap::TranscriptLimits::default(),
            backplane: None,
        }
    }
}

impl ServerConfig {
    /// The server's default permessage-deflate settings: `server_no_context_takeover` (the
    /// server's compressor, ~330 KB with zlib-rs, lives for one message, so an idle connection
    /// keeps none of it), the client's context takeover allowed (the decompressor keeps the
    /// client's 32 KiB window), 15-bit windows, level 6.
    pub fn default_deflate() -> wslens::deflate::DeflateConfig {
        wslens::deflate::DeflateConfig {
            server_no_context_takeover: true,
            ..wslens::deflate::DeflateConfig::default()
        }
    }

    /// The protocol limits for one connection.
    pub fn connection_config(&self) -> wslens::Config {
        wslens::Config {
            max_frame_size: self.max_frame,
            max_message_size: self.max_message,
            max_header_bytes: self.max_header_bytes,
            ..wslens::Config::default()
        }
    }
}
