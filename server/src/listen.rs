//! Binding the listening sockets, and `--reuse-port`: several servers on one port, so that a
//! new one can start while the old one drains (zero-downtime restarts).
//!
//! With `SO_REUSEPORT` the kernel keeps the listening sockets of a port in one group and picks
//! one for each new connection. By default it spreads them by a hash, which would keep
//! sending new connections to a server that is about to stop, and a listening socket that
//! closes resets the connections still queued in it. On Linux the group therefore gets a
//! one-instruction classic BPF program, `ret #1`: every new connection goes to the group's
//! second socket — the newest server, since a departing socket's slot is taken by the last —
//! and, with one socket left (index 1 out of range), the kernel falls back to that one. The
//! old server thus receives nothing new once its successor listens, accepts what it already
//! has queued, closes its listener and drains.

use std::io;
use std::net::{SocketAddr, TcpListener};

/// Binds a non-blocking listener on `addr`; with `reuse_port`, shareable with other servers
/// (Unix only) and, on Linux, steering new connections to the newest of them.
pub(crate) fn bind(addr: SocketAddr, reuse_port: bool) -> io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    #[cfg(not(windows))]
    socket.set_reuse_address(true)?;
    if reuse_port {
        set_reuse_port(&socket)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    if reuse_port {
        steer_to_newest(&socket)?;
    }
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

#[cfg(unix)]
fn set_reuse_port(socket: &socket2::Socket) -> io::Result<()> {
    socket.set_reuse_port(true)
}

#[cfg(windows)]
fn set_reuse_port(_socket: &socket2::Socket) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "--reuse-port needs SO_REUSEPORT, which Windows does not have",
    ))
}

/// Linux: attaches `ret #1` to the port's reuseport group (see the module's doc).
#[cfg(target_os = "linux")]
fn steer_to_newest(socket: &socket2::Socket) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let mut program = [libc::sock_filter {
        code: (libc::BPF_RET | libc::BPF_K) as u16,
        jt: 0,
        jf: 0,
        k: 1,
    }];
    let fprog = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_mut_ptr(),
    };
    // SAFETY: `setsockopt` reads `size_of::<sock_fprog>()` bytes at `&fprog`, a live local
    // of exactly that type, and through it `len` (1) `sock_filter`s at `filter`, the live
    // local array `program`; the kernel copies the program before returning, so nothing is
    // kept past this call. The descriptor is `socket`'s, open for the whole call.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ATTACH_REUSEPORT_CBPF,
            (&fprog as *const libc::sock_fprog).cast(),
            std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Elsewhere the kernel spreads new connections over the group as it likes.
#[cfg(not(target_os = "linux"))]
fn steer_to_newest(_socket: &socket2::Socket) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Which listener a new connection lands on: writes one byte and sees who accepts.
    #[cfg(target_os = "linux")]
    fn lands_on(port: u16, listeners: &[&TcpListener]) -> usize {
        use std::io::{Read, Write};
        use std::net::TcpStream;
        use std::time::Duration;
        let mut client = TcpStream::connect(("127.0.0.1", port)).unwrap();
        client.write_all(b"x").unwrap();
        for _ in 0..200 {
            for (i, l) in listeners.iter().enumerate() {
                if let Ok((mut s, _)) = l.accept() {
                    let mut b = [0u8];
                    s.set_nonblocking(false).unwrap();
                    s.read_exact(&mut b).unwrap();
                    return i;
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        panic!("no listener accepted");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_newest_listener_on_a_port_gets_every_new_connection() {
        let first = bind("127.0.0.1:0".parse().unwrap(), true).unwrap();
        let port = first.local_addr().unwrap().port();
        assert!(
            (0..5).all(|_| lands_on(port, &[&first]) == 0),
            "alone, it gets all"
        );
        let second = bind(SocketAddr::from(([127, 0, 0, 1], port)), true).unwrap();
        // Without the steering the kernel's hash would send some to the first.
        assert!((0..50).all(|_| lands_on(port, &[&first, &second]) == 1));
        drop(first);
        assert!(
            (0..5).all(|_| lands_on(port, &[&second]) == 0),
            "then it has them all"
        );
        let third = bind(SocketAddr::from(([127, 0, 0, 1], port)), true).unwrap();
        assert!((0..20).all(|_| lands_on(port, &[&second, &third]) == 1));
    }

    #[test]
    fn without_reuse_port_a_second_bind_fails() {
        let first = bind("127.0.0.1:0".parse().unwrap(), false).unwrap();
        let port = first.local_addr().unwrap().port();
        assert!(bind(SocketAddr::from(([127, 0, 0, 1], port)), false).is_err());
    }
}
