"""Alert delivery: signed POSTs with retries, every attempt recorded.

A delivery is retried with exponential backoff and full jitter (base·2ⁿ capped, times a
random factor in [0.5, 1]) until `retry_horizon_s` after the first attempt; then the
destination is disabled and an audit event (`AlertDestinationDisabled`) is written. Any 2xx
is success; anything else, a timeout or an unsafe target is a failed attempt. Deliveries
wait in Redis, so they survive a restart and are shared between replicas (at-least-once:
receivers dedupe on `webhook-id`, which is the same on every attempt of one alert).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable

import httpx
from msgspec.structs import replace

from contracts.audit import AuditEvent
from services.base.secrets_crypto import Keyring, SecretBinding
from services.logs.errors import UnsafeDestination
from services.logs.schemas import Attempt
from services.logs.service.alerts.signing import signed_headers
from services.logs.service.alerts.targets import check_target
from services.logs.store.alerts import AlertStore, Delivery, DestinationRecord, SigningKey

log = logging.getLogger(__name__)
AuditWriter = Callable[[list[AuditEvent]], Awaitable[None]]
LEASE_S = 120.0


def key_binding(workspace_id: str, destination_id: str, revision: int) -> SecretBinding:
    """What a destination's sealed signing key is bound to."""
    return SecretBinding(
        workspace_id=workspace_id,
        installation_id=f"alert-destination:{destination_id}",
        name="signing-secret",
        revision=revision,
    )


