"""Idle, half-open and slow clients cannot exhaust a service (services/base/connections.py).

A real service process (logs) with short deadlines; 2,000 idle connections and 50 clients
trickling a request head; a normal request still answers, and the server closes every one of
those connections by itself, giving its descriptors back. Bounded: 127.0.0.1 only, a fixed
number of sockets, every socket closed at the end.
"""

from __future__ import annotations

import contextlib
import os
import resource
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cli.embedded import free_port
from services.base.connections import raise_open_files_limit
from tests.harness import Infra

IDLE = 2_000
SLOW = 50


@pytest.fixture
def service(infra: Infra, tmp_path: Path) -> Iterator[tuple[str, int]]:
    port = free_port()
    env = {
        **infra.env(),
        "LOGS_PORT": str(port),
        "LOG_LEVEL": "WARNING",
        "HTTP_HEADER_TIMEOUT_S": "1",
        "HTTP_KEEP_ALIVE_S": "1",
        "LOGS_DATA_DIR": str(tmp_path / "logs-store"),  # chDB's directory has one owner
    }
    with (tmp_path / "logs.log").open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "services.logs"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert process.poll() is None, (tmp_path / "logs.log").read_text()
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            time.sleep(0.1)
        yield url, process.pid
    finally:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def connect_all(port: int, count: int) -> list[socket.socket]:
    sockets = []
    for _ in range(count):
        s = socket.socket()
        s.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            s.connect(("127.0.0.1", port))
        sockets.append(s)
    return sockets


def closed_by_server(sockets: list[socket.socket], timeout: float) -> int:
    """How many of `sockets` the server closed (EOF or reset) within `timeout`."""
    selector = selectors.DefaultSelector()
    for s in sockets:
        selector.register(s, selectors.EVENT_READ)
    closed = 0
    deadline = time.monotonic() + timeout
    while closed < len(sockets) and time.monotonic() < deadline:
        for key, _ in selector.select(timeout=0.5):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            try:
                data = sock.recv(4096)
            except (ConnectionResetError, BlockingIOError):
                data = b""
            if not data:
                selector.unregister(sock)
                closed += 1
    selector.close()
    return closed


def test_idle_and_slow_connections_neither_stall_others_nor_keep_descriptors(service) -> None:
    url, pid = service
    port = int(url.rsplit(":", 1)[1])
    limit = raise_open_files_limit()
    if limit < IDLE + SLOW + 200:
        pytest.skip(f"open-files limit {limit} is below what the test opens")
    baseline = open_fds(pid)
    idle = connect_all(port, IDLE)
    slow = connect_all(port, SLOW)
    try:
        time.sleep(0.3)  # let connects complete before writing
        for s in slow:
            with contextlib.suppress(BlockingIOError, OSError):
                s.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # head never finishes

        answered = httpx.get(f"{url}/healthz", timeout=10)
        assert answered.status_code == 200

        assert closed_by_server(idle + slow, timeout=60) == IDLE + SLOW
        deadline = time.monotonic() + 30
        while open_fds(pid) > baseline + 20 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert open_fds(pid) <= baseline + 20
        assert httpx.get(f"{url}/healthz", timeout=10).status_code == 200
    finally:
        for s in idle + slow:
            s.close()


def test_a_request_in_flight_is_not_cut_by_the_head_deadline(service) -> None:
    url, _ = service
    with httpx.Client(timeout=10) as client:
        for _ in range(3):  # keep-alive: each request head on the same connection is timely
            assert client.get(f"{url}/healthz").status_code == 200


def test_soft_open_files_limit_is_raised_to_the_hard_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert raise_open_files_limit() == (
        hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
    )
