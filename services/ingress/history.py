"""Delivery history, replay and webhook health of one workspace's installations.

Tenant isolation: every call names the caller's workspace, and an installation of another
workspace is indistinguishable from one that does not exist (404).

Replay re-reads the raw delivery from the deliveries topic, re-checks its signature with the
secret revision that verified it on arrival (kept sealed in Redis even after rotation), as of
its arrival time, then runs it through the active version (records deduped and published to
the canonical topic, so a replay never duplicates a record) or through a chosen version,
which runs in observe mode (its writes become observed records, never canonical ones).
"""

from __future__ import annotations

import time
from typing import Any, Literal

from contracts.deliveries import DeliveryReceived
from contracts.installations import InstallationSnapshot, VersionRef
from contracts.manifest import Webhooks
from contracts.topics import WEBHOOK_DELIVERIES
from services.base.errors import Conflict, NotFound
from services.base.snapshots import SnapshotView
from services.ingress.deliveries import DeliveryReader
from services.ingress.health import HealthRecorder
from services.ingress.schemas import (
    DeliveryPage,
    DeliverySummary,
    RecordResult,
    ReplayResult,
    WebhookEndpoint,
    WebhookHealth,
)
from services.ingress.service import WebhookIngress
from services.ingress.signatures import SignatureError
from services.ingress.signing_keys import SigningKeys
from services.ingress.store import IngressStore


