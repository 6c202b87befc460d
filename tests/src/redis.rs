//! A real `redis-server` (Debian's) for the backplane tests: on a free loopback port, with its
//! own directory under `target/tmp`, no persistence, stopped by its PID (never by name).

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `redis-server`, killed on drop.
pub struct Redis {
    child: Option<Child>,
    /// Its port.
    pub port: u16,
    dir: PathBuf,
}

impl Redis {
    /// Starts one on a free port.
    pub fn start() -> Redis {
        Redis::start_on(crate::free_port())
    }

    /// Starts one on `port`.
    pub fn start_on(port: u16) -> Redis {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../target/tmp")
            .join(format!("redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("redis dir");
        let mut redis = Redis {
            child: None,
            port,
            dir,
        };
        redis.restart();
        redis
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The server's PID.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Starts it (again) on the same port, and waits until it answers PING.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "redis-server is already running");
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("redis-server (Debian's redis-server package; scripts/test.sh installs it)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if self
                .command(&["PING"])
                .is_ok_and(|r| r.starts_with(b"+PONG"))
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server did not answer on port {} in 20 s", self.port);
    }

    /// `kill -9` by PID, and waits for it to be gone.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends one command and returns its raw reply (complete for the simple replies and bulk
    /// strings the tests ask for).
    pub fn command(&self, args: &[&str]) -> io::Result<Vec<u8>> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port))?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        let mut req = format!("*{}\r\n", args.len());
        for a in args {
            req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        s.write_all(req.as_bytes())?;
        let mut reply = Vec::new();
        let mut buf = [0u8; 64 * 1024];
        loop {
            let n = s.read(&mut buf)?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            reply.extend_from_slice(&buf[..n]);
            if complete(&reply) {
                return Ok(reply);
            }
        }
    }

    /// A field of `INFO <section>` (e.g. `cmdstat_publish` in `commandstats`).
    pub fn info(&self, section: &str, field: &str) -> Option<String> {
        let reply = self.command(&["INFO", section]).ok()?;
        let text = String::from_utf8_lossy(&reply).into_owned();
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{field}:")))
            .map(|v| v.trim().to_owned())
    }

    /// How many times `command` ran (from `INFO commandstats`: `calls=N`).
    pub fn calls(&self, command: &str) -> u64 {
        self.info("commandstats", &format!("cmdstat_{command}"))
            .and_then(|v| {
                v.split(',')
                    .find_map(|kv| kv.strip_prefix("calls="))
                    .and_then(|n| n.parse().ok())
            })
            .unwrap_or(0)
    }
}

/// Whether `reply` holds one whole simple reply or bulk string.
fn complete(reply: &[u8]) -> bool {
    let Some(nl) = reply.windows(2).position(|w| w == b"\r\n") else {
        return false;
    };
    match reply[0] {
        b'$' => {
            let len: i64 = std::str::from_utf8(&reply[1..nl])
                .ok()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            len < 0 || reply.len() >= nl + 2 + len as usize + 2
        }
        _ => true,
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill9();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
