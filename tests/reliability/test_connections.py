"""Connections as hostile clients hold them, over real sockets to a uvicorn running the app
with `happiness serve`'s protocol and limits (service.security.server): oversized and slow
request heads, slow bodies, and clients that vanish mid-upload. Before: megabytes of headers
were accepted, a silent or trickling client held its connection indefinitely, and a client
that disconnected mid-upload was an unhandled error with a traceback and a 500 in /metrics."""

from __future__ import annotations

import logging
import socket
import threading
import time
from contextlib import contextmanager

import httpx
import pytest
import uvicorn

from service.main import create_app
from service.security import server as server_module
from support import ADMIN, make_settings

LIMITS = {"max_header_bytes": 4096, "header_timeout_seconds": 1.0, "body_idle_timeout_seconds": 1.0}


@contextmanager
def serving(database_url, tmp_path, monkeypatch):
    for name, value in LIMITS.items():  # the protocol reads them from the environment, as in a worker
        monkeypatch.setenv(f"HAPPINESS_{name.upper()}", str(value))
    server_module._limits.cache_clear()
    settings = make_settings(database_url, tmp_path, camera_rate_per_minute=0, **LIMITS)
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    from support import ScriptedPipeline

    config = uvicorn.Config(create_app(settings, pipeline=ScriptedPipeline()),
                            **server_module.uvicorn_options(settings) | {"log_level": "warning"})
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield listening.getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        server_module._limits.cache_clear()


@pytest.fixture
def port(database_url, tmp_path, monkeypatch):
    with serving(database_url, tmp_path, monkeypatch) as bound:
        yield bound


def exchange(port: int, data: bytes, wait: float = 5.0) -> bytes:
    """Send `data`, then read until the server closes the connection (or `wait` passes)."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as connection:
        connection.sendall(data)
        return read_until_closed(connection)


def read_until_closed(connection: socket.socket) -> bytes:
    answer = b""
    try:
        while chunk := connection.recv(65536):
            answer += chunk
    except (TimeoutError, ConnectionResetError):
        answer += b"<still open>" if not answer.endswith(b"<reset>") else b""
    return answer


def camera_key(port: int) -> tuple[int, str]:
    url = f"http://127.0.0.1:{port}"
    location = httpx.post(f"{url}/locations", json={"name": "Square"}, headers=ADMIN).json()
    key = httpx.post(f"{url}/locations/{location['id']}/cameras", json={"name": "c"}, headers=ADMIN).json()["api_key"]
    return location["id"], key


def test_a_request_head_over_the_limit_is_400_and_closed(port):
    head = b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-Pad-%d: %s\r\n" % (n, b"a" * 100) for n in range(60))
    answer = exchange(port, head + b"\r\n")
    assert answer.startswith(b"HTTP/1.1 400") and not answer.endswith(b"<still open>")
    assert exchange(port, b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").startswith(b"HTTP/1.1 200")


@pytest.mark.parametrize("sent", [b"", b"GET /health HTTP/1.1\r\nHost: x\r\n"])
def test_a_silent_or_slow_request_head_is_cut_off(port, sent):
    started = time.monotonic()
    answer = exchange(port, sent, wait=LIMITS["header_timeout_seconds"] + 5)
    assert answer == b""  # closed by the server, not by our own timeout
    assert time.monotonic() - started < LIMITS["header_timeout_seconds"] + 5


def test_a_body_that_stops_arriving_is_408(port):
    location_id, key = camera_key(port)
    head = (f"POST /locations/{location_id}/frames HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
            "Content-Type: image/jpeg\r\nContent-Length: 100000\r\n\r\n").encode()
    answer = exchange(port, head + b"\xff\xd8" * 500, wait=LIMITS["body_idle_timeout_seconds"] + 10)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b"did not arrive in time" in answer


def test_a_client_vanishing_mid_upload_is_logged_as_such_and_is_no_500(port, caplog):
    location_id, key = camera_key(port)
    head = (f"POST /locations/{location_id}/frames HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
            "Content-Type: image/jpeg\r\nContent-Length: 500000\r\n\r\n").encode()
    caplog.set_level(logging.INFO)
    with socket.create_connection(("127.0.0.1", port)) as connection:
        connection.sendall(head + b"\xff" * 1000)
    deadline = time.monotonic() + 10
    while "disconnected" not in caplog.text and time.monotonic() < deadline:
        time.sleep(0.05)
    lines = [r for r in caplog.records if "disconnected" in r.getMessage()]
    assert len(lines) == 1 and lines[0].levelno == logging.INFO, caplog.text
    assert f"body bytes of POST /locations/{location_id}/frames" in lines[0].getMessage()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", headers=ADMIN).text
    frames = [line for line in metrics.splitlines()
              if line.startswith("happiness_http_request_duration_seconds_count") and "/frames" in line]
    assert any('status="499"' in line for line in frames), frames
    assert not any('status="500"' in line for line in frames), frames


def test_serve_runs_uvicorn_with_the_limits_and_a_patient_worker_healthcheck(tmp_path):
    from service.security.server import GuardedHttpToolsProtocol, uvicorn_options

    options = uvicorn_options(make_settings("sqlite://", tmp_path, keep_alive_seconds=7, max_connections=50))
    assert options["http"] is GuardedHttpToolsProtocol
    assert (options["timeout_keep_alive"], options["limit_concurrency"]) == (7, 50)
    assert options["timeout_worker_healthcheck"] == 60  # uvicorn's 5 s killed busy workers mid-frame
    uvicorn.Config("service.main:create_app", factory=True, **options)  # every option is uvicorn's


def test_the_allocator_is_tuned_in_each_worker():
    import ctypes

    from service.runtime.memory import tune_allocator

    assert tune_allocator() is True
    libc = ctypes.CDLL(None)
    assert libc.mallopt(-8, 2) == 1  # glibc answers 1 for a parameter it takes
