"""OAuth refresh: before expiry and on a 401, one refresh across replicas, invalid_grant → reauth."""

from __future__ import annotations

import asyncio

import msgspec
import pytest
from redis.asyncio import Redis

from contracts.ids import new_id
from services.sync.oauth import RefreshFailed, TokenSource
from tests.harness import eventually, serving
from tests.sync.conftest import canonical_of, put_snapshot, token_for
from tests.sync.oauth_stack import oauth_install, oauth_sync, recording_registry
from tests.sync.providers import OAuthServer, PagedProvider


def token_source(infra, keyring, redis: Redis, registry: str, oauth: str) -> TokenSource:
    return TokenSource(
        redis=redis,
        keyring=keyring,
        registry_url=registry,
        internal_token="test-internal-token",
        margin_s=300,
        host_overrides={"auth.acme.test": oauth},
    )


async def test_replicas_racing_to_refresh_send_exactly_one_refresh_request(infra, redis, keyring):
    server, reports = OAuthServer(), []
    snap = await oauth_install(redis, keyring, refresh=server.refresh_token)
    async with serving(server.app()) as oauth, serving(recording_registry(reports)) as registry:
        clients = [Redis.from_url(infra.redis_url) for _ in range(3)]
        replicas = [token_source(infra, keyring, c, registry, oauth) for c in clients]
        try:
            tokens = await asyncio.gather(
                *(r.access_token(snap) for r in replicas for _ in range(4))
            )
        finally:
            for replica, client in zip(replicas, clients, strict=True):
                await replica.close()
                await client.aclose()
    assert server.refreshes == 1
    assert set(tokens) == set(server.issued)
    assert [r["status"] for r in reports] == ["connected"]
    assert reports[0]["access_token"] == server.issued[0]


async def test_a_401_refreshes_a_token_the_snapshot_still_calls_valid(infra, redis, keyring):
    server, reports = OAuthServer(), []
    snap = await oauth_install(redis, keyring, refresh=server.refresh_token, expires_in=3600)
    async with serving(server.app()) as oauth, serving(recording_registry(reports)) as registry:
        source = token_source(infra, keyring, redis, registry, oauth)
        try:
            first = await source.access_token(snap)
            again = await source.access_token(snap, stale=first)
            later = await source.access_token(snap)
        finally:
            await source.close()
    assert (first, again, later, server.refreshes) == ("at_0", *server.issued * 2, 1)


async def test_invalid_grant_reports_needs_reauth_and_polling_stops(
    infra, http, redis, keyring, producer
):
    provider = PagedProvider(key="at_never_valid", customers=5)
    snap = await oauth_install(redis, keyring, refresh=new_id("rt_revoked"))
    headers = await token_for(redis, snap.workspace_id)
    async with oauth_sync(infra, provider) as stack:
        await put_snapshot(producer, snap)

        async def reauth():
            response = await http.get(
                f"{stack.url}/v1/installations/{snap.installation_id}/streams", headers=headers
            )
            streams = response.json().get("streams", [])
            states = {s["stream"]: s["state"] for s in streams}
            return states if states.get("customers") == "needs_reauth" else None

        await eventually(reauth)
    assert provider.requests == 0
    mine = [r for r in stack.reports if r["installation_id"] == snap.installation_id]
    assert {r["status"] for r in mine} == {"needs_reauth"}
    assert mine[0]["reason"] == "invalid_grant"
    assert mine[0]["workspace_id"] == snap.workspace_id


async def test_expired_token_is_refreshed_before_the_stream_and_the_job_run(
    infra, http, redis, keyring, producer
):
    provider = PagedProvider(key="", customers=120)
    async with oauth_sync(infra, provider, tokens_checked=True) as stack:
        snap = await oauth_install(redis, keyring, refresh=stack.server.refresh_token)
        headers = await token_for(redis, snap.workspace_id)
        await put_snapshot(producer, snap)
        records = await canonical_of(
            infra.bootstrap_servers, snap.installation_id, lambda r: len(r) >= 120
        )

        async def job_ok():
            response = await http.get(
                f"{stack.url}/v1/installations/{snap.installation_id}/streams", headers=headers
            )
            jobs = [s for s in response.json()["streams"] if s["kind"] == "job"]
            return jobs if jobs and jobs[0]["state"] == "ok" else None

        jobs = await eventually(job_ok)
    assert len({r.idempotency_key for r in records}) == 120
    assert stack.server.refreshes == 1
    assert jobs[0]["stream"] == "heartbeat"
    assert provider.requests >= 3  # two pages of customers and the job's ping


async def test_a_refresh_never_posts_to_a_token_url_on_a_local_address(infra, redis, keyring):
    server, reports = OAuthServer(), []
    snap = await oauth_install(redis, keyring, refresh=server.refresh_token)
    async with serving(server.app()) as oauth, serving(recording_registry(reports)) as registry:
        assert snap.active is not None and snap.active.manifest.oauth is not None
        manifest = snap.active.manifest
        local = msgspec.structs.replace(manifest.oauth, token_url=f"{oauth}/token")
        version = msgspec.structs.replace(
            snap.active, manifest=msgspec.structs.replace(manifest, oauth=local)
        )
        # The snapshot predates the rule (the registry refuses such a URL at deploy): sync
        # must not send the refresh token and client secret there either.
        source = token_source(infra, keyring, redis, registry, oauth)
        try:
            with pytest.raises(RefreshFailed, match=r"oauth\.tokenUrl"):
                await source.access_token(msgspec.structs.replace(snap, active=version))
            routed = await source.access_token(snap)  # the operator's override still works
        finally:
            await source.close()
    assert server.refreshes == 1 and routed == server.issued[0]
