"""The per-installation page: one context per tab, each from concurrent downstream calls."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from contracts.answers.ingress import DeliveryPage, DeliverySummary
from contracts.answers.ingress import WebhookHealth as DeliveryHealth
from contracts.answers.logs import Destination, LogPage, ObservationReport
from contracts.answers.registry import (
    CatalogEntry,
    Installation,
    InstallationVersions,
    Member,
    PermissionSet,
    UpgradeDiff,
)
from contracts.answers.registry import OAuthStatusView as OAuth
from contracts.answers.sync import CursorHistory, StreamList
from services.console.downstream import Downstream, Failure, Reply
from services.console.service.activity import activity_call, connection_charts, deliveries_chart
from services.console.service.extensions import state_of
from services.console.service.forms import field_errors, form_fields, read_form
from services.console.service.page import banners, data_or
from services.console.service.setup import labels_of
from services.console.service.viewer import Viewer

LOG_FILTERS = ("since", "until", "level", "script_type", "entity", "event", "route", "job", "q")


def tabs_of(installation: Installation, entry: CatalogEntry | None) -> list[tuple[str, str]]:
    """Tabs in order; Connection for connectors, Deliveries when it receives webhooks."""
    tabs = [("settings", "Settings"), ("secrets", "Secrets"), ("permissions", "Permissions")]
    if installation.kind == "connector":
        tabs.append(("connection", "Connection"))
    if installation.webhook_url or (entry is not None and entry.webhooks):
        tabs.append(("deliveries", "Deliveries"))
    pages = [  # extension pages the manifest puts in the navigation (nav: true)
        (f"pages/{p.path.strip('/')}", p.title) for p in (entry.pages if entry else []) if p.nav
    ]
    return [*tabs, *pages, ("versions", "Versions"), ("logs", "Logs")]


async def page(
    downstream: Downstream,
    viewer: Viewer,
    installation_id: str,
    tab: str,
    **extra: tuple[Any, ...],
) -> dict[str, Any]:
    """The installation, its catalog entry and the tab's own calls, all concurrent after one."""
    first = await downstream.call(
        "registry", "GET", f"/v1/installations/{installation_id}", viewer.token, answer=Installation
    )
    if first.failure is not None:
        return {"installation": None, "failure": first.failure, "banners": banners(first)}
    installation: Installation = first.data
    replies = await downstream.gather(
        viewer.token,
        entry=("registry", "GET", f"/v1/catalog/{installation.extension_key}", None, CatalogEntry),
        **extra,
    )
    entry = replies.pop("entry").data
    return {
        "installation": installation,
        "entry": entry,
        "state": state_of(installation),
        "tab": tab,
        "tabs": tabs_of(installation, entry),
        "replies": replies,
        "banners": banners(*replies.values()),
    }


async def settings_tab(
    downstream: Downstream,
    viewer: Viewer,
    installation_id: str,
    form: dict[str, Any] | None = None,
    failure: Failure | None = None,
    typed: bool = False,
) -> dict[str, Any]:
    """The settings form (connection setup for connectors: test, OAuth, webhook, activate).

    `typed`: the form answers its own submission (Test connection), so what was typed stays,
    secrets included: they come from this request, never from the store.
    """
    ctx = await page(
        downstream,
        viewer,
        installation_id,
        "settings",
        oauth=("registry", "GET", f"/v1/installations/{installation_id}/oauth", None, OAuth),
    )
    if ctx["installation"] is None:
        return ctx
    installation: Installation = ctx["installation"]
    entry: CatalogEntry | None = ctx["entry"]
    schema = entry.settings_schema if entry is not None else {}
    values = read_form(schema, form) if form else installation.settings
    stored = {s.name for s in installation.secrets}
    errors = field_errors(failure)
    oauth = ctx["replies"]["oauth"]
    connects = entry is not None and entry.oauth
    missing = installation.missing_settings
    labels = labels_of(schema)
    return {
        **ctx,
        "fields": form_fields(schema, values, errors, stored, set(missing), typed),
        "missing": [labels.get(name, name) for name in missing],
        "error": failure.message
        if failure and (not errors or failure.code == "missing_settings")
        else None,
        "oauth": oauth.data if connects and oauth.ok else None,
        "can_connect": connects and not missing,
        "banners": [],  # no OAuth is not a failure
    }


