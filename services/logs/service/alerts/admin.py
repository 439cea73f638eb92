"""Managing alert destinations and rules: create, change, rotate, test, delete.

A signing secret is shown exactly once (in the answer to create or rotate) and stored
sealed. Rotation keeps the previous secret signing for `overlap_s`, so receivers can switch
without missing an alert.
"""

from __future__ import annotations

import time
import uuid

import msgspec
from msgspec.structs import replace

from services.base.errors import Unavailable
from services.logs.errors import DestinationNotFound, RuleNotFound
from services.logs.schemas import (
    Attempt,
    Destination,
    DestinationCreate,
    DestinationUpdate,
    DestinationWithSecret,
    Rule,
    RuleCreate,
)
from services.logs.service.alerts.delivery import AlertSender, sealed_key
from services.logs.service.alerts.rules import AlertRules
from services.logs.service.alerts.signing import new_signing_secret
from services.logs.service.alerts.targets import check_target
from services.logs.store.alerts import AlertStore, DestinationRecord, RuleRecord


def _view(record: DestinationRecord) -> Destination:
    return Destination(
        id=record.id,
        url=record.url,
        description=record.description,
        enabled=record.enabled,
        disabled_reason=record.disabled_reason,
        created_at=record.created_at,
        secret_versions=len(record.keys),
    )


def _rule_view(record: RuleRecord) -> Rule:
    return Rule(
        id=record.id,
        type=record.type,
        destination_id=record.destination_id,
        window_s=record.window_s,
        params=record.params,
        created_at=record.created_at,
    )


class AlertAdmin:
    """The alert API's decisions; every call is scoped to the caller's workspace."""

    def __init__(
        self,
        *,
        store: AlertStore,
        sender: AlertSender,
        rules: AlertRules,
        allow_private: bool,
        overlap_s: float,
    ) -> None:
        self.store = store
        self.sender = sender
        self.rules = rules
        self.allow_private = allow_private
        self.overlap_s = overlap_s

    async def _get(self, workspace_id: str, destination_id: str) -> DestinationRecord:
        found = await self.store.destination(workspace_id, destination_id)
        if found is None:
            raise DestinationNotFound("no such alert destination", field="destination_id")
        return found

    async def create_destination(
        self, workspace_id: str, create: DestinationCreate
    ) -> DestinationWithSecret:
        """Check the URL (SSRF), mint a signing secret, store it sealed, show it once."""
        await check_target(create.url, allow_private=self.allow_private)
        keyring = self.sender.keyring
        if keyring is None:
            raise Unavailable("alert signing needs SECRETS_KEYRING to be set")
        now = time.time()
        destination_id = f"dst_{uuid.uuid4().hex[:16]}"
        secret = new_signing_secret()
        record = DestinationRecord(
            id=destination_id,
            workspace_id=workspace_id,
            url=create.url,
            description=create.description,
            created_at=now,
            keys=[sealed_key(keyring, workspace_id, destination_id, 1, secret, now)],
        )
        await self.store.put_destination(record)
        return DestinationWithSecret(destination=_view(record), secret=secret)

    async def list_destinations(self, workspace_id: str) -> list[Destination]:
        """Oldest first; never a secret."""
        return [_view(d) for d in await self.store.destinations(workspace_id)]

    async def get_destination(self, workspace_id: str, destination_id: str) -> Destination:
        """One destination; never a secret."""
        return _view(await self._get(workspace_id, destination_id))

    async def update_destination(
        self, workspace_id: str, destination_id: str, update: DestinationUpdate
    ) -> Destination:
        """Change URL (checked again) or description; `enabled: true` re-enables."""
        record = await self._get(workspace_id, destination_id)
        if update.url is not None:
            await check_target(update.url, allow_private=self.allow_private)
            record = replace(record, url=update.url)
        if update.description is not None:
            record = replace(record, description=update.description)
        if update.enabled is not None:
            record = replace(record, enabled=update.enabled, disabled_reason=None)
        await self.store.put_destination(record)
        return _view(record)

    async def delete_destination(self, workspace_id: str, destination_id: str) -> None:
        """Remove (queued deliveries to it are dropped when they come due)."""
        if not await self.store.delete_destination(workspace_id, destination_id):
            raise DestinationNotFound("no such alert destination", field="destination_id")

    async def rotate_secret(self, workspace_id: str, destination_id: str) -> DestinationWithSecret:
        """A new secret signs from now on; the previous ones keep signing for the overlap."""
        record = await self._get(workspace_id, destination_id)
        keyring = self.sender.keyring
        if keyring is None:
            raise Unavailable("alert signing needs SECRETS_KEYRING to be set")
        now = time.time()
        revision = max((k.revision for k in record.keys), default=0) + 1
        secret = new_signing_secret()
        kept = [
            k if k.expires_at is not None else replace(k, expires_at=now + self.overlap_s)
            for k in record.keys
            if k.expires_at is None or k.expires_at > now
        ]
        fresh = sealed_key(keyring, workspace_id, destination_id, revision, secret, now)
        record = replace(record, keys=[*kept, fresh])
        await self.store.put_destination(record)
        return DestinationWithSecret(destination=_view(record), secret=secret)

    async def send_test(self, workspace_id: str, destination_id: str) -> Attempt:
        """One signed test POST now (no retries); the attempt is recorded and returned."""
        record = await self._get(workspace_id, destination_id)
        msg_id = f"alert_test_{uuid.uuid4().hex}"
        body = {
            "type": "alert.test",
            "alert_id": msg_id,
            "workspace_id": workspace_id,
            "destination_id": destination_id,
            "at": time.time(),
        }
        result = await self.sender.post(record, msg_id, msgspec.json.encode(body))
        attempt = replace(result, attempt=1)
        await self.store.add_attempt(workspace_id, destination_id, attempt)
        return attempt

    async def attempts(self, workspace_id: str, destination_id: str, limit: int) -> list[Attempt]:
        """Every recorded attempt, newest first."""
        await self._get(workspace_id, destination_id)
        return await self.store.attempts(workspace_id, destination_id, limit)

    async def create_rule(self, workspace_id: str, create: RuleCreate) -> Rule:
        """A rule needs an existing destination of the workspace."""
        await self._get(workspace_id, create.destination_id)
        record = RuleRecord(
            id=f"rul_{uuid.uuid4().hex[:16]}",
            workspace_id=workspace_id,
            type=create.type,
            destination_id=create.destination_id,
            window_s=max(create.window_s, 1.0),
            params=create.params,
            created_at=time.time(),
        )
        await self.store.put_rule(record)
        self.rules.forget(workspace_id)
        return _rule_view(record)

    async def list_rules(self, workspace_id: str) -> list[Rule]:
        """Oldest first."""
        return [_rule_view(r) for r in await self.store.rules(workspace_id)]

    async def delete_rule(self, workspace_id: str, rule_id: str) -> None:
        """Remove a rule."""
        if not await self.store.delete_rule(workspace_id, rule_id):
            raise RuleNotFound("no such alert rule", field="rule_id")
        self.rules.forget(workspace_id)
