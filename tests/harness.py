"""Test harness: real infrastructure for the session, real HTTP servers, topic readers.

Infrastructure comes from (first that applies): KAFKA_BOOTSTRAP_SERVERS / REDIS_URL in the
environment; BACKFILL_TEST_VALKEY_CLUSTER=N: the embedded broker and an N-node embedded Valkey
Cluster (`make test-cluster`, `make replicas`); testcontainers' Kafka and Redis when a Docker
engine answers; otherwise the embedded Tansu broker and valkey-server started on free ports,
as `make run` does.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import uvicorn
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from litestar import Litestar

from cli.embedded import (
    EMBEDDED_SESSION_TIMEOUT_MS,
    EmbeddedCluster,
    EmbeddedProcess,
    PortTaken,
    free_port,
    on_free_port,
    start_broker,
    start_valkey,
    start_valkey_cluster,
)
from contracts.topics import TOPICS, Topic
from services.base.kafka import ensure_topics
from services.base.keys import cluster_nodes
from services.base.secrets_crypto import Keyring
from services.base.settings import InfraSettings

M = TypeVar("M")


@dataclass
class Infra:
    """Addresses of the session's broker and Redis, plus handles to pause them in fault tests."""

    bootstrap_servers: str
    redis_url: str
    keyring: str
    broker: EmbeddedProcess | None = None
    valkey: EmbeddedProcess | None = None
    cleanups: list[Callable[[], None]] = field(default_factory=list)
    cluster: EmbeddedCluster | None = None

    @property
    def is_cluster(self) -> bool:
        """True when `redis_url` names a Valkey Cluster (`redis+cluster://`)."""
        return cluster_nodes(self.redis_url) is not None

    def settings(self, **overrides: Any) -> InfraSettings:
        """InfraSettings pointing at this session's infrastructure."""
        values = {
            "kafka_bootstrap_servers": self.bootstrap_servers,
            "redis_url": self.redis_url,
            "secrets_keyring": self.keyring,
            "internal_token": "test-internal-token",
            "kafka_enable_idempotence": os.environ.get("KAFKA_ENABLE_IDEMPOTENCE", "") == "true",
            "kafka_session_timeout_ms": EMBEDDED_SESSION_TIMEOUT_MS,
        }
        values.update(overrides)
        return InfraSettings(**values)

    def env(self) -> dict[str, str]:
        """Environment for a subprocess of the suite pointed at this infrastructure."""
        return {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers,
            "REDIS_URL": self.redis_url,
            "SECRETS_KEYRING": self.keyring,
            "INTERNAL_TOKEN": "test-internal-token",
            "KAFKA_SESSION_TIMEOUT_MS": str(EMBEDDED_SESSION_TIMEOUT_MS),
            "REGISTRY_OAUTH_ALLOW_LOCAL_PROVIDERS": "true",  # test OAuth providers: 127.0.0.1
            "SYNC_OAUTH_ALLOW_LOCAL_PROVIDERS": "true",  # test OAuth providers: 127.0.0.1
        }


def _docker_available() -> bool:
    if not shutil.which("docker"):
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=5).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@contextlib.contextmanager
def session_infra() -> Iterator[Infra]:
    """Start (or locate) Kafka and Redis for the whole test session; stop what we started."""
    keyring = Keyring.generate_entry("v1")
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS") and os.environ.get("REDIS_URL"):
        create_topics(os.environ["KAFKA_BOOTSTRAP_SERVERS"])
        yield Infra(os.environ["KAFKA_BOOTSTRAP_SERVERS"], os.environ["REDIS_URL"], keyring)
        return
    if os.environ.get("BACKFILL_TEST_VALKEY_CLUSTER"):
        with embedded_infra(keyring, cluster=int(os.environ["BACKFILL_TEST_VALKEY_CLUSTER"])) as i:
            yield i
        return
    if os.environ.get("BACKFILL_TEST_CONTAINERS") != "off" and _docker_available():
        from testcontainers.kafka import KafkaContainer
        from testcontainers.redis import RedisContainer

        with KafkaContainer().with_kraft() as kafka, RedisContainer("valkey/valkey:8") as redis:
            host, port = redis.get_container_host_ip(), redis.get_exposed_port(6379)
            create_topics(kafka.get_bootstrap_server())
            yield Infra(kafka.get_bootstrap_server(), f"redis://{host}:{port}/0", keyring)
        return
    with embedded_infra(keyring) as infra:
        yield infra