async def secrets_tab(
    downstream: Downstream, viewer: Viewer, installation_id: str
) -> dict[str, Any]:
    """Declared and stored secrets: name, revision, set at/by; never a value."""
    ctx = await page(
        downstream,
        viewer,
        installation_id,
        "secrets",
        members=("registry", "GET", "/v1/members", None, list[Member]),
    )
    if ctx["installation"] is None:
        return ctx
    installation: Installation = ctx["installation"]
    entry: CatalogEntry | None = ctx["entry"]
    stored = {s.name: s for s in installation.secrets}
    declared = entry.permissions.secrets if entry is not None else []
    names = list(dict.fromkeys([*declared, *stored]))
    people = {m.id: m.email for m in data_or(ctx["replies"]["members"], [])}
    return {
        **ctx,
        "secrets": [{"name": n, "info": stored.get(n)} for n in names],
        "people": people,
    }


async def permissions_tab(
    downstream: Downstream, viewer: Viewer, installation_id: str
) -> dict[str, Any]:
    """What the active manifest grants; a pending upgrade's diff when one waits for approval."""
    ctx = await page(
        downstream,
        viewer,
        installation_id,
        "permissions",
        permissions=(
            "registry",
            "GET",
            f"/v1/installations/{installation_id}/permissions",
            None,
            PermissionSet,
        ),
    )
    if ctx["installation"] is None:
        return ctx
    pending = ctx["installation"].pending_upgrade
    diff = None
    if pending is not None:
        diff = await upgrade_diff(downstream, viewer, installation_id, pending.version_id)
    return {**ctx, "permissions": ctx["replies"]["permissions"].data, "diff": diff}


async def upgrade_diff(
    downstream: Downstream, viewer: Viewer, installation_id: str, to: str
) -> UpgradeDiff | None:
    reply = await downstream.call(
        "registry",
        "GET",
        f"/v1/installations/{installation_id}/upgrade-diff",
        viewer.token,
        params={"to": to},
        answer=UpgradeDiff,
    )
    return reply.data


async def connection_tab(
    downstream: Downstream, viewer: Viewer, installation_id: str
) -> dict[str, Any]:
    """Streams (sync), webhook health (ingress), webhook URL and OAuth state (registry)."""
    base = f"/v1/installations/{installation_id}"
    ctx = await page(
        downstream,
        viewer,
        installation_id,
        "connection",
        streams=("sync", "GET", f"{base}/streams", None, StreamList),
        health=("ingress", "GET", f"{base}/webhook-health", None, DeliveryHealth),
        oauth=("registry", "GET", f"{base}/oauth", None, OAuth),
        activity=activity_call(installation_id),
    )
    if ctx["installation"] is None:
        return ctx
    replies: dict[str, Reply] = ctx["replies"]
    streams = replies["streams"].data.streams if replies["streams"].ok else []
    has_hooks = bool(ctx["installation"].webhook_url)
    shown = [replies["streams"]] + ([replies["health"]] if has_hooks else [])
    return {
        **ctx,
        "streams": streams,
        "streams_ok": replies["streams"].ok,
        "webhook": replies["health"].data if has_hooks else None,
        "oauth": replies["oauth"].data if replies["oauth"].ok else None,
        "charts": connection_charts(replies["activity"], streams, has_hooks),
        "banners": banners(*shown),
    }


async def cursor_history(
    downstream: Downstream, viewer: Viewer, installation_id: str, stream: str
) -> dict[str, Any]:
    reply = await downstream.call(
        "sync",
        "GET",
        f"/v1/installations/{installation_id}/streams/{stream}/cursors",
        viewer.token,
        answer=CursorHistory,
    )
    entries = reply.data.entries if reply.ok else []
    return {"stream": stream, "entries": entries, "banners": banners(reply)}


