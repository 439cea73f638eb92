"""The embedded servers' start-up: a port counts as ours only when our process listens on it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from cli.embedded import (
    EmbeddedError,
    EmbeddedProcess,
    PortTaken,
    free_port,
    listens,
    wait_for_port,
)


def test_a_port_someone_else_took_is_not_taken_for_our_server(tmp_path: Path) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        # Our "server" dies on EADDRINUSE, as Tansu does when the port was taken meanwhile.
        process = subprocess.Popen([sys.executable, "-c", "import sys; sys.exit(1)"])
        process.wait()

        with pytest.raises(PortTaken, match=str(port)):
            wait_for_port(port, process, "the server", tmp_path / "log", timeout=5)


def test_our_own_listening_socket_is_recognised() -> None:
    with socket.socket() as own:
        own.bind(("127.0.0.1", 0))
        own.listen()
        port = own.getsockname()[1]
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
        try:
            assert listens(os.getpid(), port) is True
            assert listens(child.pid, port) is False
        finally:
            child.kill()
            child.wait()


def test_pausing_a_server_that_has_exited_says_so() -> None:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    server = EmbeddedProcess("broker", 1, process)

    with pytest.raises(EmbeddedError, match="has exited"):
        server.pause()


def test_a_server_that_could_not_bind_a_second_port_counts_as_port_taken(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    log.write_text(
        "Warning: Could not create server TCP listening socket *:54006: Address already in use\n"
    )
    process = subprocess.Popen([sys.executable, "-c", "import sys; sys.exit(1)"])
    process.wait()

    with pytest.raises(PortTaken):  # the caller starts it again on other ports
        wait_for_port(free_port(), process, "the server", log, timeout=5)
