"""Which outbound hosts an extension may declare and reach: the rules, without any I/O.

A declared host (`permissions.http`, an OAuth provider's URLs) is a DNS name: never an IP
literal, never `localhost` or a name below it, never an invalid IDNA label (`xn--…` that does
not decode). A declared entry may carry a port (`api.example.com:8443`); without one only
443 is reachable. `*.example.com` matches any sub-domain of example.com (not itself).
Where a name resolves, every address must be global (`address_problem`): private, loopback,
link-local, shared, reserved and multicast addresses are refused, at deploy and at connect.
"""

from __future__ import annotations

import ipaddress

DEFAULT_PORT = 443
_LABEL_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-")


def split_port(entry: str) -> tuple[str, int | None]:
    """`host[:port]` → (host, port or None); ValueError for a port that is not 1-65535."""
    host, colon, port = entry.rpartition(":")
    if not colon or "]" in port:
        return entry, None
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"port {port!r} is not a number from 1 to 65535")
    return host, int(port)


def host_problem(host: str) -> str | None:
    """Why `host` (no port, maybe `*.` wildcard) may not be declared or reached; None if fine."""
    name = host.lower().removeprefix("*.")
    if not name:
        return "empty host"
    literal = name.strip("[]")
    try:
        ipaddress.ip_address(literal)
    except ValueError:
        pass
    else:
        return "an IP address is not allowed: declare the provider's host name"
    if name == "localhost" or name.endswith(".localhost"):
        return "localhost is not allowed"
    labels = name.rstrip(".").split(".")
    if len(labels) < 2:
        return "a host name needs a domain (like api.example.com)"
    for label in labels:
        if not label or len(label) > 63 or not set(label) <= _LABEL_CHARS:
            return f"invalid host name label {label!r} (use the ASCII/punycode form)"
        if label.startswith("-") or label.endswith("-"):
            return f"invalid host name label {label!r}"
        if label.startswith("xn--"):
            try:
                label.encode("ascii").decode("idna")
            except UnicodeError:
                return f"invalid internationalised label {label!r}"
    return None


def entry_problem(entry: str) -> str | None:
    """Why a `permissions.http` entry (`host`, `*.host`, `host:port`) is refused; None if fine."""
    try:
        host, _port = split_port(entry)
    except ValueError as error:
        return str(error)
    if "*" in host.removeprefix("*."):
        return "a wildcard may only be a leading '*.'"
    return host_problem(host)


def address_problem(addresses: list[str]) -> str | None:
    """Why a host resolving to `addresses` may not be reached; None when all are global."""
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if not ip.is_global or ip.is_multicast:
            return f"resolves to a non-public address ({ip})"
    return None
