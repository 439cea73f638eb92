"""A real HTTP endpoint standing in for an alert destination, and the alert API's helpers."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from litestar import Litestar, Request, Response, post
from litestar.params import FromPath

from services.ingress.signatures import SignatureError, verify
from tests.harness import serving


@dataclass
class Receiver:
    """Records each request and answers from a per-path plan (then 200); a path in `holds`
    keeps its requests open until its event is set."""

    url: str = ""
    plans: dict[str, list[int]] = field(default_factory=dict)
    holds: dict[str, asyncio.Event] = field(default_factory=dict)
    received: dict[str, list[tuple[dict[str, str], bytes, int]]] = field(default_factory=dict)
    opened: dict[str, int] = field(default_factory=dict)

    def bodies(self, path: str) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body, _ in self.received.get(path, [])]


@contextlib.asynccontextmanager
async def receiving() -> AsyncIterator[Receiver]:
    """A receiver served on a free local port."""
    state = Receiver()

    @post("/{path:str}", status_code=200)
    async def hook(request: Request[Any, Any, Any], path: FromPath[str]) -> Response[str]:
        state.opened[path] = state.opened.get(path, 0) + 1
        if path in state.holds:
            await state.holds[path].wait()
        plan = state.plans.get(path, [])
        status = plan.pop(0) if plan else 200
        state.received.setdefault(path, []).append(
            (dict(request.headers), await request.body(), status)
        )
        return Response("", status_code=status)

    async with serving(Litestar([hook])) as url:
        state.url = url
        try:
            yield state
        finally:  # a failed test's held requests: answered, so the server can stop
            for hold in state.holds.values():
                hold.set()


async def create_destination(
    http, logs_url: str, admin: dict[str, str], url: str
) -> tuple[str, str]:
    response = await http.post(
        f"{logs_url}/v1/alerts/destinations",
        headers=admin,
        json={"url": url, "description": "on-call"},
    )
    assert response.status_code == 201, response.text
    return response.json()["destination"]["id"], response.json()["secret"]


async def create_rule(http, logs_url: str, admin: dict[str, str], **body: Any) -> str:
    response = await http.post(f"{logs_url}/v1/alerts/rules", headers=admin, json=body)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def verified(headers: dict[str, str], body: bytes, secrets: list[str]) -> bool:
    try:
        verify("standard_webhooks", body=body, headers=headers, secrets=secrets)
        return True
    except SignatureError:
        return False
