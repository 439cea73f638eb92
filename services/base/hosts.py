"""Deploy- and connect-time checks of the hosts a manifest names (outbound and OAuth).

The rules are `contracts/hosts.py`'s: a declared `permissions.http` host that resolves must
resolve to public addresses only (one that does not resolve yet is accepted: the runtime
checks again at every connection). An OAuth provider's `authorizeUrl` and `tokenUrl` must be
https URLs on a host name (no IP literal, no localhost) resolving to public addresses, both
at deploy and before the registry redirects an admin there or posts a code to it. The
operator setting `REGISTRY_OAUTH_ALLOW_LOCAL_PROVIDERS` lifts the OAuth rules for local test
providers (development and tests only).
"""

from __future__ import annotations

import asyncio
import socket

import httpx

from contracts.hosts import DEFAULT_PORT, address_problem, host_problem, split_port
from contracts.manifest import Manifest
from services.base.errors import ServiceError

RESOLVE_TIMEOUT_S = 5.0


class HostCheck:
    """Refuses manifests and OAuth URLs that point inside the platform's network."""

    def __init__(self, *, allow_local_oauth: bool = False) -> None:
        self.allow_local_oauth = allow_local_oauth

    async def refuse_manifest(self, manifest: Manifest) -> None:
        """ServiceError (400, naming the field) for a host that resolves to a private address."""
        for i, entry in enumerate(manifest.permissions.http):
            host, port = split_port(entry)
            if host.startswith("*."):
                continue  # a wildcard names no host: checked at each connection
            problem = await _resolved_problem(host, port or DEFAULT_PORT, unresolved_ok=True)
            if problem is not None:
                raise ServiceError(
                    f"invalid manifest: permissions.http[{i}]: {entry!r} {problem}",
                    field=f"permissions.http[{i}]",
                )
        if manifest.oauth is not None:
            await self.refuse_oauth_url(manifest.oauth.authorize_url, "oauth.authorizeUrl")
            await self.refuse_oauth_url(manifest.oauth.token_url, "oauth.tokenUrl")

    async def refuse_oauth_url(self, url: str, field: str) -> None:
        """ServiceError unless `url` is https on a public host (or local providers are allowed)."""
        if self.allow_local_oauth:
            return
        try:
            parsed = httpx.URL(url)
            host = (parsed.host or "").lower()
            port = parsed.port or DEFAULT_PORT
        except Exception:  # InvalidURL, an IDNA error
            raise ServiceError(f"{field}: not a valid URL", field=field) from None
        if parsed.scheme != "https":
            raise ServiceError(f"{field}: only https:// URLs are allowed", field=field)
        problem = host_problem(host) or await _resolved_problem(host, port, unresolved_ok=False)
        if problem is not None:
            raise ServiceError(f"{field}: {host!r} {problem}", field=field)


async def _resolved_problem(host: str, port: int, *, unresolved_ok: bool) -> str | None:
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), RESOLVE_TIMEOUT_S
        )
    except (OSError, TimeoutError):
        return None if unresolved_ok else "does not resolve"
    return address_problem([str(info[4][0]) for info in infos])
