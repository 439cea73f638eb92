"""`backfill deploy` / `backfill promote`: the real CLI process against real HTTP registries."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import httpx
from litestar import Litestar, Request, Response, post
from litestar.params import FromPath

from sdk.bundle import digest_of, manifest_of, pack, version_id_of
from services.registry.app import create_app
from services.registry.settings import RegistrySettings
from tests.connectors.conftest import CONNECTORS
from tests.harness import serving, wait_ready
from tests.registry.factories import new_tenant

ROOT = Path(__file__).resolve().parents[2]


async def backfill(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Run `backfill ...` as its own process; return (exit code, stdout, stderr)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BACKFILL_")}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cli.main",
        *args,
        cwd=ROOT,
        env={**clean, **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    return process.returncode or 0, out.decode(), err.decode()


def recording_registry(received: list[dict[str, Any]]) -> Litestar:
    """A registry stand-in that records each upload and answers like the real one."""

    @post("/v1/extensions/{key:str}/versions", status_code=201)
    async def upload(request: Request, key: FromPath[str]) -> Response:
        body = await request.body()
        received.append(
            {
                "key": key,
                "mode": request.query_params.get("mode"),
                "content_type": request.headers.get("content-type"),
                "authorization": request.headers.get("authorization"),
                "body": body,
            }
        )
        digest = digest_of(body)
        return Response({"version_id": version_id_of(digest), "digest": digest}, status_code=201)

    @post("/v1/extensions/{key:str}/promote", status_code=200)
    async def promote(request: Request, key: FromPath[str]) -> dict[str, Any]:
        received.append(
            {"key": key, "promote": True, "authorization": request.headers.get("authorization")}
        )
        return {"version_id": "ver_0123456789abcdef", "state": ["active"]}

    return Litestar([upload, promote])


async def test_deploy_uploads_the_packed_directory_and_prints_the_version_id(infra):
    received: list[dict[str, Any]] = []
    async with serving(recording_registry(received)) as registry:
        code, out, err = await backfill(
            "deploy", "connectors/stripe", "--registry", registry, "--token", "bft_test"
        )
    archive, _ = pack(CONNECTORS / "stripe")
    assert code == 0, err
    assert out.strip() == version_id_of(digest_of(archive))
    [upload] = received
    assert upload["key"] == "stripe"
    assert upload["mode"] == "active"
    assert upload["content_type"] == "application/gzip"
    assert upload["authorization"] == "Bearer bft_test"
    assert upload["body"] == archive
    assert manifest_of(upload["body"]).name == "Stripe"


async def test_observe_and_draft_flags_choose_the_mode(infra):
    received: list[dict[str, Any]] = []
    async with serving(recording_registry(received)) as registry:
        for flag in ("--observe", "--draft"):
            code, _, err = await backfill(
                "deploy", "connectors/github", flag, "--registry", registry, "--token", "bft_test"
            )
            assert code == 0, err
    assert [r["mode"] for r in received] == ["observe", "draft"]


async def test_registry_and_token_come_from_the_environment(infra):
    received: list[dict[str, Any]] = []
    async with serving(recording_registry(received)) as registry:
        code, _, err = await backfill(
            "deploy",
            "connectors/shopify",
            env={"BACKFILL_REGISTRY_URL": registry, "BACKFILL_TOKEN": "bft_from_env"},
        )
    assert code == 0, err
    assert received[0]["authorization"] == "Bearer bft_from_env"


async def test_invalid_manifest_is_rejected_before_upload_naming_the_field(infra, tmp_path: Path):
    broken = tmp_path / "broken"
    shutil.copytree(CONNECTORS / "standard-webhooks", broken)
    manifest = json.loads((broken / "manifest.json").read_text())
    manifest["permissions"]["http"] = ["https://api.example.com/v1"]
    (broken / "manifest.json").write_text(json.dumps(manifest))
    received: list[dict[str, Any]] = []
    async with serving(recording_registry(received)) as registry:
        code, out, err = await backfill(
            "deploy", str(broken), "--registry", registry, "--token", "t"
        )
    assert code == 1
    assert "permissions.http[0]" in err
    assert out == ""
    assert received == []


async def test_manifest_written_in_python_deploys(infra, tmp_path: Path):
    source = tmp_path / "helpdesk"
    (source / "src" / "api").mkdir(parents=True)
    (source / "manifest.py").write_text(
        "from sdk import define_extension, define_entity\n"
        "manifest = define_extension(key='helpdesk-notes', name='Helpdesk notes', version='0.1.0',\n"
        "    entities=[define_entity('helpdesk_note', {'body': 'string'})])\n"
    )
    (source / "src" / "api" / "notes.py").write_text(
        "from sdk import api\nGET = api(lambda r: {})\n"
    )
    received: list[dict[str, Any]] = []
    async with serving(recording_registry(received)) as registry:
        code, _, err = await backfill("deploy", str(source), "--registry", registry, "--token", "t")
    assert code == 0, err
    manifest = manifest_of(received[0]["body"])
    assert (manifest.key, [e.name for e in manifest.entities]) == (
        "helpdesk-notes",
        ["helpdesk_note"],
    )


async def test_promote_posts_to_the_extension_key(infra):
    received: list[dict[str, Any]] = []
    async with serving(recording_registry(received)) as registry:
        code, out, err = await backfill(
            "promote", "stripe", "--yes", "--registry", registry, "--token", "t"
        )
    assert code == 0, err
    assert received == [{"key": "stripe", "promote": True, "authorization": "Bearer t"}]
    assert "ver_0123456789abcdef" in out


async def test_first_party_connectors_deploy_to_the_real_registry_and_are_in_the_catalog(
    infra, http: httpx.AsyncClient
):
    settings = RegistrySettings(connectors_dir=str(CONNECTORS), sync_url="http://127.0.0.1:9")
    async with serving(create_app(settings, infra.settings())) as registry:
        await wait_ready(http, registry)
        tenant = await new_tenant(infra, http, registry, "cli")
        token = tenant.admin["authorization"].removeprefix("Bearer ")
        for key in ("stripe", "shopify", "github", "standard-webhooks"):
            code, out, err = await backfill(
                "deploy", f"connectors/{key}", "--registry", registry, "--token", token
            )
            assert code == 0, err
            archive, _ = pack(CONNECTORS / key)
            assert out.strip() == version_id_of(digest_of(archive))
        catalog = (await http.get(f"{registry}/v1/catalog", headers=tenant.admin)).json()
    keys = {entry["key"] for entry in catalog}
    assert {"stripe", "shopify", "github", "standard-webhooks"} <= keys
