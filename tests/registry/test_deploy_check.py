"""Broken code never ships: deploys are compiled and imported in the locked-down runtime first."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import httpx

from sdk.bundle import bundle_key, digest_of, pack
from services.base.keys import create_redis
from tests.harness import Infra
from tests.registry.factories import Tenant, install, manifest

WEBHOOK_OK = (
    "from sdk import api\n\n\ndef receive(request):\n    return 202\n\n\nPOST = api(receive)\n"
)
STREAM_OK = "async def fetch(ctx, cursor):\n    return {'records': [], 'has_more': False}\n"


def connector(key: str, version: str = "1.0.0") -> dict[str, Any]:
    return manifest(
        key,
        version,
        kind="connector",
        webhooks={"endpoint": "/webhooks/inbound", "auth": "standard_webhooks"},
        streams=[{"name": "items", "canonicalType": "item", "entry": "streams/items.py"}],
        pages=[],
        ui=[],
    )


def code_bundle(data: dict[str, Any], files: dict[str, str]) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "manifest.json").write_text(json.dumps(data))
        for name, text in files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(text)
        return pack(root)[0]


def good_files(**changed: str) -> dict[str, str]:
    files = {"src/api/webhooks/inbound.py": WEBHOOK_OK, "src/streams/items.py": STREAM_OK}
    files.update({name.replace("__", "/") + ".py": text for name, text in changed.items()})
    return files


async def post(
    http: httpx.AsyncClient, url: str, tenant: Tenant, key: str, archive: bytes, mode: str
) -> httpx.Response:
    return await http.post(
        f"{url}/v1/extensions/{key}/versions",
        params={"mode": mode},
        content=archive,
        headers={**tenant.admin, "content-type": "application/gzip"},
    )


async def test_a_syntax_error_is_refused_with_file_line_and_message_and_nothing_changes(
    http: httpx.AsyncClient, registry: str, tenant: Tenant
) -> None:
    data = connector("ticketing")
    first = await post(
        http, registry, tenant, "ticketing", code_bundle(data, good_files()), "active"
    )
    assert first.status_code == 201, first.text
    installed = await install(http, registry, tenant, "ticketing")
    assert installed.status_code == 201, installed.text
    broken = good_files(src__streams__items="async def fetch(ctx, cursor):\n    return {\n")
    for mode in ("active", "observe", "draft"):
        answer = await post(
            http,
            registry,
            tenant,
            "ticketing",
            code_bundle(connector("ticketing", "1.1.0"), broken),
            mode,
        )
        assert answer.status_code == 422, answer.text
        error = answer.json()["error"]
        assert error["code"] == "invalid_code" and error["field"] == "src/streams/items.py"
        problem = error["details"]["problems"][0]
        assert problem["file"] == "src/streams/items.py" and problem["line"] == 2
        assert "SyntaxError" in problem["message"]
        assert "src/streams/items.py:2: SyntaxError" in error["message"]
    versions = (
        await http.get(f"{registry}/v1/extensions/ticketing/versions", headers=tenant.admin)
    ).json()
    assert [v["label"] for v in versions] == ["1.0.0"]
    snapshot = (
        await http.get(
            f"{registry}/v1/installations/{installed.json()['id']}", headers=tenant.admin
        )
    ).json()
    assert snapshot["active"]["version_id"] == first.json()["version_id"]
    assert snapshot.get("observation") is None and snapshot.get("draft") is None


async def test_an_entry_point_without_its_export_is_refused_naming_what_is_missing(
    http: httpx.AsyncClient, registry: str, tenant: Tenant
) -> None:
    cases = {
        "src/api/webhooks/inbound.py": (
            good_files(src__api__webhooks__inbound="def receive(request):\n    return 202\n"),
            "exports no POST",
        ),
        "src/streams/items.py": (
            good_files(src__streams__items="async def fetch_all(ctx):\n    return []\n"),
            "exports no fetch(ctx, cursor)",
        ),
    }
    for path, (files, wanted) in cases.items():
        answer = await post(
            http,
            registry,
            tenant,
            "ticketing",
            code_bundle(connector("ticketing"), files),
            "active",
        )
        assert answer.status_code == 422, answer.text
        error = answer.json()["error"]
        assert error["field"] == path and wanted in error["message"], error


async def test_a_missing_entry_file_and_a_job_without_run_are_refused(
    http: httpx.AsyncClient, registry: str, tenant: Tenant
) -> None:
    data = {**connector("ticketing"), "jobs": [{"name": "nightly", "entry": "jobs/nightly.py"}]}
    files = good_files(src__jobs__nightly="def start(ctx):\n    pass\n")
    del files["src/streams/items.py"]
    answer = await post(http, registry, tenant, "ticketing", code_bundle(data, files), "active")
    assert answer.status_code == 422, answer.text
    problems = answer.json()["error"]["details"]["problems"]
    assert {
        "file": "streams/items.py",
        "line": 0,
        "message": "stream 'items': the file is missing",
    } in problems
    assert any(
        p["file"] == "src/jobs/nightly.py" and "exports no run(ctx)" in p["message"]
        for p in problems
    )


async def test_code_failing_at_import_is_refused_at_the_line_that_raised(
    http: httpx.AsyncClient, registry: str, tenant: Tenant
) -> None:
    files = good_files(
        src__lib__catalog="CATALOG = {}\nTYPES = CATALOG['customer']\n",
        src__streams__items="from ..lib.catalog import TYPES\n\n" + STREAM_OK,
    )
    answer = await post(
        http, registry, tenant, "ticketing", code_bundle(connector("ticketing"), files), "active"
    )
    assert answer.status_code == 422, answer.text
    problem = answer.json()["error"]["details"]["problems"][0]
    assert problem["file"] == "src/lib/catalog.py" and problem["line"] == 2
    assert problem["message"].startswith("KeyError: 'customer' (importing src/streams/items.py)")


async def test_import_runs_locked_down_so_code_reaching_past_its_sandbox_is_refused(
    http: httpx.AsyncClient, registry: str, tenant: Tenant
) -> None:
    files = good_files(
        src__streams__items="import socket\n\nSOCK = socket.socket()\n\n" + STREAM_OK
    )
    answer = await post(
        http, registry, tenant, "ticketing", code_bundle(connector("ticketing"), files), "active"
    )
    assert answer.status_code == 422, answer.text
    problem = answer.json()["error"]["details"]["problems"][0]
    assert problem["file"] == "src/streams/items.py" and problem["line"] == 3
    assert (
        "PermissionError" in problem["message"] or "Operation not permitted" in problem["message"]
    )


async def test_a_working_connector_deploys(
    http: httpx.AsyncClient, registry: str, tenant: Tenant
) -> None:
    answer = await post(
        http,
        registry,
        tenant,
        "ticketing",
        code_bundle(connector("ticketing"), good_files()),
        "active",
    )
    assert answer.status_code == 201, answer.text


async def test_a_refused_bundle_expires_and_an_accepted_one_is_kept(
    http: httpx.AsyncClient, registry: str, tenant: Tenant, infra: Infra
) -> None:
    broken = code_bundle(connector("expiring"), good_files(src__streams__items="def fetch(:\n"))
    refused = await post(http, registry, tenant, "expiring", broken, "active")
    assert refused.status_code == 422, refused.text
    good = code_bundle(connector("expiring"), good_files())
    accepted = await post(http, registry, tenant, "expiring", good, "active")
    assert accepted.status_code == 201, accepted.text
    redis = create_redis(infra.redis_url)
    try:
        left = await redis.ttl(bundle_key(digest_of(broken)))
        kept = await redis.ttl(bundle_key(digest_of(good)))
    finally:
        await redis.aclose()
    assert 0 < left <= 3600  # the refused upload is not kept forever
    assert kept == -1  # a version references this one: no expiry
