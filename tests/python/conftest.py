"""Starts the real `wslens serve` binary on a free 127.0.0.1 port for each test module."""
import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def binary() -> Path:
    path = Path(os.environ.get("WSLENS_BIN", ROOT / "target" / "debug" / "wslens"))
    assert path.exists(), f"{path} missing: run `cargo build -p wslens-server`"
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(*extra):
    port = free_port()
    proc = subprocess.Popen(
        [str(binary()), "serve", "--port", str(port), "--threads", "2", "--www", str(ROOT / "www"), *extra],
        env={**os.environ, "RUST_LOG": "warn"},
    )
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).read()
            break
        except OSError:
            time.sleep(0.05)
    else:
        proc.kill()
        raise RuntimeError("wslens serve did not start")
    return proc, f"ws://127.0.0.1:{port}"


def stop(proc):
    proc.terminate()
    assert proc.wait(timeout=10) == 0, "clean exit on SIGTERM"


@pytest.fixture(scope="module")
def server():
    proc, url = start()
    yield url
    stop(proc)


@pytest.fixture(scope="module")
def small_server():
    """A server whose messages may not exceed 1 MiB (after inflating)."""
    proc, url = start("--max-message", str(1 << 20))
    yield url
    stop(proc)


@pytest.fixture(scope="module")
def plain_server():
    """A server started with --no-deflate."""
    proc, url = start("--no-deflate")
    yield url
    stop(proc)


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    """`wslens serve --tls-self-signed`: yields (wss:// base URL, https:// base URL, an SSL
    context that trusts the certificate it wrote)."""
    import ssl

    port, tls_port = free_port(), free_port()
    cert = tmp_path_factory.mktemp("tls") / "dev-cert.pem"
    proc = subprocess.Popen(
        [str(binary()), "serve", "--port", str(port), "--threads", "2", "--www", str(ROOT / "www"),
         "--tls-self-signed", "--tls-port", str(tls_port), "--tls-cert-out", str(cert)],
        env={**os.environ, "RUST_LOG": "warn"},
        stdout=subprocess.DEVNULL,
    )
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).read()
            if cert.exists():
                break
        except OSError:
            pass
        time.sleep(0.05)
    else:
        proc.kill()
        raise RuntimeError("wslens serve --tls-self-signed did not start")
    context = ssl.create_default_context(cafile=str(cert))
    yield f"wss://127.0.0.1:{tls_port}", f"https://127.0.0.1:{tls_port}", context
    proc.terminate()
    assert proc.wait(timeout=10) == 0, "clean exit on SIGTERM"
