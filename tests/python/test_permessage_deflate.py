"""permessage-deflate (RFC 7692) with Python `websockets`, which offers it by default."""
import asyncio
import json
import os

import websockets


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, timeout=60))


def extension_names(ws):
    return [e.name for e in ws.protocol.extensions]


def test_negotiated_by_default_and_round_trips(server):
    async def go():
        async with websockets.connect(server + "/echo", max_size=None) as ws:
            assert extension_names(ws) == ["permessage-deflate"]
            header = ws.response.headers["Sec-WebSocket-Extensions"]
            assert header.startswith("permessage-deflate"), header
            await ws.send("héllo, compressed wslens")
            assert await ws.recv() == "héllo, compressed wslens"
            text = "the same line again and again\n" * 20_000  # 600 KB that compresses well
            await ws.send(text)
            assert await ws.recv() == text
            noise = os.urandom(3 << 20)  # 3 MiB that does not compress
            await ws.send(noise)
            assert await ws.recv() == noise
            await ws.send(["Hel", "lo ", "compressed fragments"])
            assert await ws.recv() == "Hello compressed fragments"
            for i in range(500):  # the shared window (context takeover) over many messages
                await ws.send(f"message number {i}")
                assert await ws.recv() == f"message number {i}"
            await ws.close()
            assert ws.close_code == 1000
        return True

    assert run(go())


def test_wire_tap_shows_rsv1_both_ways(server):
    async def go():
        async with websockets.connect(server + "/echo", subprotocols=["wslens.wire"]) as ws:
            assert extension_names(ws) == ["permessage-deflate"]
            # The tap's first record: the handshake exactly as the server read and wrote it.
            handshake = json.loads(await ws.recv())["handshake"]
            request = bytes.fromhex(handshake["request"]).decode()
            assert "Sec-WebSocket-Extensions: permessage-deflate" in request
            assert bytes.fromhex(handshake["response"]).startswith(b"HTTP/1.1 101 ")
            message = "compress me " * 100
            await ws.send(message)
            assert await ws.recv() == message
            tap = json.loads(await ws.recv())["wire"]
            wire_in, wire_out = bytes.fromhex(tap["in"]), bytes.fromhex(tap["out"])
            # FIN + RSV1 + text, masked by the client; unmasked from the server.
            assert wire_in[0] == 0xC1 and wire_in[1] & 0x80
            assert wire_out[0] == 0xC1 and not wire_out[1] & 0x80
            assert len(wire_out) < 100 < len(message)
        return True

    assert run(go())


def test_no_context_takeover_offer_is_honoured(server):
    from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory

    async def go():
        factory = ClientPerMessageDeflateFactory(
            server_no_context_takeover=True,
            client_no_context_takeover=True,
            server_max_window_bits=10,
            client_max_window_bits=9,
        )
        async with websockets.connect(server + "/echo", extensions=[factory]) as ws:
            header = ws.response.headers["Sec-WebSocket-Extensions"]
            assert "server_no_context_takeover" in header
            assert "server_max_window_bits=10" in header
            for i in range(50):
                await ws.send(f"small window {i} " * 50)
                assert await ws.recv() == f"small window {i} " * 50
        return header

    assert run(go()).startswith("permessage-deflate")


def test_bomb_is_refused_with_1009(small_server):
    async def go():
        async with websockets.connect(small_server + "/echo", max_size=None) as ws:
            assert extension_names(ws) == ["permessage-deflate"]
            # 64 MiB of zeros: about 64 KiB compressed, 64x the server's 1 MiB limit.
            await ws.send(bytes(64 << 20))
            try:
                await ws.recv()
            except websockets.ConnectionClosed as e:
                return e.rcvd.code if e.rcvd else None

    assert run(go()) == 1009


def test_no_deflate_declines(plain_server):
    async def go():
        async with websockets.connect(plain_server + "/echo") as ws:
            assert extension_names(ws) == []
            assert "Sec-WebSocket-Extensions" not in ws.response.headers
            await ws.send("plain")
            return await ws.recv()

    assert run(go()) == "plain"
