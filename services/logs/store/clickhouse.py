"""ClickHouse clients for the process: embedded chDB by default, a server by URL.

Both go through `clickhouse-connect` (a `chdb:///path` DSN for the embedded engine), so the
SQL and the code are the same. A client is synchronous and serves one call at a time, so
there are two, each in its own worker thread behind its own lock: one for reads (pages,
counts), one for writes (inserts, DDL, deletes). A query therefore never waits behind a
50,000-line insert (chDB runs queries of different connections in parallel and releases
the GIL while it works); the event loop only awaits them. One process owns an embedded
data directory (chDB locks it); several replicas need the server.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import clickhouse_connect
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import OperationalError
from urllib3.exceptions import NewConnectionError

from services.base.errors import DependencyUnavailable
from services.logs.store.schema import TABLES, TEXT_INDEX_SETTINGS

T = TypeVar("T")
# Every read says FINAL (see schema.py); within a day's partition only.
QUERY_SETTINGS = {"do_not_merge_across_partitions_select_final": 1}
# Raw JSON lines as the topic carries them: fields the table does not know are skipped
# (contracts add fields compatibly), null is the column's default, objects are kept as text.
# A batch of 50,000 lines (≈ 20 MB) is parsed in 4 MiB chunks on several threads (the
# default chunk, 10 MiB, left one insert parsing on one core: ≈ +20 % lines/s, bench in
# docs/performance.md).
JSON_INSERT_SETTINGS = {
    "min_chunk_bytes_for_parallel_parsing": 4 * 1024 * 1024,
    "input_format_skip_unknown_fields": 1,
    "input_format_null_as_default": 1,
    "input_format_json_read_objects_as_strings": 1,
}


def connect(clickhouse_url: str, data_dir: str) -> Client:
    """A client for the server at `clickhouse_url`, or for chDB in `data_dir` when it is empty."""
    if clickhouse_url:
        return clickhouse_connect.get_client(dsn=clickhouse_url)
    path = Path(data_dir).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return clickhouse_connect.get_client(dsn=f"chdb://{path}")


def _unreachable(error: BaseException) -> bool:
    """Whether the server could not be reached at all (refused, reset, name not resolved)."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ConnectionError | NewConnectionError):
            return True
        text = str(seen)
        if "Connection refused" in text or "Failed to establish a new connection" in text:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class _Worker:
    """One client, used from one thread, one call at a time."""

    def __init__(self, name: str) -> None:
        self.client: Client | None = None
        self.lock = threading.Lock()
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)

    async def call(self, work: Callable[[], T]) -> T:
        def locked() -> T:
            with self.lock:
                return work()

        return await asyncio.get_running_loop().run_in_executor(self.executor, locked)

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None


class ClickHouse:
    """Async facade: reads in one thread, inserts and statements in another, each serial."""

    def __init__(
        self, clickhouse_url: str, data_dir: str, ddl: Sequence[tuple[str, ...]] = ()
    ) -> None:
        self.clickhouse_url = clickhouse_url
        self.data_dir = data_dir
        self.ddl = ddl
        self._writer = _Worker("clickhouse-write")
        self._reader = _Worker("clickhouse-read")
        # Consumers may start before the store is open: their first call waits for it.
        self._opened = asyncio.Event()

    async def open(self) -> None:
        """Connect and create the tables (idempotent)."""
        await self._writer.call(self._open)
        self._reader.client = await self._reader.call(
            lambda: connect(self.clickhouse_url, self.data_dir)
        )
        self._opened.set()

    def _open(self) -> None:
        client = self._writer.client = connect(self.clickhouse_url, self.data_dir)
        for ddl in TABLES:
            client.command(ddl)
        for alternatives in self.ddl:  # the first alternative this engine version accepts
            for n, statement in enumerate(alternatives):
                try:
                    client.command(statement, settings=TEXT_INDEX_SETTINGS)
                    break
                except Exception:
                    if n == len(alternatives) - 1:
                        raise

    async def close(self) -> None:
        """Close the clients and release the embedded data directory."""
        self._opened.clear()
        for worker in (self._reader, self._writer):  # the engine stops with the last one
            await worker.call(worker.close)
            worker.executor.shutdown(wait=True)

    @property
    def client(self) -> Client:
        """The writing client (inserts, statements)."""
        if self._writer.client is None:
            raise RuntimeError("ClickHouse store not open")
        return self._writer.client

    @property
    def reader(self) -> Client:
        """The reading client (SELECTs)."""
        if self._reader.client is None:
            raise RuntimeError("ClickHouse store not open")
        return self._reader.client

    async def _run(self, work: Callable[[], T], *, read: bool = False) -> T:
        """`work` on the open store; a server that cannot be reached is `DependencyUnavailable`
        (503 on the API; a consumer holds its batch until it answers instead of parking it)."""
        await self._opened.wait()
        try:
            return await (self._reader if read else self._writer).call(work)
        except OperationalError as error:
            if _unreachable(error):
                raise DependencyUnavailable("clickhouse") from error
            raise  # a slow query, a bad setting: an error of this call, not an outage

    async def rows(
        self, sql: str, parameters: dict[str, Any] | None = None, *, with_writes: bool = False
    ) -> list[tuple[Any, ...]]:
        """Rows of a SELECT, with `{name:Type}` server-side parameters: on the reading client,
        or `with_writes` on the writing one, in order with the inserts and statements (a
        read that decides a write, such as the retention sweep's, sees the store as it is)."""
        client = (lambda: self.client) if with_writes else (lambda: self.reader)
        return await self._run(
            lambda: [
                tuple(row)
                for row in client()
                .query(sql, parameters=parameters, settings=QUERY_SETTINGS)
                .result_rows
            ],
            read=not with_writes,
        )

    async def command(self, sql: str, parameters: dict[str, Any] | None = None) -> Any:
        """A statement without rows (DDL, DELETE, OPTIMIZE)."""
        return await self._run(lambda: self.client.command(sql, parameters=parameters))

    async def insert_json(self, table: str, rows: Sequence[bytes]) -> None:
        """One insert of JSON objects (one per item, `JSONEachRow`), parsed by ClickHouse.

        Joining and sending happen in the store's thread: the event loop does no per-row work.
        A row the table refuses fails the whole insert (nothing of it is stored).
        """
        if rows:
            await self._run(
                lambda: self.client.raw_insert(
                    table,
                    None,
                    b"\n".join(rows),
                    fmt="JSONEachRow",
                    settings=JSON_INSERT_SETTINGS,
                )
            )

    async def insert(
        self,
        table: str,
        columns: Sequence[str],
        data: Sequence[Sequence[Any]],
        *,
        column_oriented: bool = False,
    ) -> None:
        """One insert of many rows (one part per partition touched); empty batches skipped.

        `data` is a list of rows, or of columns with `column_oriented` (cheaper to build).
        """
        if data and data[0]:
            await self._run(
                lambda: self.client.insert(
                    table, data, column_names=list(columns), column_oriented=column_oriented
                )
            )
