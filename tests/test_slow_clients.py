"""The production command (gunicorn with gunicorn.conf.py) keeps answering while clients
trickle their request bodies: two anonymous sign-ins that promise 100,000 bytes and send one
do not stop /healthz answering within a second. A real gunicorn on a free port."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _exchange(port, request, timeout):
    """What the server sends back for `request`, until it closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        conn.sendall(request)
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    return data


def _get(port, path, timeout, connection="close"):
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: {connection}\r\n\r\n"
    head, _, body = _exchange(port, request.encode(), timeout).partition(b"\r\n\r\n")
    return head.decode(), body


@pytest.fixture
def gunicorn(app):
    port = _free_port()
    env = {
        **os.environ,
        "RECLAIM_ENV": "production",
        "SECRET_KEY": "s" * 40,
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "SCHEDULER_ENABLED": "false",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "wsgi:app"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                _get(port, "/healthz", 2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(server.stderr.read().decode()) from None
                time.sleep(0.2)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_two_trickling_uploads_do_not_keep_healthz_waiting(gunicorn):
    slow = []
    for _ in range(2):
        conn = socket.create_connection(("127.0.0.1", gunicorn), timeout=5)
        conn.sendall(
            b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: 100000\r\n\r\ne"
        )
        slow.append(conn)
        time.sleep(0.3)  # accepted before the next arrives (by another worker, if free)
    try:
        time.sleep(0.5)  # both are now held by the server, waiting for the rest
        timings = []
        for _ in range(5):
            started = time.monotonic()
            head, body = _get(gunicorn, "/healthz", timeout=5)
            timings.append(time.monotonic() - started)
            assert head.startswith("HTTP/1.1 200"), head
            assert b'"database":"ok"' in body.replace(b" ", b"")
        assert max(timings) < 1.0, timings
        assert "Server: reclaim" in head and "gunicorn" not in head.lower()
    finally:
        for conn in slow:
            conn.close()


def test_a_connection_is_closed_after_its_response_so_no_client_keeps_a_worker(gunicorn):
    # A storefront sending without pause on one kept-alive connection would keep the worker
    # that accepted it: each request of its is accepted afresh, by whichever worker is free.
    # The client asks to keep the connection; the answer ends only when the server closes it.
    head, body = _get(gunicorn, "/healthz", 5, connection="keep-alive")
    assert head.startswith("HTTP/1.1 200")
    assert "connection: close" in head.lower()
    assert b"HTTP/1.1 " not in body
