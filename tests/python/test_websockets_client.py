"""Python `websockets` (a third-party client) against wslens serve."""
import asyncio
import json

import websockets


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, timeout=30))


def test_echo_text_binary_ping_round_trips_and_close(server):
    async def go():
        async with websockets.connect(server + "/echo", max_size=None) as ws:
            await ws.send("héllo wslens")
            assert await ws.recv() == "héllo wslens"
            big = bytes(range(256)) * 4096  # 1 MiB
            await ws.send(big)
            assert await ws.recv() == big
            pong = await ws.ping(b"ping payload")
            latency = await pong
            assert latency >= 0
            for i in range(1000):
                await ws.send(f"message {i}")
                assert await ws.recv() == f"message {i}"
            await ws.close(code=1000, reason="done")
            assert ws.close_code == 1000
        return True

    assert run(go())


def test_fragmented_message_is_reassembled(server):
    async def go():
        async with websockets.connect(server + "/echo") as ws:
            await ws.send(["Hel", "lo ", "fragments"])  # an iterable is sent as fragments
            return await ws.recv()

    assert run(go()) == "Hello fragments"


def test_room_of_three(server):
    async def go():
        clients = [await websockets.connect(server + "/chat/pyroom") for _ in range(3)]
        # Drain the join notices (client i sees the joins of clients i..2).
        for i, c in enumerate(clients):
            for _ in range(i, 3):
                assert json.loads(await c.recv())["event"] == "join"
        for i, sender in enumerate(clients):
            await sender.send(f"hi from {i}")
            for c in clients:
                assert await c.recv() == f"hi from {i}"
        for c in clients:
            await c.close()
        return True

    assert run(go())


def test_subprotocol_negotiation(server):
    async def go():
        async with websockets.connect(server + "/echo", subprotocols=["wslens.wire"]) as ws:
            return ws.subprotocol

    assert run(go()) == "wslens.wire"


def test_invalid_utf8_is_closed_with_1007(server):
    async def go():
        async with websockets.connect(server + "/echo") as ws:
            # Send a text frame with invalid UTF-8 by going under the library's API.
            from websockets.frames import Frame, Opcode
            ws.protocol.send_frame(Frame(Opcode.TEXT, b"\xff\xfe"))
            ws.send_data()
            try:
                await ws.recv()
            except websockets.ConnectionClosed as e:
                return e.rcvd.code if e.rcvd else None

    assert run(go()) == 1007
