"""Extension pages, page actions and UI contributions, as the console shows them.

Ingress runs the scripts and checks every tree (`contracts.ui.parse_tree`); the console
decodes its answers with the same types (`PageView`, `ActionResult`, `Contribution`) and
turns a tree into plain view data for its own autoescaped templates: text stays text, a
chart becomes SVG geometry computed here, a form knows its errors and submitted values.
Calls carry the signed-in member's token, so ingress checks that member's role.
"""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec

from contracts.ui import ActionResult, Chart, Component, Contribution, PageView
from services.console.downstream import Downstream, Failure

FIELD_PREFIX = "field:"  # form inputs are named `field:<name>`: never clash with the CSRF one
CHART_W, CHART_H, PAD = 520, 180, 28


class Failed(msgspec.Struct, frozen=True, kw_only=True):
    """Why ingress gave no page or result: its status and message."""

    status: int
    message: str


def _failed(failure: Failure) -> Failed:
    """Ingress' own refusal in its words (a disabled installation, a script past its time);
    the banner when ingress did not answer in the agreed shape (down, no route, bad answer)."""
    answered = failure.code not in ("unreachable", "not_served", "failed", "bad_answer")
    return Failed(status=failure.status, message=failure.message if answered else failure.banner)


async def render_page(
    downstream: Downstream, token: str, installation_id: str, path: str, query: dict[str, str]
) -> PageView | Failed:
    """The page rendered for the viewer (`session` in `query` renders their draft)."""
    reply = await downstream.call(
        "ingress",
        "GET",
        f"/v1/installations/{installation_id}/pages/{path}",
        token,
        params=query,
        answer=PageView,
    )
    return _failed(reply.failure) if reply.failure is not None else reply.data


async def run_action(
    downstream: Downstream,
    token: str,
    installation_id: str,
    path: str,
    action: str,
    form: dict[str, Any],
    session: str | None,
) -> ActionResult | Failed:
    """Post the form's fields (named `field:<name>`) to the action; its result or failure."""
    given = {k.removeprefix(FIELD_PREFIX): v for k, v in form.items() if k.startswith(FIELD_PREFIX)}
    reply = await downstream.call(
        "ingress",
        "POST",
        f"/v1/installations/{installation_id}/pages/{path}/actions/{action}",
        token,
        json={"input": given},
        params={"session": session} if session else None,
        answer=ActionResult,
        answered=frozenset({422}),  # field errors: an ActionResult too
    )
    return _failed(reply.failure) if reply.failure is not None else reply.data


async def contributions(downstream: Downstream, token: str, slot: str) -> list[Contribution]:
    """Every contribution to `slot` the viewer may see (none when ingress does not answer)."""
    reply = await downstream.call(
        "ingress", "GET", f"/v1/ui/{slot}", token, answer=list[Contribution]
    )
    return reply.data if reply.ok else []


def view_tree(
    tree: list[Component],
    errors: dict[str | None, str] | None = None,
    values: dict[str, Any] | None = None,
    action: str | None = None,
) -> list[dict[str, Any]]:
    """Plain view data of a checked tree; the form of `action` gets its errors and values."""
    nodes: list[dict[str, Any]] = msgspec.to_builtins(tree)
    for node, typed in zip(nodes, tree, strict=True):
        _enrich(node, typed, errors or {}, values or {}, action)
    return nodes


def _enrich(
    node: dict[str, Any],
    typed: Component,
    errors: dict[str | None, str],
    values: dict[str, Any],
    action: str | None,
) -> None:
    if node["type"] == "chart" and isinstance(typed, Chart):
        node["svg"] = chart_geometry(typed)
    elif node["type"] == "form" and node["action"] == action:
        node["form_error"] = errors.get(None, "")
        for field in node["fields"]:
            field["error"] = errors.get(field["name"], "")
            if field["name"] in values:
                field["value"] = values[field["name"]]
    elif node["type"] == "section":
        for child, typed_child in zip(
            node["children"], getattr(typed, "children", []), strict=True
        ):
            _enrich(child, typed_child, errors, values, action)


def chart_geometry(chart: Chart) -> dict[str, Any]:
    """Server-side SVG of a small chart: coordinates only (the template draws them)."""
    labels: dict[str, int] = {}  # label -> position, in first-seen order
    for series in chart.series:
        for x, _ in series.points:
            labels.setdefault(str(x), len(labels))
    top = max((y for s in chart.series for _, y in s.points), default=0.0) or 1.0
    inner_w, inner_h = CHART_W - 2 * PAD, CHART_H - 2 * PAD
    step = inner_w / max(len(labels) - 1, 1)

    def at(x: Any, y: float) -> tuple[float, float]:
        return (PAD + labels[str(x)] * step, PAD + inner_h - (y / top) * inner_h)

    drawn = []
    width = inner_w / max(len(labels), 1) / max(len(chart.series), 1) * 0.8
    for i, series in enumerate(chart.series):
        points = [at(x, y) for x, y in series.points]
        drawn.append(
            {
                "label": series.label,
                "index": i % 4,
                "line": " ".join(f"{px:.1f},{py:.1f}" for px, py in points),
                "bars": [
                    {
                        "x": round(px - width / 2 + i * width, 1),
                        "y": round(py, 1),
                        "h": round(PAD + inner_h - py, 1),
                        "w": round(width, 1),
                    }
                    for px, py in points
                ],
            }
        )
    ticks = [{"x": round(PAD + i * step, 1), "label": label} for i, label in enumerate(labels)]
    return {
        "width": CHART_W,
        "height": CHART_H,
        "series": drawn,
        "ticks": ticks,
        "top": f"{top:g}",
        "baseline": PAD + inner_h,
    }


async def installed_contributions(downstream: Downstream, token: str) -> dict[str, Any]:
    """The Installed list's extension places: row actions and columns, by installation id.

    `columns` are the distinct column titles (in order); `cells[id][title]` and
    `actions[id]` hold view data of each installation's contributions.
    """
    actions, columns = await asyncio.gather(
        contributions(downstream, token, "installed.row.action"),
        contributions(downstream, token, "installed.list.column"),
    )
    titles: list[str] = []
    cells: dict[str, dict[str, Any]] = {}
    for c in columns:
        if c.title not in titles:
            titles.append(c.title)
        cells.setdefault(c.installation_id, {})[c.title] = _item(c)
    by_row: dict[str, list[dict[str, Any]]] = {}
    for c in actions:
        by_row.setdefault(c.installation_id, []).append(_item(c))
    return {"columns": titles, "cells": cells, "actions": by_row}


def _item(c: Contribution) -> dict[str, Any]:
    return {
        "c": c,
        "nodes": view_tree(c.tree),
        "base": f"/installations/{c.installation_id}/pages/{c.page}",
    }
