"""An async HTTP client limited to the `https://` hosts the manifest declares.

Each call is checked against `permissions.http` before any connection is made; an undeclared
host (or plain `http://`) raises PermissionDenied. Redirects are not followed, so a declared
host cannot bounce the code to an undeclared one. Rate limits and provider hiccups are
retried here: 429 honours `Retry-After`, 5xx and connection errors back off; after the last
attempt the final response is returned (call `raise_for_status()`), or the error raised.
"""

from __future__ import annotations

from typing import Any

import httpx

from sdk.context import current


async def request(method: str, url: str, **options: Any) -> httpx.Response:
    """Send one request (`params`, `headers`, `json`, `content`, `data`, `auth`, `timeout`)."""
    return await current().request(method.upper(), url, **options)


async def get(url: str, **options: Any) -> httpx.Response:
    """GET `url`."""
    return await request("GET", url, **options)


async def post(url: str, **options: Any) -> httpx.Response:
    """POST to `url`."""
    return await request("POST", url, **options)


async def put(url: str, **options: Any) -> httpx.Response:
    """PUT to `url`."""
    return await request("PUT", url, **options)


async def patch(url: str, **options: Any) -> httpx.Response:
    """PATCH `url`."""
    return await request("PATCH", url, **options)


async def delete(url: str, **options: Any) -> httpx.Response:
    """DELETE `url`."""
    return await request("DELETE", url, **options)