async def deliveries_tab(
    downstream: Downstream, viewer: Viewer, installation_id: str, before: str | None
) -> dict[str, Any]:
    """Webhook history, newest first, with outcome and status; paged by `before`."""
    base = f"/v1/installations/{installation_id}"
    ctx = await page(
        downstream,
        viewer,
        installation_id,
        "deliveries",
        deliveries=(
            "ingress",
            "GET",
            f"{base}/deliveries",
            {"limit": 50, "before": before},
            DeliveryPage,
        ),
        health=("ingress", "GET", f"{base}/webhook-health", None, DeliveryHealth),
        activity=activity_call(installation_id),
    )
    if ctx["installation"] is None:
        return ctx
    page_data = data_or(ctx["replies"]["deliveries"], DeliveryPage(deliveries=[]))
    return {
        **ctx,
        "deliveries": page_data.deliveries,
        "next_before": page_data.next_before,
        "webhook": ctx["replies"]["health"].data,
        "chart": deliveries_chart(ctx["replies"]["activity"]),
        # The chart is decoration: a logs service that is down is not a banner here.
        "banners": banners(ctx["replies"]["deliveries"], ctx["replies"]["health"]),
    }


async def delivery(
    downstream: Downstream, viewer: Viewer, installation_id: str, delivery_id: str
) -> dict[str, Any]:
    reply = await downstream.call(
        "ingress",
        "GET",
        f"/v1/installations/{installation_id}/deliveries/{delivery_id}",
        viewer.token,
        answer=DeliverySummary,
    )
    return {"delivery": reply.data, "installation_id": installation_id, "failure": reply.failure}


async def versions_tab(
    downstream: Downstream, viewer: Viewer, installation_id: str
) -> dict[str, Any]:
    """Active, observation (with its report), drafts, pending upgrade and the whole history."""
    base = f"/v1/installations/{installation_id}"
    ctx = await page(
        downstream,
        viewer,
        installation_id,
        "versions",
        versions=("registry", "GET", f"{base}/versions", None, InstallationVersions),
        members=("registry", "GET", "/v1/members", None, list[Member]),
    )
    if ctx["installation"] is None:
        return ctx
    versions: InstallationVersions | None = data_or(ctx["replies"]["versions"], None)
    people = {m.id: m.email for m in data_or(ctx["replies"]["members"], [])}
    report: Reply | None = None
    if versions is not None and versions.observation is not None:
        report = await downstream.call(
            "logs", "GET", f"{base}/observation-report", viewer.token, answer=ObservationReport
        )
    history = sorted(versions.history if versions else [], key=lambda v: -v.deployed_at)
    # A `backfill dev` draft (`<version>-dev.<session>`) is never a rollback target, even
    # once a newer session replaced it (the CLI skips them too).
    drafts = {h.version_id for h in history if "draft" in h.state or "-dev." in h.label}
    return {
        **ctx,
        "versions": versions,
        "history": history,
        "drafts": drafts,
        "report": report.data if report is not None else None,
        "people": people,
        "banners": ctx["banners"] + (banners(report) if report is not None else []),
    }


async def logs_tab(
    downstream: Downstream, viewer: Viewer, installation_id: str, filters: dict[str, Any]
) -> dict[str, Any]:
    """Log lines with filters (newest first) and the workspace's alert destinations."""
    params = {k: filters.get(k) for k in LOG_FILTERS}
    query = {**params, **_unix(params, "since", "until"), "limit": 100}
    ctx = await page(
        downstream,
        viewer,
        installation_id,
        "logs",
        lines=("logs", "GET", f"/v1/installations/{installation_id}/logs", query, LogPage),
        destinations=("logs", "GET", "/v1/alerts/destinations", None, list[Destination]),
    )
    if ctx["installation"] is None:
        return ctx
    lines_reply: Reply = ctx["replies"]["lines"]
    lines = lines_reply.data.items if lines_reply.ok else []
    destinations = data_or(ctx["replies"]["destinations"], [])
    shown = [lines_reply, ctx["replies"]["destinations"]]
    return {
        **ctx,
        "lines": lines,
        "logs_ok": lines_reply.ok,
        "destinations": destinations,
        "destinations_ok": ctx["replies"]["destinations"].ok,
        "filters": params,
        "tail_query": urlencode({k: v for k, v in query.items() if v and k != "limit"}),
        "banners": banners(*shown),
    }


def _unix(params: dict[str, Any], *names: str) -> dict[str, Any]:
    """datetime-local inputs (UTC) as the unix times the logs API takes."""
    converted: dict[str, Any] = {}
    for name in names:
        value = params.get(name)
        if value:
            try:
                moment = dt.datetime.fromisoformat(str(value)).replace(tzinfo=dt.UTC)
                converted[name] = moment.timestamp()
            except ValueError:
                converted[name] = None
    return converted
