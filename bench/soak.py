"""The soak: everything at once against one `wslens serve`, every message checked.

    python bench/soak.py --minutes M --port P --tls-port T --ca CERT.pem --pid PID --out DIR

Workers (asyncio, Python `websockets`), all for the whole run:
  echo      16 connections on /echo, half with permessage-deflate, half without; each
            message carries a sequence number, random padding and its SHA-256, and its echo
            must be the same bytes
  tls       4 echo connections over wss://
  rooms     3 rooms of 5 members on /chat/<room>; each member publishes 20 numbered messages
            a second; every member checks that from each sender the numbers go up by one
  broadcast 1 publisher (20 messages of 4 KiB a second) and 8 readers on /broadcast,
            checked the same way
  slow      2 /broadcast receivers that never read (closed by the server at its
            backpressure cap, 1008, then reconnect)
  churn     connect, one echo, close, as fast as it goes
  resets    send half a frame, then reset the TCP connection (SO_LINGER 0)

Every 10 s it samples the server's RSS and open files (/proc/PID). At the end it prints one
JSON line (counts; lost, corrupted, out_of_order must be 0) and writes samples.csv.
"""

import argparse
import asyncio
import hashlib
import json
import os
import random
import socket
import ssl
import struct
import sys
import time

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

counts = {k: 0 for k in ("echoed", "echo_bytes", "tls_echoed", "room_msgs", "broadcast_msgs",
                         "churn", "resets", "slow_closed", "reconnects")}
faults = {"lost": 0, "corrupted": 0, "out_of_order": 0, "errors": 0}
notes = []


def payload(seq: int, size: int) -> str:
    pad = os.urandom(size).hex()
    body = f"{seq}:{pad}"
    return f"{body}:{hashlib.sha256(body.encode()).hexdigest()}"


def check(text: str) -> int | None:
    """The sequence number of a well-formed message, or None if its checksum is wrong."""
    try:
        body, digest = text.rsplit(":", 1)
    except ValueError:
        return None
    if hashlib.sha256(body.encode()).hexdigest() != digest:
        return None
    return int(body.split(":", 1)[0])


def fault(kind: str, what: str) -> None:
    faults[kind] += 1
    if len(notes) < 20:
        notes.append(f"{kind}: {what}")


async def echo_worker(url: str, end: float, deflate: bool, key: str, ssl_ctx=None) -> None:
    seq = 0
    while time.monotonic() < end:
        try:
            async with connect(url, compression="deflate" if deflate else None, ssl=ssl_ctx,
                               max_size=2**24, open_timeout=10) as ws:
                while time.monotonic() < end:
                    msg = payload(seq, random.choice((8, 64, 512, 4096, 32768)))
                    await ws.send(msg)
                    got = await asyncio.wait_for(ws.recv(), 30)
                    if got != msg:
                        fault("corrupted", f"{url} seq {seq}")
                    counts[key] += 1
                    counts["echo_bytes"] += len(msg)
                    seq += 1
        except (ConnectionClosed, OSError, asyncio.TimeoutError) as e:
            fault("errors", f"{key} {url}: {e!r}")
            counts["reconnects"] += 1
            await asyncio.sleep(0.5)


async def member(url: str, me: str, end: float, ready: asyncio.Barrier, key: str,
                 publish: bool, size: int) -> None:
    last: dict[str, int] = {}
    # The server keeps these alive with its own pings; the client's keepalive (20 s pings,
    # 20 s timeout) starved of CPU closed 15 members with 1011 in the first 10-minute run.
    async with connect(url, max_size=2**24, open_timeout=10, ping_interval=None) as ws:
        await ready.wait()

        async def publisher() -> None:
            seq = 0
            while time.monotonic() < end:
                await ws.send(f"{me}|{payload(seq, size)}")
                seq += 1
                await asyncio.sleep(0.05)

        task = asyncio.create_task(publisher()) if publish else None
        try:
            while True:
                try:
                    text = await asyncio.wait_for(ws.recv(), max(0.1, end - time.monotonic() + 2))
                except asyncio.TimeoutError:
                    break
                if text.startswith("{"):
                    continue  # a join or leave notice
                sender, body = text.split("|", 1)
                seq = check(body)
                if seq is None:
                    fault("corrupted", f"{key} from {sender}")
                    continue
                if sender in last and seq != last[sender] + 1:
                    fault("lost" if seq > last[sender] + 1 else "out_of_order",
                          f"{key} {me} from {sender}: {last[sender]} then {seq}")
                last[sender] = seq
                counts[key] += 1
                if time.monotonic() > end + 1:
                    break
        except ConnectionClosed as e:
            fault("errors", f"{key} {me}: {e!r}")
        if task:
            task.cancel()


