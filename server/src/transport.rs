//! What a connection's bytes travel over: a plain `TcpStream` or TLS over one
//! ([`crate::tls::TlsStream`], boxed so that a plain connection does not carry rustls's state:
//! the enum is 16 bytes either way). Also the server's listeners: plain, TLS, or both.

use crate::metrics::Metrics;
use crate::poll::{Event, PollMode, Poller};
use crate::tls::TlsStream;
use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// A connection's byte stream.
pub enum Transport {
    /// `ws://`, `http://`.
    Plain(TcpStream),
    /// `wss://`, `https://`.
    Tls(Box<TlsStream>),
}

impl Transport {
    /// The TCP socket.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Transport::Plain(s) => s,
            Transport::Tls(t) => t.tcp(),
        }
    }

    /// Whether TLS records are waiting to be written (never for plain TCP): keep write
    /// interest until they are out.
    pub fn wants_write(&self) -> bool {
        match self {
            Transport::Plain(_) => false,
            Transport::Tls(t) => t.wants_write(),
        }
    }

    /// Writes waiting TLS records until the socket would block (plain TCP: nothing to do).
    pub fn write_pending(&mut self) -> io::Result<()> {
        match self {
            Transport::Plain(_) => Ok(()),
            Transport::Tls(t) => t.write_pending(),
        }
    }

    /// Shuts the socket down; TLS first sends `close_notify` (once the handshake is done).
    pub fn shutdown(&mut self, how: Shutdown) -> io::Result<()> {
        match self {
            Transport::Plain(s) => s.shutdown(how),
            Transport::Tls(t) => t.shutdown(how),
        }
    }

    /// Switches the socket between blocking and non-blocking.
    pub fn set_nonblocking(&mut self, on: bool) -> io::Result<()> {
        match self {
            Transport::Plain(s) => s.set_nonblocking(on),
            Transport::Tls(t) => t.set_nonblocking(on),
        }
    }

    /// The socket's read timeout (blocking use).
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.tcp().set_read_timeout(timeout)
    }

    /// The socket's write timeout (blocking use).
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.tcp().set_write_timeout(timeout)
    }
}

impl Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.read(buf),
            Transport::Tls(t) => t.read(buf),
        }
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.write(buf),
            Transport::Tls(t) => t.write(buf),
        }
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.write_vectored(bufs),
            Transport::Tls(t) => t.write_vectored(bufs),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Transport::Plain(s) => s.flush(),
            Transport::Tls(t) => t.flush(),
        }
    }
}

#[cfg(unix)]
impl std::os::fd::AsFd for Transport {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.tcp().as_fd()
    }
}

#[cfg(unix)]
impl std::os::fd::AsRawFd for Transport {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.tcp().as_raw_fd()
    }
}

#[cfg(windows)]
impl std::os::windows::io::AsSocket for Transport {
    fn as_socket(&self) -> std::os::windows::io::BorrowedSocket<'_> {
        self.tcp().as_socket()
    }
}

#[cfg(windows)]
impl std::os::windows::io::AsRawSocket for Transport {
    fn as_raw_socket(&self) -> std::os::windows::io::RawSocket {
        self.tcp().as_raw_socket()
    }
}

/// Poller key of the plain listener; connections use their slab keys.
const PLAIN_KEY: usize = usize::MAX - 1;
/// Poller key of the TLS listener.
const TLS_KEY: usize = usize::MAX - 2;

/// Makes TLS connections out of accepted sockets.
#[derive(Clone)]
pub(crate) struct TlsAcceptor {
    /// The configuration new handshakes use, shared by every loop and replaceable while the
    /// server runs ([`crate::TlsReloader`]); a connection keeps the one it started with.
    pub(crate) config: Arc<RwLock<Arc<rustls::ServerConfig>>>,
    pub(crate) metrics: Arc<Metrics>,
}

impl TlsAcceptor {
    /// Wraps an accepted, non-blocking socket.
    pub(crate) fn wrap(&self, sock: TcpStream) -> io::Result<Transport> {
        let config = self
            .config
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let tls = TlsStream::server(sock, config, Some(self.metrics.clone()))?;
        Ok(Transport::Tls(Box::new(tls)))
    }
}

/// The listening sockets all loops share: plain, TLS, or both.
#[derive(Clone)]
pub(crate) struct Listeners {
    pub(crate) plain: Option<Arc<TcpListener>>,
    pub(crate) tls: Option<(Arc<TcpListener>, TlsAcceptor)>,
}

impl Listeners {
    /// The poller keys of the listeners (plain, TLS).
    pub(crate) const KEYS: [usize; 2] = [PLAIN_KEY, TLS_KEY];

    /// No listener (a loop that has stopped accepting).
    pub(crate) fn none() -> Self {
        Listeners {
            plain: None,
            tls: None,
        }
    }

    fn each(&self) -> impl Iterator<Item = (usize, &TcpListener)> {
        let plain = self.plain.as_deref().map(|l| (PLAIN_KEY, l));
        let tls = self.tls.as_ref().map(|(l, _)| (TLS_KEY, &**l));
        plain.into_iter().chain(tls)
    }

    /// Whether a poller key is one of the listeners'.
    pub(crate) fn is_listener(key: usize) -> bool {
        key == PLAIN_KEY || key == TLS_KEY
    }

    /// Adds every listener to `poller` (readable, level-triggered).
    ///
    /// # Safety
    /// Each listener must be deleted from the poller ([`Listeners::deregister`]) before this
    /// `Listeners` (which keeps them alive) is dropped.
    pub(crate) unsafe fn register(&self, poller: &Poller) -> io::Result<()> {
        for (key, l) in self.each() {
            // SAFETY: the caller promises to deregister before the `Arc` we hold is dropped.
            unsafe { poller.add_with_mode(l, Event::readable(key), PollMode::Level)? };
        }
        Ok(())
    }

    /// Turns accept readiness on or off.
    pub(crate) fn set_accepting(&self, poller: &Poller, on: bool) -> io::Result<()> {
        for (key, l) in self.each() {
            let event = if on {
                Event::readable(key)
            } else {
                Event::none(key)
            };
            poller.modify_with_mode(l, event, PollMode::Level)?;
        }
        Ok(())
    }

    /// Deletes every listener from `poller`.
    pub(crate) fn deregister(&self, poller: &Poller) {
        for (_, l) in self.each() {
            let _ = poller.delete(l);
        }
    }

    /// Accepts one connection on the listener with poller key `key`; for the TLS listener,
    /// also the acceptor that wraps it.
    pub(crate) fn accept(
        &self,
        key: usize,
    ) -> io::Result<(TcpStream, SocketAddr, Option<&TlsAcceptor>)> {
        match (&self.plain, &self.tls) {
            (Some(l), _) if key == PLAIN_KEY => l.accept().map(|(s, a)| (s, a, None)),
            (_, Some((l, acceptor))) if key == TLS_KEY => {
                l.accept().map(|(s, a)| (s, a, Some(acceptor)))
            }
            _ => Err(io::ErrorKind::WouldBlock.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_plain_connection_does_not_pay_for_tls() {
        // TcpStream (4 bytes on Unix, 8 on Windows) or a box, and the tag.
        assert!(std::mem::size_of::<super::Transport>() <= 16);
    }
}
