#!/usr/bin/env python3
"""Server memory per idle WebSocket connection, for wslens and the peers (Python stdlib only).

Starts one server (the command line after `--`, the port appended as its last argument),
opens idle upgraded WebSocket connections to PATH in steps (e.g. 1000, 10000, 19000), and
after each step reads the server's VmRSS from /proc/PID/status once it has settled. Prints one
tab-separated row per step: name, connections, RSS before (KiB), RSS after (KiB), growth (KiB),
bytes per connection. Source addresses rotate over 127.0.0.1 .. 127.0.0.N so ephemeral ports do
not run short. The server is stopped by the PID this script started.

    python3 bench/memory.py NAME PATH COUNTS -- COMMAND...
    python3 bench/memory.py wslens /echo 1000,10000 -- target/release/wslens serve --port
"""

import base64
import os
import socket
import subprocess
import sys
import time

SOURCES = int(os.environ.get("MEMORY_SOURCES", "4"))


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def settled_rss(pid, proc):
    """VmRSS once two readings 300 ms apart agree (at most ~6 s)."""
    last = rss_kib(pid)
    for _ in range(20):
        time.sleep(0.3)
        if proc.poll() is not None:
            raise RuntimeError("server exited")
        now = rss_kib(pid)
        if now == last:
            return now
        last = now
    return last


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port):
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def open_ws(port, path, i):
    s = socket.socket()
    s.bind((f"127.0.0.{1 + i % SOURCES}", 0))
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(
        (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            raise RuntimeError(f"closed during the handshake after {i} connections")
        head += chunk
    if not head.startswith(b"HTTP/1.1 101"):
        raise RuntimeError(f"no 101: {head[:80]!r}")
    return s


def echo_check(s):
    """One masked text frame "ok" on the last connection; its echo proves it is served."""
    mask = os.urandom(4)
    payload = bytes(b ^ mask[i % 4] for i, b in enumerate(b"ok"))
    s.sendall(bytes([0x81, 0x80 | 2]) + mask + payload)
    got = b""
    while len(got) < 4:
        chunk = s.recv(16)
        if not chunk:
            return False
        got += chunk
    return got[:4] == b"\x81\x02ok"


def main():
    sep = sys.argv.index("--")
    name, path, counts = sys.argv[1], sys.argv[2], sys.argv[3]
    counts = [int(c) for c in counts.split(",")]
    command = sys.argv[sep + 1 :]
    port = free_port()
    proc = subprocess.Popen(
        command + [str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    conns = []
    try:
        wait_port(port)
        before = settled_rss(proc.pid, proc)
        for n in counts:
            try:
                while len(conns) < n:
                    conns.append(open_ws(port, path, len(conns)))
            except (OSError, RuntimeError) as e:
                print(f"{name}\t{n}\tfailed after {len(conns)} connections: {e}", flush=True)
                break
            after = settled_rss(proc.pid, proc)
            growth = after - before
            ok = echo_check(conns[-1])
            print(
                f"{name}\t{n}\t{before}\t{after}\t{growth}\t{growth * 1024 / n:.0f}"
                + ("" if ok else "\t(last connection did not echo)"),
                flush=True,
            )
    finally:
        for s in conns:
            s.close()
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


if __name__ == "__main__":
    main()
