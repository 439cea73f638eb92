"""Plain factories for ingress tests: deploy test bundles, publish snapshots, sign events."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import msgspec
from aiokafka import AIOKafkaProducer
from redis.asyncio import Redis

from contracts.ids import new_id
from contracts.installations import InstallationSnapshot, InstallationState, VersionRef
from contracts.manifest import parse_manifest
from contracts.secrets import SecretEntry
from contracts.topics import INSTALLATION_SNAPSHOTS
from services.base.auth import Principal, new_token, token_digest, token_key
from services.base.kafka import publish
from services.base.secrets_crypto import Keyring, SecretBinding
from services.ingress.signatures import sign_stripe
from tests.runtime.factories import deploy_directory

FIXTURES = Path(__file__).parent / "fixtures"
SECRET = "whsec_test_secret_one"


async def deploy(
    redis: Redis, name: str = "stripe_like", label: str = "1.0.0", directory: Path | None = None
) -> VersionRef:
    """Pack a fixture bundle (or the bundle in `directory`) with `label` as its version, and
    store it as the registry would."""
    directory = directory or FIXTURES / name
    manifest = parse_manifest(
        {**msgspec.json.decode((directory / "manifest.json").read_bytes()), "version": label}
    )
    return await deploy_directory(redis, directory, manifest)


def sealed(
    keyring: Keyring,
    value: str,
    *,
    workspace_id: str,
    installation_id: str,
    revision: int = 1,
    valid_until: float | None = None,
) -> SecretEntry:
    """A webhook secret sealed for one installation, as the registry stores it."""
    binding = SecretBinding(
        workspace_id=workspace_id,
        installation_id=installation_id,
        name="webhook_secret",
        revision=revision,
    )
    return SecretEntry(
        name="webhook_secret",
        revision=revision,
        set_at=time.time(),
        set_by="mem_test",
        sealed=keyring.seal(value.encode(), binding),
        valid_until=valid_until,
    )


def installation(
    version: VersionRef,
    keyring: Keyring,
    *,
    secret: str | None = SECRET,
    state: InstallationState = "active",
    workspace_id: str = "ws_test",
    **fields: Any,
) -> InstallationSnapshot:
    """A new installation of `version` with its webhook secret sealed (revision 1)."""
    installation_id = new_id("ins")
    secrets = {}
    if secret is not None:
        secrets["webhook_secret"] = sealed(
            keyring, secret, workspace_id=workspace_id, installation_id=installation_id
        )
    return InstallationSnapshot(
        installation_id=installation_id,
        workspace_id=workspace_id,
        extension_key=version.manifest.key,
        kind=version.manifest.kind,
        revision=1,
        state=state,
        active=version,
        secrets=secrets,
        hook_id=new_id("hk", 130),
        updated_at=time.time(),
        **fields,
    )


def changed(snapshot: InstallationSnapshot, **fields: Any) -> InstallationSnapshot:
    """The next revision of a snapshot with `fields` changed."""
    return msgspec.structs.replace(
        snapshot, revision=snapshot.revision + 1, updated_at=time.time(), **fields
    )


async def announce(producer: AIOKafkaProducer, snapshot: InstallationSnapshot) -> None:
    """Publish a snapshot on the installations topic, as the registry's outbox would."""
    await publish(producer, INSTALLATION_SNAPSHOTS, snapshot)


def stripe_event(
    event_type: str = "customer.created", event_id: str | None = None, **extra: Any
) -> dict[str, Any]:
    """A Stripe-shaped event."""
    event_id = event_id or new_id("evt")
    return {
        "id": event_id,
        "object": "event",
        "type": event_type,
        "data": {"object": {"id": new_id("cus"), "email": "kim@example.com"}},
        **extra,
    }


def signed(
    event: dict[str, Any] | bytes, secret: str = SECRET, at: float | None = None
) -> tuple[bytes, dict[str, str]]:
    """Body and headers of a Stripe delivery signed with `secret` at `at` (now)."""
    body = event if isinstance(event, bytes) else msgspec.json.encode(event)
    header = sign_stripe(body, secret, int(time.time() if at is None else at))
    return body, {"stripe-signature": header, "content-type": "application/json"}


async def token_for(redis: Redis, workspace_id: str, role: str = "admin") -> str:
    """A bearer token of `workspace_id`, stored as the registry stores tokens."""
    token = new_token()
    principal = Principal(
        workspace_id=workspace_id, member_id=new_id("mem"), role=role, token_id=new_id("tok")
    )
    await redis.set(token_key(token_digest(token)), msgspec.json.encode(principal))
    return token
