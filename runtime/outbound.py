"""Outbound HTTP for extension code: the host check, local overrides, and provider retries.

The permission check always runs on the URL the code asked for: https only, a declared host
(`contracts/hosts.py`: never an IP literal, `localhost` or an invalid IDNA name, the port
443 unless the manifest declared another). Before connecting, the name is resolved and every
address must be global; the connection goes to the address that was checked (no second
lookup to rebind), TLS still verified for the name. Resolution runs on this module's own
small thread pool, one lookup per name at a time (callers of the same name share it, a slow
name holds one thread, never the service's shared resolver), and waits at most
`RESOLVE_TIMEOUT_S`. Only afterwards may `host_overrides` (an operator setting for tests
and the sync bench) point a declared host at a local base URL, without resolution. Redirects
are never followed, so a declared host cannot send the code on to an undeclared one.
"""

from __future__ import annotations

import asyncio
import email.utils
import socket
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from contracts.hosts import DEFAULT_PORT, address_problem, host_problem, split_port

ALLOWED_OPTIONS = {"params", "headers", "json", "content", "data", "auth", "timeout", "cookies"}
MAX_ATTEMPTS = 4
MAX_RETRY_AFTER_S = 30.0
RESOLVE_TIMEOUT_S = 5.0
RESOLVED_TTL_S = 30.0
_RESOLVERS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="outbound-dns")


class Unreachable(httpx.ConnectError):
    """The declared host resolves to a non-public address, or did not resolve in time."""


def host_allowed(host: str, declared: list[str], port: int | None = DEFAULT_PORT) -> bool:
    """Exact match, or `*.example.com` matching any sub-domain; the port as declared (or 443).

    `port=None` matches the host on any declared port.
    """
    for entry in declared:
        try:
            pattern, declared_port = split_port(entry)
        except ValueError:
            continue
        if port is not None and port != (declared_port or DEFAULT_PORT):
            continue
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
        self._resolving: dict[str, asyncio.Future[list[str]]] = {}
        self._resolved: dict[str, tuple[float, list[str]]] = {}

    def refusal(self, url: str, declared: list[str]) -> tuple[str, str] | None:
        """(target, reason) when the manifest does not allow `url`; None when it does."""
        try:
            parsed = httpx.URL(url)
            host = (parsed.host or "").lower()
            port = parsed.port or DEFAULT_PORT
        except Exception:  # httpx.InvalidURL, an IDNA error of an `xn--` label, a non-string
            return str(url)[:200], "not a valid URL"
        if parsed.scheme != "https":
            return url, "only https:// URLs are allowed"
        problem = host_problem(host)
        if problem is not None:
            return host, problem
        if not host_allowed(host, declared, port):
            if host_allowed(host, declared, None):  # the host is declared, on another port
                return f"{host}:{port}", "port not declared in permissions.http"
            return host, "host not declared in permissions.http"
        return None

    def _override(self, parsed: httpx.URL) -> httpx.URL | None:
        host = (parsed.host or "").lower()
        base = self.overrides.get(host)
        if base is None:
            wildcard = "*." + host.partition(".")[2]
            base = self.overrides.get(wildcard)
        if base is None:
            return None
        target = httpx.URL(base)
        return parsed.copy_with(scheme=target.scheme, host=target.host, port=target.port)

    async def _route(self, url: str) -> tuple[httpx.URL, dict[str, Any]]:
        """Where to connect (the checked address) and the TLS name to verify."""
        parsed = httpx.URL(url)
        overridden = self._override(parsed)
        if overridden is not None:
            return overridden, {}
        host = (parsed.host or "").lower()
        addresses = await self.resolve(host, parsed.port or DEFAULT_PORT)
        problem = address_problem(addresses)
        if problem is not None:
            raise Unreachable(f"{host} {problem}")
        return parsed.copy_with(host=addresses[0]), {"sni_hostname": host}

    async def address_refusal(self, url: str) -> tuple[str, str] | None:
        """(host, reason) when an allowed URL's host resolves to a non-public address.

        Raises `Unreachable` when it does not resolve (in time): a transport failure.
        """
        parsed = httpx.URL(url)
        if self._override(parsed) is not None:
            return None
        host = (parsed.host or "").lower()
        problem = address_problem(await self.resolve(host, parsed.port or DEFAULT_PORT))
        return (host, problem) if problem is not None else None

    async def resolve(self, host: str, port: int) -> list[str]:
        """The host's addresses: cached briefly, one lookup per name at a time, time-limited."""
        cached = self._resolved.get(host)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        pending = self._resolving.get(host)
        if pending is None:
            loop = asyncio.get_running_loop()
            pending = asyncio.ensure_future(loop.run_in_executor(_RESOLVERS, _lookup, host, port))
            self._resolving[host] = pending
            pending.add_done_callback(lambda _f: self._resolving.pop(host, None))
        try:
            addresses = await asyncio.wait_for(asyncio.shield(pending), RESOLVE_TIMEOUT_S)
        except TimeoutError:
            raise Unreachable(f"{host} did not resolve within {RESOLVE_TIMEOUT_S:g}s") from None
        except OSError as error:
            raise Unreachable(f"{host} did not resolve: {error}") from None
        self._resolved[host] = (time.monotonic() + RESOLVED_TTL_S, addresses)
        return addresses

    async def send(self, method: str, url: str, options: dict[str, Any]) -> httpx.Response:
        """Send with retries: 429 waits for Retry-After; 5xx and transport errors back off."""
        unknown = set(options) - ALLOWED_OPTIONS
        if unknown:
            raise TypeError(f"unsupported request options: {sorted(unknown)}")
        target, extensions = await self._route(url)
        headers = dict(options.pop("headers", None) or {})
        headers.setdefault("host", httpx.URL(url).netloc.decode())
        for attempt in range(1, MAX_ATTEMPTS + 1):
            backoff = 0.2 * 2**attempt
            try:
                response = await self.client.request(
                    method, target, headers=headers, extensions=extensions, **options
                )
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


def _lookup(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))
