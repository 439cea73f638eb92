"""The live suite for the robustness sweeps: every API service as its own process, on a
broker and Valkey of its own, with three seeded workspaces (`fuzz`, `a`, `b`).

Its own pair, not the session's: the suite lives for the whole session, and its sync process
(a replica like any other) would otherwise schedule every other test's installations."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import schemathesis

from tests.harness import embedded_infra
from tests.robustness.live import Suite, running_suite, seed_workspace


@pytest.fixture(scope="session")
def live() -> Iterator[Suite]:
    """registry, ingress, logs and sync running as processes, with seeded workspaces."""
    with (
        embedded_infra() as private,
        running_suite(private) as suite,
        ThreadPoolExecutor(3) as pool,
    ):
        slugs = ("fuzz", "a", "b")
        seeded = pool.map(lambda slug: seed_workspace(suite, slug), slugs)
        suite.workspaces.update(zip(slugs, seeded, strict=True))
        yield suite


@schemathesis.serializer("application/gzip")
def gzip_body(ctx: Any, value: Any) -> bytes:
    """A deploy body as generated (random bytes or text): never a valid archive, which is the
    point of fuzzing it; valid bundles are deployed by the seeding."""
    return value if isinstance(value, bytes) else str(value).encode()
