"""Python `websockets` and `urllib` over TLS (wss://, https://) against wslens serve, trusting
the server's self-signed development certificate through an ssl context."""
import asyncio
import ssl
import urllib.request

import pytest
import websockets


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, timeout=30))


def test_wss_text_binary_ping_and_clean_close(tls_server):
    wss, _, context = tls_server

    async def go():
        async with websockets.connect(wss + "/echo", ssl=context, max_size=None) as ws:
            # permessage-deflate (RFC 7692) over TLS too: compressed, then encrypted.
            assert [e.name for e in ws.protocol.extensions] == ["permessage-deflate"]
            await ws.send("héllo over TLS")
            assert await ws.recv() == "héllo over TLS"
            text = "compressed inside TLS " * 10_000
            await ws.send(text)
            assert await ws.recv() == text
            big = bytes(range(256)) * 4096  # 1 MiB
            await ws.send(big)
            assert await ws.recv() == big
            pong = await ws.ping(b"tls ping")
            assert await pong >= 0
            for i in range(200):
                await ws.send(f"message {i}")
                assert await ws.recv() == f"message {i}"
            await ws.close(code=1000, reason="done")
            assert ws.close_code == 1000
        return True

    assert run(go())


def test_https_page_and_healthz(tls_server):
    _, https, context = tls_server
    with urllib.request.urlopen(https + "/healthz", context=context, timeout=5) as r:
        assert r.status == 200 and r.read() == b"ok\n"
    with urllib.request.urlopen(https + "/", context=context, timeout=5) as r:
        assert r.headers["Content-Type"].startswith("text/html")
        assert b"<html" in r.read()


def test_an_untrusting_client_is_refused(tls_server):
    wss, _, _ = tls_server

    async def go():
        # The default context trusts the system's roots, not the development certificate.
        async with websockets.connect(wss + "/echo", ssl=ssl.create_default_context()):
            pass

    with pytest.raises(ssl.SSLCertVerificationError):
        run(go())
