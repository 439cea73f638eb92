"""Running one entry point of one version with the manifest's permissions: the shared part.

`Runtime` is everything an invocation needs whatever process the code runs in: bundle and
entry lookup, the capability scope (`InvocationScope`), and publishing what the code
produced. Subclasses say where the code runs (`_execute`): `InProcessRuntime` here, in this
process (development only, `RUNTIME_ALLOW_IN_PROCESS`), and
`runtime.isolated.invoker.IsolatedRuntime` (the default) in locked-down worker processes.

`invoke` never raises for anything the extension did: a missing bundle or file, a handler
that raises, a denial, a malformed stream page or the time limit each become an outcome with
a one-line message, and the details (with traceback) go to the extension logs topic.

Publishing: observed records are acknowledged (acks=all) before `invoke` returns. Log lines
are handed to the producer before it returns but their acks are not awaited, so they add no
broker round trip to the caller's latency: a caller that then publishes on the same producer
and awaits its own acks (ingress does) finds them written in the same or an earlier produce
request. A log line the broker does not acknowledge is counted (`log_lines_failed`) and
logged, never silently dropped. A producer that refuses a message outright (not started,
buffer full past its timeout) or an unacknowledged observed record propagates, so the
caller can answer 503 and be retried.

In-process time limit: `asyncio.timeout` cancels code that awaits. CPU-bound synchronous
code cannot be pre-empted in-process (it holds the event loop until it returns), and
in-process code can reach everything the service can: that is why only development runs it.
"""

from __future__ import annotations

import asyncio
import logging
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer
from redis.asyncio import Redis

from contracts.manifest import EntityDefinition, ManifestError
from contracts.topics import EXTENSION_LOGS, OBSERVED_RECORDS, SECRET_READS
from runtime.entrypoints import EntryNotFound, run_entry, script_path
from runtime.interface import (
    Emission,
    HttpResponse,
    Invocation,
    InvocationResult,
    Outcome,
    SecretOpener,
)
from runtime.loader import BundleCache, BundleMissing, LoadedBundle
from runtime.outbound import OutboundHttp
from runtime.pages import MalformedPage
from runtime.scope import InvocationScope, script_type_of
from runtime.secret_reads import SecretReadAudit
from sdk.bundle import BundleError
from sdk.context import bound
from sdk.errors import PermissionDenied

log = logging.getLogger(__name__)
Definitions = Callable[[str], Mapping[str, EntityDefinition]]  # workspace id → type → definition


@dataclass(frozen=True)
class Ran:
    """How the entry point ended, wherever it ran."""

    outcome: Outcome
    message: str | None = None
    response: HttpResponse | None = None
    next_cursor: str | None = None
    has_more: bool = False


