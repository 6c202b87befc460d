"""Python `websockets` clients spread over three `wslens serve --backplane` nodes sharing a
real redis-server (Debian's, started here on a free loopback port with its own directory and
stopped by PID): every message reaches every member exactly once, each publisher's order
holds, and join/leave notices cross nodes."""
import asyncio
import json
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request

import pytest
import websockets

from conftest import free_port, start, stop


@pytest.fixture(scope="module")
def redis_url():
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server missing (scripts/test.sh installs Debian's redis-server)")
    port = free_port()
    directory = tempfile.mkdtemp(prefix="wslens-redis-")
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", directory],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.time() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    break
        except OSError:
            pass
        assert time.time() < deadline, "redis-server did not start"
        time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}"
    proc.kill()
    proc.wait()
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def nodes(redis_url):
    started = [start("--backplane", redis_url) for _ in range(3)]
    yield [url for _, url in started]
    for proc, _ in started:
        stop(proc)


def subscriptions(ws_url):
    http = ws_url.replace("ws://", "http://")
    text = urllib.request.urlopen(f"{http}/metrics", timeout=5).read().decode()
    for line in text.splitlines():
        if line.startswith("wslens_backplane_subscriptions "):
            return int(line.split()[1])
    return 0


async def until_subscribed(ws_url, rooms=1):
    for _ in range(500):
        if subscriptions(ws_url) >= rooms:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{ws_url} never subscribed")


async def next_notice(ws):
    return json.loads(await asyncio.wait_for(ws.recv(), 10))


def test_a_chat_spans_three_nodes(nodes):
    async def main():
        members, ids = [], []
        for url in nodes:
            ws = await websockets.connect(f"{url}/chat/py-spread")
            own = await next_notice(ws)
            assert own["event"] == "join"
            ids.append(own["id"])
            await until_subscribed(url)
            for earlier in members:
                seen = await next_notice(earlier)
                assert (seen["event"], seen["id"]) == ("join", own["id"])
            members.append(ws)
        assert len(set(ids)) == 3

        each = 50
        for k in range(each):
            for i, ws in enumerate(members):
                await ws.send(f"{i}:{k}")
        for r, ws in enumerate(members):
            nxt = [0, 0, 0]
            for _ in range(3 * each):
                m = await asyncio.wait_for(ws.recv(), 10)
                src, k = map(int, m.split(":"))
                assert k == nxt[src], f"receiver {r}: {m} out of order or twice"
                nxt[src] += 1
            assert nxt == [each] * 3

        await members[2].close()
        for ws in members[:2]:
            seen = await next_notice(ws)
            assert (seen["event"], seen["id"]) == ("leave", ids[2])
        for ws in members[:2]:
            await ws.close()

    asyncio.run(main())
