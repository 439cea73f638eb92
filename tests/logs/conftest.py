"""One logs service per test module: chDB allows one data directory per process at a time."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest_asyncio

from tests.harness import Infra
from tests.logs.alert_receiver import Receiver, receiving
from tests.logs.factories import running_logs


@pytest_asyncio.fixture(scope="module")
async def logs_url(infra: Infra, http: httpx.AsyncClient) -> AsyncIterator[str]:
    """The module's logs service (tests in a module share its store, never a workspace)."""
    async with running_logs(
        infra, http, alert_allow_private_targets=True, alert_retry_base_s=0.05, alert_poll_s=0.05
    ) as url:
        yield url


@pytest_asyncio.fixture(scope="module")
async def receiver() -> AsyncIterator[Receiver]:
    """A local alert destination for the module (paths keep tests apart)."""
    async with receiving() as state:
        yield state
