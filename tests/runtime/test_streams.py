"""Stream runs: pages become emissions keyed by object id and stamp; bad pages fail one run."""

from __future__ import annotations

import gzip
import json
from typing import Any

from litestar import Litestar, Request, Response, get

from tests.harness import serving
from tests.runtime.conftest import make_runtime
from tests.runtime.factories import BUNDLES, call, deploy_directory, installation

TICKETS = [{"id": f"tk_{n}", "title": f"Ticket {n}", "updated": 1700000000 + n} for n in range(5)]


def ticket_provider(
    *, throttle_first: bool = False, always_fail: bool = False, compressed: bool = False
) -> Litestar:
    """A paged list API: `?after=<id>&limit=n`, optional 429 on the first call, or 503 always;
    `compressed`: every page gzip-encoded, as most providers answer."""
    calls: dict[str, Any] = {"n": 0, "cookies": []}

    @get("/v1/tickets", sync_to_thread=False)
    def tickets(request: Request) -> Response:
        limit, after = int(request.query_params.get("limit", 2)), request.query_params.get("after")
        calls["n"] += 1
        calls["cookies"].append(request.headers.get("cookie"))
        if always_fail:
            return Response({"error": "maintenance"}, status_code=503)
        if throttle_first and calls["n"] == 1:
            return Response({"error": "slow down"}, status_code=429, headers={"retry-after": "1"})
        start = next((i + 1 for i, t in enumerate(TICKETS) if t["id"] == after), 0)
        page = {"data": TICKETS[start : start + limit], "has_more": start + limit < len(TICKETS)}
        if compressed:
            body = gzip.compress(json.dumps(page).encode())
            headers = {"content-encoding": "gzip"}
            return Response(body, media_type="application/json", headers=headers)
        return Response(page, headers={"set-cookie": f"session=of-call-{calls['n']}; Path=/"})

    app = Litestar([tickets])
    app.state.calls = calls
    return app


async def test_stream_pages_through_the_provider_until_has_more_is_false(
    infra, redis, keyring, producer
):
    async with serving(ticket_provider()) as provider:
        runtime = make_runtime(
            redis, keyring, producer, host_overrides={"api.probe.example": provider}
        )
        snapshot = installation(await deploy_directory(redis, BUNDLES / "probe"))
        cursor, keys, runs = None, [], 0
        while True:
            result = await runtime.invoke(call(snapshot, "stream", "tickets", cursor=cursor))
            assert result.outcome == "ok", result.error
            keys += [e.idempotency_key for e in result.emissions]
            cursor, runs = result.next_cursor, runs + 1
            if not result.has_more:
                break
        await runtime.close()
    assert runs == 3
    assert cursor == "tk_4"
    assert keys == [f"probe:ticket:tk_{n}:{1700000000 + n}" for n in range(5)]
    assert {e.stream for e in result.emissions} == {"tickets"}


async def test_a_gzip_encoded_page_reaches_the_code_decoded(infra, redis, keyring, producer):
    async with serving(ticket_provider(compressed=True)) as provider:
        runtime = make_runtime(
            redis, keyring, producer, host_overrides={"api.probe.example": provider}
        )
        snapshot = installation(await deploy_directory(redis, BUNDLES / "probe"))
        result = await runtime.invoke(call(snapshot, "stream", "tickets"))
        await runtime.close()
    assert result.outcome == "ok", result.error
    assert [e.payload["id"] for e in result.emissions] == ["tk_0", "tk_1"]


async def test_a_providers_cookie_never_reaches_another_request(infra, redis, keyring, producer):
    """The runtime's client is shared by every installation: it keeps no cookie jar."""
    app = ticket_provider()
    async with serving(app) as provider:
        runtime = make_runtime(
            redis, keyring, producer, host_overrides={"api.probe.example": provider}
        )
        version = await deploy_directory(redis, BUNDLES / "probe")
        for _ in range(2):  # two tenants' installations of the same connector
            result = await runtime.invoke(call(installation(version), "stream", "tickets"))
            assert result.outcome == "ok", result.error
        await runtime.close()
    assert app.state.calls["cookies"] == [None, None]


async def test_stream_waits_out_a_429_and_gets_its_page(infra, redis, keyring, producer):
    app = ticket_provider(throttle_first=True)
    async with serving(app) as provider:
        runtime = make_runtime(
            redis, keyring, producer, host_overrides={"api.probe.example": provider}
        )
        snapshot = installation(await deploy_directory(redis, BUNDLES / "probe"))
        result = await runtime.invoke(call(snapshot, "stream", "tickets"))
        await runtime.close()
    assert result.outcome == "ok"
    assert len(result.emissions) == 2
    assert app.state.calls["n"] == 2


async def test_stream_run_against_a_failing_provider_is_an_error_for_that_run(
    infra, redis, keyring, producer
):
    app = ticket_provider(always_fail=True)
    async with serving(app) as provider:
        runtime = make_runtime(
            redis, keyring, producer, host_overrides={"api.probe.example": provider}
        )
        snapshot = installation(await deploy_directory(redis, BUNDLES / "probe"))
        result = await runtime.invoke(call(snapshot, "stream", "tickets", cursor="tk_1"))
        await runtime.close()
    assert result.outcome == "error"
    assert "503" in (result.error or "")
    assert result.emissions == []
    assert result.next_cursor is None
    assert app.state.calls["n"] > 1  # 5xx is retried before the run gives up


async def test_malformed_pages_fail_only_their_own_run(infra, redis, keyring, producer):
    runtime = make_runtime(redis, keyring, producer)
    snapshot = installation(await deploy_directory(redis, BUNDLES / "probe"))
    errors = {}
    for cursor in (None, "no-id", "not-a-list"):
        result = await runtime.invoke(call(snapshot, "stream", "broken", cursor=cursor))
        assert result.outcome == "error"
        errors[cursor] = result.error
    assert errors == {
        None: "malformed page: fetch returned list, not a Page",
        "no-id": "malformed page: records[0] has no id",
        "not-a-list": "malformed page: records must be a list",
    }
    async with serving(ticket_provider()) as provider:
        healthy = make_runtime(
            redis, keyring, producer, host_overrides={"api.probe.example": provider}
        )
        result = await healthy.invoke(call(snapshot, "stream", "tickets"))
        await healthy.close()
    assert result.outcome == "ok"
    await runtime.close()


async def test_observed_stream_run_emits_nothing(infra, redis, keyring, producer):
    async with serving(ticket_provider()) as provider:
        runtime = make_runtime(
            redis, keyring, producer, host_overrides={"api.probe.example": provider}
        )
        snapshot = installation(await deploy_directory(redis, BUNDLES / "probe"))
        result = await runtime.invoke(call(snapshot, "stream", "tickets", mode="observe"))
        await runtime.close()
    assert (result.outcome, result.emissions, result.observed) == ("ok", [], 2)
    assert result.has_more is True


async def test_undeclared_stream_is_not_found(infra, redis, keyring, producer):
    runtime = make_runtime(redis, keyring, producer)
    snapshot = installation(await deploy_directory(redis, BUNDLES / "probe"))
    result = await runtime.invoke(call(snapshot, "stream", "invoices"))
    assert result.outcome == "not_found"
    await runtime.close()
