"""The replica session: a 3-node Valkey Cluster, the broker, and two replicas of each service.

Registry ×2 and ingress ×2 sit behind a round-robin balancer (tests/replicas/balancer.py);
sync ×2 share one consumer group, each calling the Stripe-like upstream on a port of its own
so every list call is attributed. All services are real processes on a broker and cluster of
this module only (`python -m services.<name>`), killed by pid.

Logs runs no replica here: the embedded store (chDB) opens a data directory from one process
only, so two logs processes cannot share one store; two replicas each with its own directory
would each hold half the lines. With a ClickHouse server (`LOGS_CLICKHOUSE_URL`) every replica
writes and reads the same tables and the consumer group splits the partitions
(docs/scaling.md).

Budget: BACKFILL_REPLICA_LOAD acknowledged items per phase (small under `make test`, larger
under `make replicas`).
"""

from __future__ import annotations

import os
import signal
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from cli.embedded import free_port
from contracts.ids import new_id
from tests.harness import embedded_infra
from tests.replicas.balancer import RoundRobin, Upstream, served_apps
from tests.robustness.live import (
    Service,
    Suite,
    Workspace,
    seed_workspace,
    start_service,
    stop,
    wait_until_ready,
)
from tests.sync.providers import PagedProvider

LOAD = int(os.environ.get("BACKFILL_REPLICA_LOAD", "40"))
INSTALLATIONS = int(os.environ.get("BACKFILL_REPLICA_INSTALLATIONS", "8"))
BALANCED = ("registry", "ingress", "sync")  # reached through a round-robin balancer


@dataclass
class ReplicaSuite(Suite):
    """Two processes per service; `url(name)` is the balancer in front of them."""

    replicas: dict[str, list[Service]] = field(default_factory=dict)
    balancers: dict[str, RoundRobin] = field(default_factory=dict)
    balancer_urls: dict[str, str] = field(default_factory=dict)
    upstream: Upstream | None = None

    def url(self, name: str) -> str:
        return self.balancer_urls.get(name) or self.services[name].url

    @property
    def workspace(self) -> Workspace:
        return self.workspaces["replicas"]


@pytest.fixture(scope="module")
def replicas() -> Iterator[ReplicaSuite]:
    """The session above, with a seeded workspace."""
    keys = [new_id("sk_test") for _ in range(INSTALLATIONS)]
    upstream = Upstream({k: PagedProvider(key=k, customers=0, delay_s=0.01) for k in keys})
    home = Path(tempfile.mkdtemp(prefix="backfill-replicas-"))
    ports = {name: [free_port(), free_port()] for name in BALANCED}
    backends = {n: [f"http://127.0.0.1:{p}" for p in ports[n]] for n in BALANCED}
    balancers = {name: RoundRobin(backends[name]) for name in BALANCED}
    apps = [balancers[n] for n in BALANCED] + [upstream.app("sync-0"), upstream.app("sync-1")]
    with embedded_infra(cluster=3) as infra, served_apps(apps) as urls:
        front = dict(zip(BALANCED, urls, strict=False))
        wiring = {
            "REGISTRY_SYNC_URL": front["sync"],
            "REGISTRY_INGRESS_URL": front["ingress"],
            "SYNC_LEASE_TTL_S": "4",  # a killed replica's leases are free again soon
            "SYNC_DEDUPE_PENDING_S": "5",
            "INGRESS_DEDUPE_PENDING_S": "8",  # a killed replica's claims go stale soon
        }
        replicas: dict[str, list[Service]] = {}
        for name in BALANCED:
            for i, port in enumerate(ports[name]):
                directory = home / f"{name}-{i}"
                directory.mkdir()
                extra = {}
                if name == "sync":
                    extra["SYNC_HOST_OVERRIDES"] = f"api.stripe.com={urls[3 + i]}"
                replicas.setdefault(name, []).append(
                    start_service(name, infra, directory, port, **wiring, **extra)
                )
        suite = ReplicaSuite(
            infra,
            home,
            {name: group[0] for name, group in replicas.items()},
            replicas=replicas,
            balancers=balancers,
            balancer_urls=front,
            upstream=upstream,
        )
        try:
            for group in replicas.values():
                for service in group:
                    wait_until_ready(service)
            suite.workspaces["replicas"] = seed_workspace(suite, "replicas")
            yield suite
        finally:
            for group in replicas.values():
                for service in group:
                    service.kill(signal.SIGTERM)
            for group in replicas.values():
                for service in group:
                    stop(service)
