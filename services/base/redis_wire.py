"""One multiplexed connection to a single Redis node, for the hot path's pipelines.

redis-py checks a connection out of its pool for every pipeline, sends it, reads every reply
through its stream reader and checks the connection back in: ≈ 60–75 µs of CPU per pipeline
on this platform's machines, most of a delivery's Redis cost, against ≈ 13 µs for the same
bytes on a bare protocol (measured with one `SET NX GET PX`). `Wire` keeps one connection
open and writes the pipelines of concurrent callers back to back without waiting for the
previous replies; Redis answers on a connection in the order it was asked, so the replies
are matched to their pipeline first in, first out.

What stays redis-py's: the commands are queued with its `Pipeline` API, their arguments
encoded by its encoder, error replies mapped to its exception classes, and replies
converted by its response callbacks (the ones it uses on a RESP2 connection: the wire sends
no HELLO), so a caller gets what `pipe.execute(raise_on_error=False)` gives for the commands
the services send (a per-command error as an exception object; `tests/base/test_redis_wire.py`
compares). Not carried over: `Script` objects (the tick pipeline sends those through redis-py),
the NEVER_DECODE/EMPTY_RESPONSE options, and a response callback that raises fails its
command only, not the whole pipeline.

Failure: a pipeline fails as a whole with `ConnectionError` when the connection cannot be
made or is lost (every pipeline waiting on it fails, whether or not Redis ran it: the same
uncertainty as a reply lost on a pooled connection), with `TimeoutError` when a reply takes
longer than the client's `socket_timeout` (the connection is then dropped: replies still on
the way would be matched to the wrong pipeline). The next pipeline connects again; for
`RECONNECT_PAUSE_S` after a failed connect, pipelines fail at once rather than each trying.
**Nothing is retried here**, unlike redis-py's pipelines (which retry connection errors and a
restarting node's LOADING with backoff): the callers decide, and on the hot path they answer
503 (ingress; the provider retries) or fail the page (sync; the run is retried), and a
confirm that did not land leaves its claim to expire and be verified on the topic.

Only a plain TCP node (`redis://`): `Wire.of` returns None for a cluster client (commands
must be routed by slot; redis-py's cluster pipeline does that) and for TLS or Unix sockets,
and the caller keeps using redis-py's pipelines.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Mapping, Sequence
from types import SimpleNamespace
from typing import Any, cast

import hiredis
from redis._parsers.base import BaseParser
from redis._parsers.response_callbacks import _get_response_callback
from redis.asyncio import Redis
from redis.asyncio.connection import Connection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

# (args, options): an entry of a redis-py pipeline's command stack
Command = tuple[tuple[Any, ...], Mapping[str, Any]]
_INCOMPLETE = object()
RECONNECT_PAUSE_S = 0.1  # after a failed connect, pipelines fail at once for this long
# Options redis-py's `parse_response` removes before it calls a response callback.
_NOT_FOR_CALLBACKS = ("keys", "NEVER_DECODE", "EMPTY_RESPONSE")


class Wire:
    """Pipelines of concurrent callers on one connection, replies matched in order."""

    def __init__(
        self,
        redis: Redis,
        *,
        host: str,
        port: int,
        db: int = 0,
        username: str | None = None,
        password: str | None = None,
        connect_timeout_s: float | None = None,
        reply_timeout_s: float | None = None,
    ) -> None:
        self.host, self.port, self.db = host, port, db
        self.username, self.password = username, password
        self.connect_timeout_s = connect_timeout_s
        self.reply_timeout_s = reply_timeout_s
        self._encode = redis.get_encoder().encode
        self._callbacks = redis.response_callbacks
        kwargs = redis.connection_pool.connection_kwargs
        # The wire speaks RESP2 (no HELLO): the callbacks are the ones redis-py picks for a
        # connection that fell back to RESP2, which give the same values as its default RESP3.
        self._resp2 = SimpleNamespace(
            _resp2_fallback=True, legacy_responses=kwargs.get("legacy_responses", True)
        )
        self._by_command: dict[Any, Any] = {}
        self._decoding = kwargs.get("encoding", "utf-8") if kwargs.get("decode_responses") else None
        self._protocol: _Protocol | None = None
        self._connecting: asyncio.Task[None] | None = None
        self._queued: list[tuple[bytes, Sequence[Command], asyncio.Future[list[Any]]]] = []
        self._closed = False
        # After a failed connect: until when pipelines fail at once, with what error.
        self._down: tuple[float, str, type[Exception]] = (0.0, "", RedisConnectionError)

    @classmethod
    def of(cls, redis: Redis) -> Wire | None:
        """A wire to the node `redis` talks to; None when it is not one plain TCP node."""
        pool = getattr(redis, "connection_pool", None)
        if pool is None or pool.connection_class is not Connection:
            return None  # a cluster, TLS or a Unix socket: redis-py's pipelines
        kwargs = pool.connection_kwargs
        if kwargs.get("protocol") not in (None, 2, "2") or kwargs.get("credential_provider"):
            return None  # RESP3 callbacks or rotating credentials: redis-py's pipelines
        return cls(
            redis,
            host=kwargs.get("host", "localhost"),
            port=int(kwargs.get("port", 6379)),
            db=int(kwargs.get("db", 0) or 0),
            username=kwargs.get("username"),
            password=kwargs.get("password"),
            # redis-py connects within the socket timeout when no connect timeout is given
            connect_timeout_s=kwargs.get("socket_connect_timeout") or kwargs.get("socket_timeout"),
            reply_timeout_s=kwargs.get("socket_timeout"),
        )

    def send(self, commands: Sequence[Command]) -> asyncio.Future[list[Any]]:
        """Send one pipeline; resolves with one result per command, in order."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Any]] = loop.create_future()
        if self._closed:
            future.set_exception(_closed_error())
            return future
        if not commands:  # nothing to send, and no reply will come to count it done
            future.set_result([])
            return future
        try:
            packed = b"".join(self._pack(args) for args, _ in commands)
        except Exception as error:  # an argument redis-py's encoder refuses (DataError)
            future.set_exception(error)
            return future
        protocol = self._protocol
        if protocol is not None and protocol.open:
            protocol.write(packed, commands, future)
        elif self._connecting is None and loop.time() < self._down[0]:
            # Just failed to connect: fail at once for a moment instead of a new attempt
            # per pipeline while the node refuses.
            _, message, kind = self._down
            future.set_exception(kind(message))
        else:
            self._queued.append((packed, commands, future))
            if self._connecting is None:
                self._connecting = loop.create_task(self._connect())
        return future

    def _pack(self, args: tuple[Any, ...]) -> bytes:
        name = args[0]
        if isinstance(name, str) and " " in name:  # "SCRIPT LOAD" and the like
            args = (*name.split(), *args[1:])
        return hiredis.pack_command(tuple(self._encode(arg) for arg in args))

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        made: list[_Protocol] = []

        def factory() -> _Protocol:
            made.append(_Protocol(self))
            return made[-1]

        try:
            try:
                async with asyncio.timeout(self.connect_timeout_s):
                    await loop.create_connection(factory, self.host, self.port)
                    await self._handshake(made[0])
            except (OSError, TimeoutError) as error:  # asyncio.timeout's is the builtin
                raise RedisConnectionError(
                    f"Error connecting to {self.host}:{self.port}: {error!r}"
                ) from error
        except BaseException as error:  # a refusal, a timeout, or cancelled by `aclose`
            for protocol in made:  # a connection made but not ready is not left open
                protocol.close(RedisConnectionError("connecting failed"))
            failure = error if isinstance(error, Exception) else _closed_error()
            self._down = (loop.time() + RECONNECT_PAUSE_S, str(failure), type(failure))
            self._fail_queued(failure)
            if not isinstance(error, Exception):
                raise
            return
        finally:
            self._connecting = None
        protocol = made[0]
        if self._closed:
            protocol.close(_closed_error())
            self._fail_queued(_closed_error())
            return
        self._protocol = protocol
        queued, self._queued = self._queued, []
        for packed, commands, future in queued:
            protocol.write(packed, commands, future)

    def _fail_queued(self, error: Exception) -> None:
        queued, self._queued = self._queued, []
        for _, _, future in queued:
            if not future.done():
                future.set_exception(error)

    async def _handshake(self, protocol: _Protocol) -> None:
        """AUTH and SELECT before anything else, as redis-py's connection does."""
        hello: list[Command] = []
        if self.password is not None:
            auth = (self.username, self.password) if self.username else (self.password,)
            hello.append((("AUTH", *auth), {}))
        if self.db:
            hello.append((("SELECT", self.db), {}))
        if not hello:
            return
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        protocol.write(b"".join(self._pack(args) for args, _ in hello), hello, future)
        for reply in await future:
            if isinstance(reply, Exception):
                protocol.close(reply)
                raise reply

    def convert(self, reply: Any, command: Command) -> Any:
        """A reply as redis-py's pipeline returns it (its response callback applied)."""
        if isinstance(reply, Exception):
            return reply
        args, options = command
        name = args[0]
        if name in self._by_command:
            callback = self._by_command[name]
        else:
            callback = self._by_command[name] = _get_response_callback(
                self._callbacks, name, self._resp2
            )
        if callback is None:
            return reply
        if options:
            options = {k: v for k, v in options.items() if k not in _NOT_FOR_CALLBACKS}
        return callback(reply, **options)

    def lost(self, protocol: _Protocol) -> None:
        if self._protocol is protocol:
            self._protocol = None

    async def aclose(self) -> None:
        """Close the connection; pipelines still waiting fail with ConnectionError."""
        self._closed = True
        if self._connecting is not None:
            self._connecting.cancel()
            await asyncio.gather(self._connecting, return_exceptions=True)
        self._fail_queued(_closed_error())  # a connect cancelled before it ran left them
        if self._protocol is not None:
            self._protocol.close(_closed_error())
            self._protocol = None


