"""`backfill streams` says what is true now: a stream that recovered shows no old error."""

from __future__ import annotations

import json
from pathlib import Path

from contracts.ids import new_id
from services.sync.app import create_app
from tests.cli.conftest import run
from tests.cli.test_streams import env_for
from tests.harness import eventually, serving
from tests.sync import conftest as sync_fixtures
from tests.sync.conftest import put_snapshot, sync_settings, token_for
from tests.sync.providers import PagedProvider
from tests.sync.test_runs import stripe_install

infra = sync_fixtures.infra
redis = sync_fixtures.redis
producer = sync_fixtures.producer
keyring = sync_fixtures.keyring


async def test_a_recovered_stream_no_longer_shows_its_old_error(
    infra, redis, keyring, producer, tmp_path: Path
):
    provider = PagedProvider(key=new_id("sk_test"), customers=5)
    snap = await stripe_install(redis, keyring, provider)
    right_key, provider.key = provider.key, "a key nobody holds"  # every call 401 at first
    admin = (await token_for(redis, snap.workspace_id))["authorization"].removeprefix("Bearer ")
    installation = snap.installation_id
    async with serving(provider.app()) as url:
        async with serving(create_app(sync_settings(url), infra.settings())) as sync:
            env = env_for(sync, admin, tmp_path)
            await put_snapshot(producer, snap)

            async def customers(state: str) -> dict | None:
                code, out, _ = await run("streams", installation, "--json", env=env)
                rows = {s["stream"]: s for s in json.loads(out)} if code == 0 else {}
                found = rows.get("customers")
                return found if found and found["state"] in state.split("|") else None

            await eventually(lambda: customers("error|backing_off"), timeout=90, interval=1)
            code, _, err = await run("streams", installation, env=env)
            assert code == 0 and "customers: last error:" in err

            provider.key = right_key
            await run("sync", installation, "--stream", "customers", env=env)
            recovered = await eventually(lambda: customers("ok"), timeout=90, interval=1)
            assert recovered["last_error"]  # the API keeps the history...
            code, _, err = await run("streams", installation, env=env)
            assert code == 0 and "customers: last error:" not in err  # ...the table shows now
