"""The webhook pipeline: resolve → verify → persist → run the handler → dedupe → publish → answer.

Guarantees: the handler never runs for a delivery that did not authenticate; a 202 is given
only after the raw delivery and every new canonical record were acknowledged by Kafka
(`acks=all`); Kafka or Redis trouble answers 503 so the provider retries, and releases any
dedupe claim whose record was not written. Claims are confirmed (and the delivery added to
the history) right after answering, in a tracked background task that rides along with the
next Redis round trip (at most 1 ms later): history may lag a 202 by that plus one round trip,
and a duplicate arriving meanwhile waits for the confirm. A disabled
installation's deliveries are verified, persisted and queued (`held`); `HeldQueue` processes
them in arrival order on re-enable.
No Litestar or FastStream here: routes translate HTTP into `receive`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Mapping
from typing import Any, Literal

import msgspec
from aiokafka.structs import RecordMetadata

from contracts.deliveries import DeliveryReceived
from contracts.ids import new_id
from contracts.installations import InstallationSnapshot, VersionRef
from contracts.manifest import Webhooks
from contracts.records import RecordSource
from contracts.topics import WEBHOOK_DELIVERIES
from runtime.interface import InvocationResult, Invoker
from runtime.invocations import webhook_invocation
from services.base.dedupe import Claims, Deduplicator
from services.base.dedupe.once import Origin, PublishOnce
from services.base.errors import DependencyUnavailable
from services.base.snapshots import SnapshotView
from services.base.tasks import Background
from services.ingress.answers import (
    GONE,
    HELD,
    LOADING,
    MALFORMED,
    NOT_FOUND,
    Answer,
    handler_failed,
    mark_duplicates,
    rejected,
    unavailable,
)
from services.ingress.events import KEPT_HEADERS, Event, event_id, event_type, parse_event
from services.ingress.health import HealthRecorder
from services.ingress.publisher import DeliveryPublisher
from services.ingress.schemas import DeliverySummary, Outcome
from services.ingress.signatures import SignatureError
from services.ingress.signing_keys import SigningKeys
from services.ingress.store import IngressStore
from services.ingress.summaries import Handled, processed, released, unanswered

log = logging.getLogger(__name__)
# How a delivery reached `process`: as it arrived, released from a hold, or replayed by an admin.
DeliverySource = Literal["live", "held", "replay"]


class WebhookIngress:
    """Receives deliveries for per-installation URLs and ingests what their handlers emit."""

    def __init__(
        self,
        *,
        view: SnapshotView,
        keys: SigningKeys,
        invoker: Invoker,
        publisher: DeliveryPublisher,
        dedupe: Deduplicator,
        store: IngressStore,
        health: HealthRecorder,
        background: Background,
    ) -> None:
        self.view = view
        self.keys = keys
        self.invoker = invoker
        self.publisher = publisher
        self.dedupe = dedupe
        self.store = store
        self.health = health
        self.background = background
        # Claim keys, publish (raw delivery first), settle: the path sync's pages take too.
        self.once = PublishOnce(
            dedupe, publisher.producer, timeout_s=publisher.timeout_s, settling=background
        )

    async def receive(self, hook_id: str, body: bytes, headers: Mapping[str, str]) -> Answer:
        """Answer one provider delivery; headers are lower-case."""
        snapshot = self.view.by_hook_id(hook_id)
        if snapshot is None:
            return NOT_FOUND if self.view.ready else LOADING
        installation_id = snapshot.installation_id
        if snapshot.state == "uninstalled":
            self.health.observe(installation_id, 410, "uninstalled")
            return GONE
        version = snapshot.active  # pinned: a cutover during this request does not switch it
        webhooks = version.manifest.webhooks if version is not None else None
        if version is None or webhooks is None:
            self.health.observe(installation_id, 404, "no_webhook_endpoint")
            return NOT_FOUND
        now = time.time()
        delivery_id = new_id("dlv")
        try:
            revision = self.keys.verify(snapshot, webhooks, body, headers, now)
        except SignatureError as error:
            self._reject(snapshot, hook_id, delivery_id, now, body, error.reason, 401)
            return rejected(error.reason)
        kept = {k: v for k, v in headers.items() if k in KEPT_HEADERS}
        delivery = DeliveryReceived(
            delivery_id=delivery_id,
            workspace_id=snapshot.workspace_id,
            installation_id=installation_id,
            hook_id=hook_id,
            received_at=now,
            status="accepted",
            headers=kept,
            body=body,
            body_sha256=_sha256(body),
            secret_revision=revision,
        )
        if snapshot.state in ("disabled", "pending"):
            return await self._hold(delivery)
        event = parse_event(body, headers)
        if event is None:
            self._reject(snapshot, hook_id, delivery_id, now, body, "malformed_payload", 400)
            return MALFORMED
        if snapshot.observation is not None:
            self.background.spawn(self.observe(snapshot, snapshot.observation, delivery))
        try:
            handled = await self.process(
                snapshot, delivery, "live", version=version, webhooks=webhooks, event=event
            )
        except DependencyUnavailable as error:
            self.health.observe(installation_id, 503, error.dependency)
            self._record_unavailable(delivery, event, version, error.dependency)
            return unavailable(error.dependency)
        self.health.observe(installation_id, handled.status, handled.outcome)
        return Answer(handled.status, handled.body)

    async def process(
        self,
        snapshot: InstallationSnapshot,
        delivery: DeliveryReceived,
        source: DeliverySource,
        *,
        version: VersionRef,
        webhooks: Webhooks,
        event: Event | None = None,
        stored: DeliverySummary | None = None,
    ) -> Handled:
        """Finish one delivery, whichever way it came: run the active handler, publish its new
        records once (`handle`), then confirm its claims together with its history entry.

        - `live`: the raw delivery is published with its records; the confirm and the
          history entry (built from `event`) ride along after the answer, in the background.
        - `held`: released from the hold; its `stored` history entry is updated with the
          outcome, confirmed before this returns.
        - `replay`: records carry source `replay`; the history is not touched.

        Raises DependencyUnavailable (claims released or settled) when Redis or Kafka does
        not answer.
        """
        handled = await self.handle(
            snapshot,
            version,
            webhooks,
            delivery,
            publish_raw=source == "live",
            source="replay" if source == "replay" else "webhook",
        )
        summary = None
        if source == "live" and event is not None:
            summary = processed(delivery, event, version, handled)
        elif source == "held" and stored is not None:
            summary = released(stored, version, handled)
        if source == "live":
            # After the answer, off its latency path: the pending claims keep duplicates
            # waiting until this lands (see services.base.dedupe), and shutdown drains it.
            self._confirm_later(handled.claims, summary)
        else:
            await self._confirm(handled.claims, summary, defer=False)
        return handled

    async def _confirm(
        self, claims: Claims | None, summary: DeliverySummary | None, *, defer: bool
    ) -> None:
        """Mark the delivery's claims done and record its history entry, in one round trip
        (`defer`: joining the next delivery's claim pipeline, ≤ 1 ms later)."""
        also = self.store.recording(summary) if summary is not None else None
        if claims is not None:
            await self.dedupe.confirm(claims, also, defer=defer)
        elif summary is not None:
            await self.store.record(summary)

    def _confirm_later(self, claims: Claims | None, summary: DeliverySummary | None) -> None:
        """`_confirm` riding along with the next Redis pipeline, with no task of its own."""
        also = self.store.recording(summary) if summary is not None else None
        if claims is not None:
            confirmed = self.dedupe.confirm_later(claims, also)
        elif also is not None:
            confirmed = self.store.tick.run(also, defer=True)
        else:
            return
        delivery_id = summary.delivery_id if summary is not None else None
        confirmed.add_done_callback(lambda done: _confirmed(done, delivery_id))
        self.background.track(confirmed)

    async def handle(
        self,
        snapshot: InstallationSnapshot,
        version: VersionRef,
        webhooks: Webhooks,
        delivery: DeliveryReceived,
        *,
        publish_raw: bool,
        source: RecordSource = "webhook",
    ) -> Handled:
        """Run the active handler, claim its keys, publish raw delivery + new records, await acks.

        Raises DependencyUnavailable (claims released) when Redis or Kafka does not answer.
        """
        try:
            result = await self.invoker.invoke(
                webhook_invocation(snapshot, version, webhooks.endpoint, delivery, "active")
            )
        except Exception as error:  # the runtime could not publish the run's logs: Kafka
            raise DependencyUnavailable("kafka") from error
        if result.outcome != "ok" or result.response is None:
            handled = Handled(
                result=result,
                outcome="handler_failed",
                status=500,
                body=handler_failed(result.error or result.outcome),
            )
            if publish_raw:  # kept for replay once the handler is fixed
                ack = await self.publisher.publish(delivery, [])
                handled.partition, handled.offset = _where(ack)
            return handled
        response = result.response
        origin = Origin(
            workspace_id=snapshot.workspace_id,
            installation_id=snapshot.installation_id,
            extension_key=snapshot.extension_key,
            version_id=version.version_id,
            source=source,
            source_id=delivery.delivery_id,
        )
        lead = (WEBHOOK_DELIVERIES, delivery) if publish_raw else None
        published = await self.once.publish(origin, result.emissions, delivery.delivery_id, lead)
        records = published.records
        if result.emissions and not records:
            outcome: Outcome = "duplicate"
        elif (
            not result.emissions
            and isinstance(response.body, dict)
            and response.body.get("ignored")
        ):
            outcome = "ignored"
        else:
            outcome = "accepted"
        body = response.body
        if published.duplicates:  # the answer says what dedupe found
            body = mark_duplicates(body, published.duplicates)
        handled = Handled(
            result=result,
            outcome=outcome,
            status=response.status,
            body=msgspec.json.encode(body),
            claims=published.claims,
            records=records,
        )
        handled.partition, handled.offset = _where(published.lead)
        return handled

    async def _hold(self, delivery: DeliveryReceived) -> Answer:
        held = msgspec.structs.replace(delivery, status="held")
        event = parse_event(held.body or b"", held.headers)
        try:
            ack = await self.publisher.publish(held, [])
            partition, offset = _where(ack)
            summary = DeliverySummary(
                delivery_id=held.delivery_id,
                installation_id=held.installation_id,
                received_at=held.received_at,
                status=202,
                outcome="held",
                event_type=event_type(event, held.headers),
                event_id=event_id(event, held.headers),
                secret_revision=held.secret_revision,
                partition=partition,
                offset=offset,
            )
            await self.store.hold(summary)
        except DependencyUnavailable as error:
            self.health.observe(held.installation_id, 503, error.dependency)
            return unavailable(error.dependency)
        except Exception:  # Redis: the queue entry is what makes "held" a promise
            self.health.observe(held.installation_id, 503, "redis")
            return unavailable("redis")
        self.health.observe(held.installation_id, 202, "held")
        return HELD

    async def observe(
        self, snapshot: InstallationSnapshot, version: VersionRef, delivery: DeliveryReceived
    ) -> InvocationResult | None:
        """Shadow run of an observation version; its writes become observed records (None:
        the version takes no webhooks)."""
        endpoint = version.manifest.webhooks.endpoint if version.manifest.webhooks else None
        if endpoint is None:
            return None
        return await self.invoker.invoke(
            webhook_invocation(snapshot, version, endpoint, delivery, "observe")
        )

    def _reject(
        self,
        snapshot: InstallationSnapshot,
        hook_id: str,
        delivery_id: str,
        now: float,
        body: bytes,
        reason: str,
        status: int,
    ) -> None:
        """Record a refused delivery: reason and body hash, never the body."""
        self.health.observe(snapshot.installation_id, status, reason)
        self.publisher.record_rejection(
            DeliveryReceived(
                delivery_id=delivery_id,
                workspace_id=snapshot.workspace_id,
                installation_id=snapshot.installation_id,
                hook_id=hook_id,
                received_at=now,
                status="rejected",
                reason=reason,
                body_sha256=_sha256(body),
            )
        )
        outcome: Outcome = "rejected" if status == 401 else "malformed"
        summary = DeliverySummary(
            delivery_id=delivery_id,
            installation_id=snapshot.installation_id,
            received_at=now,
            status=status,
            outcome=outcome,
            reason=reason,
        )
        self.background.spawn(self.store.record(summary))

    def _record_unavailable(
        self, delivery: DeliveryReceived, event: Event, version: VersionRef, dependency: str
    ) -> None:
        """History of a delivery answered 503 (nothing promised; the provider retries)."""
        self.background.spawn(self.store.record(unanswered(delivery, event, version, dependency)))


def _confirmed(done: asyncio.Future[list[Any]], delivery_id: str | None) -> None:
    """Log a confirm that failed: records are durable; unconfirmed claims expire on their own."""
    error = done.exception() if not done.cancelled() else None
    if error is None and not done.cancelled():
        error = next((r for r in done.result() if isinstance(r, Exception)), None)
    if error is not None or done.cancelled():
        log.warning("dedupe confirm failed", extra={"delivery_id": delivery_id})


def _where(ack: RecordMetadata | None) -> tuple[int | None, int | None]:
    """Where the raw delivery landed (partition, offset), when one was published."""
    if ack is None:
        return None, None
    return ack.partition, ack.offset


def _sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()
