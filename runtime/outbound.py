"""Outbound HTTP for extension code: the host check, local overrides, and provider retries.

The permission check always runs on the URL the code asked for; only afterwards may
`host_overrides` point a declared host at a local base URL (how tests and the sync bench
reach fake providers). Redirects are never followed, so a declared host cannot send the
code on to an undeclared one.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import Mapping
from typing import Any

import httpx

ALLOWED_OPTIONS = {"params", "headers", "json", "content", "data", "auth", "timeout", "cookies"}
MAX_ATTEMPTS = 4
MAX_RETRY_AFTER_S = 30.0


def host_allowed(host: str, declared: list[str]) -> bool:
    """Exact match, or `*.example.com` matching any sub-domain of example.com."""
    for pattern in declared:
        if pattern.startswith("*."):
            if host.endswith(pattern[1:]) and host != pattern[2:]:
                return True
        elif host == pattern:
            return True
    return False


def retry_after_seconds(value: str | None, fallback: float) -> float:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date), capped."""
    if not value:
        return fallback
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return fallback
    return max(0.0, min(seconds, MAX_RETRY_AFTER_S))


class OutboundHttp:
    """One shared httpx client for every invocation of a runtime."""

    def __init__(self, host_overrides: Mapping[str, str] | None = None) -> None:
        self.overrides = {k.lower(): v.rstrip("/") for k, v in (host_overrides or {}).items()}
        self.client = httpx.AsyncClient(timeout=15, follow_redirects=False)

    def refusal(self, url: str, declared: list[str]) -> tuple[str, str] | None:
        """(target, reason) when the manifest does not allow `url`; None when it does."""
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError):
            return url, "not a valid URL"
        host = (parsed.host or "").lower()
        if parsed.scheme != "https":
            return url, "only https:// URLs are allowed"
        if not host_allowed(host, declared):
            return host, "host not declared in permissions.http"
        return None

    def _route(self, url: str) -> httpx.URL:
        parsed = httpx.URL(url)
        host = (parsed.host or "").lower()
        base = self.overrides.get(host)
        if base is None:
            wildcard = "*." + host.partition(".")[2]
            base = self.overrides.get(wildcard)
        if base is None:
            return parsed
        target = httpx.URL(base)
        return parsed.copy_with(scheme=target.scheme, host=target.host, port=target.port)

    async def send(self, method: str, url: str, options: dict[str, Any]) -> httpx.Response:
        """Send with retries: 429 waits for Retry-After; 5xx and transport errors back off."""
        unknown = set(options) - ALLOWED_OPTIONS
        if unknown:
            raise TypeError(f"unsupported request options: {sorted(unknown)}")
        target = self._route(url)
        headers = dict(options.pop("headers", None) or {})
        headers.setdefault("host", httpx.URL(url).netloc.decode())
        for attempt in range(1, MAX_ATTEMPTS + 1):
            backoff = 0.2 * 2**attempt
            try:
                response = await self.client.request(method, target, headers=headers, **options)
            except httpx.TransportError:
                if attempt == MAX_ATTEMPTS:
                    raise
                await asyncio.sleep(backoff)
                continue
            retryable = response.status_code == 429 or response.status_code >= 500
            if not retryable or attempt == MAX_ATTEMPTS:
                return response
            await response.aclose()
            if response.status_code == 429:
                backoff = retry_after_seconds(response.headers.get("retry-after"), backoff)
            await asyncio.sleep(backoff)
        raise AssertionError("unreachable")

    async def close(self) -> None:
        """Close the connection pool."""
        await self.client.aclose()
