"""Session fixtures: one real broker and one real Valkey for the whole run, all topics created."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import pytest_asyncio

from tests.harness import Infra, session_infra


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    """The session's Kafka-compatible broker and Valkey, with every registry topic created."""
    with session_infra() as started:
        yield started


@pytest_asyncio.fixture(scope="session")
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """One HTTP client for the session (real sockets)."""
    async with httpx.AsyncClient(timeout=15) as client:
        yield client