@contextlib.contextmanager
def embedded_infra(keyring: str | None = None, cluster: int = 0) -> Iterator[Infra]:
    """A private embedded broker and Valkey on free ports, with every registry topic.

    Fault tests that freeze the broker or Valkey use their own pair, so that no other test
    shares the frozen server. `cluster=N` starts an N-node Valkey Cluster instead of one node.
    """
    home = Path(tempfile.mkdtemp(prefix="backfill-test-"))
    broker = on_free_port(lambda port: start_broker(port, home / "broker.log"))
    valkey: EmbeddedProcess | None = None
    nodes: EmbeddedCluster | None = None
    try:
        if cluster:
            nodes = _start_cluster(cluster, home)
            url = nodes.url
        else:
            valkey = on_free_port(
                lambda port: start_valkey(port, home / "valkey", home / "valkey.log")
            )
            url = f"redis://127.0.0.1:{valkey.port}/0"
        create_topics(f"127.0.0.1:{broker.port}")
        yield Infra(
            f"127.0.0.1:{broker.port}",
            url,
            keyring or Keyring.generate_entry("v1"),
            broker=broker,
            valkey=valkey,
            cluster=nodes,
        )
    finally:
        if valkey is not None:
            valkey.stop()
        if nodes is not None:
            nodes.stop()
        broker.stop()
        shutil.rmtree(home, ignore_errors=True)


def _start_cluster(size: int, home: Path, attempts: int = 5) -> EmbeddedCluster:
    """An N-node cluster on free ports, on other ports if one was taken meanwhile."""
    for attempt in range(attempts):
        try:
            ports = [free_port() for _ in range(size)]
            return start_valkey_cluster(ports, home / f"vk-{attempt}", home)
        except PortTaken:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


_LOGS_STORE: list[Path] = []


def logs_store_dir() -> str:
    """The one embedded logs store (chDB) directory of this test process.

    chDB keeps one data directory per process for the process' lifetime: every logs app a
    test process starts shares this one (tests keep apart by workspace and consumer group).
    """
    if not _LOGS_STORE:
        _LOGS_STORE.append(Path(tempfile.mkdtemp(prefix="backfill-logs-store-")))
    return str(_LOGS_STORE[0])


