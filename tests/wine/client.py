"""Python `websockets` (native Linux) against `wslens.exe serve` running under Wine.

    python client.py PORT

Checks: the page and /healthz over plain HTTP; on /echo a text message, a 100 KB binary
message, a ping, and permessage-deflate negotiated and working; a clean close (1000).
Exits non-zero with the reason on the first failure.
"""

import sys
import urllib.request

from websockets.sync.client import connect

port = int(sys.argv[1])
base = f"127.0.0.1:{port}"

with urllib.request.urlopen(f"http://{base}/healthz", timeout=10) as r:
    assert r.status == 200 and r.read() == b"ok\n", "healthz"
with urllib.request.urlopen(f"http://{base}/", timeout=10) as r:
    page = r.read().decode()
    assert r.status == 200 and "wslens" in page, "the page"

with connect(f"ws://{base}/echo", open_timeout=10) as ws:
    assert "permessage-deflate" in (ws.response.headers.get("Sec-WebSocket-Extensions") or ""), \
        "permessage-deflate not negotiated"
    ws.send("héllo from Linux")
    assert ws.recv(timeout=10) == "héllo from Linux", "text echo"
    blob = bytes(range(256)) * 400
    ws.send(blob)
    assert ws.recv(timeout=10) == blob, "binary echo"
    ws.ping(b"are you there").wait(timeout=10)
    ws.close(1000, "bye")
    assert ws.close_code == 1000, f"close code {ws.close_code}"

print("python websockets against wslens.exe under Wine: page, healthz, text, 100 KB binary, ping, deflate, close 1000: ok")
