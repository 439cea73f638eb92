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
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


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
