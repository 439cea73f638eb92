"""Hostile before_save hooks: memory, log floods, escapes; other tenants' writes are served."""

from __future__ import annotations

from pathlib import Path

from contracts.ids import new_id
from contracts.topics import EXTENSION_LOGS
from tests.harness import read_topic
from tests.ingress.conftest import Ingress
from tests.ingress.factories import deploy, installation
from tests.ingress.hook_factories import before_write, entity_write, hook_extension

HOGS_MEMORY = """
def before_save(ctx, record, previous):
    hoard = []
    while True:
        hoard.append(bytearray(64 * 1024 * 1024))
"""
FLOODS_LOGS = """
from sdk import Log

def before_save(ctx, record, previous):
    for i in range(1500):
        Log.info("flood", i=i)
    return {"flooded": True}
"""
ESCAPES = """
import os, socket

def before_save(ctx, record, previous):
    found = {}
    for name, attempt in (("env", lambda: set(os.environ) - {"HOME", "TMPDIR"}),
                          ("file", lambda: open("/etc/hostname").read()),
                          ("socket", lambda: socket.create_connection(("127.0.0.1", 80), 1))):
        try:
            found[name] = bool(attempt())
        except Exception:
            found[name] = False
    return {"escaped": [name for name, ok in found.items() if ok]}
"""
POLITE = "def before_save(ctx, record, previous):\n    return {'checked': True}\n"


async def installed(ingress: Ingress, tmp_path: Path, code: str, ws: str):  # type: ignore[no-untyped-def]
    version = await deploy(ingress.redis, directory=hook_extension(tmp_path, code))
    snapshot = installation(version, ingress.keyring, secret=None, workspace_id=ws)
    return await ingress.install(snapshot)


async def test_a_memory_hog_refuses_its_own_write_and_another_tenant_is_served(
    ingress: Ingress, tmp_path: Path
):
    hostile, tenant = new_id("ws"), new_id("ws")
    await installed(ingress, tmp_path, HOGS_MEMORY, hostile)
    await installed(ingress, tmp_path, POLITE, tenant)
    refused = (await before_write(ingress.http, ingress.url, hostile, entity_write({}))).json()
    assert refused["allowed"] is False and "write is refused" in refused["errors"][0]["message"]
    served = (await before_write(ingress.http, ingress.url, tenant, entity_write({"a": 1}))).json()
    assert served["allowed"] is True and served["record"] == {"a": 1, "checked": True}


async def test_a_log_flood_is_capped_and_the_write_still_decided(ingress: Ingress, tmp_path: Path):
    ws = new_id("ws")
    snapshot = await installed(ingress, tmp_path, FLOODS_LOGS, ws)
    verdict = (await before_write(ingress.http, ingress.url, ws, entity_write({}))).json()
    assert verdict["allowed"] is True and verdict["changes"] == {"flooded": True}
    seen = await read_topic(
        ingress.infra.bootstrap_servers,
        EXTENSION_LOGS,
        lambda seen: any(
            "log line limit" in line.message and line.installation_id == snapshot.installation_id
            for line in seen
        ),
    )
    mine = [line for line in seen if line.installation_id == snapshot.installation_id]
    assert sum(line.message == "flood" for line in mine) == 1000


async def test_a_hook_finds_no_environment_files_or_network(ingress: Ingress, tmp_path: Path):
    ws = new_id("ws")
    await installed(ingress, tmp_path, ESCAPES, ws)
    verdict = (await before_write(ingress.http, ingress.url, ws, entity_write({}))).json()
    assert verdict["allowed"] is True and verdict["changes"] == {"escaped": []}


PATCHES_ITS_GRANT = """
import sys

def before_save(ctx, record, previous):
    manifest = sys.modules["contracts.manifest"].Manifest
    manifest.writable_entities = lambda self: frozenset({"deal"})
    return {"amount": 1000000000}
"""


async def test_a_read_only_hook_that_patches_its_own_grant_changes_nothing(
    ingress: Ingress, tmp_path: Path
):
    ws = new_id("ws")
    directory = hook_extension(tmp_path, PATCHES_ITS_GRANT, access="read")
    version = await deploy(ingress.redis, directory=directory)
    await ingress.install(installation(version, ingress.keyring, secret=None, workspace_id=ws))
    answer = (await before_write(ingress.http, ingress.url, ws, entity_write({"amount": 5}))).json()
    # The service checks the grant itself: the changes never reach the record (fail closed).
    assert answer["allowed"] is False and answer["record"] is None
    assert "no write access" in answer["errors"][0]["message"]
