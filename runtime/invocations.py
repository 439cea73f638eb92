"""The one way to describe a call into extension code: every caller builds its `Invocation` here.

Each invocation gets a fresh `inv_` id; a webhook invocation carries the raw delivery as the
request its route sees (POST to the manifest's endpoint, the kept headers, the body as
received), so a live delivery, a held one and a replay run the handler on the same input.
"""

from __future__ import annotations

from typing import Any

from contracts.deliveries import DeliveryReceived
from contracts.ids import new_id
from contracts.installations import InstallationSnapshot, VersionRef
from runtime.interface import EntryKind, HttpRequest, Invocation, Mode


def new_invocation(
    installation: InstallationSnapshot,
    version: VersionRef,
    *,
    kind: EntryKind,
    entry: str,
    mode: Mode = "active",
    **fields: Any,
) -> Invocation:
    """An invocation of `entry` with a fresh id; `fields` are the rest of `Invocation`'s."""
    return Invocation(
        invocation_id=new_id("inv"),
        installation=installation,
        version=version,
        kind=kind,
        entry=entry,
        mode=mode,
        **fields,
    )


def webhook_invocation(
    installation: InstallationSnapshot,
    version: VersionRef,
    endpoint: str,
    delivery: DeliveryReceived,
    mode: Mode,
) -> Invocation:
    """Run the webhook route `endpoint` on a delivery, as the provider sent it."""
    return new_invocation(
        installation,
        version,
        kind="webhook",
        entry=endpoint,
        mode=mode,
        script_type="route",
        request=HttpRequest(
            method="POST", path=endpoint, headers=delivery.headers, body=delivery.body or b""
        ),
        source_id=delivery.delivery_id,
    )
