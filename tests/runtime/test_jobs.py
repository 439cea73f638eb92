"""Scheduled jobs: `run(ctx)` of the manifest job's entry, with the manifest's permissions."""

from __future__ import annotations

from pathlib import Path

from litestar import Litestar, get

from contracts.ids import new_id
from runtime.interface import Invocation
from tests.harness import serving
from tests.runtime.conftest import make_runtime
from tests.runtime.factories import deploy_directory, installation

ACME = Path(__file__).parent.parent / "sync" / "bundles" / "acme"


def job(snapshot, name: str) -> Invocation:
    assert snapshot.active is not None
    return Invocation(
        invocation_id=new_id("inv"),
        installation=snapshot,
        version=snapshot.active,
        kind="job",
        entry=name,
        secrets_override={"access_token": "at_job"},
    )


async def test_a_job_runs_its_entry_and_an_undeclared_job_is_not_found(
    infra, redis, keyring, producer
):
    seen: list[str] = []

    @get("/v1/ping", sync_to_thread=False)
    def ping() -> dict[str, bool]:
        seen.append("ping")
        return {"ok": True}

    async with serving(Litestar([ping])) as provider:
        runtime = make_runtime(redis, keyring, producer, host_overrides={"api.acme.test": provider})
        snapshot = installation(await deploy_directory(redis, ACME), keyring=keyring)
        try:
            done = await runtime.invoke(job(snapshot, "heartbeat"))
            missing = await runtime.invoke(job(snapshot, "nightly"))
        finally:
            await runtime.close()
    assert (done.outcome, seen) == ("ok", ["ping"])
    assert missing.outcome == "not_found"
    assert "no job 'nightly'" in (missing.error or "")
