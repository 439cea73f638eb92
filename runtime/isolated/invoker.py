"""The isolated runtime: the same `Invoker`, with extension code in locked-down workers.

Bundle loading, entry resolution, the permission checks (`InvocationScope`), the logs and
observed records, and publishing are the shared `runtime.runtime.Runtime`'s; only the
execution happens in a worker of the pool (one tenant per worker, invocations pipelined:
see `pool.py`). The parent answers each capability request after the scope's checks and
enforces the limits the worker cannot be trusted with:

- wall-clock time: past `time_limit_s` (counted from when the invocation reaches the head of
  its worker's queue) the worker is killed, which stops CPU-bound code and code blocked
  anywhere; the invocation ends `timeout`, the ones queued behind it run on another worker;
- wire size: a frame above `max_frame` (a response, a record, a log line) kills the worker;
- log volume: at most `max_log_lines` lines per invocation (denials included), fields cut
  (the scope's bounds, `runtime/scope.py`); records: at most the scope's `max_records`;
- a worker that exits mid-invocation (memory limit, crash) ends it `error`.

A denial the parent records raises `PermissionDenied` in the worker, exactly as in-process.
When `allow_in_process` is set and isolation cannot be set up, `start` logs a loud warning
and the runtime runs code in this process instead (`isolated` is then False); otherwise
`start` raises `IsolationUnavailable` and the service refuses to start.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any

import msgspec
from aiokafka import AIOKafkaProducer
from redis.asyncio import Redis

from contracts.installations import InstallationSnapshot
from runtime.interface import Invocation, SecretOpener
from runtime.isolated import protocol
from runtime.isolated.allocation import tenant_of
from runtime.isolated.lockdown import Limits
from runtime.isolated.pool import IsolationUnavailable, WorkerPool
from runtime.isolated.worker_handle import WorkerGone, WorkerHandle
from runtime.loader import LoadedBundle
from runtime.runtime import Ran, Runtime, execute_in_process
from runtime.scope import InvocationScope
from sdk.errors import PermissionDenied

log = logging.getLogger(__name__)
LEVELS = {"debug", "info", "warn", "error"}


class IsolatedRuntime(Runtime):
    """Implements `runtime.interface.Invoker` with a pool of locked-down worker processes."""

    def __init__(
        self,
        *,
        redis: Redis,
        keyring: SecretOpener,
        producer: Callable[[], AIOKafkaProducer],
        time_limit_s: float = 10.0,
        host_overrides: Mapping[str, str] | None = None,
        secret_read_interval_s: float = 300.0,
        workers: int = 4,
        pipeline_depth: int = 4,
        memory_mb: int = 512,
        max_frame: int = 4 * 1024 * 1024,
        max_log_lines: int = 1_000,
        allow_in_process: bool = False,
    ) -> None:
        super().__init__(
            redis=redis,
            keyring=keyring,
            producer=producer,
            time_limit_s=time_limit_s,
            host_overrides=host_overrides,
            secret_read_interval_s=secret_read_interval_s,
        )
        self.pool = WorkerPool(
            size=workers,
            depth=pipeline_depth,
            time_limit_s=time_limit_s,
            limits=Limits(memory_mb=memory_mb),
            max_frame=max_frame,
        )
        self.max_frame = max_frame
        # An answer must fit one frame to the worker: the parent stops reading past that.
        self.outbound.max_answer_bytes = min(self.outbound.max_answer_bytes, max_frame - 65_536)
        self.max_log_lines = max_log_lines
        self.allow_in_process = allow_in_process
        self.isolated = False
        self.unavailable: str | None = None  # why isolation is off, when it is
        self._started: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start the pool; IsolationUnavailable unless in-process execution is allowed."""
        if self._started is None:
            self._started = asyncio.get_running_loop().create_task(self._start())
        await asyncio.shield(self._started)

    async def _start(self) -> None:
        try:
            report = await self.pool.start()
        except IsolationUnavailable as error:
            if not self.allow_in_process:
                raise
            self.unavailable = str(error)
            log.critical(
                "EXTENSION CODE RUNS INSIDE THIS SERVICE PROCESS: isolation is unavailable "
                "and RUNTIME_ALLOW_IN_PROCESS is set (development only)",
                extra={"reason": str(error)},
            )
            return
        self.isolated = True
        log.info("isolated runtime ready", extra={"lockdown": msgspec.to_builtins(report)})

    async def _execute(
        self, bundle: LoadedBundle, path: str, scope: InvocationScope, invocation: Invocation
    ) -> Ran:
        if not self.isolated and self.unavailable is None:
            await self.start()  # raises while isolation is unavailable and not allowed
        if not self.isolated:
            return await execute_in_process(bundle, path, scope, invocation, self.time_limit_s)
        tenant = tenant_of(invocation)
        conversation = Conversation(self, bundle, path, scope, invocation)
        while True:
            try:
                worker = await self.pool.worker_for(tenant)
            except IsolationUnavailable as error:  # the zygote died: fail this one, loudly
                log.error("no runtime worker could be started", extra={"error": str(error)})
                message = f"no isolated worker available: {error}"
                scope.record("error", message, kind="error")
                return Ran(outcome="error", message=message)
            conversation.arm()
            worker.dispatch(conversation)
            ran = await conversation.ended
            if ran is not None:
                return ran
            # its worker died before it started: run it on another

    async def close(self) -> None:
        """Stop the workers and the zygote, then release what the base runtime holds."""
        if self._started is not None and not self._started.done():
            self._started.cancel()
        await self.pool.close()
        await super().close()


