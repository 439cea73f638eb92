"""Redis key layout and client construction: one Valkey node or a Valkey Cluster, same code.

Layout (docs/scaling.md "Redis key layout"): every key that belongs to one installation starts
with the hash tag `{i:<installation_id>}`, every key of one workspace with `{w:<workspace_id>}`.
A Redis Cluster hashes only the text between the braces, so all keys of one installation (or
workspace) live in one slot, and a MULTI/EXEC, WATCH, Lua script or multi-key command over
them is legal on a cluster. Guarantee kept by every caller: one such operation touches keys of
ONE tag; global keys (an API token's principal, the slug index, the outbox index, the first
-party catalog) are read and written by single-key commands of their own.

Client: `REDIS_URL` is either an ordinary `redis://host:port/db` URL (one node) or
`redis+cluster://host:port,host:port` (seed nodes of a cluster; the client discovers the rest
and follows MOVED/ASK redirections and failovers). `create_redis` is the only place a service
builds its client.
"""

from __future__ import annotations

from typing import Any, cast
from urllib.parse import urlsplit

from redis.asyncio import Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster

CLUSTER_SCHEME = "redis+cluster"


def installation_tag(installation_id: str) -> str:
    """The hash tag every key of one installation starts with."""
    return f"{{i:{installation_id}}}"


def workspace_tag(workspace_id: str) -> str:
    """The hash tag every key of one workspace starts with."""
    return f"{{w:{workspace_id}}}"


def installation_key(installation_id: str, *parts: str) -> str:
    """A key in the installation's slot: `{i:ID}:part:part`."""
    return ":".join([installation_tag(installation_id), *parts])


def workspace_key(workspace_id: str, *parts: str) -> str:
    """A key in the workspace's slot: `{w:ID}:part:part`."""
    return ":".join([workspace_tag(workspace_id), *parts])


def cluster_nodes(url: str) -> list[tuple[str, int]] | None:
    """The seed nodes of a `redis+cluster://h:p,h:p` URL; None for a one-node URL."""
    parts = urlsplit(url)
    if parts.scheme != CLUSTER_SCHEME:
        return None
    nodes: list[tuple[str, int]] = []
    for item in parts.netloc.rpartition("@")[2].split(","):
        host, _, port = item.strip().rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"invalid setting REDIS_URL: seed node {item!r} is not host:port")
        nodes.append((host, int(port)))
    return nodes


def create_redis(url: str, **options: Any) -> Redis:
    """The service's Redis client for `url`: a `RedisCluster` for `redis+cluster://` URLs.

    Typed as `Redis`: the services use the command subset both clients share (single-tag
    transactions and scripts included). Options (timeouts) apply to every node's connections.
    """
    nodes = cluster_nodes(url)
    if nodes is None:
        return Redis.from_url(url, **options)
    parts = urlsplit(url)
    cluster = RedisCluster(
        startup_nodes=[ClusterNode(host, port) for host, port in nodes],
        username=parts.username,
        password=parts.password,
        **options,
    )
    return cast(Redis, cluster)


def is_cluster(redis: Redis) -> bool:
    """True for a cluster client built by `create_redis`."""
    return isinstance(redis, RedisCluster)
