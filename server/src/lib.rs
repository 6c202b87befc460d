//! # wslens-server
//!
//! A WebSocket server on the `polling` crate — one epoll (kqueue, IOCP) loop per thread, no
//! async runtime — built on the sans-IO core `wslens`. It is also a library: routes are
//! [`Handler`]s, and the built-in echo, chat rooms and broadcast are handlers too.
//!
//! ```no_run
//! use wslens_server::{Ctx, Handler, Message, Server, ServerConfig};
//!
//! /// Replies to every text message with its length.
//! struct Length;
//! impl Handler for Length {
//!     fn on_message(&self, ctx: &mut Ctx<'_>, msg: Message<'_>) {
//!         if let Message::Text(t) = msg {
//!             ctx.send_text(&t.len().to_string());
//!         }
//!     }
//! }
//!
//! let server = Server::builder(ServerConfig { port: 9000, ..ServerConfig::default() })
//!     .route("/length", Length)
//!     .build()
//!     .expect("bind");
//! server.run().expect("run");
//! ```

pub mod apps;
pub mod auth;
pub mod backplane;
#[cfg(feature = "cli")]
pub mod cli;
pub mod config;
mod event_loop;
pub mod handler;
pub mod http;
mod hub;
pub mod limits;
mod listen;
pub mod metrics;
mod poll;
pub mod tap;
pub mod tls;
pub mod transport;

pub use apps::{Echo, Rooms};
pub use auth::{Authorizer, OriginAndToken, Rejection};
pub use backplane::{BackplaneConfig, RedisUrl};
/// The blocking client, at its old path (it lives in the `cli` tree).
#[cfg(feature = "cli")]
pub use cli::client;
pub use config::{ServerConfig, TlsListen};
pub use handler::{ConnInfo, Ctx, Handler, Message};
pub use limits::IpLimitConfig;
pub use metrics::Metrics;

use crate::poll::Poller;
use hub::{Hub, LoopHandle};
use std::io;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use tracing::info;
use transport::{Listeners, TlsAcceptor};

/// The subprotocol with which an `/echo` client asks for the wire tap.
pub use tap::WIRE_PROTOCOL;

/// The subprotocol of room members that want each message stamped `<offset> <epoch>\n`
/// (with `--history`; see the server README).
pub const OFFSETS_PROTOCOL: &str = "wslens.offsets";

struct Route {
    path: Arc<str>,
    prefix: bool,
    handler: Arc<dyn Handler>,
}

/// A request path matched to a route.
pub(crate) struct RouteMatch {
    pub(crate) handler: Arc<dyn Handler>,
    pub(crate) param: Box<str>,
    pub(crate) path: Arc<str>,
}

/// What all loops share.
pub(crate) struct Shared {
    pub(crate) config: ServerConfig,
    routes: Vec<Route>,
    pub(crate) authorizer: Arc<dyn Authorizer>,
    pub(crate) hub: Hub,
    pub(crate) metrics: Arc<Metrics>,
    /// Open connections and handshakes per client address.
    pub(crate) ip_limits: limits::IpLimits,
    pub(crate) shutdown: AtomicBool,
    pub(crate) next_id: AtomicU64,
    /// The wire tap's transcripts (`GET /wire/<session>`).
    pub(crate) transcripts: tap::Transcripts,
}

impl Shared {
    /// The handler for `path` and the part of the path after a prefix route.
    /// The route serving `path`: its handler, the parameter after a prefix route's prefix,
    /// and the path (the route's own `Arc` for an exact route, so that connections on it
    /// share one string).
    pub(crate) fn route(&self, path: &str) -> Option<RouteMatch> {
        self.routes.iter().find_map(|r| {
            if r.prefix {
                let rest = path.strip_prefix(&*r.path)?;
                Some(RouteMatch {
                    handler: r.handler.clone(),
                    param: wslens::handshake::headers::percent_decode(rest).into(),
                    path: path.into(),
                })
            } else {
                (path == &*r.path).then(|| RouteMatch {
                    handler: r.handler.clone(),
                    param: Box::default(),
                    path: r.path.clone(),
                })
            }
        })
    }
}

