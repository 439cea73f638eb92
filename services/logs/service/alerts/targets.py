"""SSRF guard for alert URLs: HTTPS to public addresses only, unless in development.

Checked when a destination is saved and again before every attempt (its DNS may have
changed). Every address the name resolves to must be public: private, loopback,
link-local, multicast, reserved and unspecified ones are refused. A name that resolves
differently between the check and the connection is the remaining gap (documented).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from services.logs.errors import UnsafeDestination


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        # An IPv6 address that carries an IPv4 one (mapped, 6to4, Teredo) is judged by it.
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None:
            ip = embedded
    # `is_global` is False for private, loopback, link-local, shared (100.64/10, where some
    # clouds keep their metadata service), reserved and documentation ranges alike.
    return ip.is_global and not ip.is_multicast


async def check_target(url: str, *, allow_private: bool) -> None:
    """Raise UnsafeDestination (400, field `url`) unless `url` may receive alerts."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise UnsafeDestination("url must be an absolute https:// URL", field="url")
    if allow_private:
        return
    if parts.scheme != "https":
        raise UnsafeDestination("url must use https", field="url")
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            parts.hostname, parts.port or 443, type=socket.SOCK_STREAM
        )
    except OSError:
        raise UnsafeDestination("url host does not resolve", field="url") from None
    addresses = {str(info[4][0]) for info in infos}
    if not addresses or not all(_is_public(a) for a in addresses):
        raise UnsafeDestination(
            "url resolves to a private, loopback or link-local address", field="url"
        )
