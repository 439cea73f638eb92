"""The secret store: write-only values, rotation with a grace window, revocation, rewrap."""

from __future__ import annotations

import asyncio
import os
import sys
import time

import httpx
import pytest

from contracts.topics import INSTALLATION_SNAPSHOTS
from services.base.secrets_crypto import Keyring
from tests.harness import Infra
from tests.registry.conftest import FakeSync, registry_settings, running_registry
from tests.registry.factories import (
    GOOD_KEY,
    Tenant,
    deploy,
    install,
    manifest,
    new_tenant,
    read_topic_for,
    snapshots_of,
)


async def _notes(http: httpx.AsyncClient, registry: str, tenant: Tenant) -> str:
    await deploy(http, registry, tenant, manifest("notes", secrets=["signing_key"]))
    return (await install(http, registry, tenant, "notes")).json()["id"]


async def test_set_rotate_and_revoke_show_metadata_only(
    http: httpx.AsyncClient, registry: str, tenant: Tenant, infra: Infra
) -> None:
    iid = await _notes(http, registry, tenant)
    url = f"{registry}/v1/installations/{iid}/secrets"
    first = await http.put(f"{url}/signing_key", json={"value": "v-one"}, headers=tenant.admin)
    assert first.status_code == 200, first.text
    assert first.json()["revision"] == 1 and "v-one" not in first.text
    rotated = await http.put(f"{url}/signing_key", json={"value": "v-two"}, headers=tenant.admin)
    info = rotated.json()
    assert info["revision"] == 2
    assert time.time() + 3000 < info["previous_valid_until"] < time.time() + 3700
    listed = await http.get(url, headers=tenant.member)
    assert [s["name"] for s in listed.json()] == ["signing_key"]
    assert "v-two" not in listed.text and "v-one" not in listed.text
    snap = max(await snapshots_of(infra, iid, 3), key=lambda s: s.revision)
    assert snap.secrets["signing_key"].revision == 2
    assert snap.rotating_secrets["signing_key"].revision == 1
    assert snap.rotating_secrets["signing_key"].valid_until == info["previous_valid_until"]
    revoked = await http.delete(f"{url}/signing_key", headers=tenant.admin)
    assert revoked.status_code == 204
    assert (await http.get(url, headers=tenant.admin)).json() == []
    snap = max(await snapshots_of(infra, iid, 4), key=lambda s: s.revision)
    assert snap.secrets == {} and snap.rotating_secrets == {}
    again = await http.put(f"{url}/signing_key", json={"value": "v-3"}, headers=tenant.admin)
    assert again.json()["revision"] == 3  # a revision is never reused


async def test_unknown_secret_names_and_members_are_refused(
    http: httpx.AsyncClient, registry: str, tenant: Tenant
) -> None:
    iid = await _notes(http, registry, tenant)
    url = f"{registry}/v1/installations/{iid}/secrets"
    unknown = await http.put(f"{url}/other", json={"value": "x"}, headers=tenant.admin)
    assert unknown.status_code == 400 and unknown.json()["error"]["field"] == "name"
    member = await http.put(f"{url}/signing_key", json={"value": "x"}, headers=tenant.member)
    assert member.status_code == 403
    missing = await http.delete(f"{url}/signing_key", headers=tenant.admin)
    assert missing.status_code == 404 and missing.json()["error"]["field"] == "name"


async def test_rewrap_moves_every_secret_to_the_newest_key_so_the_old_one_can_retire(
    http: httpx.AsyncClient, infra: Infra, fake_sync: FakeSync
) -> None:
    if infra.is_cluster:
        pytest.skip("needs a second Redis database; a Valkey Cluster has only database 0")
    # A separate Redis database: the rewrap pass covers every workspace it finds.
    redis_url = infra.redis_url.rsplit("/", 1)[0] + "/1"
    old, new = infra.keyring, Keyring.generate_entry("v2")
    settings = registry_settings(fake_sync)
    async with running_registry(infra, http, settings, infra.settings(redis_url=redis_url)) as url:
        tenant = await new_tenant(infra, http, url, "rewrap", redis_url=redis_url)
        created = await install(http, url, tenant, "acme-crm", settings={"api_key": GOOD_KEY})
        iid = created.json()["id"]
    env = {**infra.env(), "REDIS_URL": redis_url, "SECRETS_KEYRING": f"{new},{old}"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.registry",
        "rewrap",
        env=env,
        cwd=os.getcwd(),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0 and b"1 installations" in out
    only_new = infra.settings(redis_url=redis_url, secrets_keyring=new)
    async with running_registry(infra, http, settings, only_new) as url:
        seen = await read_topic_for(
            infra, INSTALLATION_SNAPSHOTS, lambda m: m.installation_id == iid and m.revision == 2
        )
        rewrapped = next(m for m in seen if m.installation_id == iid and m.revision == 2)
        assert rewrapped.secrets["api_key"].sealed.kek_version == "v2"
        tested = await http.post(
            f"{url}/v1/installations/{iid}/test-connection", headers=tenant.admin
        )
        assert tested.status_code == 200 and tested.json()["ok"] is True
        assert fake_sync.calls[-1]["secrets"]["api_key"] == GOOD_KEY