class DeliveryHistory:
    """What the console and the API ask about an installation's webhook deliveries."""

    def __init__(
        self,
        *,
        view: SnapshotView,
        store: IngressStore,
        reader: DeliveryReader,
        ingress: WebhookIngress,
        keys: SigningKeys,
        health: HealthRecorder,
        replay_max: int,
    ) -> None:
        self.view = view
        self.store = store
        self.reader = reader
        self.ingress = ingress  # replays go through its `process`, as live deliveries do
        self.keys = keys
        self.health_recorder = health
        self.replay_max = replay_max

    def installation(self, workspace_id: str, installation_id: str) -> InstallationSnapshot:
        """The caller's installation, or 404 (also for another workspace's)."""
        snapshot = self.view.get(installation_id)
        if snapshot is None or snapshot.workspace_id != workspace_id:
            raise NotFound("no such installation", field="installation_id")
        return snapshot

    def endpoint(self, workspace_id: str, installation_id: str) -> WebhookEndpoint:
        """Where the provider must send, and which snapshot revision this replica serves."""
        snapshot = self.installation(workspace_id, installation_id)
        active, observation = snapshot.active, snapshot.observation
        webhooks = active.manifest.webhooks if active else None
        return WebhookEndpoint(
            installation_id=installation_id,
            hook_id=snapshot.hook_id,
            path=f"/hooks/{snapshot.hook_id}" if snapshot.hook_id and webhooks else None,
            state=snapshot.state,
            revision=snapshot.revision,
            auth=webhooks.auth if webhooks else None,
            version_id=active.version_id if active else None,
            observation_version_id=observation.version_id if observation else None,
        )

    async def page(
        self, workspace_id: str, installation_id: str, *, limit: int, before: float | None
    ) -> DeliveryPage:
        """Newest deliveries first."""
        self.installation(workspace_id, installation_id)
        found = await self.store.history(installation_id, limit=limit, before=before)
        next_before = found[-1].received_at if len(found) == limit else None
        return DeliveryPage(deliveries=found, next_before=next_before)

    async def get(
        self, workspace_id: str, installation_id: str, delivery_id: str
    ) -> DeliverySummary:
        """One delivery, or 404."""
        self.installation(workspace_id, installation_id)
        summary = await self.store.delivery(installation_id, delivery_id)
        if summary is None:
            raise NotFound("no such delivery", field="delivery_id")
        return summary

    async def health(self, workspace_id: str, installation_id: str) -> WebhookHealth:
        """Delivery rate, status classes and last success of the installation's URL."""
        self.installation(workspace_id, installation_id)
        return await self.health_recorder.read(installation_id)

    async def replay(
        self, workspace_id: str, installation_id: str, delivery_id: str, version_id: str | None
    ) -> ReplayResult:
        """Replay one stored delivery."""
        summary = await self.get(workspace_id, installation_id, delivery_id)
        if summary.partition is None or summary.offset is None:
            raise Conflict("this delivery has no stored body (rejected deliveries are not kept)")
        results = await self._replay(installation_id, [summary], version_id)
        if not results:
            raise NotFound(body_gone(summary, time.time()), field="delivery_id")
        return results[0]

    async def replay_range(
        self,
        workspace_id: str,
        installation_id: str,
        *,
        since: float,
        until: float | None,
        version_id: str | None,
        limit: int,
    ) -> list[ReplayResult]:
        """Replay every stored delivery received in [since, until), oldest first."""
        self.installation(workspace_id, installation_id)
        found = await self.store.history(
            installation_id,
            limit=max(1, min(limit, self.replay_max)),
            since=since,
            before=until,
            oldest_first=True,
        )
        stored = [s for s in found if s.partition is not None and s.offset is not None]
        return await self._replay(installation_id, stored, version_id)

    async def _replay(
        self, installation_id: str, summaries: list[DeliverySummary], version_id: str | None
    ) -> list[ReplayResult]:
        snapshot = self.view.get(installation_id)
        assert snapshot is not None
        version = await self._version(snapshot, version_id)
        raw = await self.reader.fetch([(s.partition, s.offset) for s in summaries])  # type: ignore[misc]
        results = []
        for summary in summaries:
            delivery = raw.get((summary.partition, summary.offset))  # type: ignore[arg-type]
            if delivery is not None and delivery.delivery_id == summary.delivery_id:
                results.append(await self._replay_one(snapshot, version, delivery))
        return results

    async def _version(self, snapshot: InstallationSnapshot, version_id: str | None) -> VersionRef:
        active = snapshot.active
        if version_id is None or (active is not None and version_id == active.version_id):
            if active is None:
                raise Conflict("the installation has no active version")
            return active
        version = await self.store.version(snapshot.installation_id, version_id)
        if version is None:
            raise NotFound("this installation never had that version", field="version_id")
        return version

    async def _replay_one(
        self, snapshot: InstallationSnapshot, version: VersionRef, delivery: DeliveryReceived
    ) -> ReplayResult:
        webhooks = version.manifest.webhooks
        active = snapshot.active is not None and version.version_id == snapshot.active.version_id
        mode: Literal["active", "observe"] = "active" if active else "observe"
        base: dict[str, Any] = {
            "delivery_id": delivery.delivery_id,
            "version_id": version.version_id,
            "mode": mode,
        }
        if webhooks is None:
            return ReplayResult(**base, signature="not_required", outcome="no_webhook_endpoint")
        signature = await self._check_signature(snapshot, webhooks, delivery)
        if signature is not None:
            return ReplayResult(**base, signature="invalid", reason=signature, outcome="rejected")
        checked: Literal["valid", "not_required"] = (
            "not_required" if webhooks.auth == "public" else "valid"
        )
        if not active:
            result = await self.ingress.observe(snapshot, version, delivery)
            assert result is not None  # `webhooks` is this version's
            return ReplayResult(
                **base,
                signature=checked,
                outcome=result.outcome,
                reason=result.error,
                status=result.response.status if result.response else None,
                response=result.response.body if result.response else None,
                observed=result.observed,
            )
        handled = await self.ingress.process(
            snapshot, delivery, "replay", version=version, webhooks=webhooks
        )
        mine = set(handled.claims.mine) if handled.claims else set()
        records = []
        for emission in handled.result.emissions:
            key = self.store.dedupe_key(snapshot.installation_id, emission.idempotency_key)
            records.append(
                RecordResult(
                    idempotency_key=emission.idempotency_key,
                    canonical_type=emission.canonical_type,
                    duplicate=key not in mine,
                )
            )
        response = handled.result.response
        return ReplayResult(
            **base,
            signature=checked,
            outcome=handled.outcome,
            reason=handled.result.error,
            status=handled.status,
            response=response.body if response else None,
            records=records,
        )

    async def _check_signature(
        self, snapshot: InstallationSnapshot, webhooks: Webhooks, delivery: DeliveryReceived
    ) -> str | None:
        """None when the stored delivery still verifies with its arrival-time secret."""
        if webhooks.auth in ("public", "api_key"):
            return None  # api_key credentials are never stored; it was checked on arrival
        if delivery.secret_revision is None:
            return "no_secret_revision"
        name = webhooks.secret
        entry = await self.store.secret_revision(
            snapshot.installation_id, name, delivery.secret_revision
        )
        if entry is None:
            return "secret_revision_unknown"
        try:
            self.keys.verify_with(
                snapshot,
                webhooks,
                entry,
                delivery.body or b"",
                delivery.headers,
                delivery.received_at,
            )
        except SignatureError as error:
            return error.reason
        return None


def body_gone(summary: DeliverySummary, now: float) -> str:
    """Why a delivery's stored body is not on the deliveries topic, as precisely as known."""
    days = WEBHOOK_DELIVERIES.retention_ms / 86_400_000
    if now - summary.received_at > days * 86_400:
        return f"the stored body has expired: deliveries are kept {days:g} days"
    return (
        f"the stored body is gone although it is within the {days:g}-day retention: the broker "
        "lost the deliveries topic (the embedded broker of `backfill up` keeps topics only "
        "across a clean stop); this delivery cannot be replayed"
    )