def create_topics(bootstrap_servers: str) -> None:
    """Create every registry topic; callable from sync code and from inside an event loop."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, ensure_topics(bootstrap_servers)).result()


@contextlib.asynccontextmanager
async def serving(app: Litestar, port: int | None = None, **options: Any) -> AsyncIterator[str]:
    """Serve `app` on `port` (default: a free one) with a real uvicorn server; yield its URL.

    `options` go to `uvicorn.Config` (a service's own limits: `uvicorn_limits(...)`).
    """
    # Bound here and handed to uvicorn: a port picked free and bound later may be taken in
    # between (by another test process, or as the local end of an outbound connection).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port or 0))
    port = int(sock.getsockname()[1])
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_config=None,
        lifespan="on",
        timeout_graceful_shutdown=10,  # as `serve` does in production
        **options,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    deadline = time.monotonic() + 60
    while not server.started:
        if task.done():
            task.result()
        if time.monotonic() > deadline:
            task.cancel()
            raise AssertionError("the app did not start serving within 60 s")
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        try:  # the app's own stop steps are bounded; this only guards against a bug in them
            await asyncio.wait_for(task, 200)
        except TimeoutError:
            raise AssertionError("the app did not stop within 200 s") from None
        finally:
            sock.close()


async def wait_ready(client: Any, base_url: str, timeout: float = 30) -> None:
    """Poll `/readyz` until it is 200 (consumers assigned, Kafka and Redis reachable)."""

    async def ready() -> bool:
        response = await client.get(f"{base_url}/readyz")
        assert response.status_code == 200, f"{base_url} not ready: {response.text}"
        return True

    await eventually(ready, timeout=timeout, interval=0.1)


Offsets = dict[int, int]  # partition → offset


class TopicMarks:
    """Where every topic of one broker ended when the current test began.

    `record()` (an autouse fixture calls it before each test of a directory that uses it)
    notes the end offsets; `read_topic` then starts there instead of rescanning everything
    earlier tests wrote. One long-lived consumer answers every `record()`.
    """

    current: TopicMarks | None = None  # the marks of the running test, if any

    def __init__(self, bootstrap_servers: str) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.ends: dict[str, Offsets] = {}
        self._consumer: AIOKafkaConsumer | None = None

    async def record(self) -> None:
        """Note every topic's end offsets now, and make these the running test's marks."""
        if self._consumer is None:
            self._consumer = AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap_servers, enable_auto_commit=False
            )
            await self._consumer.start()
        partitions = [TopicPartition(t.name, p) for t in TOPICS for p in range(t.partitions)]
        ends = await self._consumer.end_offsets(partitions)
        self.ends = {}
        for tp, offset in ends.items():
            self.ends.setdefault(tp.topic, {})[tp.partition] = offset
        TopicMarks.current = self

    def since(self, bootstrap_servers: str, topic: Topic[Any]) -> Offsets | None:
        """The running test's start offsets of `topic` on that broker, if recorded."""
        if bootstrap_servers != self.bootstrap_servers:
            return None
        return self.ends.get(topic.name)

    async def close(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
        TopicMarks.current = None


async def read_topic(
    bootstrap_servers: str,
    topic: Topic[Any],
    until: Callable[[list[Any]], bool],
    timeout: float = 20,
    raw: bool = False,
    from_start: bool = False,
) -> list[Any]:
    """Read `topic` until `until(messages)` holds, from where the running test began.

    Starts at the offsets `TopicMarks` recorded before the test (what earlier tests wrote is
    skipped); from the beginning with `from_start=True` or where no marks were recorded.
    Returns decoded messages (or raw aiokafka records with raw=True). Raises AssertionError
    with what was seen when the condition is not met in time.
    """
    marks = TopicMarks.current
    since = None if from_start or marks is None else marks.since(bootstrap_servers, topic)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic.name, p) for p in range(topic.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        for tp in partitions:
            if since and since.get(tp.partition):
                consumer.seek(tp, since[tp.partition])
        seen: list[Any] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if until(seen):
                return seen
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                for record in records:
                    seen.append(record if raw else topic.decode(record.value))
        if until(seen):
            return seen
        raise AssertionError(
            f"condition not met on {topic.name} within {timeout}s; saw {len(seen)}"
        )
    finally:
        await consumer.stop()


async def read_to_marker(
    bootstrap_servers: str, topic: Topic[Any], marker: Any, timeout: float = 20
) -> list[Any]:
    """Publish `marker` on `topic` now, then return what the topic holds before it.

    Proves an absence without a sleep: whatever was written to the marker's partition
    before this call is in the answer. The marker must have the key (so the partition) of
    the messages looked for. Reads from the running test's start (see `TopicMarks`).
    """
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, acks="all")
    await producer.start()
    try:
        await topic.send(producer, marker)
        await producer.flush()
    finally:
        await producer.stop()
    seen = await read_topic(bootstrap_servers, topic, lambda ms: marker in ms, timeout=timeout)
    return seen[: seen.index(marker)]


async def eventually(
    check: Callable[[], Any],
    until: Callable[[Any], bool] | None = None,
    *,
    timeout: float = 60,
    interval: float = 0.05,
    what: str = "the condition",
) -> Any:
    """Call `check` (sync or async) until its result holds, and return that result.

    The result holds when it is truthy, or, given `until`, when `until(result)` is true.
    An AssertionError raised by `check` counts as "not yet"; after `timeout` the last one is
    raised (or an AssertionError naming `what` and the last result): never a silent return.
    The one polling helper of the suite, for state that converges asynchronously (consumers,
    background writes); it says nothing about speed. To prove that something did *not*
    happen, read up to a marker instead (`read_to_marker`).
    """
    deadline = time.monotonic() + timeout
    while True:
        failure: AssertionError | None = None
        result: Any = None
        try:
            result = check()
            if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
                result = await result
            if until(result) if until is not None else result:
                return result
        except AssertionError as error:
            failure = error
        if time.monotonic() >= deadline:
            if failure is not None:
                raise failure
            raise AssertionError(f"{what} did not hold within {timeout} s (last: {result!r})")
        await asyncio.sleep(interval)
