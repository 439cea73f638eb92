"""A small HTTP/1.1 load generator over raw asyncio keep-alive connections (127.0.0.1 only).

Runs in its own process so the server under test keeps its core. Two modes: closed loop
(`connections` requests in flight, as fast as the server answers) and open loop at a fixed
rate (latency measured from each request's scheduled time, so a stall is not hidden).
"""

from __future__ import annotations

import asyncio
import gc
import time
from dataclasses import dataclass

Request = bytes  # a complete HTTP/1.1 request
ACCEPTED = 202


@dataclass
class Result:
    """What one run measured. Only answers with the `expected` status (202 for a webhook
    delivery) count as throughput and latency: a 503 answered fast is not a delivery taken
    (`statuses` shows every answer)."""

    sent: int
    seconds: float
    latencies_ms: list[float]  # of the expected answers only
    statuses: dict[int, int]
    expected: int = ACCEPTED

    @property
    def accepted(self) -> int:
        return self.statuses.get(self.expected, 0)

    @property
    def rate(self) -> float:
        """Expected answers per second."""
        return self.accepted / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))] if ordered else 0.0


def http_request(path: str, body: bytes, headers: dict[str, str]) -> Request:
    """Encode one POST with Content-Length and keep-alive."""
    lines = [f"POST {path} HTTP/1.1", "host: 127.0.0.1", f"content-length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class Connection:
    """One keep-alive connection: send a request, read exactly one response."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def exchange(self, request: Request) -> int:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        if length:
            await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        self.writer.close()


async def closed_loop(
    port: int, requests: list[Request], connections: int, expected: int = ACCEPTED
) -> Result:
    """Send every request with `connections` in flight; measure throughput and latency."""
    pool = [await Connection.open(port) for _ in range(connections)]
    queue = iter(requests)
    latencies: list[float] = []
    statuses: dict[int, int] = {}

    async def worker(conn: Connection) -> None:
        for request in queue:
            started = time.perf_counter()
            status = await conn.exchange(request)
            if status == expected:
                latencies.append((time.perf_counter() - started) * 1000)
            statuses[status] = statuses.get(status, 0) + 1

    began = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in pool))
    seconds = time.perf_counter() - began
    for conn in pool:
        conn.close()
    return Result(sum(statuses.values()), seconds, latencies, statuses, expected)


async def open_loop(
    port: int, requests: list[Request], rate: float, connections: int, expected: int = ACCEPTED
) -> Result:
    """Send at a fixed `rate`; latency counts from the scheduled send time."""
    pool: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(await Connection.open(port))
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    tasks = []

    async def one(request: Request, scheduled: float) -> None:
        conn = await pool.get()
        status = await conn.exchange(request)
        if status == expected:
            latencies.append((time.perf_counter() - scheduled) * 1000)
        statuses[status] = statuses.get(status, 0) + 1
        pool.put_nowait(conn)

    began = time.perf_counter()
    for i, request in enumerate(requests):
        scheduled = began + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(request, scheduled)))
    await asyncio.gather(*tasks)
    seconds = time.perf_counter() - began
    while not pool.empty():
        pool.get_nowait().close()
    return Result(sum(statuses.values()), seconds, latencies, statuses, expected)


def run(
    mode: str,
    port: int,
    requests: list[Request],
    connections: int,
    rate: float,
    expected: int = ACCEPTED,
) -> Result:
    """Entry point for the load process."""
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    gc.collect()
    gc.disable()  # a collection here would stall every request in flight: not the server's
    if mode == "closed":
        return asyncio.run(closed_loop(port, requests, connections, expected))
    return asyncio.run(open_loop(port, requests, rate, connections, expected))