class Runtime:
    """Implements `runtime.interface.Invoker`; a subclass says where the code runs."""

    def __init__(
        self,
        *,
        redis: Redis,
        keyring: SecretOpener,
        producer: Callable[[], AIOKafkaProducer],
        time_limit_s: float = 10.0,
        host_overrides: Mapping[str, str] | None = None,
        secret_read_interval_s: float = 300.0,
        entity_definitions: Definitions | None = None,
    ) -> None:
        self.bundles = BundleCache(redis)
        self.keyring = keyring
        self.producer = producer
        self.time_limit_s = time_limit_s
        self.outbound = OutboundHttp(host_overrides)
        self.log_lines_failed = 0  # log lines the broker did not acknowledge
        self.secret_reads = SecretReadAudit(secret_read_interval_s)
        # The workspace's entity definitions as the calling service sees them (ingest checks).
        self.entity_definitions = entity_definitions

    async def invoke(self, invocation: Invocation) -> InvocationResult:
        """Run one entry point; hand its logs to the producer, observed records acknowledged."""
        started = time.monotonic()
        try:
            bundle = await self.bundles.get(invocation.version.digest)
            path = script_path(bundle, invocation)
        except BundleMissing as error:
            return await self._unrunnable(invocation, "error", str(error), started)
        except (BundleError, ManifestError) as error:
            return await self._unrunnable(invocation, "error", f"unusable bundle: {error}", started)
        except EntryNotFound as error:
            return await self._unrunnable(invocation, "not_found", str(error), started)
        scope = InvocationScope(
            invocation=invocation,
            manifest=bundle.manifest,
            keyring=self.keyring,
            outbound=self.outbound,
            script_name=path,
            secret_reads=self.secret_reads,
            definitions=self._definitions(invocation),
        )
        try:
            ran = await self._execute(bundle, path, scope, invocation)
        finally:
            scope.closed = True
        if ran.outcome != "ok":
            # Nothing of a failed run counts: its page is retried, its request is answered 5xx.
            scope.emissions.clear()
            scope.observed.clear()
        await self._publish(scope)
        return InvocationResult(
            invocation_id=invocation.invocation_id,
            outcome=ran.outcome,
            response=ran.response,
            emissions=list(scope.emissions),
            observed=len(scope.observed),
            intercepted=[
                Emission(
                    canonical_type=r.canonical_type,
                    payload=r.payload,
                    idempotency_key=r.idempotency_key,
                    stream=r.stream,
                )
                for r in scope.observed
                if r.mode == "draft"
            ],
            next_cursor=ran.next_cursor,
            has_more=ran.has_more,
            error=scope.redact(ran.message),
            duration_ms=(time.monotonic() - started) * 1000,
        )

    def _definitions(self, invocation: Invocation) -> Mapping[str, EntityDefinition] | None:
        if self.entity_definitions is None:
            return None
        return self.entity_definitions(invocation.installation.workspace_id)

    async def _execute(
        self, bundle: LoadedBundle, path: str, scope: InvocationScope, invocation: Invocation
    ) -> Ran:
        """Run the entry point and say how it ended (never raises for the extension's faults)."""
        raise NotImplementedError

    async def _unrunnable(
        self, invocation: Invocation, outcome: Outcome, message: str, started: float
    ) -> InvocationResult:
        """The code could not even start: log why, return a clean outcome."""
        scope = InvocationScope(
            invocation=invocation,
            manifest=invocation.version.manifest,
            keyring=self.keyring,
            outbound=self.outbound,
            script_name=invocation.entry,
        )
        scope.record("error", message, kind="error")
        await self._publish(scope)
        return InvocationResult(
            invocation_id=invocation.invocation_id,
            outcome=outcome,
            error=message,
            duration_ms=(time.monotonic() - started) * 1000,
        )

    async def _publish(self, scope: InvocationScope) -> None:
        """Send every observed record and line; wait for the records' acks, not the lines'."""
        if scope.invocation.kind == "validate":
            return  # a deploy check belongs to no installation: its lines are not published
        reads = self.secret_reads.due()
        if not scope.lines and not scope.observed and not reads:
            return
        producer = self.producer()
        observed = [await OBSERVED_RECORDS.send(producer, r) for r in scope.observed]
        lines = [await EXTENSION_LOGS.send(producer, line) for line in scope.lines]
        # Secret reads ride along like log lines: handed over, acks counted, not awaited.
        lines += [await SECRET_READS.send(producer, read) for read in reads]
        if lines:
            acked = asyncio.gather(*lines, return_exceptions=True)
            invocation_id = scope.invocation.invocation_id
            acked.add_done_callback(lambda done: self._lines_sent(done, invocation_id))
        if observed:
            await asyncio.gather(*observed)

    def _lines_sent(self, done: asyncio.Future[list[object]], invocation_id: str) -> None:
        """Count and report the log lines of one invocation the broker did not acknowledge."""
        if done.cancelled():
            return
        failed = [ack for ack in done.result() if isinstance(ack, BaseException)]
        if failed:
            self.log_lines_failed += len(failed)
            log.warning(
                "extension log lines not acknowledged",
                extra={
                    "invocation_id": invocation_id,
                    "lines": len(failed),
                    "error": repr(failed[0]),
                },
            )

    async def close(self) -> None:
        """Release the HTTP pool and the loaded bundles."""
        await self.outbound.close()
        self.bundles.close()


class InProcessRuntime(Runtime):
    """Runs extension code in this process: development and the bench's baseline only."""

    async def _execute(
        self, bundle: LoadedBundle, path: str, scope: InvocationScope, invocation: Invocation
    ) -> Ran:
        return await execute_in_process(bundle, path, scope, invocation, self.time_limit_s)


async def execute_in_process(
    bundle: LoadedBundle,
    path: str,
    scope: InvocationScope,
    invocation: Invocation,
    time_limit_s: float,
) -> Ran:
    """Run the entry point in this process, under `asyncio.timeout(time_limit_s)`."""
    outcome: Outcome = "ok"
    message: str | None = None
    result = None
    try:
        with bound(scope):
            async with asyncio.timeout(time_limit_s):  # no task per invocation
                result = await run_entry(bundle, path, scope, invocation)
    except TimeoutError:
        outcome, message = "timeout", f"time limit of {time_limit_s:g}s exceeded"
        scope.record("error", message, kind="error")
    except PermissionDenied as denied:
        outcome, message = "denied", str(denied)  # its denial line is already recorded
    except MalformedPage as error:
        outcome, message = "error", f"malformed page: {error}"
        scope.record("error", message, kind="error")
    except EntryNotFound as error:
        outcome, message = "not_found", str(error)
        scope.record("error", message, kind="error")
    except Exception as error:  # the extension's bug: log it fully, answer cleanly
        outcome, message = "error", f"{type(error).__name__}: {error}"
        scope.record(
            "error",
            f"unhandled error: {message}",
            kind="error",
            attrs={"traceback": traceback.format_exc()},
        )
    page = result.page if result is not None else None
    return Ran(
        outcome=outcome,
        message=message,
        response=result.response if result is not None else None,
        next_cursor=page.next_cursor if page else None,
        has_more=page.has_more if page else False,
    )


__all__ = ["InProcessRuntime", "Ran", "Runtime", "execute_in_process", "script_type_of"]