class AlertSender:
    """Posts deliveries, records attempts, reschedules or gives up."""

    def __init__(
        self,
        *,
        store: AlertStore,
        keyring: Keyring | None,
        http: httpx.AsyncClient,
        audit: AuditWriter,
        allow_private: bool,
        retry_base_s: float,
        retry_cap_s: float,
        retry_horizon_s: float,
        poll_s: float,
        concurrency: int = 50,
    ) -> None:
        self.store = store
        self.keyring = keyring
        self.http = http
        self.audit = audit
        self.allow_private = allow_private
        self.retry_base_s = retry_base_s
        self.retry_cap_s = retry_cap_s
        self.retry_horizon_s = retry_horizon_s
        self.poll_s = poll_s
        self.concurrency = concurrency
        self._task: asyncio.Task[None] | None = None
        self._inflight: set[asyncio.Task[None]] = set()

    def valid_keys(self, destination: DestinationRecord, now: float) -> list[str]:
        """Plaintext keys that sign now (the current one and any still overlapping)."""
        if self.keyring is None:
            return []
        return [
            self.keyring.open(
                key.sealed, key_binding(destination.workspace_id, destination.id, key.revision)
            ).decode()
            for key in destination.keys
            if key.expires_at is None or key.expires_at > now
        ]

    async def post(self, destination: DestinationRecord, msg_id: str, body: bytes) -> Attempt:
        """One signed POST; the attempt as recorded (not yet stored)."""
        now = time.time()
        status: int | None = None
        error: str | None = None
        try:
            await check_target(destination.url, allow_private=self.allow_private)
            headers = signed_headers(msg_id, int(now), body, self.valid_keys(destination, now))
            response = await self.http.post(destination.url, content=body, headers=headers)
            status = response.status_code
        except UnsafeDestination as refused:
            error = refused.message
        except httpx.HTTPError as failed:
            error = f"{type(failed).__name__}: {failed}"[:300]
        return Attempt(
            delivery_id=msg_id,
            alert_id=msg_id,
            attempt=0,
            at=now,
            status_code=status,
            error=error,
            ok=status is not None and 200 <= status < 300,
        )

    async def deliver(self, delivery: Delivery) -> None:
        """One attempt of a queued delivery, then finish, reschedule or give up."""
        destination = await self.store.destination(delivery.workspace_id, delivery.destination_id)
        if destination is None or not destination.enabled:
            await self.store.finish(delivery.id)
            return
        attempt_no = delivery.attempt + 1
        result = await self.post(destination, delivery.alert_id, delivery.body.encode())
        now = time.time()
        delay = min(self.retry_base_s * 2 ** (attempt_no - 1), self.retry_cap_s)
        delay *= random.uniform(0.5, 1.0)
        first_attempt_at = delivery.first_attempt_at or (
            delivery.first_at if delivery.attempt else result.at  # queued before this field
        )
        gives_up = not result.ok and now + delay - first_attempt_at > self.retry_horizon_s
        next_at = None if result.ok or gives_up else now + delay
        recorded = Attempt(
            delivery_id=delivery.id,
            alert_id=delivery.alert_id,
            attempt=attempt_no,
            at=result.at,
            status_code=result.status_code,
            error=result.error,
            ok=result.ok,
            next_attempt_at=next_at,
        )
        await self.store.add_attempt(delivery.workspace_id, delivery.destination_id, recorded)
        if next_at is not None:
            retry = replace(delivery, attempt=attempt_no, first_attempt_at=first_attempt_at)
            await self.store.schedule(retry, next_at)
            return
        await self.store.finish(delivery.id)
        if gives_up:
            await self.disable(destination, f"{attempt_no} failed attempts over the retry horizon")

    async def disable(self, destination: DestinationRecord, reason: str) -> None:
        """Stop sending to a destination that keeps failing, and say so in the audit trail."""
        await self.store.put_destination(
            replace(destination, enabled=False, disabled_reason=reason)
        )
        await self.audit(
            [
                AuditEvent(
                    event_id=f"evt_{uuid.uuid4().hex}",
                    workspace_id=destination.workspace_id,
                    actor="platform:logs",
                    action="AlertDestinationDisabled",
                    target=destination.id,
                    at=time.time(),
                    details={"reason": reason, "url": destination.url},
                )
            ]
        )

    async def _safe(self, delivery: Delivery) -> None:
        try:
            # Bounded as a whole (httpx bounds each step; the target check resolves names):
            # an attempt never outlives its lease, so no delivery is attempted twice at once.
            async with asyncio.timeout(LEASE_S / 2):
                await self.deliver(delivery)
        except Exception:  # one broken delivery must not stop the loop; its lease retries it
            log.exception("alert delivery failed", extra={"delivery_id": delivery.id})

    async def _loop(self) -> None:
        """Claim due deliveries while fewer than `concurrency` are in flight, each attempted
        on its own: a destination that takes its whole timeout holds one slot, not the queue."""
        inflight: set[asyncio.Task[None]] = self._inflight
        while True:
            try:
                room = self.concurrency - len(inflight)
                due = await self.store.claim_due(time.time(), room, LEASE_S) if room else []
                for delivery in due:
                    task = asyncio.create_task(self._safe(delivery))
                    inflight.add(task)
                    task.add_done_callback(inflight.discard)
                if not room:  # full: until a slot frees
                    await asyncio.wait(set(inflight), return_when=asyncio.FIRST_COMPLETED)
                elif len(due) < room:  # nothing more due now
                    await asyncio.sleep(self.poll_s)
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis away: keep polling, deliveries wait in the queue
                log.warning("alert queue unavailable", exc_info=True)
                await asyncio.sleep(max(self.poll_s, 1.0))

    async def start(self) -> None:
        """Begin polling the queue."""
        self._task = asyncio.create_task(self._loop(), name="alert-sender")

    async def stop(self) -> None:
        """Stop polling (in-flight attempts are abandoned; their lease retries them)."""
        tasks = [t for t in (self._task, *self._inflight) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def sealed_key(
    keyring: Keyring, workspace_id: str, destination_id: str, revision: int, secret: str, now: float
) -> SigningKey:
    """Seal a fresh signing secret for storage."""
    binding = key_binding(workspace_id, destination_id, revision)
    return SigningKey(
        revision=revision, sealed=keyring.seal(secret.encode(), binding), created_at=now
    )
