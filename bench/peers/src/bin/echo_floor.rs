//! The floor: the cheapest WebSocket echo server the generators accept, a yardstick for what
//! the kernel alone costs per echo on loopback (issue #16), not a product.
//!
//! One thread, raw epoll, edge-triggered; sockets read until a short read or `EAGAIN`; the handshake takes the
//! `Sec-WebSocket-Key` and answers 101 without checking anything else; each client frame is
//! unmasked in place and written back with its short (unmasked) header, the header written
//! over the frame's own mask key so header and payload are one slice, every frame of one read
//! sent with one `writev`. No validation beyond framing (no UTF-8, no control-frame rules, no
//! limits): a close is echoed and the connection dropped. Linux only.

#[cfg(target_os = "linux")]
fn main() {
    linux::main()
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("echo_floor is Linux only (raw epoll)");
    std::process::exit(2);
}

#[cfg(target_os = "linux")]
mod linux {
    use base64::Engine;
    use sha1::{Digest, Sha1};
    use std::io::{self, IoSlice, Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

    const LISTENER: u64 = u64::MAX;
    /// Read buffer per connection; grows only for a frame larger than it.
    const BUF: usize = 64 * 1024;
    const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

    struct Conn {
        stream: TcpStream,
        buf: Vec<u8>,
        len: usize,
        /// Replies a short `writev` left over, flushed on the next writable edge.
        pending: Vec<u8>,
        upgraded: bool,
    }

    /// Thin checked wrappers over the three epoll calls.
    struct Epoll(OwnedFd);

    impl Epoll {
        fn new() -> io::Result<Self> {
            // SAFETY: epoll_create1 takes no pointers; a non-negative result is a new
            // descriptor that nothing else owns, so OwnedFd may take it.
            let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: see above: `fd` is open and owned by no one else.
            Ok(Epoll(unsafe { OwnedFd::from_raw_fd(fd) }))
        }

        fn add(&self, fd: i32, key: u64) -> io::Result<()> {
            let mut ev = libc::epoll_event {
                events: (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET) as u32,
                u64: key,
            };
            // SAFETY: `ev` is a valid epoll_event for the duration of the call; epoll_ctl
            // copies it and keeps no pointer.
            if unsafe { libc::epoll_ctl(self.0.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) } < 0
            {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        }

        fn wait(&self, events: &mut Vec<libc::epoll_event>) -> io::Result<()> {
            events.clear();
            // SAFETY: the kernel writes at most `capacity` events into the vector's spare
            // capacity and returns how many; set_len covers exactly those, all initialised.
            unsafe {
                let n = libc::epoll_wait(
                    self.0.as_raw_fd(),
                    events.as_mut_ptr(),
                    events.capacity() as i32,
                    -1,
                );
                if n < 0 {
                    return Err(io::Error::last_os_error());
                }
                events.set_len(n as usize);
            }
            Ok(())
        }
    }

    pub fn main() {
        let listener = TcpListener::bind(wslens_bench_peers::addr()).expect("bind");
        listener.set_nonblocking(true).unwrap();
        let epoll = Epoll::new().expect("epoll");
        epoll.add(listener.as_raw_fd(), LISTENER).unwrap();
        let mut conns: Vec<Option<Conn>> = Vec::new();
        let mut free: Vec<usize> = Vec::new();
        let mut events = Vec::with_capacity(1024);
        loop {
            match epoll.wait(&mut events) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => panic!("epoll_wait: {e}"),
            }
            for ev in &events {
                let key = ev.u64;
                if key == LISTENER {
                    while let Ok((stream, _)) = listener.accept() {
                        stream.set_nonblocking(true).unwrap();
                        stream.set_nodelay(true).unwrap();
                        let slot = free.pop().unwrap_or_else(|| {
                            conns.push(None);
                            conns.len() - 1
                        });
                        epoll.add(stream.as_raw_fd(), slot as u64).unwrap();
                        conns[slot] = Some(Conn {
                            stream,
                            buf: vec![0; BUF],
                            len: 0,
                            pending: Vec::new(),
                            upgraded: false,
                        });
                    }
                    continue;
                }
                let slot = key as usize;
                let keep = conns[slot].as_mut().is_some_and(serve);
                if !keep && conns[slot].take().is_some() {
                    // Dropping the stream closes it, which also leaves the epoll set.
                    free.push(slot);
                }
            }
        }
    }

    /// Handles one readiness edge; false when the connection is done.
    fn serve(c: &mut Conn) -> bool {
        if !flush_pending(c) {
            return false;
        }
        loop {
            if c.len == c.buf.len() {
                let bigger = c.buf.len() * 2;
                c.buf.resize(bigger, 0);
            }
            let room = c.buf.len() - c.len;
            match c.stream.read(&mut c.buf[c.len..]) {
                Ok(0) => return false,
                // A short read emptied the socket's receive queue: anything arriving later is
                // a new edge, so the read that would only say EAGAIN is skipped (one `recvfrom`
                // per echo instead of two).
                Ok(n) if n < room => {
                    c.len += n;
                    break;
                }
                Ok(n) => c.len += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return false,
            }
        }
        if !c.upgraded {
            return handshake(c);
        }
        echo_frames(c)
    }

    /// Answers the opening handshake once the head is in; anything after it stays buffered.
    fn handshake(c: &mut Conn) -> bool {
        let Some(end) = c.buf[..c.len].windows(4).position(|w| w == b"\r\n\r\n") else {
            return true;
        };
        let head = String::from_utf8_lossy(&c.buf[..end]).into_owned();
        let Some(key) = head.lines().find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.trim()
                .eq_ignore_ascii_case("sec-websocket-key")
                .then(|| value.trim().to_owned())
        }) else {
            return false;
        };
        let accept = base64::engine::general_purpose::STANDARD
            .encode(Sha1::digest(format!("{key}{GUID}").as_bytes()));
        let reply = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
        );
        if c.stream.write_all(reply.as_bytes()).is_err() {
            return false;
        }
        c.buf.copy_within(end + 4..c.len, 0);
        c.len -= end + 4;
        c.upgraded = true;
        echo_frames(c)
    }

    /// Most frames sent back per `writev`.
    const BATCH: usize = 64;

    /// Unmasks every whole frame in the buffer in place and sends them back, up to [`BATCH`]
    /// frames per `writev` (no allocation: the ranges and slices live on the stack).
    fn echo_frames(c: &mut Conn) -> bool {
        let mut at = 0;
        let mut close = false;
        loop {
            let mut replies = [(0usize, 0usize); BATCH];
            let mut count = 0;
            while count < BATCH && !close && c.len - at >= 2 {
                let b = &c.buf[at..c.len];
                let len7 = (b[1] & 0x7f) as usize;
                let (ext, payload_len) = match len7 {
                    126 if b.len() >= 4 => (2, u16::from_be_bytes([b[2], b[3]]) as usize),
                    127 if b.len() >= 10 => {
                        (8, u64::from_be_bytes(b[2..10].try_into().unwrap()) as usize)
                    }
                    126 | 127 => break,
                    n => (0, n),
                };
                if b[1] & 0x80 == 0 {
                    return false; // a client frame must be masked
                }
                let header = 2 + ext + 4;
                let whole = header + payload_len;
                if b.len() < whole {
                    if whole > c.buf.len() {
                        c.buf.resize(whole, 0); // room for it once compacted below
                    }
                    break;
                }
                let first = b[0];
                let mask: [u8; 4] = b[2 + ext..header].try_into().unwrap();
                let frame = &mut c.buf[at..at + whole];
                unmask(&mut frame[header..], mask);
                // The reply's header (4 bytes shorter: no mask key) ends where the payload
                // starts, so header and payload are one slice.
                frame.copy_within(2..2 + ext, 6);
                frame[4] = first;
                frame[5] = len7 as u8;
                replies[count] = (at + 4, at + whole);
                count += 1;
                close = first & 0x0f == 0x8;
                at += whole;
            }
            if count == 0 {
                break;
            }
            if !send(c, &replies[..count]) {
                return false;
            }
            if count < BATCH {
                break;
            }
        }
        c.buf.copy_within(at..c.len, 0);
        c.len -= at;
        !close
    }

    /// Sends the given ranges of the buffer with one `writev`; what it does not take is kept
    /// in `pending`. False when the connection failed.
    fn send(c: &mut Conn, replies: &[(usize, usize)]) -> bool {
        let empty = IoSlice::new(&[]);
        let mut slices = [empty; BATCH];
        for (slot, &(s, e)) in slices.iter_mut().zip(replies) {
            *slot = IoSlice::new(&c.buf[s..e]);
        }
        let total: usize = replies.iter().map(|&(s, e)| e - s).sum();
        let mut sent = 0;
        if c.pending.is_empty() {
            match c.stream.write_vectored(&slices[..replies.len()]) {
                Ok(n) => sent = n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => return false,
            }
        }
        if sent < total {
            let mut skip = sent;
            for &(s, e) in replies {
                let n = e - s;
                if skip >= n {
                    skip -= n;
                    continue;
                }
                c.pending.extend_from_slice(&c.buf[s + skip..e]);
                skip = 0;
            }
        }
        true
    }

    /// Writes what a short `writev` left; false when the connection failed.
    fn flush_pending(c: &mut Conn) -> bool {
        while !c.pending.is_empty() {
            match c.stream.write(&c.pending) {
                Ok(n) => {
                    c.pending.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
        true
    }

    /// XORs `data` with the repeating 4-byte `mask` (RFC 6455 §5.3), eight bytes at a time.
    fn unmask(data: &mut [u8], mask: [u8; 4]) {
        let wide = u64::from_ne_bytes([
            mask[0], mask[1], mask[2], mask[3], mask[0], mask[1], mask[2], mask[3],
        ]);
        let mut chunks = data.chunks_exact_mut(8);
        for chunk in &mut chunks {
            let v = u64::from_ne_bytes((&*chunk).try_into().unwrap()) ^ wide;
            chunk.copy_from_slice(&v.to_ne_bytes());
        }
        for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
            *b ^= mask[i % 4];
        }
    }
}
