"""The hot path's multiplexed Redis connection (`services.base.redis_wire`) on a real Valkey:
concurrent pipelines share one connection and each gets its own replies, converted as
redis-py's pipeline converts them; a paused, killed or refusing server fails the pipelines
waiting on it, and the next pipeline connects again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import AuthenticationError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from cli.embedded import EmbeddedProcess, free_port, start_valkey
from services.base.dedupe.tick import TickPipeline, checked
from services.base.keys import create_redis
from services.base.redis_wire import RECONNECT_PAUSE_S, Wire


def own_valkey(
    tmp: Path, port: int | None = None, extra: list[str] | None = None
) -> EmbeddedProcess:
    port = port or free_port()
    return start_valkey(port, tmp / f"valkey-{port}", tmp / f"valkey-{port}.log", extra=extra)


@pytest.fixture(scope="module")
def valkey(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedProcess]:
    started = own_valkey(tmp_path_factory.mktemp("wire"))
    yield started
    started.stop()


@pytest_asyncio.fixture
async def client(valkey: EmbeddedProcess) -> AsyncIterator[Redis]:
    redis = create_redis(
        f"redis://127.0.0.1:{valkey.port}/2", socket_timeout=5, socket_connect_timeout=2
    )
    yield redis
    await redis.aclose()


def stack(queue: Any, redis: Redis) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    pipe = redis.pipeline(transaction=False)
    queue(pipe)
    return pipe.command_stack


async def test_concurrent_pipelines_share_one_connection_and_each_gets_its_own_replies(
    client: Redis,
) -> None:
    wire = Wire.of(client)
    assert wire is not None
    try:

        def counting(i: int) -> Any:
            def queue(pipe: Pipeline) -> None:
                for _ in range(i % 5 + 1):  # pipelines of different lengths
                    pipe.incr(f"wire:count:{i}")
                pipe.get(f"wire:count:{i}")

            return queue

        await client.delete(*[f"wire:count:{i}" for i in range(200)])
        sent = [wire.send(stack(counting(i), client)) for i in range(200)]
        sent.insert(50, wire.send([]))  # an empty pipeline gets no reply to wait for
        replies = await asyncio.wait_for(asyncio.gather(*sent), 5)
        assert replies.pop(50) == []
        for i, got in enumerate(replies):
            n = i % 5 + 1
            assert got == [*range(1, n + 1), str(n).encode()]
        clients = await client.client_list()
        assert sum(1 for c in clients if c["db"] == "2") <= 2  # the wire and redis-py's one
    finally:
        await wire.aclose()


async def test_replies_are_what_redis_pys_own_pipeline_returns(client: Redis) -> None:
    wire = Wire.of(client)
    assert wire is not None

    def queue(pipe: Pipeline) -> None:
        pipe.set("wire:s", "token", nx=True, get=True, px=60_000)
        pipe.set("wire:s", "other", nx=True, get=True, px=60_000)
        pipe.set("wire:s", "done", ex=60)
        pipe.get("wire:s")
        pipe.zadd("wire:z", {"a": 1.5, "b": 2.0})
        pipe.zrange("wire:z", 0, -1, withscores=True)
        pipe.zremrangebyrank("wire:z", 0, -2)
        pipe.hset("wire:h", mapping={"k": "v"})
        pipe.hgetall("wire:h")
        pipe.expire("wire:h", 30)
        pipe.eval("return {KEYS[1], ARGV[1], 7}", 1, "wire:s", "x")
        pipe.incr("wire:h")  # WRONGTYPE: an exception object, the others unaffected
        pipe.exists("wire:s", "wire:nothing")

    try:
        await client.delete("wire:z", "wire:h", "wire:s")
        expected = await _pipeline(client, queue)
        await client.delete("wire:z", "wire:h", "wire:s")
        got = await wire.send(stack(queue, client))
        assert [_comparable(r) for r in got] == [_comparable(r) for r in expected]
        assert isinstance(got[-2], ResponseError) and "WRONGTYPE" in str(got[-2])
        assert got[0] is None and got[1] == b"token" and got[5] == [(b"a", 1.5), (b"b", 2.0)]
    finally:
        await wire.aclose()


async def _pipeline(client: Redis, queue: Any) -> list[Any]:
    pipe = client.pipeline(transaction=False)
    queue(pipe)
    return await pipe.execute(raise_on_error=False)


def _comparable(reply: Any) -> Any:
    return (type(reply).__name__, str(reply)) if isinstance(reply, Exception) else reply


async def test_the_tick_pipeline_on_the_wire_fails_only_the_caller_whose_command_failed(
    client: Redis,
) -> None:
    wire = Wire.of(client)
    tick = TickPipeline(client, wire)
    try:
        await client.set("wire:text", "x")
        good = tick.run(lambda pipe: pipe.set("wire:ok", "1"))
        bad = tick.run(lambda pipe: pipe.incr("wire:text"))
        assert checked(await good) == [True]
        with pytest.raises(ResponseError, match="not an integer"):
            checked(await bad)
    finally:
        assert wire is not None
        await wire.aclose()


async def test_a_paused_server_times_out_the_waiting_pipelines_then_the_wire_reconnects(
    tmp_path: Path,
) -> None:
    server = own_valkey(tmp_path)
    redis = create_redis(f"redis://127.0.0.1:{server.port}/0", socket_timeout=0.5)
    wire = Wire.of(redis)
    assert wire is not None
    try:
        assert await wire.send(stack(lambda p: p.set("k", "1"), redis)) == [True]
        server.pause()
        try:
            waiting = [wire.send(stack(lambda p: p.incr("k"), redis)) for _ in range(3)]
            for future in waiting:
                with pytest.raises(RedisTimeoutError):
                    await asyncio.wait_for(future, 5)
        finally:
            server.resume()
        assert (await wire.send(stack(lambda p: p.get("k"), redis)))[0] in (b"1", b"2", b"3", b"4")
    finally:
        await wire.aclose()
        await redis.aclose()
        server.stop()


async def test_a_killed_server_fails_the_waiting_pipelines_and_a_restarted_one_is_reached(
    tmp_path: Path,
) -> None:
    port = free_port()
    server = own_valkey(tmp_path, port)
    redis = create_redis(f"redis://127.0.0.1:{port}/0", socket_timeout=5)
    wire = Wire.of(redis)
    assert wire is not None
    try:
        assert await wire.send(stack(lambda p: p.ping(), redis)) == [True]
        server.pause()  # the next pipeline is written but not answered
        waiting = wire.send(stack(lambda p: p.ping(), redis))
        await asyncio.sleep(0.1)
        server.process.kill()
        server.process.wait(10)
        with pytest.raises(RedisConnectionError):
            await asyncio.wait_for(waiting, 5)
        with pytest.raises(RedisConnectionError):  # nobody listens: refused, not hanging
            await asyncio.wait_for(wire.send(stack(lambda p: p.ping(), redis)), 5)
        server = own_valkey(tmp_path, port)
        await asyncio.sleep(RECONNECT_PAUSE_S)  # past the pause after the refused connect
        assert await asyncio.wait_for(wire.send(stack(lambda p: p.ping(), redis)), 5) == [True]
    finally:
        await wire.aclose()
        await redis.aclose()
        server.stop()


async def test_the_wire_authenticates_and_selects_the_urls_database(tmp_path: Path) -> None:
    server = own_valkey(tmp_path, extra=["--requirepass", "wire-test-pass"])
    good = create_redis(f"redis://:wire-test-pass@127.0.0.1:{server.port}/5")
    bad = create_redis(f"redis://:not-it@127.0.0.1:{server.port}/5")
    wires = [Wire.of(good), Wire.of(bad)]
    try:
        assert wires[0] is not None and wires[1] is not None
        assert await wires[0].send(stack(lambda p: p.set("in-5", "yes"), good)) == [True]
        assert await good.get("in-5") == b"yes"  # redis-py, same URL: database 5
        other_db = create_redis(f"redis://:wire-test-pass@127.0.0.1:{server.port}/0")
        assert await other_db.get("in-5") is None
        await other_db.aclose()
        with pytest.raises(AuthenticationError):
            await wires[1].send(stack(lambda p: p.ping(), bad))
    finally:
        for wire in wires:
            if wire is not None:
                await wire.aclose()
        await good.aclose()
        await bad.aclose()
        server.stop()


async def test_a_closed_wire_fails_pipelines_and_a_cluster_client_gets_none(
    client: Redis,
) -> None:
    wire = Wire.of(client)
    assert wire is not None
    await wire.aclose()
    with pytest.raises(RedisConnectionError, match="closed"):
        await wire.send(stack(lambda p: p.ping(), client))
    cluster = create_redis("redis+cluster://127.0.0.1:1,127.0.0.1:2")
    assert Wire.of(cluster) is None
    resp3 = create_redis("redis://127.0.0.1:1/0?protocol=3")  # RESP3 callbacks: redis-py's
    assert Wire.of(resp3) is None


async def test_a_pipeline_sent_just_before_close_fails_instead_of_waiting_forever(
    client: Redis,
) -> None:
    wire = Wire.of(client)
    assert wire is not None
    queued = wire.send(stack(lambda p: p.ping(), client))  # its connect has not run yet
    await wire.aclose()
    with pytest.raises(RedisConnectionError, match="closed"):
        await asyncio.wait_for(queued, 5)


async def test_a_server_that_never_answers_the_handshake_leaves_no_connection_open() -> None:
    peers: list[asyncio.StreamReader] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peers.append(reader)  # reads nothing, answers nothing

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    redis = create_redis(f"redis://:pass@127.0.0.1:{port}/0", socket_connect_timeout=0.3)
    wire = Wire.of(redis)
    assert wire is not None
    try:
        with pytest.raises(RedisConnectionError, match="Error connecting"):
            await asyncio.wait_for(wire.send(stack(lambda p: p.ping(), redis)), 5)
        with pytest.raises(RedisConnectionError, match="Error connecting"):  # the pause: at once
            await asyncio.wait_for(wire.send(stack(lambda p: p.ping(), redis)), 0.05)
        assert len(peers) == 1
        # The wire closed its side: the server reads the AUTH it sent, then end of stream.
        assert b"AUTH" in await asyncio.wait_for(peers[0].read(), 5)
        assert peers[0].at_eof()
    finally:
        await wire.aclose()
        await redis.aclose()
        server.close()
        await server.wait_closed()