def _closed_error() -> RedisConnectionError:
    return RedisConnectionError("the Redis wire is closed")


class _Protocol(asyncio.Protocol):
    """The connection: pipelines written in order, replies handed to them in order."""

    def __init__(self, wire: Wire) -> None:
        self.wire = wire
        self.open = False
        self.transport: asyncio.Transport | None = None
        self.reader = hiredis.Reader(
            replyError=BaseParser.parse_error,
            notEnoughData=_INCOMPLETE,
            **({"encoding": wire._decoding} if wire._decoding else {}),
        )
        # Per pipeline: its commands, its future, the replies so far, its timer.
        self.waiting: collections.deque[_Waiting] = collections.deque()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.open = True

    def write(
        self, packed: bytes, commands: Sequence[Command], future: asyncio.Future[list[Any]]
    ) -> None:
        if future.done():  # its caller gave up before it could be written
            return
        if self.transport is None or not self.open:
            future.set_exception(RedisConnectionError("the Redis connection is closed"))
            return
        timeout = self.wire.reply_timeout_s
        timer = (
            asyncio.get_running_loop().call_later(timeout, self._timed_out)
            if timeout is not None
            else None
        )
        self.waiting.append(_Waiting(commands, future, timer))
        self.transport.write(packed)

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        convert = self.wire.convert
        while True:
            reply = self.reader.gets()
            if reply is _INCOMPLETE:
                return
            if not self.waiting:  # a reply nobody asked for: the stream cannot be trusted
                self.close(RedisConnectionError("unexpected reply from Redis"))
                return
            head = self.waiting[0]
            try:
                head.replies.append(convert(reply, head.commands[len(head.replies)]))
            except Exception as error:  # a response callback that raised, as redis-py would
                head.replies.append(error)
            if len(head.replies) == len(head.commands):
                self.waiting.popleft()
                head.done()

    def _timed_out(self) -> None:
        self.close(RedisTimeoutError(f"Timeout reading from {self.wire.host}:{self.wire.port}"))

    def close(self, error: Exception) -> None:
        """Fail every waiting pipeline with `error` and drop the connection."""
        self.open = False
        self.wire.lost(self)
        waiting, self.waiting = self.waiting, collections.deque()
        for entry in waiting:
            entry.fail(error)
        if self.transport is not None:
            self.transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        error = RedisConnectionError(
            f"Connection to {self.wire.host}:{self.wire.port} lost"
            + (f": {exc!r}" if exc is not None else "")
        )
        self.close(error)


class _Waiting:
    __slots__ = ("commands", "future", "replies", "timer")

    def __init__(
        self,
        commands: Sequence[Command],
        future: asyncio.Future[list[Any]],
        timer: asyncio.TimerHandle | None,
    ) -> None:
        self.commands = commands
        self.future = future
        self.replies: list[Any] = []
        self.timer = timer

    def done(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        if not self.future.done():
            self.future.set_result(self.replies)

    def fail(self, error: Exception) -> None:
        if self.timer is not None:
            self.timer.cancel()
        if not self.future.done():
            self.future.set_exception(error)