async def slow_receiver(url: str, end: float) -> None:
    while time.monotonic() < end:
        try:
            async with connect(url, max_size=2**24, open_timeout=10, max_queue=1) as ws:
                # Never read: the server stops sending at its cap and closes with 1008.
                await asyncio.wait_for(ws.wait_closed(), max(0.1, end - time.monotonic()))
                counts["slow_closed"] += 1
        except (asyncio.TimeoutError, ConnectionClosed, OSError):
            pass


async def churn(url: str, end: float) -> None:
    n = 0
    while time.monotonic() < end:
        try:
            async with connect(url, open_timeout=10) as ws:
                msg = payload(n, 16)
                await ws.send(msg)
                if await asyncio.wait_for(ws.recv(), 30) != msg:
                    fault("corrupted", "churn")
            counts["churn"] += 1
            n += 1
        except (ConnectionClosed, OSError, asyncio.TimeoutError) as e:
            fault("errors", f"churn: {e!r}")


async def resets(port: int, end: float) -> None:
    head = (b"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    while time.monotonic() < end:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(head)
            await reader.readuntil(b"\r\n\r\n")
            # Half of a masked 1 KiB binary frame's header and payload, then a reset.
            writer.write(bytes([0x82, 0xFE, 0x04, 0x00, 1, 2, 3, 4]) + os.urandom(300))
            await writer.drain()
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            counts["resets"] += 1
        except OSError as e:
            fault("errors", f"reset: {e!r}")
        await asyncio.sleep(0.05)


def sample(pid: int) -> tuple[int, int]:
    with open(f"/proc/{pid}/status") as f:
        rss = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


async def sampler(pid: int, end: float, rows: list) -> None:
    start = time.monotonic()
    while True:
        rss, fds = sample(pid)
        rows.append((round(time.monotonic() - start), rss, fds))
        if time.monotonic() >= end:
            return
        await asyncio.sleep(min(10, max(0.1, end - time.monotonic())))


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--tls-port", type=int, required=True)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    base, tls = f"ws://127.0.0.1:{a.port}", f"wss://localhost:{a.tls_port}"
    ctx = ssl.create_default_context(cafile=a.ca)
    end = time.monotonic() + a.minutes * 60
    rows: list = []
    tasks = [sampler(a.pid, end, rows)]
    tasks += [echo_worker(f"{base}/echo", end, i % 2 == 0, "echoed") for i in range(16)]
    tasks += [echo_worker(f"{tls}/echo", end, i % 2 == 0, "tls_echoed", ctx) for i in range(4)]
    for r in range(3):
        ready = asyncio.Barrier(5)
        tasks += [member(f"{base}/chat/soak{r}", f"r{r}m{m}", end, ready, "room_msgs", True, 32)
                  for m in range(5)]
    ready = asyncio.Barrier(9)
    tasks += [member(f"{base}/broadcast", "pub", end, ready, "broadcast_msgs", True, 2048)]
    tasks += [member(f"{base}/broadcast", f"b{i}", end, ready, "broadcast_msgs", False, 0)
              for i in range(8)]
    tasks += [slow_receiver(f"{base}/broadcast", end) for _ in range(2)]
    tasks += [churn(f"{base}/echo", end), resets(a.port, end)]
    await asyncio.gather(*tasks)
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "samples.csv"), "w") as f:
        f.write("seconds,rss_kib,open_files\n")
        f.writelines(f"{t},{r},{n}\n" for t, r, n in rows)
    warm = [r for t, r, _ in rows if t >= 60] or [r for _, r, _ in rows]
    print(json.dumps({"minutes": a.minutes, **counts, **faults,
                      "rss_kib_after_warmup": [min(warm), max(warm)],
                      "open_files": [min(n for *_, n in rows), max(n for *_, n in rows)],
                      "notes": notes}))
    sys.exit(1 if faults["lost"] or faults["corrupted"] or faults["out_of_order"] else 0)


asyncio.run(main())