/// Builds a [`Server`].
pub struct ServerBuilder {
    config: ServerConfig,
    routes: Vec<Route>,
    authorizer: Option<Arc<dyn Authorizer>>,
}

impl ServerBuilder {
    /// Serves `handler` at exactly `path`.
    pub fn route(mut self, path: &str, handler: impl Handler) -> Self {
        self.routes.push(Route {
            path: path.into(),
            prefix: false,
            handler: Arc::new(handler),
        });
        self
    }

    /// Serves `handler` at every path starting with `prefix`; the rest of the path is
    /// [`ConnInfo::param`].
    pub fn route_prefix(mut self, prefix: &str, handler: impl Handler) -> Self {
        self.routes.push(Route {
            path: prefix.into(),
            prefix: true,
            handler: Arc::new(handler),
        });
        self
    }

    /// Replaces the built-in origin/token check ([`OriginAndToken`], from `allow_origins` and
    /// `token`) with your own.
    pub fn authorizer(mut self, authorizer: impl Authorizer) -> Self {
        self.authorizer = Some(Arc::new(authorizer));
        self
    }

    /// The standard routes: `/echo`, `/chat/<room>`, `/broadcast`.
    pub fn standard_routes(self) -> Self {
        self.route("/echo", Echo)
            .route_prefix("/chat/", Rooms::chat())
            .route("/broadcast", Rooms::broadcast())
    }

    /// Binds the listeners (plain, TLS, or both) and prepares one poller per loop.
    pub fn build(self) -> io::Result<Server> {
        let bind = |port: u16| -> io::Result<Arc<TcpListener>> {
            let addr = (self.config.host.as_str(), port)
                .to_socket_addrs()?
                .next()
                .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address to bind"))?;
            Ok(Arc::new(listen::bind(addr, self.config.reuse_port)?))
        };
        let metrics = Arc::new(Metrics::default());
        let listeners = Listeners {
            plain: self
                .config
                .plain
                .then(|| bind(self.config.port))
                .transpose()?,
            tls: match &self.config.tls {
                Some(tls) => Some((
                    bind(tls.port)?,
                    TlsAcceptor {
                        config: Arc::new(RwLock::new(tls.config.clone())),
                        metrics: metrics.clone(),
                    },
                )),
                None => None,
            },
        };
        if listeners.plain.is_none() && listeners.tls.is_none() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "nothing to listen on: the plain listener is off and TLS is not configured",
            ));
        }
        let threads = self.config.threads.max(1);
        let mut loops = Vec::with_capacity(threads);
        for _ in 0..threads {
            loops.push(LoopHandle {
                poller: Arc::new(Poller::new()?),
                inbox: Mutex::new(Vec::new()),
            });
        }
        let authorizer = self.authorizer.unwrap_or_else(|| {
            Arc::new(OriginAndToken {
                origins: self.config.allow_origins.clone(),
                token: self.config.token.clone(),
            })
        });
        let ip_limits = self.config.ip_limits;
        let transcripts = tap::Transcripts::new(self.config.tap_transcripts);
        // Connection ids appear in room notices; nodes sharing rooms start theirs at a random
        // point below 2^40 (exact in JavaScript) so that two nodes' ids do not meet.
        let first_id = match self.config.backplane {
            Some(_) => {
                let mut b = [0u8; 8];
                let _ = getrandom::fill(&mut b[..5]);
                u64::from_le_bytes(b).max(1)
            }
            None => 1,
        };
        let backplane = self
            .config
            .backplane
            .clone()
            .map(|c| Arc::new(backplane::Backplane::new(c, metrics.clone())));
        let shared = Arc::new(Shared {
            transcripts,
            authorizer,
            config: self.config,
            routes: self.routes,
            hub: Hub::new(loops, backplane),
            metrics,
            ip_limits: limits::IpLimits::new(ip_limits),
            shutdown: AtomicBool::new(false),
            next_id: AtomicU64::new(first_id),
        });
        Ok(Server { shared, listeners })
    }
}

