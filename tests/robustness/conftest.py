"""The live suite for the robustness sweeps: every API service as its own process, on the
session's broker and Valkey, with three seeded workspaces (`fuzz`, `a`, `b`)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import schemathesis

from tests.harness import Infra
from tests.robustness.live import Suite, running_suite, seed_workspace


@pytest.fixture(scope="session")
def live(infra: Infra) -> Iterator[Suite]:
    """registry, ingress, logs and sync running as processes, with seeded workspaces."""
    with running_suite(infra) as suite, ThreadPoolExecutor(3) as pool:
        slugs = ("fuzz", "a", "b")
        seeded = pool.map(lambda slug: seed_workspace(suite, slug), slugs)
        suite.workspaces.update(zip(slugs, seeded, strict=True))
        yield suite


@schemathesis.serializer("application/gzip")
def gzip_body(ctx: Any, value: Any) -> bytes:
    """A deploy body as generated (random bytes or text): never a valid archive, which is the
    point of fuzzing it; valid bundles are deployed by the seeding."""
    return value if isinstance(value, bytes) else str(value).encode()
