"""Installed and Catalog: the two surfaces of Settings → Extensions."""

from __future__ import annotations

import time
from typing import Any

import msgspec

from contracts.answers.ingress import WebhookHealth as DeliveryHealth
from contracts.answers.logs import InstallationHealth, WorkspaceHealth
from contracts.answers.registry import CatalogEntry, Installation
from services.console.downstream import Downstream, Failure
from services.console.service import ext_pages
from services.console.service.activity import activity_call, sparklines
from services.console.service.forms import field_errors, form_fields, read_form
from services.console.service.page import banners, data_or
from services.console.service.viewer import Viewer

HOUR_S = 3600


def state_of(installation: Installation) -> str:
    """The state a person reads: needs reauth and observation running beat plain active."""
    if installation.oauth_status == "needs_reauth":
        return "needs reauth"
    if installation.state == "active" and installation.observation is not None:
        return "observation running"
    return installation.state


def activity_of(health: InstallationHealth | None, hooks: DeliveryHealth | None) -> dict[str, Any]:
    """Recent activity of one installation: last delivery, last sync, errors in the last hour.

    `health` is the logs service's view (streams plus webhook windows); without it, `hooks`
    is ingress's webhook health.
    """
    hour_ago = time.time() - HOUR_S
    streams = health.streams if health is not None else []
    last_sync = max((s.last_success_at or 0 for s in streams), default=0) or None
    last_try = max((s.last_run_at or s.at for s in streams), default=0) or None
    failing = sum(s.consecutive_failures for s in streams)
    errors = sum(s.error_count for s in streams if (s.last_error_at or s.at) >= hour_ago)
    last_delivery = None
    if health is not None:
        errors += health.webhook.last_hour.status_5xx
        last_delivery = health.webhook.last_hour.last_delivery_at
    elif hooks is not None:
        last_delivery = hooks.last_delivery_at
    return {
        "last_delivery": last_delivery,
        "last_sync": last_sync,
        # "Last sync never" said nothing of a stream failing for hours: say it was tried.
        "last_try": last_try,
        "failing": failing,
        "errors": errors,
    }


async def installed(downstream: Downstream, viewer: Viewer) -> dict[str, Any]:
    """One row per installation (connections of one connector are separate, named rows)."""
    first = await downstream.gather(
        viewer.token,
        installations=("registry", "GET", "/v1/installations", None, list[Installation]),
        health=("logs", "GET", "/v1/health", None, WorkspaceHealth),
        activity=activity_call(),
    )
    found: list[Installation] = data_or(first["installations"], [])
    health = data_or(first["health"], WorkspaceHealth(installations=[]))
    health_by_id = {item.installation_id: item for item in health.installations}
    hooks: dict[str, DeliveryHealth | None] = {}
    if not first["health"].ok:
        # Without the logs service, the webhook side of "recent activity" comes from ingress.
        wanted = {
            i.id: (
                "ingress",
                "GET",
                f"/v1/installations/{i.id}/webhook-health",
                None,
                DeliveryHealth,
            )
            for i in found
            if i.webhook_url
        }
        hooks = {k: v.data for k, v in (await downstream.gather(viewer.token, **wanted)).items()}
    sparks = sparklines(first["activity"])
    rows = [  # the installation's fields, with what the list shows next to them
        {
            **msgspec.structs.asdict(i),
            "display_state": state_of(i),
            "activity": activity_of(health_by_id.get(i.id), hooks.get(i.id)),
            "spark": sparks.get(i.id, ""),
        }
        for i in sorted(found, key=lambda i: (i.extension_key, i.connection_name))
    ]
    return {
        "rows": rows,
        "ext": await ext_pages.installed_contributions(downstream, viewer.token),
        "banners": banners(first["installations"], first["health"]),
        "now": time.time(),
    }


async def catalog(downstream: Downstream, viewer: Viewer) -> dict[str, Any]:
    """First-party connectors and the workspace's private extensions."""
    reply = await downstream.call(
        "registry", "GET", "/v1/catalog", viewer.token, answer=list[CatalogEntry]
    )
    entries: list[CatalogEntry] = data_or(reply, [])
    return {
        "first_party": [e for e in entries if e.first_party],
        "private": [e for e in entries if not e.first_party],
        "banners": banners(reply),
    }


async def catalog_entry(
    downstream: Downstream,
    viewer: Viewer,
    key: str,
    form: dict[str, Any] | None = None,
    failure: Failure | None = None,
) -> dict[str, Any]:
    """The manifest summary and the install form (refilled with errors after a refusal)."""
    replies = await downstream.gather(
        viewer.token,
        entry=("registry", "GET", f"/v1/catalog/{key}", None, CatalogEntry),
        installations=("registry", "GET", "/v1/installations", None, list[Installation]),
    )
    entry: CatalogEntry | None = replies["entry"].data
    if entry is None:
        return {"entry": None, "banners": banners(*replies.values()), "missing": key}
    values = read_form(entry.settings_schema, form) if form else {}
    errors = field_errors(failure)
    installed: list[Installation] = data_or(replies["installations"], [])
    existing = [i for i in installed if i.extension_key == key]
    return {
        "entry": entry,
        "existing": existing,
        "fields": form_fields(entry.settings_schema, values, errors),
        "connection_name": (form or {}).get("connection_name")
        or ("default" if not existing else ""),
        "name_error": errors.get("connection_name"),
        "error": failure.message if failure and not errors else None,
        "banners": banners(*replies.values()),
    }


async def install(
    downstream: Downstream, viewer: Viewer, key: str, form: dict[str, Any]
) -> tuple[Installation | None, Failure | None]:
    """Install; returns the new installation, or the registry's refusal."""
    entry = await downstream.call(
        "registry", "GET", f"/v1/catalog/{key}", viewer.token, answer=CatalogEntry
    )
    if entry.failure is not None:
        return None, entry.failure
    settings = {
        k: v for k, v in read_form(entry.data.settings_schema, form).items() if v is not None
    }
    body = {
        "extension_key": key,
        "connection_name": str(form.get("connection_name") or "default").strip(),
        "settings": settings,
    }
    reply = await downstream.call(
        "registry", "POST", "/v1/installations", viewer.token, json=body, answer=Installation
    )
    if reply.failure is not None:
        return None, reply.failure
    return reply.data, None


def installed_message(installation: Installation) -> str:
    """What Install did: live at once, or waiting for its settings."""
    if installation.state == "active":
        version = installation.active.label if installation.active else ""
        return f"Installed: version {version} is live."
    return "Installed. Fill in the settings below, then activate."
