"""Session fixtures: one real broker and one real Valkey for the whole run, all topics created."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from services.base.settings import CLIENT_IDLE_S
from tests.harness import Infra, TopicMarks, session_infra


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    """The session's Kafka-compatible broker and Valkey, with every registry topic created."""
    with session_infra() as started:
        yield started


@pytest_asyncio.fixture(scope="session")
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """One HTTP client for the session (real sockets)."""
    limits = httpx.Limits(keepalive_expiry=CLIENT_IDLE_S)  # as the console's and the CLI's
    async with httpx.AsyncClient(timeout=15, limits=limits) as client:
        yield client


@pytest_asyncio.fixture(scope="session")
async def topic_marks(infra: Infra) -> AsyncIterator[TopicMarks]:
    """End offsets of every topic, recorded by `marked_topics` before each test that asks."""
    marks = TopicMarks(infra.bootstrap_servers)
    yield marks
    await marks.close()


@pytest_asyncio.fixture
async def marked_topics(topic_marks: TopicMarks) -> TopicMarks:
    """Topic reads of this test start where every topic ended when it began."""
    await topic_marks.record()
    return topic_marks


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`--dist loadfile` keeps files sharing a wider fixture together (tests/scheduling.py)."""
    from tests.scheduling import make_scheduler

    return make_scheduler(config, log)