class Conversation:
    """One invocation on a worker: its `Invoke`, the capability requests, how it ended.

    Implements the pool's `Job`. `ended` resolves to the `Ran`, or to None when the worker
    died before the invocation started (the runtime dispatches it again).
    """

    def __init__(
        self,
        runtime: IsolatedRuntime,
        bundle: LoadedBundle,
        path: str,
        scope: InvocationScope,
        invocation: Invocation,
    ) -> None:
        self.runtime = runtime
        self.bundle = bundle
        self.path = path
        self.scope = scope
        self.invocation = invocation
        self.ended: asyncio.Future[Ran | None] = asyncio.get_running_loop().create_future()

    def arm(self) -> None:
        """Ready for a (new) dispatch."""
        if self.ended.done():
            self.ended = asyncio.get_running_loop().create_future()

    def _end(self, ran: Ran | None) -> None:
        if not self.ended.done():
            self.ended.set_result(ran)

    def invoke_frame(self, worker: WorkerHandle) -> protocol.Invoke:
        """The `Invoke`, with the installation, version and bundle only if `worker` lacks them."""
        bundle, invocation, scope = self.bundle, self.invocation, self.scope
        digest = bundle.digest
        shipped = None
        if digest not in worker.digests:
            shipped = protocol.Bundle(digest=digest, files=bundle.files, manifest=bundle.manifest)
            worker.digests.add(digest)
        installation = invocation.installation
        seen = (
            installation.installation_id,
            installation.revision,
            installation.updated_at,
            tuple(installation.write_protected_entities),
        )
        send_installation = worker.installation != seen
        worker.installation = seen
        version = invocation.version
        send_version = version.version_id not in worker.versions
        worker.versions.add(version.version_id)
        return protocol.Invoke(
            invocation_id=invocation.invocation_id,
            mode=invocation.mode,
            kind=invocation.kind,
            script_type=invocation.script_type,
            entry=invocation.entry,
            request=invocation.request,
            cursor=invocation.cursor,
            source_id=invocation.source_id,
            session_id=invocation.session_id,
            actor=invocation.actor,
            event=invocation.event,
            input=invocation.input,
            digest=digest,
            path=self.path,
            settings=dict(scope.settings),
            # what the worker may see: no sealed secrets
            installation=_without_secrets(installation) if send_installation else None,
            version=version if send_version else None,
            bundle=shipped,
            max_records=scope.max_records,
        )

    async def handle(self, worker: WorkerHandle, message: protocol.FromWorker) -> bool:
        """Serve one frame of this invocation; True when it was the `Done`."""
        scope = self.scope
        if scope.closed and not isinstance(message, protocol.Done):
            # The caller went away (cancelled): the code runs on, but nothing it does counts.
            if isinstance(message, protocol.SecretGet):
                worker.answer(protocol.SecretValue(error="this invocation has ended"))
            elif isinstance(message, protocol.HttpCall):
                worker.answer(protocol.HttpAnswer(error="this invocation has ended"))
            return False
        if isinstance(message, protocol.Done):
            if not scope.closed:  # a cancelled caller's records do not count
                self._ingest(message.records)
            if message.line is not None:
                attrs = {"traceback": message.traceback} if message.traceback else None
                scope.record("error", message.line, kind="error", attrs=attrs)
            self._end(
                Ran(
                    outcome=message.outcome,
                    message=message.message,
                    response=message.response,
                    next_cursor=message.next_cursor,
                    has_more=message.has_more,
                )
            )
            return True
        if isinstance(message, protocol.LogLine):
            level = message.level if message.level in LEVELS else "info"
            scope.log(level, message.message, message.attrs)  # type: ignore[arg-type]
        elif isinstance(message, protocol.Annotate):
            scope.annotate(**{k: v for k, v in message.fields.items() if k in ("entity", "event")})
        elif isinstance(message, protocol.Records):
            self._ingest(message.records)
        elif isinstance(message, protocol.SecretGet):
            worker.answer(self._secret(message.name))
        elif isinstance(message, protocol.HttpCall):
            worker.answer(await self._http(message))
        else:
            raise WorkerGone(f"worker sent {type(message).__name__} during an invocation")
        return False

    def _ingest(self, records: list[protocol.Ingest]) -> None:
        """Take the code's records through the scope's checks, in the order it ingested them."""
        scope = self.scope
        for record in records:
            try:
                scope.ingest(record.canonical_type, record.payload, record.stream, record.key)
            except PermissionDenied:
                pass  # recorded; the worker raised it into the code itself

    def expired(self) -> None:
        """Killed at the time limit: stops CPU-bound code too."""
        message = f"time limit of {self.runtime.time_limit_s:g}s exceeded"
        self.scope.record("error", f"{message}: the worker running it was stopped", kind="error")
        self._end(Ran(outcome="timeout", message=message))

    def failed(self, error: WorkerGone) -> None:
        """The worker died under it (memory limit, crash, a broken frame)."""
        message = f"{error} (memory limit, crash or a forbidden operation)"
        self.scope.record("error", message, kind="error")
        self._end(Ran(outcome="error", message=message))

    def requeue(self) -> None:
        """Never started: the runtime dispatches it again."""
        self._end(None)

    def _secret(self, name: str) -> protocol.SecretValue:
        try:
            return protocol.SecretValue(value=self.scope.secret(name))
        except PermissionDenied as denied:
            return protocol.SecretValue(denied=_denial(denied))
        except Exception:  # the scope recorded which secret; the worker learns nothing more
            return protocol.SecretValue(error=f"secret {name!r} could not be opened")

    async def _http(self, call: protocol.HttpCall) -> protocol.HttpAnswer:
        options: dict[str, Any] = dict(call.options)
        if isinstance(options.get("auth"), list):
            options["auth"] = tuple(options["auth"])
        try:
            answer = await self.scope.fetch(call.method, call.url, options)
        except PermissionDenied as denied:
            return protocol.HttpAnswer(denied=_denial(denied))
        except Exception as error:  # transport failure after retries, bad options
            return protocol.HttpAnswer(error=f"{type(error).__name__}: {error}")
        body = answer.body
        if len(body) > self.runtime.max_frame - 65_536:
            return protocol.HttpAnswer(error=f"response body of {len(body)} bytes is too large")
        return protocol.HttpAnswer(status=answer.status, headers=answer.headers, body=body)


def _denial(denied: PermissionDenied) -> protocol.Denial:
    return protocol.Denial(capability=denied.capability, target=denied.target, reason=denied.reason)


def _without_secrets(installation: InstallationSnapshot) -> InstallationSnapshot:
    """What a worker may hold: no sealed value at all (secrets, rotating ones, OAuth tokens)."""
    oauth = installation.oauth
    if oauth is not None:
        oauth = msgspec.structs.replace(oauth, access_token=None, refresh_token=None)
    return msgspec.structs.replace(installation, secrets={}, rotating_secrets={}, oauth=oauth)