/// A bound server, ready to [`Server::run`].
pub struct Server {
    shared: Arc<Shared>,
    listeners: Listeners,
}

/// Stops a running server from another thread (or a signal handler thread).
#[derive(Clone)]
pub struct ShutdownHandle {
    shared: Arc<Shared>,
}

impl ShutdownHandle {
    /// Stop accepting, send close 1001 to every client, wait for their closes up to the
    /// shutdown timeout, then let [`Server::run`] return.
    pub fn shutdown(&self) {
        self.shared.shutdown.store(true, Ordering::Release);
        for l in &self.shared.hub.loops {
            let _ = l.poller.notify();
        }
    }
}

/// Replaces the TLS listener's configuration (from [`Server::tls_reloader`]): handshakes that
/// begin after [`TlsReloader::reload`] use the new one; open connections keep theirs.
#[derive(Clone)]
pub struct TlsReloader {
    config: Arc<RwLock<Arc<rustls::ServerConfig>>>,
}

impl TlsReloader {
    /// From now on, new TLS handshakes use `config`.
    pub fn reload(&self, config: Arc<rustls::ServerConfig>) {
        *self.config.write().unwrap_or_else(|e| e.into_inner()) = config;
    }
}

impl Server {
    /// A builder with no routes.
    pub fn builder(config: ServerConfig) -> ServerBuilder {
        ServerBuilder {
            config,
            routes: Vec::new(),
            authorizer: None,
        }
    }

    /// The address actually bound (useful with port 0): the plain listener's, or the TLS
    /// listener's when there is no plain one.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        match (&self.listeners.plain, &self.listeners.tls) {
            (Some(l), _) | (None, Some((l, _))) => l.local_addr(),
            (None, None) => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    /// The TLS listener's address, if there is one.
    pub fn tls_local_addr(&self) -> Option<SocketAddr> {
        let (l, _) = self.listeners.tls.as_ref()?;
        l.local_addr().ok()
    }

    /// A handle that replaces the TLS configuration while the server runs (new
    /// certificate and key, say); `None` without a TLS listener.
    pub fn tls_reloader(&self) -> Option<TlsReloader> {
        let (_, acceptor) = self.listeners.tls.as_ref()?;
        Some(TlsReloader {
            config: acceptor.config.clone(),
        })
    }

    /// A handle that stops the server.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            shared: self.shared.clone(),
        }
    }

    /// The server's counters.
    pub fn metrics(&self) -> &Metrics {
        &self.shared.metrics
    }

    /// Runs every loop (one per thread) until shutdown completes.
    pub fn run(self) -> io::Result<()> {
        let threads = self.shared.hub.loops.len();
        if let Some(l) = &self.listeners.plain {
            info!(addr = %l.local_addr()?, threads, "listening (ws://, http://)");
        }
        if let Some(addr) = self.tls_local_addr() {
            info!(%addr, threads, "listening (wss://, https://)");
        }
        let backplane = self.shared.hub.backplane.clone();
        let backplane_threads = match &backplane {
            Some(bp) => bp.start(self.shared.clone())?,
            None => Vec::new(),
        };
        let mut handles = Vec::with_capacity(threads);
        for id in 0..threads {
            let shared = self.shared.clone();
            let listeners = self.listeners.clone();
            let handle = std::thread::Builder::new()
                .name(format!("wslens-loop-{id}"))
                .spawn(move || {
                    let mut event_loop = event_loop::EventLoop::new(id, shared, listeners)?;
                    event_loop.run()
                })?;
            handles.push(handle);
        }
        let mut result = Ok(());
        for h in handles {
            match h.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => result = Err(e),
                Err(_) => result = Err(io::Error::other("an event loop panicked")),
            }
        }
        if let Some(bp) = backplane {
            // The loops' last publications (leave notices) go out before the backplane stops.
            bp.stop();
            for t in backplane_threads {
                let _ = t.join();
            }
        }
        info!("stopped");
        result
    }
}
