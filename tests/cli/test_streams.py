"""`backfill streams`, `sync`, `cursor history|restore` against a real sync service.

A sync replica on this module's own broker and Valkey (see tests/sync/conftest.py) polls a Stripe installation's streams from
a local Stripe-like list API (tests/sync/providers.py); the CLI runs as its own process.
"""

from __future__ import annotations

import json
from pathlib import Path

from contracts.ids import new_id
from services.sync.app import create_app
from tests.cli.conftest import run, run_json
from tests.harness import eventually, serving
from tests.sync import conftest as sync_fixtures
from tests.sync.conftest import canonical_of, put_snapshot, sync_settings, token_for
from tests.sync.providers import PagedProvider
from tests.sync.test_runs import stripe_install

# The sync tests' private broker and Valkey per module (no other sync replica sees this one's
# installations); pytest finds fixtures by module attribute.
infra = sync_fixtures.infra
redis = sync_fixtures.redis
producer = sync_fixtures.producer
keyring = sync_fixtures.keyring


def env_for(sync: str, token: str, tmp_path: Path) -> dict[str, str]:
    return {
        "BACKFILL_SYNC_URL": sync,
        "BACKFILL_TOKEN": token,
        "XDG_CONFIG_HOME": str(tmp_path),
        "COLUMNS": "200",
    }


async def test_streams_sync_and_cursor_restore_through_the_cli(
    infra,
    redis,
    keyring,
    producer,
    tmp_path: Path,
):
    provider = PagedProvider(key=new_id("sk_test"), customers=150)
    snap = await stripe_install(redis, keyring, provider)
    admin = (await token_for(redis, snap.workspace_id))["authorization"].removeprefix("Bearer ")
    member = (await token_for(redis, snap.workspace_id, role="member"))["authorization"]
    installation = snap.installation_id
    async with serving(provider.app()) as url:
        async with serving(create_app(sync_settings(url), infra.settings())) as sync:
            env = env_for(sync, admin, tmp_path)
            await put_snapshot(producer, snap)

            async def customers_ok(runs: int = 1) -> list | None:
                code, out, _ = await run("streams", installation, "--json", env=env)
                if code != 0:  # 4 until the replica has scheduled the installation
                    return None
                rows = {s["stream"]: s for s in json.loads(out)}
                history = await run_json("cursor", "history", installation, "customers", env=env)
                done = [e for e in history if e["action"] == "run"]
                found = rows.get("customers")
                return history if found and found["state"] == "ok" and len(done) >= runs else None

            first = await eventually(customers_ok, timeout=90, interval=1)
            code, out, err = await run("streams", installation, env=env)
            assert code == 0, err
            assert "customers" in out and "150/150" in out

            provider.customers = 180
            ran = await run_json("sync", installation, "--stream", "customers", env=env)
            assert ran["customers"]["stream"] == "customers"
            second = await eventually(lambda: customers_ok(2), timeout=90, interval=1)
            assert len(second) > len(first)

            code, _, _ = await run(
                "cursor",
                "restore",
                installation,
                "customers",
                first[-1]["entry_id"],
                env=env,
                stdin=b"n\n",
            )
            assert code == 6
            restored = await run_json(
                "cursor",
                "restore",
                installation,
                "customers",
                first[-1]["entry_id"],
                "--yes",
                env=env,
            )
            assert restored["cursor"] == first[-1]["cursor"]
            code, out, _ = await run("cursor", "history", installation, "customers", env=env)
            assert code == 0 and "restore" in out

            full = await run_json(
                "sync", installation, "--stream", "customers", "--full", "--yes", env=env
            )
            assert full["customers"]["full"] is True
            code, _, err = await run(
                "sync",
                installation,
                "--stream",
                "customers",
                env={**env, "BACKFILL_TOKEN": member.removeprefix("Bearer ")},
            )
            assert code == 3, err
            records = await canonical_of(
                infra.bootstrap_servers, installation, lambda r: len(r) >= 180
            )
    keys = [r.idempotency_key for r in records]
    assert len(keys) == len(set(keys))  # restore and full resync re-read; nothing twice


async def test_sync_service_down_exits_unreachable_with_a_hint(infra, tmp_path: Path):
    code, _, err = await run("streams", "inst_1", env=env_for("http://127.0.0.1:9", "t", tmp_path))
    assert code == 5 and "BACKFILL_SYNC_URL" in err
    code, _, _ = await run(
        "streams", "inst_1", "--json", env=env_for("http://127.0.0.1:9", "t", tmp_path)
    )
    assert code == 5
