"""Who gets a worker: one tenant's flood leaves room for the others, and a draft or an
observation version never runs in the active version's worker process.

Through the runtime's public `invoke`, on real locked-down workers.
"""

from __future__ import annotations

import asyncio

import msgspec

from tests.runtime.conftest import make_runtime
from tests.runtime.factories import BUNDLES, deploy_directory, installation, webhook

SLOW = BUNDLES / "slow"


def slow(snapshot, sleep_s: float):
    return webhook(snapshot, msgspec.json.encode({"sleep_s": sleep_s}))


async def test_a_flood_of_one_tenant_leaves_a_worker_to_another(redis, keyring, producer):
    """30 slow deliveries of one tenant; another tenant, without a warm worker, is answered
    while most of the flood is still waiting (before: only once the flood had drained)."""
    runtime = make_runtime(redis, keyring, producer, workers=4, time_limit_s=10.0)
    version = await deploy_directory(redis, SLOW)
    flooding, other = installation(version), installation(version, workspace_id="ws_other")
    try:
        await runtime.invoke(slow(other, 0))  # the pool is started; `other` is then evicted
        flood = [asyncio.ensure_future(runtime.invoke(slow(flooding, 0.4))) for _ in range(30)]
        await asyncio.sleep(0)  # every flood invocation asked for its worker first
        answered = await runtime.invoke(slow(other, 0))
        still_waiting = sum(not f.done() for f in flood)
        results = await asyncio.gather(*flood)
    finally:
        await runtime.close()
    assert answered.outcome == "ok", answered.error
    assert answered.response is not None and answered.response.body == {"slept": 0}
    assert all(r.outcome == "ok" for r in results), [r.error for r in results]
    # The flood holds at most three of the four workers: the other tenant took the fourth
    # while at least half of the flood had not been answered yet.
    assert still_waiting >= 15, still_waiting


async def test_draft_and_observation_never_share_the_active_versions_worker(
    redis, keyring, producer
):
    """What the active version left in its process memory is not there for a draft or an
    observation run of the same installation (they run in workers of their own)."""
    runtime = make_runtime(redis, keyring, producer, workers=4)
    version = await deploy_directory(redis, BUNDLES / "hostile")
    snapshot = installation(version)

    def call(name: str, mode: str = "active", **fields: object):
        body = msgspec.json.encode({"attack": name, **fields})
        return webhook(snapshot, body, mode=mode)  # type: ignore[arg-type]

    try:
        stashed = await runtime.invoke(call("stash", value="active-version-secret"))
        assert stashed.outcome == "ok", stashed.error
        active = await runtime.invoke(call("peek"))
        drafted = await runtime.invoke(call("peek", mode="draft"))
        observed = await runtime.invoke(call("peek", mode="observe"))
    finally:
        await runtime.close()
    assert active.response is not None
    assert active.response.body == {"got": "active-version-secret"}  # same worker: warm
    for other in (drafted, observed):
        assert other.outcome == "ok", other.error
        assert other.response is not None and other.response.body == {"got": None}
